//! A transport session: the keys one handshake produced, the send counter and
//! the replay window. Encrypts into and decrypts from caller buffers; never
//! allocates. Sessions can be cloned (a copy of a node keeps its sessions).

use std::time::{Duration, Instant};

use super::transport_keys::{KeyError, TransportKeys};
use super::ReplayWindow;
use crate::limits::{REJECT_AFTER_MESSAGES, REJECT_AFTER_TIME};
use crate::wire::data::{self, HEADER_LEN, TAG_LEN};

/// Why a transport operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The counter was seen before or is too old for the window.
    #[error("replayed or too old counter")]
    Replay,
    /// The ciphertext did not authenticate.
    #[error("decryption failed")]
    Decrypt,
    /// The session is past its message or time limit.
    #[error("session expired")]
    Expired,
    /// The output buffer is too small.
    #[error("buffer too small")]
    BufferTooSmall,
}

/// One direction pair of transport keys with its counters.
#[derive(Clone)]
pub struct Session {
    keys: TransportKeys,
    /// Our index: peers put it in the data messages they send us.
    pub local_index: u32,
    /// The peer's index: we put it in the data messages we send.
    pub remote_index: u32,
    /// Whether we initiated the handshake that made this session.
    pub initiator: bool,
    /// When the handshake completed.
    pub created: Instant,
    send_counter: u64,
    replay: ReplayWindow,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Session(local {}, remote {})",
            self.local_index, self.remote_index
        )
    }
}

impl Session {
    pub(crate) fn new(
        keys: TransportKeys,
        local_index: u32,
        remote_index: u32,
        initiator: bool,
        created: Instant,
    ) -> Self {
        Self {
            keys,
            local_index,
            remote_index,
            initiator,
            created,
            send_counter: 0,
            replay: ReplayWindow::default(),
        }
    }

    /// How long ago the handshake completed.
    pub fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.created)
    }

    /// Messages sent so far.
    pub fn sent(&self) -> u64 {
        self.send_counter
    }

    /// Jumps the send counter, to test the message limits.
    #[cfg(test)]
    pub(crate) fn set_sent(&mut self, n: u64) {
        self.send_counter = n;
    }

    /// Whether the session may still carry traffic.
    pub fn usable(&self, now: Instant) -> bool {
        self.age(now) < REJECT_AFTER_TIME && self.send_counter < REJECT_AFTER_MESSAGES
    }

    /// Writes a data message carrying `plaintext` into `out`; returns its length.
    ///
    /// # Errors
    /// Returns an error if the session is used up or `out` is too small.
    pub fn encrypt(&mut self, plaintext: &[u8], out: &mut [u8]) -> Result<usize, SessionError> {
        let len = HEADER_LEN + plaintext.len() + TAG_LEN;
        if out.len() < len {
            return Err(SessionError::BufferTooSmall);
        }
        if self.send_counter >= REJECT_AFTER_MESSAGES {
            return Err(SessionError::Expired);
        }
        let counter = self.send_counter;
        self.send_counter += 1;
        data::emit_header(out, self.remote_index, counter);
        let n = self
            .keys
            .seal(counter, plaintext, &mut out[HEADER_LEN..len])
            .map_err(|_| SessionError::BufferTooSmall)?;
        Ok(HEADER_LEN + n)
    }

    /// Decrypts a data message addressed to this session into `out`; returns
    /// the plaintext length. The counter is recorded only if the message
    /// authenticates.
    ///
    /// # Errors
    /// Returns an error for a replay, a forgery or a too-small buffer.
    pub fn decrypt(
        &mut self,
        packet: &data::Packet<&[u8]>,
        out: &mut [u8],
    ) -> Result<usize, SessionError> {
        let counter = packet.counter();
        if !self.replay.would_accept(counter) {
            return Err(SessionError::Replay);
        }
        let ct = packet.ciphertext();
        if out.len() < ct.len().saturating_sub(TAG_LEN) {
            return Err(SessionError::BufferTooSmall);
        }
        let n = self
            .keys
            .open(counter, ct, out)
            .map_err(|_: KeyError| SessionError::Decrypt)?;
        if !self.replay.accept(counter) {
            return Err(SessionError::Replay);
        }
        Ok(n)
    }
}
