//! An engine-to-engine message: `{src, dst, authenticated message}`.
//!
//! ```text
//! | src [32] | dst [32] | epoch u64 | seq u64 | body ... | mac [32] |
//! ```
//!
//! `mac` is keyed BLAKE3 under the pair key that `src` offered for `epoch`
//! (see [`super::pair`]) over [`CONTEXT`] then every byte before the MAC.
//! `seq` starts at 1 for each epoch and increases by one per message, so a
//! receiver drops anything at or below the last sequence number it accepted
//! (replay) and sees a pair's messages in the order sent. The body is
//! described in [`super::body`].

use super::{Reader, WireError};
use crate::ids::EngineAddr;

/// Bytes before the body.
pub const HEADER_LEN: usize = 32 + 32 + 8 + 8;
/// Bytes of the MAC.
pub const MAC_LEN: usize = 32;
/// Smallest message (empty body).
pub const MIN_LEN: usize = HEADER_LEN + MAC_LEN;
/// Domain separation for the MAC.
pub const CONTEXT: &[u8] = b"tessel-actors message v1\0";

/// A checked view over a message's bytes; no accessor panics.
#[derive(Debug, Clone, Copy)]
pub struct MessageView<'a> {
    buf: &'a [u8],
}

fn arr32(b: &[u8]) -> [u8; 32] {
    let mut a = [0; 32];
    a.copy_from_slice(&b[..32]);
    a
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

impl<'a> MessageView<'a> {
    /// Checks the length; the only way to view untrusted bytes.
    ///
    /// # Errors
    /// [`WireError::Truncated`] below [`MIN_LEN`].
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        if buf.len() < MIN_LEN {
            return Err(WireError::Truncated {
                need: MIN_LEN - buf.len(),
            });
        }
        Ok(Self { buf })
    }

    /// The sending engine.
    pub fn src(&self) -> EngineAddr {
        EngineAddr(arr32(&self.buf[0..32]))
    }

    /// The receiving engine.
    pub fn dst(&self) -> EngineAddr {
        EngineAddr(arr32(&self.buf[32..64]))
    }

    /// The pair key's epoch.
    pub fn epoch(&self) -> u64 {
        u64_at(self.buf, 64)
    }

    /// The sequence number within the epoch.
    pub fn seq(&self) -> u64 {
        u64_at(self.buf, 72)
    }

    /// The body (see [`super::body`]).
    pub fn body(&self) -> &'a [u8] {
        &self.buf[HEADER_LEN..self.buf.len() - MAC_LEN]
    }

    /// The MAC as sent.
    pub fn mac(&self) -> [u8; 32] {
        arr32(&self.buf[self.buf.len() - MAC_LEN..])
    }

    /// Whether the MAC is right for `key`.
    pub fn verify(&self, key: &[u8; 32]) -> bool {
        let want = compute_mac(key, &self.buf[..self.buf.len() - MAC_LEN]);
        // blake3::Hash compares in constant time.
        want == blake3::Hash::from(self.mac())
    }
}

fn compute_mac(key: &[u8; 32], authenticated: &[u8]) -> blake3::Hash {
    let mut h = blake3::Hasher::new_keyed(key);
    h.update(CONTEXT);
    h.update(authenticated);
    h.finalize()
}

/// Appends a message and its MAC under `key`.
pub fn emit(
    out: &mut Vec<u8>,
    src: EngineAddr,
    dst: EngineAddr,
    epoch: u64,
    seq: u64,
    body: &[u8],
    key: &[u8; 32],
) {
    let start = out.len();
    out.extend_from_slice(&src.0);
    out.extend_from_slice(&dst.0);
    out.extend_from_slice(&epoch.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(body);
    let mac = compute_mac(key, &out[start..]);
    out.extend_from_slice(mac.as_bytes());
}

/// An owned, parsed message (MAC not yet checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The sending engine.
    pub src: EngineAddr,
    /// The receiving engine.
    pub dst: EngineAddr,
    /// The pair key's epoch.
    pub epoch: u64,
    /// The sequence number.
    pub seq: u64,
    /// The body.
    pub body: Vec<u8>,
    /// The MAC.
    pub mac: [u8; 32],
}

impl Message {
    /// Parses a message.
    ///
    /// # Errors
    /// Shorter than [`MIN_LEN`].
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let v = MessageView::new_checked(b)?;
        let mut r = Reader::new(v.body());
        Ok(Self {
            src: v.src(),
            dst: v.dst(),
            epoch: v.epoch(),
            seq: v.seq(),
            body: r.rest().to_vec(),
            mac: v.mac(),
        })
    }

    /// Bytes [`Self::write`] appends.
    pub fn encoded_len(&self) -> usize {
        MIN_LEN + self.body.len()
    }

    /// Appends the message with its MAC as stored.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.src.0);
        out.extend_from_slice(&self.dst.0);
        out.extend_from_slice(&self.epoch.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&self.body);
        out.extend_from_slice(&self.mac);
    }

    /// The message as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.write(&mut v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(s in any::<[u8; 32]>(), d in any::<[u8; 32]>(), epoch in any::<u64>(), seq in any::<u64>(),
                      body in proptest::collection::vec(any::<u8>(), 0..200), mac in any::<[u8; 32]>()) {
            let v = Message { src: EngineAddr(s), dst: EngineAddr(d), epoch, seq, body, mac };
            let b = v.to_bytes();
            prop_assert_eq!(v.encoded_len(), b.len());
            prop_assert_eq!(Message::parse(&b), Ok(v));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(Message::parse(&b).is_ok(), b.len() >= MIN_LEN);
            if let Ok(v) = MessageView::new_checked(&b) {
                let _ = (v.src(), v.dst(), v.epoch(), v.seq(), v.body(), v.verify(&[0; 32]));
            }
        }

        #[test]
        fn any_altered_byte_fails_the_mac(body in proptest::collection::vec(any::<u8>(), 0..64), at in any::<usize>(), bit in 0u8..8) {
            let key = [3; 32];
            let mut b = Vec::new();
            emit(&mut b, EngineAddr([1; 32]), EngineAddr([2; 32]), 4, 5, &body, &key);
            prop_assert!(MessageView::new_checked(&b).unwrap().verify(&key));
            let i = at % b.len();
            b[i] ^= 1 << bit;
            prop_assert!(!MessageView::new_checked(&b).unwrap().verify(&key));
        }
    }

    #[test]
    fn wrong_key_fails() {
        let mut b = Vec::new();
        emit(
            &mut b,
            EngineAddr([1; 32]),
            EngineAddr([2; 32]),
            1,
            1,
            b"hi",
            &[3; 32],
        );
        let v = MessageView::new_checked(&b).unwrap();
        assert_eq!(v.body(), b"hi");
        assert!(!v.verify(&[4; 32]));
    }
}
