//! Sliding anti-replay window over message counters (RFC 6479): a ring of
//! 64-bit words; counters more than `(words − 1) × 64` behind the highest one
//! seen are too old, counters inside it are accepted once.

use crate::limits::{REJECT_AFTER_MESSAGES, REPLAY_WINDOW_BITS};

const WORDS: usize = (REPLAY_WINDOW_BITS / 64) as usize;
/// How far behind the highest counter a counter may be and still be accepted.
pub const WINDOW: u64 = (WORDS as u64 - 1) * 64;

/// The receive-side counter state of one session.
#[derive(Debug, Clone)]
pub struct ReplayWindow {
    top: Option<u64>,
    bits: [u64; WORDS],
}

impl Default for ReplayWindow {
    fn default() -> Self {
        Self {
            top: None,
            bits: [0; WORDS],
        }
    }
}

impl ReplayWindow {
    /// Whether `counter` would be accepted; a cheap check before decrypting.
    pub fn would_accept(&self, counter: u64) -> bool {
        if counter >= REJECT_AFTER_MESSAGES {
            return false;
        }
        match self.top {
            None => true,
            Some(top) if counter > top => true,
            Some(top) if top - counter >= WINDOW => false,
            Some(_) => self.bits[word(counter)] & bit(counter) == 0,
        }
    }

    /// Records `counter` after its message authenticated; returns false (and
    /// records nothing) if it is a replay or too old.
    pub fn accept(&mut self, counter: u64) -> bool {
        if !self.would_accept(counter) {
            return false;
        }
        match self.top {
            Some(top) if counter <= top => {}
            Some(top) => {
                // Clear the words that the window slides over.
                let steps = ((counter >> 6) - (top >> 6)).min(WORDS as u64);
                for i in 1..=steps {
                    self.bits[word(((top >> 6) + i) << 6)] = 0;
                }
                self.top = Some(counter);
            }
            None => {
                self.bits = [0; WORDS];
                self.top = Some(counter);
            }
        }
        self.bits[word(counter)] |= bit(counter);
        true
    }
}

fn word(counter: u64) -> usize {
    ((counter >> 6) % WORDS as u64) as usize
}

fn bit(counter: u64) -> u64 {
    1 << (counter & 63)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn in_order_duplicates_and_old() {
        let mut w = ReplayWindow::default();
        for c in 0..5000 {
            assert!(w.accept(c));
            assert!(!w.accept(c));
        }
        assert!(!w.accept(4999 - WINDOW));
        assert!(!w.accept(4999 - WINDOW - 1));
        assert!(!w.accept(REJECT_AFTER_MESSAGES));
    }

    #[test]
    fn out_of_order_inside_window() {
        let mut w = ReplayWindow::default();
        assert!(w.accept(1000));
        assert!(w.accept(10));
        assert!(!w.accept(10));
        assert!(w.accept(999));
        assert!(w.accept(1000 + 100_000));
        assert!(!w.accept(999));
    }

    /// Differential test against a trivial reference: a set of seen counters
    /// and the highest one.
    fn reference(seen: &mut HashSet<u64>, top: &mut Option<u64>, c: u64) -> bool {
        if let Some(t) = *top {
            if c <= t && t - c >= WINDOW {
                return false;
            }
        }
        if !seen.insert(c) {
            return false;
        }
        *top = Some(top.map_or(c, |t| t.max(c)));
        true
    }

    proptest! {
        #[test]
        fn matches_reference(deltas in proptest::collection::vec(-3000i64..3000, 1..400)) {
            let mut w = ReplayWindow::default();
            let (mut seen, mut top) = (HashSet::new(), None);
            let mut c: i64 = 5000;
            for d in deltas {
                c = (c + d).max(0);
                let c = c as u64;
                prop_assert_eq!(w.accept(c), reference(&mut seen, &mut top, c), "counter {}", c);
            }
        }
    }
}
