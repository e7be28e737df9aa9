//! App commands: engines, cast, call, reply, subscriptions, monitors.

use std::collections::BTreeSet;

use super::state::{LocalEngine, LocalSub, Monitor, PendingCall, Reach, Subscriber};
use super::Transport;
use crate::error::{CallError, SendError};
use crate::filter::{Event, Filter};
use crate::ids::{EngineAddr, Time};
use crate::keys::Persistence;
use crate::mailbox::{Delivery, Mailbox, ReplyTo};
use crate::output::{CallId, DownReason, MonitorRef, Notice, SubId};
use crate::wire::body::Body;
use crate::wire::call::{CallRequest, CallResponse, Status};
use crate::wire::forget::Forget;
use crate::wire::frame::Frame;
use crate::wire::subscribe::{Subscribe, Unsubscribe};

impl Transport {
    /// Starts a new engine with a fresh key; returns its address.
    pub fn start_engine(&mut self, persistence: Persistence) -> EngineAddr {
        let seed = zeroize::Zeroizing::new(self.random32());
        let addr = self.keys.insert(&seed, persistence);
        self.run_engine(addr, persistence);
        addr
    }

    /// Starts an engine whose key the key holder already has (imported
    /// from a key file); false if the key is missing or it already runs.
    pub fn resume_engine(&mut self, addr: EngineAddr) -> bool {
        let Some(p) = self.keys.persistence(addr) else {
            return false;
        };
        if self.engines.contains_key(&addr) {
            return false;
        }
        self.run_engine(addr, p);
        true
    }

    fn run_engine(&mut self, addr: EngineAddr, persistence: Persistence) {
        let learn = self.make_learn(addr);
        self.engines.insert(
            addr,
            LocalEngine {
                mailbox: Mailbox::new(self.config.mailbox_capacity),
                learn,
                persistence,
            },
        );
        self.broadcast(&Frame::Learn(learn));
        self.outputs.push_back(crate::Output::Publish {
            key: addr.0,
            record: learn.to_bytes(),
        });
        if self.renew_at.is_none() {
            self.renew_at = Some(self.now.plus_ms(self.config.record_ttl_ms / 2));
        }
    }

    /// Stops a local engine: it is forgotten everywhere, calls waiting in
    /// its mailbox fail with "stopped", its names and subscriptions go. An
    /// ephemeral engine's key is dropped; a persistent one's is kept.
    /// False if no such local engine.
    pub fn stop_engine(&mut self, addr: EngineAddr) -> bool {
        let Some(mut engine) = self.engines.remove(&addr) else {
            return false;
        };
        // Its own calls end silently: there is no one left to tell.
        let mine: Vec<u64> = self
            .pending_calls
            .iter()
            .filter(|(_, p)| p.caller == addr)
            .map(|(&c, _)| c)
            .collect();
        for c in mine {
            if let Some(p) = self.pending_calls.remove(&c) {
                self.call_deadlines.remove(&(p.deadline, c));
            }
        }
        for d in engine.mailbox.drain().collect::<Vec<_>>() {
            if let Delivery::Call { reply, .. } = d {
                self.refuse_call(reply, Status::Stopped);
            }
        }
        let open: Vec<ReplyTo> = self
            .inbound_calls
            .keys()
            .filter(|r| r.callee == addr)
            .copied()
            .collect();
        for r in open {
            self.refuse_call(r, Status::Stopped);
        }
        let my_subs: Vec<u64> = self
            .subs
            .iter()
            .filter(|(_, s)| s.subscriber == addr)
            .map(|(&id, _)| id)
            .collect();
        for id in my_subs {
            self.unsubscribe(SubId(id));
        }
        if let Some(subs) = self.subscribers.remove(&addr) {
            for s in subs.values() {
                self.release_subscription_slot(s.peer);
            }
        }
        self.fail_calls_to(addr, CallError::Stopped);
        self.subs.retain(|_, s| s.publisher != addr);
        // Messages it queued for lookups or streams die with it.
        let mut purged = 0;
        let queues = self
            .proxies
            .values_mut()
            .map(|p| &mut p.queue)
            .chain(self.resolving.values_mut().map(|r| &mut r.queue));
        for q in queues {
            let before = q.len();
            q.retain(|m| m.src != addr);
            purged += before - q.len();
        }
        self.queued = self.queued.saturating_sub(purged);
        // Peers drop their keys for this engine on the forget; so do we, so
        // that a resumed engine pairs afresh.
        for c in self.conns.values_mut() {
            c.send_keys.retain(|&(s, d), _| s != addr && d != addr);
            c.recv_keys.retain(|&(s, d), _| s != addr && d != addr);
        }
        self.names.remove_engine(addr);
        self.engine_gone(addr, DownReason::Stopped);
        if engine.persistence == Persistence::Ephemeral {
            self.keys.remove(addr);
        }
        let issued = self.now;
        let node = self.node_id();
        let node_sig = self.keys.sign_node(&Forget::signed(addr, node, issued));
        self.broadcast(&Frame::Forget(Forget {
            engine: addr,
            node,
            issued,
            node_sig,
        }));
        true
    }

    /// Sends `payload` from local engine `src` to `dst` at most once.
    ///
    /// A local `dst` gets it at once (a move, no crypto). A remote one gets
    /// it over its hosting node's stream; an unknown address is looked up
    /// first (queued meanwhile).
    ///
    /// # Errors
    /// `src` not local; a local `dst` with a full mailbox; `dst`'s node
    /// unreachable (counted as undeliverable); too much queued.
    pub fn cast(
        &mut self,
        src: EngineAddr,
        dst: EngineAddr,
        payload: Vec<u8>,
    ) -> Result<(), SendError> {
        self.check_local(src)?;
        if let Some(e) = self.engines.get_mut(&dst) {
            return e
                .mailbox
                .push(Delivery::Cast { from: src, payload })
                .map_err(|_| SendError::MailboxFull(dst));
        }
        let r = self.route(src, dst, Body::Cast(payload));
        if r.is_err() {
            self.stats.undeliverable += 1;
        }
        r
    }

    /// Calls `dst` from local engine `src`; the answer comes as
    /// [`Notice::CallDone`] within `timeout_ms` (or a timeout error).
    ///
    /// # Errors
    /// As [`Self::cast`], or too many calls outstanding.
    pub fn call(
        &mut self,
        src: EngineAddr,
        dst: EngineAddr,
        payload: Vec<u8>,
        timeout_ms: u32,
    ) -> Result<CallId, SendError> {
        self.check_local(src)?;
        if self.pending_calls.len() >= self.config.max_pending_calls {
            return Err(SendError::TooManyPending);
        }
        let timeout_ms = timeout_ms.min(self.config.max_call_timeout_ms);
        let corr = self.next_id();
        if let Some(e) = self.engines.get_mut(&dst) {
            let reply = ReplyTo {
                caller: src,
                callee: dst,
                corr,
            };
            e.mailbox
                .push(Delivery::Call {
                    from: src,
                    reply,
                    payload,
                })
                .map_err(|_| SendError::MailboxFull(dst))?;
        } else {
            let body = Body::Request(CallRequest {
                corr,
                timeout_ms,
                payload,
            });
            self.route(src, dst, body)?;
        }
        let deadline = self.now.plus_ms(u64::from(timeout_ms));
        self.pending_calls.insert(
            corr,
            PendingCall {
                caller: src,
                callee: dst,
                deadline,
            },
        );
        self.call_deadlines.insert((deadline, corr));
        Ok(CallId(corr))
    }

    /// Answers a call delivered to a local engine. Answers to calls that
    /// already timed out are dropped.
    ///
    /// # Errors
    /// The answering engine is not local.
    pub fn reply(&mut self, to: ReplyTo, payload: Vec<u8>) -> Result<(), SendError> {
        self.check_local(to.callee)?;
        if self.engines.contains_key(&to.caller) {
            self.finish_call(to.corr, to.caller, to.callee, Ok(payload));
            return Ok(());
        }
        if self.take_inbound_call(to) {
            let body = Body::Response(CallResponse {
                corr: to.corr,
                status: Status::Ok,
                payload,
            });
            // The caller's node may have gone; the caller then sees an error.
            let _ = self.route(to.callee, to.caller, body);
        }
        Ok(())
    }

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

    /// Watches `target` for local engine `watcher`: a [`Notice::Down`] comes
    /// once when it stops, is forgotten or becomes unreachable (at once if
    /// it is unknown or unreachable now).
    ///
    /// # Errors
    /// `watcher` not local.
    pub fn monitor(
        &mut self,
        watcher: EngineAddr,
        target: EngineAddr,
    ) -> Result<MonitorRef, SendError> {
        self.check_local(watcher)?;
        let id = self.next_id();
        let now_down = if self.engines.contains_key(&target) {
            None
        } else {
            match self.proxies.get(&target).map(|p| p.reach) {
                Some(Reach::Up | Reach::Connecting) => None,
                Some(Reach::Down) => Some(DownReason::Unreachable),
                None => Some(DownReason::NoSuchEngine),
            }
        };
        if let Some(reason) = now_down {
            self.notices.push_back(Notice::Down {
                monitor: MonitorRef(id),
                watcher,
                target,
                reason,
            });
        } else {
            self.monitors.insert(id, Monitor { watcher, target });
        }
        Ok(MonitorRef(id))
    }

    /// Removes a monitor; false if it already fired or never existed.
    pub fn demonitor(&mut self, m: MonitorRef) -> bool {
        self.monitors.remove(&m.0).is_some()
    }

    fn check_local(&self, e: EngineAddr) -> Result<(), SendError> {
        if self.engines.contains_key(&e) {
            Ok(())
        } else {
            Err(SendError::NotLocal(e))
        }
    }

    /// Ends a call that cannot be answered normally.
    pub(super) fn refuse_call(&mut self, to: ReplyTo, status: Status) {
        if self.engines.contains_key(&to.caller) {
            let err = match status {
                Status::MailboxFull => CallError::MailboxFull,
                Status::Busy => CallError::Busy,
                Status::NoSuchEngine => CallError::NoSuchEngine,
                Status::Stopped | Status::Ok => CallError::Stopped,
            };
            self.finish_call(to.corr, to.caller, to.callee, Err(err));
        } else if self.take_inbound_call(to) {
            let body = Body::Response(CallResponse {
                corr: to.corr,
                status,
                payload: Vec::new(),
            });
            let _ = self.route(to.callee, to.caller, body);
        }
    }

    fn take_inbound_call(&mut self, to: ReplyTo) -> bool {
        let Some(ic) = self.inbound_calls.remove(&to) else {
            return false;
        };
        if let Some(p) = self.peers.get_mut(&ic.peer) {
            p.inbound_calls = p.inbound_calls.saturating_sub(1);
        }
        true
    }

    /// Completes a pending call if it is still pending for this pair.
    pub(super) fn finish_call(
        &mut self,
        corr: u64,
        caller: EngineAddr,
        callee: EngineAddr,
        result: Result<Vec<u8>, CallError>,
    ) -> bool {
        match self.pending_calls.get(&corr) {
            Some(p) if p.caller == caller && p.callee == callee => {}
            _ => return false,
        }
        if let Some(p) = self.pending_calls.remove(&corr) {
            self.call_deadlines.remove(&(p.deadline, corr));
        }
        self.notices.push_back(Notice::CallDone {
            call: CallId(corr),
            caller,
            result,
        });
        true
    }

    /// Fails every pending call to `callee`.
    pub(super) fn fail_calls_to(&mut self, callee: EngineAddr, err: CallError) {
        let hit: Vec<(u64, EngineAddr)> = self
            .pending_calls
            .iter()
            .filter(|(_, p)| p.callee == callee)
            .map(|(&c, p)| (c, p.caller))
            .collect();
        for (c, caller) in hit {
            self.finish_call(c, caller, callee, Err(err));
        }
    }

    /// Fires monitors on `target` and drops the ones its departure ends.
    pub(super) fn engine_gone(&mut self, target: EngineAddr, reason: DownReason) {
        let hit: Vec<u64> = self
            .monitors
            .iter()
            .filter(|(_, m)| m.target == target)
            .map(|(&id, _)| id)
            .collect();
        for id in hit {
            if let Some(m) = self.monitors.remove(&id) {
                if self.engines.contains_key(&m.watcher) {
                    self.notices.push_back(Notice::Down {
                        monitor: MonitorRef(id),
                        watcher: m.watcher,
                        target,
                        reason,
                    });
                }
            }
        }
        self.monitors.retain(|_, m| m.watcher != target);
    }

    pub(super) fn release_subscription_slot(&mut self, peer: Option<crate::ids::NodeId>) {
        if let Some(p) = peer.and_then(|n| self.peers.get_mut(&n)) {
            p.subscriptions = p.subscriptions.saturating_sub(1);
        }
    }

    /// Sets the clock; later calls without a time argument use it.
    pub fn set_time(&mut self, now: Time) {
        self.now = self.now.max(now);
    }
}
