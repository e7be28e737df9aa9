//! Who a node is and which network it belongs to: node keys, network keys,
//! their text forms and the overlay addresses derived from them.

pub mod address;
pub mod membership;
pub mod name;
pub mod name_claim;
pub mod network;
pub mod node_key;
pub mod owner_handover;
pub mod owner_key;
pub mod signed_rotation;
pub mod text;

pub use address::{Ipv4Assignment, NetworkPrefix};
pub use membership::{MemberCert, MembershipError, RevocationList};
pub use name::{NameError, NodeName};
pub use name_claim::{ClaimError, NameClaim};
pub use network::{NetworkId, NetworkKey};
pub use node_key::{NodeId, NodeKey};
pub use owner_handover::OwnerHandover;
pub use owner_key::{OwnerId, OwnerKey};
pub use signed_rotation::SignedRotation;
