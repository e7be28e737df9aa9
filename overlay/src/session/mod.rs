//! Noise sessions: the IKpsk2 handshake, the transport keys it yields and the
//! anti-replay window. No clocks or sockets here: callers pass `now`.

pub(crate) mod dh;
#[cfg(fuzzing)]
mod fuzz_memo;
pub mod handshake;
mod initiation_recipe;
pub mod replay;
mod resolver;
pub mod transport;
mod transport_keys;

pub use handshake::{HandshakeError, Initiation, InitiatorState, Responder};
pub use replay::ReplayWindow;
pub use transport::{Session, SessionError};
