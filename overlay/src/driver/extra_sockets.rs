//! The extra UDP sockets that the node opens for hole punching (see
//! [`crate::node::Event::OpenExtraSockets`]). Each has a small task that reads
//! it and hands what arrives to the daemon's task through a channel; the
//! daemon's task sends on them directly.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::udp::Udp;
use crate::limits::MAX_DATAGRAM;

/// Datagrams waiting between the readers and the daemon's task.
const QUEUE: usize = 1024;

/// A datagram that arrived on an extra socket.
#[derive(Debug)]
pub(crate) struct ExtraDatagram {
    pub(crate) socket: u16,
    pub(crate) from: SocketAddr,
    pub(crate) data: Vec<u8>,
}

/// The open extra sockets.
pub(crate) struct ExtraSockets {
    /// Address to bind (the main socket's, with port 0).
    bind: SocketAddr,
    open: HashMap<u16, (Arc<Udp>, JoinHandle<()>)>,
    tx: mpsc::Sender<ExtraDatagram>,
    /// What the readers received.
    pub(crate) rx: mpsc::Receiver<ExtraDatagram>,
}

impl ExtraSockets {
    /// No sockets yet; new ones bind to `listen`'s address, any port.
    pub(crate) fn new(listen: SocketAddr) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        Self {
            bind: SocketAddr::new(listen.ip(), 0),
            open: HashMap::new(),
            tx,
            rx,
        }
    }

    /// Opens the sockets `ids`; one that cannot be bound is left out (its
    /// probes are lost, which hole punching survives).
    pub(crate) fn open(&mut self, ids: &[u16]) {
        for &id in ids {
            if self.open.contains_key(&id) {
                continue;
            }
            let udp = match Udp::bind(self.bind) {
                Ok(u) => Arc::new(u),
                Err(e) => {
                    tracing::debug!(error = %e, "opening an extra socket");
                    continue;
                }
            };
            let reader = Arc::clone(&udp);
            let tx = self.tx.clone();
            let task = tokio::spawn(async move {
                let mut buf = vec![0u8; MAX_DATAGRAM];
                while let Ok((n, from)) = reader.recv_from(&mut buf).await {
                    let d = ExtraDatagram {
                        socket: id,
                        from,
                        data: buf[..n].to_vec(),
                    };
                    // Full queue: drop, as a full socket buffer would.
                    if let Err(mpsc::error::TrySendError::Closed(_)) = tx.try_send(d) {
                        break;
                    }
                }
            });
            self.open.insert(id, (udp, task));
        }
    }

    /// Closes the sockets `ids`.
    pub(crate) fn close(&mut self, ids: &[u16]) {
        for id in ids {
            if let Some((_, task)) = self.open.remove(id) {
                task.abort();
            }
        }
    }

    /// Sends from socket `id`, if it is open.
    pub(crate) async fn send(&self, id: u16, datagram: &[u8], to: SocketAddr) {
        let Some((udp, _)) = self.open.get(&id) else {
            return;
        };
        if let Err(e) = udp.send_to(datagram, to).await {
            tracing::debug!(error = %e, %to, socket = id, "sending from an extra socket");
        }
    }

    /// Sends an opener (IP TTL `ttl`) from socket `id`, if it is open (see
    /// [`Udp::try_send_with_ttl`]).
    pub(crate) fn send_with_ttl(&self, id: u16, datagram: &[u8], to: SocketAddr, ttl: u8) {
        let Some((udp, _)) = self.open.get(&id) else {
            return;
        };
        if let Err(e) = udp.try_send_with_ttl(datagram, to, ttl) {
            tracing::debug!(error = %e, %to, socket = id, "sending an opener from an extra socket");
        }
    }
}

impl Drop for ExtraSockets {
    fn drop(&mut self) {
        for (_, task) in self.open.values() {
            task.abort();
        }
    }
}
