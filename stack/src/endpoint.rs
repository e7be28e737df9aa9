//! Checks on the destinations the application gives.

use std::net::{IpAddr, SocketAddr};

use crate::error::Error;

/// The address with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) turned
/// into the IPv4 address it stands for: the stack reaches it over IPv4.
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Refuses an address nobody can be reached at: unspecified, multicast or
/// (IPv4) broadcast.
pub(crate) fn check_address(addr: IpAddr) -> Result<(), Error> {
    let unusable = addr.is_unspecified()
        || addr.is_multicast()
        || matches!(addr, IpAddr::V4(v4) if v4.is_broadcast());
    if unusable {
        Err(Error::InvalidDestination { addr })
    } else {
        Ok(())
    }
}

/// Refuses an unusable address (see [`check_address`]) or port 0.
pub(crate) fn check_destination(to: SocketAddr) -> Result<(), Error> {
    check_address(to.ip())?;
    if to.port() == 0 {
        return Err(Error::InvalidDestination { addr: to.ip() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_addresses_become_ipv4() {
        let mapped: SocketAddr = "[::ffff:100.64.0.1]:80".parse().expect("literal");
        assert_eq!(canonical(mapped), "100.64.0.1:80".parse().expect("literal"));
        let v6: SocketAddr = "[fd00::1]:80".parse().expect("literal");
        assert_eq!(canonical(v6), v6);
    }

    #[test]
    fn unusable_destinations_are_refused() {
        for bad in [
            "0.0.0.0:80",
            "[::]:80",
            "255.255.255.255:80",
            "224.0.0.1:80",
            "[ff02::1]:80",
            "100.64.0.1:0",
        ] {
            let addr: SocketAddr = bad.parse().expect("literal");
            assert!(check_destination(addr).is_err(), "{bad}");
        }
        for good in ["100.64.0.1:80", "[fd00::1]:443"] {
            let addr: SocketAddr = good.parse().expect("literal");
            assert_eq!(check_destination(addr), Ok(()), "{good}");
        }
    }
}
