//! `tessel-sim mesh`: complete connectivity at scale (see
//! [`tessel_sim::mesh`]), with wall time and memory per node measured as
//! for the chaosnet.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use tessel_sim::mesh::{Mesh, MeshConfig, Phase};
use tessel_sim::seed::SeedGuard;

use super::{alloc, cpu_time, replay_on_panic};

/// Runs the scenario and prints its report; fails if a sampled pair did
/// not talk or the data path broke a promise.
pub(crate) fn run(cfg: MeshConfig, wall_limit: Option<u64>, progress: u64) -> ExitCode {
    let command = format!(
        "cargo run --release -p tessel-sim -- mesh --nodes {} --pairs {} --seed {} --settle {}",
        cfg.nodes,
        cfg.pairs,
        cfg.seed,
        cfg.settle.as_secs_f64() / 60.0
    );
    let guard = SeedGuard::for_command(cfg.seed, command.clone());
    replay_on_panic(&guard);
    let heap_before = alloc::in_use();
    let wall = Instant::now();
    let cpu_before = cpu_time();
    let mut mesh = match Mesh::new(cfg) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e} (the NATs do not fit the simulator's address plan)");
            return ExitCode::FAILURE;
        }
    };
    let slice = Duration::from_secs(if progress == 0 { 60 } else { progress });
    let mut stopped_early = false;
    while mesh.phase() != Phase::Done {
        mesh.advance(slice);
        if progress > 0 {
            let w = mesh.world();
            eprintln!(
                "  t={:>6.0}s  wall {:>6.1}s  events {:>10}  sessions {:>8}  app {:>7}/{:<7}  heap {:>7.1} MiB",
                w.now().as_secs_f64(),
                wall.elapsed().as_secs_f64(),
                w.stats().events,
                w.stats().sessions,
                w.ledger().delivered_count(),
                w.ledger().sent_count(),
                alloc::in_use() as f64 / 1048576.0
            );
        }
        if wall_limit.is_some_and(|l| wall.elapsed() > Duration::from_secs(l)) {
            stopped_early = true;
            break;
        }
    }
    let elapsed = wall.elapsed();
    let cpu = cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    let report = mesh.report();
    let heap = alloc::in_use().saturating_sub(heap_before);
    let live = report.nodes.max(1);
    // Memory in the nodes themselves: what crashing them all frees.
    let w = mesh.world_mut();
    let hosts: Vec<_> = w.hosts().collect();
    for h in hosts {
        w.crash(h);
    }
    let heap_without_nodes = alloc::in_use().saturating_sub(heap_before);
    println!("{report}");
    println!(
        "  wall: {:.1}s (CPU {}) for {:.1} virtual s ({:.0} events/s); heap in use {:.1} MiB = {:.0} KiB per node \
         ({:.0} KiB of it in the nodes themselves); peak {:.1} MiB",
        elapsed.as_secs_f64(),
        cpu.map_or("?".to_string(), |c| format!("{:.1}s", c.as_secs_f64())),
        report.end.as_secs_f64(),
        report.events as f64 / elapsed.as_secs_f64().max(1e-9),
        heap as f64 / 1048576.0,
        heap as f64 / live as f64 / 1024.0,
        heap.saturating_sub(heap_without_nodes) as f64 / live as f64 / 1024.0,
        alloc::peak() as f64 / 1048576.0
    );
    if stopped_early {
        println!(
            "  STOPPED at the wall-clock limit after {:.1} virtual s: the numbers above cover that much",
            report.end.as_secs_f64()
        );
        return ExitCode::FAILURE;
    }
    if report.passed() {
        return ExitCode::SUCCESS;
    }
    println!("  replay: {command}");
    if let Some(s) = report.silent.first() {
        println!(
            "  one silent pair's logs: RUST_LOG='[node{{h={}}}]=debug,[node{{h={}}}]=debug' {command}",
            s.a.index(),
            s.b.index()
        );
    }
    ExitCode::FAILURE
}
