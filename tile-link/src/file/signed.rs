//! Signed files: the unit the file update service moves.
//!
//! ```text
//! 0      4            36           100
//! | TSF1 | signer (32) | sig (64)  | name_len (u8) | name | timestamp (u64, BE) | content |
//!                                  \____________________ signed content ________________/
//! ```
//!
//! The ed25519 signature covers [`SIGNING_CONTEXT`] followed by the signed
//! content, so the name and the timestamp are signed with the content. A
//! file is acceptable when the signer is one of the configured trusted keys
//! and the signature verifies (strictly). Its [`Version`] is the timestamp
//! and the BLAKE3 hash of the signed content.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use super::name::{FileName, NameError};

/// The first four bytes of a signed file.
pub const MAGIC: &[u8; 4] = b"TSF1";
/// What the signature covers before the signed content.
pub const SIGNING_CONTEXT: &[u8] = b"tessel tile file v1\0";

mod field {
    use std::ops::Range;
    pub(super) const MAGIC: Range<usize> = 0..4;
    pub(super) const SIGNER: Range<usize> = 4..36;
    pub(super) const SIGNATURE: Range<usize> = 36..100;
    pub(super) const SIGNED: usize = 100;
}

/// Bytes of a signed file with an empty content and a one-byte name.
pub const MIN_LEN: usize = field::SIGNED + 1 + 1 + 8;

/// Which version of a file: the later timestamp is newer; at equal
/// timestamps the lower hash wins. `a > b` means `a` is preferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version {
    /// The timestamp inside the signed content.
    pub timestamp: u64,
    /// BLAKE3 of the signed content.
    pub hash: [u8; 32],
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.timestamp
            .cmp(&other.timestamp)
            .then_with(|| other.hash.cmp(&self.hash))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Why bytes are not an acceptable signed file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignedError {
    /// Too short, or the name runs past the end.
    #[error("truncated signed file")]
    Truncated,
    /// Not `TSF1`.
    #[error("not a signed file (bad magic)")]
    BadMagic,
    /// The embedded name is not valid.
    #[error("bad file name: {0}")]
    Name(#[from] NameError),
    /// The signer is not a trusted key.
    #[error("signer is not trusted")]
    Untrusted,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
}

/// A view over a signed file.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
    name_end: usize,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the layout and the name (not the signature); the only
    /// constructor for untrusted bytes.
    ///
    /// # Errors
    /// [`SignedError::Truncated`], [`SignedError::BadMagic`] or
    /// [`SignedError::Name`].
    pub fn new_checked(buffer: T) -> Result<Self, SignedError> {
        let b = buffer.as_ref();
        if b.len() < MIN_LEN {
            return Err(SignedError::Truncated);
        }
        if &b[field::MAGIC] != MAGIC {
            return Err(SignedError::BadMagic);
        }
        let name_len = usize::from(b[field::SIGNED]);
        let name_end = field::SIGNED + 1 + name_len;
        if b.len() < name_end + 8 {
            return Err(SignedError::Truncated);
        }
        FileName::from_bytes(&b[field::SIGNED + 1..name_end])?;
        Ok(Self { buffer, name_end })
    }

    /// The signer's public key.
    pub fn signer(&self) -> [u8; 32] {
        let mut k = [0; 32];
        k.copy_from_slice(&self.buffer.as_ref()[field::SIGNER]);
        k
    }

    /// The signature.
    pub fn signature(&self) -> [u8; 64] {
        let mut s = [0; 64];
        s.copy_from_slice(&self.buffer.as_ref()[field::SIGNATURE]);
        s
    }

    /// The signed content: name, timestamp and content.
    pub fn signed_content(&self) -> &[u8] {
        &self.buffer.as_ref()[field::SIGNED..]
    }

    /// The file name inside the signed content.
    pub fn name(&self) -> FileName {
        let b = &self.buffer.as_ref()[field::SIGNED + 1..self.name_end];
        // Checked by new_checked.
        FileName::from_bytes(b).unwrap_or_else(|_| unreachable!("name checked on construction"))
    }

    /// The timestamp inside the signed content.
    pub fn timestamp(&self) -> u64 {
        let b = &self.buffer.as_ref()[self.name_end..self.name_end + 8];
        u64::from_be_bytes(b.try_into().unwrap_or([0; 8]))
    }

    /// The content after the timestamp.
    pub fn content(&self) -> &[u8] {
        &self.buffer.as_ref()[self.name_end + 8..]
    }

    /// The version: timestamp and hash of the signed content.
    pub fn version(&self) -> Version {
        Version {
            timestamp: self.timestamp(),
            hash: *blake3::hash(self.signed_content()).as_bytes(),
        }
    }

    /// Checks the signer is in `trusted` and the signature verifies.
    ///
    /// # Errors
    /// [`SignedError::Untrusted`] or [`SignedError::BadSignature`].
    pub fn verify(&self, trusted: &[VerifyingKey]) -> Result<(), SignedError> {
        let signer = self.signer();
        let key = trusted
            .iter()
            .find(|k| k.as_bytes() == &signer)
            .ok_or(SignedError::Untrusted)?;
        let mut msg = Vec::with_capacity(SIGNING_CONTEXT.len() + self.signed_content().len());
        msg.extend_from_slice(SIGNING_CONTEXT);
        msg.extend_from_slice(self.signed_content());
        key.verify_strict(&msg, &Signature::from_bytes(&self.signature()))
            .map_err(|_| SignedError::BadSignature)
    }
}

/// Makes a signed file of `content` named `name` at `timestamp`.
pub fn sign(key: &SigningKey, name: &FileName, timestamp: u64, content: &[u8]) -> Vec<u8> {
    let mut signed = Vec::with_capacity(1 + name.as_bytes().len() + 8 + content.len());
    // Names are at most 64 bytes.
    signed.push(name.as_bytes().len() as u8);
    signed.extend_from_slice(name.as_bytes());
    signed.extend_from_slice(&timestamp.to_be_bytes());
    signed.extend_from_slice(content);
    let mut msg = SIGNING_CONTEXT.to_vec();
    msg.extend_from_slice(&signed);
    let sig = key.sign(&msg);
    let mut out = Vec::with_capacity(field::SIGNED + signed.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(key.verifying_key().as_bytes());
    out.extend_from_slice(&sig.to_bytes());
    out.extend_from_slice(&signed);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    #[test]
    fn sign_then_verify_and_layout() {
        let name = FileName::new("p.mfz").unwrap();
        let f = sign(&key(1), &name, 0x0102, b"body");
        assert_eq!(&f[..4], b"TSF1");
        assert_eq!(&f[4..36], key(1).verifying_key().as_bytes());
        assert_eq!(&f[100..], b"\x05p.mfz\0\0\0\0\0\0\x01\x02body");
        let p = Packet::new_checked(&f[..]).unwrap();
        assert_eq!(p.name(), name);
        assert_eq!(p.timestamp(), 0x0102);
        assert_eq!(p.content(), b"body");
        assert_eq!(p.version().hash, *blake3::hash(&f[100..]).as_bytes());
        p.verify(&[key(2).verifying_key(), key(1).verifying_key()])
            .unwrap();
        assert_eq!(
            p.verify(&[key(2).verifying_key()]),
            Err(SignedError::Untrusted)
        );
    }

    #[test]
    fn any_changed_byte_fails() {
        let f = sign(&key(1), &FileName::new("n").unwrap(), 7, b"abc");
        let trusted = [key(1).verifying_key()];
        for i in 0..f.len() {
            let mut g = f.clone();
            g[i] ^= 0x01;
            let ok = Packet::new_checked(&g[..]).and_then(|p| p.verify(&trusted));
            assert!(ok.is_err(), "flipping byte {i} went unnoticed");
        }
        let mut short = f.clone();
        short.pop();
        assert!(Packet::new_checked(&short[..])
            .unwrap()
            .verify(&trusted)
            .is_err());
    }

    #[test]
    fn versions_order_by_timestamp_then_lower_hash() {
        let a = Version {
            timestamp: 5,
            hash: [9; 32],
        };
        let b = Version {
            timestamp: 5,
            hash: [1; 32],
        };
        let c = Version {
            timestamp: 6,
            hash: [200; 32],
        };
        assert!(b > a, "lower hash wins a tie");
        assert!(c > b && c > a);
    }

    proptest! {
        #[test]
        fn roundtrip(ts: u64, content in proptest::collection::vec(any::<u8>(), 0..300), n in "[a-z][a-z0-9._-]{0,20}") {
            prop_assume!(!n.contains(".."));
            let name = FileName::new(&n).unwrap();
            let f = sign(&key(3), &name, ts, &content);
            let p = Packet::new_checked(&f[..]).unwrap();
            prop_assert_eq!(p.name(), name);
            prop_assert_eq!(p.timestamp(), ts);
            prop_assert_eq!(p.content(), &content[..]);
            prop_assert!(p.verify(&[key(3).verifying_key()]).is_ok());
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(p) = Packet::new_checked(&bytes[..]) {
                let _ = (p.name(), p.timestamp(), p.content(), p.version());
                prop_assert!(p.verify(&[key(3).verifying_key()]).is_err());
            }
        }
    }
}
