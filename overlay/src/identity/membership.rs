//! Managed membership: member certificates and revocation lists, signed by
//! the network owner's key ([`OwnerKey`]) and checked by every member.
//!
//! A managed network names its owner; a node is a member only while it
//! holds a certificate from that owner for its node ID and this network that
//! has not expired and that the owner's latest revocation list does not name.
//! The formats are in [`crate::wire::member_cert`] and
//! [`crate::wire::revocations`].

use std::fmt;

use ed25519_dalek::{Signature, Signer, VerifyingKey};

use super::text::{self, TextError};
use super::{NetworkId, NodeId, OwnerId, OwnerKey};
use crate::wire::revocations::Entry;
use crate::wire::{member_cert, revocations, WireError};

const CERT_PREFIX: &str = "tessel-cert-";
const REVOKED_PREFIX: &str = "tessel-revoked-";

/// Why a certificate or a revocation list was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MembershipError {
    /// The bytes are not a well-formed certificate or list.
    #[error("malformed: {0}")]
    Malformed(#[from] WireError),
    /// The text form is damaged.
    #[error("malformed text: {0}")]
    Text(#[from] TextError),
    /// The signature is not the owner's.
    #[error("not signed by the network owner")]
    BadSignature,
    /// The certificate or list is for another network.
    #[error("for another network")]
    OtherNetwork,
    /// The certificate is for another node.
    #[error("for another node")]
    OtherNode,
    /// The certificate's expiry has passed.
    #[error("expired")]
    Expired,
    /// The owner's revocation list names the node.
    #[error("revoked")]
    Revoked,
}

pub(super) fn verify(owner: &OwnerId, context: &[u8], signed: &[u8], sig: &[u8; 64]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(owner.as_bytes()) else {
        return false;
    };
    let mut msg = Vec::with_capacity(context.len() + signed.len());
    msg.extend_from_slice(context);
    msg.extend_from_slice(signed);
    key.verify_strict(&msg, &Signature::from_bytes(sig)).is_ok()
}

pub(super) fn sign(owner: &OwnerKey, context: &[u8], signed: &mut Vec<u8>) {
    let mut msg = Vec::with_capacity(context.len() + signed.len());
    msg.extend_from_slice(context);
    msg.extend_from_slice(signed);
    let sig = owner.signing_key().sign(&msg);
    signed.extend_from_slice(&sig.to_bytes());
}

/// A member certificate whose format was checked (not yet its signature:
/// see [`MemberCert::verify`]).
#[derive(Clone, PartialEq, Eq)]
pub struct MemberCert {
    bytes: Vec<u8>,
}

impl MemberCert {
    /// Signs a certificate for `node` in `network`, valid until `not_after`
    /// (Unix seconds).
    ///
    /// # Errors
    /// A name or group too long, an empty group, or too many groups.
    pub fn sign(
        owner: &OwnerKey,
        network: &NetworkId,
        node: &NodeId,
        name: &str,
        not_after: u64,
        groups: &[String],
    ) -> Result<Self, MembershipError> {
        let mut bytes = Vec::new();
        member_cert::Fields {
            network_id: *network.as_bytes(),
            node_id: *node.as_bytes(),
            not_after,
            name,
            groups,
        }
        .emit_signed_part(&mut bytes)?;
        sign(owner, member_cert::SIGNING_CONTEXT, &mut bytes);
        Ok(Self { bytes })
    }

    /// Checks the format of certificate bytes.
    ///
    /// # Errors
    /// [`MembershipError::Malformed`].
    pub fn parse(bytes: &[u8]) -> Result<Self, MembershipError> {
        member_cert::Packet::new_checked(bytes)?;
        Ok(Self {
            bytes: bytes.to_vec(),
        })
    }

    fn view(&self) -> member_cert::Packet<&[u8]> {
        member_cert::Packet::new_checked(&self.bytes[..]).expect("checked when made")
    }

    /// Checks that `owner` signed this certificate for `node` in `network`
    /// and that it has not expired at `now_unix` (seconds).
    ///
    /// # Errors
    /// The first check that fails.
    pub fn verify(
        &self,
        owner: &OwnerId,
        network: &NetworkId,
        node: &NodeId,
        now_unix: u64,
    ) -> Result<(), MembershipError> {
        let v = self.view();
        if !verify(
            owner,
            member_cert::SIGNING_CONTEXT,
            v.signed_part(),
            &v.signature(),
        ) {
            return Err(MembershipError::BadSignature);
        }
        if v.network_id() != *network.as_bytes() {
            return Err(MembershipError::OtherNetwork);
        }
        if v.node_id() != *node.as_bytes() {
            return Err(MembershipError::OtherNode);
        }
        if now_unix >= v.not_after() {
            return Err(MembershipError::Expired);
        }
        Ok(())
    }

    /// The node the certificate is for, as written (checked by `verify`).
    pub fn node_id(&self) -> [u8; 32] {
        self.view().node_id()
    }

    /// Seconds since the Unix epoch after which the certificate is void.
    pub fn not_after(&self) -> u64 {
        self.view().not_after()
    }

    /// The member's name.
    pub fn name(&self) -> String {
        self.view().name().to_owned()
    }

    /// The member's groups.
    pub fn groups(&self) -> Vec<String> {
        self.view()
            .groups()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    /// The certificate's bytes (the handshake carries them).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The text form (`tessel-cert-…`), for files.
    pub fn to_text(&self) -> String {
        text::encode(CERT_PREFIX, &self.bytes)
    }

    /// Parses the text form.
    ///
    /// # Errors
    /// Damaged text or a malformed certificate.
    pub fn from_text(s: &str) -> Result<Self, MembershipError> {
        Self::parse(&text::decode_vec(CERT_PREFIX, s, member_cert::MAX_LEN)?)
    }
}

impl fmt::Debug for MemberCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MemberCert({:?}, until {})",
            self.name(),
            self.not_after()
        )
    }
}

/// A revocation list whose format was checked (see [`RevocationList::verify`]).
#[derive(Clone, PartialEq, Eq)]
pub struct RevocationList {
    bytes: Vec<u8>,
}

impl RevocationList {
    /// Signs a list of `entries` for `network` with `serial`.
    ///
    /// # Errors
    /// More than [`revocations::MAX_ENTRIES`] distinct entries.
    pub fn sign(
        owner: &OwnerKey,
        network: &NetworkId,
        serial: u64,
        entries: &[Entry],
    ) -> Result<Self, MembershipError> {
        let mut bytes = Vec::new();
        revocations::emit_signed_part(*network.as_bytes(), serial, entries, &mut bytes)?;
        sign(owner, revocations::SIGNING_CONTEXT, &mut bytes);
        Ok(Self { bytes })
    }

    /// Checks the format of list bytes.
    ///
    /// # Errors
    /// [`MembershipError::Malformed`].
    pub fn parse(bytes: &[u8]) -> Result<Self, MembershipError> {
        revocations::Packet::new_checked(bytes)?;
        Ok(Self {
            bytes: bytes.to_vec(),
        })
    }

    fn view(&self) -> revocations::Packet<&[u8]> {
        revocations::Packet::new_checked(&self.bytes[..]).expect("checked when made")
    }

    /// Checks that `owner` signed this list for `network`.
    ///
    /// # Errors
    /// [`MembershipError::BadSignature`] or [`MembershipError::OtherNetwork`].
    pub fn verify(&self, owner: &OwnerId, network: &NetworkId) -> Result<(), MembershipError> {
        let v = self.view();
        if !verify(
            owner,
            revocations::SIGNING_CONTEXT,
            v.signed_part(),
            &v.signature(),
        ) {
            return Err(MembershipError::BadSignature);
        }
        if v.network_id() != *network.as_bytes() {
            return Err(MembershipError::OtherNetwork);
        }
        Ok(())
    }

    /// The list's serial.
    pub fn serial(&self) -> u64 {
        self.view().serial()
    }

    /// The revoked members.
    pub fn entries(&self) -> Vec<Entry> {
        self.view().entries().collect()
    }

    /// Whether the list names `node`.
    pub fn names(&self, node: &NodeId) -> bool {
        self.view().entries().any(|e| e.node_id == *node.as_bytes())
    }

    /// The list's bytes (the inner message that spreads it).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The text form (`tessel-revoked-…`), for files.
    pub fn to_text(&self) -> String {
        text::encode(REVOKED_PREFIX, &self.bytes)
    }

    /// Parses the text form.
    ///
    /// # Errors
    /// Damaged text or a malformed list.
    pub fn from_text(s: &str) -> Result<Self, MembershipError> {
        Self::parse(&text::decode_vec(REVOKED_PREFIX, s, revocations::MAX_LEN)?)
    }
}

impl fmt::Debug for RevocationList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RevocationList(serial {}, {} entries)",
            self.serial(),
            self.view().entries().count()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{NetworkKey, NodeKey};

    fn setup() -> (OwnerKey, NetworkId, NodeId) {
        (
            OwnerKey::from_seed([1; 32]),
            NetworkKey::from_secret([2; 32]).id(),
            NodeKey::from_seed([3; 32]).id(),
        )
    }

    #[test]
    fn a_certificate_verifies_and_every_bit_flip_is_refused() {
        let (owner, net, node) = setup();
        let groups = vec!["ops".to_string()];
        let cert = MemberCert::sign(&owner, &net, &node, "web", 1000, &groups).unwrap();
        assert_eq!(cert.verify(&owner.id(), &net, &node, 999), Ok(()));
        assert_eq!((cert.name(), cert.groups()), ("web".into(), groups));
        let again = MemberCert::from_text(&cert.to_text()).unwrap();
        assert_eq!(again, cert);
        for i in 0..cert.as_bytes().len() * 8 {
            let mut b = cert.as_bytes().to_vec();
            b[i / 8] ^= 1 << (i % 8);
            if let Ok(c) = MemberCert::parse(&b) {
                assert!(c.verify(&owner.id(), &net, &node, 999).is_err(), "bit {i}");
            }
        }
    }

    #[test]
    fn certificate_refusals_name_their_reason() {
        let (owner, net, node) = setup();
        let cert = MemberCert::sign(&owner, &net, &node, "web", 1000, &[]).unwrap();
        let other_owner = OwnerKey::from_seed([9; 32]).id();
        let other_net = NetworkKey::from_secret([9; 32]).id();
        let other_node = NodeKey::from_seed([9; 32]).id();
        use MembershipError as E;
        assert_eq!(
            cert.verify(&other_owner, &net, &node, 1),
            Err(E::BadSignature)
        );
        assert_eq!(
            cert.verify(&owner.id(), &other_net, &node, 1),
            Err(E::OtherNetwork)
        );
        assert_eq!(
            cert.verify(&owner.id(), &net, &other_node, 1),
            Err(E::OtherNode)
        );
        assert_eq!(cert.verify(&owner.id(), &net, &node, 1000), Err(E::Expired));
    }

    #[test]
    fn a_list_verifies_and_every_bit_flip_is_refused() {
        let (owner, net, node) = setup();
        let entry = Entry {
            node_id: *node.as_bytes(),
            not_after: 5,
        };
        let list = RevocationList::sign(&owner, &net, 7, &[entry]).unwrap();
        assert_eq!(list.verify(&owner.id(), &net), Ok(()));
        assert!(list.names(&node));
        assert_eq!(list.serial(), 7);
        assert_eq!(RevocationList::from_text(&list.to_text()).unwrap(), list);
        let other_net = NetworkKey::from_secret([9; 32]).id();
        assert_eq!(
            list.verify(&owner.id(), &other_net),
            Err(MembershipError::OtherNetwork)
        );
        for i in 0..list.as_bytes().len() * 8 {
            let mut b = list.as_bytes().to_vec();
            b[i / 8] ^= 1 << (i % 8);
            if let Ok(l) = RevocationList::parse(&b) {
                assert!(l.verify(&owner.id(), &net).is_err(), "bit {i}");
            }
        }
        // A certificate's text is not a list's, nor the other way round.
        let cert = MemberCert::sign(&owner, &net, &node, "", 9, &[]).unwrap();
        assert!(RevocationList::from_text(&cert.to_text()).is_err());
        assert!(MemberCert::from_text(&list.to_text()).is_err());
    }
}
