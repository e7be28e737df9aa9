//! Cluster generation numbers.
//!
//! A generation is a record (kind 8) signed by a runtime of the root
//! cluster: `{scope, serial, issued}`. It travels with the signer's sector
//! registration at `/` and the hosting grant behind it, so any member can
//! check that a root runtime signed it. Uniqueness: a root runtime never
//! signs a serial twice (its serials grow from the saved [`ScopeState`]
//! and never fall below its clock), and two root runtimes have different
//! keys, so the pair (signer, serial) names one cluster in the network.
//! A cluster founded twice at once (two first members asking two root
//! runtimes) gets two; its members keep the earliest (then the lowest
//! signer and serial), telling each other, so they agree.
//!
//! The first member of a new cluster pushes its sector registration (with
//! chain and grant), flagged as a generation request, to a root runtime
//! (the bootstrap runtimes in turn); the root runtime answers with the
//! bundle, and the member spreads it in its cluster. Root runtimes assign
//! their own cluster's generation themselves. A member without one asks
//! again at each upkeep once it has been a member for an upkeep period
//! (time for a sync to bring it).
//!
//! [`ScopeState`]: crate::scope::ScopeState

use super::spread::Outgoing;
use super::GenBundle;
use crate::ids::NodeId;
use crate::scope::hosting::Generation;
use crate::scope::{AuthError, Body, Record, ScopePath, SECTOR};
use crate::transport::Transport;
use crate::wire::frame::Frame;
use crate::wire::scope_push::ScopePush;

/// Most generation records a root runtime remembers having assigned.
const MAX_ASSIGNED: usize = 4096;

impl Transport {
    /// Checks a generation record and its proof.
    pub(super) fn check_bundle(
        &self,
        cert: &Record,
        reg: &Record,
        grant: &Record,
    ) -> Result<GenBundle, AuthError> {
        let s = self.scopes.as_ref().ok_or(AuthError::UnknownScope)?;
        let (_, serial) = s.authority.check_generation(cert, reg, grant)?;
        let Body::Generation { issued, .. } = cert.body else {
            return Err(AuthError::WrongKind);
        };
        Ok(GenBundle {
            cert: cert.clone(),
            reg: reg.clone(),
            grant: grant.clone(),
            gen: Generation {
                serial,
                assigner: NodeId(cert.signer),
            },
            issued,
        })
    }

    /// Takes a checked generation for the cluster it names, if it is one
    /// of ours and ranks before the one held; a member that sent a later
    /// one is told ours.
    pub(super) fn take_generation(
        &mut self,
        from: NodeId,
        b: GenBundle,
        clusters: &[(ScopePath, bool)],
        out: &mut Outgoing,
    ) {
        let me = self.node_id();
        let now = self.now;
        let Body::Generation { scope, .. } = &b.cert.body else {
            return;
        };
        let scope = scope.clone();
        let Some(&(_, fresh)) = clusters.iter().find(|(c, _)| *c == scope) else {
            return;
        };
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        let root_chain = s.chain(&ScopePath::root());
        let Some(m) = s.members.get_mut(&scope) else {
            return;
        };
        if let Some(cur) = &m.generation {
            if cur.rank() < b.rank() && from != me && m.table.members(now).contains(&from) {
                let mut g = root_chain.clone();
                g.extend(cur.records());
                out.add(from, true, g);
            }
            if cur.rank() <= b.rank() {
                return;
            }
        }
        tracing::debug!(%scope, generation = %b.gen, "scopes: generation adopted");
        let mut group = root_chain;
        group.extend(b.records());
        m.generation = Some(b);
        self.stats.scopes.generations_adopted += 1;
        if fresh {
            self.to_members(&scope, from, &group, out);
        }
    }

    /// Whether this runtime is a member of the root cluster.
    fn is_root_member(&self) -> bool {
        self.scopes
            .as_ref()
            .is_some_and(|s| s.members.contains_key(&ScopePath::root()))
    }

    /// Signs (or finds again) the generation of `scope` for `requester`;
    /// `None` unless this runtime is registered at `/` for the sector
    /// service.
    fn assign(&mut self, scope: &ScopePath, requester: NodeId) -> Option<GenBundle> {
        let me = self.node_id();
        let now = self.now;
        let s = self.scopes.as_mut()?;
        if let Some(b) = s.assigned.get(&(scope.clone(), requester)) {
            return Some(b.clone());
        }
        let o = s.own.get(&(ScopePath::root(), SECTOR.to_owned()))?;
        let (reg, grant) = (o.reg.clone(), o.grant.clone());
        let serial = s.next_serial.max(now.0);
        s.next_serial = serial.saturating_add(1);
        let body = Body::Generation {
            scope: scope.clone(),
            serial,
            issued: now,
        };
        let cert = Record::sign_with(body, me.0, |m| self.keys.sign_node(m)).ok()?;
        let b = GenBundle {
            cert,
            reg,
            grant,
            gen: Generation {
                serial,
                assigner: me,
            },
            issued: now,
        };
        let s = self.scopes.as_mut()?;
        if s.assigned.len() >= MAX_ASSIGNED {
            if let Some(k) = s.assigned.keys().next().cloned() {
                s.assigned.remove(&k);
            }
        }
        s.assigned.insert((scope.clone(), requester), b.clone());
        self.stats.scopes.generations_assigned += 1;
        tracing::debug!(%scope, generation = %b.gen, "scopes: generation assigned");
        Some(b)
    }

    /// Asks for a generation for our cluster at `scope` (assigning it
    /// ourselves as a root runtime).
    pub(super) fn request_generation(&mut self, scope: &ScopePath) {
        let me = self.node_id();
        let now = self.now;
        let root = self.is_root_member();
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        let Some(m) = s.members.get_mut(scope) else {
            return;
        };
        if m.generation.is_some() {
            return;
        }
        m.gen_asked = Some(now);
        m.gen_attempts += 1;
        let attempt = m.gen_attempts;
        if root {
            if let Some(b) = self.assign(scope, me) {
                let clusters = vec![(scope.clone(), true)];
                let mut out = Outgoing::default();
                self.take_generation(me, b, &clusters, &mut out);
                self.scope_flush(out);
            }
            return;
        }
        let Some(s) = self.scopes.as_ref() else {
            return;
        };
        let roots: Vec<NodeId> = s
            .querier
            .bootstrap
            .iter()
            .copied()
            .filter(|n| *n != me)
            .collect();
        let Some(o) = s.own.get(&(scope.clone(), SECTOR.to_owned())) else {
            return;
        };
        if roots.is_empty() {
            return;
        }
        let t = roots[(attempt - 1) % roots.len()];
        let records = s.reg_group(&o.reg, &o.grant);
        self.scope_frame(
            t,
            Frame::ScopePush(ScopePush {
                forwarded: false,
                generation_request: true,
                sync_request: false,
                records,
            }),
        );
    }

    /// A generation request from `peer`: a root runtime checks the sector
    /// registration it carries (signed by `peer`) and answers with the
    /// bundle.
    pub(super) fn on_generation_request(&mut self, peer: NodeId, records: &[Record]) {
        let now = self.now;
        if !self.is_root_member() {
            self.stats.scopes.records_refused += 1;
            return;
        }
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        for rec in records
            .iter()
            .filter(|r| matches!(r.body, Body::ScopeCreate { .. }))
        {
            let _ = s.authority.add_scope(rec);
        }
        let reg = records.iter().find(|r| {
            matches!(&r.body, Body::Registration { service, runtime, .. }
                if service == SECTOR && *runtime == peer)
        });
        let grant = reg.and_then(|reg| match &reg.body {
            Body::Registration { scope, .. } => records.iter().find(|g| {
                matches!(&g.body, Body::HostingGrant { scope: gs, runtime, .. }
                    if gs == scope && *runtime == peer)
            }),
            _ => None,
        });
        let (Some(reg), Some(grant)) = (reg, grant) else {
            self.stats.scopes.records_refused += 1;
            return;
        };
        if let Err(e) = s.authority.check_registration(reg, grant, now) {
            self.count_refusal(&e);
            return;
        }
        let Body::Registration { scope, .. } = &reg.body else {
            return;
        };
        let scope = scope.clone();
        let Some(b) = self.assign(&scope, peer) else {
            return;
        };
        let Some(s) = self.scopes.as_ref() else {
            return;
        };
        let mut group = s.chain(&ScopePath::root());
        group.extend(b.records());
        let mut out = Outgoing::default();
        out.add(peer, true, group);
        self.scope_flush(out);
    }
}
