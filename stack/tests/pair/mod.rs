//! Shared by the stack tests: two stacks wired back to back in one runtime,
//! optionally through a lossy, reordering wire that may answer packets for
//! unowned addresses with Destination Unreachable, plus bulk data patterns
//! and bounded waits.
//!
//! Stack A has addresses `fd00::a` and `100.64.0.10`, stack B `fd00::b` and
//! `100.64.0.11`. Each stack's `to_node` feeds the other's `from_node`.

#![allow(dead_code, unreachable_pub)]

pub mod craft;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tessel_stack::{StackConfig, StackHandle, StackStats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// Stack A's IPv6 address.
pub const A6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0xa);
/// Stack A's IPv4 address.
pub const A4: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 10);
/// Stack B's IPv6 address.
pub const B6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0xb);
/// Stack B's IPv4 address.
pub const B4: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 11);

/// The longest any single wait in these tests may take.
pub const LIMIT: Duration = Duration::from_secs(20);

/// Stack A's default configuration.
pub fn config_a() -> StackConfig {
    StackConfig::new(A6, A4)
}

/// Stack B's default configuration.
pub fn config_b() -> StackConfig {
    StackConfig::new(B6, B4)
}

/// B's address for a port, over IPv6 or IPv4.
pub fn b_addr(ipv6: bool, port: u16) -> SocketAddr {
    let ip: IpAddr = if ipv6 { B6.into() } else { B4.into() };
    SocketAddr::new(ip, port)
}

/// What the wire between the stacks does to packets.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wire {
    /// Probability that a packet is lost.
    pub loss: f64,
    /// Probability that a packet is held back and delivered after the next.
    pub reorder: f64,
    /// Seed of the wire's random choices.
    pub seed: u64,
    /// How to answer a packet for an address that neither stack has; `None`
    /// passes it on, and the other stack drops it.
    pub unreachable: Option<Unreachable>,
}

/// The Destination Unreachable the wire sends back for a packet (other
/// than ICMP) to an address that neither stack has, as the node does for an
/// overlay address that no member owns. It quotes as much of the packet as
/// fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreachable {
    /// ICMP type 3 code of the answer to an IPv4 packet.
    pub v4_code: u8,
    /// ICMPv6 type 1 code of the answer to an IPv6 packet.
    pub v6_code: u8,
    /// Who the answer comes from.
    pub reporter: Reporter,
}

/// The source of a Destination Unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reporter {
    /// The address that could not be reached.
    Destination,
    /// The sender's own address: the node, which shares it.
    Node,
}

impl Unreachable {
    /// ICMP host unreachable, ICMPv6 address unreachable, from the
    /// destination.
    pub const HOST: Self = Self {
        v4_code: 1,
        v6_code: 3,
        reporter: Reporter::Destination,
    };
}

/// Two running stacks wired back to back.
pub struct Pair {
    /// Stack A.
    pub a: StackHandle,
    /// Stack B.
    pub b: StackHandle,
    /// Another way into A's `from_node`, for injecting packets.
    pub into_a: mpsc::Sender<Vec<u8>>,
    /// Another way into B's `from_node`, for injecting packets.
    pub into_b: mpsc::Sender<Vec<u8>>,
}

/// Two stacks with default configurations over a perfect wire.
pub fn pair() -> Pair {
    pair_with(config_a(), config_b(), Wire::default())
}

/// Two stacks with the given configurations and wire.
pub fn pair_with(a: StackConfig, b: StackConfig, wire: Wire) -> Pair {
    let owned = [a.ipv6.into(), a.ipv4.into(), b.ipv6.into(), b.ipv4.into()];
    let (stack_a, handle_a, link_a) = tessel_stack::new(a);
    let (stack_b, handle_b, link_b) = tessel_stack::new(b);
    tokio::spawn(stack_a.run());
    tokio::spawn(stack_b.run());
    let into_a = link_a.from_node.clone();
    let into_b = link_b.from_node.clone();
    let a_to_b = Path {
        to: link_b.from_node.clone(),
        back: link_a.from_node.clone(),
        owned,
    };
    tokio::spawn(carry(link_a.to_node, a_to_b, wire));
    let back = Wire {
        seed: wire.seed ^ 0x5eed,
        ..wire
    };
    let b_to_a = Path {
        to: link_a.from_node,
        back: link_b.from_node,
        owned,
    };
    tokio::spawn(carry(link_b.to_node, b_to_a, back));
    Pair {
        a: handle_a,
        b: handle_b,
        into_a,
        into_b,
    }
}

/// Where one direction of the wire delivers.
struct Path {
    /// The other stack.
    to: mpsc::Sender<Vec<u8>>,
    /// The sending stack, for Destination Unreachable.
    back: mpsc::Sender<Vec<u8>>,
    /// Every address of both stacks.
    owned: [IpAddr; 4],
}

/// The Destination Unreachable answering `packet`, if the wire answers it.
fn answer(packet: &[u8], owned: &[IpAddr], unreachable: Option<Unreachable>) -> Option<Vec<u8>> {
    let unreachable = unreachable?;
    let (src, dst, icmp) = craft::addresses_of(packet)?;
    if icmp || owned.contains(&dst) {
        return None;
    }
    let reporter = match unreachable.reporter {
        Reporter::Destination => dst,
        Reporter::Node => src,
    };
    let code = match dst {
        IpAddr::V4(_) => unreachable.v4_code,
        IpAddr::V6(_) => unreachable.v6_code,
    };
    Some(craft::unreachable(reporter, src, code, packet))
}

/// Moves packets from one stack to the other, losing and reordering some,
/// and answers those for unowned addresses if the wire is set to.
async fn carry(mut from: mpsc::Receiver<Vec<u8>>, path: Path, wire: Wire) {
    let Path { to, back, owned } = path;
    let mut rng = Rng(wire.seed | 1);
    let mut held: Option<Vec<u8>> = None;
    loop {
        // A held packet goes out after the next one, or on its own if no
        // other comes soon.
        let next = match held {
            Some(_) => match tokio::time::timeout(Duration::from_millis(2), from.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    let late = held.take().expect("held");
                    if to.send(late).await.is_err() {
                        return;
                    }
                    continue;
                }
            },
            None => from.recv().await,
        };
        let Some(packet) = next else { return };
        if let Some(error) = answer(&packet, &owned, wire.unreachable) {
            if back.send(error).await.is_err() {
                return;
            }
            continue;
        }
        if rng.chance(wire.loss) {
            continue;
        }
        if held.is_none() && rng.chance(wire.reorder) {
            held = Some(packet);
            continue;
        }
        if to.send(packet).await.is_err() {
            return;
        }
        if let Some(late) = held.take() {
            if to.send(late).await.is_err() {
                return;
            }
        }
    }
}

/// xorshift64*: enough randomness for a wire.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn chance(&mut self, probability: f64) -> bool {
        let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        probability > 0.0 && unit < probability
    }
}

/// Awaits `future`, failing the test if it takes longer than [`LIMIT`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(LIMIT, future).await {
        Ok(value) => value,
        Err(_) => panic!("{what}: not done within {LIMIT:?}"),
    }
}

/// Waits until the stack's counters satisfy `condition`; returns them.
pub async fn wait_stats(
    handle: &StackHandle,
    what: &str,
    mut condition: impl FnMut(&StackStats) -> bool,
) -> StackStats {
    let mut stats = handle.watch_stats();
    let waited = within(what, stats.wait_for(|s| condition(s))).await;
    let snapshot = waited.map(|stats| *stats);
    snapshot.expect("the stack task is running")
}

/// Bytes of a bulk transfer are written and checked in chunks of this size.
pub const CHUNK: usize = 64 << 10;

/// The `index`th chunk of the pattern of stream `seed`: every 8-byte word
/// encodes its position, so a lost, repeated or misplaced byte shows.
pub fn chunk(seed: u64, index: u64) -> Vec<u8> {
    let words = CHUNK / 8;
    let mut out = Vec::with_capacity(CHUNK);
    let first = index * words as u64;
    for word in first..first + words as u64 {
        let value = (word ^ seed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        out.extend_from_slice(&value.to_le_bytes());
    }
    out
}

/// Writes `chunks` chunks of stream `seed`, then shuts down the writing half.
pub async fn send_pattern(
    mut writer: impl AsyncWriteExt + Unpin,
    seed: u64,
    chunks: u64,
) -> std::io::Result<()> {
    for index in 0..chunks {
        writer.write_all(&chunk(seed, index)).await?;
    }
    writer.shutdown().await
}

/// Reads `chunks` chunks and checks them against stream `seed`, then expects
/// EOF.
pub async fn expect_pattern(
    mut reader: impl AsyncReadExt + Unpin,
    seed: u64,
    chunks: u64,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    for index in 0..chunks {
        reader.read_exact(&mut buf).await?;
        assert!(
            buf == chunk(seed, index),
            "chunk {index} of stream {seed} differs"
        );
    }
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).await?;
    assert!(rest.is_empty(), "{} bytes past the end", rest.len());
    Ok(())
}
