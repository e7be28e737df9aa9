//! Call request and response bodies, correlated by a number the caller's
//! node chooses.
//!
//! ```text
//! request:  | corr u64 | timeout_ms u32 | payload ... |
//! response: | corr u64 | status u8 | payload ... |
//! ```
//!
//! `timeout_ms` tells the callee's node how long to hold the call open;
//! `status` is a [`Status`].

use super::{Reader, WireError};

/// A call request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRequest {
    /// Correlation number, unique per caller node.
    pub corr: u64,
    /// How long the caller waits.
    pub timeout_ms: u32,
    /// The request.
    pub payload: Vec<u8>,
}

/// How a call ended at the callee's node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// The engine answered; the payload is its reply.
    Ok = 0,
    /// No such engine on that node.
    NoSuchEngine = 1,
    /// The engine's mailbox was full.
    MailboxFull = 2,
    /// The callee's node holds too many calls from the caller's node.
    Busy = 3,
    /// The engine stopped before answering.
    Stopped = 4,
}

impl Status {
    /// Decodes a status byte.
    ///
    /// # Errors
    /// [`WireError::UnknownType`] for other values.
    pub fn from_u8(b: u8) -> Result<Self, WireError> {
        Ok(match b {
            0 => Self::Ok,
            1 => Self::NoSuchEngine,
            2 => Self::MailboxFull,
            3 => Self::Busy,
            4 => Self::Stopped,
            x => return Err(WireError::UnknownType(x)),
        })
    }
}

/// A call response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallResponse {
    /// The request's correlation number.
    pub corr: u64,
    /// How the call ended.
    pub status: Status,
    /// The reply when `status` is [`Status::Ok`], else empty.
    pub payload: Vec<u8>,
}

impl CallRequest {
    /// Parses a request body.
    ///
    /// # Errors
    /// Truncated input.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(b);
        Ok(Self {
            corr: r.u64()?,
            timeout_ms: r.u32()?,
            payload: r.rest().to_vec(),
        })
    }

    /// Bytes [`Self::write`] appends.
    pub fn encoded_len(&self) -> usize {
        12 + self.payload.len()
    }

    /// Appends the body.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.corr.to_le_bytes());
        out.extend_from_slice(&self.timeout_ms.to_le_bytes());
        out.extend_from_slice(&self.payload);
    }
}

impl CallResponse {
    /// Parses a response body.
    ///
    /// # Errors
    /// Truncated input or an unknown status.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(b);
        Ok(Self {
            corr: r.u64()?,
            status: Status::from_u8(r.u8()?)?,
            payload: r.rest().to_vec(),
        })
    }

    /// Bytes [`Self::write`] appends.
    pub fn encoded_len(&self) -> usize {
        9 + self.payload.len()
    }

    /// Appends the body.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.corr.to_le_bytes());
        out.push(self.status as u8);
        out.extend_from_slice(&self.payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn status() -> impl Strategy<Value = Status> {
        (0u8..5).prop_map(|b| Status::from_u8(b).unwrap())
    }

    proptest! {
        #[test]
        fn request_round_trip(corr in any::<u64>(), timeout_ms in any::<u32>(), payload in proptest::collection::vec(any::<u8>(), 0..100)) {
            let v = CallRequest { corr, timeout_ms, payload };
            let mut b = Vec::new();
            v.write(&mut b);
            prop_assert_eq!(v.encoded_len(), b.len());
            prop_assert_eq!(CallRequest::parse(&b), Ok(v));
        }

        #[test]
        fn response_round_trip(corr in any::<u64>(), status in status(), payload in proptest::collection::vec(any::<u8>(), 0..100)) {
            let v = CallResponse { corr, status, payload };
            let mut b = Vec::new();
            v.write(&mut b);
            prop_assert_eq!(v.encoded_len(), b.len());
            prop_assert_eq!(CallResponse::parse(&b), Ok(v));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(CallRequest::parse(&b).is_ok(), b.len() >= 12);
            let r = CallResponse::parse(&b);
            prop_assert!(r.is_ok() == (b.len() >= 9 && b[8] < 5));
        }
    }
}
