//! Where hosts and NATs live: the address plan.
//!
//! * Public IPv4: the documentation ranges 192.0.2.0/24, 198.51.100.0/24 and
//!   203.0.113.0/24 (RFC 5737), 762 addresses, reused first-in first-out
//!   once released.
//! * Public IPv6: 2001:db8::/32 (RFC 3849), one /64 per host.
//! * Private LANs (behind NATs, including carrier-grade NATs): /26 subnets of
//!   198.18.0.0/15 (RFC 2544), so every address in a world is unique and one
//!   hash map resolves it. 100.64.0.0/10 is never used: it is the overlay's.
//!
//! Every node listens on port [`NODE_PORT`].

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::SimError;

/// The UDP port every simulated node listens on (Tessel's default).
pub const NODE_PORT: u16 = 9740;

/// Hosts per LAN: .2 to .62 of a /26 (.1 is the NAT's inside address).
const LAN_HOSTS: u8 = 61;
/// LANs in 198.18.0.0/15.
const LANS: u32 = (1 << 17) / 64;

/// Allocates public addresses and LAN subnets.
#[derive(Debug)]
pub struct AddressPlan {
    public_v4: VecDeque<Ipv4Addr>,
    next_v6: u32,
    next_lan: u32,
}

impl Default for AddressPlan {
    fn default() -> Self {
        let public_v4 = [[192, 0, 2], [198, 51, 100], [203, 0, 113]]
            .into_iter()
            .flat_map(|[a, b, c]| (1..=254).map(move |d| Ipv4Addr::new(a, b, c, d)))
            .collect();
        Self {
            public_v4,
            next_v6: 1,
            next_lan: 0,
        }
    }
}

impl AddressPlan {
    /// A free public IPv4 address.
    ///
    /// # Errors
    /// [`SimError::PublicV4Exhausted`] when all 762 are in use.
    pub fn public_v4(&mut self) -> Result<Ipv4Addr, SimError> {
        self.public_v4
            .pop_front()
            .ok_or(SimError::PublicV4Exhausted)
    }

    /// A fresh public IPv6 address.
    pub fn public_v6(&mut self) -> Ipv6Addr {
        let n = self.next_v6;
        self.next_v6 += 1;
        Ipv6Addr::new(0x2001, 0xdb8, (n >> 16) as u16, n as u16, 0, 0, 0, 1)
    }

    /// Returns a public address to the pool (IPv6 addresses are not reused).
    pub fn release_public(&mut self, ip: IpAddr) {
        if let IpAddr::V4(v4) = ip {
            self.public_v4.push_back(v4);
        }
    }

    /// A fresh LAN subnet.
    ///
    /// # Errors
    /// [`SimError::LansExhausted`] when 198.18.0.0/15 has no free /26.
    pub fn lan(&mut self) -> Result<LanPool, SimError> {
        if self.next_lan >= LANS {
            return Err(SimError::LansExhausted);
        }
        let base = u32::from(Ipv4Addr::new(198, 18, 0, 0)) + 64 * self.next_lan;
        self.next_lan += 1;
        Ok(LanPool {
            subnet: Ipv4Addr::from(base),
            free: (2..2 + LAN_HOSTS).collect(),
        })
    }
}

/// The addresses of one LAN.
#[derive(Debug)]
pub struct LanPool {
    subnet: Ipv4Addr,
    free: VecDeque<u8>,
}

impl LanPool {
    /// The LAN's subnet (a /26).
    pub fn subnet(&self) -> Ipv4Addr {
        self.subnet
    }

    /// Whether `ip` is on this LAN.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => u32::from(v4).wrapping_sub(u32::from(self.subnet)) < 64,
            IpAddr::V6(_) => false,
        }
    }

    /// A free address on the LAN.
    ///
    /// # Errors
    /// [`SimError::LanFull`] when all its addresses are taken.
    pub fn take(&mut self) -> Result<Ipv4Addr, SimError> {
        let host = self.free.pop_front().ok_or(SimError::LanFull {
            subnet: self.subnet,
        })?;
        Ok(Ipv4Addr::from(u32::from(self.subnet) + u32::from(host)))
    }

    /// Returns an address to the LAN.
    pub fn release(&mut self, ip: Ipv4Addr) {
        let host = u32::from(ip).wrapping_sub(u32::from(self.subnet));
        if (2..2 + u32::from(LAN_HOSTS)).contains(&host) {
            self.free.push_back(host as u8);
        }
    }
}

/// Whether `ip` is in one of the ranges this plan hands out.
pub fn in_plan(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            matches!(o[..3], [192, 0, 2] | [198, 51, 100] | [203, 0, 113])
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
        }
        IpAddr::V6(v6) => v6.segments()[..2] == [0x2001, 0xdb8],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_v4_pool_has_762_addresses_and_reuses_fifo() {
        let mut plan = AddressPlan::default();
        let all: Vec<_> = (0..762).map(|_| plan.public_v4().unwrap()).collect();
        assert!(all.iter().all(|a| in_plan(IpAddr::V4(*a))));
        assert_eq!(plan.public_v4(), Err(SimError::PublicV4Exhausted));
        plan.release_public(IpAddr::V4(all[5]));
        assert_eq!(plan.public_v4(), Ok(all[5]));
    }

    #[test]
    fn lans_are_disjoint_private_and_never_the_overlay_range() {
        let mut plan = AddressPlan::default();
        let mut lan0 = plan.lan().unwrap();
        let lan1 = plan.lan().unwrap();
        assert_eq!(lan0.subnet(), Ipv4Addr::new(198, 18, 0, 0));
        assert_eq!(lan1.subnet(), Ipv4Addr::new(198, 18, 0, 64));
        let hosts: Vec<_> = (0..61).map(|_| lan0.take().unwrap()).collect();
        assert_eq!(hosts[0], Ipv4Addr::new(198, 18, 0, 2));
        assert_eq!(hosts[60], Ipv4Addr::new(198, 18, 0, 62));
        assert!(lan0.take().is_err());
        assert!(lan0.contains(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 63))));
        assert!(!lan0.contains(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 64))));
        lan0.release(hosts[3]);
        assert_eq!(lan0.take(), Ok(hosts[3]));
        for _ in 2..2048 {
            let l = plan.lan().unwrap();
            assert!(in_plan(IpAddr::V4(l.subnet())));
            assert_ne!(l.subnet().octets()[0], 100);
        }
        assert!(plan.lan().is_err());
        let v6 = plan.public_v6();
        assert!(in_plan(IpAddr::V6(v6)));
    }
}
