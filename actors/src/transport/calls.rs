//! Cast, call and reply, and how calls end.

use super::state::PendingCall;
use super::Transport;
use crate::error::{CallError, SendError};
use crate::ids::EngineAddr;
use crate::mailbox::{Delivery, ReplyTo};
use crate::output::{CallId, Notice};
use crate::wire::body::Body;
use crate::wire::call::{CallRequest, CallResponse, Status};

impl Transport {
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

    pub(super) fn check_local(&self, e: EngineAddr) -> Result<(), SendError> {
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
}
