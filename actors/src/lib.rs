//! Tessel actor transport.
#![forbid(unsafe_code)]

pub mod config;
pub mod error;
pub mod filter;
pub mod ids;
pub mod keys;
pub mod mailbox;
pub mod output;
pub mod registry;
pub mod stats;
mod transport;
pub mod wire;

pub use config::Config;
pub use error::{CallError, NameError, SendError};
pub use filter::{Event, Filter};
pub use ids::{ConnId, EngineAddr, NodeId, Time};
pub use keys::{KeyHolder, Persistence};
pub use mailbox::{Delivery, ReplyTo};
pub use output::{CallId, DownReason, MonitorRef, Notice, Output, SubId};
pub use stats::Stats;
pub use transport::Transport;
pub mod host;
pub mod memory;
pub use host::{drive, Host};
