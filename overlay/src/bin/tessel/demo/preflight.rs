//! What the demo needs from the machine, checked before it touches
//! anything, each missing piece named with what to do about it.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Result};

/// Fails unless the process runs as root.
pub(crate) fn require_root(what: &str) -> Result<()> {
    if !tessel_lab::netns::is_root() {
        bail!(
            "tessel demo needs root: it builds network namespaces, NAT routers and TUN devices \
             (sudo {what})"
        );
    }
    Ok(())
}

/// Fails unless `ip netns`, nftables, ping and TUN devices are there.
pub(crate) fn require_tools() -> Result<()> {
    let mut missing = Vec::new();
    if !runs("ip", &["netns", "list"]) {
        missing.push("ip (with network namespaces) not found: apt install iproute2");
    }
    if !runs("nft", &["--version"]) {
        missing.push("nft not found: apt install nftables");
    }
    if !runs("ping", &["-V"]) {
        missing.push("ping not found: apt install iputils-ping");
    }
    if !runs("sysctl", &["--version"]) {
        missing.push("sysctl not found: apt install procps");
    }
    if !Path::new("/dev/net/tun").exists() {
        missing.push("/dev/net/tun not found: load the TUN module (modprobe tun)");
    }
    if !missing.is_empty() {
        bail!("tessel demo cannot run here:\n  {}", missing.join("\n  "));
    }
    Ok(())
}

/// True if `program args` runs and exits 0.
fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
