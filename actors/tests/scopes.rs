//! Scopes end to end, in memory: a tree of scopes three levels deep, twenty
//! runtimes, sector clusters at several levels, queries of both kinds from
//! every runtime following redirects, checked against the registrations.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::SigningKey;
use tessel_actors::ids::{NodeId, Time};
use tessel_actors::scope::fixture::{key, path as p, public as pk, readcap, Tree};
use tessel_actors::scope::message::MAX_ANSWER;
use tessel_actors::scope::querier::DEFAULT_HOP_LIMIT;
use tessel_actors::scope::record::BEARER;
use tessel_actors::scope::{
    Answer, Authority, Body, Credential, Found, Hop, PathError, Progress, Querier, Query,
    QueryError, QueryKind, Record, Responder, ScopePath, Start, Trie, TrieLimits, SECTOR,
};
use tessel_actors::wire::WireError;

const CACHE_MS: u32 = 1_000;
const LONG: Time = Time(10_000_000);

fn rt_key(i: usize) -> SigningKey {
    key(100 + u8::try_from(i).unwrap())
}
fn rt_id(i: usize) -> NodeId {
    NodeId(rt_key(i).verifying_key().to_bytes())
}

const ROOT_KEY: u8 = 1;

/// (path, owner seed, world-readable)
const SCOPES: &[(&str, u8, bool)] = &[
    ("/", ROOT_KEY, true),
    ("/pub", 2, true),
    ("/pub/docs", 3, true),
    ("/pub/docs/a", 4, true),
    ("/pub/docs/b", 5, false),
    ("/pub/media", 6, true),
    ("/pub/media/x", 7, true),
    ("/corp", 8, false),
    ("/corp/eng", 9, true),
    ("/corp/eng/ci", 10, true),
    ("/corp/ops", 11, true),
];

const TREE: Tree<'static> = Tree {
    root: ROOT_KEY,
    scopes: SCOPES,
};

/// Sector clusters: scope and member runtime indices.
const CLUSTERS: &[(&str, &[usize])] = &[
    ("/", &[0, 1, 2]),
    ("/pub", &[3, 4]),
    ("/pub/docs/a", &[5, 6]),
    ("/corp", &[7, 8]),
    ("/corp/eng/ci", &[9, 10]),
];

/// `fs` registrations: scope and runtime index.
const FS: &[(&str, usize)] = &[
    ("/", 0),
    ("/pub/docs", 11),
    ("/pub/docs", 12),
    ("/pub/docs/a", 13),
    ("/pub/docs/b", 14),
    ("/pub/media/x", 15),
    ("/corp/eng", 16),
    ("/corp/eng/ci", 17),
    ("/corp/eng/ci", 18),
    ("/corp/ops", 19),
];

const RUNTIMES: usize = 20;

fn authority() -> Authority {
    let mut a = Authority::new(pk(ROOT_KEY));
    for rec in TREE.creations() {
        a.add_scope(&rec).unwrap();
    }
    a
}

fn grant(scope: &ScopePath, rt: usize) -> Record {
    Record::sign(
        Body::HostingGrant {
            scope: scope.clone(),
            runtime: rt_id(rt),
            expires: LONG,
        },
        &key(TREE.owner_of(scope)),
    )
    .unwrap()
}

fn registration(
    scope: &ScopePath,
    service: &str,
    rt: usize,
    issued: Time,
    expires: Time,
) -> Record {
    Record::sign(
        Body::Registration {
            scope: scope.clone(),
            service: service.into(),
            runtime: rt_id(rt),
            engine: None,
            issued,
            expires,
        },
        &rt_key(rt),
    )
    .unwrap()
}

struct World {
    responders: BTreeMap<NodeId, Responder>,
    queriers: Vec<Querier>,
    clusters: BTreeMap<ScopePath, Vec<usize>>,
    /// What is registered: (scope, service) -> runtimes, for the oracle.
    regs: BTreeMap<(ScopePath, String), BTreeSet<NodeId>>,
}

impl World {
    fn new() -> Self {
        let clusters: BTreeMap<ScopePath, Vec<usize>> =
            CLUSTERS.iter().map(|(s, m)| (p(s), m.to_vec())).collect();
        let mut responders = BTreeMap::new();
        for (scope, members) in &clusters {
            for &m in members {
                responders.insert(
                    rt_id(m),
                    Responder::new(
                        rt_id(m),
                        scope.clone(),
                        authority(),
                        CACHE_MS,
                        TrieLimits::default(),
                    ),
                );
            }
        }
        let queriers = (0..RUNTIMES)
            .map(|_| Querier::new(Trie::new(TrieLimits::default()), Some(rt_id(0))))
            .collect();
        let mut w = Self {
            responders,
            queriers,
            clusters,
            regs: BTreeMap::new(),
        };
        let sectors: Vec<(ScopePath, usize)> = w
            .clusters
            .iter()
            .flat_map(|(s, m)| m.iter().map(move |&i| (s.clone(), i)))
            .collect();
        for (s, i) in sectors {
            w.register(&s, SECTOR, i, Time(1), LONG, Time(1));
        }
        for (s, i) in FS {
            w.register(&p(s), "fs", *i, Time(1), LONG, Time(1));
        }
        w
    }

    /// The cluster responsible for `scope`: the deepest one above it.
    fn responsible(&self, scope: &ScopePath) -> ScopePath {
        scope
            .lineage()
            .into_iter()
            .rev()
            .find(|s| self.clusters.contains_key(s))
            .unwrap()
    }

    /// The runtimes that hold a registration of `service` in `scope`.
    fn holders(&self, scope: &ScopePath, service: &str) -> Vec<usize> {
        let mut out = self.clusters[&self.responsible(scope)].clone();
        if service == SECTOR {
            if let Some(parent) = scope.parent() {
                out.extend(self.clusters[&self.responsible(&parent)].iter().copied());
            }
            for c in self.clusters.keys() {
                if c.parent().is_some_and(|q| self.responsible(&q) == *scope) {
                    out.extend(self.clusters[c].iter().copied());
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn register(
        &mut self,
        scope: &ScopePath,
        service: &str,
        rt: usize,
        issued: Time,
        expires: Time,
        now: Time,
    ) {
        let reg = registration(scope, service, rt, issued, expires);
        let g = grant(scope, rt);
        for h in self.holders(scope, service) {
            self.responders
                .get_mut(&rt_id(h))
                .unwrap()
                .register(&reg, &g, now)
                .unwrap();
        }
        self.regs
            .entry((scope.clone(), service.into()))
            .or_default()
            .insert(rt_id(rt));
    }

    fn withdraw(&mut self, scope: &ScopePath, service: &str, rt: usize, issued: Time) {
        let rec = Record::sign(
            Body::Withdrawal {
                scope: scope.clone(),
                service: service.into(),
                runtime: rt_id(rt),
                issued,
            },
            &rt_key(rt),
        )
        .unwrap();
        for h in self.holders(scope, service) {
            assert!(self
                .responders
                .get_mut(&rt_id(h))
                .unwrap()
                .withdraw(&rec)
                .unwrap());
        }
        self.regs
            .get_mut(&(scope.clone(), service.into()))
            .unwrap()
            .remove(&rt_id(rt));
    }

    fn spread_authority(&mut self, f: impl Fn(&mut Authority)) {
        for r in self.responders.values_mut() {
            f(r.authority_mut());
        }
    }

    /// Runs a query from runtime `from` to the end.
    fn query(
        &mut self,
        from: usize,
        kind: QueryKind,
        scope: &ScopePath,
        service: &str,
        cred: &Credential,
        now: Time,
    ) -> Result<(Vec<Found>, Vec<Hop>), QueryError> {
        let mut run =
            match self.queriers[from].start(kind, scope.clone(), service, cred.clone(), now)? {
                Start::Cached(v) => return Ok((v, Vec::new())),
                Start::Run(r) => r,
            };
        loop {
            let (to, bytes) = run.next_send()?;
            let bytes = self
                .responders
                .get_mut(&to)
                .unwrap()
                .handle_query(rt_id(from), &bytes, now)
                .unwrap();
            match run.handle_answer(&mut self.queriers[from], &bytes, now)? {
                Progress::Pending => {}
                Progress::Done(v) => return Ok((v, run.trail().to_vec())),
            }
        }
    }

    /// What the query should find, from the registrations.
    fn expected(&self, kind: QueryKind, scope: &ScopePath, service: &str) -> BTreeSet<NodeId> {
        let at = |s: &ScopePath| {
            self.regs
                .get(&(s.clone(), service.to_owned()))
                .cloned()
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

fn ids(v: &[Found]) -> BTreeSet<NodeId> {
    v.iter().map(|f| f.entry.runtime).collect()
}

fn root_bearer() -> Credential {
    Credential::ReadCap(
        Record::sign(
            Body::ReadCap {
                scope: ScopePath::root(),
                holder: BEARER,
                expires: LONG,
            },
            &key(ROOT_KEY),
        )
        .unwrap(),
    )
}

#[test]
fn every_runtime_finds_the_right_runtimes() {
    let mut w = World::new();
    let cred = root_bearer();
    for from in 0..RUNTIMES {
        let mut redirect_depths = BTreeSet::new();
        for (s, _, _) in SCOPES {
            for kind in [QueryKind::All, QueryKind::Closest] {
                for service in ["fs", SECTOR] {
                    let scope = p(s);
                    let (found, trail) = w
                        .query(from, kind, &scope, service, &cred, Time(10))
                        .unwrap();
                    assert_eq!(
                        ids(&found),
                        w.expected(kind, &scope, service),
                        "{kind:?} {scope} {service} from {from}"
                    );
                    redirect_depths.extend(
                        trail
                            .iter()
                            .filter_map(|h| h.redirect.as_ref().map(ScopePath::depth)),
                    );
                }
            }
        }
        // Every runtime was sent down to clusters at levels one and three
        // (level two has none).
        assert!(
            redirect_depths.contains(&1) && redirect_depths.contains(&3),
            "from {from}"
        );
    }
    // A cold querier's closest query for a three-level scope whose answer is
    // at `/` walks down to the deepest cluster and back up: root, /corp,
    // /corp/eng/ci, then /corp and the root again.
    let mut w = World::new();
    let (found, trail) = w
        .query(
            19,
            QueryKind::Closest,
            &p("/corp/eng/ci"),
            "db",
            &cred,
            Time(10),
        )
        .unwrap();
    assert!(found.is_empty());
    let redirects: Vec<_> = trail.iter().filter_map(|h| h.redirect.clone()).collect();
    assert_eq!(
        redirects,
        vec![p("/corp"), p("/corp/eng/ci"), p("/corp"), p("/")]
    );
}

#[test]
fn anonymous_exactly_where_every_ancestor_is_world_readable() {
    let mut w = World::new();
    let mut allowed = 0;
    for from in 0..RUNTIMES {
        for (s, _, _) in SCOPES {
            let scope = p(s);
            for kind in [QueryKind::All, QueryKind::Closest] {
                let r = w.query(from, kind, &scope, "fs", &Credential::Anonymous, Time(10));
                if TREE.world_readable(&scope) {
                    assert_eq!(ids(&r.unwrap().0), w.expected(kind, &scope, "fs"));
                    allowed += 1;
                } else {
                    assert_eq!(r.unwrap_err(), QueryError::Denied, "{scope}");
                }
            }
        }
        // A scope that does not exist looks the same as a private one.
        let r = w.query(
            from,
            QueryKind::All,
            &p("/corp/secret"),
            "fs",
            &Credential::Anonymous,
            Time(10),
        );
        assert_eq!(r.unwrap_err(), QueryError::Denied);
        let r = w.query(
            from,
            QueryKind::All,
            &p("/pub/nope"),
            "fs",
            &root_bearer(),
            Time(10),
        );
        assert_eq!(r.unwrap_err(), QueryError::Denied);
    }
    assert!(allowed > 0);
    let denied: u64 = w.responders.values().map(|r| r.stats().denied).sum();
    let failed: u64 = w.queriers.iter().map(|q| q.stats.failed).sum();
    assert!(denied > 0);
    assert_eq!(
        denied, failed,
        "each denial answered once and counted by its querier"
    );
    assert!(!TREE.world_readable(&p("/corp/eng")));
    assert!(TREE.world_readable(&p("/pub/docs/a")));
}

#[test]
fn readcaps_and_grants() {
    let mut w = World::new();
    let q = 12;
    let me = rt_id(q).0;
    let eng = p("/corp/eng/ci");
    let ok = |w: &mut World, cred: Record| {
        w.query(
            q,
            QueryKind::All,
            &eng,
            "fs",
            &Credential::ReadCap(cred),
            Time(10),
        )
    };
    // Credentialed access below a private ancestor.
    let cap = readcap("/corp/eng", me, Time(1_000), 9);
    assert_eq!(
        ids(&ok(&mut w, cap.clone()).unwrap().0),
        w.expected(QueryKind::All, &eng, "fs")
    );
    // The owner of an ancestor may issue it too.
    let mut w = World::new();
    assert!(ok(&mut w, readcap("/corp/eng", me, Time(1_000), 8)).is_ok());
    // Refused: expired, held by another, signed by a stranger, forged,
    // for a sibling scope.
    for bad in [
        readcap("/corp/eng", me, Time(10), 9),
        readcap("/corp/eng", pk(77), Time(1_000), 9),
        readcap("/corp/eng", me, Time(1_000), 77),
        readcap("/corp/eng", me, Time(1_000), 11),
        readcap("/corp/ops", me, Time(1_000), 8),
        {
            let mut f = readcap("/corp/eng", me, Time(1_000), 9);
            f.sig[3] ^= 1;
            f
        },
    ] {
        let mut w = World::new();
        assert_eq!(ok(&mut w, bad).unwrap_err(), QueryError::Denied);
    }
    // Revoked by its issuer.
    let mut w = World::new();
    let rev = Record::sign(
        Body::Revocation {
            target: cap.id(),
            issued: Time(5),
        },
        &key(9),
    )
    .unwrap();
    w.spread_authority(|a| {
        a.revoke(&rev).unwrap();
    });
    assert_eq!(ok(&mut w, cap).unwrap_err(), QueryError::Denied);
    // A read grant for the querier as a member.
    let grant = Record::sign(
        Body::ReadGrant {
            scope: p("/corp"),
            member: rt_id(q),
            expires: Time(1_000),
        },
        &key(8),
    )
    .unwrap();
    let mut w = World::new();
    let r = w.query(
        q,
        QueryKind::Closest,
        &p("/corp/ops"),
        "fs",
        &Credential::ReadGrant(grant.clone()),
        Time(10),
    );
    assert_eq!(ids(&r.unwrap().0), BTreeSet::from([rt_id(19)]));
    let r = w.query(
        13,
        QueryKind::Closest,
        &p("/corp/ops"),
        "fs",
        &Credential::ReadGrant(grant),
        Time(10),
    );
    assert_eq!(
        r.unwrap_err(),
        QueryError::Denied,
        "a grant for another member"
    );
}

#[test]
fn answers_follow_expiry_and_withdrawal_within_the_cache_lifetime() {
    let mut w = World::new();
    let cred = root_bearer();
    let x = p("/pub/media/x");
    w.register(&x, "fs", 11, Time(5), Time(5_000), Time(5));
    let all = |w: &mut World, now: u64| {
        ids(&w
            .query(2, QueryKind::All, &x, "fs", &cred, Time(now))
            .unwrap()
            .0)
    };
    assert_eq!(all(&mut w, 10), BTreeSet::from([rt_id(11), rt_id(15)]));
    // Withdrawn: the cached answer may stand for the cache lifetime, no longer.
    w.withdraw(&x, "fs", 15, Time(20));
    assert_eq!(all(&mut w, 20).len(), 2, "still cached");
    assert_eq!(
        all(&mut w, 10 + u64::from(CACHE_MS)),
        BTreeSet::from([rt_id(11)])
    );
    // A new registration shows up once the cache has expired.
    w.register(&x, "fs", 19, Time(1_100), LONG, Time(1_100));
    assert_eq!(all(&mut w, 2_100), BTreeSet::from([rt_id(11), rt_id(19)]));
    // Registration expiry: 11's lifetime ends at 5,000, even though the
    // last answer was cached until 3,100 + cache lifetime.
    assert_eq!(all(&mut w, 3_100), BTreeSet::from([rt_id(11), rt_id(19)]));
    for r in w.responders.values_mut() {
        r.expire(Time(5_000));
    }
    assert_eq!(all(&mut w, 5_000), BTreeSet::from([rt_id(19)]));
    // Closest moves up when the deepest runtime goes away.
    let c = |w: &mut World, now: u64| {
        ids(&w
            .query(3, QueryKind::Closest, &x, "fs", &cred, Time(now))
            .unwrap()
            .0)
    };
    assert_eq!(c(&mut w, 6_000), BTreeSet::from([rt_id(19)]));
    w.withdraw(&x, "fs", 19, Time(6_000));
    assert_eq!(c(&mut w, 7_000), BTreeSet::from([rt_id(0)]));
}

#[test]
fn loops_hop_limits_forgeries_and_bad_sizes_are_refused() {
    let mut q = Querier::new(Trie::new(TrieLimits::default()), Some(rt_id(0)));
    let start = |q: &mut Querier| match q
        .start(
            QueryKind::All,
            p("/pub"),
            "fs",
            Credential::Anonymous,
            Time(0),
        )
        .unwrap()
    {
        Start::Run(r) => r,
        Start::Cached(_) => panic!("nothing cached yet"),
    };
    let redirect = |to: usize| {
        Answer::Redirect {
            scope: p("/pub"),
            ceiling: 255,
            cache_ms: 0,
            targets: vec![rt_id(to)],
        }
        .to_bytes()
        .unwrap()
    };
    // A loop: 0 sends to 1, 1 sends back to 0.
    let mut run = start(&mut q);
    assert_eq!(
        run.handle_answer(&mut q, &redirect(1), Time(0)),
        Ok(Progress::Pending)
    );
    assert_eq!(run.next_send().unwrap().0, rt_id(1));
    assert_eq!(
        run.handle_answer(&mut q, &redirect(0), Time(0)),
        Err(QueryError::Loop(p("/pub")))
    );
    // An endless chain of fresh runtimes stops at the hop limit.
    let mut run = start(&mut q);
    let mut last = Ok(Progress::Pending);
    for i in 1..=DEFAULT_HOP_LIMIT {
        last = run.handle_answer(&mut q, &redirect(i), Time(0));
        if last.is_err() {
            break;
        }
    }
    assert_eq!(last, Err(QueryError::HopLimit(DEFAULT_HOP_LIMIT)));
    // A registration signed by someone other than its runtime.
    let mut forged = registration(&p("/pub"), "fs", 3, Time(0), LONG);
    forged.signer = pk(50);
    let bytes = Answer::Runtimes {
        cache_ms: 10,
        regs: vec![forged],
    }
    .to_bytes()
    .unwrap();
    assert_eq!(
        start(&mut q).handle_answer(&mut q, &bytes, Time(0)),
        Err(QueryError::Forged)
    );
    // A registration for another scope than asked.
    let bytes = Answer::Runtimes {
        cache_ms: 10,
        regs: vec![registration(&p("/corp"), "fs", 3, Time(0), LONG)],
    }
    .to_bytes()
    .unwrap();
    assert_eq!(
        start(&mut q).handle_answer(&mut q, &bytes, Time(0)),
        Err(QueryError::Forged)
    );
    // An oversize answer.
    let mut big = vec![1, 0, 0, 0, 0, 1];
    big.resize(MAX_ANSWER + 1, 0);
    assert_eq!(
        start(&mut q).handle_answer(&mut q, &big, Time(0)),
        Err(QueryError::Malformed(WireError::TooLong("answer")))
    );
    // Over-long paths, as text and on the wire.
    assert_eq!(ScopePath::parse(&"/a".repeat(17)), Err(PathError::TooDeep));
    let mut wire = vec![1, 255, 200];
    wire.extend_from_slice(format!("/{}", "a".repeat(199)).as_bytes());
    wire.extend_from_slice(&[2, b'f', b's', 0]);
    assert_eq!(Query::parse(&wire), Err(WireError::InvalidField("scope")));
    // Every failure was counted.
    assert_eq!(q.stats.loops, 2);
    assert_eq!(q.stats.forged, 2);
    assert_eq!(q.stats.malformed, 1);
    assert_eq!(q.stats.failed, 5);
    // Nothing known and no bootstrap.
    let mut none = Querier::new(Trie::new(TrieLimits::default()), None);
    assert_eq!(
        none.start(QueryKind::All, p("/"), "fs", Credential::Anonymous, Time(0))
            .unwrap_err(),
        QueryError::NoBootstrap
    );
}

#[test]
fn responders_refuse_forged_and_unauthorised_registrations() {
    let mut w = World::new();
    let r = w.responders.get_mut(&rt_id(3)).unwrap();
    let s = p("/pub/media");
    let reg = registration(&s, "fs", 15, Time(1), LONG);
    // A grant signed by the owner of a sibling scope.
    let bad_grant = Record::sign(
        Body::HostingGrant {
            scope: s.clone(),
            runtime: rt_id(15),
            expires: LONG,
        },
        &key(8),
    )
    .unwrap();
    assert!(r.register(&reg, &bad_grant, Time(2)).is_err());
    let mut forged = reg.clone();
    forged.sig[0] ^= 1;
    assert!(r.register(&forged, &grant(&s, 15), Time(2)).is_err());
    // A scope this cluster does not hold.
    let c = p("/corp/ops");
    assert!(r
        .register(
            &registration(&c, "fs", 19, Time(1), LONG),
            &grant(&c, 19),
            Time(2)
        )
        .is_err());
    assert_eq!(r.stats().refused, 3);
    assert!(r.register(&reg, &grant(&s, 15), Time(2)).is_ok());
    assert_eq!(r.stats().refused, 3);
    assert_eq!(
        r.handle_query(rt_id(1), &[9, 9], Time(2)),
        Err(WireError::UnknownType(9))
    );
    assert_eq!(r.stats().malformed, 1);
}
