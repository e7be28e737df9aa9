//! `tessel tile …`: the tile this node hosts. Status, files, publishing
//! and announcing go through the control socket (`tile-…` requests);
//! sending and listening go through the tile socket, like any program.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use tessel_overlay::driver::control;
use tessel_overlay::driver::state_dir::StateDir;
use tessel_overlay::driver::tile::config::{
    parse_public_key, parse_signing_key, public_key_text, signing_key_text,
};
use tessel_overlay::driver::tile::TileOptions;
use tessel_tile_link::channel::Frame;
use tessel_tile_link::file::{signed, FileName};
use tessel_tile_link::physics::{Announcement, Message as PhysicsMessage};
use tessel_tile_link::wire::{tep, Service};
use tessel_tile_link::Dir;

use crate::cli::{StateDirArg, UpArgs};
use crate::tile_socket::TileSocket;

/// `tessel tile …`.
#[derive(Debug, Subcommand)]
pub(crate) enum TileCommand {
    /// Show each direction: its neighbour, present or absent, counters.
    Status(JsonArgs),
    /// List the managed files: timestamp, size, which neighbours have them.
    Files(JsonArgs),
    /// Send DATA to service SVC on the neighbour in DIR.
    Send(SendArgs),
    /// Print what arrives: service SVC's packets, or without SVC the MFM
    /// channel (MFM packets and tile events).
    Listen(ListenArgs),
    /// Publish a signed file from this tile: it spreads to every tile.
    Publish(PublishArgs),
    /// Make a signed file of FILE (the format of docs/tile-link.md §4.1).
    Sign(SignArgs),
    /// Make a new signing key; prints its public key for --tile-trust.
    Keygen(KeygenArgs),
    /// Announce a change of physics: every tile runs this signed file.
    Announce(AnnounceArgs),
}

#[derive(Debug, Args)]
pub(crate) struct JsonArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    state_dir: StateDirArg,
}

#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// The direction (NT, NE, ET, SE, ST, SW, WT, NW, or 0-7).
    dir: Dir,
    /// The service, 1 to 63 (8 and 9 are the daemon's own).
    svc: u8,
    /// The payload, at most 253 bytes.
    data: String,
    /// DATA is hexadecimal.
    #[arg(long)]
    hex: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    state_dir: StateDirArg,
}

#[derive(Debug, Args)]
pub(crate) struct ListenArgs {
    /// The service to bind; without it, open the MFM channel.
    svc: Option<u8>,
    /// Stop after this many packets, events or presence changes.
    #[arg(long)]
    count: Option<u64>,
    /// Print one JSON object per line.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    state_dir: StateDirArg,
}

#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// The signed file.
    file: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    state_dir: StateDirArg,
}

#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// The content to sign.
    file: PathBuf,
    /// The signing key file (from `tessel tile keygen`).
    #[arg(long, value_name = "KEYFILE")]
    key: PathBuf,
    /// The managed file's name (default: FILE's name).
    #[arg(long)]
    name: Option<String>,
    /// The timestamp, milliseconds since the Unix epoch (default: now).
    /// A later timestamp is a newer version.
    #[arg(long)]
    timestamp: Option<u64>,
    /// Where to write the signed file (default: FILE.tsf).
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Where to write the secret key (mode 0600; must not exist).
    keyfile: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AnnounceArgs {
    /// The signed file to run (it must be live on the tiles to run there).
    file: PathBuf,
    /// The signing key file.
    #[arg(long, value_name = "KEYFILE")]
    key: PathBuf,
    /// The announcement's timestamp, milliseconds (default: now).
    #[arg(long)]
    timestamp: Option<u64>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    state_dir: StateDirArg,
}

/// The tile part of `tessel up`, or `None` without `--tile`.
pub(crate) fn options(args: &UpArgs, state_dir: &Path) -> Result<Option<TileOptions>> {
    if args.tile.is_empty() {
        return Ok(None);
    }
    if args.userspace {
        bail!("--tile needs the TUN device: tile links are TCP connections between overlay addresses; drop --userspace");
    }
    let trusted = args
        .tile_trust
        .iter()
        .map(|k| parse_public_key(k).map_err(|e| anyhow!("--tile-trust: {e}")))
        .collect::<Result<Vec<_>>>()?;
    if trusted.is_empty() {
        tracing::warn!("no --tile-trust key: this tile accepts no managed file");
    }
    let secs = args.tile_advert_interval;
    if !(secs.is_finite() && secs > 0.0) {
        bail!("--tile-advert-interval must be a positive number of seconds");
    }
    tessel_overlay::driver::tile::config::check_neighbours(&args.tile)?;
    Ok(Some(TileOptions {
        neighbours: args.tile.clone(),
        files: args
            .tile_files
            .clone()
            .unwrap_or_else(|| state_dir.join("tile-files")),
        trusted,
        run: args.tile_run.clone(),
        advert_interval: Duration::from_secs_f64(secs),
    }))
}

/// Runs a `tessel tile` command.
pub(crate) fn run(cmd: TileCommand) -> Result<()> {
    match cmd {
        TileCommand::Status(a) => status(&a),
        TileCommand::Files(a) => files(&a),
        TileCommand::Send(a) => send(&a),
        TileCommand::Listen(a) => listen(&a),
        TileCommand::Publish(a) => publish(&a),
        TileCommand::Sign(a) => sign(&a),
        TileCommand::Keygen(a) => keygen(&a),
        TileCommand::Announce(a) => announce(&a),
    }
}

fn ask(state_dir: &Path, request: &str) -> Result<Value> {
    let answer = control::request(&StateDir::socket_path_in(state_dir), request).map_err(|_| {
        anyhow!(
            "no tessel node is running with state dir {} (start one with `tessel up --tile …`)",
            state_dir.display()
        )
    })?;
    let v: Value = serde_json::from_str(&answer).context("reading the node's answer")?;
    if let Some(e) = v.get("error").and_then(Value::as_str) {
        bail!("{e}");
    }
    Ok(v)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn status(a: &JsonArgs) -> Result<()> {
    let v = ask(&a.state_dir.state_dir, "tile-status")?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("socket  {}", v["socket"].as_str().unwrap_or("?"));
    println!(
        "files   {} ({} live, {} downloading)",
        v["files_dir"].as_str().unwrap_or("?"),
        v["files"],
        v["downloads"]
    );
    println!(
        "mfm     {}; {} programs on the socket",
        if v["mfm_open"] == json!(true) {
            "open"
        } else {
            "closed"
        },
        v["clients"]
    );
    println!();
    println!("DIR  STATE    ROLE    TX PKTS   RX PKTS   DROPPED  NEIGHBOUR");
    for d in v["directions"].as_array().into_iter().flatten() {
        let c = &d["counters"];
        let dropped: u64 = [
            "rx_malformed",
            "rx_flags_set",
            "rx_tep",
            "rx_unbound",
            "rx_no_mfm",
            "rx_absent",
        ]
        .iter()
        .map(|k| c[*k].as_u64().unwrap_or(0))
        .sum();
        println!(
            "{:<4} {:<8} {:<7} {:<9} {:<9} {:<8} {}",
            d["dir"].as_str().unwrap_or("?"),
            d["state"].as_str().unwrap_or("?"),
            d["role"].as_str().unwrap_or("?"),
            c["tx_packets"].as_u64().unwrap_or(0),
            c["rx_packets"].as_u64().unwrap_or(0),
            dropped,
            d["neighbour"].as_str().unwrap_or("?"),
        );
    }
    Ok(())
}

fn files(a: &JsonArgs) -> Result<()> {
    let v = ask(&a.state_dir.state_dir, "tile-files")?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let list = v["files"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        println!("no managed files");
    }
    for f in list {
        let with: Vec<&str> = f["neighbours"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        println!(
            "{}  timestamp {}  {} bytes  neighbours with it: {}",
            f["name"].as_str().unwrap_or("?"),
            f["timestamp"],
            f["size"],
            if with.is_empty() {
                "none known".to_string()
            } else {
                with.join(" ")
            }
        );
    }
    Ok(())
}

fn publish(a: &PublishArgs) -> Result<()> {
    let path = a
        .file
        .canonicalize()
        .with_context(|| format!("finding {}", a.file.display()))?;
    let v = ask(
        &a.state_dir.state_dir,
        &format!("tile-publish {}", path.display()),
    )?;
    if a.json {
        println!("{v}");
    } else {
        println!("published {} ({} bytes)", path.display(), v["size"]);
    }
    Ok(())
}

fn read_key(path: &Path) -> Result<ed25519_dalek::SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the key file {}", path.display()))?;
    parse_signing_key(&text).map_err(|e| anyhow!("{}: {e}", path.display()))
}

fn sign(a: &SignArgs) -> Result<()> {
    let key = read_key(&a.key)?;
    let content =
        std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let name = match &a.name {
        Some(n) => n.clone(),
        None => a
            .file
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| anyhow!("{} has no usable file name; give --name", a.file.display()))?
            .to_owned(),
    };
    let name = FileName::new(&name).map_err(|e| anyhow!("file name `{name}`: {e}"))?;
    let timestamp = a.timestamp.unwrap_or_else(now_ms);
    let bytes = signed::sign(&key, &name, timestamp, &content);
    let out = a.out.clone().unwrap_or_else(|| {
        let mut p = a.file.clone().into_os_string();
        p.push(".tsf");
        PathBuf::from(p)
    });
    std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    if a.json {
        println!(
            "{}",
            json!({ "out": out.display().to_string(), "name": name.as_str(), "timestamp": timestamp, "size": bytes.len() })
        );
    } else {
        println!(
            "signed {} as {} at {timestamp} into {}",
            a.file.display(),
            name.as_str(),
            out.display()
        );
    }
    Ok(())
}

fn keygen(a: &KeygenArgs) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow!("reading the OS random source: {e}"))?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&a.keyfile)
        .with_context(|| format!("creating {}", a.keyfile.display()))?;
    f.write_all(signing_key_text(&key).as_bytes())?;
    let public = public_key_text(&key.verifying_key());
    if a.json {
        println!(
            "{}",
            json!({ "keyfile": a.keyfile.display().to_string(), "public": public })
        );
    } else {
        println!("{public}");
    }
    Ok(())
}

fn announce(a: &AnnounceArgs) -> Result<()> {
    let key = read_key(&a.key)?;
    let bytes = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let file = signed::Packet::new_checked(&bytes[..])
        .map_err(|e| anyhow!("{} is not a signed file: {e}", a.file.display()))?;
    let ann = Announcement::sign(
        &key,
        file.name(),
        file.version(),
        a.timestamp.unwrap_or_else(now_ms),
    );
    let hex = data_encoding::HEXLOWER.encode(&PhysicsMessage::Announce(ann).to_vec());
    let v = ask(&a.state_dir.state_dir, &format!("tile-announce {hex}"))?;
    if a.json {
        println!("{v}");
    } else {
        println!("announced {}", file.name().as_str());
    }
    Ok(())
}

fn send(a: &SendArgs) -> Result<()> {
    let service = Service::new(a.svc).map_err(|e| anyhow!("service {}: {e}", a.svc))?;
    let payload = if a.hex {
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(a.data.as_bytes())
            .map_err(|e| anyhow!("DATA is not hexadecimal: {e}"))?
    } else {
        a.data.clone().into_bytes()
    };
    let mut sock = TileSocket::connect(&a.state_dir.state_dir)?;
    sock.send(&Frame::Bind { service })?;
    sock.send(&Frame::Service {
        dir: a.dir,
        service,
        payload: &payload,
    })?;
    sock.finish()?;
    // The daemon answers a refused frame before it closes the connection.
    while let Some(bytes) = sock.next()? {
        if let Ok(Some((Frame::Refused { reason, dir }, _))) = Frame::decode(&bytes) {
            bail!("refused ({reason:?}) toward {dir}");
        }
    }
    if a.json {
        println!(
            "{}",
            json!({ "sent": payload.len(), "dir": a.dir.code(), "service": a.svc })
        );
    } else {
        println!(
            "sent {} bytes to service {} toward {}",
            payload.len(),
            a.svc,
            a.dir
        );
    }
    Ok(())
}

fn text_or_hex(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => json!({ "text": s }),
        _ => json!({ "hex": data_encoding::HEXLOWER.encode(bytes) }),
    }
}

/// One received frame as JSON, or `None` for frames not worth a line.
fn describe(frame: &Frame<'_>) -> Option<Value> {
    Some(match *frame {
        Frame::Packet { dir, packet } => {
            let event =
                (packet.first() == Some(&tep::TEP_PKT_TYPE)).then(
                    || match tep::Packet::new_checked(packet).map(|p| p.event()) {
                        Ok(tep::Event::Connect) => "connect",
                        Ok(tep::Event::Disconnect) => "disconnect",
                        _ => "other",
                    },
                );
            match event {
                Some(e) => json!({ "dir": dir.code(), "event": e }),
                None => {
                    json!({ "dir": dir.code(), "packet": data_encoding::HEXLOWER.encode(packet) })
                }
            }
        }
        Frame::Service {
            dir,
            service,
            payload,
        } => {
            let mut v = json!({ "dir": dir.code(), "service": service.number() });
            if let (Some(o), Value::Object(d)) = (v.as_object_mut(), text_or_hex(payload)) {
                o.extend(d);
            }
            v
        }
        Frame::Neighbour { dir, present } => json!({ "dir": dir.code(), "present": present }),
        Frame::Refused { reason, dir } => {
            json!({ "dir": dir.code(), "refused": format!("{reason:?}") })
        }
        _ => return None,
    })
}

fn listen(a: &ListenArgs) -> Result<()> {
    let mut sock = TileSocket::connect(&a.state_dir.state_dir)?;
    match a.svc {
        Some(n) => {
            let service = Service::new(n).map_err(|e| anyhow!("service {n}: {e}"))?;
            sock.send(&Frame::Bind { service })?;
        }
        None => sock.send(&Frame::OpenMfm)?,
    }
    let mut seen = 0u64;
    while let Some(bytes) = sock.next()? {
        let Ok(Some((frame, _))) = Frame::decode(&bytes) else {
            continue;
        };
        let Some(v) = describe(&frame) else {
            continue;
        };
        if let Frame::Refused { .. } = frame {
            bail!("refused: {v}");
        }
        if a.json {
            println!("{v}");
        } else {
            let dir = v["dir"].as_str().unwrap_or("?");
            let what = v
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter(|(k, _)| *k != "dir")
                        .map(|(k, x)| format!("{k}={x}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            println!("{dir}  {what}");
        }
        seen += 1;
        if a.count.is_some_and(|c| seen >= c) {
            break;
        }
    }
    Ok(())
}
