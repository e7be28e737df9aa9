//! Scopes hosted in the actor transport on the simulator host: thirteen
//! scopes three levels deep (`/`, `/a` `/b` `/c`, three children each),
//! many runtimes over streams carried as lossy, reordering datagrams,
//! sector clusters at all three levels (and scopes without one, held by an
//! ancestor's cluster). Seeded: `SIM_SEED=N` replays.
//!
//! Checks, each against the ground truth of what the run registered:
//! both queries from every runtime reach exactly the right runtimes, the
//! redirects followed match the clusters (a cold querier is sent root →
//! level one → level two), repeats come from the cache; anonymous queries
//! succeed exactly where every ancestor is world-readable and are denied
//! the same way for private and missing scopes; readcaps work, expired ones
//! are refused; sends reach every engine (all) or one of the nearest
//! (closest); under churn (service runtimes and cluster members leaving,
//! runtimes joining clusters, a cluster forming) the answers follow within
//! [`BOUND_MS`].
//!
//! The full run (100 runtimes) takes a few seconds in a debug build:
//! `cargo nextest run -p tessel-sim --test scopes --no-capture` prints the
//! summary line; `SIM_SEED=N` picks another seed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use tessel_actors::scope::fixture::{self, key, path as p, public as pk, Tree};
use tessel_actors::scope::record::BEARER;
use tessel_actors::scope::{Body, Credential, QueryError, QueryKind, Record, ScopePath, SECTOR};
use tessel_actors::{Config, Delivery, EngineAddr, NodeId, Notice, Persistence, ScopeFound, Time};
use tessel_actors::{ScopeError, ScopeQueryId};
use tessel_sim::actors::{ActorWorld, Conditions};

const ROOT: u8 = 1;
const START: u64 = 1_700_000_000_000;
const LONG: Time = Time(1_800_000_000_000);
/// The cache lifetime every answer carries.
const CACHE_MS: u32 = 4_000;
/// Registrations live a minute (renewed at half).
const REG_MS: u64 = 60_000;
const TIMEOUT_MS: u64 = 1_000;
const UPKEEP_MS: u64 = 1_000;
/// How long after a join or leave the answers must show it: one cache
/// lifetime (an answer cached just before the change lives that long),
/// plus one upkeep period of slack (members redial a runtime whose stream
/// closed and tell the others it is gone, placements that failed are
/// retried, a new member is synced, all on the upkeep tick) and one hop
/// timeout (the placement or the query itself may first ask a runtime
/// that just left, and a lost datagram is only resent after 200 ms).
const BOUND_MS: u64 = CACHE_MS as u64 + UPKEEP_MS + TIMEOUT_MS;
/// Virtual time a batch of queries may take before the run fails.
const ANSWER_WITHIN_MS: u64 = 20_000;

/// (path, owner seed, world-readable)
const SCOPES: &[(&str, u8, bool)] = &[
    ("/", ROOT, true),
    ("/a", 2, true),
    ("/a/a1", 3, true),
    ("/a/a2", 4, true),
    ("/a/a3", 5, false),
    ("/b", 6, true),
    ("/b/b1", 7, true),
    ("/b/b2", 8, false),
    ("/b/b3", 9, true),
    ("/c", 10, false),
    ("/c/c1", 11, true),
    ("/c/c2", 12, true),
    ("/c/c3", 13, true),
];

const TREE: Tree<'static> = Tree {
    root: ROOT,
    scopes: SCOPES,
};

/// Scopes that were never created (asked for as the private ones are).
const MISSING: &[&str] = &["/d", "/a/zz", "/c/c1/x"];

/// Sector clusters at the start and how many members each has; runtimes
/// 0, 1, 2 are the root cluster and the bootstrap list. `/c`, `/a/a2`,
/// `/b/b1`, `/b/b3`, `/c/c2` and `/c/c3` have no cluster of their own.
const CLUSTERS: &[(&str, usize)] = &[
    ("/", 3),
    ("/a", 2),
    ("/b", 2),
    ("/a/a1", 2),
    ("/a/a3", 1),
    ("/b/b2", 2),
    ("/c/c1", 2),
];

const SERVICES: &[&str] = &["fs", "db", SECTOR];

fn readcap(scope: &str, holder: [u8; 32], expires: Time, signer: u8) -> Credential {
    Credential::ReadCap(fixture::readcap(scope, holder, expires, signer))
}

fn bearer() -> Credential {
    readcap("/", BEARER, LONG, ROOT)
}

fn ids(f: &ScopeFound) -> BTreeSet<NodeId> {
    f.runtimes.iter().map(|x| x.entry.runtime).collect()
}

fn redirects(f: &ScopeFound) -> Vec<ScopePath> {
    f.trail.iter().filter_map(|h| h.redirect.clone()).collect()
}

fn seed() -> u64 {
    std::env::var("SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_260_316)
}

/// One query of a batch.
#[derive(Clone)]
struct Ask {
    from: usize,
    kind: QueryKind,
    scope: ScopePath,
    service: &'static str,
    cred: Credential,
}

/// What the run counts, for the summary line.
#[derive(Debug, Default)]
struct Counts {
    queries: u64,
    /// Redirects followed, by the depth of the scope redirected to.
    redirects: [u64; 3],
    hits: u64,
    denials: u64,
    sends: u64,
    casts: u64,
}

struct Sim {
    world: ActorWorld,
    rng: ChaCha20Rng,
    notices: Vec<Vec<Notice>>,
    live: BTreeSet<usize>,
    bootstrap: Vec<NodeId>,
    /// (scope, service) → runtime → the engine serving it.
    regs: BTreeMap<(ScopePath, &'static str), BTreeMap<usize, Option<EngineAddr>>>,
    /// Every runtime that was ever a member of a scope's cluster.
    members_ever: BTreeMap<ScopePath, BTreeSet<NodeId>>,
    counts: Counts,
    next_tag: u64,
}

impl Sim {
    fn new(seed: u64, runtimes: usize) -> Self {
        let config = Config {
            scope_root: Some(pk(ROOT)),
            scope_cache_ms: CACHE_MS,
            scope_registration_ms: REG_MS,
            scope_query_timeout_ms: TIMEOUT_MS,
            scope_maintain_ms: UPKEEP_MS,
            ..Config::default()
        };
        let cond = Conditions {
            loss_ppm: 10_000,
            latency_ms: 5,
            jitter_ms: 10,
        };
        let mut s = Self {
            world: ActorWorld::new(seed, START, cond, config),
            rng: ChaCha20Rng::seed_from_u64(seed ^ 0x5c09e),
            notices: Vec::new(),
            live: BTreeSet::new(),
            bootstrap: Vec::new(),
            regs: BTreeMap::new(),
            members_ever: BTreeMap::new(),
            counts: Counts::default(),
            next_tag: 0,
        };
        for _ in 0..runtimes {
            s.add_runtime();
        }
        s.bootstrap = (0..CLUSTERS[0].1).map(|i| s.world.id(i)).collect();
        let boot = s.bootstrap.clone();
        for i in 0..runtimes {
            s.world.node_mut(i).set_scope_bootstrap(boot.clone());
        }
        s.advance(500);
        s
    }

    /// A runtime that knows the tree (the CLI gave it the creations) and
    /// the bootstrap runtimes.
    fn add_runtime(&mut self) -> usize {
        let i = self.world.add_node();
        let boot = self.bootstrap.clone();
        let t = self.world.node_mut(i);
        if !boot.is_empty() {
            t.set_scope_bootstrap(boot);
        }
        for (s, _, _) in SCOPES {
            t.scope_add_record(TREE.creation(s)).expect("a creation");
        }
        self.notices.push(Vec::new());
        self.live.insert(i);
        i
    }

    fn id(&self, i: usize) -> NodeId {
        self.world.id(i)
    }

    fn advance(&mut self, ms: u64) {
        let until = self.world.now() + ms;
        self.world.run_until(until);
    }

    fn pick(&mut self, n: usize) -> usize {
        (self.rng.next_u64() % n as u64) as usize
    }

    fn register(&mut self, scope: &str, service: &'static str, rt: usize, engine: bool) {
        let scope = p(scope);
        let e = engine.then(|| self.world.node_mut(rt).start_engine(Persistence::Ephemeral));
        let grant = Record::sign(
            Body::HostingGrant {
                scope: scope.clone(),
                runtime: self.id(rt),
                expires: LONG,
            },
            &key(TREE.owner_of(&scope)),
        )
        .expect("a grant");
        self.world
            .node_mut(rt)
            .scope_register(scope.clone(), service, e, grant)
            .expect("registered");
        if service == SECTOR {
            let id = self.id(rt);
            self.members_ever
                .entry(scope.clone())
                .or_default()
                .insert(id);
        }
        self.regs.entry((scope, service)).or_default().insert(rt, e);
    }

    fn remove(&mut self, rt: usize) {
        self.world.remove_node(rt);
        self.live.remove(&rt);
        for v in self.regs.values_mut() {
            v.remove(&rt);
        }
    }

    /// What a query should find.
    fn expected(&self, kind: QueryKind, scope: &ScopePath, service: &str) -> BTreeSet<NodeId> {
        let at = |s: &ScopePath| -> BTreeSet<NodeId> {
            self.regs
                .iter()
                .filter(|((x, sv), _)| x == s && *sv == service)
                .flat_map(|(_, v)| v.keys().map(|&i| self.id(i)))
                .collect()
        };
        match kind {
            QueryKind::All => at(scope),
            QueryKind::Closest => scope
                .lineage()
                .iter()
                .rev()
                .map(at)
                .find(|v| !v.is_empty())
                .unwrap_or_default(),
        }
    }

    /// The engines of the `fs` registrations a query finds.
    fn engines(&self, kind: QueryKind, scope: &ScopePath) -> BTreeSet<EngineAddr> {
        let at = |s: &ScopePath| -> BTreeSet<EngineAddr> {
            self.regs
                .get(&(s.clone(), "fs"))
                .map(|v| v.values().flatten().copied().collect())
                .unwrap_or_default()
        };
        match kind {
            QueryKind::All => at(scope),
            QueryKind::Closest => scope
                .lineage()
                .iter()
                .rev()
                .find(|x| {
                    self.regs
                        .get(&((*x).clone(), "fs"))
                        .is_some_and(|v| !v.is_empty())
                })
                .map(at)
                .unwrap_or_default(),
        }
    }

    fn take_notices(&mut self, i: usize) {
        if !self.world.is_up(i) {
            return;
        }
        while let Some(n) = self.world.node_mut(i).poll_notice() {
            self.notices[i].push(n);
        }
    }

    fn answer(&mut self, i: usize, id: ScopeQueryId) -> Option<Result<ScopeFound, QueryError>> {
        let pos = self.notices[i]
            .iter()
            .position(|n| matches!(n, Notice::ScopeAnswer { id: x, .. } if *x == id))?;
        match self.notices[i].remove(pos) {
            Notice::ScopeAnswer { result, .. } => Some(result),
            _ => None,
        }
    }

    /// Runs a batch of queries at once; every one must end within
    /// [`ANSWER_WITHIN_MS`] of virtual time.
    fn ask(&mut self, batch: &[Ask]) -> Vec<Result<ScopeFound, QueryError>> {
        let qids: Vec<ScopeQueryId> = batch
            .iter()
            .map(|a| {
                self.world.node_mut(a.from).scope_query(
                    a.kind,
                    a.scope.clone(),
                    a.service,
                    a.cred.clone(),
                )
            })
            .collect();
        let deadline = self.world.now() + ANSWER_WITHIN_MS;
        let mut out: Vec<Option<Result<ScopeFound, QueryError>>> = vec![None; batch.len()];
        loop {
            let froms: BTreeSet<usize> = batch.iter().map(|a| a.from).collect();
            for f in froms {
                self.take_notices(f);
            }
            for (k, a) in batch.iter().enumerate() {
                if out[k].is_none() {
                    out[k] = self.answer(a.from, qids[k]);
                }
            }
            if let Some(k) = out.iter().position(Option::is_none) {
                let a = &batch[k];
                assert!(
                    self.world.now() < deadline,
                    "{:?} {} {} from {} never answered",
                    a.kind,
                    a.scope,
                    a.service,
                    a.from
                );
                self.advance(20);
            } else {
                break;
            }
        }
        self.counts.queries += batch.len() as u64;
        out.into_iter()
            .map(|r| {
                let r = r.expect("answered");
                match &r {
                    Ok(f) if f.cached => self.counts.hits += 1,
                    Ok(f) => {
                        for s in redirects(f) {
                            self.counts.redirects[s.depth().min(2)] += 1;
                        }
                    }
                    Err(QueryError::Denied) => self.counts.denials += 1,
                    Err(_) => {}
                }
                r
            })
            .collect()
    }

    /// Checks an answer against the ground truth: the right runtimes, and
    /// every redirect followed to a member of the cluster it named.
    fn check(&self, a: &Ask, r: &Result<ScopeFound, QueryError>, when: &str) {
        let f = r.as_ref().unwrap_or_else(|e| {
            panic!(
                "{when}: {:?} {} {} from {}: {e:?}",
                a.kind, a.scope, a.service, a.from
            )
        });
        assert_eq!(
            ids(f),
            self.expected(a.kind, &a.scope, a.service),
            "{when}: {:?} {} {} from {} (trail {:?}; runtimes {:?})",
            a.kind,
            a.scope,
            a.service,
            a.from,
            f.trail,
            f.runtimes
                .iter()
                .map(|x| {
                    let i = (0..self.notices.len()).find(|&i| self.id(i) == x.entry.runtime);
                    (i, i.map(|i| self.live.contains(&i)), x.scope.to_string())
                })
                .collect::<Vec<_>>()
        );
        for pair in f.trail.windows(2) {
            let to = pair[0].redirect.as_ref().unwrap_or_else(|| {
                panic!("{when}: a hop that answered is not the last: {:?}", f.trail)
            });
            assert!(
                self.members_ever
                    .get(to)
                    .is_some_and(|m| m.contains(&pair[1].asked)),
                "{when}: redirected to {to}, asked a runtime never in its cluster"
            );
        }
        if let Some(last) = f.trail.last() {
            assert_eq!(last.redirect, None, "{when}: the last hop answered");
        }
        for x in &f.runtimes {
            let Some(rt) = self
                .live
                .iter()
                .copied()
                .find(|&i| self.id(i) == x.entry.runtime)
            else {
                continue;
            };
            let engine = self
                .regs
                .get(&(x.scope.clone(), a.service))
                .and_then(|v| v.get(&rt))
                .copied()
                .flatten();
            assert_eq!(x.entry.engine, engine, "{when}: the engine registered");
        }
    }

    /// A spread of queries with a credential: `per` random (kind, scope,
    /// service) from every live runtime.
    fn spread(&mut self, per: usize, cred: &Credential) -> Vec<Ask> {
        let mut batch = Vec::new();
        let live: Vec<usize> = self.live.iter().copied().collect();
        for from in live {
            for _ in 0..per {
                let kind = if self.pick(2) == 0 {
                    QueryKind::All
                } else {
                    QueryKind::Closest
                };
                let scope = p(SCOPES[self.pick(SCOPES.len())].0);
                let service = SERVICES[self.pick(SERVICES.len())];
                batch.push(Ask {
                    from,
                    kind,
                    scope,
                    service,
                    cred: cred.clone(),
                });
            }
        }
        batch
    }

    /// Runs a spread and checks every answer.
    fn verify(
        &mut self,
        per: usize,
        when: &str,
    ) -> (Vec<Ask>, Vec<Result<ScopeFound, QueryError>>) {
        let batch = self.spread(per, &bearer());
        let rs = self.ask(&batch);
        for (a, r) in batch.iter().zip(&rs) {
            self.check(a, r, when);
        }
        (batch, rs)
    }

    fn stats(&self) -> tessel_actors::ScopeStats {
        let mut t = tessel_actors::ScopeStats::default();
        for &i in &self.live {
            let s = &self.world.node(i).stats().scopes;
            t.records_forged += s.records_forged;
            t.records_refused += s.records_refused;
            t.answers_forged += s.answers_forged;
            t.answers_malformed += s.answers_malformed;
            t.loops += s.loops;
            t.gone_detected += s.gone_detected;
            t.denied += s.denied;
            t.cache_hits += s.cache_hits;
            t.hop_timeouts += s.hop_timeouts;
        }
        t
    }
}

/// Builds the tree: clusters first (members from runtime 0 up), then `fs`
/// (served by engines) and `db` (without) on random runtimes.
fn build(seed: u64, runtimes: usize) -> Sim {
    let mut s = Sim::new(seed, runtimes);
    let mut next = 0;
    for (scope, n) in CLUSTERS {
        for _ in 0..*n {
            s.register(scope, SECTOR, next, false);
            next += 1;
        }
        s.advance(300);
    }
    // Services come at once: a founder's own "closest sector" answer from
    // before its cluster existed is still cached, so what it places in its
    // scope reaches the cluster above, which passes it down.
    // Service hosts come from the first two thirds: the rest stay cold.
    let hosts = runtimes * 2 / 3;
    for (scope, _, _) in SCOPES {
        for _ in 0..s.pick(4) {
            let rt = s.pick(hosts);
            s.register(scope, "fs", rt, true);
        }
        if s.pick(3) == 0 {
            let rt = s.pick(hosts);
            s.register(scope, "db", rt, false);
        }
    }
    // The tree is a change like any other: answers (the founders' cached
    // ones included) follow within the bound.
    s.advance(BOUND_MS);
    s
}

/// The whole scenario; returns the summary line.
fn run(seed: u64, runtimes: usize, per: usize) -> String {
    // How long the run took on the wall clock, for the summary.
    #[allow(clippy::disallowed_methods)]
    let wall = Instant::now();
    let mut s = build(seed, runtimes);
    let hosts = runtimes * 2 / 3;

    // A cold runtime is sent down all three levels: a root runtime
    // redirects to /a, /a's cluster to /a/a1, which answers.
    let cold: Vec<usize> = (hosts..runtimes).collect();
    let batch: Vec<Ask> = cold
        .iter()
        .map(|&from| Ask {
            from,
            kind: QueryKind::All,
            scope: p("/a/a1"),
            service: "fs",
            cred: bearer(),
        })
        .collect();
    let rs = s.ask(&batch);
    for (a, r) in batch.iter().zip(&rs) {
        s.check(a, r, "cold");
        let f = r.as_ref().expect("checked");
        assert!(!f.cached);
        assert_eq!(redirects(f), vec![p("/a"), p("/a/a1")], "from {}", a.from);
        assert!(
            s.bootstrap.contains(&f.trail[0].asked),
            "starts at a root runtime"
        );
    }
    // The same runtimes, their cache now knowing /a/a1, look for the
    // closest runtime of a service nobody hosts: /a/a1 sends them up to
    // /a, /a up to the root, which answers that there is none.
    let batch: Vec<Ask> = cold
        .iter()
        .map(|&from| Ask {
            from,
            kind: QueryKind::Closest,
            scope: p("/a/a1"),
            service: "none",
            cred: bearer(),
        })
        .collect();
    let rs = s.ask(&batch);
    for (a, r) in batch.iter().zip(&rs) {
        s.check(a, r, "up");
        let f = r.as_ref().expect("checked");
        assert_eq!(redirects(f), vec![p("/a"), p("/")], "from {}", a.from);
    }

    // Both queries, every service, from every runtime; then the same again
    // from the cache.
    let (batch, first) = s.verify(per, "spread");
    let t = s.world.now();
    let again = s.ask(&batch);
    assert!(
        s.world.now() - t < u64::from(CACHE_MS),
        "the repeat ran within the cache lifetime"
    );
    for ((a, r1), r2) in batch.iter().zip(&first).zip(&again) {
        s.check(a, r2, "repeat");
        let (r1, r2) = (r1.as_ref().expect("ok"), r2.as_ref().expect("ok"));
        // A fresh answer is cached for CACHE_MS; one that came from the
        // cache may have been about to expire.
        assert!(
            r2.cached || r1.cached,
            "{:?} {} {} from {} repeated is not from the cache",
            a.kind,
            a.scope,
            a.service,
            a.from
        );
        assert_eq!(ids(r1), ids(r2));
    }
    assert!(
        s.counts.redirects.iter().all(|&n| n > 0),
        "redirects at every level: {:?}",
        s.counts.redirects
    );

    access(&mut s, per);
    readcaps(&mut s);
    sends(&mut s);
    churn(&mut s, per);

    let st = s.stats();
    assert_eq!(
        (
            st.records_forged,
            st.answers_forged,
            st.answers_malformed,
            st.loops
        ),
        (0, 0, 0, 0),
        "honest traffic counted as bad: {st:?}"
    );
    assert!(s.world.stats().retransmitted > 0, "no loss was repaired");
    let c = &s.counts;
    let w = s.world.stats();
    format!(
        "scopes sim: seed {seed} runtimes {runtimes} (live {}) queries {} redirects {} \
         (to / {}, level 1 {}, level 2 {}) cache hits {} denials {} sends {} casts {} \
         gone detected {} hop timeouts {} bytes {} datagrams {} lost {} virtual {} s wall {:.1} s",
        s.live.len(),
        c.queries,
        c.redirects.iter().sum::<u64>(),
        c.redirects[0],
        c.redirects[1],
        c.redirects[2],
        c.hits,
        c.denials,
        c.sends,
        c.casts,
        st.gone_detected,
        st.hop_timeouts,
        w.bytes,
        w.datagrams,
        w.lost,
        (s.world.now() - START) / 1000,
        wall.elapsed().as_secs_f64()
    )
}

/// Anonymous queries: answered exactly where every scope up to the root is
/// world-readable; a private scope and a missing one are denied alike.
fn access(s: &mut Sim, per: usize) {
    let mut batch = Vec::new();
    let live: Vec<usize> = s.live.iter().copied().collect();
    let all: Vec<&str> = SCOPES
        .iter()
        .map(|x| x.0)
        .chain(MISSING.iter().copied())
        .collect();
    for &from in &live {
        for _ in 0..per {
            let scope = p(all[s.pick(all.len())]);
            let kind = if s.pick(2) == 0 {
                QueryKind::All
            } else {
                QueryKind::Closest
            };
            batch.push(Ask {
                from,
                kind,
                scope,
                service: "fs",
                cred: Credential::Anonymous,
            });
        }
        // With a credential that reads everything, a missing scope is
        // still denied.
        batch.push(Ask {
            from,
            kind: QueryKind::All,
            scope: p(MISSING[from % MISSING.len()]),
            service: "fs",
            cred: bearer(),
        });
    }
    let rs = s.ask(&batch);
    let (mut allowed, mut private, mut missing) = (0, 0, 0);
    for (a, r) in batch.iter().zip(&rs) {
        let exists = SCOPES.iter().any(|x| p(x.0) == a.scope);
        if exists && TREE.world_readable(&a.scope) && matches!(a.cred, Credential::Anonymous) {
            s.check(a, r, "anonymous");
            allowed += 1;
        } else {
            assert_eq!(
                r.as_ref().map(ids).map_err(Clone::clone),
                Err(QueryError::Denied),
                "{} from {}",
                a.scope,
                a.from
            );
            if exists {
                private += 1;
            } else {
                missing += 1;
            }
        }
    }
    assert!(allowed > 0 && private > 0 && missing > 0);
}

/// Readcaps: from a scope's owner for the querier, a bearer one from the
/// root key; refused when expired, held by another or signed by a
/// stranger; one that expires is refused once it has.
fn readcaps(s: &mut Sim) {
    let now = Time(s.world.now());
    let soon = now.plus_ms(3_000);
    let live: Vec<usize> = s.live.iter().copied().collect();
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for _ in 0..8 {
        let from = live[s.pick(live.len())];
        let me = s.id(from).0;
        let other = pk(77);
        let q = |scope: &str, kind, cred: Credential| Ask {
            from,
            kind,
            scope: p(scope),
            service: "fs",
            cred,
        };
        good.push(q("/c/c1", QueryKind::All, readcap("/c", me, LONG, 10)));
        good.push(q("/c/c2", QueryKind::Closest, readcap("/c", me, LONG, 10)));
        good.push(q(
            "/b/b2",
            QueryKind::All,
            readcap("/b/b2", BEARER, LONG, ROOT),
        ));
        good.push(q(
            "/a/a3",
            QueryKind::Closest,
            readcap("/a/a3", me, soon, 2),
        ));
        bad.push(q("/c/c1", QueryKind::All, readcap("/c", me, now, 10)));
        bad.push(q("/c", QueryKind::All, readcap("/c", other, LONG, 10)));
        bad.push(q("/c/c3", QueryKind::All, readcap("/c", me, LONG, 77)));
        bad.push(q("/b/b2", QueryKind::All, readcap("/b/b1", me, LONG, 6)));
    }
    let rs = s.ask(&good);
    for (a, r) in good.iter().zip(&rs) {
        s.check(a, r, "readcap");
    }
    for (a, r) in bad.iter().zip(s.ask(&bad)) {
        assert_eq!(
            r.map(|f| ids(&f)),
            Err(QueryError::Denied),
            "{} from {}",
            a.scope,
            a.from
        );
    }
    // The short one (/a/a3) once it has expired and the answers it
    // brought have left the caches.
    s.advance(3_000 + u64::from(CACHE_MS));
    let expired: Vec<Ask> = good
        .iter()
        .filter(|a| a.scope == p("/a/a3"))
        .cloned()
        .collect();
    for (a, r) in expired.iter().zip(s.ask(&expired)) {
        assert_eq!(
            r.map(|f| ids(&f)),
            Err(QueryError::Denied),
            "from {}",
            a.from
        );
    }
}

/// Sends: `All` casts to every engine registered for `fs` in the scope,
/// `Closest` to one engine of the nearest scope that has any.
fn sends(s: &mut Sim) {
    let live: Vec<usize> = s.live.iter().copied().collect();
    // tag → (kind, the engines it may reach)
    let mut want: BTreeMap<u64, (QueryKind, BTreeSet<EngineAddr>)> = BTreeMap::new();
    let mut sent = Vec::new();
    for (scope, _, _) in SCOPES {
        for kind in [QueryKind::All, QueryKind::Closest] {
            let from = live[s.pick(live.len())];
            let scope = p(scope);
            let engines = s.engines(kind, &scope);
            let src = s.world.node_mut(from).start_engine(Persistence::Ephemeral);
            let tag = s.next_tag;
            s.next_tag += 1;
            let id = s.world.node_mut(from).scope_send(
                src,
                kind,
                scope.clone(),
                "fs",
                bearer(),
                tag.to_le_bytes().to_vec(),
            );
            want.insert(tag, (kind, engines));
            sent.push((from, id, tag, scope));
        }
    }
    s.counts.sends += sent.len() as u64;
    s.advance(3_000);
    for (from, id, tag, scope) in sent {
        s.take_notices(from);
        let pos = s.notices[from]
            .iter()
            .position(|n| matches!(n, Notice::ScopeSent { id: x, .. } if *x == id))
            .unwrap_or_else(|| panic!("send {tag} to {scope} never reported"));
        let Notice::ScopeSent { result, .. } = s.notices[from].remove(pos) else {
            unreachable!("matched");
        };
        let (kind, engines) = &want[&tag];
        match result {
            Ok(to) => {
                let to: BTreeSet<EngineAddr> = to.into_iter().collect();
                match kind {
                    QueryKind::All => assert_eq!(&to, engines, "all to {scope}"),
                    QueryKind::Closest => {
                        assert_eq!(to.len(), 1, "closest to {scope}");
                        assert!(to.is_subset(engines), "closest to {scope}");
                    }
                }
            }
            Err(ScopeError::NoRuntime) => assert!(engines.is_empty(), "{scope}: {engines:?}"),
            Err(e) => panic!("send to {scope}: {e}"),
        }
    }
    // What arrived: each tag at the engines it was meant for.
    let mut got: BTreeMap<u64, Vec<EngineAddr>> = BTreeMap::new();
    let hosts: Vec<(usize, EngineAddr)> = s
        .regs
        .values()
        .flat_map(|v| v.iter().filter_map(|(&i, e)| e.map(|e| (i, e))))
        .collect();
    for (rt, e) in hosts {
        while let Some(d) = s.world.node_mut(rt).recv(e) {
            if let Delivery::Cast { payload, .. } = d {
                let tag = u64::from_le_bytes(payload[..8].try_into().expect("a tag"));
                got.entry(tag).or_default().push(e);
                s.counts.casts += 1;
            }
        }
    }
    for (tag, (kind, engines)) in &want {
        let to: Vec<EngineAddr> = got.remove(tag).unwrap_or_default();
        let set: BTreeSet<EngineAddr> = to.iter().copied().collect();
        assert_eq!(set.len(), to.len(), "send {tag} delivered twice");
        match kind {
            QueryKind::All => assert_eq!(&set, engines, "send {tag}"),
            QueryKind::Closest => {
                assert_eq!(set.len(), usize::from(!engines.is_empty()), "send {tag}");
                assert!(set.is_subset(engines));
            }
        }
    }
    assert!(s.counts.casts > 0);
}

/// Runtimes leave and join, one change at a time; after each, the answers
/// from every runtime follow within [`BOUND_MS`].
fn churn(s: &mut Sim, per: usize) {
    let member = |s: &Sim, scope: &str, k: usize| -> usize {
        *s.regs[&(p(scope), SECTOR)].keys().nth(k).expect("a member")
    };
    let hosts_only: Vec<usize> = s
        .live
        .iter()
        .copied()
        .filter(|&i| {
            let mut mine = s.regs.iter().filter(|(_, v)| v.contains_key(&i));
            mine.clone().next().is_some() && mine.all(|((_, sv), _)| *sv != SECTOR)
        })
        .collect();
    type Change = Box<dyn Fn(&mut Sim)>;
    let a3 = member(s, "/a/a3", 0);
    let root2 = member(s, "/", 2);
    let a_1 = member(s, "/a", 1);
    let a1_0 = member(s, "/a/a1", 0);
    let (h0, h1) = (hosts_only[0], hosts_only[1]);
    let changes: Vec<(&str, Change)> = vec![
        (
            "two service runtimes leave",
            Box::new(move |s: &mut Sim| {
                s.remove(h0);
                s.remove(h1);
            }),
        ),
        (
            "a root runtime (a bootstrap one) and a member of /a leave",
            Box::new(move |s: &mut Sim| {
                s.remove(root2);
                s.remove(a_1);
            }),
        ),
        (
            "the only member of /a/a3 leaves",
            Box::new(move |s: &mut Sim| s.remove(a3)),
        ),
        (
            "new runtimes join /a/a1, / and /a/a3",
            Box::new(|s: &mut Sim| {
                for scope in ["/a/a1", "/", "/a/a3"] {
                    let n = s.add_runtime();
                    s.register(scope, SECTOR, n, false);
                }
            }),
        ),
        (
            "a cluster forms at /b/b1 while new runtimes host fs in /b/b1, /c/c3 and /b/b2",
            Box::new(|s: &mut Sim| {
                let n = s.add_runtime();
                s.register("/b/b1", SECTOR, n, false);
                for scope in ["/b/b1", "/c/c3", "/b/b2"] {
                    let n = s.add_runtime();
                    s.register(scope, "fs", n, true);
                }
            }),
        ),
        (
            "a founding member of /a/a1 leaves",
            // Its registrations under /a/a3 and /b/b1 went to clusters that
            // formed after it placed them, which have no stream to it: the
            // cluster that has one tells them.
            Box::new(move |s: &mut Sim| s.remove(a1_0)),
        ),
    ];
    for (what, change) in changes {
        change(s);
        s.advance(BOUND_MS);
        s.verify(per, what);
        // Every live member of a cluster sees exactly its live members.
        let clusters: Vec<(ScopePath, BTreeSet<NodeId>)> = s
            .regs
            .iter()
            .filter(|((_, sv), v)| *sv == SECTOR && !v.is_empty())
            .map(|((sc, _), v)| (sc.clone(), v.keys().map(|&i| s.id(i)).collect()))
            .collect();
        for (scope, members) in clusters {
            for m in &members {
                let rt = s
                    .live
                    .iter()
                    .copied()
                    .find(|&i| s.id(i) == *m)
                    .expect("live");
                let seen: Option<BTreeSet<NodeId>> = s
                    .world
                    .node(rt)
                    .scope_clusters()
                    .into_iter()
                    .find(|c| c.scope == scope)
                    .map(|c| c.members.into_iter().collect());
                assert_eq!(
                    seen.as_ref(),
                    Some(&members),
                    "{what}: {scope} seen by {rt}"
                );
            }
        }
    }
}

#[test]
fn scopes_hundred_runtimes_three_levels_under_churn() {
    let line = run(seed(), 100, 6);
    eprintln!("{line}");
}

/// Seed 5 once lost a root member: a joining member's sync carried the
/// member's current root registration and, with the cluster's generation
/// record, the older one that record was signed under; the older one was
/// taken as the registration and expired before its renewal came.
#[test]
fn scopes_seed_5_a_sync_keeps_the_current_registration() {
    let line = run(5, 100, 6);
    eprintln!("{line}");
}
