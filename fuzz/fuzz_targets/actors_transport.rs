#![no_main]
//! A transport fed arbitrary bytes on a stream from a peer: it drops and
//! counts, and never panics.
use libfuzzer_sys::fuzz_target;
use tessel_actors::{Config, ConnId, NodeId, Persistence, Time, Transport};

fuzz_target!(|data: &[u8]| {
    let mut t = Transport::new(Config::default(), &[1; 32], [2; 32]);
    t.start_engine(Persistence::Ephemeral);
    t.handle_stream_open(ConnId(1), NodeId([3; 32]), false, Time(1_000));
    for chunk in data.chunks(61) {
        t.handle_bytes(ConnId(1), chunk, Time(2_000));
    }
    while t.poll_output().is_some() {}
    t.handle_timeout(Time(10_000_000));
});
