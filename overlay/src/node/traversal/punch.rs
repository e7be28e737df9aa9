//! One punch: swap candidates, probe in rounds, take the first path that
//! answers, give up after [`PUNCH_TIME`]. Toward a NAT that allocates ports
//! at random, escalate to the birthday technique.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand_core::RngCore;

use super::candidates::{allocation, mapping, probe_targets};
use super::crossing::{sequential_per_destination, Line};
use super::extra_sockets::{birthday_ids, BIRTHDAY_SOCKETS};
use super::reading::Reading;
use super::{
    Members, Output, OwnView, Traversal, FAST_RETRIES, MAX_PUNCHES, OPENER_TTL, PUNCH_COOLDOWN,
    PUNCH_TIME,
};
use crate::identity::NodeId;
use crate::wire::signal::{candidate_kind, Candidate, Candidates, NatHint};
use crate::wire::signal_seal::SALT_LEN;

/// When each scheduled probe round goes out, after the punch starts. Dense
/// at first, so that both sides' first probes cross within a round trip.
const ROUNDS: [Duration; 8] = [
    Duration::ZERO,
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(3),
    Duration::from_millis(4500),
    Duration::from_millis(6500),
];
/// When each side of a punch looks at signalling its candidates again, after
/// the punch starts: the side that asked does if the other side has not
/// answered (a signal is one datagram per hop, and a punch whose request was
/// lost would only probe from one side); either side does if its candidates
/// changed since it told them (a STUN answer showed a new address: its NAT
/// renumbered, and the other side must probe it).
const RESENDS: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(3)];
/// A request with a new punch ID replaces the punch in progress toward its
/// sender once that punch is this old and found nothing (the sender gave up
/// on it and retries with a fresh exchange); younger ones are crossing
/// requests, and both sides keep their own.
const RESTART_AFTER: Duration = Duration::from_secs(2);
/// Probe rounds of one punch, scheduled or extra (each has its own `tx`).
const MAX_ROUNDS: usize = 32;
/// Probes in one round from the main socket.
const MAX_PROBES_PER_ROUND: usize = 40;
/// Candidates remembered for the other side.
const MAX_REMOTE: usize = 24;
/// How long a punch that found a path waits for the handshake there.
const SETTLE: Duration = Duration::from_secs(3);
/// How often relayed sessions are looked at for a new punch.
const UPGRADE_INTERVAL: Duration = Duration::from_secs(5);
/// A later path replaces the first one found only if its round trip is
/// shorter than this fraction of the first one's.
const BETTER_PATH: f64 = 0.8;
/// How long a punch probes only the plain candidates before it also probes
/// predicted ports.
const ESCALATE_AFTER: Duration = Duration::from_secs(1);
/// How long before a node behind a random-allocation NAT opens its birthday
/// sockets (the plain ways failed by then).
const BIRTHDAY_AFTER: Duration = Duration::from_secs(2);
/// When the birthday sockets' first probes go out, after they were asked
/// for (the driver opens them in between).
const BIRTHDAY_FIRST_ROUND: Duration = Duration::from_millis(50);
/// Random ports one spray probes in all: with the other side's
/// [`BIRTHDAY_SOCKETS`] mappings among about 64,000 ports, 2,048 probes miss
/// them all with probability (1 − 256/64,512)^2048 ≈ 0.03 %.
const SPRAY_PROBES: u32 = 2048;
/// Probes per spray step, and the pace: 16 per 25 ms is 640 probes a second,
/// about 40 KB/s, so the whole spray takes about 3.2 s.
const SPRAY_BATCH: u32 = 16;
/// Time between spray steps.
const SPRAY_INTERVAL: Duration = Duration::from_millis(25);
/// When the spray starts after the other side's birthday sockets were
/// announced (their mappings open on their first round).
const SPRAY_DELAY: Duration = Duration::from_millis(200);
/// Lowest port a spray probes (NATs rarely allocate below it).
const SPRAY_LOWEST_PORT: u16 = 1024;
/// Addresses a punch remembers having heard the other side from.
const MAX_HEARD: usize = 4;
/// How long a punch that took a reading waits for the other side's before
/// it probes as toward any NAT (an older node sends none).
const CROSSING_WAIT: Duration = Duration::from_secs(2);

/// Probing random ports of the other side's NAT.
#[derive(Clone, Debug)]
struct Spray {
    ips: Vec<IpAddr>,
    left: u32,
    next: Instant,
    /// The tx of all its probes (taken at the first step).
    tx: Option<u64>,
}

/// A punch in progress toward one member.
#[derive(Clone, Debug)]
pub(crate) struct Punch {
    /// Names the attempt; probe `tx` values are `id + round`.
    pub(crate) id: u64,
    started: Instant,
    /// The other side's candidates.
    remote: Vec<Candidate>,
    /// The other side's NAT, as it told us.
    nat: NatHint,
    /// Scheduled rounds sent so far.
    scheduled: usize,
    /// When each round (scheduled or extra) went out.
    sent: Vec<Instant>,
    /// The best path that answered: our socket, its endpoint, the RTT.
    pub(crate) found: Option<(u16, SocketAddr, Duration)>,
    found_at: Option<Instant>,
    /// Our birthday sockets are open for this punch; their next extra round.
    birthday: Option<Option<Instant>>,
    spray: Option<Spray>,
    /// IP addresses that probes or probe-acks MAC'd by the other side came
    /// from: proven to be its.
    heard: Vec<IpAddr>,
    /// We asked for this punch (rather than joined it).
    pub(crate) asker: bool,
    /// Looks at resending our candidates so far (see [`RESENDS`]).
    looks: usize,
    /// Candidates of the other side arrived during this punch.
    answered: bool,
    /// The addresses of our candidates as we last signalled them.
    told: Vec<SocketAddr>,
    /// Where our NAT's port counter stood at the start (see `reading.rs`).
    pub(crate) reading: Reading,
    /// The other side's reading (its NAT allocates in sequence too).
    pub(crate) theirs: Option<NatHint>,
    /// Our crossing line (see `crossing.rs`), once both readings are in.
    pub(crate) line: Option<Line>,
    /// The other side asked for a punch of its own while ours ran (both
    /// started at once): each side keeps its own, and its probes carry the
    /// ID of its own.
    pub(crate) crossed: Option<u64>,
}

impl Punch {
    fn new(id: u64, now: Instant) -> Self {
        Self {
            id,
            started: now,
            remote: Vec::new(),
            nat: NatHint::default(),
            scheduled: 0,
            sent: Vec::new(),
            found: None,
            found_at: None,
            birthday: None,
            spray: None,
            heard: Vec::new(),
            asker: false,
            looks: 0,
            answered: false,
            told: Vec::new(),
            reading: Reading::None,
            theirs: None,
            line: None,
            crossed: None,
        }
    }

    /// Whether this punch aims crossing lines rather than the predictions
    /// of any other NAT: we took a reading, and the other side sent its
    /// own, or may still (its NAT allocates in sequence, or we do not know
    /// its NAT yet, and the punch is young).
    pub(crate) fn crossing(&self, now: Instant) -> bool {
        let waiting = now < self.started + CROSSING_WAIT
            && (self.nat == NatHint::default() || sequential_per_destination(&self.nat));
        !matches!(self.reading, Reading::None | Reading::Failed)
            && (self.theirs.is_some() || waiting)
    }

    /// Whether our crossing line has probed in vain long enough.
    fn line_gave_up(&self, now: Instant) -> bool {
        self.found.is_none() && self.line.as_ref().is_some_and(|l| now >= l.give_up_at())
    }

    /// When our request is next looked at to be signalled again (it is,
    /// if unanswered or if our candidates changed since), if it is.
    fn resend_at(&self) -> Option<Instant> {
        if self.found.is_some() {
            return None;
        }
        RESENDS.get(self.looks).map(|&o| self.started + o)
    }

    /// Whether a probe or probe-ack of the other side came from `ip`.
    pub(crate) fn heard_from(&self, ip: IpAddr) -> bool {
        self.heard.contains(&ip.to_canonical())
    }

    /// Remembers that a probe or probe-ack of the other side came from `ip`.
    pub(crate) fn hear(&mut self, ip: IpAddr) {
        let ip = ip.to_canonical();
        if !self.heard.contains(&ip) {
            if self.heard.len() >= MAX_HEARD {
                self.heard.remove(0);
            }
            self.heard.push(ip);
        }
    }

    /// Whether a request with punch ID `id` replaces this punch: one that
    /// found nothing for [`RESTART_AFTER`] (the other side gave up on it
    /// and starts afresh).
    fn replaced_by(&self, id: u64, now: Instant) -> bool {
        id != self.id
            && self.found.is_none()
            && now.saturating_duration_since(self.started) >= RESTART_AFTER
    }

    /// Whether this punch has the birthday sockets open.
    pub(crate) fn birthday(&self) -> bool {
        self.birthday.is_some()
    }

    /// When this punch next needs the node.
    pub(crate) fn next_deadline(&self) -> Instant {
        let end = match self.found_at {
            Some(t) => t + SETTLE,
            None => self.started + PUNCH_TIME,
        };
        if self.found_at.is_some() {
            return end;
        }
        let round = ROUNDS.get(self.scheduled).map(|&o| self.started + o);
        let extra = self.birthday.flatten();
        let spray = self.spray.as_ref().map(|s| s.next);
        let line = self.line.as_ref().map(Line::deadline);
        [
            round,
            extra,
            spray,
            self.resend_at(),
            self.reading.deadline(),
            line,
        ]
        .into_iter()
        .flatten()
        .fold(end, Instant::min)
    }

    /// Adds candidates; returns whether any was new.
    fn add_remote(&mut self, list: impl IntoIterator<Item = Candidate>) -> bool {
        let mut added = false;
        for c in list {
            if self.remote.len() < MAX_REMOTE && !self.remote.iter().any(|r| r.addr == c.addr) {
                self.remote.push(c);
                added = true;
            }
        }
        added
    }

    /// The round-trip time of a probe-ack with this `tx`, if it is ours.
    pub(crate) fn rtt_of(&self, tx: u64, now: Instant) -> Option<Duration> {
        let round = usize::try_from(tx.wrapping_sub(self.id)).ok()?;
        let sent = self.sent.get(round)?;
        Some(now.saturating_duration_since(*sent))
    }

    /// Whether a probe with this `tx` belongs to this punch (from the other
    /// side), or to the other side's own if both asked at once.
    pub(crate) fn owns_tx(&self, tx: u64) -> bool {
        let of = |id: u64| tx.wrapping_sub(id) < MAX_ROUNDS as u64;
        of(self.id) || self.crossed.is_some_and(of)
    }

    /// Whether `addr` is not yet a known candidate (a peer-reflexive one:
    /// where the other side's probe came from). Adds it.
    pub(crate) fn learn_peer_reflexive(&mut self, addr: SocketAddr) -> bool {
        self.add_remote([Candidate {
            kind: candidate_kind::REFLEXIVE,
            addr,
        }])
    }

    /// The other side's reflexive endpoints.
    pub(crate) fn reflexive(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.remote
            .iter()
            .filter(|c| c.kind == candidate_kind::REFLEXIVE)
            .map(|c| c.addr)
    }

    /// A new round's tx, or `None` when the punch has used all its rounds.
    pub(crate) fn next_tx(&mut self, now: Instant) -> Option<u64> {
        if self.sent.len() >= MAX_ROUNDS {
            return None;
        }
        let tx = self.id.wrapping_add(self.sent.len() as u64);
        self.sent.push(now);
        Some(tx)
    }
}

impl Traversal {
    /// Whether a punch toward `pid` may start now (a handshake starts, or
    /// a relayed session could go direct): not if connected directly,
    /// already punching, or punched lately.
    pub(crate) fn may_punch(&self, now: Instant, members: &impl Members, pid: NodeId) -> bool {
        let Some(facts) = members.facts(now, &pid) else {
            return false;
        };
        !(facts.direct
            || self.punches.contains_key(&pid)
            || self.punches.len() >= MAX_PUNCHES
            || facts.last_punch.is_some_and(|t| {
                now.saturating_duration_since(t) < punch_wait(facts.punch_failures, facts.active)
            }))
    }

    /// A new punch (that [`Traversal::may_punch`] allowed): its ID and the
    /// candidates to signal to the member. The punch begins with
    /// [`Traversal::begin_punch`] once they left.
    pub(crate) fn request_punch(&self, own: &OwnView, rng: &mut impl RngCore) -> (u64, Candidates) {
        let id = rng.next_u64();
        (id, self.own_candidates_message(own, true, id, 0))
    }

    /// The candidates of punch `id` left for `pid`: the punch begins, and
    /// probes what we know of `pid` at once.
    pub(crate) fn begin_punch(
        &mut self,
        now: Instant,
        members: &impl Members,
        own: &OwnView,
        pid: NodeId,
        id: u64,
        told: &Candidates,
    ) {
        tracing::debug!(peer = %pid.short(), "hole punching: candidates sent");
        self.stats.punches_started += 1;
        let mut punch = Punch::new(id, now);
        punch.asker = true;
        punch.told = told.list.iter().map(|c| c.addr).collect();
        if let Some(addr) = members.facts(now, &pid).and_then(|f| f.endpoint) {
            punch.learn_peer_reflexive(addr);
        }
        self.punches.insert(pid, punch);
        // Openers first: our NAT's mapping toward the other side must exist
        // before the other side's probes reach it. The first round in
        // earnest follows at the next scheduled round.
        self.probe_round_ttl(now, members, pid, true, Some(OPENER_TTL));
        // Then, behind a NAT that allocates in sequence, where its counter
        // stands now.
        self.start_reading(now, members, own, pid);
    }

    /// Whether a signal of `src`'s candidates that came through `from` may
    /// go on to [`Traversal::on_candidates`]. A punch this node would join
    /// (not one it started) is where a hostile member could aim it at
    /// others: counted first (limits.rs). Drops (and counts) the candidates
    /// that `allowed` refuses. `Some(joining)` if admitted.
    pub(crate) fn admit_candidates(
        &mut self,
        now: Instant,
        src: NodeId,
        from: NodeId,
        c: &mut Candidates,
        allowed: impl Fn(&SocketAddr) -> bool,
    ) -> Option<bool> {
        let joining = c.request
            && self
                .punches
                .get(&src)
                .is_none_or(|p| p.replaced_by(c.punch_id, now));
        if joining {
            if let Err(why) = self.limits.admit_join(now, src, from) {
                self.stats.joins_refused += 1;
                tracing::debug!(peer = %src.short(), via = %from.short(), ?why, "hole punching: join refused");
                return None;
            }
        }
        let before = c.list.len();
        c.list.retain(|c| allowed(&c.addr));
        self.stats.candidates_refused += (before - c.list.len()) as u64;
        Some(joining)
    }

    /// A member's admitted candidates arrived (`joining`: see
    /// [`Traversal::admit_candidates`]): answer a request with ours, then
    /// probe theirs at once.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_candidates(
        &mut self,
        now: Instant,
        members: &impl Members,
        own: &OwnView,
        rng: &mut impl RngCore,
        src: NodeId,
        joining: bool,
        c: Candidates,
    ) {
        let mut told = None;
        if c.request {
            self.stats.punches_joined += 1;
            let reply = self.own_candidates_message(own, false, c.punch_id, 0);
            told = Some(reply.list.iter().map(|c| c.addr).collect::<Vec<_>>());
            self.signal(rng, src, reply);
        }
        let stale = self
            .punches
            .get(&src)
            .is_some_and(|p| c.request && p.replaced_by(c.punch_id, now));
        if stale {
            // The other side gave up on the punch and starts afresh.
            tracing::debug!(peer = %src.short(), "hole punching: the other side restarts");
            self.punches.remove(&src);
            self.close_unused_extra(members);
        }
        if !self.punches.contains_key(&src) {
            if !c.request || self.punches.len() >= MAX_PUNCHES {
                // An answer to a punch that already ended, or no room.
                return;
            }
            self.punches.insert(src, Punch::new(c.punch_id, now));
        }
        // A NAT that maps per destination would give every spray probe a
        // new port, which the other side's NAT does not expect; one that
        // allocates in sequence would also burn through its port pool.
        let hint = self.own_nat_hint(own);
        let we_map_per_destination =
            hint.mapping == mapping::DEPENDENT || hint.allocation == allocation::SEQUENTIAL;
        let punch = self.punches.get_mut(&src).expect("inserted");
        if c.request && c.punch_id != punch.id {
            punch.crossed = Some(c.punch_id);
        }
        if c.fresh && sequential_per_destination(&c.nat) {
            punch.theirs = Some(c.nat);
        }
        // A reading describes the ports to come, not those the other
        // side's first probes took: predictions of a punch that does not
        // cross lines stay with what it first told.
        if !c.fresh || !punch.answered {
            punch.nat = c.nat;
        }
        punch.answered = true;
        if let Some(told) = told {
            punch.told = told;
        }
        let added = punch.add_remote(c.list);
        if c.extra_sockets > 0
            && punch.spray.is_none()
            && punch.found.is_none()
            && !we_map_per_destination
        {
            // The other side opened many mappings toward us: find one.
            let mut ips: Vec<IpAddr> = punch.reflexive().map(|a| a.ip()).collect();
            ips.dedup();
            if !ips.is_empty() {
                punch.spray = Some(Spray {
                    ips,
                    left: SPRAY_PROBES,
                    next: now + SPRAY_DELAY,
                    tx: None,
                });
            }
        }
        tracing::debug!(peer = %src.short(), request = c.request, extra = c.extra_sockets, "hole punching: candidates received");
        // Behind a NAT that allocates in sequence: where its counter stands
        // (if not read yet: a punch may have begun before the self-check
        // knew). Until the other side's reading comes, our rounds probe its
        // candidates only: a predicted port probed now could not take a
        // port of our line later.
        self.start_reading(now, members, own, src);
        // Open our NAT toward what is new at once; probes in earnest follow
        // at the next scheduled round, by when the other side has opened its
        // NAT toward us too (it learns our mapping, which a NAT that maps per
        // destination makes only now, from our answer).
        if joining {
            self.probe_round_ttl(now, members, src, true, Some(OPENER_TTL));
        } else if added || c.fresh {
            // New candidates, or the other side's reading: new ports to
            // predict.
            self.probe_round_ttl(now, members, src, false, Some(OPENER_TTL));
        }
        self.send_line(now, members, own, src);
    }

    /// Queues a signal of `candidates` to `member`, with the salt that
    /// seals it.
    pub(crate) fn signal(
        &mut self,
        rng: &mut impl RngCore,
        member: NodeId,
        candidates: Candidates,
    ) {
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        self.out.push_back(Output::Signal {
            member,
            candidates,
            salt,
        });
    }

    /// Whether relayed sessions are due to be looked at for a direct path
    /// (each then punches again once its backoff allows); schedules the
    /// next look.
    pub(crate) fn upgrade_due(&mut self, now: Instant) -> bool {
        match self.next_upgrade {
            Some(t) if t <= now => {
                self.next_upgrade = Some(now + UPGRADE_INTERVAL);
                true
            }
            Some(_) => false,
            None => {
                self.next_upgrade = Some(now + UPGRADE_INTERVAL);
                false
            }
        }
    }

    /// Runs the self-check and the punches whose deadline came.
    pub(crate) fn timers(
        &mut self,
        now: Instant,
        members: &impl Members,
        own: &OwnView,
        rng: &mut impl RngCore,
    ) {
        if self.check.next_deadline().is_none_or(|t| t <= now) {
            self.self_check_timer(now, members, rng);
        }
        let due: Vec<NodeId> = self
            .punches
            .iter()
            .filter(|(_, p)| p.next_deadline() <= now)
            .map(|(id, _)| *id)
            .collect();
        let mut ended = false;
        for pid in due {
            let facts = members.facts(now, &pid);
            let punch = &self.punches[&pid];
            let over = match punch.found_at {
                Some(t) => now >= t + SETTLE,
                None => now >= punch.started + PUNCH_TIME || punch.line_gave_up(now),
            };
            if facts.is_none_or(|f| f.direct) || over {
                let punch = self.punches.remove(&pid).expect("due");
                ended = true;
                let found = punch.found.is_some();
                if !found {
                    self.stats.punches_failed += 1;
                    tracing::debug!(peer = %pid.short(), "hole punching found no direct path");
                }
                self.out
                    .push_back(Output::PunchEnded { member: pid, found });
                continue;
            }
            self.punch_step(now, members, own, rng, pid);
        }
        if ended {
            self.close_unused_extra(members);
        }
    }

    /// Whatever of a punch is due: a scheduled round, the birthday sockets'
    /// extra round, a spray step.
    fn punch_step(
        &mut self,
        now: Instant,
        members: &impl Members,
        own: &OwnView,
        rng: &mut impl RngCore,
        pid: NodeId,
    ) {
        // A punch may begin before the self-check knows our NAT allocates
        // in sequence: read it as soon as it does.
        self.start_reading(now, members, own, pid);
        self.reading_step(now, members, own, rng, pid);
        self.line_step(now, members, pid);
        let hint = self.own_nat_hint(own);
        // Ports we cannot predict, toward destinations we cannot avoid
        // changing: only many mappings at once give the other side a chance.
        let unpredictable =
            hint.allocation == allocation::RANDOM && hint.mapping != mapping::INDEPENDENT;
        let punch = &self.punches[&pid];
        let round_due = ROUNDS
            .get(punch.scheduled)
            .is_some_and(|&o| punch.started + o <= now);
        if round_due {
            // Behind a NAT that allocates at random, with the plain ways
            // failing: open many mappings toward the other side and tell it
            // to look for one of them.
            let open_birthday = punch.birthday.is_none()
                && unpredictable
                && now.saturating_duration_since(punch.started) >= BIRTHDAY_AFTER
                && !self.spray_targets(now, members, pid).is_empty();
            if open_birthday {
                self.start_birthday(now, own, rng, pid);
            }
            self.send_line(now, members, own, pid);
            self.probe_round(now, members, pid, true);
        }
        let punch = &self.punches[&pid];
        if punch.resend_at().is_some_and(|t| t <= now) {
            self.resend_request(own, rng, pid);
        }
        let punch = &self.punches[&pid];
        if punch.birthday.flatten().is_some_and(|t| t <= now) {
            self.punches.get_mut(&pid).expect("due").birthday = Some(None);
            self.birthday_round(now, members, pid);
        }
        self.spray_step(now, members, rng, pid);
    }

    /// Signals our candidates again for the punch toward `pid` if we asked
    /// and the other side has not answered, or if they changed since we told
    /// them (fresh ones either way: our view may have grown).
    fn resend_request(&mut self, own: &OwnView, rng: &mut impl RngCore, pid: NodeId) {
        let punch = &self.punches[&pid];
        let extra = if punch.birthday() {
            BIRTHDAY_SOCKETS
        } else {
            0
        };
        let ask = self.own_candidates_message(own, punch.asker, punch.id, extra);
        let now_told: Vec<SocketAddr> = ask.list.iter().map(|c| c.addr).collect();
        let punch = self.punches.get_mut(&pid).expect("caller checked");
        punch.looks += 1;
        let unanswered = punch.asker && !punch.answered;
        if !unanswered && punch.told == now_told {
            return;
        }
        punch.told = now_told;
        self.stats.requests_resent += 1;
        tracing::debug!(peer = %pid.short(), answered = punch.answered, "hole punching: candidates sent again");
        self.signal(rng, pid, ask);
    }

    fn start_birthday(&mut self, now: Instant, own: &OwnView, rng: &mut impl RngCore, pid: NodeId) {
        tracing::debug!(peer = %pid.short(), "hole punching: opening {BIRTHDAY_SOCKETS} sockets");
        self.stats.birthday_punches += 1;
        self.open_extra(birthday_ids());
        let punch = self.punches.get_mut(&pid).expect("caller checked");
        punch.birthday = Some(Some(now + BIRTHDAY_FIRST_ROUND));
        let id = punch.id;
        let update = self.own_candidates_message(own, false, id, BIRTHDAY_SOCKETS);
        self.signal(rng, pid, update);
    }

    /// Probes the other side's reflexive endpoints from every birthday socket.
    fn birthday_round(&mut self, now: Instant, members: &impl Members, pid: NodeId) {
        let Some(punch) = self.punches.get_mut(&pid) else {
            return;
        };
        if punch.found.is_some() {
            return;
        }
        let Some(tx) = punch.next_tx(now) else {
            return;
        };
        let targets = self.spray_targets(now, members, pid);
        for socket in birthday_ids() {
            for &to in &targets {
                self.send_punch_probe(now, members, socket, pid, to, tx, Some(OPENER_TTL));
            }
        }
    }

    /// Sends the next batch of probes to random ports, if one is due.
    fn spray_step(
        &mut self,
        now: Instant,
        members: &impl Members,
        rng: &mut impl RngCore,
        pid: NodeId,
    ) {
        let Some(punch) = self.punches.get_mut(&pid) else {
            return;
        };
        let Some(spray) = punch.spray.as_mut().filter(|s| s.next <= now) else {
            return;
        };
        if punch.found.is_some() || spray.left == 0 {
            punch.spray = None;
            return;
        }
        spray.next = now + SPRAY_INTERVAL;
        let ips = spray.ips.clone();
        // Random ports only of addresses that proved to be the other side's
        // or that another member vouched for; until then the spray waits.
        let ips: Vec<IpAddr> = ips
            .into_iter()
            .filter(|ip| self.may_spray(now, members, pid, *ip))
            .collect();
        let punch = self.punches.get_mut(&pid).expect("checked");
        let spray = punch.spray.as_mut().expect("checked");
        if ips.is_empty() {
            return;
        }
        let batch = spray.left.min(SPRAY_BATCH);
        spray.left -= batch;
        let tx = match spray.tx {
            Some(tx) => tx,
            None => {
                let Some(tx) = punch.next_tx(now) else {
                    punch.spray = None;
                    return;
                };
                punch.spray.as_mut().expect("checked").tx = Some(tx);
                tx
            }
        };
        let span = u64::from(u16::MAX - SPRAY_LOWEST_PORT) + 1;
        for k in 0..batch {
            let port = SPRAY_LOWEST_PORT + (rng.next_u64() % span) as u16;
            let ip = ips[k as usize % ips.len()];
            if self.send_punch_probe(now, members, 0, pid, SocketAddr::new(ip, port), tx, None) {
                self.stats.spray_probes += 1;
            }
        }
    }

    /// Probes every target of the punch toward `pid` once from the main
    /// socket. A `scheduled` round advances the punch's schedule; others are extra.
    fn probe_round(&mut self, now: Instant, members: &impl Members, pid: NodeId, scheduled: bool) {
        self.probe_round_ttl(now, members, pid, scheduled, None);
    }

    /// [`Traversal::probe_round`], with openers if `ttl` says so (see
    /// [`OPENER_TTL`]).
    pub(crate) fn probe_round_ttl(
        &mut self,
        now: Instant,
        members: &impl Members,
        pid: NodeId,
        scheduled: bool,
        ttl: Option<u8>,
    ) {
        let endpoint = members.facts(now, &pid).and_then(|f| f.endpoint);
        let Some(punch) = self.punches.get_mut(&pid) else {
            return;
        };
        if scheduled {
            punch.scheduled += 1;
        }
        if punch.found.is_some() {
            return;
        }
        if let Some(addr) = endpoint {
            // Where gossip or the session says it is: as others see it.
            punch.learn_peer_reflexive(addr);
        }
        // Behind a NAT that allocates in sequence, until the other side can
        // know our ports: openers only (see `reading.rs`); not toward a
        // member with no NAT (others see it at an address of its own).
        let unnatted = endpoint.is_some_and(|e| {
            punch
                .remote
                .iter()
                .any(|c| c.kind == candidate_kind::LOCAL && c.addr == e)
        });
        let ttl = if punch.reading.holds() && !unnatted {
            Some(ttl.unwrap_or(OPENER_TTL))
        } else {
            ttl
        };
        let escalated = now.saturating_duration_since(punch.started) >= ESCALATE_AFTER;
        // Ports beyond the candidates only where spraying is allowed.
        let spray_ips = self.sprayable_ips(now, members, pid);
        let punch = &self.punches[&pid];
        let targets = if punch.crossing(now) {
            // The candidates and our line only: any other new destination
            // would take a port of our NAT's sequence that the other side's
            // line aims at.
            let mut t: Vec<SocketAddr> = punch.remote.iter().map(|c| c.addr).collect();
            t.truncate(MAX_PROBES_PER_ROUND);
            for a in punch.line.iter().flat_map(Line::probed) {
                if !t.contains(&a) {
                    t.push(a);
                }
            }
            t
        } else {
            // Ports beyond the candidates cost a NAT that allocates in
            // sequence one port of its sequence each: only once we know
            // ours does not, or may not cross lines.
            let predict = match &self.check.hint {
                Some(ours) => !sequential_per_destination(ours),
                None => now >= punch.started + CROSSING_WAIT,
            } || punch.reading == Reading::Failed;
            let mut t = probe_targets(
                &punch.remote,
                &punch.nat,
                punch.theirs.as_ref(),
                escalated,
                if predict { &spray_ips } else { &[] },
            );
            t.truncate(MAX_PROBES_PER_ROUND);
            t
        };
        let punch = self.punches.get_mut(&pid).expect("checked");
        let Some(tx) = punch.next_tx(now) else {
            return;
        };
        let birthday = punch.birthday.is_some_and(|b| b.is_none());
        for &to in &targets {
            self.send_punch_probe(now, members, 0, pid, to, tx, ttl);
        }
        if birthday && scheduled && ttl.is_none() {
            // The birthday sockets keep their mappings open.
            let targets = self.spray_targets(now, members, pid);
            for socket in birthday_ids() {
                for &to in &targets {
                    self.send_punch_probe(now, members, socket, pid, to, tx, Some(OPENER_TTL));
                }
            }
        }
    }

    /// Probes one newly learned endpoint of `pid` at once.
    fn probe_now(&mut self, now: Instant, members: &impl Members, pid: NodeId, to: SocketAddr) {
        let Some(punch) = self.punches.get_mut(&pid) else {
            return;
        };
        if punch.found.is_some() {
            return;
        }
        if let Some(tx) = punch.next_tx(now) {
            self.send_punch_probe(now, members, 0, pid, to, tx, None);
        }
    }

    /// The other side's reflexive endpoints that the birthday sockets may
    /// probe (at most two): only where spraying is allowed.
    fn spray_targets(&self, now: Instant, members: &impl Members, pid: NodeId) -> Vec<SocketAddr> {
        let Some(punch) = self.punches.get(&pid) else {
            return Vec::new();
        };
        punch
            .reflexive()
            .filter(|a| self.may_spray(now, members, pid, a.ip()))
            .take(2)
            .collect()
    }

    /// A probe of `pid`'s (MAC'd by it, with `tx`) came from `from` to our
    /// socket `socket`: the other side's probe got through its NAT and
    /// ours, so answers from this socket to `from` will too.
    pub(crate) fn on_probe(
        &mut self,
        now: Instant,
        members: &impl Members,
        pid: NodeId,
        socket: u16,
        from: SocketAddr,
        tx: u64,
    ) {
        let Some(punch) = self.punches.get_mut(&pid) else {
            return;
        };
        if !punch.owns_tx(tx) {
            return;
        }
        punch.hear(from.ip());
        // Try it, and probe it (a peer-reflexive candidate) to measure it.
        if socket == 0 && punch.learn_peer_reflexive(from) {
            self.probe_now(now, members, pid, from);
        }
        self.on_path_found(now, pid, socket, from, PUNCH_TIME);
    }

    /// A probe-ack of `pid`'s (MAC'd by it, with `tx`) came from `from` to
    /// our socket `socket`, saying it saw our probe come from `seen`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_probe_ack(
        &mut self,
        now: Instant,
        members: &impl Members,
        pid: NodeId,
        socket: u16,
        from: SocketAddr,
        tx: u64,
        seen: SocketAddr,
    ) {
        if self.check.owns(tx) {
            self.self_check_ack(now, members, from, socket, seen);
            return;
        }
        if socket != 0 && self.reading_ack(now, members, tx, socket, seen) {
            return;
        }
        let Some(punch) = self.punches.get_mut(&pid) else {
            // An answer after its punch ended: harmless.
            return;
        };
        let Some(rtt) = punch.rtt_of(tx, now) else {
            return;
        };
        punch.hear(from.ip());
        if socket == 0 {
            self.observe(seen, pid, now);
        }
        self.on_path_found(now, pid, socket, from, rtt);
    }

    /// `addr` answered (or reached us) on our socket `socket` after `rtt`:
    /// that is a direct path.
    fn on_path_found(
        &mut self,
        now: Instant,
        pid: NodeId,
        socket: u16,
        addr: SocketAddr,
        rtt: Duration,
    ) {
        let Some(punch) = self.punches.get_mut(&pid) else {
            return;
        };
        if punch.found.is_none() {
            self.stats.direct_paths_found += 1;
            punch.found_at = Some(now);
            punch.spray = None;
            tracing::debug!(peer = %pid.short(), %addr, socket, ?rtt, "hole punching found a direct path");
        }
        // A path must be clearly faster to replace the one found first.
        if punch
            .found
            .is_some_and(|(_, _, best)| rtt >= best.mul_f64(BETTER_PATH))
        {
            return;
        }
        punch.found = Some((socket, addr, rtt));
        self.out.push_back(Output::PathFound {
            member: pid,
            socket,
            addr,
            rtt,
        });
    }
}

/// How long after a punch toward a member started the next one may: at
/// once after each of the first [`FAST_RETRIES`] failures in a row while the
/// member has traffic waiting; else [`PUNCH_COOLDOWN`], doubled for each
/// failure (beyond the fast retries, for an active member), up to 32 times.
pub(crate) fn punch_wait(failures: u8, active: bool) -> Duration {
    if active && (1..=FAST_RETRIES).contains(&failures) {
        return Duration::ZERO;
    }
    let doublings = if active {
        failures.saturating_sub(FAST_RETRIES + 1)
    } else {
        failures
    };
    PUNCH_COOLDOWN * (1 << doublings.min(5))
}
