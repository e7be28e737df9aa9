//! What a client asks, and its binary encoding.
//!
//! Every request body is `kind u8 ‖ id u64 ‖ fields`; the answer repeats
//! `id`. Integers are little-endian, `str8` is UTF-8 after a one-byte
//! length, `fields` is the field map of events (`wire::event`), `payload…`
//! runs to the end of the frame.
//!
//! ```text
//! 0x01 start        persistent str8 ‖ name str8        (empty: ephemeral, no name)
//! 0x02 stop         engine[32]
//! 0x03 cast         engine[32] ‖ target ‖ payload…
//! 0x04 call         engine[32] ‖ timeout_ms u32 ‖ target ‖ payload…   (0: the default)
//! 0x05 reply        reply_to u64 ‖ payload…
//! 0x06 subscribe    engine[32] ‖ publisher[32] ‖ topic_prefix str8 ‖ fields
//! 0x07 unsubscribe  sub u64
//! 0x08 publish      engine[32] ‖ topic str8 ‖ fields ‖ payload…
//! 0x09 register     engine[32] ‖ name str8
//! 0x0a unregister   engine[32] ‖ name str8
//! 0x0b whereis      name str8
//! 0x0c monitor      engine[32] ‖ target_engine[32]
//! 0x0d list
//! target:           0x00 ‖ engine[32]  |  0x01 ‖ name str8
//! ```
//!
//! The JSON encoding of the same requests is the daemon's
//! (`docs/actors.md`); both come to a [`Request`].

use crate::filter::{Event, Filter};
use crate::ids::EngineAddr;
use crate::wire::event::{fields_len, read_fields, write_fields};
use crate::wire::{put_str8, Reader, WireError};

/// Where a message goes: an engine, or a registered name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An engine address.
    Addr(EngineAddr),
    /// A name, looked up through the network if this node does not know it.
    Name(String),
}

/// A client's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Start an engine.
    Start {
        /// Keep its key under this label (`None`: ephemeral).
        persistent: Option<String>,
        /// Register it under this name.
        name: Option<String>,
    },
    /// Stop one of the client's engines.
    Stop {
        /// The engine.
        engine: EngineAddr,
    },
    /// Send a one-way message.
    Cast {
        /// The sending engine (the client's).
        engine: EngineAddr,
        /// The receiver.
        to: Target,
        /// The message.
        payload: Vec<u8>,
    },
    /// Call an engine; the answer carries its reply.
    Call {
        /// The calling engine (the client's).
        engine: EngineAddr,
        /// The callee.
        to: Target,
        /// The request.
        payload: Vec<u8>,
        /// How long to wait (`None`: the daemon's default).
        timeout_ms: Option<u32>,
    },
    /// Answer a call delivered to one of the client's engines.
    Reply {
        /// The token the delivery carried.
        reply_to: u64,
        /// The reply.
        payload: Vec<u8>,
    },
    /// Subscribe one of the client's engines to a publisher's events.
    Subscribe {
        /// The subscribing engine.
        engine: EngineAddr,
        /// The publisher.
        publisher: EngineAddr,
        /// Which events.
        filter: Filter,
    },
    /// End a subscription.
    Unsubscribe {
        /// The subscription, as the answer to `Subscribe` named it.
        sub: u64,
    },
    /// Publish an event from one of the client's engines.
    Publish {
        /// The publisher.
        engine: EngineAddr,
        /// The event.
        event: Event,
    },
    /// Register a name for one of the client's engines.
    Register {
        /// The engine.
        engine: EngineAddr,
        /// The name.
        name: String,
    },
    /// Drop a name of one of the client's engines.
    Unregister {
        /// The engine.
        engine: EngineAddr,
        /// The name.
        name: String,
    },
    /// Find the engine owning a name.
    Whereis {
        /// The name.
        name: String,
    },
    /// Watch an engine: one notice when it goes down.
    Monitor {
        /// The watching engine (the client's).
        engine: EngineAddr,
        /// The watched engine.
        target: EngineAddr,
    },
    /// The node's local and foreign engines.
    List,
}

/// The kind byte of each request.
mod kind {
    pub(super) const START: u8 = 0x01;
    pub(super) const STOP: u8 = 0x02;
    pub(super) const CAST: u8 = 0x03;
    pub(super) const CALL: u8 = 0x04;
    pub(super) const REPLY: u8 = 0x05;
    pub(super) const SUBSCRIBE: u8 = 0x06;
    pub(super) const UNSUBSCRIBE: u8 = 0x07;
    pub(super) const PUBLISH: u8 = 0x08;
    pub(super) const REGISTER: u8 = 0x09;
    pub(super) const UNREGISTER: u8 = 0x0a;
    pub(super) const WHEREIS: u8 = 0x0b;
    pub(super) const MONITOR: u8 = 0x0c;
    pub(super) const LIST: u8 = 0x0d;
}

const TARGET_ADDR: u8 = 0;
const TARGET_NAME: u8 = 1;

fn engine(r: &mut Reader<'_>) -> Result<EngineAddr, WireError> {
    Ok(EngineAddr(r.array()?))
}

fn target(r: &mut Reader<'_>) -> Result<Target, WireError> {
    match r.u8()? {
        TARGET_ADDR => Ok(Target::Addr(engine(r)?)),
        TARGET_NAME => Ok(Target::Name(r.str8("target name")?)),
        x => Err(WireError::UnknownType(x)),
    }
}

fn optional(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn target_len(t: &Target) -> usize {
    match t {
        Target::Addr(_) => 33,
        Target::Name(n) => 2 + n.len(),
    }
}

fn put_target(out: &mut Vec<u8>, t: &Target) -> Result<(), WireError> {
    match t {
        Target::Addr(a) => {
            out.push(TARGET_ADDR);
            out.extend_from_slice(&a.0);
        }
        Target::Name(n) => {
            out.push(TARGET_NAME);
            put_str8(out, n, "target name")?;
        }
    }
    Ok(())
}

impl Request {
    /// Reads the id of a request body, if it has one (to answer a body
    /// that does not parse).
    pub fn id_of(body: &[u8]) -> Option<u64> {
        Some(u64::from_le_bytes(body.get(1..9)?.try_into().ok()?))
    }

    /// Parses a request body into its id and the request.
    ///
    /// # Errors
    /// An unknown kind, truncation, bad UTF-8, bad fields or trailing bytes.
    pub fn parse(body: &[u8]) -> Result<(u64, Self), WireError> {
        let mut r = Reader::new(body);
        let k = r.u8()?;
        let id = r.u64()?;
        let req = match k {
            kind::START => Self::Start {
                persistent: optional(r.str8("persistent")?),
                name: optional(r.str8("name")?),
            },
            kind::STOP => Self::Stop {
                engine: engine(&mut r)?,
            },
            kind::CAST => Self::Cast {
                engine: engine(&mut r)?,
                to: target(&mut r)?,
                payload: r.rest().to_vec(),
            },
            kind::CALL => {
                let engine = engine(&mut r)?;
                let timeout_ms = Some(r.u32()?).filter(|&t| t != 0);
                Self::Call {
                    engine,
                    timeout_ms,
                    to: target(&mut r)?,
                    payload: r.rest().to_vec(),
                }
            }
            kind::REPLY => Self::Reply {
                reply_to: r.u64()?,
                payload: r.rest().to_vec(),
            },
            kind::SUBSCRIBE => Self::Subscribe {
                engine: engine(&mut r)?,
                publisher: engine(&mut r)?,
                filter: Filter {
                    topic_prefix: r.str8("topic")?,
                    fields: read_fields(&mut r)?,
                },
            },
            kind::UNSUBSCRIBE => Self::Unsubscribe { sub: r.u64()? },
            kind::PUBLISH => Self::Publish {
                engine: engine(&mut r)?,
                event: Event {
                    topic: r.str8("topic")?,
                    fields: read_fields(&mut r)?,
                    payload: r.rest().to_vec(),
                },
            },
            kind::REGISTER => Self::Register {
                engine: engine(&mut r)?,
                name: r.str8("name")?,
            },
            kind::UNREGISTER => Self::Unregister {
                engine: engine(&mut r)?,
                name: r.str8("name")?,
            },
            kind::WHEREIS => Self::Whereis {
                name: r.str8("name")?,
            },
            kind::MONITOR => Self::Monitor {
                engine: engine(&mut r)?,
                target: engine(&mut r)?,
            },
            kind::LIST => Self::List,
            x => return Err(WireError::UnknownType(x)),
        };
        r.finish()?;
        Ok((id, req))
    }

    /// Bytes [`Self::write`] appends.
    pub fn encoded_len(&self) -> usize {
        9 + match self {
            Self::Start { persistent, name } => {
                2 + persistent.as_ref().map_or(0, String::len)
                    + name.as_ref().map_or(0, String::len)
            }
            Self::Stop { .. } => 32,
            Self::Cast { to, payload, .. } => 32 + target_len(to) + payload.len(),
            Self::Call { to, payload, .. } => 36 + target_len(to) + payload.len(),
            Self::Reply { payload, .. } => 8 + payload.len(),
            Self::Subscribe { filter, .. } => {
                65 + filter.topic_prefix.len() + fields_len(&filter.fields)
            }
            Self::Unsubscribe { .. } => 8,
            Self::Publish { event, .. } => {
                33 + event.topic.len() + fields_len(&event.fields) + event.payload.len()
            }
            Self::Register { name, .. } | Self::Unregister { name, .. } => 33 + name.len(),
            Self::Whereis { name } => 1 + name.len(),
            Self::Monitor { .. } => 64,
            Self::List => 0,
        }
    }

    /// Appends the request body with `id`.
    ///
    /// # Errors
    /// A string over its length limit or too many fields (then `out` may
    /// hold part of the body).
    pub fn write(&self, id: u64, out: &mut Vec<u8>) -> Result<(), WireError> {
        let k = match self {
            Self::Start { .. } => kind::START,
            Self::Stop { .. } => kind::STOP,
            Self::Cast { .. } => kind::CAST,
            Self::Call { .. } => kind::CALL,
            Self::Reply { .. } => kind::REPLY,
            Self::Subscribe { .. } => kind::SUBSCRIBE,
            Self::Unsubscribe { .. } => kind::UNSUBSCRIBE,
            Self::Publish { .. } => kind::PUBLISH,
            Self::Register { .. } => kind::REGISTER,
            Self::Unregister { .. } => kind::UNREGISTER,
            Self::Whereis { .. } => kind::WHEREIS,
            Self::Monitor { .. } => kind::MONITOR,
            Self::List => kind::LIST,
        };
        out.push(k);
        out.extend_from_slice(&id.to_le_bytes());
        match self {
            Self::Start { persistent, name } => {
                put_str8(out, persistent.as_deref().unwrap_or(""), "persistent")?;
                put_str8(out, name.as_deref().unwrap_or(""), "name")?;
            }
            Self::Stop { engine } => out.extend_from_slice(&engine.0),
            Self::Cast {
                engine,
                to,
                payload,
            } => {
                out.extend_from_slice(&engine.0);
                put_target(out, to)?;
                out.extend_from_slice(payload);
            }
            Self::Call {
                engine,
                to,
                payload,
                timeout_ms,
            } => {
                out.extend_from_slice(&engine.0);
                out.extend_from_slice(&timeout_ms.unwrap_or(0).to_le_bytes());
                put_target(out, to)?;
                out.extend_from_slice(payload);
            }
            Self::Reply { reply_to, payload } => {
                out.extend_from_slice(&reply_to.to_le_bytes());
                out.extend_from_slice(payload);
            }
            Self::Subscribe {
                engine,
                publisher,
                filter,
            } => {
                out.extend_from_slice(&engine.0);
                out.extend_from_slice(&publisher.0);
                put_str8(out, &filter.topic_prefix, "topic")?;
                write_fields(out, &filter.fields)?;
            }
            Self::Unsubscribe { sub } => out.extend_from_slice(&sub.to_le_bytes()),
            Self::Publish { engine, event } => {
                out.extend_from_slice(&engine.0);
                put_str8(out, &event.topic, "topic")?;
                write_fields(out, &event.fields)?;
                out.extend_from_slice(&event.payload);
            }
            Self::Register { engine, name } | Self::Unregister { engine, name } => {
                out.extend_from_slice(&engine.0);
                put_str8(out, name, "name")?;
            }
            Self::Whereis { name } => put_str8(out, name, "name")?,
            Self::Monitor { engine, target } => {
                out.extend_from_slice(&engine.0);
                out.extend_from_slice(&target.0);
            }
            Self::List => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn addr() -> impl Strategy<Value = EngineAddr> {
        any::<[u8; 32]>().prop_map(EngineAddr)
    }

    fn text() -> impl Strategy<Value = String> {
        ".{0,20}"
    }

    fn some_text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(".{1,20}")
    }

    fn fields() -> impl Strategy<Value = BTreeMap<String, String>> {
        proptest::collection::btree_map("[a-z]{0,8}", ".{0,12}", 0..4)
    }

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..40)
    }

    fn target() -> impl Strategy<Value = Target> {
        prop_oneof![addr().prop_map(Target::Addr), text().prop_map(Target::Name)]
    }

    fn request() -> impl Strategy<Value = Request> {
        prop_oneof![
            (some_text(), some_text())
                .prop_map(|(persistent, name)| Request::Start { persistent, name }),
            addr().prop_map(|engine| Request::Stop { engine }),
            (addr(), target(), bytes()).prop_map(|(engine, to, payload)| Request::Cast {
                engine,
                to,
                payload
            }),
            (addr(), target(), bytes(), proptest::option::of(1u32..)).prop_map(
                |(engine, to, payload, timeout_ms)| Request::Call {
                    engine,
                    to,
                    payload,
                    timeout_ms
                }
            ),
            (any::<u64>(), bytes())
                .prop_map(|(reply_to, payload)| Request::Reply { reply_to, payload }),
            (addr(), addr(), text(), fields()).prop_map(|(engine, publisher, t, f)| {
                Request::Subscribe {
                    engine,
                    publisher,
                    filter: Filter {
                        topic_prefix: t,
                        fields: f,
                    },
                }
            }),
            any::<u64>().prop_map(|sub| Request::Unsubscribe { sub }),
            (addr(), text(), fields(), bytes()).prop_map(|(engine, topic, fields, payload)| {
                Request::Publish {
                    engine,
                    event: Event {
                        topic,
                        fields,
                        payload,
                    },
                }
            }),
            (addr(), text()).prop_map(|(engine, name)| Request::Register { engine, name }),
            (addr(), text()).prop_map(|(engine, name)| Request::Unregister { engine, name }),
            text().prop_map(|name| Request::Whereis { name }),
            (addr(), addr()).prop_map(|(engine, target)| Request::Monitor { engine, target }),
            Just(Request::List),
        ]
    }

    #[test]
    fn layout() {
        let call = Request::Call {
            engine: EngineAddr([0xee; 32]),
            to: Target::Name("ab".into()),
            payload: b"hi".to_vec(),
            timeout_ms: Some(0x0102),
        };
        let mut out = vec![0xa5];
        call.write(0x0807, &mut out).unwrap();
        let mut want = vec![0xa5, 0x04, 7, 8, 0, 0, 0, 0, 0, 0];
        want.extend([0xee; 32]);
        want.extend([2, 1, 0, 0, 1, 2, b'a', b'b', b'h', b'i']);
        assert_eq!(out, want);
        assert_eq!(Request::id_of(&out[1..]), Some(0x0807));
        assert_eq!(Request::parse(&out[1..]), Ok((0x0807, call)));
    }

    #[test]
    fn zero_timeout_and_empty_strings_mean_the_defaults() {
        let mut out = vec![0x04, 1, 0, 0, 0, 0, 0, 0, 0];
        out.extend([0; 32]);
        out.extend([0, 0, 0, 0, 0]);
        out.extend([1; 32]);
        let (_, r) = Request::parse(&out).unwrap();
        assert!(matches!(
            r,
            Request::Call {
                timeout_ms: None,
                ..
            }
        ));
        let (_, r) = Request::parse(&[0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(
            r,
            Request::Start {
                persistent: None,
                name: None
            }
        );
    }

    proptest! {
        #[test]
        fn round_trip(req in request(), id in any::<u64>()) {
            let mut out = Vec::new();
            req.write(id, &mut out).unwrap();
            prop_assert_eq!(req.encoded_len(), out.len());
            prop_assert_eq!(Request::parse(&out), Ok((id, req)));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..120)) {
            if let Ok((id, req)) = Request::parse(&b) {
                let mut again = Vec::new();
                req.write(id, &mut again).unwrap();
                // One encoding per request, but for what the defaults hide.
                prop_assert_eq!(Request::parse(&again), Ok((id, req)));
            }
        }
    }
}
