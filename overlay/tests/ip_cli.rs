//! `tessel ip` without a running node, as a user runs it: a clear error
//! before the node ever ran, then the addresses from the state dir, as
//! text and as JSON (the same addresses).

use tessel_overlay::driver::state_dir::StateDir;
use tessel_overlay::identity::NetworkKey;

mod cli;

use cli::{fails, ok, Dir};

#[test]
fn ip_prints_the_addresses_as_text_and_json() {
    let dir = Dir::new("ip-cli", "state");
    let state = dir.path().join("state");
    let state_arg = state.display().to_string();
    fails(
        dir.path(),
        &["ip", "--state-dir", &state_arg],
        "no network key",
    );
    let opened = StateDir::open(&state).unwrap();
    opened
        .save_network_key(&NetworkKey::from_secret([5; 32]))
        .unwrap();
    let node = opened.node_key().unwrap().id().to_string();
    let text = ok(dir.path(), &["ip", "--state-dir", &state_arg]);
    let json: serde_json::Value = serde_json::from_str(&ok(
        dir.path(),
        &["ip", "--json", "--state-dir", &state_arg],
    ))
    .unwrap();
    assert_eq!(json["node_id"], node.as_str());
    let ipv6: std::net::Ipv6Addr = json["ipv6"].as_str().unwrap().parse().unwrap();
    let ipv4: std::net::Ipv4Addr = json["ipv4"].as_str().unwrap().parse().unwrap();
    assert_eq!(text, format!("{ipv6}\n{ipv4}"));
    assert_eq!(ipv4.octets()[0], 100);
    assert_eq!(ipv4.octets()[1] & 0xc0, 64);
}
