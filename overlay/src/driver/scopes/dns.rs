//! The DNS bootstrap in the daemon: a task that looks the root runtimes up
//! at start, again every [`REFRESH`] (every [`RETRY`] while it fails), and
//! sooner when [`DnsTask::wake`] says a query found nothing to start from
//! (at most once per [`MIN_GAP`]). Each lookup's outcome goes to the event
//! loop, which remembers good answers in the state dir and falls back on
//! the remembered one when DNS fails.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::driver::bootstrap::{resolve_bootstrap, BootstrapError};
use crate::identity::NodeId;

/// How often a good answer is looked up again.
pub const REFRESH: Duration = Duration::from_secs(300);
/// How soon a failed lookup is tried again.
pub const RETRY: Duration = Duration::from_secs(30);
/// The least time between two lookups.
pub const MIN_GAP: Duration = Duration::from_secs(10);

/// One lookup's outcome.
#[derive(Debug)]
pub struct DnsAnswer {
    /// The name looked up.
    pub name: String,
    /// The root runtimes, or why none.
    pub result: Result<Vec<NodeId>, BootstrapError>,
}

/// The running lookup task; stops when dropped.
#[derive(Debug)]
pub struct DnsTask {
    wake: mpsc::Sender<()>,
    task: JoinHandle<()>,
}

impl DnsTask {
    /// Starts looking `name` up (through `server`, else the system's
    /// resolvers); each outcome goes through `wrap` to `tx`.
    pub fn start<T: Send + 'static>(
        name: String,
        server: Option<SocketAddr>,
        tx: mpsc::Sender<T>,
        wrap: fn(DnsAnswer) -> T,
    ) -> Self {
        let (wake, mut woken) = mpsc::channel::<()>(1);
        let task = tokio::spawn(async move {
            loop {
                let started = crate::driver::clock::tokio_now();
                let result = resolve_bootstrap(&name, server).await;
                let wait = if result.is_ok() { REFRESH } else { RETRY };
                let answer = DnsAnswer {
                    name: name.clone(),
                    result,
                };
                if tx.send(wrap(answer)).await.is_err() {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    w = woken.recv() => {
                        if w.is_none() {
                            return;
                        }
                        tokio::time::sleep_until(started + MIN_GAP).await;
                    }
                }
            }
        });
        Self { wake, task }
    }

    /// Asks for a lookup soon (a query found no root runtime to ask).
    pub fn wake(&self) {
        let _ = self.wake.try_send(());
    }
}

impl Drop for DnsTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}
