//! The stack task's life: it ends once every handle and socket is dropped,
//! reports when it is not running, refuses a bad configuration, and frees
//! the socket of a connection attempt nobody waits for.

// The tests read tokio's clock, paused: time advances only when every
// task waits for a timer, so no assertion depends on the machine's speed.
#![allow(clippy::disallowed_methods)]

mod pair;

use std::io::ErrorKind;
use std::time::Duration;

use tokio::time::Instant;

use pair::{config_a, pair_with, wait_stats, within, Wire, A4, B4};
use tessel_stack::{ConfigError, Error};

#[tokio::test(start_paused = true)]
async fn the_task_ends_once_handles_and_sockets_are_gone() {
    let (stack, handle, mut link) = tessel_stack::new(config_a());
    let task = tokio::spawn(stack.run());
    let socket = handle.udp_bind(4000).await.expect("bind");
    let listener = handle.tcp_listen(4001).await.expect("listen");
    drop(handle);

    // The socket still works without a handle: its datagram reaches the node.
    socket
        .send_to(b"still here", (B4, 9).into())
        .await
        .expect("send");
    let packet = within("a packet for the node", link.to_node.recv())
        .await
        .expect("the stack still runs");
    assert!(packet.ends_with(b"still here"));
    assert_eq!(packet[12..16], A4.octets(), "sent from our IPv4 address");

    drop(socket);
    drop(listener);
    within("the task ends", task).await.expect("no panic");
}

#[tokio::test(start_paused = true)]
async fn a_stack_that_does_not_run_says_so() {
    let (stack, handle, _link) = tessel_stack::new(config_a());
    drop(stack);
    let err = handle.tcp_listen(80).await.expect_err("nothing runs");
    assert_eq!(err.kind(), ErrorKind::NotConnected);
    let detail = err.get_ref().and_then(|e| e.downcast_ref::<Error>());
    assert_eq!(detail, Some(&Error::StackStopped));
}

#[test]
fn a_bad_configuration_is_refused() {
    let mut config = config_a();
    config.mtu = 576;
    let err = tessel_stack::try_new(config)
        .map(|_| ())
        .expect_err("MTU too small");
    assert!(
        matches!(err, ConfigError::OutOfRange { field: "mtu", .. }),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_connection_attempt_frees_its_socket() {
    let pair = pair_with(config_a(), pair::config_b(), Wire::default());
    let nobody = "[fd00::99]:80".parse().expect("literal");
    let attempt = tokio::time::timeout(Duration::from_millis(50), pair.a.tcp_connect(nobody)).await;
    assert!(attempt.is_err(), "nobody can answer");
    let abandoned = Instant::now();
    wait_stats(&pair.a, "attempt freed", |s| s.tcp_connections == 0).await;
    // At once, not when the SYN is next retransmitted (1 s after the first).
    assert!(
        abandoned.elapsed() < Duration::from_millis(500),
        "{:?}",
        abandoned.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn packets_for_a_node_that_stopped_reading_are_counted() {
    let (stack, handle, link) = tessel_stack::new(config_a());
    tokio::spawn(stack.run());
    drop(link.to_node);
    let socket = handle.udp_bind(0).await.expect("bind");
    socket
        .send_to(b"lost", (B4, 9).into())
        .await
        .expect("queued");
    wait_stats(&handle, "counted", |s| s.dropped_outbound == 1).await;
}
