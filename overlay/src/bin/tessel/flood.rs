//! `tessel test-flood` (test builds only): floods a member with handshake
//! initiations or garbage, for the namespace test and `bench/flood.sh`.
//!
//! Kinds: `replay` sends one valid initiation (made as a member with a
//! made-up identity) again and again; `fresh` sends initiations that each
//! look new (a pool of made-up identities, one real initiation each, with a
//! new sender index and MAC per datagram, so that the receiver's
//! Diffie-Hellman succeeds and the flooder does none); `garbage` sends
//! random bytes of the same size. Prints `{"sent": N, "seconds": S}`.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use clap::{Args, ValueEnum};
use tessel_overlay::driver::clock;
use tessel_overlay::identity::{NodeId, NodeKey};
use tessel_overlay::session::handshake::{create_initiation, HandshakeKeys};
use tessel_overlay::wire::handshake_init;
use tessel_overlay::wire::mac::MacKey;

/// What to flood with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Kind {
    /// One valid initiation, replayed.
    Replay,
    /// Initiations from made-up members, each new.
    Fresh,
    /// Random bytes the size of an initiation.
    Garbage,
}

/// `tessel test-flood`.
#[derive(Debug, Args)]
pub(crate) struct FloodArgs {
    /// The network key, or @FILE.
    #[arg(long, value_name = "KEY|@FILE")]
    network: String,
    /// The member flooded (its node ID).
    #[arg(long)]
    target: String,
    /// Its UDP address.
    #[arg(long)]
    to: SocketAddr,
    /// What to send.
    #[arg(long, value_enum)]
    kind: Kind,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Datagrams a second at most (0: as fast as the socket takes them).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Made-up identities for `fresh`.
    #[arg(long, default_value_t = 256)]
    pool: u32,
}

/// Runs the flood and prints what was sent.
pub(crate) fn run(args: FloodArgs) -> Result<()> {
    let network = crate::commands::parse_network(&args.network)?;
    let target = NodeId::parse(args.target.trim()).map_err(|e| anyhow!("--target: {e}"))?;
    let mac = MacKey::for_recipient(&network.mac_key(), target.as_bytes());
    let unix_ms = clock::system_now()
        .duration_since(UNIX_EPOCH)
        .context("clock before 1970")?
        .as_millis() as u64;
    let mut seed = [0u8; 32];
    clock::fill_random(&mut seed).map_err(|e| anyhow!("random source: {e}"))?;
    let pool = match args.kind {
        Kind::Garbage => Vec::new(),
        Kind::Replay => vec![initiation(&network, &target, seed, 0, unix_ms)?],
        Kind::Fresh => (0..args.pool.max(1))
            .map(|i| initiation(&network, &target, seed, i, unix_ms))
            .collect::<Result<_>>()?,
    };
    let bind: SocketAddr = if args.to.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let socket = UdpSocket::bind(bind).context("binding a UDP socket")?;
    let mut rng = u64::from_le_bytes(seed[..8].try_into().expect("8 bytes")) | 1;
    let start = clock::now();
    let end = start + Duration::from_secs_f64(args.seconds);
    let mut sent: u64 = 0;
    let mut buf = [0u8; handshake_init::LEN];
    while clock::now() < end {
        // 64 datagrams between clock reads and pacing.
        for _ in 0..64 {
            match args.kind {
                Kind::Replay => buf = pool[0],
                Kind::Fresh => {
                    buf = pool[(sent % pool.len() as u64) as usize];
                    // A new sender index and MAC: new to the receiver.
                    buf[4..8].copy_from_slice(&(sent as u32).to_le_bytes());
                    mac.seal(&mut buf);
                }
                Kind::Garbage => {
                    for chunk in buf.chunks_mut(8) {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        let n = chunk.len();
                        chunk.copy_from_slice(&rng.to_le_bytes()[..n]);
                    }
                }
            }
            // A full socket buffer drops the datagram; keep going.
            if socket.send_to(&buf, args.to).is_ok() {
                sent += 1;
            }
        }
        if args.rate > 0 {
            let due = start + Duration::from_secs_f64(sent as f64 / args.rate as f64);
            if let Some(wait) = due.checked_duration_since(clock::now()) {
                std::thread::sleep(wait);
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!("{{\"sent\": {sent}, \"seconds\": {seconds:.3}}}");
    Ok(())
}

/// The `i`th made-up member's initiation to `target`.
fn initiation(
    network: &tessel_overlay::identity::NetworkKey,
    target: &NodeId,
    seed: [u8; 32],
    i: u32,
    unix_ms: u64,
) -> Result<[u8; handshake_init::LEN]> {
    let mut s = seed;
    s[..4].copy_from_slice(&i.to_le_bytes());
    let mut keys = HandshakeKeys::new(&NodeKey::from_seed(s), network);
    let (_, msg) = create_initiation(&mut keys, target, i, unix_ms, s)
        .map_err(|e| anyhow!("making an initiation: {e}"))?;
    msg.try_into()
        .map_err(|_| anyhow!("an initiation without certificate has a fixed length"))
}
