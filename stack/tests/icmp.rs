//! Ping between two stacks wired back to back, and to nobody.

// The tests read tokio's clock, paused: time advances only when every
// task waits for a timer, so no assertion depends on the machine's speed.
#![allow(clippy::disallowed_methods)]

mod pair;

use std::io::ErrorKind;
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use pair::{pair, wait_stats, within, B4, B6};

#[tokio::test(start_paused = true)]
async fn ping_measures_the_round_trip_over_both_families() {
    let pair = pair();
    for remote in [IpAddr::from(B6), IpAddr::from(B4)] {
        for payload_len in [0, 56, 1300] {
            let started = Instant::now();
            let rtt = within(
                "ping",
                pair.a.ping(remote, payload_len, Duration::from_secs(5)),
            )
            .await
            .expect("echo reply");
            assert!(rtt <= started.elapsed(), "{rtt:?} longer than the wait");
            assert!(rtt < Duration::from_secs(1), "{rtt:?}");
        }
    }
    wait_stats(&pair.a, "ping sockets freed", |s| s.icmp_sockets == 0).await;
}

#[tokio::test(start_paused = true)]
async fn ping_to_nobody_times_out() {
    let pair = pair();
    let started = Instant::now();
    let timeout = Duration::from_millis(300);
    let err = within(
        "timeout",
        pair.a
            .ping("fd00::99".parse().expect("literal"), 8, timeout),
    )
    .await
    .expect_err("no reply");
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert!(started.elapsed() >= timeout);
    // The stack's task frees the socket on its next turn.
    wait_stats(&pair.a, "ping socket freed", |s| s.icmp_sockets == 0).await;
}

#[tokio::test(start_paused = true)]
async fn oversized_or_unusable_pings_are_refused() {
    let pair = pair();
    let err = pair
        .a
        .ping(B6.into(), 1420 - 48 + 1, Duration::from_secs(1))
        .await
        .expect_err("over the MTU");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = pair
        .a
        .ping(
            "224.0.0.1".parse().expect("literal"),
            8,
            Duration::from_secs(1),
        )
        .await
        .expect_err("multicast");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}
