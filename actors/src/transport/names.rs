//! Name registry commands and claims from peers (rule in `registry`).

use super::Transport;
use crate::error::NameError;
use crate::ids::{EngineAddr, NodeId};
use crate::keys::verify;
use crate::output::Notice;
use crate::wire::frame::Frame;
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
        Ok(())
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
                self.names.remove(&name, loser, crate::ids::Time(u64::MAX));
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
