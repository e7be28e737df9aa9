//! Name registry commands and claims from peers (rule in `registry`).

use super::Transport;
use crate::error::NameError;
use crate::ids::{EngineAddr, NodeId, Time};
use crate::keys::verify;
use crate::output::{Notice, Output};
use crate::wire::frame::Frame;
use crate::wire::name_record::{self, NameRecord};
use crate::wire::names::{self, Claim, Unclaim};

impl Transport {
    /// Registers `name` for local engine `engine`, network-wide. Succeeds
    /// at once if no one holds the name here; a concurrent earlier claim
    /// elsewhere may still win later ([`Notice::NameLost`]).
    ///
    /// # Errors
    /// Not a local engine, an invalid name, or the name is held by another
    /// engine.
    pub fn register(&mut self, engine: EngineAddr, name: &str) -> Result<(), NameError> {
        if !self.engines.contains_key(&engine) {
            return Err(NameError::NotLocal(engine));
        }
        match self.names.owner(name) {
            Some(o) if o == engine => return Ok(()),
            Some(o) => return Err(NameError::Taken(o)),
            None => {}
        }
        let registered = self.now;
        let msg = names::signed(true, name, engine, registered).map_err(|_| NameError::Invalid)?;
        let sig = self
            .keys
            .sign_engine(engine, &msg)
            .ok_or(NameError::NotLocal(engine))?;
        let claim = Claim {
            name: name.to_owned(),
            engine,
            registered,
            sig,
        };
        self.names.insert(claim.clone());
        self.broadcast(&Frame::NameRegister(claim));
        self.publish_name(engine, name, registered);
        Ok(())
    }

    /// Publishes (or renews) a name record in the host's record store.
    pub(super) fn publish_name(&mut self, engine: EngineAddr, name: &str, registered: Time) {
        let expires = self.now.plus_ms(self.config.record_ttl_ms);
        let Ok(msg) = NameRecord::signed(name, engine, registered, expires) else {
            return;
        };
        let Some(sig) = self.keys.sign_engine(engine, &msg) else {
            return;
        };
        let record = NameRecord {
            name: name.to_owned(),
            engine,
            registered,
            expires,
            sig,
        };
        if let Ok(bytes) = record.to_bytes() {
            self.outputs.push_back(Output::Publish {
                key: name_record::key_for(name),
                record: bytes,
            });
        }
    }

    /// Looks `name` up network-wide: answered by [`Notice::NameFound`], at
    /// once from this node's table when it knows an owner, else from the
    /// name records in the host's record store (within the lookup timeout).
    /// A record outlives its claim by up to the record lifetime, so the
    /// answer may name an engine that has just stopped; calling it then
    /// fails with "no such engine".
    ///
    /// # Errors
    /// An empty name or one longer than 255 bytes.
    pub fn lookup_name(&mut self, name: &str) -> Result<(), NameError> {
        if name.is_empty() || name.len() > 255 {
            return Err(NameError::Invalid);
        }
        if let Some(owner) = self.names.owner(name) {
            self.notices.push_back(Notice::NameFound {
                name: name.to_owned(),
                owner: Some(owner),
            });
            return Ok(());
        }
        let key = name_record::key_for(name);
        if !self.name_lookups.contains_key(&key) {
            let deadline = self.now.plus_ms(self.config.resolve_timeout_ms);
            self.name_lookups.insert(key, (name.to_owned(), deadline));
            self.outputs.push_back(Output::Fetch { key });
        }
        Ok(())
    }

    /// Answers a pending name lookup from fetched records; false if `key`
    /// is not a pending name lookup.
    pub(super) fn answer_name_lookup(&mut self, key: [u8; 32], records: &[Vec<u8>]) -> bool {
        let Some((name, _)) = self.name_lookups.remove(&key) else {
            return false;
        };
        let now = self.now;
        let owner = records
            .iter()
            .filter_map(|b| NameRecord::parse(b).ok())
            .filter(|r| r.name == name && r.expires > now)
            .filter(|r| {
                NameRecord::signed(&r.name, r.engine, r.registered, r.expires)
                    .is_ok_and(|m| verify(&r.engine.0, &m, &r.sig))
            })
            .map(|r| (r.registered, r.engine))
            .min()
            .map(|(_, e)| e);
        self.notices.push_back(Notice::NameFound { name, owner });
        true
    }

    /// Ends name lookups that got no answer in time.
    pub(super) fn expire_name_lookups(&mut self, now: Time) {
        let late: Vec<[u8; 32]> = self
            .name_lookups
            .iter()
            .filter(|(_, (_, t))| *t <= now)
            .map(|(&k, _)| k)
            .collect();
        for k in late {
            if let Some((name, _)) = self.name_lookups.remove(&k) {
                self.notices
                    .push_back(Notice::NameFound { name, owner: None });
            }
        }
    }

    /// Releases `name` held by local engine `engine`.
    ///
    /// # Errors
    /// Not a local engine, or it holds no claim on the name.
    pub fn unregister(&mut self, engine: EngineAddr, name: &str) -> Result<(), NameError> {
        if !self.engines.contains_key(&engine) {
            return Err(NameError::NotLocal(engine));
        }
        if !self.names.remove(name, engine, self.now) {
            return Err(NameError::NotHeld);
        }
        self.send_unclaim(engine, name);
        Ok(())
    }

    /// The engine that owns `name`, as this node sees it.
    pub fn whereis(&self, name: &str) -> Option<EngineAddr> {
        self.names.owner(name)
    }

    /// Every name this node knows, with its owner.
    pub fn registered_names(&self) -> Vec<(String, EngineAddr)> {
        self.names.owners()
    }

    fn send_unclaim(&mut self, engine: EngineAddr, name: &str) {
        let at = self.now;
        let Ok(msg) = names::signed(false, name, engine, at) else {
            return;
        };
        let Some(sig) = self.keys.sign_engine(engine, &msg) else {
            return;
        };
        self.broadcast(&Frame::NameUnregister(Unclaim {
            name: name.to_owned(),
            engine,
            at,
            sig,
        }));
    }

    pub(super) fn on_claim(&mut self, peer: NodeId, c: Claim) {
        let signed = names::signed(true, &c.name, c.engine, c.registered)
            .is_ok_and(|m| verify(&c.engine.0, &m, &c.sig));
        if !self.hosted_by(c.engine, peer) || !signed {
            self.stats.forged += 1;
            return;
        }
        let before = self.names.owner(&c.name);
        let name = c.name.clone();
        self.names.insert(c);
        let after = self.names.owner(&name);
        if let (Some(loser), Some(winner)) = (before, after) {
            if loser != winner && self.engines.contains_key(&loser) {
                // Our engine lost under the conflict rule: release the claim
                // everywhere and tell it.
                self.names.remove(&name, loser, Time(u64::MAX));
                self.send_unclaim(loser, &name);
                self.notices.push_back(Notice::NameLost {
                    name,
                    loser,
                    winner,
                });
            }
        }
    }

    pub(super) fn on_unclaim(&mut self, peer: NodeId, u: Unclaim) {
        let signed = names::signed(false, &u.name, u.engine, u.at)
            .is_ok_and(|m| verify(&u.engine.0, &m, &u.sig));
        if !self.hosted_by(u.engine, peer) || !signed {
            self.stats.forged += 1;
            return;
        }
        if !self.names.remove(&u.name, u.engine, u.at) {
            self.stats.stale += 1;
        }
    }
}
