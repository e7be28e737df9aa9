//! Errors of the daemon, each with a message that says what to do.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the daemon could not start or had to stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// Creating the TUN device was not permitted.
    #[error("permission denied creating the TUN device `{name}`: run tessel as root, or give it CAP_NET_ADMIN (sudo setcap cap_net_admin+ep $(which tessel))")]
    TunPermission {
        /// The interface name.
        name: String,
    },
    /// The TUN device node does not let this user read and write it.
    #[error("cannot open /dev/net/tun: its mode shuts this user out; give it mode 0666 as udev does (chmod 0666 /dev/net/tun; creating an interface still needs CAP_NET_ADMIN), or run tessel as root")]
    TunDeviceClosed,
    /// The kernel has no TUN support.
    #[error("cannot open /dev/net/tun: load the tun kernel module (modprobe tun) or, in a container, pass the device through")]
    NoTunDevice,
    /// Another interface already has the name.
    #[error("interface `{name}` already exists (is another tessel running?): stop it, or pick another name with --interface")]
    InterfaceExists {
        /// The interface name.
        name: String,
    },
    /// Any other failure creating or configuring the TUN device.
    #[error("creating the TUN device `{name}` failed: {source}")]
    Tun {
        /// The interface name.
        name: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The UDP port is taken.
    #[error("UDP address {addr} is already in use (is another tessel running?): stop the other process, or choose another port with --listen")]
    PortInUse {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The UDP address cannot be bound.
    #[error("cannot listen on UDP {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A problem with the state dir.
    #[error("state dir {path}: {source}")]
    StateDir {
        /// The file or directory concerned.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A problem with the runtime dir (where the local sockets live).
    #[error("runtime dir {path}: {problem}")]
    RuntimeDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong, and what to do.
        problem: String,
    },
    /// Another daemon holds the state dir or the runtime dir.
    #[error("another tessel is running with {flag} {path}: stop it first, or give this one another {flag}")]
    AlreadyRunning {
        /// The flag that names the directory (`--state-dir`, `--runtime-dir`).
        flag: &'static str,
        /// The directory.
        path: PathBuf,
    },
    /// A file in the state dir holds something that is not what it should be.
    #[error("{path} is corrupt ({reason}): restore it from a backup, or remove it to start with a new identity")]
    CorruptState {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The control socket could not be set up.
    #[error("control socket {path}: {source}")]
    Control {
        /// The socket's path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A local service (SOCKS5 proxy, forward) could not start.
    #[error("cannot start the {what}: {reason}")]
    Service {
        /// Which service.
        what: String,
        /// Why.
        reason: String,
    },
    /// This node's member certificate is refused (managed mode).
    #[error("this node's certificate is refused: {reason}")]
    Membership {
        /// Why, and what a good certificate is.
        reason: String,
    },
    /// The node's name cannot be used (`tessel up --name`).
    #[error("{reason}")]
    Name {
        /// What is wrong and what to do.
        reason: String,
    },
    /// The metrics endpoint's TCP address cannot be bound.
    #[error("cannot serve metrics on {addr}: {source}; choose another address with --metrics (a local one, e.g. 127.0.0.1:9745)")]
    Metrics {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// An I/O error while running.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
}
