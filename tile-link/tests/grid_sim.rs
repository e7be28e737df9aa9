//! Grids of tiles in the deterministic simulator: files spread, bad files
//! do not, cut transfers never show partially and complete later, and
//! neighbours' comings and goings reach the MFM channels.

// Tests start their virtual clock at any instant.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use common::{config, key, signed_file};
use tessel_tile_link::file::signed;
use tessel_tile_link::file::FileEvent;
use tessel_tile_link::physics::Announcement;
use tessel_tile_link::sim::GridSim;
use tessel_tile_link::{Dir, Grid, NodeEvent, Pos};

const LATENCY: Duration = Duration::from_millis(2);

fn grid3(open_mfm: bool) -> GridSim {
    GridSim::new(
        Grid::bounded(3, 3),
        config(&[1]),
        Instant::now(),
        LATENCY,
        4,
        open_mfm,
    )
}

#[test]
fn a_file_published_at_a_corner_reaches_every_tile() {
    let mut sim = grid3(false);
    let (name, f) = signed_file(1, "physics.mfz", 100, 10_000);
    sim.node_mut(0).unwrap().publish(&f).unwrap();
    let all = sim.run_until(Duration::from_secs(10), |s| s.holders(&name, &f) == 9);
    assert!(
        all,
        "only {} of 9 tiles have the file",
        sim.holders(&name, &f)
    );
    for i in 0..9 {
        assert_eq!(sim.store(i).partial_count(), 0, "tile {i} kept a partial");
    }
    for i in 1..9 {
        let n = sim.node(i).unwrap();
        assert_eq!(n.files().counters().downloaded, 1, "tile {i}");
        assert!(sim
            .events(i)
            .iter()
            .any(|e| matches!(e, NodeEvent::File(FileEvent::Committed { .. }))));
    }
}

#[test]
fn wrongly_signed_or_tampered_files_reach_no_tile() {
    let mut sim = grid3(false);
    // Signed by an untrusted key: refused at publish.
    let (name, wrong) = signed_file(2, "evil.mfz", 100, 3_000);
    assert!(sim.node_mut(0).unwrap().publish(&wrong).is_err());
    // Tampered and planted straight into a corner's live directory: the
    // tile does not load it, so never advertises it.
    let (tname, mut tampered) = signed_file(1, "tampered.mfz", 100, 3_000);
    let n = tampered.len();
    tampered[n - 10] ^= 0x55;
    sim.fail(8);
    sim.plant(8, tname.clone(), tampered.clone());
    sim.revive(8);
    // A rogue corner that trusts key 2 as well accepts the wrongly signed
    // file and serves it; its neighbours fetch it, check it, discard it.
    sim.fail(2);
    sim.set_config(2, config(&[1, 2]));
    sim.revive(2);
    sim.node_mut(2).unwrap().publish(&wrong).unwrap();
    sim.run_until(Duration::from_secs(5), |_| false);
    assert_eq!(sim.holders(&name, &wrong), 1, "only the rogue has it");
    assert_eq!(sim.holders(&tname, &tampered), 1, "only the planted copy");
    assert!(!sim.any_other(&name, &wrong));
    assert_eq!(sim.node(8).unwrap().files().counters().bad_local, 1);
    // The rogue's neighbours (1, 4, 5) rejected it, once each: the version
    // is marked bad and never fetched again.
    for i in [1, 4, 5] {
        let c = sim.node(i).unwrap().files().counters();
        assert_eq!(c.bad_files, 1, "tile {i}");
    }
    for i in [0, 3, 6, 7] {
        let c = sim.node(i).unwrap().files().counters();
        assert_eq!(c.downloaded + c.bad_files, 0, "tile {i}");
    }
    for i in 0..9 {
        assert_eq!(sim.store(i).partial_count(), 0);
    }
}

#[test]
fn a_transfer_cut_midway_never_shows_partially_and_completes_later() {
    let mut sim = grid3(false);
    let (name, f) = signed_file(1, "big.mfz", 7, 40_000);
    sim.node_mut(0).unwrap().publish(&f).unwrap();
    let centre = sim.index(Pos { x: 1, y: 1 });
    // Run until the centre holds part of the file, then take it down.
    let started = sim.run_until(Duration::from_secs(5), |s| {
        s.store(centre).partial_count() == 1 && s.node(centre).unwrap().files().downloads() == 1
    });
    assert!(started);
    for _ in 0..20 {
        sim.step();
    }
    assert!(sim.store(centre).live(&name).is_none());
    sim.fail(centre);
    // The others finish without it; at no step does any live directory
    // hold anything but the whole file.
    let others = sim.run_until(Duration::from_secs(10), |s| {
        assert!(!s.any_other(&name, &f), "a partial file went live");
        s.holders(&name, &f) == 8
    });
    assert!(others);
    assert!(sim.store(centre).live(&name).is_none());
    assert_eq!(
        sim.store(centre).partial_count(),
        1,
        "partial kept while down"
    );
    // Back up: it resumes from its partial file rather than starting over.
    sim.revive(centre);
    let all = sim.run_until(Duration::from_secs(10), |s| {
        assert!(!s.any_other(&name, &f));
        s.holders(&name, &f) == 9
    });
    assert!(all);
    let fetched = sim
        .node(centre)
        .unwrap()
        .files()
        .counters()
        .chunk_bytes_received;
    assert!(
        fetched < f.len() as u64,
        "resumed: fetched {fetched} of {} bytes after returning",
        f.len()
    );
    assert_eq!(sim.store(centre).partial_count(), 0);
}

#[test]
fn connect_and_disconnect_reach_the_neighbours_mfm_channels() {
    let mut sim = grid3(true);
    let centre = sim.index(Pos { x: 1, y: 1 });
    let corner = sim.index(Pos { x: 0, y: 0 });
    // At start every tile saw a connect from each neighbour.
    let connects = |s: &GridSim, i: usize| {
        s.mfm_log(i)
            .iter()
            .filter(|(_, p)| p == &[0xc4, 0x01])
            .count()
    };
    sim.step();
    assert_eq!(connects(&sim, centre), 8);
    assert_eq!(connects(&sim, corner), 3);
    sim.fail(centre);
    sim.step();
    // Each of the eight neighbours got a disconnect TEP from the direction
    // of the centre.
    for pos in Grid::bounded(3, 3).positions() {
        let i = sim.index(pos);
        if i == centre {
            continue;
        }
        let toward = Grid::bounded(3, 3)
            .neighbours(pos)
            .find(|(_, q)| *q == Pos { x: 1, y: 1 })
            .map(|(d, _)| d)
            .unwrap();
        assert_eq!(
            sim.mfm_log(i).last(),
            Some(&(toward, vec![0xc4, 0x02])),
            "tile {pos:?}"
        );
    }
    sim.revive(centre);
    sim.step();
    assert_eq!(
        sim.mfm_log(corner).last(),
        Some(&(Dir::SouthEast, vec![0xc4, 0x01]))
    );
    // MFM packets flow between neighbours with their arrival direction.
    let n = sim.node_mut(corner).unwrap();
    n.tile_mut().send_mfm(Dir::East, &[0xa2, 0x42]).unwrap();
    sim.step();
    sim.step();
    sim.step();
    let east = sim.index(Pos { x: 1, y: 0 });
    assert_eq!(
        sim.mfm_log(east).last(),
        Some(&(Dir::West, vec![0xa6, 0x42]))
    );
}

#[test]
fn physics_changes_once_the_file_is_everywhere() {
    let mut sim = grid3(false);
    let (name, f) = signed_file(1, "p2.mfz", 5, 2_000);
    let version = signed::Packet::new_checked(&f[..]).unwrap().version();
    // Announce first: tiles restart only once they hold the file.
    let a = Announcement::sign(&key(1), name.clone(), version, 1000);
    sim.node_mut(4).unwrap().announce(a.clone()).unwrap();
    sim.node_mut(0).unwrap().publish(&f).unwrap();
    let all = sim.run_until(Duration::from_secs(10), |s| {
        (0..9).all(|i| s.node(i).unwrap().physics().running() == Some(&a.target))
    });
    assert!(all);
    for i in 0..9 {
        let restarts: Vec<_> = sim
            .events(i)
            .iter()
            .filter(|e| matches!(e, NodeEvent::Restart(_)))
            .collect();
        assert_eq!(restarts.len(), 1, "tile {i}");
        assert_eq!(sim.store(i).live(&name), Some(&f[..]));
    }
    // Neighbours learn each other's running version.
    sim.run_until(Duration::from_millis(100), |_| false);
    assert_eq!(
        sim.node(4).unwrap().physics().neighbour_running(Dir::North),
        Some(&a.target)
    );
}

#[test]
fn ten_by_ten_with_tiles_failing_and_returning() {
    use tessel_tile_link::sim::Churn;
    for (len, churn) in [(8_000, false), (8_000, true), (32_000, true)] {
        let mut sim = GridSim::new(
            Grid::bounded(10, 10),
            config(&[1]),
            Instant::now(),
            LATENCY,
            4,
            false,
        );
        let (name, f) = signed_file(1, "physics.mfz", 1, len);
        let churn = churn.then_some(Churn {
            seed: 3,
            max_down: 5,
            every: Duration::from_millis(50),
            down_for: (Duration::from_millis(200), Duration::from_millis(1000)),
            until: Duration::from_secs(3),
        });
        let s = sim.spread(0, &name, &f, Duration::from_secs(60), churn);
        println!(
            "10x10: file {} B, {} failures: all tiles after {:?}, {:.0} B sent per tile ({:.2}x the file)",
            s.file_len,
            s.failures,
            s.time,
            s.bytes_per_tile,
            s.bytes_per_tile / s.file_len as f64
        );
        assert!(s.time.is_some(), "not every tile got the file");
        assert!(!sim.any_other(&name, &f));
        if churn.is_some() {
            assert!(s.failures > 0);
        }
        // Each tile fetches the file about once; gossip and
        // acknowledgements add little.
        assert!(s.bytes_per_tile < 2.0 * s.file_len as f64);
        for i in 0..sim.len() {
            assert_eq!(sim.store(i).partial_count(), 0, "tile {i}");
        }
    }
}
