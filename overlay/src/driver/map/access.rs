//! Who may read the map. Two checks on every request, before anything
//! else is read:
//!
//! - **Host**: the `Host` header must name the address the map is bound to
//!   (`127.0.0.1:9746`, `[::1]:9746`, `192.0.2.7:9746`), or `localhost`
//!   with its port when bound to loopback. A web page elsewhere that points
//!   a DNS name of its own at this address (DNS rebinding) sends its own
//!   name and is refused (421).
//! - **Token**, on any address but loopback: a random token made at start
//!   (128 bits, hex), given in the URL (`?token=…`) or in the cookie the
//!   page's first answer sets. Missing or wrong: 403. On loopback only
//!   local users reach the map, as they reach `tessel status`, and no
//!   token is asked for.
//!
//! An address that is no address in particular (`0.0.0.0`, `::`) is
//! refused when the map starts: the Host check needs the one address the
//! map is reached at.

use std::fmt;
use std::net::SocketAddr;

use thiserror::Error;

/// The query parameter that carries the token.
pub const TOKEN_PARAM: &str = "token";

/// Why an address cannot serve the map.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AddressError {
    /// `0.0.0.0` or `::`.
    #[error("{addr} is no address in particular: give the one the map is reached at (e.g. 127.0.0.1:{port}, or this machine's LAN address), since requests must name it in their Host header", port = addr.port())]
    Unspecified {
        /// The address given.
        addr: SocketAddr,
    },
}

/// The secret that opens a map on a non-loopback address.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A new token from 16 random bytes.
    ///
    /// # Errors
    /// If the OS random source fails.
    pub fn generate() -> std::io::Result<Self> {
        let seed = crate::driver::clock::random_seed()?;
        Ok(Self::from_bytes(&seed[..16]))
    }

    /// The token whose bytes are `bytes`, in hex.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(data_encoding::HEXLOWER.encode(bytes))
    }

    /// Its text, as the URL carries it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares in time that does not depend on where `other` differs.
    fn matches(&self, other: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), other.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(…)")
    }
}

/// The rules of one map: its address and, off loopback, its token.
#[derive(Debug, Clone)]
pub struct Access {
    bound: SocketAddr,
    token: Option<Token>,
}

/// What to do with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it; with `set_cookie`, the token came in the URL and the
    /// answer sets the cookie, so that later requests need not carry it.
    Allow {
        /// Set the token's cookie.
        set_cookie: bool,
    },
    /// The Host header names another address (or is missing): 421.
    BadHost,
    /// No token, or not this one: 403.
    Forbidden,
}

impl Access {
    /// The rules for a map bound to `bound`: a new token unless it is a
    /// loopback address.
    ///
    /// # Errors
    /// If `bound` is unspecified, or the OS random source fails.
    pub fn for_address(bound: SocketAddr) -> Result<Self, AccessError> {
        check_address(bound)?;
        let token = if bound.ip().is_loopback() {
            None
        } else {
            Some(Token::generate().map_err(AccessError::Random)?)
        };
        Ok(Self { bound, token })
    }

    /// The rules for `bound` with `token` (`None`: no token is asked for).
    pub fn with_token(bound: SocketAddr, token: Option<Token>) -> Self {
        Self { bound, token }
    }

    /// The address the map is bound to.
    pub fn bound(&self) -> SocketAddr {
        self.bound
    }

    /// The token, if one is needed.
    pub fn token(&self) -> Option<&Token> {
        self.token.as_ref()
    }

    /// The map's URL: with the token when one is needed (a secret, then:
    /// keep it out of logs that others read).
    pub fn url(&self) -> String {
        match &self.token {
            None => format!("http://{}/", self.bound),
            Some(t) => format!("http://{}/?{TOKEN_PARAM}={}", self.bound, t.as_str()),
        }
    }

    /// The map's URL without its token.
    pub fn public_url(&self) -> String {
        format!("http://{}/", self.bound)
    }

    /// The name of the cookie that holds the token (one per port: cookies
    /// are not told apart by port).
    pub fn cookie_name(&self) -> String {
        format!("tessel_map_{}", self.bound.port())
    }

    /// The `Set-Cookie` value that hands the page its token, if any.
    pub fn set_cookie(&self) -> Option<String> {
        self.token.as_ref().map(|t| {
            format!(
                "{}={}; Path=/; HttpOnly; SameSite=Strict",
                self.cookie_name(),
                t.as_str()
            )
        })
    }

    /// Judges a request by its `Host` header, its query string and its
    /// `Cookie` headers.
    pub fn check<'a>(
        &self,
        host: Option<&str>,
        query: Option<&str>,
        cookies: impl IntoIterator<Item = &'a str>,
    ) -> Verdict {
        if !host.is_some_and(|h| self.host_ok(h)) {
            return Verdict::BadHost;
        }
        let Some(token) = &self.token else {
            return Verdict::Allow { set_cookie: false };
        };
        if query
            .and_then(|q| param(q, TOKEN_PARAM))
            .is_some_and(|t| token.matches(t))
        {
            return Verdict::Allow { set_cookie: true };
        }
        let name = self.cookie_name();
        let from_cookie = cookies
            .into_iter()
            .flat_map(|h| h.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .any(|(k, v)| k == name && token.matches(v));
        if from_cookie {
            Verdict::Allow { set_cookie: false }
        } else {
            Verdict::Forbidden
        }
    }

    /// Whether `host` (a `Host` header) names the bound address.
    fn host_ok(&self, host: &str) -> bool {
        let host = host.trim();
        let port = self.bound.port();
        // The name part and the port part (`[::1]:80`, `a:80`, or without
        // a port, which means 80).
        let (name, given_port) = match host.rsplit_once(':') {
            Some((n, p)) if !n.is_empty() && !p.contains(']') => match p.parse::<u16>() {
                Ok(p) => (n, p),
                Err(_) => return false,
            },
            _ => (host, 80),
        };
        if given_port != port {
            return false;
        }
        let ip = self.bound.ip();
        let literal = match ip {
            std::net::IpAddr::V4(a) => a.to_string(),
            std::net::IpAddr::V6(a) => format!("[{a}]"),
        };
        name.eq_ignore_ascii_case(&literal)
            || (ip.is_loopback() && name.eq_ignore_ascii_case("localhost"))
    }
}

/// Why the rules of a map cannot be made.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AccessError {
    /// The address is unspecified.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// No randomness for the token.
    #[error("reading the OS random source for the map's token: {0}")]
    Random(std::io::Error),
}

/// Fails for an address that is no address in particular.
///
/// # Errors
/// If `addr` is `0.0.0.0` or `::`.
pub fn check_address(addr: SocketAddr) -> Result<(), AddressError> {
    if addr.ip().is_unspecified() {
        return Err(AddressError::Unspecified { addr });
    }
    Ok(())
}

/// The value of parameter `name` in a query string (no percent-decoding:
/// tokens are hex).
fn param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn lan() -> Access {
        Access::with_token(addr("192.0.2.7:9746"), Some(Token::from_bytes(&[0xab; 16])))
    }

    const TOKEN: &str = "abababababababababababababababab";

    #[test]
    fn loopback_needs_no_token_but_the_right_host() {
        let a = Access::for_address(addr("127.0.0.1:9746")).unwrap();
        assert!(a.token().is_none());
        assert_eq!(a.url(), "http://127.0.0.1:9746/");
        let ok = Verdict::Allow { set_cookie: false };
        for host in ["127.0.0.1:9746", "localhost:9746", "LOCALHOST:9746"] {
            assert_eq!(a.check(Some(host), None, []), ok, "{host}");
        }
        for host in [
            "evil.example:9746",
            "127.0.0.1:9747",
            "127.0.0.1",
            "localhost",
            "127.0.0.2:9746",
            "127.0.0.1:x",
            "",
        ] {
            assert_eq!(a.check(Some(host), None, []), Verdict::BadHost, "{host:?}");
        }
        assert_eq!(a.check(None, None, []), Verdict::BadHost);
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        let a = Access::with_token(addr("[::1]:9746"), None);
        assert_eq!(
            a.check(Some("[::1]:9746"), None, []),
            Verdict::Allow { set_cookie: false }
        );
        assert_eq!(
            a.check(Some("localhost:9746"), None, []),
            Verdict::Allow { set_cookie: false }
        );
        assert_eq!(a.check(Some("[::2]:9746"), None, []), Verdict::BadHost);
        assert_eq!(a.check(Some("::1:9746"), None, []), Verdict::BadHost);
        let port80 = Access::with_token(addr("[2001:db8::1]:80"), None);
        assert_eq!(
            port80.check(Some("[2001:db8::1]"), None, []),
            Verdict::Allow { set_cookie: false }
        );
    }

    #[test]
    fn elsewhere_the_token_is_needed_in_the_url_or_the_cookie() {
        let a = lan();
        let host = Some("192.0.2.7:9746");
        assert_eq!(a.url(), format!("http://192.0.2.7:9746/?token={TOKEN}"));
        assert_eq!(a.public_url(), "http://192.0.2.7:9746/");
        assert_eq!(a.check(host, None, []), Verdict::Forbidden);
        assert_eq!(
            a.check(host, Some(&format!("token={TOKEN}")), []),
            Verdict::Allow { set_cookie: true }
        );
        assert_eq!(
            a.check(host, Some(&format!("x=1&token={TOKEN}")), []),
            Verdict::Allow { set_cookie: true }
        );
        assert_eq!(
            a.check(host, Some("token=abab"), []),
            Verdict::Forbidden,
            "a prefix of the token"
        );
        assert_eq!(
            a.check(host, Some(&format!("token={TOKEN}0")), []),
            Verdict::Forbidden
        );
        let cookie = format!("other=1; tessel_map_9746={TOKEN}");
        assert_eq!(
            a.check(host, None, [cookie.as_str()]),
            Verdict::Allow { set_cookie: false }
        );
        let other_port = format!("tessel_map_9999={TOKEN}");
        assert_eq!(
            a.check(host, None, [other_port.as_str()]),
            Verdict::Forbidden
        );
        // The Host check comes first: the token does not open another host.
        assert_eq!(
            a.check(
                Some("rebound.example:9746"),
                Some(&format!("token={TOKEN}")),
                []
            ),
            Verdict::BadHost
        );
        assert!(a.set_cookie().unwrap().contains("HttpOnly"));
        assert!(!format!("{a:?}").contains(TOKEN), "Debug hides the token");
    }

    #[test]
    fn unspecified_addresses_are_refused() {
        for s in ["0.0.0.0:9746", "[::]:9746"] {
            let e = Access::for_address(addr(s)).unwrap_err();
            assert!(e.to_string().contains("Host header"), "{e}");
        }
        let a = Access::for_address(addr("198.51.100.3:9746")).unwrap();
        assert_eq!(a.token().unwrap().as_str().len(), 32);
    }
}
