//! The conflict rule for names: which of the members that claim one name
//! holds it. Every member applies it to the claims it holds, so members
//! that hold the same claims agree, whatever order they got them in.
//!
//! 1. A member's newest claim of the name counts (a member that took the
//!    name again after dropping it is as new to it as anyone).
//! 2. The earliest of those claims holds the name; on a tie, the lower
//!    node ID.
//!
//! First come, first served: a member that claims a name held already
//! loses, and an honest newcomer never takes a name from a member that
//! holds it. The time is the claimer's own, signed but not witnessed, so a
//! member can back-date a claim; the rule guarantees agreement, not
//! fairness against a member that lies about its clock.

use super::NodeId;
use crate::identity::NameClaim;

/// The member that holds the name of `claims` (all claims of one name,
/// checked), or `None` if there are none.
pub(crate) fn holder<'a>(claims: impl IntoIterator<Item = &'a NameClaim>) -> Option<NodeId> {
    let mut newest: ahash::HashMap<NodeId, u64> = ahash::HashMap::default();
    for c in claims {
        let at = newest.entry(c.node()).or_insert(c.claimed_at_ms());
        *at = (*at).max(c.claimed_at_ms());
    }
    newest
        .into_iter()
        .min_by_key(|(node, at)| (*at, *node.as_bytes()))
        .map(|(node, _)| node)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::identity::{NetworkKey, NodeKey, NodeName};

    fn claim(seed: u8, at: u64) -> NameClaim {
        let network = NetworkKey::from_secret([1; 32]).id();
        let name = NodeName::parse("web").unwrap();
        NameClaim::sign(&NodeKey::from_seed([seed; 32]), &network, &name, at, None)
    }

    fn id(seed: u8) -> NodeId {
        NodeKey::from_seed([seed; 32]).id()
    }

    #[test]
    fn the_earliest_claim_holds_the_name() {
        let (a, b) = (claim(1, 100), claim(2, 50));
        assert_eq!(holder([&a, &b]), Some(id(2)));
        assert_eq!(holder([&b, &a]), Some(id(2)));
        assert_eq!(holder([&a]), Some(id(1)));
        assert_eq!(holder([]), None);
    }

    #[test]
    fn a_tie_goes_to_the_lower_node_id() {
        let (a, b) = (claim(1, 100), claim(2, 100));
        let lower = id(1).min(id(2));
        assert_eq!(holder([&a, &b]), Some(lower));
        assert_eq!(holder([&b, &a]), Some(lower));
    }

    #[test]
    fn a_members_newest_claim_counts() {
        // Member 1 claimed first, dropped the name and took it again after
        // member 2: its older claim no longer counts.
        let (old, b, new) = (claim(1, 10), claim(2, 50), claim(1, 90));
        assert_eq!(holder([&old, &b, &new]), Some(id(2)));
        assert_eq!(holder([&new, &old, &b]), Some(id(2)));
        assert_eq!(holder([&old, &new]), Some(id(1)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Members holding the same claims agree, in any order and with
        /// duplicates; the holder is a claimer with no earlier claim.
        #[test]
        fn any_order_gives_the_same_holder(
            claims in proptest::collection::vec((1u8..6, 0u64..4), 1..8),
            rotate in 0usize..8,
        ) {
            let claims: Vec<NameClaim> = claims.iter().map(|&(s, at)| claim(s, at)).collect();
            let first = holder(&claims).unwrap();
            let mut other: Vec<&NameClaim> = claims.iter().rev().collect();
            let k = rotate % other.len();
            other.rotate_left(k);
            other.push(&claims[0]);
            prop_assert_eq!(holder(other), Some(first));
            // By the plain definition: each member's newest claim, then the
            // earliest of those, then the lowest node ID.
            let mut best: Option<(u64, [u8; 32])> = None;
            for c in &claims {
                let newest = claims
                    .iter()
                    .filter(|d| d.node() == c.node())
                    .map(NameClaim::claimed_at_ms)
                    .max()
                    .unwrap();
                let key = (newest, *c.node().as_bytes());
                best = Some(best.map_or(key, |b| b.min(key)));
            }
            prop_assert_eq!(*first.as_bytes(), best.unwrap().1);
        }
    }
}
