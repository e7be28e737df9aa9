//! Packets from the node that are not valid for the stack: random bytes and
//! mangled packets are dropped, counted, and change nothing.

mod pair;

use std::time::Duration;

use pair::{b_addr, pair, within, B6};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Feeds `packets` into stack B, then checks that every one was counted as
/// dropped and that B still answers ping and TCP.
fn feed_and_check(packets: Vec<Vec<u8>>) {
    // Tokio's clock, paused: the waits below do not depend on the
    // machine's speed.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let pair = pair();
        let listener = pair.b.tcp_listen(9000).await.expect("listen");
        let before = pair.b.stats();
        for packet in &packets {
            pair.into_b
                .send(packet.clone())
                .await
                .expect("B is running");
        }
        // The ping's request reaches B after the garbage: once it is
        // answered, B has judged every packet.
        within("ping", pair.a.ping(B6.into(), 32, Duration::from_secs(5)))
            .await
            .expect("B still answers");
        let after = pair.b.stats();
        assert_eq!(
            after.dropped_inbound() - before.dropped_inbound(),
            packets.len() as u64,
            "every packet dropped and counted: {after:?}"
        );
        assert_eq!(
            after.packets_in - before.packets_in,
            1,
            "only the ping got in"
        );

        let (client, server) = within("connect", async {
            tokio::join!(pair.a.tcp_connect(b_addr(true, 9000)), listener.accept())
        })
        .await;
        let (mut client, (mut server, _)) = (client.expect("connect"), server.expect("accept"));
        client.write_all(b"still fine").await.expect("write");
        let mut buf = [0u8; 10];
        within("read", server.read_exact(&mut buf))
            .await
            .expect("read");
        assert_eq!(&buf, b"still fine");
    });
}

/// A packet that passes as IPv4 or IPv6 only by a miracle: random bytes, a
/// random first nibble of 4 or 6, or a plausible header with random rest.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..1500),
        (
            prop_oneof![Just(0x45u8), Just(0x60u8)],
            proptest::collection::vec(any::<u8>(), 0..1500)
        )
            .prop_map(|(first, rest)| {
                let mut packet = vec![first];
                packet.extend(rest);
                packet
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_packets_are_dropped_and_counted(packets in proptest::collection::vec(garbage(), 1..64)) {
        feed_and_check(packets);
    }
}

#[test]
fn truncated_and_empty_packets_are_dropped_and_counted() {
    let mut packets = vec![Vec::new(), vec![0x45], vec![0x60; 39], vec![0x45; 19]];
    // An IPv6 header for B claiming more payload than there is.
    let mut short = vec![0u8; 40];
    short[0] = 0x60;
    short[4..6].copy_from_slice(&100u16.to_be_bytes());
    short[6] = 6;
    short[24..40].copy_from_slice(&B6.octets());
    packets.push(short);
    feed_and_check(packets);
}
