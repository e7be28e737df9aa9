//! A headless Chromium driven over WebDriver, for pages a node serves in
//! its namespace (the live map).
//!
//! [`Chromedriver`] runs Debian's `chromedriver` inside a namespace, on a
//! port of that namespace's loopback; the Chromium it starts runs there
//! too (`--headless=new --no-sandbox`, as root, with a profile in a temp
//! dir), so it reaches the node's loopback address. A [`Page`] is one
//! WebDriver session (the `fantoccini` client on a runtime of its own): it
//! must be made and used on a thread that entered the namespace
//! ([`crate::Netns::run_inside`]), since its socket to chromedriver must be
//! in there. Dropping the page ends the session (Chromium exits); dropping
//! the driver stops chromedriver by PID, and the namespace's removal kills
//! whatever is left in it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, ensure, Context, Result};
use serde_json::{json, Map, Value};

use crate::netns::Netns;
use crate::process::Process;
use crate::tempdir::TempDir;
use crate::wait;

/// How long chromedriver may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The browser's window: the size of the README's screenshot.
const WINDOW: &str = "--window-size=1200,800";

/// Ports for chromedriver, one per driver in this process.
static NEXT_PORT: AtomicU16 = AtomicU16::new(9515);

/// The path of `program` on `PATH`.
fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

/// `chromedriver` running in a namespace.
#[derive(Debug)]
pub struct Chromedriver {
    _process: Process,
    port: u16,
    profile: TempDir,
    logs: TempDir,
}

impl Chromedriver {
    /// Starts chromedriver in `ns` and waits until it answers.
    ///
    /// # Errors
    /// If chromedriver or chromium is missing, or does not start.
    pub fn start(ns: &Arc<Netns>) -> Result<Self> {
        let driver = which("chromedriver").context(
            "chromedriver not found: install Debian's chromium and chromium-driver \
             (scripts/test.sh does)",
        )?;
        ensure!(
            which("chromium").is_some(),
            "chromium not found: install Debian's chromium (scripts/test.sh does)"
        );
        let port = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
        let logs = TempDir::new("chromedriver-logs")?;
        let profile = TempDir::new("chromium-profile")?;
        let mut cmd = ns.command(&driver);
        cmd.arg(format!("--port={port}"));
        let mut process = Process::spawn(cmd, "chromedriver", logs.path())?;
        let status = format!("http://127.0.0.1:{port}/status");
        wait::poll("chromedriver to answer", START_TIMEOUT, || {
            ensure!(
                process.is_running(),
                "chromedriver exited: {}",
                process.stderr()
            );
            let out = ns.exec(&["curl", "-sS", "--max-time", "2", &status])?;
            Ok(String::from_utf8_lossy(&out.stdout)
                .contains("\"ready\"")
                .then_some(()))
        })?;
        Ok(Self {
            _process: process,
            port,
            profile,
            logs,
        })
    }

    /// Where its logs are kept (shown when a test fails).
    pub fn log_dir(&self) -> PathBuf {
        self.logs.path().to_owned()
    }
}

/// One browser window on one page, driven over WebDriver.
pub struct Page {
    runtime: tokio::runtime::Runtime,
    client: Option<fantoccini::Client>,
}

impl Page {
    /// Opens a headless Chromium through `driver` on `url`. Call it on a
    /// thread inside the driver's namespace.
    ///
    /// # Errors
    /// If the session cannot be made or the page cannot be loaded.
    pub fn open(driver: &Chromedriver, url: &str) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the WebDriver client's runtime")?;
        let profile = format!("--user-data-dir={}", driver.profile.path().display());
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            // No proxy and no name lookups but of loopback: in a namespace
            // with a route out and no DNS server, Chromium's own lookups
            // would hold the first page for seconds of timeouts.
            "--no-proxy-server",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            WINDOW,
            profile.as_str(),
        ];
        let mut caps = Map::new();
        caps.insert("goog:chromeOptions".into(), json!({ "args": args }));
        let webdriver = format!("http://127.0.0.1:{}", driver.port);
        let client = runtime.block_on(async {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            fantoccini::ClientBuilder::new(connector)
                .capabilities(caps)
                .connect(&webdriver)
                .await
        });
        let client = client.map_err(|e| anyhow!("opening a Chromium session: {e}"))?;
        let page = Self {
            runtime,
            client: Some(client),
        };
        page.run(|c| async move { c.goto(url).await })
            .with_context(|| format!("loading {url}"))?;
        Ok(page)
    }

    /// Runs `script` in the page (a function body: `return …`) and gives
    /// what it returned.
    ///
    /// # Errors
    /// If the script throws or the session is gone.
    pub fn eval(&self, script: &str) -> Result<Value> {
        let script = script.to_owned();
        self.run(|c| async move { c.execute(&script, Vec::new()).await })
            .context("running a script in the page")
    }

    /// A PNG of the window.
    ///
    /// # Errors
    /// If the session is gone.
    pub fn screenshot(&self) -> Result<Vec<u8>> {
        self.run(|c| async move { c.screenshot().await })
            .context("taking a screenshot")
    }

    fn run<T, F>(&self, f: impl FnOnce(fantoccini::Client) -> F) -> Result<T>
    where
        F: std::future::Future<Output = Result<T, fantoccini::error::CmdError>>,
    {
        let client = self.client.clone().context("the session is closed")?;
        self.runtime
            .block_on(f(client))
            .map_err(|e| anyhow!("WebDriver: {e}"))
    }

    /// Ends the session (Chromium exits).
    ///
    /// # Errors
    /// If chromedriver does not answer.
    pub fn close(mut self) -> Result<()> {
        self.end()
    }

    fn end(&mut self) -> Result<()> {
        match self.client.take() {
            Some(c) => self
                .runtime
                .block_on(c.close())
                .map_err(|e| anyhow!("closing the Chromium session: {e}")),
            None => Ok(()),
        }
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        if let Err(e) = self.end() {
            eprintln!("warning: {e:#}");
        }
    }
}
