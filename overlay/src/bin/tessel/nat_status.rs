//! The `nat` section of `tessel status`.

use tessel_overlay::node::NatStatus;

/// Prints what the node learned from its own STUN requests.
pub(crate) fn print(nat: &NatStatus) {
    println!();
    let reflexive = if nat.reflexive_addresses.is_empty() {
        "none yet".to_owned()
    } else {
        nat.reflexive_addresses.join(", ")
    };
    println!("nat      reflexive {reflexive}");
    println!(
        "         mapping {}  ports {}",
        nat.mapping.replace('_', "-"),
        nat.allocation
    );
    for s in &nat.samples {
        let who = s
            .member
            .as_deref()
            .map_or_else(|| "stun server".to_owned(), |m| format!("member {m}"));
        println!(
            "         {} ({who}) sees {}  rtt {:.1} ms  {:.0}s ago",
            s.reflector, s.mapped, s.rtt_ms, s.age_secs
        );
    }
    if !nat.stun_servers.is_empty() {
        println!("         stun servers {}", nat.stun_servers.join(", "));
    }
}
