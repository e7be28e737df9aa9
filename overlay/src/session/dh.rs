//! X25519 (RFC 7748) for snow, with what never changes computed once.
//!
//! In `IKpsk2` both sides compute `ss`, the Diffie-Hellman of the two
//! static keys, on every handshake, and building a handshake derives the
//! public half of our static key again. Both depend only on long-lived
//! keys, so, as WireGuard does with its precomputed static-static secret,
//! a node keeps them: its own public key, and per recent peer that peer's
//! Montgomery public key and the `ss` secret ([`StaticSecrets`]). A
//! handshake then costs two fewer scalar multiplications on each side and no
//! conversion of the peer's ed25519 key. A lookup returns exactly what the
//! multiplication would.
//!
//! Every multiplication that remains is curve25519-dalek's Montgomery
//! ladder ([`MontgomeryPoint::mul_clamped`]) on the backend the crate picks
//! for itself: the standard, audited path, constant-time in the secret and
//! defined for every 32-byte input (points on the curve, on its twist,
//! non-canonical encodings). A result of all zeros, which only a low-order
//! point gives, is refused, as WireGuard refuses it: such a point would
//! make the shared secret independent of our key.
//!
//! snow owns the [`Dh`] objects it resolves, so the responder's view of the
//! cache is a shared, read-only snapshot ([`Arc`]) that lives only while an
//! initiation is read, and the `ss` it computes for a peer not yet cached
//! comes back through a write-once slot ([`Computed`]).

use std::sync::{Arc, OnceLock};

use curve25519_dalek::montgomery::MontgomeryPoint;
use snow::types::{Dh, Random};
use zeroize::Zeroizing;

use crate::identity::NodeId;

/// Peers whose static secrets a node keeps: more than the sessions it
/// usually holds (neighbours and the members it talks to).
pub(crate) const CAPACITY: usize = 64;

/// X25519 of `private` (clamped) and the u-coordinate `public`, as RFC 7748
/// defines it: the Montgomery ladder.
pub(crate) fn x25519(private: &[u8; 32], public: &[u8; 32]) -> [u8; 32] {
    let compute = || MontgomeryPoint(*public).mul_clamped(*private).to_bytes();
    #[cfg(fuzzing)]
    return super::fuzz_memo::x25519(private, public, compute);
    #[cfg(not(fuzzing))]
    compute()
}

/// Whether an X25519 result is all zeros (the peer's point had low order),
/// without a branch on any byte.
fn is_zero(shared: &[u8; 32]) -> bool {
    shared.iter().fold(0u8, |acc, b| acc | b) == 0
}

/// The X25519 public key of `private` (clamped).
pub(crate) fn x25519_base(private: &[u8; 32]) -> [u8; 32] {
    let compute = || MontgomeryPoint::mul_base_clamped(*private).to_bytes();
    #[cfg(fuzzing)]
    return super::fuzz_memo::x25519(private, &BASE_POINT, compute);
    #[cfg(not(fuzzing))]
    compute()
}

/// The u-coordinate of the base point (RFC 7748), the memo's key for
/// [`x25519_base`] in fuzz builds.
#[cfg(fuzzing)]
const BASE_POINT: [u8; 32] = {
    let mut u = [0u8; 32];
    u[0] = 9;
    u
};

/// One peer's static material.
#[derive(Clone)]
struct Entry {
    peer: NodeId,
    /// Its static key in X25519 form.
    public: [u8; 32],
    /// X25519 of our static key and `public`.
    shared: Zeroizing<[u8; 32]>,
    /// When it was last used, on the cache's own counter.
    used: u64,
}

/// What an initiator needs of a peer's static key.
pub(crate) struct PeerStatic {
    /// The key in X25519 form.
    pub(crate) public: [u8; 32],
    /// Our `ss` with it.
    pub(crate) shared: Zeroizing<[u8; 32]>,
}

/// Our static key pair and the static-static secrets of recent peers, at
/// most [`CAPACITY`]; the least recently used gives way.
#[derive(Clone)]
pub(crate) struct StaticSecrets {
    private: Zeroizing<[u8; 32]>,
    public: [u8; 32],
    entries: Vec<Entry>,
    clock: u64,
}

impl StaticSecrets {
    /// The secrets of the static key `private` (no peer known yet).
    pub(crate) fn new(private: Zeroizing<[u8; 32]>) -> Self {
        let public = x25519_base(&private);
        Self {
            private,
            public,
            entries: Vec::new(),
            clock: 0,
        }
    }

    /// Our static public key.
    pub(crate) fn public(&self) -> [u8; 32] {
        self.public
    }

    /// Our static private key.
    pub(crate) fn private(&self) -> &Zeroizing<[u8; 32]> {
        &self.private
    }

    /// `peer`'s X25519 public key and our `ss` with it, computed on first
    /// use; `None` if `peer` is not a valid key or has low order.
    pub(crate) fn with_peer(&mut self, peer: &NodeId) -> Option<PeerStatic> {
        self.clock += 1;
        let clock = self.clock;
        if let Some(e) = self.entries.iter_mut().find(|e| e.peer == *peer) {
            e.used = clock;
            return Some(PeerStatic {
                public: e.public,
                shared: e.shared.clone(),
            });
        }
        let public = peer.noise_public()?;
        let shared = Zeroizing::new(x25519(&self.private, &public));
        if is_zero(&shared) {
            return None;
        }
        self.insert(*peer, public, shared.clone());
        Some(PeerStatic { public, shared })
    }

    /// The X25519 public key of `peer`, if cached.
    pub(crate) fn public_of(&self, peer: &NodeId) -> Option<[u8; 32]> {
        self.entries
            .iter()
            .find(|e| e.peer == *peer)
            .map(|e| e.public)
    }

    /// Our `ss` with the peer whose X25519 public key is `public`, if cached.
    fn shared_with(&self, public: &[u8]) -> Option<&[u8; 32]> {
        self.entries
            .iter()
            .find(|e| e.public[..] == *public)
            .map(|e| &*e.shared)
    }

    /// Remembers `peer`'s key and our `ss` with it (computed by a handshake
    /// that proved the key belongs to `peer`).
    pub(crate) fn insert(&mut self, peer: NodeId, public: [u8; 32], shared: Zeroizing<[u8; 32]>) {
        self.clock += 1;
        let entry = Entry {
            peer,
            public,
            shared,
            used: self.clock,
        };
        if let Some(e) = self.entries.iter_mut().find(|e| e.peer == peer) {
            *e = entry;
        } else if self.entries.len() < CAPACITY {
            self.entries.push(entry);
        } else if let Some(oldest) = self.entries.iter_mut().min_by_key(|e| e.used) {
            *oldest = entry;
        }
    }

    /// How many peers are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Results the responder's static key computed for peers not in the
/// cache: `(their public key, shared secret)`, in order (`es`, then `ss`).
pub(crate) type Computed = Arc<[OnceLock<([u8; 32], Zeroizing<[u8; 32]>)>; 2]>;

/// What a [`CachedDh`] may know about the DH it is asked for.
pub(crate) enum Known {
    /// Nothing.
    #[cfg(test)]
    Nothing,
    /// The initiator's `ss` with the one peer it initiates to.
    Peer([u8; 32], Zeroizing<[u8; 32]>),
    /// The responder's snapshot of the cache, and where new results go.
    Cache(Arc<StaticSecrets>, Computed),
}

/// A snow [`Dh`]: X25519 as snow's own, which uses our static key's known
/// public half and `ss` secrets instead of computing them again, and
/// refuses an all-zero result.
pub(crate) struct CachedDh {
    /// Our static key pair.
    own: ([u8; 32], Zeroizing<[u8; 32]>),
    known: Arc<Known>,
    private: Zeroizing<[u8; 32]>,
    public: [u8; 32],
    /// Whether `private` is our static key.
    is_static: bool,
}

impl CachedDh {
    /// A DH object for a handshake of the static key `own` (public,
    /// private), knowing `known`.
    pub(crate) fn new(own: ([u8; 32], Zeroizing<[u8; 32]>), known: Arc<Known>) -> Self {
        Self {
            own,
            known,
            private: Zeroizing::new([0; 32]),
            public: [0; 32],
            is_static: false,
        }
    }
}

impl Dh for CachedDh {
    fn name(&self) -> &'static str {
        "25519"
    }

    fn pub_len(&self) -> usize {
        32
    }

    fn priv_len(&self) -> usize {
        32
    }

    fn set(&mut self, privkey: &[u8]) {
        let mut key = Zeroizing::new([0u8; 32]);
        let n = privkey.len().min(32);
        key[..n].copy_from_slice(&privkey[..n]);
        self.is_static = *key == *self.own.1;
        self.public = if self.is_static {
            self.own.0
        } else {
            x25519_base(&key)
        };
        self.private = key;
    }

    fn generate(&mut self, rng: &mut dyn Random) -> Result<(), snow::Error> {
        let mut key = Zeroizing::new([0u8; 32]);
        rng.try_fill_bytes(&mut key[..])?;
        self.public = x25519_base(&key);
        self.private = key;
        self.is_static = false;
        Ok(())
    }

    fn pubkey(&self) -> &[u8] {
        &self.public
    }

    fn privkey(&self) -> &[u8] {
        &self.private[..]
    }

    fn dh(&self, pubkey: &[u8], out: &mut [u8]) -> Result<(), snow::Error> {
        let (Some(public), Some(out)) = (pubkey.get(..32), out.get_mut(..32)) else {
            return Err(snow::Error::Dh);
        };
        if self.is_static {
            let cached = match &*self.known {
                Known::Peer(p, shared) if p[..] == *public => Some(&**shared),
                Known::Cache(cache, _) => cache.shared_with(public),
                _ => None,
            };
            if let Some(shared) = cached {
                out.copy_from_slice(shared);
                return Ok(());
            }
        }
        let public: [u8; 32] = public.try_into().map_err(|_| snow::Error::Dh)?;
        let shared = Zeroizing::new(x25519(&self.private, &public));
        if is_zero(&shared) {
            return Err(snow::Error::Dh);
        }
        out.copy_from_slice(&shared[..]);
        if self.is_static {
            if let Known::Cache(_, computed) = &*self.known {
                let result = (public, shared);
                if let Err(result) = computed[0].set(result) {
                    let _ = computed[1].set(result);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex32(s: &str) -> [u8; 32] {
        let v: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        v.try_into().unwrap()
    }

    /// RFC 7748 §5.2: the two single multiplications.
    #[test]
    fn rfc7748_single_vectors() {
        let cases = [
            (
                "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
                "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
                "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
            ),
            (
                "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
                "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
                "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
            ),
        ];
        for (k, u, out) in cases {
            assert_eq!(x25519(&hex32(k), &hex32(u)), hex32(out));
        }
    }

    /// RFC 7748 §6.1: Alice's and Bob's keys and their shared secret.
    #[test]
    fn rfc7748_test_vector() {
        let a = hex32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let a_pub = hex32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        let b = hex32("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
        let b_pub = hex32("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        let k = hex32("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        assert_eq!(x25519_base(&a), a_pub);
        assert_eq!(x25519_base(&b), b_pub);
        assert_eq!(x25519(&a, &b_pub), k);
        assert_eq!(x25519(&b, &a_pub), k);

        // The same through the snow object, cold and from the cache.
        let own = (a_pub, Zeroizing::new(a));
        let mut out = [0u8; 32];
        let mut cold = CachedDh::new(own.clone(), Arc::new(Known::Nothing));
        cold.set(&a);
        assert_eq!(cold.pubkey(), &a_pub[..]);
        cold.dh(&b_pub, &mut out).unwrap();
        assert_eq!(out, k);
        // A cache entry is used only for the static key and its own peer.
        let wrong = Zeroizing::new([0x55; 32]);
        let mut warm = CachedDh::new(own.clone(), Arc::new(Known::Peer(b_pub, wrong.clone())));
        warm.set(&a);
        warm.dh(&b_pub, &mut out).unwrap();
        assert_eq!(out, *wrong, "the static key takes the cached secret");
        warm.dh(&a_pub, &mut out).unwrap();
        assert_eq!(out, x25519(&a, &a_pub), "another peer is computed");
        let mut ephemeral = CachedDh::new(own, Arc::new(Known::Peer(b_pub, wrong)));
        ephemeral.set(&b);
        ephemeral.dh(&b_pub, &mut out).unwrap();
        assert_eq!(out, x25519(&b, &b_pub), "another key is computed");
    }

    /// RFC 7748 §5.2: the iterated test, 1 and 1,000 times.
    #[test]
    fn rfc7748_iterations() {
        let (mut k, mut u) = ([0u8; 32], [0u8; 32]);
        k[0] = 9;
        u[0] = 9;
        for i in 1..=1000 {
            let r = x25519(&k, &u);
            u = k;
            k = r;
            if i == 1 {
                assert_eq!(
                    k,
                    hex32("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079")
                );
            }
        }
        assert_eq!(
            k,
            hex32("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51")
        );
    }

    /// Every Wycheproof X25519 vector (low-order and twist points,
    /// non-canonical encodings, edge-case scalars): the function gives the
    /// expected result, and the snow object gives it too, except that it
    /// refuses the all-zero results of low-order points.
    #[test]
    fn wycheproof_x25519() {
        use wycheproof::xdh::{TestFlag, TestName, TestSet};
        let set = TestSet::load(TestName::X25519).unwrap();
        let (mut total, mut refused) = (0, 0);
        for group in &set.test_groups {
            for t in &group.tests {
                let private: [u8; 32] = t.private_key[..].try_into().unwrap();
                let public: [u8; 32] = t.public_key[..].try_into().unwrap();
                let expected: [u8; 32] = t.shared_secret[..].try_into().unwrap();
                assert_eq!(x25519(&private, &public), expected, "tcId {}", t.tc_id);
                let mut dh = CachedDh::new(
                    (x25519_base(&[1; 32]), Zeroizing::new([1; 32])),
                    Arc::new(Known::Nothing),
                );
                dh.set(&private);
                let mut out = [0u8; 32];
                let zero = t.flags.contains(&TestFlag::ZeroSharedSecret);
                assert_eq!(zero, expected == [0; 32], "tcId {}", t.tc_id);
                match dh.dh(&public, &mut out) {
                    Ok(()) => assert_eq!(out, expected, "tcId {}", t.tc_id),
                    Err(_) => {
                        assert!(zero, "tcId {} refused", t.tc_id);
                        refused += 1;
                    }
                }
                total += 1;
            }
        }
        assert_eq!(total, set.number_of_tests);
        assert!(
            total > 500 && refused > 20,
            "{total} tests, {refused} refused"
        );
    }

    /// Differential: the snow object equals snow's own X25519 (another
    /// version of curve25519-dalek, through snow's default resolver) on
    /// random keys and on random 32-byte strings, which land on the curve
    /// or on its twist about equally often.
    #[test]
    fn equals_snows_own_x25519() {
        use rand_chacha::ChaCha20Rng;
        use rand_core::{RngCore, SeedableRng};
        use snow::resolvers::{CryptoResolver, DefaultResolver};
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let own = (x25519_base(&[1; 32]), Zeroizing::new([1; 32]));
        for i in 0..400 {
            let mut k = [0u8; 32];
            rng.fill_bytes(&mut k);
            let mut p = [0u8; 32];
            rng.fill_bytes(&mut p);
            if i % 2 == 0 {
                p = x25519_base(&p);
            }
            let mut ours = CachedDh::new(own.clone(), Arc::new(Known::Nothing));
            ours.set(&k);
            let mut theirs = DefaultResolver
                .resolve_dh(&snow::params::DHChoice::Curve25519)
                .unwrap();
            theirs.set(&k);
            assert_eq!(ours.pubkey(), theirs.pubkey());
            let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
            ours.dh(&p, &mut a).unwrap();
            theirs.dh(&p, &mut b).unwrap();
            assert_eq!(a, b, "key {k:02x?} point {p:02x?}");
        }
    }

    /// A peer whose node ID maps to a low-order point gets no cache entry
    /// and no handshake; short input fails.
    #[test]
    fn low_order_and_short_points_are_refused() {
        let own = (x25519_base(&[7; 32]), Zeroizing::new([7; 32]));
        let mut dh = CachedDh::new(own, Arc::new(Known::Nothing));
        dh.set(&[7; 32]);
        let mut out = [0u8; 32];
        let one = hex32("0100000000000000000000000000000000000000000000000000000000000000");
        assert!(dh.dh(&[0; 32], &mut out).is_err());
        assert!(dh.dh(&one, &mut out).is_err());
        assert!(dh.dh(&one[..31], &mut out).is_err());
    }

    #[test]
    fn responder_records_what_it_computed() {
        let a = [7u8; 32];
        let own = (x25519_base(&a), Zeroizing::new(a));
        let computed: Computed = Arc::default();
        let cache = Arc::new(StaticSecrets::new(Zeroizing::new(a)));
        let mut dh = CachedDh::new(own, Arc::new(Known::Cache(cache, computed.clone())));
        dh.set(&a);
        let (p1, p2) = (x25519_base(&[1; 32]), x25519_base(&[2; 32]));
        let mut out = [0u8; 32];
        dh.dh(&p1, &mut out).unwrap();
        dh.dh(&p2, &mut out).unwrap();
        let got: Vec<_> = computed.iter().map(|c| c.get().unwrap().0).collect();
        assert_eq!(got, vec![p1, p2]);
        assert_eq!(*computed[1].get().unwrap().1, x25519(&a, &p2));
    }

    #[test]
    fn the_cache_is_bounded_and_keeps_the_recently_used() {
        use crate::identity::NodeKey;
        let mut s = StaticSecrets::new(Zeroizing::new([9; 32]));
        let ids: Vec<NodeId> = (0..=CAPACITY as u8)
            .map(|i| NodeKey::from_seed([i; 32]).id())
            .collect();
        let p = s.with_peer(&ids[0]).unwrap();
        let (p0, k0) = (p.public, p.shared);
        assert_eq!(Some(p0), ids[0].noise_public());
        assert_eq!(*k0, x25519(&[9; 32], &p0));
        for id in &ids[1..CAPACITY] {
            s.with_peer(id);
        }
        s.with_peer(&ids[0]); // used again: the oldest is now ids[1]
        s.with_peer(&ids[CAPACITY]);
        assert_eq!(s.len(), CAPACITY);
        assert!(s.public_of(&ids[0]).is_some());
        assert!(s.public_of(&ids[1]).is_none());
        assert!(s.public_of(&ids[CAPACITY]).is_some());
    }
}
