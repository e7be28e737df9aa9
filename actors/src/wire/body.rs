//! The authenticated body of a message: a kind byte and the kind's format.
//!
//! ```text
//! | kind u8 | ... |
//! 0 cast         payload ...
//! 1 call request see super::call
//! 2 call reply   see super::call
//! 3 subscribe    see super::subscribe
//! 4 unsubscribe  see super::subscribe
//! 5 event        see super::event
//! ```

use super::call::{CallRequest, CallResponse};
use super::subscribe::{Subscribe, Unsubscribe};
use super::{event, Reader, WireError};
use crate::filter::Event;

/// A parsed message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A one-way message.
    Cast(Vec<u8>),
    /// A call request.
    Request(CallRequest),
    /// A call response.
    Response(CallResponse),
    /// A subscription request.
    Subscribe(Subscribe),
    /// The end of a subscription.
    Unsubscribe(Unsubscribe),
    /// An event that passed the subscriber's filter.
    Event(Event),
}

impl Body {
    /// Parses a body.
    ///
    /// # Errors
    /// An empty body, an unknown kind, or the kind's own errors.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(b);
        let kind = r.u8()?;
        let rest = r.rest();
        Ok(match kind {
            0 => Self::Cast(rest.to_vec()),
            1 => Self::Request(CallRequest::parse(rest)?),
            2 => Self::Response(CallResponse::parse(rest)?),
            3 => Self::Subscribe(Subscribe::parse(rest)?),
            4 => Self::Unsubscribe(Unsubscribe::parse(rest)?),
            5 => Self::Event(event::parse(rest)?),
            x => return Err(WireError::UnknownType(x)),
        })
    }

    /// Bytes [`Self::write`] appends.
    pub fn encoded_len(&self) -> usize {
        1 + match self {
            Self::Cast(p) => p.len(),
            Self::Request(v) => v.encoded_len(),
            Self::Response(v) => v.encoded_len(),
            Self::Subscribe(v) => v.encoded_len(),
            Self::Unsubscribe(v) => v.encoded_len(),
            Self::Event(e) => event::encoded_len(e),
        }
    }

    /// Appends the body.
    ///
    /// # Errors
    /// Strings or field maps too long for their formats.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        match self {
            Self::Cast(p) => {
                out.push(0);
                out.extend_from_slice(p);
            }
            Self::Request(v) => {
                out.push(1);
                v.write(out);
            }
            Self::Response(v) => {
                out.push(2);
                v.write(out);
            }
            Self::Subscribe(v) => {
                out.push(3);
                v.write(out)?;
            }
            Self::Unsubscribe(v) => {
                out.push(4);
                v.write(out);
            }
            Self::Event(e) => {
                out.push(5);
                event::write(out, e)?;
            }
        }
        Ok(())
    }

    /// The body as bytes.
    ///
    /// # Errors
    /// As [`Self::write`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.write(&mut v)?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::strategies;
    use crate::wire::call::Status;
    use proptest::prelude::*;

    fn arb() -> impl Strategy<Value = Body> {
        let bytes = || proptest::collection::vec(any::<u8>(), 0..50);
        prop_oneof![
            bytes().prop_map(Body::Cast),
            (any::<u64>(), any::<u32>(), bytes()).prop_map(|(corr, timeout_ms, payload)| {
                Body::Request(CallRequest {
                    corr,
                    timeout_ms,
                    payload,
                })
            }),
            (any::<u64>(), 0u8..5, bytes()).prop_map(|(corr, s, payload)| {
                Body::Response(CallResponse {
                    corr,
                    status: Status::from_u8(s).unwrap(),
                    payload,
                })
            }),
            (any::<u64>(), strategies::filter())
                .prop_map(|(id, filter)| Body::Subscribe(Subscribe { id, filter })),
            any::<u64>().prop_map(|id| Body::Unsubscribe(Unsubscribe { id })),
            strategies::event().prop_map(Body::Event),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(v in arb()) {
            let b = v.to_bytes().unwrap();
            prop_assert_eq!(v.encoded_len(), b.len());
            prop_assert_eq!(Body::parse(&b), Ok(v));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = Body::parse(&b);
        }
    }

    #[test]
    fn unknown_kind() {
        assert_eq!(Body::parse(&[9]), Err(WireError::UnknownType(9)));
        assert!(Body::parse(&[]).is_err());
    }
}
