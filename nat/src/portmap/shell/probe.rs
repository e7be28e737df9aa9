//! Which port-mapping protocols a gateway answers: a PCP ANNOUNCE, a
//! NAT-PMP external address request and an SSDP search, all at once,
//! retransmitted a few times within the time limit.

use std::net::Ipv4Addr;
use std::time::Duration;

use tokio::net::UdpSocket;

use super::super::natpmp::{self, SERVER_PORT};
use super::super::{pcp, Offered};
use super::{clock, upnp};

/// When the UDP requests are sent again, from the start.
const RESEND_AT: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_millis(250),
    Duration::from_millis(750),
];

/// Asks `gateway` (reached from `local`) which protocols it offers,
/// waiting at most `timeout`.
pub async fn probe(gateway: Ipv4Addr, local: Ipv4Addr, timeout: Duration) -> Offered {
    let deadline = clock::tokio_now() + timeout;
    let udp = async {
        let (pcp, nat_pmp) = tokio::join!(
            ask(
                gateway,
                local,
                deadline,
                pcp::emit_request(0, local.into(), None),
                |b| {
                    match pcp::Response::new_checked(b) {
                        Ok(_) => Some(true),
                        // A NAT-PMP-only gateway answers with its version.
                        Err(_) => natpmp::Response::new_checked(b).ok().map(|_| false),
                    }
                }
            ),
            ask(
                gateway,
                local,
                deadline,
                natpmp::emit_external_address_request().to_vec(),
                |b| natpmp::Response::new_checked(b).ok().map(|_| true),
            ),
        );
        (pcp.unwrap_or(false), nat_pmp.unwrap_or(false))
    };
    let upnp = async {
        tokio::time::timeout_at(deadline, upnp::discover(gateway, local))
            .await
            .is_ok_and(|r| r.is_ok())
    };
    let ((pcp, nat_pmp), upnp) = tokio::join!(udp, upnp);
    let offered = Offered { pcp, nat_pmp, upnp };
    tracing::debug!(%gateway, ?offered, "port mapping probe");
    offered
}

/// Sends `request` to the gateway's port 5351 until `judge` says
/// something of an answer or the deadline passes.
async fn ask(
    gateway: Ipv4Addr,
    local: Ipv4Addr,
    deadline: tokio::time::Instant,
    request: Vec<u8>,
    judge: impl Fn(&[u8]) -> Option<bool>,
) -> Option<bool> {
    let socket = UdpSocket::bind((local, 0)).await.ok()?;
    socket.connect((gateway, SERVER_PORT)).await.ok()?;
    let start = clock::tokio_now();
    let mut buf = [0u8; 1100];
    let mut next = 0;
    loop {
        let resend = RESEND_AT.get(next).map(|d| start + *d);
        let wake = resend.map_or(deadline, |r| r.min(deadline));
        tokio::select! {
            r = socket.recv(&mut buf) => match r {
                Ok(n) => if let Some(v) = judge(&buf[..n]) { return Some(v) },
                // ICMP port unreachable: nothing listens there.
                Err(_) => return None,
            },
            () = tokio::time::sleep_until(wake) => {
                if clock::tokio_now() >= deadline {
                    return None;
                }
                let _ = socket.send(&request).await;
                next += 1;
            }
        }
    }
}
