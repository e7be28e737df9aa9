//! A measured TCP transfer between two namespaces, with no tool but the
//! kernel: a socket made inside a namespace belongs to it for good, so the
//! listener is opened inside the receiver's namespace and the connection
//! inside the sender's, and both are then driven from ordinary threads.
//!
//! The sender writes `bytes` bytes and shuts its side down; the receiver
//! counts them until the end of the stream and answers with the count (8
//! bytes, big-endian). The time runs from the connection being open to the
//! answer, so it covers every byte arriving.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::netns::Netns;

/// Size of each write and read.
const CHUNK: usize = 64 * 1024;

/// What a transfer moved, and how long it took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transfer {
    /// Bytes the receiver counted.
    pub bytes: u64,
    /// From the connection being open to the receiver's answer.
    pub elapsed: Duration,
}

impl Transfer {
    /// Throughput in megabits per second.
    pub fn mbit_per_s(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64().max(1e-6);
        self.bytes as f64 * 8.0 / secs / 1e6
    }
}

/// Sends `bytes` bytes over TCP from `from` to `to_addr` (an address of
/// `to`), within `timeout` for each step.
pub fn tcp_transfer(
    from: &Netns,
    to: &Netns,
    to_addr: IpAddr,
    bytes: u64,
    timeout: Duration,
) -> Result<Transfer> {
    let listener = to
        .run_inside(|| TcpListener::bind(SocketAddr::new(to_addr, 0)))?
        .map_err(|e| Error::io(format!("listening on {to_addr} in {}", to.name()), e))?;
    let at = listener
        .local_addr()
        .map_err(|e| Error::io("reading the listener's address", e))?;
    let receiver = std::thread::spawn(move || receive(&listener, timeout));
    let sent = from
        .run_inside(|| TcpStream::connect_timeout(&at, timeout))?
        .map_err(|e| Error::io(format!("connecting to {at} from {}", from.name()), e))
        .and_then(|stream| send(stream, bytes, timeout));
    let received = receiver
        .join()
        .map_err(|_| Error::Process("the receiving thread panicked".to_owned()))?;
    match (sent, received) {
        (Ok(t), Ok(_)) => Ok(t),
        (Err(e), _) | (Ok(_), Err(e)) => Err(e),
    }
}

fn send(mut stream: TcpStream, bytes: u64, timeout: Duration) -> Result<Transfer> {
    let io = |what: &'static str| move |e| Error::io(format!("{what} the transfer"), e);
    stream
        .set_write_timeout(Some(timeout))
        .and_then(|()| stream.set_read_timeout(Some(timeout)))
        .map_err(io("setting up"))?;
    let started = Instant::now();
    let chunk = vec![0x5a_u8; CHUNK];
    let mut left = bytes;
    while left > 0 {
        let n = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
        stream.write_all(&chunk[..n]).map_err(io("sending"))?;
        left -= n as u64;
    }
    stream
        .shutdown(std::net::Shutdown::Write)
        .map_err(io("ending"))?;
    let mut answer = [0u8; 8];
    stream
        .read_exact(&mut answer)
        .map_err(io("reading the answer to"))?;
    Ok(Transfer {
        bytes: u64::from_be_bytes(answer),
        elapsed: started.elapsed(),
    })
}

fn receive(listener: &TcpListener, timeout: Duration) -> Result<u64> {
    let io = |what: &'static str| move |e| Error::io(format!("{what} the transfer"), e);
    // accept() has no timeout of its own: poll a non-blocking listener.
    listener.set_nonblocking(true).map_err(io("setting up"))?;
    let deadline = Instant::now() + timeout;
    let mut stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(io("accepting")(e)),
        }
    };
    stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(timeout)))
        .map_err(io("setting up"))?;
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = stream.read(&mut buf).map_err(io("receiving"))?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    stream
        .write_all(&total.to_be_bytes())
        .map_err(io("answering"))?;
    Ok(total)
}
