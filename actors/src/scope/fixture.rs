//! Deterministic keys and signed records for tests, examples and
//! simulations: a tree of scopes whose owners are ed25519 keys made from
//! one-byte seeds. Nothing here is for production keys: a seed of one byte
//! is public knowledge.

use ed25519_dalek::SigningKey;

use super::path::ScopePath;
use super::record::{Body, Record};
use super::responder::SECTOR;
use crate::config::Config;
use crate::ids::{NodeId, Time};
use crate::transport::Transport;

/// The signing key made from `seed` repeated.
pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// The public half of [`key`]`(seed)`.
pub fn public(seed: u8) -> [u8; 32] {
    key(seed).verifying_key().to_bytes()
}

/// Parses a path that the caller wrote out.
///
/// # Panics
/// When `s` is not a valid path: a mistake in the fixture itself.
pub fn path(s: &str) -> ScopePath {
    ScopePath::parse(s).unwrap_or_else(|e| panic!("fixture path {s}: {e}"))
}

/// A tree of scopes: `(path, owner seed, world-readable)` for each, and
/// the seed of the root key that signs the creation of `/`.
#[derive(Debug, Clone, Copy)]
pub struct Tree<'a> {
    /// Seed of the network's root key.
    pub root: u8,
    /// Every scope of the tree, parents before children.
    pub scopes: &'a [(&'a str, u8, bool)],
}

impl Tree<'_> {
    /// The owner seed of `scope`.
    ///
    /// # Panics
    /// When `scope` is not in the tree.
    pub fn owner_of(&self, scope: &ScopePath) -> u8 {
        self.entry(scope).1
    }

    fn entry(&self, scope: &ScopePath) -> (ScopePath, u8, bool) {
        self.scopes
            .iter()
            .map(|(s, o, wr)| (path(s), *o, *wr))
            .find(|(s, _, _)| s == scope)
            .unwrap_or_else(|| panic!("{scope} is not a scope of the fixture"))
    }

    /// The creation record of `scope`, signed by its parent's owner (by the
    /// root key for `/`), issued at time 1.
    pub fn creation(&self, scope: &str) -> Record {
        let (p, owner, world_readable) = self.entry(&path(scope));
        let signer = p.parent().map_or(self.root, |q| self.owner_of(&q));
        Record::sign(
            Body::ScopeCreate {
                path: p,
                owner: public(owner),
                world_readable,
                issued: Time(1),
            },
            &key(signer),
        )
        .expect("a creation record fits")
    }

    /// Every creation record, in the tree's order.
    pub fn creations(&self) -> Vec<Record> {
        self.scopes
            .iter()
            .map(|(s, _, _)| self.creation(s))
            .collect()
    }

    /// Whether anyone may read `scope`: it and every ancestor exist and are
    /// world-readable.
    pub fn world_readable(&self, scope: &ScopePath) -> bool {
        scope
            .lineage()
            .iter()
            .all(|s| self.scopes.iter().any(|(x, _, wr)| path(x) == *s && *wr))
    }
}

/// A read capability for `scope` and `holder` (or [`super::record::BEARER`])
/// until `expires`, signed by the key of `signer`.
pub fn readcap(scope: &str, holder: [u8; 32], expires: Time, signer: u8) -> Record {
    Record::sign(
        Body::ReadCap {
            scope: path(scope),
            holder,
            expires,
        },
        &key(signer),
    )
    .expect("a readcap fits")
}

/// A hosting grant for `runtime` in `scope` until `expires`, signed by
/// the key of `signer`.
pub fn hosting_grant(scope: &str, runtime: NodeId, expires: Time, signer: u8) -> Record {
    Record::sign(
        Body::HostingGrant {
            scope: path(scope),
            runtime,
            expires,
        },
        &key(signer),
    )
    .expect("a grant fits")
}

/// A transport (node seed 1) with scopes under the root key of `root`, a
/// world-readable `/` owned by that key, and itself registered as the only
/// member of the root cluster, at `now`.
///
/// # Panics
/// When `config` refuses scopes (no room for one record).
pub fn root_member(root: u8, config: Config, now: Time) -> Transport {
    let config = Config {
        scope_root: Some(public(root)),
        ..config
    };
    let mut t = Transport::new(config, &[1; 32], [2; 32]);
    t.set_time(now);
    let slash = Tree {
        root,
        scopes: &[("/", root, true)],
    };
    t.scope_add_record(slash.creation("/"))
        .expect("the root scope is taken");
    let grant = hosting_grant("/", t.node_id(), Time(u64::MAX), root);
    t.scope_register(ScopePath::root(), SECTOR, None, grant)
        .expect("the root cluster takes its first member");
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::Authority;

    const TREE: Tree<'static> = Tree {
        root: 1,
        scopes: &[("/", 1, true), ("/a", 2, false), ("/a/b", 3, true)],
    };

    #[test]
    fn creations_build_a_valid_chain() {
        let mut a = Authority::new(public(TREE.root));
        for c in TREE.creations() {
            assert_eq!(a.add_scope(&c), Ok(true));
        }
        assert!(TREE.world_readable(&path("/")));
        assert!(!TREE.world_readable(&path("/a/b")));
        assert!(!TREE.world_readable(&path("/zz")));
        assert!(readcap("/a", [0; 32], Time(9), 2).verify_signature());
    }
}
