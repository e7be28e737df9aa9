//! Scopes hosted by five `tessel up` daemons, driven with the CLI: a root
//! key and three levels of scopes (`/`, `/org`, `/org/team`, each with its
//! own owner key, signed with `tessel scope create|grant|readcap` and handed
//! to the nodes with `tessel scope add`), sector clusters at every level
//! (two members at `/org/team`), Python engines registered for two
//! services, and a querier behind a NAT that drops unsolicited inbound
//! traffic, which finds the root runtime through a DNS TXT record served by
//! dnsmasq. From it:
//!
//! - an anonymous query into the private `/org/team` is denied; with a read
//!   capability it is answered after redirects across the three levels
//!   (`/` → `/org` → `/org/team`), and the same query again from the cache;
//! - a closest query for a service `/org/team` lacks goes down and back up
//!   to the nearest ancestor that has it (`/org`, not `/`);
//! - a send to all of `/org/team`'s `fs` engines reaches both members'
//!   engines; a send to the closest reaches one of them; a closest send of
//!   `db` reaches the engine at `/org`, not the one at `/`.
//!
//! ```text
//!                      Internet (core namespace, br0)
//!     ______________________|____________________________________________
//!    |          |          |          |          |                       |
//!  r .1       o .2       a .3       b .4       dns .5               NAT router (port restricted)
//!  sector /   sector     sector     sector     dnsmasq :53          203.0.113.N
//!  db @ /     /org       /org/team  /org/team  TXT _tessel-root.         |
//!             db @ /org  fs         fs         example.org → r       n 198.18.L.2
//!                                                                    --scope-bootstrap-dns
//! (public hosts 198.51.100.N; o, a, b: --scope-bootstrap r; everyone --peer r)
//! ```
//!
//! Needs root (namespaces, veth, bridges, nftables, TUN), `python3`,
//! `dnsmasq` and the `tessel` binary.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use tessel_netns::cluster::{wait_full_mesh, MESH_TIMEOUT};
use tessel_netns::engine_client::PyEngine;
use tessel_netns::lab::{Internet, NatKind};
use tessel_netns::netns::is_root;
use tessel_netns::process::run_bounded;
use tessel_netns::services::DnsServer;
use tessel_netns::tessel::{self, run_once, DEFAULT_PORT};
use tessel_netns::{wait, NodeConfig, TempDir, TesselNode};

/// How long the clusters may take to form and registrations to be placed.
const SETTLE: Duration = Duration::from_secs(60);
/// Bound on one CLI run (a query waits at most its own 20 s).
const CLI: Duration = Duration::from_secs(30);
const DNS_NAME: &str = "_tessel-root.example.org";

/// Runs `tessel ARGS --json` on `node`: the answer, or the error answer
/// (`{"error": {"code", "message"}}`) when the command failed.
fn scope(node: &TesselNode, args: &[&str]) -> Result<Value> {
    let mut all = vec!["scope"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = run_bounded(node.cli(&all), CLI)?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(text.trim()).with_context(|| {
        format!(
            "{}: tessel {all:?} printed no JSON: {text}{}",
            node.label(),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    ensure!(
        out.status.success() == v["error"].is_null(),
        "{}: tessel {all:?}: exit status and answer disagree: {v}",
        node.label()
    );
    Ok(v)
}

/// Like [`scope`], failing on an error answer.
fn scope_ok(node: &TesselNode, args: &[&str]) -> Result<Value> {
    let v = scope(node, args)?;
    ensure!(
        v["error"].is_null(),
        "{}: scope {args:?} failed: {v}",
        node.label()
    );
    Ok(v)
}

/// A record printed by an offline signing verb, kept in a file.
fn sign(dir: &Path, file: &str, args: &[&str]) -> Result<String> {
    let out = run_once(None, args, CLI)?;
    ensure!(
        out.status.success(),
        "tessel {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.join(file);
    std::fs::write(&path, &out.stdout)?;
    Ok(format!("@{}", path.display()))
}

fn strings(v: &Value, key: &str) -> BTreeSet<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x[key].as_str().map(str::to_owned))
        .collect()
}

fn set<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> BTreeSet<String> {
    items.into_iter().map(|s| s.as_ref().to_owned()).collect()
}

/// An array of strings as a set.
fn str_set(v: &Value) -> BTreeSet<String> {
    set(v.as_array().into_iter().flatten().filter_map(Value::as_str))
}

/// The scopes a query's trail redirected to, in order.
fn redirects(v: &Value) -> Vec<String> {
    v["trail"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["redirect"].as_str().map(str::to_owned))
        .collect()
}

/// Whether `node`'s cluster at `scope` has `members` and every
/// registration of `node` is placed.
fn settled(node: &TesselNode, scope: &str, members: &BTreeSet<String>) -> Result<bool> {
    let v = scope_ok(node, &["list"])?;
    let cluster_ok = v["clusters"].as_array().into_iter().flatten().any(|c| {
        c["scope"] == scope
            && c["generation"].is_string()
            && c["members"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect::<BTreeSet<_>>()
                == *members
    });
    let placed = v["registrations"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|r| r["placed"].is_object());
    Ok(cluster_ok && placed)
}

#[test]
fn three_levels_of_scopes_across_a_nat_with_dns_bootstrap() -> Result<()> {
    if !is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let keys = TempDir::new("scopes-keys")?;
    let logs = TempDir::new("scopes-logs")?;
    let k = |name: &str| keys.path().join(name).display().to_string();
    let owner = |name: &str| -> Result<String> {
        let out = run_once(None, &["scope", "key", "new", "--out", &k(name)], CLI)?;
        ensure!(out.status.success(), "scope key new: {out:?}");
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let root_pub = owner("root.key")?;
    let org_pub = owner("org.key")?;
    let team_pub = owner("team.key")?;

    let internet = Internet::new()?;
    let net = tessel::new_network_key()?;
    let hosts = ["r", "o", "a", "b", "dns"]
        .iter()
        .map(|l| internet.add_host(l))
        .collect::<Result<Vec<_>, _>>()?;
    let r_ep = format!("{}:{DEFAULT_PORT}", hosts[0].ipv4);
    let scope_args = |extra: &[&str]| -> Vec<String> {
        let mut v = vec!["--scope-root".to_owned(), root_pub.clone()];
        v.extend(extra.iter().map(|s| (*s).to_owned()));
        v
    };
    let mut r = TesselNode::start(
        "r",
        hosts[0].ns.clone(),
        NodeConfig::new(&net).extra_args(scope_args(&[])),
    )?;
    let r_id = r.node_id()?;
    let with_r = |label: &str, ns| {
        let cfg = NodeConfig::new(&net)
            .peer(r_ep.clone())
            .extra_args(scope_args(&["--scope-bootstrap", &r_id]));
        TesselNode::start(label, ns, cfg)
    };
    let mut o = with_r("o", hosts[1].ns.clone())?;
    let mut a = with_r("a", hosts[2].ns.clone())?;
    let mut b = with_r("b", hosts[3].ns.clone())?;
    let dns_addr = format!("{}:53", hosts[4].ipv4);
    let txt =
        tessel_overlay::wire::bootstrap::write(&tessel_overlay::identity::NodeId::parse(&r_id)?);
    let dns = DnsServer::start(
        &hosts[4].ns,
        dns_addr.parse()?,
        "example.org",
        &[(DNS_NAME, &[&txt])],
        &[],
        logs.path(),
    )?;
    let nat = internet.add_nat("nat-n", NatKind::PortRestrictedCone)?;
    let n_host = nat.add_host("n")?;
    let mut n = TesselNode::start(
        "n",
        n_host.ns.clone(),
        NodeConfig::new(&net)
            .peer(r_ep.clone())
            .extra_args(scope_args(&[
                "--scope-bootstrap-dns",
                DNS_NAME,
                "--dns-server",
                &dns_addr,
            ])),
    )?;
    wait_full_mesh(&mut [&mut r, &mut o, &mut a, &mut b, &mut n], MESH_TIMEOUT)?;
    let id = |t: &TesselNode| t.node_id();
    let (o_id, a_id, b_id) = (id(&o)?, id(&a)?, id(&b)?);

    // The scopes, three levels, each level owned by its own key; /org/team
    // is private.
    let d = keys.path();
    let slash = sign(
        d,
        "slash",
        &[
            "scope",
            "create",
            "/",
            "--world-readable",
            "--key",
            &k("root.key"),
        ],
    )?;
    let org = sign(
        d,
        "org",
        &[
            "scope",
            "create",
            "/org",
            "--world-readable",
            "--owner",
            &org_pub,
            "--key",
            &k("root.key"),
        ],
    )?;
    let team = sign(
        d,
        "team",
        &[
            "scope",
            "create",
            "/org/team",
            "--owner",
            &team_pub,
            "--key",
            &k("org.key"),
        ],
    )?;
    let grant = |file: &str, scope: &str, node: &str, key: &str| {
        sign(d, file, &["scope", "grant", scope, node, "--key", &k(key)])
    };
    let g_r = grant("g_r", "/", &r_id, "root.key")?;
    let g_o = grant("g_o", "/org", &o_id, "org.key")?;
    let g_a = grant("g_a", "/org/team", &a_id, "org.key")?;
    let g_b = grant("g_b", "/org/team", &b_id, "team.key")?;
    let readcap = sign(
        d,
        "readcap",
        &["scope", "readcap", "/org/team", "--key", &k("team.key")],
    )?;
    for node in [&r, &o, &a, &b, &n] {
        for rec in [&slash, &org, &team] {
            scope_ok(node, &["add", rec])?;
        }
    }

    // Clusters at every level; engines for fs (both /org/team members)
    // and db (at /org and at /).
    scope_ok(&r, &["register", "/", "sector", "--grant", &g_r])?;
    scope_ok(&o, &["register", "/org", "sector", "--grant", &g_o])?;
    scope_ok(&a, &["register", "/org/team", "sector", "--grant", &g_a])?;
    scope_ok(&b, &["register", "/org/team", "sector", "--grant", &g_b])?;
    let e_a = PyEngine::start(&a, "engine-a", &["listen"], logs.path())?;
    let e_b = PyEngine::start(&b, "engine-b", &["listen"], logs.path())?;
    let e_o = PyEngine::start(&o, "engine-o", &["listen"], logs.path())?;
    let e_r = PyEngine::start(&r, "engine-r", &["listen"], logs.path())?;
    scope_ok(
        &a,
        &[
            "register",
            "/org/team",
            "fs",
            "--grant",
            &g_a,
            "--engine",
            &e_a.addr,
        ],
    )?;
    scope_ok(
        &b,
        &[
            "register",
            "/org/team",
            "fs",
            "--grant",
            &g_b,
            "--engine",
            &e_b.addr,
        ],
    )?;
    scope_ok(
        &o,
        &[
            "register", "/org", "db", "--grant", &g_o, "--engine", &e_o.addr,
        ],
    )?;
    scope_ok(
        &r,
        &[
            "register", "/", "db", "--grant", &g_r, "--engine", &e_r.addr,
        ],
    )?;

    let team_members = set([&a_id, &b_id]);
    for (node, at, members) in [
        (&r, "/", set([&r_id])),
        (&o, "/org", set([&o_id])),
        (&a, "/org/team", team_members.clone()),
        (&b, "/org/team", team_members.clone()),
    ] {
        wait::poll(
            &format!("{}'s cluster at {at}", node.label()),
            SETTLE,
            || Ok(settled(node, at, &members)?.then_some(())),
        )
        .with_context(|| format!("last list: {:?}", scope(node, &["list"])))?;
    }
    // The NATed node found the root runtime through DNS.
    wait::poll("n to learn the root runtime from DNS", SETTLE, || {
        let v = scope_ok(&n, &["list"])?;
        Ok((str_set(&v["bootstrap"]) == set([&r_id])).then_some(()))
    })
    .with_context(|| format!("dnsmasq: {}", dns.log()))?;

    // Access: anonymous into the private scope is denied, a readcap works.
    let denied = scope(&n, &["query", "/org/team", "fs", "--all"])?;
    ensure!(
        denied["error"]["code"] == "denied",
        "anonymous query not denied: {denied}"
    );
    // Each member holds the other's registration once it was forwarded:
    // ask afresh (cache dropped) until the answer has both.
    let mut last = Value::Null;
    let q = wait::poll("n to find both fs runtimes of /org/team", SETTLE, || {
        scope_ok(&n, &["forget"])?;
        last = scope_ok(
            &n,
            &["query", "/org/team", "fs", "--all", "--cred", &readcap],
        )?;
        Ok((strings(&last["runtimes"], "node") == team_members).then(|| last.clone()))
    })
    .with_context(|| {
        format!(
            "last answer: {last}\na's list: {:?}\nb's list: {:?}",
            scope(&a, &["list"]),
            scope(&b, &["list"])
        )
    })?;
    ensure!(q["cached"] == false, "first query from the cache: {q}");
    ensure!(
        strings(&q["runtimes"], "node") == team_members,
        "wrong runtimes: {q}"
    );
    ensure!(
        strings(&q["runtimes"], "engine") == set([&e_a.addr, &e_b.addr]),
        "wrong engines: {q}"
    );
    ensure!(
        redirects(&q) == ["/org", "/org/team"],
        "expected redirects / → /org → /org/team: {q}"
    );
    let warm = scope_ok(
        &n,
        &["query", "/org/team", "fs", "--all", "--cred", &readcap],
    )?;
    ensure!(
        warm["cached"] == true,
        "second query not from the cache: {warm}"
    );
    ensure!(
        strings(&warm["runtimes"], "node") == team_members,
        "wrong runtimes: {warm}"
    );

    // Closest: /org/team has no db, so down to its cluster and back up to
    // /org (not to /, which has one too).
    scope_ok(&n, &["forget"])?;
    let c = scope_ok(
        &n,
        &["query", "/org/team", "db", "--closest", "--cred", &readcap],
    )?;
    ensure!(
        strings(&c["runtimes"], "node") == set([&o_id]),
        "closest db not at /org: {c}"
    );
    ensure!(
        strings(&c["runtimes"], "scope") == set(["/org"]),
        "closest db scope: {c}"
    );
    ensure!(
        redirects(&c) == ["/org", "/org/team", "/org"],
        "expected redirects / → /org → /org/team → /org: {c}"
    );

    // Sends from the NATed node: to the cluster, to the closest.
    let all = scope_ok(
        &n,
        &[
            "send",
            "/org/team",
            "fs",
            "to-all",
            "--all",
            "--cred",
            &readcap,
        ],
    )?;
    ensure!(
        str_set(&all["engines"]) == set([&e_a.addr, &e_b.addr]),
        "send --all reached: {all}"
    );
    e_a.wait_cast("to-all")?;
    e_b.wait_cast("to-all")?;
    let one = scope_ok(
        &n,
        &[
            "send",
            "/org/team",
            "fs",
            "to-one",
            "--closest",
            "--cred",
            &readcap,
        ],
    )?;
    let reached: Vec<&str> = one["engines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    ensure!(
        reached.len() == 1,
        "send --closest reached {reached:?}: {one}"
    );
    let (hit, miss) = if reached[0] == e_a.addr {
        (&e_a, &e_b)
    } else {
        (&e_b, &e_a)
    };
    ensure!(
        reached[0] == hit.addr,
        "send --closest reached a stranger: {one}"
    );
    hit.wait_cast("to-one")?;
    ensure!(
        !miss.got_cast("to-one"),
        "both engines got the closest send"
    );
    let db = scope_ok(
        &n,
        &[
            "send",
            "/org/team",
            "db",
            "to-db",
            "--closest",
            "--cred",
            &readcap,
        ],
    )?;
    ensure!(
        db["engines"] == serde_json::json!([e_o.addr]),
        "closest db send: {db}"
    );
    e_o.wait_cast("to-db")?;
    ensure!(
        !e_r.got_cast("to-db"),
        "the engine at / got the closest db send"
    );

    // The counters show in `tessel status`.
    let st = n.status_json()?;
    let sc = &st["engines"]["scopes"];
    ensure!(
        sc["cache_hits"].as_u64() >= Some(1) && sc["hops_sent"].as_u64() >= Some(6),
        "scope counters: {sc}"
    );
    drop(dns);
    Ok(())
}
