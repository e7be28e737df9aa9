//! The state dir: the node key, the network key (and, during a grace
//! period after a rotation, the key being retired), the peer cache and, in
//! a managed network, the owner's key, this node's certificate and the
//! owner's latest revocation list.
//! Secrets are written with mode 0600, atomically. The local sockets live
//! in the runtime dir ([`super::runtime_dir`]).

use std::fs;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::dir_lock::DirLock;
use super::{clock, DriverError};
use crate::identity::{
    MemberCert, NetworkKey, NodeId, NodeKey, OwnerHandover, OwnerId, RevocationList, SignedRotation,
};

/// Default location of the state dir.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/tessel";

const NODE_KEY: &str = "node.key";
const NETWORK_KEY: &str = "network.key";
/// The key being retired and when it stops working: `KEY_TEXT UNIX_MS`.
const RETIRING_KEY: &str = "network.key.retiring";
/// The owner's signed rotation to the current key (managed mode).
const SIGNED_ROTATION: &str = "network.key.signed";
const PEERS: &str = "peers.json";
const INITIATIONS: &str = "initiations.json";
const OWNER: &str = "owner.pub";
const CERTIFICATE: &str = "member.cert";
const REVOCATIONS: &str = "revocations.txt";
/// The owner handovers the node took, one `tessel-handover-…` a line.
const HANDOVERS: &str = "owner.handovers";
/// The lock file held by the running daemon.
const LOCK: &str = "state.lock";

/// An opened state dir.
#[derive(Debug, Clone)]
pub struct StateDir {
    path: PathBuf,
}

/// The peer cache as stored on disk.
#[derive(Debug, Serialize, Deserialize)]
struct PeerCache {
    network_id: String,
    peers: Vec<CachedPeer>,
}

/// The last initiation timestamp accepted from each member.
#[derive(Debug, Serialize, Deserialize)]
struct InitiationTimes {
    network_id: String,
    last: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CachedPeer {
    node_id: String,
    endpoint: SocketAddr,
}

impl StateDir {
    /// Opens `path`, creating it (mode 0700) if needed; an existing one
    /// that others may read is tightened to 0700 (it holds the node key).
    ///
    /// # Errors
    /// Returns an error if the directory cannot be created.
    pub fn open(path: &Path) -> Result<Self, DriverError> {
        let err = |source| DriverError::StateDir {
            path: path.to_path_buf(),
            source,
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(err)?;
        let mode = fs::metadata(path).map_err(err)?.permissions().mode();
        if mode & 0o077 != 0 {
            match fs::set_permissions(path, fs::Permissions::from_mode(0o700)) {
                Ok(()) => tracing::warn!(
                    path = %path.display(),
                    "the state dir was open to other users (mode {:o}); it is now 0700",
                    mode & 0o777
                ),
                Err(e) => tracing::warn!(
                    path = %path.display(),
                    error = %e,
                    "the state dir is open to other users (mode {:o}) and could not be tightened: run chmod 700 on it",
                    mode & 0o777
                ),
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Locks the state dir for this daemon until the returned lock is
    /// dropped, so that two daemons never share a node key.
    ///
    /// # Errors
    /// If another daemon holds it, or the lock file cannot be made.
    pub(crate) fn lock(&self) -> Result<DirLock, DriverError> {
        DirLock::acquire(&self.path, LOCK)
            .map_err(|source| DriverError::StateDir {
                path: self.path.join(LOCK),
                source,
            })?
            .ok_or_else(|| DriverError::AlreadyRunning {
                flag: "--state-dir",
                path: self.path.clone(),
            })
    }

    /// Loads the node key, creating one on first use.
    ///
    /// # Errors
    /// Returns an error if the file cannot be read or written, or is corrupt.
    pub fn node_key(&self) -> Result<NodeKey, DriverError> {
        let path = self.path.join(NODE_KEY);
        match self.read(&path)? {
            Some(text) => NodeKey::from_text(&text).map_err(|e| DriverError::CorruptState {
                path,
                reason: e.to_string(),
            }),
            None => {
                let key = NodeKey::from_seed(self.random()?);
                self.write_private(&path, key.to_text().as_bytes())?;
                Ok(key)
            }
        }
    }

    /// The network key stored here, if any.
    ///
    /// # Errors
    /// Returns an error if the file cannot be read or is corrupt.
    pub fn network_key(&self) -> Result<Option<NetworkKey>, DriverError> {
        let path = self.path.join(NETWORK_KEY);
        match self.read(&path)? {
            Some(text) => {
                NetworkKey::parse(&text)
                    .map(Some)
                    .map_err(|e| DriverError::CorruptState {
                        path,
                        reason: e.to_string(),
                    })
            }
            None => Ok(None),
        }
    }

    /// Stores the network key (mode 0600).
    ///
    /// # Errors
    /// Returns an error if the file cannot be written.
    pub fn save_network_key(&self, key: &NetworkKey) -> Result<(), DriverError> {
        let text = Zeroizing::new(format!("{}\n", key.to_text().as_str()));
        self.write_private(&self.path.join(NETWORK_KEY), text.as_bytes())
    }

    /// The key being retired and the Unix time in ms after which it is
    /// refused, if the state dir holds one.
    ///
    /// # Errors
    /// Returns an error if the file cannot be read or is corrupt.
    pub fn retiring_key(&self) -> Result<Option<(NetworkKey, u64)>, DriverError> {
        let path = self.path.join(RETIRING_KEY);
        let Some(text) = self.read(&path)? else {
            return Ok(None);
        };
        let corrupt = |reason: String| DriverError::CorruptState {
            path: path.clone(),
            reason,
        };
        let (key, until) = text
            .trim()
            .split_once(' ')
            .ok_or_else(|| corrupt("expected `KEY UNIX_MS`".into()))?;
        let key = NetworkKey::parse(key).map_err(|e| corrupt(e.to_string()))?;
        let until = until.parse().map_err(|_| corrupt("bad time".into()))?;
        Ok(Some((key, until)))
    }

    /// Stores the key being retired with the Unix time in ms after which
    /// it is refused (mode 0600), or removes it.
    ///
    /// # Errors
    /// Returns an error if the file cannot be written or removed.
    pub fn save_retiring_key(
        &self,
        retiring: Option<(&NetworkKey, u64)>,
    ) -> Result<(), DriverError> {
        let path = self.path.join(RETIRING_KEY);
        match retiring {
            Some((key, until)) => {
                let text = Zeroizing::new(format!("{} {until}\n", key.to_text().as_str()));
                self.write_private(&path, text.as_bytes())
            }
            None => match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    Err(DriverError::StateDir { path, source: e })
                }
                _ => Ok(()),
            },
        }
    }

    /// The owner's signed rotation to the network key, if the state dir
    /// holds one.
    ///
    /// # Errors
    /// Returns an error if the file cannot be read or is corrupt.
    pub fn signed_rotation(&self) -> Result<Option<SignedRotation>, DriverError> {
        let path = self.path.join(SIGNED_ROTATION);
        let Some(text) = self.read(&path)? else {
            return Ok(None);
        };
        SignedRotation::from_text(text.trim())
            .map(Some)
            .map_err(|e| DriverError::CorruptState {
                path,
                reason: e.to_string(),
            })
    }

    /// Stores the owner's signed rotation to the network key (mode 0600:
    /// it holds the key), or removes it.
    ///
    /// # Errors
    /// Returns an error if the file cannot be written or removed.
    pub fn save_signed_rotation(
        &self,
        rotation: Option<&SignedRotation>,
    ) -> Result<(), DriverError> {
        let path = self.path.join(SIGNED_ROTATION);
        match rotation {
            Some(r) => {
                let text = Zeroizing::new(format!("{}\n", r.to_text().as_str()));
                self.write_private(&path, text.as_bytes())
            }
            None => match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    Err(DriverError::StateDir { path, source: e })
                }
                _ => Ok(()),
            },
        }
    }

    /// A new random network key.
    ///
    /// # Errors
    /// Returns an error if the OS random source fails.
    pub fn new_network_key(&self) -> Result<NetworkKey, DriverError> {
        Ok(NetworkKey::from_secret(self.random()?))
    }

    /// The members remembered from the last run in `network`; empty if none,
    /// if the cache is for another network, or if it is unreadable.
    pub fn peers(&self, network: &NetworkKey) -> Vec<(NodeId, SocketAddr)> {
        let path = self.path.join(PEERS);
        let Ok(Some(text)) = self.read(&path) else {
            return Vec::new();
        };
        match serde_json::from_str::<PeerCache>(&text) {
            Ok(cache) if cache.network_id == network.id().to_string() => cache
                .peers
                .iter()
                .filter_map(|p| Some((NodeId::parse(&p.node_id).ok()?, p.endpoint)))
                .collect(),
            Ok(_) => Vec::new(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable peer cache");
                Vec::new()
            }
        }
    }

    /// Remembers `peers` for the next run.
    ///
    /// # Errors
    /// Returns an error if the file cannot be written.
    pub fn save_peers(
        &self,
        network: &NetworkKey,
        peers: &[(NodeId, SocketAddr)],
    ) -> Result<(), DriverError> {
        let cache = PeerCache {
            network_id: network.id().to_string(),
            peers: peers
                .iter()
                .map(|(id, endpoint)| CachedPeer {
                    node_id: id.to_string(),
                    endpoint: *endpoint,
                })
                .collect(),
        };
        let json = serde_json::to_vec_pretty(&cache).expect("serialisable");
        self.write_private(&self.path.join(PEERS), &json)
    }

    /// The last initiation timestamps accepted from members in `network`
    /// (see [`Node::initiation_timestamps`](crate::node::Node::initiation_timestamps)).
    pub fn initiation_timestamps(&self, network: &NetworkKey) -> Vec<(NodeId, u64)> {
        let path = self.path.join(INITIATIONS);
        let Ok(Some(text)) = self.read(&path) else {
            return Vec::new();
        };
        match serde_json::from_str::<InitiationTimes>(&text) {
            Ok(t) if t.network_id == network.id().to_string() => t
                .last
                .iter()
                .filter_map(|(id, ts)| Some((NodeId::parse(id).ok()?, *ts)))
                .collect(),
            Ok(_) => Vec::new(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable initiation times");
                Vec::new()
            }
        }
    }

    /// Keeps the last initiation timestamps accepted from members, so that
    /// an initiation captured before a restart cannot be replayed after it.
    ///
    /// # Errors
    /// Returns an error if the file cannot be written.
    pub fn save_initiation_timestamps(
        &self,
        network: &NetworkKey,
        times: &[(NodeId, u64)],
    ) -> Result<(), DriverError> {
        let t = InitiationTimes {
            network_id: network.id().to_string(),
            last: times.iter().map(|(id, ts)| (id.to_string(), *ts)).collect(),
        };
        let json = serde_json::to_vec(&t).expect("serialisable");
        self.write_private(&self.path.join(INITIATIONS), &json)
    }

    /// The managed network's owner and this node's certificate, if stored
    /// (see [`StateDir::save_membership`]).
    ///
    /// # Errors
    /// A file that cannot be read or is corrupt.
    pub fn membership(&self) -> Result<(Option<OwnerId>, Option<MemberCert>), DriverError> {
        let owner = self.read_parsed(OWNER, |t| OwnerId::parse(t).map_err(|e| e.to_string()))?;
        let cert = self.read_parsed(CERTIFICATE, |t| {
            MemberCert::from_text(t).map_err(|e| e.to_string())
        })?;
        Ok((owner, cert))
    }

    /// Stores the owner and this node's certificate, so that later starts
    /// need neither `--owner` nor `--cert`.
    ///
    /// # Errors
    /// Returns an error if a file cannot be written.
    pub fn save_membership(&self, owner: &OwnerId, cert: &MemberCert) -> Result<(), DriverError> {
        self.write_private(&self.path.join(OWNER), format!("{owner}\n").as_bytes())?;
        self.write_private(
            &self.path.join(CERTIFICATE),
            format!("{}\n", cert.to_text()).as_bytes(),
        )
    }

    /// The owner's latest revocation list this node took, if any.
    ///
    /// # Errors
    /// A file that cannot be read or is corrupt.
    pub fn revocations(&self) -> Result<Option<RevocationList>, DriverError> {
        self.read_parsed(REVOCATIONS, |t| {
            RevocationList::from_text(t).map_err(|e| e.to_string())
        })
    }

    /// Keeps the revocation list the node took (its bytes).
    ///
    /// # Errors
    /// Bytes that are no list, or a file that cannot be written.
    pub fn save_revocations(&self, bytes: &[u8]) -> Result<(), DriverError> {
        let path = self.path.join(REVOCATIONS);
        let list = RevocationList::parse(bytes).map_err(|e| DriverError::CorruptState {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        self.write_private(&path, format!("{}\n", list.to_text()).as_bytes())
    }

    /// The owner handovers this node took, in order (empty if none).
    ///
    /// # Errors
    /// A file that cannot be read or is corrupt.
    pub fn owner_handovers(&self) -> Result<Vec<OwnerHandover>, DriverError> {
        let parsed = self.read_parsed(HANDOVERS, |t| {
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| OwnerHandover::from_text(l).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()
        })?;
        Ok(parsed.unwrap_or_default())
    }

    /// Keeps the owner handovers the node took, in order.
    ///
    /// # Errors
    /// A file that cannot be written.
    pub fn save_owner_handovers(&self, handovers: &[OwnerHandover]) -> Result<(), DriverError> {
        let text: String = handovers
            .iter()
            .map(|h| format!("{}\n", h.to_text()))
            .collect();
        self.write_private(&self.path.join(HANDOVERS), text.as_bytes())
    }

    fn read_parsed<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, DriverError> {
        let path = self.path.join(name);
        match self.read(&path)? {
            Some(text) => parse(&text)
                .map(Some)
                .map_err(|reason| DriverError::CorruptState { path, reason }),
            None => Ok(None),
        }
    }

    fn random(&self) -> Result<[u8; 32], DriverError> {
        clock::random_seed().map_err(|source| DriverError::StateDir {
            path: self.path.clone(),
            source,
        })
    }

    /// Reads a file of the state dir; its text is wiped from memory when
    /// dropped, as the keys are secrets.
    fn read(&self, path: &Path) -> Result<Option<Zeroizing<String>>, DriverError> {
        match fs::read_to_string(path) {
            Ok(s) => Ok(Some(Zeroizing::new(s))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(DriverError::StateDir {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Writes `data` to `path` with mode 0600 through a temporary file and a rename.
    pub(crate) fn write_private(&self, path: &Path, data: &[u8]) -> Result<(), DriverError> {
        write_private_file(path, data).map_err(|source| DriverError::StateDir {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Writes `data` to `path`, readable by its owner only (mode 0600, also
/// under a wider umask), through a temporary file and a rename, so that a
/// reader sees the old file or the new one, never a part.
///
/// # Errors
/// If the temporary file cannot be created, written or renamed.
pub fn write_private_file(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_existing_state_dir_open_to_others_is_tightened() {
        let dir = std::env::temp_dir().join(format!("tessel-state-mode-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        StateDir::open(&dir).unwrap();
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(mode, 0o700);
    }
}
