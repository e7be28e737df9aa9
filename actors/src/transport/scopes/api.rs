//! The scope calls a host makes. Each uses the time of the last input (or
//! [`Transport::set_time`]); results that take the network come later as
//! notices.

use super::spread::Outgoing;
use super::{Membership, OwnReg, Purpose};
use crate::ids::{EngineAddr, NodeId};
use crate::scope::record::check_service;
use crate::scope::table::reg_issued;
use crate::scope::{
    AuthError, Body, ClusterTable, Credential, Kind, QueryKind, Record, ScopeError, ScopePath,
    ScopeQueryId, SECTOR,
};
use crate::transport::Transport;

impl Transport {
    /// Sets the root-cluster runtimes queries start from when the cache
    /// knows no cluster on the way (from the configuration or DNS, resolved
    /// by the host; may come late). This runtime, if listed or a member of
    /// the root cluster, is asked last. Registrations waiting for a start
    /// are placed now.
    pub fn set_scope_bootstrap(&mut self, runtimes: Vec<NodeId>) {
        let me = self.node_id();
        let now = self.now;
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        let mut v: Vec<NodeId> = Vec::new();
        for r in &runtimes {
            if *r != me && !v.contains(r) {
                v.push(*r);
            }
        }
        // A member of the root cluster is a bootstrap runtime itself.
        if runtimes.contains(&me) || s.members.contains_key(&ScopePath::root()) {
            v.push(me);
        }
        s.querier.bootstrap = v;
        for o in s.own.values_mut() {
            if o.placed.is_none() {
                o.next = now;
            }
        }
    }

    /// Takes a record signed elsewhere by an owner key: a scope creation,
    /// hosting grant, read capability, read grant or revocation. It is
    /// checked against what is known (a record whose chain is not known yet
    /// is kept until it is), kept, and pushed on: creations and revocations
    /// flood the tree of clusters (from this runtime's clusters, else
    /// through a root runtime); grants and capabilities go to the cluster
    /// responsible for their scope, which spreads them to its members.
    ///
    /// # Errors
    /// Scopes off, a record of another kind, a record that fails its
    /// checks, or a full table.
    pub fn scope_add_record(&mut self, rec: Record) -> Result<(), ScopeError> {
        let now = self.now;
        let max_book = self.config.scope_max_book;
        let s = self.scopes.as_mut().ok_or(ScopeError::Disabled)?;
        match rec.body.kind() {
            Kind::ScopeCreate => match s.authority.add_scope(&rec) {
                Ok(true) => {
                    self.flood_own(&rec);
                    self.retry_pending();
                    Ok(())
                }
                Ok(false) => Ok(()),
                Err(AuthError::UnknownParent) => {
                    self.keep_pending(rec, true);
                    Ok(())
                }
                Err(e) => Err(e.into()),
            },
            Kind::Revocation => match s.authority.revoke(&rec) {
                Ok(true) => {
                    self.apply_revocations();
                    self.flood_own(&rec);
                    Ok(())
                }
                Ok(false) => Ok(()),
                Err(e) => Err(e.into()),
            },
            Kind::HostingGrant | Kind::ReadCap | Kind::ReadGrant => {
                let checked = if rec.body.kind() == Kind::HostingGrant {
                    s.authority.check_grant(&rec, now).map(|(sc, _)| sc)
                } else {
                    s.authority.check_read(&rec, now)
                };
                let scope = match checked {
                    Ok(sc) => sc,
                    Err(AuthError::UnknownScope) => {
                        self.keep_pending(rec, true);
                        return Ok(());
                    }
                    Err(e) => return Err(e.into()),
                };
                let id = rec.id();
                if !s.book.contains_key(&id) {
                    if s.book.len() >= max_book {
                        return Err(ScopeError::Full);
                    }
                    s.book.insert(id, rec.clone());
                }
                self.place_book(rec, &scope);
                Ok(())
            }
            _ => Err(ScopeError::WrongKind),
        }
    }

    /// Sends a creation or revocation taken here into the tree of
    /// clusters.
    fn flood_own(&mut self, rec: &Record) {
        let me = self.node_id();
        let Some(s) = self.scopes.as_ref() else {
            return;
        };
        if s.members.is_empty() {
            let group = s.flood_group(rec);
            if let Some(t) = s.querier.bootstrap.iter().copied().find(|n| *n != me) {
                self.push_to(t, group);
            }
            return;
        }
        let clusters: Vec<ScopePath> = s.members.keys().cloned().collect();
        let mut out = Outgoing::default();
        for c in clusters {
            self.after_flood(&c, me, true, rec, &mut out);
        }
        self.scope_flush(out);
    }

    /// Registers `service` in `scope` for this runtime, optionally served
    /// by `engine`, under the hosting `grant` (for this runtime and scope).
    /// The registration is signed with the node key, pushed to the cluster
    /// responsible for `scope` and renewed at half its lifetime. Registering
    /// [`SECTOR`] makes this runtime a member of `scope`'s sector cluster.
    /// Registering again replaces the registration.
    ///
    /// # Errors
    /// Scopes off, an invalid service, a grant of another kind or for
    /// another runtime or scope, a grant that fails its checks (its scope's
    /// creations must have been given with [`Self::scope_add_record`]), or
    /// too many registrations.
    pub fn scope_register(
        &mut self,
        scope: ScopePath,
        service: &str,
        engine: Option<EngineAddr>,
        grant: Record,
    ) -> Result<(), ScopeError> {
        let me = self.node_id();
        let now = self.now;
        let cache_ms = self.config.scope_cache_ms;
        let limits = self.config.scope_limits;
        let s = self.scopes.as_mut().ok_or(ScopeError::Disabled)?;
        check_service(service).map_err(|_| ScopeError::InvalidService)?;
        match &grant.body {
            Body::HostingGrant {
                scope: gs, runtime, ..
            } if *gs == scope && *runtime == me => {}
            Body::HostingGrant { .. } => return Err(ScopeError::GrantMismatch),
            _ => return Err(ScopeError::WrongKind),
        }
        s.authority.check_grant(&grant, now)?;
        let key = (scope.clone(), service.to_owned());
        if !s.own.contains_key(&key) && s.own.len() >= limits.per_scope {
            return Err(ScopeError::Full);
        }
        let prev = s.own.get(&key).map(|o| reg_issued(&o.reg));
        let reg = self.sign_registration(&scope, service, engine, prev)?;
        let Some(s) = self.scopes.as_mut() else {
            return Err(ScopeError::Disabled);
        };
        s.own.insert(
            key.clone(),
            OwnReg {
                engine,
                grant,
                reg,
                next: now,
                placed: None,
                spare: Vec::new(),
                error: None,
                locating: false,
            },
        );
        if service == SECTOR && scope.is_root() && !s.querier.bootstrap.contains(&me) {
            s.querier.bootstrap.push(me);
        }
        if service == SECTOR && !s.members.contains_key(&scope) {
            tracing::debug!(%scope, "scopes: joining sector cluster");
            s.members.insert(
                scope.clone(),
                Membership {
                    table: ClusterTable::new(me, scope.clone(), cache_ms, limits),
                    generation: None,
                    since: now,
                    gen_asked: None,
                    gen_attempts: 0,
                    seen: Default::default(),
                    want_sync: true,
                },
            );
            if s.upkeep_at < now {
                s.upkeep_at = now;
            }
        }
        self.take_own(&key);
        self.place(&key);
        Ok(())
    }

    /// Withdraws this runtime's registration of `service` in `scope`: a
    /// signed withdrawal goes where the registration went. Withdrawing
    /// [`SECTOR`] leaves that cluster (the last member hands what it held
    /// to the cluster above).
    ///
    /// # Errors
    /// Scopes off, or no such registration.
    pub fn scope_withdraw(&mut self, scope: &ScopePath, service: &str) -> Result<(), ScopeError> {
        let me = self.node_id();
        let now = self.now;
        let s = self.scopes.as_mut().ok_or(ScopeError::Disabled)?;
        let key = (scope.clone(), service.to_owned());
        let own = s.own.remove(&key).ok_or(ScopeError::NotRegistered)?;
        let issued = now.max(reg_issued(&own.reg).plus_ms(1));
        let body = Body::Withdrawal {
            scope: scope.clone(),
            service: service.to_owned(),
            runtime: me,
            issued,
        };
        let w = Record::sign_with(body, me.0, |m| self.keys.sign_node(m))
            .map_err(|_| ScopeError::InvalidService)?;
        self.withdraw_own(&key, w);
        Ok(())
    }

    /// Looks up the runtimes hosting `service` in `scope` (`All`) or in the
    /// scope or its nearest ancestor that has any (`Closest`), with `cred`
    /// for access. The cache answers first, then the network, following
    /// redirects. The result comes as [`crate::Notice::ScopeAnswer`].
    pub fn scope_query(
        &mut self,
        kind: QueryKind,
        scope: ScopePath,
        service: &str,
        cred: Credential,
    ) -> ScopeQueryId {
        let id = self.next_id();
        self.scope_run_query(id, kind, scope, service, cred, Purpose::Answer);
        ScopeQueryId(id)
    }

    /// Sends `payload` from local engine `from` to `service` in `scope`:
    /// resolved as [`Self::scope_query`] does, then cast to the engine of
    /// every registration found (`All`: a multicast to the cluster) or of
    /// one of the nearest (`Closest`). The outcome comes as
    /// [`crate::Notice::ScopeSent`]: the engines it was handed to, or why
    /// not (no runtime, registrations without an engine, an engine gone or
    /// unreachable).
    pub fn scope_send(
        &mut self,
        from: EngineAddr,
        kind: QueryKind,
        scope: ScopePath,
        service: &str,
        cred: Credential,
        payload: Vec<u8>,
    ) -> ScopeQueryId {
        let id = self.next_id();
        if self.scopes.is_none() {
            self.send_over(id, Err(ScopeError::Disabled));
            return ScopeQueryId(id);
        }
        if !self.engines.contains_key(&from) {
            self.send_over(id, Err(ScopeError::NotLocal(from)));
            return ScopeQueryId(id);
        }
        self.send_start(id, from, kind, payload);
        self.scope_run_query(id, kind, scope, service, cred, Purpose::Send);
        ScopeQueryId(id)
    }
}
