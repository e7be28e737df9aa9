//! UPnP IGD over real sockets: SSDP discovery, the description, and the
//! WANIPConnection actions, each HTTP exchange bounded in time; then a
//! lease renewed at half its duration and deleted on stop.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::watch;

use super::super::upnp::description::{find_wan_service, WanService};
use super::super::upnp::soap::{self, Action, Answer};
use super::super::upnp::url::HttpUrl;
use super::super::upnp::{http, ssdp};
use super::super::{Mapping, Protocol, WireError};
use super::clock::{self, random};
use super::{publish, Outcome, PortMapperConfig};

/// Limit of one HTTP exchange.
const HTTP_TIMEOUT: Duration = Duration::from_secs(2);

/// Limit of the SSDP search.
const SEARCH_TIMEOUT: Duration = Duration::from_millis(1500);

/// Wait before retrying a failed renewal.
const RENEW_RETRY: Duration = Duration::from_secs(60);

/// What the mapping's description says on the router.
const DESCRIPTION: &str = "tessel";

/// Why a UPnP step failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum UpnpError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("malformed answer: {0}")]
    Wire(#[from] WireError),
    #[error("timed out")]
    Timeout,
    #[error("no answer to the search")]
    NoAnswer,
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("UPnP error {code} ({description})")]
    Fault { code: u16, description: String },
    #[error("the gateway has no usable external address")]
    NoExternalAddress,
    #[error("the URL's host is not an IP address: {0}")]
    Host(String),
}

/// Finds the gateway's WAN connection service.
pub(super) async fn discover(gateway: Ipv4Addr, local: Ipv4Addr) -> Result<WanService, UpnpError> {
    let location = search(gateway, local).await?;
    let url = HttpUrl::parse(&location)?;
    let resp = exchange(&url, http::emit_get(&url)).await?;
    if resp.status != 200 {
        return Err(UpnpError::Status(resp.status));
    }
    let doc = String::from_utf8_lossy(&resp.body);
    Ok(find_wan_service(&doc, &url)?)
}

/// Sends M-SEARCH to the multicast group and to the gateway itself; the
/// first answer from the gateway's address gives the description's URL.
async fn search(gateway: Ipv4Addr, local: Ipv4Addr) -> Result<String, UpnpError> {
    let socket = UdpSocket::bind((local, 0)).await?;
    let request = ssdp::emit_search(ssdp::IGD_TARGET, 1);
    let deadline = clock::tokio_now() + SEARCH_TIMEOUT;
    let mut buf = vec![0u8; ssdp::MAX_LEN];
    for round in 0..3u32 {
        let _ = socket
            .send_to(&request, SocketAddr::V4(ssdp::MULTICAST))
            .await;
        let _ = socket
            .send_to(&request, (gateway, ssdp::MULTICAST.port()))
            .await;
        let round_end = (clock::tokio_now() + Duration::from_millis(250 << round)).min(deadline);
        loop {
            let r = tokio::time::timeout_at(round_end, socket.recv_from(&mut buf)).await;
            let Ok(Ok((n, from))) = r else { break };
            if from.ip() != IpAddr::V4(gateway) {
                continue;
            }
            if let Ok(answer) = ssdp::parse_answer(&buf[..n]) {
                return Ok(answer.location);
            }
        }
        if clock::tokio_now() >= deadline {
            break;
        }
    }
    Err(UpnpError::NoAnswer)
}

/// One HTTP request and its response, over a new connection.
async fn exchange(url: &HttpUrl, request: Vec<u8>) -> Result<http::Response, UpnpError> {
    let host: IpAddr = url
        .host
        .parse()
        .map_err(|_| UpnpError::Host(url.host.clone()))?;
    let work = async {
        let mut stream = TcpStream::connect((host, url.port)).await?;
        stream.write_all(&request).await?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await?;
            buf.extend_from_slice(&chunk[..n]);
            if let Some(resp) = http::parse_response(&buf, n == 0)? {
                return Ok(resp);
            }
        }
    };
    tokio::time::timeout(HTTP_TIMEOUT, work)
        .await
        .map_err(|_| UpnpError::Timeout)?
}

/// Sends an action and returns its answer (faults are errors).
async fn act(service: &WanService, action: &Action) -> Result<Answer, UpnpError> {
    let body = action.envelope(&service.service_type);
    let req = http::emit_soap_post(
        &service.control_url,
        &service.service_type,
        action.name,
        &body,
    );
    let resp = exchange(&service.control_url, req).await?;
    let text = String::from_utf8_lossy(&resp.body);
    match soap::parse_answer(&text, action.name) {
        Ok(Answer::Fault { code, description }) => Err(UpnpError::Fault { code, description }),
        Ok(answer) if resp.status == 200 => Ok(answer),
        Ok(_) => Err(UpnpError::Status(resp.status)),
        Err(e) if resp.status == 200 => Err(e.into()),
        Err(_) => Err(UpnpError::Status(resp.status)),
    }
}

/// Adds the mapping, on the node's port if free, else on a port the
/// gateway picks (IGDv2) or a random one; returns the external port and
/// the lease granted.
async fn add(
    service: &WanService,
    local: Ipv4Addr,
    internal_port: u16,
    mut lease: u32,
    port: u16,
) -> Result<(u16, u32), UpnpError> {
    let mut port = port;
    for _ in 0..4 {
        let action =
            Action::add_port_mapping(false, port, local, internal_port, lease, DESCRIPTION);
        match act(service, &action).await {
            Ok(_) => return Ok((port, lease)),
            Err(UpnpError::Fault { code, .. })
                if code == soap::ERR_ONLY_PERMANENT && lease != 0 =>
            {
                lease = 0;
            }
            Err(UpnpError::Fault { code, .. }) if code == soap::ERR_CONFLICT => {
                if service.is_v2() {
                    let any = Action::add_port_mapping(
                        true,
                        port,
                        local,
                        internal_port,
                        lease,
                        DESCRIPTION,
                    );
                    if let Some(p) = act(service, &any).await?.reserved_port() {
                        return Ok((p, lease));
                    }
                }
                let r: [u8; 2] = random();
                port = 1024 + u16::from_le_bytes(r) % (65535 - 1024);
            }
            Err(e) => return Err(e),
        }
    }
    Err(UpnpError::Fault {
        code: soap::ERR_CONFLICT,
        description: "no free external port".into(),
    })
}

/// Maps the port, renews it, deletes it on stop.
pub(super) async fn run(
    gateway: Ipv4Addr,
    local: Ipv4Addr,
    config: &PortMapperConfig,
    out: &watch::Sender<Option<Mapping>>,
    stop: &mut watch::Receiver<bool>,
) -> Outcome {
    let failed = |had_mapping, e: UpnpError| {
        tracing::info!(protocol = "upnp", "port mapping failed: {e}");
        Outcome::Failed { had_mapping }
    };
    let setup = async {
        let service = discover(gateway, local).await?;
        let ip = act(&service, &Action::get_external_ip())
            .await?
            .external_ip()
            .filter(|ip| !ip.is_unspecified())
            .ok_or(UpnpError::NoExternalAddress)?;
        let (port, lease) = add(
            &service,
            local,
            config.internal_port,
            config.lifetime,
            config.internal_port,
        )
        .await?;
        Ok::<_, UpnpError>((service, ip, port, lease))
    };
    let (service, ip, port, mut lease) = tokio::select! {
        r = setup => match r {
            Ok(v) => v,
            Err(e) => return failed(false, e),
        },
        _ = stop.changed() => return Outcome::Stopped,
    };
    let mapping = |lease: u32| Mapping {
        protocol: Protocol::Upnp,
        external: SocketAddr::new(ip, port),
        lifetime: Duration::from_secs(u64::from(lease)),
    };
    publish(out, mapping(lease), config.internal_port);
    let mut expires =
        (lease != 0).then(|| clock::tokio_now() + Duration::from_secs(u64::from(lease)));
    let mut next = if lease == 0 {
        None
    } else {
        Some(clock::tokio_now() + Duration::from_secs(u64::from(lease / 2)))
    };
    loop {
        let wake = next.unwrap_or_else(|| clock::tokio_now() + Duration::from_secs(86_400));
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {
                match add(&service, local, config.internal_port, config.lifetime, port).await {
                    Ok((p, l)) if p == port => {
                        lease = l;
                        publish(out, mapping(lease), config.internal_port);
                        let now = clock::tokio_now();
                        expires = (lease != 0).then(|| now + Duration::from_secs(u64::from(lease)));
                        next = (lease != 0).then(|| now + Duration::from_secs(u64::from(lease / 2)));
                    }
                    Ok((p, _)) => {
                        // The port moved: drop the new one and start over.
                        let _ = act(&service, &Action::delete_port_mapping(p)).await;
                        return failed(true, UpnpError::Fault { code: soap::ERR_CONFLICT, description: "port taken".into() });
                    }
                    Err(e) => {
                        let now = clock::tokio_now();
                        if expires.is_some_and(|x| now + RENEW_RETRY >= x) {
                            return failed(true, e);
                        }
                        tracing::debug!(error = %e, "port mapping: renewal failed, retrying");
                        next = Some(now + RENEW_RETRY);
                    }
                }
            }
            _ = stop.changed() => {
                out.send_replace(None);
                match act(&service, &Action::delete_port_mapping(port)).await {
                    Ok(_) => tracing::info!(protocol = "upnp", "port mapping deleted"),
                    Err(e) => tracing::info!(protocol = "upnp", "port mapping deletion failed: {e}"),
                }
                return Outcome::Stopped;
            }
        }
    }
}
