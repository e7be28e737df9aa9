//! SOCKS version 5 messages (RFC 1928) as typed views over bytes, and their
//! writers.
//!
//! Each view ([`Greeting`], [`Request`], [`Reply`], [`UdpPacket`]) has a
//! `new_checked` constructor, the only way in for untrusted input. It checks
//! the version, the address type and that the buffer holds the whole message;
//! afterwards no accessor panics. A buffer too short for the message gives
//! [`WireError::Truncated`] with the number of bytes needed so far, so that a
//! reader can fetch exactly the missing bytes and try again; bytes after the
//! message are ignored (`message_len` says where it ends).
//!
//! ```text
//! greeting:  | VER 5 | NMETHODS | METHODS (NMETHODS bytes) |
//! selection: | VER 5 | METHOD |
//! request:   | VER 5 | CMD | RSV | ATYP | DST.ADDR | DST.PORT (2, big-endian) |
//! reply:     | VER 5 | REP | RSV | ATYP | BND.ADDR | BND.PORT |
//! UDP:       | RSV (2) | FRAG | ATYP | DST.ADDR | DST.PORT | DATA |
//! ATYP:      1 = IPv4 (4 bytes), 3 = domain name (length byte, then name), 4 = IPv6 (16 bytes)
//! ```
//!
//! Domain names: the overlay has no name service yet, so a domain name is
//! accepted only if it is an IP address in text form (`100.64.1.2`, `fd00::1`
//! or `[fd00::1]`); [`Address::to_socket_addr`] turns anything else into
//! [`WireError::NotAnIpAddress`], which a server answers with
//! [`ReplyCode::AddressTypeNotSupported`]. Reserved fields are written as zero
//! and ignored when read.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    str,
};

/// The protocol version byte of every TCP message.
pub const VERSION: u8 = 5;
/// Authentication method "no authentication required".
pub const METHOD_NO_AUTH: u8 = 0x00;
/// Authentication method "username/password" (RFC 1929).
pub const METHOD_USER_PASS: u8 = 0x02;
/// The version byte of the username/password subnegotiation (RFC 1929).
pub const USER_PASS_VERSION: u8 = 1;
/// The method selection that means "none of the offered methods is acceptable".
pub const METHOD_NONE_ACCEPTABLE: u8 = 0xFF;

/// Address type: IPv4 address.
pub const ATYP_IPV4: u8 = 1;
/// Address type: domain name.
pub const ATYP_DOMAIN: u8 = 3;
/// Address type: IPv6 address.
pub const ATYP_IPV6: u8 = 4;

/// The longest address field with its port: type, length byte, 255 name bytes, port.
pub const MAX_ADDRESS_LEN: usize = 1 + 1 + 255 + 2;
/// The longest UDP header [`emit_udp_header`] writes (one for an IPv6 address).
pub const MAX_UDP_HEADER_LEN: usize = 4 + 16 + 2;

/// Why bytes are not a valid SOCKS5 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The buffer ends before the message does.
    #[error("truncated: {len} bytes, need at least {need}")]
    Truncated {
        /// Bytes available.
        len: usize,
        /// Bytes the message needs, as far as the available bytes tell.
        need: usize,
    },
    /// The version byte is not 5.
    #[error("not SOCKS version 5 (version byte {0})")]
    BadVersion(u8),
    /// The command byte names no command.
    #[error("unknown command {0:#04x}")]
    UnknownCommand(u8),
    /// The address type byte names no address type.
    #[error("unknown address type {0:#04x}")]
    UnknownAddressType(u8),
    /// A domain name that is not an IP address in text form (no DNS in the overlay).
    #[error("domain names are not resolved: only IP addresses are supported")]
    NotAnIpAddress,
    /// A UDP datagram that is a fragment (FRAG is not zero); fragments are dropped.
    #[error("fragmented UDP datagram (FRAG {0}) is not supported")]
    Fragmented(u8),
    /// The reply code byte names no reply.
    #[error("unknown reply code {0:#04x}")]
    UnknownReply(u8),
}

impl WireError {
    /// The reply a server sends when a request fails to parse with this error,
    /// or `None` if the connection is just closed (the request is incomplete).
    pub fn reply_code(&self) -> Option<ReplyCode> {
        match self {
            Self::Truncated { .. } => None,
            Self::UnknownCommand(_) => Some(ReplyCode::CommandNotSupported),
            Self::UnknownAddressType(_) | Self::NotAnIpAddress => {
                Some(ReplyCode::AddressTypeNotSupported)
            }
            Self::BadVersion(_) | Self::Fragmented(_) | Self::UnknownReply(_) => {
                Some(ReplyCode::GeneralFailure)
            }
        }
    }
}

fn need(buf: &[u8], need: usize) -> Result<(), WireError> {
    if buf.len() < need {
        Err(WireError::Truncated {
            len: buf.len(),
            need,
        })
    } else {
        Ok(())
    }
}

fn check_version(buf: &[u8]) -> Result<(), WireError> {
    need(buf, 1)?;
    match buf[0] {
        VERSION => Ok(()),
        v => Err(WireError::BadVersion(v)),
    }
}

/// A destination or bound address as carried in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Address<'a> {
    /// An IPv4 or IPv6 address and port.
    Ip(SocketAddr),
    /// A domain name (raw bytes, not necessarily UTF-8) and port.
    Domain(&'a [u8], u16),
}

impl Address<'_> {
    /// The port.
    pub fn port(&self) -> u16 {
        match self {
            Self::Ip(a) => a.port(),
            Self::Domain(_, port) => *port,
        }
    }

    /// The socket address to use: an IP address as is, or a domain name that is
    /// an IP address in text form (IPv6 with or without brackets). IPv4-mapped
    /// IPv6 addresses become IPv4 addresses.
    ///
    /// # Errors
    /// [`WireError::NotAnIpAddress`] for any other domain name: the overlay has
    /// no name service.
    pub fn to_socket_addr(&self) -> Result<SocketAddr, WireError> {
        let addr = match *self {
            Self::Ip(a) => a,
            Self::Domain(name, port) => {
                let text = str::from_utf8(name).map_err(|_| WireError::NotAnIpAddress)?;
                let text = text
                    .strip_prefix('[')
                    .and_then(|t| t.strip_suffix(']'))
                    .unwrap_or(text);
                let ip: IpAddr = text.parse().map_err(|_| WireError::NotAnIpAddress)?;
                SocketAddr::new(ip, port)
            }
        };
        Ok(canonical(addr))
    }
}

/// `addr` with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) turned into IPv4.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Parses the address (type, address, port) starting at `at`; returns it and
/// where it ends.
fn address_at(buf: &[u8], at: usize) -> Result<(Address<'_>, usize), WireError> {
    need(buf, at + 1)?;
    let (start, end) = match buf[at] {
        ATYP_IPV4 => (at + 1, at + 1 + 4),
        ATYP_IPV6 => (at + 1, at + 1 + 16),
        ATYP_DOMAIN => {
            need(buf, at + 2)?;
            (at + 2, at + 2 + usize::from(buf[at + 1]))
        }
        t => return Err(WireError::UnknownAddressType(t)),
    };
    need(buf, end + 2)?;
    let port = u16::from_be_bytes([buf[end], buf[end + 1]]);
    let raw = &buf[start..end];
    let address = match buf[at] {
        ATYP_IPV4 => {
            let mut o = [0u8; 4];
            o.copy_from_slice(raw);
            Address::Ip(SocketAddr::new(Ipv4Addr::from(o).into(), port))
        }
        ATYP_IPV6 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(raw);
            Address::Ip(SocketAddr::new(Ipv6Addr::from(o).into(), port))
        }
        _ => Address::Domain(raw, port),
    };
    Ok((address, end + 2))
}

/// Appends an address (type, address, port).
///
/// # Panics
/// If a domain name is longer than 255 bytes.
pub fn emit_address(address: &Address<'_>, out: &mut Vec<u8>) {
    match address {
        Address::Ip(SocketAddr::V4(a)) => {
            out.push(ATYP_IPV4);
            out.extend_from_slice(&a.ip().octets());
        }
        Address::Ip(SocketAddr::V6(a)) => {
            out.push(ATYP_IPV6);
            out.extend_from_slice(&a.ip().octets());
        }
        Address::Domain(name, _) => {
            let len = u8::try_from(name.len()).expect("domain name longer than 255 bytes");
            out.push(ATYP_DOMAIN);
            out.push(len);
            out.extend_from_slice(name);
        }
    }
    out.extend_from_slice(&address.port().to_be_bytes());
}

/// The client's username and password (RFC 1929): `VER 1 | ULEN | UNAME |
/// PLEN | PASSWD`, each length 1 to 255.
#[derive(Debug)]
pub struct UserPass<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UserPass<T> {
    /// Checks the version and that both fields are present.
    ///
    /// # Errors
    /// [`WireError::BadVersion`] for a version other than 1, or
    /// [`WireError::Truncated`] if the buffer ends early.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        need(b, 2)?;
        if b[0] != USER_PASS_VERSION {
            return Err(WireError::BadVersion(b[0]));
        }
        let ulen = usize::from(b[1]);
        need(b, 2 + ulen + 1)?;
        let plen = usize::from(b[2 + ulen]);
        need(b, 3 + ulen + plen)?;
        Ok(Self { buffer })
    }

    /// The username.
    pub fn user(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[2..2 + usize::from(b[1])]
    }

    /// The password.
    pub fn password(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let at = 3 + usize::from(b[1]);
        &b[at..at + usize::from(b[at - 1])]
    }

    /// Bytes of the message.
    pub fn message_len(&self) -> usize {
        3 + self.user().len() + self.password().len()
    }
}

/// Appends a username/password request.
///
/// # Panics
/// If the username or password is longer than 255 bytes.
pub fn emit_user_pass(user: &[u8], password: &[u8], out: &mut Vec<u8>) {
    let ulen = u8::try_from(user.len()).expect("username of at most 255 bytes");
    let plen = u8::try_from(password.len()).expect("password of at most 255 bytes");
    out.extend_from_slice(&[USER_PASS_VERSION, ulen]);
    out.extend_from_slice(user);
    out.push(plen);
    out.extend_from_slice(password);
}

/// The server's answer to a username/password request: status 0 is
/// success, anything else failure (and the server closes).
pub fn emit_user_pass_status(ok: bool) -> [u8; 2] {
    [USER_PASS_VERSION, u8::from(!ok)]
}

/// The client's first message: the authentication methods it offers.
#[derive(Debug)]
pub struct Greeting<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Greeting<T> {
    /// Checks the version and that all announced methods are present.
    ///
    /// # Errors
    /// [`WireError::BadVersion`], or [`WireError::Truncated`] if the buffer
    /// ends early.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        check_version(b)?;
        need(b, 2)?;
        need(b, 2 + usize::from(b[1]))?;
        Ok(Self { buffer })
    }

    /// The offered methods.
    pub fn methods(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[2..2 + usize::from(b[1])]
    }

    /// Whether `method` is among the offered methods.
    pub fn offers(&self, method: u8) -> bool {
        self.methods().contains(&method)
    }

    /// Bytes of the message.
    pub fn message_len(&self) -> usize {
        2 + self.methods().len()
    }
}

/// Appends a greeting offering `methods`.
///
/// # Panics
/// If more than 255 methods are given.
pub fn emit_greeting(methods: &[u8], out: &mut Vec<u8>) {
    let n = u8::try_from(methods.len()).expect("more than 255 methods");
    out.extend_from_slice(&[VERSION, n]);
    out.extend_from_slice(methods);
}

/// The server's answer to a greeting: the chosen method, or
/// [`METHOD_NONE_ACCEPTABLE`].
pub fn emit_method_selection(method: u8) -> [u8; 2] {
    [VERSION, method]
}

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Command {
    /// Open a TCP connection to the destination.
    Connect = 1,
    /// Accept one inbound TCP connection (not supported by this server).
    Bind = 2,
    /// Relay UDP datagrams; the destination is the address the client will send from.
    UdpAssociate = 3,
}

impl Command {
    /// The command for a CMD byte.
    ///
    /// # Errors
    /// [`WireError::UnknownCommand`] for bytes other than 1, 2 and 3.
    pub fn from_u8(b: u8) -> Result<Self, WireError> {
        match b {
            1 => Ok(Self::Connect),
            2 => Ok(Self::Bind),
            3 => Ok(Self::UdpAssociate),
            c => Err(WireError::UnknownCommand(c)),
        }
    }
}

/// A client's request, after method negotiation.
#[derive(Debug)]
pub struct Request<T: AsRef<[u8]>> {
    buffer: T,
    end: usize,
}

impl<T: AsRef<[u8]>> Request<T> {
    /// Checks the version, the address type and the length. The command is
    /// checked by [`Request::command`], so that a server can tell an unknown
    /// command from a malformed message.
    ///
    /// # Errors
    /// [`WireError::BadVersion`], [`WireError::UnknownAddressType`] or
    /// [`WireError::Truncated`].
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        check_version(b)?;
        need(b, 4)?;
        let (_, end) = address_at(b, 3)?;
        Ok(Self { buffer, end })
    }

    /// The command.
    ///
    /// # Errors
    /// [`WireError::UnknownCommand`] if CMD is not 1, 2 or 3.
    pub fn command(&self) -> Result<Command, WireError> {
        Command::from_u8(self.buffer.as_ref()[1])
    }

    /// DST.ADDR and DST.PORT.
    pub fn destination(&self) -> Address<'_> {
        match address_at(self.buffer.as_ref(), 3) {
            Ok((a, _)) => a,
            // Checked in `new_checked`.
            Err(_) => Address::Domain(&[], 0),
        }
    }

    /// Bytes of the message.
    pub fn message_len(&self) -> usize {
        self.end
    }
}

/// Appends a request.
///
/// # Panics
/// If a domain name is longer than 255 bytes.
pub fn emit_request(command: Command, destination: &Address<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(&[VERSION, command as u8, 0]);
    emit_address(destination, out);
}

/// The REP field of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ReplyCode {
    /// Succeeded.
    Succeeded = 0x00,
    /// General SOCKS server failure.
    GeneralFailure = 0x01,
    /// Connection not allowed by ruleset.
    NotAllowed = 0x02,
    /// Network unreachable.
    NetworkUnreachable = 0x03,
    /// Host unreachable.
    HostUnreachable = 0x04,
    /// Connection refused.
    ConnectionRefused = 0x05,
    /// TTL expired (sent when connecting timed out).
    TtlExpired = 0x06,
    /// Command not supported.
    CommandNotSupported = 0x07,
    /// Address type not supported.
    AddressTypeNotSupported = 0x08,
}

impl ReplyCode {
    /// The reply code for a REP byte.
    ///
    /// # Errors
    /// [`WireError::UnknownReply`] for bytes above 8.
    pub fn from_u8(b: u8) -> Result<Self, WireError> {
        Ok(match b {
            0 => Self::Succeeded,
            1 => Self::GeneralFailure,
            2 => Self::NotAllowed,
            3 => Self::NetworkUnreachable,
            4 => Self::HostUnreachable,
            5 => Self::ConnectionRefused,
            6 => Self::TtlExpired,
            7 => Self::CommandNotSupported,
            8 => Self::AddressTypeNotSupported,
            r => return Err(WireError::UnknownReply(r)),
        })
    }
}

/// The server's reply to a request.
#[derive(Debug)]
pub struct Reply<T: AsRef<[u8]>> {
    buffer: T,
    end: usize,
}

impl<T: AsRef<[u8]>> Reply<T> {
    /// Checks the version, the address type and the length.
    ///
    /// # Errors
    /// [`WireError::BadVersion`], [`WireError::UnknownAddressType`] or
    /// [`WireError::Truncated`].
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        check_version(b)?;
        need(b, 4)?;
        let (_, end) = address_at(b, 3)?;
        Ok(Self { buffer, end })
    }

    /// The reply code.
    ///
    /// # Errors
    /// [`WireError::UnknownReply`] if REP is above 8.
    pub fn code(&self) -> Result<ReplyCode, WireError> {
        ReplyCode::from_u8(self.buffer.as_ref()[1])
    }

    /// BND.ADDR and BND.PORT.
    pub fn bound(&self) -> Address<'_> {
        match address_at(self.buffer.as_ref(), 3) {
            Ok((a, _)) => a,
            // Checked in `new_checked`.
            Err(_) => Address::Domain(&[], 0),
        }
    }

    /// Bytes of the message.
    pub fn message_len(&self) -> usize {
        self.end
    }
}

/// Appends a reply.
pub fn emit_reply(code: ReplyCode, bound: SocketAddr, out: &mut Vec<u8>) {
    out.extend_from_slice(&[VERSION, code as u8, 0]);
    emit_address(&Address::Ip(bound), out);
}

/// A UDP datagram between a client and the relay: header and data.
#[derive(Debug)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
    header_len: usize,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Checks FRAG (only whole datagrams are supported), the address type and
    /// the length.
    ///
    /// # Errors
    /// [`WireError::Fragmented`], [`WireError::UnknownAddressType`] or
    /// [`WireError::Truncated`].
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        need(b, 4)?;
        if b[2] != 0 {
            return Err(WireError::Fragmented(b[2]));
        }
        let (_, header_len) = address_at(b, 3)?;
        Ok(Self { buffer, header_len })
    }

    /// DST.ADDR and DST.PORT: where the data goes (from a client) or where it
    /// came from (to a client).
    pub fn destination(&self) -> Address<'_> {
        match address_at(self.buffer.as_ref(), 3) {
            Ok((a, _)) => a,
            // Checked in `new_checked`.
            Err(_) => Address::Domain(&[], 0),
        }
    }

    /// Bytes of the header.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// The data after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len..]
    }
}

/// Bytes of the UDP header for `addr`.
pub fn udp_header_len(addr: SocketAddr) -> usize {
    match addr {
        SocketAddr::V4(_) => 4 + 4 + 2,
        SocketAddr::V6(_) => 4 + 16 + 2,
    }
}

/// Writes a UDP header (RSV 0, FRAG 0, `addr`) at the start of `out` and
/// returns its length, [`udp_header_len`]`(addr)`.
///
/// # Panics
/// If `out` is shorter than the header.
pub fn emit_udp_header(addr: SocketAddr, out: &mut [u8]) -> usize {
    let len = udp_header_len(addr);
    let out = &mut out[..len];
    out[..3].fill(0);
    match addr {
        SocketAddr::V4(a) => {
            out[3] = ATYP_IPV4;
            out[4..8].copy_from_slice(&a.ip().octets());
        }
        SocketAddr::V6(a) => {
            out[3] = ATYP_IPV6;
            out[4..20].copy_from_slice(&a.ip().octets());
        }
    }
    out[len - 2..].copy_from_slice(&addr.port().to_be_bytes());
    len
}

#[cfg(test)]
mod tests {

    #[test]
    fn user_pass_round_trips_and_checks_its_lengths() {
        let mut b = Vec::new();
        emit_user_pass(b"alice", b"s3cret", &mut b);
        assert_eq!(b, b"\x01\x05alice\x06s3cret");
        let up = UserPass::new_checked(&b[..]).unwrap();
        assert_eq!((up.user(), up.password()), (&b"alice"[..], &b"s3cret"[..]));
        assert_eq!(up.message_len(), b.len());
        for n in 0..b.len() {
            assert!(matches!(
                UserPass::new_checked(&b[..n]),
                Err(WireError::Truncated { .. })
            ));
        }
        let mut wrong = b.clone();
        wrong[0] = 5;
        assert_eq!(
            UserPass::new_checked(&wrong[..]).unwrap_err(),
            WireError::BadVersion(5)
        );
        assert_eq!(emit_user_pass_status(true), [1, 0]);
        assert_eq!(emit_user_pass_status(false), [1, 1]);
    }
    use super::*;
    use proptest::prelude::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn greeting() {
        let g = Greeting::new_checked(&[5, 2, 0, 2][..]).unwrap();
        assert_eq!(g.methods(), &[0, 2]);
        assert!(g.offers(METHOD_NO_AUTH));
        assert_eq!(g.message_len(), 4);
        // Trailing bytes are not part of the message.
        assert_eq!(
            Greeting::new_checked(&[5, 1, 2, 9, 9][..])
                .unwrap()
                .message_len(),
            3
        );
        assert!(!Greeting::new_checked(&[5, 1, 2][..])
            .unwrap()
            .offers(METHOD_NO_AUTH));
        assert!(Greeting::new_checked(&[5, 0][..])
            .unwrap()
            .methods()
            .is_empty());
        assert_eq!(
            Greeting::new_checked(&[5, 3, 0][..]).unwrap_err(),
            WireError::Truncated { len: 3, need: 5 }
        );
        assert_eq!(
            Greeting::new_checked(&[5][..]).unwrap_err(),
            WireError::Truncated { len: 1, need: 2 }
        );
        assert_eq!(
            Greeting::new_checked(&[][..]).unwrap_err(),
            WireError::Truncated { len: 0, need: 1 }
        );
        assert_eq!(
            Greeting::new_checked(&[4, 1, 0][..]).unwrap_err(),
            WireError::BadVersion(4)
        );
        let mut out = Vec::new();
        emit_greeting(&[0, 2], &mut out);
        assert_eq!(out, [5, 2, 0, 2]);
        assert_eq!(emit_method_selection(METHOD_NONE_ACCEPTABLE), [5, 0xFF]);
    }

    #[test]
    fn request_ipv4() {
        let b = [5, 1, 0, 1, 100, 64, 0, 7, 0, 80];
        let r = Request::new_checked(&b[..]).unwrap();
        assert_eq!(r.command(), Ok(Command::Connect));
        assert_eq!(r.destination(), Address::Ip(sa("100.64.0.7:80")));
        assert_eq!(r.message_len(), 10);
        let mut out = Vec::new();
        emit_request(Command::Connect, &r.destination(), &mut out);
        assert_eq!(out, b);
        for cut in 0..b.len() {
            assert!(matches!(
                Request::new_checked(&b[..cut]),
                Err(WireError::Truncated { .. })
            ));
        }
    }

    #[test]
    fn request_ipv6_udp_associate() {
        let mut b = vec![5, 3, 0, 4];
        b.extend_from_slice(&"fd00::1".parse::<Ipv6Addr>().unwrap().octets());
        b.extend_from_slice(&[0x12, 0x34]);
        let r = Request::new_checked(&b[..]).unwrap();
        assert_eq!(r.command(), Ok(Command::UdpAssociate));
        assert_eq!(r.destination(), Address::Ip(sa("[fd00::1]:4660")));
        assert_eq!(r.message_len(), 22);
    }

    #[test]
    fn request_domain() {
        let b = b"\x05\x01\x00\x03\x09127.0.0.1\x01\xbb";
        let r = Request::new_checked(&b[..]).unwrap();
        assert_eq!(r.destination(), Address::Domain(b"127.0.0.1", 443));
        assert_eq!(r.destination().to_socket_addr(), Ok(sa("127.0.0.1:443")));
        assert_eq!(r.message_len(), b.len());

        let b = b"\x05\x01\x00\x03\x07[fd::1]\x00\x50";
        let r = Request::new_checked(&b[..]).unwrap();
        assert_eq!(r.destination().to_socket_addr(), Ok(sa("[fd::1]:80")));

        let b = b"\x05\x01\x00\x03\x09localhost\x00\x50";
        let r = Request::new_checked(&b[..]).unwrap();
        assert_eq!(
            r.destination().to_socket_addr(),
            Err(WireError::NotAnIpAddress)
        );
        assert_eq!(
            WireError::NotAnIpAddress.reply_code(),
            Some(ReplyCode::AddressTypeNotSupported)
        );
        // Invalid UTF-8 and an empty name.
        assert_eq!(
            Address::Domain(&[0xff, 0xfe], 1).to_socket_addr(),
            Err(WireError::NotAnIpAddress)
        );
        assert_eq!(
            Address::Domain(b"", 1).to_socket_addr(),
            Err(WireError::NotAnIpAddress)
        );
        // The length byte promises more than there is.
        assert_eq!(
            Request::new_checked(&b"\x05\x01\x00\x03\x09local"[..]).unwrap_err(),
            WireError::Truncated { len: 10, need: 16 }
        );
    }

    #[test]
    fn mapped_addresses_become_ipv4() {
        let a = Address::Ip(sa("[::ffff:100.64.0.7]:80"));
        assert_eq!(a.to_socket_addr(), Ok(sa("100.64.0.7:80")));
    }

    #[test]
    fn request_errors() {
        assert_eq!(
            Request::new_checked(&[4, 1, 0, 1, 1, 2, 3, 4, 0, 80][..]).unwrap_err(),
            WireError::BadVersion(4)
        );
        assert_eq!(
            Request::new_checked(&[5, 1, 0, 2, 1, 2, 3, 4, 0, 80][..]).unwrap_err(),
            WireError::UnknownAddressType(2)
        );
        let bind = Request::new_checked(&[5, 2, 0, 1, 1, 2, 3, 4, 0, 80][..]).unwrap();
        assert_eq!(bind.command(), Ok(Command::Bind));
        let unknown = Request::new_checked(&[5, 9, 0, 1, 1, 2, 3, 4, 0, 80][..]).unwrap();
        assert_eq!(unknown.command(), Err(WireError::UnknownCommand(9)));
        assert_eq!(
            WireError::UnknownCommand(9).reply_code(),
            Some(ReplyCode::CommandNotSupported)
        );
        assert_eq!(
            WireError::UnknownAddressType(2).reply_code(),
            Some(ReplyCode::AddressTypeNotSupported)
        );
        assert_eq!(
            WireError::BadVersion(4).reply_code(),
            Some(ReplyCode::GeneralFailure)
        );
        assert_eq!(WireError::Truncated { len: 0, need: 1 }.reply_code(), None);
    }

    #[test]
    fn reply() {
        let mut out = Vec::new();
        emit_reply(ReplyCode::Succeeded, sa("127.0.0.1:1080"), &mut out);
        assert_eq!(out, [5, 0, 0, 1, 127, 0, 0, 1, 0x04, 0x38]);
        let r = Reply::new_checked(&out[..]).unwrap();
        assert_eq!(r.code(), Ok(ReplyCode::Succeeded));
        assert_eq!(r.bound(), Address::Ip(sa("127.0.0.1:1080")));
        assert_eq!(r.message_len(), 10);

        out.clear();
        emit_reply(ReplyCode::TtlExpired, sa("[::1]:2"), &mut out);
        assert_eq!(out.len(), 22);
        assert_eq!(&out[..4], &[5, 6, 0, 4]);
        assert_eq!(out[19], 1);
        let r = Reply::new_checked(&out[..]).unwrap();
        assert_eq!(r.code(), Ok(ReplyCode::TtlExpired));
        assert_eq!(
            Reply::new_checked(&[5, 9, 0, 1, 0, 0, 0, 0, 0, 0][..])
                .unwrap()
                .code(),
            Err(WireError::UnknownReply(9))
        );
        for b in 0..=8 {
            assert_eq!(ReplyCode::from_u8(b).unwrap() as u8, b);
        }
    }

    #[test]
    fn udp_packet() {
        let b = [0, 0, 0, 1, 100, 64, 0, 7, 0, 53, b'h', b'i'];
        let p = UdpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(p.destination(), Address::Ip(sa("100.64.0.7:53")));
        assert_eq!(p.header_len(), 10);
        assert_eq!(p.payload(), b"hi");
        // RSV is ignored.
        let b2 = [0xff, 0xff, 0, 1, 100, 64, 0, 7, 0, 53];
        assert_eq!(UdpPacket::new_checked(&b2[..]).unwrap().payload(), b"");
        assert_eq!(
            UdpPacket::new_checked(&[0, 0, 1, 1, 100, 64, 0, 7, 0, 53][..]).unwrap_err(),
            WireError::Fragmented(1)
        );
        assert_eq!(
            UdpPacket::new_checked(&[0, 0, 0, 1, 100, 64][..]).unwrap_err(),
            WireError::Truncated { len: 6, need: 10 }
        );
        assert_eq!(
            UdpPacket::new_checked(&[0, 0, 0, 7][..]).unwrap_err(),
            WireError::UnknownAddressType(7)
        );

        let mut buf = [0xaa; MAX_UDP_HEADER_LEN];
        let n = emit_udp_header(sa("100.64.0.7:53"), &mut buf);
        assert_eq!(&buf[..n], &b[..10]);
        let n = emit_udp_header(sa("[fd00::7]:53"), &mut buf);
        assert_eq!(n, MAX_UDP_HEADER_LEN);
        let p = UdpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(p.destination(), Address::Ip(sa("[fd00::7]:53")));
    }

    fn any_address() -> impl Strategy<Value = (SocketAddr, Option<Vec<u8>>)> {
        prop_oneof![
            (any::<[u8; 4]>(), any::<u16>())
                .prop_map(|(o, p)| (SocketAddr::new(Ipv4Addr::from(o).into(), p), None)),
            (any::<[u8; 16]>(), any::<u16>())
                .prop_map(|(o, p)| (SocketAddr::new(Ipv6Addr::from(o).into(), p), None)),
            (
                proptest::collection::vec(any::<u8>(), 0..=255),
                any::<u16>()
            )
                .prop_map(|(name, p)| (
                    SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), p),
                    Some(name)
                )),
        ]
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(g) = Greeting::new_checked(&b[..]) {
                prop_assert!(g.message_len() <= b.len());
                let _ = g.offers(METHOD_NO_AUTH);
            }
            if let Ok(r) = Request::new_checked(&b[..]) {
                prop_assert!(r.message_len() <= b.len());
                let _ = r.command();
                let _ = r.destination().to_socket_addr();
            }
            if let Ok(r) = Reply::new_checked(&b[..]) {
                prop_assert!(r.message_len() <= b.len());
                let _ = r.code();
                let _ = r.bound().to_socket_addr();
            }
            if let Ok(p) = UdpPacket::new_checked(&b[..]) {
                prop_assert_eq!(p.header_len() + p.payload().len(), b.len());
                let _ = p.destination().to_socket_addr();
            }
        }

        #[test]
        fn truncation_reports_what_is_needed(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            // Reading exactly the bytes asked for, one step at a time, ends in a
            // parse or in an error other than truncation; never in a loop.
            let mut have = 0;
            loop {
                match Request::new_checked(&b[..have]) {
                    Err(WireError::Truncated { need, len }) => {
                        prop_assert_eq!(len, have);
                        prop_assert!(need > have);
                        if need > b.len() { break; }
                        have = need;
                    }
                    Ok(r) => { prop_assert_eq!(r.message_len(), have); break; }
                    Err(_) => break,
                }
            }
        }

        #[test]
        fn request_round_trip((addr, name) in any_address(), cmd in 1u8..=3, data in proptest::collection::vec(any::<u8>(), 0..8)) {
            let address = match &name {
                Some(n) => Address::Domain(n, addr.port()),
                None => Address::Ip(addr),
            };
            let mut out = Vec::new();
            emit_request(Command::from_u8(cmd).unwrap(), &address, &mut out);
            let len = out.len();
            out.extend_from_slice(&data);
            let r = Request::new_checked(&out[..]).unwrap();
            prop_assert_eq!(r.command().unwrap() as u8, cmd);
            prop_assert_eq!(r.destination(), address);
            prop_assert_eq!(r.message_len(), len);
        }

        #[test]
        fn udp_round_trip((addr, _) in any_address(), data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut buf = vec![0u8; MAX_UDP_HEADER_LEN];
            let n = emit_udp_header(addr, &mut buf);
            buf.truncate(n);
            buf.extend_from_slice(&data);
            let p = UdpPacket::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(p.destination(), Address::Ip(addr));
            prop_assert_eq!(p.payload(), &data[..]);
        }
    }
}
