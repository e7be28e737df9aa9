//! The namespace lab: an emulated internet of network namespaces with real
//! kernel NAT, for end-to-end tests that need NATs, delay and loss.
//!
//! ```text
//!                        Internet (core namespace, bridge br0)
//!          ______________________|______________________________
//!         |                      |                              |
//!   PublicHost             NatRouter wan0 203.0.113.1     NatRouter (CGN) wan0 203.0.113.2
//!   198.51.100.1           (nftables NAT of its kind)     lan0 198.19.1.1/24
//!   (+ 192.0.2.N aliases)    lan0 198.18.1.1/24                  |
//!                              |                         NatRouter (home) wan0 198.19.1.2
//!                        PrivateHost 198.18.1.2            lan0 198.18.2.1/24
//!                                                                |
//!                                                         PrivateHost 198.18.2.2
//! ```
//!
//! * [`Internet`] ([`internet`]): the core namespace, public hosts and
//!   extra public addresses.
//! * [`NatRouter`] ([`router`]): a router namespace with a WAN leg and a
//!   LAN bridge; private hosts and NATs behind NATs.
//! * [`NatKind`] ([`nat`]): the NAT behaviours and how nftables builds each.
//! * [`Impairment`] ([`impair`]): delay, jitter and loss through the
//!   `impair` NFQUEUE shim ([`steer`] installs its nftables rule).
//! * [`Reflector`] and [`probe::characterise`] ([`probe`]): the `udp-probe`
//!   tool that tells the behaviours apart.
//!
//! Addresses: public 198.51.100.0/24 (hosts), 203.0.113.0/24 (NAT WAN
//! legs), 192.0.2.0/24 (aliases) and 2001:db8:1::/64, 2001:db8:2::/64;
//! private 198.18.N.0/24 (home LANs) and 198.19.N.0/24 (carrier-grade NAT
//! segments). All of it lives in namespaces named like every other in this
//! harness (`ts-<pid>-<n>-<role>`), so parallel tests never collide, and it
//! is deleted, nftables rules included, when the last handle is dropped
//! (or by the sweeper, if the test process died).

use std::path::PathBuf;

use anyhow::{ensure, Context, Result};

pub mod coturn;
pub mod impair;
pub mod internet;
pub(crate) mod link;
pub mod nat;
pub mod probe;
pub mod probe_wire;
pub mod rng;
pub mod router;
pub mod steer;
pub mod upnp_gateway;
pub(crate) mod world;

pub use impair::{Direction, Impairer, Impairment};
pub use internet::{Internet, PublicHost};
pub use nat::NatKind;
pub use probe::{NatReport, Reflector};
pub use router::{NatRouter, PrivateHost};

/// Environment variable naming the directory of the lab's tools (`impair`,
/// `udp-probe`); by default the directory of the test executable's parent
/// (`target/<profile>`), where cargo puts this crate's binaries.
pub const TOOLS_ENV: &str = "TESSEL_LAB_TOOLS";

/// Path of the lab tool `name`, checked to exist.
pub fn tool(name: &str) -> Result<PathBuf> {
    let dir = match std::env::var_os(TOOLS_ENV) {
        Some(d) => PathBuf::from(d),
        None => {
            let exe = std::env::current_exe().context("locating the test executable")?;
            exe.parent()
                .and_then(|deps| deps.parent())
                .context("test executable has no parent directory")?
                .to_path_buf()
        }
    };
    let path = dir.join(name);
    ensure!(
        path.is_file(),
        "lab tool {name} not found at {} (build it with \
         `cargo build -p tessel-netns --bins` or set {TOOLS_ENV})",
        path.display()
    );
    Ok(path)
}
