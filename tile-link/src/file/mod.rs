//! The managed file update service (service 8): signed files that spread
//! to every tile, newest version winning.
//!
//! - [`name`]: safe file names.
//! - [`signed`]: the signed file format and versions.
//! - [`msg`]: the service's messages.
//! - [`store`], [`dir_store`]: where files live.

pub mod dir_store;
pub mod msg;
pub mod name;
pub mod signed;
pub mod store;

pub use dir_store::DirStore;
pub use name::FileName;
pub use signed::Version;
pub use store::{MemStore, PartKey, Store, StoreError};
