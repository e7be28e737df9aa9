//! How fast a signed file spreads over a simulated 10x10 grid of tiles
//! (and one 20x20 run), and what it costs each tile, for several file
//! sizes, with and without tiles failing and returning.
//!
//! `cargo run -p tessel-tile-link --example grid_propagation`

// A benchmark: it measures wall-clock time.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use tessel_tile_link::file::{signed, FileConfig, FileName};
use tessel_tile_link::sim::{Churn, GridSim};
use tessel_tile_link::{Grid, NodeConfig};

fn main() {
    let key = SigningKey::from_bytes(&[1; 32]);
    let config = NodeConfig {
        files: FileConfig {
            trusted: vec![key.verifying_key()],
            advert_interval: Duration::from_millis(500),
            stall_timeout: Duration::from_secs(2),
            ..FileConfig::default()
        },
        seed: 1,
        ..NodeConfig::default()
    };
    println!("2 ms links, 4 packets/ms per direction, the corner tile publishes");
    println!(
        "{:>6} {:>9} {:>6} {:>10} {:>14} {:>8}",
        "grid", "file B", "fails", "time ms", "bytes/tile", "x file"
    );
    let runs = [1_000usize, 8_000, 32_000, 128_000]
        .into_iter()
        .map(|len| (10u16, len))
        .chain([(20u16, 32_000usize)]);
    for (side, len) in runs {
        for churn in [false, true] {
            let name = FileName::new("physics.mfz").expect("valid name");
            let content: Vec<u8> = (0..len).map(|i| (i * 13) as u8).collect();
            let file = signed::sign(&key, &name, 1, &content);
            let mut sim = GridSim::new(
                Grid::bounded(side, side),
                config.clone(),
                Instant::now(),
                Duration::from_millis(2),
                4,
                false,
            );
            // Up to one tile in twenty down at once, for 0.2 to 1 s each,
            // during the first 3 s.
            let churn = churn.then_some(Churn {
                seed: 9,
                max_down: usize::from(side) * usize::from(side) / 20,
                every: Duration::from_millis(50),
                down_for: (Duration::from_millis(200), Duration::from_millis(1000)),
                until: Duration::from_secs(3),
            });
            let s = sim.spread(0, &name, &file, Duration::from_secs(60), churn);
            println!(
                "{:>6} {:>9} {:>6} {:>10} {:>14.0} {:>8.2}",
                format!("{side}x{side}"),
                s.file_len,
                s.failures,
                s.time.map_or("-".into(), |t| t.as_millis().to_string()),
                s.bytes_per_tile,
                s.bytes_per_tile / s.file_len as f64
            );
        }
    }
}
