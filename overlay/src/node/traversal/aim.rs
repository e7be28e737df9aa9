//! Where a punch may send: which addresses proved to be the member's, which
//! another member vouched for, and the probe budget toward the rest (the
//! counts are in [`super::limits`]).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use super::{Members, Output, Traversal};
use crate::identity::NodeId;

impl Traversal {
    /// Whether `ip` proved to be `pid`'s: a probe or probe-ack MAC'd by it
    /// came from there during the punch, or our direct session with it runs
    /// there.
    pub(crate) fn heard_ip(
        &self,
        now: Instant,
        members: &impl Members,
        pid: NodeId,
        ip: IpAddr,
    ) -> bool {
        let ip = ip.to_canonical();
        let in_punch = self.punches.get(&pid).is_some_and(|p| p.heard_from(ip));
        in_punch
            || members.facts(now, &pid).is_some_and(|f| {
                f.direct && f.endpoint.is_some_and(|e| e.ip().to_canonical() == ip)
            })
    }

    /// Whether a punch toward `pid` may probe ports of `ip` beyond the
    /// candidates `pid` named (predicted ports, windows, the birthday
    /// technique): only an address that proved to be `pid`'s, or that a
    /// member other than `pid` reported as `pid`'s.
    pub(crate) fn may_spray(
        &self,
        now: Instant,
        members: &impl Members,
        pid: NodeId,
        ip: IpAddr,
    ) -> bool {
        self.heard_ip(now, members, pid, ip) || self.limits.vouched(now, pid, ip)
    }

    /// The IP addresses of `pid`'s reflexive candidates in its punch that
    /// may be sprayed (see [`Traversal::may_spray`]), each once.
    pub(crate) fn sprayable_ips(
        &self,
        now: Instant,
        members: &impl Members,
        pid: NodeId,
    ) -> Vec<IpAddr> {
        let Some(punch) = self.punches.get(&pid) else {
            return Vec::new();
        };
        let mut ips: Vec<IpAddr> = punch
            .reflexive()
            .map(|a| a.ip())
            .filter(|ip| self.may_spray(now, members, pid, *ip))
            .collect();
        ips.sort();
        ips.dedup();
        ips
    }

    /// Sends a probe of the punch toward `pid` (with IP TTL `ttl`: an
    /// opener), within the budget of its target address (addresses that
    /// proved to be `pid`'s have none). Returns whether it went.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send_punch_probe(
        &mut self,
        now: Instant,
        members: &impl Members,
        socket: u16,
        pid: NodeId,
        to: SocketAddr,
        tx: u64,
        ttl: Option<u8>,
    ) -> bool {
        let ip = to.ip().to_canonical();
        if !self.heard_ip(now, members, pid, ip) {
            let vouched = self.limits.vouched(now, pid, ip);
            if !self.limits.spend_probe(now, ip, vouched) {
                self.stats.probes_capped += 1;
                return false;
            }
        }
        self.out.push_back(Output::Probe {
            member: pid,
            socket,
            to,
            tx,
            ttl,
        });
        true
    }

    /// Sends a probe for `pid` to `to` from our socket `socket` (the node
    /// MACs it, and counts it if it could).
    pub(crate) fn send_probe(&mut self, socket: u16, pid: NodeId, to: SocketAddr, tx: u64) {
        self.out.push_back(Output::Probe {
            member: pid,
            socket,
            to,
            tx,
            ttl: None,
        });
    }
}
