//! The scope state kept in the state dir (`scope-state`, mode 0600): what
//! [`tessel_actors::Transport::scope_state`] gives, written atomically
//! whenever it changed and at exit, and restored at start, so that the
//! generation serials this node assigns as a root runtime never repeat
//! across restarts.

use tessel_actors::ScopeState;

use crate::driver::state_dir::StateDir;
use crate::driver::DriverError;

/// The file in the state dir.
pub const FILE: &str = "scope-state";

/// Reads the saved state; the default if there is none, and the default
/// (with a warning) if the file is unreadable.
pub fn load(state: &StateDir) -> ScopeState {
    let path = state.path().join(FILE);
    match std::fs::read(&path) {
        Ok(b) => ScopeState::parse(&b).unwrap_or_else(|e| {
            tracing::warn!(path = %path.display(), error = %e, "ignoring an unreadable scope state");
            ScopeState::default()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ScopeState::default(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "reading the scope state");
            ScopeState::default()
        }
    }
}

/// Writes `s` (mode 0600, through a temporary file and a rename).
///
/// # Errors
/// If the file cannot be written.
pub fn save(state: &StateDir, s: &ScopeState) -> Result<(), DriverError> {
    state.write_private(&state.path().join(FILE), &s.to_bytes())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn state_survives_a_restart_and_junk_is_ignored() {
        let dir = std::env::temp_dir().join(format!("tessel-scope-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let state = StateDir::open(&dir).unwrap();
        assert_eq!(load(&state), ScopeState::default());
        let s = ScopeState { next_serial: 77 };
        save(&state, &s).unwrap();
        assert_eq!(load(&state), s);
        let mode = std::fs::metadata(dir.join(FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(dir.join(FILE), b"junk").unwrap();
        assert_eq!(load(&state), ScopeState::default());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
