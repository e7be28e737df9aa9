//! PCP and NAT-PMP over a UDP socket connected to the gateway's port 5351
//! (so only the gateway's answers arrive).

use std::net::Ipv4Addr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::watch;

use super::super::client::{Client, ClientConfig, Event};
use super::super::natpmp::SERVER_PORT;
use super::super::{Mapping, Protocol};
use super::clock::{self, random};
use super::{publish, Outcome, PortMapperConfig};

/// Runs one client until it fails or is stopped.
pub(super) async fn run(
    protocol: Protocol,
    gateway: Ipv4Addr,
    local: Ipv4Addr,
    config: &PortMapperConfig,
    out: &watch::Sender<Option<Mapping>>,
    stop: &mut watch::Receiver<bool>,
) -> Outcome {
    let failed = Outcome::Failed { had_mapping: false };
    let socket = match UdpSocket::bind((local, 0)).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(error = %e, "port mapping: binding a socket");
            return failed;
        }
    };
    if let Err(e) = socket.connect((gateway, SERVER_PORT)).await {
        tracing::debug!(error = %e, "port mapping: connecting to the gateway");
        return failed;
    }
    let mut client = Client::new(
        ClientConfig {
            protocol,
            client_addr: local.into(),
            internal_port: config.internal_port,
            lifetime: config.lifetime,
            nonce: random(),
            seed: u64::from_le_bytes(random()),
        },
        clock::now(),
    );
    let mut had_mapping = false;
    let mut stopping = false;
    let mut buf = [0u8; 1100];
    loop {
        while let Some(d) = client.poll_transmit() {
            if let Err(e) = socket.send(&d).await {
                tracing::debug!(error = %e, "port mapping: sending to the gateway");
            }
        }
        while let Some(event) = client.poll_event() {
            match event {
                Event::Mapped(m) => {
                    had_mapping = true;
                    publish(out, m, config.internal_port);
                }
                Event::Lost => {
                    tracing::info!(protocol = protocol.name(), "port mapping lost");
                    out.send_replace(None);
                }
                Event::GatewayRestarted => {
                    tracing::info!(
                        protocol = protocol.name(),
                        "the gateway restarted: mapping again"
                    );
                }
                Event::Failed(why) => {
                    tracing::info!(protocol = protocol.name(), "port mapping failed: {why}");
                    return Outcome::Failed { had_mapping };
                }
                Event::Deleted => {
                    tracing::info!(protocol = protocol.name(), "port mapping deleted");
                    return Outcome::Stopped;
                }
            }
        }
        if client.is_done() {
            return if stopping {
                Outcome::Stopped
            } else {
                Outcome::Failed { had_mapping }
            };
        }
        let deadline = client.poll_timeout().map_or_else(
            || clock::tokio_now() + Duration::from_secs(3600),
            tokio::time::Instant::from_std,
        );
        tokio::select! {
            r = socket.recv(&mut buf) => match r {
                Ok(n) => client.handle_datagram(clock::now(), &buf[..n]),
                // ICMP port unreachable: nothing listens on the gateway's 5351.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    if stopping {
                        return Outcome::Stopped;
                    }
                    if client.mapping().is_none() {
                        tracing::debug!(protocol = protocol.name(), "port mapping: the gateway refused");
                        return Outcome::Failed { had_mapping };
                    }
                }
                Err(e) => tracing::debug!(error = %e, "port mapping: receiving"),
            },
            () = tokio::time::sleep_until(deadline) => client.handle_timeout(clock::now()),
            _ = stop.changed(), if !stopping => {
                stopping = true;
                out.send_replace(None);
                client.stop(clock::now());
            }
        }
    }
}
