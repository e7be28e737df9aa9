//! Service 8 messages: the payload of a service packet after its two
//! header bytes. Integers are big-endian.
//!
//! ```text
//! ADVERT  | 0x01 | timestamp u64 | hash [32] | size u32 | name_len u8 | name |
//! REQUEST | 0x02 | id u16 | offset u32 | window u16 | timestamp u64 | hash [32] | name_len u8 | name |
//! CHUNK   | 0x03 | id u16 | offset u32 | data (1..=246 bytes) |
//! END     | 0x04 | id u16 | size u32 |
//! REFUSAL | 0x05 | id u16 | reason u8 |
//! ```
//!
//! - An advert names a version: the timestamp alone cannot break ties
//!   between two files of the same name and timestamp, so the hash of the
//!   signed content travels with it; the size lets a receiver refuse files
//!   above its limit before asking.
//! - The requester picks `id`; the source echoes it in CHUNK, END and
//!   REFUSAL. A REQUEST asks for the file from `offset` and allows `window`
//!   chunks beyond it; a later REQUEST with the same id and a larger offset
//!   acknowledges and slides the window.
//! - END follows the last chunk and repeats the size.

use super::name::{FileName, NameError};
use super::signed::Version;
use crate::wire::service::MAX_PAYLOAD_LEN;

/// The largest CHUNK data: a whole service payload less the CHUNK header.
pub const MAX_CHUNK: usize = MAX_PAYLOAD_LEN - 7;

mod kind {
    pub(super) const ADVERT: u8 = 1;
    pub(super) const REQUEST: u8 = 2;
    pub(super) const CHUNK: u8 = 3;
    pub(super) const END: u8 = 4;
    pub(super) const REFUSAL: u8 = 5;
}

/// Why a source will not send a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RefusalReason {
    /// The source does not have that version (any more).
    NotFound = 1,
    /// The source serves too many transfers already.
    Busy = 2,
    /// The offset lies beyond the file.
    BadOffset = 3,
    /// The source could not read the file.
    Unavailable = 4,
}

impl RefusalReason {
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::NotFound,
            2 => Self::Busy,
            3 => Self::BadOffset,
            4 => Self::Unavailable,
            _ => return None,
        })
    }
}

/// A service 8 message, borrowing its variable parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// "I have this version of this file."
    Advert {
        /// The version.
        version: Version,
        /// Bytes of the signed file.
        size: u32,
        /// The file.
        name: FileName,
    },
    /// "Send me this version from `offset`, up to `window` chunks ahead."
    Request {
        /// The requester's transfer id.
        id: u16,
        /// First byte wanted (or acknowledged so far).
        offset: u32,
        /// Chunks the source may send beyond `offset`.
        window: u16,
        /// The version wanted.
        version: Version,
        /// The file.
        name: FileName,
    },
    /// Bytes of the file at `offset`.
    Chunk {
        /// The transfer.
        id: u16,
        /// Where `data` starts in the file.
        offset: u32,
        /// 1 to [`MAX_CHUNK`] bytes.
        data: &'a [u8],
    },
    /// The last chunk has been sent.
    End {
        /// The transfer.
        id: u16,
        /// The file's size.
        size: u32,
    },
    /// The source will not (or no longer) send.
    Refusal {
        /// The transfer.
        id: u16,
        /// Why.
        reason: RefusalReason,
    },
}

/// Why a payload is not a service 8 message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MsgError {
    /// Empty, or shorter than the message's fixed part.
    #[error("truncated file service message")]
    Truncated,
    /// Longer than the message allows (or than a service payload).
    #[error("file service message has {0} trailing bytes")]
    Trailing(usize),
    /// Unknown message type.
    #[error("unknown file service message {0:#04x}")]
    UnknownKind(u8),
    /// A bad name.
    #[error("bad file name: {0}")]
    Name(#[from] NameError),
    /// A chunk with no data or too much.
    #[error("chunk of {0} bytes")]
    BadChunk(usize),
    /// A refusal reason outside the table.
    #[error("unknown refusal reason {0}")]
    BadReason(u8),
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], MsgError> {
        if self.b.len() < n {
            return Err(MsgError::Truncated);
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, MsgError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, MsgError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, MsgError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn version(&mut self) -> Result<Version, MsgError> {
        let ts = self.take(8)?;
        let mut t = [0; 8];
        t.copy_from_slice(ts);
        let mut hash = [0; 32];
        hash.copy_from_slice(self.take(32)?);
        Ok(Version {
            timestamp: u64::from_be_bytes(t),
            hash,
        })
    }
    fn name(&mut self) -> Result<FileName, MsgError> {
        let n = usize::from(self.u8()?);
        Ok(FileName::from_bytes(self.take(n)?)?)
    }
    fn finish(&self) -> Result<(), MsgError> {
        if self.b.is_empty() {
            Ok(())
        } else {
            Err(MsgError::Trailing(self.b.len()))
        }
    }
}

impl<'a> Message<'a> {
    /// Parses a service 8 payload.
    ///
    /// # Errors
    /// A [`MsgError`]; parsing never panics.
    pub fn parse(payload: &'a [u8]) -> Result<Self, MsgError> {
        if payload.len() > MAX_PAYLOAD_LEN {
            return Err(MsgError::Trailing(payload.len() - MAX_PAYLOAD_LEN));
        }
        let mut r = Reader { b: payload };
        let m = match r.u8()? {
            kind::ADVERT => {
                let version = r.version()?;
                let size = r.u32()?;
                let name = r.name()?;
                Self::Advert {
                    version,
                    size,
                    name,
                }
            }
            kind::REQUEST => {
                let id = r.u16()?;
                let offset = r.u32()?;
                let window = r.u16()?;
                let version = r.version()?;
                let name = r.name()?;
                Self::Request {
                    id,
                    offset,
                    window,
                    version,
                    name,
                }
            }
            kind::CHUNK => {
                let id = r.u16()?;
                let offset = r.u32()?;
                let data = std::mem::take(&mut r.b);
                if data.is_empty() || data.len() > MAX_CHUNK {
                    return Err(MsgError::BadChunk(data.len()));
                }
                Self::Chunk { id, offset, data }
            }
            kind::END => Self::End {
                id: r.u16()?,
                size: r.u32()?,
            },
            kind::REFUSAL => {
                let id = r.u16()?;
                let b = r.u8()?;
                Self::Refusal {
                    id,
                    reason: RefusalReason::from_byte(b).ok_or(MsgError::BadReason(b))?,
                }
            }
            k => return Err(MsgError::UnknownKind(k)),
        };
        r.finish()?;
        Ok(m)
    }

    /// Bytes [`Message::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Self::Advert { name, .. } => 1 + 40 + 4 + 1 + name.as_bytes().len(),
            Self::Request { name, .. } => 1 + 2 + 4 + 2 + 40 + 1 + name.as_bytes().len(),
            Self::Chunk { data, .. } => 1 + 2 + 4 + data.len(),
            Self::End { .. } => 1 + 2 + 4,
            Self::Refusal { .. } => 1 + 2 + 1,
        }
    }

    /// Appends the message to `out`. A chunk's data must be 1 to
    /// [`MAX_CHUNK`] bytes for the result to parse.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let version = |out: &mut Vec<u8>, v: &Version| {
            out.extend_from_slice(&v.timestamp.to_be_bytes());
            out.extend_from_slice(&v.hash);
        };
        let name = |out: &mut Vec<u8>, n: &FileName| {
            // Names are at most 64 bytes.
            out.push(n.as_bytes().len() as u8);
            out.extend_from_slice(n.as_bytes());
        };
        match self {
            Self::Advert {
                version: v,
                size,
                name: n,
            } => {
                out.push(kind::ADVERT);
                version(out, v);
                out.extend_from_slice(&size.to_be_bytes());
                name(out, n);
            }
            Self::Request {
                id,
                offset,
                window,
                version: v,
                name: n,
            } => {
                out.push(kind::REQUEST);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&offset.to_be_bytes());
                out.extend_from_slice(&window.to_be_bytes());
                version(out, v);
                name(out, n);
            }
            Self::Chunk { id, offset, data } => {
                out.push(kind::CHUNK);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&offset.to_be_bytes());
                out.extend_from_slice(data);
            }
            Self::End { id, size } => {
                out.push(kind::END);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&size.to_be_bytes());
            }
            Self::Refusal { id, reason } => {
                out.push(kind::REFUSAL);
                out.extend_from_slice(&id.to_be_bytes());
                out.push(*reason as u8);
            }
        }
    }

    /// The message as a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.buffer_len());
        self.emit(&mut v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v() -> Version {
        Version {
            timestamp: 0x0102_0304_0506_0708,
            hash: [0xab; 32],
        }
    }

    #[test]
    fn byte_layouts() {
        let name = FileName::new("ab").unwrap();
        let advert = Message::Advert {
            version: v(),
            size: 0x0a0b,
            name: name.clone(),
        }
        .to_vec();
        let mut want = vec![1, 1, 2, 3, 4, 5, 6, 7, 8];
        want.extend_from_slice(&[0xab; 32]);
        want.extend_from_slice(&[0, 0, 0x0a, 0x0b, 2, b'a', b'b']);
        assert_eq!(advert, want);
        let req = Message::Request {
            id: 0x1234,
            offset: 5,
            window: 8,
            version: v(),
            name,
        }
        .to_vec();
        assert_eq!(&req[..9], &[2, 0x12, 0x34, 0, 0, 0, 5, 0, 8]);
        assert_eq!(req.len(), 1 + 2 + 4 + 2 + 40 + 1 + 2);
        assert_eq!(
            Message::Chunk {
                id: 1,
                offset: 2,
                data: b"xy"
            }
            .to_vec(),
            [3, 0, 1, 0, 0, 0, 2, b'x', b'y']
        );
        assert_eq!(
            Message::End { id: 1, size: 9 }.to_vec(),
            [4, 0, 1, 0, 0, 0, 9]
        );
        assert_eq!(
            Message::Refusal {
                id: 1,
                reason: RefusalReason::Busy
            }
            .to_vec(),
            [5, 0, 1, 2]
        );
        assert_eq!(MAX_CHUNK, 246);
    }

    #[test]
    fn refuses_bad_payloads() {
        assert_eq!(Message::parse(&[]), Err(MsgError::Truncated));
        assert_eq!(Message::parse(&[9]), Err(MsgError::UnknownKind(9)));
        assert_eq!(
            Message::parse(&[4, 0, 1, 0, 0, 0, 9, 0]),
            Err(MsgError::Trailing(1))
        );
        assert_eq!(
            Message::parse(&[3, 0, 1, 0, 0, 0, 2]),
            Err(MsgError::BadChunk(0))
        );
        assert_eq!(Message::parse(&[5, 0, 1, 9]), Err(MsgError::BadReason(9)));
        let mut advert = Message::Advert {
            version: v(),
            size: 1,
            name: FileName::new("ab").unwrap(),
        }
        .to_vec();
        let n = advert.len();
        advert[n - 1] = b'/';
        assert!(matches!(Message::parse(&advert), Err(MsgError::Name(_))));
    }

    fn message() -> impl Strategy<Value = (u8, u16, u32, u16, u64, [u8; 32], String, Vec<u8>)> {
        (
            0u8..5,
            any::<u16>(),
            any::<u32>(),
            any::<u16>(),
            any::<u64>(),
            any::<[u8; 32]>(),
            "[a-z0-9][a-z0-9_+-]{0,63}",
            proptest::collection::vec(any::<u8>(), 1..=MAX_CHUNK),
        )
    }

    proptest! {
        #[test]
        fn roundtrip((k, id, off, win, ts, hash, n, data) in message()) {
            let version = Version { timestamp: ts, hash };
            let name = FileName::new(&n).unwrap();
            let m = match k {
                0 => Message::Advert { version, size: off, name },
                1 => Message::Request { id, offset: off, window: win, version, name },
                2 => Message::Chunk { id, offset: off, data: &data },
                3 => Message::End { id, size: off },
                _ => Message::Refusal { id, reason: RefusalReason::from_byte(1 + (win % 4) as u8).unwrap() },
            };
            let bytes = m.to_vec();
            prop_assert_eq!(bytes.len(), m.buffer_len());
            prop_assert!(bytes.len() <= MAX_PAYLOAD_LEN);
            prop_assert_eq!(Message::parse(&bytes), Ok(m));
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(m) = Message::parse(&bytes) {
                prop_assert_eq!(m.to_vec(), bytes);
            }
        }
    }
}
