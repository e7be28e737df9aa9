//! Name claim: a member's signed statement that it calls itself by a name
//! (see `identity::name_claim` for signing and checking). The same bytes
//! are the inner control message (kind 0x0a) that a member sends each
//! member whose session comes up, and the value of the record it publishes
//! under the name's key, so that any member can resolve the name.
//!
//! ```text
//! 0      1         2            34        66                74         75
//! | kind | version | network_id | node_id | claimed_at_ms 8 | name_len | name … |
//! | cert_len 2 | cert … | signature 64 |
//! ```
//! `version` is 1. `claimed_at_ms` is when the node took the name, in
//! milliseconds since the Unix epoch (the conflict rule compares it). The
//! name is 1 to 63 bytes: a DNS label in lowercase
//! ([`crate::identity::name::NodeName`]). `cert` is the node's member
//! certificate in a managed network (its name must be the claimed one), and
//! empty otherwise. The signature is the node key's ed25519 signature of
//! [`SIGNING_CONTEXT`] followed by every byte before it. The claim is exactly
//! as long as its fields say: nothing may follow it.

use super::kind::{checked, Size};
use super::{member_cert, need, read_u64, InnerKind, WireError};
use crate::identity::name::{NodeName, MAX_NAME_LEN};

/// The version byte this module reads and writes.
pub const VERSION: u8 = 1;
/// Bytes before the name.
pub const HEADER_LEN: usize = field::NAME_LEN + 1;
/// Bytes of the signature.
pub const SIGNATURE_LEN: usize = 64;
/// Shortest claim: a one-letter name, no certificate.
pub const MIN_LEN: usize = HEADER_LEN + 1 + 2 + SIGNATURE_LEN;
/// Longest claim: the longest name and the longest certificate.
pub const MAX_LEN: usize = HEADER_LEN + MAX_NAME_LEN + 2 + member_cert::MAX_LEN + SIGNATURE_LEN;
/// What the node's signature covers besides the claim's bytes.
pub const SIGNING_CONTEXT: &[u8] = b"tessel name claim v1\0";

// A claim fits one inner message on a relayed path, and one record value.
const _: () = assert!(MAX_LEN <= crate::limits::RELAYED_MTU);
const _: () = assert!(MAX_LEN <= super::record::MAX_VALUE);

mod field {
    use std::ops::Range;
    pub(super) const VERSION: usize = 1;
    pub(super) const NETWORK_ID: Range<usize> = 2..34;
    pub(super) const NODE_ID: Range<usize> = 34..66;
    pub(super) const CLAIMED_AT: usize = 66;
    pub(super) const NAME_LEN: usize = 74;
}

/// A checked view of a name claim (format only: the signature is not
/// checked here).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks kind, version, the name, the certificate's format and the
    /// exact length; the only constructor for untrusted input.
    ///
    /// # Errors
    /// Returns an error if the bytes are not exactly one claim.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let buffer = checked(buffer, Size::AtLeast(HEADER_LEN), &[InnerKind::NameClaim])?;
        let b = buffer.as_ref();
        if b[field::VERSION] != VERSION {
            return Err(WireError::InvalidField("name claim version"));
        }
        let name_len = usize::from(b[field::NAME_LEN]);
        if name_len == 0 || name_len > MAX_NAME_LEN {
            return Err(WireError::InvalidField("name length"));
        }
        let cert_at = HEADER_LEN + name_len;
        need(b, cert_at + 2)?;
        let cert_len = usize::from(u16::from_le_bytes([b[cert_at], b[cert_at + 1]]));
        if cert_len > member_cert::MAX_LEN {
            return Err(WireError::InvalidField("certificate length"));
        }
        let expected = cert_at + 2 + cert_len + SIGNATURE_LEN;
        if b.len() != expected {
            return Err(WireError::WrongLength {
                len: b.len(),
                expected,
            });
        }
        NodeName::from_wire(&b[HEADER_LEN..cert_at])
            .map_err(|_| WireError::InvalidField("name"))?;
        if cert_len > 0 {
            member_cert::Packet::new_checked(&b[cert_at + 2..cert_at + 2 + cert_len])?;
        }
        Ok(Self { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn cert_at(&self) -> usize {
        HEADER_LEN + usize::from(self.bytes()[field::NAME_LEN])
    }

    /// The network the claim is for.
    pub fn network_id(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&self.bytes()[field::NETWORK_ID]);
        out
    }

    /// The claiming node.
    pub fn node_id(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&self.bytes()[field::NODE_ID]);
        out
    }

    /// When the node took the name (ms since the Unix epoch).
    pub fn claimed_at_ms(&self) -> u64 {
        read_u64(self.bytes(), field::CLAIMED_AT)
    }

    /// The name claimed.
    pub fn name(&self) -> NodeName {
        NodeName::from_wire(&self.bytes()[HEADER_LEN..self.cert_at()]).expect("checked when made")
    }

    /// The member certificate it carries (managed networks), if any.
    pub fn cert(&self) -> Option<&[u8]> {
        let at = self.cert_at();
        let b = self.bytes();
        let len = usize::from(u16::from_le_bytes([b[at], b[at + 1]]));
        (len > 0).then(|| &b[at + 2..at + 2 + len])
    }

    /// The bytes the signature covers (after [`SIGNING_CONTEXT`]).
    pub fn signed_part(&self) -> &[u8] {
        super::before_signature(self.bytes())
    }

    /// The node's signature.
    pub fn signature(&self) -> [u8; SIGNATURE_LEN] {
        super::trailing_signature(self.bytes())
    }

    /// The whole claim.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes()
    }
}

/// The fields of a claim, to write one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields<'a> {
    /// The network the claim is for.
    pub network_id: [u8; 32],
    /// The claiming node.
    pub node_id: [u8; 32],
    /// When the node took the name (ms since the Unix epoch).
    pub claimed_at_ms: u64,
    /// The name.
    pub name: &'a NodeName,
    /// The node's member certificate (managed networks), or empty.
    pub cert: &'a [u8],
}

impl Fields<'_> {
    /// Appends the signed part (everything but the signature).
    ///
    /// # Errors
    /// A certificate longer than a certificate can be (nothing is appended).
    pub fn emit_signed_part(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        if self.cert.len() > member_cert::MAX_LEN {
            return Err(WireError::InvalidField("certificate length"));
        }
        let name = self.name.as_str().as_bytes();
        out.reserve(MAX_LEN);
        out.push(InnerKind::NameClaim.into());
        out.push(VERSION);
        out.extend_from_slice(&self.network_id);
        out.extend_from_slice(&self.node_id);
        out.extend_from_slice(&self.claimed_at_ms.to_le_bytes());
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        out.extend_from_slice(&(self.cert.len() as u16).to_le_bytes());
        out.extend_from_slice(self.cert);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Fields<'_> {
        fn signed_part_vec(&self) -> Result<Vec<u8>, WireError> {
            crate::wire::try_to_vec(|o| self.emit_signed_part(o))
        }
    }

    fn name(s: &str) -> NodeName {
        NodeName::parse(s).unwrap()
    }

    fn sample(cert: &[u8]) -> Vec<u8> {
        let n = name("web-1");
        let mut b = Fields {
            network_id: [1; 32],
            node_id: [2; 32],
            claimed_at_ms: 1_800_000_000_123,
            name: &n,
            cert,
        }
        .signed_part_vec()
        .unwrap();
        b.extend_from_slice(&[7; SIGNATURE_LEN]);
        b
    }

    fn a_cert() -> Vec<u8> {
        let mut c = Vec::new();
        member_cert::Fields {
            network_id: [1; 32],
            node_id: [2; 32],
            not_after: 1_900_000_000,
            name: "web-1",
            groups: &[],
        }
        .emit_signed_part(&mut c)
        .unwrap();
        c.extend_from_slice(&[9; 64]);
        c
    }

    #[test]
    fn byte_layout() {
        let b = sample(&[]);
        assert_eq!(b.len(), HEADER_LEN + 5 + 2 + SIGNATURE_LEN);
        assert_eq!(b[0], 0x0a);
        assert_eq!(b[1], 1);
        assert_eq!(&b[2..34], &[1; 32]);
        assert_eq!(&b[34..66], &[2; 32]);
        assert_eq!(&b[66..74], &1_800_000_000_123u64.to_le_bytes());
        assert_eq!(b[74], 5);
        assert_eq!(&b[75..80], b"web-1");
        assert_eq!(&b[80..82], &[0, 0]);
        assert_eq!(&b[82..], &[7; SIGNATURE_LEN]);
    }

    #[test]
    fn round_trip_with_and_without_a_certificate() {
        for cert in [Vec::new(), a_cert()] {
            let b = sample(&cert);
            let p = Packet::new_checked(&b[..]).unwrap();
            assert_eq!(p.network_id(), [1; 32]);
            assert_eq!(p.node_id(), [2; 32]);
            assert_eq!(p.claimed_at_ms(), 1_800_000_000_123);
            assert_eq!(p.name(), name("web-1"));
            assert_eq!(p.cert(), (!cert.is_empty()).then_some(&cert[..]));
            assert_eq!(p.signature(), [7; SIGNATURE_LEN]);
            assert_eq!(p.signed_part(), &b[..b.len() - SIGNATURE_LEN]);
            assert_eq!(p.as_bytes(), &b[..]);
        }
    }

    #[test]
    fn every_truncation_and_extension_is_refused() {
        for cert in [Vec::new(), a_cert()] {
            let b = sample(&cert);
            for n in 0..b.len() {
                assert!(Packet::new_checked(&b[..n]).is_err(), "{n}");
            }
            let mut long = b.clone();
            long.push(0);
            assert!(Packet::new_checked(&long[..]).is_err());
        }
    }

    #[test]
    fn bad_fields_are_refused() {
        let b = sample(&[]);
        let mut kind = b.clone();
        kind[0] = 0x09;
        assert!(Packet::new_checked(&kind[..]).is_err());
        let mut version = b.clone();
        version[1] = 2;
        assert!(Packet::new_checked(&version[..]).is_err());
        let mut upper = b.clone();
        upper[75] = b'W';
        assert!(Packet::new_checked(&upper[..]).is_err());
        let mut dot = b.clone();
        dot[76] = b'.';
        assert!(Packet::new_checked(&dot[..]).is_err());
        let mut empty = b.clone();
        empty[74] = 0;
        assert!(Packet::new_checked(&empty[..]).is_err());
        // A certificate that is not one.
        let mut junk = sample(&[0xee; 200]);
        assert!(Packet::new_checked(&junk[..]).is_err());
        junk.truncate(10);
        assert!(Packet::new_checked(&junk[..]).is_err());
        // A certificate length beyond any certificate.
        let mut huge = b.clone();
        huge[80..82].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(Packet::new_checked(&huge[..]).is_err());
    }

    #[test]
    fn the_longest_claim_is_max_len() {
        let n = name(&"a".repeat(MAX_NAME_LEN));
        let cert = vec![0u8; member_cert::MAX_LEN];
        let f = Fields {
            network_id: [0; 32],
            node_id: [0; 32],
            claimed_at_ms: 0,
            name: &n,
            cert: &cert,
        };
        let b = f.signed_part_vec().unwrap();
        assert_eq!(b.len() + SIGNATURE_LEN, MAX_LEN);
        let too_long = vec![0u8; member_cert::MAX_LEN + 1];
        assert!(Fields {
            cert: &too_long,
            ..f
        }
        .signed_part_vec()
        .is_err());
    }
}
