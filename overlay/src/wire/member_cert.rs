//! Member certificate: a network owner's statement that a node is a member
//! of a managed network until a given time.
//!
//! ```text
//! 0         1            33        65            73         74
//! | version | network_id | node_id | not_after 8 | name_len | name … |
//! | group_count | (group_len | group …) × group_count | signature 64 |
//! ```
//! `version` is 1. `not_after` is in seconds since the Unix epoch. The name
//! (at most [`MAX_NAME`] bytes) and each group (1 to [`MAX_NAME`] bytes, at
//! most [`MAX_GROUPS`] of them) are UTF-8. The signature is the owner's
//! ed25519 signature of [`SIGNING_CONTEXT`] followed by every byte before it
//! (see `identity::membership`). The whole certificate is exactly as long as
//! its fields say: nothing may follow it.

use super::{need, read_u64, WireError};

/// The version byte this module reads and writes.
pub const VERSION: u8 = 1;
/// Longest name and longest group, in bytes.
pub const MAX_NAME: usize = 32;
/// Most groups in one certificate.
pub const MAX_GROUPS: usize = 8;
/// Bytes of the signature.
pub const SIGNATURE_LEN: usize = 64;
/// Bytes of the fixed fields before the name.
const FIXED: usize = 1 + 32 + 32 + 8 + 1;
/// Shortest certificate: no name, no groups.
pub const MIN_LEN: usize = FIXED + 1 + SIGNATURE_LEN;
/// Longest certificate: the longest name and the most, longest groups.
pub const MAX_LEN: usize = FIXED + MAX_NAME + 1 + MAX_GROUPS * (1 + MAX_NAME) + SIGNATURE_LEN;
/// What the owner's signature covers besides the certificate's bytes.
pub const SIGNING_CONTEXT: &[u8] = b"tessel member certificate v1\0";

/// A checked view of a member certificate.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
    /// Where the groups count lies.
    groups_at: usize,
}

/// The fields of a certificate, to write one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields<'a> {
    /// The network the certificate is for.
    pub network_id: [u8; 32],
    /// The member's node ID.
    pub node_id: [u8; 32],
    /// Seconds since the Unix epoch after which the certificate is void.
    pub not_after: u64,
    /// The member's name.
    pub name: &'a str,
    /// The member's groups.
    pub groups: &'a [String],
}

/// Checks one length-prefixed UTF-8 string at `at`; returns where it ends.
fn string_at(b: &[u8], at: usize, min: usize, what: &'static str) -> Result<usize, WireError> {
    need(b, at + 1)?;
    let len = usize::from(b[at]);
    if len < min || len > MAX_NAME {
        return Err(WireError::InvalidField(what));
    }
    need(b, at + 1 + len)?;
    std::str::from_utf8(&b[at + 1..at + 1 + len]).map_err(|_| WireError::InvalidField(what))?;
    Ok(at + 1 + len)
}

/// Walks the fields of the certificate that `b` starts with; returns where
/// its groups count lies and its whole length.
fn layout(b: &[u8]) -> Result<(usize, usize), WireError> {
    need(b, FIXED)?;
    if b[0] != VERSION {
        return Err(WireError::InvalidField("certificate version"));
    }
    let groups_at = string_at(b, FIXED - 1, 0, "name")?;
    need(b, groups_at + 1)?;
    let count = usize::from(b[groups_at]);
    if count > MAX_GROUPS {
        return Err(WireError::InvalidField("group count"));
    }
    let mut at = groups_at + 1;
    for _ in 0..count {
        at = string_at(b, at, 1, "group")?;
    }
    need(b, at + SIGNATURE_LEN)?;
    Ok((groups_at, at + SIGNATURE_LEN))
}

/// Splits a certificate followed by zero padding (as handshake initiations
/// carry it, see [`pad`]) into the certificate.
///
/// # Errors
/// No well-formed certificate at the start, or padding that is not zeros.
pub fn unpad(b: &[u8]) -> Result<&[u8], WireError> {
    let (_, len) = layout(b)?;
    if b[len..].iter().any(|&x| x != 0) {
        return Err(WireError::InvalidField("certificate padding"));
    }
    Ok(&b[..len])
}

/// Appends `cert` padded with zeros to [`MAX_LEN`] bytes.
pub fn pad(cert: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(cert);
    out.resize(out.len() + MAX_LEN.saturating_sub(cert.len()), 0);
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks every length, the version and the UTF-8 of every string; the
    /// only constructor for untrusted input. The signature is not checked.
    ///
    /// # Errors
    /// Returns an error if the bytes are not exactly one certificate.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() > MAX_LEN {
            return Err(WireError::InvalidField("certificate length"));
        }
        let (groups_at, len) = layout(b)?;
        if b.len() != len {
            return Err(WireError::WrongLength {
                len: b.len(),
                expected: len,
            });
        }
        Ok(Self { buffer, groups_at })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The network the certificate is for.
    pub fn network_id(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&self.bytes()[1..33]);
        out
    }

    /// The member's node ID.
    pub fn node_id(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&self.bytes()[33..65]);
        out
    }

    /// Seconds since the Unix epoch after which the certificate is void.
    pub fn not_after(&self) -> u64 {
        read_u64(self.bytes(), 65)
    }

    /// The member's name.
    pub fn name(&self) -> &str {
        let b = self.bytes();
        std::str::from_utf8(&b[FIXED..self.groups_at]).unwrap_or_default()
    }

    /// The member's groups, in order.
    pub fn groups(&self) -> Vec<&str> {
        let b = self.bytes();
        let mut at = self.groups_at + 1;
        let mut out = Vec::with_capacity(usize::from(b[self.groups_at]));
        for _ in 0..b[self.groups_at] {
            let len = usize::from(b[at]);
            out.push(std::str::from_utf8(&b[at + 1..at + 1 + len]).unwrap_or_default());
            at += 1 + len;
        }
        out
    }

    /// The bytes the signature covers (after [`SIGNING_CONTEXT`]).
    pub fn signed_part(&self) -> &[u8] {
        super::before_signature(self.bytes())
    }

    /// The owner's signature.
    pub fn signature(&self) -> [u8; SIGNATURE_LEN] {
        super::trailing_signature(self.bytes())
    }

    /// The whole certificate.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes()
    }
}

impl Fields<'_> {
    /// Appends the signed part (everything but the signature).
    ///
    /// # Errors
    /// A name or group too long, an empty group, or too many groups
    /// (nothing is appended).
    pub fn emit_signed_part(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        if self.name.len() > MAX_NAME {
            return Err(WireError::InvalidField("name"));
        }
        if self.groups.len() > MAX_GROUPS {
            return Err(WireError::InvalidField("group count"));
        }
        if self
            .groups
            .iter()
            .any(|g| g.is_empty() || g.len() > MAX_NAME)
        {
            return Err(WireError::InvalidField("group"));
        }
        out.reserve(MAX_LEN);
        out.push(VERSION);
        out.extend_from_slice(&self.network_id);
        out.extend_from_slice(&self.node_id);
        out.extend_from_slice(&self.not_after.to_le_bytes());
        out.push(self.name.len() as u8);
        out.extend_from_slice(self.name.as_bytes());
        out.push(self.groups.len() as u8);
        for g in self.groups {
            out.push(g.len() as u8);
            out.extend_from_slice(g.as_bytes());
        }
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

    fn sample() -> Vec<u8> {
        let groups = ["ops".to_string(), "db".to_string()];
        let mut b = Fields {
            network_id: [1; 32],
            node_id: [2; 32],
            not_after: 1_900_000_000,
            name: "web-1",
            groups: &groups,
        }
        .signed_part_vec()
        .unwrap();
        b.extend_from_slice(&[7; SIGNATURE_LEN]);
        b
    }

    #[test]
    fn round_trip() {
        let b = sample();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.network_id(), [1; 32]);
        assert_eq!(p.node_id(), [2; 32]);
        assert_eq!(p.not_after(), 1_900_000_000);
        assert_eq!(p.name(), "web-1");
        assert_eq!(p.groups(), ["ops", "db"]);
        assert_eq!(p.signature(), [7; SIGNATURE_LEN]);
        assert_eq!(p.signed_part(), &b[..b.len() - SIGNATURE_LEN]);
    }

    #[test]
    fn padding_comes_off_and_must_be_zeros() {
        let b = sample();
        let padded = crate::wire::to_vec(|o| pad(&b, o));
        assert_eq!(padded.len(), MAX_LEN);
        assert_eq!(unpad(&padded), Ok(&b[..]));
        assert_eq!(unpad(&b), Ok(&b[..]));
        let mut dirty = padded.clone();
        dirty[MAX_LEN - 1] = 1;
        assert!(unpad(&dirty).is_err());
        assert!(unpad(&b[..b.len() - 1]).is_err());
    }

    #[test]
    fn every_truncation_and_extension_is_refused() {
        let b = sample();
        for n in 0..b.len() {
            assert!(Packet::new_checked(&b[..n]).is_err(), "{n}");
        }
        let mut long = b.clone();
        long.push(0);
        assert!(Packet::new_checked(&long[..]).is_err());
    }

    #[test]
    fn limits_hold_both_ways() {
        let long = "x".repeat(MAX_NAME + 1);
        let f = Fields {
            network_id: [0; 32],
            node_id: [0; 32],
            not_after: 0,
            name: &long,
            groups: &[],
        };
        assert!(f.signed_part_vec().is_err());
        let groups: Vec<String> = (0..MAX_GROUPS).map(|_| "g".repeat(MAX_NAME)).collect();
        let name = "n".repeat(MAX_NAME);
        let mut b = Fields {
            name: &name,
            groups: &groups,
            ..f.clone()
        }
        .signed_part_vec()
        .unwrap();
        b.extend_from_slice(&[0; SIGNATURE_LEN]);
        assert_eq!(b.len(), MAX_LEN);
        assert!(Packet::new_checked(&b[..]).is_ok());
        let too_many: Vec<String> = (0..=MAX_GROUPS).map(|_| "g".into()).collect();
        assert!(Fields {
            groups: &too_many,
            ..f.clone()
        }
        .signed_part_vec()
        .is_err());
        // An empty group and invalid UTF-8 are refused by the parser too.
        let mut bad = sample();
        let groups_at = FIXED + "web-1".len();
        bad[groups_at + 1] = 0;
        assert!(Packet::new_checked(&bad[..]).is_err());
        let mut bad = sample();
        bad[FIXED] = 0xff;
        assert!(Packet::new_checked(&bad[..]).is_err());
    }
}
