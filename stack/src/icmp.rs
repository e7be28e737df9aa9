//! Ping: ICMP and ICMPv6 echo requests sent by the task, one smoltcp ICMP
//! socket per ping in flight.
//!
//! Each ping binds a socket to its own echo identifier, sends one request
//! with a patterned payload and waits for the reply with the same
//! identifier, sequence number and payload, or for its deadline. Echo
//! requests from others are answered by the interface itself.

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::socket::icmp;
use smoltcp::wire::{Icmpv4Packet, Icmpv4Repr, Icmpv6Packet, Icmpv6Repr, IpAddress};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::config::StackConfig;
use crate::error::Error;
use crate::limits;

/// The reply channel of a ping command.
pub(crate) type PingReply = oneshot::Sender<io::Result<Duration>>;

/// The sequence number of every request (one request per socket).
const SEQ_NO: u16 = 1;

/// One ping in flight.
struct Ping {
    handle: SocketHandle,
    remote: IpAddr,
    ident: u16,
    payload_len: usize,
    sent_at: Instant,
    timeout: Duration,
    reply: PingReply,
}

/// The pings in flight.
pub(crate) struct Pings {
    pings: Vec<Ping>,
    next_ident: u16,
}

/// What a ping asks for.
pub(crate) struct Request {
    /// Whom to ping.
    pub(crate) remote: IpAddr,
    /// Bytes of echo payload.
    pub(crate) payload_len: usize,
    /// How long to wait for the reply.
    pub(crate) timeout: Duration,
}

impl Pings {
    /// No pings; identifiers start at a point picked from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            pings: Vec::new(),
            next_ident: seed as u16,
        }
    }

    /// Pings in flight.
    pub(crate) fn count(&self) -> usize {
        self.pings.len()
    }

    /// The earliest deadline.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.pings
            .iter()
            .map(|ping| ping.sent_at + ping.timeout)
            .min()
    }

    /// Queues an echo request; the reply comes from [`Self::service`].
    pub(crate) fn start(
        &mut self,
        sockets: &mut SocketSet<'static>,
        config: &StackConfig,
        now: Instant,
        request: Request,
        reply: PingReply,
    ) {
        let ident = self.free_ident();
        let packet_len = request.payload_len + limits::ICMP_ECHO_HEADER_LEN;
        let buffer = || {
            icmp::PacketBuffer::new(
                vec![icmp::PacketMetadata::EMPTY; limits::PING_QUEUE],
                vec![0u8; limits::PING_QUEUE * packet_len],
            )
        };
        let mut socket = icmp::Socket::new(buffer(), buffer());
        socket
            .bind(icmp::Endpoint::Ident(ident))
            .expect("a fresh socket binds to an identifier");
        let data = payload(request.payload_len);
        let caps = ChecksumCapabilities::default();
        let sent = match request.remote {
            IpAddr::V4(remote) => {
                let repr = Icmpv4Repr::EchoRequest {
                    ident,
                    seq_no: SEQ_NO,
                    data: &data,
                };
                socket
                    .send(repr.buffer_len(), IpAddress::Ipv4(remote))
                    .map(|buf| repr.emit(&mut Icmpv4Packet::new_unchecked(buf), &caps))
            }
            IpAddr::V6(remote) => {
                let repr = Icmpv6Repr::EchoRequest {
                    ident,
                    seq_no: SEQ_NO,
                    data: &data,
                };
                socket
                    .send(repr.buffer_len(), IpAddress::Ipv6(remote))
                    .map(|buf| {
                        let mut packet = Icmpv6Packet::new_unchecked(buf);
                        repr.emit(&config.ipv6, &remote, &mut packet, &caps);
                    })
            }
        };
        if sent.is_err() {
            let _ = reply.send(Err(Error::InvalidDestination {
                addr: request.remote,
            }
            .into()));
            return;
        }
        self.pings.push(Ping {
            handle: sockets.add(socket),
            remote: request.remote,
            ident,
            payload_len: request.payload_len,
            sent_at: now,
            timeout: request.timeout,
            reply,
        });
    }

    /// Answers pings whose reply came, whose deadline passed, or whose
    /// caller stopped waiting, and removes their sockets.
    pub(crate) fn service(
        &mut self,
        sockets: &mut SocketSet<'static>,
        config: &StackConfig,
        now: Instant,
    ) {
        let mut index = 0;
        while index < self.pings.len() {
            let ping = &self.pings[index];
            let socket = sockets.get_mut::<icmp::Socket>(ping.handle);
            let answered = ping.take_reply(socket, config);
            let expired = now >= ping.sent_at + ping.timeout;
            if !(answered || expired || ping.reply.is_closed()) {
                index += 1;
                continue;
            }
            let ping = self.pings.swap_remove(index);
            sockets.remove(ping.handle);
            let result = if answered {
                Ok(now.saturating_duration_since(ping.sent_at))
            } else {
                Err(Error::PingTimeout {
                    remote: ping.remote,
                    timeout: ping.timeout,
                }
                .into())
            };
            let _ = ping.reply.send(result);
        }
    }

    fn free_ident(&mut self) -> u16 {
        loop {
            let ident = self.next_ident;
            self.next_ident = self.next_ident.wrapping_add(1);
            if self.pings.iter().all(|ping| ping.ident != ident) {
                return ident;
            }
        }
    }
}

impl Ping {
    /// Reads what the socket received; true once the matching reply is among
    /// it.
    fn take_reply(&self, socket: &mut icmp::Socket<'_>, config: &StackConfig) -> bool {
        let expected = payload(self.payload_len);
        let caps = ChecksumCapabilities::ignored();
        let mut answered = false;
        while let Ok((bytes, from)) = socket.recv() {
            let echo = match from {
                IpAddress::Ipv4(_) => Icmpv4Packet::new_checked(bytes)
                    .and_then(|packet| Icmpv4Repr::parse(&packet, &caps))
                    .ok()
                    .and_then(|repr| match repr {
                        Icmpv4Repr::EchoReply {
                            ident,
                            seq_no,
                            data,
                        } => Some((ident, seq_no, data == expected.as_slice())),
                        _ => None,
                    }),
                IpAddress::Ipv6(src) => Icmpv6Packet::new_checked(bytes)
                    .and_then(|packet| Icmpv6Repr::parse(&src, &config.ipv6, &packet, &caps))
                    .ok()
                    .and_then(|repr| match repr {
                        Icmpv6Repr::EchoReply {
                            ident,
                            seq_no,
                            data,
                        } => Some((ident, seq_no, data == expected.as_slice())),
                        _ => None,
                    }),
            };
            answered |=
                IpAddr::from(from) == self.remote && echo == Some((self.ident, SEQ_NO, true));
        }
        answered
    }
}

/// The echo payload: a pattern the reply must carry back.
fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8) ^ 0x5a).collect()
}
