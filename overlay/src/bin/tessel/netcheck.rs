//! `tessel netcheck`: runs the NAT behaviour discovery of
//! `tessel_nat::netcheck` over two real UDP sockets and prints its report.

use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6, ToSocketAddrs};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use socket2::{Domain, Protocol, Socket, Type};
use tessel_nat::netcheck::{Netcheck, Reflector, Report, SOCKETS};
use tessel_nat::stun::IntegrityKey;
use tessel_overlay::driver::clock;
use tessel_overlay::driver::state_dir::StateDir;
use tokio::net::UdpSocket;

use crate::cli::NetcheckArgs;
use crate::commands::parse_network;

/// A bound on the whole run, whatever the reflectors do.
const TIME_LIMIT: Duration = Duration::from_secs(30);

/// At most this many members of the peer cache are asked.
const MAX_MEMBERS: usize = 8;

/// Resolves `--stun HOST:PORT` arguments: the first IPv4 and the first IPv6
/// address of each name.
pub(crate) fn resolve_stun_servers(args: &[String]) -> Result<Vec<SocketAddr>> {
    let mut out = Vec::new();
    for arg in args {
        let addrs: Vec<SocketAddr> = arg
            .to_socket_addrs()
            .map_err(|e| {
                anyhow!(
                    "cannot use --stun {arg}: {e}. Give it as HOST:PORT, e.g. 198.51.100.1:3478"
                )
            })?
            .collect();
        let v4 = addrs.iter().find(|a| a.is_ipv4());
        let v6 = addrs.iter().find(|a| a.is_ipv6());
        if v4.is_none() && v6.is_none() {
            bail!("--stun {arg} resolves to no address");
        }
        out.extend(v4.into_iter().chain(v6).copied());
    }
    Ok(out)
}

/// Runs `tessel netcheck`.
pub(crate) fn run(args: NetcheckArgs) -> Result<()> {
    let mut reflectors: Vec<Reflector> = resolve_stun_servers(&args.stun)?
        .into_iter()
        .map(|addr| Reflector {
            addr,
            key: None,
            label: format!("stun {addr}"),
        })
        .collect();
    reflectors.extend(members(&args)?);
    if reflectors.is_empty() {
        bail!(
            "nothing to ask: pass --stun HOST:PORT (a STUN server), or start the node once with \
             `tessel up` (same --state-dir) so that its peer cache lists members to ask"
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut report = runtime.block_on(check(reflectors))?;
    report.port_mapping = Some(runtime.block_on(port_mapping_offered()));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
    }
    Ok(())
}

/// The members of the state dir's peer cache, keyed with the network key.
fn members(args: &NetcheckArgs) -> Result<Vec<Reflector>> {
    let dir = &args.state_dir.state_dir;
    let explicit = args.network.as_deref().map(parse_network).transpose()?;
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let state = StateDir::open(dir)?;
    let Some(network) = explicit.or(state.network_key()?) else {
        return Ok(Vec::new());
    };
    let key = IntegrityKey::new(&network.stun_secret());
    Ok(state
        .peers(&network)
        .into_iter()
        .take(MAX_MEMBERS)
        .map(|(id, addr)| Reflector {
            addr,
            key: Some(key.clone()),
            label: format!("member {}", id.short()),
        })
        .collect())
}

/// A UDP socket on a free port: IPv4 and IPv6 if the machine has IPv6,
/// else IPv4 only.
struct Sock {
    socket: UdpSocket,
    dual_stack: bool,
}

impl Sock {
    fn bind() -> Result<Self> {
        let dual = (|| -> std::io::Result<Socket> {
            let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
            s.set_only_v6(false)?;
            s.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)).into())?;
            Ok(s)
        })();
        let (socket, dual_stack) = match dual {
            Ok(s) => (s, true),
            Err(_) => {
                let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
                    .context("creating a UDP socket")?;
                s.bind(&SocketAddr::from(([0, 0, 0, 0], 0)).into())
                    .context("binding a UDP socket")?;
                (s, false)
            }
        };
        socket
            .set_nonblocking(true)
            .context("setting a socket non-blocking")?;
        let socket = UdpSocket::from_std(socket.into()).context("registering a socket")?;
        Ok(Self { socket, dual_stack })
    }

    fn port(&self) -> Option<u16> {
        self.socket.local_addr().ok().map(|a| a.port())
    }

    async fn send(&self, payload: &[u8], to: SocketAddr) {
        let to = match to {
            SocketAddr::V4(v4) if self.dual_stack => {
                SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
            }
            other => other,
        };
        if let Err(e) = self.socket.send_to(payload, to).await {
            tracing::debug!(%to, error = %e, "sending a STUN request");
        }
    }
}

/// `[::ffff:a.b.c.d]:p` → `a.b.c.d:p`.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

async fn check(reflectors: Vec<Reflector>) -> Result<Report> {
    let sockets = [Sock::bind()?, Sock::bind()?];
    let mut seed = [0u8; 32];
    clock::fill_random(&mut seed).map_err(|e| anyhow!("reading the OS random source: {e}"))?;
    let ports: [Option<u16>; SOCKETS] = [sockets[0].port(), sockets[1].port()];
    let start = clock::now();
    let mut nc = Netcheck::new(reflectors, ports, seed, start);
    let mut bufs = [[0u8; 2048]; SOCKETS];
    loop {
        while let Some(t) = nc.poll_transmit() {
            sockets[t.socket].send(&t.payload, t.to).await;
        }
        if nc.is_done() || start.elapsed() > TIME_LIMIT {
            break;
        }
        let deadline = nc.poll_timeout().unwrap_or(start + TIME_LIMIT);
        let [b0, b1] = &mut bufs;
        tokio::select! {
            r = sockets[0].socket.recv_from(b0) => {
                if let Ok((n, from)) = r {
                    nc.handle_datagram(clock::now(), 0, canonical(from), &b0[..n]);
                }
            }
            r = sockets[1].socket.recv_from(b1) => {
                if let Ok((n, from)) = r {
                    nc.handle_datagram(clock::now(), 1, canonical(from), &b1[..n]);
                }
            }
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                nc.handle_timeout(clock::now());
            }
        }
    }
    Ok(nc.report())
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Prints the report for people.
fn print(r: &Report) {
    println!(
        "udp          {}",
        if r.udp {
            "works"
        } else {
            "blocked (no reflector answered)"
        }
    );
    println!("ipv4         {}", yes_no(r.ipv4));
    println!(
        "ipv6         {}",
        r.ipv6.map_or("not checked (no IPv6 reflector)", yes_no)
    );
    println!("reflectors");
    for x in &r.reflectors {
        let auth = if x.authenticated {
            ", authenticated"
        } else {
            ""
        };
        match (x.mapped, x.rtt_ms) {
            (Some(m), Some(rtt)) => {
                let other = x
                    .other_address
                    .map(|o| format!("  other address {o}"))
                    .unwrap_or_default();
                println!("  {:<28} sees {m}  rtt {rtt:.1} ms{auth}{other}", x.label);
            }
            _ => println!("  {:<28} no answer", x.label),
        }
    }
    let reflexive: Vec<String> = r
        .reflexive_addresses
        .iter()
        .map(ToString::to_string)
        .collect();
    println!(
        "reflexive    {}",
        if reflexive.is_empty() {
            "none".to_owned()
        } else {
            reflexive.join(", ")
        }
    );
    let nat = match behind_nat(r) {
        Some(true) => "yes",
        Some(false) => "no (reflexive address is this machine's own)",
        None => "unknown",
    };
    println!("behind nat   {nat}");
    println!("mapping      {}", r.mapping);
    println!("ports        {}", r.allocation);
    println!("filtering    {}  ({})", r.filtering, r.filtering_note);
    println!(
        "hairpinning  {}",
        r.hairpinning.map_or("not checked", yes_no)
    );
    println!(
        "port mapping {}",
        r.port_mapping.as_deref().unwrap_or("not checked")
    );
}

/// Whether the reflexive address is none of this machine's addresses.
fn behind_nat(r: &Report) -> Option<bool> {
    let first = r.reflexive_addresses.first()?;
    let own: Vec<IpAddr> = tessel_overlay::driver::local_addrs::local_addresses(
        &tessel_overlay::identity::address::Ipv4Range::DEFAULT,
    );
    Some(!own.contains(&first.ip()))
}

/// Which port-mapping protocols the default gateway answers (asked all at
/// once, for at most 1.5 s).
async fn port_mapping_offered() -> String {
    use tessel_nat::portmap::shell::{default_gateway, local_addr_toward, probe};
    let Some(gateway) = default_gateway() else {
        return "no IPv4 default gateway".to_owned();
    };
    let Ok(local) = local_addr_toward(gateway) else {
        return format!("gateway {gateway} unreachable");
    };
    let offered = probe(gateway, local, std::time::Duration::from_millis(1500)).await;
    let names: Vec<&str> = [
        (offered.pcp, "PCP"),
        (offered.nat_pmp, "NAT-PMP"),
        (offered.upnp, "UPnP IGD"),
    ]
    .into_iter()
    .filter_map(|(yes, name)| yes.then_some(name))
    .collect();
    if names.is_empty() {
        format!("none offered by gateway {gateway}")
    } else {
        format!("{} (gateway {gateway})", names.join(", "))
    }
}
