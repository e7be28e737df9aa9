//! UDP: [`UdpSocket`] for the application, [`Table`] of bound sockets for
//! the task.
//!
//! Datagrams travel in per-socket bounded channels, one each way. The task
//! moves outgoing ones into the smoltcp socket while it has room (keeping one
//! aside when it has none), and incoming ones into the application's channel;
//! when that channel is full the datagram is dropped and counted, as a kernel
//! drops on a full receive buffer.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::udp;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot, Mutex, Notify};

use crate::config::StackConfig;
use crate::endpoint;
use crate::error::Error;
use crate::limits;
use crate::ports::Ports;
use crate::stats::StackStats;

/// A datagram and the remote endpoint it comes from or goes to.
type Datagram = (Vec<u8>, SocketAddr);

/// The reply channel of a bind command.
pub(crate) type BindReply = oneshot::Sender<io::Result<UdpSocket>>;

/// A UDP socket bound to one port of both overlay addresses. Made by
/// [`crate::StackHandle::udp_bind`]; dropping it unbinds the port.
pub struct UdpSocket {
    port: u16,
    incoming: Mutex<mpsc::Receiver<Datagram>>,
    outgoing: mpsc::Sender<Datagram>,
    wake: Arc<Notify>,
    max_payload_v4: usize,
    max_payload_v6: usize,
}

impl UdpSocket {
    /// Queues a datagram for `to` (an IPv4-mapped IPv6 address is reached
    /// over IPv4); waits while the socket's queue is full. Returns the number
    /// of bytes queued, all of `buf`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDestination`] for an unspecified, multicast or
    /// broadcast address or port 0; [`Error::TooLarge`] if `buf` does not fit
    /// the MTU (there is no fragmentation); [`Error::StackStopped`].
    pub async fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        let to = endpoint::canonical(to);
        endpoint::check_destination(to)?;
        let max = if to.is_ipv6() {
            self.max_payload_v6
        } else {
            self.max_payload_v4
        };
        if buf.len() > max {
            return Err(Error::TooLarge {
                len: buf.len(),
                max,
            }
            .into());
        }
        self.outgoing
            .send((buf.to_vec(), to))
            .await
            .map_err(|_| Error::StackStopped)?;
        self.wake.notify_one();
        Ok(buf.len())
    }

    /// Waits for a datagram; copies it into `buf` (the part that does not
    /// fit is discarded) and returns its length in `buf` and its sender.
    ///
    /// # Errors
    ///
    /// [`Error::StackStopped`] if the stack task ended.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (data, from) = self
            .incoming
            .lock()
            .await
            .recv()
            .await
            .ok_or(Error::StackStopped)?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok((n, from))
    }

    /// The port bound.
    pub fn local_port(&self) -> u16 {
        self.port
    }
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpSocket")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        // Closed before the task is told, so that it sees the socket gone.
        self.incoming.get_mut().close();
        self.wake.notify_one();
    }
}

/// The task's side of one bound socket.
struct Binding {
    handle: SocketHandle,
    port: u16,
    incoming: mpsc::Sender<Datagram>,
    outgoing: mpsc::Receiver<Datagram>,
    /// A datagram taken from `outgoing` that the smoltcp socket had no room
    /// for.
    held: Option<Datagram>,
}

/// Every bound UDP socket, and the UDP ports.
pub(crate) struct Table {
    bindings: Vec<Binding>,
    ports: Ports,
}

impl Table {
    /// No sockets; ephemeral ports start at a point picked from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            bindings: Vec::new(),
            ports: Ports::new(seed),
        }
    }

    /// Bound sockets.
    pub(crate) fn count(&self) -> usize {
        self.bindings.len()
    }

    /// Binds `port` (0: an ephemeral port) on both addresses.
    pub(crate) fn bind(
        &mut self,
        sockets: &mut SocketSet<'static>,
        config: &StackConfig,
        wake: &Arc<Notify>,
        port: u16,
        reply: BindReply,
    ) {
        let port = if port == 0 {
            match self.ports.claim_ephemeral() {
                Some(port) => port,
                None => {
                    let _ = reply.send(Err(Error::NoFreePort.into()));
                    return;
                }
            }
        } else if self.ports.claim(port) {
            port
        } else {
            let _ = reply.send(Err(Error::PortInUse { port }.into()));
            return;
        };
        let payload = config.max_udp_payload(false);
        let buffer = |packets: usize| {
            udp::PacketBuffer::new(
                vec![udp::PacketMetadata::EMPTY; packets],
                vec![0u8; packets * payload],
            )
        };
        // The receive buffer holds a whole inbound batch, so that smoltcp
        // never drops (uncounted) what the queue would take.
        let rx = buffer(config.udp_queue.max(limits::INBOUND_BATCH));
        let mut socket = udp::Socket::new(rx, buffer(config.udp_queue));
        socket
            .bind(port)
            .expect("a fresh socket binds to a non-zero port");
        let handle = sockets.add(socket);
        let (incoming_tx, incoming_rx) = mpsc::channel(config.udp_queue);
        let (outgoing_tx, outgoing_rx) = mpsc::channel(config.udp_queue);
        self.bindings.push(Binding {
            handle,
            port,
            incoming: incoming_tx,
            outgoing: outgoing_rx,
            held: None,
        });
        let user = UdpSocket {
            port,
            incoming: Mutex::new(incoming_rx),
            outgoing: outgoing_tx,
            wake: wake.clone(),
            max_payload_v4: config.max_udp_payload(false),
            max_payload_v6: config.max_udp_payload(true),
        };
        // If the caller is gone, the socket is dropped here and unbound on
        // the next service.
        let _ = reply.send(Ok(user));
    }

    /// Moves datagrams both ways and unbinds dropped sockets. Returns
    /// whether datagrams were queued for sending.
    pub(crate) fn service(
        &mut self,
        sockets: &mut SocketSet<'static>,
        stats: &mut StackStats,
    ) -> bool {
        let mut moved = false;
        let mut index = 0;
        while index < self.bindings.len() {
            let binding = &mut self.bindings[index];
            if binding.incoming.is_closed() {
                sockets.remove(binding.handle);
                self.ports.release(binding.port);
                self.bindings.swap_remove(index);
                continue;
            }
            let socket = sockets.get_mut::<udp::Socket>(binding.handle);
            moved |= binding.send(socket);
            binding.receive(socket, stats);
            index += 1;
        }
        moved
    }
}

impl Binding {
    fn send(&mut self, socket: &mut udp::Socket<'_>) -> bool {
        let mut moved = false;
        while let Some((data, to)) = self.held.take().or_else(|| self.outgoing.try_recv().ok()) {
            match socket.send_slice(&data, to) {
                Ok(()) => moved = true,
                Err(udp::SendError::BufferFull) => {
                    self.held = Some((data, to));
                    break;
                }
                // Checked by `send_to` already; nothing to tell anyone.
                Err(udp::SendError::Unaddressable) => {}
            }
        }
        moved
    }

    fn receive(&mut self, socket: &mut udp::Socket<'_>, stats: &mut StackStats) {
        while let Ok((data, meta)) = socket.recv() {
            let datagram = (data.to_vec(), SocketAddr::from(meta.endpoint));
            match self.incoming.try_send(datagram) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => stats.dropped_udp += 1,
                Err(TrySendError::Closed(_)) => break,
            }
        }
    }
}
