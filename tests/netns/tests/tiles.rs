//! Tiles end to end: a 3×3 grid of `tessel up --tile …` daemons, each in its
//! own namespace on one bridged LAN, every tile linked to its up to eight
//! grid neighbours over the overlay. Checked: a signed file spreads to all
//! nine tiles; a change of physics restarts `--tile-run` on every tile;
//! tampered or untrusted files reach none; a tile killed mid-transfer
//! leaves no partial file live and gets the file after it returns; its
//! neighbours' MFM channels see the disconnect and connect events; the
//! counter daemons hear their neighbours. And two tiles through the CLI.
//!
//! Needs root, `python3` (the example programs in `tile-link/examples/`)
//! and the `tessel` binary (`cargo build -p tessel-overlay --bin tessel`, or
//! set `TESSEL_BIN`).

// The namespace harness runs real processes against the wall clock.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use tessel_netns::netns::is_root;
use tessel_netns::process::{run_bounded, run_ok, Process};
use tessel_netns::services::python3;
use tessel_netns::tessel::{self, DEFAULT_PORT};
use tessel_netns::{wait, Lan, NodeConfig, TempDir, TesselNode};
use tessel_overlay::identity::NodeKey;

const SIDE: usize = 3;
/// Generous bound for anything that should take seconds.
const WAIT: Duration = Duration::from_secs(60);
const CLI: Duration = Duration::from_secs(10);

/// Compass codes in DIR order, with their grid steps (x east, y south).
const DIRS: [(&str, i32, i32); 8] = [
    ("NT", 0, -1),
    ("NE", 1, -1),
    ("ET", 1, 0),
    ("SE", 1, 1),
    ("ST", 0, 1),
    ("SW", -1, 1),
    ("WT", -1, 0),
    ("NW", -1, -1),
];

fn index(x: usize, y: usize) -> usize {
    y * SIDE + x
}

/// The neighbours of `(x, y)` on the grid: (direction code, tile index).
fn neighbours(x: usize, y: usize) -> Vec<(&'static str, usize)> {
    DIRS.iter()
        .filter_map(|&(code, dx, dy)| {
            let nx = usize::try_from(x as i32 + dx).ok()?;
            let ny = usize::try_from(y as i32 + dy).ok()?;
            (nx < SIDE && ny < SIDE).then(|| (code, index(nx, ny)))
        })
        .collect()
}

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// The grid: nine tiles, a trusted signing key and a scratch directory.
struct Grid {
    tiles: Vec<TesselNode>,
    scratch: TempDir,
    key: PathBuf,
    _lan: Lan,
}

impl Grid {
    fn start(seed: u8) -> Result<Self> {
        let scratch = TempDir::new("tiles")?;
        let key = scratch.path().join("signing.key");
        let mut keygen = tessel::command()?;
        keygen.args(["tile", "keygen"]).arg(&key);
        let public = run_ok(keygen, CLI)?.trim().to_owned();
        let network = tessel::new_network_key()?;
        let roles: Vec<String> = (0..SIDE * SIDE).map(|i| format!("t{i}")).collect();
        let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
        let lan = Lan::new(&roles)?;
        let keys: Vec<NodeKey> = (0..SIDE * SIDE)
            .map(|i| NodeKey::from_seed([seed.wrapping_add(i as u8); 32]))
            .collect();
        let first = lan.host(0).v4_endpoint(DEFAULT_PORT);
        // The program a change of physics starts: it notes which file it
        // was started on (the path comes last).
        let run = scratch.path().join("run.sh");
        std::fs::write(&run, "echo \"$2\" > \"$1\"\n")?;
        let mut tiles = Vec::new();
        for y in 0..SIDE {
            for x in 0..SIDE {
                let i = index(x, y);
                let mut args = vec!["--tile-trust".to_owned(), public.clone()];
                args.extend(["--tile-advert-interval".to_owned(), "1".to_owned()]);
                let ran = scratch.path().join(format!("ran-{i}"));
                args.push("--tile-run".to_owned());
                args.push(format!("/bin/sh {} {}", run.display(), ran.display()));
                for (code, j) in neighbours(x, y) {
                    args.push("--tile".to_owned());
                    args.push(format!("{code}={}", keys[j].id()));
                }
                let mut cfg = NodeConfig::new(&network)
                    .node_key(keys[i].to_text().as_str())
                    .port_mapping("off")
                    .extra_args(args);
                if i != 0 {
                    cfg = cfg.peer(first.clone());
                }
                tiles.push(TesselNode::start(
                    &format!("t{x}{y}"),
                    lan.host(i).ns.clone(),
                    cfg,
                )?);
            }
        }
        Ok(Self {
            tiles,
            scratch,
            key,
            _lan: lan,
        })
    }

    fn live(&self, i: usize) -> PathBuf {
        self.tiles[i].state_dir().join("tile-files").join("live")
    }

    fn tmp(&self, i: usize) -> PathBuf {
        self.tiles[i].state_dir().join("tile-files").join("tmp")
    }

    fn socket(&self, i: usize) -> PathBuf {
        self.tiles[i].runtime_dir().join("tile.sock")
    }

    fn tile_status(&self, i: usize) -> Result<serde_json::Value> {
        let out = run_ok(self.tiles[i].cli(&["tile", "status", "--json"]), CLI)?;
        Ok(serde_json::from_str(&out)?)
    }

    /// Waits until every configured direction of every tile is present.
    fn wait_links(&mut self) -> Result<()> {
        for i in 0..self.tiles.len() {
            self.wait_present(i)?;
        }
        Ok(())
    }

    fn wait_present(&mut self, i: usize) -> Result<()> {
        let what = format!("every direction of tile {i} to be present");
        wait::poll(&what, WAIT, || {
            self.tiles[i].ensure_running()?;
            let Ok(v) = self.tile_status(i) else {
                return Ok(None);
            };
            let dirs = v["directions"].as_array().context("no directions")?;
            Ok(dirs.iter().all(|d| d["state"] == "present").then_some(()))
        })
        .with_context(|| self.tiles[i].log())
    }

    /// Signs `content` as `name` with the trusted key (or `key`).
    fn sign(&self, name: &str, content: &[u8], key: Option<&Path>) -> Result<PathBuf> {
        let src = self.scratch.path().join(format!("{name}.content"));
        std::fs::write(&src, content)?;
        let out = self.scratch.path().join(format!("{name}.tsf"));
        let mut cmd = tessel::command()?;
        cmd.args(["tile", "sign"])
            .arg(&src)
            .arg("--key")
            .arg(key.unwrap_or(&self.key))
            .args(["--name", name, "--out"])
            .arg(&out);
        run_ok(cmd, CLI)?;
        Ok(out)
    }

    fn publish(&self, i: usize, file: &Path) -> Result<std::process::Output> {
        let file = file.to_str().context("path")?;
        Ok(run_bounded(
            self.tiles[i].cli(&["tile", "publish", file]),
            CLI,
        )?)
    }

    /// Waits until `name` is live on every tile with exactly `bytes`.
    fn wait_everywhere(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        wait::poll(&format!("{name} on all nine tiles"), WAIT, || {
            for t in &mut self.tiles {
                t.ensure_running()?;
            }
            let all = (0..self.tiles.len())
                .all(|i| std::fs::read(self.live(i).join(name)).is_ok_and(|b| b == bytes));
            Ok(all.then_some(()))
        })
    }

    /// Fails if any live directory holds `name` with other bytes than
    /// `bytes` (a partial or foreign file).
    fn no_partial(&self, name: &str, bytes: &[u8]) -> Result<()> {
        for i in 0..self.tiles.len() {
            if let Ok(b) = std::fs::read(self.live(i).join(name)) {
                ensure!(
                    b == bytes,
                    "tile {i} has {} bytes of {name} live, not the {} signed",
                    b.len(),
                    bytes.len()
                );
            }
        }
        Ok(())
    }

    fn python(&self, i: usize, name: &str, script: &str, args: &[String]) -> Result<Process> {
        let mut cmd = std::process::Command::new(python3()?);
        cmd.arg(repo_file(script)).args(args);
        let logs = self.scratch.subdir("logs")?;
        Ok(Process::spawn(cmd, &format!("{name}-t{i}"), &logs)?)
    }
}

/// Waits until `p` has printed a JSON line satisfying `pred`.
fn wait_line(p: &Process, what: &str, pred: impl Fn(&serde_json::Value) -> bool) -> Result<()> {
    wait::poll(what, WAIT, || {
        Ok(p.stdout()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|v| pred(&v))
            .then_some(()))
    })
    .with_context(|| format!("stdout:\n{}\nstderr:\n{}", p.stdout(), p.stderr()))
}

fn count_lines(p: &Process, pred: impl Fn(&serde_json::Value) -> bool) -> usize {
    p.stdout()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| pred(v))
        .count()
}

/// Pseudo-random bytes that do not compress or repeat.
fn noise(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn grid_of_nine_spreads_files_reports_events_and_counts() -> Result<()> {
    if !is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let mut g = Grid::start(0x40)?;
    let north = index(1, 0);
    let center = index(1, 1);
    let corner = index(0, 0);

    // MFM program on the northern middle tile, counter daemons on the
    // north-western quarter.
    let mfm = g.python(
        north,
        "mfm",
        "tile-link/examples/tile_client.py",
        &["--socket".into(), g.socket(north).display().to_string()],
    )?;
    let mut counters = Vec::new();
    for (i, value) in [(corner, 11), (north, 22), (index(0, 1), 33), (center, 44)] {
        let file = g.scratch.path().join(format!("counter-{i}"));
        std::fs::write(&file, format!("{value}\n"))?;
        let state = g.scratch.path().join(format!("counters-{i}.json"));
        let args = [
            "--socket".to_owned(),
            g.socket(i).display().to_string(),
            "--counter".to_owned(),
            file.display().to_string(),
            "--interval".to_owned(),
            "1".to_owned(),
            "--state".to_owned(),
            state.display().to_string(),
        ];
        counters.push((
            i,
            file,
            state,
            g.python(i, "counter", "tile-link/examples/counter_daemon.py", &args)?,
        ));
    }
    g.wait_links()?;

    // The MFM channel saw its five neighbours connect, the center (ST)
    // among them.
    wait_line(&mfm, "connect TEP from ST", |v| {
        v["dir"] == "ST" && v["event"] == "connect"
    })?;
    wait::poll("five connect TEPs", WAIT, || {
        Ok((count_lines(&mfm, |v| v["event"] == "connect") >= 5).then_some(()))
    })?;

    // A small signed file from a corner reaches all nine.
    let small = noise(20_000, 7);
    let small_tsf = g.sign("physics-a.mfz", &small, None)?;
    let small_bytes = std::fs::read(&small_tsf)?;
    let t0 = Instant::now();
    let out = g.publish(corner, &small_tsf)?;
    ensure!(
        out.status.success(),
        "publish: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    g.wait_everywhere("physics-a.mfz", &small_bytes)?;
    eprintln!(
        "tiles: a {}-byte signed file reached all nine tiles of the 3x3 grid in {:?}",
        small_bytes.len(),
        t0.elapsed()
    );

    // A change of physics announced on another corner starts the program
    // on the new file on every tile.
    let far = index(SIDE - 1, SIDE - 1);
    let key = g.key.display().to_string();
    let announce = g.tiles[far].cli(&[
        "tile",
        "announce",
        small_tsf.to_str().context("path")?,
        "--key",
        &key,
    ]);
    run_ok(announce, CLI)?;
    wait::poll("every tile to run physics-a.mfz", WAIT, || {
        Ok((0..SIDE * SIDE)
            .all(|i| {
                std::fs::read_to_string(g.scratch.path().join(format!("ran-{i}"))).is_ok_and(|p| {
                    p.trim() == g.live(i).join("physics-a.mfz").display().to_string()
                })
            })
            .then_some(()))
    })?;

    // Tampered and wrongly signed files are refused where they are dropped.
    let mut tampered = small_bytes.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let tampered_path = g.scratch.path().join("tampered.tsf");
    std::fs::write(&tampered_path, &tampered)?;
    let out = g.publish(corner, &tampered_path)?;
    ensure!(!out.status.success(), "a tampered file was published");
    let stranger = g.scratch.path().join("stranger.key");
    let mut keygen = tessel::command()?;
    keygen.args(["tile", "keygen"]).arg(&stranger);
    run_ok(keygen, CLI)?;
    let foreign = g.sign("foreign.mfz", b"not from a trusted key", Some(&stranger))?;
    let out = g.publish(corner, &foreign)?;
    ensure!(
        !out.status.success(),
        "a file signed by an untrusted key was published"
    );

    // Counter daemons see their neighbours' values, and changes.
    let center_state = &counters[3].2;
    let read_state = |p: &Path| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()
    };
    wait::poll(
        "the center's counter daemon to hear NW, NT and WT",
        WAIT,
        || {
            Ok(read_state(center_state).and_then(|s| {
                let n = &s["neighbours"];
                (n["NW"] == 11 && n["NT"] == 22 && n["WT"] == 33).then_some(())
            }))
        },
    )?;
    std::fs::write(&counters[0].1, "12\n")?;
    wait::poll("the center to hear the corner's new counter", WAIT, || {
        Ok(read_state(center_state).and_then(|s| (s["neighbours"]["NW"] == 12).then_some(())))
    })?;
    wait::poll("the corner's daemon to hear the center", WAIT, || {
        Ok(read_state(&counters[0].2).and_then(|s| (s["neighbours"]["SE"] == 44).then_some(())))
    })?;

    // A large file; the center dies while it is downloading it.
    let large = noise(3 << 20, 99);
    let large_tsf = g.sign("physics-b.mfz", &large, None)?;
    let large_bytes = std::fs::read(&large_tsf)?;
    let t1 = Instant::now();
    let out = g.publish(corner, &large_tsf)?;
    ensure!(
        out.status.success(),
        "publish: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tmp = g.tmp(center);
    wait::poll(
        "the center to be part-way through the large file",
        WAIT,
        || {
            let partial = std::fs::read_dir(&tmp)?
                .filter_map(|e| e.ok()?.metadata().ok())
                .any(|m| m.len() > 0 && m.len() < large_bytes.len() as u64);
            Ok(partial.then_some(()))
        },
    )?;
    g.tiles[center].kill()?;
    g.no_partial("physics-b.mfz", &large_bytes)?;
    wait_line(&mfm, "disconnect TEP from ST", |v| {
        v["dir"] == "ST" && v["event"] == "disconnect"
    })?;
    g.no_partial("physics-b.mfz", &large_bytes)?;
    // While the center is down, a tampered file appears in its live
    // directory: on restart it fails verification and is never offered.
    let planted = g.sign("physics-c.mfz", b"planted while the tile was down", None)?;
    let mut planted = std::fs::read(planted)?;
    let last = planted.len() - 1;
    planted[last] ^= 0x80;
    std::fs::write(g.live(center).join("physics-c.mfz"), &planted)?;
    g.tiles[center].restart()?;
    wait::poll("a second connect TEP from ST", WAIT, || {
        Ok((count_lines(&mfm, |v| v["dir"] == "ST" && v["event"] == "connect") >= 2).then_some(()))
    })?;
    g.wait_everywhere("physics-b.mfz", &large_bytes)?;
    eprintln!(
        "tiles: a {}-byte signed file reached all nine tiles in {:?}, with the center killed mid-transfer and restarted",
        large_bytes.len(),
        t1.elapsed()
    );
    g.no_partial("physics-b.mfz", &large_bytes)?;

    // The refused and the planted files reached no tile.
    for i in 0..g.tiles.len() {
        ensure!(
            !g.live(i).join("foreign.mfz").exists(),
            "tile {i} holds the file signed by an untrusted key"
        );
        ensure!(
            i == center || !g.live(i).join("physics-c.mfz").exists(),
            "tile {i} holds the tampered file planted on the center"
        );
        let live_small = std::fs::read(g.live(i).join("physics-a.mfz"))?;
        ensure!(
            live_small == small_bytes,
            "tile {i} holds other bytes of physics-a.mfz"
        );
    }
    let files = run_ok(g.tiles[corner].cli(&["tile", "files", "--json"]), CLI)?;
    let files: serde_json::Value = serde_json::from_str(&files)?;
    let listed = files["files"].as_array().context("files")?;
    ensure!(listed.len() == 2, "the corner lists {files}");
    let status = g.tile_status(center)?;
    ensure!(
        status["file_counters"]["bad_local"].as_u64() >= Some(1) && status["files"] == 2,
        "the center did not set the planted file aside: {status}"
    );
    for t in &mut g.tiles {
        t.stop()?;
    }
    drop(counters);
    drop(mfm);
    Ok(())
}

#[test]
fn two_tiles_exchange_service_packets_through_the_cli() -> Result<()> {
    if !is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let network = tessel::new_network_key()?;
    let lan = Lan::new(&["w", "e"])?;
    let kw = NodeKey::from_seed([0x71; 32]);
    let ke = NodeKey::from_seed([0x72; 32]);
    let west = NodeConfig::new(&network)
        .node_key(kw.to_text().as_str())
        .port_mapping("off")
        .extra_args(["--tile".to_owned(), format!("ET={}", ke.id())]);
    let east = NodeConfig::new(&network)
        .node_key(ke.to_text().as_str())
        .port_mapping("off")
        .peer(lan.host(0).v4_endpoint(DEFAULT_PORT))
        .extra_args(["--tile".to_owned(), format!("WT={}", kw.id())]);
    let mut w = TesselNode::start("w", lan.host(0).ns.clone(), west)?;
    let mut e = TesselNode::start("e", lan.host(1).ns.clone(), east)?;
    for n in [&mut w, &mut e] {
        let what = format!("{} to see its neighbour", n.label());
        wait::poll(&what, WAIT, || {
            n.ensure_running()?;
            let out = run_bounded(n.cli(&["tile", "status", "--json"]), CLI)?;
            let v: serde_json::Value = match serde_json::from_slice(&out.stdout) {
                Ok(v) => v,
                Err(_) => return Ok(None),
            };
            Ok((v["directions"][0]["state"] == "present").then_some(()))
        })?;
    }
    let scratch = TempDir::new("tile-cli")?;
    let mut listen = e.cli(&["tile", "listen", "21", "--json", "--count", "2"]);
    listen.current_dir(scratch.path());
    let listener = Process::spawn(listen, "listen", scratch.path())?;
    // The listener got its NEIGHBOUR frame: the service is bound.
    wait_line(&listener, "the listener to bind", |v| v["present"] == true)?;
    run_ok(w.cli(&["tile", "send", "ET", "21", "hello east"]), CLI)?;
    wait_line(&listener, "the packet from the west", |v| {
        v["dir"] == "WT" && v["service"] == 21 && v["text"] == "hello east"
    })?;
    // Toward a direction with no neighbour: refused, not dropped.
    let out = run_bounded(w.cli(&["tile", "send", "NT", "21", "x"]), CLI)?;
    ensure!(
        !out.status.success(),
        "a send toward an absent neighbour succeeded"
    );
    let status = run_ok(w.cli(&["tile", "status", "--json"]), CLI)?;
    let v: serde_json::Value = serde_json::from_str(&status)?;
    ensure!(
        v["directions"][0]["counters"]["tx_packets"].as_u64() >= Some(1),
        "west sent nothing: {v}"
    );
    let out = run_bounded(w.cli(&["tile", "files"]), CLI)?;
    if !out.status.success() {
        bail!(
            "tile files failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    ensure!(
        String::from_utf8_lossy(&out.stdout).contains("no managed files"),
        "tile files printed {out:?}"
    );
    let table = run_ok(w.cli(&["tile", "status"]), CLI)?;
    let row = table
        .lines()
        .find(|l| l.starts_with("ET "))
        .with_context(|| format!("no ET row in\n{table}"))?;
    ensure!(
        row.contains("present") && row.contains(&ke.id().to_string()),
        "ET row: {row}"
    );
    w.stop()?;
    e.stop()?;
    Ok(())
}
