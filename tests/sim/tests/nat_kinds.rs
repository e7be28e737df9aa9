//! The named scenarios of the NAT matrix as tests, one trial each (B and C
//! started together, unless the test says otherwise): two members behind
//! one NAT, NAT444, a short mapping timeout, Linux's port clash, a lossy
//! access link, and NAT reboots and renumbering.
//!
//! Each test checks the goal: B and C talk, and end direct where the NAT
//! semantics allow it (relayed where they do not); an idle pair stays
//! direct without a new punch; after a NAT fault the pair talks again
//! and is direct again within [`RECOVERY_GOAL`].
//!
//! `SIM_SEED=N` replays a test with another seed; `tessel-sim matrix` runs
//! many trials per scenario, half of them with C started later.

use std::time::Duration;

use tessel_sim::matrix::{Expect, Scenario, Start, Then, RECOVERY_GOAL};
use tessel_sim::seed::SeedGuard;

/// Seed of the tests when `SIM_SEED` is not set.
const DEFAULT_SEED: u64 = 1;

fn check(name: &str, seed: &SeedGuard, start: Start) {
    let s = Scenario::by_name(name).expect("a scenario of that name");
    let t = s.trial(seed.get(), start);
    println!("{name}: {t:?}");
    assert_eq!(t.violations, 0, "data-path violations");
    assert_eq!(t.reached_rendezvous, (true, true), "B and C reach R");
    assert!(t.pings, "{name}: B and C did not talk");
    let direct = t.direct_at.is_some();
    match s.expected {
        Expect::Direct | Expect::Probably(_) => {
            assert!(direct, "{name}: B and C did not end on a direct path")
        }
        Expect::Relayed(why) => assert!(!direct, "{name}: direct, which cannot be ({why})"),
        Expect::NotYet(_) => {}
    }
    match s.then {
        Then::Nothing => assert_eq!(t.kept, None),
        Then::Idle(idle) => assert_eq!(
            t.kept,
            Some(true),
            "{name}: not direct, no ping or a new punch after {idle:?} idle"
        ),
        Then::Fault(fault) => {
            let talk = t.connected_at.expect("talked again");
            assert!(
                talk <= RECOVERY_GOAL,
                "{name}: talked again {talk:?} after the {fault:?}"
            );
            assert_eq!(t.kept, Some(true));
        }
    }
}

/// B and C together, or C the given milliseconds after B.
fn start(offset_ms: &[u64]) -> Start {
    offset_ms.first().map_or(Start::Together, |&ms| {
        Start::Offset(Duration::from_millis(ms))
    })
}

macro_rules! scenarios {
    ($($(#[$attr:meta])* $test:ident: $name:literal $(, offset $ms:literal)?;)*) => {
        $(
            $(#[$attr])*
            #[test]
            fn $test() {
                let seed = tessel_sim::test_seed!(DEFAULT_SEED);
                check($name, &seed, start(&[$($ms)?]));
            }
        )*
    };
}

scenarios! {
    two_members_behind_one_nat_with_hairpin_talk_directly: "same_nat_hairpin";
    two_members_behind_one_nat_without_hairpin_talk_directly: "same_nat_no_hairpin";
    nat444_without_carrier_hairpin_reaches_a_home_nat_directly: "nat444_no_hairpin_x_port_restricted";
    two_homes_behind_one_hairpinning_carrier_talk_directly: "same_carrier_hairpin";
    two_homes_behind_one_carrier_without_hairpin_talk_through_r: "same_carrier_no_hairpin";
    keepalives_hold_a_direct_path_through_30s_mappings: "timeout_30s_idle_60s";
    linux_router_reaches_a_public_member_directly: "linux_x_public";
    linux_router_and_port_restricted_nat_talk_directly: "linux_x_port_restricted";
    linux_router_and_port_restricted_nat_talk_directly_when_c_starts_later: "linux_x_port_restricted", offset 2773;
    two_linux_routers_talk_directly: "linux_x_linux";
    a_linux_router_and_a_random_symmetric_nat_meet_by_the_birthday_technique: "linux_x_symmetric_random";
    a_linux_router_and_a_sequential_symmetric_nat_talk_directly: "linux_x_symmetric_sequential";
    lossy_slow_link_still_goes_direct: "lossy_port_restricted_x_port_restricted";
    lossy_slow_link_still_finds_a_random_symmetric_nat: "lossy_port_restricted_x_symmetric_random";
    pair_talks_again_at_once_after_a_port_preserving_nat_reboots: "reboot_port_restricted";
    pair_is_direct_again_within_10s_after_a_nat_renumbers: "renumber_port_restricted";
    pair_is_direct_again_within_10s_after_a_random_port_nat_reboots: "reboot_carrier";
    pair_is_direct_again_within_10s_after_a_linux_router_reboots: "reboot_linux";
}

/// Every named scenario has a test above.
#[test]
fn every_scenario_is_tested() {
    let source = include_str!("nat_kinds.rs");
    for s in tessel_sim::matrix::scenarios() {
        assert!(
            source.contains(&format!("\"{}\"", s.name)),
            "no test for scenario {}",
            s.name
        );
    }
}
