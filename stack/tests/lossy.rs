//! TCP over a wire that loses and reorders packets: slower, but every byte
//! arrives once and in order.

// The tests read tokio's clock, paused: time advances only when every
// task waits for a timer, so no assertion depends on the machine's speed.
#![allow(clippy::disallowed_methods)]

mod pair;

use tokio::time::Instant;

use pair::{
    b_addr, config_a, config_b, expect_pattern, pair_with, send_pattern, within, Wire, CHUNK,
};

#[tokio::test(start_paused = true)]
async fn transfer_completes_under_loss_and_reordering() {
    const CHUNKS: u64 = (1 << 20) / CHUNK as u64;
    let wire = Wire {
        loss: 0.01,
        reorder: 0.01,
        seed: 0x7e55e1,
        ..Wire::default()
    };
    let pair = pair_with(config_a(), config_b(), wire);
    let listener = pair.b.tcp_listen(8000).await.expect("listen");
    let (client, server) = within("connect", async {
        tokio::join!(pair.a.tcp_connect(b_addr(true, 8000)), listener.accept())
    })
    .await;
    let (client, (server, _)) = (client.expect("connect"), server.expect("accept"));
    let started = Instant::now();
    within("1 MiB under 1% loss", async {
        tokio::try_join!(
            send_pattern(client, 3, CHUNKS),
            expect_pattern(server, 3, CHUNKS)
        )
    })
    .await
    .expect("transfer");
    eprintln!(
        "1 MiB under 1% loss and 1% reordering in {:?} of tokio time (retransmission timeouts)",
        started.elapsed()
    );
}
