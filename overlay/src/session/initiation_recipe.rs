//! What an initiation's Noise state is made from, kept beside the state so
//! that the state can be made again. snow's handshake state cannot be
//! copied, but the same inputs make the same state: the ephemeral key comes
//! from the seed and the DH results are pure. A copy of an initiator's
//! state (and so of a node with a handshake in flight) is made this way.

use zeroize::Zeroizing;

use super::dh::Known;
use super::handshake::{noise_builder, HandshakeError};

/// The inputs of one initiation's first Noise message.
pub(crate) struct InitiationRecipe {
    /// Our static key pair (public, private).
    pub(crate) own: ([u8; 32], Zeroizing<[u8; 32]>),
    pub(crate) psk: Zeroizing<[u8; 32]>,
    pub(crate) prologue: Vec<u8>,
    /// The responder's X25519 public key and our `ss` with it.
    pub(crate) peer: ([u8; 32], Zeroizing<[u8; 32]>),
    /// The encrypted payload: node ID, timestamp, padded certificate.
    pub(crate) payload: Zeroizing<Vec<u8>>,
    /// Feeds the ephemeral key.
    pub(crate) seed: Zeroizing<[u8; 32]>,
}

impl InitiationRecipe {
    /// Makes the initiator's state and writes the first Noise message
    /// into `noise`; returns the state and the message's length.
    pub(crate) fn write(
        &self,
        noise: &mut [u8],
    ) -> Result<(snow::HandshakeState, usize), HandshakeError> {
        let known = Known::Peer(self.peer.0, self.peer.1.clone());
        let mut hs = noise_builder(
            (self.own.0, self.own.1.clone()),
            &self.own.1,
            &self.psk,
            &self.prologue,
            *self.seed,
            known,
        )?
        .remote_public_key(&self.peer.0)
        .and_then(|b| b.build_initiator())
        .map_err(super::handshake::noise_err)?;
        let n = hs
            .write_message(&self.payload, noise)
            .map_err(super::handshake::noise_err)?;
        Ok((hs, n))
    }
}
