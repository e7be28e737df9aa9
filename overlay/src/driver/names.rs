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
