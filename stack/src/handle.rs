//! [`StackHandle`]: how the application makes sockets and reads counters.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch, Notify};

use crate::command::Command;
use crate::config::{StackConfig, TcpBuffers};
use crate::endpoint;
use crate::error::Error;
use crate::icmp::Request;
use crate::stats::StackStats;
use crate::tcp::{TcpListener, TcpStream};
use crate::udp::UdpSocket;

/// A cheap, cloneable handle to a running [`crate::Stack`].
///
/// Every method sends a command to the stack task and waits for its answer;
/// all fail with [`Error::StackStopped`] (kind `NotConnected`) if the task is
/// not running. The stack task ends once every handle and every socket is
/// dropped.
#[derive(Clone)]
pub struct StackHandle {
    commands: mpsc::Sender<Command>,
    stats: watch::Receiver<StackStats>,
    config: Arc<StackConfig>,
    wake: Arc<Notify>,
}

impl StackHandle {
    pub(crate) fn new(
        commands: mpsc::Sender<Command>,
        stats: watch::Receiver<StackStats>,
        config: Arc<StackConfig>,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            commands,
            stats,
            config,
            wake,
        }
    }

    /// Opens a TCP connection to `remote` (an IPv4-mapped IPv6 address is
    /// reached over IPv4).
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` as soon as the remote host answers RST; `TimedOut`
    /// after [`StackConfig::connect_timeout`] without an answer;
    /// `InvalidInput` for an unusable destination; `AddrInUse` if no
    /// ephemeral port is free.
    pub async fn tcp_connect(&self, remote: SocketAddr) -> io::Result<TcpStream> {
        self.connect(remote, None).await
    }

    /// As [`Self::tcp_connect`], with buffers of the given sizes.
    ///
    /// # Errors
    ///
    /// As [`Self::tcp_connect`].
    pub async fn tcp_connect_with(
        &self,
        remote: SocketAddr,
        buffers: TcpBuffers,
    ) -> io::Result<TcpStream> {
        self.connect(remote, Some(buffers)).await
    }

    async fn connect(
        &self,
        remote: SocketAddr,
        buffers: Option<TcpBuffers>,
    ) -> io::Result<TcpStream> {
        let remote = endpoint::canonical(remote);
        endpoint::check_destination(remote)?;
        self.request(|reply| Command::Connect {
            remote,
            buffers,
            reply,
        })
        .await
    }

    /// Listens for TCP connections on `local_port` of both overlay addresses.
    ///
    /// # Errors
    ///
    /// `AddrInUse` if the port is taken; `InvalidInput` for port 0.
    pub async fn tcp_listen(&self, local_port: u16) -> io::Result<TcpListener> {
        self.listen(local_port, None).await
    }

    /// As [`Self::tcp_listen`], with buffers of the given sizes for the
    /// connections it accepts.
    ///
    /// # Errors
    ///
    /// As [`Self::tcp_listen`].
    pub async fn tcp_listen_with(
        &self,
        local_port: u16,
        buffers: TcpBuffers,
    ) -> io::Result<TcpListener> {
        self.listen(local_port, Some(buffers)).await
    }

    async fn listen(&self, port: u16, buffers: Option<TcpBuffers>) -> io::Result<TcpListener> {
        self.request(|reply| Command::Listen {
            port,
            buffers,
            reply,
        })
        .await
    }

    /// Binds a UDP socket to `local_port` (0: an ephemeral port) of both
    /// overlay addresses.
    ///
    /// # Errors
    ///
    /// `AddrInUse` if the port is taken or no ephemeral port is free.
    pub async fn udp_bind(&self, local_port: u16) -> io::Result<UdpSocket> {
        self.request(|reply| Command::Bind {
            port: local_port,
            reply,
        })
        .await
    }

    /// Sends an ICMP (or ICMPv6) echo request with `payload_len` bytes to
    /// `remote` and returns the round-trip time of the reply.
    ///
    /// # Errors
    ///
    /// `TimedOut` if no matching reply comes within `timeout`;
    /// `InvalidInput` for an unusable address or a payload over the MTU.
    pub async fn ping(
        &self,
        remote: IpAddr,
        payload_len: usize,
        timeout: Duration,
    ) -> io::Result<Duration> {
        let remote = remote.to_canonical();
        endpoint::check_address(remote)?;
        let max = self.config.max_echo_payload(remote.is_ipv6());
        if payload_len > max {
            return Err(Error::TooLarge {
                len: payload_len,
                max,
            }
            .into());
        }
        let request = Request {
            remote,
            payload_len,
            timeout,
        };
        self.request(|reply| Command::Ping { request, reply }).await
    }

    /// The counters as of the end of the stack task's last turn.
    pub fn stats(&self) -> StackStats {
        *self.stats.borrow()
    }

    /// A receiver of every new [`StackStats`] snapshot, to wait for a
    /// condition with `watch::Receiver::wait_for`.
    pub fn watch_stats(&self) -> watch::Receiver<StackStats> {
        self.stats.clone()
    }

    /// The configuration the stack was made with.
    pub fn config(&self) -> &StackConfig {
        &self.config
    }

    async fn request<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<io::Result<T>>) -> Command,
    ) -> io::Result<T> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| Error::StackStopped)?;
        let mut pending = Pending {
            answer,
            wake: &self.wake,
            answered: false,
        };
        let answer = (&mut pending.answer)
            .await
            .map_err(|_| Error::StackStopped)?;
        pending.answered = true;
        answer
    }
}

/// An answer awaited from the stack task. If the caller gives up waiting
/// (drops the future), the task learns it at once rather than at its next
/// deadline, and drops what it was doing for the caller (a connection
/// attempt, a ping) with its socket.
struct Pending<'a, T> {
    answer: oneshot::Receiver<io::Result<T>>,
    wake: &'a Notify,
    answered: bool,
}

impl<T> Drop for Pending<'_, T> {
    fn drop(&mut self) {
        if !self.answered {
            // Closed before the task is told, so that it sees the caller gone.
            self.answer.close();
            self.wake.notify_one();
        }
    }
}

impl std::fmt::Debug for StackHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackHandle")
            .field("ipv6", &self.config.ipv6)
            .field("ipv4", &self.config.ipv4)
            .finish_non_exhaustive()
    }
}
