//! `tessel up --map ADDR:PORT`: binds the map's address before the node
//! starts (a busy or wrong address stops the start with a clear message)
//! and gives its URL once the node is up.
//!
//! On loopback the URL needs no token and goes to the log. Elsewhere it
//! carries the token, a secret kept as the join command's key is: always
//! written to `map-url.txt` in the state dir (mode 0600), printed only when
//! stdout is a terminal, and otherwise (a service, whose output the
//! journal keeps) named by its file. The log has the URL without token.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tessel_overlay::driver::map::{self, Access, MapOptions};
use tessel_overlay::driver::state_dir::write_private_file;

/// Gives the map's URL once the node is up.
pub(crate) struct Announcer {
    access: Access,
    file: PathBuf,
}

/// Binds `addr` for the map of the node whose state dir is `state_dir`.
///
/// # Errors
/// If the address is unspecified or cannot be bound, or no token can be
/// made.
pub(crate) fn open(addr: SocketAddr, state_dir: &Path) -> Result<(MapOptions, Announcer)> {
    let listener = map::bind(addr).map_err(|e| anyhow::anyhow!("--map {addr}: {e}"))?;
    let bound = listener
        .local_addr()
        .with_context(|| format!("reading the map's address ({addr})"))?;
    let access = Access::for_address(bound).map_err(|e| anyhow::anyhow!("--map {addr}: {e}"))?;
    let announcer = Announcer {
        access: access.clone(),
        file: state_dir.join(map::URL_FILE),
    };
    Ok((MapOptions { listener, access }, announcer))
}

impl Announcer {
    /// Writes the URL file and gives the URL as the rules above say.
    pub(crate) fn announce(&self) {
        let url = self.access.url();
        if let Err(e) = write_private(&self.file, &format!("{url}\n")) {
            tracing::warn!(
                "cannot keep the map's URL in {}: {e:#}",
                self.file.display()
            );
        }
        let mut out = std::io::stdout().lock();
        if self.access.token().is_none() {
            let _ = writeln!(out, "The live map of the network: {url}");
        } else if std::io::stdout().is_terminal() {
            let _ = writeln!(
                out,
                "The live map of the network (the token in it is needed off this machine's \
                 loopback; keep it secret):\n\n  {url}\n"
            );
        } else {
            let _ = writeln!(
                out,
                "The live map of the network is at {}; open it with the token in {} (readable \
                 by this user only).",
                self.access.public_url(),
                self.file.display()
            );
            tracing::info!(
                file = %self.file.display(),
                "the map's URL with its token is in {}",
                self.file.display()
            );
        }
        let _ = out.flush();
    }
}

/// Writes `text` to `path`, readable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<()> {
    write_private_file(path, text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_url_file_is_private_and_holds_the_token() {
        let dir = std::env::temp_dir().join(format!("tessel-map-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        // A non-loopback address of this machine is not at hand in a unit
        // test; the file's handling is the same for any URL.
        let (opts, ann) = open("127.0.0.1:0".parse().unwrap(), &dir).unwrap();
        assert!(opts.access.token().is_none());
        ann.announce();
        let path = dir.join(map::URL_FILE);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim(), opts.access.url());
        assert!(!text.contains(":0/"), "the bound port, not 0: {text}");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unspecified_addresses_are_refused_with_what_to_do() {
        let dir = std::env::temp_dir();
        let e = open("0.0.0.0:9746".parse().unwrap(), &dir)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("--map 0.0.0.0:9746") && e.contains("Host header"),
            "{e}"
        );
    }
}
