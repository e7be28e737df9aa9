//! Signed scope records: one envelope, eight kinds.
//!
//! ```text
//! | kind u8 | body | signer [32] | sig [64] |
//! ```
//!
//! `sig` is the signer's ed25519 signature over the kind's context string
//! ([`Kind::context`]) followed by every byte before `sig`, so a signature
//! for one kind never verifies as another. Bodies (`str8` is a one-byte
//! length then UTF-8; integers little-endian; times are milliseconds):
//!
//! ```text
//! 1 scope create   | path str8 | owner [32] | flags u8 (bit 0 world-readable) | issued u64 |
//! 2 hosting grant  | scope str8 | runtime [32] | expires u64 |
//! 3 read cap       | scope str8 | holder [32] (all zero: bearer) | expires u64 |
//! 4 read grant     | scope str8 | member [32] | expires u64 |
//! 5 registration   | scope str8 | service str8 | runtime [32] | has_engine u8 | engine [32]? | issued u64 | expires u64 |
//! 6 withdrawal     | scope str8 | service str8 | runtime [32] | issued u64 |
//! 7 revocation     | target [32] (record id) | issued u64 |
//! 8 generation     | scope str8 | serial u64 | issued u64 |
//! ```
//!
//! Who must sign each kind is checked by [`super::authority`], not here:
//! parsing only checks the layout and [`Record::verify_signature`] only the
//! signature.

use ed25519_dalek::{Signer, SigningKey};

use super::path::ScopePath;
use crate::ids::{EngineAddr, NodeId, Time};
use crate::keys::verify;
use crate::wire::{put_str8, Reader, WireError};

/// Longest service name in bytes.
pub const MAX_SERVICE: usize = 32;
/// Longest encoded record in bytes.
pub const MAX_RECORD: usize = 1 + 256 + 33 + 32 + 33 + 16 + 32 + 64;
/// The all-zero holder key that makes a read capability a bearer token.
pub const BEARER: [u8; 32] = [0; 32];

/// The kinds of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A scope's creation.
    ScopeCreate,
    /// Leave for a runtime to host in a scope.
    HostingGrant,
    /// A read capability.
    ReadCap,
    /// Read permission for a member.
    ReadGrant,
    /// A service registration.
    Registration,
    /// A registration's withdrawal.
    Withdrawal,
    /// A grant's or capability's revocation.
    Revocation,
    /// A sector cluster's generation number, assigned by a root runtime.
    Generation,
}

impl Kind {
    /// The kind byte.
    pub fn byte(self) -> u8 {
        match self {
            Self::ScopeCreate => 1,
            Self::HostingGrant => 2,
            Self::ReadCap => 3,
            Self::ReadGrant => 4,
            Self::Registration => 5,
            Self::Withdrawal => 6,
            Self::Revocation => 7,
            Self::Generation => 8,
        }
    }

    /// The domain-separation string signed before the record.
    pub fn context(self) -> &'static [u8] {
        match self {
            Self::ScopeCreate => b"tessel-scopes scope create v1\0",
            Self::HostingGrant => b"tessel-scopes hosting grant v1\0",
            Self::ReadCap => b"tessel-scopes read capability v1\0",
            Self::ReadGrant => b"tessel-scopes read grant v1\0",
            Self::Registration => b"tessel-scopes registration v1\0",
            Self::Withdrawal => b"tessel-scopes withdrawal v1\0",
            Self::Revocation => b"tessel-scopes revocation v1\0",
            Self::Generation => b"tessel-scopes generation v1\0",
        }
    }
}

/// What a record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Creates `path`, owned by `owner`. Signed by the parent's owner, or by
    /// the network's root key for `/`.
    ScopeCreate {
        /// The new scope.
        path: ScopePath,
        /// Its owner's key.
        owner: [u8; 32],
        /// Whether anyone may read it.
        world_readable: bool,
        /// When it was signed.
        issued: Time,
    },
    /// Lets `runtime` register services in `scope` until `expires`.
    HostingGrant {
        /// The scope.
        scope: ScopePath,
        /// The runtime allowed to host.
        runtime: NodeId,
        /// End of validity.
        expires: Time,
    },
    /// Lets `holder` (or anyone, for [`BEARER`]) read `scope` and below.
    ReadCap {
        /// The scope.
        scope: ScopePath,
        /// The holder's key or [`BEARER`].
        holder: [u8; 32],
        /// End of validity.
        expires: Time,
    },
    /// Gives `member` read permission on `scope` and below.
    ReadGrant {
        /// The scope.
        scope: ScopePath,
        /// The member's node key.
        member: NodeId,
        /// End of validity.
        expires: Time,
    },
    /// `runtime` hosts `service` in `scope`. Signed by the runtime.
    Registration {
        /// The scope.
        scope: ScopePath,
        /// The service name.
        service: String,
        /// The hosting runtime.
        runtime: NodeId,
        /// The engine serving it, where there is one.
        engine: Option<EngineAddr>,
        /// When it was signed.
        issued: Time,
        /// End of validity.
        expires: Time,
    },
    /// `runtime` no longer hosts `service` in `scope` (registrations issued
    /// before `issued` are void). Signed by the runtime.
    Withdrawal {
        /// The scope.
        scope: ScopePath,
        /// The service name.
        service: String,
        /// The runtime withdrawing.
        runtime: NodeId,
        /// When it was signed.
        issued: Time,
    },
    /// Voids the record whose [`Record::id`] is `target`. Valid only when
    /// signed by that record's signer.
    Revocation {
        /// The revoked record's id.
        target: [u8; 32],
        /// When it was signed.
        issued: Time,
    },
    /// The sector cluster of `scope` has generation `serial` of the signer,
    /// a runtime of the root cluster. The pair (signer, serial) is unique in
    /// the network because each root runtime never repeats a serial.
    Generation {
        /// The cluster's scope.
        scope: ScopePath,
        /// The serial, unique among the signer's.
        serial: u64,
        /// When it was signed.
        issued: Time,
    },
}

/// Checks a service name: 1 to [`MAX_SERVICE`] bytes of `[a-z0-9_-]`.
///
/// # Errors
/// [`WireError::InvalidField`] naming `service`.
pub fn check_service(s: &str) -> Result<(), WireError> {
    let ok = !s.is_empty()
        && s.len() <= MAX_SERVICE
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-');
    if ok {
        Ok(())
    } else {
        Err(WireError::InvalidField("service"))
    }
}

pub(crate) fn read_path(r: &mut Reader<'_>, field: &'static str) -> Result<ScopePath, WireError> {
    let s = r.str8(field)?;
    ScopePath::parse(&s).map_err(|_| WireError::InvalidField(field))
}

pub(crate) fn put_path(out: &mut Vec<u8>, p: &ScopePath) {
    let s = p.to_string();
    // A valid path is at most 255 bytes, so this cannot fail.
    let _ = put_str8(out, &s, "scope");
}

fn read_service(r: &mut Reader<'_>) -> Result<String, WireError> {
    let s = r.str8("service")?;
    check_service(&s)?;
    Ok(s)
}

impl Body {
    /// This body's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Self::ScopeCreate { .. } => Kind::ScopeCreate,
            Self::HostingGrant { .. } => Kind::HostingGrant,
            Self::ReadCap { .. } => Kind::ReadCap,
            Self::ReadGrant { .. } => Kind::ReadGrant,
            Self::Registration { .. } => Kind::Registration,
            Self::Withdrawal { .. } => Kind::Withdrawal,
            Self::Revocation { .. } => Kind::Revocation,
            Self::Generation { .. } => Kind::Generation,
        }
    }

    fn write(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        out.push(self.kind().byte());
        match self {
            Self::ScopeCreate {
                path,
                owner,
                world_readable,
                issued,
            } => {
                put_path(out, path);
                out.extend_from_slice(owner);
                out.push(u8::from(*world_readable));
                out.extend_from_slice(&issued.0.to_le_bytes());
            }
            Self::HostingGrant {
                scope,
                runtime,
                expires,
            } => {
                put_path(out, scope);
                out.extend_from_slice(&runtime.0);
                out.extend_from_slice(&expires.0.to_le_bytes());
            }
            Self::ReadCap {
                scope,
                holder,
                expires,
            } => {
                put_path(out, scope);
                out.extend_from_slice(holder);
                out.extend_from_slice(&expires.0.to_le_bytes());
            }
            Self::ReadGrant {
                scope,
                member,
                expires,
            } => {
                put_path(out, scope);
                out.extend_from_slice(&member.0);
                out.extend_from_slice(&expires.0.to_le_bytes());
            }
            Self::Registration {
                scope,
                service,
                runtime,
                engine,
                issued,
                expires,
            } => {
                put_path(out, scope);
                check_service(service)?;
                put_str8(out, service, "service")?;
                out.extend_from_slice(&runtime.0);
                match engine {
                    Some(e) => {
                        out.push(1);
                        out.extend_from_slice(&e.0);
                    }
                    None => out.push(0),
                }
                out.extend_from_slice(&issued.0.to_le_bytes());
                out.extend_from_slice(&expires.0.to_le_bytes());
            }
            Self::Withdrawal {
                scope,
                service,
                runtime,
                issued,
            } => {
                put_path(out, scope);
                check_service(service)?;
                put_str8(out, service, "service")?;
                out.extend_from_slice(&runtime.0);
                out.extend_from_slice(&issued.0.to_le_bytes());
            }
            Self::Revocation { target, issued } => {
                out.extend_from_slice(target);
                out.extend_from_slice(&issued.0.to_le_bytes());
            }
            Self::Generation {
                scope,
                serial,
                issued,
            } => {
                put_path(out, scope);
                out.extend_from_slice(&serial.to_le_bytes());
                out.extend_from_slice(&issued.0.to_le_bytes());
            }
        }
        Ok(())
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let kind = r.u8()?;
        Ok(match kind {
            1 => {
                let path = read_path(r, "path")?;
                let owner = r.array()?;
                let flags = r.u8()?;
                if flags > 1 {
                    return Err(WireError::InvalidField("flags"));
                }
                Self::ScopeCreate {
                    path,
                    owner,
                    world_readable: flags == 1,
                    issued: Time(r.u64()?),
                }
            }
            2 => Self::HostingGrant {
                scope: read_path(r, "scope")?,
                runtime: NodeId(r.array()?),
                expires: Time(r.u64()?),
            },
            3 => Self::ReadCap {
                scope: read_path(r, "scope")?,
                holder: r.array()?,
                expires: Time(r.u64()?),
            },
            4 => Self::ReadGrant {
                scope: read_path(r, "scope")?,
                member: NodeId(r.array()?),
                expires: Time(r.u64()?),
            },
            5 => {
                let scope = read_path(r, "scope")?;
                let service = read_service(r)?;
                let runtime = NodeId(r.array()?);
                let engine = match r.u8()? {
                    0 => None,
                    1 => Some(EngineAddr(r.array()?)),
                    _ => return Err(WireError::InvalidField("has_engine")),
                };
                Self::Registration {
                    scope,
                    service,
                    runtime,
                    engine,
                    issued: Time(r.u64()?),
                    expires: Time(r.u64()?),
                }
            }
            6 => Self::Withdrawal {
                scope: read_path(r, "scope")?,
                service: read_service(r)?,
                runtime: NodeId(r.array()?),
                issued: Time(r.u64()?),
            },
            7 => Self::Revocation {
                target: r.array()?,
                issued: Time(r.u64()?),
            },
            8 => Self::Generation {
                scope: read_path(r, "scope")?,
                serial: r.u64()?,
                issued: Time(r.u64()?),
            },
            k => return Err(WireError::UnknownType(k)),
        })
    }
}

/// A signed record (signature not yet checked when parsed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// What it says.
    pub body: Body,
    /// The signer's public key.
    pub signer: [u8; 32],
    /// The signature.
    pub sig: [u8; 64],
}

impl Record {
    /// Signs `body` with `key`.
    ///
    /// # Errors
    /// An invalid service name.
    pub fn sign(body: Body, key: &SigningKey) -> Result<Self, WireError> {
        let signer = key.verifying_key().to_bytes();
        let msg = Self::signed_bytes(&body, &signer)?;
        let sig = key.sign(&msg).to_bytes();
        Ok(Self { body, signer, sig })
    }

    /// Signs `body` as `signer` with a signing function (a key held
    /// elsewhere, such as the node key in the key holder).
    ///
    /// # Errors
    /// An invalid service name.
    pub fn sign_with(
        body: Body,
        signer: [u8; 32],
        sign: impl FnOnce(&[u8]) -> [u8; 64],
    ) -> Result<Self, WireError> {
        let msg = Self::signed_bytes(&body, &signer)?;
        let sig = sign(&msg);
        Ok(Self { body, signer, sig })
    }

    fn signed_bytes(body: &Body, signer: &[u8; 32]) -> Result<Vec<u8>, WireError> {
        let mut m = body.kind().context().to_vec();
        body.write(&mut m)?;
        m.extend_from_slice(signer);
        Ok(m)
    }

    /// Whether `sig` is the signer's signature over this record.
    pub fn verify_signature(&self) -> bool {
        Self::signed_bytes(&self.body, &self.signer)
            .is_ok_and(|m| verify(&self.signer, &m, &self.sig))
    }

    /// Parses exactly one record.
    ///
    /// # Errors
    /// Truncation, an unknown kind, an invalid path, service or flag,
    /// trailing bytes, or more than [`MAX_RECORD`] bytes.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        if b.len() > MAX_RECORD {
            return Err(WireError::TooLong("record"));
        }
        let mut r = Reader::new(b);
        let body = Body::read(&mut r)?;
        let v = Self {
            body,
            signer: r.array()?,
            sig: r.array()?,
        };
        r.finish()?;
        Ok(v)
    }

    /// Appends the record.
    ///
    /// # Errors
    /// An invalid service name.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        self.body.write(out)?;
        out.extend_from_slice(&self.signer);
        out.extend_from_slice(&self.sig);
        Ok(())
    }

    /// The record as bytes.
    ///
    /// # Errors
    /// As [`Self::write`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut v = Vec::with_capacity(MAX_RECORD);
        self.write(&mut v)?;
        Ok(v)
    }

    /// The record's id: BLAKE3 of its bytes (what a revocation names).
    pub fn id(&self) -> [u8; 32] {
        let mut v = Vec::new();
        // Records that exist were parsed or signed, so they encode.
        let _ = self.write(&mut v);
        *blake3::hash(&v).as_bytes()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn arb_path() -> impl Strategy<Value = ScopePath> {
        proptest::collection::vec("[a-z0-9_-]{1,10}", 0..6).prop_map(|segs| {
            let mut p = ScopePath::root();
            for s in segs {
                p = p.child(&s).unwrap();
            }
            p
        })
    }

    pub(crate) fn arb_body() -> impl Strategy<Value = Body> {
        let k = any::<[u8; 32]>();
        let t = any::<u64>().prop_map(Time);
        prop_oneof![
            (arb_path(), k, any::<bool>(), t.clone()).prop_map(|(path, owner, w, issued)| {
                Body::ScopeCreate {
                    path,
                    owner,
                    world_readable: w,
                    issued,
                }
            }),
            (arb_path(), k, t.clone()).prop_map(|(scope, r, expires)| Body::HostingGrant {
                scope,
                runtime: NodeId(r),
                expires
            }),
            (arb_path(), k, t.clone()).prop_map(|(scope, holder, expires)| Body::ReadCap {
                scope,
                holder,
                expires
            }),
            (arb_path(), k, t.clone()).prop_map(|(scope, m, expires)| Body::ReadGrant {
                scope,
                member: NodeId(m),
                expires
            }),
            (
                arb_path(),
                "[a-z0-9_-]{1,32}",
                k,
                proptest::option::of(k),
                t.clone(),
                t.clone()
            )
                .prop_map(|(scope, service, r, e, issued, expires)| {
                    Body::Registration {
                        scope,
                        service,
                        runtime: NodeId(r),
                        engine: e.map(EngineAddr),
                        issued,
                        expires,
                    }
                }),
            (arb_path(), "[a-z0-9_-]{1,32}", k, t.clone()).prop_map(
                |(scope, service, r, issued)| Body::Withdrawal {
                    scope,
                    service,
                    runtime: NodeId(r),
                    issued
                }
            ),
            (k, t.clone()).prop_map(|(target, issued)| Body::Revocation { target, issued }),
            (arb_path(), any::<u64>(), t).prop_map(|(scope, serial, issued)| Body::Generation {
                scope,
                serial,
                issued
            }),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(body in arb_body(), signer in any::<[u8; 32]>(), s in any::<[u8; 32]>()) {
            let mut sig = [7; 64];
            sig[..32].copy_from_slice(&s);
            let v = Record { body, signer, sig };
            let b = v.to_bytes().unwrap();
            prop_assert!(b.len() <= MAX_RECORD);
            prop_assert_eq!(Record::parse(&b), Ok(v));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(v) = Record::parse(&b) {
                prop_assert_eq!(v.to_bytes().unwrap(), b);
            }
        }

        #[test]
        fn signatures_bind_every_field(body in arb_body(), seed in any::<[u8; 32]>(), flip in 0usize..400) {
            let key = SigningKey::from_bytes(&seed);
            let rec = Record::sign(body, &key).unwrap();
            prop_assert!(rec.verify_signature());
            let mut b = rec.to_bytes().unwrap();
            let i = flip % b.len();
            b[i] ^= 1;
            if let Ok(bad) = Record::parse(&b) {
                prop_assert!(!bad.verify_signature());
            }
        }
    }

    #[test]
    fn largest_record_is_max_record() {
        let mut scope = ScopePath::root();
        while scope.encoded_len() + 64 <= 255 {
            scope = scope.child(&"a".repeat(63)).unwrap();
        }
        let rest = 255 - scope.encoded_len() - 1;
        scope = scope.child(&"b".repeat(rest)).unwrap();
        assert_eq!(scope.encoded_len(), 255);
        let v = Record {
            body: Body::Registration {
                scope,
                service: "s".repeat(MAX_SERVICE),
                runtime: NodeId([1; 32]),
                engine: Some(EngineAddr([2; 32])),
                issued: Time(3),
                expires: Time(4),
            },
            signer: [5; 32],
            sig: [6; 64],
        };
        let b = v.to_bytes().unwrap();
        assert_eq!(b.len(), MAX_RECORD);
        assert_eq!(Record::parse(&b), Ok(v));
        let mut longer = b.clone();
        longer.push(0);
        assert_eq!(Record::parse(&longer), Err(WireError::TooLong("record")));
    }

    #[test]
    fn contexts_are_distinct_and_kinds_refused() {
        let all = [
            Kind::ScopeCreate,
            Kind::HostingGrant,
            Kind::ReadCap,
            Kind::ReadGrant,
            Kind::Registration,
            Kind::Withdrawal,
            Kind::Revocation,
            Kind::Generation,
        ];
        for a in all {
            for b in all {
                assert_eq!(a == b, a.context() == b.context());
                assert_eq!(a == b, a.byte() == b.byte());
            }
        }
        assert_eq!(Record::parse(&[9]), Err(WireError::UnknownType(9)));
        assert!(check_service("fs").is_ok());
        assert!(check_service("").is_err());
        assert!(check_service("F").is_err());
        assert!(check_service(&"a".repeat(33)).is_err());
    }
}
