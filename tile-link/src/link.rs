//! The host's side of the intertile links, as a trait: what the daemon
//! implements over the overlay (one session per neighbour, reliable and in
//! order while the neighbour is present), and what tests implement in
//! memory.
//!
//! The machines themselves stay sans-IO; [`flush`] is the one place that
//! moves their output onto links: it tells the node each present link's
//! free space, then sends what the node hands out.

use crate::dir::Dir;
use crate::file::Store;
use crate::node::Node;

/// The links from one tile to its neighbours.
pub trait Links {
    /// Packets the link to `dir` can take now without blocking.
    fn free(&self, dir: Dir) -> u32;

    /// Carries `packet` to the neighbour in `dir`. Called at most
    /// [`Links::free`] times per direction per [`flush`].
    fn send(&mut self, dir: Dir, packet: Vec<u8>);
}

/// Sends everything `node` may send now over `links`; returns the packets
/// sent.
pub fn flush<S: Store>(node: &mut Node<S>, links: &mut impl Links) -> usize {
    let present: Vec<Dir> = node.tile().present().collect();
    for d in present {
        node.handle_link_credit(d, links.free(d));
    }
    let mut sent = 0;
    while let Some(t) = node.poll_transmit() {
        links.send(t.dir, t.packet);
        sent += 1;
    }
    sent
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::file::MemStore;
    use crate::node::NodeConfig;

    /// Links with a fixed free space per direction, recording what they
    /// carry.
    struct Fixed {
        free: [u32; 8],
        sent: Vec<(Dir, Vec<u8>)>,
    }

    impl Links for Fixed {
        fn free(&self, dir: Dir) -> u32 {
            self.free[dir.index()]
        }
        fn send(&mut self, dir: Dir, packet: Vec<u8>) {
            self.free[dir.index()] -= 1;
            self.sent.push((dir, packet));
        }
    }

    #[test]
    fn flush_respects_each_links_free_space() {
        let now = Instant::now();
        let mut node = Node::new(NodeConfig::default(), MemStore::new(), now);
        node.tile_mut().open_mfm().unwrap();
        node.handle_link_up(now, Dir::East);
        node.handle_link_up(now, Dir::West);
        while node.poll_event().is_some() {}
        for b in 0..3 {
            node.tile_mut().send_mfm(Dir::East, &[0xa2, b]).unwrap();
        }
        node.tile_mut().send_mfm(Dir::West, &[0xa6, 9]).unwrap();
        let mut links = Fixed {
            free: [0, 0, 2, 0, 0, 0, 5, 0],
            sent: Vec::new(),
        };
        assert_eq!(flush(&mut node, &mut links), 3);
        assert_eq!(
            links.sent,
            vec![
                (Dir::East, vec![0xa2, 0]),
                (Dir::West, vec![0xa6, 9]),
                (Dir::East, vec![0xa2, 1]),
            ]
        );
        links.free[Dir::East.index()] = 1;
        assert_eq!(flush(&mut node, &mut links), 1);
        assert_eq!(links.sent[3], (Dir::East, vec![0xa2, 2]));
    }
}
