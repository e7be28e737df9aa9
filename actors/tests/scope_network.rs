//! Scopes hosted in the transport, end to end over the in-memory network:
//! a tree of scopes three levels deep, twelve runtimes, sector clusters at
//! several levels with one root runtime as bootstrap. Registrations,
//! creations and revocations travel as pushes between runtimes; queries
//! follow redirects across the levels; sends reach engines.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::SigningKey;
use tessel_actors::memory::Network;
use tessel_actors::scope::fixture::{key, path as p, public as pk, readcap, Tree};
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

const TREE: Tree<'static> = Tree {
    root: ROOT,
    scopes: SCOPES,
};

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
                t.scope_add_record(TREE.creation(s)).unwrap();
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
            &key(TREE.owner_of(scope)),
        )
        .unwrap()
    }

    fn register(&mut self, scope: &str, service: &str, rt: usize) {
        self.register_with(scope, service, rt, service != SECTOR);
    }

    fn register_with(&mut self, scope: &str, service: &str, rt: usize, with_engine: bool) {
        let scope = p(scope);
        let engine = if with_engine {
            let e = self.net.node_mut(rt).start_engine(Persistence::Ephemeral);
            self.engines.insert((scope.to_string(), rt), e);
            Some(e)
        } else {
            None
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

    fn withdraw(&mut self, scope: &str, service: &str, rt: usize) {
        self.net
            .node_mut(rt)
            .scope_withdraw(&p(scope), service)
            .unwrap();
        if let Some(v) = self.regs.get_mut(&(p(scope), service.to_owned())) {
            v.remove(&rt);
        }
        self.settle();
    }

    fn send(
        &mut self,
        from: usize,
        engine: EngineAddr,
        kind: QueryKind,
        scope: &str,
        service: &str,
    ) -> Result<Vec<EngineAddr>, ScopeError> {
        let id = self.net.node_mut(from).scope_send(
            engine,
            kind,
            p(scope),
            service,
            root_bearer(),
            b"hello".to_vec(),
        );
        for _ in 0..20 {
            self.net.run();
            self.take_notices(from);
            if let Some(pos) = self.notices[from]
                .iter()
                .position(|n| matches!(n, Notice::ScopeSent { id: x, .. } if *x == id))
            {
                if let Notice::ScopeSent { result, .. } = self.notices[from].remove(pos) {
                    return result;
                }
            }
            self.net.advance(TIMEOUT_MS / 2);
        }
        panic!("send to {scope} never reported");
    }

    /// Casts waiting in an engine's mailbox.
    fn casts(&mut self, rt: usize, engine: EngineAddr) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(d) = self.net.node_mut(rt).recv(engine) {
            if let Delivery::Cast { payload, .. } = d {
                out.push(payload);
            }
        }
        out
    }

    fn stats(&self) -> tessel_actors::ScopeStats {
        let mut t = tessel_actors::ScopeStats::default();
        for i in 0..RUNTIMES {
            if !self.net.is_up(i) {
                continue;
            }
            let s = &self.net.node(i).stats().scopes;
            t.records_forged += s.records_forged;
            t.records_refused += s.records_refused;
            t.pushes_refused += s.pushes_refused;
            t.gone_detected += s.gone_detected;
            t.gone_refused += s.gone_refused;
            t.denied += s.denied;
            t.hop_timeouts += s.hop_timeouts;
            t.generations_assigned += s.generations_assigned;
        }
        t
    }

    /// The members of the cluster at `scope` that runtime `rt` knows.
    fn members_seen_by(&self, rt: usize, scope: &str) -> Option<BTreeSet<NodeId>> {
        self.net
            .node(rt)
            .scope_clusters()
            .into_iter()
            .find(|c| c.scope == p(scope))
            .map(|c| c.members.into_iter().collect())
    }
}

fn ids(f: &ScopeFound) -> BTreeSet<NodeId> {
    f.runtimes.iter().map(|x| x.entry.runtime).collect()
}

fn redirects(f: &ScopeFound) -> Vec<ScopePath> {
    f.trail.iter().filter_map(|h| h.redirect.clone()).collect()
}

#[test]
fn every_runtime_finds_the_right_runtimes_across_all_levels() {
    let mut w = World::build(1);
    // A cold querier is sent down level by level: root, /a, /a/b/c.
    let cred = root_bearer();
    let r = w.query(10, QueryKind::All, "/a/b/c", "fs", &cred).unwrap();
    assert_eq!(ids(&r), BTreeSet::from([w.id(9)]));
    assert_eq!(redirects(&r), vec![p("/a"), p("/a/b/c")]);
    assert_eq!(r.trail[0].asked, w.id(0), "starts at the bootstrap");
    assert!(!r.cached);
    // Asked again: from the cache.
    let again = w.query(10, QueryKind::All, "/a/b/c", "fs", &cred).unwrap();
    assert!(again.cached);
    assert_eq!(ids(&again), ids(&r));
    // Closest for a service nobody hosts below the root walks down to the
    // deepest cluster and back up.
    let r = w
        .query(11, QueryKind::Closest, "/a/b/c", "db", &cred)
        .unwrap();
    assert!(r.runtimes.is_empty());
    assert_eq!(redirects(&r), vec![p("/a"), p("/a/b/c"), p("/a"), p("/")]);
    // Both queries, both services, every scope, from every runtime.
    for from in 0..RUNTIMES {
        for (s, _, _) in SCOPES {
            for kind in [QueryKind::All, QueryKind::Closest] {
                for service in ["fs", SECTOR] {
                    let found = w.query(from, kind, s, service, &cred).unwrap();
                    assert_eq!(
                        ids(&found),
                        w.expected(kind, &p(s), service),
                        "{kind:?} {s} {service} from {from}"
                    );
                    // Each registration names the engine it was made with.
                    for f in &found.runtimes {
                        let rt = (0..RUNTIMES).find(|&i| w.id(i) == f.entry.runtime).unwrap();
                        let engine = w.engines.get(&(f.scope.to_string(), rt)).copied();
                        let want = if service == "fs" { engine } else { None };
                        assert_eq!(f.entry.engine, want, "{s} {service}");
                    }
                }
            }
        }
    }
    // Engines come with the registrations.
    let r = w.query(3, QueryKind::All, "/a/b", "fs", &cred).unwrap();
    let engines: BTreeSet<EngineAddr> = r.runtimes.iter().filter_map(|f| f.entry.engine).collect();
    let expected: BTreeSet<EngineAddr> = [7, 8]
        .iter()
        .map(|&i| w.engines[&("/a/b".to_owned(), i)])
        .collect();
    assert_eq!(engines, expected);
    assert_eq!(w.stats().records_forged, 0);
    assert_eq!(w.stats().records_refused, 0);
}

#[test]
fn anonymous_exactly_where_every_ancestor_is_world_readable() {
    let mut w = World::build(2);
    let mut allowed = 0;
    for from in 0..RUNTIMES {
        for (s, _, _) in SCOPES {
            let scope = p(s);
            for kind in [QueryKind::All, QueryKind::Closest] {
                let r = w.query(from, kind, s, "fs", &Credential::Anonymous);
                if TREE.world_readable(&scope) {
                    assert_eq!(ids(&r.unwrap()), w.expected(kind, &scope, "fs"), "{s}");
                    allowed += 1;
                } else {
                    assert_eq!(r.unwrap_err(), QueryError::Denied, "{s} from {from}");
                }
            }
        }
        // A scope that does not exist looks the same as a private one.
        let r = w.query(from, QueryKind::All, "/a/nope", "fs", &root_bearer());
        assert_eq!(r.unwrap_err(), QueryError::Denied);
    }
    assert!(allowed > 0);
    assert!(!TREE.world_readable(&p("/b/q")));
    assert!(w.stats().denied > 0);
}

#[test]
fn readcaps_and_read_grants() {
    let mut w = World::build(3);
    let q = 10;
    let me = w.id(q).0;
    let soon = START.plus_ms(60_000);
    // A readcap for the private /b, from its owner, reads /b/q below it.
    let cap = readcap("/b", me, soon, 7);
    let r = w.query(
        q,
        QueryKind::All,
        "/b/q",
        "fs",
        &Credential::ReadCap(cap.clone()),
    );
    assert_eq!(ids(&r.unwrap()), BTreeSet::from([w.id(11)]));
    // A bearer readcap from the root owner works for anyone.
    let bearer = readcap("/b", BEARER, soon, ROOT);
    let r = w.query(
        5,
        QueryKind::Closest,
        "/b/q/r",
        "fs",
        &Credential::ReadCap(bearer),
    );
    assert_eq!(ids(&r.unwrap()), BTreeSet::from([w.id(7)]));
    // Refused: already expired, held by another, signed by a stranger, for
    // a sibling scope, altered.
    let mut altered = cap.clone();
    altered.sig[5] ^= 1;
    for bad in [
        readcap("/b", me, START, 7),
        readcap("/b", pk(77), soon, 7),
        readcap("/b", me, soon, 77),
        readcap("/a/x", me, soon, 6),
        altered,
    ] {
        let r = w.query(q, QueryKind::All, "/b/q", "fs", &Credential::ReadCap(bad));
        assert_eq!(r.unwrap_err(), QueryError::Denied);
    }
    // A readcap that expires: refused once expired (and the cached answer
    // has lapsed).
    let short = readcap("/b", w.id(4).0, w.net.now().plus_ms(3_000), 7);
    let r = w.query(
        4,
        QueryKind::All,
        "/b",
        SECTOR,
        &Credential::ReadCap(short.clone()),
    );
    assert_eq!(ids(&r.unwrap()), BTreeSet::from([w.id(6)]));
    w.net.advance(3_000 + u64::from(CACHE_MS));
    let r = w.query(4, QueryKind::All, "/b", SECTOR, &Credential::ReadCap(short));
    assert_eq!(r.unwrap_err(), QueryError::Denied);
    // A read grant names the member that may read.
    let grant = Record::sign(
        Body::ReadGrant {
            scope: p("/a/x"),
            member: w.id(q),
            expires: soon,
        },
        &key(6),
    )
    .unwrap();
    let r = w.query(
        q,
        QueryKind::All,
        "/a/x",
        "fs",
        &Credential::ReadGrant(grant.clone()),
    );
    assert_eq!(ids(&r.unwrap()), BTreeSet::from([w.id(10)]));
    let r = w.query(
        11,
        QueryKind::All,
        "/a/x",
        "fs",
        &Credential::ReadGrant(grant.clone()),
    );
    assert_eq!(
        r.unwrap_err(),
        QueryError::Denied,
        "a grant for another member"
    );
    // Given to the runtime with scope_add_record, a read grant is kept
    // and pushed to the cluster responsible for its scope.
    w.net.node_mut(q).scope_add_record(grant.clone()).unwrap();
    w.settle();
    for m in [q, 2, 3] {
        assert!(
            w.net.node(m).scope_records().any(|r| *r == grant),
            "runtime {m} keeps the grant"
        );
    }
    for m in [0, 4, 6] {
        assert!(!w.net.node(m).scope_records().any(|r| *r == grant));
    }
}

#[test]
fn revocations_spread_and_are_enforced() {
    let mut w = World::build(4);
    let q = 10;
    let cap = readcap("/b", w.id(q).0, LONG, 7);
    let cred = Credential::ReadCap(cap.clone());
    assert!(w.query(q, QueryKind::All, "/b/q", "fs", &cred).is_ok());
    // The owner revokes it; the revocation is given to a runtime outside
    // every cluster and floods the tree of clusters.
    let rev = Record::sign(
        Body::Revocation {
            target: cap.id(),
            issued: START,
        },
        &key(7),
    )
    .unwrap();
    w.net.node_mut(11).scope_add_record(rev).unwrap();
    w.settle();
    for (_, members) in CLUSTERS {
        for &m in *members {
            let a = w.net.node(m).scope_authority().unwrap();
            assert!(a.is_revoked(&cap), "runtime {m} has the revocation");
        }
    }
    w.net.advance(u64::from(CACHE_MS));
    let r = w.query(q, QueryKind::All, "/b/q", "fs", &cred);
    assert_eq!(r.unwrap_err(), QueryError::Denied);
    // Revoking the hosting grant behind runtime 8's registration drops it.
    let cred = root_bearer();
    assert_eq!(
        ids(&w.query(q, QueryKind::All, "/a/b", "fs", &cred).unwrap()),
        BTreeSet::from([w.id(7), w.id(8)])
    );
    let g = w.grant(&p("/a/b"), 8);
    let rev = Record::sign(
        Body::Revocation {
            target: g.id(),
            issued: START,
        },
        &key(3),
    )
    .unwrap();
    w.net.node_mut(9).scope_add_record(rev).unwrap();
    w.settle();
    w.net.advance(u64::from(CACHE_MS));
    assert_eq!(
        ids(&w.query(q, QueryKind::All, "/a/b", "fs", &cred).unwrap()),
        BTreeSet::from([w.id(7)])
    );
    // Its renewal is refused from now on.
    w.net.advance(REG_MS / 2 + UPKEEP_MS);
    assert_eq!(
        ids(&w.query(q, QueryKind::All, "/a/b", "fs", &cred).unwrap()),
        BTreeSet::from([w.id(7)])
    );
    // The cluster refuses to place it: runtime 8 says why.
    let own = w.net.node(8).scope_registrations();
    assert_eq!(
        own[0].error,
        Some(ScopeError::Query(QueryError::Denied)),
        "{own:?}"
    );
    assert!(w.stats().denied > 0);
}

#[test]
fn forged_and_unauthorised_pushes_are_refused_and_counted() {
    use tessel_actors::wire::frame::Frame;
    use tessel_actors::wire::scope_gone::ScopeGone;
    use tessel_actors::wire::scope_push::ScopePush;
    let mut w = World::build(5);
    let (attacker, member) = (11, 2);
    w.net.connect(attacker, member);
    w.net.run();
    let fake = key(50);
    let fake_id = NodeId(pk(50));
    let scope = p("/a/b");
    let now = w.net.now();
    let (id7, id8) = (w.id(7), w.id(8));
    let reg = |runtime: NodeId, signer: &SigningKey| {
        Record::sign(
            Body::Registration {
                scope: scope.clone(),
                service: "fs".into(),
                runtime,
                engine: None,
                issued: now,
                expires: LONG,
            },
            signer,
        )
        .unwrap()
    };
    let grant = |runtime: NodeId, signer: u8| {
        Record::sign(
            Body::HostingGrant {
                scope: scope.clone(),
                runtime,
                expires: LONG,
            },
            &key(signer),
        )
        .unwrap()
    };
    let chain: Vec<Record> = ["/", "/a", "/a/b"]
        .iter()
        .map(|s| TREE.creation(s))
        .collect();
    let push = |records: Vec<Record>| {
        let mut all = chain.clone();
        all.extend(records);
        Frame::ScopePush(ScopePush {
            forwarded: false,
            generation_request: false,
            sync_request: false,
            records: all,
        })
        .to_bytes()
        .unwrap()
    };
    let before = w.net.node(member).stats().scopes.clone();
    // Signed by someone other than the runtime it names.
    let inject = |w: &mut World, b: Vec<u8>| {
        assert!(w.net.inject(attacker, member, b));
        w.net.run();
    };
    inject(&mut w, push(vec![grant(id7, 3), reg(id7, &fake)]));
    // A grant signed by a stranger.
    inject(&mut w, push(vec![grant(fake_id, 77), reg(fake_id, &fake)]));
    // A grant for another runtime.
    inject(&mut w, push(vec![grant(id8, 3), reg(fake_id, &fake)]));
    // An altered registration.
    let mut altered = reg(fake_id, &fake);
    altered.sig[0] ^= 1;
    inject(&mut w, push(vec![grant(fake_id, 3), altered]));
    // A forged creation of a scope under /a.
    let forged_scope = Record::sign(
        Body::ScopeCreate {
            path: p("/a/evil"),
            owner: pk(50),
            world_readable: true,
            issued: Time(1),
        },
        &fake,
    )
    .unwrap();
    inject(&mut w, push(vec![forged_scope]));
    // A gone notice from a runtime that is in no cluster.
    let gone = Frame::ScopeGone(ScopeGone {
        forwarded: false,
        runtime: id7,
        at: now.plus_ms(1),
    });
    inject(&mut w, gone.to_bytes().unwrap());
    // A push frame that does not parse, and one over the size limit.
    let frames_before = w.net.node(member).stats().malformed;
    inject(&mut w, vec![3, 0, 0, 0, 10, 0, 0]);
    let mut big = vec![0; 5 + tessel_actors::wire::scope_push::MAX_LEN + 1];
    let len = (big.len() - 4) as u32;
    big[..4].copy_from_slice(&len.to_le_bytes());
    big[4] = 10;
    inject(&mut w, big);
    let after = w.net.node(member).stats().scopes.clone();
    assert_eq!(after.records_forged - before.records_forged, 2);
    assert_eq!(after.records_refused - before.records_refused, 3);
    assert_eq!(after.gone_refused - before.gone_refused, 1);
    assert_eq!(w.net.node(member).stats().malformed - frames_before, 2);
    // Nothing of it shows in answers, and /a/evil does not exist.
    let cred = root_bearer();
    w.net.advance(u64::from(CACHE_MS));
    assert_eq!(
        ids(&w.query(5, QueryKind::All, "/a/b", "fs", &cred).unwrap()),
        BTreeSet::from([w.id(7), w.id(8)])
    );
    assert_eq!(
        w.query(5, QueryKind::All, "/a/evil", "fs", &cred)
            .unwrap_err(),
        QueryError::Denied
    );
    // A flood of pushes from one peer is cut at the per-peer limit.
    let one = push(vec![]);
    let limit = config().scope_pushes_per_peer as usize;
    for _ in 0..limit + 10 {
        assert!(w.net.inject(attacker, member, one.clone()));
    }
    w.net.run();
    let refused = w.net.node(member).stats().scopes.pushes_refused - after.pushes_refused;
    assert!(refused >= 10, "refused {refused}");
}

#[test]
fn runtimes_that_leave_drop_out_and_runtimes_that_join_appear() {
    let mut w = World::build(6);
    let cred = root_bearer();
    let all = |w: &mut World, s: &str, service: &str| {
        ids(&w.query(10, QueryKind::All, s, service, &cred).unwrap())
    };
    assert_eq!(all(&mut w, "/a/b/c", "fs"), BTreeSet::from([w.id(9)]));
    // A service runtime leaves: gone within the cache lifetime.
    w.net.remove_node(9);
    w.regs
        .get_mut(&(p("/a/b/c"), "fs".into()))
        .unwrap()
        .remove(&9);
    w.settle();
    w.net.advance(u64::from(CACHE_MS));
    assert_eq!(all(&mut w, "/a/b/c", "fs"), BTreeSet::new());
    assert!(w.stats().gone_detected > 0);
    // A cluster member leaves: the others and the clusters around drop it.
    assert_eq!(
        all(&mut w, "/a/b/c", SECTOR),
        BTreeSet::from([w.id(4), w.id(5)])
    );
    w.net.remove_node(5);
    w.settle();
    w.net.advance(u64::from(CACHE_MS));
    assert_eq!(all(&mut w, "/a/b/c", SECTOR), BTreeSet::from([w.id(4)]));
    assert_eq!(
        w.members_seen_by(4, "/a/b/c"),
        Some(BTreeSet::from([w.id(4)]))
    );
    // The cluster above was told (it no longer redirects to the runtime).
    let told: u64 = [2, 3]
        .iter()
        .map(|&m| w.net.node(m).stats().scopes.gone_taken)
        .sum();
    assert!(told > 0);
    for m in [2, 3] {
        let c = w.net.node(m).scope_clusters();
        assert_eq!(c[0].children, vec![(p("/a/b/c"), vec![w.id(4)])]);
    }
    // A runtime joining as a service host appears.
    w.register("/a/b/c", "fs", 10);
    w.net.advance(u64::from(CACHE_MS));
    assert_eq!(all(&mut w, "/a/b/c", "fs"), BTreeSet::from([w.id(10)]));
    // A runtime joining the cluster appears, is told the generation and
    // takes over what the cluster holds.
    w.register("/a/b/c", SECTOR, 11);
    w.net.advance(u64::from(CACHE_MS));
    assert_eq!(
        all(&mut w, "/a/b/c", SECTOR),
        BTreeSet::from([w.id(4), w.id(11)])
    );
    let gen4 = w.net.node(4).scope_clusters()[0].generation;
    let c11 = w.net.node(11).scope_clusters();
    assert_eq!(c11[0].generation, gen4);
    assert!(gen4.is_some());
    assert_eq!(c11[0].held, w.net.node(4).scope_clusters()[0].held);
    // A new cluster forms at /a/b: the registrations there move to it and
    // the cluster below finds its new parent.
    w.register("/a/b", SECTOR, 8);
    w.net.advance(u64::from(CACHE_MS) + UPKEEP_MS);
    let r = w.query(1, QueryKind::All, "/a/b", "fs", &cred).unwrap();
    assert_eq!(ids(&r), BTreeSet::from([w.id(7), w.id(8)]));
    assert_eq!(redirects(&r).last(), Some(&p("/a/b")));
    let c4 = w.net.node(4).scope_clusters();
    assert_eq!(c4[0].parent.as_ref().map(|x| x.0.clone()), Some(p("/a/b")));
    let r = w.query(2, QueryKind::All, "/a/b/c", "fs", &cred).unwrap();
    assert_eq!(ids(&r), BTreeSet::from([w.id(10)]));
    // Withdrawn: gone from answers within the cache lifetime.
    w.withdraw("/a/b/c", "fs", 10);
    w.net.advance(u64::from(CACHE_MS));
    assert_eq!(all(&mut w, "/a/b/c", "fs"), BTreeSet::new());
    // Every query above went through: a runtime that cannot be reached
    // was passed over.
    for from in [0, 1, 2, 3, 6, 7, 10] {
        for (s, _, _) in SCOPES {
            let r = w.query(from, QueryKind::Closest, s, "fs", &cred).unwrap();
            assert_eq!(
                ids(&r),
                w.expected(QueryKind::Closest, &p(s), "fs"),
                "{s} from {from}"
            );
        }
    }
}

#[test]
fn generation_numbers_are_unique_and_agreed() {
    let mut w = World::build(7);
    // Two runtimes found a cluster at /b/q at the same time.
    for rt in [10, 11] {
        let g = w.grant(&p("/b/q"), rt);
        w.net
            .node_mut(rt)
            .scope_register(p("/b/q"), SECTOR, None, g)
            .unwrap();
    }
    w.settle();
    w.net.advance(3 * UPKEEP_MS);
    let mut by_cluster: BTreeMap<ScopePath, BTreeSet<Option<Generation>>> = BTreeMap::new();
    for i in 0..RUNTIMES {
        for c in w.net.node(i).scope_clusters() {
            by_cluster.entry(c.scope).or_default().insert(c.generation);
        }
    }
    assert_eq!(by_cluster.len(), CLUSTERS.len() + 1);
    let mut all = BTreeSet::new();
    for (scope, gens) in &by_cluster {
        assert_eq!(gens.len(), 1, "the members of {scope} agree");
        let g = gens.iter().next().unwrap().expect("every cluster has one");
        assert!(all.insert(g), "{g} is unique");
    }
    assert_eq!(
        w.members_seen_by(10, "/b/q"),
        Some(BTreeSet::from([w.id(10), w.id(11)]))
    );
    assert_eq!(
        w.members_seen_by(11, "/b/q"),
        Some(BTreeSet::from([w.id(10), w.id(11)]))
    );
    // Every generation was signed by the root runtimes; the two founders
    // of /b/q were given one each and agreed on the earlier.
    assert!(w.stats().generations_assigned >= by_cluster.len() as u64);
    // A root runtime restarted with its saved state never repeats a
    // serial, even with its clock behind.
    let state = w.net.node(0).scope_state();
    assert!(state.next_serial > all.iter().map(|g| g.serial).max().unwrap());
    let bytes = state.to_bytes();
    assert_eq!(tessel_actors::ScopeState::parse(&bytes), Ok(state));
}

#[test]
fn sends_reach_every_member_or_one_of_the_nearest() {
    let mut w = World::build(8);
    let src = w.net.node_mut(1).start_engine(Persistence::Ephemeral);
    w.net.run();
    let e7 = w.engines[&("/a/b".to_owned(), 7)];
    let e8 = w.engines[&("/a/b".to_owned(), 8)];
    // All: a multicast to every registration's engine.
    let r = w.send(1, src, QueryKind::All, "/a/b", "fs").unwrap();
    assert_eq!(
        r.iter().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([e7, e8])
    );
    assert_eq!(w.casts(7, e7), vec![b"hello".to_vec()]);
    assert_eq!(w.casts(8, e8), vec![b"hello".to_vec()]);
    // Closest, for a scope without the service: one engine of the nearest
    // ancestor that has it.
    let r = w.send(1, src, QueryKind::Closest, "/a/b/y", "fs").unwrap();
    assert_eq!(r.len(), 1);
    let got = w.casts(7, e7).len() + w.casts(8, e8).len();
    assert_eq!(got, 1);
    // To this runtime's own engine.
    let e0 = w.engines[&("/".to_owned(), 0)];
    assert_eq!(w.send(0, e0, QueryKind::All, "/", "fs").unwrap(), vec![e0]);
    // An engine that stopped: a clear error naming it.
    let e9 = w.engines[&("/a/b/c".to_owned(), 9)];
    assert!(w.net.node_mut(9).stop_engine(e9));
    w.net.run();
    let src2 = w.net.node_mut(10).start_engine(Persistence::Ephemeral);
    match w.send(10, src2, QueryKind::All, "/a/b/c", "fs") {
        Err(ScopeError::Undelivered { sent, gone, .. }) => {
            assert!(sent.is_empty());
            assert_eq!(gone, vec![e9]);
        }
        other => panic!("expected a gone engine, got {other:?}"),
    }
    // Nobody registered, registered without an engine, not a local engine.
    assert_eq!(
        w.send(1, src, QueryKind::All, "/a/b/y", "fs"),
        Err(ScopeError::NoRuntime)
    );
    w.register_with("/a/b/y", "db", 3, false);
    assert_eq!(
        w.send(1, src, QueryKind::All, "/a/b/y", "db"),
        Err(ScopeError::NoEngine)
    );
    assert_eq!(
        w.send(1, e7, QueryKind::All, "/a/b", "fs"),
        Err(ScopeError::NotLocal(e7))
    );
    // A runtime that left while the sender's cached answer still names
    // it: unreachable.
    let e11 = w.engines[&("/b/q".to_owned(), 11)];
    assert_eq!(w.send(1, src, QueryKind::All, "/b/q", "fs"), Ok(vec![e11]));
    w.net.remove_node(11);
    w.net.run();
    match w.send(1, src, QueryKind::All, "/b/q", "fs") {
        Err(ScopeError::Undelivered {
            sent,
            gone,
            unreachable,
        }) => {
            assert!(sent.is_empty() && gone.is_empty());
            assert_eq!(unreachable, vec![e11]);
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
    // Once the cache lifetime is over the clusters no longer name it.
    w.net.advance(u64::from(CACHE_MS));
    assert_eq!(
        w.send(1, src, QueryKind::All, "/b/q", "fs"),
        Err(ScopeError::NoRuntime)
    );
}

#[test]
fn a_restarted_member_is_synced_and_a_root_runtime_keeps_its_serials() {
    let mut w = World::build(10);
    let held = |w: &World, rt: usize| {
        w.net
            .node(rt)
            .scope_clusters()
            .first()
            .map(|c| (c.held, c.generation, c.members.len()))
    };
    let before = held(&w, 4);
    assert!(before.is_some_and(|(h, g, n)| h > 0 && g.is_some() && n == 2));
    // Runtime 5 restarts with an empty state and registers again: the
    // cluster takes it back and sends it everything.
    w.net.restart_node(5, config());
    let boot = w.id(0);
    {
        let t = w.net.node_mut(5);
        t.set_scope_bootstrap(vec![boot]);
        for (s, _, _) in SCOPES {
            t.scope_add_record(TREE.creation(s)).unwrap();
        }
    }
    w.register("/a/b/c", SECTOR, 5);
    w.net.advance(UPKEEP_MS);
    assert_eq!(held(&w, 5), held(&w, 4));
    assert_eq!(held(&w, 5), before);
    // A root runtime restarted with its saved state goes on from it.
    let saved = w.net.node(0).scope_state();
    let ahead = tessel_actors::ScopeState {
        next_serial: saved.next_serial + 1_000_000_000_000,
    };
    w.net.restart_node(0, config());
    {
        let t = w.net.node_mut(0);
        t.restore_scope_state(ahead);
        t.set_scope_bootstrap(vec![boot]);
        for (s, _, _) in SCOPES {
            t.scope_add_record(TREE.creation(s)).unwrap();
        }
    }
    w.register("/", SECTOR, 0);
    w.register("/a/b/y", SECTOR, 10);
    w.net.advance(3 * UPKEEP_MS);
    let gen = w
        .net
        .node(10)
        .scope_clusters()
        .first()
        .and_then(|c| c.generation)
        .expect("a generation for /a/b/y");
    assert_eq!(gen.assigner, boot);
    assert!(
        gen.serial >= ahead.next_serial,
        "{gen} after restoring {ahead:?}"
    );
    assert!(w.net.node(0).scope_state().next_serial > saved.next_serial);
}

#[test]
fn unreachable_and_silent_runtimes_are_passed_over() {
    let mut w = World::build(9);
    // A node without scopes (no root key) never answers: its hop times
    // out. A removed
    // node cannot be reached: its hop fails at once.
    let silent = w.net.add_node(Config::default());
    w.notices.push(Vec::new());
    let gone = 1;
    w.net.remove_node(gone);
    let rt = 10;
    let (silent_id, gone_id, boot) = (w.id(silent), w.id(gone), w.id(0));
    w.net
        .node_mut(rt)
        .set_scope_bootstrap(vec![gone_id, silent_id, boot]);
    let r = w
        .query(rt, QueryKind::All, "/a/b", "fs", &root_bearer())
        .unwrap();
    assert_eq!(ids(&r), BTreeSet::from([w.id(7), w.id(8)]));
    assert_eq!(r.trail[0].asked, boot);
    assert_eq!(w.net.node(rt).stats().scopes.hop_timeouts, 1);
    assert!(w.net.node(silent).stats().unexpected > 0);
}

#[test]
fn scopes_off_errors_clearly() {
    let mut net = Network::new(1, START);
    let i = net.add_node(Config::default());
    let t = net.node_mut(i);
    assert_eq!(
        t.scope_add_record(TREE.creation("/")),
        Err(ScopeError::Disabled)
    );
    let g = Record::sign(
        Body::HostingGrant {
            scope: ScopePath::root(),
            runtime: t.node_id(),
            expires: LONG,
        },
        &key(ROOT),
    )
    .unwrap();
    assert_eq!(
        t.scope_register(ScopePath::root(), "fs", None, g),
        Err(ScopeError::Disabled)
    );
    let id = t.scope_query(
        QueryKind::All,
        ScopePath::root(),
        "fs",
        Credential::Anonymous,
    );
    assert!(matches!(
        t.poll_notice(),
        Some(Notice::ScopeAnswer { id: x, result: Err(QueryError::Disabled) }) if x == id
    ));
    let e = t.start_engine(Persistence::Ephemeral);
    let id = t.scope_send(
        e,
        QueryKind::All,
        ScopePath::root(),
        "fs",
        Credential::Anonymous,
        vec![],
    );
    assert!(matches!(
        t.poll_notice(),
        Some(Notice::ScopeSent { id: x, result: Err(ScopeError::Disabled) }) if x == id
    ));
    assert!(t.scope_clusters().is_empty());
}

#[test]
fn same_seed_same_run() {
    let run = |seed| {
        let mut w = World::build(seed);
        let cred = root_bearer();
        let mut out = Vec::new();
        for from in [4, 10] {
            for (s, _, _) in SCOPES {
                let r = w.query(from, QueryKind::Closest, s, "fs", &cred).unwrap();
                out.push(format!("{:?}", (ids(&r), redirects(&r))));
            }
        }
        for i in 0..RUNTIMES {
            out.push(format!("{:?}", w.net.node(i).stats()));
            out.push(format!("{:?}", w.net.node(i).scope_clusters()));
        }
        out
    };
    assert_eq!(run(11), run(11));
}

#[test]
fn a_lone_root_runtime_needs_no_bootstrap() {
    let mut net = Network::new(3, START);
    let i = net.add_node(config());
    let me = net.id(i);
    let t = net.node_mut(i);
    t.scope_add_record(TREE.creation("/")).unwrap();
    let g = Record::sign(
        Body::HostingGrant {
            scope: ScopePath::root(),
            runtime: me,
            expires: LONG,
        },
        &key(ROOT),
    )
    .unwrap();
    t.scope_register(ScopePath::root(), SECTOR, None, g.clone())
        .unwrap();
    let e = t.start_engine(Persistence::Ephemeral);
    t.scope_register(ScopePath::root(), "fs", Some(e), g)
        .unwrap();
    net.run();
    let t = net.node_mut(i);
    let c = t.scope_clusters();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].members, vec![me]);
    assert_eq!(c[0].generation.map(|g| g.assigner), Some(me));
    let id = t.scope_query(
        QueryKind::All,
        ScopePath::root(),
        "fs",
        Credential::Anonymous,
    );
    match t.poll_notice() {
        Some(Notice::ScopeAnswer {
            id: x,
            result: Ok(f),
        }) if x == id => {
            assert_eq!(f.runtimes.len(), 1);
            assert_eq!(f.runtimes[0].entry.engine, Some(e));
        }
        other => panic!("{other:?}"),
    }
    assert!(t
        .scope_registrations()
        .iter()
        .all(|r| r.error.is_none() && r.placed.is_some()));
}

#[test]
fn a_runtime_whose_registration_was_handed_over_is_seen_leaving() {
    let mut w = World::build(12);
    let cred = root_bearer();
    // /a/b has no cluster: /a holds runtime 10's registration there, and
    // the member of /a it was pushed to has a stream to it.
    w.register("/a/b/y", "fs", 10);
    // A cluster forms at /a/b: /a hands the registration over to it. The
    // new member has no stream to runtime 10.
    w.register("/a/b", SECTOR, 11);
    w.net.advance(u64::from(CACHE_MS) + UPKEEP_MS);
    let r = w.query(1, QueryKind::All, "/a/b/y", "fs", &cred).unwrap();
    assert_eq!(ids(&r), BTreeSet::from([w.id(10)]));
    assert_eq!(redirects(&r).last(), Some(&p("/a/b")), "answered by /a/b");
    // Runtime 10 leaves: /a finds it gone and tells /a/b, which holds its
    // registration, so it drops out within the cache lifetime.
    w.net.remove_node(10);
    w.regs
        .get_mut(&(p("/a/b/y"), "fs".into()))
        .unwrap()
        .remove(&10);
    w.settle();
    w.net.advance(u64::from(CACHE_MS) + UPKEEP_MS);
    let r = w.query(1, QueryKind::All, "/a/b/y", "fs", &cred).unwrap();
    assert_eq!(ids(&r), BTreeSet::new(), "trail {:?}", r.trail);
    assert!(w.net.node(11).stats().scopes.gone_taken > 0);
}

#[test]
fn a_member_that_still_sees_a_runtime_keeps_it() {
    use tessel_actors::wire::frame::Frame;
    use tessel_actors::wire::scope_gone::ScopeGone;
    let mut w = World::build(14);
    w.register("/a/b/c", SECTOR, 11);
    w.net.advance(3 * UPKEEP_MS);
    let all = BTreeSet::from([w.id(4), w.id(5), w.id(11)]);
    assert_eq!(w.members_seen_by(5, "/a/b/c"), Some(all.clone()));
    let taken = w.net.node(11).stats().scopes.gone_taken;
    // Member 4 says runtime 11 is gone, but member 5 still has a stream
    // to it: 5 keeps it and tells it, and it places its registrations
    // again.
    let gone = Frame::ScopeGone(ScopeGone {
        forwarded: true,
        runtime: w.id(11),
        at: w.net.now().plus_ms(1),
    });
    assert!(w.net.inject(4, 5, gone.to_bytes().unwrap()));
    w.settle();
    assert_eq!(w.members_seen_by(5, "/a/b/c"), Some(all.clone()));
    assert_eq!(w.net.node(11).stats().scopes.gone_taken, taken + 1);
    w.net.advance(UPKEEP_MS);
    for m in [4, 5, 11] {
        assert_eq!(w.members_seen_by(m, "/a/b/c"), Some(all.clone()), "{m}");
    }
}

#[test]
fn a_registration_that_reaches_the_cluster_above_is_passed_down() {
    let mut w = World::build(13);
    let cred = root_bearer();
    // Runtime 10 places a registration under /a/b while /a is the
    // closest cluster: its "closest sector" answer is cached.
    w.register("/a/b/y", "db", 10);
    // A cluster forms at /a/b; runtime 10 places another registration
    // there within the cache lifetime, located by the cached answer: it
    // reaches /a, which passes it down to /a/b.
    w.register("/a/b", SECTOR, 11);
    w.register("/a/b/y", "fs", 10);
    let placed = w
        .net
        .node(10)
        .scope_registrations()
        .into_iter()
        .find(|r| r.service == "fs")
        .and_then(|r| r.placed)
        .unwrap();
    assert_eq!(placed.cluster, p("/a"), "located with the cached answer");
    w.net.advance(u64::from(CACHE_MS) + UPKEEP_MS);
    for from in [0, 1, 6] {
        let r = w
            .query(from, QueryKind::All, "/a/b/y", "fs", &cred)
            .unwrap();
        assert_eq!(ids(&r), BTreeSet::from([w.id(10)]), "from {from}");
        assert_eq!(redirects(&r).last(), Some(&p("/a/b")));
        let r = w
            .query(from, QueryKind::All, "/a/b/y", "db", &cred)
            .unwrap();
        assert_eq!(ids(&r), BTreeSet::from([w.id(10)]), "from {from}");
    }
    // Its withdrawal, located the same way, is passed down too.
    w.register("/a/b/y", SECTOR, 9);
    w.withdraw("/a/b/y", "fs", 10);
    w.net.advance(u64::from(CACHE_MS) + UPKEEP_MS);
    let r = w.query(1, QueryKind::All, "/a/b/y", "fs", &cred).unwrap();
    assert_eq!(ids(&r), BTreeSet::new());
}

/// A new cluster's member that registers a service while its cache still
/// says the scope has no cluster (it asked before it founded one) keeps
/// the registration in its own cluster, and the member that joined before
/// gets it too; a member that forgets its cache asks afresh.
#[test]
fn a_new_cluster_keeps_what_its_members_register_at_once() {
    let mut w = World::new(12);
    w.register("/", SECTOR, 0);
    w.register("/b/q", SECTOR, 7);
    // Within the cache lifetime of 7's first locate, which found no
    // cluster at /b/q yet.
    w.register("/b/q", SECTOR, 8);
    w.register("/b/q", "fs", 7);
    w.register("/b/q", "fs", 8);
    let cred = root_bearer();
    for m in [7, 8] {
        let f = w.query(m, QueryKind::All, "/b/q", "fs", &cred).unwrap();
        assert_eq!(ids(&f), BTreeSet::from([w.id(7), w.id(8)]), "member {m}");
    }
    let stats = |w: &World| w.net.node(10).stats().scopes.clone();
    let f = w.query(10, QueryKind::All, "/b/q", "fs", &cred).unwrap();
    assert_eq!(ids(&f), BTreeSet::from([w.id(7), w.id(8)]));
    let before = stats(&w);
    assert!(
        w.query(10, QueryKind::All, "/b/q", "fs", &cred)
            .unwrap()
            .cached
    );
    // Bytes are counted per hop, in and out.
    assert!(before.query_bytes_out > 0 && before.answer_bytes_in > before.query_bytes_out);
    w.net.node_mut(10).scope_forget_cache();
    let f = w.query(10, QueryKind::All, "/b/q", "fs", &cred).unwrap();
    assert!(!f.cached);
    assert_eq!(redirects(&f), vec![p("/b/q")]);
    assert!(stats(&w).hops_sent > before.hops_sent);
}
