//! The event queue: a binary heap ordered by (virtual time, sequence number).
//!
//! The simulator always runs the earliest event; events at the same time run
//! in the order they were scheduled, so a run is a pure function of its seed.
//! Scheduling and popping are O(log n). Entries that became stale (a node's
//! wakeup that was replaced by an earlier one) are skipped by the caller.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::time::SimTime;

/// One scheduled event.
#[derive(Debug)]
struct Entry<E> {
    at: SimTime,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    /// Reversed, so that the max-heap pops the earliest (time, sequence).
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A time-ordered queue of events of type `E`.
#[derive(Debug)]
pub struct Queue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
}

impl<E> Default for Queue<E> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }
}

impl<E> Queue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `event` at `at`, after every event already scheduled at `at`.
    pub fn push(&mut self, at: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { at, seq, event });
    }

    /// When the earliest event is due.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| e.at)
    }

    /// Removes and returns the earliest event.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.heap.pop().map(|e| (e.at, e.event))
    }

    /// Every event due at or before `end`, with its time and sequence
    /// number, in no particular order. Costs about as much as there are such
    /// events: the search stops at entries that are later.
    pub fn due_until(&self, end: SimTime) -> Vec<(SimTime, u64, &E)> {
        let heap = self.heap.as_slice();
        let mut due = Vec::new();
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            let Some(e) = heap.get(i) else {
                continue;
            };
            // A heap entry is never earlier than its parent.
            if e.at > end {
                continue;
            }
            due.push((e.at, e.seq, &e.event));
            stack.push(2 * i + 1);
            stack.push(2 * i + 2);
        }
        due
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::millis;

    #[test]
    fn earliest_first_then_fifo_at_equal_times() {
        let mut q = Queue::new();
        let t = |ms| SimTime::ZERO + millis(ms);
        q.push(t(5), "c");
        q.push(t(1), "a");
        q.push(t(5), "d");
        q.push(t(3), "b");
        q.push(t(5), "e");
        assert_eq!(q.peek_time(), Some(t(1)));
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ["a", "b", "c", "d", "e"]);
        assert!(q.is_empty());
    }

    #[test]
    fn due_until_finds_exactly_the_events_due() {
        let t = |ms| SimTime::ZERO + millis(ms);
        let times = [9, 3, 7, 1, 8, 3, 12, 5, 2, 10, 4, 6, 11, 3];
        let queue = || {
            let mut q = Queue::new();
            for (i, ms) in times.into_iter().enumerate() {
                q.push(t(ms), i);
            }
            q
        };
        let q = queue();
        for end in 0..14 {
            let mut got: Vec<(SimTime, u64, usize)> = q
                .due_until(t(end))
                .into_iter()
                .map(|(at, seq, &e)| (at, seq, e))
                .collect();
            got.sort();
            let got: Vec<usize> = got.into_iter().map(|g| g.2).collect();
            // What popping would run, in order.
            let mut all = queue();
            let mut want = Vec::new();
            while all.peek_time().is_some_and(|at| at <= t(end)) {
                want.push(all.pop().expect("peeked").1);
            }
            assert_eq!(got, want, "end {end} ms");
        }
    }
}
