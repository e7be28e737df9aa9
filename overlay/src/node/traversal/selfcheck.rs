//! The NAT self-check: how does our NAT map and allocate ports? The node
//! probes up to two members from its main socket, and the first of them
//! from two extra sockets, one after the other; the probe-acks say which
//! external port each probe came from. Two members that see the main socket
//! at the same port mean one mapping for every destination. The main
//! socket's external port equal to its local port means ports are
//! preserved; otherwise the two extra sockets' ports, allocated back to
//! back, show a sequence (and its step) or random allocation.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand_core::RngCore;

use super::candidates::{allocation, mapping};
use super::extra_sockets::CHECK_SOCKETS;
use super::{Members, Traversal};
use crate::identity::NodeId;
use crate::wire::signal::NatHint;

/// How soon after the first session the check runs.
const FIRST_CHECK_DELAY: Duration = Duration::from_millis(100);
/// How often it runs again (NATs change, nodes move).
const CHECK_INTERVAL: Duration = Duration::from_secs(600);
/// When no member is connected yet, how long until the next look.
const RETRY_INTERVAL: Duration = Duration::from_millis(500);
/// How long the check waits for its answers.
const CHECK_TIME: Duration = Duration::from_secs(3);
/// Time between the two extra sockets' probes (and after opening them),
/// so that the NAT allocates their ports in that order.
const EXTRA_SPACING: Duration = Duration::from_millis(10);
/// Largest difference between two back-to-back external ports still taken
/// for sequential allocation.
const MAX_SEQUENTIAL_STEP: i32 = 64;

/// State of the self-check.
#[derive(Clone, Debug, Default)]
pub(crate) struct SelfCheck {
    /// When it next runs (`None` until the node first looks).
    next_at: Option<Instant>,
    running: Option<Running>,
    /// What the last completed check found.
    pub(crate) hint: Option<NatHint>,
}

#[derive(Clone, Debug)]
struct Running {
    tx: u64,
    until: Instant,
    /// The member the extra sockets probe.
    first: (NodeId, SocketAddr),
    /// Members probed from the main socket.
    expected_main: usize,
    /// (member IP, the port it saw our main socket at).
    main: Vec<(IpAddr, u16)>,
    /// The ports the first member saw the extra sockets at.
    extra: [Option<u16>; 2],
    /// The next extra socket to probe from, and when.
    next_extra: Option<(usize, Instant)>,
}

impl SelfCheck {
    /// Whether a check waits for answers.
    pub(crate) fn running(&self) -> bool {
        self.running.is_some()
    }

    /// When the node must next look at the check.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        match &self.running {
            Some(r) => Some(r.next_extra.map_or(r.until, |(_, t)| t.min(r.until))),
            None => self.next_at,
        }
    }

    /// Whether a probe-ack with `tx` answers the check.
    pub(crate) fn owns(&self, tx: u64) -> bool {
        self.running.as_ref().is_some_and(|r| r.tx == tx)
    }
}

/// What the answers say about our NAT; `local_port` is the main socket's.
fn classify(r: &Running, local_port: Option<u16>) -> NatHint {
    let mut hint = NatHint::default();
    let Some(&(_, main_port)) = r.main.iter().find(|(ip, _)| *ip == r.first.1.ip()) else {
        return hint;
    };
    hint.last_port = main_port;
    if r.main.len() >= 2 {
        hint.mapping = if r.main.iter().all(|&(_, p)| p == main_port) {
            mapping::INDEPENDENT
        } else {
            mapping::DEPENDENT
        };
    }
    if Some(main_port) == local_port {
        hint.allocation = allocation::PRESERVED;
    } else if let [Some(a), Some(b)] = r.extra {
        let step = i32::from(b) - i32::from(a);
        if step != 0 && step.abs() <= MAX_SEQUENTIAL_STEP {
            hint.allocation = allocation::SEQUENTIAL;
            hint.step = step as i16;
            hint.last_port = b;
        } else {
            hint.allocation = allocation::RANDOM;
        }
    }
    hint
}

impl Traversal {
    /// Starts the self-check, sends its extra probes, or finishes it, when due.
    pub(crate) fn self_check_timer(
        &mut self,
        now: Instant,
        members: &impl Members,
        rng: &mut impl RngCore,
    ) {
        if let Some(r) = &mut self.check.running {
            if let Some((i, at)) = r.next_extra.filter(|(_, at)| *at <= now) {
                let (id, addr) = r.first;
                let tx = r.tx;
                r.next_extra = (i + 1 < CHECK_SOCKETS.len()).then_some((i + 1, at + EXTRA_SPACING));
                self.send_probe(CHECK_SOCKETS[i], id, addr, tx);
            }
            let r = self.check.running.as_ref().expect("running");
            if now >= r.until {
                self.finish_self_check(now, members);
            }
            return;
        }
        let check = &mut self.check;
        let Some(at) = check.next_at else {
            check.next_at = Some(now + FIRST_CHECK_DELAY);
            return;
        };
        if now < at {
            return;
        }
        // Up to two connected members with different IP addresses.
        let mut direct = members.direct_from_main(now);
        direct.sort();
        let mut chosen: Vec<(NodeId, SocketAddr)> = Vec::new();
        for m in direct {
            if chosen.len() < 2 && chosen.iter().all(|c| c.1.ip() != m.1.ip()) {
                chosen.push(m);
            }
        }
        let Some(&first) = chosen.first() else {
            self.check.next_at = Some(now + RETRY_INTERVAL);
            return;
        };
        let tx = rng.next_u64();
        self.check.next_at = Some(now + CHECK_INTERVAL);
        self.check.running = Some(Running {
            tx,
            until: now + CHECK_TIME,
            first,
            expected_main: chosen.len(),
            main: Vec::new(),
            extra: [None; 2],
            next_extra: Some((0, now + EXTRA_SPACING)),
        });
        self.open_extra(CHECK_SOCKETS);
        for (id, addr) in chosen {
            self.send_probe(0, id, addr, tx);
        }
    }

    /// A probe-ack of the check arrived on `socket` from `from`.
    pub(crate) fn self_check_ack(
        &mut self,
        now: Instant,
        members: &impl Members,
        from: SocketAddr,
        socket: u16,
        seen: SocketAddr,
    ) {
        let Some(r) = &mut self.check.running else {
            return;
        };
        if socket == 0 {
            if !r.main.iter().any(|(ip, _)| *ip == from.ip()) {
                r.main.push((from.ip(), seen.port()));
            }
        } else if let Some(i) = CHECK_SOCKETS.iter().position(|&s| s == socket) {
            r.extra[i] = Some(seen.port());
        }
        if r.main.len() == r.expected_main && r.extra.iter().all(Option::is_some) {
            self.finish_self_check(now, members);
        }
    }

    fn finish_self_check(&mut self, now: Instant, members: &impl Members) {
        let Some(r) = self.check.running.take() else {
            return;
        };
        let local_port = self.local_addrs.first().map(SocketAddr::port);
        let hint = classify(&r, local_port);
        tracing::debug!(?hint, "NAT self-check");
        if hint == NatHint::default() {
            // Nobody answered: try again soon rather than in ten minutes.
            self.check.next_at = Some(now + RETRY_INTERVAL);
        } else {
            self.check.hint = Some(hint);
        }
        self.close_unused_extra(members);
    }
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    fn running(main: &[(&str, u16)], extra: [Option<u16>; 2]) -> Running {
        let key = crate::identity::NodeKey::from_seed([1; 32]);
        Running {
            tx: 0,
            until: Instant::now(),
            first: (key.id(), format!("{}:9740", main[0].0).parse().unwrap()),
            expected_main: main.len(),
            main: main
                .iter()
                .map(|(ip, p)| (ip.parse().unwrap(), *p))
                .collect(),
            extra,
            next_extra: None,
        }
    }

    #[test]
    fn classifies_what_nats_do() {
        let two = [("192.0.2.1", 5000), ("192.0.2.2", 5000)];
        let cone = classify(&running(&two, [Some(5001), Some(5002)]), Some(5000));
        assert_eq!(cone.mapping, mapping::INDEPENDENT);
        assert_eq!(cone.allocation, allocation::PRESERVED);

        let seq = [("192.0.2.1", 20_003), ("192.0.2.2", 20_004)];
        let s = classify(&running(&seq, [Some(20_010), Some(20_011)]), Some(9740));
        assert_eq!(s.mapping, mapping::DEPENDENT);
        assert_eq!(
            (s.allocation, s.step, s.last_port),
            (allocation::SEQUENTIAL, 1, 20_011)
        );

        let rnd = [("192.0.2.1", 41_000)];
        let r = classify(&running(&rnd, [Some(7_000), Some(60_123)]), Some(9740));
        assert_eq!(r.mapping, 0, "one member cannot tell the mapping");
        assert_eq!(r.allocation, allocation::RANDOM);
    }
}
