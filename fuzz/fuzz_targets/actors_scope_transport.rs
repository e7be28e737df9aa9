#![no_main]
//! A transport hosting scopes, a member of the root cluster, fed arbitrary
//! bytes on a stream from a peer (after a valid scope frame of each type so
//! that the interesting paths are reached): it drops and counts, never
//! panics, and keeps no more than its limits allow.
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use tessel_actors::scope::{Body, Record, ScopePath, SECTOR};
use tessel_actors::{Config, ConnId, NodeId, Persistence, Time, Transport};

fuzz_target!(|data: &[u8]| {
    let root = SigningKey::from_bytes(&[9; 32]);
    let config = Config {
        scope_root: Some(root.verifying_key().to_bytes()),
        ..Config::default()
    };
    let mut t = Transport::new(config, &[1; 32], [2; 32]);
    t.set_time(Time(1_000));
    let me = t.node_id();
    let create = Record::sign(
        Body::ScopeCreate {
            path: ScopePath::root(),
            owner: root.verifying_key().to_bytes(),
            world_readable: true,
            issued: Time(1),
        },
        &root,
    )
    .unwrap();
    t.scope_add_record(create).unwrap();
    let grant = Record::sign(
        Body::HostingGrant {
            scope: ScopePath::root(),
            runtime: me,
            expires: Time(10_000_000),
        },
        &root,
    )
    .unwrap();
    t.set_scope_bootstrap(vec![me]);
    t.scope_register(ScopePath::root(), SECTOR, None, grant).unwrap();
    t.start_engine(Persistence::Ephemeral);
    t.handle_stream_open(ConnId(1), NodeId([3; 32]), false, Time(2_000));
    for chunk in data.chunks(61) {
        t.handle_bytes(ConnId(1), chunk, Time(2_000));
    }
    while t.poll_output().is_some() {}
    while t.poll_notice().is_some() {}
    t.handle_timeout(Time(10_000_000));
    assert!(t.scope_clusters().len() <= 1);
});
