//! The routing trie: one node per scope segment, each holding a table of
//! service registrations with expiry.
//!
//! A runtime uses one trie for the registrations it is responsible for and
//! one as the cache of answers it received. Besides entries, a node can be
//! marked *complete* for a service until a time: the entries for that
//! service at that scope are then known to be all there are (an answer said
//! so), so an empty table means "none here" rather than "unknown". Every
//! read takes `now` and ignores what has expired; [`Trie::expire`] drops it.

use std::collections::BTreeMap;

use super::path::ScopePath;
use crate::ids::{EngineAddr, NodeId, Time};

/// Size limits of a trie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrieLimits {
    /// Most registrations of one service in one scope.
    pub per_scope: usize,
    /// Most registrations in the whole trie.
    pub total: usize,
    /// Most trie nodes (scopes) in the whole trie.
    pub nodes: usize,
}

impl Default for TrieLimits {
    fn default() -> Self {
        Self {
            per_scope: 256,
            total: 65_536,
            nodes: 16_384,
        }
    }
}

/// Why an insertion was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrieError {
    /// The scope already holds [`TrieLimits::per_scope`] registrations of the
    /// service.
    #[error("too many registrations of the service in this scope")]
    ScopeFull,
    /// The trie holds [`TrieLimits::total`] registrations.
    #[error("routing trie full")]
    Full,
    /// The trie holds [`TrieLimits::nodes`] scopes.
    #[error("too many scopes in the routing trie")]
    TooManyScopes,
    /// The entry expires at or before `now`.
    #[error("entry already expired")]
    Expired,
}

/// One registration as the trie keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The hosting runtime.
    pub runtime: NodeId,
    /// The engine serving the service, where there is one.
    pub engine: Option<EngineAddr>,
    /// When the entry stops being usable.
    pub expires: Time,
}

#[derive(Debug, Default, Clone)]
struct Node {
    children: BTreeMap<String, Node>,
    regs: BTreeMap<String, BTreeMap<NodeId, Entry>>,
    complete: BTreeMap<String, Time>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.regs.is_empty() && self.complete.is_empty()
    }

    fn expire(&mut self, now: Time) -> usize {
        let mut gone = 0;
        for t in self.regs.values_mut() {
            let before = t.len();
            t.retain(|_, e| e.expires > now);
            gone += before - t.len();
        }
        self.regs.retain(|_, t| !t.is_empty());
        self.complete.retain(|_, t| *t > now);
        for c in self.children.values_mut() {
            gone += c.expire(now);
        }
        self.children.retain(|_, c| !c.is_empty());
        gone
    }

    fn count(&self) -> usize {
        1 + self.children.values().map(Node::count).sum::<usize>()
    }
}

/// A trie keyed by scope path.
#[derive(Debug, Clone, Default)]
pub struct Trie {
    root: Node,
    total: usize,
    nodes: usize,
    limits: TrieLimits,
}

impl Trie {
    /// An empty trie with `limits`.
    pub fn new(limits: TrieLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    fn node(&self, scope: &ScopePath) -> Option<&Node> {
        let mut n = &self.root;
        for s in scope.segments() {
            n = n.children.get(s)?;
        }
        Some(n)
    }

    fn find_mut(&mut self, scope: &ScopePath) -> Option<&mut Node> {
        let mut n = &mut self.root;
        for s in scope.segments() {
            n = n.children.get_mut(s)?;
        }
        Some(n)
    }

    fn node_mut(&mut self, scope: &ScopePath) -> Result<&mut Node, TrieError> {
        let missing = {
            let mut n = &self.root;
            let mut missing = 0;
            for (i, s) in scope.segments().iter().enumerate() {
                match n.children.get(s) {
                    Some(c) => n = c,
                    None => {
                        missing = scope.depth() - i;
                        break;
                    }
                }
            }
            missing
        };
        if self.nodes + missing > self.limits.nodes {
            return Err(TrieError::TooManyScopes);
        }
        self.nodes += missing;
        let mut n = &mut self.root;
        for s in scope.segments() {
            n = n.children.entry(s.clone()).or_default();
        }
        Ok(n)
    }

    /// Adds or refreshes `runtime`'s registration of `service` in `scope`.
    ///
    /// # Errors
    /// An expired entry or a limit reached.
    pub fn insert(
        &mut self,
        scope: &ScopePath,
        service: &str,
        entry: Entry,
        now: Time,
    ) -> Result<(), TrieError> {
        if entry.expires <= now {
            return Err(TrieError::Expired);
        }
        let exists = self
            .node(scope)
            .and_then(|n| n.regs.get(service))
            .map(|t| (t.contains_key(&entry.runtime), t.len()));
        match exists {
            Some((true, _)) => {}
            Some((false, n)) if n >= self.limits.per_scope => return Err(TrieError::ScopeFull),
            _ if self.total >= self.limits.total => return Err(TrieError::Full),
            _ => {}
        }
        let fresh = !matches!(exists, Some((true, _)));
        let node = self.node_mut(scope)?;
        node.regs
            .entry(service.to_owned())
            .or_default()
            .insert(entry.runtime, entry);
        if fresh {
            self.total += 1;
        }
        Ok(())
    }

    /// Removes `runtime`'s registration of `service` in `scope`; whether
    /// there was one.
    pub fn remove(&mut self, scope: &ScopePath, service: &str, runtime: NodeId) -> bool {
        let Some(node) = self.find_mut(scope) else {
            return false;
        };
        let gone = node
            .regs
            .get_mut(service)
            .is_some_and(|t| t.remove(&runtime).is_some());
        if gone {
            self.total -= 1;
        }
        gone
    }

    /// Forgets every registration of `service` in `scope`.
    pub fn clear(&mut self, scope: &ScopePath, service: &str) {
        if let Some(node) = self.find_mut(scope) {
            if let Some(t) = node.regs.remove(service) {
                self.total -= t.len();
            }
        }
    }

    /// Marks `scope`'s table for `service` complete until `until`.
    ///
    /// # Errors
    /// [`TrieError::TooManyScopes`].
    pub fn mark_complete(
        &mut self,
        scope: &ScopePath,
        service: &str,
        until: Time,
    ) -> Result<(), TrieError> {
        self.node_mut(scope)?
            .complete
            .insert(service.to_owned(), until);
        Ok(())
    }

    /// Whether `scope`'s table for `service` is known complete at `now`.
    pub fn is_complete(&self, scope: &ScopePath, service: &str, now: Time) -> bool {
        self.node(scope)
            .and_then(|n| n.complete.get(service))
            .is_some_and(|t| *t > now)
    }

    /// Live registrations of `service` directly in `scope`.
    pub fn get(&self, scope: &ScopePath, service: &str, now: Time) -> Vec<Entry> {
        self.node(scope)
            .and_then(|n| n.regs.get(service))
            .map(|t| t.values().filter(|e| e.expires > now).cloned().collect())
            .unwrap_or_default()
    }

    /// The longest prefix of `scope` (itself included) with a live
    /// registration of `service`, and those registrations.
    pub fn longest_prefix(
        &self,
        scope: &ScopePath,
        service: &str,
        now: Time,
    ) -> Option<(ScopePath, Vec<Entry>)> {
        let mut best = None;
        let mut n = &self.root;
        for d in 0..=scope.depth() {
            if d > 0 {
                match n.children.get(&scope.segments()[d - 1]) {
                    Some(c) => n = c,
                    None => break,
                }
            }
            if let Some(t) = n.regs.get(service) {
                let live: Vec<Entry> = t.values().filter(|e| e.expires > now).cloned().collect();
                if !live.is_empty() {
                    best = Some((scope.prefix(d), live));
                }
            }
        }
        best
    }

    /// Drops everything expired at `now`; returns how many registrations went.
    pub fn expire(&mut self, now: Time) -> usize {
        let gone = self.root.expire(now);
        self.total -= gone;
        self.nodes = self.root.count() - 1;
        gone
    }

    /// Registrations held (expired ones included until [`Self::expire`]).
    pub fn len(&self) -> usize {
        self.total
    }

    /// Whether no registration is held.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ScopePath {
        ScopePath::parse(s).unwrap()
    }
    fn e(n: u8, exp: u64) -> Entry {
        Entry {
            runtime: NodeId([n; 32]),
            engine: None,
            expires: Time(exp),
        }
    }

    #[test]
    fn lookup_and_expiry() {
        let mut t = Trie::new(TrieLimits::default());
        t.insert(&p("/"), "fs", e(1, 100), Time(0)).unwrap();
        t.insert(&p("/a/b"), "fs", e(2, 50), Time(0)).unwrap();
        t.insert(&p("/a/b"), "fs", e(3, 100), Time(0)).unwrap();
        t.insert(&p("/a/b"), "fs", e(3, 120), Time(0)).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t.get(&p("/a/b"), "fs", Time(10)).len(), 2);
        let (s, v) = t.longest_prefix(&p("/a/b/c"), "fs", Time(10)).unwrap();
        assert_eq!((s, v.len()), (p("/a/b"), 2));
        assert_eq!(
            t.longest_prefix(&p("/a/x"), "fs", Time(10)).unwrap().0,
            p("/")
        );
        assert!(t.longest_prefix(&p("/a"), "db", Time(10)).is_none());
        assert_eq!(t.get(&p("/a/b"), "fs", Time(60)).len(), 1);
        assert_eq!(t.expire(Time(60)), 1);
        assert_eq!(t.expire(Time(200)), 2);
        assert!(t.is_empty());
        assert!(t.longest_prefix(&p("/a/b"), "fs", Time(0)).is_none());
        assert_eq!(
            t.insert(&p("/"), "fs", e(1, 5), Time(5)),
            Err(TrieError::Expired)
        );
        t.insert(&p("/"), "fs", e(1, 50), Time(0)).unwrap();
        assert!(t.remove(&p("/"), "fs", NodeId([1; 32])));
        assert!(!t.remove(&p("/"), "fs", NodeId([1; 32])));
        assert!(t.is_empty());
    }

    #[test]
    fn limits_and_completeness() {
        let mut t = Trie::new(TrieLimits {
            per_scope: 2,
            total: 3,
            nodes: 3,
        });
        t.insert(&p("/a"), "fs", e(1, 100), Time(0)).unwrap();
        t.insert(&p("/a"), "fs", e(2, 100), Time(0)).unwrap();
        assert_eq!(
            t.insert(&p("/a"), "fs", e(3, 100), Time(0)),
            Err(TrieError::ScopeFull)
        );
        t.insert(&p("/a"), "db", e(3, 100), Time(0)).unwrap();
        assert_eq!(
            t.insert(&p("/b"), "fs", e(4, 100), Time(0)),
            Err(TrieError::Full)
        );
        t.clear(&p("/a"), "fs");
        assert_eq!(t.len(), 1);
        assert_eq!(
            t.insert(&p("/b/c/d"), "fs", e(4, 100), Time(0)),
            Err(TrieError::TooManyScopes)
        );
        t.insert(&p("/b/c"), "fs", e(4, 100), Time(0)).unwrap();
        assert!(!t.is_complete(&p("/x"), "fs", Time(0)));
        t.mark_complete(&p("/b"), "fs", Time(30)).unwrap();
        assert!(t.is_complete(&p("/b"), "fs", Time(29)));
        assert!(!t.is_complete(&p("/b"), "fs", Time(30)));
        t.expire(Time(30));
        assert!(!t.is_complete(&p("/b"), "fs", Time(0)));
    }
}
