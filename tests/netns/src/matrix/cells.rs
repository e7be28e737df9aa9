//! The cells of the NAT traversal matrix: where B and C sit, and the path
//! each pair must end on. The one table that both the traversal test (one
//! test per cell) and the repeated measurement (`lab-matrix`) read.

use tessel_lab::NatKind;

/// Where a member sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// A public address on the internet.
    Public,
    /// Behind a NAT of this kind.
    Nat(NatKind),
}

impl Site {
    /// The name used in cell names and reports.
    pub fn name(self) -> &'static str {
        match self {
            Site::Public => "public",
            Site::Nat(NatKind::FullCone) => "full_cone",
            Site::Nat(NatKind::RestrictedCone) => "restricted_cone",
            Site::Nat(NatKind::PortRestrictedCone) => "port_restricted",
            Site::Nat(NatKind::SymmetricSequential) => "symmetric_sequential",
            Site::Nat(NatKind::SymmetricRandom) => "symmetric_random",
            Site::Nat(NatKind::SymmetricFullyRandom) => "symmetric_fully_random",
            Site::Nat(NatKind::UdpBlocked) => "udp_blocked",
            Site::Nat(NatKind::StockLinux) => "stock_linux",
        }
    }

    /// Whether a member here can reach the internet only over TCP.
    pub fn udp_blocked(self) -> bool {
        self == Site::Nat(NatKind::UdpBlocked)
    }
}

/// A public member.
pub const PUBLIC: Site = Site::Public;
/// Behind a full cone NAT.
pub const FULL_CONE: Site = Site::Nat(NatKind::FullCone);
/// Behind a port-restricted cone NAT.
pub const PORT_RESTRICTED: Site = Site::Nat(NatKind::PortRestrictedCone);
/// Behind a symmetric NAT with sequential ports.
pub const SYMMETRIC_SEQUENTIAL: Site = Site::Nat(NatKind::SymmetricSequential);
/// Behind a symmetric NAT with random ports.
pub const SYMMETRIC_RANDOM: Site = Site::Nat(NatKind::SymmetricRandom);
/// Behind a NAT whose firewall drops all UDP.
pub const UDP_BLOCKED: Site = Site::Nat(NatKind::UdpBlocked);

/// The sites of the matrix, in table order.
pub const SITES: [Site; 6] = [
    PUBLIC,
    FULL_CONE,
    PORT_RESTRICTED,
    SYMMETRIC_SEQUENTIAL,
    SYMMETRIC_RANDOM,
    UDP_BLOCKED,
];

/// The path a cell must end on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// B and C exchange datagrams with each other's public address.
    Direct,
    /// B and C reach each other through other members.
    Relayed,
}

/// One cell: B's site, C's site, and the path they must end on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatrixCell {
    /// The cell's name, `nat_<B>_x_<C>` (also its test's name).
    pub name: &'static str,
    /// Where B sits.
    pub b: Site,
    /// Where C sits.
    pub c: Site,
    /// The path B and C must end on.
    pub expect: Expect,
}

impl MatrixCell {
    /// `<B> x <C>`, as reports print it.
    pub fn label(&self) -> String {
        format!("{} x {}", self.b.name(), self.c.name())
    }

    /// Whether B or C can reach the internet only over TCP.
    pub fn udp_blocked(&self) -> bool {
        self.b.udp_blocked() || self.c.udp_blocked()
    }
}

macro_rules! table {
    ($($name:ident: $b:ident x $c:ident => $expect:ident;)*) => {
        /// Every cell, in table order: every unordered pair of [`SITES`]
        /// once. Members behind UDP-blocking NATs join R over TCP and talk
        /// through it.
        pub const CELLS: &[MatrixCell] = &[$(MatrixCell {
            name: stringify!($name),
            b: $b,
            c: $c,
            expect: Expect::$expect,
        }),*];
    };
}

table! {
    nat_public_x_public: PUBLIC x PUBLIC => Direct;
    nat_public_x_full_cone: PUBLIC x FULL_CONE => Direct;
    nat_public_x_port_restricted: PUBLIC x PORT_RESTRICTED => Direct;
    nat_public_x_symmetric_sequential: PUBLIC x SYMMETRIC_SEQUENTIAL => Direct;
    nat_public_x_symmetric_random: PUBLIC x SYMMETRIC_RANDOM => Direct;
    nat_public_x_udp_blocked: PUBLIC x UDP_BLOCKED => Relayed;
    nat_full_cone_x_full_cone: FULL_CONE x FULL_CONE => Direct;
    nat_full_cone_x_port_restricted: FULL_CONE x PORT_RESTRICTED => Direct;
    nat_full_cone_x_symmetric_sequential: FULL_CONE x SYMMETRIC_SEQUENTIAL => Direct;
    nat_full_cone_x_symmetric_random: FULL_CONE x SYMMETRIC_RANDOM => Direct;
    nat_full_cone_x_udp_blocked: FULL_CONE x UDP_BLOCKED => Relayed;
    nat_port_restricted_x_port_restricted: PORT_RESTRICTED x PORT_RESTRICTED => Direct;
    nat_port_restricted_x_symmetric_sequential: PORT_RESTRICTED x SYMMETRIC_SEQUENTIAL => Direct;
    nat_port_restricted_x_symmetric_random: PORT_RESTRICTED x SYMMETRIC_RANDOM => Direct;
    nat_port_restricted_x_udp_blocked: PORT_RESTRICTED x UDP_BLOCKED => Relayed;
    nat_symmetric_sequential_x_symmetric_sequential: SYMMETRIC_SEQUENTIAL x SYMMETRIC_SEQUENTIAL => Direct;
    nat_symmetric_sequential_x_symmetric_random: SYMMETRIC_SEQUENTIAL x SYMMETRIC_RANDOM => Relayed;
    nat_symmetric_sequential_x_udp_blocked: SYMMETRIC_SEQUENTIAL x UDP_BLOCKED => Relayed;
    nat_symmetric_random_x_symmetric_random: SYMMETRIC_RANDOM x SYMMETRIC_RANDOM => Relayed;
    nat_symmetric_random_x_udp_blocked: SYMMETRIC_RANDOM x UDP_BLOCKED => Relayed;
    nat_udp_blocked_x_udp_blocked: UDP_BLOCKED x UDP_BLOCKED => Relayed;
}

/// The cell named `name` (`nat_<B>_x_<C>`), if the table has it.
pub fn cell(name: &str) -> Option<&'static MatrixCell> {
    CELLS.iter().find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::{CELLS, SITES};

    /// The table holds every unordered pair of the sites exactly once,
    /// each under its `nat_<B>_x_<C>` name.
    #[test]
    fn the_table_holds_every_pair_once() {
        let mut want = Vec::new();
        for (i, b) in SITES.iter().enumerate() {
            for c in &SITES[i..] {
                want.push((format!("nat_{}_x_{}", b.name(), c.name()), *b, *c));
            }
        }
        let have: Vec<_> = CELLS
            .iter()
            .map(|c| (c.name.to_owned(), c.b, c.c))
            .collect();
        assert_eq!(have, want);
    }
}
