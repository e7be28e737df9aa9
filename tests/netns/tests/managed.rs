//! A managed network in real namespaces: three members with certificates
//! from one owner; a revocation list handed to one member cuts the revoked
//! member off from every member, and a certificate that expires closes its
//! member's sessions.
//!
//! Asserts no timings: each step waits (with a generous bound) for what the
//! members' status shows. It prints (`FIGURE` lines, see `bench/managed.sh`)
//! upper bounds on how long the revocation took to show at A and at B.

// The namespace harness runs real processes against the wall clock.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use tessel_netns::cluster::{wait_full_mesh, MESH_TIMEOUT};
use tessel_netns::process::run_ok;
use tessel_netns::tessel::{self, DEFAULT_PORT};
use tessel_netns::traffic::ping_fails;
use tessel_netns::{Lan, NodeConfig, TempDir, TesselNode};
use tessel_overlay::identity::{MemberCert, NetworkKey, NodeKey, OwnerKey, RevocationList};
use tessel_overlay::wire::revocations::Entry;

// Topology: one LAN (198.51.100.0/24), members B, C and D join through A.
//
//   ns a: A    ns b: B    ns c: C (revoked)    ns d: D (short certificate)

/// How long a revocation or an expiry may take to show.
const TAKES: Duration = Duration::from_secs(30);

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[test]
fn a_revoked_member_is_cut_off_and_an_expiring_one_drops_out() -> Result<()> {
    let key = tessel::new_network_key()?;
    let network = NetworkKey::parse(&key).context("network key")?.id();
    let owner = OwnerKey::from_seed([0x51; 32]);
    let lan = Lan::new(&["a", "b", "c", "d"])?;
    let files = TempDir::new("managed")?;
    let now = unix_now();
    let member = |i: u8, lifetime: u64| -> Result<NodeConfig> {
        let node = NodeKey::from_seed([0x60 + i; 32]);
        let cert = MemberCert::sign(
            &owner,
            &network,
            &node.id(),
            &format!("m{i}"),
            now + lifetime,
            &[],
        )?;
        let path = files.path().join(format!("{i}.cert"));
        std::fs::write(&path, cert.to_text())?;
        let mut cfg = NodeConfig::new(&key)
            .lan_discovery(false)
            .tcp(false)
            .node_key(node.to_text().as_str())
            .extra_args([
                "--owner".to_string(),
                owner.id().to_string(),
                "--cert".to_string(),
                format!("@{}", path.display()),
            ]);
        if i > 0 {
            cfg = cfg.peer(lan.host(0).v4_endpoint(DEFAULT_PORT));
        }
        Ok(cfg)
    };
    let mut a = TesselNode::start("a", lan.host(0).ns.clone(), member(0, 86_400)?)?;
    let mut b = TesselNode::start("b", lan.host(1).ns.clone(), member(1, 86_400)?)?;
    let mut c = TesselNode::start("c", lan.host(2).ns.clone(), member(2, 86_400)?)?;
    wait_full_mesh(&mut [&mut a, &mut b, &mut c], MESH_TIMEOUT)?;
    let c_id = c.node_id()?;

    // The owner revokes C; A is handed the list, B gets it from A.
    let list = RevocationList::sign(
        &owner,
        &network,
        now,
        &[Entry {
            node_id: *NodeKey::from_seed([0x62; 32]).id().as_bytes(),
            not_after: now + 86_400,
        }],
    )?;
    let path = files.path().join("revoked.txt");
    std::fs::write(&path, list.to_text())?;
    let handed = Instant::now();
    let answer = run_ok(
        a.cli(&["network", "revocations", &format!("@{}", path.display())]),
        Duration::from_secs(10),
    )?;
    assert!(answer.contains(&format!("serial {now}")), "{answer}");
    let cut_off = |s: &tessel_netns::Status| {
        !s.is_connected_to(&c_id) && s.0["managed"]["revocations_serial"].as_u64() == Some(now)
    };
    let answered = handed.elapsed();
    a.wait_until("A to drop C", TAKES, cut_off)?;
    b.wait_until("B to take the list from A and drop C", TAKES, cut_off)?;
    eprintln!(
        "FIGURE revocation: `tessel network revocations` answered in {} ms; B's status \
         showed C dropped within {} ms of handing the list to A (status polled every 100 ms)",
        answered.as_millis(),
        handed.elapsed().as_millis()
    );
    ping_fails(&lan.host(2).ns, a.ip()?.v6.into())?;
    ping_fails(&lan.host(2).ns, b.ip()?.v6.into())?;
    // C keeps trying, and is refused.
    a.wait_until("A to refuse C", TAKES, |s| {
        s.0["drops"]["revoked"].as_u64().unwrap_or(0) > 0 && !s.is_connected_to(&c_id)
    })?;

    // D's certificate runs out ten seconds after it starts.
    let lifetime = unix_now() - now + 10;
    let mut d = TesselNode::start("d", lan.host(3).ns.clone(), member(3, lifetime)?)?;
    let d_id = d.node_id()?;
    a.wait_until("A to connect to D", TAKES, |s| s.is_connected_to(&d_id))?;
    a.wait_until("A to drop D when its certificate expires", TAKES, |s| {
        !s.is_connected_to(&d_id)
    })?;
    ping_fails(&lan.host(3).ns, a.ip()?.v6.into())?;
    for n in [&mut a, &mut b, &mut c, &mut d] {
        n.stop()?;
    }
    Ok(())
}
