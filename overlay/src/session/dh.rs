//! X25519 (RFC 7748) for snow, with what never changes computed once.
//!
//! In `IKpsk2` both sides compute `ss`, the Diffie-Hellman of the two
//! static keys, on every handshake, and building a handshake derives the
//! public half of our static key again. Both depend only on long-lived
//! keys, so, as WireGuard does with its precomputed static-static secret,
//! a node keeps them: its own public key, and per recent peer that peer's
//! Montgomery public key and the `ss` secret ([`StaticSecrets`]). A
//! handshake then costs two fewer scalar multiplications on each side and no
//! conversion of the peer's ed25519 key. The results are exactly X25519's:
//! a lookup returns what the multiplication would, and the multiplications
//! that remain run on the Edwards form of the curve ([`x25519_on`]).
//!
//! snow owns the [`Dh`] objects it resolves, so the responder's view of the
//! cache is a shared, read-only snapshot ([`Arc`]) that lives only while an
//! initiation is read, and the `ss` it computes for a peer not yet cached
//! comes back through a write-once slot ([`Computed`]).

use std::sync::{Arc, OnceLock};

use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::{clamp_integer, Scalar};
use snow::types::{Dh, Random};
use zeroize::Zeroizing;

use crate::identity::NodeId;

/// Peers whose static secrets a node keeps: more than the sessions it
/// usually holds (neighbours and the members it talks to).
pub(crate) const CAPACITY: usize = 64;

/// X25519 of `private` (clamped) and the point `public` (RFC 7748), given
/// `public`'s [`edwards_form`].
///
/// For a `public` on the curve, the product is computed on the birationally
/// equivalent Edwards curve, where curve25519-dalek multiplies with its
/// vector backend (about twice as fast as the Montgomery ladder here): the
/// u-coordinate of `[k]P` does not depend on how `[k]P` was found, nor on
/// the sign of the Edwards `x` chosen for `P` (`[k](-P) = -[k]P`). The
/// clamped `k` is a multiple of 8, so `[k]P = [k/8]([8]P)`, and `[8]P` lies
/// in the prime-order subgroup, where `k/8` may be reduced mod ℓ. The point
/// at infinity maps to u = 0, as the ladder gives. Points on the twist
/// (and u = -1) have no Edwards form: the Montgomery ladder takes those.
/// Which way is taken depends only on `public`; both are constant-time in
/// `private`.
fn x25519_on(private: &[u8; 32], public: &[u8; 32], form: &Option<EdwardsPoint>) -> [u8; 32] {
    match form {
        Some(p) => {
            let k = Scalar::from_bytes_mod_order(eighth(clamp_integer(*private)));
            (p * k).to_montgomery().to_bytes()
        }
        None => MontgomeryPoint(*public).mul_clamped(*private).to_bytes(),
    }
}

/// [`x25519_on`], converting `public` itself.
#[cfg(test)]
pub(crate) fn x25519(private: &[u8; 32], public: &[u8; 32]) -> [u8; 32] {
    x25519_on(private, public, &edwards_form(public))
}

/// `[8]P` on the Edwards curve for the Montgomery point `public`, or `None`
/// if it has no Edwards form: what [`x25519_on`] multiplies. Converting
/// costs two field exponentiations, so a point met again is converted once.
pub(crate) fn edwards_form(public: &[u8; 32]) -> Option<EdwardsPoint> {
    MontgomeryPoint(*public)
        .to_edwards(0)
        .map(|p| p.mul_by_cofactor())
}

/// The [`edwards_form`]s of the first two points that one handshake's DH
/// objects multiply. In `IKpsk2` each side multiplies the other's ephemeral
/// key twice (`ee`, and `es` or `se`), so its second use finds it here; an
/// initiator starts with the responder's static key there, whose form the
/// cache keeps per peer ([`PeerStatic::forms`]).
pub(crate) type Forms = Arc<[OnceLock<([u8; 32], Option<EdwardsPoint>)>; 2]>;

/// `k / 8` for a little-endian 256-bit `k` (a multiple of 8 once clamped).
fn eighth(mut k: [u8; 32]) -> [u8; 32] {
    let mut carry = 0u8;
    for b in k.iter_mut().rev() {
        let low = *b & 7;
        *b = (*b >> 3) | (carry << 5);
        carry = low;
    }
    k
}

/// The Montgomery ladder, as RFC 7748 describes X25519: the reference that
/// [`x25519_on`] must equal.
#[cfg(test)]
fn x25519_ladder(private: &[u8; 32], public: &[u8; 32]) -> [u8; 32] {
    MontgomeryPoint(*public).mul_clamped(*private).to_bytes()
}

/// The X25519 public key of `private` (clamped).
pub(crate) fn x25519_base(private: &[u8; 32]) -> [u8; 32] {
    MontgomeryPoint::mul_base_clamped(*private).to_bytes()
}

/// One peer's static material.
#[derive(Clone)]
struct Entry {
    peer: NodeId,
    /// Its static key in X25519 form.
    public: [u8; 32],
    /// X25519 of our static key and `public`.
    shared: Zeroizing<[u8; 32]>,
    /// `public`'s [`edwards_form`], once an initiation to the peer needed it
    /// (`es` multiplies our ephemeral key by it).
    form: Option<Option<EdwardsPoint>>,
    /// When it was last used, on the cache's own counter.
    used: u64,
}

/// What an initiator needs of a peer's static key.
pub(crate) struct PeerStatic {
    /// The key in X25519 form.
    pub(crate) public: [u8; 32],
    /// Our `ss` with it.
    pub(crate) shared: Zeroizing<[u8; 32]>,
    /// Its [`edwards_form`].
    pub(crate) form: Option<EdwardsPoint>,
}

impl PeerStatic {
    /// A handshake's [`Forms`], holding this key's form already.
    pub(crate) fn forms(&self) -> Forms {
        let forms = Forms::default();
        let _ = forms[0].set((self.public, self.form));
        forms
    }
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

    /// `peer`'s X25519 public key, our `ss` with it and the key's
    /// [`edwards_form`], computed on first use; `None` if `peer` is not a
    /// valid key.
    pub(crate) fn with_peer(&mut self, peer: &NodeId) -> Option<PeerStatic> {
        self.clock += 1;
        let clock = self.clock;
        if let Some(e) = self.entries.iter_mut().find(|e| e.peer == *peer) {
            e.used = clock;
            let form = *e.form.get_or_insert_with(|| edwards_form(&e.public));
            return Some(PeerStatic {
                public: e.public,
                shared: e.shared.clone(),
                form,
            });
        }
        let public = peer.noise_public()?;
        let form = edwards_form(&public);
        let shared = Zeroizing::new(x25519_on(&self.private, &public, &form));
        self.file(*peer, public, shared.clone(), Some(form));
        Some(PeerStatic {
            public,
            shared,
            form,
        })
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
        self.file(peer, public, shared, None);
    }

    /// [`StaticSecrets::insert`], with the key's form if it is known.
    fn file(
        &mut self,
        peer: NodeId,
        public: [u8; 32],
        shared: Zeroizing<[u8; 32]>,
        form: Option<Option<EdwardsPoint>>,
    ) {
        self.clock += 1;
        let entry = Entry {
            peer,
            public,
            shared,
            form,
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
/// public half and `ss` secrets instead of computing them again.
pub(crate) struct CachedDh {
    /// Our static key pair.
    own: ([u8; 32], Zeroizing<[u8; 32]>),
    known: Arc<Known>,
    /// Shared by the handshake's DH objects.
    forms: Forms,
    private: Zeroizing<[u8; 32]>,
    public: [u8; 32],
    /// Whether `private` is our static key.
    is_static: bool,
}

impl CachedDh {
    /// A DH object for a handshake of the static key `own` (public,
    /// private), knowing `known`.
    pub(crate) fn new(
        own: ([u8; 32], Zeroizing<[u8; 32]>),
        known: Arc<Known>,
        forms: Forms,
    ) -> Self {
        Self {
            own,
            known,
            forms,
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
        let shared = match self
            .forms
            .iter()
            .find_map(|f| f.get().filter(|(p, _)| *p == public))
        {
            Some((_, form)) => x25519_on(&self.private, &public, form),
            None => {
                let form = edwards_form(&public);
                let shared = x25519_on(&self.private, &public, &form);
                if let Some(free) = self.forms.iter().find(|f| f.get().is_none()) {
                    let _ = free.set((public, form));
                }
                shared
            }
        };
        out.copy_from_slice(&shared);
        if self.is_static {
            if let Known::Cache(_, computed) = &*self.known {
                let result = (public, Zeroizing::new(shared));
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
        let mut cold = CachedDh::new(own.clone(), Arc::new(Known::Nothing), Forms::default());
        cold.set(&a);
        assert_eq!(cold.pubkey(), &a_pub[..]);
        cold.dh(&b_pub, &mut out).unwrap();
        assert_eq!(out, k);
        // A cache entry is used only for the static key and its own peer.
        let wrong = Zeroizing::new([0x55; 32]);
        let mut warm = CachedDh::new(
            own.clone(),
            Arc::new(Known::Peer(b_pub, wrong.clone())),
            Forms::default(),
        );
        warm.set(&a);
        warm.dh(&b_pub, &mut out).unwrap();
        assert_eq!(out, *wrong, "the static key takes the cached secret");
        warm.dh(&a_pub, &mut out).unwrap();
        assert_eq!(out, x25519(&a, &a_pub), "another peer is computed");
        let mut ephemeral =
            CachedDh::new(own, Arc::new(Known::Peer(b_pub, wrong)), Forms::default());
        ephemeral.set(&b);
        ephemeral.dh(&b_pub, &mut out).unwrap();
        assert_eq!(out, x25519(&b, &b_pub), "another key is computed");
    }

    /// DH objects of one handshake share the Edwards forms of the points
    /// they multiply: a point met again (on the curve, on the twist) gives
    /// what X25519 gives, and a third point is computed afresh.
    #[test]
    fn a_handshakes_dh_objects_reuse_the_points_they_met() {
        let (a, b) = ([3u8; 32], [4u8; 32]);
        let own = (x25519_base(&a), Zeroizing::new(a));
        let forms = Forms::default();
        let mut first = CachedDh::new(own.clone(), Arc::new(Known::Nothing), forms.clone());
        first.set(&a);
        let mut second = CachedDh::new(own, Arc::new(Known::Nothing), forms.clone());
        second.set(&b);
        let twist = (1u8..)
            .map(|i| [i; 32])
            .find(|p| MontgomeryPoint(*p).to_edwards(0).is_none())
            .expect("a point on the twist");
        let points = [x25519_base(&[5; 32]), twist, x25519_base(&[6; 32])];
        let mut out = [0u8; 32];
        for p in points {
            first.dh(&p, &mut out).unwrap();
            assert_eq!(out, x25519(&a, &p));
            second.dh(&p, &mut out).unwrap();
            assert_eq!(out, x25519(&b, &p));
        }
        let kept: Vec<[u8; 32]> = forms
            .iter()
            .filter_map(|f| f.get().map(|(p, _)| *p))
            .collect();
        assert_eq!(kept, points[..2]);
    }

    #[test]
    fn responder_records_what_it_computed_and_short_input_fails() {
        let a = [7u8; 32];
        let own = (x25519_base(&a), Zeroizing::new(a));
        let computed: Computed = Arc::default();
        let cache = Arc::new(StaticSecrets::new(Zeroizing::new(a)));
        let mut dh = CachedDh::new(
            own,
            Arc::new(Known::Cache(cache, computed.clone())),
            Forms::default(),
        );
        dh.set(&a);
        let (p1, p2) = (x25519_base(&[1; 32]), x25519_base(&[2; 32]));
        let mut out = [0u8; 32];
        dh.dh(&p1, &mut out).unwrap();
        dh.dh(&p2, &mut out).unwrap();
        let got: Vec<_> = computed.iter().map(|c| c.get().unwrap().0).collect();
        assert_eq!(got, vec![p1, p2]);
        assert_eq!(*computed[1].get().unwrap().1, x25519(&a, &p2));
        assert!(dh.dh(&p1[..31], &mut out).is_err());
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
        assert_eq!(
            p.form.map(|f| f.compress()),
            edwards_form(&p0).map(|f| f.compress())
        );
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

    /// The Edwards way equals the ladder on random keys and points (on the
    /// curve and on its twist), on low-order points, on non-canonical and
    /// high-bit-set encodings.
    #[test]
    fn x25519_equals_the_ladder() {
        use rand_chacha::ChaCha20Rng;
        use rand_core::{RngCore, SeedableRng};
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mut points: Vec<[u8; 32]> = vec![
            [0; 32],
            hex32("0100000000000000000000000000000000000000000000000000000000000000"),
            hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
            hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
            hex32("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
            hex32("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
            hex32("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
            hex32("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
        ];
        let mut on_curve = 0;
        for _ in 0..200 {
            let mut p = [0u8; 32];
            rng.fill_bytes(&mut p);
            on_curve += usize::from(MontgomeryPoint(p).to_edwards(0).is_some());
            points.push(p);
            let mut k = [0u8; 32];
            rng.fill_bytes(&mut k);
            points.push(x25519_base(&k));
        }
        assert!(
            on_curve > 50 && on_curve < 150,
            "{on_curve} of 200 random on the curve"
        );
        for p in &points {
            let mut k = [0u8; 32];
            rng.fill_bytes(&mut k);
            assert_eq!(x25519(&k, p), x25519_ladder(&k, p), "point {p:02x?}");
        }
        assert_eq!(eighth([8; 32])[0], 1);
    }
}
