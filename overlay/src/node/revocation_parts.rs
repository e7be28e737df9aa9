//! Long revocation lists (managed mode): a list longer than one inner
//! message ([`revocations::MAX_WHOLE_LEN`]) travels in parts (inner kind
//! 0x0b, [`crate::wire::revocation_part`]), pulled by the member that
//! needs it.
//!
//! A member offers the list it holds by sending its first part, when a
//! session comes up and when it takes a newer list (a short list goes
//! whole instead). A member whose list is older keeps the part and asks
//! the sender for the missing ones, at most [`MAX_WANT`] at a time; when
//! every part it asked for came, it asks for the next ones. A want that
//! brought nothing is asked again after [`RETRY`], up to [`MAX_TRIES`]
//! times in a row; then the member gives the list up until the next offer
//! (the next session with a member that holds it, or that member's next
//! rekey). A member holding the list answers wants of it with the parts.
//!
//! One list is assembled at a time (the highest serial offered), in a
//! buffer of its announced length, at most [`revocations::MAX_LEN`]; the
//! whole is checked like a list that came in one message (format, owner's
//! signature, network, a serial above the one held) and dropped as
//! `revocations_rejected` if it fails.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::{DropReason, Node};
use crate::identity::{NodeId, RevocationList};
use crate::wire::revocation_part::{self, Op, MAX_WANT};
use crate::wire::revocations;

/// How long a want may go unanswered before it is asked again.
pub(super) const RETRY: Duration = Duration::from_secs(1);
/// Wants in a row that brought nothing before the list is given up.
pub(super) const MAX_TRIES: u32 = 8;

/// A long list being assembled.
#[derive(Clone, Debug)]
pub(crate) struct Assembly {
    serial: u64,
    bytes: Vec<u8>,
    have: Vec<bool>,
    missing: usize,
    /// The member asked (the last one that sent a part).
    from: NodeId,
    /// Parts asked for and not come yet.
    asked: BTreeSet<u16>,
    /// When to ask again.
    retry_at: Instant,
    /// Wants in a row that brought nothing.
    tries: u32,
}

impl Assembly {
    /// The serial of the list being assembled.
    pub(super) fn serial(&self) -> u64 {
        self.serial
    }
}

impl Node {
    /// Sends the list held to `to`: whole if it fits one message, else its
    /// first part (an offer).
    pub(super) fn offer_revocations(&mut self, now: Instant, to: NodeId) {
        let Some(list) = self.held_revocations() else {
            return;
        };
        let bytes = list.as_bytes();
        let msg = if bytes.len() <= revocations::MAX_WHOLE_LEN {
            bytes.to_vec()
        } else {
            match crate::wire::try_to_vec(|o| {
                crate::wire::revocation_part::emit_part(list.serial(), bytes, 0, o)
            }) {
                Ok(m) => m,
                Err(_) => return,
            }
        };
        self.send_encrypted(now, to, &msg);
    }

    /// Handles a part or a want from the member `from`.
    pub(super) fn consume_revocation_part(&mut self, now: Instant, from: NodeId, msg: &[u8]) {
        let Ok(p) = revocation_part::Packet::new_checked(msg) else {
            self.drops.add(DropReason::BadInner);
            return;
        };
        if self.managed.is_none() {
            self.drops.add(DropReason::RevocationsRejected);
            return;
        }
        match p.op() {
            Op::Want { count } => self.answer_want(now, from, &p, count),
            Op::Part => self.take_part(now, from, &p),
        }
    }

    /// Sends the parts `from` asked for, if we hold that list.
    fn answer_want(
        &mut self,
        now: Instant,
        from: NodeId,
        p: &revocation_part::Packet<&[u8]>,
        count: u16,
    ) {
        let Some(list) = self.held_revocations() else {
            return;
        };
        if list.serial() != p.serial() || list.as_bytes().len() != p.total_len() {
            return;
        }
        let bytes = list.as_bytes();
        let parts = revocation_part::parts(bytes.len());
        let end = (usize::from(p.index()) + usize::from(count)).min(parts);
        let msgs: Vec<Vec<u8>> = (usize::from(p.index())..end)
            .filter_map(|i| {
                crate::wire::try_to_vec(|o| {
                    crate::wire::revocation_part::emit_part(list.serial(), bytes, i as u16, o)
                })
                .ok()
            })
            .collect();
        for m in msgs {
            self.send_encrypted(now, from, &m);
        }
    }

    /// Keeps a part of a list newer than the one held; finishes the list
    /// or asks for more.
    fn take_part(&mut self, now: Instant, from: NodeId, p: &revocation_part::Packet<&[u8]>) {
        let held = self.held_revocations().map(RevocationList::serial);
        if held.is_some_and(|h| h >= p.serial()) {
            return;
        }
        let m = self.managed.as_mut().expect("checked");
        let total = p.total_len();
        let same = |a: &Assembly| a.serial == p.serial() && a.bytes.len() == total;
        match &m.assembly {
            Some(a) if same(a) => {}
            // An older assembly gives way to a newer list.
            Some(a) if a.serial >= p.serial() => return,
            _ => {
                let parts = revocation_part::parts(total);
                m.assembly = Some(Box::new(Assembly {
                    serial: p.serial(),
                    bytes: vec![0; total],
                    have: vec![false; parts],
                    missing: parts,
                    from,
                    asked: BTreeSet::new(),
                    retry_at: now + RETRY,
                    tries: 0,
                }));
            }
        }
        let a = m.assembly.as_mut().expect("just set");
        let index = p.index();
        let i = usize::from(index);
        if a.have[i] {
            return;
        }
        a.bytes[revocation_part::part_range(total, i)].copy_from_slice(p.data());
        a.have[i] = true;
        a.missing -= 1;
        a.asked.remove(&index);
        a.from = from;
        a.tries = 0;
        if a.missing == 0 {
            self.finish_assembly(now);
        } else if a.asked.is_empty() {
            self.ask_parts(now);
        }
    }

    /// Asks the assembly's member for the next missing parts.
    fn ask_parts(&mut self, now: Instant) {
        let Some(a) = self.managed.as_mut().and_then(|m| m.assembly.as_mut()) else {
            return;
        };
        let Some(first) = a.have.iter().position(|h| !h) else {
            return;
        };
        let end = (first + usize::from(MAX_WANT)).min(a.have.len());
        a.asked = (first..end)
            .filter(|&i| !a.have[i])
            .map(|i| i as u16)
            .collect();
        a.retry_at = now + RETRY;
        let (to, serial, total) = (a.from, a.serial, a.bytes.len());
        let count = (end - first) as u16;
        if let Ok(want) = crate::wire::try_to_vec(|o| {
            crate::wire::revocation_part::emit_want(serial, total, first as u16, count, o)
        }) {
            self.send_encrypted(now, to, &want);
        }
    }

    /// Checks the assembled list and takes it if it is the owner's and
    /// newer than the one held.
    fn finish_assembly(&mut self, now: Instant) {
        let Some(a) = self.managed.as_mut().and_then(|m| m.assembly.take()) else {
            return;
        };
        let owner = self.owner();
        let held = self.held_revocations().map(RevocationList::serial);
        let list = RevocationList::parse(&a.bytes).ok().filter(|l| {
            l.serial() == a.serial
                && owner.is_some_and(|o| l.verify(&o, &self.network).is_ok())
                && held.is_none_or(|h| l.serial() > h)
        });
        match list {
            Some(list) => {
                self.take_revocations(now, list, Some(a.from));
            }
            None => {
                tracing::warn!(peer = %a.from.short(), serial = a.serial, "refused a revocation list assembled from parts");
                self.drops.add(DropReason::RevocationsRejected);
            }
        }
    }

    /// When the missing parts of the list being assembled are asked again.
    pub(super) fn revocation_parts_deadline(&self) -> Option<Instant> {
        Some(self.managed.as_ref()?.assembly.as_ref()?.retry_at)
    }

    /// Asks again for the parts a want did not bring, or gives the list up.
    pub(super) fn revocation_parts_timers(&mut self, now: Instant) {
        let Some(m) = self.managed.as_mut() else {
            return;
        };
        let Some(a) = m.assembly.as_mut() else {
            return;
        };
        if a.retry_at > now {
            return;
        }
        a.tries += 1;
        if a.tries > MAX_TRIES {
            tracing::info!(
                serial = a.serial,
                missing = a.missing,
                "gave up a revocation list: its parts stopped coming"
            );
            m.assembly = None;
            return;
        }
        self.ask_parts(now);
    }
}
