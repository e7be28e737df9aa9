//! Path probes: how two members find out which of each other's candidate
//! endpoints reach them (hole punching), and how long the way there takes.
//!
//! ```text
//! probe (type 6):
//! 0      1          4            36      44            62           78       94
//! | type | reserved | sender 32 | tx u64 | padding 18 | pair tag 16 | mac 16 |
//!
//! probe-ack (type 7):
//! 0      1          4            36      44              60          62           78       94
//! | type | reserved | sender 32 | tx u64 | observed ip 16 | port u16be | pair tag 16 | mac 16 |
//! ```
//! Both carry a MAC keyed from the network key and bound to the recipient's
//! node ID, so a probe that lands on another member's port (or an
//! outsider's) is dropped unanswered at the cost of one keyed hash. Under
//! it, the pair tag (over bytes 0..62) is keyed from the same key and the
//! X25519 of the two members' static keys ([`MacKey::for_pair`]): only the
//! named sender can make it, so a third member cannot forge a probe "from"
//! another. A probe-ack echoes the probe's `tx`
//! and says where the probe came from (an IPv4 address as IPv4-mapped
//! IPv6), which tells the prober its own reflexive endpoint toward this
//! member. Nobody keeps state for a probe: the answer is computed from it.
//! A probe is padded (zeros, under the MAC) to the length of its answer, so
//! that answering never sends more bytes than arrived.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use super::kind::{checked, Size};
use super::mac::{MacKey, MAC_LEN};
use super::{read_u64, write_type, MessageType, WireError};

/// Where the pair tag lies; it covers the bytes before it.
const TAG: std::ops::Range<usize> = 62..78;
/// Bytes of a probe-ack.
pub const ACK_LEN: usize = 4 + 32 + 8 + 18 + MAC_LEN + MAC_LEN;
/// Bytes of a probe: padded to those of its answer.
pub const PROBE_LEN: usize = ACK_LEN;

/// A view over a probe or a probe-ack.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks type and exact length; the only constructor for untrusted input.
    ///
    /// # Errors
    /// Returns an error if the buffer is neither a probe nor a probe-ack.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        // A probe is padded to the length of its answer.
        const _: () = assert!(PROBE_LEN == ACK_LEN);
        let kinds = [MessageType::Probe, MessageType::ProbeAck];
        Ok(Self {
            buffer: checked(buffer, Size::Exactly(ACK_LEN), &kinds)?,
        })
    }

    /// Whether this is the answer.
    pub fn is_ack(&self) -> bool {
        self.buffer.as_ref()[0] == MessageType::ProbeAck as u8
    }

    /// The sender's node ID bytes (still to be validated as a key).
    pub fn sender(&self) -> [u8; 32] {
        let mut id = [0u8; 32];
        id.copy_from_slice(&self.buffer.as_ref()[4..36]);
        id
    }

    /// The transaction number that a probe-ack echoes.
    pub fn tx(&self) -> u64 {
        read_u64(self.buffer.as_ref(), 36)
    }

    /// Where the answered probe came from (probe-acks only).
    pub fn observed(&self) -> Option<SocketAddr> {
        if !self.is_ack() {
            return None;
        }
        let b = self.buffer.as_ref();
        let mut ip = [0u8; 16];
        ip.copy_from_slice(&b[44..60]);
        let ip = Ipv6Addr::from(ip);
        let ip = ip.to_ipv4_mapped().map_or(IpAddr::V6(ip), IpAddr::V4);
        Some(SocketAddr::new(ip, u16::from_be_bytes([b[60], b[61]])))
    }

    /// The whole message, MAC included.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Checks, in constant time, the pair tag with the key of the pair
    /// (see [`MacKey::for_pair`]).
    pub fn verify_pair(&self, pair: &MacKey) -> bool {
        pair.verify(&self.buffer.as_ref()[..TAG.end])
    }
}

/// Writes the pair tag, then the MAC over everything before it.
pub fn seal(msg: &mut [u8], pair: &MacKey, mac: &MacKey) {
    pair.seal(&mut msg[..TAG.end]);
    mac.seal(msg);
}

/// Appends a probe (zero padding) with a zero tag and MAC for [`seal`].
pub fn emit_probe(sender: &[u8; 32], tx: u64, out: &mut Vec<u8>) {
    let mut b = [0u8; PROBE_LEN];
    write_type(&mut b, MessageType::Probe);
    b[4..36].copy_from_slice(sender);
    b[36..44].copy_from_slice(&tx.to_le_bytes());
    out.extend_from_slice(&b);
}

/// Appends a probe-ack with a zero tag and MAC for [`seal`].
pub fn emit_ack(sender: &[u8; 32], tx: u64, observed: SocketAddr, out: &mut Vec<u8>) {
    let mut b = [0u8; ACK_LEN];
    write_type(&mut b, MessageType::ProbeAck);
    b[4..36].copy_from_slice(sender);
    b[36..44].copy_from_slice(&tx.to_le_bytes());
    let ip = match observed.ip() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    b[44..60].copy_from_slice(&ip.octets());
    b[60..62].copy_from_slice(&observed.port().to_be_bytes());
    out.extend_from_slice(&b);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::to_vec;

    #[test]
    fn probe_layout() {
        let b = to_vec(|o| emit_probe(&[7; 32], 0x0102, o));
        assert_eq!(&b[..5], &[6, 0, 0, 0, 7]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(!p.is_ack());
        assert_eq!(p.sender(), [7; 32]);
        assert_eq!(p.tx(), 0x0102);
        assert_eq!(p.observed(), None);
        assert!(Packet::new_checked(&b[..PROBE_LEN - 1]).is_err());
        // The old, unpadded probe is refused.
        assert!(Packet::new_checked(&b[..60]).is_err());
    }

    #[test]
    fn the_pair_tag_needs_the_pair_key_and_the_mac_covers_it() {
        let to_me = MacKey::for_recipient(&[1; 32], &[2; 32]);
        let pair = to_me.for_pair(&[3; 32]);
        let mut b = to_vec(|o| emit_probe(&[7; 32], 9, o));
        seal(&mut b, &pair, &to_me);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(to_me.verify(p.as_bytes()));
        assert!(p.verify_pair(&pair));
        assert!(!p.verify_pair(&to_me.for_pair(&[4; 32])));
        let mut t = b;
        t[70] ^= 1;
        assert!(!to_me.verify(&t));
    }

    #[test]
    fn an_answer_is_never_longer_than_its_probe() {
        let probe = to_vec(|o| emit_probe(&[7; 32], 1, o));
        let ack = to_vec(|o| emit_ack(&[7; 32], 1, "[2001:db8::1]:9".parse().unwrap(), o));
        assert!(ack.len() <= probe.len());
    }

    #[test]
    fn ack_round_trips_both_families() {
        for observed in ["198.51.100.7:4000", "[2001:db8::9]:65535"] {
            let observed: SocketAddr = observed.parse().unwrap();
            let b = to_vec(|o| emit_ack(&[3; 32], u64::MAX, observed, o));
            let p = Packet::new_checked(&b[..]).unwrap();
            assert!(p.is_ack());
            assert_eq!(p.tx(), u64::MAX);
            assert_eq!(p.observed(), Some(observed));
        }
    }

    #[test]
    fn wrong_length_or_type_is_an_error() {
        let b = to_vec(|o| emit_ack(&[3; 32], 1, "192.0.2.1:1".parse().unwrap(), o));
        assert!(Packet::new_checked(&b[..ACK_LEN - 1]).is_err());
        assert!(Packet::new_checked(&b[..60]).is_err());
        let mut p = to_vec(|o| emit_probe(&[1; 32], 1, o));
        p[0] = 4;
        assert!(Packet::new_checked(&p[..]).is_err());
    }
}
