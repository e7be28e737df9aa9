//! `tessel-sim mesh`: complete connectivity at scale (see
//! [`tessel_sim::mesh`]), with wall time and memory per node measured as
//! for the chaosnet.

use std::process::ExitCode;
use std::time::Duration;

use tessel_sim::mesh::{Mesh, MeshConfig, MeshReport, Phase};
use tessel_sim::seed::SeedGuard;
use tessel_sim::world::World;

use super::measure::{self, Measured};
use super::replay_on_panic;

/// Runs the scenario and prints its report; fails if a sampled pair did
/// not talk or the data path broke a promise.
pub(crate) fn run(
    cfg: MeshConfig,
    threads: usize,
    wall_limit: Option<u64>,
    progress: u64,
) -> ExitCode {
    let command = format!(
        "cargo run --release -p tessel-sim -- mesh --nodes {} --pairs {} --seed {} --settle {}",
        cfg.nodes,
        cfg.pairs,
        cfg.seed,
        cfg.settle.as_secs_f64() / 60.0
    );
    let guard = SeedGuard::for_command(cfg.seed, command.clone());
    replay_on_panic(&guard);
    let make = || {
        let mut mesh = Mesh::new(cfg)?;
        mesh.world_mut().set_threads(threads);
        Ok(mesh)
    };
    let outcome = match measure::drive(make, wall_limit, progress) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e} (the NATs do not fit the simulator's address plan)");
            return ExitCode::FAILURE;
        }
    };
    let report = outcome.report;
    if outcome.stopped_early {
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

impl Measured for Mesh {
    type Report = MeshReport;

    fn done(&self) -> bool {
        self.phase() == Phase::Done
    }

    fn advance(&mut self, d: Duration) {
        Mesh::advance(self, d);
    }

    fn world(&self) -> &World {
        Mesh::world(self)
    }

    fn world_mut(&mut self) -> &mut World {
        Mesh::world_mut(self)
    }

    fn report(&self) -> MeshReport {
        Mesh::report(self)
    }

    fn nodes(report: &MeshReport) -> usize {
        report.nodes
    }

    fn progress(&self) -> String {
        let w = self.world();
        format!(
            "sessions {:>8}  app {:>7}/{:<7}",
            w.stats().sessions,
            w.ledger().delivered_count(),
            w.ledger().sent_count()
        )
    }
}
