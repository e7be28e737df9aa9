//! The live map (`tessel up --map ADDR:PORT`).
//!
//! In a browser: headless Chromium (chromedriver, in B's namespace) opens
//! B's map on B's loopback while three members form a network, and the
//! test reads the page's SVG (`data-node-id` on members, `data-a`,
//! `data-b`, `data-kind` and `data-via` on links):
//!
//! ```text
//!                 internet (core namespace)
//!        ___________________|____________________
//!       |                   |                    |
//!   R 198.51.100.1    port-restricted NAT   port-restricted NAT
//!   (tessel up)       (drops UDP to C's     |
//!                     NAT while blocked)    C (tessel up --peer R)
//!                           |
//!                     B (tessel up --peer R --map 127.0.0.1:9746,
//!                        chromedriver and Chromium)
//! ```
//!
//! 1. B's map shows B and R, linked.
//! 2. C starts while B's NAT drops UDP between the two NATs, so the punch
//!    misses: the page shows C, and B–C relayed through R.
//! 3. The block goes; a punch gets through (the one under way, or the
//!    next, 20 s after one that missed): the same link turns direct,
//!    without the page reloading.
//! 4. C stops: once B has not heard from it for longer than a keepalive
//!    allows, C leaves the page.
//!
//! Without a browser: a map on B's LAN address needs its token (403
//! without, the cookie after), checks the Host header (421), keeps its URL
//! in `map-url.txt` (mode 0600) and out of the log, and streams events.
//!
//! Needs root (namespaces, veth, bridges, nftables, TUN), `nft`, `curl`,
//! Debian's `chromium` and `chromium-driver`, and the `tessel` binary
//! (`cargo build -p tessel-overlay --bin tessel`, or set `TESSEL_BIN`).

// The namespace harness runs real processes against the wall clock.
#![allow(clippy::disallowed_methods)]

use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use tessel_netns::browser::{Chromedriver, Page};
use tessel_netns::lab::{Internet, NatKind, NatRouter};
use tessel_netns::netns::is_root;
use tessel_netns::services::curl;
use tessel_netns::tessel::{self, DEFAULT_PORT};
use tessel_netns::{wait, Lan, NodeConfig, TesselNode};

/// B's map, on its namespace's loopback.
const MAP: &str = "127.0.0.1:9746";

/// The page's members and links, as the test reads them.
const READ_PAGE: &str = r#"
    const q = (s) => Array.from(document.querySelectorAll(s));
    return {
        members: q('#map [data-node-id]').map((e) => e.getAttribute('data-node-id')),
        links: q('#map [data-kind]').map((e) => ({
            a: e.getAttribute('data-a'), b: e.getAttribute('data-b'),
            kind: e.getAttribute('data-kind'), via: e.getAttribute('data-via'),
        })),
        conn: document.getElementById('conn').dataset.state,
        same_page: window.tesselMapTest === true,
    };
"#;

/// How long the page may take to show the first members.
const FIRST_TIMEOUT: Duration = Duration::from_secs(20);

/// How long the relayed link may take to turn direct once unblocked: a
/// punch that missed is tried again 20 s later.
const DIRECT_TIMEOUT: Duration = Duration::from_secs(45);

/// How long a stopped member may stay: up to 25 s since its last
/// keepalive, plus the map's 35 s of silence.
const GONE_TIMEOUT: Duration = Duration::from_secs(60);

/// What the page shows.
#[derive(Debug)]
struct Shown {
    members: Vec<String>,
    links: Vec<(String, String, String, Option<String>)>,
    conn: String,
    same_page: bool,
}

impl Shown {
    fn read(page: &Page) -> Result<Self> {
        let v = page.eval(READ_PAGE)?;
        let s = |v: &Value| v.as_str().map(str::to_owned);
        Ok(Self {
            members: v["members"]
                .as_array()
                .context("members")?
                .iter()
                .filter_map(s)
                .collect(),
            links: v["links"]
                .as_array()
                .context("links")?
                .iter()
                .map(|l| {
                    (
                        s(&l["a"]).unwrap_or_default(),
                        s(&l["b"]).unwrap_or_default(),
                        s(&l["kind"]).unwrap_or_default(),
                        s(&l["via"]),
                    )
                })
                .collect(),
            conn: s(&v["conn"]).unwrap_or_default(),
            same_page: v["same_page"] == true,
        })
    }

    fn has(&self, id: &str) -> bool {
        self.members.iter().any(|m| m == id)
    }

    /// The kind and relay of the link between `x` and `y`, if drawn.
    fn link(&self, x: &str, y: &str) -> Option<(String, Option<String>)> {
        self.links
            .iter()
            .find(|(a, b, ..)| (a == x && b == y) || (a == y && b == x))
            .map(|(_, _, k, v)| (k.clone(), v.clone()))
    }
}

/// Waits until what the page shows passes `check`, then keeps a
/// screenshot named `shot` in `shots` (also when it fails).
fn wait_page<T>(
    page: &Page,
    what: &str,
    timeout: Duration,
    (shots, shot): (&Path, &str),
    mut check: impl FnMut(&Shown) -> Option<T>,
) -> Result<T> {
    let mut last = None;
    let r = wait::poll(what, timeout, || {
        let shown = Shown::read(page)?;
        let r = check(&shown);
        last = Some(shown);
        Ok(r)
    });
    let png = shots.join(format!("{shot}.png"));
    if let Err(e) = page.screenshot().and_then(|b| Ok(std::fs::write(&png, b)?)) {
        eprintln!("warning: no screenshot {}: {e:#}", png.display());
    }
    r.with_context(|| {
        format!(
            "the page showed {last:?}; its screenshot is {} (kept with {}=1)",
            png.display(),
            tessel_netns::tempdir::KEEP_ENV
        )
    })
}

/// Drops UDP between B's NAT and `other` (C's NAT's WAN address) in B's
/// NAT router, so that B and C can only reach each other through R.
fn block(nat: &NatRouter, other: Ipv4Addr) -> Result<()> {
    let rules = format!(
        "table inet map_test_block {{\n  chain forward {{\n    type filter hook forward priority -10;\n    \
         meta l4proto udp ip daddr {other} drop\n    meta l4proto udp ip saddr {other} drop\n  }}\n}}\n"
    );
    nat.ns()
        .exec_ok_with_input(&["nft", "-f", "-"], rules.as_bytes())
        .context("blocking UDP between the NATs")?;
    Ok(())
}

fn unblock(nat: &NatRouter) -> Result<()> {
    nat.ns()
        .exec_ok(&["nft", "delete", "table", "inet", "map_test_block"])
        .context("unblocking UDP between the NATs")?;
    Ok(())
}

fn config(key: &str) -> NodeConfig {
    NodeConfig::new(key)
        .lan_discovery(false)
        .port_mapping("off")
}

/// B's map follows the network in a browser: members appear, B–C goes
/// from relayed to direct, and C leaves once stopped.
#[test]
fn the_map_in_a_browser_follows_links_and_members() -> Result<()> {
    if !is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let internet = Internet::new()?;
    let key = tessel::new_network_key()?;
    let r_host = internet.add_host("r")?;
    let r_endpoint = format!("{}:{DEFAULT_PORT}", r_host.ipv4);
    let nat_b = internet.add_nat("nat-b", NatKind::PortRestrictedCone)?;
    let nat_c = internet.add_nat("nat-c", NatKind::PortRestrictedCone)?;
    let (b_host, c_host) = (nat_b.add_host("b")?, nat_c.add_host("c")?);
    block(&nat_b, nat_c.wan_addr())?;
    let r = TesselNode::start("r", r_host.ns.clone(), config(&key))?;
    let b_config = config(&key)
        .peer(r_endpoint.clone())
        .extra_args(["--map", MAP]);
    let b = TesselNode::start("b", b_host.ns.clone(), b_config)?;
    let (r_id, b_id) = (r.node_id()?, b.node_id()?);
    let driver = Chromedriver::start(&b_host.ns)?;
    let shots = driver.log_dir();
    let shots = shots.as_path();
    let c_ns = c_host.ns.clone();
    let mut c_node: Option<TesselNode> = None;
    let started = Instant::now();
    let secs = || started.elapsed().as_secs_f64();
    let outcome = b_host.ns.run_inside(|| -> Result<()> {
        let page = Page::open(&driver, &format!("http://{MAP}/"))?;
        let opened = secs();
        // A mark that a reload would wipe.
        page.eval("window.tesselMapTest = true; return true;")?;
        wait_page(
            &page,
            "B and R on the page",
            FIRST_TIMEOUT,
            (shots, "1-b-and-r"),
            |s| (s.has(&b_id) && s.has(&r_id) && s.link(&b_id, &r_id).is_some()).then_some(()),
        )?;
        let first = secs();
        let c = TesselNode::start("c", c_ns.clone(), config(&key).peer(r_endpoint.clone()))?;
        let c_id = c.node_id()?;
        c_node = Some(c);
        let (kind, via) = wait_page(&page, "C linked to B", FIRST_TIMEOUT, (shots, "2-c"), |s| {
            s.has(&c_id).then(|| s.link(&b_id, &c_id)).flatten()
        })?;
        ensure!(
            kind == "relay" && via.as_deref() == Some(r_id.as_str()),
            "with UDP between the NATs blocked, B–C must be relayed through R; the page \
             shows {kind} via {via:?}"
        );
        let relayed = secs();
        unblock(&nat_b)?;
        wait_page(
            &page,
            "B–C direct",
            DIRECT_TIMEOUT,
            (shots, "3-direct"),
            |s| (s.link(&b_id, &c_id).map(|(k, _)| k).as_deref() == Some("direct")).then_some(()),
        )?;
        let direct = secs();
        c_node.as_mut().context("C")?.stop()?;
        wait_page(
            &page,
            "C gone from the page",
            GONE_TIMEOUT,
            (shots, "4-c-gone"),
            |s| (!s.has(&c_id) && s.link(&b_id, &c_id).is_none()).then_some(()),
        )?;
        println!(
            "MAP: Chromium had the page after {opened:.1} s, B and R shown at {first:.1} s, B-C \
             relayed at {relayed:.1} s, direct at {direct:.1} s, C gone {:.1} s after it stopped",
            secs() - direct
        );
        let last = Shown::read(&page)?;
        ensure!(last.has(&b_id) && last.has(&r_id), "B and R stay: {last:?}");
        ensure!(last.same_page, "the page was reloaded: {last:?}");
        ensure!(
            last.conn == "live",
            "the event stream is not live: {last:?}"
        );
        page.close()
    })?;
    outcome
        .with_context(|| format!("chromedriver's logs are in {}", driver.log_dir().display()))?;
    drop(c_node);
    drop((b, r));
    Ok(())
}

/// The status code and the text of `curl -i` (headers and body).
fn get(ns: &tessel_netns::Netns, args: &[&str]) -> Result<(u16, String)> {
    let mut full = vec!["-i", "-w", "\n%{http_code}"];
    full.extend_from_slice(args);
    let run = curl(ns, &full)?;
    let text = String::from_utf8_lossy(&run.body).into_owned();
    let (text, code) = text.rsplit_once('\n').context("curl's status code")?;
    Ok((
        code.trim().parse().context("curl's status code")?,
        text.to_owned(),
    ))
}

/// Off loopback: the token (URL or cookie), the Host check, the URL file
/// and the event stream, over plain HTTP.
#[test]
fn the_map_off_loopback_needs_its_token_and_its_host() -> Result<()> {
    if !is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let key = tessel::new_network_key()?;
    let lan = Lan::new(&["a"])?;
    let host = lan.host(0);
    let addr = format!("{}:9746", host.ipv4);
    let cfg = config(&key).extra_args(["--map".to_owned(), addr.clone()]);
    let node = TesselNode::start("a", host.ns.clone(), cfg)?;
    let id = node.node_id()?;
    let file = node.state_dir().join("map-url.txt");
    let url = wait::poll("map-url.txt", Duration::from_secs(10), || {
        Ok(std::fs::read_to_string(&file).ok())
    })?;
    let url = url.trim().to_owned();
    let mode = std::fs::metadata(&file)?.permissions().mode() & 0o777;
    ensure!(mode == 0o600, "map-url.txt has mode {mode:o}");
    let token = url
        .strip_prefix(&format!("http://{addr}/?token="))
        .with_context(|| format!("map-url.txt holds {url}"))?
        .to_owned();
    ensure!(token.len() == 32, "token {token}");
    // Stdout is no terminal here: it names the file, and no log has the token.
    ensure!(
        node.stdout().contains("map-url.txt") && !node.stdout().contains(&token),
        "stdout: {}",
        node.stdout()
    );
    ensure!(!node.log().contains(&token), "the token is in the log");
    let ns = &host.ns;
    let base = format!("http://{addr}");
    let (code, _) = get(ns, &[&format!("{base}/")])?;
    ensure!(code == 403, "no token: {code}");
    let (code, _) = get(
        ns,
        &[&format!("{base}/?token=00000000000000000000000000000000")],
    )?;
    ensure!(code == 403, "a wrong token: {code}");
    let (code, text) = get(ns, &[&url])?;
    ensure!(code == 200, "the URL with its token: {code}");
    let cookie = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .context("no cookie set")?
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    ensure!(
        cookie == format!("tessel_map_9746={token}"),
        "cookie {cookie}"
    );
    ensure!(text.contains("<svg id=\"map\""), "not the page: {text}");
    let (code, _) = get(
        ns,
        &[
            "-H",
            &format!("Cookie: {cookie}"),
            &format!("{base}/snapshot.json"),
        ],
    )?;
    ensure!(code == 200, "with the cookie: {code}");
    // DNS rebinding: another name for this address.
    let (code, _) = get(ns, &["-H", "Host: rebound.example:9746", &url])?;
    ensure!(code == 421, "a foreign Host header: {code}");
    // The event stream: a snapshot at once (curl stops after 3 s).
    let events = curl(
        ns,
        &[
            "-N",
            "--max-time",
            "3",
            &format!("{base}/events?token={token}"),
        ],
    )?;
    let text = String::from_utf8_lossy(&events.body);
    ensure!(
        text.contains("event: snapshot\ndata: {") && text.contains(&id),
        "the event stream: {text}"
    );
    Ok(())
}
