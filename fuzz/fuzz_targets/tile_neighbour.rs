#![no_main]
//! Arbitrary packets from every direction into a node (neighbour model plus
//! file update and physics services): it never panics, never hands
//! malformed bytes on, and counts every packet it drops.
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use tessel_tile_link::dir::ALL;
use tessel_tile_link::file::MemStore;
use tessel_tile_link::tile::Event;
use tessel_tile_link::wire::{self, Kind};
use tessel_tile_link::{Node, NodeConfig, NodeEvent};

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let mut node = Node::new(NodeConfig::default(), MemStore::new(), now);
    node.tile_mut().open_mfm().unwrap();
    for d in ALL {
        node.handle_link_up(now, d);
        node.handle_link_credit(d, 64);
    }
    // Each input is a sequence of (direction byte, length byte, packet).
    let mut rest = data;
    while let [d, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let dir = ALL[usize::from(d & 7)];
        node.handle_packet(now + Duration::from_millis(1), dir, &tail[..n]);
        rest = &tail[n..];
    }
    node.handle_timeout(now + Duration::from_secs(60));
    while node.poll_transmit().is_some() {}
    while let Some(e) = node.poll_event() {
        if let NodeEvent::Tile(Event::Mfm { packet, .. }) = e {
            assert!(matches!(
                wire::classify(&packet),
                Ok(Kind::Mfm | Kind::Local(_))
            ));
        }
    }
    for d in ALL {
        let c = node.tile().counters(d);
        let passed: u64 = c.rx_mfm + c.rx_service + c.rx_local.iter().sum::<u64>();
        assert_eq!(c.rx_packets, passed + c.rx_dropped());
    }
});
