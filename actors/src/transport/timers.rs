//! Deadlines: call timeouts, lookups, record expiry and renewal.

use super::Transport;
use crate::error::CallError;
use crate::ids::{EngineAddr, Time};
use crate::mailbox::ReplyTo;
use crate::output::{DownReason, Output};
use crate::wire::frame::Frame;

impl Transport {
    /// The earliest deadline; call [`Self::handle_timeout`] then.
    pub fn poll_timeout(&self) -> Option<Time> {
        let calls = self.call_deadlines.iter().next().map(|&(t, _)| t);
        let inbound = self.inbound_calls.values().map(|c| c.deadline).min();
        let resolving = self.resolving.values().map(|r| r.deadline).min();
        let proxies = self.proxies.values().map(|p| p.expires).min();
        let names = self.name_lookups.values().map(|(_, t)| *t).min();
        let scopes = self.scope_deadline();
        [
            calls,
            inbound,
            resolving,
            proxies,
            names,
            self.renew_at,
            scopes,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Fires every deadline at or before `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        self.set_time(now);
        let now = self.now;
        while let Some(&(t, corr)) = self.call_deadlines.iter().next() {
            if t > now {
                break;
            }
            self.call_deadlines.remove(&(t, corr));
            if let Some(p) = self.pending_calls.get(&corr) {
                let (caller, callee) = (p.caller, p.callee);
                self.finish_call(corr, caller, callee, Err(CallError::TimedOut));
            }
        }
        let expired: Vec<ReplyTo> = self
            .inbound_calls
            .iter()
            .filter(|(_, c)| c.deadline <= now)
            .map(|(&r, _)| r)
            .collect();
        for r in expired {
            if let Some(c) = self.inbound_calls.remove(&r) {
                if let Some(p) = self.peers.get_mut(&c.peer) {
                    p.inbound_calls = p.inbound_calls.saturating_sub(1);
                }
            }
        }
        let lookups: Vec<EngineAddr> = self
            .resolving
            .iter()
            .filter(|(_, r)| r.deadline <= now)
            .map(|(&e, _)| e)
            .collect();
        for e in lookups {
            if let Some(r) = self.resolving.remove(&e) {
                self.fail_queue(e, r.queue, CallError::NoSuchEngine);
            }
        }
        self.expire_name_lookups(now);
        let stale: Vec<EngineAddr> = self
            .proxies
            .iter()
            .filter(|(_, p)| p.expires <= now)
            .map(|(&e, _)| e)
            .collect();
        for e in stale {
            self.remove_proxy(e, DownReason::Expired);
        }
        if self.renew_at.is_some_and(|t| t <= now) {
            self.renew();
        }
        self.scope_timeout(now);
    }

    /// Re-signs every local engine's learn record with a later expiry,
    /// sends it on every stream and publishes it again.
    fn renew(&mut self) {
        let engines: Vec<EngineAddr> = self.engines.keys().copied().collect();
        for e in engines {
            let learn = self.make_learn(e);
            if let Some(le) = self.engines.get_mut(&e) {
                le.learn = learn;
            }
            self.broadcast(&Frame::Learn(learn));
            self.outputs.push_back(Output::Publish {
                key: e.0,
                record: learn.to_bytes(),
            });
            for claim in self.names.claims_of(e) {
                self.publish_name(e, &claim.name, claim.registered);
            }
        }
        self.renew_at = if self.engines.is_empty() {
            None
        } else {
            Some(self.now.plus_ms(self.config.record_ttl_ms / 2))
        };
    }
}
