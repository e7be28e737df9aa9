//! The life of one pair's path, from both sides' reports: when the first
//! packet could flow, when (if ever) it went direct, and what changed at
//! each poll. Pure: times are given, nothing is read here.

use std::time::Duration;

use super::status::Path;

/// A pair's path, from both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PairPath {
    /// Neither side has a session with the other.
    Unconnected,
    /// Straight between the two (as every connected side reports).
    Direct,
    /// Through the member with this node ID (as at least one side reports).
    Relayed(String),
}

/// What changed in a pair's path at one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PairEvent {
    /// The first session between them: packets can flow.
    Connected(PairPath),
    /// From relayed to direct.
    WentDirect {
        /// Time since the first packet could flow.
        after_first: Duration,
    },
    /// From direct (or another relay) to this relay.
    Relayed(String),
    /// No session any more.
    Lost,
}

/// One pair's path so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PairTrack {
    /// When a session first existed (since the nodes started).
    pub(crate) first_packet: Option<Duration>,
    /// When the path was first direct.
    pub(crate) direct_at: Option<Duration>,
    /// The path now.
    pub(crate) path: PairPath,
}

impl Default for PairTrack {
    fn default() -> Self {
        Self {
            first_packet: None,
            direct_at: None,
            path: PairPath::Unconnected,
        }
    }
}

/// The pair's path from A's view of B (`ab`) and B's view of A (`ba`).
pub(crate) fn combine(ab: &Path, ba: &Path) -> PairPath {
    match (ab, ba) {
        (Path::None, Path::None) => PairPath::Unconnected,
        (Path::Relay(via), _) | (_, Path::Relay(via)) => PairPath::Relayed(via.clone()),
        _ => PairPath::Direct,
    }
}

impl PairTrack {
    /// Takes both sides' reports at `at`; returns what changed, if anything.
    pub(crate) fn observe(&mut self, at: Duration, ab: &Path, ba: &Path) -> Option<PairEvent> {
        let now = combine(ab, ba);
        if now == self.path {
            return None;
        }
        let before = std::mem::replace(&mut self.path, now.clone());
        if now == PairPath::Direct && self.direct_at.is_none() {
            self.direct_at = Some(at);
        }
        Some(match (before, now) {
            (_, PairPath::Unconnected) => PairEvent::Lost,
            (PairPath::Unconnected, now) => {
                self.first_packet.get_or_insert(at);
                PairEvent::Connected(now)
            }
            (_, PairPath::Direct) => PairEvent::WentDirect {
                after_first: at.saturating_sub(self.first_packet.unwrap_or(at)),
            },
            (_, PairPath::Relayed(via)) => PairEvent::Relayed(via),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn relayed_then_direct() {
        let r = Path::Relay("r".into());
        let mut t = PairTrack::default();
        assert_eq!(t.observe(secs(1), &Path::None, &Path::None), None);
        assert_eq!(
            t.observe(secs(2), &r, &Path::None),
            Some(PairEvent::Connected(PairPath::Relayed("r".into())))
        );
        assert_eq!(t.observe(secs(3), &r, &r), None);
        // One side direct, the other still relayed: not direct yet.
        assert_eq!(t.observe(secs(4), &Path::Direct, &r), None);
        assert_eq!(
            t.observe(secs(5), &Path::Direct, &Path::Direct),
            Some(PairEvent::WentDirect {
                after_first: secs(3)
            })
        );
        assert_eq!(
            (t.first_packet, t.direct_at),
            (Some(secs(2)), Some(secs(5)))
        );
        assert_eq!(
            t.observe(secs(6), &Path::Direct, &r),
            Some(PairEvent::Relayed("r".into()))
        );
        assert_eq!(
            t.observe(secs(7), &Path::None, &Path::None),
            Some(PairEvent::Lost)
        );
        // Times are those of the first packet and the first direct path.
        t.observe(secs(8), &Path::Direct, &Path::Direct);
        assert_eq!(
            (t.first_packet, t.direct_at),
            (Some(secs(2)), Some(secs(5)))
        );
    }

    #[test]
    fn direct_from_the_first_packet() {
        let mut t = PairTrack::default();
        assert_eq!(
            t.observe(secs(1), &Path::None, &Path::Direct),
            Some(PairEvent::Connected(PairPath::Direct))
        );
        assert_eq!(
            (t.first_packet, t.direct_at),
            (Some(secs(1)), Some(secs(1)))
        );
    }
}
