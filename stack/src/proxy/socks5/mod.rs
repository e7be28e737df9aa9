//! A SOCKS5 proxy (RFC 1928) into the overlay, for applications that can use
//! one (`curl --socks5`, browsers, `ssh -o ProxyCommand='nc -X 5 …'`).
//!
//! Supported: "no authentication" (the proxy is meant for localhost, see
//! [`Socks5Config::allow_non_loopback`]), or username/password (RFC 1929)
//! when [`Socks5Config::credentials`] are set; the CONNECT and UDP
//! ASSOCIATE commands; IPv4 and IPv6 addresses, and domain names that are IP
//! addresses in text form. Not supported, with the reply the RFC provides:
//! BIND ("command not supported"), other domain names ("address type not
//! supported": the overlay has no name service yet), fragmented UDP datagrams
//! (dropped).
//!
//! [`wire`] parses and writes the messages; [`server`] runs the proxy.

pub mod server;
pub mod wire;

pub use server::{Credentials, CredentialsError, Socks5Config, Socks5Error, Socks5Server};
