//! Node names: this node's claim, the claims of others, resolving a name to
//! a member, and telling this node when another holds its name.
//!
//! A claim ([`crate::identity::NameClaim`]) spreads two ways:
//! * **Over sessions**: a named node sends its claim (inner kind 0x0a) to
//!   each member whose session comes up, so the members it talks to know
//!   its name at once (`tessel status`, whois).
//! * **As a record** under the name's key ([`name_key`]): the node
//!   publishes it when it starts, when its first session comes up and
//!   every [`NAME_RENEW`], for [`NAME_RECORD_TTL`]; the members nearest the
//!   key keep every claim of the name, so any member resolves any name
//!   with one fetch (about log2 of the network's size hops), however large
//!   the network.
//!
//! Which member holds a name is [`super::name_rule`]'s rule, applied to
//! the claims this node holds of it: its own, those that came over
//! sessions and those that the last fetch of the name found. A resolved
//! name is answered from memory for [`NAME_TTL`], then fetched again.
//! After each renewal the node fetches its own name too: if another member
//! holds it, the log says so and [`Node::name_status`] names the holder.
//!
//! A claim is taken only when its node key signed it for this network
//! (and, in a managed network, when it carries the owner's certificate for
//! the same name); one that arrives over a session must be the sender's
//! own. Others are dropped and counted (`name_claim_rejected`).

use std::collections::{BTreeSet, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{name_rule, DropReason, Event, Node};
use crate::identity::address::first_ipv4;
use crate::identity::name_claim::certificate_name;
use crate::identity::{NameClaim, NameError, NodeId, NodeName};

/// How long members keep a name's record.
pub const NAME_RECORD_TTL: Duration = Duration::from_secs(900);
/// How often a named node publishes its claim again.
pub const NAME_RENEW: Duration = Duration::from_secs(300);
/// How long a name resolved through its record is answered from memory
/// (and the TTL of DNS answers).
pub const NAME_TTL: Duration = Duration::from_secs(60);
/// Names resolved through records kept at once.
const MAX_RESOLVED: usize = 1024;

/// What [`Node::resolve_name`] knows at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameLookup {
    /// The member that holds the name.
    Found(NodeId),
    /// No member holds it.
    NotFound,
    /// A fetch of the name's record runs: the answer comes as
    /// [`Event::NameResolved`].
    Pending,
}

/// Why [`Node::set_name`] refused a name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SetNameError {
    /// In a managed network the certificate's name is the node's name.
    #[error(
        "this network is managed and the node's certificate names it {cert:?}: \
         drop --name, or ask the owner for a certificate with the name you want"
    )]
    NotTheCertificateName {
        /// The name in the certificate.
        cert: String,
    },
}

/// This node's name as `tessel status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameStatus {
    /// The name this node claims.
    pub name: String,
    /// The member that holds it instead (`tessel-node-…`), if this node
    /// lost it under the conflict rule.
    pub held_by: Option<String>,
}

/// A name resolved through its record.
#[derive(Clone, Debug)]
struct Resolved {
    /// The checked claims found.
    claims: Vec<NameClaim>,
    at: Instant,
}

/// What the node knows of names.
#[derive(Clone, Debug, Default)]
pub(crate) struct Names {
    own: Option<NameClaim>,
    /// The claims members sent over their sessions, checked.
    of_members: ahash::HashMap<NodeId, NameClaim>,
    /// `of_members` by name.
    by_name: HashMap<NodeName, BTreeSet<NodeId>>,
    resolved: HashMap<NodeName, Resolved>,
    /// Our fetches of name records: key to name.
    fetching: HashMap<[u8; 32], NodeName>,
    next_publish: Option<Instant>,
    /// Whether the last publication went to another member (else it is
    /// published again as soon as a session comes up).
    published_with_sessions: bool,
    /// The member that holds our name instead of us.
    lost_to: Option<NodeId>,
}

/// The record key of a name's claims.
pub fn name_key(name: &NodeName) -> [u8; 32] {
    blake3::derive_key("tessel 2026 name record", name.as_str().as_bytes())
}

impl Names {
    fn insert_member(&mut self, claim: NameClaim) {
        let node = claim.node();
        if let Some(old) = self.of_members.get(&node) {
            if old.claimed_at_ms() > claim.claimed_at_ms() {
                return;
            }
        }
        self.remove_member(&node);
        self.by_name.entry(claim.name()).or_default().insert(node);
        self.of_members.insert(node, claim);
    }

    fn remove_member(&mut self, node: &NodeId) -> Option<NameClaim> {
        let old = self.of_members.remove(node)?;
        let name = old.name();
        if let Some(set) = self.by_name.get_mut(&name) {
            set.remove(node);
            if set.is_empty() {
                self.by_name.remove(&name);
            }
        }
        Some(old)
    }
}

impl Node {
    /// Gives this node `name`, taken at `claimed_at_ms` (ms since the Unix
    /// epoch; keep it across restarts, as the conflict rule favours the
    /// earliest claim): signs the claim, publishes it and sends it to the
    /// members with a session.
    ///
    /// # Errors
    /// In a managed network, a name other than the certificate's.
    pub fn set_name(
        &mut self,
        now: Instant,
        name: NodeName,
        claimed_at_ms: u64,
    ) -> Result<(), SetNameError> {
        let cert = self.own_certificate();
        if let Some(cert) = cert {
            if certificate_name(cert).as_ref() != Some(&name) {
                return Err(SetNameError::NotTheCertificateName { cert: cert.name() });
            }
        }
        let claim = NameClaim::sign(&self.node_key, &self.network, &name, claimed_at_ms, cert);
        self.names.own = Some(claim.clone());
        self.names.lost_to = None;
        let with_session: Vec<NodeId> = self.peers.with_session().map(|p| p.id).collect();
        for to in with_session {
            self.send_encrypted(now, to, claim.as_bytes());
        }
        self.names.next_publish = Some(now);
        self.check_own_name(&name);
        Ok(())
    }

    /// In a managed network, the name this node's certificate gives it (in
    /// lowercase), or why that is no node name; `None` outside one.
    pub fn certificate_name(&self) -> Option<Result<NodeName, NameError>> {
        self.own_certificate().map(|c| NodeName::parse(&c.name()))
    }

    /// The name this node claims, and who holds it if another does.
    pub fn name_status(&self) -> Option<NameStatus> {
        let own = self.names.own.as_ref()?;
        Some(NameStatus {
            name: own.name().to_string(),
            held_by: self.names.lost_to.map(|id| id.to_string()),
        })
    }

    /// The name a member claims (or its certificate gives, in a managed
    /// network), as far as this node knows.
    pub fn name_of(&self, member: &NodeId) -> Option<NodeName> {
        if *member == self.id {
            return self.names.own.as_ref().map(NameClaim::name);
        }
        self.names
            .of_members
            .get(member)
            .map(NameClaim::name)
            .or_else(|| {
                self.peer_certificate(member)
                    .and_then(|c| NodeName::parse(&c.name).ok())
            })
    }

    /// The member that holds `name` among the claims this node holds now
    /// (its own, those sent over sessions, the last fetch of the name),
    /// with no fetch: for whois and for names of members with sessions.
    /// [`Node::resolve_name`] also asks the network.
    pub fn member_by_name(&self, name: &NodeName) -> Option<NodeId> {
        let own = self.names.own.as_ref().filter(|c| c.name() == *name);
        let members = self
            .names
            .by_name
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|id| self.names.of_members.get(id));
        // A fetched claim counts unless this node knows a newer claim of
        // the same member (it renamed since), or it is an old one of ours.
        let fetched = self
            .names
            .resolved
            .get(name)
            .into_iter()
            .flat_map(|r| r.claims.iter())
            .filter(|c| {
                c.node() != self.id
                    && self
                        .names
                        .of_members
                        .get(&c.node())
                        .is_none_or(|m| m.claimed_at_ms() <= c.claimed_at_ms())
            });
        name_rule::holder(own.into_iter().chain(members).chain(fetched))
    }

    /// Resolves `name`: at once from what this node holds when the name was
    /// fetched less than [`NAME_TTL`] ago, else by fetching its record
    /// ([`NameLookup::Pending`], then [`Event::NameResolved`]).
    pub fn resolve_name(&mut self, now: Instant, name: &NodeName) -> NameLookup {
        let fresh = self
            .names
            .resolved
            .get(name)
            .is_some_and(|r| now < r.at + NAME_TTL);
        if fresh {
            return self.lookup_answer(now, name);
        }
        let key = name_key(name);
        self.names.fetching.insert(key, name.clone());
        match self.fetch_record(now, key) {
            Ok(()) => NameLookup::Pending,
            Err(_) => {
                self.names.fetching.remove(&key);
                self.lookup_answer(now, name)
            }
        }
    }

    /// The answer from the claims held, making the holder a member we
    /// know of (so that its IPv4 address reaches it).
    fn lookup_answer(&mut self, now: Instant, name: &NodeName) -> NameLookup {
        match self.member_by_name(name) {
            Some(id) => {
                if id != self.id && !self.peers.contains_key(&id) {
                    self.add_peer(id, None, now, now);
                }
                NameLookup::Found(id)
            }
            None => NameLookup::NotFound,
        }
    }

    /// A member's overlay addresses for a DNS answer: its IPv6 address,
    /// and its IPv4 address if it holds one in our view, or if its first
    /// candidate would reach it.
    pub fn member_addresses(&self, member: &NodeId) -> (Ipv6Addr, Option<Ipv4Addr>) {
        if *member == self.id {
            return (self.ipv6, Some(self.ipv4));
        }
        let v4 = self.ipv4s.addr_of(member).or_else(|| {
            let first = first_ipv4(&self.ipv4_range(), &self.network, member);
            (self.ipv4_owner(&first) == Some(*member)).then_some(first)
        });
        (self.prefix.node_addr(member), v4)
    }

    /// Sends our claim (if we have a name) to `to`, whose session just
    /// came up; publishes it at once if no member kept it yet.
    pub(super) fn send_name_claim(&mut self, now: Instant, to: NodeId) {
        let Some(bytes) = self.names.own.as_ref().map(|c| c.as_bytes().to_vec()) else {
            return;
        };
        self.send_encrypted(now, to, &bytes);
        if !self.names.published_with_sessions {
            self.names.next_publish = Some(now);
        }
    }

    /// Checks a claim: this network, the claimer's signature, and in a
    /// managed network the owner's certificate with the same name.
    fn check_claim(&self, now: Instant, claim: &NameClaim) -> bool {
        match self.owner() {
            Some(owner) => claim
                .verify_managed(&self.network, &owner, self.unix_ms_at(now) / 1000)
                .is_ok(),
            None => claim.verify(&self.network).is_ok(),
        }
    }

    /// Handles the name claim that the member `from` sent over its session.
    pub(super) fn consume_name_claim(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        let Ok(claim) = NameClaim::parse(bytes) else {
            self.drops.add(DropReason::BadInner);
            return;
        };
        if claim.node() != from || !self.check_claim(now, &claim) {
            self.drops.add(DropReason::NameClaimRejected);
            return;
        }
        let name = claim.name();
        tracing::debug!(peer = %from.short(), name = %name, "name claim");
        self.names.insert_member(claim);
        self.check_own_name(&name);
    }

    /// Forgets the claim of a member the node forgot.
    pub(super) fn forget_name(&mut self, member: &NodeId) {
        if let Some(old) = self.names.remove_member(member) {
            self.check_own_name(&old.name());
        }
    }

    /// Takes the records a fetch of a name found (if `key` is a name's):
    /// checks each claim and answers [`Event::NameResolved`].
    pub(super) fn names_fetched(
        &mut self,
        now: Instant,
        key: &[u8; 32],
        records: &[(NodeId, Vec<u8>)],
    ) {
        let Some(name) = self.names.fetching.remove(key) else {
            return;
        };
        let mut claims = Vec::new();
        for (publisher, value) in records {
            let claim = NameClaim::parse(value)
                .ok()
                .filter(|c| c.node() == *publisher && c.name() == name && self.check_claim(now, c));
            match claim {
                Some(c) => claims.push(c),
                None => self.drops.add(DropReason::NameClaimRejected),
            }
        }
        if self.names.resolved.len() >= MAX_RESOLVED && !self.names.resolved.contains_key(&name) {
            let oldest = self
                .names
                .resolved
                .iter()
                .min_by_key(|(n, r)| (r.at, (*n).clone()))
                .map(|(n, _)| n.clone());
            if let Some(n) = oldest {
                self.names.resolved.remove(&n);
            }
        }
        self.names
            .resolved
            .insert(name.clone(), Resolved { claims, at: now });
        self.check_own_name(&name);
        let member = match self.lookup_answer(now, &name) {
            NameLookup::Found(id) => Some(id),
            _ => None,
        };
        self.events.push_back(Event::NameResolved { name, member });
    }

    /// Says in the log (and in [`Node::name_status`]) when another member
    /// comes to hold our name `name`, or we hold it again.
    fn check_own_name(&mut self, name: &NodeName) {
        let Some(own) = self.names.own.as_ref().map(NameClaim::name) else {
            return;
        };
        if own != *name {
            return;
        }
        let lost_to = self.member_by_name(name).filter(|h| *h != self.id);
        if lost_to == self.names.lost_to {
            return;
        }
        self.names.lost_to = lost_to;
        match lost_to {
            Some(holder) => tracing::warn!(
                name = %name, holder = %holder,
                "name {name} is held by {holder}, which claimed it first: this node keeps its \
                 addresses and node ID but does not answer to the name; choose another with --name"
            ),
            None => tracing::info!(name = %name, "this node holds its name {name}"),
        }
    }

    /// Publishes our claim again and fetches our name's record, to learn
    /// whether another member holds it.
    pub(super) fn name_timers(&mut self, now: Instant) {
        if self.names.next_publish.is_none_or(|t| t > now) {
            return;
        }
        let Some(claim) = self.names.own.clone() else {
            self.names.next_publish = None;
            return;
        };
        self.names.next_publish = Some(now + NAME_RENEW);
        self.names.published_with_sessions = self.peers.with_session().next().is_some();
        let name = claim.name();
        let key = name_key(&name);
        if let Err(e) = self.publish_record(now, key, claim.as_bytes(), NAME_RECORD_TTL) {
            tracing::warn!(error = %e, "publishing this node's name");
        }
        // Old answers go; ours is fetched afresh.
        self.names
            .resolved
            .retain(|_, r| now.saturating_duration_since(r.at) < NAME_RECORD_TTL);
        self.check_own_name(&name);
        if self.names.published_with_sessions {
            self.names.fetching.insert(key, name);
            if self.fetch_record(now, key).is_err() {
                self.names.fetching.remove(&key);
            }
        }
    }

    /// When [`Node::name_timers`] next has something to do.
    pub(super) fn name_deadline(&self) -> Option<Instant> {
        self.names.next_publish
    }
}
