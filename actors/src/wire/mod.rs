//! Wire formats: one module per frame or message body, each a validated
//! struct with `parse` (the only way in for untrusted bytes; returns an
//! error, never panics), `encoded_len` and `write`.
//!
//! Every frame on a stream is `len u32 | type u8 | body`, where `len` counts
//! the type byte and the body. Integers are little-endian. Layouts are listed
//! in each module and in `docs/actors.md`.

pub mod body;
pub mod call;
pub mod event;
pub mod forget;
pub mod frame;
pub mod learn;
pub mod message;
pub mod name_record;
pub mod names;
pub mod pair;
pub mod scope_answer;
pub mod scope_gone;
pub mod scope_probe;
pub mod scope_push;
pub mod scope_query;
pub mod subscribe;

/// Why bytes could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Shorter than the format requires.
    #[error("truncated: need {need} more bytes")]
    Truncated {
        /// Bytes missing at the point of failure.
        need: usize,
    },
    /// Bytes left over after a complete value.
    #[error("{0} trailing bytes")]
    Trailing(usize),
    /// The type or kind byte names nothing known.
    #[error("unknown type {0:#04x}")]
    UnknownType(u8),
    /// A field holds a value that the format forbids.
    #[error("invalid field `{0}`")]
    InvalidField(&'static str),
    /// A length or count exceeds the format's limit.
    #[error("field `{0}` too long")]
    TooLong(&'static str),
}

/// A checked cursor over untrusted bytes.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Starts reading `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// Takes the next `n` bytes.
    ///
    /// # Errors
    /// [`WireError::Truncated`] when fewer remain.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.buf.len() < n {
            return Err(WireError::Truncated {
                need: n - self.buf.len(),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Takes a fixed-size array.
    ///
    /// # Errors
    /// [`WireError::Truncated`] when fewer bytes remain.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Reads a byte.
    ///
    /// # Errors
    /// [`WireError::Truncated`] at the end.
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a little-endian u16.
    ///
    /// # Errors
    /// [`WireError::Truncated`] when fewer than 2 bytes remain.
    pub fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian u32.
    ///
    /// # Errors
    /// [`WireError::Truncated`] when fewer than 4 bytes remain.
    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian u64.
    ///
    /// # Errors
    /// [`WireError::Truncated`] when fewer than 8 bytes remain.
    pub fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Reads a string with a one-byte length prefix.
    ///
    /// # Errors
    /// Truncation or invalid UTF-8 (reported as `field`).
    pub fn str8(&mut self, field: &'static str) -> Result<String, WireError> {
        let n = usize::from(self.u8()?);
        utf8(self.take(n)?, field)
    }

    /// Reads a string with a two-byte length prefix.
    ///
    /// # Errors
    /// Truncation or invalid UTF-8 (reported as `field`).
    pub fn str16(&mut self, field: &'static str) -> Result<String, WireError> {
        let n = usize::from(self.u16()?);
        utf8(self.take(n)?, field)
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Checks that nothing is left.
    ///
    /// # Errors
    /// [`WireError::Trailing`] when bytes remain.
    pub fn finish(self) -> Result<(), WireError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(WireError::Trailing(self.buf.len()))
        }
    }
}

fn utf8(b: &[u8], field: &'static str) -> Result<String, WireError> {
    std::str::from_utf8(b)
        .map(str::to_owned)
        .map_err(|_| WireError::InvalidField(field))
}

/// Appends a string with a one-byte length prefix.
///
/// # Errors
/// [`WireError::TooLong`] when longer than 255 bytes.
pub fn put_str8(out: &mut Vec<u8>, s: &str, field: &'static str) -> Result<(), WireError> {
    let n = u8::try_from(s.len()).map_err(|_| WireError::TooLong(field))?;
    out.push(n);
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Appends a string with a two-byte length prefix.
///
/// # Errors
/// [`WireError::TooLong`] when longer than 65,535 bytes.
pub fn put_str16(out: &mut Vec<u8>, s: &str, field: &'static str) -> Result<(), WireError> {
    let n = u16::try_from(s.len()).map_err(|_| WireError::TooLong(field))?;
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_checks_every_read() {
        let mut r = Reader::new(&[1, 2, 0, 3]);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u16(), Ok(2));
        assert_eq!(r.u32(), Err(WireError::Truncated { need: 3 }));
        assert_eq!(r.remaining(), 1);
        assert_eq!(Reader::new(&[1]).finish(), Err(WireError::Trailing(1)));
        assert!(Reader::new(&[2, 0xff, 0xfe])
            .str8("s")
            .is_err_and(|e| e == WireError::InvalidField("s")));
        let mut out = Vec::new();
        put_str8(&mut out, "hé", "s").unwrap();
        put_str16(&mut out, "x", "t").unwrap();
        let mut r = Reader::new(&out);
        assert_eq!(r.str8("s").unwrap(), "hé");
        assert_eq!(r.str16("t").unwrap(), "x");
        r.finish().unwrap();
        assert!(put_str8(&mut out, &"a".repeat(256), "s").is_err());
    }
}
