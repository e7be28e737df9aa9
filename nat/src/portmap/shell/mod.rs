//! The tokio shell of the port mapper: it finds the default gateway, asks
//! which protocols it answers ([`probe()`]), keeps one mapping of the node's
//! UDP port alive with the first that works (PCP, then NAT-PMP, then UPnP),
//! publishes the current mapping on a [`watch`] channel, and deletes it
//! when stopped.
//!
//! If the gateway offers nothing, or every protocol fails, it tries again
//! later (from 30 s, doubling up to 10 minutes). It makes no protocol
//! decisions of its own: PCP and NAT-PMP are [`super::client::Client`]s;
//! UPnP is a short sequence of HTTP exchanges ([`upnp`]).

mod clock;
mod probe;
mod route;
mod udp;
mod upnp;

use std::net::Ipv4Addr;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Mapping, Protocol};
pub use probe::probe;
pub use route::{default_gateway, local_addr_toward};

/// How long [`PortMapper::stop`] waits for the deletion.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(1);

/// How long [`probe()`] waits for answers.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

const RETRY_MIN: Duration = Duration::from_secs(30);
const RETRY_MAX: Duration = Duration::from_secs(600);

/// What to map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortMapperConfig {
    /// The node's UDP port.
    pub internal_port: u16,
    /// Use only this protocol, without probing (for tests and debugging).
    pub only: Option<Protocol>,
    /// Lifetime (lease) to ask for, in seconds.
    pub lifetime: u32,
}

impl PortMapperConfig {
    /// Maps `internal_port` with any protocol, for two hours at a time.
    pub fn new(internal_port: u16) -> Self {
        Self {
            internal_port,
            only: None,
            lifetime: super::client::DEFAULT_LIFETIME,
        }
    }
}

/// A running port mapper.
#[derive(Debug)]
pub struct PortMapper {
    mapping: watch::Receiver<Option<Mapping>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// How one attempt with one protocol ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Stopped on request (the mapping, if any, was deleted or the
    /// deletion was sent).
    Stopped,
    /// Gave up; `had_mapping` if a mapping existed before.
    Failed { had_mapping: bool },
}

impl PortMapper {
    /// Starts mapping in a new task of the current tokio runtime.
    pub fn start(config: PortMapperConfig) -> Self {
        let (tx, mapping) = watch::channel(None);
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(config, tx, stop_rx));
        Self {
            mapping,
            stop,
            task,
        }
    }

    /// A receiver of the current mapping (`None` while there is none).
    pub fn subscribe(&self) -> watch::Receiver<Option<Mapping>> {
        self.mapping.clone()
    }

    /// The current mapping.
    pub fn current(&self) -> Option<Mapping> {
        *self.mapping.borrow()
    }

    /// Deletes the mapping and ends the task, waiting at most
    /// [`STOP_TIMEOUT`] for the gateway.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(STOP_TIMEOUT, &mut self.task)
            .await
            .is_err()
        {
            tracing::debug!("port mapping: deletion unanswered, giving up");
            self.task.abort();
        }
    }
}

async fn run(
    config: PortMapperConfig,
    out: watch::Sender<Option<Mapping>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut retry = RETRY_MIN;
    let mut first = true;
    loop {
        match attempt(&config, &out, &mut stop, first).await {
            Outcome::Stopped => return,
            Outcome::Failed { had_mapping } => {
                out.send_replace(None);
                if had_mapping {
                    retry = RETRY_MIN;
                }
            }
        }
        first = false;
        tokio::select! {
            () = tokio::time::sleep(retry) => {}
            _ = stop.changed() => return,
        }
        retry = (retry * 2).min(RETRY_MAX);
    }
}

/// One round: find the gateway, choose protocols, run them in turn.
async fn attempt(
    config: &PortMapperConfig,
    out: &watch::Sender<Option<Mapping>>,
    stop: &mut watch::Receiver<bool>,
    first: bool,
) -> Outcome {
    let none = Outcome::Failed { had_mapping: false };
    if *stop.borrow() {
        return Outcome::Stopped;
    }
    let Some(gateway) = default_gateway() else {
        tracing::debug!("port mapping: no IPv4 default gateway");
        return none;
    };
    let local = match local_addr_toward(gateway) {
        Ok(a) => a,
        Err(e) => {
            tracing::debug!(%gateway, error = %e, "port mapping: no route to the gateway");
            return none;
        }
    };
    let protocols = match config.only {
        Some(p) => vec![p],
        None => {
            let offered = tokio::select! {
                o = probe(gateway, local, PROBE_TIMEOUT) => o,
                _ = stop.changed() => return Outcome::Stopped,
            };
            if offered.protocols().is_empty() {
                if first {
                    tracing::info!(%gateway, "port mapping: the gateway offers no PCP, NAT-PMP or UPnP");
                }
                return none;
            }
            offered.protocols()
        }
    };
    let mut had_mapping = false;
    for protocol in protocols {
        let outcome = run_one(protocol, gateway, local, config, out, stop).await;
        match outcome {
            Outcome::Stopped => return Outcome::Stopped,
            Outcome::Failed { had_mapping: true } => had_mapping = true,
            Outcome::Failed { had_mapping: false } => {}
        }
        if had_mapping {
            break;
        }
    }
    Outcome::Failed { had_mapping }
}

async fn run_one(
    protocol: Protocol,
    gateway: Ipv4Addr,
    local: Ipv4Addr,
    config: &PortMapperConfig,
    out: &watch::Sender<Option<Mapping>>,
    stop: &mut watch::Receiver<bool>,
) -> Outcome {
    match protocol {
        Protocol::Upnp => upnp::run(gateway, local, config, out, stop).await,
        _ => udp::run(protocol, gateway, local, config, out, stop).await,
    }
}

/// Logs and publishes a new mapping.
fn publish(out: &watch::Sender<Option<Mapping>>, mapping: Mapping, internal_port: u16) {
    let previous = *out.borrow();
    if previous.map(|p| (p.protocol, p.external)) != Some((mapping.protocol, mapping.external)) {
        tracing::info!(
            protocol = mapping.protocol.name(),
            external = %mapping.external,
            internal_port,
            lifetime_secs = mapping.lifetime.as_secs(),
            "port mapped"
        );
    }
    out.send_replace(Some(mapping));
}
