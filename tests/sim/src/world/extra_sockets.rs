//! A node's extra sockets (hole punching): each gets a port of its host's
//! address, and datagrams to that address reach the node as arriving on
//! that socket.

use std::net::SocketAddr;

use super::World;
use crate::host::Host;
use crate::ids::HostId;

/// Local port of extra socket `id` (hosts have addresses of their own, so
/// ports never collide between hosts).
fn extra_port(id: u16) -> u16 {
    40_000u16.wrapping_add(id)
}

impl Host {
    /// Opens the extra sockets `ids`; returns the addresses they bind.
    pub(crate) fn open_extra(&mut self, ids: &[u16]) -> Vec<SocketAddr> {
        let ip = self.addr.ip();
        ids.iter()
            .map(|&id| {
                let port = extra_port(id);
                self.extra.insert(id, port);
                SocketAddr::new(ip, port)
            })
            .collect()
    }

    /// Closes the extra sockets `ids`; returns the addresses they bound.
    pub(crate) fn close_extra(&mut self, ids: &[u16]) -> Vec<SocketAddr> {
        let ip = self.addr.ip();
        ids.iter()
            .filter_map(|id| self.extra.remove(id))
            .map(|port| SocketAddr::new(ip, port))
            .collect()
    }

    /// The socket that `dst` names: 0 for the main one, an extra socket's
    /// ID, or `None` if the node has no such socket.
    pub(crate) fn socket_at(&self, dst: SocketAddr) -> Option<u16> {
        if self.addr == dst {
            return Some(0);
        }
        if self.addr.ip() != dst.ip() {
            return None;
        }
        self.extra
            .iter()
            .find(|(_, &p)| p == dst.port())
            .map(|(&id, _)| id)
    }

    /// The source address of socket `socket`.
    pub(crate) fn socket_addr(&self, socket: u16) -> SocketAddr {
        match self.extra.get(&socket) {
            Some(&port) if socket != 0 => SocketAddr::new(self.addr.ip(), port),
            _ => self.addr,
        }
    }
}

impl World {
    /// Opens the extra sockets `ids` of `h`'s node.
    pub(super) fn open_extra(&mut self, h: HostId, ids: &[u16]) {
        for addr in self.hosts[h.index()].open_extra(ids) {
            self.hosts_by_addr.insert(addr, h);
        }
    }

    /// Closes the extra sockets `ids` of `h`'s node.
    pub(super) fn close_extra(&mut self, h: HostId, ids: &[u16]) {
        for addr in self.hosts[h.index()].close_extra(ids) {
            self.hosts_by_addr.remove(&addr);
        }
    }
}
