//! The port mapper beside the node: it asks the gateway (PCP, NAT-PMP or
//! UPnP) to forward an external port to the node's UDP port, and hands the
//! current mapping to the node ([`crate::node::Node::set_port_mapping`]).

use tessel_nat::portmap::shell::{PortMapper, PortMapperConfig};
use tessel_nat::portmap::{Mapping, Protocol};
use tokio::sync::watch;

/// Whether and how the node's UDP port is mapped on the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PortMapping {
    /// No port mapping (`--no-port-mapping`).
    #[default]
    Off,
    /// PCP, then NAT-PMP, then UPnP: the first the gateway offers.
    Auto,
    /// Only this protocol, without probing the others.
    Only(Protocol),
}

/// A running mapper, or none.
pub(crate) struct Mapper {
    mapper: Option<PortMapper>,
    rx: Option<watch::Receiver<Option<Mapping>>>,
}

impl Mapper {
    /// Starts mapping `port` as `mode` says.
    pub(crate) fn start(mode: PortMapping, port: u16) -> Self {
        let only = match mode {
            PortMapping::Off => {
                return Self {
                    mapper: None,
                    rx: None,
                }
            }
            PortMapping::Auto => None,
            PortMapping::Only(p) => Some(p),
        };
        let mapper = PortMapper::start(PortMapperConfig {
            only,
            ..PortMapperConfig::new(port)
        });
        let rx = Some(mapper.subscribe());
        Self {
            mapper: Some(mapper),
            rx,
        }
    }

    /// Resolves with the mapping each time it changes; never, if there is
    /// no mapper.
    pub(crate) async fn changed(&mut self) -> Option<Mapping> {
        let Some(rx) = self.rx.as_mut() else {
            return std::future::pending().await;
        };
        if rx.changed().await.is_err() {
            self.rx = None;
            return std::future::pending().await;
        }
        *rx.borrow_and_update()
    }

    /// Deletes the mapping (bounded to about a second).
    pub(crate) async fn stop(self) {
        if let Some(m) = self.mapper {
            m.stop().await;
        }
    }
}
