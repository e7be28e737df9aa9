//! The default gateway from `/proc/net/route`, and this host's address
//! toward it.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};

use super::super::gateway::default_ipv4;
use super::super::natpmp::SERVER_PORT;

/// The IPv4 default gateway, if the kernel has a default route.
pub fn default_gateway() -> Option<Ipv4Addr> {
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    default_ipv4(&table).map(|r| r.gateway)
}

/// The local address the kernel would use to reach `gateway` (a connected
/// UDP socket; nothing is sent).
///
/// # Errors
/// Returns an error if there is no route to the gateway.
pub fn local_addr_toward(gateway: Ipv4Addr) -> std::io::Result<Ipv4Addr> {
    let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    s.connect((gateway, SERVER_PORT))?;
    match s.local_addr()? {
        SocketAddr::V4(a) if !a.ip().is_unspecified() => Ok(*a.ip()),
        _ => Err(std::io::Error::other(
            "no IPv4 source address toward the gateway",
        )),
    }
}
