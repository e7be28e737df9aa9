//! Every verb of the `tessel` CLI with `--json`, run as a user would
//! against two running nodes (userspace mode: no root, no TUN, loopback
//! UDP): the output parses as JSON; a verb that asks the node prints the
//! answer's fields, which read back as the command's answer type field for
//! field ([`answers::round_trips`]) and are all named in the command's
//! section of docs/control-api.md. Then `whois` by node ID, address and
//! for the node itself, its refusals, and errors through the API (no tile,
//! scopes off, not managed), and `down`.

// Tests run real processes against the wall clock.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tessel_overlay::driver::control::answers::{
    self, EngineListAnswer, HandoverAnswer, IpAnswer, PingAnswer, RevocationsAnswer, RotateAnswer,
    StatusAnswer, WhoisAnswer,
};
use tessel_overlay::driver::state_dir::StateDir;

mod cli;

use cli::{fails, ok, tessel, Dir};

/// How long a node may take to start or to connect (a bound, not a
/// measurement).
const DEADLINE: Duration = Duration::from_secs(30);

/// A `tessel up --userspace` process, killed on drop.
struct Node {
    child: Child,
    state: PathBuf,
}

impl Node {
    /// Starts a node with its state dir in `dir`, joining through `peer`,
    /// with `extra` arguments.
    fn start(dir: &Path, name: &str, key: &str, peer: Option<&str>, extra: &[&str]) -> Self {
        let state = dir.join(name);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessel"));
        cmd.args(["up", "--userspace", "--network", key])
            .args(["--listen", "127.0.0.1:0", "--no-lan-discovery"])
            .args(["--no-port-mapping", "--state-dir"])
            .arg(&state)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(p) = peer {
            cmd.args(["--peer", p]);
        }
        cmd.args(extra);
        let child = cmd.spawn().expect("starts tessel up");
        let node = Self { child, state };
        node.wait_for("its control socket", |s| !s.node.node_id.is_empty());
        node
    }

    fn state_arg(&self) -> String {
        self.state.display().to_string()
    }

    /// `tessel ARGS --state-dir STATE`, which must succeed: its stdout.
    fn ok(&self, dir: &Path, args: &[&str]) -> String {
        let mut all = args.to_vec();
        let state = self.state_arg();
        all.extend(["--state-dir", &state]);
        ok(dir, &all)
    }

    /// `tessel ARGS --state-dir STATE`, which must fail saying `says`.
    fn fails(&self, dir: &Path, args: &[&str], says: &str) {
        let mut all = args.to_vec();
        let state = self.state_arg();
        all.extend(["--state-dir", &state]);
        fails(dir, &all, says);
    }

    /// Polls `tessel status --json` until `done` holds.
    fn wait_for(&self, what: &str, done: impl Fn(&StatusAnswer) -> bool) -> StatusAnswer {
        let start = Instant::now();
        loop {
            let out = tessel(
                Path::new("/"),
                &["status", "--json", "--state-dir", &self.state_arg()],
            );
            if out.status.success() {
                let s: StatusAnswer = serde_json::from_slice(&out.stdout).unwrap();
                if done(&s) {
                    return s;
                }
            }
            assert!(start.elapsed() < DEADLINE, "no {what} in {DEADLINE:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The docs of the control API.
fn docs() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/control-api.md");
    std::fs::read_to_string(path).expect("docs/control-api.md")
}

/// The section of the docs about command `cmd`.
fn section(docs: &str, cmd: &str) -> String {
    let head = format!("### `{cmd}`");
    let start = docs
        .find(&head)
        .unwrap_or_else(|| panic!("docs/control-api.md has no section {head}"));
    let rest = &docs[start + head.len()..];
    let end = rest
        .find("\n### ")
        .or(rest.find("\n## "))
        .unwrap_or(rest.len());
    rest[..end].to_owned()
}

/// `stdout` read as a `T` (field for field), every field documented under
/// `cmd`.
fn checked<T: Serialize + DeserializeOwned>(cmd: &str, stdout: &str) -> T {
    let v: Value = serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("`{cmd}` printed no JSON ({e}): {stdout}"));
    let typed = answers::round_trips::<T>(&v).unwrap_or_else(|e| panic!("`{cmd}`: {e}"));
    let docs = section(&docs(), cmd);
    for key in v.as_object().expect("an object").keys() {
        assert!(
            docs.contains(&format!("`{key}`")),
            "docs/control-api.md, `{cmd}`: field `{key}` is not documented"
        );
    }
    typed
}

/// Parses `stdout` as JSON (verbs that do not ask the node).
fn json(what: &str, stdout: &str) -> Value {
    serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("{what} printed no JSON ({e}): {stdout}"))
}

#[test]
fn every_verb_speaks_json_and_whois_names_members() {
    let d = Dir::new("control-cli", "nodes");
    let dir = d.path();

    // Verbs that need no node.
    let net = json("network new", &ok(dir, &["network", "new", "--json"]));
    let key = net["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("tessel-net-"), "{net}");
    let owner = json(
        "network owner",
        &ok(dir, &["network", "owner", "--out", "owner.key", "--json"]),
    );
    assert!(owner["owner"]
        .as_str()
        .unwrap()
        .starts_with("tessel-owner-"));
    let shown = json(
        "scope key show",
        &ok(
            dir,
            &["scope", "key", "show", "--key", "owner.key", "--json"],
        ),
    );
    assert_eq!(shown["owner"], owner["owner"]);
    json(
        "scope key new",
        &ok(
            dir,
            &["scope", "key", "new", "--out", "scope.key", "--json"],
        ),
    );
    let node_b_key = tessel_overlay::identity::NodeKey::from_seed([7; 32]);
    let member = node_b_key.id().to_string();
    let cert = json(
        "network sign",
        &ok(
            dir,
            &[
                "network",
                "sign",
                &member,
                "--key",
                "owner.key",
                "--network",
                &key,
                "--name",
                "web",
                "--group",
                "ops",
                "--json",
            ],
        ),
    );
    assert!(cert["certificate"]
        .as_str()
        .unwrap()
        .starts_with("tessel-cert-"));
    assert_eq!(cert["groups"], serde_json::json!(["ops"]));
    let list = json(
        "network revoke",
        &ok(
            dir,
            &[
                "network",
                "revoke",
                &member,
                "--key",
                "owner.key",
                "--network",
                &key,
                "--json",
            ],
        ),
    );
    assert_eq!(list["members"], serde_json::json!([member]));
    let list_text = list["list"].as_str().unwrap().to_owned();

    // Two nodes, B joining through A.
    let a = Node::start(dir, "a", &key, None, &[]);
    let a_status = a.wait_for("A's status", |_| true);
    let a_listen = a_status.node.listen.clone();
    let b = Node::start(dir, "b", &key, Some(&a_listen), &[]);
    let a_id = a_status.node.node_id.clone();
    b.wait_for("a session with A", |s| {
        s.node
            .peers
            .iter()
            .any(|p| p.node_id == a_id && p.connected)
    });

    // The verbs that ask the node: their answers, field for field.
    let s: StatusAnswer = checked("status", &b.ok(dir, &["status", "--json"]));
    let peer = s.node.peers.iter().find(|p| p.node_id == a_id).unwrap();
    assert_eq!(peer.transport.as_deref(), Some("udp"));
    assert!(peer.last_seen_ago_secs.is_some());
    let ip: IpAnswer = checked("ip", &b.ok(dir, &["ip", "--json"]));
    assert_eq!(ip.node_id, s.node.node_id);
    let ping = b.ok(dir, &["ping", &a_id, "-c", "1", "--json"]);
    let pong: PingAnswer = checked("ping", ping.lines().next().unwrap());
    assert_eq!(pong.peer, a_id);
    let engines: EngineListAnswer =
        checked("engine_list", &b.ok(dir, &["engine", "list", "--json"]));
    assert_eq!(
        engines.node.len(),
        64,
        "the node's key in hex: {}",
        engines.node
    );

    // whois: by node ID, by either address, and this node itself.
    for target in [a_id.clone(), peer.ipv6.clone(), peer.ipv4.clone().unwrap()] {
        let w: WhoisAnswer = checked("whois", &b.ok(dir, &["whois", &target, "--json"]));
        assert!(!w.this_node, "{target}");
        assert_eq!(w.member.node_id, a_id, "{target}");
        assert_eq!(w.member.path.as_deref(), Some("direct"), "{target}");
        assert_eq!(w.member.endpoint.as_deref(), Some(a_listen.as_str()));
        assert!(w.member.rtt_ms.is_some(), "{target}: a session has an RTT");
    }
    let own: WhoisAnswer = checked("whois", &b.ok(dir, &["whois", &ip.ipv6, "--json"]));
    assert!(own.this_node);
    assert_eq!(own.member.node_id, ip.node_id);
    let text = b.ok(dir, &["whois", &a_id]);
    for said in [a_id.as_str(), "direct to", "rtt", "last seen"] {
        assert!(text.contains(said), "whois text lacks {said}: {text}");
    }
    b.fails(dir, &["whois", &member], "no member");
    b.fails(
        dir,
        &["whois", "somebody"],
        "no member holds the name `somebody`",
    );
    b.fails(dir, &["whois", "some_body!"], "neither a node ID");

    // Errors come through the API with their message.
    b.fails(dir, &["tile", "status", "--json"], "hosts no tile");
    b.fails(dir, &["scope", "list"], "scopes are not enabled");
    let out = tessel(
        dir,
        &["scope", "list", "--json", "--state-dir", &b.state_arg()],
    );
    assert!(!out.status.success());
    let err = json("scope list", &String::from_utf8_lossy(&out.stdout));
    assert_eq!(err["error"]["code"], "disabled", "{err}");
    b.fails(
        dir,
        &["network", "revocations", &list_text, "--json"],
        "not in managed mode",
    );

    // Root or the daemon's user (this test's user) may rotate and stop.
    let r: RotateAnswer = checked(
        "network_rotate",
        &b.ok(dir, &["network", "rotate", "--grace", "60s", "--json"]),
    );
    assert_eq!(r.epoch, 1);
    assert!(r.key.starts_with("tessel-net-"));
    let down = json("down", &b.ok(dir, &["down", "--json"]));
    assert_eq!(down["stopped"], true);
    b.fails(dir, &["status"], "no tessel node is running");
    // `tessel ip` still answers, from the state dir.
    let offline: IpAnswer = serde_json::from_str(&b.ok(dir, &["ip", "--json"])).unwrap();
    assert_eq!(offline, ip);
    drop(a);
}

/// The node ID of the node whose state dir is `state` (made on first use).
fn node_id(state: &Path) -> String {
    StateDir::open(state)
        .unwrap()
        .node_key()
        .unwrap()
        .id()
        .to_string()
}

#[test]
fn whois_in_a_managed_network_shows_the_certificate() {
    let d = Dir::new("control-cli", "managed");
    let dir = d.path();
    let key = json("network new", &ok(dir, &["network", "new", "--json"]))["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let owner = json(
        "network owner",
        &ok(dir, &["network", "owner", "--out", "owner.key", "--json"]),
    )["owner"]
        .as_str()
        .unwrap()
        .to_owned();
    for (name, group) in [("a", "ops"), ("b", "dev")] {
        let id = node_id(&dir.join(name));
        let cert = format!("{name}.cert");
        let signed = json(
            "network sign",
            &ok(
                dir,
                &[
                    "network",
                    "sign",
                    &id,
                    "--key",
                    "owner.key",
                    "--network",
                    &key,
                    "--name",
                    &format!("web-{name}"),
                    "--group",
                    group,
                    "--out",
                    &cert,
                    "--json",
                ],
            ),
        );
        assert_eq!(signed["file"], cert.as_str(), "{signed}");
    }
    let managed = |name: &str| {
        [
            "--owner".to_owned(),
            owner.clone(),
            "--cert".to_owned(),
            format!("@{}", dir.join(format!("{name}.cert")).display()),
        ]
    };
    let a_args = managed("a");
    let a_args: Vec<&str> = a_args.iter().map(String::as_str).collect();
    let a = Node::start(dir, "a", &key, None, &a_args);
    let a_status = a.wait_for("A's status", |_| true);
    let a_id = a_status.node.node_id.clone();
    let b_args = managed("b");
    let b_args: Vec<&str> = b_args.iter().map(String::as_str).collect();
    let b = Node::start(dir, "b", &key, Some(&a_status.node.listen), &b_args);
    b.wait_for("a session with A", |s| {
        s.node
            .peers
            .iter()
            .any(|p| p.node_id == a_id && p.connected)
    });

    let s: StatusAnswer = checked("status", &b.ok(dir, &["status", "--json"]));
    let m = s.node.managed.as_ref().expect("managed mode");
    assert_eq!(
        (m.name.as_str(), m.owner.as_str()),
        ("web-b", owner.as_str())
    );
    let w: WhoisAnswer = checked("whois", &b.ok(dir, &["whois", &a_id, "--json"]));
    let cert = w.member.certificate.expect("A's certificate");
    assert_eq!(cert.name, "web-a");
    assert_eq!(cert.groups, ["ops"]);
    assert!(cert.not_after > m.not_after - 60 && cert.not_after < m.not_after + 60);
    let own: WhoisAnswer = checked("whois", &b.ok(dir, &["whois", &s.node.ipv4, "--json"]));
    assert_eq!(own.member.certificate.expect("its own").groups, ["dev"]);
    let text = b.ok(dir, &["whois", &a_id]);
    for said in ["\"web-a\"", "ops", "cert until"] {
        assert!(text.contains(said), "whois text lacks {said}: {text}");
    }

    // A revocation list of a member that never joined closes no session.
    let stranger = tessel_overlay::identity::NodeKey::from_seed([9; 32])
        .id()
        .to_string();
    let list = json(
        "network revoke",
        &ok(
            dir,
            &[
                "network",
                "revoke",
                &stranger,
                "--key",
                "owner.key",
                "--network",
                &key,
                "--json",
            ],
        ),
    );
    let list = list["list"].as_str().unwrap();
    let r: RevocationsAnswer = checked(
        "network_revocations",
        &b.ok(dir, &["network", "revocations", list, "--json"]),
    );
    assert_eq!(r.sessions_closed, 0);

    // Only the owner rotates the key of a managed network: B refuses on its
    // own, takes the owner-signed rotation, and hands it to A.
    b.fails(
        dir,
        &["network", "rotate", "--grace", "60s"],
        "only the owner rotates",
    );
    b.fails(
        dir,
        &["network", "rotate", "--owner-key", "missing.key"],
        "owner key file",
    );
    let r: RotateAnswer = checked(
        "network_rotate",
        &b.ok(
            dir,
            &[
                "network",
                "rotate",
                "--grace",
                "60s",
                "--owner-key",
                "owner.key",
                "--json",
            ],
        ),
    );
    assert_eq!(r.epoch, 1);
    assert!(r.old_key_refused_after_unix_ms.is_some());
    let saved = StateDir::open(&dir.join("b")).unwrap();
    assert_eq!(*saved.network_key().unwrap().unwrap().to_text(), r.key);
    assert!(saved.signed_rotation().unwrap().is_some());
    a.wait_for("the owner's new key", |s| s.node.network_key.epoch == 1);

    // The owner hands the network to a new owner key: B takes it and
    // passes it to A; the old key can sign no second handover.
    let owner2 = json(
        "network owner",
        &ok(dir, &["network", "owner", "--out", "owner2.key", "--json"]),
    )["owner"]
        .as_str()
        .unwrap()
        .to_owned();
    let handover = [
        "network",
        "handover",
        &owner2,
        "--owner-key",
        "owner.key",
        "--grace",
        "1h",
    ];
    let h: HandoverAnswer = checked(
        "network_handover",
        &b.ok(dir, &[&handover[..], &["--json"]].concat()),
    );
    assert_eq!(h.owner, owner2);
    assert_eq!(saved.owner_handovers().unwrap().len(), 1);
    a.wait_for("the new owner", |s| {
        s.node.managed.as_ref().is_some_and(|m| m.owner == owner2)
    });
    b.fails(dir, &handover, "holds this handover already");
    let mut later = handover;
    later[6] = "2h";
    b.fails(dir, &later, "the network's owner is");
    drop((a, b));
}
