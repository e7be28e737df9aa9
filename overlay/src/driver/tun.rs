//! The TUN device: created with the node's overlay addresses and the MTU from
//! [`crate::limits::TUN_MTU`], with the kernel's offloads on (a virtio-net
//! header on every packet, TCP and UDP super-packets both ways; see
//! [`super::device`]); dropping it removes the interface.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};

use tun_rs::{AsyncDevice, DeviceBuilder};

use super::DriverError;
use crate::identity::address::{Ipv4Range, IPV6_PREFIX_LEN};
use crate::limits::TUN_MTU;

/// Turns the offloads off when set to `1` (for measuring what they bring,
/// or for a kernel that mishandles them).
pub(crate) const NO_OFFLOAD_ENV: &str = "TESSEL_TUN_NO_OFFLOAD";

/// Creates the interface `name` with the given addresses; the IPv4 one
/// with the prefix length of `range`, so the kernel routes the range there.
/// Offloads are asked for; a kernel that refuses them gets a plain device.
pub(crate) fn create(
    name: &str,
    ipv6: Ipv6Addr,
    ipv4: Ipv4Addr,
    range: &Ipv4Range,
) -> Result<AsyncDevice, DriverError> {
    let build = |offload: bool| {
        DeviceBuilder::new()
            .name(name)
            .mtu(TUN_MTU as u16)
            .ipv6(ipv6, IPV6_PREFIX_LEN)
            .ipv4(ipv4, range.prefix_len(), None)
            .offload(offload)
            .build_async()
    };
    if std::env::var(NO_OFFLOAD_ENV).is_ok_and(|v| v == "1") {
        return build(false).map_err(|source| classify(name, source));
    }
    match build(true) {
        Ok(dev) => Ok(dev),
        Err(e) => {
            tracing::warn!(error = %e, "the kernel refused TUN offloads; running without them (slower)");
            build(false).map_err(|source| classify(name, source))
        }
    }
}

/// Replaces the interface's IPv4 address after a collision moved it.
pub(crate) fn change_ipv4(
    dev: &AsyncDevice,
    old: Ipv4Addr,
    new: Ipv4Addr,
    range: &Ipv4Range,
) -> io::Result<()> {
    dev.add_address_v4(new, range.prefix_len())?;
    dev.remove_address(old.into())
}

/// The device every TUN interface is made through.
const TUN_DEVICE: &str = "/dev/net/tun";

fn classify(name: &str, source: io::Error) -> DriverError {
    let name = name.to_string();
    // Root or not, the device node's own mode may shut this user out (a
    // container without udev's 0666), whatever capabilities it has.
    let device_closed = || {
        nix::unistd::access(
            TUN_DEVICE,
            nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::W_OK,
        )
        .is_err()
    };
    match source.raw_os_error() {
        Some(libc::EACCES) if device_closed() => DriverError::TunDeviceClosed,
        Some(libc::EPERM) | Some(libc::EACCES) => DriverError::TunPermission { name },
        Some(libc::ENOENT) | Some(libc::ENODEV) | Some(libc::ENXIO) => DriverError::NoTunDevice,
        Some(libc::EBUSY) | Some(libc::EEXIST) => DriverError::InterfaceExists { name },
        _ if source.kind() == io::ErrorKind::PermissionDenied => {
            DriverError::TunPermission { name }
        }
        _ => DriverError::Tun { name, source },
    }
}
