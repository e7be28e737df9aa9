//! The sealed body of a signal (body kind 2, [`super::signal`]): encrypted
//! end to end, so that the members forwarding it learn nothing of what it
//! says (a member's LAN and reflexive addresses, its NAT).
//!
//! ```text
//! | salt 16 | ciphertext (as long as the plaintext) | tag 16 |
//! ```
//! XChaCha20-Poly1305 under the pair's key for this direction
//! ([`SealKey::derive`]: BLAKE3 `derive_key` of the static-static X25519
//! secret and the two node IDs, sender first, so A→B and B→A differ). The
//! 24-byte nonce is the signal's timestamp (u64 LE) followed by the salt,
//! 16 random bytes. The associated data is the header from `body_kind` to
//! `body_len` (every field but the kind and the hop limit), so a sealed body
//! cannot be moved under another header; `body_len` counts salt and tag.
//!
//! A nonce never repeats under one key: the sender's timestamps strictly
//! increase while it runs, and across restarts (when its clock may have gone
//! back) the 128-bit salt, drawn from the node's generator that the OS seeds
//! afresh each run, makes a repeat as unlikely as guessing a key.

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use super::signal::{Envelope, Header, HEADER_LEN, SIGNATURE_LEN};
use super::WireError;

/// Bytes of the random salt at the start of a sealed body.
pub const SALT_LEN: usize = 16;
/// Bytes of the Poly1305 tag at the end of a sealed body.
pub const TAG_LEN: usize = 16;
/// Bytes a sealed body adds to its plaintext.
pub const OVERHEAD: usize = SALT_LEN + TAG_LEN;
/// The BLAKE3 `derive_key` context of seal keys.
pub const KEY_CONTEXT: &str = "tessel signal seal v1";

/// The key of signals from one member to another.
pub struct SealKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

impl SealKey {
    /// The key of signals from `src` to `dst`, given the X25519 of their
    /// static keys (the same on both ends).
    pub fn derive(shared: &[u8; 32], src: &[u8; 32], dst: &[u8; 32]) -> Self {
        let mut material = Zeroizing::new([0u8; 96]);
        material[..32].copy_from_slice(shared);
        material[32..64].copy_from_slice(src);
        material[64..].copy_from_slice(dst);
        Self(Zeroizing::new(blake3::derive_key(KEY_CONTEXT, &*material)))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&*self.0).into())
    }
}

fn nonce(timestamp_ms: u64, salt: &[u8]) -> XNonce {
    let mut n = [0u8; 24];
    n[..8].copy_from_slice(&timestamp_ms.to_le_bytes());
    n[8..].copy_from_slice(salt);
    n.into()
}

/// Appends a signal whose body is `plaintext` sealed under `key` with
/// `salt`; `sign` gets the bytes to sign, as for [`super::signal::emit`].
///
/// # Errors
/// Returns an error (and appends nothing) if the sealed body is longer than
/// a u16 can say.
pub fn emit(
    h: &Header<'_>,
    key: &SealKey,
    salt: [u8; SALT_LEN],
    plaintext: &[u8],
    sign: impl FnOnce(&[u8]) -> [u8; SIGNATURE_LEN],
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    let start = out.len();
    super::signal::emit_header(h, plaintext.len() + OVERHEAD, out)?;
    let mut sealed = plaintext.to_vec();
    let sealing = key.cipher().encrypt_in_place_detached(
        &nonce(h.timestamp_ms, &salt),
        &out[start + 2..],
        &mut sealed,
    );
    let Ok(tag) = sealing else {
        out.truncate(start);
        return Err(WireError::InvalidField("sealed body"));
    };
    out.extend_from_slice(&salt);
    out.extend_from_slice(&sealed);
    out.extend_from_slice(&tag);
    super::signal::finish(start, sign, out);
    Ok(())
}

/// Opens the sealed body of `env` with `key`: the plaintext, or an error if
/// the body is too short or does not authenticate (changed, or sealed under
/// another key or header).
///
/// # Errors
/// Returns an error for a body that is too short or does not open.
pub fn open<T: AsRef<[u8]>>(key: &SealKey, env: &Envelope<T>) -> Result<Vec<u8>, WireError> {
    let body = env.body();
    if body.len() < OVERHEAD {
        return Err(WireError::Truncated {
            len: body.len(),
            need: OVERHEAD,
        });
    }
    let (salt, rest) = body.split_at(SALT_LEN);
    let (sealed, tag) = rest.split_at(rest.len() - TAG_LEN);
    let mut plain = sealed.to_vec();
    let ad = &env.as_bytes()[2..HEADER_LEN];
    key.cipher()
        .decrypt_in_place_detached(
            &nonce(env.timestamp_ms(), salt),
            ad,
            &mut plain,
            Tag::from_slice(tag),
        )
        .map_err(|_| WireError::InvalidField("sealed body"))?;
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::signal::body_kind;

    fn header<'a>(src: &'a [u8; 32], dst: &'a [u8; 32], ts: u64) -> Header<'a> {
        Header {
            hop_limit: 4,
            body_kind: body_kind::SEALED_CANDIDATES,
            src,
            dst,
            timestamp_ms: ts,
        }
    }

    fn sealed(key: &SealKey, ts: u64, salt: u8, msg: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let h = header(&[1; 32], &[2; 32], ts);
        emit(&h, key, [salt; 16], msg, |_| [0; SIGNATURE_LEN], &mut out).unwrap();
        out
    }

    #[test]
    fn round_trip_and_the_body_hides_the_plaintext() {
        let key = SealKey::derive(&[5; 32], &[1; 32], &[2; 32]);
        let msg = b"198.18.0.2:9740 and more";
        let b = sealed(&key, 7, 3, msg);
        let env = Envelope::new_checked(&b[..]).unwrap();
        assert_eq!(env.body().len(), msg.len() + OVERHEAD);
        assert!(!b.windows(msg.len()).any(|w| w == msg));
        assert_eq!(open(&key, &env).unwrap(), msg);
    }

    #[test]
    fn keys_differ_by_direction_and_secret() {
        let ab = SealKey::derive(&[5; 32], &[1; 32], &[2; 32]);
        let ba = SealKey::derive(&[5; 32], &[2; 32], &[1; 32]);
        let other = SealKey::derive(&[6; 32], &[1; 32], &[2; 32]);
        assert_ne!(*ab.0, *ba.0);
        assert_ne!(*ab.0, *other.0);
        let b = sealed(&ab, 7, 3, b"x");
        let env = Envelope::new_checked(&b[..]).unwrap();
        assert!(open(&ba, &env).is_err());
        assert!(open(&other, &env).is_err());
    }

    #[test]
    fn any_change_to_header_or_body_fails_but_the_hop_limit_may_change() {
        let key = SealKey::derive(&[5; 32], &[1; 32], &[2; 32]);
        let b = sealed(&key, 7, 3, b"candidates");
        let body_end = b.len() - SIGNATURE_LEN;
        for i in 2..body_end {
            let mut t = b.clone();
            t[i] ^= 1;
            if let Ok(env) = Envelope::new_checked(&t[..]) {
                assert!(open(&key, &env).is_err(), "byte {i}");
            }
        }
        let mut t = b.clone();
        t[1] = 1;
        assert!(open(&key, &Envelope::new_checked(&t[..]).unwrap()).is_ok());
    }

    #[test]
    fn the_same_plaintext_under_new_salt_or_timestamp_differs() {
        let key = SealKey::derive(&[5; 32], &[1; 32], &[2; 32]);
        let (a, b, c) = (
            sealed(&key, 7, 3, b"same"),
            sealed(&key, 7, 4, b"same"),
            sealed(&key, 8, 3, b"same"),
        );
        let body = |v: &Vec<u8>| v[HEADER_LEN + SALT_LEN..v.len() - SIGNATURE_LEN].to_vec();
        assert_ne!(body(&a), body(&b));
        assert_ne!(body(&a), body(&c));
    }

    #[test]
    fn short_bodies_are_refused() {
        let key = SealKey::derive(&[5; 32], &[1; 32], &[2; 32]);
        for n in 0..OVERHEAD {
            let mut b = Vec::new();
            let h = header(&[1; 32], &[2; 32], 1);
            crate::wire::signal::emit(&h, &vec![0; n], |_| [0; SIGNATURE_LEN], &mut b).unwrap();
            assert!(open(&key, &Envelope::new_checked(&b[..]).unwrap()).is_err());
        }
    }
}
