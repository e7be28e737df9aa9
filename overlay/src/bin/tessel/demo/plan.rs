//! The emulated internet of `tessel demo`: its members, the NAT in front
//! of each, and the path each pair is expected to end on, with the reason.
//!
//! ```text
//!                     internet (tdemo-inet)
//!   ____________________________|______________________________________
//!  |            |                |             |            |              |
//! public    full cone      port-restricted  symmetric    symmetric    UDP blocked
//!           NAT ("home")   NAT              sequential   random       (TCP only)
//!  |         |       |       |               |            |              |
//! public   home-a  home-b  portres         symseq       symrand        noudp
//! ```

use tessel_lab::NatKind;

/// Prefix of every namespace the demo makes (tests use `ts-`).
pub(crate) const PREFIX: &str = "tdemo-";

/// The UDP (and TCP) port of every member but the second one at home.
pub(crate) const PORT: u16 = 9740;

/// The port of the second member behind the shared NAT: a port of its own,
/// so that the NAT never has to give two hosts the same external port (its
/// map of live mappings knows one host per external port).
pub(crate) const SECOND_HOME_PORT: u16 = 9750;

/// What stands between a member and the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nat {
    /// Nothing: a public address.
    None,
    /// Endpoint-independent mapping and filtering.
    FullCone,
    /// Endpoint-independent mapping, address-and-port-dependent filtering.
    PortRestricted,
    /// A new port per destination, the next one each time.
    SymmetricSequential,
    /// A new random port per destination.
    SymmetricRandom,
    /// A firewall that drops all UDP.
    UdpBlocked,
}

impl Nat {
    /// The lab's NAT kind, if there is a NAT.
    pub(crate) fn kind(self) -> Option<NatKind> {
        match self {
            Nat::None => None,
            Nat::FullCone => Some(NatKind::FullCone),
            Nat::PortRestricted => Some(NatKind::PortRestrictedCone),
            Nat::SymmetricSequential => Some(NatKind::SymmetricSequential),
            Nat::SymmetricRandom => Some(NatKind::SymmetricRandom),
            Nat::UdpBlocked => Some(NatKind::UdpBlocked),
        }
    }

    /// How the narration and the table name it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Nat::None => "public",
            Nat::FullCone => "full cone",
            Nat::PortRestricted => "port-restricted",
            Nat::SymmetricSequential => "symmetric sequential",
            Nat::SymmetricRandom => "symmetric random",
            Nat::UdpBlocked => "UDP blocked",
        }
    }

    /// Its name in `--json`.
    pub(crate) fn id(self) -> &'static str {
        match self {
            Nat::None => "none",
            Nat::FullCone => "full_cone",
            Nat::PortRestricted => "port_restricted",
            Nat::SymmetricSequential => "symmetric_sequential",
            Nat::SymmetricRandom => "symmetric_random",
            Nat::UdpBlocked => "udp_blocked",
        }
    }
}

/// One member of the demo's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Member {
    /// Its name (and its namespace's, after the prefix).
    pub(crate) name: &'static str,
    /// What is in front of it.
    pub(crate) nat: Nat,
    /// The site (NAT router) it sits behind; members with the same site
    /// share one NAT and one LAN.
    pub(crate) site: &'static str,
    /// Its UDP and TCP port.
    pub(crate) port: u16,
}

/// Every member, the public one first (the others' `--peer`).
pub(crate) const MEMBERS: [Member; 7] = [
    member("public", Nat::None, "", PORT),
    member("home-a", Nat::FullCone, "home", PORT),
    member("home-b", Nat::FullCone, "home", SECOND_HOME_PORT),
    member("portres", Nat::PortRestricted, "portres", PORT),
    member("symseq", Nat::SymmetricSequential, "symseq", PORT),
    member("symrand", Nat::SymmetricRandom, "symrand", PORT),
    member("noudp", Nat::UdpBlocked, "noudp", PORT),
];

const fn member(name: &'static str, nat: Nat, site: &'static str, port: u16) -> Member {
    Member {
        name,
        nat,
        site,
        port,
    }
}

/// Every unordered pair of members, as indices into [`MEMBERS`], in table
/// order.
pub(crate) fn pairs() -> Vec<(usize, usize)> {
    let n = MEMBERS.len();
    (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .collect()
}

/// The path a pair is expected to end on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Straight between the two.
    Direct,
    /// Straight between the two when the ports predicted for a sequential
    /// NAT are the ones it gives; in a busy network another mapping may
    /// come between, and the pair stays relayed until a later punch.
    Predicted,
    /// Through another member.
    Relayed,
}

/// What a pair should end on, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expectation {
    /// Direct or relayed.
    pub(crate) outcome: Outcome,
    /// Whether the path crosses TCP (a member whose UDP is blocked).
    pub(crate) tcp: bool,
    /// Why, in a few words.
    pub(crate) reason: &'static str,
}

/// What `a` and `b` should end on (the order does not matter).
pub(crate) fn expect(a: &Member, b: &Member) -> Expectation {
    use Nat::*;
    use Outcome::{Direct, Predicted, Relayed};
    let e = |outcome, tcp, reason| Expectation {
        outcome,
        tcp,
        reason,
    };
    if a.site == b.site && !a.site.is_empty() {
        return e(
            Direct,
            false,
            "same LAN: LAN discovery finds the other, no NAT in between",
        );
    }
    // Order the pair so that the more open side comes first.
    let (x, y) = if rank(a.nat) <= rank(b.nat) {
        (a.nat, b.nat)
    } else {
        (b.nat, a.nat)
    };
    match (x, y) {
        (None, UdpBlocked) => e(
            Direct,
            true,
            "UDP blocked: it joins the public member over TCP",
        ),
        (_, UdpBlocked) => e(
            Relayed,
            true,
            "UDP blocked: only TCP to the public member, which relays",
        ),
        (None, _) => e(
            Direct,
            false,
            "public address: the other side's NAT opens as it sends",
        ),
        (FullCone, _) => e(
            Direct,
            false,
            "full cone: its mapped port takes packets from anyone",
        ),
        (PortRestricted, PortRestricted) => e(
            Direct,
            false,
            "both cones: they probe at once and each NAT opens toward the other",
        ),
        (PortRestricted, SymmetricSequential) => e(
            Predicted,
            false,
            "sequential NAT: its next port is predicted from its step",
        ),
        (PortRestricted, SymmetricRandom) => e(
            Direct,
            false,
            "birthday: 256 sockets behind the random NAT meet 2,048 probes",
        ),
        (SymmetricSequential, SymmetricSequential) => e(
            Relayed,
            false,
            "both sequential: direct only if no other mapping comes between prediction and probe",
        ),
        _ => e(
            Relayed,
            false,
            "both symmetric, one random: no port to probe can be predicted",
        ),
    }
}

/// How open a NAT is, most open first.
fn rank(nat: Nat) -> u8 {
    match nat {
        Nat::None => 0,
        Nat::FullCone => 1,
        Nat::PortRestricted => 2,
        Nat::SymmetricSequential => 3,
        Nat::SymmetricRandom => 4,
        Nat::UdpBlocked => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_name(name: &str) -> &'static Member {
        MEMBERS.iter().find(|m| m.name == name).unwrap()
    }

    #[test]
    fn expectations_do_not_depend_on_order() {
        for (a, b) in pairs() {
            assert_eq!(
                expect(&MEMBERS[a], &MEMBERS[b]),
                expect(&MEMBERS[b], &MEMBERS[a])
            );
        }
    }

    #[test]
    fn expectations_follow_the_nat_matrix() {
        let outcome = |a, b| expect(by_name(a), by_name(b)).outcome;
        assert_eq!(outcome("home-a", "home-b"), Outcome::Direct);
        assert_eq!(outcome("home-a", "symrand"), Outcome::Direct);
        assert_eq!(outcome("portres", "symrand"), Outcome::Direct);
        assert_eq!(outcome("symseq", "symrand"), Outcome::Relayed);
        assert_eq!(outcome("portres", "symseq"), Outcome::Predicted);
        assert_eq!(outcome("home-b", "noudp"), Outcome::Relayed);
        let to_public = expect(by_name("noudp"), by_name("public"));
        assert_eq!((to_public.outcome, to_public.tcp), (Outcome::Direct, true));
        assert_eq!(pairs().len(), 21);
        let relayed = pairs()
            .into_iter()
            .filter(|&(a, b)| expect(&MEMBERS[a], &MEMBERS[b]).outcome == Outcome::Relayed)
            .count();
        assert_eq!(
            relayed, 6,
            "noudp with five NATed members, symseq x symrand"
        );
    }
}
