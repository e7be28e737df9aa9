//! `tessel demo`: an emulated internet on one machine, narrated.
//!
//! As root, with nothing else set up, it builds network namespaces joined
//! into an internet with the lab (`tessel-lab`): a public member and
//! members behind real kernel NATs of several kinds (full cone with two
//! hosts behind it, port-restricted, symmetric sequential, symmetric
//! random, and a firewall that drops UDP). It starts `tessel up`
//! in each (this very binary), narrates the members finding each other and
//! each pair's path, relayed first, then direct after hole punching or
//! relayed for good, and why; then pings and a short TCP transfer between
//! every pair, an engine call and a tile file update across the network,
//! and a table of it all. The end of the run, an error or
//! Ctrl-C removes every namespace, interface and process it made; `--keep`
//! leaves them running until `tessel demo --down`. `--map` serves a live
//! map of the network while it runs ([`map`]).
//!
//! * [`plan`]: the members, their NATs, the path each pair should end on;
//! * [`world`]: building and taking down the internet and its nodes
//!   ([`node`]); [`state`]: the state file and the lock;
//! * [`status`]: the one place a node's state is read;
//! * [`watch`] and [`pairs`]: following and narrating the paths
//!   ([`narrate`]); [`traffic`]: pings and transfers; [`engine`]: an
//!   engine call by name ([`engine_socket`]); [`tile`]: a tile file update
//!   ([`overlay_path`] names the paths they ride on); [`table`]: the result;
//! * [`map`]: the live map (`--map`);
//! * [`down`]: `--down`; [`preflight`]: root and tools; [`signals`]: Ctrl-C.

mod down;
mod engine;
mod engine_socket;
mod map;
mod narrate;
mod node;
mod overlay_path;
mod pairs;
mod plan;
mod preflight;
mod signals;
mod state;
mod status;
mod table;
mod tile;
mod traffic;
mod watch;
mod world;

use std::net::SocketAddr;

use anyhow::{bail, Context, Result};
use clap::Args;

use map::{DemoMap, Keyboard};
use narrate::Narrator;
use pairs::PairPath;
use plan::{MEMBERS, PREFIX};
use signals::Interrupt;
use table::Row;
use watch::Watch;
use world::DemoWorld;

/// `tessel demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Leave the emulated internet running at the end, to explore it
    /// (`ip netns exec tdemo-… bash`); `tessel demo --down` removes it.
    #[arg(long, conflicts_with = "down")]
    pub(crate) keep: bool,
    /// Remove a demo left running with --keep.
    #[arg(long)]
    pub(crate) down: bool,
    /// Print the final table as JSON on stdout (the story goes to stderr).
    #[arg(long, conflicts_with = "down")]
    pub(crate) json: bool,
    /// Serve a live map of the emulated network at http://ADDR:PORT/
    /// (default 127.0.0.1:9746): the nodes start once the page is open (or
    /// on Enter), and at the end the map stays up until Enter or Ctrl-C.
    #[arg(
        long,
        value_name = "ADDR:PORT",
        num_args = 0..=1,
        default_missing_value = tessel_overlay::driver::map::DEFAULT_ADDR,
        conflicts_with = "down"
    )]
    pub(crate) map: Option<SocketAddr>,
}

/// Runs `tessel demo` as `args` say.
pub(crate) fn run(args: &DemoArgs) -> Result<()> {
    if args.down {
        return down::run();
    }
    preflight::require_root("tessel demo")?;
    preflight::require_tools()?;
    let interrupt = Interrupt::install()?;
    let _lock = state::lock()?;
    let mut say = Narrator::new(args.json);
    down::clear_leftovers(&say)?;
    let exe = std::env::current_exe().context("locating the tessel binary")?;
    let map = match args.map {
        Some(addr) => {
            let (story, told) = std::sync::mpsc::channel();
            say.tell(story);
            Some((DemoMap::start(addr, &exe, told)?, Keyboard::start()))
        }
        None => None,
    };
    if let Some((map, keys)) = &map {
        map.wait_for_page(&say, keys, &interrupt)?;
    }
    let mut world = match DemoWorld::build(&exe, args.keep, &say, &interrupt) {
        Ok(w) => w,
        Err(e) => {
            let why = if interrupt.raised() {
                "interrupted"
            } else {
                "failed"
            };
            say.say(format!("{why}: removed what was built"));
            return Err(e);
        }
    };
    if let Some((map, _)) = &map {
        world.publish_to(map.views());
    }
    let shown = show(&world, &say, &interrupt, args.json);
    if let (Ok(_), Some((map, keys))) = (&shown, &map) {
        map.wait_at_end(&say, keys, &interrupt, args.keep);
    }
    drop(map);
    match (&shown, args.keep) {
        (Ok(_), true) => {
            world.keep()?;
            explain_keep(&world, &say);
            return finish(shown);
        }
        (Err(_), _) if interrupt.raised() => {
            say.say("interrupted: stopping the nodes and removing the namespaces");
        }
        (Err(e), _) => say.say(format!(
            "failed ({e:#}): stopping the nodes and removing the namespaces"
        )),
        (Ok(_), false) => say.say("stopping the nodes and removing the namespaces"),
    }
    drop(world);
    say.say(format!(
        "done: no {PREFIX}* namespace, demo process or demo file is left"
    ));
    finish(shown)
}

/// Fails if some pair did not connect or its traffic failed, or the
/// engine call or the tile update failed.
fn finish(shown: Result<(Vec<Row>, Vec<String>)>) -> Result<()> {
    let (rows, mut failed) = shown?;
    failed.splice(
        0..0,
        rows.iter()
            .filter(|r| !r.ok())
            .map(|r| watch::pair_label(&r.pair)),
    );
    if !failed.is_empty() {
        bail!("some parts did not work: {}", failed.join(", "));
    }
    Ok(())
}

/// Watches the paths, runs the traffic, the engine call and the tile
/// update, and prints the table; returns the rows and what else failed.
fn show(
    world: &DemoWorld,
    say: &Narrator,
    interrupt: &Interrupt,
    json: bool,
) -> Result<(Vec<Row>, Vec<String>)> {
    let mut watch = Watch::new();
    watch.run(world, say, interrupt)?;
    let traffic = traffic::run(world, &watch.pairs, say, interrupt)?;
    let engine = engine::run(world, &watch.pairs, say, interrupt)?;
    let tile = tile::run(world, &watch.pairs, say, interrupt)?;
    // The paths as they are now, after the traffic.
    let views = watch::poll(world);
    watch.update(world, &views, say);
    let rows: Vec<Row> = watch
        .pairs
        .iter()
        .cloned()
        .zip(traffic)
        .map(|(pair, traffic)| {
            let via = match &pair.track.path {
                PairPath::Relayed(id) => Some(watch::name_of(world, id)),
                _ => None,
            };
            Row { pair, via, traffic }
        })
        .collect();
    say.print("");
    say.print(&format!(
        "{} members, {} pairs; times are seconds after the nodes started",
        MEMBERS.len(),
        rows.len()
    ));
    say.print(&table::render(&rows));
    say.print(&engine.summary());
    say.print(&tile.summary());
    say.print("");
    if json {
        let mut v = table::to_json(&rows);
        v["engine_call"] = engine.to_json();
        v["tile_update"] = tile.to_json();
        println!("{v}");
    }
    let failed = [
        (!engine.ok()).then_some("the engine call"),
        (!tile.ok()).then_some("the tile update"),
    ];
    Ok((
        rows,
        failed.into_iter().flatten().map(str::to_owned).collect(),
    ))
}

/// How to explore a kept demo.
fn explain_keep(world: &DemoWorld, say: &Narrator) {
    let exe =
        std::env::current_exe().map_or_else(|_| "tessel".to_owned(), |p| p.display().to_string());
    let ip = |name: &str| {
        world
            .node(name)
            .and_then(|n| n.ipv4)
            .map_or_else(|| "?".to_owned(), |a| a.to_string())
    };
    let dir = state::node_dir("portres");
    let dirs = format!(
        "--state-dir {} --runtime-dir {}",
        dir.join("state").display(),
        dir.join("run").display()
    );
    let sites: Vec<String> = MEMBERS
        .iter()
        .map(|m| format!("{PREFIX}{}", m.name))
        .collect();
    say.print(&format!(
        "The demo keeps running. Step into a site, e.g. portres's (behind the port-restricted NAT):\n\
         \n    sudo ip netns exec {PREFIX}portres bash\n\
         \nand from there try:\n\
         \n    {ping:<26}# symrand's overlay address: across two NATs, punched through\
         \n    {addr:<26}# portres's own overlay interface and addresses\
         \n    {exe} status {dirs}\
         \n    {exe} ping {symrand} {dirs}\
         \n    {exe} tile files {dirs}   # the file the tiles passed along\n\
         \nThe sites: {sites}; their NAT routers: {PREFIX}nat-*; the internet: {PREFIX}inet.\
         \nRemove it all with: sudo tessel demo --down",
        symrand = ip("symrand"),
        ping = format!("ping {}", ip("symrand")),
        addr = "ip addr show tessel0",
        sites = sites.join(", "),
    ));
}
