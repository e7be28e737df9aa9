//! A node inside another program: no TUN device, no root, no separate
//! process. The program gets overlay sockets (TCP, UDP, ping) on the node's
//! addresses from [`EmbeddedNode::sockets`].
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use tessel_overlay::driver::embed::{EmbedOptions, EmbeddedNode};
//! use tessel_overlay::identity::NetworkKey;
//! use tokio::io::AsyncWriteExt;
//!
//! let key = NetworkKey::parse("tessel-net-…")?;
//! let opts = EmbedOptions::new("/tmp/my-app-node".into(), key, vec!["198.51.100.1:9740".parse()?]);
//! let node = EmbeddedNode::start(opts).await?;
//! let peer = "[fd4d:f650:962e:370d:cee4:a9ab:62e7:e8e7]:80".parse()?;
//! let mut stream = node.sockets().tcp_connect(peer).await?;
//! stream.write_all(b"GET / HTTP/1.0\r\n\r\n").await?;
//! node.shutdown().await?;
//! # Ok(())
//! # }
//! ```

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use data_encoding::HEXLOWER;
use tessel_stack::StackHandle;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::control::answers::{RecordFetchAnswer, RecordPublishAnswer, StatusAnswer};
use super::control::Request;
use super::runtime_dir;
use super::scopes::ScopeOptions;
use super::state_dir::StateDir;
use super::userspace::Userspace;
use super::{control, run, DeviceSpec, DriverError, Membership, RunOptions};
use crate::identity::address::{initial_addresses, Ipv4Range};
use crate::identity::{NetworkKey, NodeId};
use crate::node::Status;

/// How to start an embedded node.
#[derive(Debug, Clone)]
pub struct EmbedOptions {
    /// Where the node key and peer cache live (created if missing).
    pub state_dir: PathBuf,
    /// Where the control and engine sockets go; `None`:
    /// [`runtime_dir::daemon_default`] (`STATE_DIR/run` for any state dir
    /// but the system's).
    pub runtime_dir: Option<PathBuf>,
    /// The network to join.
    pub network_key: NetworkKey,
    /// The IPv4 range of the network's overlay addresses (every member
    /// uses the same).
    pub ipv4_range: Ipv4Range,
    /// UDP address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Members to contact first.
    pub peers: Vec<SocketAddr>,
    /// The scopes (off unless a root key is set).
    pub scopes: ScopeOptions,
    /// Managed mode: the owner and this node's certificate (`None`: the
    /// network key alone admits members).
    pub managed: Option<Membership>,
}

impl EmbedOptions {
    /// Options listening on a free UDP port of every address.
    pub fn new(state_dir: PathBuf, network_key: NetworkKey, peers: Vec<SocketAddr>) -> Self {
        Self {
            state_dir,
            runtime_dir: None,
            network_key,
            ipv4_range: Ipv4Range::DEFAULT,
            listen: SocketAddr::from(([0u16; 8], 0)),
            peers,
            scopes: ScopeOptions::default(),
            managed: None,
        }
    }
}

/// A running node inside this program.
pub struct EmbeddedNode {
    userspace: Userspace,
    node_id: NodeId,
    ipv6: Ipv6Addr,
    ipv4: Ipv4Addr,
    listen: SocketAddr,
    runtime_dir: PathBuf,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), DriverError>>,
}

impl std::fmt::Debug for EmbeddedNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EmbeddedNode({:?})", self.node_id)
    }
}

impl EmbeddedNode {
    /// Starts the node on the current tokio runtime and waits until its
    /// socket is bound.
    ///
    /// # Errors
    /// Returns an error if the state dir, the UDP socket or the control
    /// socket cannot be set up.
    pub async fn start(opts: EmbedOptions) -> Result<Self, DriverError> {
        let state = StateDir::open(&opts.state_dir)?;
        let node_id = state.node_key()?.id();
        let (ipv6, ipv4) = initial_addresses(&opts.ipv4_range, &opts.network_key.id(), &node_id);
        let (userspace, device) = Userspace::start(ipv6, ipv4, None);
        let runtime_dir = opts
            .runtime_dir
            .clone()
            .unwrap_or_else(|| runtime_dir::daemon_default(&opts.state_dir));
        let run_opts = RunOptions {
            state_dir: opts.state_dir.clone(),
            runtime_dir: runtime_dir.clone(),
            socket_group: runtime_dir::SocketGroup::Default,
            network_key: opts.network_key,
            ipv4_range: opts.ipv4_range,
            listen: opts.listen,
            peers: opts.peers,
            stun_servers: Vec::new(),
            settings: None,
            public_addresses: None,
            device: DeviceSpec::Channel(device),
            lan_discovery: false,
            port_mapping: super::portmap::PortMapping::Off,
            tcp: true,
            relay: true,
            engine_stack: Some(userspace.handle.clone()),
            tile: None,
            scopes: opts.scopes,
            managed: opts.managed,
            name: None,
            dns: None,
            metrics: None,
            map: None,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn(run(
            run_opts,
            move |_, bound| {
                let _ = ready_tx.send(bound);
            },
            async move {
                let _ = stopped.await;
            },
        ));
        let listen = match ready_rx.await {
            Ok(bound) => bound,
            // The node stopped before it was up: report why.
            Err(_) => {
                return Err(match task.await {
                    Ok(Err(e)) => e,
                    _ => DriverError::Io {
                        context: "starting the embedded node",
                        source: std::io::Error::other("the node task ended early"),
                    },
                })
            }
        };
        Ok(Self {
            userspace,
            node_id,
            ipv6,
            ipv4,
            listen,
            runtime_dir,
            stop,
            task,
        })
    }

    /// Makes overlay sockets on this node's addresses.
    pub fn sockets(&self) -> &StackHandle {
        &self.userspace.handle
    }

    /// This node's ID.
    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// This node's overlay IPv6 address.
    pub fn ipv6(&self) -> Ipv6Addr {
        self.ipv6
    }

    /// This node's overlay IPv4 address.
    pub fn ipv4(&self) -> Ipv4Addr {
        self.ipv4
    }

    /// The directory of the node's control and engine sockets
    /// (`engines.sock`, see [`super::engines::socket_path`]).
    pub fn runtime_dir(&self) -> &std::path::Path {
        &self.runtime_dir
    }

    /// The UDP address the node listens on.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// The node's status, as `tessel status` shows it.
    ///
    /// # Errors
    /// Returns an error if the node no longer answers.
    pub async fn status(&self) -> Result<Status, DriverError> {
        let answer: StatusAnswer = self.ask(Request::Status).await?;
        Ok(answer.node)
    }

    /// Publishes `value` under `key`, signed by this node, at the members
    /// nearest the key, for `ttl` (at most an hour; publish again to renew).
    ///
    /// # Errors
    /// Returns an error if the value is too long or the node no longer
    /// answers.
    pub async fn publish_record(
        &self,
        key: [u8; 32],
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), DriverError> {
        let request = Request::RecordPublish {
            key: HEXLOWER.encode(&key),
            ttl_s: ttl.as_secs(),
            value: HEXLOWER.encode(value),
        };
        let _: RecordPublishAnswer = self.ask(request).await?;
        Ok(())
    }

    /// Fetches the values published under `key`, each with its publisher
    /// (signatures checked); empty if no member has any.
    ///
    /// # Errors
    /// Returns an error if the node no longer answers, or too many fetches
    /// are in flight.
    pub async fn fetch_record(&self, key: [u8; 32]) -> Result<Vec<(NodeId, Vec<u8>)>, DriverError> {
        let request = Request::RecordFetch {
            key: HEXLOWER.encode(&key),
        };
        let answer: RecordFetchAnswer = self.ask(request).await?;
        answer
            .records
            .iter()
            .map(|r| {
                let publisher = NodeId::parse(&r.publisher).ok();
                let value = HEXLOWER.decode(r.value.as_bytes()).ok();
                publisher.zip(value).ok_or_else(|| DriverError::Io {
                    context: "reading the node's answer",
                    source: std::io::Error::other(format!("a record entry does not read: {r:?}")),
                })
            })
            .collect()
    }

    /// Sends a control request and reads its answer as a `T`.
    async fn ask<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        request: Request,
    ) -> Result<T, DriverError> {
        let path = runtime_dir::control_socket(&self.runtime_dir);
        tokio::task::spawn_blocking(move || control::client::call_as::<T>(&path, &request))
            .await
            .map_err(|e| DriverError::Io {
                context: "asking the node",
                source: std::io::Error::other(e),
            })?
            .map_err(|e| DriverError::Io {
                context: "asking the node",
                source: std::io::Error::other(e),
            })
    }

    /// Stops the node and waits for it.
    ///
    /// # Errors
    /// Returns the error that stopped the node, if one did.
    pub async fn shutdown(self) -> Result<(), DriverError> {
        let _ = self.stop.send(());
        let result = self.task.await.unwrap_or(Ok(()));
        drop(self.userspace);
        result
    }
}
