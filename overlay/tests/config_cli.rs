//! The config file from the command line, as a user meets it: `tessel
//! config check` on the example file and on files with each kind of
//! problem (each told with its line, text and JSON), and `tessel up`
//! refusing a missing or invalid file before it starts anything.

mod cli;

use cli::{fails, ok, tessel, Dir};

/// The example config file of the package.
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../packaging/tessel.toml");

#[test]
fn the_example_file_checks_ok() {
    let dir = Dir::new("config-cli", "example");
    assert_eq!(ok(dir.path(), &["config", "check", EXAMPLE]), "ok");
    let json: serde_json::Value =
        serde_json::from_str(&ok(dir.path(), &["config", "check", "--json", EXAMPLE])).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["problems"].as_array().map(Vec::len), Some(0));
}

/// Runs `tessel config check FILE` on `text`: it must fail; returns its
/// stdout lines.
fn check_fails(dir: &Dir, name: &str, text: &str) -> Vec<String> {
    let file = dir.path().join(name);
    std::fs::write(&file, text).unwrap();
    let o = tessel(dir.path(), &["config", "check", file.to_str().unwrap()]);
    assert!(!o.status.success(), "{name} passed the check");
    let prefix = format!("{}:", file.display());
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            l.strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("{l} does not start with the file"))
                .to_owned()
        })
        .collect()
}

#[test]
fn each_kind_of_problem_is_told_with_its_line() {
    let dir = Dir::new("config-cli", "problems");
    let syntax = check_fails(
        &dir,
        "syntax.toml",
        "listen = \"[::]:9740\"\npeer = [\"198.51.100.1:9740\"\n",
    );
    assert_eq!(syntax.len(), 1);
    assert!(syntax[0].contains("TOML syntax"), "{syntax:?}");
    let lines = check_fails(
        &dir,
        "keys.toml",
        "# problems on lines 2, 3, 5 and 6\n\
         peers = [\"198.51.100.1:9740\"]\n\
         no-relay = \"yes\"\n\
         interface = \"tessel0\"\n\
         listen = \"9740\"\n\
         ipv4-range = \"100.64.0.0/4\"\n",
    );
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines[0].starts_with("2:1: peers: unknown key: did you mean `peer`?"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("3:12: no-relay: takes true or false"),
        "{lines:?}"
    );
    assert!(
        lines[2].starts_with("5:10: listen: invalid value \"9740\""),
        "{lines:?}"
    );
    assert!(
        lines[3].starts_with("6:14: ipv4-range: invalid value") && lines[3].contains("/4"),
        "{lines:?}"
    );
    let conflict = check_fails(&dir, "conflict.toml", "\nsocks5 = \"127.0.0.1:1080\"\n");
    assert_eq!(
        conflict,
        ["2:1: socks5: needs `userspace` as well (a key or a flag)"]
    );
}

#[test]
fn json_lists_the_problems_with_line_column_and_key() {
    let dir = Dir::new("config-cli", "json");
    let file = dir.path().join("t.toml");
    std::fs::write(&file, "stack-memory = \"lots\"\n").unwrap();
    let o = tessel(
        dir.path(),
        &["config", "check", "--json", file.to_str().unwrap()],
    );
    assert!(!o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["file"], file.display().to_string());
    let p = &v["problems"][0];
    assert_eq!(
        (p["line"].as_u64(), p["column"].as_u64()),
        (Some(1), Some(16))
    );
    assert_eq!(p["key"], "stack-memory");
    assert!(p["message"].as_str().unwrap().contains("takes an integer"));
}

#[test]
fn up_refuses_a_missing_or_invalid_file_before_starting() {
    let dir = Dir::new("config-cli", "up");
    let state = dir.path().join("state");
    let state = state.to_str().unwrap();
    let missing = dir.path().join("missing.toml");
    fails(
        dir.path(),
        &[
            "up",
            "--state-dir",
            state,
            "--config",
            missing.to_str().unwrap(),
        ],
        "missing.toml",
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "userspace = true\nlisten = \"nowhere\"\n").unwrap();
    fails(
        dir.path(),
        &[
            "up",
            "--state-dir",
            state,
            "--config",
            bad.to_str().unwrap(),
        ],
        "bad.toml:2:10: listen: invalid value \"nowhere\"",
    );
    // A flag does not hide a bad key: the file is refused as a whole.
    fails(
        dir.path(),
        &[
            "up",
            "--state-dir",
            state,
            "--listen",
            "127.0.0.1:9",
            "--config",
            bad.to_str().unwrap(),
        ],
        "bad.toml:2:10",
    );
    assert!(!std::path::Path::new(state).exists(), "nothing was started");
    fails(
        dir.path(),
        &["config", "check", missing.to_str().unwrap()],
        "missing.toml",
    );
}

/// A network key written into a file that others may read is allowed, with
/// a warning at its line; as `@FILE`, or in a file of mode 0600, it is not
/// worth one.
#[test]
fn a_secret_in_a_readable_file_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Dir::new("config-cli", "secret");
    let file = dir.path().join("t.toml");
    let key = "tessel-net-aaaa";
    std::fs::write(&file, format!("\nnetwork = \"{key}\"\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = ok(dir.path(), &["config", "check", file.to_str().unwrap()]);
    let mut lines = out.lines();
    let warning = lines.next().unwrap();
    assert!(
        warning.starts_with(&format!("{}:2:1: network: warning:", file.display())),
        "{out}"
    );
    assert!(
        !warning.contains(key),
        "the warning shows the key: {warning}"
    );
    assert_eq!(lines.next(), Some("ok"));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(
        ok(dir.path(), &["config", "check", file.to_str().unwrap()]),
        "ok"
    );
    std::fs::write(&file, "network = \"@/etc/tessel/network.key\"\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(
        ok(dir.path(), &["config", "check", file.to_str().unwrap()]),
        "ok"
    );
}
