#![no_main]
//! A transport hosting scopes, a member of the root cluster, fed arbitrary
//! bytes on a stream from a peer (after a valid scope frame of each type so
//! that the interesting paths are reached): it drops and counts, never
//! panics, and keeps no more than its limits allow.
use libfuzzer_sys::fuzz_target;
use tessel_actors::scope::fixture;
use tessel_actors::{Config, ConnId, NodeId, Persistence, Time};

fuzz_target!(|data: &[u8]| {
    let mut t = fixture::root_member(9, Config::default(), Time(1_000));
    let me = t.node_id();
    t.set_scope_bootstrap(vec![me]);
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
