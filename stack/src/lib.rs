//! Tessel's userspace TCP/IP stack: overlay sockets without a TUN device or
//! root.
//!
//! An application that cannot (or should not) create a network interface
//! still gets TCP streams, TCP listeners, UDP sockets and ping on its overlay
//! addresses. The stack is [smoltcp] behind a tokio shell; it exchanges raw
//! IPv4 and IPv6 packets with whatever node drives it, through a
//! [`PacketLink`], and knows nothing else of the overlay.
//!
//! ```no_run
//! # async fn example(config: tessel_stack::StackConfig) -> std::io::Result<()> {
//! use tokio::io::AsyncWriteExt;
//!
//! let (stack, handle, mut link) = tessel_stack::new(config);
//! tokio::spawn(stack.run());
//! // The node: `link.to_node` yields packets to encrypt and send,
//! // `link.from_node` takes decrypted packets for this stack.
//! tokio::spawn(async move {
//!     while let Some(_packet) = link.to_node.recv().await { /* to the overlay */ }
//! });
//! let mut stream = handle.tcp_connect("[fd4d:f650:962e:98b1::1]:22".parse().unwrap()).await?;
//! stream.write_all(b"hello").await?;
//! # Ok(())
//! # }
//! ```
//!
//! # The run loop
//!
//! [`Stack::run`] is one task that owns the smoltcp interface, the device
//! (two packet queues) and every socket. Handles talk to it over bounded
//! channels: typed commands (connect, listen, bind, ping) with a reply
//! channel each, a byte pipe each way per TCP stream, a datagram channel each
//! way per UDP socket. Each turn it takes commands and packets, polls the
//! interface, moves data between the sockets and their pipes or channels,
//! polls again, hands outbound packets to the node and publishes counters;
//! then it sleeps until the next event or smoltcp's next deadline. See
//! [`Stack`] for the details.
//!
//! # Unreachable destinations
//!
//! A connect to an address that nobody answers would wait for
//! [`StackConfig::connect_timeout`]. The node answers a packet for an
//! overlay address that no member owns with an ICMP or ICMPv6 Destination
//! Unreachable quoting it; when the quote is of a SYN from an attempt still
//! in SYN-SENT, matched by local and remote address and port, the attempt
//! fails at once and its socket is freed:
//!
//! | Destination Unreachable                        | `tcp_connect` fails with |
//! |------------------------------------------------|--------------------------|
//! | ICMP code 3 (port) or 2 (protocol unreachable) | `ConnectionRefused`      |
//! | ICMPv6 code 4 (port unreachable)               | `ConnectionRefused`      |
//! | ICMP code 4 (fragmentation needed)             | nothing: ignored         |
//! | any other ICMP code (1 host, 0 net, …)         | `HostUnreachable`        |
//! | any other ICMPv6 code (0 no route, 3 address, …) | `HostUnreachable`      |
//!
//! The detail is [`Error::HostUnreachable`] or [`Error::ConnectionRefused`];
//! the SOCKS5 proxy answers them with replies 0x04 and 0x05. Established
//! connections, UDP sockets and pings ignore these messages (for a
//! connection it is a soft error, as for the kernel), and
//! [`StackStats::unreachable_ignored`] counts them. A message is believed
//! only if its quote is of a packet this stack sent (from our address, with
//! the IP header and 8 bytes of the transport header at least) and it comes
//! from our own address or from the quoted destination; any other is dropped
//! as [`DropReason::BadIcmpError`]. smoltcp still sees the valid ones and
//! answers echo requests as before.
//!
//! # What it never does
//!
//! - It opens no OS socket and no device, needs no privilege, and does not
//!   depend on the overlay: packets in, packets out.
//! - It never panics on what the node delivers: every packet is checked
//!   before smoltcp sees it; bad ones are dropped and counted by reason in
//!   [`StackStats`].
//! - It keeps no socket that nobody uses: dropped streams close (FIN, then
//!   RST after [`StackConfig::close_linger`]), dropped listeners and UDP
//!   sockets free their ports, and the task ends once every handle and
//!   socket is gone.
//!
//! # Limits
//!
//! TCP is smoltcp's: no SACK, go-back-N retransmission, a 1 s minimum RTO.
//! It is fast on a clean path (window scaling from the 4 MiB buffers, Cubic)
//! but degrades sharply under loss. No IP fragmentation or reassembly: UDP
//! datagrams must fit the MTU. TIME-WAIT lasts only until the last ACK is out.

mod clock;
mod command;
mod config;
mod device;
mod endpoint;
mod error;
mod handle;
mod icmp;
mod inbound;
pub mod limits;
mod pipe;
mod ports;
mod stack;
mod stats;
mod tcp;
mod udp;
mod unreachable;

#[cfg(test)]
mod testing;

use std::sync::Arc;

use tokio::sync::{mpsc, watch, Notify};

pub use config::{StackConfig, TcpBuffers};
pub use error::{ConfigError, Error};
pub use handle::StackHandle;
pub use stack::Stack;
pub use stats::{DropReason, StackStats};
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;

/// The stack's side of the link to the node: bounded channels of whole IP
/// packets (IPv4 or IPv6, no link header).
#[derive(Debug)]
pub struct PacketLink {
    /// Packets the stack sends: the node delivers them into the overlay.
    pub to_node: mpsc::Receiver<Vec<u8>>,
    /// Packets for the stack: the node sends here what arrives for the
    /// stack's addresses.
    pub from_node: mpsc::Sender<Vec<u8>>,
}

/// Creates a stack: the task to run, a handle to make sockets, and the
/// packet link to the node.
///
/// # Panics
///
/// If the configuration is invalid; [`try_new`] returns the error instead.
pub fn new(config: StackConfig) -> (Stack, StackHandle, PacketLink) {
    try_new(config).unwrap_or_else(|err| panic!("invalid stack configuration: {err}"))
}

/// Like [`new`], for a configuration that may be invalid.
///
/// # Errors
///
/// The first field of `config` out of range.
pub fn try_new(config: StackConfig) -> Result<(Stack, StackHandle, PacketLink), ConfigError> {
    config.validate()?;
    let config = Arc::new(config);
    let (commands_tx, commands_rx) = mpsc::channel(limits::COMMAND_QUEUE);
    let (to_node_tx, to_node_rx) = mpsc::channel(config.link_queue);
    let (from_node_tx, from_node_rx) = mpsc::channel(config.link_queue);
    let (stats_tx, stats_rx) = watch::channel(StackStats::default());
    let wake = Arc::new(Notify::new());
    let stack = Stack::new(
        config.clone(),
        stack::Channels {
            commands: commands_rx,
            from_node: from_node_rx,
            to_node: to_node_tx,
            wake: wake.clone(),
            stats: stats_tx,
        },
    );
    let handle = StackHandle::new(commands_tx, stats_rx, config, wake);
    let link = PacketLink {
        to_node: to_node_rx,
        from_node: from_node_tx,
    };
    Ok((stack, handle, link))
}

pub mod proxy;
