//! The NAT matrix as tests, one per cell (`nat_<B>_x_<C>`): R is public;
//! B and C sit behind the named NATs and start with `--peer R`.
//!
//! Every cell but those with UDP blocked must talk (carry an IPv6 packet both
//! ways), through R if need be; a cell that the NAT semantics say can be
//! direct must end direct (for the birthday cells, a random search, with the
//! default seed), and one they say cannot must stay relayed. A cell that
//! cannot talk yet (see
//! [`tessel_sim::matrix::expected`]) is reported as "not yet connected"; it
//! still checks what must hold there: B and C reach R unless UDP is blocked
//! (and never if it is), no data-path violation, and no direct session,
//! which the semantics rule out (a session there would mean the NAT model
//! is wrong, or the node learned a new way through: update `expected`).
//!
//! `SIM_SEED=N` replays a cell with another seed; `tessel-sim matrix` runs
//! many seeds per cell.

use tessel_sim::matrix::{expected, trial, Expect, Side};
use tessel_sim::nat::NatKind;

/// Seed of the cells when `SIM_SEED` is not set.
const DEFAULT_SEED: u64 = 1;

fn check(b: Side, c: Side, seed: &tessel_sim::seed::SeedGuard) {
    let t = trial(b, c, seed.get());
    assert_eq!(t.violations, 0, "data-path violations");
    let blocked = |s: Side| s == Side::Nat(NatKind::UdpBlocked);
    assert_eq!(t.reached_rendezvous.0, !blocked(b), "B (behind {b}) and R");
    assert_eq!(t.reached_rendezvous.1, !blocked(c), "C (behind {c}) and R");
    let talked = t.connected_at.is_some();
    let direct = t.direct_at.is_some();
    assert_eq!(
        t.pings, talked,
        "{b} × {c}: a session that does not carry packets"
    );
    match expected(b, c) {
        Expect::Direct => {
            assert!(talked, "{b} × {c}: B and C did not talk");
            assert!(direct, "{b} × {c}: B and C did not end on a direct path");
        }
        Expect::Probably(why) => {
            // A random search: the default seed is one that finds a path
            // (`tessel-sim matrix` gives the fraction over many seeds).
            assert!(talked, "{b} × {c}: B and C did not talk");
            assert!(direct, "{b} × {c}: no direct path ({why})");
        }
        Expect::Relayed(why) => {
            assert!(talked, "{b} × {c}: B and C did not talk through R");
            assert!(
                !direct,
                "{b} × {c}: direct, which the NAT semantics rule out ({why})"
            );
        }
        Expect::NotYet(why) => {
            assert!(!talked, "{b} × {c}: talked, which cannot be yet ({why})");
            println!("{b} × {c}: cannot talk yet: {why}");
        }
    }
}

macro_rules! cells {
    ($($name:ident: $b:expr, $c:expr;)*) => {
        $(
            #[test]
            fn $name() {
                let seed = tessel_sim::test_seed!(DEFAULT_SEED);
                check($b, $c, &seed);
            }
        )*
    };
}

cells! {
    nat_public_x_public: Side::Public, Side::Public;
    nat_public_x_full_cone: Side::Public, Side::Nat(NatKind::FullCone);
    nat_public_x_restricted_cone: Side::Public, Side::Nat(NatKind::RestrictedCone);
    nat_public_x_port_restricted: Side::Public, Side::Nat(NatKind::PortRestrictedCone);
    nat_public_x_symmetric_preserving: Side::Public, Side::Nat(NatKind::SymmetricPreserving);
    nat_public_x_symmetric_sequential: Side::Public, Side::Nat(NatKind::SymmetricSequential);
    nat_public_x_symmetric_random: Side::Public, Side::Nat(NatKind::SymmetricRandom);
    nat_public_x_udp_blocked: Side::Public, Side::Nat(NatKind::UdpBlocked);
    nat_public_x_cgn: Side::Public, Side::Cgn;
    nat_full_cone_x_full_cone: Side::Nat(NatKind::FullCone), Side::Nat(NatKind::FullCone);
    nat_full_cone_x_restricted_cone: Side::Nat(NatKind::FullCone), Side::Nat(NatKind::RestrictedCone);
    nat_full_cone_x_port_restricted: Side::Nat(NatKind::FullCone), Side::Nat(NatKind::PortRestrictedCone);
    nat_full_cone_x_symmetric_preserving: Side::Nat(NatKind::FullCone), Side::Nat(NatKind::SymmetricPreserving);
    nat_full_cone_x_symmetric_sequential: Side::Nat(NatKind::FullCone), Side::Nat(NatKind::SymmetricSequential);
    nat_full_cone_x_symmetric_random: Side::Nat(NatKind::FullCone), Side::Nat(NatKind::SymmetricRandom);
    nat_full_cone_x_udp_blocked: Side::Nat(NatKind::FullCone), Side::Nat(NatKind::UdpBlocked);
    nat_full_cone_x_cgn: Side::Nat(NatKind::FullCone), Side::Cgn;
    nat_restricted_cone_x_restricted_cone: Side::Nat(NatKind::RestrictedCone), Side::Nat(NatKind::RestrictedCone);
    nat_restricted_cone_x_port_restricted: Side::Nat(NatKind::RestrictedCone), Side::Nat(NatKind::PortRestrictedCone);
    nat_restricted_cone_x_symmetric_preserving: Side::Nat(NatKind::RestrictedCone), Side::Nat(NatKind::SymmetricPreserving);
    nat_restricted_cone_x_symmetric_sequential: Side::Nat(NatKind::RestrictedCone), Side::Nat(NatKind::SymmetricSequential);
    nat_restricted_cone_x_symmetric_random: Side::Nat(NatKind::RestrictedCone), Side::Nat(NatKind::SymmetricRandom);
    nat_restricted_cone_x_udp_blocked: Side::Nat(NatKind::RestrictedCone), Side::Nat(NatKind::UdpBlocked);
    nat_restricted_cone_x_cgn: Side::Nat(NatKind::RestrictedCone), Side::Cgn;
    nat_port_restricted_x_port_restricted: Side::Nat(NatKind::PortRestrictedCone), Side::Nat(NatKind::PortRestrictedCone);
    nat_port_restricted_x_symmetric_preserving: Side::Nat(NatKind::PortRestrictedCone), Side::Nat(NatKind::SymmetricPreserving);
    nat_port_restricted_x_symmetric_sequential: Side::Nat(NatKind::PortRestrictedCone), Side::Nat(NatKind::SymmetricSequential);
    nat_port_restricted_x_symmetric_random: Side::Nat(NatKind::PortRestrictedCone), Side::Nat(NatKind::SymmetricRandom);
    nat_port_restricted_x_udp_blocked: Side::Nat(NatKind::PortRestrictedCone), Side::Nat(NatKind::UdpBlocked);
    nat_port_restricted_x_cgn: Side::Nat(NatKind::PortRestrictedCone), Side::Cgn;
    nat_symmetric_preserving_x_symmetric_preserving: Side::Nat(NatKind::SymmetricPreserving), Side::Nat(NatKind::SymmetricPreserving);
    nat_symmetric_preserving_x_symmetric_sequential: Side::Nat(NatKind::SymmetricPreserving), Side::Nat(NatKind::SymmetricSequential);
    nat_symmetric_preserving_x_symmetric_random: Side::Nat(NatKind::SymmetricPreserving), Side::Nat(NatKind::SymmetricRandom);
    nat_symmetric_preserving_x_udp_blocked: Side::Nat(NatKind::SymmetricPreserving), Side::Nat(NatKind::UdpBlocked);
    nat_symmetric_preserving_x_cgn: Side::Nat(NatKind::SymmetricPreserving), Side::Cgn;
    nat_symmetric_sequential_x_symmetric_sequential: Side::Nat(NatKind::SymmetricSequential), Side::Nat(NatKind::SymmetricSequential);
    nat_symmetric_sequential_x_symmetric_random: Side::Nat(NatKind::SymmetricSequential), Side::Nat(NatKind::SymmetricRandom);
    nat_symmetric_sequential_x_udp_blocked: Side::Nat(NatKind::SymmetricSequential), Side::Nat(NatKind::UdpBlocked);
    nat_symmetric_sequential_x_cgn: Side::Nat(NatKind::SymmetricSequential), Side::Cgn;
    nat_symmetric_random_x_symmetric_random: Side::Nat(NatKind::SymmetricRandom), Side::Nat(NatKind::SymmetricRandom);
    nat_symmetric_random_x_udp_blocked: Side::Nat(NatKind::SymmetricRandom), Side::Nat(NatKind::UdpBlocked);
    nat_symmetric_random_x_cgn: Side::Nat(NatKind::SymmetricRandom), Side::Cgn;
    nat_udp_blocked_x_udp_blocked: Side::Nat(NatKind::UdpBlocked), Side::Nat(NatKind::UdpBlocked);
    nat_udp_blocked_x_cgn: Side::Nat(NatKind::UdpBlocked), Side::Cgn;
    nat_cgn_x_cgn: Side::Cgn, Side::Cgn;
}

/// Every cell above exists exactly once.
#[test]
fn the_matrix_is_complete() {
    let names = [
        "nat_public_x_public",
        "nat_public_x_full_cone",
        "nat_public_x_restricted_cone",
        "nat_public_x_port_restricted",
        "nat_public_x_symmetric_preserving",
        "nat_public_x_symmetric_sequential",
        "nat_public_x_symmetric_random",
        "nat_public_x_udp_blocked",
        "nat_public_x_cgn",
        "nat_full_cone_x_full_cone",
        "nat_full_cone_x_restricted_cone",
        "nat_full_cone_x_port_restricted",
        "nat_full_cone_x_symmetric_preserving",
        "nat_full_cone_x_symmetric_sequential",
        "nat_full_cone_x_symmetric_random",
        "nat_full_cone_x_udp_blocked",
        "nat_full_cone_x_cgn",
        "nat_restricted_cone_x_restricted_cone",
        "nat_restricted_cone_x_port_restricted",
        "nat_restricted_cone_x_symmetric_preserving",
        "nat_restricted_cone_x_symmetric_sequential",
        "nat_restricted_cone_x_symmetric_random",
        "nat_restricted_cone_x_udp_blocked",
        "nat_restricted_cone_x_cgn",
        "nat_port_restricted_x_port_restricted",
        "nat_port_restricted_x_symmetric_preserving",
        "nat_port_restricted_x_symmetric_sequential",
        "nat_port_restricted_x_symmetric_random",
        "nat_port_restricted_x_udp_blocked",
        "nat_port_restricted_x_cgn",
        "nat_symmetric_preserving_x_symmetric_preserving",
        "nat_symmetric_preserving_x_symmetric_sequential",
        "nat_symmetric_preserving_x_symmetric_random",
        "nat_symmetric_preserving_x_udp_blocked",
        "nat_symmetric_preserving_x_cgn",
        "nat_symmetric_sequential_x_symmetric_sequential",
        "nat_symmetric_sequential_x_symmetric_random",
        "nat_symmetric_sequential_x_udp_blocked",
        "nat_symmetric_sequential_x_cgn",
        "nat_symmetric_random_x_symmetric_random",
        "nat_symmetric_random_x_udp_blocked",
        "nat_symmetric_random_x_cgn",
        "nat_udp_blocked_x_udp_blocked",
        "nat_udp_blocked_x_cgn",
        "nat_cgn_x_cgn",
    ];
    let mut expected_names = Vec::new();
    for (i, b) in Side::ALL.iter().enumerate() {
        for c in &Side::ALL[i..] {
            expected_names.push(format!("nat_{}_x_{}", b.name(), c.name()));
        }
    }
    assert_eq!(names.to_vec(), expected_names);
}
