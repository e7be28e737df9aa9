//! `tessel network` managed-mode commands, run as a user would: the owner
//! key, member certificates, revocation lists, and `tessel up` refusing a
//! certificate that is not good for its node.

use tessel_overlay::identity::{
    MemberCert, MembershipError, NetworkKey, NodeKey, OwnerId, OwnerKey, RevocationList,
};

mod cli;

use cli::{fails, ok, Dir};

fn node(n: u8) -> String {
    NodeKey::from_seed([n; 32]).id().to_string()
}

fn numbered_node(n: u32) -> String {
    let mut seed = [0xab; 32];
    seed[..4].copy_from_slice(&n.to_be_bytes());
    NodeKey::from_seed(seed).id().to_string()
}

#[test]
fn the_owner_signs_certificates_and_revocation_lists() {
    let d = Dir::new("network-cli", "sign");
    let dir = d.path();
    let owner = ok(dir, &["network", "owner", "--out", "owner.key"]);
    let owner = OwnerId::parse(&owner).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("owner.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    fails(
        dir,
        &["network", "owner", "--out", "owner.key"],
        "never overwritten",
    );
    let net = ok(dir, &["network", "new"]);
    std::fs::write(dir.join("net.key"), &net).unwrap();
    let network = NetworkKey::parse(&net).unwrap().id();

    let member = node(1);
    let text = ok(
        dir,
        &[
            "network",
            "sign",
            &member,
            "--key",
            "owner.key",
            "--network",
            "@net.key",
            "--name",
            "web-1",
            "--for",
            "30d",
            "--group",
            "ops",
            "--group",
            "db",
        ],
    );
    let cert = MemberCert::from_text(&text).unwrap();
    let id = NodeKey::from_seed([1; 32]).id();
    let now = cert.not_after() - 30 * 86_400;
    assert_eq!(cert.verify(&owner, &network, &id, now + 1), Ok(()));
    assert_eq!(
        (cert.name(), cert.groups()),
        ("web-1".into(), vec!["ops".into(), "db".into()])
    );
    let nine: Vec<String> = (0..9)
        .flat_map(|i| ["--group".into(), format!("g{i}")])
        .collect();
    let mut args = vec![
        "network",
        "sign",
        &member,
        "--key",
        "owner.key",
        "--network",
        "@net.key",
    ];
    args.extend(nine.iter().map(String::as_str));
    fails(dir, &args, "at most 8 groups");
    fails(
        dir,
        &[
            "network",
            "sign",
            "tessel-node-nope",
            "--key",
            "owner.key",
            "--network",
            "@net.key",
        ],
        "invalid node ID",
    );

    // Revoke by certificate, then extend the list by node ID.
    std::fs::write(dir.join("web-1.cert"), &text).unwrap();
    ok(
        dir,
        &[
            "network",
            "revoke",
            "@web-1.cert",
            "--key",
            "owner.key",
            "--network",
            "@net.key",
            "--out",
            "revoked.txt",
        ],
    );
    let first =
        RevocationList::from_text(&std::fs::read_to_string(dir.join("revoked.txt")).unwrap())
            .unwrap();
    assert_eq!(first.verify(&owner, &network), Ok(()));
    assert!(first.names(&id));
    assert_eq!(first.entries()[0].not_after, cert.not_after());
    let second = ok(
        dir,
        &[
            "network",
            "revoke",
            &node(2),
            "--list",
            "@revoked.txt",
            "--key",
            "owner.key",
            "--network",
            "@net.key",
        ],
    );
    let second = RevocationList::from_text(&second).unwrap();
    assert!(second.serial() > first.serial());
    assert!(second.names(&id) && second.names(&NodeKey::from_seed([2; 32]).id()));
    // Another owner's list is not extended.
    ok(dir, &["network", "owner", "--out", "other.key"]);
    fails(
        dir,
        &[
            "network",
            "revoke",
            &node(3),
            "--list",
            "@revoked.txt",
            "--key",
            "other.key",
            "--network",
            "@net.key",
        ],
        "not this owner's",
    );
    // A thousand members fit in one list; past the cap, a clear refusal.
    let many: Vec<String> = (0..4097u32).map(numbered_node).collect();
    let revoke = |n: usize| {
        let mut args = vec![
            "network",
            "revoke",
            "--key",
            "owner.key",
            "--network",
            "@net.key",
        ];
        args.extend(many[..n].iter().map(String::as_str));
        args
    };
    let text = ok(dir, &revoke(1000));
    let long = RevocationList::from_text(text.trim()).unwrap();
    assert_eq!(long.entries().len(), 1000);
    fails(dir, &revoke(4097), "at most 4096 members");
    // A node that runs no daemon cannot take a list.
    fails(
        dir,
        &[
            "network",
            "revocations",
            "@revoked.txt",
            "--state-dir",
            "state",
            "--runtime-dir",
            "run",
        ],
        "no tessel node is running",
    );
}

#[test]
fn up_refuses_a_certificate_that_is_not_good_for_this_node() {
    let d = Dir::new("network-cli", "up");
    let dir = d.path();
    let owner = OwnerKey::from_seed([5; 32]);
    let net = NetworkKey::from_secret([6; 32]);
    std::fs::write(dir.join("net.key"), net.to_text().as_str()).unwrap();
    let state = dir.join("state");
    let up = |cert: &MemberCert, says: &str| {
        std::fs::write(dir.join("c.cert"), cert.to_text()).unwrap();
        fails(
            dir,
            &[
                "up",
                "--state-dir",
                state.to_str().unwrap(),
                "--runtime-dir",
                "run",
                "--network",
                "@net.key",
                "--owner",
                &owner.id().to_string(),
                "--cert",
                "@c.cert",
                "--userspace",
            ],
            says,
        );
    };
    // The state dir's node is made on first use: another node's certificate.
    let other = NodeKey::from_seed([7; 32]).id();
    let far = 4_000_000_000;
    up(
        &MemberCert::sign(&owner, &net.id(), &other, "x", far, &[]).unwrap(),
        &MembershipError::OtherNode.to_string(),
    );
    let this = tessel_overlay::driver::state_dir::StateDir::open(&state)
        .unwrap()
        .node_key()
        .unwrap()
        .id();
    up(
        &MemberCert::sign(&owner, &net.id(), &this, "x", 1000, &[]).unwrap(),
        "expired",
    );
    let stranger = OwnerKey::from_seed([8; 32]);
    up(
        &MemberCert::sign(&stranger, &net.id(), &this, "x", far, &[]).unwrap(),
        "not signed by the network owner",
    );
    up(
        &MemberCert::sign(
            &owner,
            &NetworkKey::from_secret([1; 32]).id(),
            &this,
            "x",
            far,
            &[],
        )
        .unwrap(),
        "for another network",
    );
}
