//! [`TcpStream`]: the application's side of one TCP connection.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::pipe::{UserReader, UserWriter};

/// A TCP connection over the overlay, made by
/// [`crate::StackHandle::tcp_connect`] or [`crate::TcpListener::accept`].
///
/// It reads and writes like `tokio::net::TcpStream`:
/// - writes are buffered and sent by the stack task; `poll_flush` returns at
///   once, as for a kernel socket;
/// - `poll_shutdown` closes the sending half: the peer reads EOF once all
///   written bytes arrived, and this stream can still read;
/// - reads return EOF when the peer closed its sending half, and
///   `ConnectionReset` if it aborted the connection.
///
/// Dropping the stream closes it: the stack sends what was buffered, then
/// FIN, discards what still arrives, and frees the socket once the peer has
/// closed too, or aborts the connection with RST after
/// [`crate::StackConfig::close_linger`].
pub struct TcpStream {
    reader: UserReader,
    writer: UserWriter,
    local: SocketAddr,
    peer: SocketAddr,
}

impl TcpStream {
    pub(crate) fn new(
        reader: UserReader,
        writer: UserWriter,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> Self {
        Self {
            reader,
            writer,
            local,
            peer,
        }
    }

    /// Our end of the connection: one of the stack's addresses and the port.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The remote end of the connection.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.reader.poll_read(cx, buf)
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.writer.poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.writer.shutdown();
        Poll::Ready(Ok(()))
    }
}
