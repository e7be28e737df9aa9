//! NAT traversal building blocks for Tessel, each a sans-IO piece that the
//! node and the `tessel` binary drive:
//!
//! - [`stun`]: STUN (RFC 8489) binding requests and responses, with
//!   MESSAGE-INTEGRITY keyed from the network key between members.
//! - [`netcheck`]: NAT behaviour discovery (RFC 5780 style) from the
//!   answers of several reflectors.
//! - [`portmap`]: port mapping through PCP, NAT-PMP and UPnP IGD.

pub mod netcheck;
pub mod portmap;
pub mod stun;
