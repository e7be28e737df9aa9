//! When to dial, keep and close TCP connections: the TCP transport's
//! decisions as a deterministic state machine on the sans-IO side, which
//! the simulator can drive as well as the daemon. The shell
//! (`driver::tcp`) reports what happens (connections opened and closed,
//! datagrams, and every [`TICK`] what the node says) and carries out the
//! [`Command`]s; it never reads a clock: `now` is an argument.
//!
//! The rule:
//! * A node accepts connections, at most [`MAX_ACCEPTED`] at a time and at
//!   most [`MAX_ACCEPTED_PER_ADDRESS`] from one IP address, so that one
//!   host cannot take every place.
//! * It dials its `--peer` addresses ("links") only after it has had no
//!   session with any member for [`FALLBACK_AFTER`]. A node whose UDP works
//!   has a session long before, and never dials.
//! * A dialed connection is closed, and its link left unused, as soon as
//!   the member at its address answers one of the node's STUN checks over
//!   UDP (UDP works after all: the sessions carry on over UDP), or when no
//!   datagram crossed it for [`DIALED_IDLE`] (no session uses it).
//! * A link whose connection drops is dialed again after a backoff (1 s
//!   doubling to [`MAX_BACKOFF`]) if it carried the node's traffic or the
//!   node still has no session; otherwise it is left unused. A link keeps
//!   its socket ID across reconnections, so that the node's sessions through
//!   it resume on the new connection.
//! * A connection is trusted only once a handshake completed over it (the
//!   node says so, `Node::take_stream_handshake`): a datagram the node takes
//!   (a hello, a handshake initiation, a STUN request) proves nothing about
//!   the far end. A connection whose first datagram the node drops is closed
//!   at once; later drops before the handshake are borne (a member that
//!   kept its session across the other side's restart sends data the other
//!   side no longer knows until its new handshake, within 15 s), but
//!   [`FIRST_DATAGRAM_TIMEOUT`] without a datagram the node takes, or
//!   [`HANDSHAKE_TIMEOUT`] without a handshake, closes it. An accepted
//!   connection that brings nothing for [`ACCEPTED_IDLE`] is closed too.

pub mod status;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::node::STREAM_IDS_FROM;
use status::{TcpConnectionStatus, TcpCounters, TcpLinkStatus, TcpStatus};

/// How often the shell runs [`Policy::tick`]: the dialing rule and the
/// timers below are checked at this grain.
pub const TICK: Duration = Duration::from_secs(1);

/// How long a node goes without any session before it dials TCP.
pub const FALLBACK_AFTER: Duration = Duration::from_secs(3);
/// How long a new connection has to bring a datagram the node takes.
pub const FIRST_DATAGRAM_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a new connection has to complete a handshake (longer than the
/// 15 s after which a member whose data goes unanswered starts one).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// A dialed connection with no datagram either way for this long is closed
/// (sessions through it send a keepalive at least every 25 s).
pub const DIALED_IDLE: Duration = Duration::from_secs(60);
/// An accepted connection that brings nothing for this long is closed.
pub const ACCEPTED_IDLE: Duration = Duration::from_secs(180);
/// Accepted connections open at once.
pub const MAX_ACCEPTED: usize = 256;
/// Accepted connections open at once from one IP address.
pub const MAX_ACCEPTED_PER_ADDRESS: usize = 8;
/// `--peer` addresses dialed at most.
pub const MAX_LINKS: usize = 16;
/// First wait before dialing a link again.
const MIN_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait before dialing a link again.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Who opened a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// This node, to one of its links.
    Dialed,
    /// The far end.
    Accepted,
}

/// Why a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The node dropped its first datagram.
    Rejected,
    /// A frame announced an empty datagram.
    BadFrame,
    /// No handshake completed over it in time.
    Silent,
    /// No traffic for a while.
    Idle,
    /// The member at a link's address answers over UDP.
    UdpWorks,
    /// The far end closed it, or it failed.
    ByPeer,
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Dial `remote`; report with [`Policy::dial_succeeded`] or
    /// [`Policy::dial_failed`].
    Dial {
        /// The link's socket ID.
        id: u16,
        /// Where to.
        remote: SocketAddr,
    },
    /// Close the connection `id` (drop its tasks).
    Close {
        /// The socket ID.
        id: u16,
    },
    /// Tell the node that socket `id` is gone (`Node::detach_stream`).
    Detach {
        /// The socket ID.
        id: u16,
    },
}

/// What the node says, once a second.
#[derive(Debug, Clone, Default)]
pub struct NodeView {
    /// Whether it has a usable session with any member.
    pub connected: bool,
    /// Addresses that answered its STUN checks over UDP, and when.
    pub udp_answers: Vec<(SocketAddr, Instant)>,
}

#[derive(Clone, Debug)]
struct Conn {
    remote: SocketAddr,
    direction: Direction,
    opened: Instant,
    /// Last datagram either way.
    last_activity: Instant,
    /// Last datagram received.
    last_rx: Instant,
    /// Whether the node took a datagram from it.
    spoke: bool,
    /// Whether a handshake completed over it.
    trusted: bool,
    rx_datagrams: u64,
    tx_datagrams: u64,
    rx_bytes: u64,
    tx_bytes: u64,
}

impl Conn {
    fn new(remote: SocketAddr, direction: Direction, now: Instant) -> Self {
        Self {
            remote,
            direction,
            opened: now,
            last_activity: now,
            last_rx: now,
            spoke: false,
            trusted: false,
            rx_datagrams: 0,
            tx_datagrams: 0,
            rx_bytes: 0,
            tx_bytes: 0,
        }
    }

    /// Whether a timer says it must close.
    fn expired(&self, now: Instant) -> Option<CloseReason> {
        let since = |t: Instant| now.saturating_duration_since(t);
        let opened = since(self.opened);
        if (!self.spoke && opened >= FIRST_DATAGRAM_TIMEOUT)
            || (!self.trusted && opened >= HANDSHAKE_TIMEOUT)
        {
            return Some(CloseReason::Silent);
        }
        let idle = match self.direction {
            Direction::Accepted => since(self.last_rx) >= ACCEPTED_IDLE,
            Direction::Dialed => since(self.last_activity) >= DIALED_IDLE,
        };
        idle.then_some(CloseReason::Idle)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkState {
    /// Not wanted: UDP suffices.
    Unused,
    /// A dial is under way.
    Connecting,
    /// Connected since.
    Up(Instant),
    /// Dial again at.
    Waiting(Instant),
}

#[derive(Clone, Debug)]
struct Link {
    remote: SocketAddr,
    /// The socket ID, from the first dial until the link is left unused.
    id: Option<u16>,
    state: LinkState,
    backoff: Duration,
    /// Whether its connection carried a datagram the node took.
    useful: bool,
}

/// The transport's decisions. See the module documentation.
#[derive(Clone, Debug)]
pub struct Policy {
    links: Vec<Link>,
    conns: BTreeMap<u16, Conn>,
    next_id: u16,
    /// Since when the node has had no session (`None` while it has one).
    lonely_since: Option<Instant>,
    counters: TcpCounters,
}

impl Policy {
    /// A policy for a node whose `--peer` addresses are `links`, started at
    /// `now`.
    pub fn new(links: &[SocketAddr], now: Instant) -> Self {
        let mut policy = Self {
            links: Vec::new(),
            conns: BTreeMap::new(),
            next_id: STREAM_IDS_FROM,
            lonely_since: Some(now),
            counters: TcpCounters::default(),
        };
        policy.add_links(links);
        policy
    }

    /// Adds the `--peer` addresses among `links` that are not links yet
    /// (up to [`MAX_LINKS`] in all); existing links keep their state.
    pub fn add_links(&mut self, links: &[SocketAddr]) {
        for l in links {
            if self.links.len() < MAX_LINKS && !self.links.iter().any(|k| k.remote == *l) {
                self.links.push(Link {
                    remote: *l,
                    id: None,
                    state: LinkState::Unused,
                    backoff: MIN_BACKOFF,
                    useful: false,
                });
            }
        }
    }

    /// The far end of the open connection `id`.
    pub fn remote(&self, id: u16) -> Option<SocketAddr> {
        self.conns.get(&id).map(|c| c.remote)
    }

    /// Counts a datagram that could not be handed to a connection.
    pub fn send_dropped(&mut self) {
        self.counters.send_dropped += 1;
    }

    /// A connection from `remote` arrived: its socket ID, or `None` if it
    /// must be closed at once (too many open, or too many from its address).
    pub fn accepted(&mut self, now: Instant, remote: SocketAddr) -> Option<u16> {
        let (mut open, mut same) = (0, 0);
        for c in self.conns.values() {
            if c.direction == Direction::Accepted {
                open += 1;
                same += usize::from(c.remote.ip() == remote.ip());
            }
        }
        if open >= MAX_ACCEPTED {
            self.counters.refused += 1;
            return None;
        }
        if same >= MAX_ACCEPTED_PER_ADDRESS {
            self.counters.refused_per_address += 1;
            return None;
        }
        self.counters.accepted += 1;
        let id = self.alloc_id();
        self.conns
            .insert(id, Conn::new(remote, Direction::Accepted, now));
        Some(id)
    }

    /// The dial of link `id` connected: whether to keep the connection
    /// (`false` if the link no longer wants it).
    pub fn dial_succeeded(&mut self, now: Instant, id: u16) -> bool {
        let Some(k) = self.link_index(id) else {
            return false;
        };
        if self.links[k].state != LinkState::Connecting {
            return false;
        }
        self.links[k].state = LinkState::Up(now);
        let remote = self.links[k].remote;
        self.conns
            .insert(id, Conn::new(remote, Direction::Dialed, now));
        true
    }

    /// The dial of link `id` failed.
    pub fn dial_failed(&mut self, now: Instant, id: u16) -> Vec<Command> {
        self.counters.dial_failures += 1;
        match self.link_index(id) {
            Some(k) if self.links[k].state == LinkState::Connecting => self.link_failed(now, k),
            _ => Vec::new(),
        }
    }

    /// A datagram of `len` bytes arrived on `id`; `taken` says whether the
    /// node took it (counted no drop). A first datagram not taken closes
    /// the connection.
    pub fn datagram(&mut self, now: Instant, id: u16, taken: bool, len: usize) -> Vec<Command> {
        let Some(c) = self.conns.get_mut(&id) else {
            return Vec::new();
        };
        c.rx_datagrams += 1;
        c.rx_bytes += len as u64;
        c.last_rx = now;
        c.last_activity = now;
        if c.trusted {
            return Vec::new();
        }
        if taken {
            c.spoke = true;
        } else if !c.spoke {
            return self.close(now, id, CloseReason::Rejected);
        }
        Vec::new()
    }

    /// A handshake completed over `id`: from now on it is trusted (a
    /// datagram dropped no longer closes it, the handshake timeout no
    /// longer applies, and a dialed link counts as useful).
    pub fn handshake_completed(&mut self, id: u16) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if c.trusted {
            return;
        }
        c.trusted = true;
        if c.direction == Direction::Dialed {
            if let Some(k) = self.link_index(id) {
                self.links[k].useful = true;
                self.links[k].backoff = MIN_BACKOFF;
            }
        }
    }

    /// A datagram of `len` bytes went to `id`.
    pub fn sent(&mut self, now: Instant, id: u16, len: usize) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.tx_datagrams += 1;
            c.tx_bytes += len as u64;
            c.last_activity = now;
        }
    }

    /// The connection `id` ended by itself: closed by the far end, failed,
    /// or sent a bad frame.
    pub fn closed(&mut self, now: Instant, id: u16, bad_frame: bool) -> Vec<Command> {
        let reason = if bad_frame {
            CloseReason::BadFrame
        } else {
            CloseReason::ByPeer
        };
        self.close(now, id, reason)
    }

    /// Runs the timers and the dialing rule; `view` is what the node says.
    pub fn tick(&mut self, now: Instant, view: &NodeView) -> Vec<Command> {
        if view.connected {
            self.lonely_since = None;
        } else if self.lonely_since.is_none() {
            self.lonely_since = Some(now);
        }
        let fallback = self
            .lonely_since
            .is_some_and(|t| now.saturating_duration_since(t) >= FALLBACK_AFTER);
        let mut cmds = Vec::new();
        let expired: Vec<(u16, CloseReason)> = self
            .conns
            .iter()
            .filter_map(|(id, c)| Some((*id, c.expired(now)?)))
            .collect();
        for (id, reason) in expired {
            cmds.extend(self.close(now, id, reason));
        }
        for k in 0..self.links.len() {
            let remote = self.links[k].remote;
            match self.links[k].state {
                LinkState::Unused if fallback => {
                    let id = self.alloc_id();
                    self.links[k].id = Some(id);
                    cmds.push(self.dial(k, id));
                }
                LinkState::Waiting(at) if at <= now => {
                    let id = match self.links[k].id {
                        Some(id) => id,
                        None => self.alloc_id(),
                    };
                    self.links[k].id = Some(id);
                    cmds.push(self.dial(k, id));
                }
                LinkState::Up(since)
                    if view
                        .udp_answers
                        .iter()
                        .any(|(from, at)| *from == remote && *at > since) =>
                {
                    if let Some(id) = self.links[k].id {
                        cmds.extend(self.close(now, id, CloseReason::UdpWorks));
                    }
                }
                _ => {}
            }
        }
        cmds
    }

    /// The transport's state at `now` (the shell fills in `enabled` and
    /// `listen`).
    pub fn status(&self, now: Instant) -> TcpStatus {
        let secs = |t: Instant| now.saturating_duration_since(t).as_secs_f64();
        TcpStatus {
            enabled: true,
            listen: None,
            connections: self
                .conns
                .iter()
                .map(|(id, c)| TcpConnectionStatus {
                    id: *id,
                    remote: c.remote.to_string(),
                    direction: match c.direction {
                        Direction::Dialed => "dialed",
                        Direction::Accepted => "accepted",
                    }
                    .to_string(),
                    age_secs: secs(c.opened),
                    idle_secs: secs(c.last_activity),
                    rx_datagrams: c.rx_datagrams,
                    tx_datagrams: c.tx_datagrams,
                    rx_bytes: c.rx_bytes,
                    tx_bytes: c.tx_bytes,
                })
                .collect(),
            links: self
                .links
                .iter()
                .map(|l| {
                    let (state, retry) = match l.state {
                        LinkState::Unused => ("unused", None),
                        LinkState::Connecting => ("connecting", None),
                        LinkState::Up(_) => ("up", None),
                        LinkState::Waiting(at) => (
                            "waiting",
                            Some(at.saturating_duration_since(now).as_secs_f64()),
                        ),
                    };
                    TcpLinkStatus {
                        remote: l.remote.to_string(),
                        state: state.to_string(),
                        retry_in_secs: retry,
                    }
                })
                .collect(),
            counters: self.counters,
        }
    }

    fn dial(&mut self, k: usize, id: u16) -> Command {
        self.links[k].state = LinkState::Connecting;
        self.counters.dials += 1;
        Command::Dial {
            id,
            remote: self.links[k].remote,
        }
    }

    /// Ends the connection `id` for `reason`, and decides what becomes of
    /// its link.
    fn close(&mut self, now: Instant, id: u16, reason: CloseReason) -> Vec<Command> {
        let Some(conn) = self.conns.remove(&id) else {
            return Vec::new();
        };
        let c = &mut self.counters;
        match reason {
            CloseReason::Rejected => c.closed_rejected += 1,
            CloseReason::BadFrame => c.closed_bad_frame += 1,
            CloseReason::Silent => c.closed_silent += 1,
            CloseReason::Idle => c.closed_idle += 1,
            CloseReason::UdpWorks => c.closed_udp_works += 1,
            CloseReason::ByPeer => c.closed_by_peer += 1,
        }
        tracing::debug!(id, remote = %conn.remote, ?reason, "closing a TCP connection");
        let mut cmds = vec![Command::Close { id }];
        match (conn.direction, self.link_index(id)) {
            (Direction::Dialed, Some(k)) => match reason {
                CloseReason::UdpWorks => cmds.extend(self.leave_unused(k)),
                CloseReason::Idle => {
                    // No session used it: retry only if the node is alone.
                    self.links[k].useful = false;
                    cmds.extend(self.link_failed(now, k));
                }
                _ => cmds.extend(self.link_failed(now, k)),
            },
            _ => cmds.push(Command::Detach { id }),
        }
        cmds
    }

    /// Link `k` could not connect or lost its connection: dial again after
    /// the backoff if it is needed, else leave it unused.
    fn link_failed(&mut self, now: Instant, k: usize) -> Vec<Command> {
        let link = &mut self.links[k];
        if link.useful || self.lonely_since.is_some() {
            link.state = LinkState::Waiting(now + link.backoff);
            link.backoff = (link.backoff * 2).min(MAX_BACKOFF);
            Vec::new()
        } else {
            self.leave_unused(k)
        }
    }

    /// Link `k` is not needed: its socket ID goes back to the node.
    fn leave_unused(&mut self, k: usize) -> Vec<Command> {
        let link = &mut self.links[k];
        link.state = LinkState::Unused;
        link.useful = false;
        link.id
            .take()
            .map(|id| Command::Detach { id })
            .into_iter()
            .collect()
    }

    fn link_index(&self, id: u16) -> Option<usize> {
        self.links.iter().position(|l| l.id == Some(id))
    }

    /// A socket ID that no connection or link uses.
    fn alloc_id(&mut self) -> u16 {
        loop {
            let id = self.next_id;
            self.next_id = id.checked_add(1).unwrap_or(STREAM_IDS_FROM);
            let used = self.conns.contains_key(&id) || self.links.iter().any(|l| l.id == Some(id));
            if !used {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests;
