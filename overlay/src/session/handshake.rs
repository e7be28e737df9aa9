//! The Noise IKpsk2 handshake (`Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s`), as
//! create/consume pairs: the initiator creates an initiation and consumes the
//! response; the responder consumes the initiation and creates the response.
//!
//! The PSK and the MAC keys come from the network key, the prologue binds the
//! network ID, and the static keys are the nodes' ed25519 keys in X25519 form.
//! The initiation's encrypted payload carries the initiator's node ID, which
//! must match the static key that the handshake proved.
//!
//! In a managed network both messages also carry the sender's member
//! certificate in their encrypted payload (the extension of
//! [`handshake_init`] and [`handshake_resp`]); this module carries the bytes,
//! the node checks them.
//!
//! The `consume_*` functions expect the caller to have checked the message's
//! MAC with [`HandshakeKeys::mac_to_me`] first, so that datagrams from
//! non-members cost no Noise work at all.
//!
//! [`HandshakeKeys`] keeps the static-static secrets of recent peers (see
//! `dh.rs`), so repeated handshakes with a peer skip two of their
//! scalar multiplications; the messages are the same.

use std::sync::Arc;
use std::time::Instant;

use zeroize::Zeroizing;

use super::dh::{Computed, Known, StaticSecrets};
use super::initiation_recipe::InitiationRecipe;
use super::resolver::SeededResolver;
use super::transport_keys::{KeyError, TransportKeys};
use super::Session;
use crate::identity::{NetworkKey, NodeId, NodeKey};
use crate::wire::cookie_reply::CookieKey;
use crate::wire::mac::MacKey;
use crate::wire::{handshake_init, handshake_resp, member_cert};

const PATTERN: &str = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";

/// Why a handshake message was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The Noise message failed to decrypt or authenticate.
    #[error("noise: {0}")]
    Noise(&'static str),
    /// The payload's node ID is not the key that the handshake proved.
    #[error("node ID does not match the handshake's static key")]
    IdentityMismatch,
    /// The peer's node ID, as a member announced it, is not a valid key.
    #[error("node ID is not a valid key")]
    InvalidKey,
}

pub(super) fn noise_err(e: snow::Error) -> HandshakeError {
    HandshakeError::Noise(match e {
        snow::Error::Decrypt => "decrypt",
        snow::Error::Input => "input",
        snow::Error::State(_) => "state",
        _ => "other",
    })
}

/// A handshake that has no transport keys yet (never after a final
/// message was read or written).
fn unfinished(_: KeyError) -> HandshakeError {
    HandshakeError::Noise("state")
}

/// One node's long-term handshake material in one network.
#[derive(Clone)]
pub struct HandshakeKeys {
    node_id: NodeId,
    /// Our static key and what we know of recent peers' (shared with a
    /// responder's snow objects only while it reads an initiation).
    statics: Arc<StaticSecrets>,
    psk: Zeroizing<[u8; 32]>,
    network_mac_key: Zeroizing<[u8; 32]>,
    mac_to_me: MacKey,
    /// The key that seals our own cookie replies.
    own_cookie_key: CookieKey,
    prologue: Vec<u8>,
    /// Our member certificate, sent in both messages (managed networks).
    certificate: Vec<u8>,
    /// The same padded to the longest certificate, for initiations: so that
    /// no response (carrying the responder's certificate) is longer than
    /// the initiation it answers.
    padded_certificate: Vec<u8>,
}

impl HandshakeKeys {
    /// Derives the handshake material of `node` in `network`.
    pub fn new(node: &NodeKey, network: &NetworkKey) -> Self {
        let statics = Arc::new(StaticSecrets::new(node.noise_private()));
        Self::in_network(node.id(), statics, network, Vec::new(), Vec::new())
    }

    /// The same node's material under another key of its network (after a
    /// rotation): its static key, what it knows of peers' and its
    /// certificate carry over; the PSK and MAC keys are `network`'s.
    pub fn with_network(&self, network: &NetworkKey) -> Self {
        Self::in_network(
            self.node_id,
            Arc::clone(&self.statics),
            network,
            self.certificate.clone(),
            self.padded_certificate.clone(),
        )
    }

    fn in_network(
        node_id: NodeId,
        statics: Arc<StaticSecrets>,
        network: &NetworkKey,
        certificate: Vec<u8>,
        padded_certificate: Vec<u8>,
    ) -> Self {
        let network_mac_key = network.mac_key();
        let mut prologue = b"tessel v1 ".to_vec();
        prologue.extend_from_slice(network.id().as_bytes());
        Self {
            node_id,
            statics,
            psk: network.noise_psk(),
            mac_to_me: MacKey::for_recipient(&network_mac_key, node_id.as_bytes()),
            own_cookie_key: CookieKey::new(&network_mac_key, node_id.as_bytes()),
            network_mac_key,
            prologue,
            certificate,
            padded_certificate,
        }
    }

    /// Sets the member certificate that our handshake messages carry
    /// (empty: none, as in an unmanaged network). Initiations carry it
    /// padded with zeros to the longest certificate.
    ///
    /// # Panics
    /// If it is longer than a handshake extension may be.
    pub fn set_certificate(&mut self, certificate: Vec<u8>) {
        assert!(certificate.len() <= handshake_init::MAX_EXT);
        self.padded_certificate = if certificate.is_empty() {
            Vec::new()
        } else {
            let mut padded = Vec::with_capacity(member_cert::MAX_LEN);
            member_cert::pad(&certificate, &mut padded);
            padded
        };
        self.certificate = certificate;
    }

    /// The MAC key of messages addressed to this node.
    pub fn mac_to_me(&self) -> &MacKey {
        &self.mac_to_me
    }

    /// The MAC key of messages addressed to `peer`.
    pub fn mac_to(&self, peer: &NodeId) -> MacKey {
        MacKey::for_recipient(&self.network_mac_key, peer.as_bytes())
    }

    /// The MAC key of messages to any member.
    pub fn mac_to_any(&self) -> MacKey {
        MacKey::for_any(&self.network_mac_key)
    }

    /// The key that seals this node's cookie replies.
    pub fn own_cookie_key(&self) -> &CookieKey {
        &self.own_cookie_key
    }

    /// The key that seals cookie replies from `responder`.
    pub fn cookie_key(&self, responder: &NodeId) -> CookieKey {
        CookieKey::new(&self.network_mac_key, responder.as_bytes())
    }

    fn builder(&self, seed: [u8; 32], known: Known) -> Result<snow::Builder<'_>, HandshakeError> {
        let own = (self.statics.public(), self.statics.private().clone());
        noise_builder(
            own,
            self.statics.private(),
            &self.psk,
            &self.prologue,
            seed,
            known,
        )
    }
}

/// A snow builder of our pattern for the static key `own` (public,
/// private; `private` the same), whose randomness is `seed` and whose DH
/// objects know `known`.
pub(super) fn noise_builder<'a>(
    own: ([u8; 32], Zeroizing<[u8; 32]>),
    private: &'a [u8; 32],
    psk: &'a [u8; 32],
    prologue: &'a [u8],
    seed: [u8; 32],
    known: Known,
) -> Result<snow::Builder<'a>, HandshakeError> {
    let params = PATTERN.parse().map_err(noise_err)?;
    let resolver = SeededResolver::new(seed, own, known);
    snow::Builder::with_resolver(params, Box::new(resolver))
        .local_private_key(&private[..])
        .and_then(|b| b.psk(2, psk))
        .and_then(|b| b.prologue(prologue))
        .map_err(noise_err)
}

impl HandshakeKeys {
    /// The static secrets, to change (no responder reads them between
    /// handshakes, so this copies nothing).
    fn statics_mut(&mut self) -> &mut StaticSecrets {
        Arc::make_mut(&mut self.statics)
    }
}

/// An initiation in flight, waiting for its response. A clone is the same
/// state made again from the same inputs (one X25519, the `es`).
pub struct InitiatorState {
    hs: snow::HandshakeState,
    /// Our index for the session this handshake will make.
    pub local_index: u32,
    /// What made it, to make it again.
    origin: Remake,
    /// The Noise inputs, to copy the state.
    recipe: Arc<InitiationRecipe>,
}

impl Clone for InitiatorState {
    fn clone(&self) -> Self {
        let mut scratch = [0u8; handshake_init::NOISE_LEN + handshake_init::MAX_EXT];
        let (hs, _) = self
            .recipe
            .write(&mut scratch)
            .expect("the inputs that made this state make it again");
        Self {
            hs,
            local_index: self.local_index,
            origin: self.origin,
            recipe: Arc::clone(&self.recipe),
        }
    }
}

/// What an initiation was made from: [`remake_initiation`] makes the same
/// state again (same ephemeral key, same message), so that a response that
/// fails to verify does not spend the handshake it claimed to answer.
#[derive(Debug, Clone, Copy)]
pub struct Remake {
    peer: NodeId,
    local_index: u32,
    timestamp_ms: u64,
    seed: [u8; 32],
}

impl InitiatorState {
    /// What this state was made from.
    pub fn remake(&self) -> Remake {
        self.origin
    }
}

/// The initiator's state of the initiation that `remake` describes, as it
/// was when the initiation was sent (a failed response spends a state).
///
/// # Errors
/// As [`create_initiation`].
pub fn remake_initiation(
    keys: &mut HandshakeKeys,
    remake: Remake,
) -> Result<InitiatorState, HandshakeError> {
    create_initiation(
        keys,
        &remake.peer,
        remake.local_index,
        remake.timestamp_ms,
        remake.seed,
    )
    .map(|(state, _)| state)
}

impl std::fmt::Debug for InitiatorState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InitiatorState({})", self.local_index)
    }
}

/// Creates an initiation to `peer`; `seed` feeds the ephemeral key. It
/// carries our certificate, if we have one.
///
/// # Errors
/// [`HandshakeError::InvalidKey`] if `peer` is an [unchecked](NodeId::unchecked)
/// node ID that is no key; otherwise only if Noise refuses the keys, which
/// valid keys never cause.
pub fn create_initiation(
    keys: &mut HandshakeKeys,
    peer: &NodeId,
    local_index: u32,
    timestamp_ms: u64,
    seed: [u8; 32],
) -> Result<(InitiatorState, Vec<u8>), HandshakeError> {
    let peer_static = keys
        .statics_mut()
        .with_peer(peer)
        .ok_or(HandshakeError::InvalidKey)?;
    let mut payload =
        Vec::with_capacity(handshake_init::PAYLOAD_LEN + keys.padded_certificate.len());
    handshake_init::Payload {
        node_id: *keys.node_id.as_bytes(),
        timestamp_ms,
    }
    .emit(&mut payload);
    payload.extend_from_slice(&keys.padded_certificate);
    let recipe = Arc::new(InitiationRecipe {
        own: (keys.statics.public(), keys.statics.private().clone()),
        psk: keys.psk.clone(),
        prologue: keys.prologue.clone(),
        peer: (peer_static.public, peer_static.shared),
        payload: Zeroizing::new(payload),
        seed: Zeroizing::new(seed),
    });
    let mut msg = vec![0u8; handshake_init::LEN + keys.padded_certificate.len()];
    let noise = handshake_init::emit_header(&mut msg, local_index);
    let (hs, n) = recipe.write(noise)?;
    debug_assert_eq!(n, handshake_init::NOISE_LEN + keys.padded_certificate.len());
    keys.mac_to(peer).seal(&mut msg);
    let origin = Remake {
        peer: *peer,
        local_index,
        timestamp_ms,
        seed,
    };
    Ok((
        InitiatorState {
            hs,
            local_index,
            origin,
            recipe,
        },
        msg,
    ))
}

/// Completes the initiator's side with the response (whose MAC the caller
/// checked); returns the session and the responder's certificate bytes
/// (empty if it sent none), which the caller checks before using it.
///
/// # Errors
/// Returns an error if the Noise message does not verify.
pub fn consume_response(
    state: InitiatorState,
    packet: &handshake_resp::Packet<&[u8]>,
    now: Instant,
) -> Result<(Session, Vec<u8>), HandshakeError> {
    let mut hs = state.hs;
    let mut payload = vec![0u8; packet.noise().len()];
    let n = hs
        .read_message(packet.noise(), &mut payload)
        .map_err(noise_err)?;
    payload.truncate(n);
    let keys = TransportKeys::split(&mut hs, true).map_err(unfinished)?;
    drop(hs);
    let session = Session::new(keys, state.local_index, packet.sender_index(), true, now);
    Ok((session, payload))
}

/// A verified initiation, ready to be answered.
pub struct Initiation {
    /// The initiator, as the handshake proved.
    pub peer: NodeId,
    /// The initiator's timestamp (must exceed the last one accepted from it).
    pub timestamp_ms: u64,
    /// The initiator's session index.
    pub sender_index: u32,
    /// The initiator's certificate bytes (empty if it sent none), for the
    /// caller to check before answering.
    pub certificate: Vec<u8>,
    responder: Responder,
    /// The initiator's X25519 key and our `ss` with it, when they were
    /// not cached yet: remembered once the response is made.
    learned: Option<([u8; 32], Zeroizing<[u8; 32]>)>,
}

/// The responder's handshake state between consuming and answering.
pub struct Responder {
    hs: snow::HandshakeState,
}

/// Verifies an initiation addressed to us (whose MAC the caller checked).
///
/// # Errors
/// Returns an error if the Noise message or the identity binding fails.
pub fn consume_initiation(
    keys: &HandshakeKeys,
    packet: &handshake_init::Packet<&[u8]>,
    seed: [u8; 32],
) -> Result<Initiation, HandshakeError> {
    let computed = Computed::default();
    let known = Known::Cache(keys.statics.clone(), computed.clone());
    let mut hs = keys
        .builder(seed, known)?
        .build_responder()
        .map_err(noise_err)?;
    let mut plain = [0u8; handshake_init::PAYLOAD_LEN + handshake_init::MAX_EXT];
    let n = hs
        .read_message(packet.noise(), &mut plain)
        .map_err(noise_err)?;
    let fixed = plain[..n]
        .get(..handshake_init::PAYLOAD_LEN)
        .ok_or(HandshakeError::Noise("payload"))?;
    let payload =
        handshake_init::Payload::parse(fixed).map_err(|_| HandshakeError::Noise("payload"))?;
    let certificate = plain[handshake_init::PAYLOAD_LEN..n].to_vec();
    let remote: [u8; 32] = hs
        .get_remote_static()
        .and_then(|r| r.try_into().ok())
        .ok_or(HandshakeError::IdentityMismatch)?;
    // A cached peer's key was checked when it was cached.
    let peer = match NodeId::known(&payload.node_id, |id| {
        keys.statics.public_of(id) == Some(remote)
    }) {
        Some(peer) => peer,
        None => {
            let peer = NodeId::from_bytes(payload.node_id)
                .map_err(|_| HandshakeError::IdentityMismatch)?;
            if peer.noise_public() != Some(remote) {
                return Err(HandshakeError::IdentityMismatch);
            }
            peer
        }
    };
    let learned = computed
        .iter()
        .filter_map(|c| c.get())
        .find(|(public, _)| *public == remote)
        .cloned();
    Ok(Initiation {
        peer,
        timestamp_ms: payload.timestamp_ms,
        sender_index: packet.sender_index(),
        certificate,
        responder: Responder { hs },
        learned,
    })
}

impl Initiation {
    /// Creates the response (carrying our certificate, if we have one);
    /// returns the responder's session and the message.
    ///
    /// # Errors
    /// Only if Noise fails internally.
    pub fn create_response(
        self,
        keys: &mut HandshakeKeys,
        local_index: u32,
        now: Instant,
    ) -> Result<(Session, Vec<u8>), HandshakeError> {
        let mut hs = self.responder.hs;
        let mut msg = vec![0u8; handshake_resp::LEN + keys.certificate.len()];
        let noise = handshake_resp::emit_header(&mut msg, local_index, self.sender_index);
        let n = hs
            .write_message(&keys.certificate, noise)
            .map_err(noise_err)?;
        debug_assert_eq!(n, handshake_resp::NOISE_LEN + keys.certificate.len());
        keys.mac_to(&self.peer).seal(&mut msg);
        let transport = TransportKeys::split(&mut hs, false).map_err(unfinished)?;
        drop(hs);
        // The snow objects that shared the cache are gone with `hs`.
        if let Some((public, shared)) = self.learned {
            keys.statics_mut().insert(self.peer, public, shared);
        }
        Ok((
            Session::new(transport, local_index, self.sender_index, false, now),
            msg,
        ))
    }
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    fn keys(seed: u8, net: u8) -> (NodeKey, HandshakeKeys) {
        let node = NodeKey::from_seed([seed; 32]);
        let k = HandshakeKeys::new(&node, &NetworkKey::from_secret([net; 32]));
        (node, k)
    }

    #[test]
    fn full_handshake_then_transport() {
        let now = Instant::now();
        let (a, mut ka) = keys(1, 7);
        let (b, mut kb) = keys(2, 7);
        let (st, init) = create_initiation(&mut ka, &b.id(), 11, 1000, [1; 32]).unwrap();
        let pkt = handshake_init::Packet::new_checked(&init[..]).unwrap();
        let ini = consume_initiation(&kb, &pkt, [2; 32]).unwrap();
        assert_eq!(ini.peer, a.id());
        assert_eq!((ini.timestamp_ms, ini.sender_index), (1000, 11));
        assert_eq!(init.len(), handshake_init::LEN);
        let ini_cert_was_empty = ini.certificate.is_empty();
        let (mut sb, resp) = ini.create_response(&mut kb, 22, now).unwrap();
        let rp = handshake_resp::Packet::new_checked(&resp[..]).unwrap();
        let (mut sa, cert) = consume_response(st, &rp, now).unwrap();
        assert!(cert.is_empty() && ini_cert_was_empty);
        assert_eq!((sa.remote_index, sb.remote_index), (22, 11));

        let mut wire = [0u8; 200];
        let n = sa.encrypt(b"hello", &mut wire).unwrap();
        let mut out = [0u8; 200];
        let pkt = crate::wire::data::Packet::new_checked(&wire[..n]).unwrap();
        let m = sb.decrypt(&pkt, &mut out).unwrap();
        assert_eq!(&out[..m], b"hello");
        // The same message again is a replay.
        assert_eq!(
            sb.decrypt(&pkt, &mut out),
            Err(crate::session::SessionError::Replay)
        );
    }

    /// Another network fails the MAC, and Noise too (the prologue differs).
    #[test]
    fn other_network_is_rejected_by_mac_and_by_noise() {
        let (_, mut ka) = keys(1, 7);
        let (b, kb_other) = keys(2, 8);
        let (_, init) = create_initiation(&mut ka, &b.id(), 1, 1, [0; 32]).unwrap();
        assert!(!kb_other.mac_to_me().verify(&init));
        let pkt = handshake_init::Packet::new_checked(&init[..]).unwrap();
        assert!(matches!(
            consume_initiation(&kb_other, &pkt, [0; 32]),
            Err(HandshakeError::Noise(_))
        ));
    }

    /// An initiation for one member fails the MAC and Noise at another.
    #[test]
    fn initiation_for_someone_else_is_rejected() {
        let (_, mut ka) = keys(1, 7);
        let (b, _) = keys(2, 7);
        let (_, kc) = keys(3, 7);
        let (_, init) = create_initiation(&mut ka, &b.id(), 1, 1, [0; 32]).unwrap();
        assert!(!kc.mac_to_me().verify(&init));
        let pkt = handshake_init::Packet::new_checked(&init[..]).unwrap();
        assert!(matches!(
            consume_initiation(&kc, &pkt, [0; 32]),
            Err(HandshakeError::Noise(_))
        ));
    }

    #[test]
    fn tampered_initiation_fails_noise() {
        let (_, mut ka) = keys(1, 7);
        let (b, kb) = keys(2, 7);
        let (_, mut init) = create_initiation(&mut ka, &b.id(), 1, 1, [0; 32]).unwrap();
        init[60] ^= 1;
        kb.mac_to_me.seal(&mut init); // a member could recompute the MAC
        let pkt = handshake_init::Packet::new_checked(&init[..]).unwrap();
        assert!(matches!(
            consume_initiation(&kb, &pkt, [0; 32]),
            Err(HandshakeError::Noise(_))
        ));
    }

    /// Certificates ride in both payloads, encrypted: they come out on the
    /// other side and do not appear in the clear.
    #[test]
    fn certificates_ride_in_both_payloads() {
        let now = Instant::now();
        let (_, mut ka) = keys(1, 7);
        let (b, mut kb) = keys(2, 7);
        ka.set_certificate(b"certificate of a".to_vec());
        kb.set_certificate(b"certificate of b, longer".to_vec());
        let (st, init) = create_initiation(&mut ka, &b.id(), 1, 1, [1; 32]).unwrap();
        // Padded: no response is longer than the initiation it answers.
        assert_eq!(init.len(), handshake_init::LEN + member_cert::MAX_LEN);
        assert!(handshake_resp::LEN + member_cert::MAX_LEN < init.len());
        assert!(!init.windows(11).any(|w| w == b"certificate"));
        assert!(kb.mac_to_me().verify(&init));
        let pkt = handshake_init::Packet::new_checked(&init[..]).unwrap();
        let ini = consume_initiation(&kb, &pkt, [2; 32]).unwrap();
        let mut padded = Vec::new();
        member_cert::pad(b"certificate of a", &mut padded);
        assert_eq!(ini.certificate, padded);
        let (_, resp) = ini.create_response(&mut kb, 2, now).unwrap();
        assert_eq!(resp.len(), handshake_resp::LEN + 24);
        assert!(ka.mac_to_me().verify(&resp));
        let rp = handshake_resp::Packet::new_checked(&resp[..]).unwrap();
        let (_, cert) = consume_response(st, &rp, now).unwrap();
        assert_eq!(cert, b"certificate of b, longer");
    }

    /// A second handshake between the same two nodes uses the cached
    /// static-static secret on both sides, and its messages are exactly
    /// those that nodes without a cache make from the same seeds.
    #[test]
    fn cached_static_secrets_change_no_message() {
        let now = Instant::now();
        let (a, mut ka) = keys(1, 7);
        let (b, mut kb) = keys(2, 7);
        let handshake = |ka: &mut HandshakeKeys, kb: &mut HandshakeKeys, seed: u8| {
            let (st, init) =
                create_initiation(ka, &b.id(), 5, u64::from(seed), [seed; 32]).unwrap();
            let pkt = handshake_init::Packet::new_checked(&init[..]).unwrap();
            let ini = consume_initiation(kb, &pkt, [seed + 1; 32]).unwrap();
            assert_eq!(ini.peer, a.id());
            let (mut sb, resp) = ini.create_response(kb, 6, now).unwrap();
            let rp = handshake_resp::Packet::new_checked(&resp[..]).unwrap();
            let (mut sa, _) = consume_response(st, &rp, now).unwrap();
            let mut wire = [0u8; 100];
            let n = sa.encrypt(b"x", &mut wire).unwrap();
            let mut out = [0u8; 100];
            let pkt = crate::wire::data::Packet::new_checked(&wire[..n]).unwrap();
            assert_eq!(sb.decrypt(&pkt, &mut out), Ok(1));
            (init, resp)
        };
        handshake(&mut ka, &mut kb, 1);
        // Both sides cached the other now.
        assert!(ka.statics.public_of(&b.id()).is_some());
        assert!(kb.statics.public_of(&a.id()).is_some());
        let warm = handshake(&mut ka, &mut kb, 3);
        let (_, mut fresh_a) = keys(1, 7);
        let (_, mut fresh_b) = keys(2, 7);
        let cold = handshake(&mut fresh_a, &mut fresh_b, 3);
        assert_eq!(warm.0[..], cold.0[..]);
        assert_eq!(warm.1[..], cold.1[..]);
    }
}
