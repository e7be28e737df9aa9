//! This node's name at start: the one `tessel up --name` gave, else the one
//! kept in the state dir (file `name`: the name and when it was first
//! claimed, in Unix ms), else, in a managed network, the certificate's.
//! The claim time is kept so that a restart keeps the node's place under
//! the conflict rule (the earliest claim holds a name).

use std::time::Instant;

use super::state_dir::StateDir;
use super::DriverError;
use crate::identity::NodeName;
use crate::node::Node;

/// The file in the state dir.
const NAME_FILE: &str = "name";

/// A name as kept: the name and when it was first claimed.
fn read(state: &StateDir) -> Option<(NodeName, u64)> {
    let path = state.path().join(NAME_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring the kept name");
            return None;
        }
    };
    let mut words = text.split_whitespace();
    let parsed = (|| {
        let name = NodeName::parse(words.next()?).ok()?;
        let at = words.next()?.parse().ok()?;
        Some((name, at))
    })();
    if parsed.is_none() {
        tracing::warn!(path = %path.display(), "ignoring the kept name: not `NAME UNIX_MS`");
    }
    parsed
}

/// Gives `node` its name (see the module documentation) and keeps it.
///
/// # Errors
/// In a managed network, a `requested` name other than the certificate's;
/// a state dir that cannot be written.
pub(crate) fn apply(
    node: &mut Node,
    requested: Option<&NodeName>,
    state: &StateDir,
    now: Instant,
    unix_ms: u64,
) -> Result<(), DriverError> {
    let kept = read(state);
    let name = match (requested, node.certificate_name()) {
        (Some(r), _) => r.clone(),
        (None, Some(Ok(c))) => c,
        (None, Some(Err(e))) => {
            tracing::warn!("this node has no name: its certificate's name is no DNS name ({e})");
            return Ok(());
        }
        (None, None) => match &kept {
            Some((k, _)) => k.clone(),
            None => return Ok(()),
        },
    };
    let claimed_at = match &kept {
        Some((k, at)) if *k == name => *at,
        _ => unix_ms,
    };
    node.set_name(now, name.clone(), claimed_at)
        .map_err(|e| DriverError::Name {
            reason: format!("--name {name}: {e}"),
        })?;
    if kept
        .as_ref()
        .is_none_or(|(k, at)| *k != name || *at != claimed_at)
    {
        let line = format!("{name} {claimed_at}\n");
        state.write_private(&state.path().join(NAME_FILE), line.as_bytes())?;
    }
    tracing::info!(name = %name, "this node's name is {name}");
    Ok(())
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use crate::identity::{NetworkKey, NodeKey};
    use crate::node::Config;

    fn node(now: Instant) -> Node {
        Node::new(
            Config {
                node_key: NodeKey::from_seed([1; 32]),
                network_key: NetworkKey::from_secret([2; 32]),
                ipv4_range: crate::identity::address::Ipv4Range::DEFAULT,
                bootstrap: Vec::new(),
                known_peers: Vec::new(),
                stun_servers: Vec::new(),
                seed: [3; 32],
                unix_ms: 1_800_000_000_000,
            },
            now,
        )
    }

    fn kept(state: &StateDir) -> String {
        std::fs::read_to_string(state.path().join(NAME_FILE)).unwrap()
    }

    #[test]
    fn the_name_and_its_claim_time_survive_a_restart() {
        let dir = std::env::temp_dir().join(format!("tessel-name-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let state = StateDir::open(&dir).unwrap();
        let now = Instant::now();
        let web = NodeName::parse("Web").unwrap();
        // No name given or kept: none.
        let mut n = node(now);
        apply(&mut n, None, &state, now, 1_000).unwrap();
        assert_eq!(n.name_status(), None);
        // Given: kept with the time of the claim.
        apply(&mut n, Some(&web), &state, now, 1_000).unwrap();
        assert_eq!(kept(&state), "web 1000\n");
        // A restart without --name, or with the same one, keeps both.
        for given in [None, Some(&web)] {
            let mut n = node(now);
            apply(&mut n, given, &state, now, 5_000).unwrap();
            assert_eq!(n.name_status().unwrap().name, "web");
            assert_eq!(kept(&state), "web 1000\n");
        }
        // Another name is a new claim.
        let db = NodeName::parse("db").unwrap();
        apply(&mut node(now), Some(&db), &state, now, 9_000).unwrap();
        assert_eq!(kept(&state), "db 9000\n");
        // A damaged file is ignored, not fatal.
        std::fs::write(state.path().join(NAME_FILE), "db-\n").unwrap();
        let mut n = node(now);
        apply(&mut n, None, &state, now, 9_000).unwrap();
        assert_eq!(n.name_status(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
