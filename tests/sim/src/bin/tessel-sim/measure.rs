//! Driving a long run while measuring it: progress lines, a wall-clock
//! limit, wall and CPU time, and memory per node (all of it, and the part
//! the nodes themselves hold). Shared by `chaos` and `mesh`.

use std::fmt::Display;
use std::time::{Duration, Instant};

use tessel_sim::world::World;
use tessel_sim::SimError;

use super::{alloc, cpu_time};

/// A run that the binary drives a slice at a time.
pub(crate) trait Measured {
    /// What the run reports at its end.
    type Report: Display;

    /// Whether the run is over.
    fn done(&self) -> bool;
    /// Runs `d` more of virtual time.
    fn advance(&mut self, d: Duration);
    /// The world being run.
    fn world(&self) -> &World;
    /// The world, mutably (to drop its nodes when measuring memory).
    fn world_mut(&mut self) -> &mut World;
    /// The numbers of the run so far.
    fn report(&self) -> Self::Report;
    /// The nodes that the memory is shared among.
    fn nodes(report: &Self::Report) -> usize;
    /// What a progress line shows of this kind of run, after the time,
    /// wall time and events.
    fn progress(&self) -> String;
}

/// How a measured run ended.
pub(crate) struct Outcome<M: Measured> {
    /// The run's report (already printed).
    pub(crate) report: M::Report,
    /// Whether the wall-clock limit stopped it before its end.
    pub(crate) stopped_early: bool,
}

/// Builds a run with `make`, drives it to its end (or to `wall_limit`
/// seconds), printing a line every `progress` virtual seconds (0: never),
/// then prints its report and what it cost.
pub(crate) fn drive<M: Measured>(
    make: impl FnOnce() -> Result<M, SimError>,
    wall_limit: Option<u64>,
    progress: u64,
) -> Result<Outcome<M>, SimError> {
    let heap_before = alloc::in_use();
    // How long the run took on the wall clock, for the report.
    #[allow(clippy::disallowed_methods)]
    let wall = Instant::now();
    let cpu_before = cpu_time();
    let mut run = make()?;
    let slice = Duration::from_secs(if progress == 0 { 60 } else { progress });
    let mut stopped_early = false;
    while !run.done() {
        run.advance(slice);
        if progress > 0 {
            let w = run.world();
            eprintln!(
                "  t={:>6.0}s  wall {:>6.1}s  events {:>10}  {}  heap {:>7.1} MiB",
                w.now().as_secs_f64(),
                wall.elapsed().as_secs_f64(),
                w.stats().events,
                run.progress(),
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
    let report = run.report();
    let heap = alloc::in_use().saturating_sub(heap_before);
    let nodes = M::nodes(&report).max(1);
    // Memory in the nodes themselves: what crashing them all frees.
    let w = run.world_mut();
    let hosts: Vec<_> = w.hosts().collect();
    for h in hosts {
        w.crash(h);
    }
    let heap_without_nodes = alloc::in_use().saturating_sub(heap_before);
    println!("{report}");
    let w = run.world();
    let stats = w.stats();
    if stats.windows_ahead > 0 {
        println!(
            "  threads: {} of {} events ran ahead, in {} windows",
            stats.steps_ahead, stats.events, stats.windows_ahead
        );
    }
    println!(
        "  wall: {:.1}s on {} threads (CPU {}) for {:.1} virtual s ({:.0} events/s); heap in use {:.1} MiB = {:.0} KiB per node \
         ({:.0} KiB of it in the nodes themselves); peak {:.1} MiB",
        elapsed.as_secs_f64(),
        w.threads(),
        cpu.map_or("?".to_string(), |c| format!("{:.1}s", c.as_secs_f64())),
        w.now().as_secs_f64(),
        stats.events as f64 / elapsed.as_secs_f64().max(1e-9),
        heap as f64 / 1048576.0,
        heap as f64 / nodes as f64 / 1024.0,
        heap.saturating_sub(heap_without_nodes) as f64 / nodes as f64 / 1024.0,
        alloc::peak() as f64 / 1048576.0
    );
    if stopped_early {
        println!(
            "  STOPPED at the wall-clock limit after {:.1} virtual s: the numbers above cover that much",
            w.now().as_secs_f64()
        );
    }
    Ok(Outcome {
        report,
        stopped_early,
    })
}
