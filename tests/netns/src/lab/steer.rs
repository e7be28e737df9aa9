//! Steering packets to an NFQUEUE with an nftables rule, over raw netlink.
//!
//! This kernel has no `nft_queue` expression (`CONFIG_NFT_QUEUE` is off, so
//! `nft add rule … queue num 0` fails with "No such file or directory"),
//! but it has the xtables `NFQUEUE` target and `nft_compat`, which lets an
//! nftables rule call an xtables target. The `nft` tool cannot write such a
//! rule (it can only list one, as `xt target "NFQUEUE"`), so this module
//! sends the nf_tables netlink messages itself:
//!
//! ```text
//! table ip|ip6 <name> { flags owner          # one table per family
//!     chain steer { type filter hook prerouting|output priority raw; policy accept;
//!         meta iif|oif <ifindex> xt target "NFQUEUE"   # --queue-num N --queue-bypass
//!     }
//! }
//! ```
//!
//! The chain runs at priority `raw` (-300), before connection tracking
//! (-200). A packet held in a queue after conntrack has seen it would hold
//! an unconfirmed conntrack entry; the next packet of the same new flow
//! would then create a second one, and the kernel drops one of them when
//! both are confirmed. Before conntrack, the first packet is confirmed
//! before the next one is looked up, as on a real delayed link.
//!
//! The tables carry the `owner` flag: the kernel deletes them when the
//! netlink socket that created them closes, so the steering lives exactly as
//! long as the process holding [`Steering`], and traffic never stays sent to
//! a queue nobody reads. The `bypass` flag lets packets through unimpaired
//! while no program is bound to the queue.

// System calls and FFI that no safe wrapper here covers; every block
// says why it is sound.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Where the steering chain hooks in, and which interface it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// Packets arriving on the interfaces (`meta iif`): what a router
    /// forwards from them, and what they bring to the namespace itself.
    Ingress,
    /// Packets the namespace itself sends out of the interfaces
    /// (`meta oif`): a host's own link.
    Output,
}

impl Hook {
    fn number(self) -> u32 {
        match self {
            Hook::Ingress => 0, // NF_INET_PRE_ROUTING
            Hook::Output => 3,  // NF_INET_LOCAL_OUT
        }
    }

    fn meta_key(self) -> u32 {
        match self {
            Hook::Ingress => NFT_META_IIF,
            Hook::Output => NFT_META_OIF,
        }
    }
}

/// Priority of the steering chain: `raw`, before connection tracking.
pub const PRIORITY: i32 = -300;

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_NEWRULE: u16 = 6;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_APPEND: u16 = 0x800;
const NLMSG_ERROR: u16 = 0x2;
const NLA_F_NESTED: u16 = 0x8000;
const NFT_TABLE_F_OWNER: u32 = 0x2;
const NFT_META_IIF: u32 = 4;
const NFT_META_OIF: u32 = 5;
const NFT_REG_1: u32 = 1;
const NFT_CMP_EQ: u32 = 0;
const NF_ACCEPT: u32 = 1;
const NFQ_FLAG_BYPASS: u16 = 0x1;
/// Address families with a table each: IPv4 and IPv6.
const FAMILIES: [u8; 2] = [libc::NFPROTO_IPV4 as u8, libc::NFPROTO_IPV6 as u8];

/// The installed steering tables; dropping this closes the netlink socket,
/// and the kernel removes the tables.
#[derive(Debug)]
pub struct Steering {
    _socket: OwnedFd,
}

impl Steering {
    /// Creates table `table` (in both the `ip` and `ip6` families) with a
    /// base chain on `hook` that queues every packet of the interfaces
    /// `ifaces` (by index) to NFQUEUE `queue`.
    pub fn install(table: &str, hook: Hook, ifaces: &[u32], queue: u16) -> io::Result<Self> {
        // SAFETY: plain socket(2); the result is checked before use.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_NETFILTER,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut batch = Vec::new();
        let mut seq = 0;
        let mut acks = 0;
        let mut push = |batch: &mut Vec<u8>, msg: Msg, ack: bool| {
            seq += 1;
            acks += usize::from(ack);
            batch.extend(msg.finish(seq));
        };
        push(&mut batch, Msg::batch(NFNL_MSG_BATCH_BEGIN), false);
        for family in FAMILIES {
            push(&mut batch, table_msg(family, table), true);
            push(&mut batch, chain_msg(family, table, hook), true);
            for &iface in ifaces {
                push(
                    &mut batch,
                    rule_msg(family, table, hook, iface, queue),
                    true,
                );
            }
        }
        push(&mut batch, Msg::batch(NFNL_MSG_BATCH_END), false);
        send(&socket, &batch)?;
        read_acks(&socket, acks)?;
        Ok(Self { _socket: socket })
    }
}

/// Name of the chain inside the steering table.
pub const CHAIN: &str = "steer";

fn table_msg(family: u8, table: &str) -> Msg {
    let mut m = Msg::nft(NFT_MSG_NEWTABLE, NLM_F_CREATE, family);
    m.str(1, table); // NFTA_TABLE_NAME
    m.be32(2, NFT_TABLE_F_OWNER); // NFTA_TABLE_FLAGS
    m
}

fn chain_msg(family: u8, table: &str, hook: Hook) -> Msg {
    let mut m = Msg::nft(NFT_MSG_NEWCHAIN, NLM_F_CREATE, family);
    m.str(1, table); // NFTA_CHAIN_TABLE
    m.str(3, CHAIN); // NFTA_CHAIN_NAME
    m.nest(4, |m| {
        // NFTA_CHAIN_HOOK
        m.be32(1, hook.number()); // NFTA_HOOK_HOOKNUM
        m.be32(2, PRIORITY as u32); // NFTA_HOOK_PRIORITY
    });
    m.be32(5, NF_ACCEPT); // NFTA_CHAIN_POLICY
    m.str(7, "filter"); // NFTA_CHAIN_TYPE
    m
}

fn rule_msg(family: u8, table: &str, hook: Hook, iface: u32, queue: u16) -> Msg {
    let mut m = Msg::nft(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, family);
    m.str(1, table); // NFTA_RULE_TABLE
    m.str(2, CHAIN); // NFTA_RULE_CHAIN
    m.nest(4, |m| {
        // NFTA_RULE_EXPRESSIONS
        expr(m, "meta", |m| {
            m.be32(1, NFT_REG_1); // NFTA_META_DREG
            m.be32(2, hook.meta_key()); // NFTA_META_KEY
        });
        expr(m, "cmp", |m| {
            m.be32(1, NFT_REG_1); // NFTA_CMP_SREG
            m.be32(2, NFT_CMP_EQ); // NFTA_CMP_OP
            m.nest(3, |m| m.attr(1, &iface.to_ne_bytes())); // NFTA_CMP_DATA { NFTA_DATA_VALUE }
        });
        expr(m, "target", |m| {
            m.str(1, "NFQUEUE"); // NFTA_TARGET_NAME
            m.be32(2, 3); // NFTA_TARGET_REV: struct xt_NFQ_info_v3
            let mut info = [0u8; 8]; // XT_ALIGN(sizeof(xt_NFQ_info_v3))
            info[0..2].copy_from_slice(&queue.to_ne_bytes()); // queuenum
            info[2..4].copy_from_slice(&1u16.to_ne_bytes()); // queues_total
            info[4..6].copy_from_slice(&NFQ_FLAG_BYPASS.to_ne_bytes()); // flags
            m.attr(3, &info); // NFTA_TARGET_INFO
        });
    });
    m
}

/// One `NFTA_LIST_ELEM` holding expression `name` with data from `data`.
fn expr(m: &mut Msg, name: &str, data: impl FnOnce(&mut Msg)) {
    m.nest(1, |m| {
        m.str(1, name); // NFTA_EXPR_NAME
        m.nest(2, data); // NFTA_EXPR_DATA
    });
}

/// A netlink message under construction: header, `nfgenmsg`, attributes.
struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    fn new(ty: u16, flags: u16, family: u8, res_id: u16) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.extend(0u32.to_ne_bytes()); // nlmsg_len, set by finish
        buf.extend(ty.to_ne_bytes());
        buf.extend((flags | NLM_F_REQUEST).to_ne_bytes());
        buf.extend(0u32.to_ne_bytes()); // nlmsg_seq, set by finish
        buf.extend(0u32.to_ne_bytes()); // nlmsg_pid
        buf.push(family); // nfgen_family
        buf.push(0); // version: NFNETLINK_V0
        buf.extend(res_id.to_be_bytes());
        Self { buf }
    }

    fn batch(ty: u16) -> Self {
        Self::new(ty, 0, libc::AF_UNSPEC as u8, NFNL_SUBSYS_NFTABLES)
    }

    fn nft(cmd: u16, flags: u16, family: u8) -> Self {
        Self::new(
            (NFNL_SUBSYS_NFTABLES << 8) | cmd,
            flags | NLM_F_ACK,
            family,
            0,
        )
    }

    fn attr(&mut self, ty: u16, data: &[u8]) {
        let len = u16::try_from(4 + data.len()).expect("attribute fits in 64 KiB");
        self.buf.extend(len.to_ne_bytes());
        self.buf.extend(ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.pad();
    }

    fn str(&mut self, ty: u16, s: &str) {
        let mut data = s.as_bytes().to_vec();
        data.push(0);
        self.attr(ty, &data);
    }

    fn be32(&mut self, ty: u16, v: u32) {
        self.attr(ty, &v.to_be_bytes());
    }

    fn nest(&mut self, ty: u16, inner: impl FnOnce(&mut Self)) {
        let start = self.buf.len();
        self.buf.extend([0, 0]);
        self.buf.extend((ty | NLA_F_NESTED).to_ne_bytes());
        inner(self);
        let len = u16::try_from(self.buf.len() - start).expect("nest fits in 64 KiB");
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn pad(&mut self) {
        self.buf.resize(self.buf.len().next_multiple_of(4), 0);
    }

    fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = u32::try_from(self.buf.len()).expect("message fits in 4 GiB");
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

fn send(socket: &OwnedFd, batch: &[u8]) -> io::Result<()> {
    // SAFETY: an all-zero sockaddr_nl addresses the kernel.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: buffer and address are valid for the lengths given.
    let n = unsafe {
        libc::sendto(
            socket.as_raw_fd(),
            batch.as_ptr().cast(),
            batch.len(),
            0,
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads netlink replies until `expected` acknowledgements have arrived;
/// fails with the first error the kernel reports.
fn read_acks(socket: &OwnedFd, expected: usize) -> io::Result<()> {
    let mut seen = 0;
    let mut buf = vec![0u8; 16384];
    while seen < expected {
        // SAFETY: buf is valid for its length.
        let n = unsafe { libc::recv(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut rest = &buf[..n as usize];
        while rest.len() >= 16 {
            let len = u32::from_ne_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
            let ty = u16::from_ne_bytes(rest[4..6].try_into().expect("2 bytes"));
            if len < 16 || len > rest.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "truncated netlink reply",
                ));
            }
            if ty == NLMSG_ERROR && len >= 20 {
                let code = i32::from_ne_bytes(rest[16..20].try_into().expect("4 bytes"));
                if code != 0 {
                    return Err(io::Error::from_raw_os_error(-code));
                }
                seen += 1;
            }
            rest = &rest[(len + 3) & !3..];
            if rest.len() < 16 {
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_and_nests_sized() {
        let mut m = Msg::nft(NFT_MSG_NEWTABLE, 0, 2);
        m.str(1, "ab");
        m.nest(4, |m| m.be32(1, 7));
        let bytes = m.finish(9);
        assert_eq!(bytes.len(), 20 + 8 + 12);
        assert_eq!(u32::from_ne_bytes(bytes[0..4].try_into().unwrap()), 40);
        assert_eq!(u32::from_ne_bytes(bytes[8..12].try_into().unwrap()), 9);
        // "ab\0" padded to 4 bytes.
        assert_eq!(&bytes[20..28], &[7, 0, 1, 0, b'a', b'b', 0, 0]);
        // The nest's length covers its header and the u32 attribute.
        assert_eq!(u16::from_ne_bytes(bytes[28..30].try_into().unwrap()), 12);
        assert_eq!(
            u16::from_ne_bytes(bytes[30..32].try_into().unwrap()),
            4 | NLA_F_NESTED
        );
        assert_eq!(&bytes[36..40], &7u32.to_be_bytes());
    }
}
