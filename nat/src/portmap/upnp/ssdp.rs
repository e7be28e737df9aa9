//! SSDP discovery (UPnP Device Architecture 1.1, section 1.3): the
//! M-SEARCH request for an Internet Gateway Device, and the unicast
//! HTTP-over-UDP answer that carries the device description's `LOCATION`.

use super::super::WireError;
use super::http::headers;

/// The SSDP multicast group and port.
pub const MULTICAST: std::net::SocketAddrV4 =
    std::net::SocketAddrV4::new(std::net::Ipv4Addr::new(239, 255, 255, 250), 1900);

/// The search target for an Internet Gateway Device (any version answers).
pub const IGD_TARGET: &str = "urn:schemas-upnp-org:device:InternetGatewayDevice:1";

/// Longest SSDP answer accepted.
pub const MAX_LEN: usize = 2048;

/// Writes an M-SEARCH for `target`, answers wanted within `mx` seconds.
pub fn emit_search(target: &str, mx: u8) -> Vec<u8> {
    format!(
        "M-SEARCH * HTTP/1.1\r\n\
         HOST: 239.255.255.250:1900\r\n\
         MAN: \"ssdp:discover\"\r\n\
         MX: {mx}\r\n\
         ST: {target}\r\n\
         \r\n"
    )
    .into_bytes()
}

/// An answer to an M-SEARCH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchAnswer {
    /// Where the device description is (`LOCATION`).
    pub location: String,
    /// The search target it answers (`ST`).
    pub target: Option<String>,
    /// Its unique service name (`USN`).
    pub usn: Option<String>,
}

/// Parses an answer: `HTTP/1.1 200 OK` with a `LOCATION` header.
///
/// # Errors
/// Returns an error if the datagram is not a successful SSDP answer.
pub fn parse_answer(datagram: &[u8]) -> Result<SearchAnswer, WireError> {
    if datagram.len() > MAX_LEN {
        return Err(WireError::TooLong {
            len: datagram.len(),
            max: MAX_LEN,
        });
    }
    let text = std::str::from_utf8(datagram).map_err(|_| WireError::InvalidField("UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or("");
    let mut parts = status.split_whitespace();
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(WireError::Missing("status line"));
    };
    if !version.starts_with("HTTP/1.") || code != "200" {
        return Err(WireError::InvalidField("status line"));
    }
    let h = headers(lines);
    let get = |name: &str| {
        h.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_string())
    };
    let location = get("location").ok_or(WireError::Missing("LOCATION"))?;
    Ok(SearchAnswer {
        location,
        target: get("st"),
        usn: get("usn"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_request() {
        let s = String::from_utf8(emit_search(IGD_TARGET, 2)).unwrap();
        assert!(s.starts_with("M-SEARCH * HTTP/1.1\r\n"));
        assert!(s.contains("MAN: \"ssdp:discover\"\r\n"));
        assert!(s.contains("ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"));
        assert!(s.ends_with("\r\n\r\n"));
    }

    #[test]
    fn answer_as_miniupnpd_sends_it() {
        let a = b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\
USN: uuid:3b3d4a1e-0000-4000-8000-000000000001::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nEXT:\r\n\
SERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\nLOCATION: http://198.18.1.1:37345/rootDesc.xml\r\n\r\n";
        let r = parse_answer(a).unwrap();
        assert_eq!(r.location, "http://198.18.1.1:37345/rootDesc.xml");
        assert_eq!(r.target.as_deref(), Some(IGD_TARGET));
        assert!(r.usn.unwrap().starts_with("uuid:3b3d"));
    }

    #[test]
    fn rejects_others() {
        assert!(parse_answer(b"HTTP/1.1 404 Not Found\r\nLOCATION: x\r\n\r\n").is_err());
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\nST: x\r\n\r\n").is_err());
        assert!(parse_answer(b"NOTIFY * HTTP/1.1\r\n\r\n").is_err());
        assert!(parse_answer(&[0xff, 0xfe]).is_err());
        assert!(parse_answer(b"").is_err());
    }
}
