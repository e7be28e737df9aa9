//! A simulator host for the actor transport (`tessel-actors`): streams
//! carried as datagrams with loss, reordering and retransmission
//! ([`stream`]), a shared record store, virtual time ([`world`]).

pub mod stream;
pub mod world;

pub use world::{ActorWorld, Conditions, WorldStats};
