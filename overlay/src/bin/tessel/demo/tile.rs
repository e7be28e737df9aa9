//! A tile file update across the network: three members behind three NATs
//! run as tiles in a row, west to east ([`ROW`]). Their node keys are made
//! before the nodes start (`tessel up` takes the key it finds in its state
//! dir), so that each can be given its neighbours' node IDs with `--tile`,
//! and all trust a signing key the demo makes (`--tile-trust`). After the
//! traffic, the demo signs a small file, publishes it on the western tile
//! and follows it, through `tile_files` of the others, until it is live
//! and verified on each, one hop and then two (README, "Tiles";
//! docs/tile-link.md §4).

use std::path::PathBuf;
use std::time::{Duration, Instant};
use tessel_overlay::driver::clock;

use anyhow::{anyhow, Context, Result};
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use tessel_overlay::driver::control::answers::{
    TileFile, TileFilesAnswer, TilePublishAnswer, TileStatusAnswer,
};
use tessel_overlay::driver::control::client::call_as;
use tessel_overlay::driver::control::Request;
use tessel_overlay::driver::runtime_dir::control_socket;
use tessel_overlay::driver::state_dir::StateDir;
use tessel_overlay::driver::tile::config::public_key_text;
use tessel_overlay::identity::NodeId;
use tessel_tile_link::file::{signed, FileName};

use super::narrate::Narrator;
use super::overlay_path;
use super::signals::Interrupt;
use super::state;
use super::watch::PairState;
use super::world::DemoWorld;

/// The tiles, west to east: each one's eastern neighbour is the next.
pub(crate) const ROW: [&str; 3] = ["portres", "symseq", "symrand"];

/// The managed file the western tile publishes.
pub(crate) const FILE_NAME: &str = "demo-greeting.txt";

/// How long the tile links get to come up, counted from when the demo
/// starts waiting for them (after the traffic, they normally are).
const LINKS_DEADLINE: Duration = Duration::from_secs(15);

/// How long the file gets to reach every tile.
const ARRIVAL_DEADLINE: Duration = Duration::from_secs(10);

/// How often the tiles are asked for their links and files.
const POLL_EVERY: Duration = Duration::from_millis(10);

/// The tiles' node IDs and the key they trust, made before the nodes start.
#[derive(Debug)]
pub(crate) struct TileSetup {
    ids: Vec<NodeId>,
    key: SigningKey,
}

impl TileSetup {
    /// Makes the node key of every tile in its state dir (where `tessel
    /// up` finds it) and a new signing key.
    pub(crate) fn prepare() -> Result<Self> {
        let ids = ROW
            .iter()
            .map(|name| {
                let dir = state_dir(name);
                let key = StateDir::open(&dir)
                    .and_then(|s| s.node_key())
                    .with_context(|| format!("making the node key in {}", dir.display()))?;
                Ok(key.id())
            })
            .collect::<Result<Vec<_>>>()?;
        let mut seed = [0u8; 32];
        clock::fill_random(&mut seed).map_err(|e| anyhow!("reading the OS random source: {e}"))?;
        Ok(Self {
            ids,
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// One line for the story: who runs as a tile, and how they know
    /// each other.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} also run as tiles in a row, west to east (--tile with the neighbours' node \
             IDs, from node keys this demo made in their state dirs; --tile-trust a signing \
             key it made)",
            ROW.join(", ")
        )
    }

    /// The `tessel up` flags that make member `name` a tile (none if it is
    /// not one of [`ROW`]).
    pub(crate) fn up_args(&self, name: &str) -> Vec<String> {
        let Some(i) = ROW.iter().position(|&t| t == name) else {
            return Vec::new();
        };
        let mut args = Vec::new();
        if i > 0 {
            args.extend(["--tile".to_owned(), format!("WT={}", self.ids[i - 1])]);
        }
        if let Some(east) = self.ids.get(i + 1) {
            args.extend(["--tile".to_owned(), format!("ET={east}")]);
        }
        args.extend([
            "--tile-trust".to_owned(),
            public_key_text(&self.key.verifying_key()),
        ]);
        args
    }
}

fn state_dir(name: &str) -> PathBuf {
    state::node_dir(name).join("state")
}

fn control_of(name: &str) -> PathBuf {
    control_socket(&state::node_dir(name).join("run"))
}

/// The file as one tile has it live.
#[derive(Debug, Clone)]
pub(crate) struct Arrival {
    /// The tile.
    pub(crate) tile: &'static str,
    /// Tile links between the publisher and it.
    pub(crate) hops: usize,
    /// How the overlay carries the link it came in on.
    pub(crate) link: String,
    /// From publishing to live here; `None` if it never arrived.
    pub(crate) elapsed: Option<Duration>,
    /// The version live here, as `tile_files` says.
    pub(crate) file: Option<TileFile>,
    /// Whether the live file's bytes are those published.
    pub(crate) bytes_match: bool,
}

/// What the tile update showed.
#[derive(Debug, Clone, Default)]
pub(crate) struct TileUpdate {
    /// The version's timestamp (ms since the Unix epoch).
    pub(crate) timestamp: u64,
    /// The version's hash, in hex.
    pub(crate) hash: String,
    /// Bytes of the signed file.
    pub(crate) size: usize,
    /// Every tile but the publisher, west to east.
    pub(crate) arrivals: Vec<Arrival>,
    /// What failed.
    pub(crate) problems: Vec<String>,
}

impl TileUpdate {
    /// True if the file is live, whole and of the published version on
    /// every tile.
    pub(crate) fn ok(&self) -> bool {
        self.problems.is_empty()
            && !self.arrivals.is_empty()
            && self.arrivals.iter().all(|a| a.elapsed.is_some())
    }

    /// One line for under the table.
    pub(crate) fn summary(&self) -> String {
        let reached: Vec<String> = self
            .arrivals
            .iter()
            .map(|a| match a.elapsed {
                Some(t) => format!("{} after {}", a.tile, millis(t)),
                None => format!("not {}", a.tile),
            })
            .collect();
        let tail = if self.problems.is_empty() {
            String::new()
        } else {
            format!("; {}", self.problems.join("; "))
        };
        format!(
            "tile update: {FILE_NAME} published on {}, live and verified on {}{tail}",
            ROW[0],
            reached.join(", ")
        )
    }

    /// The JSON of `--json`.
    pub(crate) fn to_json(&self) -> Value {
        let arrivals: Vec<Value> = self
            .arrivals
            .iter()
            .map(|a| {
                json!({
                    "tile": a.tile,
                    "hops": a.hops,
                    "link": a.link,
                    "ms": a.elapsed.map(|t| t.as_secs_f64() * 1000.0),
                    "timestamp": a.file.as_ref().map(|f| f.timestamp),
                    "hash": a.file.as_ref().map(|f| f.hash.clone()),
                    "size": a.file.as_ref().map(|f| f.size),
                    "bytes_match": a.bytes_match,
                })
            })
            .collect();
        json!({
            "file": FILE_NAME,
            "tiles": ROW,
            "publisher": ROW[0],
            "timestamp": self.timestamp,
            "hash": self.hash,
            "size": self.size,
            "arrivals": arrivals,
            "ok": self.ok(),
            "problems": self.problems,
        })
    }
}

/// Waits for the tile links, publishes a signed file on the western tile
/// and narrates it reaching the others. Fails only when interrupted: what
/// goes wrong is in the result's `problems`.
pub(crate) fn run(
    world: &DemoWorld,
    pairs: &[PairState],
    say: &Narrator,
    interrupt: &Interrupt,
) -> Result<TileUpdate> {
    let mut out = TileUpdate::default();
    match links_up(interrupt) {
        Ok(()) => say.say(format!(
            "tiles {}, a row west to east: every tile link is up (TCP between overlay \
             addresses, one per neighbour)",
            ROW.join(" | ")
        )),
        Err(e) if interrupt.raised() => return Err(e),
        Err(e) => {
            say.say(format!("tiles: {e:#}"));
            out.problems.push(format!("{e:#}"));
            return Ok(out);
        }
    }
    let (bytes, path) = match sign(&world.tiles, &mut out) {
        Ok(signed) => signed,
        Err(e) => {
            out.problems.push(format!("signing {FILE_NAME}: {e:#}"));
            return Ok(out);
        }
    };
    let published = clock::now();
    let publish = Request::TilePublish {
        path: path.display().to_string(),
    };
    if let Err(e) = call_as::<TilePublishAnswer>(&control_of(ROW[0]), &publish) {
        say.say(format!("tile update: publishing on {} failed: {e}", ROW[0]));
        out.problems.push(format!("publishing on {}: {e}", ROW[0]));
        return Ok(out);
    }
    say.say(format!(
        "{} publishes {FILE_NAME} on its tile ({} bytes, version {} {}), signed with a key \
         this demo made and every tile trusts",
        ROW[0],
        out.size,
        out.timestamp,
        short(&out.hash)
    ));
    out.arrivals = ROW
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, &tile)| Arrival {
            tile,
            hops: i,
            link: overlay_path::between(world, pairs, ROW[i - 1], tile),
            elapsed: None,
            file: None,
            bytes_match: false,
        })
        .collect();
    follow(&mut out, &bytes, published, say, interrupt)?;
    Ok(out)
}

/// Waits until every tile's directions are all present.
fn links_up(interrupt: &Interrupt) -> Result<()> {
    let deadline = clock::now() + LINKS_DEADLINE;
    loop {
        interrupt.check()?;
        let absent: Vec<String> = ROW
            .iter()
            .filter(|&&t| !all_present(t))
            .map(|t| (*t).to_owned())
            .collect();
        if absent.is_empty() {
            return Ok(());
        }
        if clock::now() >= deadline {
            return Err(anyhow!(
                "the tile links of {} were not all up after {LINKS_DEADLINE:?}",
                absent.join(", ")
            ));
        }
        interrupt.sleep(POLL_EVERY * 10)?;
    }
}

fn all_present(tile: &str) -> bool {
    call_as::<TileStatusAnswer>(&control_of(tile), &Request::TileStatus).is_ok_and(|s| {
        !s.directions.is_empty() && s.directions.iter().all(|d| d.state == "present")
    })
}

/// Signs the file with the demo's key into the publisher's directory;
/// notes its version in `out`.
fn sign(setup: &TileSetup, out: &mut TileUpdate) -> Result<(Vec<u8>, PathBuf)> {
    let name = FileName::new(FILE_NAME).map_err(|e| anyhow!("{e}"))?;
    let timestamp = clock::system_now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let content = format!(
        "Hello, tiles: {} published this on its tile; it went from neighbour to neighbour.\n",
        ROW[0]
    );
    let bytes = signed::sign(&setup.key, &name, timestamp, content.as_bytes());
    let version = signed::Packet::new_checked(&bytes[..])
        .map_err(|e| anyhow!("{e}"))?
        .version();
    out.timestamp = version.timestamp;
    out.hash = data_encoding::HEXLOWER.encode(&version.hash);
    out.size = bytes.len();
    let path = state::node_dir(ROW[0]).join(format!("{FILE_NAME}.tsf"));
    std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok((bytes, path))
}

/// Polls the tiles' files until the published version is live on each or
/// [`ARRIVAL_DEADLINE`] passes, narrating each arrival.
fn follow(
    out: &mut TileUpdate,
    bytes: &[u8],
    published: Instant,
    say: &Narrator,
    interrupt: &Interrupt,
) -> Result<()> {
    let deadline = published + ARRIVAL_DEADLINE;
    loop {
        interrupt.check()?;
        for a in out.arrivals.iter_mut().filter(|a| a.elapsed.is_none()) {
            let Some(file) = live_version(a.tile) else {
                continue;
            };
            if file.hash != out.hash || file.timestamp != out.timestamp {
                continue;
            }
            a.elapsed = Some(published.elapsed());
            let live = state_dir(a.tile)
                .join("tile-files")
                .join("live")
                .join(FILE_NAME);
            a.bytes_match = std::fs::read(&live).is_ok_and(|b| b == bytes);
            a.file = Some(file);
            let hops = if a.hops == 1 { "hop" } else { "hops" };
            say.say(format!(
                "{FILE_NAME} is live and verified on {}, {} after it was published: {} {hops}, \
                 the last over the tile link from {}, which the overlay carries {}",
                a.tile,
                millis(a.elapsed.unwrap_or_default()),
                a.hops,
                ROW[a.hops - 1],
                a.link
            ));
            if !a.bytes_match {
                out.problems.push(format!(
                    "the live file on {} differs from the one published",
                    a.tile
                ));
            }
        }
        if out.arrivals.iter().all(|a| a.elapsed.is_some()) {
            return Ok(());
        }
        if clock::now() >= deadline {
            let missing: Vec<&str> = out
                .arrivals
                .iter()
                .filter(|a| a.elapsed.is_none())
                .map(|a| a.tile)
                .collect();
            let text = format!(
                "{FILE_NAME} did not reach {} within {ARRIVAL_DEADLINE:?}",
                missing.join(", ")
            );
            say.say(format!("tile update: {text}"));
            out.problems.push(text);
            return Ok(());
        }
        interrupt.sleep(POLL_EVERY)?;
    }
}

/// The demo's file as `tile` lists it live, if it does.
fn live_version(tile: &str) -> Option<TileFile> {
    call_as::<TileFilesAnswer>(&control_of(tile), &Request::TileFiles)
        .ok()?
        .files
        .into_iter()
        .find(|f| f.name == FILE_NAME)
}

fn millis(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// A hash shortened for the story.
fn short(hex: &str) -> String {
    hex.get(..12)
        .map_or_else(|| hex.to_owned(), |h| format!("{h}…"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessel_overlay::driver::tile::Neighbour;
    use tessel_overlay::identity::NodeKey;

    #[test]
    fn a_row_links_each_tile_to_the_next() {
        let ids: Vec<NodeId> = (0..3u8).map(|i| NodeKey::from_seed([i; 32]).id()).collect();
        let key = SigningKey::from_bytes(&[9; 32]);
        let trust = public_key_text(&key.verifying_key());
        let setup = TileSetup {
            ids: ids.clone(),
            key,
        };
        let flags = |name| {
            let args = setup.up_args(name);
            let tiles: Vec<String> = args
                .chunks(2)
                .filter(|f| f[0] == "--tile")
                .map(|f| f[1].clone())
                .collect();
            assert!(args.ends_with(&["--tile-trust".to_owned(), trust.clone()]));
            for t in &tiles {
                t.parse::<Neighbour>()
                    .expect("a --tile value tessel up takes");
            }
            tiles
        };
        assert_eq!(flags(ROW[0]), [format!("ET={}", ids[1])]);
        assert_eq!(
            flags(ROW[1]),
            [format!("WT={}", ids[0]), format!("ET={}", ids[2])]
        );
        assert_eq!(flags(ROW[2]), [format!("WT={}", ids[1])]);
        assert!(setup.up_args("public").is_empty(), "not a tile");
    }
}
