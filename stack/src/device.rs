//! The smoltcp [`Device`] of the stack: two packet queues, one filled from
//! the node, one drained to it.
//!
//! The run loop pushes checked packets into the inbound queue and moves the
//! outbound queue into the [`crate::PacketLink`] channel. When the node falls
//! behind and the outbound queue reaches its limit, [`Device::transmit`]
//! answers `None`: smoltcp keeps its segments in the socket buffers and
//! sends them on a later poll, which is how backpressure reaches TCP.

use std::collections::VecDeque;

use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// A packet device over two in-memory queues.
#[derive(Debug)]
pub(crate) struct Device {
    inbound: VecDeque<Vec<u8>>,
    outbound: VecDeque<Vec<u8>>,
    outbound_limit: usize,
    mtu: usize,
}

impl Device {
    /// A device for packets of at most `mtu` bytes that holds up to
    /// `outbound_limit` packets for the node.
    pub(crate) fn new(mtu: usize, outbound_limit: usize) -> Self {
        Self {
            inbound: VecDeque::new(),
            outbound: VecDeque::with_capacity(outbound_limit + 1),
            outbound_limit,
            mtu,
        }
    }

    /// Queues a packet from the node for the interface.
    pub(crate) fn push_inbound(&mut self, packet: Vec<u8>) {
        self.inbound.push_back(packet);
    }

    /// Takes the oldest packet for the node.
    pub(crate) fn pop_outbound(&mut self) -> Option<Vec<u8>> {
        self.outbound.pop_front()
    }

    /// Puts back a packet the node's channel had no room for.
    pub(crate) fn unpop_outbound(&mut self, packet: Vec<u8>) {
        self.outbound.push_front(packet);
    }

    /// Whether packets wait for the node.
    pub(crate) fn has_outbound(&self) -> bool {
        !self.outbound.is_empty()
    }

    /// Whether the outbound queue is at its limit, so that smoltcp may not
    /// send.
    pub(crate) fn outbound_full(&self) -> bool {
        self.outbound.len() >= self.outbound_limit
    }
}

impl phy::Device for Device {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(RxToken, TxToken<'_>)> {
        let packet = self.inbound.pop_front()?;
        // A reply to a received packet (an ACK, an RST) may go one past the
        // limit: smoltcp expects to be able to answer every packet.
        Some((RxToken(packet), TxToken(&mut self.outbound)))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<TxToken<'_>> {
        if self.outbound_full() {
            None
        } else {
            Some(TxToken(&mut self.outbound))
        }
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        caps.max_burst_size = None;
        // Inbound checksums were verified by `inbound::check`; compute
        // outbound ones only.
        let mut checksum = ChecksumCapabilities::default();
        checksum.ipv4 = Checksum::Tx;
        checksum.udp = Checksum::Tx;
        checksum.tcp = Checksum::Tx;
        checksum.icmpv4 = Checksum::Tx;
        checksum.icmpv6 = Checksum::Tx;
        caps.checksum = checksum;
        caps
    }
}

/// A received packet, handed to smoltcp.
#[derive(Debug)]
pub(crate) struct RxToken(Vec<u8>);

impl phy::RxToken for RxToken {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(&self.0)
    }
}

/// Room for one packet in the outbound queue.
#[derive(Debug)]
pub(crate) struct TxToken<'a>(&'a mut VecDeque<Vec<u8>>);

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut packet = vec![0; len];
        let result = f(&mut packet);
        self.0.push_back(packet);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::phy::{Device as _, RxToken as _, TxToken as _};

    #[test]
    fn packets_pass_in_order_and_transmit_stops_at_the_limit() {
        let mut device = Device::new(1420, 2);
        device.push_inbound(vec![1]);
        device.push_inbound(vec![2]);
        let now = Instant::from_millis(0);
        let (rx, tx) = device.receive(now).expect("a packet");
        assert_eq!(rx.consume(|p| p.to_vec()), vec![1]);
        tx.consume(3, |buf| buf.copy_from_slice(&[9, 9, 9]));
        let tx = device.transmit(now).expect("room for one more");
        tx.consume(1, |buf| buf[0] = 8);
        assert!(device.outbound_full());
        assert!(device.transmit(now).is_none());
        // Replies still fit.
        let (rx, tx) = device.receive(now).expect("a second packet");
        assert_eq!(rx.consume(|p| p.to_vec()), vec![2]);
        tx.consume(1, |buf| buf[0] = 7);
        assert!(device.receive(now).is_none());
        assert_eq!(device.pop_outbound(), Some(vec![9, 9, 9]));
        assert_eq!(device.pop_outbound(), Some(vec![8]));
        assert_eq!(device.pop_outbound(), Some(vec![7]));
        assert!(!device.has_outbound());
    }

    #[test]
    fn capabilities_describe_an_ip_link() {
        let caps = Device::new(1420, 1).capabilities();
        assert_eq!(caps.medium, Medium::Ip);
        assert_eq!(caps.max_transmission_unit, 1420);
        assert!(!caps.checksum.tcp.rx());
        assert!(caps.checksum.tcp.tx());
    }
}
