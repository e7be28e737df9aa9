//! Subscriptions and publishing events.

use std::collections::BTreeSet;

use super::state::{LocalSub, Reach, Subscriber};
use super::Transport;
use crate::error::SendError;
use crate::filter::{Event, Filter};
use crate::ids::EngineAddr;
use crate::mailbox::Delivery;
use crate::output::SubId;
use crate::wire::body::Body;
use crate::wire::subscribe::{Subscribe, Unsubscribe};

impl Transport {
    /// Subscribes local engine `subscriber` to the events of `publisher`
    /// that pass `filter`. A remote publisher's node evaluates the filter.
    ///
    /// # Errors
    /// `subscriber` not local, `publisher` unreachable, or a filter too
    /// large to encode.
    pub fn subscribe(
        &mut self,
        subscriber: EngineAddr,
        publisher: EngineAddr,
        filter: Filter,
    ) -> Result<SubId, SendError> {
        self.check_local(subscriber)?;
        let id = self.next_id();
        let body = Subscribe { id, filter };
        self.scratch.clear();
        body.write(&mut self.scratch)?;
        if self.engines.contains_key(&publisher) {
            self.subscribers.entry(publisher).or_default().insert(
                (subscriber, id),
                Subscriber {
                    filter: body.filter.clone(),
                    peer: None,
                },
            );
        } else {
            self.route(subscriber, publisher, Body::Subscribe(body.clone()))?;
        }
        self.subs.insert(
            id,
            LocalSub {
                subscriber,
                publisher,
                filter: body.filter,
            },
        );
        Ok(SubId(id))
    }

    /// Ends a subscription; false if unknown.
    pub fn unsubscribe(&mut self, id: SubId) -> bool {
        let Some(sub) = self.subs.remove(&id.0) else {
            return false;
        };
        if let Some(m) = self.subscribers.get_mut(&sub.publisher) {
            m.remove(&(sub.subscriber, id.0));
        } else if self
            .proxies
            .get(&sub.publisher)
            .is_some_and(|p| p.reach == Reach::Up)
        {
            let _ = self.route(
                sub.subscriber,
                sub.publisher,
                Body::Unsubscribe(Unsubscribe { id: id.0 }),
            );
        }
        true
    }

    /// Publishes an event from local engine `publisher` to every subscriber
    /// whose filter it passes (each subscriber once); returns how many.
    ///
    /// # Errors
    /// `publisher` not local, or an event too large to encode.
    pub fn publish(&mut self, publisher: EngineAddr, event: Event) -> Result<usize, SendError> {
        self.check_local(publisher)?;
        self.scratch.clear();
        crate::wire::event::write(&mut self.scratch, &event)?;
        let Some(subs) = self.subscribers.get(&publisher) else {
            return Ok(0);
        };
        let mut all = BTreeSet::new();
        let mut matched = BTreeSet::new();
        for ((s, _), f) in subs {
            all.insert(*s);
            if f.filter.matches(&event) {
                matched.insert(*s);
            }
        }
        for s in all.difference(&matched) {
            if !self.engines.contains_key(s) {
                self.stats.events_filtered += 1;
            }
        }
        for &s in &matched {
            if let Some(e) = self.engines.get_mut(&s) {
                let d = Delivery::Event {
                    from: publisher,
                    event: event.clone(),
                };
                if e.mailbox.push(d).is_err() {
                    self.stats.mailbox_full += 1;
                }
            } else if self.route(publisher, s, Body::Event(event.clone())).is_ok() {
                self.stats.events_sent += 1;
            } else {
                self.stats.undeliverable += 1;
            }
        }
        Ok(matched.len())
    }

    pub(super) fn release_subscription_slot(&mut self, peer: Option<crate::ids::NodeId>) {
        if let Some(p) = peer.and_then(|n| self.peers.get_mut(&n)) {
            p.subscriptions = p.subscriptions.saturating_sub(1);
        }
    }
}
