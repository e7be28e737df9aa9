//! Faults: crashes and restarts, leaving and joining, roaming, NAT
//! renumbering and reboots, partitions, cut paths and dead links.

use super::run::ordered;
use super::World;
use crate::error::SimError;
use crate::host::{Liveness, Net, Place};
use crate::ids::{HostId, NatId};

impl World {
    /// Kills `h`'s node at once. Its state dir (node key and the peer cache
    /// the node last reported) survives; datagrams to it are lost.
    pub fn crash(&mut self, h: HostId) {
        self.take_down(h, Liveness::Crashed);
    }

    /// Stops `h`'s node for good (it may [`World::start`] again later, with
    /// its state dir). The node has no goodbye message, so to its peers this
    /// looks like a crash.
    pub fn leave(&mut self, h: HostId) {
        self.take_down(h, Liveness::Left);
    }

    /// Crashes `h` (if it runs) and starts it again at once.
    pub fn restart(&mut self, h: HostId) {
        self.crash(h);
        self.start(h);
    }

    fn take_down(&mut self, h: HostId, how: Liveness) {
        let now = self.now;
        // Its extra sockets close with it.
        let ids: Vec<u16> = self.hosts[h.index()].extra.keys().copied().collect();
        self.close_extra(h, &ids);
        let host = &mut self.hosts[h.index()];
        if host.node.take().is_some() {
            host.uptime = host.uptime_at(now);
            host.up_since = None;
        }
        host.liveness = how;
        host.wake = None;
        host.wake_gen += 1;
        host.pending_app.clear();
    }

    /// Moves `h` to `place` with a fresh address, its node still running: it
    /// roamed to another LAN, or a public host was renumbered. Datagrams in
    /// flight to the old address are lost.
    ///
    /// # Errors
    /// Fails when the address plan has no room at `place`.
    pub fn move_to(&mut self, h: HostId, place: Place) -> Result<(), SimError> {
        let (addr, net) = self.allocate(place)?;
        // Extra sockets move with the host's address.
        let extra: Vec<(u16, u16)> = self.hosts[h.index()]
            .extra
            .iter()
            .map(|(&i, &p)| (i, p))
            .collect();
        let ids: Vec<u16> = extra.iter().map(|&(i, _)| i).collect();
        self.close_extra(h, &ids);
        let host = &mut self.hosts[h.index()];
        let (old_addr, old_net) = (host.addr, host.net);
        host.addr = addr;
        host.net = net;
        self.hosts_by_addr.remove(&old_addr);
        self.hosts_by_addr.insert(addr, h);
        self.open_extra(h, &ids);
        self.release(old_addr, old_net);
        Ok(())
    }

    /// Gives a NAT a new external address and drops all its mappings, as when
    /// the ISP renumbers it or it reboots.
    ///
    /// # Errors
    /// Fails when the address plan has no room.
    pub fn renumber_nat(&mut self, n: NatId) -> Result<(), SimError> {
        let parent = self.nats[n.index()].parent;
        let new_ip = match parent {
            Net::Internet => std::net::IpAddr::V4(self.plan.public_v4()?),
            Net::Lan(outer) => std::net::IpAddr::V4(self.nats[outer.index()].lan.take()?),
        };
        let old_ip = self.nats[n.index()].nat.external();
        self.nats[n.index()].nat.renumber(new_ip);
        self.nats_by_ip.remove(&old_ip);
        self.nats_by_ip.insert(new_ip, n);
        self.release(std::net::SocketAddr::new(old_ip, 0), parent);
        Ok(())
    }

    /// Restarts a NAT: it keeps its external address but forgets every
    /// mapping, as a home router that reboots.
    pub fn reboot_nat(&mut self, n: NatId) {
        self.nats[n.index()].nat.reboot();
    }

    /// Splits the hosts into groups that cannot reach each other; hosts in
    /// no listed group form one more group. Replaces any earlier partition.
    pub fn partition(&mut self, groups: &[&[HostId]]) {
        for host in &mut self.hosts {
            host.group = 0;
        }
        for (i, group) in groups.iter().enumerate() {
            for h in *group {
                self.hosts[h.index()].group = i as u32 + 1;
            }
        }
    }

    /// Ends any partition.
    pub fn heal_partition(&mut self) {
        self.partition(&[]);
    }

    /// Cuts the path between `a` and `b`, both ways (everything else between
    /// them still works: NATs, other paths).
    pub fn cut(&mut self, a: HostId, b: HostId) {
        self.cuts.insert(ordered(a, b));
    }

    /// Restores the path between `a` and `b`.
    pub fn uncut(&mut self, a: HostId, b: HostId) {
        self.cuts.remove(&ordered(a, b));
    }

    /// Takes `h`'s access link down or up.
    pub fn set_link_up(&mut self, h: HostId, up: bool) {
        self.hosts[h.index()].link.up = up;
    }

    /// Ends every partition and cut and brings every host's link up.
    pub fn heal_all(&mut self) {
        self.heal_partition();
        self.cuts.clear();
        for host in &mut self.hosts {
            host.link.up = true;
        }
    }
}
