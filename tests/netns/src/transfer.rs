//! A file fetched over HTTP between namespaces (python3's http.server and
//! curl), and checked byte for byte: for transfers that must arrive intact
//! whatever the path did to them on the way.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::netns::Netns;
use crate::process::{describe, Process};
use crate::services::HttpServer;

/// Fails unless `fetched` has the same bytes as `original`.
pub fn ensure_same(original: &Path, fetched: &Path) -> Result<()> {
    let want =
        std::fs::read(original).with_context(|| format!("reading {}", original.display()))?;
    let got = std::fs::read(fetched).with_context(|| format!("reading {}", fetched.display()))?;
    ensure!(
        got == want,
        "the fetched file differs: {} bytes, expected {}{}",
        got.len(),
        want.len(),
        match got.iter().zip(&want).position(|(x, y)| x != y) {
            Some(i) => format!(", first difference at byte {i}"),
            None => String::new(),
        }
    );
    Ok(())
}

/// Writes `len` bytes of a fixed pseudo-random pattern (xorshift) to `path`.
pub fn write_pattern(path: &Path, len: usize) -> Result<()> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut data = Vec::with_capacity(len + 8);
    while data.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(len);
    std::fs::write(path, data).with_context(|| format!("writing {}", path.display()))
}

/// A file served over HTTP (python3's http.server) in one namespace and
/// fetched in another by curl, in the background.
pub struct Download {
    _server: HttpServer,
    client: Process,
    started: Instant,
}

impl Download {
    /// Serves the directory of `file` on `server_addr` in `server` and
    /// starts `curl -o out URL/file` in `client`, at most `rate` bytes per
    /// second if given (curl's `--limit-rate`), for at most `max_time`.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        server: &Netns,
        server_addr: SocketAddr,
        file: &Path,
        client: &Netns,
        out: &Path,
        rate: Option<&str>,
        max_time: Duration,
        log_dir: &Path,
    ) -> Result<Self> {
        let (Some(root), Some(name)) = (file.parent(), file.file_name()) else {
            bail!("cannot serve {}", file.display());
        };
        let http = HttpServer::start(server, server_addr, root, log_dir)?;
        let max_time = max_time.as_secs().to_string();
        let mut cmd = client.command("curl");
        cmd.args(["-sS", "-g", "--max-time", &max_time]);
        if let Some(rate) = rate {
            cmd.args(["--limit-rate", rate]);
        }
        cmd.arg("-o")
            .arg(out)
            .arg(http.url(&format!("/{}", name.to_string_lossy())));
        let client = Process::spawn(cmd, "curl", log_dir)?;
        Ok(Self {
            _server: http,
            client,
            started: Instant::now(),
        })
    }

    /// Fails if curl has already failed.
    pub fn ensure_alive(&mut self) -> Result<()> {
        if let Some(s) = self.client.try_status()? {
            ensure!(
                s.success(),
                "curl failed ({}): {}",
                describe(s),
                self.client.stderr()
            );
        }
        Ok(())
    }

    /// Waits up to `timeout` for curl to finish and fails unless it exits
    /// 0; returns how long the download took.
    pub fn finish(mut self, timeout: Duration) -> Result<Duration> {
        let status = self
            .client
            .wait_timeout(timeout)?
            .with_context(|| format!("the download did not complete within {timeout:?}"))?;
        ensure!(
            status.success(),
            "curl failed ({}) after {:?}: {}",
            describe(status),
            self.started.elapsed(),
            self.client.stderr()
        );
        Ok(self.started.elapsed())
    }
}
