//! Managed mode at start: the owner and this node's certificate that the
//! daemon or the embedded node was given, checked, kept in the state dir,
//! and handed to the node with the revocation list kept from earlier runs.

use std::time::Instant;

use super::error::DriverError;
use super::state_dir::StateDir;
use crate::identity::owner_handover::follow;
use crate::identity::{MemberCert, OwnerId};
use crate::node::Node;

/// What makes a node a member of a managed network (`tessel up --owner
/// --cert`, or [`super::embed::EmbedOptions::managed`]).
#[derive(Debug, Clone)]
pub struct Membership {
    /// The network owner's public key.
    pub owner: OwnerId,
    /// This node's certificate, signed by `owner`.
    pub certificate: MemberCert,
}

/// Puts `node` in managed mode (nothing for `None`): refuses a certificate
/// that is not the owner's, not for this node or network, or expired,
/// rather than running unmanaged; keeps owner and certificate in `state`;
/// takes the owner's revocation list and the owner handovers kept there,
/// if any.
///
/// # Errors
/// [`DriverError::Membership`] for a certificate the node refuses, or a
/// state dir error.
pub(crate) fn apply(
    node: &mut Node,
    membership: Option<&Membership>,
    state: &StateDir,
    now: Instant,
) -> Result<(), DriverError> {
    let Some(m) = membership else {
        return Ok(());
    };
    let handovers = state.owner_handovers().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "ignoring the kept owner handovers");
        Vec::new()
    });
    let network = node.network_id();
    let (owner, previous, _) = follow(m.owner, &network, &handovers);
    let signed_by = |l: &crate::identity::RevocationList| {
        l.verify(&owner, &network).is_ok()
            || previous.is_some_and(|(p, _)| l.verify(&p, &network).is_ok())
    };
    let list = match state.revocations() {
        Ok(Some(l)) if signed_by(&l) => Some(l),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "ignoring the kept revocation list");
            None
        }
    };
    node.set_managed_with_handovers(now, m.owner, m.certificate.clone(), list, &handovers)
        .map_err(|e| DriverError::Membership {
            reason: format!(
                "{e}: it must be signed by {} for node {} in network {}, and not expired",
                owner,
                node.id(),
                node.network_id()
            ),
        })?;
    state.save_membership(&m.owner, &m.certificate)
}
