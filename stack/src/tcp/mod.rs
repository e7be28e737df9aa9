//! TCP: the application's [`TcpStream`] and [`TcpListener`], and the task's
//! bookkeeping of connections, connection attempts and listeners.

mod connect;
mod connection;
mod listener;
mod stream;
mod table;

pub use listener::TcpListener;
pub use stream::TcpStream;

pub(crate) use connect::ConnectReply;
pub(crate) use connection::Connection;
pub(crate) use listener::Listener;
pub(crate) use table::{ListenReply, Table};

use smoltcp::socket::tcp::{self, CongestionControl};

use crate::config::StackConfig;

/// A smoltcp TCP socket with the stack's buffers and options: Cubic, the
/// configured Nagle and ACK delay.
pub(crate) fn new_socket(config: &StackConfig) -> tcp::Socket<'static> {
    let rx = tcp::SocketBuffer::new(vec![0u8; config.tcp_buffer]);
    let tx = tcp::SocketBuffer::new(vec![0u8; config.tcp_buffer]);
    let mut socket = tcp::Socket::new(rx, tx);
    socket.set_congestion_control(CongestionControl::Cubic);
    socket.set_nagle_enabled(config.nagle);
    socket.set_ack_delay(config.ack_delay.map(Into::into));
    socket
}
