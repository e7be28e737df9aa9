//! Persistent engine keys in the state dir: `engines.key` (the key holder's
//! export, mode 0600) and `engines.json` (each persistent engine's local
//! label and address, mode 0600). Ephemeral engines are never written.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tessel_actors::local::json::parse_addr;
use tessel_actors::{EngineAddr, KeyHolder};

use crate::driver::state_dir::StateDir;
use crate::driver::DriverError;

const KEYS: &str = "engines.key";
const LABELS: &str = "engines.json";

/// The labels of persistent engines, kept beside their keys.
pub(crate) struct KeyStore {
    state: StateDir,
    labels: BTreeMap<String, EngineAddr>,
}

impl KeyStore {
    /// Loads the stored keys into `keys` and the labels.
    pub(crate) fn load(state: &StateDir, keys: &mut KeyHolder) -> Result<Self, DriverError> {
        let corrupt = |path: PathBuf, reason: String| DriverError::CorruptState { path, reason };
        let key_path = state.path().join(KEYS);
        let mut labels = BTreeMap::new();
        match std::fs::read(&key_path) {
            Ok(bytes) => {
                let imported = keys
                    .import(&bytes)
                    .map_err(|e| corrupt(key_path.clone(), e.to_string()))?;
                let label_path = state.path().join(LABELS);
                let text = std::fs::read_to_string(&label_path).unwrap_or_default();
                let map: BTreeMap<String, String> = if text.is_empty() {
                    BTreeMap::new()
                } else {
                    serde_json::from_str(&text)
                        .map_err(|e| corrupt(label_path.clone(), e.to_string()))?
                };
                for (label, hex) in map {
                    let addr = parse_addr(&hex)
                        .ok_or_else(|| corrupt(label_path.clone(), format!("bad address {hex}")))?;
                    if imported.contains(&addr) {
                        labels.insert(label, addr);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(DriverError::StateDir {
                    path: key_path,
                    source,
                })
            }
        }
        Ok(Self {
            state: state.clone(),
            labels,
        })
    }

    /// The persistent engine kept under `label`.
    pub(crate) fn get(&self, label: &str) -> Option<EngineAddr> {
        self.labels.get(label).copied()
    }

    /// Remembers `addr` under `label` and writes keys and labels.
    pub(crate) fn insert(
        &mut self,
        label: &str,
        addr: EngineAddr,
        keys: &KeyHolder,
    ) -> Result<(), DriverError> {
        self.labels.insert(label.to_owned(), addr);
        let map: BTreeMap<&String, String> = self
            .labels
            .iter()
            .map(|(l, a)| (l, a.to_string()))
            .collect();
        let json = serde_json::to_vec_pretty(&map).expect("serialisable");
        self.state
            .write_private(&self.state.path().join(KEYS), &keys.export_persistent())?;
        self.state
            .write_private(&self.state.path().join(LABELS), &json)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use tessel_actors::Persistence;

    #[test]
    fn persistent_keys_survive_a_reload_and_ephemeral_ones_do_not() {
        let dir = std::env::temp_dir().join(format!("tessel-engine-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let state = StateDir::open(&dir).unwrap();
        let mut keys = KeyHolder::new(&[1; 32]);
        let mut store = KeyStore::load(&state, &mut keys).unwrap();
        let kept = keys.insert(&[2; 32], Persistence::Persistent);
        let gone = keys.insert(&[3; 32], Persistence::Ephemeral);
        store.insert("svc", kept, &keys).unwrap();
        let mode = std::fs::metadata(dir.join(KEYS))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        let mut fresh = KeyHolder::new(&[1; 32]);
        let reloaded = KeyStore::load(&state, &mut fresh).unwrap();
        assert_eq!(reloaded.get("svc"), Some(kept));
        assert!(fresh.contains(kept));
        assert!(!fresh.contains(gone));
        assert_eq!(reloaded.get("other"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn addresses_parse_from_hex() {
        let a = EngineAddr([0xab; 32]);
        assert_eq!(parse_addr(&a.to_string()), Some(a));
        assert_eq!(parse_addr("abc"), None);
        assert_eq!(parse_addr("zz"), None);
    }
}
