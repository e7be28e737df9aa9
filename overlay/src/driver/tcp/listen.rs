//! The TCP listener on the node's address and port, and dialing out.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Input;
use crate::driver::udp::normalise;

/// How long a dial may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause after a failed accept (out of file descriptors, say).
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// Connections the kernel queues before they are accepted.
const BACKLOG: i32 = 128;

/// Binds a TCP listener on `addr` (dual-stack when it is `[::]`, like the
/// UDP socket).
pub(super) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(addr.ip() != IpAddr::V6(Ipv6Addr::UNSPECIFIED))?;
    }
    // A restarted node gets its port back despite connections in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

/// Accepts connections until the daemon's task goes away.
pub(super) fn spawn_accept(listener: TcpListener, inputs: mpsc::Sender<Input>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, remote)) => {
                    let _ = stream.set_nodelay(true);
                    let remote = normalise(remote);
                    if inputs.send(Input::Accepted(stream, remote)).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "accepting a TCP connection");
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                }
            }
        }
    })
}

/// Dials `remote` for the link `id` and reports the outcome.
pub(super) fn spawn_dial(
    id: u16,
    remote: SocketAddr,
    inputs: mpsc::Sender<Input>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(remote)).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connecting timed out",
            )),
        };
        if let Ok(s) = &stream {
            let _ = s.set_nodelay(true);
        }
        let _ = inputs.send(Input::Dialed { id, stream }).await;
    })
}
