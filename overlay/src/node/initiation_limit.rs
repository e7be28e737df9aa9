//! What an initiation may cost: under load, each source gets a token bucket
//! before any Diffie-Hellman, as WireGuard's rate limiter does, so one
//! flooding host (or relay, or TCP connection) cannot take the node's CPU
//! from everyone else.
//!
//! The node takes [`LOAD`] initiations a second (a token bucket as deep)
//! among those that would cost it a Diffie-Hellman (their MAC verified and
//! they are no replay, see `seen_initiations`) without asking where they
//! come from. Past that it is under load, and each source may start at most
//! [`RATE`] a second, with bursts of [`BURST`]; the rest are dropped as
//! `initiation_flood`. A source is the sender's IP address, or the member
//! that relayed the initiation, or the TCP connection it came over. Without
//! load nothing is limited, so a member behind a NAT shared by many never
//! waits. Under load, an initiation its source's bucket admits must also
//! carry a cookie bound to its source (`cookies`), or it is answered with a
//! cookie reply instead of a Diffie-Hellman.
//!
//! The buckets are bounded ([`MAX_SOURCES`]): full buckets (sources quiet
//! for a while) are swept out first; a new source that finds the table full
//! of busy ones waits until it has room (the table is swept at most once a
//! second, so a stream of new sources costs no scan each). A flood from one
//! source costs the node at most `LOAD + RATE` Diffie-Hellman operations a
//! second; one from many spoofed addresses at most `LOAD` a second, since
//! a spoofed source never receives the cookie that its initiations need
//! under load.

use std::time::{Duration, Instant};

use crate::identity::NodeId;

/// Initiations per second above which the node counts as under load.
pub(crate) const LOAD: u32 = 100;
/// Initiations per second one source may start under load.
pub(crate) const RATE: u32 = 20;
/// The burst one source may start at once under load.
pub(crate) const BURST: u32 = 5;
/// Sources tracked at most.
pub(crate) const MAX_SOURCES: usize = 4096;
/// How often a full table of sources may be swept for quiet ones.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// What the limit says about one initiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// The node is not under load: go on.
    Free,
    /// Under load, and the source has a token: go on if it carries a valid
    /// cookie, else answer with a cookie reply.
    UnderLoad,
    /// Under load, and the source is over its rate: drop.
    Refused,
}

/// Where an initiation came from, as far as the limit is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Source {
    /// A datagram from this IP address.
    Ip(std::net::IpAddr),
    /// A relay frame from this member.
    Relay(NodeId),
    /// This TCP connection (its stream ID).
    Stream(u16),
}

/// Tokens, in thousandths, and when they were last counted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    milli_tokens: u64,
    at: Instant,
}

impl Bucket {
    /// A full bucket of `burst` tokens.
    pub(crate) fn full(burst: u32, now: Instant) -> Self {
        Self {
            milli_tokens: u64::from(burst) * 1000,
            at: now,
        }
    }

    /// Adds the tokens earned at `rate` a second since last counted (at
    /// most `burst`), keeping the time of a fraction not yet earned.
    pub(crate) fn refill(&mut self, now: Instant, rate: u32, burst: u32) {
        let full = u64::from(burst) * 1000;
        let nanos = now.saturating_duration_since(self.at).as_nanos();
        let earned = nanos * u128::from(rate) / 1_000_000;
        let total = u128::from(self.milli_tokens) + earned;
        if total >= u128::from(full) {
            (self.milli_tokens, self.at) = (full, now);
        } else {
            self.milli_tokens = total as u64;
            let spent = earned * 1_000_000 / u128::from(rate.max(1));
            self.at += Duration::from_nanos(spent as u64);
        }
    }

    /// Takes one token if there is one.
    pub(crate) fn take(&mut self) -> bool {
        if self.milli_tokens < 1000 {
            return false;
        }
        self.milli_tokens -= 1000;
        true
    }
}

/// The load and the buckets.
#[derive(Clone, Debug, Default)]
pub(crate) struct InitiationLimit {
    /// Initiations the node takes without asking where they come from:
    /// [`LOAD`] a second.
    load: Option<Bucket>,
    /// When full buckets were last swept out of a full table: at most once
    /// a [`SWEEP_EVERY`], so that new sources arriving at a full table do
    /// not each pay for a scan of it.
    last_sweep: Option<Instant>,
    buckets: ahash::HashMap<Source, Bucket>,
}

impl InitiationLimit {
    /// Whether an initiation from `source` may go on toward its
    /// Diffie-Hellman.
    pub(crate) fn admit(&mut self, now: Instant, source: Source) -> Admission {
        let load = self.load.get_or_insert(Bucket::full(LOAD, now));
        load.refill(now, LOAD, LOAD);
        if load.take() {
            return Admission::Free;
        }
        if self.admit_source(now, source) {
            Admission::UnderLoad
        } else {
            Admission::Refused
        }
    }

    /// Takes a token from `source`'s bucket, if the table has room for it.
    fn admit_source(&mut self, now: Instant, source: Source) -> bool {
        if !self.buckets.contains_key(&source) && self.buckets.len() >= MAX_SOURCES {
            if self
                .last_sweep
                .is_some_and(|t| now.saturating_duration_since(t) < SWEEP_EVERY)
            {
                return false;
            }
            self.last_sweep = Some(now);
            self.buckets.retain(|_, b| {
                b.refill(now, RATE, BURST);
                b.milli_tokens < u64::from(BURST) * 1000
            });
            if self.buckets.len() >= MAX_SOURCES {
                return false;
            }
        }
        let b = self
            .buckets
            .entry(source)
            .or_insert(Bucket::full(BURST, now));
        b.refill(now, RATE, BURST);
        b.take()
    }
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    impl InitiationLimit {
        /// Whether the initiation goes on (with a cookie if under load).
        fn admits(&mut self, now: Instant, source: Source) -> bool {
            self.admit(now, source) != Admission::Refused
        }
    }

    fn ip(i: u8) -> Source {
        Source::Ip(std::net::IpAddr::from([198, 51, 100, i]))
    }

    #[test]
    fn nothing_is_limited_without_load() {
        let mut l = InitiationLimit::default();
        let t0 = Instant::now();
        for i in 0..LOAD {
            assert!(l.admits(t0 + Duration::from_millis(u64::from(i)), ip(1)));
        }
    }

    #[test]
    fn under_load_each_source_gets_its_rate() {
        let mut l = InitiationLimit::default();
        let t0 = Instant::now();
        // One second of a flood from one source: after the load threshold,
        // only the burst and the rate go through.
        let mut admitted = 0;
        for i in 0..10_000u64 {
            let at = t0 + Duration::from_micros(i * 100);
            admitted += u32::from(l.admits(at, ip(1)));
        }
        assert!(admitted <= 2 * LOAD + BURST + RATE, "{admitted} admitted");
        assert!(admitted >= LOAD + BURST + RATE - 1, "{admitted} admitted");
        // Another source, still under load, gets its burst at once.
        let t1 = t0 + Duration::from_secs(1);
        // (It may also find the one token the shared bucket earned since.)
        let others = (0..2 * BURST).filter(|_| l.admits(t1, ip(2))).count();
        assert!(
            (BURST as usize..=BURST as usize + 1).contains(&others),
            "{others}"
        );
        // The flood stops; a few seconds later nothing is limited again.
        let later = t1 + Duration::from_secs(3);
        assert!((0..BURST * 2).all(|_| l.admits(later, ip(1))));
    }

    #[test]
    fn the_table_is_bounded() {
        let mut l = InitiationLimit::default();
        let t0 = Instant::now();
        for i in 0..(MAX_SOURCES as u32 + 2 * LOAD + 10) {
            let s = Source::Ip(std::net::IpAddr::from(i.to_be_bytes()));
            l.admits(t0, s);
        }
        assert!(l.buckets.len() <= MAX_SOURCES);
        // Full of busy sources: a new one is refused without a sweep.
        let newcomer = ip(250);
        assert!(!l.admits(t0, newcomer));
        assert_eq!(l.last_sweep, Some(t0));
        assert!(!l.admits(t0 + Duration::from_millis(5), newcomer));
        assert_eq!(l.last_sweep, Some(t0));
        // Later the old sources are quiet (their buckets full again): with
        // the shared tokens spent, the next sweep makes room.
        let later = t0 + 2 * SWEEP_EVERY;
        let busy = Source::Ip(std::net::IpAddr::from(0u32.to_be_bytes()));
        for _ in 0..LOAD {
            assert!(l.admits(later, busy));
        }
        assert!(l.admits(later, newcomer));
        assert_eq!(l.last_sweep, Some(later));
    }
}
