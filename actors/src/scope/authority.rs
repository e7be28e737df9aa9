//! The chain of authority: which scopes exist, who owns them, and whether a
//! grant, capability or registration is valid.
//!
//! The network's configuration names one root key. `/` exists once a scope
//! creation record for `/` signed by the root key is accepted; every other
//! scope exists once a creation record signed by its parent's owner is
//! accepted (so the parent must already be known). Hosting grants, read
//! capabilities and read grants for a scope are valid when signed by the
//! owner of that scope or of any ancestor, unexpired and not revoked by
//! their signer. A registration is valid when signed by its runtime and
//! backed by a valid hosting grant for that runtime and scope.
//!
//! The table keeps the creation and revocation records it accepted, so a
//! runtime can hand them on (the chain from `/` to a scope, everything
//! below a scope, every revocation) to runtimes that lack them.

use std::collections::BTreeMap;

use super::path::ScopePath;
use super::record::{Body, Record, BEARER};
use crate::ids::{NodeId, Time};

/// Most scopes one authority table holds.
pub const MAX_SCOPES: usize = 65_536;
/// Most revocations one authority table holds.
pub const MAX_REVOCATIONS: usize = 65_536;

/// Why a record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// The record is of another kind than expected.
    #[error("wrong record kind")]
    WrongKind,
    /// The parent scope is not known.
    #[error("parent scope unknown")]
    UnknownParent,
    /// The scope is not known.
    #[error("scope unknown")]
    UnknownScope,
    /// The signer has no authority over the scope.
    #[error("signer has no authority over the scope")]
    NotAuthorized,
    /// The scope already exists with another owner.
    #[error("scope already exists")]
    Exists,
    /// The record has expired.
    #[error("expired")]
    Expired,
    /// The record was revoked by its signer.
    #[error("revoked")]
    Revoked,
    /// The grant names another runtime or scope than the registration.
    #[error("grant does not cover this registration")]
    GrantMismatch,
    /// A table is full.
    #[error("authority table full")]
    Full,
}

/// What is known about one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeInfo {
    /// The owner's key.
    pub owner: [u8; 32],
    /// Whether anyone may read it.
    pub world_readable: bool,
}

/// Credentials a query may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// None: anonymous.
    Anonymous,
    /// A read capability (for the querier, or a bearer token).
    ReadCap(Record),
    /// A read grant naming the querier as member.
    ReadGrant(Record),
    /// A hosting grant naming the querier as runtime: a runtime allowed to
    /// host in a scope may find that scope's cluster (to register there).
    HostingGrant(Record),
}

/// The scopes and revocations a runtime knows, checked from the root key.
#[derive(Debug, Clone)]
pub struct Authority {
    root: [u8; 32],
    scopes: BTreeMap<ScopePath, (ScopeInfo, Record)>,
    revoked: BTreeMap<([u8; 32], [u8; 32]), Record>,
    /// How many scopes each key owns (who may sign revocations).
    owners: BTreeMap<[u8; 32], usize>,
}

impl Authority {
    /// An empty table trusting `root` (the network's root key).
    pub fn new(root: [u8; 32]) -> Self {
        Self {
            root,
            scopes: BTreeMap::new(),
            revoked: BTreeMap::new(),
            owners: BTreeMap::new(),
        }
    }

    /// The root key this table trusts.
    pub fn root(&self) -> &[u8; 32] {
        &self.root
    }

    /// The scope's entry, if it exists.
    pub fn scope(&self, p: &ScopePath) -> Option<&ScopeInfo> {
        self.scopes.get(p).map(|(i, _)| i)
    }

    /// Number of scopes known.
    pub fn len(&self) -> usize {
        self.scopes.len()
    }

    /// Whether no scope is known.
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    /// The accepted creation records from `/` down to `scope`, outermost
    /// first, or `None` when one of them is unknown.
    pub fn chain(&self, scope: &ScopePath) -> Option<Vec<Record>> {
        scope
            .lineage()
            .iter()
            .map(|p| self.scopes.get(p).map(|(_, r)| r.clone()))
            .collect()
    }

    /// The accepted creation records of `scope` and every scope below it,
    /// parents before children.
    pub fn creations_under<'a>(&'a self, scope: &'a ScopePath) -> impl Iterator<Item = &'a Record> {
        self.scopes
            .range(scope.clone()..)
            .take_while(move |(p, _)| scope.is_prefix_of(p))
            .map(|(_, (_, r))| r)
    }

    /// Every accepted revocation record.
    pub fn revocations(&self) -> impl Iterator<Item = &Record> {
        self.revoked.values()
    }

    /// Accepts a scope creation record; returns whether it changed the
    /// table (a new scope, or a later creation by the same owner that
    /// replaces the flags). A record already held is not verified again.
    ///
    /// # Errors
    /// Wrong kind, bad signature, unknown parent, a signer other than the
    /// parent's owner (the root key for `/`), an existing scope with another
    /// owner, or a full table.
    pub fn add_scope(&mut self, rec: &Record) -> Result<bool, AuthError> {
        let Body::ScopeCreate {
            path,
            owner,
            world_readable,
            issued,
        } = &rec.body
        else {
            return Err(AuthError::WrongKind);
        };
        if self.scopes.get(path).is_some_and(|(_, r)| r == rec) {
            return Ok(false);
        }
        if !rec.verify_signature() {
            return Err(AuthError::BadSignature);
        }
        let expected = match path.parent() {
            None => self.root,
            Some(parent) => {
                self.scopes
                    .get(&parent)
                    .ok_or(AuthError::UnknownParent)?
                    .0
                    .owner
            }
        };
        if rec.signer != expected {
            return Err(AuthError::NotAuthorized);
        }
        let info = ScopeInfo {
            owner: *owner,
            world_readable: *world_readable,
        };
        match self.scopes.get(path) {
            Some((old, _)) if old.owner != info.owner => return Err(AuthError::Exists),
            Some((_, old)) if creation_issued(old) >= *issued => return Ok(false),
            None if self.scopes.len() >= MAX_SCOPES => return Err(AuthError::Full),
            _ => {}
        }
        if let Some((old, _)) = self.scopes.insert(path.clone(), (info, rec.clone())) {
            if let Some(n) = self.owners.get_mut(&old.owner) {
                *n -= 1;
                if *n == 0 {
                    self.owners.remove(&old.owner);
                }
            }
        }
        *self.owners.entry(*owner).or_default() += 1;
        Ok(true)
    }

    /// Accepts a revocation; returns whether it is new. It takes effect for
    /// records whose id it names and whose signer is the revocation's
    /// signer. Only keys that could have signed a grant (the root key, the
    /// owner of a known scope) may revoke, so strangers cannot fill the
    /// table.
    ///
    /// # Errors
    /// Wrong kind, a signer that owns nothing, bad signature, or a full
    /// table.
    pub fn revoke(&mut self, rec: &Record) -> Result<bool, AuthError> {
        let Body::Revocation { target, .. } = &rec.body else {
            return Err(AuthError::WrongKind);
        };
        if self.revoked.contains_key(&(*target, rec.signer)) {
            return Ok(false);
        }
        if rec.signer != self.root && !self.owners.contains_key(&rec.signer) {
            return Err(AuthError::NotAuthorized);
        }
        if !rec.verify_signature() {
            return Err(AuthError::BadSignature);
        }
        if self.revoked.len() >= MAX_REVOCATIONS {
            return Err(AuthError::Full);
        }
        self.revoked.insert((*target, rec.signer), rec.clone());
        Ok(true)
    }

    /// Whether `rec` was revoked by its signer.
    pub fn is_revoked(&self, rec: &Record) -> bool {
        self.revoked.contains_key(&(rec.id(), rec.signer))
    }

    /// Whether `key` owns `scope` or one of its ancestors (all of which must
    /// be known).
    ///
    /// # Errors
    /// [`AuthError::UnknownScope`] when a scope on the way is unknown.
    pub fn has_authority(&self, key: &[u8; 32], scope: &ScopePath) -> Result<bool, AuthError> {
        let mut found = false;
        for p in scope.lineage() {
            let info = &self.scopes.get(&p).ok_or(AuthError::UnknownScope)?.0;
            found |= info.owner == *key;
        }
        Ok(found)
    }

    /// Checks a read capability or read grant on its own (as
    /// [`Self::check_grant`] does for hosting grants); returns its scope.
    ///
    /// # Errors
    /// Any [`AuthError`] that applies.
    pub fn check_read(&self, rec: &Record, now: Time) -> Result<ScopePath, AuthError> {
        let (scope, expires) = match &rec.body {
            Body::ReadCap { scope, expires, .. } | Body::ReadGrant { scope, expires, .. } => {
                (scope, *expires)
            }
            _ => return Err(AuthError::WrongKind),
        };
        self.check_issued(rec, scope, expires, now)?;
        Ok(scope.clone())
    }

    /// Checks a generation record: signed by a runtime whose sector
    /// registration at `/` (`reg`, backed by `grant`) was valid when the
    /// record was issued. Returns the cluster's scope and the serial.
    ///
    /// # Errors
    /// Any [`AuthError`] that applies to the three records, or
    /// [`AuthError::GrantMismatch`] when `reg` is not the signer's sector
    /// registration at `/`.
    pub fn check_generation(
        &self,
        cert: &Record,
        reg: &Record,
        grant: &Record,
    ) -> Result<(ScopePath, u64), AuthError> {
        let Body::Generation {
            scope,
            serial,
            issued,
        } = &cert.body
        else {
            return Err(AuthError::WrongKind);
        };
        let Body::Registration {
            scope: rs,
            service,
            runtime,
            issued: reg_issued,
            ..
        } = &reg.body
        else {
            return Err(AuthError::WrongKind);
        };
        if !rs.is_root() || service != super::responder::SECTOR || runtime.0 != cert.signer {
            return Err(AuthError::GrantMismatch);
        }
        if *reg_issued > *issued {
            return Err(AuthError::Expired);
        }
        if !cert.verify_signature() {
            return Err(AuthError::BadSignature);
        }
        self.check_registration(reg, grant, *issued)?;
        Ok((scope.clone(), *serial))
    }

    fn check_issued(
        &self,
        rec: &Record,
        scope: &ScopePath,
        expires: Time,
        now: Time,
    ) -> Result<(), AuthError> {
        if !rec.verify_signature() {
            return Err(AuthError::BadSignature);
        }
        if !self.has_authority(&rec.signer, scope)? {
            return Err(AuthError::NotAuthorized);
        }
        if expires <= now {
            return Err(AuthError::Expired);
        }
        if self.is_revoked(rec) {
            return Err(AuthError::Revoked);
        }
        Ok(())
    }

    /// Checks a hosting grant; returns its scope and runtime.
    ///
    /// # Errors
    /// Any [`AuthError`] that applies.
    pub fn check_grant(&self, rec: &Record, now: Time) -> Result<(ScopePath, NodeId), AuthError> {
        let Body::HostingGrant {
            scope,
            runtime,
            expires,
        } = &rec.body
        else {
            return Err(AuthError::WrongKind);
        };
        self.check_issued(rec, scope, *expires, now)?;
        Ok((scope.clone(), *runtime))
    }

    /// Checks a registration against the hosting grant that backs it.
    ///
    /// # Errors
    /// Any [`AuthError`] that applies to either record.
    pub fn check_registration(
        &self,
        reg: &Record,
        grant: &Record,
        now: Time,
    ) -> Result<(), AuthError> {
        let Body::Registration {
            scope,
            runtime,
            expires,
            ..
        } = &reg.body
        else {
            return Err(AuthError::WrongKind);
        };
        if reg.signer != runtime.0 || !reg.verify_signature() {
            return Err(AuthError::BadSignature);
        }
        if *expires <= now {
            return Err(AuthError::Expired);
        }
        let (gs, gr) = self.check_grant(grant, now)?;
        if gs != *scope || gr != *runtime {
            return Err(AuthError::GrantMismatch);
        }
        Ok(())
    }

    /// Whether `querier` may read `scope` with `cred`. Unknown scopes and
    /// refused credentials give the same `false`.
    pub fn may_read(
        &self,
        scope: &ScopePath,
        querier: NodeId,
        cred: &Credential,
        now: Time,
    ) -> bool {
        if !self.scopes.contains_key(scope) {
            return false;
        }
        match cred {
            Credential::Anonymous => scope
                .lineage()
                .iter()
                .all(|p| self.scopes.get(p).is_some_and(|(i, _)| i.world_readable)),
            Credential::ReadCap(rec) => match &rec.body {
                Body::ReadCap {
                    scope: s,
                    holder,
                    expires,
                } => {
                    s.is_prefix_of(scope)
                        && (*holder == BEARER || *holder == querier.0)
                        && self.check_issued(rec, s, *expires, now).is_ok()
                }
                _ => false,
            },
            Credential::ReadGrant(rec) => match &rec.body {
                Body::ReadGrant {
                    scope: s,
                    member,
                    expires,
                } => {
                    s.is_prefix_of(scope)
                        && *member == querier
                        && self.check_issued(rec, s, *expires, now).is_ok()
                }
                _ => false,
            },
            Credential::HostingGrant(rec) => match &rec.body {
                Body::HostingGrant {
                    scope: s,
                    runtime,
                    expires,
                } => {
                    s.is_prefix_of(scope)
                        && *runtime == querier
                        && self.check_issued(rec, s, *expires, now).is_ok()
                }
                _ => false,
            },
        }
    }
}

fn creation_issued(r: &Record) -> Time {
    match r.body {
        Body::ScopeCreate { issued, .. } => issued,
        _ => Time(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }
    fn pk(n: u8) -> [u8; 32] {
        key(n).verifying_key().to_bytes()
    }
    fn p(s: &str) -> ScopePath {
        ScopePath::parse(s).unwrap()
    }
    fn create(path: &str, owner: u8, wr: bool, signer: u8) -> Record {
        Record::sign(
            Body::ScopeCreate {
                path: p(path),
                owner: pk(owner),
                world_readable: wr,
                issued: Time(1),
            },
            &key(signer),
        )
        .unwrap()
    }

    fn tree() -> Authority {
        let mut a = Authority::new(pk(1));
        a.add_scope(&create("/", 1, true, 1)).unwrap();
        a.add_scope(&create("/org", 2, true, 1)).unwrap();
        a.add_scope(&create("/org/team", 3, false, 2)).unwrap();
        a.add_scope(&create("/org/team/data", 4, true, 3)).unwrap();
        a
    }

    #[test]
    fn creation_follows_the_chain() {
        let mut a = tree();
        assert_eq!(
            a.add_scope(&create("/x/y", 5, true, 1)),
            Err(AuthError::UnknownParent)
        );
        assert_eq!(
            a.add_scope(&create("/org/z", 5, true, 3)),
            Err(AuthError::NotAuthorized)
        );
        assert_eq!(
            a.add_scope(&create("/org/team", 9, true, 2)),
            Err(AuthError::Exists)
        );
        let mut forged = create("/org/z", 5, true, 2);
        forged.sig[0] ^= 1;
        assert_eq!(a.add_scope(&forged), Err(AuthError::BadSignature));
        let mut b = Authority::new(pk(1));
        assert_eq!(
            b.add_scope(&create("/", 1, true, 2)),
            Err(AuthError::NotAuthorized)
        );
        assert!(a.has_authority(&pk(2), &p("/org/team/data")).unwrap());
        assert!(!a.has_authority(&pk(4), &p("/org/team")).unwrap());
    }

    #[test]
    fn grants_and_registrations() {
        let mut a = tree();
        let rt = key(20);
        let rid = NodeId(pk(20));
        let grant = |signer: u8, expires: u64| {
            Record::sign(
                Body::HostingGrant {
                    scope: p("/org/team"),
                    runtime: rid,
                    expires: Time(expires),
                },
                &key(signer),
            )
            .unwrap()
        };
        let reg = Record::sign(
            Body::Registration {
                scope: p("/org/team"),
                service: "fs".into(),
                runtime: rid,
                engine: None,
                issued: Time(1),
                expires: Time(100),
            },
            &rt,
        )
        .unwrap();
        assert!(a.check_registration(&reg, &grant(3, 50), Time(10)).is_ok());
        assert!(a.check_registration(&reg, &grant(2, 50), Time(10)).is_ok());
        assert_eq!(
            a.check_registration(&reg, &grant(4, 50), Time(10)),
            Err(AuthError::NotAuthorized)
        );
        assert_eq!(
            a.check_registration(&reg, &grant(3, 50), Time(60)),
            Err(AuthError::Expired)
        );
        let g = grant(3, 50);
        let rev = |signer: u8| {
            Record::sign(
                Body::Revocation {
                    target: g.id(),
                    issued: Time(2),
                },
                &key(signer),
            )
            .unwrap()
        };
        a.revoke(&rev(2)).unwrap();
        assert!(
            a.check_registration(&reg, &g, Time(10)).is_ok(),
            "only the issuer revokes"
        );
        assert_eq!(
            a.revoke(&rev(77)),
            Err(AuthError::NotAuthorized),
            "a key that owns nothing cannot revoke"
        );
        a.revoke(&rev(3)).unwrap();
        assert_eq!(
            a.check_registration(&reg, &g, Time(10)),
            Err(AuthError::Revoked)
        );
        let other = Record::sign(
            Body::Registration {
                scope: p("/org"),
                service: "fs".into(),
                runtime: rid,
                engine: None,
                issued: Time(1),
                expires: Time(100),
            },
            &rt,
        )
        .unwrap();
        assert_eq!(
            a.check_registration(&other, &grant(2, 50), Time(10)),
            Err(AuthError::GrantMismatch)
        );
    }

    #[test]
    fn chains_revocation_records_and_generations() {
        let mut a = tree();
        let chain = a.chain(&p("/org/team")).unwrap();
        assert_eq!(chain.len(), 3);
        assert_eq!(chain[2], create("/org/team", 3, false, 2));
        assert!(a.chain(&p("/org/none")).is_none());
        let under: Vec<_> = a.creations_under(&p("/org/team")).cloned().collect();
        assert_eq!(
            under,
            vec![
                create("/org/team", 3, false, 2),
                create("/org/team/data", 4, true, 3)
            ]
        );
        // A record already held is not new; a later one by the same owner
        // replaces the flags.
        assert_eq!(a.add_scope(&create("/org", 2, true, 1)), Ok(false));
        let later = Record::sign(
            Body::ScopeCreate {
                path: p("/org"),
                owner: pk(2),
                world_readable: false,
                issued: Time(2),
            },
            &key(1),
        )
        .unwrap();
        assert_eq!(a.add_scope(&later), Ok(true));
        assert!(!a.scope(&p("/org")).unwrap().world_readable);
        let rev = Record::sign(
            Body::Revocation {
                target: [9; 32],
                issued: Time(1),
            },
            &key(3),
        )
        .unwrap();
        assert_eq!(a.revoke(&rev), Ok(true));
        assert_eq!(a.revoke(&rev), Ok(false));
        assert_eq!(a.revocations().collect::<Vec<_>>(), vec![&rev]);
        // A generation signed by a runtime registered at `/` for sectors.
        let rt = key(40);
        let rid = NodeId(pk(40));
        let grant = Record::sign(
            Body::HostingGrant {
                scope: p("/"),
                runtime: rid,
                expires: Time(100),
            },
            &key(1),
        )
        .unwrap();
        let reg = |service: &str| {
            Record::sign(
                Body::Registration {
                    scope: p("/"),
                    service: service.into(),
                    runtime: rid,
                    engine: None,
                    issued: Time(5),
                    expires: Time(50),
                },
                &rt,
            )
            .unwrap()
        };
        let cert = |issued: u64, signer: &SigningKey| {
            Record::sign(
                Body::Generation {
                    scope: p("/org"),
                    serial: 7,
                    issued: Time(issued),
                },
                signer,
            )
            .unwrap()
        };
        assert_eq!(
            a.check_generation(&cert(10, &rt), &reg("sector"), &grant),
            Ok((p("/org"), 7))
        );
        assert_eq!(
            a.check_generation(&cert(10, &rt), &reg("fs"), &grant),
            Err(AuthError::GrantMismatch)
        );
        assert_eq!(
            a.check_generation(&cert(10, &key(41)), &reg("sector"), &grant),
            Err(AuthError::GrantMismatch)
        );
        assert_eq!(
            a.check_generation(&cert(60, &rt), &reg("sector"), &grant),
            Err(AuthError::Expired)
        );
        assert_eq!(
            a.check_generation(&cert(2, &rt), &reg("sector"), &grant),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn read_rules() {
        let a = tree();
        let q = NodeId(pk(30));
        let anon = Credential::Anonymous;
        assert!(a.may_read(&p("/org"), q, &anon, Time(0)));
        assert!(!a.may_read(&p("/org/team"), q, &anon, Time(0)));
        assert!(
            !a.may_read(&p("/org/team/data"), q, &anon, Time(0)),
            "an ancestor is private"
        );
        assert!(!a.may_read(&p("/nope"), q, &anon, Time(0)));
        let cap = |holder: [u8; 32], signer: u8| {
            Credential::ReadCap(
                Record::sign(
                    Body::ReadCap {
                        scope: p("/org/team/data"),
                        holder,
                        expires: Time(50),
                    },
                    &key(signer),
                )
                .unwrap(),
            )
        };
        assert!(a.may_read(&p("/org/team/data"), q, &cap(q.0, 4), Time(10)));
        assert!(a.may_read(&p("/org/team/data"), q, &cap(BEARER, 4), Time(10)));
        assert!(!a.may_read(&p("/org/team/data"), q, &cap(pk(31), 4), Time(10)));
        assert!(!a.may_read(&p("/org/team/data"), q, &cap(q.0, 4), Time(50)));
        assert!(!a.may_read(&p("/org/team/data"), q, &cap(q.0, 9), Time(10)));
        assert!(!a.may_read(&p("/org/team"), q, &cap(q.0, 4), Time(10)));
        let grant = Credential::ReadGrant(
            Record::sign(
                Body::ReadGrant {
                    scope: p("/org/team"),
                    member: q,
                    expires: Time(50),
                },
                &key(3),
            )
            .unwrap(),
        );
        assert!(a.may_read(&p("/org/team"), q, &grant, Time(10)));
        assert!(a.may_read(&p("/org/team/data"), q, &grant, Time(10)));
        assert!(!a.may_read(&p("/org/team"), NodeId(pk(31)), &grant, Time(10)));
        // A hosting grant lets its runtime find the scope's cluster.
        let hosting = Credential::HostingGrant(
            Record::sign(
                Body::HostingGrant {
                    scope: p("/org/team"),
                    runtime: q,
                    expires: Time(50),
                },
                &key(3),
            )
            .unwrap(),
        );
        assert!(a.may_read(&p("/org/team/data"), q, &hosting, Time(10)));
        assert!(!a.may_read(&p("/org/team"), NodeId(pk(31)), &hosting, Time(10)));
        assert!(!a.may_read(&p("/org/team"), q, &hosting, Time(50)));
    }
}
