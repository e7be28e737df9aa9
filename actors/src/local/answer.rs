//! What the daemon sends a client, and its binary encoding: answers to
//! requests, and pushed deliveries and notices for the client's engines.
//!
//! Answers are `kind u8 ‖ id u64 ‖ fields` (the request's `id`); pushes
//! are `kind u8 ‖ engine[32] ‖ fields` (the client's engine they are for).
//! Layouts as in [`super::request`]:
//!
//! ```text
//! 0x41 started       engine[32] ‖ name_error str16     (empty unless a name was refused)
//! 0x42 done                                          (stop, register, unregister)
//! 0x43 replied       payload…                        (a call's reply)
//! 0x44 subscribed    sub u64
//! 0x45 unsubscribed  removed u8
//! 0x46 published     sent u64                        (subscribers it went to)
//! 0x47 found         engine[32]                      (whereis)
//! 0x48 monitoring    monitor u64
//! 0x49 listed        json…                           (as `tessel engine list --json`)
//! 0x4f refused       error…                          (UTF-8)
//! 0x81 cast          engine[32] ‖ from[32] ‖ payload…
//! 0x82 call          engine[32] ‖ from[32] ‖ reply_to u64 ‖ payload…
//! 0x83 event         engine[32] ‖ from[32] ‖ topic str8 ‖ fields ‖ payload…
//! 0x84 down          engine[32] ‖ monitor u64 ‖ target[32] ‖ reason u8
//! 0x85 name_lost     engine[32] ‖ name str8 ‖ winner[32]
//! ```
//!
//! `reason` is 0 stopped, 1 forgotten, 2 expired, 3 unreachable, 4 no such
//! engine. In the binary encoding `cast` and `reply` are answered only when
//! refused.

use crate::filter::Event;
use crate::ids::EngineAddr;
use crate::output::DownReason;
use crate::wire::event::{fields_len, read_fields, write_fields};
use crate::wire::{put_str16, put_str8, Reader, WireError};

/// The answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An engine started.
    Started {
        /// Its address.
        engine: EngineAddr,
        /// Why the name asked for was not registered, if it was not.
        name_error: Option<String>,
    },
    /// Done, nothing to report.
    Done,
    /// A call's reply.
    Replied {
        /// The callee's answer.
        payload: Vec<u8>,
    },
    /// A subscription was made.
    Subscribed {
        /// It, for `unsubscribe`.
        sub: u64,
    },
    /// The answer to `unsubscribe`.
    Unsubscribed {
        /// Whether there was such a subscription.
        removed: bool,
    },
    /// An event was published.
    Published {
        /// Subscribers it went to.
        sent: u64,
    },
    /// The engine owning a name.
    Found {
        /// The owner.
        engine: EngineAddr,
    },
    /// A monitor was set.
    Monitoring {
        /// It, as named in its `down` notice.
        monitor: u64,
    },
    /// The node's engines, as `tessel engine list --json` prints them.
    Listed {
        /// The JSON text.
        json: String,
    },
    /// The request failed or was refused.
    Refused {
        /// Why.
        error: String,
    },
}

/// A delivery or notice for one of the client's engines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    /// A one-way message.
    Cast {
        /// The receiving engine.
        engine: EngineAddr,
        /// The sender.
        from: EngineAddr,
        /// The message.
        payload: Vec<u8>,
    },
    /// A call to answer with a `reply` naming `reply_to`.
    Call {
        /// The called engine.
        engine: EngineAddr,
        /// The caller.
        from: EngineAddr,
        /// The token for the reply.
        reply_to: u64,
        /// The request.
        payload: Vec<u8>,
    },
    /// An event from a publisher the engine subscribed to.
    Event {
        /// The subscriber.
        engine: EngineAddr,
        /// The publisher.
        from: EngineAddr,
        /// The event.
        event: Event,
    },
    /// A monitored engine went down.
    Down {
        /// The watching engine.
        engine: EngineAddr,
        /// The monitor.
        monitor: u64,
        /// The engine that went down.
        target: EngineAddr,
        /// Why.
        reason: DownReason,
    },
    /// The engine lost a name to another engine.
    NameLost {
        /// The loser.
        engine: EngineAddr,
        /// The name.
        name: String,
        /// The owner now.
        winner: EngineAddr,
    },
}

/// A frame from the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToClient {
    /// The answer to the request `id`.
    Answer {
        /// The request's id.
        id: u64,
        /// The answer.
        answer: Answer,
    },
    /// A delivery or notice.
    Push(Push),
}

/// The kind byte of each frame.
mod kind {
    pub(super) const STARTED: u8 = 0x41;
    pub(super) const DONE: u8 = 0x42;
    pub(super) const REPLIED: u8 = 0x43;
    pub(super) const SUBSCRIBED: u8 = 0x44;
    pub(super) const UNSUBSCRIBED: u8 = 0x45;
    pub(super) const PUBLISHED: u8 = 0x46;
    pub(super) const FOUND: u8 = 0x47;
    pub(super) const MONITORING: u8 = 0x48;
    pub(super) const LISTED: u8 = 0x49;
    pub(super) const REFUSED: u8 = 0x4f;
    pub(super) const CAST: u8 = 0x81;
    pub(super) const CALL: u8 = 0x82;
    pub(super) const EVENT: u8 = 0x83;
    pub(super) const DOWN: u8 = 0x84;
    pub(super) const NAME_LOST: u8 = 0x85;
}

/// The byte of a [`DownReason`].
fn reason_byte(r: DownReason) -> u8 {
    match r {
        DownReason::Stopped => 0,
        DownReason::Forgotten => 1,
        DownReason::Expired => 2,
        DownReason::Unreachable => 3,
        DownReason::NoSuchEngine => 4,
    }
}

fn reason(b: u8) -> Result<DownReason, WireError> {
    Ok(match b {
        0 => DownReason::Stopped,
        1 => DownReason::Forgotten,
        2 => DownReason::Expired,
        3 => DownReason::Unreachable,
        4 => DownReason::NoSuchEngine,
        x => return Err(WireError::UnknownType(x)),
    })
}

fn engine(r: &mut Reader<'_>) -> Result<EngineAddr, WireError> {
    Ok(EngineAddr(r.array()?))
}

fn utf8(b: &[u8], field: &'static str) -> Result<String, WireError> {
    String::from_utf8(b.to_vec()).map_err(|_| WireError::InvalidField(field))
}

impl ToClient {
    /// Parses a frame body.
    ///
    /// # Errors
    /// An unknown kind, truncation, bad UTF-8, bad fields or trailing bytes.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let k = r.u8()?;
        if k & 0x80 == 0 {
            let id = r.u64()?;
            let answer = match k {
                kind::STARTED => Answer::Started {
                    engine: engine(&mut r)?,
                    name_error: Some(r.str16("name error")?).filter(|e| !e.is_empty()),
                },
                kind::DONE => Answer::Done,
                kind::REPLIED => Answer::Replied {
                    payload: r.rest().to_vec(),
                },
                kind::SUBSCRIBED => Answer::Subscribed { sub: r.u64()? },
                kind::UNSUBSCRIBED => Answer::Unsubscribed {
                    removed: match r.u8()? {
                        0 => false,
                        1 => true,
                        _ => return Err(WireError::InvalidField("removed")),
                    },
                },
                kind::PUBLISHED => Answer::Published { sent: r.u64()? },
                kind::FOUND => Answer::Found {
                    engine: engine(&mut r)?,
                },
                kind::MONITORING => Answer::Monitoring { monitor: r.u64()? },
                kind::LISTED => Answer::Listed {
                    json: utf8(r.rest(), "json")?,
                },
                kind::REFUSED => Answer::Refused {
                    error: utf8(r.rest(), "error")?,
                },
                x => return Err(WireError::UnknownType(x)),
            };
            r.finish()?;
            return Ok(Self::Answer { id, answer });
        }
        let engine_addr = engine(&mut r)?;
        let push = match k {
            kind::CAST => Push::Cast {
                engine: engine_addr,
                from: engine(&mut r)?,
                payload: r.rest().to_vec(),
            },
            kind::CALL => Push::Call {
                engine: engine_addr,
                from: engine(&mut r)?,
                reply_to: r.u64()?,
                payload: r.rest().to_vec(),
            },
            kind::EVENT => Push::Event {
                engine: engine_addr,
                from: engine(&mut r)?,
                event: Event {
                    topic: r.str8("topic")?,
                    fields: read_fields(&mut r)?,
                    payload: r.rest().to_vec(),
                },
            },
            kind::DOWN => Push::Down {
                engine: engine_addr,
                monitor: r.u64()?,
                target: engine(&mut r)?,
                reason: reason(r.u8()?)?,
            },
            kind::NAME_LOST => Push::NameLost {
                engine: engine_addr,
                name: r.str8("name")?,
                winner: engine(&mut r)?,
            },
            x => return Err(WireError::UnknownType(x)),
        };
        r.finish()?;
        Ok(Self::Push(push))
    }

    /// Bytes [`Self::write`] appends.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Answer { answer, .. } => answer.encoded_len(),
            Self::Push(p) => p.encoded_len(),
        }
    }

    /// Appends the frame body.
    ///
    /// # Errors
    /// A string over its length limit or too many fields (then `out` may
    /// hold part of the body).
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        match self {
            Self::Answer { id, answer } => answer.write(*id, out),
            Self::Push(p) => p.write(out),
        }
    }
}

impl Answer {
    /// Bytes [`Self::write`] appends.
    pub fn encoded_len(&self) -> usize {
        9 + match self {
            Self::Started { name_error, .. } => 34 + name_error.as_ref().map_or(0, String::len),
            Self::Done => 0,
            Self::Replied { payload } => payload.len(),
            Self::Subscribed { .. } | Self::Published { .. } | Self::Monitoring { .. } => 8,
            Self::Unsubscribed { .. } => 1,
            Self::Found { .. } => 32,
            Self::Listed { json } => json.len(),
            Self::Refused { error } => error.len(),
        }
    }

    /// Appends the answer to the request `id`.
    ///
    /// # Errors
    /// A name error over 65,535 bytes.
    pub fn write(&self, id: u64, out: &mut Vec<u8>) -> Result<(), WireError> {
        let k = match self {
            Self::Started { .. } => kind::STARTED,
            Self::Done => kind::DONE,
            Self::Replied { .. } => kind::REPLIED,
            Self::Subscribed { .. } => kind::SUBSCRIBED,
            Self::Unsubscribed { .. } => kind::UNSUBSCRIBED,
            Self::Published { .. } => kind::PUBLISHED,
            Self::Found { .. } => kind::FOUND,
            Self::Monitoring { .. } => kind::MONITORING,
            Self::Listed { .. } => kind::LISTED,
            Self::Refused { .. } => kind::REFUSED,
        };
        out.push(k);
        out.extend_from_slice(&id.to_le_bytes());
        match self {
            Self::Started { engine, name_error } => {
                out.extend_from_slice(&engine.0);
                put_str16(out, name_error.as_deref().unwrap_or(""), "name error")?;
            }
            Self::Done => {}
            Self::Replied { payload } => out.extend_from_slice(payload),
            Self::Subscribed { sub: n }
            | Self::Published { sent: n }
            | Self::Monitoring { monitor: n } => {
                out.extend_from_slice(&n.to_le_bytes());
            }
            Self::Unsubscribed { removed } => out.push(u8::from(*removed)),
            Self::Found { engine } => out.extend_from_slice(&engine.0),
            Self::Listed { json: text } | Self::Refused { error: text } => {
                out.extend_from_slice(text.as_bytes());
            }
        }
        Ok(())
    }
}

impl Push {
    /// Bytes [`Self::write`] appends.
    pub fn encoded_len(&self) -> usize {
        33 + match self {
            Self::Cast { payload, .. } => 32 + payload.len(),
            Self::Call { payload, .. } => 40 + payload.len(),
            Self::Event { event, .. } => {
                33 + event.topic.len() + fields_len(&event.fields) + event.payload.len()
            }
            Self::Down { .. } => 41,
            Self::NameLost { name, .. } => 33 + name.len(),
        }
    }

    /// Appends the pushed frame.
    ///
    /// # Errors
    /// A topic or name over 255 bytes, or too many fields.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        match self {
            Self::Cast {
                engine,
                from,
                payload,
            } => {
                out.push(kind::CAST);
                out.extend_from_slice(&engine.0);
                out.extend_from_slice(&from.0);
                out.extend_from_slice(payload);
            }
            Self::Call {
                engine,
                from,
                reply_to,
                payload,
            } => {
                out.push(kind::CALL);
                out.extend_from_slice(&engine.0);
                out.extend_from_slice(&from.0);
                out.extend_from_slice(&reply_to.to_le_bytes());
                out.extend_from_slice(payload);
            }
            Self::Event {
                engine,
                from,
                event,
            } => {
                out.push(kind::EVENT);
                out.extend_from_slice(&engine.0);
                out.extend_from_slice(&from.0);
                put_str8(out, &event.topic, "topic")?;
                write_fields(out, &event.fields)?;
                out.extend_from_slice(&event.payload);
            }
            Self::Down {
                engine,
                monitor,
                target,
                reason,
            } => {
                out.push(kind::DOWN);
                out.extend_from_slice(&engine.0);
                out.extend_from_slice(&monitor.to_le_bytes());
                out.extend_from_slice(&target.0);
                out.push(reason_byte(*reason));
            }
            Self::NameLost {
                engine,
                name,
                winner,
            } => {
                out.push(kind::NAME_LOST);
                out.extend_from_slice(&engine.0);
                put_str8(out, name, "name")?;
                out.extend_from_slice(&winner.0);
            }
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

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..40)
    }

    fn fields() -> impl Strategy<Value = BTreeMap<String, String>> {
        proptest::collection::btree_map("[a-z]{0,8}", ".{0,12}", 0..4)
    }

    fn answer() -> impl Strategy<Value = Answer> {
        prop_oneof![
            (addr(), proptest::option::of(".{1,20}"))
                .prop_map(|(engine, name_error)| Answer::Started { engine, name_error }),
            Just(Answer::Done),
            bytes().prop_map(|payload| Answer::Replied { payload }),
            any::<u64>().prop_map(|sub| Answer::Subscribed { sub }),
            any::<bool>().prop_map(|removed| Answer::Unsubscribed { removed }),
            any::<u64>().prop_map(|sent| Answer::Published { sent }),
            addr().prop_map(|engine| Answer::Found { engine }),
            any::<u64>().prop_map(|monitor| Answer::Monitoring { monitor }),
            ".{0,30}".prop_map(|json| Answer::Listed { json }),
            ".{0,30}".prop_map(|error| Answer::Refused { error }),
        ]
    }

    fn push() -> impl Strategy<Value = Push> {
        let reason = (0u8..5).prop_map(|b| reason(b).unwrap());
        prop_oneof![
            (addr(), addr(), bytes()).prop_map(|(engine, from, payload)| Push::Cast {
                engine,
                from,
                payload
            }),
            (addr(), addr(), any::<u64>(), bytes()).prop_map(
                |(engine, from, reply_to, payload)| Push::Call {
                    engine,
                    from,
                    reply_to,
                    payload
                }
            ),
            (addr(), addr(), ".{0,20}", fields(), bytes()).prop_map(
                |(engine, from, topic, fields, payload)| Push::Event {
                    engine,
                    from,
                    event: Event {
                        topic,
                        fields,
                        payload
                    }
                }
            ),
            (addr(), any::<u64>(), addr(), reason).prop_map(|(engine, monitor, target, reason)| {
                Push::Down {
                    engine,
                    monitor,
                    target,
                    reason,
                }
            }),
            (addr(), ".{0,20}", addr()).prop_map(|(engine, name, winner)| Push::NameLost {
                engine,
                name,
                winner
            }),
        ]
    }

    fn frame() -> impl Strategy<Value = ToClient> {
        prop_oneof![
            (any::<u64>(), answer()).prop_map(|(id, answer)| ToClient::Answer { id, answer }),
            push().prop_map(ToClient::Push),
        ]
    }

    #[test]
    fn layout() {
        let f = ToClient::Push(Push::Call {
            engine: EngineAddr([1; 32]),
            from: EngineAddr([2; 32]),
            reply_to: 0x0304,
            payload: b"p".to_vec(),
        });
        let mut out = vec![0xa5];
        f.write(&mut out).unwrap();
        let mut want = vec![0xa5, 0x82];
        want.extend([1; 32]);
        want.extend([2; 32]);
        want.extend([4, 3, 0, 0, 0, 0, 0, 0, b'p']);
        assert_eq!(out, want);
        let f = ToClient::Answer {
            id: 9,
            answer: Answer::Replied {
                payload: b"ok".to_vec(),
            },
        };
        let mut out = Vec::new();
        f.write(&mut out).unwrap();
        assert_eq!(out, [0x43, 9, 0, 0, 0, 0, 0, 0, 0, b'o', b'k']);
    }

    proptest! {
        #[test]
        fn round_trip(f in frame()) {
            let mut out = Vec::new();
            f.write(&mut out).unwrap();
            prop_assert_eq!(f.encoded_len(), out.len());
            prop_assert_eq!(ToClient::parse(&out), Ok(f));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..120)) {
            if let Ok(f) = ToClient::parse(&b) {
                let mut again = Vec::new();
                f.write(&mut again).unwrap();
                prop_assert_eq!(ToClient::parse(&again), Ok(f));
            }
        }
    }
}
