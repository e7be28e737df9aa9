//! The join command that `tessel up` gives when it starts a new network:
//! the network key into a file, then `tessel up --network @FILE --peer …`,
//! one `--peer` per address other machines may reach this one at (its
//! public address once a port mapping or STUN tells it, else every address
//! of its interfaces but loopback, link-local and the overlay's own).
//!
//! The key never goes into a log: it is printed only when stdout is a
//! terminal. The commands, key included, are always written to `join.txt`
//! in the state dir (mode 0600); when stdout is not a terminal (a systemd
//! service, a pipe, a file) the output names that file instead of showing
//! the key. Once a public address is learned (within seconds of start, if
//! at all) the file is written again and the new command given the same way.

use std::io::{IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use tessel_overlay::driver::state_dir::write_private_file;
use tokio::sync::watch;
use zeroize::Zeroizing;

/// The file in the state dir that holds the commands, key included.
pub(crate) const JOIN_FILE: &str = "join.txt";

/// Where the printed commands keep the network key on the joining machine
/// (a file only its owner reads, so the key is never an argument).
const KEY_FILE: &str = "tessel-network.key";

/// How long after start a public address is waited for.
const PUBLIC_WAIT: Duration = Duration::from_secs(60);

/// The addresses to give as `--peer`: the public ones if any is known,
/// else each local candidate (of the bound socket's family) with the bound
/// port, else the bound address itself if it is a specific one.
pub(crate) fn peers(public: &[SocketAddr], local: &[IpAddr], bound: SocketAddr) -> Vec<SocketAddr> {
    if !public.is_empty() {
        return public.to_vec();
    }
    if !bound.ip().is_unspecified() {
        return vec![bound];
    }
    local
        .iter()
        .filter(|ip| bound.is_ipv6() || ip.is_ipv4())
        .map(|ip| SocketAddr::new(*ip, bound.port()))
        .collect()
}

/// `tessel up --network @tessel-network.key --peer A --peer B`.
pub(crate) fn up_line(peers: &[SocketAddr], port: u16) -> String {
    let mut line = format!("tessel up --network @{KEY_FILE}");
    if peers.is_empty() {
        line.push_str(&format!(" --peer THIS-HOST:{port}"));
    }
    for p in peers {
        line.push_str(&format!(" --peer {p}"));
    }
    line
}

/// The two commands, key included.
fn commands(key: &str, peers: &[SocketAddr], port: u16) -> String {
    // printf is a shell builtin: the key never shows in the process list.
    format!(
        "(umask 077; printf '%s\\n' '{key}' > {KEY_FILE})\n{}\n",
        up_line(peers, port)
    )
}

/// Gives the join command of a network this node just started.
pub(crate) struct Announcer {
    key: Zeroizing<String>,
    file: PathBuf,
    port: u16,
    terminal: bool,
}

impl Announcer {
    /// For the network key `key` (text form), the node's state dir and its
    /// bound port.
    pub(crate) fn new(key: Zeroizing<String>, state_dir: &Path, port: u16) -> Self {
        Self {
            key,
            file: state_dir.join(JOIN_FILE),
            port,
            terminal: std::io::stdout().is_terminal(),
        }
    }

    /// At start: writes the file and gives the command with `peers`.
    pub(crate) fn started(&self, peers: &[SocketAddr]) {
        self.give(
            peers,
            "Started a new private network. To join it from another machine, run there",
        );
    }

    /// Writes the file and prints the commands (to a terminal) or where
    /// they are (elsewhere), after `headline` (which ends before a colon).
    fn give(&self, peers: &[SocketAddr], headline: &str) {
        let text = commands(&self.key, peers, self.port);
        let written = write_private(&self.file, &text);
        if let Err(e) = &written {
            tracing::error!(
                "cannot keep the join command in {}: {e:#}",
                self.file.display()
            );
        }
        let mut out = std::io::stdout().lock();
        if self.terminal {
            let _ = writeln!(out, "{headline}:\n");
            for line in text.lines() {
                let _ = writeln!(out, "  {line}");
            }
            let _ = writeln!(out);
        } else if written.is_ok() {
            let _ = writeln!(
                out,
                "{headline} the commands in {} (readable by this user only: they hold the network key, \
                 which is shown only on a terminal). The last one is:\n\n  {}\n",
                self.file.display(),
                up_line(peers, self.port),
            );
            tracing::info!(
                file = %self.file.display(),
                "the commands that join this network (with its key) are in {}",
                self.file.display()
            );
        }
        let _ = out.flush();
    }

    /// Waits (at most [`PUBLIC_WAIT`]) for the node's public addresses and
    /// gives the command again with them whenever they change, unless the
    /// command already names them all (`given`: a machine with no NAT is
    /// seen at its own address).
    pub(crate) async fn follow(
        self,
        given: Vec<SocketAddr>,
        mut public: watch::Receiver<Vec<SocketAddr>>,
    ) {
        let deadline = tokio::time::sleep(PUBLIC_WAIT);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => return,
                changed = public.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let addrs = public.borrow_and_update().clone();
                    if addrs.iter().all(|a| given.contains(a)) {
                        continue;
                    }
                    let shown: Vec<String> = addrs.iter().map(ToString::to_string).collect();
                    tracing::info!(public = ?shown, "learned where other networks reach this node");
                    self.give(
                        &addrs,
                        &format!(
                            "This node is reachable from elsewhere at {}. To join from another network, run there",
                            shown.join(", ")
                        ),
                    );
                }
            }
        }
    }
}

/// Writes the join commands `text` to `path` with mode 0600, atomically.
fn write_private(path: &Path, text: &str) -> Result<()> {
    let data =
        format!("# Run these on another machine to join this network (the key is secret).\n{text}");
    write_private_file(path, data.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn peers_are_public_addresses_else_local_candidates_else_the_bound_one() {
        let local: Vec<IpAddr> = ["198.51.100.1", "2001:db8::1"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let any6 = sa("[::]:9740");
        assert_eq!(
            peers(&[], &local, any6),
            [sa("198.51.100.1:9740"), sa("[2001:db8::1]:9740")]
        );
        // An IPv4 socket is not reached at IPv6 addresses.
        assert_eq!(
            peers(&[], &local, sa("0.0.0.0:9741")),
            [sa("198.51.100.1:9741")]
        );
        assert_eq!(
            peers(&[], &local, sa("192.0.2.7:9740")),
            [sa("192.0.2.7:9740")]
        );
        let public = [sa("203.0.113.5:41000")];
        assert_eq!(peers(&public, &local, any6), public);
        assert!(peers(&[], &[], any6).is_empty());
    }

    #[test]
    fn the_command_has_one_peer_per_address_and_the_key_only_in_the_file_line() {
        let p = [sa("198.51.100.1:9740"), sa("[2001:db8::1]:9740")];
        assert_eq!(
            up_line(&p, 9740),
            "tessel up --network @tessel-network.key --peer 198.51.100.1:9740 --peer [2001:db8::1]:9740"
        );
        assert_eq!(
            up_line(&[], 9740),
            "tessel up --network @tessel-network.key --peer THIS-HOST:9740"
        );
        let c = commands("tessel-net-secret", &p, 9740);
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            "(umask 077; printf '%s\\n' 'tessel-net-secret' > tessel-network.key)"
        );
        assert!(!lines[1].contains("secret"));
    }

    #[test]
    fn the_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("tessel-join-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(JOIN_FILE);
        write_private(&path, "x\n").unwrap();
        write_private(&path, "y\n").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(fs::read_to_string(&path).unwrap().ends_with("y\n"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
