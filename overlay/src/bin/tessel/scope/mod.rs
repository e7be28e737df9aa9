//! `tessel scope …`: owner keys and the signed records that create scopes
//! and grant access to them. Signing happens here, offline, with an owner
//! key file; the records are printed as text for the daemon or a querier.

mod bootstrap;
mod duration;
mod sign;

pub(crate) use sign::{run, ScopeCommand};
