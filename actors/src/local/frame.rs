//! Framing on the local engine socket, both ways and in both encodings:
//!
//! ```text
//! | len u32 big-endian | body (len bytes) |
//! ```
//!
//! `len` is at most [`MAX_FRAME`](super::MAX_FRAME). A client that opens its
//! connection with the four bytes [`BINARY_HELLO`] speaks the binary
//! encoding; read as a length, they are far over the limit, so a JSON
//! client never sends them. The [`Deframer`] reads into its own buffer
//! (one `read` can bring many frames) and cuts it into bodies without
//! copying them.

use crate::wire::WireError;

use super::MAX_FRAME;

/// The first bytes of a client that speaks the binary encoding.
pub const BINARY_HELLO: [u8; 4] = *b"TEB1";

/// Bytes of the length prefix.
pub const LEN_BYTES: usize = 4;

/// How a client encodes its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// JSON objects.
    Json,
    /// Binary frames.
    Binary,
}

/// Least free space offered to a read.
const MIN_READ: usize = 16 * 1024;

/// Cuts the bytes a client sends into frame bodies.
#[derive(Debug)]
pub struct Deframer {
    /// Received bytes live in `buf[start..end]`; the rest is room.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    encoding: Option<Encoding>,
}

impl Default for Deframer {
    fn default() -> Self {
        Self::new()
    }
}

impl Deframer {
    /// An empty decoder at the start of a connection.
    pub fn new() -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            end: 0,
            encoding: None,
        }
    }

    /// Room to read into (at least 16 KiB); report what was read with
    /// [`Self::filled`].
    pub fn space(&mut self) -> &mut [u8] {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.buf.len() - self.end < MIN_READ {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.buf.len() - self.end < MIN_READ {
                let len = (self.buf.len() * 2).max(self.end + MIN_READ);
                self.buf.resize(len, 0);
            }
        }
        &mut self.buf[self.end..]
    }

    /// `n` bytes were read into [`Self::space`].
    pub fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// Appends `bytes` (the same as reading them).
    pub fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = self.space();
            let n = room.len().min(bytes.len());
            room[..n].copy_from_slice(&bytes[..n]);
            self.filled(n);
            bytes = &bytes[n..];
        }
    }

    /// The client's encoding, once its first four bytes are in.
    pub fn encoding(&mut self) -> Option<Encoding> {
        if self.encoding.is_none() && self.end - self.start >= LEN_BYTES {
            let binary = self.buf[self.start..self.start + LEN_BYTES] == BINARY_HELLO;
            if binary {
                self.start += LEN_BYTES;
            }
            self.encoding = Some(if binary {
                Encoding::Binary
            } else {
                Encoding::Json
            });
        }
        self.encoding
    }

    /// The next complete frame's body, if one is in (not before the
    /// encoding is known).
    ///
    /// # Errors
    /// [`WireError::TooLong`] for a length over the limit: the connection
    /// cannot be resynchronised and should be closed.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, WireError> {
        if self.encoding().is_none() {
            return Ok(None);
        }
        let avail = &self.buf[self.start..self.end];
        let Some(prefix) = avail.first_chunk::<LEN_BYTES>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*prefix) as usize;
        if len > MAX_FRAME {
            return Err(WireError::TooLong("frame"));
        }
        if avail.len() < LEN_BYTES + len {
            return Ok(None);
        }
        let body = self.start + LEN_BYTES;
        self.start = body + len;
        Ok(Some(&self.buf[body..body + len]))
    }
}

/// Starts a frame at the end of `out`; finish it with [`end_frame`].
pub fn begin_frame(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; LEN_BYTES]);
    start
}

/// Writes the length of the frame begun at `start`.
///
/// # Errors
/// [`WireError::TooLong`] for a body over [`MAX_FRAME`] (then `out` is cut
/// back to `start`).
pub fn end_frame(out: &mut Vec<u8>, start: usize) -> Result<(), WireError> {
    let len = out.len() - start - LEN_BYTES;
    if len > MAX_FRAME {
        out.truncate(start);
        return Err(WireError::TooLong("frame"));
    }
    let len = u32::try_from(len).map_err(|_| WireError::TooLong("frame"))?;
    out[start..start + LEN_BYTES].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn framed(bodies: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for b in bodies {
            let s = begin_frame(&mut out);
            out.extend_from_slice(b);
            end_frame(&mut out, s).unwrap();
        }
        out
    }

    #[test]
    fn layout() {
        assert_eq!(framed(&[b"{}", b""]), [0, 0, 0, 2, b'{', b'}', 0, 0, 0, 0]);
    }

    #[test]
    fn the_hello_chooses_binary_and_is_not_a_frame() {
        let mut d = Deframer::new();
        d.push(b"TEB");
        assert_eq!(d.encoding(), None);
        assert_eq!(d.next_frame(), Ok(None));
        d.push(b"1");
        d.push(&framed(&[b"x"]));
        assert_eq!(d.encoding(), Some(Encoding::Binary));
        assert_eq!(d.next_frame(), Ok(Some(&b"x"[..])));
        assert_eq!(d.next_frame(), Ok(None));

        let mut d = Deframer::new();
        d.push(&framed(&[b"{}"]));
        assert_eq!(d.next_frame(), Ok(Some(&b"{}"[..])));
        assert_eq!(d.encoding(), Some(Encoding::Json));
    }

    #[test]
    fn an_overlong_length_is_refused() {
        let mut d = Deframer::new();
        d.push(&(MAX_FRAME as u32 + 1).to_be_bytes());
        assert_eq!(d.next_frame(), Err(WireError::TooLong("frame")));
        let mut out = vec![1];
        let s = begin_frame(&mut out);
        out.resize(out.len() + MAX_FRAME + 1, 0);
        assert_eq!(end_frame(&mut out, s), Err(WireError::TooLong("frame")));
        assert_eq!(out, [1]);
    }

    proptest! {
        /// Frames come out whole and in order however the bytes are cut.
        #[test]
        fn frames_survive_any_cuts(
            bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40_000), 0..6),
            cuts in proptest::collection::vec(1usize..30_000, 1..20),
            binary in any::<bool>(),
        ) {
            let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
            let mut bytes = if binary { BINARY_HELLO.to_vec() } else { Vec::new() };
            bytes.extend(framed(&refs));
            let mut d = Deframer::new();
            let mut got = Vec::new();
            let mut rest = &bytes[..];
            let mut i = 0;
            while !rest.is_empty() {
                let n = cuts[i % cuts.len()].min(rest.len());
                let room = d.space();
                let n = n.min(room.len());
                room[..n].copy_from_slice(&rest[..n]);
                d.filled(n);
                rest = &rest[n..];
                i += 1;
                while let Some(b) = d.next_frame().unwrap() {
                    got.push(b.to_vec());
                }
            }
            prop_assert_eq!(got, bodies);
            if !bytes.is_empty() && bytes.len() >= LEN_BYTES {
                prop_assert_eq!(d.encoding(), Some(if binary { Encoding::Binary } else { Encoding::Json }));
            }
        }
    }
}
