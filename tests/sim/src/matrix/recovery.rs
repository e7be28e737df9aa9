//! Measuring recovery after a fault: B and C send each other a small app
//! packet every [`EVERY`]; recovery is the first instant from which a
//! packet got through both ways, and the first from which it did while
//! both sent straight to each other.

use std::time::Duration;

use crate::ids::HostId;
use crate::traffic::PacketId;
use crate::world::World;

/// How often B and C send while recovering.
const EVERY: Duration = Duration::from_millis(100);

/// How long a packet may take to arrive.
const IN_FLIGHT: Duration = Duration::from_secs(2);

/// When B and C talked again after a fault, counted from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Recovery {
    /// First send time whose packets arrived both ways, on any path.
    pub(super) talk: Option<Duration>,
    /// First send time whose packets arrived both ways while both sent
    /// directly.
    pub(super) direct: Option<Duration>,
}

/// One round of sends: when, whether both sides sent directly, and the
/// two packets.
struct Round {
    after: Duration,
    direct: bool,
    packets: Option<(PacketId, PacketId)>,
}

/// Sends both ways every [`EVERY`] for up to `limit` after now (the
/// fault), stopping once a direct round got through both ways.
pub(super) fn recover(w: &mut World, b: HostId, c: HostId, limit: Duration) -> Recovery {
    let fault = w.now();
    let mut rounds: Vec<Round> = Vec::new();
    let mut found = Recovery {
        talk: None,
        direct: None,
    };
    while w.now().saturating_since(fault) < limit && found.direct.is_none() {
        let direct = w.direct(b, c);
        let packets = w.send_app(b, c, 100).zip(w.send_app(c, b, 100));
        rounds.push(Round {
            after: w.now().saturating_since(fault),
            direct,
            packets,
        });
        w.run_for(EVERY);
        found = scan(w, &rounds, w.now().saturating_since(fault));
    }
    w.run_for(IN_FLIGHT);
    scan(w, &rounds, Duration::MAX)
}

/// The first round that got through both ways, and the first that did so
/// while both sent directly, among the rounds whose fate is known at `now`
/// (time since the fault; `Duration::MAX` once all have landed): a round
/// still in flight hides the ones after it.
fn scan(w: &World, rounds: &[Round], now: Duration) -> Recovery {
    let arrived = |r: &Round| {
        r.packets.is_some_and(|(x, y)| {
            w.ledger().delivered_at(x).is_some() && w.ledger().delivered_at(y).is_some()
        })
    };
    let settled = |r: &&Round| now == Duration::MAX || r.after + IN_FLIGHT <= now || arrived(r);
    let talk = rounds
        .iter()
        .take_while(|r| settled(r))
        .find(|r| arrived(r))
        .map(|r| r.after);
    let direct = rounds
        .iter()
        .take_while(|r| settled(r))
        .find(|r| r.direct && arrived(r))
        .map(|r| r.after);
    Recovery { talk, direct }
}
