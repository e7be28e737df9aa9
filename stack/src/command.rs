//! The commands handles send to the stack task, each with the channel for
//! its reply.

use std::net::SocketAddr;

use crate::config::TcpBuffers;
use crate::icmp::{PingReply, Request};
use crate::tcp::{ConnectReply, ListenReply};
use crate::udp::BindReply;

/// A request to the stack task.
pub(crate) enum Command {
    /// Open a TCP connection.
    Connect {
        remote: SocketAddr,
        buffers: Option<TcpBuffers>,
        reply: ConnectReply,
    },
    /// Listen for TCP connections on a port.
    Listen {
        port: u16,
        buffers: Option<TcpBuffers>,
        reply: ListenReply,
    },
    /// Bind a UDP port (0: ephemeral).
    Bind { port: u16, reply: BindReply },
    /// Send one echo request and time the reply.
    Ping { request: Request, reply: PingReply },
}
