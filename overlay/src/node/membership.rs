//! Managed mode: the node checks members' certificates in handshakes,
//! closes sessions whose certificate expires, and keeps, applies and
//! spreads the owner's revocation list (inner kind 0x09; a long list in
//! parts, see `revocation_parts.rs`).
//!
//! A node is in managed mode once [`Node::set_managed`] gave it the owner's
//! key and its own certificate; until then it checks nothing and carries no
//! certificate, as in a network joined by its key alone.

use std::collections::BTreeSet;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::owner_handover::Previous;
use super::{DropReason, Event, Node};
use crate::identity::owner_handover::follow;
use crate::identity::{
    MemberCert, MembershipError, NodeId, OwnerHandover, OwnerId, RevocationList,
};
use crate::wire::member_cert;

/// A member's certificate, as this node checked it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerCert {
    /// The member's name.
    pub name: String,
    /// Its groups.
    pub groups: Vec<String>,
    /// When the certificate expires, in seconds since the Unix epoch.
    pub not_after: u64,
    /// Whether it is signed by the owner that handed the network over (it
    /// counts until the handover's grace ends).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_previous_owner: bool,
}

/// Managed mode as `tessel status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedStatus {
    /// The owner's key (`tessel-owner-…`).
    pub owner: String,
    /// This node's name in its certificate.
    pub name: String,
    /// This node's groups.
    pub groups: Vec<String>,
    /// When this node's certificate expires (Unix seconds).
    pub not_after: u64,
    /// The serial of the revocation list held, if any.
    pub revocations_serial: Option<u64>,
    /// Members that list revokes.
    pub revoked: usize,
    /// The owner that handed the network over to `owner`, if any
    /// (`tessel-owner-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_owner: Option<String>,
    /// Until when (Unix seconds) certificates of `previous_owner` count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_owner_grace_end: Option<u64>,
}

/// Why a revocation list was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// The node is not in managed mode.
    #[error("this node is not in managed mode (start it with --owner and --cert)")]
    NotManaged,
    /// The list is not the owner's, or not for this network.
    #[error("revocation list refused: {0}")]
    Invalid(#[from] MembershipError),
    /// The node holds this list or a newer one.
    #[error("the node already holds revocation list serial {have}")]
    NotNewer {
        /// The serial the node holds.
        have: u64,
    },
}

/// What taking a newer revocation list did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationOutcome {
    /// The list's serial.
    pub serial: u64,
    /// Members whose sessions were closed.
    pub sessions_closed: usize,
}

/// The node's managed-mode state.
#[derive(Clone, Debug)]
pub(super) struct Managed {
    /// The owner in force: the one the node started with, or the last one
    /// a handover named.
    pub(super) owner: OwnerId,
    pub(super) own: MemberCert,
    list: Option<RevocationList>,
    /// The members `list` names.
    revoked: ahash::HashSet<NodeId>,
    /// Certificates of members we completed a handshake with.
    pub(super) certs: ahash::HashMap<NodeId, PeerCert>,
    /// `(not_after, member)` of `certs`, soonest first.
    expiries: BTreeSet<(u64, NodeId)>,
    /// Whether the log said that our own certificate expired.
    own_expiry_told: bool,
    /// A long list being assembled from its parts.
    pub(super) assembly: Option<Box<super::revocation_parts::Assembly>>,
    /// The owner handovers taken, in order from the owner the node started
    /// with.
    pub(super) handovers: Vec<OwnerHandover>,
    /// The owner that handed over to `owner`, if any.
    pub(super) previous: Option<super::owner_handover::Previous>,
}

impl Node {
    /// Puts the node in managed mode: members must show a certificate from
    /// `owner`, and our handshakes carry `cert`; `list` is the revocation
    /// list kept from an earlier run, if any.
    ///
    /// # Errors
    /// `cert` is not from `owner`, not for this node or network, or expired
    /// at `now`; or `list` is not the owner's list for this network.
    pub fn set_managed(
        &mut self,
        now: Instant,
        owner: OwnerId,
        cert: MemberCert,
        list: Option<RevocationList>,
    ) -> Result<(), MembershipError> {
        self.set_managed_with_handovers(now, owner, cert, list, &[])
    }

    /// [`Node::set_managed`] with the owner handovers kept from an earlier
    /// run: those that follow on from `owner` in order apply (the rest are
    /// left out), and the last one's new owner is in force; during its
    /// grace `cert` may be the previous owner's. `list` may be signed by
    /// either.
    ///
    /// # Errors
    /// As [`Node::set_managed`], against the owners in force.
    pub fn set_managed_with_handovers(
        &mut self,
        now: Instant,
        owner: OwnerId,
        cert: MemberCert,
        list: Option<RevocationList>,
        handovers: &[OwnerHandover],
    ) -> Result<(), MembershipError> {
        let now_unix = self.unix_secs(now);
        let (owner, previous, handovers) = follow(owner, &self.network, handovers);
        let previous = previous.map(|(owner, grace_end)| Previous {
            owner,
            grace_end,
            over: grace_end <= now_unix,
        });
        let in_grace = previous.as_ref().filter(|p| !p.over);
        match cert.verify(&owner, &self.network, &self.id, now_unix) {
            Err(MembershipError::BadSignature) if in_grace.is_some() => {
                let p = in_grace.expect("checked");
                cert.verify(&p.owner, &self.network, &self.id, now_unix)?;
            }
            other => other?,
        }
        if let Some(l) = &list {
            let by_previous = previous
                .as_ref()
                .is_some_and(|p| l.verify(&p.owner, &self.network).is_ok());
            if !by_previous {
                l.verify(&owner, &self.network)?;
            }
        }
        self.keys.set_certificate(cert.as_bytes().to_vec());
        if let Some(r) = &mut self.rotation.retiring {
            r.keys.set_certificate(cert.as_bytes().to_vec());
        }
        self.managed = Some(Box::new(Managed {
            owner,
            own: cert,
            list: None,
            revoked: ahash::HashSet::default(),
            certs: ahash::HashMap::default(),
            expiries: BTreeSet::new(),
            own_expiry_told: false,
            assembly: None,
            handovers,
            previous,
        }));
        if let Some(l) = list {
            self.take_revocations(now, l, None);
        }
        Ok(())
    }

    /// Managed mode as `tessel status` shows it (`None`: not managed).
    pub fn managed_status(&self) -> Option<ManagedStatus> {
        let m = self.managed.as_ref()?;
        Some(ManagedStatus {
            owner: m.owner.to_string(),
            name: m.own.name(),
            groups: m.own.groups(),
            not_after: m.own.not_after(),
            revocations_serial: m.list.as_ref().map(RevocationList::serial),
            revoked: m.revoked.len(),
            previous_owner: m.previous.as_ref().map(|p| p.owner.to_string()),
            previous_owner_grace_end: m.previous.as_ref().map(|p| p.grace_end),
        })
    }

    /// This node's own certificate (managed mode).
    pub(super) fn own_certificate(&self) -> Option<&MemberCert> {
        self.managed.as_ref().map(|m| &m.own)
    }

    /// The network owner (managed mode).
    pub(super) fn owner(&self) -> Option<OwnerId> {
        self.managed.as_ref().map(|m| m.owner)
    }

    /// The certificate of `peer` as checked in its last handshake.
    pub fn peer_certificate(&self, peer: &NodeId) -> Option<&PeerCert> {
        self.managed.as_ref()?.certs.get(peer)
    }

    /// Takes a revocation list handed to this node (by its operator): if it
    /// is the owner's and newer than the one held, closes every session
    /// with a member it names and sends it to every member with a session.
    ///
    /// # Errors
    /// Not managed, not the owner's list for this network, or not newer.
    pub fn apply_revocations(
        &mut self,
        now: Instant,
        list: RevocationList,
    ) -> Result<RevocationOutcome, RevocationError> {
        let m = self.managed.as_ref().ok_or(RevocationError::NotManaged)?;
        list.verify(&m.owner, &self.network)?;
        if let Some(have) = m.list.as_ref().map(RevocationList::serial) {
            if list.serial() <= have {
                return Err(RevocationError::NotNewer { have });
            }
        }
        Ok(self.take_revocations(now, list, None))
    }

    /// Whether the owner's revocation list names `id`.
    pub(super) fn is_revoked(&self, id: &NodeId) -> bool {
        self.managed
            .as_ref()
            .is_some_and(|m| m.revoked.contains(id))
    }

    /// Wall-clock seconds at `now`.
    fn unix_secs(&self, now: Instant) -> u64 {
        self.unix_ms_at(now) / 1000
    }

    /// Checks the certificate `bytes` that `peer` sent in a handshake it
    /// proved to be its own. Outside managed mode every handshake passes.
    pub(super) fn check_certificate(
        &self,
        now: Instant,
        peer: &NodeId,
        bytes: &[u8],
    ) -> Result<Option<PeerCert>, DropReason> {
        let Some(m) = &self.managed else {
            return Ok(None);
        };
        if bytes.is_empty() {
            return Err(DropReason::CertMissing);
        }
        // Initiations carry it padded (see `wire::member_cert::pad`).
        let cert = member_cert::unpad(bytes)
            .ok()
            .and_then(|b| MemberCert::parse(b).ok())
            .ok_or(DropReason::CertInvalid)?;
        let now_unix = self.unix_secs(now);
        let mut by_previous_owner = false;
        match cert.verify(&m.owner, &self.network, peer, now_unix) {
            Ok(()) => {}
            Err(MembershipError::Expired) => return Err(DropReason::CertExpired),
            Err(MembershipError::BadSignature) if m.previous.is_some() => {
                let p = m.previous.as_ref().expect("checked");
                match cert.verify(&p.owner, &self.network, peer, now_unix) {
                    Ok(()) if p.grace_end > now_unix => by_previous_owner = true,
                    Ok(()) => return Err(DropReason::CertRetiredOwner),
                    Err(MembershipError::Expired) => return Err(DropReason::CertExpired),
                    Err(_) => return Err(DropReason::CertInvalid),
                }
            }
            Err(_) => return Err(DropReason::CertInvalid),
        }
        if m.revoked.contains(peer) {
            return Err(DropReason::Revoked);
        }
        Ok(Some(PeerCert {
            name: cert.name(),
            groups: cert.groups(),
            not_after: cert.not_after(),
            by_previous_owner,
        }))
    }

    /// Remembers the certificate a member showed in a handshake that
    /// completed, and wakes the node when it expires.
    pub(super) fn note_certificate(&mut self, peer: NodeId, cert: Option<PeerCert>) {
        let (Some(m), Some(cert)) = (self.managed.as_mut(), cert) else {
            return;
        };
        let at = cert.not_after;
        if let Some(old) = m.certs.insert(peer, cert) {
            m.expiries.remove(&(old.not_after, peer));
        }
        m.expiries.insert((at, peer));
    }

    /// Forgets what managed mode knew of a member the node forgot.
    pub(super) fn forget_certificate(&mut self, peer: &NodeId) {
        if let Some(m) = self.managed.as_mut() {
            if let Some(old) = m.certs.remove(peer) {
                m.expiries.remove(&(old.not_after, *peer));
            }
        }
    }

    /// When the soonest certificate of a member we know, or our own (until
    /// the log said so), expires.
    pub(super) fn certificate_deadline(&self) -> Option<Instant> {
        let m = self.managed.as_ref()?;
        let own = (!m.own_expiry_told).then(|| m.own.not_after());
        let grace = m.previous.as_ref().filter(|p| !p.over).map(|p| p.grace_end);
        let not_after = m
            .expiries
            .first()
            .map(|e| e.0)
            .into_iter()
            .chain(own)
            .chain(grace)
            .min()?;
        Some(
            self.time
                .instant_at_or_after_origin(not_after.saturating_mul(1000)),
        )
    }

    /// Closes the sessions of members whose certificate has expired, and
    /// says in the log when our own has (members refuse us from then on).
    pub(super) fn expire_certificates(&mut self, now: Instant) {
        let now_unix = self.unix_secs(now);
        self.end_owner_grace(now_unix);
        if let Some(m) = self.managed.as_mut() {
            if !m.own_expiry_told && m.own.not_after() <= now_unix {
                m.own_expiry_told = true;
                tracing::error!(
                    "this node's member certificate has expired: members refuse new sessions \
                     with it; have the owner sign a new one (`tessel network sign`) and restart \
                     with --cert"
                );
            }
        }
        loop {
            let Some(m) = self.managed.as_mut() else {
                return;
            };
            let Some(&(not_after, id)) = m.expiries.first() else {
                return;
            };
            if not_after > now_unix {
                return;
            }
            tracing::info!(peer = %id.short(), "member certificate expired: closing its sessions");
            self.remove_peer(&id);
        }
    }

    /// Sends the revocation list we hold (if any) to `to`, whose session
    /// just came up: whole, or a long list's first part, from which `to`
    /// pulls the rest if it needs it.
    pub(super) fn send_revocations(&mut self, now: Instant, to: NodeId) {
        // Handovers first: the list may be signed by the owner they name.
        self.offer_owner_handovers(now, to);
        self.offer_revocations(now, to);
    }

    /// The revocation list held (managed mode).
    pub(super) fn held_revocations(&self) -> Option<&RevocationList> {
        self.managed.as_ref()?.list.as_ref()
    }

    /// Handles a revocation list from the member `from`.
    pub(super) fn consume_revocations(&mut self, now: Instant, from: NodeId, msg: &[u8]) {
        let Ok(list) = RevocationList::parse(msg) else {
            self.drops.add(DropReason::BadInner);
            return;
        };
        let Some(m) = &self.managed else {
            self.drops.add(DropReason::RevocationsRejected);
            return;
        };
        // Older or the same: the flood has passed here already (checked
        // first: it costs no signature check).
        if m.list.as_ref().is_some_and(|l| l.serial() >= list.serial()) {
            return;
        }
        if list.verify(&m.owner, &self.network).is_err() {
            self.drops.add(DropReason::RevocationsRejected);
            return;
        }
        self.take_revocations(now, list, Some(from));
    }

    /// Makes a verified, newer `list` the one held: closes the sessions of
    /// the members it names, forgets them, persists it (event) and sends it
    /// on to every member with a session but `from`.
    pub(super) fn take_revocations(
        &mut self,
        now: Instant,
        list: RevocationList,
        from: Option<NodeId>,
    ) -> RevocationOutcome {
        let revoked: ahash::HashSet<NodeId> = list
            .entries()
            .iter()
            .map(|e| NodeId::unchecked(e.node_id))
            .collect();
        let serial = list.serial();
        if revoked.contains(&self.id) {
            tracing::error!("the network owner revoked this node: members will refuse it");
        }
        let mut sessions_closed = 0;
        let mut gone: Vec<NodeId> = revoked
            .iter()
            .filter(|id| self.peers.contains_key(id))
            .copied()
            .collect();
        gone.sort();
        for id in gone {
            if self
                .peers
                .get(&id)
                .is_some_and(|p| p.connected(now) || p.next.is_some())
            {
                sessions_closed += 1;
            }
            tracing::info!(peer = %id.short(), "member revoked: closing its sessions");
            self.remove_peer(&id);
        }
        let bytes = list.as_bytes().to_vec();
        let m = self.managed.as_mut().expect("managed");
        if m.assembly.as_ref().is_some_and(|a| a.serial() <= serial) {
            m.assembly = None;
        }
        m.revoked = revoked;
        m.list = Some(list);
        tracing::info!(serial, sessions_closed, "took revocation list");
        self.events.push_back(Event::RevocationsChanged(bytes));
        let recipients: Vec<NodeId> = self
            .peers
            .with_session()
            .map(|p| p.id)
            .filter(|id| Some(*id) != from)
            .collect();
        for to in recipients {
            self.offer_revocations(now, to);
        }
        RevocationOutcome {
            serial,
            sessions_closed,
        }
    }
}

#[cfg(test)]
impl Managed {
    /// Makes the node check others against `owner` while it still shows
    /// its certificate from another.
    pub(super) fn set_owner_for_test(&mut self, owner: OwnerId) {
        self.owner = owner;
    }
}
