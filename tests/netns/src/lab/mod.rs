//! The namespace lab for the tests: the lab of `tessel-lab` (the internet,
//! NAT routers and their NAT kinds, re-exported here), and the tools only
//! tests use.
//!
//! * [`Impairment`] ([`impair`]): delay, jitter and loss through the
//!   `impair` NFQUEUE shim ([`steer`] installs its nftables rule);
//!   [`RouterImpair`] starts it on a router.
//! * [`Reflector`] and [`probe::characterise`] ([`probe`]): the `udp-probe`
//!   tool that tells the behaviours apart.
//! * [`coturn`] and [`upnp_gateway`]: STUN/TURN servers and port-mapping
//!   gateways.
//!
//! See [`tessel_lab`] for the topology and the address plan.

use std::path::PathBuf;

use anyhow::{ensure, Context, Result};

pub mod coturn;
pub mod impair;
pub mod probe;
pub mod probe_wire;
pub mod rng;
pub mod steer;
pub mod upnp_gateway;

pub use impair::{Direction, Impairer, Impairment, RouterImpair};
pub use probe::{NatReport, Reflector};
pub use tessel_lab::{internet, link, nat, router};
pub use tessel_lab::{Internet, NatKind, NatRouter, PrivateHost, PublicHost};

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
