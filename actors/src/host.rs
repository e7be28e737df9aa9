//! The host side: what a transport needs from the node that runs it, and a
//! pump that hands the transport's outputs to a host.
//!
//! A host provides reliable ordered byte streams to members by node ID
//! (kernel TCP over overlay addresses, the userspace stack's sockets, or
//! memory in tests) and a store of small signed records kept at the members
//! nearest a key. It reports stream and record events back through the
//! transport's `handle_*` methods. The node's signing key is given to
//! [`crate::Transport::new`] and held by its key holder.

use crate::ids::{ConnId, NodeId};
use crate::output::Output;
use crate::transport::Transport;

/// What a transport asks of its host.
pub trait Host {
    /// Opens a stream to `peer`; later report `handle_stream_open` or
    /// `handle_open_failed`.
    fn open(&mut self, peer: NodeId);
    /// Writes bytes on a stream, in order.
    fn write(&mut self, conn: ConnId, bytes: Vec<u8>);
    /// Closes a stream.
    fn close(&mut self, conn: ConnId);
    /// Stores a record under `key`.
    fn publish(&mut self, key: [u8; 32], record: Vec<u8>);
    /// Looks up the records under `key`; later report `handle_record`.
    fn fetch(&mut self, key: [u8; 32]);
}

/// Hands every pending output of `t` to `host`; returns how many.
pub fn drive(t: &mut Transport, host: &mut impl Host) -> usize {
    let mut n = 0;
    while let Some(o) = t.poll_output() {
        n += 1;
        match o {
            Output::Open { peer } => host.open(peer),
            Output::Write { conn, bytes } => host.write(conn, bytes),
            Output::Close { conn } => host.close(conn),
            Output::Publish { key, record } => host.publish(key, record),
            Output::Fetch { key } => host.fetch(key),
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::ids::{EngineAddr, Time};
    use crate::keys::Persistence;

    #[derive(Default)]
    struct Recorder(Vec<String>);

    impl Host for Recorder {
        fn open(&mut self, _: NodeId) {
            self.0.push("open".into());
        }
        fn write(&mut self, _: ConnId, b: Vec<u8>) {
            self.0.push(format!("write {}", b.len()));
        }
        fn close(&mut self, _: ConnId) {
            self.0.push("close".into());
        }
        fn publish(&mut self, key: [u8; 32], _: Vec<u8>) {
            self.0.push(format!("publish {}", key[0]));
        }
        fn fetch(&mut self, key: [u8; 32]) {
            self.0.push(format!("fetch {}", key[0]));
        }
    }

    #[test]
    fn drive_hands_every_output_over() {
        let mut t = Transport::new(Config::default(), &[1; 32], [2; 32]);
        t.set_time(Time(10));
        let e = t.start_engine(Persistence::Ephemeral);
        t.cast(e, EngineAddr([7; 32]), vec![1]).unwrap();
        let mut h = Recorder::default();
        assert_eq!(drive(&mut t, &mut h), 2);
        assert_eq!(
            h.0,
            vec![format!("publish {}", e.0[0]), "fetch 7".to_owned()]
        );
        assert_eq!(drive(&mut t, &mut h), 0);
    }
}
