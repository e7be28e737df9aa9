//! Network key rotation in the daemon: which keys to start with, the
//! `network_rotate` control request (with the owner's signed rotation in a
//! managed network), and keeping the keys and that signature in the state
//! dir when the node changes them (`Event::NetworkKeyChanged`).

use std::time::{Duration, Instant};

use zeroize::Zeroize;

use super::control::answers::RotateAnswer;
use super::control::api::{reply, Reply};
use super::control::{ApiError, ErrorCode};
use super::state_dir::StateDir;
use super::{clock, DriverError};
use crate::identity::{NetworkKey, SignedRotation};
use crate::node::Node;

/// The keys a daemon starts with: the current one and, during a grace
/// period, the one being retired with its refuse-after time (Unix ms).
pub(crate) type StartKeys = (NetworkKey, Option<(NetworkKey, u64)>);

/// The keys to start with when `configured` was given (`--network`, or
/// the state dir's own): the state dir's key instead if it is a newer key
/// of the same network (the configured one was rotated away), and the
/// state dir's retiring key if its grace has not ended. Both are saved.
///
/// # Errors
/// If the state dir's key files cannot be read or written.
pub(crate) fn start_keys(
    state: &StateDir,
    configured: &NetworkKey,
    now_unix_ms: u64,
) -> Result<StartKeys, DriverError> {
    let current = match state.network_key()? {
        Some(stored) if stored.supersedes(configured) => {
            tracing::warn!(
                epoch = stored.epoch(),
                given_epoch = configured.epoch(),
                "the network key given was rotated: using the newer key of the state dir"
            );
            stored
        }
        _ => configured.clone(),
    };
    let retiring = state
        .retiring_key()?
        .filter(|(k, until)| *until > now_unix_ms && current.supersedes(k));
    if let Some((k, until)) = &retiring {
        tracing::info!(
            epoch = k.epoch(),
            refused_after_unix_ms = until,
            "the old network key still works until the end of its grace"
        );
    }
    state.save_network_key(&current)?;
    state.save_retiring_key(retiring.as_ref().map(|(k, t)| (k, *t)))?;
    Ok((current, retiring))
}

/// Gives the node the owner's signed rotation to its current key kept in
/// the state dir, if any (managed mode: so that it can hand the key on).
///
/// # Errors
/// If the file cannot be read.
pub(crate) fn restore_signed_rotation(
    node: &mut Node,
    state: &StateDir,
) -> Result<(), DriverError> {
    if let Some(r) = state.signed_rotation()? {
        node.set_signed_rotation(&r);
    }
    Ok(())
}

/// Keeps the node's current and retiring keys, and the owner's signature
/// of the current one, in the state dir.
pub(crate) fn persist(node: &Node, state: &StateDir) {
    let saved = state
        .save_network_key(node.network_key())
        .and_then(|()| state.save_retiring_key(node.retiring_key()))
        .and_then(|()| state.save_signed_rotation(node.signed_rotation().as_ref()));
    if let Err(e) = saved {
        tracing::error!(error = %e, "saving the new network key");
    }
}

/// Answers `network_rotate` (the control API lets only the daemon's own
/// user and root send it: the answer holds the new key). With `signed`
/// (`tessel-rotation-…`, managed mode) the key is the one the owner signed;
/// without, the node makes one (refused in managed mode).
pub(crate) fn rotate_request(
    node: &mut Node,
    state: &StateDir,
    grace_s: u64,
    signed: Option<&str>,
    now: Instant,
) -> Reply {
    let refused = |e: crate::node::RotateError| ApiError::new(ErrorCode::BadRequest, e.to_string());
    let key = match signed {
        Some(text) => {
            let rotation = SignedRotation::from_text(text).map_err(|e| {
                ApiError::new(ErrorCode::BadRequest, format!("signed rotation: {e}"))
            })?;
            node.rotate_network_key_signed(now, &rotation)
                .map_err(refused)?
        }
        None => {
            let mut secret = clock::random_seed().map_err(|e| {
                ApiError::new(
                    ErrorCode::Failed,
                    format!("reading the OS random source: {e}"),
                )
            })?;
            let key = node.rotate_network_key(now, secret, Duration::from_secs(grace_s));
            secret.zeroize();
            key.map_err(refused)?
        }
    };
    persist(node, state);
    reply(&RotateAnswer {
        key: key.to_text().as_str().to_owned(),
        epoch: key.epoch(),
        old_key_refused_after_unix_ms: node.retiring_key().map(|(_, t)| t),
    })
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    fn state(name: &str) -> (StateDir, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("tessel-rot-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        (StateDir::open(&dir).unwrap(), dir)
    }

    #[test]
    fn a_rotated_away_key_starts_on_the_state_dirs_newer_one() {
        let (state, dir) = state("newer");
        let old = NetworkKey::from_secret([1; 32]);
        let new = old.rotated([2; 32]);
        state.save_network_key(&new).unwrap();
        state.save_retiring_key(Some((&old, 5_000))).unwrap();
        // Within the grace: the new key, the old one retiring.
        let (current, retiring) = start_keys(&state, &old, 4_000).unwrap();
        assert_eq!(current.secret(), new.secret());
        let (k, until) = retiring.unwrap();
        assert_eq!((k.secret(), until), (old.secret(), 5_000));
        // After it: the new key alone, and the file is gone.
        let (current, retiring) = start_keys(&state, &old, 6_000).unwrap();
        assert_eq!(current.epoch(), 1);
        assert!(retiring.is_none());
        assert!(state.retiring_key().unwrap().is_none());
        // Another network's key is used as given.
        let other = NetworkKey::from_secret([3; 32]);
        let (current, _) = start_keys(&state, &other, 6_000).unwrap();
        assert_eq!(current.id(), other.id());
        assert_eq!(state.network_key().unwrap().unwrap().id(), other.id());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_rotation_answers_the_new_key_and_keeps_it() {
        let (state, dir) = state("request");
        let key = NetworkKey::from_secret([1; 32]);
        let now = Instant::now();
        let config = crate::node::Config {
            node_key: crate::identity::NodeKey::from_seed([2; 32]),
            network_key: key.clone(),
            ipv4_range: crate::identity::address::Ipv4Range::DEFAULT,
            bootstrap: Vec::new(),
            known_peers: Vec::new(),
            stun_servers: Vec::new(),
            seed: [3; 32],
            unix_ms: 1_800_000_000_000,
        };
        let mut node = Node::new(config, now);
        assert_eq!(node.network_key().epoch(), 0);
        let answer = rotate_request(&mut node, &state, 3600, None, now).unwrap();
        assert_eq!(answer["epoch"], 1);
        let text = answer["key"].as_str().unwrap();
        let saved = state.network_key().unwrap().unwrap();
        assert_eq!(*saved.to_text(), text);
        assert_eq!(saved.id(), key.id());
        let (old, until) = state.retiring_key().unwrap().unwrap();
        assert_eq!((old.secret(), until), (key.secret(), 1_800_003_600_000));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_retiring_key_file_is_private_and_round_trips() {
        use std::os::unix::fs::PermissionsExt;
        let (state, dir) = state("file");
        let old = NetworkKey::from_secret([1; 32]).rotated([4; 32]);
        state.save_retiring_key(Some((&old, 1_234))).unwrap();
        let mode = std::fs::metadata(dir.join("network.key.retiring"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (k, until) = state.retiring_key().unwrap().unwrap();
        assert_eq!((k.epoch(), k.secret(), until), (1, old.secret(), 1_234));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
