//! Real traffic between every pair, over the overlay: pings (all pairs at
//! once) and a short TCP transfer (one pair after another, so that each
//! has the machine to itself).

use std::time::Duration;

use anyhow::{anyhow, Result};
use tessel_lab::ping::{ping_stats, PingStats};
use tessel_lab::transfer::{tcp_transfer, Transfer};

use super::narrate::Narrator;
use super::plan::MEMBERS;
use super::signals::Interrupt;
use super::watch::{pair_label, PairState};
use super::world::DemoWorld;

/// Echo requests per pair.
const PINGS: u32 = 3;

/// Bytes of each pair's TCP transfer.
pub(crate) const TRANSFER_BYTES: u64 = 2 << 20;

/// Time limit of each step of a transfer.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(10);

/// What traffic showed for one pair.
#[derive(Debug, Clone, Default)]
pub(crate) struct PairTraffic {
    /// The pings from the first member to the second.
    pub(crate) ping: Option<PingStats>,
    /// The transfer from the first member to the second.
    pub(crate) transfer: Option<Transfer>,
    /// What failed.
    pub(crate) problems: Vec<String>,
}

/// Pings, then transfers, for every pair (first member to second, to its
/// overlay IPv4 address).
pub(crate) fn run(
    world: &DemoWorld,
    pairs: &[PairState],
    say: &Narrator,
    interrupt: &Interrupt,
) -> Result<Vec<PairTraffic>> {
    interrupt.check()?;
    say.say(format!(
        "pinging every pair over the overlay ({PINGS} echo requests each, all pairs at once)"
    ));
    let pings: Vec<Result<PingStats>> = std::thread::scope(|s| {
        let jobs: Vec<_> = pairs
            .iter()
            .map(|p| s.spawn(move || ping_pair(world, p)))
            .collect();
        jobs.into_iter()
            .map(|j| {
                j.join()
                    .unwrap_or_else(|_| Err(anyhow!("ping thread panicked")))
            })
            .collect()
    });
    let mut out = Vec::new();
    for (p, ping) in pairs.iter().zip(pings) {
        let mut t = PairTraffic::default();
        match ping {
            Ok(s) => {
                let rtt = s
                    .avg_rtt_ms
                    .map(|r| format!(", {r:.2} ms on average"))
                    .unwrap_or_default();
                say.say(format!(
                    "ping {}: {}/{} replies{rtt}",
                    arrow(p),
                    s.received,
                    s.sent
                ));
                if s.received == 0 {
                    t.problems.push("no ping reply".to_owned());
                }
                t.ping = Some(s);
            }
            Err(e) => {
                say.say(format!("ping {}: failed: {e:#}", arrow(p)));
                t.problems.push(format!("ping: {e:#}"));
            }
        }
        out.push(t);
    }
    say.say(format!(
        "a TCP transfer of {} MiB for every pair, one after another",
        TRANSFER_BYTES >> 20
    ));
    for (p, t) in pairs.iter().zip(&mut out) {
        interrupt.check()?;
        match transfer_pair(world, p) {
            Ok(x) => {
                say.say(format!(
                    "transfer {}: {} MiB in {:.2} s, {:.0} Mbit/s",
                    arrow(p),
                    x.bytes >> 20,
                    x.elapsed.as_secs_f64(),
                    x.mbit_per_s()
                ));
                if x.bytes != TRANSFER_BYTES {
                    t.problems
                        .push(format!("{} of {TRANSFER_BYTES} bytes arrived", x.bytes));
                }
                t.transfer = Some(x);
            }
            Err(e) => {
                say.say(format!("transfer {}: failed: {e:#}", arrow(p)));
                t.problems.push(format!("transfer: {e:#}"));
            }
        }
    }
    Ok(out)
}

fn arrow(p: &PairState) -> String {
    pair_label(p).replace("<->", "->")
}

fn ping_pair(world: &DemoWorld, p: &PairState) -> Result<PingStats> {
    let (from, to) = (&world.nodes[p.a], &world.nodes[p.b]);
    let addr = to
        .ipv4
        .ok_or_else(|| anyhow!("{} has no overlay IPv4 address", MEMBERS[p.b].name))?;
    Ok(ping_stats(&from.ns, addr.into(), PINGS, "0.2")?)
}

fn transfer_pair(world: &DemoWorld, p: &PairState) -> Result<Transfer> {
    let (from, to) = (&world.nodes[p.a], &world.nodes[p.b]);
    let addr = to
        .ipv4
        .ok_or_else(|| anyhow!("{} has no overlay IPv4 address", MEMBERS[p.b].name))?;
    Ok(tcp_transfer(
        &from.ns,
        &to.ns,
        addr.into(),
        TRANSFER_BYTES,
        TRANSFER_TIMEOUT,
    )?)
}
