//! The two ChaCha20-Poly1305 keys that a finished Noise handshake splits
//! into, used exactly as Noise's transport phase uses them: the nonce is
//! four zero bytes and the message counter in little-endian, the associated
//! data is empty, and the 16-byte tag follows the ciphertext. The initiator
//! sends under the first key of the split and the responder under the
//! second.
//!
//! The keys are ring's (the code path snow's ring resolver takes too); the
//! raw key bytes exist only while the keys are made and are zeroized then.
//! Unlike snow's transport state the keys can be cloned, so a node with
//! live sessions can be copied.

use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, CHACHA20_POLY1305};
use zeroize::Zeroizing;

use crate::wire::data::TAG_LEN;

/// The longest Noise message: ciphertext and tag together.
pub(crate) const MAX_MESSAGE_LEN: usize = 65_535;

/// A session's sending and receiving keys.
#[derive(Clone)]
pub(crate) struct TransportKeys {
    send: LessSafeKey,
    receive: LessSafeKey,
}

/// Why a transport key operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// The handshake is not finished, so it has no keys yet.
    Unfinished,
    /// A message too long for Noise, or a buffer too short for it.
    Length,
    /// The ciphertext did not authenticate.
    Forged,
}

impl TransportKeys {
    /// Takes the keys of a finished handshake, `initiator` telling which
    /// side of it we are.
    pub(crate) fn split(
        handshake: &mut snow::HandshakeState,
        initiator: bool,
    ) -> Result<Self, KeyError> {
        if !handshake.is_handshake_finished() {
            return Err(KeyError::Unfinished);
        }
        let (first, second) = handshake.dangerously_get_raw_split();
        let (first, second) = (Zeroizing::new(first), Zeroizing::new(second));
        let (send, receive) = if initiator {
            (&first, &second)
        } else {
            (&second, &first)
        };
        Ok(Self {
            send: key(send),
            receive: key(receive),
        })
    }

    /// Encrypts `plaintext` under message counter `counter` into `out`
    /// (ciphertext, then tag); returns the length written.
    pub(crate) fn seal(
        &self,
        counter: u64,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, KeyError> {
        let len = plaintext.len() + TAG_LEN;
        if len > MAX_MESSAGE_LEN || out.len() < len {
            return Err(KeyError::Length);
        }
        let (body, rest) = out.split_at_mut(plaintext.len());
        body.copy_from_slice(plaintext);
        let tag = self
            .send
            .seal_in_place_separate_tag(nonce(counter), Aad::empty(), body)
            .map_err(|_| KeyError::Length)?;
        rest[..TAG_LEN].copy_from_slice(tag.as_ref());
        Ok(len)
    }

    /// Decrypts `ciphertext` (with its tag) sent under message counter
    /// `counter` into `out`; returns the plaintext length.
    pub(crate) fn open(
        &self,
        counter: u64,
        ciphertext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, KeyError> {
        if ciphertext.len() > MAX_MESSAGE_LEN {
            return Err(KeyError::Length);
        }
        let len = ciphertext
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(KeyError::Forged)?;
        let body = out.get_mut(..len).ok_or(KeyError::Length)?;
        let (sealed, tag) = ciphertext.split_at(len);
        let tag = Tag::try_from(tag).map_err(|_| KeyError::Forged)?;
        body.copy_from_slice(sealed);
        self.receive
            .open_in_place_separate_tag(nonce(counter), Aad::empty(), tag, body, 0..)
            .map_err(|_| KeyError::Forged)?;
        Ok(len)
    }
}

/// A ChaCha20-Poly1305 key from its 32 bytes.
fn key(bytes: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(
        UnboundKey::new(&CHACHA20_POLY1305, bytes).expect("ChaCha20-Poly1305 keys are 32 bytes"),
    )
}

/// Noise's ChaChaPoly nonce: 32 zero bits, then the counter little-endian.
fn nonce(counter: u64) -> Nonce {
    let mut bytes = [0u8; 12];
    bytes[4..].copy_from_slice(&counter.to_le_bytes());
    Nonce::assume_unique_for_key(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::dh::x25519_base;
    use proptest::prelude::*;

    const PATTERN: &str = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";

    /// Both sides of one finished snow handshake: ours and snow's own
    /// transport state, for the initiator and for the responder.
    struct Sides {
        ours_initiator: TransportKeys,
        ours_responder: TransportKeys,
        snow_initiator: snow::StatelessTransportState,
        snow_responder: snow::StatelessTransportState,
    }

    fn sides() -> Sides {
        let params: snow::params::NoiseParams = PATTERN.parse().unwrap();
        let (initiator_private, responder_private) = ([1u8; 32], [2u8; 32]);
        let responder_public = x25519_base(&responder_private);
        let psk = [9u8; 32];
        let mut ini = snow::Builder::new(params.clone())
            .local_private_key(&initiator_private)
            .and_then(|b| b.remote_public_key(&responder_public))
            .and_then(|b| b.psk(2, &psk))
            .and_then(|b| b.build_initiator())
            .unwrap();
        let mut res = snow::Builder::new(params)
            .local_private_key(&responder_private)
            .and_then(|b| b.psk(2, &psk))
            .and_then(|b| b.build_responder())
            .unwrap();
        let (mut m, mut p) = ([0u8; 256], [0u8; 256]);
        assert_eq!(
            TransportKeys::split(&mut ini, true).err(),
            Some(KeyError::Unfinished)
        );
        let n = ini.write_message(b"hi", &mut m).unwrap();
        res.read_message(&m[..n], &mut p).unwrap();
        let n = res.write_message(&[], &mut m).unwrap();
        ini.read_message(&m[..n], &mut p).unwrap();
        Sides {
            ours_initiator: TransportKeys::split(&mut ini, true).unwrap(),
            ours_responder: TransportKeys::split(&mut res, false).unwrap(),
            snow_initiator: ini.into_stateless_transport_mode().unwrap(),
            snow_responder: res.into_stateless_transport_mode().unwrap(),
        }
    }

    /// Seals with ours and with snow's sender; checks that both give the
    /// same bytes and that both receivers open both.
    /// [`check_direction`] from the initiator and from the responder.
    fn check_both_ways(s: &Sides, counter: u64, plaintext: &[u8]) {
        check_direction(
            &s.ours_initiator,
            &s.snow_initiator,
            &s.ours_responder,
            &s.snow_responder,
            counter,
            plaintext,
        );
        check_direction(
            &s.ours_responder,
            &s.snow_responder,
            &s.ours_initiator,
            &s.snow_initiator,
            counter,
            plaintext,
        );
    }

    fn check_direction(
        ours_tx: &TransportKeys,
        snow_tx: &snow::StatelessTransportState,
        ours_rx: &TransportKeys,
        snow_rx: &snow::StatelessTransportState,
        counter: u64,
        plaintext: &[u8],
    ) {
        let mut a = vec![0u8; plaintext.len() + TAG_LEN];
        let mut b = vec![0u8; plaintext.len() + TAG_LEN];
        let n = ours_tx.seal(counter, plaintext, &mut a).unwrap();
        let m = snow_tx.write_message(counter, plaintext, &mut b).unwrap();
        assert_eq!(a[..n], b[..m], "ours and snow's ciphertexts differ");
        let mut out = vec![0u8; plaintext.len()];
        let k = snow_rx.read_message(counter, &a[..n], &mut out).unwrap();
        assert_eq!(&out[..k], plaintext, "snow opens ours");
        out.fill(0);
        let k = ours_rx.open(counter, &b[..m], &mut out).unwrap();
        assert_eq!(&out[..k], plaintext, "ours opens snow's");
    }

    #[test]
    fn interoperates_with_snow_both_ways() {
        let s = sides();
        for (counter, len) in [
            (0u64, 0usize),
            (1, 1),
            (2, 64),
            (300, 1420),
            (1 << 40, 9000),
        ] {
            let plaintext: Vec<u8> = (0..len).map(|i| i as u8).collect();
            check_both_ways(&s, counter, &plaintext);
        }
    }

    #[test]
    fn forgeries_wrong_counters_and_short_input_fail() {
        let s = sides();
        let mut sealed = [0u8; 20 + TAG_LEN];
        let n = s
            .ours_initiator
            .seal(5, b"twenty bytes of data", &mut sealed)
            .unwrap();
        let mut out = [0u8; 64];
        assert_eq!(s.ours_responder.open(5, &sealed[..n], &mut out), Ok(20));
        assert_eq!(
            s.ours_responder.open(6, &sealed[..n], &mut out),
            Err(KeyError::Forged)
        );
        // Our own messages do not open under our receiving key.
        assert_eq!(
            s.ours_initiator.open(5, &sealed[..n], &mut out),
            Err(KeyError::Forged)
        );
        for i in 0..n {
            let mut bad = sealed;
            bad[i] ^= 0x10;
            assert_eq!(
                s.ours_responder.open(5, &bad[..n], &mut out),
                Err(KeyError::Forged)
            );
        }
        assert_eq!(
            s.ours_responder.open(5, &sealed[..TAG_LEN - 1], &mut out),
            Err(KeyError::Forged)
        );
        assert_eq!(
            s.ours_responder.open(5, &sealed[..n], &mut out[..19]),
            Err(KeyError::Length)
        );
        assert_eq!(
            s.ours_initiator.seal(6, b"x", &mut out[..TAG_LEN]),
            Err(KeyError::Length)
        );
        let huge = vec![0u8; MAX_MESSAGE_LEN];
        let mut big_out = vec![0u8; MAX_MESSAGE_LEN + TAG_LEN];
        assert_eq!(
            s.ours_initiator.seal(6, &huge, &mut big_out),
            Err(KeyError::Length)
        );
    }

    /// A clone seals and opens as the original does.
    #[test]
    fn clones_keep_the_keys() {
        let s = sides();
        let copy = s.ours_initiator.clone();
        let (mut a, mut b) = ([0u8; 40], [0u8; 40]);
        let n = s.ours_initiator.seal(9, b"same", &mut a).unwrap();
        let m = copy.seal(9, b"same", &mut b).unwrap();
        assert_eq!(a[..n], b[..m]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn matches_snow_for_any_message(
            counter in 0u64..u64::MAX - 1,
            plaintext in proptest::collection::vec(any::<u8>(), 0..2000),
        ) {
            let s = sides();
            check_both_ways(&s, counter, &plaintext);
        }
    }
}
