//! Counters of dropped packets, by reason.

use serde::Serialize;

/// Why the node dropped a datagram or a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Empty, unknown type or wrong length for its type.
    Malformed,
    /// A MAC that does not verify: not a member of this network, or not for us.
    BadMac,
    /// A handshake message that failed Noise or identity checks.
    HandshakeFailed,
    /// An initiation whose timestamp is not newer than the last one accepted.
    ReplayedInitiation,
    /// Initiations arriving faster than one peer may send them, or, while
    /// the node is under load, faster than their source's share.
    InitiationFlood,
    /// A response for no handshake in flight.
    UnexpectedResponse,
    /// A hello-ack from an address that we did not greet, or from ourselves.
    UnexpectedHelloAck,
    /// A data message for a session index we do not have.
    UnknownSession,
    /// A data message that did not authenticate.
    DecryptFailed,
    /// A data message whose counter was seen before or is too old.
    Replay,
    /// A data message on a session past its lifetime.
    ExpiredSession,
    /// A decrypted plaintext that is neither an IP packet nor a known message.
    BadInner,
    /// A handshake not started because the member's node ID, as gossip
    /// announced it, is not a valid key.
    InvalidMember,
    /// A decrypted IP packet whose source is not its sender's overlay address.
    SourceMismatch,
    /// A decrypted IP packet whose destination is not this node.
    WrongDestination,
    /// A packet from the TUN for an address that no member owns.
    NoRoute,
    /// A packet from the TUN that is not a valid IP packet or not from us.
    BadTunPacket,
    /// A packet for a peer whose queue is full while its handshake runs.
    QueueFull,
    /// A packet for a peer with no known endpoint.
    NoEndpoint,
    /// The table of members is full.
    PeerTableFull,
    /// A signal with a bad signature, a replayed timestamp or an unknown body.
    SignalRejected,
    /// A signal to us whose body is not sealed for us: plaintext (as older
    /// nodes sent it), or sealed under another key or header.
    SignalUnsealed,
    /// A signal for a member we have no way toward, or out of hops.
    SignalNoRoute,
    /// A relay frame we would not pass on: relaying off, over budget, out
    /// of hops, or no way toward its recipient.
    RelayRefused,
    /// A packet from the TUN too big for the relayed path to its member
    /// (answered with a Packet Too Big).
    TooBigForRelay,
    /// A STUN Binding request without the network's integrity: from an
    /// outsider or another network.
    StunUnauthenticated,
    /// A STUN message that answers no request of ours, or that we do not handle.
    UnexpectedStun,
    /// A lookup request or answer that could not go on (no way toward its
    /// recipient, out of hops, or arrived on a relayed session), or an
    /// answer naming a member that does not own the address looked up.
    LookupNoRoute,
    /// A record whose publisher's signature does not verify.
    RecordRejected,
    /// A probe, probe-ack, hello or hello-ack inside a relay frame: they
    /// speak for the path they arrive on, which a relay frame is not.
    RelayedPathMessage,
    /// An initiation that arrived while the node was under load without a
    /// valid cookie for its source: answered with a cookie reply (as the
    /// bound on those allows), no Diffie-Hellman.
    CookieRequired,
    /// A cookie reply that does not open for the handshake it names.
    BadCookieReply,
    /// A LAN beacon whose timestamp is not newer than the last one taken
    /// from its sender: a replay, or a copy that came late.
    ReplayedBeacon,
    /// A LAN beacon whose timestamp is outside the clock window of ours.
    BeaconSkewed,
    /// A LAN beacon from a source on none of the node's LANs.
    OffLinkBeacon,
    /// A hello whose stamp is outside the clock window of ours (a replay,
    /// or a sender whose clock is wrong), or a hello-ack that echoes no
    /// recent hello of ours.
    HelloStale,
    /// A key update for another network, or naming a key that cannot be.
    KeyUpdateRefused,
    /// A key update for the key we have or an older one.
    KeyUpdateStale,
    /// In a managed network, a key update without the owner's signature
    /// allowing the rotation, or with a wrong one.
    KeyUpdateUnsigned,
    /// A handshake in a managed network without the sender's member
    /// certificate.
    CertMissing,
    /// A member certificate that is malformed, not signed by the network's
    /// owner, or for another network or node.
    CertInvalid,
    /// A member certificate past its expiry.
    CertExpired,
    /// A handshake, hello or news of a member that the owner's revocation
    /// list names.
    Revoked,
    /// A revocation list not signed by the owner, for another network, or
    /// received by a node outside managed mode.
    RevocationsRejected,
    /// A name claim whose signature does not verify, for another network,
    /// sent by another member than the claimer, or (managed networks)
    /// without the owner's certificate for the same name.
    NameClaimRejected,
    /// An owner handover not signed by the owner in force, for another
    /// network, naming no other key, or received by a node outside managed
    /// mode.
    OwnerHandoverRejected,
    /// A member certificate signed by an owner key that handed the
    /// network over, after the handover's grace.
    CertRetiredOwner,
}

impl DropReason {
    /// Every reason, in display order.
    pub const ALL: [Self; 47] = [
        Self::Malformed,
        Self::BadMac,
        Self::HandshakeFailed,
        Self::ReplayedInitiation,
        Self::InitiationFlood,
        Self::UnexpectedResponse,
        Self::UnexpectedHelloAck,
        Self::UnknownSession,
        Self::DecryptFailed,
        Self::Replay,
        Self::ExpiredSession,
        Self::BadInner,
        Self::InvalidMember,
        Self::SourceMismatch,
        Self::WrongDestination,
        Self::NoRoute,
        Self::BadTunPacket,
        Self::QueueFull,
        Self::NoEndpoint,
        Self::PeerTableFull,
        Self::SignalRejected,
        Self::SignalUnsealed,
        Self::SignalNoRoute,
        Self::StunUnauthenticated,
        Self::UnexpectedStun,
        Self::RelayRefused,
        Self::TooBigForRelay,
        Self::LookupNoRoute,
        Self::RecordRejected,
        Self::RelayedPathMessage,
        Self::CookieRequired,
        Self::BadCookieReply,
        Self::ReplayedBeacon,
        Self::BeaconSkewed,
        Self::OffLinkBeacon,
        Self::HelloStale,
        Self::KeyUpdateRefused,
        Self::KeyUpdateStale,
        Self::KeyUpdateUnsigned,
        Self::CertMissing,
        Self::CertInvalid,
        Self::CertExpired,
        Self::Revoked,
        Self::RevocationsRejected,
        Self::NameClaimRejected,
        Self::OwnerHandoverRejected,
        Self::CertRetiredOwner,
    ];

    /// A stable snake_case name, as shown by `tessel status`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::BadMac => "bad_mac",
            Self::HandshakeFailed => "handshake_failed",
            Self::ReplayedInitiation => "replayed_initiation",
            Self::InitiationFlood => "initiation_flood",
            Self::UnexpectedResponse => "unexpected_response",
            Self::UnexpectedHelloAck => "unexpected_hello_ack",
            Self::UnknownSession => "unknown_session",
            Self::DecryptFailed => "decrypt_failed",
            Self::Replay => "replay",
            Self::ExpiredSession => "expired_session",
            Self::BadInner => "bad_inner",
            Self::InvalidMember => "invalid_member",
            Self::SourceMismatch => "source_mismatch",
            Self::WrongDestination => "wrong_destination",
            Self::NoRoute => "no_route",
            Self::BadTunPacket => "bad_tun_packet",
            Self::QueueFull => "queue_full",
            Self::NoEndpoint => "no_endpoint",
            Self::PeerTableFull => "peer_table_full",
            Self::SignalRejected => "signal_rejected",
            Self::SignalUnsealed => "signal_unsealed",
            Self::SignalNoRoute => "signal_no_route",
            Self::RelayRefused => "relay_refused",
            Self::TooBigForRelay => "too_big_for_relay",
            Self::StunUnauthenticated => "stun_unauthenticated",
            Self::UnexpectedStun => "unexpected_stun",
            Self::LookupNoRoute => "lookup_no_route",
            Self::RecordRejected => "record_rejected",
            Self::RelayedPathMessage => "relayed_path_message",
            Self::CookieRequired => "cookie_required",
            Self::BadCookieReply => "bad_cookie_reply",
            Self::ReplayedBeacon => "replayed_beacon",
            Self::BeaconSkewed => "beacon_skewed",
            Self::OffLinkBeacon => "off_link_beacon",
            Self::HelloStale => "hello_stale",
            Self::KeyUpdateRefused => "key_update_refused",
            Self::KeyUpdateStale => "key_update_stale",
            Self::KeyUpdateUnsigned => "key_update_unsigned",
            Self::CertMissing => "cert_missing",
            Self::CertInvalid => "cert_invalid",
            Self::CertExpired => "cert_expired",
            Self::Revoked => "revoked",
            Self::RevocationsRejected => "revocations_rejected",
            Self::NameClaimRejected => "name_claim_rejected",
            Self::OwnerHandoverRejected => "owner_handover_rejected",
            Self::CertRetiredOwner => "cert_retired_owner",
        }
    }
}

/// Drop counters, one per reason (serialized as a list in reason order).
#[derive(Debug, Clone, Serialize)]
pub struct DropCounters {
    #[serde(serialize_with = "as_list")]
    counts: [u64; DropReason::ALL.len()],
}

impl Default for DropCounters {
    fn default() -> Self {
        Self {
            counts: [0; DropReason::ALL.len()],
        }
    }
}

fn as_list<S: serde::Serializer>(counts: &[u64], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(counts)
}

impl DropCounters {
    /// Counts one drop.
    pub fn add(&mut self, reason: DropReason) {
        self.counts[reason as usize] += 1;
    }

    /// The count for one reason.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.counts[reason as usize]
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Non-zero counters by name.
    pub fn nonzero(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|r| (r.name(), self.get(*r)))
            .filter(|(_, n)| *n > 0)
    }
}
