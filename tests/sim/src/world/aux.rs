//! A node's extra sockets (hole punching): each gets a port of its host's
//! address, and datagrams to that address reach the node as arriving on
//! that socket.

use std::net::SocketAddr;

use super::World;
use crate::ids::HostId;

/// Local port of extra socket `id` (hosts have addresses of their own, so
/// ports never collide between hosts).
fn aux_port(id: u16) -> u16 {
    40_000u16.wrapping_add(id)
}

impl World {
    /// Opens the extra sockets `ids` of `h`'s node.
    pub(super) fn open_aux(&mut self, h: HostId, ids: &[u16]) {
        let host = &mut self.hosts[h.index()];
        let ip = host.addr.ip();
        for &id in ids {
            let port = aux_port(id);
            host.aux.insert(id, port);
            self.hosts_by_addr.insert(SocketAddr::new(ip, port), h);
        }
    }

    /// Closes the extra sockets `ids` of `h`'s node.
    pub(super) fn close_aux(&mut self, h: HostId, ids: &[u16]) {
        let host = &mut self.hosts[h.index()];
        let ip = host.addr.ip();
        for id in ids {
            if let Some(port) = host.aux.remove(id) {
                self.hosts_by_addr.remove(&SocketAddr::new(ip, port));
            }
        }
    }

    /// The socket of `h` that `dst` names: 0 for the main one, an extra
    /// socket's ID, or `None` if the node has no such socket.
    pub(super) fn socket_at(&self, h: HostId, dst: SocketAddr) -> Option<u16> {
        let host = &self.hosts[h.index()];
        if host.addr == dst {
            return Some(0);
        }
        if host.addr.ip() != dst.ip() {
            return None;
        }
        host.aux
            .iter()
            .find(|(_, &p)| p == dst.port())
            .map(|(&id, _)| id)
    }

    /// The source address of `h`'s socket `socket`.
    pub(super) fn socket_addr(&self, h: HostId, socket: u16) -> SocketAddr {
        let host = &self.hosts[h.index()];
        match host.aux.get(&socket) {
            Some(&port) if socket != 0 => SocketAddr::new(host.addr.ip(), port),
            _ => host.addr,
        }
    }
}
