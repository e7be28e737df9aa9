//! Query and answer messages.
//!
//! ```text
//! query    | kind u8 (1 all, 2 closest) | ceiling u8 | scope str8 | service str8 |
//!          | cred u8 (0 none, 1 read cap, 2 read grant, 3 hosting grant) | [len u16 | record] |
//! answer   | 1 | cache_ms u32 | count u8 | (len u16 | registration record)* |
//!          | 2 | scope str8 | ceiling u8 | cache_ms u32 | count u8 | runtime [32]* |
//!          | 3 |                       (denied, or no such scope)
//!          | 4 |                       (no runtime known to ask next)
//! ```
//!
//! `ceiling` bounds a closest query: only scopes at most that many segments
//! deep are considered (255: no bound). A redirect names the scope its
//! runtimes hold and the ceiling to ask them with. A query is at most
//! [`MAX_QUERY`] bytes, an answer at most [`MAX_ANSWER`] bytes,
//! [`MAX_ENTRIES`] registrations and [`MAX_TARGETS`] redirect targets;
//! larger ones are refused by the parser and never written.

use super::authority::Credential;
use super::path::ScopePath;
use super::record::{check_service, put_path, read_path, Body, Kind, Record};
use crate::ids::NodeId;
use crate::wire::{put_str8, Reader, WireError};

/// Longest query in bytes.
pub const MAX_QUERY: usize = 1024;
/// Longest answer in bytes.
pub const MAX_ANSWER: usize = 16 * 1024;
/// Most registrations in one answer.
pub const MAX_ENTRIES: usize = 64;
/// Most runtimes in one redirect.
pub const MAX_TARGETS: usize = 16;
/// The ceiling that bounds nothing.
pub const NO_CEILING: u8 = u8::MAX;

/// The two queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QueryKind {
    /// Every runtime directly in the scope hosting the service.
    All,
    /// Runtimes hosting the service in the scope or else its nearest
    /// ancestor that has any.
    Closest,
}

/// A query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Which query.
    pub kind: QueryKind,
    /// Deepest depth a closest query considers ([`NO_CEILING`] for all).
    pub ceiling: u8,
    /// The scope asked about.
    pub scope: ScopePath,
    /// The service asked about.
    pub service: String,
    /// The querier's credential.
    pub cred: Credential,
}

pub(crate) fn put_record(out: &mut Vec<u8>, rec: &Record) -> Result<(), WireError> {
    let b = rec.to_bytes()?;
    let n = u16::try_from(b.len()).map_err(|_| WireError::TooLong("record"))?;
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&b);
    Ok(())
}

pub(crate) fn read_record(r: &mut Reader<'_>) -> Result<Record, WireError> {
    let n = usize::from(r.u16()?);
    Record::parse(r.take(n)?)
}

impl Query {
    /// Parses exactly one query.
    ///
    /// # Errors
    /// Truncation, unknown kinds, invalid fields, a credential record of
    /// the wrong kind, trailing bytes, or more than [`MAX_QUERY`] bytes.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        if b.len() > MAX_QUERY {
            return Err(WireError::TooLong("query"));
        }
        let mut r = Reader::new(b);
        let kind = match r.u8()? {
            1 => QueryKind::All,
            2 => QueryKind::Closest,
            k => return Err(WireError::UnknownType(k)),
        };
        let ceiling = r.u8()?;
        let scope = read_path(&mut r, "scope")?;
        let service = r.str8("service")?;
        check_service(&service)?;
        let cred = match r.u8()? {
            0 => Credential::Anonymous,
            1 => {
                let rec = read_record(&mut r)?;
                if rec.body.kind() != Kind::ReadCap {
                    return Err(WireError::InvalidField("cred"));
                }
                Credential::ReadCap(rec)
            }
            2 => {
                let rec = read_record(&mut r)?;
                if rec.body.kind() != Kind::ReadGrant {
                    return Err(WireError::InvalidField("cred"));
                }
                Credential::ReadGrant(rec)
            }
            3 => {
                let rec = read_record(&mut r)?;
                if rec.body.kind() != Kind::HostingGrant {
                    return Err(WireError::InvalidField("cred"));
                }
                Credential::HostingGrant(rec)
            }
            _ => return Err(WireError::InvalidField("cred")),
        };
        r.finish()?;
        Ok(Self {
            kind,
            ceiling,
            scope,
            service,
            cred,
        })
    }

    /// The query as bytes.
    ///
    /// # Errors
    /// An invalid service, a credential of the wrong kind, or more than
    /// [`MAX_QUERY`] bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut out = vec![
            match self.kind {
                QueryKind::All => 1,
                QueryKind::Closest => 2,
            },
            self.ceiling,
        ];
        put_path(&mut out, &self.scope);
        check_service(&self.service)?;
        put_str8(&mut out, &self.service, "service")?;
        match &self.cred {
            Credential::Anonymous => out.push(0),
            Credential::ReadCap(rec) if rec.body.kind() == Kind::ReadCap => {
                out.push(1);
                put_record(&mut out, rec)?;
            }
            Credential::ReadGrant(rec) if rec.body.kind() == Kind::ReadGrant => {
                out.push(2);
                put_record(&mut out, rec)?;
            }
            Credential::HostingGrant(rec) if rec.body.kind() == Kind::HostingGrant => {
                out.push(3);
                put_record(&mut out, rec)?;
            }
            _ => return Err(WireError::InvalidField("cred")),
        }
        if out.len() > MAX_QUERY {
            return Err(WireError::TooLong("query"));
        }
        Ok(out)
    }
}

/// An answer to a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The runtimes found, as their signed registrations, and how long the
    /// querier may cache the answer.
    Runtimes {
        /// Cache lifetime in milliseconds.
        cache_ms: u32,
        /// Registrations (all of one scope).
        regs: Vec<Record>,
    },
    /// Ask one of `targets`, which hold `scope`, with `ceiling`.
    Redirect {
        /// The scope the targets hold.
        scope: ScopePath,
        /// The ceiling to ask with.
        ceiling: u8,
        /// How long the querier may remember the targets, in milliseconds.
        cache_ms: u32,
        /// The runtimes to ask.
        targets: Vec<NodeId>,
    },
    /// Not allowed to read the scope, or no such scope: the same answer.
    Denied,
    /// The runtime knows nobody to ask next.
    NoRoute,
}

impl Answer {
    /// Parses exactly one answer.
    ///
    /// # Errors
    /// Truncation, unknown tags, invalid fields, records other than
    /// registrations, counts over the limits, trailing bytes, or more than
    /// [`MAX_ANSWER`] bytes (oversize answers are refused).
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        if b.len() > MAX_ANSWER {
            return Err(WireError::TooLong("answer"));
        }
        let mut r = Reader::new(b);
        let v = match r.u8()? {
            1 => {
                let cache_ms = r.u32()?;
                let n = usize::from(r.u8()?);
                if n > MAX_ENTRIES {
                    return Err(WireError::TooLong("regs"));
                }
                let mut regs = Vec::with_capacity(n);
                for _ in 0..n {
                    let rec = read_record(&mut r)?;
                    if !matches!(rec.body, Body::Registration { .. }) {
                        return Err(WireError::InvalidField("regs"));
                    }
                    regs.push(rec);
                }
                Self::Runtimes { cache_ms, regs }
            }
            2 => {
                let scope = read_path(&mut r, "scope")?;
                let ceiling = r.u8()?;
                let cache_ms = r.u32()?;
                let n = usize::from(r.u8()?);
                if n == 0 || n > MAX_TARGETS {
                    return Err(WireError::InvalidField("targets"));
                }
                let mut targets = Vec::with_capacity(n);
                for _ in 0..n {
                    targets.push(NodeId(r.array()?));
                }
                Self::Redirect {
                    scope,
                    ceiling,
                    cache_ms,
                    targets,
                }
            }
            3 => Self::Denied,
            4 => Self::NoRoute,
            t => return Err(WireError::UnknownType(t)),
        };
        r.finish()?;
        Ok(v)
    }

    /// The answer as bytes.
    ///
    /// # Errors
    /// Counts over the limits, records other than registrations, or more
    /// than [`MAX_ANSWER`] bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::new();
        match self {
            Self::Runtimes { cache_ms, regs } => {
                if regs.len() > MAX_ENTRIES {
                    return Err(WireError::TooLong("regs"));
                }
                out.push(1);
                out.extend_from_slice(&cache_ms.to_le_bytes());
                out.push(regs.len() as u8);
                for rec in regs {
                    if !matches!(rec.body, Body::Registration { .. }) {
                        return Err(WireError::InvalidField("regs"));
                    }
                    put_record(&mut out, rec)?;
                }
            }
            Self::Redirect {
                scope,
                ceiling,
                cache_ms,
                targets,
            } => {
                if targets.is_empty() || targets.len() > MAX_TARGETS {
                    return Err(WireError::InvalidField("targets"));
                }
                out.push(2);
                put_path(&mut out, scope);
                out.push(*ceiling);
                out.extend_from_slice(&cache_ms.to_le_bytes());
                out.push(targets.len() as u8);
                for t in targets {
                    out.extend_from_slice(&t.0);
                }
            }
            Self::Denied => out.push(3),
            Self::NoRoute => out.push(4),
        }
        if out.len() > MAX_ANSWER {
            return Err(WireError::TooLong("answer"));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Time;
    use crate::scope::record::tests::{arb_body, arb_path};
    use proptest::prelude::*;

    fn arb_record(kind: Kind) -> impl Strategy<Value = Record> {
        (arb_body(), any::<[u8; 32]>(), any::<[u8; 32]>()).prop_filter_map(
            "kind",
            move |(body, signer, s)| {
                let mut sig = [3; 64];
                sig[32..].copy_from_slice(&s);
                (body.kind() == kind).then_some(Record { body, signer, sig })
            },
        )
    }

    fn arb_query() -> impl Strategy<Value = Query> {
        let cred = prop_oneof![
            Just(Credential::Anonymous),
            arb_record(Kind::ReadCap).prop_map(Credential::ReadCap),
            arb_record(Kind::ReadGrant).prop_map(Credential::ReadGrant),
            arb_record(Kind::HostingGrant).prop_map(Credential::HostingGrant),
        ];
        (
            any::<bool>(),
            any::<u8>(),
            arb_path(),
            "[a-z0-9_-]{1,32}",
            cred,
        )
            .prop_map(|(all, ceiling, scope, service, cred)| Query {
                kind: if all {
                    QueryKind::All
                } else {
                    QueryKind::Closest
                },
                ceiling,
                scope,
                service,
                cred,
            })
    }

    fn arb_answer() -> impl Strategy<Value = Answer> {
        prop_oneof![
            (
                any::<u32>(),
                proptest::collection::vec(arb_record(Kind::Registration), 0..5)
            )
                .prop_map(|(cache_ms, regs)| Answer::Runtimes { cache_ms, regs }),
            (
                arb_path(),
                any::<u8>(),
                any::<u32>(),
                proptest::collection::vec(any::<[u8; 32]>().prop_map(NodeId), 1..=MAX_TARGETS)
            )
                .prop_map(|(scope, ceiling, cache_ms, targets)| Answer::Redirect {
                    scope,
                    ceiling,
                    cache_ms,
                    targets
                }),
            Just(Answer::Denied),
            Just(Answer::NoRoute),
        ]
    }

    proptest! {
        #[test]
        fn query_round_trip(q in arb_query()) {
            let b = q.to_bytes().unwrap();
            prop_assert_eq!(Query::parse(&b), Ok(q));
        }

        #[test]
        fn answer_round_trip(a in arb_answer()) {
            let b = a.to_bytes().unwrap();
            prop_assert_eq!(Answer::parse(&b), Ok(a));
        }

        #[test]
        fn query_parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(q) = Query::parse(&b) {
                prop_assert_eq!(q.to_bytes().unwrap(), b);
            }
        }

        #[test]
        fn answer_parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(a) = Answer::parse(&b) {
                prop_assert_eq!(a.to_bytes().unwrap(), b);
            }
        }
    }

    #[test]
    fn oversize_refused() {
        let reg = Record {
            body: Body::Registration {
                scope: ScopePath::parse(&format!("/{}", "a".repeat(60))).unwrap(),
                service: "s".repeat(32),
                runtime: NodeId([1; 32]),
                engine: None,
                issued: Time(0),
                expires: Time(1),
            },
            signer: [0; 32],
            sig: [0; 64],
        };
        let too_many = Answer::Runtimes {
            cache_ms: 1,
            regs: vec![reg.clone(); MAX_ENTRIES + 1],
        };
        assert_eq!(too_many.to_bytes(), Err(WireError::TooLong("regs")));
        let mut b = Answer::Runtimes {
            cache_ms: 1,
            regs: vec![reg; MAX_ENTRIES],
        }
        .to_bytes()
        .unwrap();
        b[5] = (MAX_ENTRIES + 1) as u8;
        assert_eq!(Answer::parse(&b), Err(WireError::TooLong("regs")));
        assert_eq!(
            Answer::parse(&vec![1; MAX_ANSWER + 1]),
            Err(WireError::TooLong("answer"))
        );
        assert_eq!(
            Query::parse(&vec![1; MAX_QUERY + 1]),
            Err(WireError::TooLong("query"))
        );
        let wrong = Query {
            kind: QueryKind::All,
            ceiling: 0,
            scope: ScopePath::root(),
            service: "fs".into(),
            cred: Credential::ReadCap(Record {
                body: Body::Revocation {
                    target: [0; 32],
                    issued: Time(0),
                },
                signer: [0; 32],
                sig: [0; 64],
            }),
        };
        assert_eq!(wrong.to_bytes(), Err(WireError::InvalidField("cred")));
    }
}
