//! `lab-matrix`: the NAT traversal matrix as a repeated measurement.
//!
//! Runs every cell of the matrix (or those whose name contains one of the
//! `--cells` patterns) `--runs` times, each run in a lab of its own: half
//! the runs start B and C at the same moment, half start C a random 0–5 s
//! after B. From the later start, B pings C and C pings B over the overlay
//! every `--interval-ms` until the first reply, while the statuses are
//! polled for a direct path. It prints one `RUN` line per run, and at the
//! end, per cell: the connect rate, p50/p95/p99 of the time to the first
//! packet, the direct rate and p50/p95 of the time to a direct path; cells
//! with a UDP-blocked member (TCP to R) in a section of their own.
//!
//! Runs whose first packet or direct path took longer than `--slow`
//! seconds, or never came, keep the logs of R, B and C under `--logs`.
//! `bench/lab-matrix.sh` builds what it needs and runs it.
//!
//! Needs root (namespaces, nftables, TUN), `nft`, `ping` and `tessel`
//! (`TESSEL_BIN`).

// The namespace harness runs real processes against the wall clock.
#![allow(clippy::disallowed_methods)]

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{mpsc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Context, Result};
use tessel_netns::lab::rng::Rng;
use tessel_netns::matrix::stats::{secs, Summary};
use tessel_netns::matrix::{measure, Expect, MatrixCell, Nodes, RunOutcome, RunPlan, CELLS};

/// The largest start offset of C after B.
const MAX_OFFSET: Duration = Duration::from_secs(5);

/// What the command line asks for.
#[derive(Debug)]
struct Options {
    runs: usize,
    cells: Vec<&'static MatrixCell>,
    jobs: usize,
    timeout: Duration,
    slow: Duration,
    interval: Duration,
    logs: Option<PathBuf>,
    seed: u64,
}

const USAGE: &str = "usage: lab-matrix [--runs N] [--cells PATTERN[,PATTERN..]] [--jobs J] \
[--timeout SECS] [--slow SECS] [--interval-ms MS] [--logs DIR] [--seed N] [--list]";

fn parse_args() -> Result<Option<Options>> {
    let mut o = Options {
        runs: 20,
        cells: CELLS.iter().collect(),
        jobs: 1,
        timeout: Duration::from_secs(60),
        slow: Duration::from_secs(5),
        interval: Duration::from_millis(50),
        logs: None,
        seed: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--list" {
            for c in CELLS {
                println!("{}", c.name);
            }
            return Ok(None);
        }
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            return Ok(None);
        }
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        let num = |v: &str| -> Result<u64> {
            v.parse()
                .with_context(|| format!("{flag}: not a number: {v}"))
        };
        match flag.as_str() {
            "--runs" => o.runs = num(&value)? as usize,
            "--jobs" => o.jobs = num(&value)? as usize,
            "--timeout" => o.timeout = Duration::from_secs(num(&value)?),
            "--slow" => o.slow = Duration::from_secs(num(&value)?),
            "--interval-ms" => o.interval = Duration::from_millis(num(&value)?),
            "--seed" => o.seed = num(&value)?,
            "--logs" => o.logs = Some(PathBuf::from(value)),
            "--cells" => {
                let patterns: Vec<&str> = value.split(',').filter(|p| !p.is_empty()).collect();
                o.cells = CELLS
                    .iter()
                    .filter(|c| patterns.iter().any(|p| c.name.contains(p)))
                    .collect();
                ensure!(!o.cells.is_empty(), "no cell matches {value} (see --list)");
            }
            _ => bail!("unknown option {flag}\n{USAGE}"),
        }
    }
    ensure!(
        o.runs > 0 && o.jobs > 0,
        "--runs and --jobs must be at least 1"
    );
    ensure!(!o.interval.is_zero(), "--interval-ms must be at least 1");
    Ok(Some(o))
}

/// One run to do: the cell, and the run's number (from 0).
#[derive(Debug, Clone, Copy)]
struct Task {
    cell: &'static MatrixCell,
    run: usize,
}

impl Task {
    /// Whether B and C start at the same moment (even runs) or C a random
    /// time after B (odd runs).
    fn together(&self) -> bool {
        self.run.is_multiple_of(2)
    }
}

/// What a worker reports for a task.
struct Report {
    task: Task,
    outcome: Result<RunOutcome>,
    kept_logs: Option<PathBuf>,
}

/// The offset of C's start in a task: none if together, else random in
/// 0–5 s.
fn offset(seed: u64, task: Task, index: usize) -> Duration {
    if task.together() {
        return Duration::ZERO;
    }
    // Neighbouring seeds give neighbouring first draws: mix the index in
    // (splitmix64's finaliser) before seeding.
    let mut z = seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    let mut rng = Rng::new(z ^ (z >> 31));
    MAX_OFFSET.mul_f64(rng.unit())
}

/// Whether a run was slow enough (or failed) to keep its logs.
fn is_slow(cell: &MatrixCell, o: &RunOutcome, slow: Duration) -> bool {
    let late = |t: Option<Duration>| t.is_none_or(|t| t > slow);
    late(o.first_packet()) || (cell.expect == Expect::Direct && late(o.direct))
}

/// Writes the logs and the final statuses (with their drop counters) of
/// R, B and C, and the outcome, under `dir`.
fn keep_logs(dir: &std::path::Path, nodes: Nodes<'_>, o: &RunOutcome) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, node) in nodes {
        std::fs::write(dir.join(format!("{name}.log")), node.log())?;
        let status = node
            .status_json()
            .map_or_else(|e| format!("no status: {e:#}"), |s| format!("{s:#}"));
        std::fs::write(dir.join(format!("{name}.status.json")), status)?;
    }
    std::fs::write(dir.join("outcome.txt"), format!("{o:?}\n"))?;
    Ok(())
}

/// Does one task: measures the run, keeps the logs of a slow one, stops it.
fn run_task(o: &Options, task: Task, index: usize) -> Report {
    let plan = RunPlan {
        offset: offset(o.seed, task, index),
        timeout: o.timeout,
        ping_interval: o.interval,
    };
    let mut kept_logs = None;
    let outcome = measure(task.cell, &plan, |outcome, nodes| {
        if let Some(root) = o
            .logs
            .as_ref()
            .filter(|_| is_slow(task.cell, outcome, o.slow))
        {
            let dir = root.join(format!("{}-run{}", task.cell.name, task.run + 1));
            match keep_logs(&dir, nodes, outcome) {
                Ok(()) => kept_logs = Some(dir),
                Err(e) => eprintln!("could not keep the logs in {}: {e:#}", dir.display()),
            }
        }
    });
    Report {
        task,
        outcome,
        kept_logs,
    }
}

fn print_run(o: &Options, r: &Report) {
    let head = format!("RUN {} {}/{}", r.task.cell.label(), r.task.run + 1, o.runs);
    match &r.outcome {
        Ok(out) => {
            let start = if r.task.together() {
                "together".to_owned()
            } else {
                format!("C +{:.1}s", out.offset.as_secs_f64())
            };
            let logs = r
                .kept_logs
                .as_ref()
                .map(|d| format!(" logs {}", d.display()))
                .unwrap_or_default();
            println!(
                "{head}: {start}; first packet {} s (B->C {}, C->B {}); direct {} s{logs}",
                secs(out.first_packet()),
                secs(out.b_to_c),
                secs(out.c_to_b),
                secs(out.direct),
            );
        }
        Err(e) => println!("{head}: error: {e:#}"),
    }
}

fn print_summary(title: &str, rows: &[(&MatrixCell, Summary, usize)]) {
    if rows.is_empty() {
        return;
    }
    println!("\n{title}");
    println!(
        "{:<46} {:>5} {:>7} {:>6} {:>6} {:>6} {:>7} {:>6} {:>6}",
        "cell (B x C)", "runs", "connect", "p50", "p95", "p99", "direct", "p50", "p95"
    );
    for (cell, s, errors) in rows {
        let direct = match cell.expect {
            Expect::Relayed => "-".to_owned(),
            _ => format!("{}/{}", s.direct, s.runs),
        };
        let errors = if *errors > 0 {
            format!("  ({errors} runs could not be set up)")
        } else {
            String::new()
        };
        println!(
            "{:<46} {:>5} {:>7} {:>6} {:>6} {:>6} {:>7} {:>6} {:>6}{errors}",
            cell.label(),
            s.runs,
            format!("{}/{}", s.connected, s.runs),
            secs(s.first[0]),
            secs(s.first[1]),
            secs(s.first[2]),
            direct,
            secs(s.to_direct[0]),
            secs(s.to_direct[1]),
        );
    }
}

fn main() -> Result<()> {
    let Some(o) = parse_args()? else {
        return Ok(());
    };
    tessel_netns::netns::require_root()?;
    println!(
        "lab-matrix: {} cells x {} runs, {} at a time, timeout {} s, seed {}",
        o.cells.len(),
        o.runs,
        o.jobs,
        o.timeout.as_secs(),
        o.seed
    );
    // Round by round, so that a run cut short still covers every cell.
    let tasks: VecDeque<(usize, Task)> = (0..o.runs)
        .flat_map(|run| o.cells.iter().map(move |&cell| Task { cell, run }))
        .enumerate()
        .collect();
    let queue = Mutex::new(tasks);
    let (tx, rx) = mpsc::channel();
    let mut results: Vec<Vec<RunOutcome>> = vec![Vec::new(); o.cells.len()];
    let mut errors = vec![0usize; o.cells.len()];
    std::thread::scope(|s| {
        for _ in 0..o.jobs {
            let (queue, tx, o) = (&queue, tx.clone(), &o);
            s.spawn(move || loop {
                let next = queue.lock().map(|mut q| q.pop_front()).ok().flatten();
                let Some((index, task)) = next else { break };
                if tx.send(run_task(o, task, index)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for report in rx {
            print_run(&o, &report);
            let i = o
                .cells
                .iter()
                .position(|c| c.name == report.task.cell.name)
                .unwrap_or_default();
            match report.outcome {
                Ok(out) => results[i].push(out),
                Err(_) => errors[i] += 1,
            }
        }
    });
    let rows: Vec<_> = o
        .cells
        .iter()
        .zip(&results)
        .zip(&errors)
        .map(|((c, r), e)| (*c, Summary::of(r), *e))
        .collect();
    let (tcp, udp): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(c, _, _)| c.udp_blocked());
    println!(
        "\ntimes in seconds from the later start; first packet: first ping reply between B and C"
    );
    print_summary("UDP cells", &udp);
    print_summary(
        "UDP-blocked cells (the blocked member reaches R over TCP; relayed by R)",
        &tcp,
    );
    Ok(())
}
