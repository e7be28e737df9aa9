//! coturn as a third-party STUN server in the lab: for `tessel netcheck` and
//! members' `--stun`, and for miniupnpd, which checks its WAN address with it.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Result};

use crate::lab::internet::{Internet, PublicHost};
use crate::process::{describe, Process};
use crate::services::{is_listening, Proto};
use crate::tempdir::TempDir;
use crate::wait;

/// coturn's port (its alternate port is the next).
pub const STUN_PORT: u16 = 3478;

/// How long coturn may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// coturn, STUN only, on a public host's IPv4 address, an alias of it and
/// its IPv6 address (RFC 5780 needs two addresses and two ports).
#[derive(Debug)]
pub struct Coturn {
    process: Process,
    /// Where it answers over IPv4.
    pub addr: SocketAddr,
    /// Where it answers over IPv6.
    pub ipv6: SocketAddr,
    _dir: TempDir,
}

impl Coturn {
    /// Starts `turnserver` in the foreground on `host` (and a new alias of
    /// it, for CHANGE-REQUEST), its files in a temporary directory.
    pub fn start(internet: &Internet, host: &PublicHost) -> Result<Self> {
        let alias = internet.add_alias(host)?;
        let dir = TempDir::new("coturn")?;
        let path = |name: &str| dir.path().join(name).display().to_string();
        let mut cmd = host.ns.command("turnserver");
        cmd.args([
            "-n",
            "--stun-only",
            "--no-tls",
            "--no-dtls",
            "--no-tcp",
            "--no-cli",
        ])
        .args(["-L", &host.ipv4.to_string(), "-L", &alias.to_string()])
        .args(["-L", &host.ipv6.to_string()])
        .args(["-p", &STUN_PORT.to_string()])
        .args(["--alt-listening-port", &(STUN_PORT + 1).to_string()])
        .args(["--log-file", "stdout", "--simple-log"])
        .args(["--pidfile", &path("turnserver.pid")])
        .args(["--userdb", &path("turndb")]);
        let mut process = Process::spawn(cmd, "coturn", dir.path())?;
        let addr = SocketAddr::from((host.ipv4, STUN_PORT));
        let wanted = [
            addr,
            SocketAddr::from((alias, STUN_PORT)),
            SocketAddr::from((alias, STUN_PORT + 1)),
            SocketAddr::from((host.ipv6, STUN_PORT)),
        ];
        wait::poll("coturn to listen", START_TIMEOUT, || {
            if let Some(s) = process.try_status()? {
                bail!("turnserver exited ({}): {}", describe(s), process.stdout());
            }
            for a in wanted {
                if !is_listening(&host.ns, Proto::Udp, a)? {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        })?;
        Ok(Self {
            process,
            addr,
            ipv6: wanted[3],
            _dir: dir,
        })
    }

    /// The server's PID.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}
