//! Watching the network form: every node's status a few times a second,
//! narrated as it changes (members joining, learning their NAT, pairs
//! connecting relayed and going direct), until every pair is connected and
//! every pair that should go direct has, or a time limit passes.

use std::time::Duration;

use anyhow::Result;

use super::narrate::Narrator;
use super::pairs::{PairEvent, PairPath, PairTrack};
use super::plan::{self, Expectation, Nat, Outcome, MEMBERS};
use super::signals::Interrupt;
use super::status::{NodeView, Path};
use super::world::DemoWorld;

/// How often every node is asked for its status.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// How long, after the nodes started, the paths get to settle. A punch
/// that misses is retried after 20 s; this leaves room for one retry.
pub(crate) const SETTLE_LIMIT: Duration = Duration::from_secs(28);

/// One pair and its path so far.
#[derive(Debug, Clone)]
pub(crate) struct PairState {
    /// Index of the first member in [`MEMBERS`].
    pub(crate) a: usize,
    /// Index of the second member.
    pub(crate) b: usize,
    /// What it should end on.
    pub(crate) expect: Expectation,
    /// Its path so far.
    pub(crate) track: PairTrack,
    /// Whether its path crosses a TCP connection (last seen).
    pub(crate) tcp: bool,
}

/// Everything narrated so far.
#[derive(Debug)]
pub(crate) struct Watch {
    /// Every pair, in table order.
    pub(crate) pairs: Vec<PairState>,
    joined: Vec<bool>,
    nat_told: Vec<bool>,
    tcp_told: Vec<bool>,
}

impl Watch {
    /// Nothing seen yet.
    pub(crate) fn new() -> Self {
        let pairs = plan::pairs()
            .into_iter()
            .map(|(a, b)| PairState {
                a,
                b,
                expect: plan::expect(&MEMBERS[a], &MEMBERS[b]),
                track: PairTrack::default(),
                tcp: false,
            })
            .collect();
        let n = MEMBERS.len();
        Self {
            pairs,
            joined: vec![false; n],
            nat_told: vec![false; n],
            tcp_told: vec![false; n],
        }
    }

    /// Polls and narrates until the paths settle or [`SETTLE_LIMIT`]
    /// passes, then says why each pair that is not direct is not.
    pub(crate) fn run(
        &mut self,
        world: &DemoWorld,
        say: &Narrator,
        interrupt: &Interrupt,
    ) -> Result<()> {
        loop {
            interrupt.check()?;
            let views = poll(world);
            self.update(world, &views, say);
            let since = world.started.elapsed();
            if self.settled() || since >= SETTLE_LIMIT {
                break;
            }
            interrupt.sleep(POLL_EVERY)?;
        }
        self.summarise(world, say);
        Ok(())
    }

    /// Takes one round of statuses and narrates what changed.
    pub(crate) fn update(&mut self, world: &DemoWorld, views: &[Option<NodeView>], say: &Narrator) {
        let at = world.started.elapsed();
        let name_of = |id: &str| name_of(world, id);
        for (i, view) in views.iter().enumerate() {
            if let Some(v) = view {
                self.tell_node(i, v, views, say, &name_of);
            }
        }
        for pair in &mut self.pairs {
            let (Some(va), Some(vb)) = (&views[pair.a], &views[pair.b]) else {
                continue;
            };
            let (ida, idb) = (&world.nodes[pair.a].id, &world.nodes[pair.b].id);
            let (ab, ba) = (va.path_to(idb), vb.path_to(ida));
            let event = pair.track.observe(at, &ab, &ba);
            pair.tcp = over_tcp(pair, views, &world.nodes[0].id);
            if let Some(event) = event {
                say.say(describe(pair, &event, &name_of));
            }
        }
    }

    /// A member's own news: joining, its NAT, falling back to TCP.
    fn tell_node(
        &mut self,
        i: usize,
        v: &NodeView,
        views: &[Option<NodeView>],
        say: &Narrator,
        name_of: &dyn Fn(&str) -> String,
    ) {
        let name = MEMBERS[i].name;
        let public_id = views[0].as_ref().map(|p| p.node_id.as_str());
        if !self.tcp_told[i] && !v.tcp_dialed.is_empty() {
            self.tcp_told[i] = true;
            say.say(format!(
                "{name}: no UDP gets out, so after 3 s alone it dialed {} over TCP",
                v.tcp_dialed.join(", ")
            ));
        }
        if !self.joined[i] && i != 0 {
            if let Some(pid) = public_id {
                if v.path_to(pid) != Path::None {
                    self.joined[i] = true;
                    let how = if v.tcp_dialed.is_empty() {
                        "UDP"
                    } else {
                        "TCP"
                    };
                    say.say(format!(
                        "{name} joined: a session with {} over {how}",
                        name_of(pid)
                    ));
                }
            }
        }
        let known = |s: &str| !s.is_empty() && s != "unknown";
        if !self.nat_told[i] && known(&v.nat.mapping) && known(&v.nat.allocation) {
            self.nat_told[i] = true;
            let seen = v
                .nat
                .reflexive
                .first()
                .map(|r| format!(", seen from outside at {r}"))
                .unwrap_or_default();
            if MEMBERS[i].nat == Nat::None {
                say.say(format!(
                    "{name} learned from the members' answers that it is seen at its own \
                     address{}: no NAT",
                    v.nat
                        .reflexive
                        .first()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                ));
            } else {
                say.say(format!(
                    "{name} learned its NAT from the members' answers: mapping {}, ports {}{seen}",
                    v.nat.mapping.replace('_', "-"),
                    v.nat.allocation
                ));
            }
        }
    }

    /// True once every pair is connected and every pair expected direct is.
    pub(crate) fn settled(&self) -> bool {
        self.pairs.iter().all(|p| match &p.track.path {
            PairPath::Unconnected => false,
            PairPath::Direct => true,
            PairPath::Relayed(_) => p.expect.outcome == Outcome::Relayed,
        })
    }

    /// Says, for each pair that is not direct, why.
    fn summarise(&self, world: &DemoWorld, say: &Narrator) {
        let secs = world.started.elapsed().as_secs_f64();
        let (mut direct, mut relayed) = (0, 0);
        for p in &self.pairs {
            let label = pair_label(p);
            match (&p.track.path, p.expect.outcome) {
                (PairPath::Direct, _) => direct += 1,
                (PairPath::Relayed(via), Outcome::Relayed) => {
                    relayed += 1;
                    say.say(format!(
                        "{label}: stays relayed through {}: {}",
                        name_of(world, via),
                        p.expect.reason
                    ));
                }
                (PairPath::Relayed(via), Outcome::Predicted) => {
                    relayed += 1;
                    say.say(format!(
                        "{label}: still relayed through {} after {secs:.0} s: the sequential NAT \
                         gave other ports than those predicted (another mapping came between); \
                         a later punch tries again",
                        name_of(world, via),
                    ));
                }
                (PairPath::Relayed(via), Outcome::Direct) => {
                    relayed += 1;
                    say.say(format!(
                        "{label}: still relayed through {} after {secs:.0} s, though it should go \
                         direct ({}); a punch that missed is retried after 20 s",
                        name_of(world, via),
                        p.expect.reason
                    ));
                }
                (PairPath::Unconnected, _) => {
                    say.say(format!("{label}: not connected after {secs:.0} s"));
                }
            }
        }
        say.say(format!(
            "{} pairs: {direct} direct, {relayed} relayed, {} not connected",
            self.pairs.len(),
            self.pairs.len() - direct - relayed
        ));
    }
}

/// Every node's status, asked all at once; `None` where it did not answer.
pub(crate) fn poll(world: &DemoWorld) -> Vec<Option<NodeView>> {
    let views = std::thread::scope(|s| {
        let asks: Vec<_> = world
            .nodes
            .iter()
            .map(|n| s.spawn(move || n.status().ok()))
            .collect();
        asks.into_iter().map(|a| a.join().ok().flatten()).collect()
    });
    world.publish(&views);
    views
}

/// `a <-> b`.
pub(crate) fn pair_label(p: &PairState) -> String {
    format!("{} <-> {}", MEMBERS[p.a].name, MEMBERS[p.b].name)
}

/// The member name of a node ID (a short ID if it is none of them).
pub(crate) fn name_of(world: &DemoWorld, id: &str) -> String {
    world
        .nodes
        .iter()
        .find(|n| n.id == id)
        .map(|n| n.member.name.to_owned())
        .unwrap_or_else(|| id.chars().take(20).collect())
}

/// Whether the pair's path crosses a TCP connection: one side dialed the
/// public member over TCP, and the path goes to or through it.
fn over_tcp(p: &PairState, views: &[Option<NodeView>], public_id: &str) -> bool {
    let dialed = |i: usize| views[i].as_ref().is_some_and(|v| !v.tcp_dialed.is_empty());
    let through_public = match &p.track.path {
        PairPath::Direct => p.a == 0 || p.b == 0,
        PairPath::Relayed(via) => via == public_id,
        PairPath::Unconnected => false,
    };
    through_public && (dialed(p.a) || dialed(p.b))
}

/// One narrated line for a pair's event.
fn describe(p: &PairState, event: &PairEvent, name_of: &dyn Fn(&str) -> String) -> String {
    let label = pair_label(p);
    let tcp = if p.tcp { " over TCP" } else { "" };
    let lan = MEMBERS[p.a].site == MEMBERS[p.b].site && MEMBERS[p.a].nat != Nat::None;
    match event {
        PairEvent::Connected(PairPath::Direct) if lan => {
            format!(
                "{label}: connected, direct over their LAN ({})",
                p.expect.reason
            )
        }
        PairEvent::Connected(PairPath::Direct) => {
            format!("{label}: connected, direct{tcp} ({})", p.expect.reason)
        }
        PairEvent::Connected(PairPath::Relayed(via)) => {
            let next = match p.expect.outcome {
                Outcome::Direct | Outcome::Predicted => "; hole punching starts",
                Outcome::Relayed => "",
            };
            format!(
                "{label}: connected, relayed through {}{tcp}{next}",
                name_of(via)
            )
        }
        PairEvent::Connected(PairPath::Unconnected) | PairEvent::Lost => {
            format!("{label}: session lost")
        }
        PairEvent::WentDirect { after_first } => format!(
            "{label}: direct after hole punching, {:.1} s after the first packet ({})",
            after_first.as_secs_f64(),
            p.expect.reason
        ),
        PairEvent::Relayed(via) => {
            format!("{label}: relayed through {} again{tcp}", name_of(via))
        }
    }
}
