//! The name table, like Erlang's `global`: every node holds the signed claims
//! it has seen and picks one owner per name by a deterministic rule.
//!
//! **Conflict rule.** Among the claims on a name, the owner is the claim
//! with the earliest registration time; on equal times, the lowest engine
//! address (bytewise). Every node applies the rule to the same set of claims,
//! so all converge on one owner. A node whose own engine loses a name drops
//! that claim, releases it everywhere and tells the engine.
//!
//! Claims are kept only while their engine is known (local, or a proxy whose
//! hosting node sent the claim); when the engine is forgotten or its node
//! becomes unreachable, its claims go, so names of departed engines
//! disappear.

use std::collections::BTreeMap;

use crate::ids::{EngineAddr, Time};
use crate::wire::names::Claim;

/// All claims seen, grouped by name.
#[derive(Debug, Default)]
pub struct NameTable {
    names: BTreeMap<String, BTreeMap<(Time, EngineAddr), Claim>>,
}

impl NameTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The owner of `name` under the conflict rule.
    pub fn owner(&self, name: &str) -> Option<EngineAddr> {
        self.names
            .get(name)
            .and_then(|c| c.keys().next())
            .map(|&(_, e)| e)
    }

    /// The winning claim on `name`.
    pub fn winning_claim(&self, name: &str) -> Option<&Claim> {
        self.names.get(name).and_then(|c| c.values().next())
    }

    /// Adds a (verified) claim, replacing an older claim of the same engine
    /// on the same name.
    pub fn insert(&mut self, claim: Claim) {
        let entry = self.names.entry(claim.name.clone()).or_default();
        entry.retain(|&(_, e), _| e != claim.engine);
        entry.insert((claim.registered, claim.engine), claim);
    }

    /// Removes `engine`'s claim on `name` if it was registered at or before
    /// `at`; true if one was removed.
    pub fn remove(&mut self, name: &str, engine: EngineAddr, at: Time) -> bool {
        let Some(entry) = self.names.get_mut(name) else {
            return false;
        };
        let before = entry.len();
        entry.retain(|&(t, e), _| e != engine || t > at);
        let removed = entry.len() != before;
        if entry.is_empty() {
            self.names.remove(name);
        }
        removed
    }

    /// Removes every claim of `engine`; returns the names it claimed.
    pub fn remove_engine(&mut self, engine: EngineAddr) -> Vec<String> {
        let mut gone = Vec::new();
        self.names.retain(|name, entry| {
            let before = entry.len();
            entry.retain(|&(_, e), _| e != engine);
            if entry.len() != before {
                gone.push(name.clone());
            }
            !entry.is_empty()
        });
        gone
    }

    /// The claims `engine` holds (won or not).
    pub fn claims_of(&self, engine: EngineAddr) -> Vec<Claim> {
        self.names
            .values()
            .flat_map(|c| c.values())
            .filter(|c| c.engine == engine)
            .cloned()
            .collect()
    }

    /// Every name with its owner, in name order.
    pub fn owners(&self) -> Vec<(String, EngineAddr)> {
        self.names
            .iter()
            .filter_map(|(n, c)| c.keys().next().map(|&(_, e)| (n.clone(), e)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(name: &str, e: u8, t: u64) -> Claim {
        Claim {
            name: name.into(),
            engine: EngineAddr([e; 32]),
            registered: Time(t),
            sig: [0; 64],
        }
    }

    #[test]
    fn earliest_then_lowest_address_wins_in_any_order() {
        let claims = [claim("n", 5, 10), claim("n", 3, 20), claim("n", 4, 10)];
        for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2], [1, 2, 0]] {
            let mut t = NameTable::new();
            for i in order {
                t.insert(claims[i].clone());
            }
            assert_eq!(t.owner("n"), Some(EngineAddr([4; 32])));
        }
    }

    #[test]
    fn removal_respects_time_and_engine() {
        let mut t = NameTable::new();
        t.insert(claim("n", 1, 10));
        t.insert(claim("m", 1, 10));
        t.insert(claim("n", 2, 20));
        assert!(!t.remove("n", EngineAddr([1; 32]), Time(9)));
        assert!(t.remove("n", EngineAddr([1; 32]), Time(10)));
        assert_eq!(t.owner("n"), Some(EngineAddr([2; 32])));
        assert_eq!(t.remove_engine(EngineAddr([1; 32])), vec!["m".to_owned()]);
        assert_eq!(t.owners(), vec![("n".to_owned(), EngineAddr([2; 32]))]);
        assert_eq!(t.claims_of(EngineAddr([2; 32])).len(), 1);
        // Re-registering replaces the engine's earlier claim.
        t.insert(claim("n", 2, 30));
        assert_eq!(t.winning_claim("n").unwrap().registered, Time(30));
    }
}
