//! Managed mode: owner handovers (inner kind 0x0c). The owner in force
//! can hand the network to a new owner key; members take a handover that
//! it signed, pass it on to every member with a session (by novelty: one
//! already held goes no further), offer what they hold to each new
//! session, and persist it. Certificates of the previous owner count until
//! the handover's grace ends; then the sessions they admitted close and
//! they are refused (`cert_retired_owner`). Revocation lists and signed
//! rotations are checked against the owner in force.

use super::{DropReason, Event, Node};
use crate::identity::{MembershipError, NodeId, OwnerHandover, OwnerId};
use std::time::Instant;

/// Most handovers a node keeps (and takes) from the owner it started with.
pub const MAX_HANDOVERS: usize = 16;

/// The owner that handed the network over to the owner in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Previous {
    /// Its key.
    pub(super) owner: OwnerId,
    /// Until when (Unix seconds) its certificates count.
    pub(super) grace_end: u64,
    /// Whether the grace ended and the sessions it admitted were closed.
    pub(super) over: bool,
}

/// Why an owner handover was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandoverError {
    /// The node is not in managed mode.
    #[error("this node is not in managed mode (start it with --owner and --cert)")]
    NotManaged,
    /// Not signed by the key it names as the old owner, or for another
    /// network.
    #[error("owner handover refused: {0}")]
    Invalid(#[from] MembershipError),
    /// The old owner it names is not the owner in force.
    #[error("the handover is from {from}, but the network's owner is {owner}")]
    NotFromOwner {
        /// The old owner the handover names.
        from: String,
        /// The owner in force.
        owner: String,
    },
    /// The node holds this handover already.
    #[error("the node holds this handover already")]
    Held,
    /// The node holds as many handovers as it keeps.
    #[error("the node holds {MAX_HANDOVERS} handovers already")]
    TooMany,
}

/// What taking a handover did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverOutcome {
    /// The owner in force now.
    pub owner: OwnerId,
    /// Until when (Unix seconds) the old owner's certificates count.
    pub grace_end_s: u64,
}

impl Node {
    /// Takes an owner handover handed to this node (by its operator): if
    /// the owner in force signed it for this network, the new owner is in
    /// force from now on and the handover goes to every member with a
    /// session.
    ///
    /// # Errors
    /// Not managed, not valid, not from the owner in force, or held.
    pub fn apply_owner_handover(
        &mut self,
        now: Instant,
        handover: OwnerHandover,
    ) -> Result<HandoverOutcome, HandoverError> {
        let m = self.managed.as_ref().ok_or(HandoverError::NotManaged)?;
        if m.handovers.contains(&handover) {
            return Err(HandoverError::Held);
        }
        handover.verify(&self.network)?;
        if handover.old_owner() != *m.owner.as_bytes() {
            let from = OwnerId::from_bytes(handover.old_owner())
                .map_or_else(|_| "?".to_owned(), |o| o.to_string());
            return Err(HandoverError::NotFromOwner {
                from,
                owner: m.owner.to_string(),
            });
        }
        if m.handovers.len() >= MAX_HANDOVERS {
            return Err(HandoverError::TooMany);
        }
        self.take_owner_handover(now, handover, None)
            .ok_or(HandoverError::Invalid(MembershipError::BadSignature))
    }

    /// Sends every handover held, in order, to `to`, whose session just
    /// came up.
    pub(super) fn offer_owner_handovers(&mut self, now: Instant, to: NodeId) {
        let Some(m) = &self.managed else {
            return;
        };
        let msgs: Vec<Vec<u8>> = m.handovers.iter().map(|h| h.as_bytes().to_vec()).collect();
        for msg in msgs {
            self.send_encrypted(now, to, &msg);
        }
    }

    /// Handles an owner handover from the member `from`.
    pub(super) fn consume_owner_handover(&mut self, now: Instant, from: NodeId, msg: &[u8]) {
        let Ok(handover) = OwnerHandover::parse(msg) else {
            self.drops.add(DropReason::BadInner);
            return;
        };
        let Some(m) = &self.managed else {
            self.drops.add(DropReason::OwnerHandoverRejected);
            return;
        };
        // Held: the flood has passed here already.
        if m.handovers.contains(&handover) {
            return;
        }
        if handover.old_owner() != *m.owner.as_bytes()
            || m.handovers.len() >= MAX_HANDOVERS
            || handover.verify(&self.network).is_err()
        {
            self.drops.add(DropReason::OwnerHandoverRejected);
            return;
        }
        self.take_owner_handover(now, handover, Some(from));
    }

    /// Makes the new owner of a verified `handover` from the owner in force
    /// the owner: the sessions admitted by the owner before (whose grace
    /// this ends early) close, the old owner's certificates count until
    /// the grace ends; persists the handovers (event) and sends it on to
    /// every member with a session but `from`.
    fn take_owner_handover(
        &mut self,
        now: Instant,
        handover: OwnerHandover,
        from: Option<NodeId>,
    ) -> Option<HandoverOutcome> {
        let new = OwnerId::from_bytes(handover.new_owner()).ok()?;
        let grace_end = handover.grace_end_s();
        let now_unix = self.unix_ms_at(now) / 1000;
        let m = self.managed.as_mut()?;
        // Members admitted by the owner before the old one: their grace
        // ends with this handover.
        let mut gone: Vec<NodeId> = m
            .certs
            .iter()
            .filter(|(_, c)| c.by_previous_owner)
            .map(|(id, _)| *id)
            .collect();
        gone.sort();
        for c in m.certs.values_mut() {
            c.by_previous_owner = true;
        }
        let old = m.owner;
        m.previous = Some(Previous {
            owner: old,
            grace_end,
            over: false,
        });
        m.owner = new;
        m.handovers.push(handover.clone());
        let own_is_new = m
            .own
            .verify(&new, &self.network, &self.id, now_unix)
            .is_ok();
        let held = m.handovers.clone();
        for id in gone {
            self.remove_peer(&id);
        }
        tracing::info!(owner = %new, grace_end, "took owner handover");
        if !own_is_new {
            tracing::warn!(
                grace_end,
                "this node's certificate is the previous owner's: members refuse it after the \
                 handover's grace; have the new owner sign one (`tessel network sign`) and restart \
                 with --cert"
            );
        }
        self.events.push_back(Event::OwnerHandoversChanged(held));
        let recipients: Vec<NodeId> = self
            .peers
            .with_session()
            .map(|p| p.id)
            .filter(|id| Some(*id) != from)
            .collect();
        for to in recipients {
            self.send_encrypted(now, to, handover.as_bytes());
        }
        // A grace already over at arrival ends at once.
        self.end_owner_grace(now_unix);
        Some(HandoverOutcome {
            owner: new,
            grace_end_s: grace_end,
        })
    }

    /// Once the grace of the last handover has ended: closes the sessions
    /// of members whose certificate is the previous owner's, and all of
    /// them if this node's own certificate is.
    pub(super) fn end_owner_grace(&mut self, now_unix: u64) {
        let Some(m) = self.managed.as_mut() else {
            return;
        };
        let Some(p) = m.previous.as_mut() else {
            return;
        };
        if p.over || p.grace_end > now_unix {
            return;
        }
        p.over = true;
        // Our own certificate retired too: every session is one the old
        // owner's certificate admitted, and the other side closes it.
        let own_retired = m
            .own
            .verify(&m.owner, &self.network, &self.id, now_unix)
            .is_err();
        let mut gone: Vec<NodeId> = m
            .certs
            .iter()
            .filter(|(_, c)| own_retired || c.by_previous_owner)
            .map(|(id, _)| *id)
            .collect();
        gone.sort();
        if own_retired {
            tracing::error!(
                "the previous owner's grace has ended: members refuse this node's certificate; \
                 have the new owner sign one (`tessel network sign`) and restart with --cert"
            );
        }
        for id in gone {
            tracing::info!(peer = %id.short(), "previous owner's grace ended: closing its sessions");
            self.remove_peer(&id);
        }
    }
}
