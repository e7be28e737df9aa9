//! STUN and NAT behaviour discovery against a real third-party STUN server:
//! Debian's coturn (`turnserver`), STUN only, with two public addresses so
//! that RFC 5780 (OTHER-ADDRESS, CHANGE-REQUEST) works. `tessel netcheck`
//! runs behind real kernel NATs of every kind and must report what each
//! router does; a running member answers other members' keyed requests and
//! nobody else's.
//!
//! Needs root, `nft`, `turnserver` (package coturn), and the `tessel`
//! binary (built by cargo along with the tests).

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;
use tessel_nat::stun::{
    decode, encode_request, IntegrityKey, Message, RequestOptions, TransactionId,
};
use tessel_netns::lab::coturn::Coturn;
use tessel_netns::lab::nat::{SEQUENTIAL_FIRST_PORT, SEQUENTIAL_PORTS};
use tessel_netns::lab::{Internet, NatKind};
use tessel_netns::netns::Netns;
use tessel_netns::process::describe;
use tessel_netns::tessel::{self, new_network_key, DEFAULT_PORT};
use tessel_netns::{NodeConfig, TempDir, TesselNode};
use tessel_overlay::identity::NetworkKey;

/// Time limit of one `tessel netcheck` run (it bounds itself at 30 s).
const NETCHECK_TIMEOUT: Duration = Duration::from_secs(45);

/// Runs `tessel netcheck --json` in `ns` with `args` and returns the report.
fn netcheck(ns: &Netns, args: &[&str]) -> Result<Value> {
    let mut all = vec!["netcheck", "--json"];
    all.extend_from_slice(args);
    let out = tessel::run_once(Some(ns), &all, NETCHECK_TIMEOUT)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "tessel netcheck failed ({}): {}{stdout}",
        describe(out.status),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value =
        serde_json::from_str(&stdout).with_context(|| format!("netcheck printed {stdout}"))?;
    eprintln!("netcheck in {}: {report:#}", ns.name());
    Ok(report)
}

/// `tessel netcheck --stun <coturn>` from a host behind a NAT of `kind`
/// (or from a public host if `None`), with a state dir that holds nothing.
fn check(kind: Option<NatKind>) -> Result<(Value, IpAddr)> {
    let internet = Internet::new()?;
    let server = internet.add_host("stun")?;
    let coturn = Coturn::start(&internet, &server)?;
    let (ns, public_ip, _nat) = match kind {
        Some(kind) => {
            let nat = internet.add_nat("nat", kind)?;
            let host = nat.add_host("h")?;
            let wan = IpAddr::V4(nat.wan_addr());
            (host.ns, wan, Some(nat))
        }
        None => {
            let host = internet.add_host("h")?;
            (host.ns.clone(), IpAddr::V4(host.ipv4), None)
        }
    };
    let empty = TempDir::new("netcheck-state")?;
    let state = empty.path().join("none");
    let r = netcheck(
        &ns,
        &[
            "--stun",
            &coturn.addr.to_string(),
            "--stun",
            &coturn.ipv6.to_string(),
            "--state-dir",
            &state.display().to_string(),
        ],
    )?;
    ensure!(
        !state.exists(),
        "netcheck created the state dir {}",
        state.display()
    );
    Ok((r, public_ip))
}

fn str_of<'a>(r: &'a Value, key: &str) -> &'a str {
    r[key].as_str().unwrap_or("")
}

/// UDP works, coturn answered and supports RFC 5780, and every reflexive
/// address is on `public_ip`.
fn check_answered(r: &Value, public_ip: IpAddr) -> Result<()> {
    ensure!(r["udp"] == true && r["ipv4"] == true, "UDP blocked? {r}");
    ensure!(
        r["rfc5780_reflector"].is_string(),
        "coturn was not used for RFC 5780 tests: {r}"
    );
    let reflexive = r["reflexive_addresses"].as_array().context("reflexive")?;
    ensure!(!reflexive.is_empty(), "no reflexive address: {r}");
    for a in reflexive {
        let a: SocketAddr = a.as_str().context("address")?.parse()?;
        ensure!(
            a.is_ipv6() || a.ip() == public_ip,
            "reflexive {a}, expected on {public_ip}"
        );
    }
    ensure!(
        r["reflectors"][0]["rtt_ms"]
            .as_f64()
            .is_some_and(|t| t > 0.0),
        "no RTT: {r}"
    );
    // The lab's routers run no PCP, NAT-PMP or UPnP server (the portmap
    // tests add miniupnpd and check that netcheck names its protocols).
    let offered = r["port_mapping"].as_str().unwrap_or_default();
    ensure!(
        offered.starts_with("none offered") || offered.starts_with("no IPv4"),
        "port mapping: {offered:?}"
    );
    Ok(())
}

fn expect(r: &Value, mapping: &str, allocation: &str, filtering: &str) -> Result<()> {
    let got = (
        str_of(r, "mapping"),
        str_of(&r["allocation"], "kind"),
        str_of(r, "filtering"),
    );
    ensure!(
        got == (mapping, allocation, filtering),
        "expected mapping {mapping}, allocation {allocation}, filtering {filtering}; got {got:?}: {r:#}"
    );
    Ok(())
}

/// One test per NAT kind that lets UDP through, from one table: netcheck
/// from behind it (or from a public host, `None`) gets answers on the
/// router's public address and reports the mapping, port allocation and
/// filtering of the row; a row may name a function with more checks.
macro_rules! nat_kinds {
    ($($name:ident: $kind:expr => $mapping:literal, $allocation:literal, $filtering:literal $(, then $more:ident)?;)*) => {
        $(
            #[test]
            fn $name() -> Result<()> {
                let (r, ip) = check($kind)?;
                check_answered(&r, ip)?;
                expect(&r, $mapping, $allocation, $filtering)?;
                $($more(&r)?;)?
                Ok(())
            }
        )*
    };
}

nat_kinds! {
    no_nat_is_endpoint_independent_and_preserves_ports: None
        => "endpoint_independent", "preserved", "endpoint_independent", then public_host_extras;
    full_cone_nat: Some(NatKind::FullCone)
        => "endpoint_independent", "preserved", "endpoint_independent", then lan_host_extras;
    restricted_cone_nat: Some(NatKind::RestrictedCone)
        => "endpoint_independent", "preserved", "address_dependent";
    port_restricted_cone_nat: Some(NatKind::PortRestrictedCone)
        => "endpoint_independent", "preserved", "address_and_port_dependent";
    symmetric_random_nat: Some(NatKind::SymmetricRandom)
        => "address_and_port_dependent", "random", "address_and_port_dependent";
    symmetric_sequential_nat: Some(NatKind::SymmetricSequential)
        => "address_and_port_dependent", "sequential", "address_and_port_dependent", then sequential_extras;
}

/// A public host: coturn's IPv6 address answers too, on the host's own
/// IPv6 address, and the host reaches itself through its public address.
fn public_host_extras(r: &Value) -> Result<()> {
    ensure!(r["ipv6"] == true, "IPv6 reflector did not answer: {r}");
    let v6 = r["reflectors"][1]["mapped"].as_str().unwrap_or("");
    ensure!(
        v6.starts_with("[2001:db8:1::"),
        "IPv6 reflexive address {v6}"
    );
    ensure!(r["hairpinning"] == true, "{r}");
    Ok(())
}

/// A host behind a lab router: no hairpinning (the routers only forward
/// inbound from the WAN side) and no IPv6 (the LAN has no IPv6 route, so
/// the IPv6 reflector stays silent).
fn lan_host_extras(r: &Value) -> Result<()> {
    ensure!(r["hairpinning"] == false, "{r}");
    ensure!(r["ipv6"] == false, "{r}");
    Ok(())
}

/// A sequential NAT: a step of one, and every mapped port in the router's
/// sequential range.
fn sequential_extras(r: &Value) -> Result<()> {
    ensure!(r["allocation"]["step"] == 1, "{r}");
    let range = SEQUENTIAL_FIRST_PORT..SEQUENTIAL_FIRST_PORT + SEQUENTIAL_PORTS;
    for o in r["observations"].as_array().context("observations")? {
        let m: SocketAddr = o["mapped"].as_str().context("mapped")?.parse()?;
        ensure!(
            range.contains(&m.port()),
            "port {} outside {range:?}",
            m.port()
        );
    }
    Ok(())
}

#[test]
fn udp_blocked_nat() -> Result<()> {
    let (r, _) = check(Some(NatKind::UdpBlocked))?;
    ensure!(
        r["udp"] == false && r["ipv4"] == false && r["ipv6"] == false,
        "{r}"
    );
    ensure!(r["reflectors"][0]["answered"] == false, "{r}");
    expect(&r, "unknown", "unknown", "unknown")?;
    ensure!(r["hairpinning"].is_null(), "{r}");
    Ok(())
}

#[test]
fn netcheck_without_reflectors_says_what_to_do() -> Result<()> {
    let empty = TempDir::new("netcheck-none")?;
    let dir = empty.path().display().to_string();
    let out = tessel::run_once(None, &["netcheck", "--state-dir", &dir], NETCHECK_TIMEOUT)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        !out.status.success(),
        "netcheck with nothing to ask succeeded"
    );
    ensure!(
        stderr.contains("--stun") && stderr.contains("tessel up"),
        "unhelpful error: {stderr}"
    );
    Ok(())
}

/// Sends `request` from a fresh socket in `ns` to `to` up to three times and
/// returns the first answer, or `None` after about 1.5 s of silence.
fn ask(ns: &Netns, to: SocketAddr, request: Vec<u8>) -> Result<Option<Vec<u8>>> {
    ns.run_inside(move || -> Result<Option<Vec<u8>>> {
        let sock = UdpSocket::bind("0.0.0.0:0")?;
        sock.set_read_timeout(Some(Duration::from_millis(500)))?;
        let mut buf = [0u8; 1500];
        for _ in 0..3 {
            sock.send_to(&request, to)?;
            match sock.recv_from(&mut buf) {
                Ok((n, from)) if from == to => return Ok(Some(buf[..n].to_vec())),
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    })?
}

fn stun_key(network_text: &str) -> Result<IntegrityKey> {
    let key = NetworkKey::parse(network_text).context("network key")?;
    Ok(IntegrityKey::new(&key.stun_secret()))
}

fn request(id: u8, key: Option<&IntegrityKey>) -> Result<Vec<u8>> {
    let opts = RequestOptions {
        key,
        ..RequestOptions::default()
    };
    Ok(encode_request(TransactionId([id; 12]), &opts)?)
}

fn path_arg(dir: &Path) -> String {
    dir.display().to_string()
}

/// A public member A; member B behind a full-cone NAT, joined through A and
/// given coturn with `--stun`. B's netcheck asks A (keyed, from B's peer
/// cache) and A answers; B's node learns its reflexive address from A and
/// from coturn. An outsider's plain request and a request keyed for another
/// network get nothing from A, and A counts them.
#[test]
fn members_answer_members_and_nobody_else() -> Result<()> {
    let internet = Internet::new()?;
    let server = internet.add_host("stun")?;
    let coturn = Coturn::start(&internet, &server)?;
    let a_host = internet.add_host("a")?;
    let outsider = internet.add_host("outsider")?;
    let nat = internet.add_nat("nat", NatKind::FullCone)?;
    let b_host = nat.add_host("b")?;
    let network = new_network_key()?;
    let a_endpoint = SocketAddr::from((a_host.ipv4, DEFAULT_PORT));
    let mut a = TesselNode::start("a", a_host.ns.clone(), NodeConfig::new(&network))?;
    let mut b = TesselNode::start(
        "b",
        b_host.ns.clone(),
        NodeConfig::new(&network)
            .peer(a_endpoint.to_string())
            .stun(coturn.addr.to_string()),
    )?;
    let wan = IpAddr::V4(nat.wan_addr());
    // B learns its reflexive address from A (a member) and from coturn.
    let st = b.wait_until(
        "B to have STUN samples from member A and from coturn",
        Duration::from_secs(40),
        |s| {
            let samples = s.0["nat"]["samples"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            samples.iter().any(|x| x["member"].is_string())
                && samples.iter().any(|x| x["member"].is_null())
        },
    )?;
    let reflexive = st.0["nat"]["reflexive_addresses"].clone();
    let wan_endpoint = SocketAddr::new(wan, DEFAULT_PORT).to_string();
    ensure!(
        reflexive
            .as_array()
            .is_some_and(|v| v.len() == 1 && v[0] == wan_endpoint.as_str()),
        "B's reflexive addresses {reflexive}, expected [{wan_endpoint}]"
    );
    ensure!(
        st.0["nat"]["mapping"] == "endpoint_independent"
            && st.0["nat"]["allocation"] == "preserved",
        "B's NAT from its samples: {}",
        st.0["nat"]
    );
    a.wait_until("A to know B", Duration::from_secs(20), |s| {
        s.0["peers"].as_array().is_some_and(|p| !p.is_empty())
    })?;

    // B's netcheck: no --stun; A from B's peer cache, keyed.
    let state = b.state_dir();
    let r = netcheck(&b_host.ns, &["--state-dir", &path_arg(&state)])?;
    let refl = &r["reflectors"][0];
    ensure!(
        refl["address"] == a_endpoint.to_string().as_str()
            && refl["answered"] == true
            && refl["authenticated"] == true,
        "member A did not answer B's netcheck: {r:#}"
    );
    let mapped: SocketAddr = refl["mapped"].as_str().context("mapped")?.parse()?;
    ensure!(mapped.ip() == wan, "A saw B's netcheck at {mapped}");
    ensure!(
        str_of(&r, "filtering") == "unknown" && str_of(&r, "filtering_note").contains("RFC 5780"),
        "members do not support CHANGE-REQUEST: {r}"
    );

    // Raw requests to A from an outsider: only the right key gets an answer.
    let right = stun_key(&network)?;
    let other = stun_key(&new_network_key()?)?;
    let answer = ask(&outsider.ns, a_endpoint, request(1, Some(&right))?)?
        .context("A did not answer a request keyed with the network key")?;
    let d = decode(&answer, Some(&right))?;
    let Message::Success { mapped, .. } = d.message else {
        bail!("A answered {d:?}");
    };
    ensure!(mapped.ip() == IpAddr::V4(outsider.ipv4), "A saw {mapped}");
    let before = a.status()?.drops("stun_unauthenticated")?;
    for (what, req) in [
        ("a plain request", request(2, None)?),
        (
            "a request keyed for another network",
            request(3, Some(&other))?,
        ),
    ] {
        if let Some(answer) = ask(&outsider.ns, a_endpoint, req)? {
            bail!("A answered {what}: {:?}", decode(&answer, None));
        }
    }
    let after = a.status()?.drops("stun_unauthenticated")?;
    ensure!(
        after >= before + 6,
        "A counted {} refused requests, expected 6 (two kinds, three tries each)",
        after - before
    );
    a.stop()?;
    b.stop()?;
    Ok(())
}

// Topology:
//
//                     Internet (core namespace)
//          __________________|___________________________
//         |                  |                           |
//   stun: coturn       c: public host          nat (full cone) wan0 203.0.113.x
//   198.51.100.x       198.51.100.y              lan0 198.18.1.1/24
//                      joins with the                    |
//                      command A gave          a: 198.18.1.2, no --network,
//                                                 --stun coturn
//
/// A new network started behind a NAT gives, once coturn told it its
/// public address (within seconds), a join command naming that address in
/// `join.txt` and on its output; a public host runs it and joins.
#[test]
fn a_new_network_behind_a_nat_gives_its_public_address_to_join() -> Result<()> {
    let internet = Internet::new()?;
    let server = internet.add_host("stun")?;
    let coturn = Coturn::start(&internet, &server)?;
    let c_host = internet.add_host("c")?;
    let nat = internet.add_nat("nat", NatKind::FullCone)?;
    let a_host = nat.add_host("a")?;
    let wan = SocketAddr::new(IpAddr::V4(nat.wan_addr()), DEFAULT_PORT).to_string();
    let mut a = TesselNode::start(
        "a",
        a_host.ns.clone(),
        NodeConfig::without_network()
            .stun(coturn.addr.to_string())
            .lan_discovery(false)
            .port_mapping("off"),
    )?;
    let announced = format!("reachable from elsewhere at {wan}");
    tessel_netns::wait::poll(
        "A to give its public address",
        Duration::from_secs(20),
        || Ok(a.stdout().contains(&announced).then_some(())),
    )?;
    let joined = std::fs::read_to_string(a.state_dir().join("join.txt"))?;
    let up_line = joined
        .lines()
        .find(|l| l.starts_with("tessel up "))
        .context("no tessel up line in join.txt")?;
    ensure!(
        up_line.ends_with(&format!("--peer {wan}")) && up_line.matches("--peer").count() == 1,
        "join.txt does not name the public address alone: {up_line}"
    );
    let key = joined
        .lines()
        .find(|l| l.starts_with("(umask 077"))
        .and_then(|l| l.split('\'').nth(3))
        .context("no key in join.txt")?;
    ensure!(!a.log().contains(key), "the key is in A's output or log");
    let mut c = TesselNode::start(
        "c",
        c_host.ns.clone(),
        NodeConfig::new(key).peer(wan).lan_discovery(false),
    )?;
    tessel_netns::cluster::wait_full_mesh(
        &mut [&mut a, &mut c],
        tessel_netns::cluster::MESH_TIMEOUT,
    )?;
    Ok(())
}
