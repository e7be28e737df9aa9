//! Change physics (service 9): signed announcements of which managed file
//! is the one to run, newest winning, and the version each tile runs.
//!
//! The notes leave the service number open ("perhaps a different service");
//! Tessel takes 9, next to the file update service. Payloads:
//!
//! ```text
//! ANNOUNCE | 0x01 | signer (32) | sig (64) | timestamp u64 | file hash [32] | name_len u8 | name |
//! RUNNING  | 0x02 | timestamp u64 | file hash [32] | name_len u8 | name |
//! ```
//!
//! An announcement names an exact file version (the hash of its signed
//! content, see [`crate::file::signed`]). Its signature covers
//! [`SIGNING_CONTEXT`] and everything from the timestamp on; the signer
//! must be a trusted key. The later timestamp wins; at equal timestamps the
//! lower BLAKE3 hash of the signed part wins, so every tile settles on the
//! same one. A tile forwards each announcement that beats its own to every
//! other present neighbour, and repeats its current one to a neighbour that
//! connects.
//!
//! When a tile has the announced version live (verified), it emits
//! [`PhysicsEvent::Restart`] once (the host stops the running program and
//! starts the configured command on the file), then reports RUNNING to its
//! neighbours.

use std::collections::{BTreeMap, VecDeque};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::dir::{Dir, ALL};
use crate::file::name::FileName;
use crate::file::signed::Version;

/// What an announcement's signature covers before its signed part.
pub const SIGNING_CONTEXT: &[u8] = b"tessel tile physics v1\0";

mod kind {
    pub(super) const ANNOUNCE: u8 = 1;
    pub(super) const RUNNING: u8 = 2;
}

/// The file version a tile runs, or should run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    /// The announcement's timestamp.
    pub timestamp: u64,
    /// The file's version hash.
    pub hash: [u8; 32],
    /// The file.
    pub name: FileName,
}

/// A signed "run this file" announcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// The signer's public key.
    pub signer: [u8; 32],
    /// The signature.
    pub signature: [u8; 64],
    /// What to run, and when it was announced.
    pub target: Running,
}

/// Why a payload or announcement was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PhysicsError {
    /// The payload does not parse.
    #[error("malformed physics message")]
    Malformed,
    /// The signer is not trusted.
    #[error("announcement signer is not trusted")]
    Untrusted,
    /// The signature does not verify.
    #[error("bad announcement signature")]
    BadSignature,
    /// Not newer than the current announcement.
    #[error("announcement is not newer than the current one")]
    NotNewer,
}

fn signed_part(t: &Running) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + 32 + 1 + t.name.as_bytes().len());
    v.extend_from_slice(&t.timestamp.to_be_bytes());
    v.extend_from_slice(&t.hash);
    // Names are at most 64 bytes.
    v.push(t.name.as_bytes().len() as u8);
    v.extend_from_slice(t.name.as_bytes());
    v
}

fn parse_running(b: &[u8]) -> Result<Running, PhysicsError> {
    if b.len() < 8 + 32 + 1 {
        return Err(PhysicsError::Malformed);
    }
    let mut ts = [0; 8];
    ts.copy_from_slice(&b[..8]);
    let mut hash = [0; 32];
    hash.copy_from_slice(&b[8..40]);
    let n = usize::from(b[40]);
    if b.len() != 41 + n {
        return Err(PhysicsError::Malformed);
    }
    let name = FileName::from_bytes(&b[41..]).map_err(|_| PhysicsError::Malformed)?;
    Ok(Running {
        timestamp: u64::from_be_bytes(ts),
        hash,
        name,
    })
}

impl Announcement {
    /// Signs an announcement that `file` (at `version`) is to run.
    pub fn sign(key: &SigningKey, name: FileName, version: Version, timestamp: u64) -> Self {
        let target = Running {
            timestamp,
            hash: version.hash,
            name,
        };
        let mut msg = SIGNING_CONTEXT.to_vec();
        msg.extend_from_slice(&signed_part(&target));
        Self {
            signer: key.verifying_key().to_bytes(),
            signature: key.sign(&msg).to_bytes(),
            target,
        }
    }

    /// Checks the signer is trusted and the signature verifies.
    ///
    /// # Errors
    /// [`PhysicsError::Untrusted`] or [`PhysicsError::BadSignature`].
    pub fn verify(&self, trusted: &[VerifyingKey]) -> Result<(), PhysicsError> {
        let key = trusted
            .iter()
            .find(|k| k.as_bytes() == &self.signer)
            .ok_or(PhysicsError::Untrusted)?;
        let mut msg = SIGNING_CONTEXT.to_vec();
        msg.extend_from_slice(&signed_part(&self.target));
        key.verify_strict(&msg, &Signature::from_bytes(&self.signature))
            .map_err(|_| PhysicsError::BadSignature)
    }

    /// Its rank: a greater rank wins (later timestamp, then lower hash of
    /// the signed part).
    pub fn rank(&self) -> Version {
        Version {
            timestamp: self.target.timestamp,
            hash: *blake3::hash(&signed_part(&self.target)).as_bytes(),
        }
    }
}

/// A service 9 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A signed announcement.
    Announce(Announcement),
    /// The version the sender runs.
    Running(Running),
}

impl Message {
    /// Parses a service 9 payload.
    ///
    /// # Errors
    /// [`PhysicsError::Malformed`]; parsing never panics.
    pub fn parse(b: &[u8]) -> Result<Self, PhysicsError> {
        match b.split_first() {
            Some((&kind::ANNOUNCE, rest)) if rest.len() > 96 => {
                let mut signer = [0; 32];
                signer.copy_from_slice(&rest[..32]);
                let mut signature = [0; 64];
                signature.copy_from_slice(&rest[32..96]);
                Ok(Self::Announce(Announcement {
                    signer,
                    signature,
                    target: parse_running(&rest[96..])?,
                }))
            }
            Some((&kind::RUNNING, rest)) => Ok(Self::Running(parse_running(rest)?)),
            _ => Err(PhysicsError::Malformed),
        }
    }

    /// The payload bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        match self {
            Self::Announce(a) => {
                let mut v = vec![kind::ANNOUNCE];
                v.extend_from_slice(&a.signer);
                v.extend_from_slice(&a.signature);
                v.extend_from_slice(&signed_part(&a.target));
                v
            }
            Self::Running(r) => {
                let mut v = vec![kind::RUNNING];
                v.extend_from_slice(&signed_part(r));
                v
            }
        }
    }
}

/// What the physics machine asks of its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhysicsEvent {
    /// Stop the running program and start the configured command on this
    /// file (it is live and verified).
    Restart(Running),
}

/// What the physics machine has seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhysicsCounters {
    /// Announcements that became current.
    pub accepted: u64,
    /// Announcements not newer than the current one.
    pub stale: u64,
    /// Announcements with an untrusted signer or a bad signature.
    pub bad: u64,
    /// Payloads that did not parse.
    pub malformed: u64,
    /// Restarts asked for.
    pub restarts: u64,
}

/// One tile's change-physics machine.
#[derive(Debug)]
pub struct Physics {
    trusted: Vec<VerifyingKey>,
    current: Option<Announcement>,
    running: Option<Running>,
    files: BTreeMap<FileName, Version>,
    present: [bool; 8],
    neighbours: [Option<Running>; 8],
    out: VecDeque<(Dir, Vec<u8>)>,
    events: VecDeque<PhysicsEvent>,
    counters: PhysicsCounters,
}

impl Physics {
    /// A machine trusting `trusted`, running nothing yet.
    pub fn new(trusted: Vec<VerifyingKey>) -> Self {
        Self {
            trusted,
            current: None,
            running: None,
            files: BTreeMap::new(),
            present: [false; 8],
            neighbours: Default::default(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            counters: PhysicsCounters::default(),
        }
    }

    /// The current announcement.
    pub fn current(&self) -> Option<&Announcement> {
        self.current.as_ref()
    }

    /// What this tile runs.
    pub fn running(&self) -> Option<&Running> {
        self.running.as_ref()
    }

    /// What the neighbour in `dir` last reported running.
    pub fn neighbour_running(&self, dir: Dir) -> Option<&Running> {
        self.neighbours[dir.index()].as_ref()
    }

    /// The counters.
    pub fn counters(&self) -> &PhysicsCounters {
        &self.counters
    }

    /// Call for each live, verified file (at start and after each commit).
    pub fn handle_file(&mut self, name: FileName, version: Version) {
        self.files.insert(name, version);
        self.check_restart();
    }

    /// Call when the neighbour in `dir` comes or goes.
    pub fn handle_neighbour(&mut self, dir: Dir, present: bool) {
        self.present[dir.index()] = present;
        if !present {
            self.neighbours[dir.index()] = None;
            return;
        }
        if let Some(a) = &self.current {
            self.out
                .push_back((dir, Message::Announce(a.clone()).to_vec()));
        }
        if let Some(r) = &self.running {
            self.out
                .push_back((dir, Message::Running(r.clone()).to_vec()));
        }
    }

    /// Announces from this tile.
    ///
    /// # Errors
    /// Why the announcement was refused.
    pub fn announce(&mut self, a: Announcement) -> Result<(), PhysicsError> {
        self.accept(a, None)
    }

    /// Call with each service 9 payload from `dir`.
    pub fn handle_message(&mut self, dir: Dir, payload: &[u8]) {
        match Message::parse(payload) {
            Ok(Message::Announce(a)) => {
                let _ = self.accept(a, Some(dir));
            }
            Ok(Message::Running(r)) => self.neighbours[dir.index()] = Some(r),
            Err(_) => self.counters.malformed += 1,
        }
    }

    /// The next payload for a neighbour.
    pub fn poll_transmit(&mut self) -> Option<(Dir, Vec<u8>)> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<PhysicsEvent> {
        self.events.pop_front()
    }

    fn accept(&mut self, a: Announcement, from: Option<Dir>) -> Result<(), PhysicsError> {
        if let Err(e) = a.verify(&self.trusted) {
            self.counters.bad += 1;
            return Err(e);
        }
        if self.current.as_ref().is_some_and(|c| c.rank() >= a.rank()) {
            self.counters.stale += 1;
            return Err(PhysicsError::NotNewer);
        }
        self.counters.accepted += 1;
        let bytes = Message::Announce(a.clone()).to_vec();
        for d in ALL {
            if self.present[d.index()] && Some(d) != from {
                self.out.push_back((d, bytes.clone()));
            }
        }
        self.current = Some(a);
        self.check_restart();
        Ok(())
    }

    fn check_restart(&mut self) {
        let Some(a) = &self.current else {
            return;
        };
        let t = &a.target;
        let have = self.files.get(&t.name).is_some_and(|v| v.hash == t.hash);
        if !have || self.running.as_ref() == Some(t) {
            return;
        }
        let t = t.clone();
        tracing::info!(name = %t.name, timestamp = t.timestamp, "changing physics");
        self.counters.restarts += 1;
        self.running = Some(t.clone());
        self.events.push_back(PhysicsEvent::Restart(t.clone()));
        let bytes = Message::Running(t).to_vec();
        for d in ALL {
            if self.present[d.index()] {
                self.out.push_back((d, bytes.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn version(h: u8) -> Version {
        Version {
            timestamp: 1,
            hash: [h; 32],
        }
    }

    fn name(s: &str) -> FileName {
        FileName::new(s).unwrap()
    }

    #[test]
    fn restarts_only_with_the_file_and_only_once() {
        let mut p = Physics::new(vec![key(1).verifying_key()]);
        p.handle_neighbour(Dir::East, true);
        let a = Announcement::sign(&key(1), name("p.mfz"), version(5), 100);
        p.announce(a.clone()).unwrap();
        assert_eq!(p.poll_event(), None, "file not here yet");
        assert_eq!(
            p.poll_transmit(),
            Some((Dir::East, Message::Announce(a.clone()).to_vec()))
        );
        p.handle_file(name("p.mfz"), version(4));
        assert_eq!(p.poll_event(), None, "another version of the file");
        p.handle_file(name("p.mfz"), version(5));
        assert_eq!(
            p.poll_event(),
            Some(PhysicsEvent::Restart(a.target.clone()))
        );
        assert_eq!(
            p.poll_transmit(),
            Some((Dir::East, Message::Running(a.target.clone()).to_vec()))
        );
        p.handle_file(name("p.mfz"), version(5));
        assert_eq!(p.poll_event(), None);
        assert_eq!(p.announce(a), Err(PhysicsError::NotNewer));
    }

    #[test]
    fn newest_wins_and_bad_ones_are_counted() {
        let mut p = Physics::new(vec![key(1).verifying_key()]);
        p.handle_neighbour(Dir::West, true);
        p.handle_neighbour(Dir::North, true);
        let old = Announcement::sign(&key(1), name("a"), version(1), 10);
        let new = Announcement::sign(&key(1), name("b"), version(2), 11);
        p.handle_message(Dir::West, &Message::Announce(new.clone()).to_vec());
        // Forwarded to the north only, not back west.
        let out: Vec<_> = std::iter::from_fn(|| p.poll_transmit()).collect();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, Dir::North);
        p.handle_message(Dir::West, &Message::Announce(old).to_vec());
        assert_eq!(p.current(), Some(&new));
        let evil = Announcement::sign(&key(2), name("c"), version(3), 99);
        p.handle_message(Dir::West, &Message::Announce(evil).to_vec());
        let mut forged = Announcement::sign(&key(1), name("c"), version(3), 99);
        forged.target.timestamp = 100;
        p.handle_message(Dir::West, &Message::Announce(forged).to_vec());
        p.handle_message(Dir::West, &[1, 2, 3]);
        let c = p.counters();
        assert_eq!((c.accepted, c.stale, c.bad, c.malformed), (1, 1, 2, 1));
        assert_eq!(p.current(), Some(&new));
        let r = Running {
            timestamp: 3,
            hash: [1; 32],
            name: name("x"),
        };
        p.handle_message(Dir::North, &Message::Running(r.clone()).to_vec());
        assert_eq!(p.neighbour_running(Dir::North), Some(&r));
        p.handle_neighbour(Dir::North, false);
        assert_eq!(p.neighbour_running(Dir::North), None);
    }

    proptest! {
        #[test]
        fn roundtrip(ts: u64, hash: [u8; 32], n in "[a-z][a-z0-9_-]{0,63}", announce: bool) {
            let m = if announce {
                Message::Announce(Announcement::sign(&key(1), name(&n), Version { timestamp: 0, hash }, ts))
            } else {
                Message::Running(Running { timestamp: ts, hash, name: name(&n) })
            };
            let b = m.to_vec();
            prop_assert!(b.len() <= crate::wire::service::MAX_PAYLOAD_LEN);
            prop_assert_eq!(Message::parse(&b), Ok(m));
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(m) = Message::parse(&bytes) {
                prop_assert_eq!(m.to_vec(), bytes);
            }
        }
    }
}
