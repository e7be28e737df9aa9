//! A bounded byte channel between one half of a [`crate::TcpStream`] and the
//! stack task.
//!
//! Each stream has two: one carries received bytes from the task to the
//! application ([`TaskWriter`] → [`UserReader`]), the other bytes to send
//! from the application to the task ([`UserWriter`] → [`TaskReader`]). The
//! task moves bytes between these and its smoltcp socket buffers; the
//! application side is `async`.
//!
//! Wake-ups, kept to what is needed:
//! - the task wakes the application's waker when it moved bytes;
//! - the application notifies the task (one [`Notify`] for the whole stack)
//!   only when the task said it waits: after it found the outbound pipe
//!   empty, or the inbound pipe full and it had more to deliver (then only
//!   once the pipe is half empty, so that a slow reader does not wake the
//!   task for every read);
//! - dropping or shutting down a half always notifies the task.
//!
//! The lock is held for a copy at most and never across an `.await`.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use smoltcp::storage::RingBuffer;
use tokio::io::ReadBuf;
use tokio::sync::Notify;

/// Bytes the task can move in one go: a view of the pipe's buffer.
pub(crate) type Bytes = RingBuffer<'static, u8>;

struct Pipe {
    state: Mutex<State>,
    task: Arc<Notify>,
}

struct State {
    buf: Bytes,
    /// No more bytes will be written: EOF once `buf` is empty.
    write_closed: bool,
    /// The writing half was dropped.
    writer_dropped: bool,
    /// The reading half was dropped: bytes written go nowhere.
    reader_dropped: bool,
    /// The connection failed; reads report it once `buf` is empty, writes
    /// at once.
    error: Option<io::ErrorKind>,
    /// The application half's waker, while it waits.
    user_waker: Option<Waker>,
    /// The task waits for the application half to make room or bring bytes.
    task_waiting: bool,
}

impl Pipe {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The task's side of either direction: calls `step` with the buffer
    /// until `blocked` says the buffer cannot move further (then the task
    /// waits for the application) or `step` moves nothing, then wakes the
    /// application half if bytes moved. Returns the bytes moved.
    fn move_bytes(
        &self,
        blocked: fn(&Bytes) -> bool,
        mut step: impl FnMut(&mut Bytes) -> usize,
    ) -> usize {
        let mut state = self.lock();
        let mut total = 0;
        loop {
            if blocked(&state.buf) {
                state.task_waiting = true;
                break;
            }
            let moved = step(&mut state.buf);
            if moved == 0 {
                break;
            }
            total += moved;
        }
        let waker = if total > 0 {
            state.user_waker.take()
        } else {
            None
        };
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        total
    }
}

/// Creates the inbound pipe of a stream: the task writes, the application
/// reads.
pub(crate) fn inbound(capacity: usize, task: Arc<Notify>) -> (TaskWriter, UserReader) {
    let pipe = new_pipe(capacity, task);
    (TaskWriter(pipe.clone()), UserReader(pipe))
}

/// Creates the outbound pipe of a stream: the application writes, the task
/// reads.
pub(crate) fn outbound(capacity: usize, task: Arc<Notify>) -> (UserWriter, TaskReader) {
    let pipe = new_pipe(capacity, task);
    (UserWriter(pipe.clone()), TaskReader(pipe))
}

fn new_pipe(capacity: usize, task: Arc<Notify>) -> Arc<Pipe> {
    Arc::new(Pipe {
        state: Mutex::new(State {
            buf: RingBuffer::new(vec![0u8; capacity]),
            write_closed: false,
            writer_dropped: false,
            reader_dropped: false,
            error: None,
            user_waker: None,
            task_waiting: false,
        }),
        task,
    })
}

fn store_waker(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(waker) if waker.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// The application's end of the inbound pipe.
pub(crate) struct UserReader(Arc<Pipe>);

impl UserReader {
    /// Reads what is buffered; at the end, `Ok` with nothing read is EOF.
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut state = self.0.lock();
        if out.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if state.buf.is_empty() {
            if let Some(kind) = state.error {
                return Poll::Ready(Err(kind.into()));
            }
            if state.write_closed {
                return Poll::Ready(Ok(()));
            }
            store_waker(&mut state.user_waker, cx);
            return Poll::Pending;
        }
        while out.remaining() > 0 && !state.buf.is_empty() {
            state.buf.dequeue_many_with(|data| {
                let n = data.len().min(out.remaining());
                out.put_slice(&data[..n]);
                (n, ())
            });
        }
        let notify = state.task_waiting && state.buf.len() <= state.buf.capacity() / 2;
        if notify {
            state.task_waiting = false;
        }
        drop(state);
        if notify {
            self.0.task.notify_one();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for UserReader {
    fn drop(&mut self) {
        self.0.lock().reader_dropped = true;
        self.0.task.notify_one();
    }
}

/// The application's end of the outbound pipe.
pub(crate) struct UserWriter(Arc<Pipe>);

impl UserWriter {
    /// Buffers as much of `data` as fits; pending while the pipe is full.
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut state = self.0.lock();
        if let Some(kind) = state.error {
            return Poll::Ready(Err(kind.into()));
        }
        if state.write_closed || state.reader_dropped {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let written = state.buf.enqueue_slice(data);
        if written == 0 {
            store_waker(&mut state.user_waker, cx);
            return Poll::Pending;
        }
        let notify = std::mem::take(&mut state.task_waiting);
        drop(state);
        if notify {
            self.0.task.notify_one();
        }
        Poll::Ready(Ok(written))
    }

    /// Writes no more: the task sends FIN once the buffered bytes are out.
    pub(crate) fn shutdown(&self) {
        self.0.lock().write_closed = true;
        self.0.task.notify_one();
    }
}

impl Drop for UserWriter {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.write_closed = true;
        state.writer_dropped = true;
        drop(state);
        self.0.task.notify_one();
    }
}

/// The task's end of the inbound pipe.
pub(crate) struct TaskWriter(Arc<Pipe>);

impl TaskWriter {
    /// Calls `source` with the pipe's buffer until the buffer is full or
    /// `source` adds nothing, then wakes the reader. Returns the bytes added.
    /// If the buffer filled up, the reader will notify the task once it has
    /// read half of it.
    pub(crate) fn fill_with(&self, source: impl FnMut(&mut Bytes) -> usize) -> usize {
        self.0.move_bytes(Bytes::is_full, source)
    }

    /// Whether the application dropped its reading half.
    pub(crate) fn reader_dropped(&self) -> bool {
        self.0.lock().reader_dropped
    }

    /// Ends the stream: the reader gets EOF after the buffered bytes.
    pub(crate) fn finish(&self) {
        self.close(None);
    }

    /// Fails the stream: the reader gets `kind` after the buffered bytes.
    pub(crate) fn fail(&self, kind: io::ErrorKind) {
        self.close(Some(kind));
    }

    fn close(&self, error: Option<io::ErrorKind>) {
        let mut state = self.0.lock();
        if state.write_closed {
            return;
        }
        state.write_closed = true;
        state.error = error;
        let waker = state.user_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Drop for TaskWriter {
    fn drop(&mut self) {
        // Normally the stream was finished or failed already; if the task
        // went away first, the reader must not wait for ever.
        self.fail(io::ErrorKind::ConnectionAborted);
    }
}

/// The task's end of the outbound pipe.
pub(crate) struct TaskReader(Arc<Pipe>);

impl TaskReader {
    /// Calls `sink` with the pipe's buffer until the buffer is empty or
    /// `sink` takes nothing, then wakes the writer. Returns the bytes taken.
    /// If the buffer ran empty, the writer will notify the task when it
    /// writes again.
    pub(crate) fn drain_with(&self, sink: impl FnMut(&mut Bytes) -> usize) -> usize {
        self.0.move_bytes(Bytes::is_empty, sink)
    }

    /// Whether the writer is done (shut down or dropped) and everything it
    /// wrote was taken.
    pub(crate) fn finished(&self) -> bool {
        let state = self.0.lock();
        state.write_closed && state.buf.is_empty()
    }

    /// Whether the application dropped its writing half.
    pub(crate) fn writer_dropped(&self) -> bool {
        self.0.lock().writer_dropped
    }

    /// Fails the stream: further writes return `kind`.
    pub(crate) fn fail(&self, kind: io::ErrorKind) {
        let mut state = self.0.lock();
        state.error.get_or_insert(kind);
        let waker = state.user_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Drop for TaskReader {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.reader_dropped = true;
        let waker = state.user_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;

    fn read_now(reader: &UserReader) -> Poll<io::Result<Vec<u8>>> {
        let mut storage = [0u8; 64];
        let mut buf = ReadBuf::new(&mut storage);
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        reader
            .poll_read(&mut cx, &mut buf)
            .map(|r| r.map(|()| buf.filled().to_vec()))
    }

    fn write_now(writer: &UserWriter, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut cx = Context::from_waker(Waker::noop());
        writer.poll_write(&mut cx, data)
    }

    fn push(writer: &TaskWriter, data: &[u8]) -> usize {
        let mut rest = data;
        writer.fill_with(|buf| {
            let n = buf.enqueue_slice(rest);
            rest = &rest[n..];
            n
        })
    }

    fn pull(reader: &TaskReader, max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        reader.drain_with(|buf| {
            let want = max - out.len();
            let (n, ()) = buf.dequeue_many_with(|data| {
                let n = data.len().min(want);
                out.extend_from_slice(&data[..n]);
                (n, ())
            });
            n
        });
        out
    }

    #[test]
    fn inbound_bytes_then_eof() {
        let notify = Arc::new(Notify::new());
        let (task, user) = inbound(8, notify);
        assert!(read_now(&user).is_pending());
        assert_eq!(push(&task, b"hello world"), 8);
        assert!(matches!(read_now(&user), Poll::Ready(Ok(v)) if v == b"hello wo"));
        assert_eq!(push(&task, b"rld"), 3);
        task.finish();
        assert!(matches!(read_now(&user), Poll::Ready(Ok(v)) if v == b"rld"));
        assert!(matches!(read_now(&user), Poll::Ready(Ok(v)) if v.is_empty()));
    }

    #[test]
    fn inbound_error_comes_after_the_data() {
        let (task, user) = inbound(8, Arc::new(Notify::new()));
        push(&task, b"abc");
        task.fail(io::ErrorKind::ConnectionReset);
        assert!(matches!(read_now(&user), Poll::Ready(Ok(v)) if v == b"abc"));
        assert!(matches!(
            read_now(&user),
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset
        ));
    }

    #[test]
    fn dropped_task_side_aborts_the_reader() {
        let (task, user) = inbound(8, Arc::new(Notify::new()));
        drop(task);
        assert!(matches!(
            read_now(&user),
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::ConnectionAborted
        ));
    }

    #[test]
    fn outbound_backpressure_and_shutdown() {
        let (user, task) = outbound(4, Arc::new(Notify::new()));
        assert!(matches!(write_now(&user, b"abcdef"), Poll::Ready(Ok(4))));
        assert!(write_now(&user, b"ef").is_pending());
        assert_eq!(pull(&task, 3), b"abc");
        assert!(matches!(write_now(&user, b"ef"), Poll::Ready(Ok(2))));
        assert!(!task.finished());
        user.shutdown();
        assert!(!task.finished(), "bytes remain");
        assert_eq!(pull(&task, 10), b"def");
        assert!(task.finished());
        assert!(!task.writer_dropped());
        assert!(matches!(
            write_now(&user, b"x"),
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe
        ));
        drop(user);
        assert!(task.writer_dropped());
    }

    /// Whether a notification is stored for the task (and takes it).
    fn take_notification(notify: &Notify) -> bool {
        let mut notified = pin!(notify.notified());
        let mut cx = Context::from_waker(Waker::noop());
        notified.as_mut().poll(&mut cx).is_ready()
    }

    #[test]
    fn the_task_is_notified_only_when_it_waits() {
        let notify = Arc::new(Notify::new());
        let (user, task) = outbound(16, notify.clone());
        assert!(matches!(write_now(&user, b"a"), Poll::Ready(Ok(1))));
        assert!(!take_notification(&notify), "the task did not wait");
        assert_eq!(pull(&task, 16), b"a");
        assert!(matches!(write_now(&user, b"b"), Poll::Ready(Ok(1))));
        assert!(
            take_notification(&notify),
            "the task waited on an empty pipe"
        );
        assert!(matches!(write_now(&user, b"c"), Poll::Ready(Ok(1))));
        assert!(!take_notification(&notify), "one notification per wait");
        user.shutdown();
        assert!(take_notification(&notify), "shutdown always notifies");
    }

    #[test]
    fn a_full_inbound_pipe_notifies_when_half_read() {
        let notify = Arc::new(Notify::new());
        let (task, user) = inbound(8, notify.clone());
        assert_eq!(push(&task, b"0123456789"), 8);
        let mut storage = [0u8; 2];
        let mut buf = ReadBuf::new(&mut storage);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(user.poll_read(&mut cx, &mut buf).is_ready());
        assert_eq!(buf.filled(), b"01");
        assert!(!take_notification(&notify), "still more than half full");
        let mut buf = ReadBuf::new(&mut storage);
        assert!(user.poll_read(&mut cx, &mut buf).is_ready());
        assert!(take_notification(&notify), "half empty");
        drop(user);
        assert!(task.reader_dropped());
        assert!(take_notification(&notify), "drop notifies");
    }
}
