//! Where the node's IP packets come from and go to: a TUN device, or a pair
//! of channels to a userspace TCP/IP stack or to a program that embeds the
//! node. The event loop treats both alike.
//!
//! The TUN device runs with the kernel's offloads on ([`super::tun`]): one
//! read may bring a TCP or UDP super-packet of up to 64 KiB, which is split
//! here into the packets the overlay carries ([`RxBatch`]); and the packets
//! the overlay delivers are gathered ([`PacketDevice::queue`]) and coalesced
//! into super-packets on their way in ([`PacketDevice::flush`]). One read
//! and one write then stand for tens of packets, and the kernel's TCP
//! neither segments what it sends nor handles each segment it receives.

use std::io;

use tokio::sync::mpsc;
use tun_rs::{AsyncDevice, GROTable, IDEAL_BATCH_SIZE, VIRTIO_NET_HDR_LEN};

use crate::limits::TUN_MTU;

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

/// Room for one packet split out of a super-packet: the interface's MTU,
/// with margin.
const PACKET_ROOM: usize = 2048;
const _: () = assert!(TUN_MTU <= PACKET_ROOM);
/// The largest read from the device: its virtio-net header and a
/// super-packet.
const READ_ROOM: usize = VIRTIO_NET_HDR_LEN + 65_535;
/// Delivered packets gathered before they are written (and coalesced).
const WRITE_BATCH: usize = 64;
/// Room in each of them: coalescing appends the packets of a flow to the
/// first one's buffer, and only where that has the room already (up to a
/// 64 KiB super-packet). Pages are only resident once written.
const WRITE_ROOM: usize = 2 * VIRTIO_NET_HDR_LEN + 65_535;

/// The packets of one read from the device, split.
pub(crate) struct RxBatch {
    raw: Vec<u8>,
    packets: Vec<Vec<u8>>,
    sizes: Vec<usize>,
    len: usize,
}

impl RxBatch {
    /// Empty buffers for the largest read.
    pub(crate) fn new() -> Self {
        Self {
            raw: vec![0; READ_ROOM],
            packets: vec![vec![0; PACKET_ROOM]; IDEAL_BATCH_SIZE],
            sizes: vec![0; IDEAL_BATCH_SIZE],
            len: 0,
        }
    }

    /// How many packets the last read brought.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The `i`-th packet of the last read.
    pub(crate) fn packet(&self, i: usize) -> &[u8] {
        &self.packets[i][..self.sizes[i]]
    }

    /// Keeps one packet taken from a channel.
    fn hold(&mut self, pkt: &[u8]) {
        let n = pkt.len().min(PACKET_ROOM);
        self.packets[0][..n].copy_from_slice(&pkt[..n]);
        self.sizes[0] = n;
        self.len = 1;
    }
}

/// Delivered packets waiting to be written to the TUN device, each after
/// room for the virtio-net header that the write puts in front of it.
pub(crate) struct TxBatch {
    packets: Vec<Vec<u8>>,
    len: usize,
    gro: GROTable,
}

impl TxBatch {
    fn new() -> Self {
        Self {
            packets: Vec::new(),
            len: 0,
            gro: GROTable::default(),
        }
    }

    fn push(&mut self, packet: &[u8]) {
        if self.len == self.packets.len() {
            self.packets.push(Vec::with_capacity(WRITE_ROOM));
        }
        let slot = &mut self.packets[self.len];
        slot.clear();
        slot.resize(VIRTIO_NET_HDR_LEN, 0);
        slot.extend_from_slice(packet);
        self.len += 1;
    }

    /// Writes the batch to `dev`, coalesced, and empties it.
    async fn write(&mut self, dev: &AsyncDevice) -> io::Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        let n = std::mem::take(&mut self.len);
        dev.send_multiple(&mut self.gro, &mut self.packets[..n], VIRTIO_NET_HDR_LEN)
            .await
            .map(drop)
    }
}

/// The open device.
pub(crate) enum PacketDevice {
    /// A TUN device, and the packets waiting to be written to it.
    /// (Boxed: the channel variant is small.)
    Tun(AsyncDevice, Box<TxBatch>),
    /// Channels to the host.
    Channel(ChannelDevice),
}

impl PacketDevice {
    /// The open TUN device.
    pub(crate) fn tun(dev: AsyncDevice) -> Self {
        Self::Tun(dev, Box::new(TxBatch::new()))
    }

    /// Waits for the next outgoing IP packets and puts them in `rx`.
    pub(crate) async fn recv(&mut self, rx: &mut RxBatch) -> io::Result<()> {
        match self {
            Self::Tun(dev, _) => {
                rx.len = dev
                    .recv_multiple(&mut rx.raw, &mut rx.packets, &mut rx.sizes, 0)
                    .await?;
                Ok(())
            }
            Self::Channel(ch) => match ch.from_host.recv().await {
                Some(pkt) => {
                    rx.hold(&pkt);
                    Ok(())
                }
                None => Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the host side of the device closed",
                )),
            },
        }
    }

    /// Takes the next outgoing IP packets if some are waiting.
    pub(crate) fn try_recv(&mut self, rx: &mut RxBatch) -> io::Result<()> {
        match self {
            Self::Tun(dev, _) => {
                rx.len = dev.try_recv_multiple(&mut rx.raw, &mut rx.packets, &mut rx.sizes, 0)?;
                Ok(())
            }
            Self::Channel(ch) => match ch.from_host.try_recv() {
                Ok(pkt) => {
                    rx.hold(&pkt);
                    Ok(())
                }
                Err(_) => Err(io::ErrorKind::WouldBlock.into()),
            },
        }
    }

    /// Reads packets the device holds now, without waiting for the runtime
    /// to notice them: ones that a write of the daemon's own (an engine
    /// stream) has just queued, which [`Self::try_recv`] would not see
    /// before the next poll of the runtime's readiness.
    pub(crate) fn recv_now(&mut self, rx: &mut RxBatch) -> io::Result<()> {
        match self {
            Self::Tun(dev, _) => {
                // The device's own (non-blocking) read, past the runtime.
                let dev: &tun_rs::DeviceImpl = dev;
                rx.len = dev.recv_multiple(&mut rx.raw, &mut rx.packets, &mut rx.sizes, 0)?;
                Ok(())
            }
            Self::Channel(_) => self.try_recv(rx),
        }
    }

    /// Hands an incoming IP packet to the host. On a TUN device it waits,
    /// with others, for [`Self::flush`] (a full batch is flushed first). A
    /// full channel drops the packet, as a full interface queue would; TCP
    /// recovers.
    pub(crate) async fn queue(&mut self, packet: &[u8]) -> io::Result<()> {
        match self {
            Self::Tun(dev, batch) => {
                if batch.len == WRITE_BATCH {
                    batch.write(dev).await?;
                }
                batch.push(packet);
                Ok(())
            }
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

    /// Writes the queued packets to the TUN device, TCP and UDP ones of one
    /// flow coalesced into super-packets where the kernel takes them.
    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Tun(dev, batch) => batch.write(dev).await,
            Self::Channel(_) => Ok(()),
        }
    }

    /// The TUN device, if that is what this is.
    pub(crate) fn tun_device(&self) -> Option<&AsyncDevice> {
        match self {
            Self::Tun(dev, _) => Some(dev),
            Self::Channel(_) => None,
        }
    }
}
