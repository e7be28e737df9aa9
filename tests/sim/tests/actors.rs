//! The actor transport on the simulator host: 50 nodes, 200 engines, casts,
//! calls, subscriptions and names under churn (nodes leaving and joining,
//! engines stopping and starting), over streams carried as lossy,
//! reordering datagrams with retransmission. Seeded: `SIM_SEED=N` replays.
//!
//! Checks: every call ends with its answer or an error by its deadline; no
//! message is delivered twice or to the wrong engine; honest traffic is
//! never counted as forged, altered, replayed or malformed; after the churn
//! stops, every node knows exactly the running foreign engines (forgets
//! converge) and all nodes agree on every name.

use std::collections::{BTreeMap, BTreeSet};

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use tessel_actors::{Config, Delivery, EngineAddr, Event, Filter, Notice, Persistence};
use tessel_sim::actors::{ActorWorld, Conditions};

const NODES: usize = 50;
const ENGINES_PER_NODE: usize = 4;
const STEP_MS: u64 = 100;
const CHURN_STEPS: u64 = 400;
const CALL_TIMEOUT_MS: u32 = 1_500;
const TTL_MS: u64 = 20_000;

fn seed() -> u64 {
    std::env::var("SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_206)
}

/// What the scenario sent, to check what arrives.
#[derive(Default)]
struct Ledger {
    /// Message number → intended receiver.
    sent: BTreeMap<u64, EngineAddr>,
    delivered: BTreeSet<u64>,
    /// (node, call) → deadline and calling engine.
    calls: BTreeMap<(usize, u64), (u64, EngineAddr)>,
    answered: u64,
    failed: u64,
    events: u64,
}

struct Scenario {
    world: ActorWorld,
    rng: ChaCha20Rng,
    engines: BTreeMap<usize, Vec<EngineAddr>>,
    ledger: Ledger,
    next_msg: u64,
    names: BTreeSet<String>,
}

impl Scenario {
    fn live(&self) -> Vec<usize> {
        self.engines.keys().copied().collect()
    }

    fn pick<T: Copy>(&mut self, v: &[T]) -> Option<T> {
        if v.is_empty() {
            return None;
        }
        Some(v[(self.rng.next_u64() % v.len() as u64) as usize])
    }

    fn all_engines(&self) -> Vec<(usize, EngineAddr)> {
        self.engines
            .iter()
            .flat_map(|(&n, es)| es.iter().map(move |&e| (n, e)))
            .collect()
    }

    fn add_node(&mut self) {
        let n = self.world.add_node();
        for other in self.live() {
            self.world.connect(n, other);
        }
        let mut es = Vec::new();
        for _ in 0..ENGINES_PER_NODE {
            es.push(self.world.node_mut(n).start_engine(Persistence::Ephemeral));
        }
        self.engines.insert(n, es);
    }

    fn message(&mut self, dst: EngineAddr) -> Vec<u8> {
        let id = self.next_msg;
        self.next_msg += 1;
        self.ledger.sent.insert(id, dst);
        id.to_le_bytes().to_vec()
    }

    fn act(&mut self) {
        let now = self.world.now();
        let roll = self.rng.next_u32() % 100;
        let live = self.live();
        match roll {
            0 if live.len() > NODES - 5 => {
                let n = self.pick(&live).expect("nodes");
                self.world.remove_node(n);
                self.engines.remove(&n);
                self.ledger.calls.retain(|(c, _), _| *c != n);
            }
            1 if live.len() < NODES + 5 => self.add_node(),
            2 => {
                let n = self.pick(&live).expect("nodes");
                let es = self.engines.get(&n).cloned().unwrap_or_default();
                if let Some(e) = self.pick(&es) {
                    self.world.node_mut(n).stop_engine(e);
                    self.engines.get_mut(&n).expect("node").retain(|x| *x != e);
                    // A stopped caller's calls end without a notice.
                    self.ledger.calls.retain(|_, (_, caller)| *caller != e);
                }
            }
            3 => {
                let n = self.pick(&live).expect("nodes");
                let e = self.world.node_mut(n).start_engine(Persistence::Ephemeral);
                self.engines.get_mut(&n).expect("node").push(e);
            }
            4 => {
                let all = self.all_engines();
                if let Some((n, e)) = self.pick(&all) {
                    let name = format!("name-{}", self.rng.next_u32() % 20);
                    if self.world.node_mut(n).register(e, &name).is_ok() {
                        self.names.insert(name);
                    }
                }
            }
            5..=8 => {
                let all = self.all_engines();
                if let (Some((n, sub)), Some((_, publisher))) = (self.pick(&all), self.pick(&all)) {
                    let region = if self.rng.next_u32().is_multiple_of(2) {
                        "eu"
                    } else {
                        "us"
                    };
                    let filter = Filter::topic("orders/").with("region", region);
                    let _ = self.world.node_mut(n).subscribe(sub, publisher, filter);
                }
            }
            9..=14 => {
                let all = self.all_engines();
                if let Some((n, publisher)) = self.pick(&all) {
                    let region = if self.rng.next_u32().is_multiple_of(2) {
                        "eu"
                    } else {
                        "us"
                    };
                    let mut event = Event {
                        topic: "orders/new".into(),
                        ..Event::default()
                    };
                    event.fields.insert("region".into(), region.into());
                    let _ = self.world.node_mut(n).publish(publisher, event);
                }
            }
            15..=59 => {
                let all = self.all_engines();
                if let (Some((n, src)), Some((_, dst))) = (self.pick(&all), self.pick(&all)) {
                    let m = self.message(dst);
                    let _ = self.world.node_mut(n).cast(src, dst, m);
                }
            }
            _ => {
                let all = self.all_engines();
                if let (Some((n, src)), Some((_, dst))) = (self.pick(&all), self.pick(&all)) {
                    let m = self.message(dst);
                    if let Ok(call) = self.world.node_mut(n).call(src, dst, m, CALL_TIMEOUT_MS) {
                        self.ledger
                            .calls
                            .insert((n, call.0), (now + u64::from(CALL_TIMEOUT_MS), src));
                    }
                }
            }
        }
    }

    /// Hands every delivery to the checks (answering calls) and every notice.
    fn drain(&mut self) {
        let now = self.world.now();
        for (n, e) in self.all_engines() {
            while let Some(d) = self.world.node_mut(n).recv(e) {
                let (payload, reply) = match d {
                    Delivery::Cast { payload, .. } => (payload, None),
                    Delivery::Call { reply, payload, .. } => (payload, Some(reply)),
                    Delivery::Event { .. } => {
                        self.ledger.events += 1;
                        continue;
                    }
                };
                let id = u64::from_le_bytes(payload[..8].try_into().expect("8 bytes"));
                assert_eq!(
                    self.ledger.sent.get(&id),
                    Some(&e),
                    "message {id} went to the wrong engine"
                );
                assert!(
                    self.ledger.delivered.insert(id),
                    "message {id} delivered twice"
                );
                if let Some(r) = reply {
                    let _ = self.world.node_mut(n).reply(r, payload);
                }
            }
            let _ = e;
        }
        for n in self.live() {
            while let Some(notice) = self.world.node_mut(n).poll_notice() {
                if let Notice::CallDone { call, result, .. } = notice {
                    let pending = self.ledger.calls.remove(&(n, call.0));
                    let (deadline, _) = pending.expect("a call ended twice or was never made");
                    assert!(
                        now <= deadline + STEP_MS,
                        "call ended at {now}, after its deadline {deadline}"
                    );
                    match result {
                        Ok(_) => self.ledger.answered += 1,
                        Err(_) => self.ledger.failed += 1,
                    }
                }
            }
        }
    }

    fn step(&mut self, acts: usize) {
        for _ in 0..acts {
            self.act();
        }
        let until = self.world.now() + STEP_MS;
        self.world.run_until(until);
        self.drain();
    }
}

#[test]
fn fifty_nodes_two_hundred_engines_under_churn() {
    let seed = seed();
    eprintln!("SIM_SEED={seed}");
    let config = Config {
        record_ttl_ms: TTL_MS,
        resolve_timeout_ms: 1_000,
        ..Config::default()
    };
    let cond = Conditions {
        loss_ppm: 20_000,
        latency_ms: 5,
        jitter_ms: 10,
    };
    let mut s = Scenario {
        world: ActorWorld::new(seed, 1_700_000_000_000, cond, config),
        rng: ChaCha20Rng::seed_from_u64(seed ^ 0x5eed),
        engines: BTreeMap::new(),
        ledger: Ledger::default(),
        next_msg: 0,
        names: BTreeSet::new(),
    };
    for _ in 0..NODES {
        s.add_node();
    }
    assert_eq!(s.all_engines().len(), NODES * ENGINES_PER_NODE);
    for _ in 0..20 {
        s.step(0);
    }
    for _ in 0..CHURN_STEPS {
        s.step(8);
    }
    // Quiet: every call ends, stale proxies expire.
    for _ in 0..(3 * TTL_MS / STEP_MS) {
        s.step(0);
    }
    let l = &s.ledger;
    eprintln!(
        "sent {} delivered {} calls answered {} failed {} events {} world {:?}",
        l.sent.len(),
        l.delivered.len(),
        l.answered,
        l.failed,
        l.events,
        s.world.stats()
    );
    assert!(l.calls.is_empty(), "calls never ended: {:?}", l.calls);
    assert!(
        l.answered > 100 && l.delivered.len() > 1000 && l.events > 0,
        "too little got through"
    );
    assert!(s.world.stats().retransmitted > 0, "no loss was repaired");
    let running: BTreeMap<EngineAddr, usize> =
        s.all_engines().into_iter().map(|(n, e)| (e, n)).collect();
    for n in s.live() {
        let t = s.world.node(n);
        let st = t.stats();
        assert_eq!(
            (
                st.malformed,
                st.forged,
                st.unauthenticated,
                st.bad_mac,
                st.replayed
            ),
            (0, 0, 0, 0, 0),
            "node {n} counted honest traffic as bad: {st:?}"
        );
        let known: BTreeSet<EngineAddr> = t.foreign_engines().map(|(e, _, _)| e).collect();
        let expected: BTreeSet<EngineAddr> = running
            .iter()
            .filter(|(_, &h)| h != n)
            .map(|(&e, _)| e)
            .collect();
        assert_eq!(
            known, expected,
            "node {n} does not know exactly the running foreign engines"
        );
    }
    let first = s.live()[0];
    for name in &s.names {
        let owner = s.world.node(first).whereis(name);
        for n in s.live() {
            assert_eq!(
                s.world.node(n).whereis(name),
                owner,
                "nodes disagree on {name}"
            );
        }
        if let Some(o) = owner {
            assert!(
                running.contains_key(&o),
                "{name} is owned by a stopped engine"
            );
        }
    }
}
