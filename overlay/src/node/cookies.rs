//! Cookies: under load, an initiation must prove that its sender receives
//! datagrams at its source, as WireGuard's mac2 does, before the node
//! spends a Diffie-Hellman on it.
//!
//! Responder: a secret drawn from the node's RNG, replaced every
//! [`ROTATE_EVERY`]; the cookie of a source is the keyed BLAKE3 of the
//! source under the secret (a source is the socket and UDP address the
//! initiation came from, or the relaying member and the member the relay
//! frame names as its sender). Under load (`initiation_limit`) an
//! initiation whose `mac2` is not the MAC of its bytes under its source's
//! cookie (with this secret or the one before) gets a cookie reply
//! ([`crate::wire::cookie_reply`], 64 bytes for a 160-byte initiation) and
//! no Diffie-Hellman. Cookie replies are bounded to [`REPLIES_PER_SEC`] in
//! all, on top of the per-source buckets in front of them.
//!
//! Initiator: a cookie reply that opens (it names our pending handshake and
//! its tag covers that initiation's MAC) leaves the cookie with the
//! member for [`USABLE_FOR`]; every initiation to it meanwhile carries its
//! `mac2`. If the initiation answered carried no cookie, a new one goes at
//! once; otherwise the retransmission timer sends the next.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand_core::RngCore;
use serde::{Deserialize, Serialize};

use super::initiation_limit::Bucket;
use super::rotation::Generation;
use super::rx_context::{Relayed, RxContext};
use super::{DropReason, Node};
use crate::identity::NodeId;
use crate::wire::cookie_reply::{self, COOKIE_LEN, NONCE_LEN};
use crate::wire::handshake_init;
use crate::wire::mac::constant_time_eq;

/// How long a cookie secret is used for new cookies.
pub(crate) const ROTATE_EVERY: Duration = Duration::from_secs(120);
/// How long an initiator uses a cookie (a little less than the responder
/// takes it, so that one in flight still counts).
pub(crate) const USABLE_FOR: Duration = Duration::from_secs(115);
/// Cookie replies the node sends a second at most (and the burst).
pub(crate) const REPLIES_PER_SEC: u32 = 1000;

/// Counters of the handshake work done and avoided.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct HandshakeStats {
    /// Initiations that reached their Diffie-Hellman.
    pub initiations_computed: u64,
    /// Cookie replies sent (initiations under load without a valid cookie).
    pub cookie_replies_sent: u64,
    /// Cookie replies not sent because of their own rate bound.
    pub cookie_replies_limited: u64,
    /// Cookies received from members under load and taken.
    pub cookies_taken: u64,
}

/// The responder's secrets and the bound on its replies.
#[derive(Clone, Debug, Default)]
pub(crate) struct Cookies {
    current: [u8; 32],
    previous: Option<[u8; 32]>,
    since: Option<Instant>,
    replies: Option<Bucket>,
    pub(crate) stats: HandshakeStats,
}

/// What a cookie is bound to: where the initiation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binding {
    /// A datagram on our socket `socket` (0, an extra one, or a TCP
    /// connection) from `addr`.
    Addr { socket: u16, addr: SocketAddr },
    /// A relay frame from the member `hop`, naming `src` as its sender.
    Relay { hop: NodeId, src: [u8; 32] },
}

impl Binding {
    /// What a cookie for a datagram that reached us from `from` as `rx`
    /// says is bound to.
    fn of(rx: RxContext, from: SocketAddr) -> Self {
        match rx.relayed {
            Some(Relayed { hop, src }) => Self::Relay { hop, src },
            None => Self::Addr {
                socket: rx.socket,
                addr: from,
            },
        }
    }

    fn cookie(&self, secret: &[u8; 32]) -> [u8; COOKIE_LEN] {
        let mut h = blake3::Hasher::new_keyed(secret);
        match self {
            Self::Addr { socket, addr } => {
                h.update(&[0]);
                h.update(&socket.to_le_bytes());
                match addr.ip() {
                    std::net::IpAddr::V4(a) => h.update(&a.octets()),
                    std::net::IpAddr::V6(a) => h.update(&a.octets()),
                };
                h.update(&addr.port().to_le_bytes());
            }
            Self::Relay { hop, src } => {
                h.update(&[1]);
                h.update(hop.as_bytes());
                h.update(src);
            }
        }
        let mut out = [0u8; COOKIE_LEN];
        out.copy_from_slice(&h.finalize().as_bytes()[..COOKIE_LEN]);
        out
    }
}

impl Cookies {
    /// Draws a new secret if the current one is due.
    fn rotate(&mut self, now: Instant, rng: &mut impl RngCore) {
        let due = self
            .since
            .is_none_or(|t| now.saturating_duration_since(t) >= ROTATE_EVERY);
        if !due {
            return;
        }
        // The one before stays good for cookies handed out just before.
        self.previous = self
            .since
            .filter(|t| now.saturating_duration_since(*t) < 2 * ROTATE_EVERY)
            .map(|_| self.current);
        rng.fill_bytes(&mut self.current);
        self.since = Some(now);
    }

    /// Whether `mac2` is the MAC of `with_mac1` under the cookie of `binding`.
    fn valid(&self, binding: &Binding, with_mac1: &[u8], mac2: &[u8; 16]) -> bool {
        if self.since.is_none() {
            return false;
        }
        let ok = |secret: &[u8; 32]| {
            let expected = handshake_init::mac2(&binding.cookie(secret), with_mac1);
            constant_time_eq(&expected, mac2)
        };
        // Fuzzing cannot guess MACs; let it past to reach the code behind.
        cfg!(fuzzing) || ok(&self.current) || self.previous.as_ref().is_some_and(ok)
    }

    /// Takes a token for one reply.
    fn reply_allowed(&mut self, now: Instant) -> bool {
        let b = self
            .replies
            .get_or_insert(Bucket::full(REPLIES_PER_SEC, now));
        b.refill(now, REPLIES_PER_SEC, REPLIES_PER_SEC);
        b.take()
    }
}

impl Node {
    /// Counters of handshake work done and avoided.
    pub fn handshake_stats(&self) -> HandshakeStats {
        self.initiation_guard.cookies.stats
    }

    /// Whether the initiation being handled carries a valid cookie MAC for
    /// its source.
    pub(super) fn has_valid_cookie(
        &mut self,
        now: Instant,
        rx: RxContext,
        from: SocketAddr,
        pkt: &handshake_init::Packet<&[u8]>,
    ) -> bool {
        let Some(mac2) = pkt.mac2() else {
            return false;
        };
        self.initiation_guard.cookies.rotate(now, &mut self.rng);
        let binding = Binding::of(rx, from);
        self.initiation_guard
            .cookies
            .valid(&binding, pkt.with_mac1(), &mac2)
    }

    /// Answers the initiation being handled with a cookie for its source,
    /// the way it came, if the bound on replies allows.
    pub(super) fn send_cookie_reply(
        &mut self,
        now: Instant,
        rx: RxContext,
        from: SocketAddr,
        pkt: &handshake_init::Packet<&[u8]>,
        generation: Generation,
    ) {
        if !self.initiation_guard.cookies.reply_allowed(now) {
            self.initiation_guard.cookies.stats.cookie_replies_limited += 1;
            return;
        }
        self.initiation_guard.cookies.rotate(now, &mut self.rng);
        let binding = Binding::of(rx, from);
        let cookie = binding.cookie(&self.initiation_guard.cookies.current);
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill_bytes(&mut nonce);
        let key = self.keys_of(generation).own_cookie_key();
        let mut reply = Vec::with_capacity(cookie_reply::LEN);
        let mac1 = pkt.mac1();
        cookie_reply::emit(key, pkt.sender_index(), nonce, &cookie, &mac1, &mut reply);
        debug_assert!(reply.len() < pkt.as_bytes().len());
        match binding {
            Binding::Relay { hop, src } => {
                let Ok(dst) = NodeId::from_bytes(src) else {
                    return;
                };
                if !self.send_relayed(now, dst, Some(hop), &reply) {
                    return;
                }
            }
            Binding::Addr { socket, addr } => self.queue_datagram(socket, addr, reply.to_vec()),
        }
        self.initiation_guard.cookies.stats.cookie_replies_sent += 1;
    }

    /// Takes a cookie reply for a handshake of ours in flight.
    pub(super) fn receive_cookie_reply(
        &mut self,
        now: Instant,
        datagram: &[u8],
    ) -> Result<(), DropReason> {
        let pkt = cookie_reply::Packet::new_checked(datagram).map_err(|_| DropReason::Malformed)?;
        let idx = pkt.receiver_index();
        let pid = *self
            .by_index
            .get(&idx)
            .ok_or(DropReason::UnexpectedResponse)?;
        let key = self.keys_of(self.generation_of_index(idx)).cookie_key(&pid);
        let peer = self
            .peers
            .get_mut(&pid)
            .ok_or(DropReason::UnexpectedResponse)?;
        let pending = peer
            .handshake
            .as_mut()
            .filter(|h| h.state.local_index == idx)
            .ok_or(DropReason::UnexpectedResponse)?;
        let cookie = pkt
            .open(&key, &pending.mac1)
            .ok_or(DropReason::BadCookieReply)?;
        let retry = !pending.had_cookie;
        let attempts_since = pending.attempts_since;
        // One cookie reply per initiation.
        pending.had_cookie = true;
        peer.history_mut().cookie = Some((cookie, now));
        self.initiation_guard.cookies.stats.cookies_taken += 1;
        tracing::debug!(peer = %pid.short(), "member under load sent a cookie");
        if retry {
            self.send_initiation(now, pid, attempts_since);
        }
        Ok(())
    }

    /// The cookie to put in an initiation to `pid`, if a fresh one is held.
    pub(super) fn cookie_for(&self, now: Instant, pid: &NodeId) -> Option<[u8; COOKIE_LEN]> {
        let (cookie, at) = self.peers.get(pid)?.history.as_ref()?.cookie?;
        (now.saturating_duration_since(at) < USABLE_FOR).then_some(cookie)
    }
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use crate::identity::NodeKey;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn addr(port: u16) -> Binding {
        Binding::Addr {
            socket: 0,
            addr: SocketAddr::from(([203, 0, 113, 7], port)),
        }
    }

    #[test]
    fn a_cookie_is_bound_to_its_source() {
        let secret = [7u8; 32];
        let hop = NodeKey::from_seed([1; 32]).id();
        let other_hop = NodeKey::from_seed([2; 32]).id();
        let relay = |hop, src| Binding::Relay { hop, src };
        let cookies = [
            addr(5000).cookie(&secret),
            addr(5001).cookie(&secret),
            Binding::Addr {
                socket: 0x8000,
                addr: SocketAddr::from(([203, 0, 113, 7], 5000)),
            }
            .cookie(&secret),
            relay(hop, [3; 32]).cookie(&secret),
            relay(other_hop, [3; 32]).cookie(&secret),
            relay(hop, [4; 32]).cookie(&secret),
        ];
        for (i, a) in cookies.iter().enumerate() {
            for b in &cookies[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_ne!(addr(5000).cookie(&secret), addr(5000).cookie(&[8; 32]));
    }

    #[test]
    fn a_cookie_outlives_one_rotation_but_not_two() {
        let mut rng = ChaCha20Rng::from_seed([5; 32]);
        let mut c = Cookies::default();
        let t0 = Instant::now();
        let msg = [9u8; handshake_init::LEN];
        assert!(!c.valid(&addr(1), &msg, &[0; 16]));
        c.rotate(t0, &mut rng);
        let mac2 = handshake_init::mac2(&addr(1).cookie(&c.current), &msg);
        assert!(c.valid(&addr(1), &msg, &mac2));
        assert!(!c.valid(&addr(2), &msg, &mac2));
        c.rotate(t0 + ROTATE_EVERY / 2, &mut rng);
        assert!(c.valid(&addr(1), &msg, &mac2));
        c.rotate(t0 + ROTATE_EVERY, &mut rng);
        assert!(
            c.valid(&addr(1), &msg, &mac2),
            "the secret before still counts"
        );
        c.rotate(t0 + 2 * ROTATE_EVERY, &mut rng);
        assert!(!c.valid(&addr(1), &msg, &mac2));
        // After a long quiet spell the stale secret is not kept.
        let mac2 = handshake_init::mac2(&addr(1).cookie(&c.current), &msg);
        c.rotate(t0 + 10 * ROTATE_EVERY, &mut rng);
        assert!(c.previous.is_none());
        assert!(!c.valid(&addr(1), &msg, &mac2));
    }
}
