//! Where the node's IP packets come from and go to: a TUN device, or a pair
//! of channels to a userspace TCP/IP stack or to a program that embeds the
//! node. The event loop treats both alike.

use std::io;

use tokio::sync::mpsc;
use tun_rs::AsyncDevice;

/// What the daemon should use for IP packets.
#[derive(Debug)]
pub enum DeviceSpec {
    /// A TUN device with this name (needs root or CAP_NET_ADMIN).
    Tun {
        /// The interface name.
        interface: String,
    },
    /// Channels to a userspace stack or an embedding program.
    Channel(ChannelDevice),
}

/// The node's side of a channel device.
pub struct ChannelDevice {
    from_host: mpsc::Receiver<Vec<u8>>,
    to_host: mpsc::Sender<Vec<u8>>,
}

impl std::fmt::Debug for ChannelDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChannelDevice")
    }
}

impl ChannelDevice {
    /// A device whose outgoing IP packets arrive on `from_host` and whose
    /// incoming ones (already decrypted and checked) are sent to `to_host`.
    pub fn new(from_host: mpsc::Receiver<Vec<u8>>, to_host: mpsc::Sender<Vec<u8>>) -> Self {
        Self { from_host, to_host }
    }
}

/// The open device.
pub(crate) enum PacketDevice {
    Tun(AsyncDevice),
    Channel(ChannelDevice),
}

impl PacketDevice {
    /// Waits for the next outgoing IP packet; returns its length in `buf`.
    pub(crate) async fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tun(dev) => dev.recv(buf).await,
            Self::Channel(ch) => match ch.from_host.recv().await {
                Some(pkt) => Ok(copy(&pkt, buf)),
                None => Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the host side of the device closed",
                )),
            },
        }
    }

    /// Takes the next outgoing IP packet if one is waiting.
    pub(crate) fn try_recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tun(dev) => dev.try_recv(buf),
            Self::Channel(ch) => match ch.from_host.try_recv() {
                Ok(pkt) => Ok(copy(&pkt, buf)),
                Err(_) => Err(io::ErrorKind::WouldBlock.into()),
            },
        }
    }

    /// Reads a packet the device holds now, without waiting for the runtime
    /// to notice it: one that a write of the daemon's own (an engine stream)
    /// has just queued, which [`Self::try_recv`] would not see before the
    /// next poll of the runtime's readiness.
    pub(crate) fn recv_now(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tun(dev) => {
                let dev: &tun_rs::DeviceImpl = dev;
                nix::unistd::read(dev, buf).map_err(io::Error::from)
            }
            Self::Channel(_) => self.try_recv(buf),
        }
    }

    /// Hands an incoming IP packet to the host. A full channel drops the
    /// packet, as a full interface queue would; TCP recovers.
    pub(crate) async fn send(&self, packet: &[u8]) -> io::Result<()> {
        match self {
            Self::Tun(dev) => dev.send(packet).await.map(drop),
            Self::Channel(ch) => ch.to_host.try_send(packet.to_vec()).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    io::Error::new(io::ErrorKind::WouldBlock, "host queue full")
                }
                mpsc::error::TrySendError::Closed(_) => {
                    io::Error::new(io::ErrorKind::BrokenPipe, "host side closed")
                }
            }),
        }
    }

    /// The TUN device, if that is what this is.
    pub(crate) fn tun(&self) -> Option<&AsyncDevice> {
        match self {
            Self::Tun(dev) => Some(dev),
            Self::Channel(_) => None,
        }
    }
}

fn copy(pkt: &[u8], buf: &mut [u8]) -> usize {
    let n = pkt.len().min(buf.len());
    buf[..n].copy_from_slice(&pkt[..n]);
    n
}
