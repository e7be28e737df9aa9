//! A link's impairments: latency, jitter, loss, duplication, reordering, an
//! MTU, and whether it is up. Like netem, it is a pure decision: a datagram of
//! some size goes in, and out comes how many copies arrive and after what
//! delay. All randomness comes from the caller's seeded RNG.

use std::time::Duration;

use rand_core::RngCore;

use crate::rng::{below, chance};

/// Bytes of UDP header on top of a datagram's payload.
pub const UDP_HEADER: usize = 8;

/// The parameters of one link (both directions alike, drawn independently).
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// One-way delay of every datagram.
    pub latency: Duration,
    /// Extra delay, uniform in `[0, jitter]`, per datagram (reorders too).
    pub jitter: Duration,
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// Probability that a datagram arrives twice.
    pub duplicate: f64,
    /// Probability that a datagram is held back by one extra `latency`, so
    /// that later ones overtake it.
    pub reorder: f64,
    /// Largest IP packet (payload + UDP + IP header) that passes.
    pub mtu: usize,
    /// A link that is down drops everything.
    pub up: bool,
}

impl Default for Link {
    /// 10 ms ± 2 ms, no loss, MTU 1500.
    fn default() -> Self {
        Self {
            latency: Duration::from_millis(10),
            jitter: Duration::from_millis(2),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            mtu: 1500,
            up: true,
        }
    }
}

impl Link {
    /// A path across a wide-area network, as the long scenarios use: 20 ms
    /// ± 10 ms, 1 % loss, 0.5 % duplicates, 1 % reordered, MTU 1500.
    pub fn wide_area() -> Self {
        Self {
            latency: Duration::from_millis(20),
            jitter: Duration::from_millis(10),
            loss: 0.01,
            duplicate: 0.005,
            reorder: 0.01,
            mtu: 1500,
            up: true,
        }
    }
}

/// Why a link dropped a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkDrop {
    /// The link is down.
    Down,
    /// Larger than the MTU.
    TooBig,
    /// Random loss.
    Lost,
}

/// What happens to one datagram on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// It arrives once, after this delay.
    Once(Duration),
    /// It arrives twice, after these delays.
    Twice(Duration, Duration),
    /// It never arrives.
    Dropped(LinkDrop),
}

impl Link {
    /// An ideal link with the given one-way latency: no jitter, no loss.
    pub fn ideal(latency: Duration) -> Self {
        Self {
            latency,
            jitter: Duration::ZERO,
            ..Self::default()
        }
    }

    /// Decides the fate of an IP packet of `ip_len` bytes.
    pub fn transmit(&self, rng: &mut impl RngCore, ip_len: usize) -> Fate {
        if !self.up {
            return Fate::Dropped(LinkDrop::Down);
        }
        if ip_len > self.mtu {
            return Fate::Dropped(LinkDrop::TooBig);
        }
        if chance(rng, self.loss) {
            return Fate::Dropped(LinkDrop::Lost);
        }
        let first = self.delay(rng);
        if chance(rng, self.duplicate) {
            Fate::Twice(first, self.delay(rng))
        } else {
            Fate::Once(first)
        }
    }

    fn delay(&self, rng: &mut impl RngCore) -> Duration {
        let mut d = self.latency;
        let jitter_ns = self.jitter.as_nanos() as u64;
        if jitter_ns > 0 {
            d += Duration::from_nanos(below(rng, jitter_ns + 1));
        }
        if chance(rng, self.reorder) {
            d += self.latency;
        }
        d
    }
}

/// The size of the IP packet that carries a UDP payload of `payload` bytes.
pub fn ip_len(payload: usize, ipv6: bool) -> usize {
    payload + UDP_HEADER + if ipv6 { 40 } else { 20 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Stream};

    fn fates(link: &Link, n: usize, len: usize) -> Vec<Fate> {
        let mut rng = stream(42, Stream::Links);
        (0..n).map(|_| link.transmit(&mut rng, len)).collect()
    }

    #[test]
    fn ideal_link_delivers_once_after_its_latency() {
        let link = Link::ideal(Duration::from_millis(7));
        for f in fates(&link, 100, 1000) {
            assert_eq!(f, Fate::Once(Duration::from_millis(7)));
        }
    }

    #[test]
    fn mtu_counts_the_headers() {
        let link = Link::ideal(Duration::from_millis(1));
        let mut rng = stream(1, Stream::Links);
        assert_eq!(ip_len(1472, false), 1500);
        assert!(matches!(
            link.transmit(&mut rng, ip_len(1472, false)),
            Fate::Once(_)
        ));
        assert_eq!(
            link.transmit(&mut rng, ip_len(1473, false)),
            Fate::Dropped(LinkDrop::TooBig)
        );
        assert_eq!(
            link.transmit(&mut rng, ip_len(1472, true)),
            Fate::Dropped(LinkDrop::TooBig)
        );
    }

    #[test]
    fn down_link_drops_everything() {
        let link = Link {
            up: false,
            ..Link::default()
        };
        assert!(fates(&link, 10, 100)
            .iter()
            .all(|f| *f == Fate::Dropped(LinkDrop::Down)));
    }

    #[test]
    fn loss_and_duplication_rates_match_their_probabilities() {
        let link = Link {
            loss: 0.2,
            duplicate: 0.1,
            ..Link::default()
        };
        let f = fates(&link, 20_000, 100);
        let lost = f.iter().filter(|f| matches!(f, Fate::Dropped(_))).count();
        let twice = f.iter().filter(|f| matches!(f, Fate::Twice(..))).count();
        // 20% lost; 10% of the remaining 80% duplicated.
        assert!((3600..4400).contains(&lost), "lost {lost}");
        assert!((1300..1900).contains(&twice), "twice {twice}");
    }

    #[test]
    fn jitter_stays_in_bounds_and_reordering_adds_one_latency() {
        let link = Link {
            latency: Duration::from_millis(10),
            jitter: Duration::from_millis(4),
            reorder: 0.25,
            ..Link::default()
        };
        let mut held = 0;
        for f in fates(&link, 4000, 100) {
            let Fate::Once(d) = f else {
                panic!("no loss or duplication configured: {f:?}")
            };
            assert!(d >= Duration::from_millis(10) && d <= Duration::from_millis(24));
            if d >= Duration::from_millis(20) {
                held += 1;
            }
        }
        assert!((800..1200).contains(&held), "held back {held}");
    }

    #[test]
    fn same_seed_same_fates() {
        let link = Link {
            loss: 0.3,
            duplicate: 0.3,
            reorder: 0.3,
            ..Link::default()
        };
        assert_eq!(fates(&link, 500, 100), fates(&link, 500, 100));
    }
}
