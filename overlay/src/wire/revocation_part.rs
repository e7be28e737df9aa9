//! Revocation list parts: a revocation list too long for one inner message
//! travels in parts of [`PART_LEN`] bytes, inside sessions (inner kind
//! 0x0b), pulled by the member that assembles it.
//!
//! ```text
//! 0      1    2            10              14          16
//! | 0x0b | op | serial u64 | total_len u32 | index u16 | body |
//! ```
//! `serial` and `total_len` name the list (its serial and length in
//! bytes, at most [`revocations::MAX_LEN`]); `index` is a part number,
//! below [`parts`]`(total_len)`. Op 1 (**part**): `body` is the list's
//! bytes from `index × PART_LEN`, [`PART_LEN`] of them or the rest of the
//! list for the last part. Op 2 (**want**): `body` is `count u16`, 1 to
//! [`MAX_WANT`]: the sender asks for parts `index` to `index + count - 1`
//! (or to the last). Integers are little-endian. The assembled list is
//! checked as a whole (format and owner's signature) by
//! [`crate::identity::RevocationList`]; this module only reads and writes
//! the bytes.

use super::kind::{checked, Size};
use super::{read_u32, read_u64, revocations, InnerKind, WireError};

/// Bytes before the body.
pub const HEADER_LEN: usize = 16;
/// Bytes of the list in a part (all but the last).
pub const PART_LEN: usize = 1024;
/// Most parts one want asks for.
pub const MAX_WANT: u16 = 32;

const _: () = assert!(HEADER_LEN + PART_LEN <= crate::limits::RELAYED_MTU);
const _: () = assert!(revocations::MAX_LEN.div_ceil(PART_LEN) <= u16::MAX as usize);

/// What a message does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Carries part `index` of the list.
    Part,
    /// Asks for `count` parts from `index`.
    Want {
        /// How many parts.
        count: u16,
    },
}

/// How many parts a list of `total_len` bytes takes.
pub fn parts(total_len: usize) -> usize {
    total_len.div_ceil(PART_LEN)
}

/// The bytes of part `index` within a list of `total_len` bytes.
pub fn part_range(total_len: usize, index: usize) -> std::ops::Range<usize> {
    let start = (index * PART_LEN).min(total_len);
    start..(start + PART_LEN).min(total_len)
}

/// A checked view of a part or want.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks kind, op, the list length, the index and the body's exact
    /// length; the only constructor for untrusted input.
    ///
    /// # Errors
    /// Returns an error if the bytes are not exactly one part or want.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let buffer = checked(
            buffer,
            Size::AtLeast(HEADER_LEN),
            &[InnerKind::RevocationPart],
        )?;
        let p = Self { buffer };
        let total = p.total_len();
        if total == 0 || total > revocations::MAX_LEN {
            return Err(WireError::InvalidField("revocation list length"));
        }
        let index = usize::from(p.index());
        if index >= parts(total) {
            return Err(WireError::InvalidField("revocation part index"));
        }
        let expected = match p.bytes()[1] {
            1 => HEADER_LEN + part_range(total, index).len(),
            2 => HEADER_LEN + 2,
            _ => return Err(WireError::InvalidField("revocation part op")),
        };
        if p.bytes().len() != expected {
            return Err(WireError::WrongLength {
                len: p.bytes().len(),
                expected,
            });
        }
        if let Op::Want { count } = p.op() {
            if count == 0 || count > MAX_WANT {
                return Err(WireError::InvalidField("revocation want count"));
            }
        }
        Ok(p)
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// What the message does.
    pub fn op(&self) -> Op {
        let b = self.bytes();
        if b[1] == 1 {
            Op::Part
        } else {
            Op::Want {
                count: u16::from_le_bytes([b[16], b[17]]),
            }
        }
    }

    /// The list's serial.
    pub fn serial(&self) -> u64 {
        read_u64(self.bytes(), 2)
    }

    /// The list's length in bytes.
    pub fn total_len(&self) -> usize {
        read_u32(self.bytes(), 10) as usize
    }

    /// The part number.
    pub fn index(&self) -> u16 {
        u16::from_le_bytes([self.bytes()[14], self.bytes()[15]])
    }

    /// A part's bytes of the list (empty for a want).
    pub fn data(&self) -> &[u8] {
        match self.op() {
            Op::Part => &self.bytes()[HEADER_LEN..],
            Op::Want { .. } => &[],
        }
    }
}

fn header(op: u8, serial: u64, total_len: usize, index: u16, out: &mut Vec<u8>) {
    out.reserve(HEADER_LEN + PART_LEN);
    out.push(InnerKind::RevocationPart.into());
    out.push(op);
    out.extend_from_slice(&serial.to_le_bytes());
    out.extend_from_slice(&(total_len as u32).to_le_bytes());
    out.extend_from_slice(&index.to_le_bytes());
}

/// Appends part `index` of `list` (a whole list of serial `serial`);
/// appends nothing on error.
///
/// # Errors
/// A list longer than [`revocations::MAX_LEN`], or an index past its end.
pub fn emit_part(serial: u64, list: &[u8], index: u16, out: &mut Vec<u8>) -> Result<(), WireError> {
    if list.is_empty() || list.len() > revocations::MAX_LEN {
        return Err(WireError::InvalidField("revocation list length"));
    }
    if usize::from(index) >= parts(list.len()) {
        return Err(WireError::InvalidField("revocation part index"));
    }
    header(1, serial, list.len(), index, out);
    out.extend_from_slice(&list[part_range(list.len(), usize::from(index))]);
    Ok(())
}

/// Appends a want of `count` parts from `index` of the list of `serial`
/// and `total_len` bytes; appends nothing on error.
///
/// # Errors
/// A length, index or count out of range.
pub fn emit_want(
    serial: u64,
    total_len: usize,
    index: u16,
    count: u16,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    let start = out.len();
    header(2, serial, total_len, index, out);
    out.extend_from_slice(&count.to_le_bytes());
    if let Err(e) = Packet::new_checked(&out[start..]) {
        out.truncate(start);
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_list_and_round_trip() {
        let list: Vec<u8> = (0..2500u32).map(|i| i as u8).collect();
        assert_eq!(parts(list.len()), 3);
        let mut again = Vec::new();
        for i in 0..3u16 {
            let m = crate::wire::try_to_vec(|o| emit_part(7, &list, i, o)).unwrap();
            let p = Packet::new_checked(&m[..]).unwrap();
            assert_eq!((p.op(), p.serial(), p.index()), (Op::Part, 7, i));
            assert_eq!(p.total_len(), 2500);
            again.extend_from_slice(p.data());
        }
        assert_eq!(again, list);
        assert!(crate::wire::try_to_vec(|o| emit_part(7, &list, 3, o)).is_err());
        assert!(crate::wire::try_to_vec(|o| emit_part(7, &[], 0, o)).is_err());
        let w = crate::wire::try_to_vec(|o| emit_want(7, 2500, 1, 2, o)).unwrap();
        let p = Packet::new_checked(&w[..]).unwrap();
        assert_eq!((p.op(), p.index()), (Op::Want { count: 2 }, 1));
        assert!(p.data().is_empty());
    }

    #[test]
    fn every_truncation_and_bad_field_is_refused() {
        let list = vec![5u8; 1500];
        let m = crate::wire::try_to_vec(|o| emit_part(1, &list, 1, o)).unwrap();
        for n in 0..m.len() {
            assert!(Packet::new_checked(&m[..n]).is_err(), "{n}");
        }
        let mut long = m.clone();
        long.push(0);
        assert!(Packet::new_checked(&long[..]).is_err());
        let mut op = m.clone();
        op[1] = 3;
        assert!(Packet::new_checked(&op[..]).is_err());
        let mut index = m.clone();
        index[14] = 2;
        assert!(Packet::new_checked(&index[..]).is_err());
        let mut huge = m.clone();
        huge[10..14].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Packet::new_checked(&huge[..]).is_err());
        assert!(crate::wire::try_to_vec(|o| emit_want(1, 1500, 0, 0, o)).is_err());
        assert!(crate::wire::try_to_vec(|o| emit_want(1, 1500, 0, MAX_WANT + 1, o)).is_err());
        assert!(crate::wire::try_to_vec(|o| emit_want(1, 1500, 2, 1, o)).is_err());
        assert!(
            crate::wire::try_to_vec(|o| emit_want(1, revocations::MAX_LEN + 1, 0, 1, o)).is_err()
        );
    }
}
