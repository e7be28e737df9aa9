//! Running the node without a TUN device: the userspace TCP/IP stack
//! (`tessel-stack`) takes the node's IP packets, and local apps reach the
//! overlay through its sockets, a SOCKS5 proxy and port forwards.
//!
//! Message flow: stack → [`ChannelDevice`] → node → UDP, and back; the
//! SOCKS5 server and the forwards are tasks of their own that use the stack's
//! handle.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use tessel_stack::proxy::{
    Credentials, Expose, ExposeSpec, Forward, ForwardOptions, ForwardSpec, Socks5Config,
    Socks5Server,
};
use tessel_stack::{StackConfig, StackHandle};
use tokio::task::JoinHandle;

use super::{ChannelDevice, DriverError};
use crate::limits::TUN_MTU;

/// What the userspace mode offers to local apps.
#[derive(Debug, Clone, Default)]
pub struct UserspaceOptions {
    /// Where to run a SOCKS5 proxy (loopback only).
    pub socks5: Option<SocketAddr>,
    /// The username and password its clients must give, if any.
    pub socks5_credentials: Option<Credentials>,
    /// Local ports forwarded to overlay services (`--forward`).
    pub forwards: Vec<ForwardSpec>,
    /// Overlay ports forwarded to local services (`--expose`).
    pub exposes: Vec<ExposeSpec>,
}

/// A running userspace stack and the services on it.
pub struct Userspace {
    /// Makes overlay sockets.
    pub handle: StackHandle,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Userspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Userspace")
    }
}

impl Userspace {
    /// Starts a stack with the node's overlay addresses (on the current tokio
    /// runtime); returns it and the node's side of the packet link, for the
    /// event loop. `memory_limit` bounds the bytes of all TCP socket buffers
    /// together (`None`: the stack's default, 256 MiB).
    pub fn start(
        ipv6: Ipv6Addr,
        ipv4: Ipv4Addr,
        memory_limit: Option<usize>,
    ) -> (Self, ChannelDevice) {
        let mut config = StackConfig::new(ipv6, ipv4);
        config.mtu = TUN_MTU;
        if let Some(limit) = memory_limit {
            config.memory_limit = limit;
        }
        let (stack, handle, link) = tessel_stack::new(config);
        let task = tokio::spawn(stack.run());
        let device = ChannelDevice::new(link.to_node, link.from_node);
        (
            Self {
                handle,
                tasks: vec![task],
            },
            device,
        )
    }

    /// Starts the SOCKS5 proxy and the forwards; returns a line per service
    /// for the user.
    ///
    /// # Errors
    /// Returns an error if a local or overlay port cannot be bound.
    pub async fn serve(&mut self, opts: &UserspaceOptions) -> Result<Vec<String>, DriverError> {
        let mut lines = Vec::new();
        if let Some(listen) = opts.socks5 {
            let config = Socks5Config {
                listen,
                credentials: opts.socks5_credentials.clone(),
                ..Socks5Config::default()
            };
            let server = Socks5Server::bind(config, self.handle.clone())
                .await
                .map_err(|e| DriverError::Service {
                    what: format!("SOCKS5 proxy on {listen}"),
                    reason: e.to_string(),
                })?;
            lines.push(format!("SOCKS5 proxy on {}", server.local_addr()));
            self.tasks.push(tokio::spawn(server.run()));
        }
        for spec in &opts.forwards {
            let fwd = Forward::bind(*spec, self.handle.clone(), ForwardOptions::default())
                .await
                .map_err(|e| DriverError::Service {
                    what: format!("--forward {spec}"),
                    reason: e.to_string(),
                })?;
            lines.push(format!(
                "forwarding {spec} (listening on {})",
                fwd.local_addr()
            ));
            self.tasks.push(tokio::spawn(fwd.run()));
        }
        for spec in &opts.exposes {
            let exp = Expose::bind(*spec, self.handle.clone(), ForwardOptions::default())
                .await
                .map_err(|e| DriverError::Service {
                    what: format!("--expose {spec}"),
                    reason: e.to_string(),
                })?;
            lines.push(format!("exposing {spec}"));
            self.tasks.push(tokio::spawn(exp.run()));
        }
        Ok(lines)
    }
}

impl Drop for Userspace {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
