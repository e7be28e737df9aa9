//! Writes from the event loop without a task hop: bytes go straight to the
//! socket when it takes them, and a task waits for the socket only while
//! it cannot.
//!
//! - [`Outbox::write`] writes at once, without waiting, as long as the
//!   socket takes everything (the usual case for engine streams and local
//!   clients). The bytes are on their way before the event loop turns, so
//!   what they cause (a packet on the TUN device for a stream) can be
//!   carried on in the same turn.
//! - Bytes the socket does not take go to a flusher task that owns the
//!   socket until it has written them and everything queued behind them
//!   (a bounded queue: a full one means the peer stopped reading); then it
//!   hands the socket and its queue back ([`Returned`], through the host's
//!   input channel), and writes are direct again. The event loop is the only
//!   owner of the state, so the order of bytes is kept.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::Input;

/// A socket the event loop writes to directly.
pub(crate) trait DirectWrite: Send + 'static {
    /// Writes what the socket takes now; `WouldBlock` when it takes nothing.
    fn try_write(&mut self, buf: &[u8]) -> io::Result<usize>;

    /// Writes some of `buf`, waiting until the socket takes something.
    fn write_some<'a>(
        &'a mut self,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;

    /// Called before the socket goes back to the event loop.
    fn settle(&mut self) {}

    /// Ends the socket's write side once everything is written.
    fn shutdown(&mut self) -> impl Future<Output = ()> + Send + '_;
}

/// A byte stream's write half (kernel or userspace TCP).
impl<T: AsyncWrite + Send + Unpin + 'static> DirectWrite for tokio::io::WriteHalf<T> {
    fn try_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(self).poll_write(&mut cx, buf) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    async fn write_some(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write(buf).await
    }

    async fn shutdown(&mut self) {
        let _ = AsyncWriteExt::shutdown(self).await;
    }
}

/// A socket and the bytes queued for it, back from a flusher task.
pub(crate) struct Returned<W> {
    writer: W,
    queue: mpsc::Receiver<Vec<u8>>,
}

/// What became of a write.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Written, or queued behind earlier bytes.
    Done,
    /// The flusher's queue is full: the peer is not reading. The bytes are
    /// handed back.
    Full(Vec<u8>),
    /// The socket failed or is gone.
    Closed,
}

enum State<W> {
    /// The event loop writes directly.
    Direct(W),
    /// A flusher task owns the socket; bytes queue for it.
    Flushing(mpsc::Sender<Vec<u8>>),
    /// A write failed.
    Broken,
}

/// The write side of one socket, owned by the event loop; `M` is the
/// event loop's input, which brings the socket back from a flusher.
pub(crate) struct Outbox<W, M = Input> {
    state: State<W>,
    /// Writes queued for a flusher before the socket counts as stuck.
    queue: usize,
    /// Reports the socket's return to the event loop.
    tx: mpsc::Sender<M>,
    /// Wraps the return in the event loop's input.
    back: fn(u64, Returned<W>) -> M,
    /// The connection or client the socket belongs to.
    id: u64,
}

impl<W: DirectWrite, M: Send + 'static> Outbox<W, M> {
    /// Writes to `writer` directly; a flusher queues up to `queue` writes
    /// and hands the socket back as `back(id, …)` on `tx`.
    pub(crate) fn new(
        writer: W,
        queue: usize,
        tx: mpsc::Sender<M>,
        back: fn(u64, Returned<W>) -> M,
        id: u64,
    ) -> Self {
        Self {
            state: State::Direct(writer),
            queue,
            tx,
            back,
            id,
        }
    }

    /// Writes `bytes` now if the socket takes them, else through a flusher.
    pub(crate) fn write(&mut self, bytes: Vec<u8>) -> Sent {
        match std::mem::replace(&mut self.state, State::Broken) {
            State::Broken => Sent::Closed,
            State::Flushing(q) => match q.try_send(bytes) {
                Ok(()) => {
                    self.state = State::Flushing(q);
                    Sent::Done
                }
                Err(mpsc::error::TrySendError::Full(b)) => {
                    self.state = State::Flushing(q);
                    Sent::Full(b)
                }
                Err(mpsc::error::TrySendError::Closed(_)) => Sent::Closed,
            },
            State::Direct(mut w) => match write_now(&mut w, &bytes) {
                Ok(n) if n == bytes.len() => {
                    self.state = State::Direct(w);
                    Sent::Done
                }
                Ok(n) => {
                    let (q, rx) = mpsc::channel(self.queue);
                    self.spawn_flusher(w, bytes[n..].to_vec(), rx);
                    self.state = State::Flushing(q);
                    Sent::Done
                }
                Err(e) => {
                    tracing::debug!(error = %e, id = self.id, "writing to an engine socket");
                    Sent::Closed
                }
            },
        }
    }

    /// The flusher is done: writes what queued for it since, and writes
    /// directly again.
    pub(crate) fn returned(&mut self, r: Returned<W>) {
        let Returned { writer, mut queue } = r;
        self.state = State::Direct(writer);
        while let Ok(bytes) = queue.try_recv() {
            if self.write(bytes) == Sent::Closed {
                return;
            }
        }
    }

    /// Ends the write side once everything queued is written (the socket's
    /// reader is the caller's business).
    pub(crate) fn close(self) {
        match self.state {
            State::Direct(mut w) => {
                tokio::spawn(async move { w.shutdown().await });
            }
            // Dropping the queue's sender ends the flusher after the queue.
            State::Flushing(_) | State::Broken => {}
        }
    }

    fn spawn_flusher(&self, mut w: W, first: Vec<u8>, mut queue: mpsc::Receiver<Vec<u8>>) {
        let tx = self.tx.clone();
        let back = self.back;
        let id = self.id;
        tokio::spawn(async move {
            let mut pending = first;
            loop {
                let mut at = 0;
                while at < pending.len() {
                    match w.write_some(&pending[at..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => at += n,
                    }
                }
                match queue.try_recv() {
                    Ok(bytes) => pending = bytes,
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        w.shutdown().await;
                        return;
                    }
                }
            }
            w.settle();
            let _ = tx.send(back(id, Returned { writer: w, queue })).await;
        });
    }
}

/// Writes as much of `bytes` as the socket takes without waiting.
fn write_now<W: DirectWrite>(w: &mut W, bytes: &[u8]) -> io::Result<usize> {
    let mut at = 0;
    while at < bytes.len() {
        match w.try_write(&bytes[at..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => at += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that takes `room` bytes, then blocks until `room` grows.
    struct Tight {
        got: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
        room: tokio::sync::watch::Receiver<usize>,
    }

    impl DirectWrite for Tight {
        fn try_write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut got = self.got.lock().expect("lock");
            let n = buf.len().min(self.room.borrow().saturating_sub(got.len()));
            if n == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            got.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        async fn write_some(&mut self, buf: &[u8]) -> io::Result<usize> {
            loop {
                match self.try_write(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.room
                            .changed()
                            .await
                            .map_err(|_| io::ErrorKind::BrokenPipe)?;
                    }
                    r => return r,
                }
            }
        }

        async fn shutdown(&mut self) {}
    }

    fn back(id: u64, r: Returned<Tight>) -> (u64, Returned<Tight>) {
        (id, r)
    }

    #[tokio::test]
    async fn bytes_keep_their_order_through_a_flusher() {
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (room_tx, room) = tokio::sync::watch::channel(3);
        let (tx, mut rx) = mpsc::channel(8);
        let w = Tight {
            got: got.clone(),
            room,
        };
        let mut out = Outbox::new(w, 2, tx, back, 7);
        assert_eq!(out.write(b"ab".to_vec()), Sent::Done);
        // Only one more byte fits: the rest goes to a flusher, and later
        // writes queue behind it until the queue is full.
        assert_eq!(out.write(b"cd".to_vec()), Sent::Done);
        assert_eq!(out.write(b"ef".to_vec()), Sent::Done);
        assert_eq!(out.write(b"gh".to_vec()), Sent::Done);
        assert_eq!(out.write(b"ij".to_vec()), Sent::Full(b"ij".to_vec()));
        assert_eq!(*got.lock().unwrap(), b"abc");
        room_tx.send(100).unwrap();
        let (id, r) = rx.recv().await.expect("the flusher hands the socket back");
        assert_eq!(id, 7);
        out.returned(r);
        assert_eq!(out.write(b"ij".to_vec()), Sent::Done);
        assert_eq!(*got.lock().unwrap(), b"abcdefghij");
    }
}
