//! The `matrix`, `trial` and `scenario` commands: the NAT matrix and its
//! cells one trial at a time.

use std::process::ExitCode;
use std::time::Instant;

use tessel_sim::matrix::{self, Expect, Group, Scenario, Spot, Start};
use tessel_sim::millis;
use tessel_sim::seed::SeedGuard;

use crate::replay_on_panic;

/// The command that replays one trial of `s`.
fn replay(s: &Scenario, seed: u64, start: Start) -> String {
    let offset = start.offset().as_millis();
    match (s.group, &s.b, &s.c) {
        (Group::Grid, Spot::Side(b), Spot::Side(c)) => format!(
            "cargo run --release -p tessel-sim -- trial --b {b} --c {c} --seed {seed} --offset-ms {offset}"
        ),
        _ => format!(
            "cargo run --release -p tessel-sim -- scenario --name {} --seed {seed} --offset-ms {offset}",
            s.name
        ),
    }
}

/// Runs every cell `trials` times from `seed` and prints the tables.
pub(crate) fn run(trials: u64, seed: u64) -> ExitCode {
    // How long the run took on the wall clock, for the report.
    #[allow(clippy::disallowed_methods)]
    let wall = Instant::now();
    let guard = SeedGuard::for_command(
        seed,
        format!("cargo run --release -p tessel-sim -- matrix --trials {trials} --seed {seed}"),
    );
    replay_on_panic(&guard);
    let cells = matrix::run(trials, seed);
    println!(
        "NAT matrix: R public; B and C behind the NATs named, both with --peer R; R relays for\n\
         them until they find a direct path. {trials} trials per cell (seeds {seed}…): even ones start\n\
         B and C together, odd ones start C 0–5 s after B.\n\n\
         talked = trials where B and C pinged both ways; p50/p95/p99 = seconds until both had a\n\
         session (first packet, any path); direct = trials that ended direct; p50/p95 = seconds\n\
         until both sent straight to each other; after = trials whose idle or fault check held;\n\
         `!` = differs from what the NAT semantics predict.\n"
    );
    print!("{}", matrix::table(&cells));
    let mut surprises = 0;
    for cell in &cells {
        let (b, c) = (&cell.scenario.b, &cell.scenario.c);
        let name = &cell.scenario.name;
        match cell.expected() {
            Expect::NotYet(why) => println!("cannot talk yet: {name}: {why}"),
            Expect::Relayed(why) | Expect::Probably(why) => {
                println!("{name}: {why}")
            }
            Expect::Direct => {}
        }
        if !cell.surprising() {
            continue;
        }
        surprises += 1;
        for (k, t) in cell.trials.iter().enumerate() {
            let start = Start::of_trial(k as u64, t.seed);
            println!(
                "UNEXPECTED: {name} ({b:?} × {c:?}) seed {} offset {:?}: talked at {:?}, direct at {:?}, pings {}, after-check {:?}, reached R {:?}, {} violations; replay: {}",
                t.seed,
                t.offset,
                t.connected_at,
                t.direct_at,
                t.pings,
                t.kept,
                t.reached_rendezvous,
                t.violations,
                replay(&cell.scenario, t.seed, start)
            );
        }
    }
    println!(
        "\n{} cells × {trials} trials in {:.1}s wall",
        cells.len(),
        wall.elapsed().as_secs_f64()
    );
    if surprises == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs one trial of `s` with C started `offset_ms` after B and prints it.
pub(crate) fn trial(s: Scenario, seed: u64, offset_ms: u64) -> ExitCode {
    let start = if offset_ms == 0 {
        Start::Together
    } else {
        Start::Offset(millis(offset_ms))
    };
    let guard = SeedGuard::for_command(seed, replay(&s, seed, start));
    replay_on_panic(&guard);
    let t = s.trial(seed, start);
    println!(
        "{}, seed {seed}, C {offset_ms} ms after B: expected {:?}; talked at {:?}, direct at {:?}, pings both ways {}, after-check {:?}, reached R {:?}, {} violations",
        s.name,
        s.expected,
        t.connected_at,
        t.direct_at,
        t.pings,
        t.kept,
        t.reached_rendezvous,
        t.violations
    );
    ExitCode::SUCCESS
}
