//! The managed file update service (service 8): signed files that spread
//! to every tile, newest version winning.
//!
//! - [`name`]: safe file names.
//! - [`signed`]: the signed file format and versions.
//! - [`msg`]: the service's messages.
//! - [`store`], [`dir_store`]: where files live.
//! - [`service`]: the state machine, with its [`config`].

pub mod config;
pub mod dir_store;
pub mod msg;
pub mod name;
pub mod service;
#[cfg(test)]
mod service_tests;
pub mod signed;
pub mod store;

pub use config::{FileConfig, FileCounters, FileEvent, Outgoing};
pub use dir_store::DirStore;
pub use name::FileName;
pub use service::{FileService, PublishError};
pub use signed::Version;
pub use store::{MemStore, PartKey, Store, StoreError};
