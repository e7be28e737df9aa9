//! What the tests of embedded nodes share: scratch state dirs, and nodes
//! started on loopback.

use std::net::SocketAddr;
use std::path::PathBuf;

use tessel_overlay::driver::embed::{EmbedOptions, EmbeddedNode};
use tessel_overlay::identity::NetworkKey;

/// A scratch directory removed on drop.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    /// A fresh directory named after the test binary's process and `name`.
    pub(crate) fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("tessel-embedded-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        Self(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An embedded node with its state in `dir`, listening on loopback.
pub(crate) async fn start(dir: &Scratch, key: &NetworkKey, peers: Vec<SocketAddr>) -> EmbeddedNode {
    let mut opts = EmbedOptions::new(dir.0.clone(), key.clone(), peers);
    opts.listen = "127.0.0.1:0".parse().unwrap();
    EmbeddedNode::start(opts).await.expect("the node starts")
}
