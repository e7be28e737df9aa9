//! End-to-end tests of engines (actors) hosted by three `tessel up`
//! daemons: calls and casts by address and by name through the CLI and the
//! Python client (`actors/examples/engine_client.py`), a joining node
//! learning every engine, a stopped engine forgotten everywhere, spoiled
//! transport frames dropped and counted, and a subscription filter cutting
//! the bytes read from the engine streams.
//!
//! Needs root (namespaces, veth, bridges, TUN), `python3`, and the `tessel`
//! binary built with `test-hooks` (a test build of the workspace does that;
//! the hidden control command `engine_tamper` spoils the next message frame
//! a node writes).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use tessel_netns::cluster::{wait_full_mesh, MESH_TIMEOUT};
use tessel_netns::engine_client::{self, PyEngine};
use tessel_netns::netns::is_root;
use tessel_netns::process::run_bounded;
use tessel_netns::services::python3;
use tessel_netns::tessel::DEFAULT_PORT;
use tessel_netns::{wait, Lan, NodeConfig, TempDir, TesselNode};

/// How long one condition may take to come about.
const WAIT: Duration = Duration::from_secs(20);
/// Bound on one CLI run.
const CLI: Duration = Duration::from_secs(30);

/// `tessel engine list --json` on `node`.
fn engine_list(node: &TesselNode) -> Result<Value> {
    let out = run_bounded(node.cli(&["engine", "list", "--json"]), CLI)?;
    ensure!(out.status.success(), "engine list failed: {out:?}");
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Whether `node` knows `engine` as a foreign engine hosted by `host`.
fn knows(node: &TesselNode, engine: &str, host: &str) -> Result<bool> {
    let list = engine_list(node)?;
    Ok(list["foreign"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["engine"] == engine && e["node"] == host && e["reachable"] == true))
}

fn knows_at_all(node: &TesselNode, engine: &str) -> Result<bool> {
    let list = engine_list(node)?;
    Ok(list["foreign"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["engine"] == engine))
}

/// `tessel engine call|cast TARGET DATA --json` on `node`: the reply text (calls).
fn cli_send(node: &TesselNode, verb: &str, target: &str, data: &str) -> Result<String> {
    let out = run_bounded(
        node.cli(&[
            "engine",
            verb,
            target,
            data,
            "--json",
            "--timeout-ms",
            "20000",
        ]),
        CLI,
    )?;
    ensure!(
        out.status.success(),
        "{}: engine {verb} {target} failed: {}",
        node.label(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)?;
    Ok(v["reply"].as_str().unwrap_or("").to_owned())
}

/// One of the node's engine counters from `tessel status --json`.
fn counter(node: &TesselNode, path: &[&str]) -> Result<u64> {
    let mut v = node.status_json()?["engines"].clone();
    for p in path {
        v = v[*p].clone();
    }
    v.as_u64()
        .with_context(|| format!("no engines counter {path:?}"))
}

/// Sends a control API request (`cmd` and its arguments, such as the
/// test-only `engine_tamper`); returns the answer (`ok` or not).
fn control(node: &TesselNode, mut request: Value) -> Result<Value> {
    request["v"] = json!(1);
    let mut s = UnixStream::connect(node.runtime_dir().join("tessel.sock"))?;
    s.write_all(format!("{request}\n").as_bytes())?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    Ok(serde_json::from_str(&line)?)
}

fn node_id(node: &TesselNode) -> Result<String> {
    Ok(engine_list(node)?["node"]
        .as_str()
        .context("no node in engine list")?
        .to_owned())
}

// Topology:
//
//                  switch ns (br0)
//        +-----------------+-----------------+
//        |                 |                 |
//   ns a: eth0        ns b: eth0        ns c: eth0 (joins later)
//   A (TUN)           B --peer A        C --peer A
//   echo-a, pub-a     echo-b            echo-c, subscriber
//
// Engine streams: TCP between overlay IPv6 addresses, port 9743.
#[test]
fn engines_call_cast_learn_forget_tamper_filter() -> Result<()> {
    if !is_root() {
        eprintln!("skipping: needs root");
        return Ok(());
    }
    let key = tessel_netns::tessel::new_network_key()?;
    let logs = TempDir::new("engines-clients")?;
    let lan = Lan::new(&["a", "b", "c"])?;
    let a_ep = lan.host(0).v4_endpoint(DEFAULT_PORT);
    let mut a = TesselNode::start("a", lan.host(0).ns.clone(), NodeConfig::new(&key))?;
    let mut b = TesselNode::start(
        "b",
        lan.host(1).ns.clone(),
        NodeConfig::new(&key).peer(a_ep.clone()),
    )?;
    wait_full_mesh(&mut [&mut a, &mut b], MESH_TIMEOUT)?;
    let (id_a, id_b) = (node_id(&a)?, node_id(&b)?);

    let echo_a = PyEngine::start(&a, "echo-a", &["echo", "--name", "echo-a"], logs.path())?;
    let echo_b = PyEngine::start(&b, "echo-b", &["echo", "--name", "echo-b"], logs.path())?;
    wait::poll("B to learn echo-a", WAIT, || {
        Ok(knows(&b, &echo_a.addr, &id_a)?.then_some(()))
    })?;
    wait::poll("A to learn echo-b", WAIT, || {
        Ok(knows(&a, &echo_b.addr, &id_b)?.then_some(()))
    })?;

    // A joining node learns every engine.
    let mut c = TesselNode::start(
        "c",
        lan.host(2).ns.clone(),
        NodeConfig::new(&key).peer(a_ep),
    )?;
    wait_full_mesh(&mut [&mut a, &mut b, &mut c], MESH_TIMEOUT)?;
    let id_c = node_id(&c)?;
    wait::poll("C to learn echo-a and echo-b", WAIT, || {
        Ok((knows(&c, &echo_a.addr, &id_a)? && knows(&c, &echo_b.addr, &id_b)?).then_some(()))
    })?;
    // A's host record for echo-a is in the overlay's record store: a
    // member finds it under the engine's address (the learn record,
    // `engine ‖ node ‖ …`).
    let prefix = format!("{}{}", echo_a.addr, id_a);
    wait::poll("C to fetch echo-a's host record", WAIT, || {
        let answer = control(&c, json!({ "cmd": "record_fetch", "key": echo_a.addr }))?;
        Ok(answer["records"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["value"].as_str().is_some_and(|v| v.starts_with(&prefix)))
            .then_some(()))
    })?;
    let echo_c = PyEngine::start(&c, "echo-c", &["echo", "--name", "echo-c"], logs.path())?;
    for n in [&a, &b] {
        wait::poll("A and B to learn echo-c", WAIT, || {
            Ok(knows(n, &echo_c.addr, &id_c)?.then_some(()))
        })?;
    }

    // Calls by name (CLI) from every node to every other node's engine,
    // and by address (Python client).
    let nodes = [(&a, "a"), (&b, "b"), (&c, "c")];
    let echoes = [(&echo_a, "a"), (&echo_b, "b"), (&echo_c, "c")];
    for (node, from) in nodes {
        for (echo, to) in echoes {
            if from == to {
                continue;
            }
            let data = format!("call from {from} to {to}");
            let reply = cli_send(node, "call", &format!("echo-{to}"), &data)?;
            ensure!(reply == data, "{from}→echo-{to}: reply {reply:?}");
            let data = format!("call by address from {from} to {to}");
            let out = run_bounded(
                {
                    let mut cmd = node.ns().command(python3()?);
                    cmd.arg(engine_client::script())
                        .arg("--runtime-dir")
                        .arg(node.runtime_dir())
                        .args(["call", &echo.addr, &data]);
                    cmd
                },
                CLI,
            )?;
            ensure!(
                out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == data,
                "{from}→{to} by address: {out:?}"
            );
        }
    }

    // Casts: by name through the CLI, by address through the Python client.
    cli_send(&a, "cast", "echo-b", "cast a→b")?;
    echo_b.wait_line("echo-b to get the cast", |l| {
        l.starts_with("cast ") && l.ends_with("cast a→b")
    })?;
    let out = run_bounded(
        {
            let mut cmd = b.ns().command(python3()?);
            cmd.arg(engine_client::script())
                .arg("--runtime-dir")
                .arg(b.runtime_dir())
                .args(["cast", &echo_c.addr, "cast b→c"]);
            cmd
        },
        CLI,
    )?;
    ensure!(out.status.success(), "python cast: {out:?}");
    echo_c.wait_line("echo-c to get the cast", |l| l.ends_with("cast b→c"))?;

    // Spoiled frames from C to A are dropped and counted; honest ones pass.
    for (mode, drop) in [
        ("forge", "forged"),
        ("alter", "bad_mac"),
        ("replay", "replayed"),
    ] {
        let before = counter(&a, &["drops", drop])?;
        let answer = control(&c, json!({ "cmd": "engine_tamper", "mode": mode }))?;
        ensure!(answer["tamper"] == mode, "engine_tamper {mode}: {answer}");
        let marker = format!("tampered {mode}");
        cli_send(&c, "cast", "echo-a", &marker)?;
        wait::poll(&format!("A to count a {drop} frame"), WAIT, || {
            Ok((counter(&a, &["drops", drop])? > before).then_some(()))
        })?;
        let honest = format!("honest after {mode}");
        cli_send(&c, "cast", "echo-a", &honest)?;
        echo_a.wait_line("echo-a to get the honest cast", |l| l.ends_with(&honest))?;
        let got = echo_a
            .lines()
            .iter()
            .filter(|l| l.ends_with(&marker))
            .count();
        let expected = usize::from(mode == "replay");
        ensure!(
            got == expected,
            "{mode}: echo-a got the spoiled cast {got} times"
        );
    }

    // A stopped engine is forgotten everywhere.
    let echo_b_addr = echo_b.addr.clone();
    let mut echo_b = echo_b;
    echo_b.process.stop(Duration::from_secs(5))?;
    for n in [&a, &c] {
        wait::poll("echo-b to be forgotten", WAIT, || {
            Ok((!knows_at_all(n, &echo_b_addr)?).then_some(()))
        })?;
    }
    ensure!(
        run_bounded(
            c.cli(&["engine", "call", "echo-b", "x", "--timeout-ms", "2000"]),
            CLI
        )?
        .status
        .code()
            != Some(0),
        "a call to the stopped echo-b succeeded"
    );

    // A subscription filter cuts the bytes C reads from A's stream.
    let publisher = PyEngine::start(&a, "pub-a", &["publish", "--name", "pub-a"], logs.path())?;
    wait::poll("C to learn pub-a", WAIT, || {
        Ok(knows(&c, &publisher.addr, &id_a)?.then_some(()))
    })?;
    let sub = PyEngine::start(
        &c,
        "sub-c",
        &[
            "subscribe",
            &publisher.addr,
            "--topic",
            "wanted/",
            "--field",
            "region=eu",
        ],
        logs.path(),
    )?;
    // The subscription is in place once a matching event arrives.
    wait::poll("the subscription to reach A", WAIT, || {
        cli_send(&c, "call", "pub-a", "wanted/probe 1 10 region=eu")?;
        Ok(sub
            .lines()
            .iter()
            .any(|l| l.contains("wanted/probe"))
            .then_some(()))
    })?;
    let filtered_before = counter(&a, &["events_filtered"])?;
    let in_before = counter(&c, &["bytes_in"])?;
    cli_send(&a, "call", "pub-a", "noise/x 200 1000 region=eu")?;
    cli_send(&a, "call", "pub-a", "wanted/x 200 1000 region=us")?;
    cli_send(&a, "call", "pub-a", "wanted/mark 1 10 region=eu")?;
    sub.wait_line("the marker event", |l| l.contains("wanted/mark"))?;
    let cut = counter(&c, &["bytes_in"])? - in_before;
    ensure!(
        counter(&a, &["events_filtered"])? >= filtered_before + 400,
        "A did not count the filtered events"
    );
    ensure!(
        cut < 20_000,
        "C read {cut} bytes while 400 KB of unwanted events were published"
    );
    ensure!(
        !sub.lines()
            .iter()
            .any(|l| l.contains("noise/x") || l.contains("wanted/x")),
        "an unwanted event reached the subscriber"
    );
    let in_before = counter(&c, &["bytes_in"])?;
    cli_send(&a, "call", "pub-a", "wanted/y 200 1000 region=eu")?;
    wait::poll("200 wanted events", WAIT, || {
        Ok((sub
            .lines()
            .iter()
            .filter(|l| l.contains("wanted/y"))
            .count()
            == 200)
            .then_some(()))
    })?;
    let passed = counter(&c, &["bytes_in"])? - in_before;
    ensure!(
        passed >= 200_000,
        "C read only {passed} bytes for 200 KB of wanted events"
    );

    // A persistent engine keeps its address across a restart of its
    // daemon; its key file is for the daemon only.
    let kept = PyEngine::start(
        &a,
        "kept-1",
        &["listen", "--persistent", "kept"],
        logs.path(),
    )?;
    let key_file = a.state_dir().join("engines.key");
    let mode = std::fs::metadata(&key_file)?.permissions().mode() & 0o777;
    ensure!(mode == 0o600, "{} has mode {mode:o}", key_file.display());
    drop(kept);
    a.stop()?;
    a.restart()?;
    wait_full_mesh(&mut [&mut a, &mut b, &mut c], MESH_TIMEOUT)?;
    let again = PyEngine::start(
        &a,
        "kept-2",
        &["listen", "--persistent", "kept"],
        logs.path(),
    )?;
    let first = std::fs::read_to_string(logs.path().join("kept-1.stdout.log"))?;
    ensure!(
        first.lines().any(|l| l == format!("engine {}", again.addr)),
        "the persistent engine came back as {} after {first:?}",
        again.addr
    );
    wait::poll("C to learn the persistent engine again", WAIT, || {
        Ok(knows(&c, &again.addr, &id_a)?.then_some(()))
    })?;

    for n in [&mut a, &mut c] {
        n.stop()?;
    }
    b.stop()?;
    Ok(())
}
