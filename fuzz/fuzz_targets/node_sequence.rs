#![no_main]
//! Sequences of events into two nodes of one network: the fuzz input's
//! first byte picks where the story starts (the pair before they met, or
//! after their handshake), the rest is a program of steps (a crafted
//! datagram to A from B's address or from a stranger, a packet from A's or
//! B's TUN device, time passing, or the real datagrams each node has queued
//! delivered to the other), so that garbage lands in the middle of real
//! exchanges: between hello and handshake, during a rekey, after a timeout,
//! and crafted packets reach A sealed under a real session. Neither node
//! may panic, and every datagram a node sends is non-empty and fits a UDP
//! payload. Both starting pairs are set up once per process; each input
//! gets a copy.
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use tessel_fuzz::{established_pair, fresh_pair, with_out, A_ADDR, B_ADDR};
use tessel_overlay::node::Node;

/// Reads the fuzz input as a program.
struct Program<'a> {
    data: &'a [u8],
}

impl<'a> Program<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.data.split_first()?;
        self.data = rest;
        Some(first)
    }

    /// A length-prefixed chunk (one byte of length, up to 255 bytes, or two
    /// when the first is 0xff, for datagrams up to 64 KiB).
    fn chunk(&mut self) -> Option<&'a [u8]> {
        let mut len = usize::from(self.byte()?);
        if len == 0xff {
            len = usize::from(u16::from_be_bytes([self.byte()?, self.byte()?]));
        }
        let len = len.min(self.data.len());
        let (chunk, rest) = self.data.split_at(len);
        self.data = rest;
        Some(chunk)
    }
}

/// Delivers what `from` has queued to `to`; checks every datagram.
fn deliver(from: &mut Node, from_addr: SocketAddr, to: &mut Node, t: Instant, out: &mut [u8]) {
    let mut budget = 256;
    while let Some(tx) = from.poll_transmit() {
        if !tx.from_main() {
            // The extra sockets' datagrams: dropped, as if never opened.
            continue;
        }
        assert!(!tx.payload.is_empty() && tx.payload.len() <= 65_507);
        let _ = to.handle_datagram(t, from_addr, &tx.payload, out);
        budget -= 1;
        if budget == 0 {
            break;
        }
    }
    while from.poll_event().is_some() {}
}

fuzz_target!(|data: &[u8]| with_out(|out| run(data, out)));

/// Runs the program `data` with the output buffer `out`.
fn run(data: &[u8], out: &mut [u8]) {
    let a_addr: SocketAddr = A_ADDR.parse().unwrap();
    let b_addr: SocketAddr = B_ADDR.parse().unwrap();
    let stranger: SocketAddr = "203.0.113.9:4000".parse().unwrap();
    let mut program = Program { data };
    let Some(first) = program.byte() else { return };
    let mut pair = if first & 1 == 0 {
        fresh_pair()
    } else {
        established_pair()
    };
    let (a, b) = (&mut pair.a, &mut pair.b);
    let mut t = pair.start + Duration::from_secs(1);
    let mut steps = 0;
    while let Some(op) = program.byte() {
        steps += 1;
        if steps > 64 {
            break;
        }
        match op % 7 {
            0 => {
                let Some(d) = program.chunk() else { break };
                let _ = a.handle_datagram(t, b_addr, d, out);
            }
            1 => {
                let Some(d) = program.chunk() else { break };
                let _ = a.handle_datagram(t, stranger, d, out);
            }
            2 => {
                let Some(p) = program.chunk() else { break };
                let _ = a.handle_tun_packet(t, p, out);
            }
            3 => {
                let Some(step) = program.byte() else { break };
                // Up to about 4 minutes a step: rekeys and expiries happen.
                t += Duration::from_millis(u64::from(step) * 1000);
                a.handle_timeout(t);
                b.handle_timeout(t);
            }
            6 => {
                // A packet from B's TUN device: sealed under B's session
                // when it is addressed to A, so that it reaches A's
                // receive path authenticated.
                let Some(p) = program.chunk() else { break };
                let _ = b.handle_tun_packet(t, p, out);
            }
            4 => {
                b.handle_timeout(t);
                deliver(b, b_addr, a, t, out);
            }
            _ => {
                a.handle_timeout(t);
                deliver(a, a_addr, b, t, out);
            }
        }
    }
    while a.poll_transmit().is_some() {}
    let _ = a.status(t);
    let _ = b.status(t);
}
