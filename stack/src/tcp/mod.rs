//! TCP: the application's [`TcpStream`] and [`TcpListener`], and the task's
//! bookkeeping of connections, connection attempts and listeners.

mod connect;
mod connection;
mod listener;
mod memory;
mod stream;
mod table;

pub use listener::TcpListener;
pub use stream::TcpStream;

pub(crate) use connect::ConnectReply;
pub(crate) use connection::Connection;
pub(crate) use listener::Listener;
pub(crate) use memory::SocketMemory;
pub(crate) use table::{ListenReply, Table};

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::tcp::{self, CongestionControl};

use crate::config::StackConfig;

/// Adds a smoltcp TCP socket with buffers that fit the memory budget and the
/// stack's options (Cubic, the configured Nagle and ACK delay), charged to
/// the budget; `setup` readies it (listen or connect). `None` if the budget
/// has no room or `setup` failed.
pub(crate) fn add_socket(
    sockets: &mut SocketSet<'static>,
    memory: &mut SocketMemory,
    config: &StackConfig,
    setup: impl FnOnce(&mut tcp::Socket<'static>) -> bool,
) -> Option<SocketHandle> {
    let buffers = memory.buffers(config)?;
    let rx = tcp::SocketBuffer::new(vec![0u8; buffers.tcp]);
    let tx = tcp::SocketBuffer::new(vec![0u8; buffers.tcp]);
    let mut socket = tcp::Socket::new(rx, tx);
    socket.set_congestion_control(CongestionControl::Cubic);
    socket.set_nagle_enabled(config.nagle);
    socket.set_ack_delay(config.ack_delay.map(Into::into));
    if !setup(&mut socket) {
        return None;
    }
    let handle = sockets.add(socket);
    memory.charge(handle, buffers);
    Some(handle)
}

/// Removes a TCP socket and releases its charge.
pub(crate) fn remove_socket(
    sockets: &mut SocketSet<'static>,
    memory: &mut SocketMemory,
    handle: SocketHandle,
) {
    sockets.remove(handle);
    memory.release(handle);
}
