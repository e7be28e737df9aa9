//! Shared set-up of the grid simulation tests.

use std::time::Duration;

use ed25519_dalek::SigningKey;
use tessel_tile_link::file::{signed, FileConfig, FileName};
use tessel_tile_link::NodeConfig;

pub(crate) fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

pub(crate) fn config(trusted: &[u8]) -> NodeConfig {
    NodeConfig {
        files: FileConfig {
            trusted: trusted.iter().map(|n| key(*n).verifying_key()).collect(),
            advert_interval: Duration::from_millis(500),
            stall_timeout: Duration::from_secs(2),
            ..FileConfig::default()
        },
        seed: 42,
        ..NodeConfig::default()
    }
}

pub(crate) fn signed_file(signer: u8, name: &str, ts: u64, len: usize) -> (FileName, Vec<u8>) {
    let name = FileName::new(name).unwrap();
    let content: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
    let f = signed::sign(&key(signer), &name, ts, &content);
    (name, f)
}
