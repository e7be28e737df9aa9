//! `tessel scope` signing commands, run as a user would: owner keys, scope
//! creations, grants, read capabilities and revocations, and the errors
//! for bad input.

mod cli;

use cli::{fails, ok, Dir};

#[test]
fn owner_keys_sign_scopes_and_access_records() {
    let d = Dir::new("scope-cli", "sign");
    let dir = d.path();
    let root = ok(dir, &["scope", "key", "new", "--out", "root.key"]);
    assert!(root.starts_with("tessel-owner-"), "{root}");
    assert_eq!(
        ok(dir, &["scope", "key", "show", "--key", "root.key"]),
        root
    );
    let team = ok(dir, &["scope", "key", "new", "--out", "team.key"]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("root.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    fails(
        dir,
        &["scope", "key", "new", "--out", "root.key"],
        "never overwritten",
    );

    let org = ok(
        dir,
        &[
            "scope", "create", "/org", "--owner", &team, "--key", "root.key", "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&org).unwrap();
    assert_eq!(v["kind"], "ScopeCreate");
    assert_eq!(v["scope"], "/org");
    assert_eq!(v["owner"], team.as_str());
    assert_eq!(v["signer"], root.as_str());
    assert_eq!(v["world_readable"], false);
    assert!(v["record"]
        .as_str()
        .unwrap()
        .starts_with("tessel-scoperecord-"));

    let node = tessel_overlay::identity::NodeKey::from_seed([7; 32])
        .id()
        .to_string();
    let grant = ok(
        dir,
        &[
            "scope", "grant", "/org", &node, "--for", "7d", "--key", "team.key",
        ],
    );
    let v: serde_json::Value =
        serde_json::from_str(&ok(dir, &["scope", "show", &grant, "--json"])).unwrap();
    assert_eq!(v["kind"], "HostingGrant");
    assert_eq!(v["runtime"], node.as_str());
    let cap = ok(
        dir,
        &[
            "scope", "readcap", "/org", "--for", "2h", "--key", "team.key",
        ],
    );
    std::fs::write(dir.join("cap.rec"), &cap).unwrap();
    let shown = ok(dir, &["scope", "show", "@cap.rec", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(v["kind"], "ReadCap");
    assert_eq!(v["signer"], team.as_str());
    assert!(v["holder"].as_str().unwrap().contains("bearer"));

    fails(
        dir,
        &["scope", "revoke", "@cap.rec", "--key", "root.key"],
        "only its signer",
    );
    let rev = ok(
        dir,
        &["scope", "revoke", "@cap.rec", "--key", "team.key", "--json"],
    );
    let v: serde_json::Value = serde_json::from_str(&rev).unwrap();
    assert_eq!(v["kind"], "Revocation");
    let cap_id: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(v["revokes"], cap_id["id"]);
}

#[test]
fn bad_input_gets_a_clear_error() {
    let d = Dir::new("scope-cli", "bad");
    let dir = d.path();
    ok(dir, &["scope", "key", "new", "--out", "k"]);
    fails(
        dir,
        &["scope", "create", "/Bad", "--key", "k"],
        "invalid scope",
    );
    fails(
        dir,
        &["scope", "create", "/a", "--key", "missing"],
        "reading the owner key file",
    );
    std::fs::write(dir.join("notakey"), "hello").unwrap();
    fails(
        dir,
        &["scope", "create", "/a", "--key", "notakey"],
        "does not hold an owner key",
    );
    fails(
        dir,
        &["scope", "grant", "/a", "tessel-node-xyz", "--key", "k"],
        "expected tessel-node-",
    );
    fails(
        dir,
        &["scope", "readcap", "/a", "--for", "7", "--key", "k"],
        "a number and a unit",
    );
    // One changed character in a record: the checksum catches it.
    let cap = ok(dir, &["scope", "readcap", "/a", "--key", "k"]);
    let mut chars: Vec<char> = cap.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'a' { 'b' } else { 'a' };
    let bad: String = chars.into_iter().collect();
    fails(dir, &["scope", "show", &bad], "not a scope record");
}
