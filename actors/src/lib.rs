//! Tessel actor transport (placeholder doc, completed below).
#![forbid(unsafe_code)]

pub mod filter;
pub mod ids;
pub mod wire;
