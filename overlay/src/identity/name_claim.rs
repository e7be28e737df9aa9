//! Signed name claims: a member's statement, signed by its node key, that it
//! calls itself by a [`NodeName`] (format in [`crate::wire::name_claim`]).
//!
//! A claim proves only that the holder of the node key chose the name at
//! the time it says; which of several members claiming one name holds it
//! is the conflict rule's business ([`crate::node`]'s names). In a managed
//! network the claim carries the member certificate, whose name is the one
//! that counts: [`NameClaim::verify_managed`] checks that they agree.

use std::fmt;

use super::membership::{MemberCert, MembershipError};
use super::name::NodeName;
use super::{NetworkId, NodeId, NodeKey, OwnerId};
use crate::wire::name_claim::{Fields, Packet, SIGNING_CONTEXT};
use crate::wire::WireError;

/// Why a claim was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimError {
    /// Not a claim (see [`Packet::new_checked`]).
    #[error("malformed name claim: {0}")]
    Malformed(#[from] WireError),
    /// The node key did not sign it.
    #[error("the name claim's signature does not verify")]
    BadSignature,
    /// Made for another network.
    #[error("the name claim is for another network")]
    OtherNetwork,
    /// Managed network: the claim carries no certificate.
    #[error("the name claim carries no member certificate")]
    NoCertificate,
    /// Managed network: a certificate the owner did not sign for this
    /// node, or expired.
    #[error("the name claim's certificate is refused: {0}")]
    Certificate(MembershipError),
    /// Managed network: the certificate names the node otherwise.
    #[error("the name claim's name is not the one in its certificate")]
    NotTheCertificateName,
}

/// A name claim whose format was checked (not yet its signature: see
/// [`NameClaim::verify`]).
#[derive(Clone, PartialEq, Eq)]
pub struct NameClaim {
    bytes: Vec<u8>,
}

/// The name a member certificate gives, as a node name (lowercase), if it
/// is one.
pub fn certificate_name(cert: &MemberCert) -> Option<NodeName> {
    NodeName::parse(&cert.name()).ok()
}

impl NameClaim {
    /// Signs a claim of `name` by `node` in `network`, taken at
    /// `claimed_at_ms` (ms since the Unix epoch), carrying `cert` in a
    /// managed network.
    pub fn sign(
        node: &NodeKey,
        network: &NetworkId,
        name: &NodeName,
        claimed_at_ms: u64,
        cert: Option<&MemberCert>,
    ) -> Self {
        let mut bytes = Vec::new();
        Fields {
            network_id: *network.as_bytes(),
            node_id: *node.id().as_bytes(),
            claimed_at_ms,
            name,
            cert: cert.map_or(&[][..], MemberCert::as_bytes),
        }
        .emit_signed_part(&mut bytes)
        .expect("a certificate is never too long for a claim");
        let sig = node.sign(&signing_message(&bytes));
        bytes.extend_from_slice(&sig);
        Self { bytes }
    }

    /// Checks the format of claim bytes.
    ///
    /// # Errors
    /// [`ClaimError::Malformed`].
    pub fn parse(bytes: &[u8]) -> Result<Self, ClaimError> {
        Packet::new_checked(bytes)?;
        Ok(Self {
            bytes: bytes.to_vec(),
        })
    }

    fn view(&self) -> Packet<&[u8]> {
        Packet::new_checked(&self.bytes[..]).expect("checked when made")
    }

    /// Checks that the claiming node signed it, for `network`.
    ///
    /// # Errors
    /// The first check that fails.
    pub fn verify(&self, network: &NetworkId) -> Result<(), ClaimError> {
        let v = self.view();
        if v.network_id() != *network.as_bytes() {
            return Err(ClaimError::OtherNetwork);
        }
        let node = NodeId::from_bytes(v.node_id()).map_err(|_| ClaimError::BadSignature)?;
        if !node.verify(&signing_message(v.signed_part()), &v.signature()) {
            return Err(ClaimError::BadSignature);
        }
        Ok(())
    }

    /// [`NameClaim::verify`], then, for a managed network: the claim
    /// carries a certificate that `owner` signed for the claiming node in
    /// `network`, valid at `now_unix` (seconds), whose name is the claimed
    /// one.
    ///
    /// # Errors
    /// The first check that fails.
    pub fn verify_managed(
        &self,
        network: &NetworkId,
        owner: &OwnerId,
        now_unix: u64,
    ) -> Result<(), ClaimError> {
        self.verify(network)?;
        let v = self.view();
        let cert = v
            .cert()
            .ok_or(ClaimError::NoCertificate)
            .and_then(|c| MemberCert::parse(c).map_err(ClaimError::Certificate))?;
        cert.verify(owner, network, &self.node(), now_unix)
            .map_err(ClaimError::Certificate)?;
        if certificate_name(&cert).as_ref() != Some(&self.name()) {
            return Err(ClaimError::NotTheCertificateName);
        }
        Ok(())
    }

    /// The claiming node (checked by [`NameClaim::verify`]).
    pub fn node(&self) -> NodeId {
        NodeId::unchecked(self.view().node_id())
    }

    /// The name claimed.
    pub fn name(&self) -> NodeName {
        self.view().name()
    }

    /// When the node took the name (ms since the Unix epoch).
    pub fn claimed_at_ms(&self) -> u64 {
        self.view().claimed_at_ms()
    }

    /// The claim's bytes (the inner message and the record value).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for NameClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NameClaim")
            .field("node", &self.node().short())
            .field("name", &self.name().as_str())
            .field("claimed_at_ms", &self.claimed_at_ms())
            .finish()
    }
}

/// What the node key signs: the context, then the claim's signed part.
fn signing_message(signed_part: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(SIGNING_CONTEXT.len() + signed_part.len());
    msg.extend_from_slice(SIGNING_CONTEXT);
    msg.extend_from_slice(signed_part);
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{NetworkKey, OwnerKey};

    fn keys() -> (NodeKey, NetworkId) {
        (
            NodeKey::from_seed([3; 32]),
            NetworkKey::from_secret([4; 32]).id(),
        )
    }

    fn name(s: &str) -> NodeName {
        NodeName::parse(s).unwrap()
    }

    #[test]
    fn a_signed_claim_verifies_and_reads_back() {
        let (node, network) = keys();
        let c = NameClaim::sign(&node, &network, &name("web"), 1234, None);
        let c = NameClaim::parse(c.as_bytes()).unwrap();
        assert_eq!(c.verify(&network), Ok(()));
        assert_eq!(c.node(), node.id());
        assert_eq!(c.name(), name("web"));
        assert_eq!(c.claimed_at_ms(), 1234);
    }

    #[test]
    fn any_changed_byte_fails_the_signature_or_the_format() {
        let (node, network) = keys();
        let c = NameClaim::sign(&node, &network, &name("web"), 1234, None);
        for i in 0..c.as_bytes().len() {
            let mut b = c.as_bytes().to_vec();
            b[i] ^= 0x01;
            let refused = NameClaim::parse(&b)
                .and_then(|c| c.verify(&network))
                .is_err();
            assert!(refused, "byte {i} changed and the claim still verifies");
        }
    }

    #[test]
    fn another_network_or_signer_is_refused() {
        let (node, network) = keys();
        let other = NetworkKey::from_secret([5; 32]).id();
        let c = NameClaim::sign(&node, &network, &name("web"), 1, None);
        assert_eq!(c.verify(&other), Err(ClaimError::OtherNetwork));
        // A claim naming one node, signed by another.
        let thief = NodeKey::from_seed([6; 32]);
        let mut b = NameClaim::sign(&thief, &network, &name("web"), 1, None)
            .as_bytes()
            .to_vec();
        b[34..66].copy_from_slice(node.id().as_bytes());
        let forged = NameClaim::parse(&b).unwrap();
        assert_eq!(forged.verify(&network), Err(ClaimError::BadSignature));
    }

    #[test]
    fn managed_claims_must_carry_the_certificate_name() {
        let (node, network) = keys();
        let owner = OwnerKey::from_seed([8; 32]);
        let cert =
            MemberCert::sign(&owner, &network, &node.id(), "Web", 2_000_000_000, &[]).unwrap();
        let good = NameClaim::sign(&node, &network, &name("web"), 1, Some(&cert));
        assert_eq!(good.verify_managed(&network, &owner.id(), 1_000), Ok(()));
        let other_name = NameClaim::sign(&node, &network, &name("db"), 1, Some(&cert));
        assert_eq!(
            other_name.verify_managed(&network, &owner.id(), 1_000),
            Err(ClaimError::NotTheCertificateName)
        );
        let bare = NameClaim::sign(&node, &network, &name("web"), 1, None);
        assert_eq!(
            bare.verify_managed(&network, &owner.id(), 1_000),
            Err(ClaimError::NoCertificate)
        );
        assert!(matches!(
            good.verify_managed(&network, &owner.id(), 2_000_000_000),
            Err(ClaimError::Certificate(MembershipError::Expired))
        ));
        let stranger = OwnerKey::from_seed([9; 32]);
        assert!(matches!(
            good.verify_managed(&network, &stranger.id(), 1_000),
            Err(ClaimError::Certificate(_))
        ));
    }
}
