//! Datagrams over a byte stream (the TCP transport): each datagram is sent as
//! a frame, a 2-byte big-endian length followed by that many bytes.
//!
//! ```text
//! 0            2
//! | length u16 | datagram (length bytes, 1..=65535) |
//! ```
//! The length is big-endian (network order), unlike the datagrams' own
//! fields. A length of zero is invalid: no datagram is empty, and a stream
//! that sends one is not speaking this protocol. [`Decoder`] cuts frames out
//! of the bytes as they arrive, whatever the read sizes.

use super::WireError;

/// Bytes of the frame header.
pub const HEADER_LEN: usize = 2;
/// Longest datagram a frame carries.
pub const MAX_PAYLOAD: usize = u16::MAX as usize;

/// A view over a frame header.
#[derive(Debug, Clone, Copy)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Checks the length (at least [`HEADER_LEN`] bytes; extra bytes are the
    /// payload's) and that the announced length is not zero; the only
    /// constructor for untrusted input.
    ///
    /// # Errors
    /// Returns an error if the buffer is too short or announces an empty
    /// datagram.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        super::need(buffer.as_ref(), HEADER_LEN)?;
        let h = Self { buffer };
        if h.payload_len() == 0 {
            return Err(WireError::InvalidField("length"));
        }
        Ok(h)
    }

    /// Bytes of the datagram that follows.
    pub fn payload_len(&self) -> usize {
        let b = self.buffer.as_ref();
        usize::from(u16::from_be_bytes([b[0], b[1]]))
    }
}

/// Appends the header of a frame carrying `payload_len` bytes.
///
/// # Errors
/// Returns an error (and appends nothing) if `payload_len` is zero or above
/// [`MAX_PAYLOAD`].
pub fn emit_header(payload_len: usize, out: &mut Vec<u8>) -> Result<(), WireError> {
    match u16::try_from(payload_len) {
        Ok(n) if n > 0 => {
            out.extend_from_slice(&n.to_be_bytes());
            Ok(())
        }
        _ => Err(WireError::InvalidField("length")),
    }
}

/// Cuts frames out of a byte stream. Bytes go in with [`Decoder::push`];
/// whole datagrams come out of [`Decoder::next_frame`]. It holds at most one
/// frame plus the bytes of the last push.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Start of the bytes not yet consumed.
    read: usize,
}

impl Decoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.read > 0 && self.read == self.buf.len() {
            self.buf.clear();
            self.read = 0;
        } else if self.read > self.buf.len() / 2 {
            self.buf.drain(..self.read);
            self.read = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole datagram, or `None` until more bytes arrive.
    ///
    /// # Errors
    /// Returns an error if the next header announces an empty datagram; the
    /// stream is then unusable (it cannot be resynchronised).
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, WireError> {
        let rest = &self.buf[self.read..];
        if rest.len() < HEADER_LEN {
            return Ok(None);
        }
        let len = Header::new_checked(rest)?.payload_len();
        if rest.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let start = self.read + HEADER_LEN;
        self.read = start + len;
        Ok(Some(&self.buf[start..start + len]))
    }

    /// Bytes received but not yet returned as a datagram.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.read
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout() {
        assert_eq!(
            crate::wire::try_to_vec(|o| emit_header(1, o)).unwrap(),
            [0, 1]
        );
        assert_eq!(
            crate::wire::try_to_vec(|o| emit_header(0x1234, o)).unwrap(),
            [0x12, 0x34]
        );
        assert_eq!(
            crate::wire::try_to_vec(|o| emit_header(65_535, o)).unwrap(),
            [0xff, 0xff]
        );
        let h = Header::new_checked(&[0x05, 0xdc, 9][..]).unwrap();
        assert_eq!(h.payload_len(), 1500);
    }

    #[test]
    fn rejects_empty_and_oversized_frames() {
        assert_eq!(
            crate::wire::try_to_vec(|o| emit_header(0, o)).unwrap_err(),
            WireError::InvalidField("length")
        );
        assert_eq!(
            crate::wire::try_to_vec(|o| emit_header(65_536, o)).unwrap_err(),
            WireError::InvalidField("length")
        );
        assert_eq!(
            Header::new_checked(&[0u8, 0][..]).unwrap_err(),
            WireError::InvalidField("length")
        );
        assert_eq!(
            Header::new_checked(&[7u8][..]).unwrap_err(),
            WireError::Truncated { len: 1, need: 2 }
        );
        let mut d = Decoder::new();
        d.push(&[0, 1, 42, 0, 0, 0, 3]);
        assert_eq!(d.next_frame().unwrap(), Some(&[42u8][..]));
        assert_eq!(d.next_frame(), Err(WireError::InvalidField("length")));
    }

    #[test]
    fn waits_for_whole_frames() {
        let mut d = Decoder::new();
        d.push(&[0]);
        assert_eq!(d.next_frame().unwrap(), None);
        d.push(&[3, 1, 2]);
        assert_eq!(d.next_frame().unwrap(), None);
        assert_eq!(d.pending(), 4);
        d.push(&[3, 0]);
        assert_eq!(d.next_frame().unwrap(), Some(&[1u8, 2, 3][..]));
        assert_eq!(d.next_frame().unwrap(), None);
        d.push(&[2, 7]);
        assert_eq!(d.next_frame().unwrap(), None);
        assert_eq!(d.pending(), 3);
    }

    fn frames(datagrams: &[Vec<u8>]) -> Vec<u8> {
        let mut s = Vec::new();
        for d in datagrams {
            s.extend_from_slice(&crate::wire::try_to_vec(|o| emit_header(d.len(), o)).unwrap());
            s.extend_from_slice(d);
        }
        s
    }

    proptest! {
        /// Any datagrams, framed and cut into any read sizes, come out whole
        /// and in order, and the decoder never holds more than one frame
        /// plus one read.
        #[test]
        fn round_trip_any_split(
            datagrams in proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 1..2000), 0..20),
            cuts in proptest::collection::vec(1usize..3000, 1..40),
        ) {
            let stream = frames(&datagrams);
            let mut d = Decoder::new();
            let mut got = Vec::new();
            let mut at = 0;
            let mut k = 0;
            while at < stream.len() {
                let n = cuts[k % cuts.len()].min(stream.len() - at);
                k += 1;
                d.push(&stream[at..at + n]);
                at += n;
                while let Some(f) = d.next_frame().unwrap() {
                    got.push(f.to_vec());
                }
                prop_assert!(d.pending() < HEADER_LEN + MAX_PAYLOAD + 3000);
            }
            prop_assert_eq!(got, datagrams);
            prop_assert_eq!(d.pending(), 0);
        }

        /// Arbitrary bytes never panic, and every frame returned lies within
        /// what was pushed.
        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4000)) {
            let mut d = Decoder::new();
            d.push(&bytes);
            let mut taken = 0;
            while let Ok(Some(f)) = d.next_frame() {
                prop_assert!(!f.is_empty());
                taken += HEADER_LEN + f.len();
            }
            prop_assert!(taken <= bytes.len());
        }
    }
}
