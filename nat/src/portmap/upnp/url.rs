//! `http://host[:port]/path` URLs, as found in SSDP answers and device
//! descriptions (no TLS, no user info).

use super::super::WireError;

/// An HTTP URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl HttpUrl {
    /// Parses an absolute `http://` URL.
    ///
    /// # Errors
    /// Returns an error for another scheme or a malformed authority.
    pub fn parse(s: &str) -> Result<Self, WireError> {
        let s = s.trim();
        let rest = s
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("http://"))
            .map(|_| &s[7..])
            .ok_or(WireError::InvalidField("URL scheme"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6.find(']').ok_or(WireError::InvalidField("URL host"))?;
            let port = match &v6[end + 1..] {
                "" => 80,
                p => parse_port(
                    p.strip_prefix(':')
                        .ok_or(WireError::InvalidField("URL port"))?,
                )?,
            };
            (&v6[..end], port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, parse_port(p)?),
                None => (authority, 80),
            }
        };
        if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '@') {
            return Err(WireError::InvalidField("URL host"));
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }

    /// Resolves `reference` (absolute URL or path) against this URL.
    ///
    /// # Errors
    /// Returns an error if `reference` is an absolute URL that does not parse.
    pub fn join(&self, reference: &str) -> Result<Self, WireError> {
        let r = reference.trim();
        // `get`, not slicing: the seventh byte may fall inside a character.
        if r.get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("http://"))
        {
            return Self::parse(r);
        }
        let path = if r.starts_with('/') {
            r.to_owned()
        } else {
            let dir = self.path.rfind('/').map_or("/", |i| &self.path[..=i]);
            format!("{dir}{r}")
        };
        Ok(Self {
            host: self.host.clone(),
            port: self.port,
            path,
        })
    }

    /// The `Host` header value.
    pub fn host_header(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn parse_port(p: &str) -> Result<u16, WireError> {
    p.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or(WireError::InvalidField("URL port"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reference whose seventh byte falls inside a character (from a
    /// gateway on the LAN, unauthenticated) is a path, not a panic.
    #[test]
    fn a_reference_split_inside_a_character_is_a_path() {
        let base = HttpUrl::parse("http://192.0.2.1:5000/desc.xml").unwrap();
        for r in ["http:/\u{e9}x", "abcdef\u{e9}", "\u{1f600}\u{1f600}"] {
            let joined = base.join(r).unwrap();
            assert_eq!(joined.host, "192.0.2.1");
            assert!(joined.path.ends_with(r), "{r:?}: {joined:?}");
        }
        assert!(HttpUrl::parse("http:/\u{e9}x").is_err());
    }

    #[test]
    fn parses_and_joins() {
        let u = HttpUrl::parse("http://198.18.1.1:37345/rootDesc.xml").unwrap();
        assert_eq!(u.host, "198.18.1.1");
        assert_eq!(u.port, 37345);
        assert_eq!(u.path, "/rootDesc.xml");
        assert_eq!(u.join("/ctl/IPConn").unwrap().path, "/ctl/IPConn");
        assert_eq!(u.join("ctl").unwrap().path, "/ctl");
        let abs = u.join("http://198.18.1.1:5000/x").unwrap();
        assert_eq!((abs.port, abs.path.as_str()), (5000, "/x"));
        let v6 = HttpUrl::parse("HTTP://[fe80::1]:80").unwrap();
        assert_eq!(
            (v6.host.as_str(), v6.port, v6.path.as_str()),
            ("fe80::1", 80, "/")
        );
        assert_eq!(v6.host_header(), "[fe80::1]:80");
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in [
            "https://a/",
            "http://",
            "http://a:0/",
            "http://a:x/",
            "ftp://a",
            "http://[::1/",
        ] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
