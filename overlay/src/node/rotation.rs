//! Network key rotation: two key generations, the current one and, for a
//! grace period, the one it replaced; and the key updates (inner kind 0x08,
//! `wire/key_update.rs`) that spread a new key over sessions.
//!
//! Every message with a network MAC (initiation, response, cookie reply,
//! hello, hello-ack, probe, beacon, keyed STUN) is accepted under either
//! generation while the retiring one is valid, and answered under the
//! generation it came in, so a member that still holds only the old key
//! gets answers it can check. Our own initiations use the current key, and
//! every other retry of one round uses the retiring key. Sessions and
//! handshakes made under the retiring key are remembered by local index;
//! when the grace ends, the retiring key is dropped (its MACs become bad
//! MACs) and those sessions are closed. Data messages never look at a
//! network key: sessions are found by index.
//!
//! In managed mode only the network owner may rotate: a rotation must come
//! with the owner's signature ([`SignedRotation`]), every key update
//! carries it, and members drop updates without it or with a wrong one
//! (`key_update_unsigned`). Without an owner, any member may rotate.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tessel_nat::stun::{IntegrityKey, Responder};
use zeroize::Zeroize;

use super::{DropReason, Event, Node};
use crate::identity::signed_rotation::{self, SignedRotation};
use crate::identity::{NetworkKey, NodeId};
use crate::session::handshake::HandshakeKeys;
use crate::wire::key_update;

/// The longest grace a key update can impose: a member that receives one
/// refuses the old key at the latest this long after.
pub const MAX_GRACE: Duration = Duration::from_secs(30 * 24 * 3600);

/// Which key generation a message was made or checked under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Generation {
    /// The current network key.
    Current,
    /// The key the current one replaced, during its grace period.
    Retiring,
}

/// The key being retired, with its material.
#[derive(Clone)]
pub(super) struct Retiring {
    /// The key itself (persisted by the driver).
    pub(super) key: NetworkKey,
    /// Its handshake material (PSK, MAC keys, cookie keys).
    pub(super) keys: HandshakeKeys,
    /// Answers keyed STUN requests made with it.
    pub(super) stun: Responder,
    /// When it stops being accepted.
    pub(super) refuse_after: Instant,
}

/// Why a rotation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RotateError {
    /// A managed network's key is rotated only with the owner's signature.
    #[error("in a managed network only the owner rotates the network key (use --owner-key)")]
    OwnerSignatureRequired,
    /// A signed rotation handed to a node outside managed mode.
    #[error("this node is not in managed mode: rotate without the owner's signature")]
    NotManaged,
    /// The signature is not the network owner's.
    #[error("the rotation is not signed by the network owner")]
    NotOwners,
    /// The new key is not the next key of this network's current one.
    #[error(
        "the rotation is not to the next key of this network (was the key rotated meanwhile?)"
    )]
    NotNext,
}

/// The owner's signature allowing the current key (managed mode).
#[derive(Debug, Clone, Copy)]
pub(super) struct Grant {
    /// The grace end it signs (Unix seconds), carried in key updates.
    grace_end_s: u64,
    /// The signature.
    signature: [u8; signed_rotation::SIGNATURE_LEN],
}

/// Key update counters (status JSON).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationStats {
    /// Key updates sent to members.
    pub updates_sent: u64,
    /// Key updates that gave us a newer key.
    pub updates_accepted: u64,
    /// Key updates for a key we already had or one older.
    pub updates_ignored: u64,
}

/// The node's key generations.
#[derive(Clone)]
pub(super) struct Rotation {
    /// The current key (handed on in key updates).
    pub(super) current: NetworkKey,
    /// The key it replaced, during the grace.
    pub(super) retiring: Option<Retiring>,
    /// Local indices of sessions and handshakes made under the retiring key.
    pub(super) old_indices: HashSet<u32>,
    /// Members known to hold the current key (a handshake under it, or
    /// its key update): our initiations to them never use the retiring one.
    pub(super) on_current: HashSet<NodeId>,
    /// Key update counters.
    pub(super) stats: RotationStats,
    /// The owner's signature allowing `current`, if it was signed.
    pub(super) grant: Option<Grant>,
}

impl Rotation {
    /// One generation: `current`.
    pub(super) fn new(current: NetworkKey) -> Self {
        Self {
            current,
            retiring: None,
            old_indices: HashSet::new(),
            on_current: HashSet::new(),
            stats: RotationStats::default(),
            grant: None,
        }
    }

    /// The retiring key's STUN responder, during its grace at `now`.
    pub(super) fn retiring_stun(&self, now: Instant) -> Option<&Responder> {
        let r = self.retiring.as_ref()?;
        (r.refuse_after > now).then_some(&r.stun)
    }
}

impl Node {
    /// The current network key.
    pub fn network_key(&self) -> &NetworkKey {
        &self.rotation.current
    }

    /// The key being retired and the wall-clock time (Unix ms) after which
    /// it is refused, during a grace period.
    pub fn retiring_key(&self) -> Option<(&NetworkKey, u64)> {
        let r = self.rotation.retiring.as_ref()?;
        Some((&r.key, self.unix_ms_at(r.refuse_after)))
    }

    /// Key update counters.
    pub fn rotation_stats(&self) -> RotationStats {
        self.rotation.stats
    }

    /// Keeps accepting `key`, the key the current one replaced, until the
    /// wall-clock time `refuse_after_unix_ms` (a restart during a grace
    /// period). Ignored if that time has passed or `key` is not an older
    /// key of this network.
    pub fn set_retiring_key(&mut self, now: Instant, key: NetworkKey, refuse_after_unix_ms: u64) {
        let Some(refuse_after) = self.time.instant_at_unix_ms(refuse_after_unix_ms) else {
            return;
        };
        if refuse_after <= now || !self.rotation.current.supersedes(&key) {
            return;
        }
        self.rotation.retiring = Some(self.retiring_of(key, refuse_after));
    }

    /// Replaces the network key with the next one, made from `new_secret`
    /// (from the OS random source), and hands it to every member with a
    /// session; the old key keeps working for `grace` (at most
    /// [`MAX_GRACE`]). Returns the new key.
    ///
    /// # Errors
    /// [`RotateError::OwnerSignatureRequired`] in managed mode (see
    /// [`Node::rotate_network_key_signed`]).
    pub fn rotate_network_key(
        &mut self,
        now: Instant,
        new_secret: [u8; 32],
        grace: Duration,
    ) -> Result<NetworkKey, RotateError> {
        if self.owner().is_some() {
            return Err(RotateError::OwnerSignatureRequired);
        }
        let new = self.rotation.current.rotated(new_secret);
        tracing::info!(epoch = new.epoch(), "network key rotated");
        self.adopt_key(now, new.clone(), now + grace.min(MAX_GRACE), None);
        for pid in self.connected_members(now) {
            self.send_key_update(now, pid);
        }
        Ok(new)
    }

    /// Managed mode: replaces the network key with the one the owner
    /// signed in `rotation` (the next epoch of the current key) and hands
    /// it, with the signature, to every member with a session; the old key
    /// keeps working until the signed grace end (at most [`MAX_GRACE`]
    /// from now). Returns the new key.
    ///
    /// # Errors
    /// Not managed, not the owner's signature, or not the next key.
    pub fn rotate_network_key_signed(
        &mut self,
        now: Instant,
        rotation: &SignedRotation,
    ) -> Result<NetworkKey, RotateError> {
        if self.owner().is_none() {
            return Err(RotateError::NotManaged);
        }
        if !self.owner_allows_rotation(rotation) {
            return Err(RotateError::NotOwners);
        }
        let new = rotation.key().clone();
        let current = &self.rotation.current;
        if !new.supersedes(current) || new.epoch() != current.epoch().saturating_add(1) {
            return Err(RotateError::NotNext);
        }
        tracing::info!(epoch = new.epoch(), "network key rotated (owner-signed)");
        let refuse_after = self.grace_end_instant(now, rotation.grace_end_s());
        let grant = Grant {
            grace_end_s: rotation.grace_end_s(),
            signature: *rotation.signature(),
        };
        self.adopt_key(now, new.clone(), refuse_after, Some(grant));
        for pid in self.connected_members(now) {
            self.send_key_update(now, pid);
        }
        Ok(new)
    }

    /// The owner's signed rotation to the current key, if it was signed
    /// (the driver keeps it, so that the node hands it on after a restart).
    pub fn signed_rotation(&self) -> Option<SignedRotation> {
        let g = self.rotation.grant?;
        Some(SignedRotation::from_parts(
            self.rotation.current.clone(),
            g.grace_end_s,
            g.signature,
        ))
    }

    /// Restores the owner's signature of the current key (kept by the
    /// driver from an earlier run); ignored if `rotation` is not to the
    /// current key.
    pub fn set_signed_rotation(&mut self, rotation: &SignedRotation) {
        let key = rotation.key();
        let current = &self.rotation.current;
        if key.id() == current.id()
            && key.epoch() == current.epoch()
            && key.secret() == current.secret()
        {
            self.rotation.grant = Some(Grant {
                grace_end_s: rotation.grace_end_s(),
                signature: *rotation.signature(),
            });
        }
    }

    /// Whether the network owner signed `rotation` (managed mode).
    fn owner_allows_rotation(&self, rotation: &SignedRotation) -> bool {
        self.owner().is_some_and(|o| rotation.verify(&o))
    }

    /// The instant a signed grace end stands for: at the latest
    /// [`MAX_GRACE`] from now, at once if it has passed.
    fn grace_end_instant(&self, now: Instant, grace_end_s: u64) -> Instant {
        let cap = now + MAX_GRACE;
        self.time
            .instant_at_unix_ms(grace_end_s.saturating_mul(1000))
            .map_or(now, |t| t.clamp(now, cap))
    }

    /// Makes `new` the current key; the current one retires until
    /// `refuse_after`. A key still retiring from before is refused now,
    /// unless `new` only wins over a rotation of the same epoch (two
    /// members rotated at once): then the key both replaced keeps retiring.
    fn adopt_key(
        &mut self,
        now: Instant,
        new: NetworkKey,
        refuse_after: Instant,
        grant: Option<Grant>,
    ) {
        let sibling = new.epoch() == self.rotation.current.epoch();
        if self.rotation.retiring.is_some() && !sibling {
            self.refuse_retiring(now);
        }
        let old = std::mem::replace(&mut self.rotation.current, new);
        self.rotation.grant = grant;
        let new_keys = self.keys.with_network(&self.rotation.current);
        let new_stun = Responder::new(IntegrityKey::new(&self.rotation.current.stun_secret()));
        let old_keys = std::mem::replace(&mut self.keys, new_keys);
        let old_stun = self.stun.replace_responder(new_stun);
        self.events.push_back(Event::NetworkKeyChanged);
        if sibling && self.rotation.retiring.is_some() {
            // The losing sibling is dropped; its sessions, made by members
            // that held it, stay until rekeyed under the winner.
            return;
        }
        self.rotation.retiring = Some(Retiring {
            key: old,
            keys: old_keys,
            stun: old_stun,
            refuse_after,
        });
        // Every session and handshake so far was made under the old key.
        self.rotation.old_indices = self.by_index.keys().copied().collect();
        self.rotation.on_current.clear();
    }

    fn retiring_of(&self, key: NetworkKey, refuse_after: Instant) -> Retiring {
        Retiring {
            keys: self.keys.with_network(&key),
            stun: Responder::new(IntegrityKey::new(&key.stun_secret())),
            key,
            refuse_after,
        }
    }

    /// Drops the retiring key once its grace has ended.
    pub(super) fn rotation_timers(&mut self, now: Instant) {
        if self
            .rotation
            .retiring
            .as_ref()
            .is_some_and(|r| r.refuse_after <= now)
        {
            self.refuse_retiring(now);
        }
    }

    /// When the retiring key must be dropped.
    pub(super) fn rotation_deadline(&self) -> Option<Instant> {
        self.rotation.retiring.as_ref().map(|r| r.refuse_after)
    }

    /// Drops the retiring key and closes what was made under it.
    fn refuse_retiring(&mut self, now: Instant) {
        if let Some(r) = self.rotation.retiring.take() {
            tracing::info!(epoch = r.key.epoch(), "old network key refused from now on");
            self.events.push_back(Event::NetworkKeyChanged);
        }
        let mut closed = 0;
        for idx in std::mem::take(&mut self.rotation.old_indices) {
            let Some(pid) = self.by_index.remove(&idx) else {
                continue;
            };
            let Some(peer) = self.peers.get_mut(&pid) else {
                continue;
            };
            for slot in [&mut peer.current, &mut peer.previous, &mut peer.next] {
                if slot.as_ref().is_some_and(|s| s.local_index == idx) {
                    *slot = None;
                    closed += 1;
                }
            }
            if peer
                .handshake
                .as_ref()
                .is_some_and(|h| h.state.local_index == idx)
            {
                peer.handshake = None;
                peer.timers.retransmit = None;
            }
            // A neighbour tries again, under the current key.
            if peer.neighbour && !peer.connected(now) {
                self.make_neighbour(now, pid, std::time::Duration::ZERO);
            }
        }
        if closed > 0 {
            tracing::info!(closed, "closed sessions made under the old network key");
        }
    }

    /// Whether the retiring key is still accepted at `now`.
    fn retiring_valid(&self, now: Instant) -> bool {
        self.rotation
            .retiring
            .as_ref()
            .is_some_and(|r| r.refuse_after > now)
    }

    /// The generation under which `check` passes: the current one, else the
    /// retiring one during its grace.
    pub(super) fn mac_generation(
        &self,
        now: Instant,
        check: impl Fn(&HandshakeKeys) -> bool,
    ) -> Option<Generation> {
        if check(&self.keys) {
            return Some(Generation::Current);
        }
        let r = self.rotation.retiring.as_ref()?;
        (r.refuse_after > now && check(&r.keys)).then_some(Generation::Retiring)
    }

    /// The handshake keys of a generation (the current ones if the retiring
    /// key is gone).
    pub(super) fn keys_of(&self, generation: Generation) -> &HandshakeKeys {
        match (generation, &self.rotation.retiring) {
            (Generation::Retiring, Some(r)) => &r.keys,
            _ => &self.keys,
        }
    }

    /// Like [`Node::keys_of`], to change.
    pub(super) fn keys_of_mut(&mut self, generation: Generation) -> &mut HandshakeKeys {
        match (generation, &mut self.rotation.retiring) {
            (Generation::Retiring, Some(r)) => &mut r.keys,
            _ => &mut self.keys,
        }
    }

    /// The generation a session or handshake with local index `idx` was
    /// made under.
    pub(super) fn generation_of_index(&self, idx: u32) -> Generation {
        if self.rotation.old_indices.contains(&idx) {
            Generation::Retiring
        } else {
            Generation::Current
        }
    }

    /// The generation for an initiation to `pid`: every other attempt of a
    /// round uses the retiring key, for members that may not have got the
    /// new one.
    pub(super) fn initiation_generation(
        &self,
        now: Instant,
        pid: &NodeId,
        attempt: u32,
    ) -> Generation {
        if attempt % 2 == 1 && self.retiring_valid(now) && !self.rotation.on_current.contains(pid) {
            Generation::Retiring
        } else {
            Generation::Current
        }
    }

    /// Notes that local index `idx` was made under `generation`.
    pub(super) fn note_generation(&mut self, idx: u32, generation: Generation) {
        if generation != Generation::Retiring {
            return;
        }
        let old = &mut self.rotation.old_indices;
        // Indices whose sessions are gone go from time to time.
        if old.len() >= 64 && old.len() >= 2 * self.by_index.len() {
            let by_index = &self.by_index;
            old.retain(|i| by_index.contains_key(i));
        }
        old.insert(idx);
    }

    /// The MAC key of hellos under the retiring key, during its grace.
    pub(super) fn retiring_hello_mac(&self, now: Instant) -> Option<crate::wire::mac::MacKey> {
        let r = self.rotation.retiring.as_ref()?;
        (r.refuse_after > now).then(|| r.keys.mac_to_any())
    }

    /// After a session came up: a member that reached us under the
    /// retiring key gets the current one.
    pub(super) fn rotation_session_up(&mut self, now: Instant, pid: NodeId, local_index: u32) {
        if !self.rotation.old_indices.contains(&local_index) {
            self.note_on_current(pid);
        } else if self.retiring_valid(now) {
            self.send_key_update(now, pid);
        }
    }

    /// Notes that `pid` holds the current key.
    fn note_on_current(&mut self, pid: NodeId) {
        if self.rotation.retiring.is_none() {
            return;
        }
        let known = &mut self.rotation.on_current;
        // Members that are gone go from time to time.
        if known.len() >= 64 && known.len() >= 2 * self.peers.len() {
            let peers = &self.peers;
            known.retain(|id| peers.contains_key(id));
        }
        known.insert(pid);
    }

    /// Sends the current key to `pid` over its session.
    fn send_key_update(&mut self, now: Instant, pid: NodeId) {
        let grace_end = self
            .rotation
            .retiring
            .as_ref()
            .map_or(now, |r| r.refuse_after);
        let key = &self.rotation.current;
        let epoch = key.epoch();
        let mut msg = Vec::with_capacity(key_update::SIGNED_LEN);
        match self.rotation.grant {
            // The grace end the owner signed, as it signed it.
            Some(g) => key_update::emit_signed(
                epoch,
                g.grace_end_s,
                key.id().as_bytes(),
                key.secret(),
                &g.signature,
                &mut msg,
            ),
            None => {
                let grace_end_s = self.time.unix_ms_at(grace_end).div_ceil(1000);
                key_update::emit(
                    epoch,
                    grace_end_s,
                    key.id().as_bytes(),
                    key.secret(),
                    &mut msg,
                );
            }
        }
        if self.send_encrypted(now, pid, &msg) {
            self.rotation.stats.updates_sent += 1;
            tracing::debug!(peer = %pid.short(), epoch, "sent the network key");
        }
        msg.zeroize();
    }

    /// Takes a key update from `pid` (authenticated by its session).
    pub(super) fn consume_key_update(
        &mut self,
        now: Instant,
        pid: NodeId,
        pkt: &key_update::Packet<&[u8]>,
    ) {
        let mut secret = pkt.secret();
        let key = NetworkKey::from_parts(secret, pkt.network_id(), pkt.epoch());
        secret.zeroize();
        let Some(key) = key.filter(|k| k.id() == self.network) else {
            self.drop_packet(DropReason::KeyUpdateRefused);
            return;
        };
        // One epoch at a time: a member behind by more cannot reach us
        // anyway (we keep one retiring key), and a hostile member cannot
        // use up the epochs in one update.
        if key.epoch() > self.rotation.current.epoch().saturating_add(1) {
            self.drop_packet(DropReason::KeyUpdateRefused);
            return;
        }
        if !key.supersedes(&self.rotation.current) {
            if key.epoch() == self.rotation.current.epoch()
                && key.secret() == self.rotation.current.secret()
            {
                self.note_on_current(pid);
            }
            self.rotation.stats.updates_ignored += 1;
            self.drop_packet(DropReason::KeyUpdateStale);
            return;
        }
        // Managed mode: only a rotation the owner signed.
        let grant = match (self.owner(), pkt.owner_signature()) {
            (None, _) => None,
            (Some(owner), Some(signature))
                if signed_rotation::owner_signed(&owner, &key, pkt.grace_end(), &signature) =>
            {
                Some(Grant {
                    grace_end_s: pkt.grace_end(),
                    signature,
                })
            }
            (Some(_), _) => {
                tracing::warn!(peer = %pid.short(), "refused a key update the network owner did not sign");
                self.drop_packet(DropReason::KeyUpdateUnsigned);
                return;
            }
        };
        // The grace is the sender's, capped, and never past what it says.
        let cap = now + MAX_GRACE;
        let refuse_after = self
            .time
            .instant_at_unix_ms(pkt.grace_end().saturating_mul(1000))
            .map_or(now, |t| t.min(cap));
        tracing::info!(peer = %pid.short(), epoch = key.epoch(), "received a new network key");
        self.rotation.stats.updates_accepted += 1;
        self.adopt_key(now, key, refuse_after, grant);
        self.note_on_current(pid);
        // Hand it on once (a key is accepted once, so this ends), and move
        // our sessions to it.
        for other in self.connected_members(now) {
            if other != pid {
                self.send_key_update(now, other);
            }
            self.initiate(now, other);
        }
    }

    /// Members with a usable session, in node ID order.
    fn connected_members(&self, now: Instant) -> Vec<NodeId> {
        let mut v: Vec<NodeId> = self
            .peers
            .values()
            .filter(|p| p.connected(now))
            .map(|p| p.id)
            .collect();
        v.sort();
        v
    }
}
