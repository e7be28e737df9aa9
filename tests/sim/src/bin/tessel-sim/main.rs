//! `tessel-sim`: the NAT matrix, one matrix trial, and the chaosnet, from
//! the command line.
//!
//! ```text
//! tessel-sim matrix [--trials 20] [--seed 1]
//! tessel-sim trial --b symmetric_random --c restricted_cone --seed 7 [--offset-ms 1200]
//! tessel-sim scenario --name linux_x_linux --seed 7 [--offset-ms 1200]
//! tessel-sim chaos [--nodes 100] [--minutes 10] [--seed 1] [--wall-limit 600] [--threads N]
//! tessel-sim mesh [--nodes 1000] [--pairs 1000] [--seed 1] [--settle 5] [--threads N]
//! ```
//!
//! `RUST_LOG=debug` shows the nodes' logs, each line in a span with the
//! host and the virtual time in ms. The wall clock is read only to report
//! how long a run took.

mod alloc;
mod chaos;
mod matrix;
mod measure;
mod mesh;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tessel_sim::chaos::{Chaos, ChaosConfig};
use tessel_sim::matrix::Side;
use tessel_sim::seed::SeedGuard;

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

#[derive(Parser)]
#[command(
    name = "tessel-sim",
    about = "Deterministic simulations of Tessel networks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every pair of NAT kinds, then the named scenarios, through a
    /// rendezvous node: per cell, the trials that connected and ended direct
    /// and the percentiles of the times.
    Matrix {
        /// Trials per cell (seeds SEED, SEED+1, …; odd trials start C at a
        /// random offset of 0–5 s after B).
        #[arg(long, default_value_t = 20)]
        trials: u64,
        /// First seed.
        #[arg(long, default_value_t = 1, value_parser = parse_seed)]
        seed: u64,
    },
    /// One trial of one matrix cell (for replaying with RUST_LOG=debug).
    Trial {
        /// B's side: public, full_cone, restricted_cone, port_restricted,
        /// symmetric_preserving, symmetric_sequential, symmetric_random,
        /// udp_blocked or cgn.
        #[arg(long)]
        b: Side,
        /// C's side.
        #[arg(long)]
        c: Side,
        /// Seed.
        #[arg(long, value_parser = parse_seed)]
        seed: u64,
        /// Milliseconds between B's start and C's.
        #[arg(long, default_value_t = 0)]
        offset_ms: u64,
    },
    /// One trial of one named scenario of the matrix (see `matrix`).
    Scenario {
        /// The scenario's name.
        #[arg(long)]
        name: String,
        /// Seed.
        #[arg(long, value_parser = parse_seed)]
        seed: u64,
        /// Milliseconds between B's start and C's.
        #[arg(long, default_value_t = 0)]
        offset_ms: u64,
    },
    /// Agents join, leave, crash, roam, talk and cut links; then the
    /// invariants are checked.
    Chaos {
        /// Nodes.
        #[arg(long, default_value_t = 100)]
        nodes: usize,
        /// Virtual minutes of chaos.
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
        /// Seed.
        #[arg(long, default_value_t = 1, value_parser = parse_seed)]
        seed: u64,
        /// Agents do not roam.
        #[arg(long)]
        no_roaming: bool,
        /// Seconds after the stop within which every live pair must talk again.
        #[arg(long, default_value_t = 60)]
        recovery: u64,
        /// Agent actions per node per virtual minute.
        #[arg(long, default_value_t = 0.1)]
        actions: f64,
        /// Share of NATs that are home routers behind one carrier-grade NAT.
        #[arg(long, default_value_t = 0.1)]
        carrier: f64,
        #[command(flatten)]
        run: LongRun,
    },
    /// N nodes behind a random mix of NATs; random pairs talk: whether all
    /// do, how soon, whether directly, and what it costs.
    Mesh {
        /// Nodes.
        #[arg(long, default_value_t = 1000)]
        nodes: usize,
        /// Pairs to sample (all pairs if there are no more).
        #[arg(long, default_value_t = 1000)]
        pairs: usize,
        /// Seed.
        #[arg(long, default_value_t = 1, value_parser = parse_seed)]
        seed: u64,
        /// Virtual minutes from the start (everyone joins in the first) to
        /// the first conversation.
        #[arg(long, default_value_t = 5.0)]
        settle: f64,
        #[command(flatten)]
        run: LongRun,
    },
}

/// How a long run (chaos, mesh) is driven and watched.
#[derive(clap::Args)]
struct LongRun {
    /// Stop (and report what was reached) after this many wall-clock seconds.
    #[arg(long)]
    wall_limit: Option<u64>,
    /// Print progress every this many virtual seconds (0: never).
    #[arg(long, default_value_t = 60)]
    progress: u64,
    /// Threads that run the nodes (default: one per core, or one with
    /// RUST_LOG, so that logs come in order). The run is the same, event for
    /// event, whatever the number.
    #[arg(long)]
    threads: Option<usize>,
}

impl LongRun {
    /// The threads asked for, or the default.
    fn threads(&self) -> usize {
        self.threads.unwrap_or_else(default_threads)
    }
}

/// CPU time this process has used, all threads, user and system (Linux:
/// `/proc/self/stat`, in clock ticks of 10 ms), which unlike wall time does
/// not depend on what else the machine runs.
fn cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces), from field 3.
    let rest = &s[s.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// The default number of threads: one per core, or one when logs are on.
fn default_threads() -> usize {
    if std::env::var_os("RUST_LOG").is_some() {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

fn parse_seed(s: &str) -> Result<u64, tessel_sim::seed::BadSeed> {
    tessel_sim::seed::parse(s)
}

fn main() -> ExitCode {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_timer(tessel_sim::time::LogClock)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .init();
    }
    match Cli::parse().command {
        Command::Matrix { trials, seed } => matrix::run(trials, seed),
        Command::Trial {
            b,
            c,
            seed,
            offset_ms,
        } => matrix::trial(tessel_sim::matrix::Scenario::cell(b, c), seed, offset_ms),
        Command::Scenario {
            name,
            seed,
            offset_ms,
        } => match tessel_sim::matrix::Scenario::by_name(&name) {
            Some(s) => matrix::trial(s, seed, offset_ms),
            None => {
                eprintln!("error: no scenario `{name}`");
                ExitCode::FAILURE
            }
        },
        Command::Chaos {
            nodes,
            minutes,
            seed,
            no_roaming,
            recovery,
            actions,
            carrier,
            run,
        } => {
            let mut cfg = ChaosConfig::new(nodes, minutes, seed);
            cfg.threads = run.threads();
            cfg.roaming = !no_roaming;
            cfg.recovery_bound = Duration::from_secs(recovery);
            cfg.actions_per_node_minute = actions;
            cfg.carrier_fraction = carrier;
            run_chaos(cfg, run.wall_limit, run.progress)
        }
        Command::Mesh {
            nodes,
            pairs,
            seed,
            settle,
            run,
        } => {
            let mut cfg = tessel_sim::mesh::MeshConfig::new(nodes, pairs, seed);
            cfg.settle = Duration::from_secs_f64(settle * 60.0);
            mesh::run(cfg, run.threads(), run.wall_limit, run.progress)
        }
    }
}

/// Prints the replay command if anything panics.
pub(crate) fn replay_on_panic(guard: &SeedGuard) {
    let msg = guard.to_string();
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        eprintln!("\n*** simulation panicked: {msg}\n");
    }));
}

fn run_chaos(cfg: ChaosConfig, wall_limit: Option<u64>, progress: u64) -> ExitCode {
    let guard = SeedGuard::for_command(
        cfg.seed,
        format!(
            "cargo run --release -p tessel-sim -- chaos --nodes {} --minutes {} --seed {}{} --recovery {} --actions {} --carrier {}",
            cfg.nodes,
            cfg.chaos.as_secs_f64() / 60.0,
            cfg.seed,
            if cfg.roaming { "" } else { " --no-roaming" },
            cfg.recovery_bound.as_secs(),
            cfg.actions_per_node_minute,
            cfg.carrier_fraction
        ),
    );
    replay_on_panic(&guard);
    let outcome = match measure::drive(|| Chaos::new(cfg), wall_limit, progress) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = outcome.report;
    if outcome.stopped_early {
        return ExitCode::FAILURE;
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        println!("  replay: {}", guard.replay());
        ExitCode::FAILURE
    }
}
