//! Starting, resuming and stopping local engines.

use super::state::LocalEngine;
use super::Transport;
use crate::error::CallError;
use crate::ids::EngineAddr;
use crate::keys::Persistence;
use crate::mailbox::{Delivery, Mailbox, ReplyTo};
use crate::output::{DownReason, SubId};
use crate::wire::call::Status;
use crate::wire::forget::Forget;
use crate::wire::frame::Frame;

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
}
