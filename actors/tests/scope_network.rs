//! Scopes hosted in the transport, end to end over the in-memory network:
//! a tree of scopes three levels deep, twelve runtimes, sector clusters at
//! several levels with one root runtime as bootstrap. Registrations,
//! creations and revocations travel as pushes between runtimes; queries
//! follow redirects across the levels; sends reach engines.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::SigningKey;
use tessel_actors::memory::Network;
use tessel_actors::scope::record::BEARER;
use tessel_actors::scope::{
    Body, Credential, Generation, QueryError, QueryKind, Record, ScopeError, ScopeFound, ScopePath,
    SECTOR,
};
use tessel_actors::{Config, Delivery, EngineAddr, NodeId, Notice, Persistence, Time};

const ROOT: u8 = 1;
const CACHE_MS: u32 = 2_000;
const REG_MS: u64 = 60_000;
const TIMEOUT_MS: u64 = 500;
const UPKEEP_MS: u64 = 1_000;
const START: Time = Time(1_700_000_000_000);
const LONG: Time = Time(1_800_000_000_000);

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}
fn pk(seed: u8) -> [u8; 32] {
    key(seed).verifying_key().to_bytes()
}
fn p(s: &str) -> ScopePath {
    ScopePath::parse(s).unwrap()
}

/// (path, owner seed, world-readable)
const SCOPES: &[(&str, u8, bool)] = &[
    ("/", ROOT, true),
    ("/a", 2, true),
    ("/a/b", 3, true),
    ("/a/b/c", 4, true),
    ("/a/b/y", 5, true),
    ("/a/x", 6, false),
    ("/b", 7, false),
    ("/b/q", 8, true),
    ("/b/q/r", 9, true),
];

/// Sector clusters and their members (runtime indices). Runtime 0 is the
/// bootstrap.
const CLUSTERS: &[(&str, &[usize])] = &[
    ("/", &[0, 1]),
    ("/a", &[2, 3]),
    ("/b", &[6]),
    ("/a/b/c", &[4, 5]),
];

/// `fs` registrations: scope and runtime, each served by an engine.
const FS: &[(&str, usize)] = &[
    ("/", 0),
    ("/a/b", 7),
    ("/a/b", 8),
    ("/a/b/c", 9),
    ("/a/x", 10),
    ("/b/q", 11),
    ("/b/q/r", 7),
];

const RUNTIMES: usize = 12;

fn owner_of(scope: &ScopePath) -> u8 {
    SCOPES
        .iter()
        .find(|(s, _, _)| p(s) == *scope)
        .map(|(_, o, _)| *o)
        .unwrap()
}

fn creation(path: &str) -> Record {
    let path = p(path);
    let (_, owner, wr) = SCOPES.iter().find(|(s, _, _)| p(s) == path).unwrap();
    let signer = path.parent().map_or(ROOT, |q| owner_of(&q));
    Record::sign(
        Body::ScopeCreate {
            path,
            owner: pk(*owner),
            world_readable: *wr,
            issued: Time(1),
        },
        &key(signer),
    )
    .unwrap()
}

fn config() -> Config {
    Config {
        scope_root: Some(pk(ROOT)),
        scope_cache_ms: CACHE_MS,
        scope_registration_ms: REG_MS,
        scope_query_timeout_ms: TIMEOUT_MS,
        scope_maintain_ms: UPKEEP_MS,
        ..Config::default()
    }
}

fn root_bearer() -> Credential {
    Credential::ReadCap(
        Record::sign(
            Body::ReadCap {
                scope: ScopePath::root(),
                holder: BEARER,
                expires: LONG,
            },
            &key(ROOT),
        )
        .unwrap(),
    )
}

struct World {
    net: Network,
    /// Notices taken from each node, not yet looked at.
    notices: Vec<Vec<Notice>>,
    /// The engine serving each `fs` registration.
    engines: BTreeMap<(String, usize), EngineAddr>,
    /// What is registered: (scope, service) -> runtimes, for the oracle.
    regs: BTreeMap<(ScopePath, String), BTreeSet<usize>>,
}

impl World {
    fn new(seed: u64) -> Self {
        let mut net = Network::new(seed, START);
        for _ in 0..RUNTIMES {
            net.add_node(config());
        }
        let boot = net.id(0);
        for i in 0..RUNTIMES {
            let t = net.node_mut(i);
            t.set_scope_bootstrap(vec![boot]);
            for (s, _, _) in SCOPES {
                t.scope_add_record(creation(s)).unwrap();
            }
        }
        net.run();
        Self {
            net,
            notices: vec![Vec::new(); RUNTIMES],
            engines: BTreeMap::new(),
            regs: BTreeMap::new(),
        }
    }

    fn id(&self, i: usize) -> NodeId {
        self.net.id(i)
    }

    fn grant(&self, scope: &ScopePath, rt: usize) -> Record {
        Record::sign(
            Body::HostingGrant {
                scope: scope.clone(),
                runtime: self.id(rt),
                expires: LONG,
            },
            &key(owner_of(scope)),
        )
        .unwrap()
    }

    fn register(&mut self, scope: &str, service: &str, rt: usize) {
        let scope = p(scope);
        let engine = if service == SECTOR {
            None
        } else {
            let e = self.net.node_mut(rt).start_engine(Persistence::Ephemeral);
            self.engines.insert((scope.to_string(), rt), e);
            Some(e)
        };
        let g = self.grant(&scope, rt);
        self.net
            .node_mut(rt)
            .scope_register(scope.clone(), service, engine, g)
            .unwrap();
        self.regs
            .entry((scope, service.to_owned()))
            .or_default()
            .insert(rt);
        self.settle();
    }

    /// Moves traffic and lets a few upkeep rounds pass.
    fn settle(&mut self) {
        self.net.run();
        self.net.advance(10);
    }

    fn build(seed: u64) -> Self {
        let mut w = Self::new(seed);
        for (s, members) in CLUSTERS {
            for &m in *members {
                w.register(s, SECTOR, m);
            }
        }
        for (s, rt) in FS {
            w.register(s, "fs", *rt);
        }
        w.net.advance(3 * UPKEEP_MS);
        w
    }

    fn take_notices(&mut self, i: usize) {
        while let Some(n) = self.net.node_mut(i).poll_notice() {
            self.notices[i].push(n);
        }
    }

    fn answer(
        &mut self,
        i: usize,
        id: tessel_actors::ScopeQueryId,
    ) -> Option<Result<ScopeFound, QueryError>> {
        self.take_notices(i);
        let pos = self.notices[i]
            .iter()
            .position(|n| matches!(n, Notice::ScopeAnswer { id: x, .. } if *x == id))?;
        match self.notices[i].remove(pos) {
            Notice::ScopeAnswer { result, .. } => Some(result),
            _ => None,
        }
    }

    fn query(
        &mut self,
        from: usize,
        kind: QueryKind,
        scope: &str,
        service: &str,
        cred: &Credential,
    ) -> Result<ScopeFound, QueryError> {
        let id = self
            .net
            .node_mut(from)
            .scope_query(kind, p(scope), service, cred.clone());
        for _ in 0..20 {
            self.net.run();
            if let Some(r) = self.answer(from, id) {
                return r;
            }
            self.net.advance(TIMEOUT_MS / 2);
        }
        panic!("query {kind:?} {scope} {service} from {from} never answered");
    }

    /// The runtimes the query should find.
    fn expected(&self, kind: QueryKind, scope: &ScopePath, service: &str) -> BTreeSet<NodeId> {
        let at = |s: &ScopePath| -> BTreeSet<NodeId> {
            self.regs
                .get(&(s.clone(), service.to_owned()))
                .map(|v| v.iter().map(|&i| self.id(i)).collect())
                .unwrap_or_default()
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
}

fn ids(f: &ScopeFound) -> BTreeSet<NodeId> {
    f.runtimes.iter().map(|x| x.entry.runtime).collect()
}

#[test]
fn smoke() {
    let mut w = World::build(1);
    for i in 0..RUNTIMES {
        for c in w.net.node(i).scope_clusters() {
            eprintln!(
                "{i}: {:?} gen {:?} members {} parent {:?} children {:?} held {}",
                c.scope,
                c.generation,
                c.members.len(),
                c.parent.map(|x| x.0),
                c.children,
                c.held
            );
        }
        for r in w.net.node(i).scope_registrations() {
            eprintln!(
                "   reg {} {} placed {:?} err {:?}",
                r.scope,
                r.service,
                r.placed.map(|p| p.cluster),
                r.error
            );
        }
        eprintln!("   {:?}", w.net.node(i).stats().scopes);
    }
    let cred = root_bearer();
    let mut bad = 0;
    for from in 0..RUNTIMES {
        for (s, _, _) in SCOPES {
            for kind in [QueryKind::All, QueryKind::Closest] {
                for service in ["fs", SECTOR] {
                    let r = w.query(from, kind, s, service, &cred);
                    let exp = w.expected(kind, &p(s), service);
                    match r {
                        Ok(f) if ids(&f) == exp => {}
                        other => {
                            bad += 1;
                            eprintln!(
                                "from {from} {kind:?} {s} {service}: {:?} expected {:?}",
                                other.map(|f| (ids(&f), f.trail)),
                                exp
                            );
                        }
                    }
                }
            }
        }
    }
    assert_eq!(bad, 0);
    let cred = root_bearer();
    let r = w.query(11, QueryKind::All, "/a/b", "fs", &cred).unwrap();
    assert_eq!(ids(&r), w.expected(QueryKind::All, &p("/a/b"), "fs"));
}
