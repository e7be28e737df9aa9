//! Local engines' bounded mailboxes and what they receive.

use std::collections::VecDeque;

use crate::filter::Event;
use crate::ids::EngineAddr;

/// Names a call to answer with [`crate::Transport::reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyTo {
    /// The calling engine.
    pub caller: EngineAddr,
    /// The called engine (the one replying).
    pub callee: EngineAddr,
    /// The caller node's correlation number.
    pub corr: u64,
}

/// Something delivered to a local engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A one-way message.
    Cast {
        /// The sending engine (authenticated).
        from: EngineAddr,
        /// The message.
        payload: Vec<u8>,
    },
    /// A request to answer with [`crate::Transport::reply`].
    Call {
        /// The calling engine (authenticated).
        from: EngineAddr,
        /// Pass to `reply`.
        reply: ReplyTo,
        /// The request.
        payload: Vec<u8>,
    },
    /// An event that passed one of this engine's subscriptions.
    Event {
        /// The publishing engine (authenticated).
        from: EngineAddr,
        /// The event.
        event: Event,
    },
}

/// The mailbox is full; the delivery was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("mailbox full")]
pub struct Full;

/// A bounded queue of deliveries.
#[derive(Debug)]
pub struct Mailbox {
    queue: VecDeque<Delivery>,
    capacity: usize,
}

impl Mailbox {
    /// An empty mailbox holding at most `capacity` deliveries.
    pub fn new(capacity: usize) -> Self {
        Self {
            queue: VecDeque::new(),
            capacity,
        }
    }

    /// Queues a delivery, or refuses (dropping it) when full.
    ///
    /// # Errors
    /// [`Full`] when the mailbox holds its capacity.
    pub fn push(&mut self, d: Delivery) -> Result<(), Full> {
        if self.queue.len() >= self.capacity {
            return Err(Full);
        }
        self.queue.push_back(d);
        Ok(())
    }

    /// The oldest delivery.
    pub fn pop(&mut self) -> Option<Delivery> {
        self.queue.pop_front()
    }

    /// Deliveries waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Empties the mailbox.
    pub fn drain(&mut self) -> impl Iterator<Item = Delivery> + '_ {
        self.queue.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_when_full_and_keeps_order() {
        let mut m = Mailbox::new(2);
        let d = |n: u8| Delivery::Cast {
            from: EngineAddr([0; 32]),
            payload: vec![n],
        };
        m.push(d(1)).unwrap();
        m.push(d(2)).unwrap();
        assert_eq!(m.push(d(3)), Err(Full));
        assert_eq!(m.len(), 2);
        assert_eq!(m.pop(), Some(d(1)));
        m.push(d(4)).unwrap();
        assert_eq!(m.drain().collect::<Vec<_>>(), vec![d(2), d(4)]);
        assert!(m.is_empty());
    }
}
