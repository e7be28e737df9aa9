//! Monitors: telling a local engine when another is gone.

use super::state::{Monitor, Reach};
use super::Transport;
use crate::error::SendError;
use crate::ids::EngineAddr;
use crate::output::{DownReason, MonitorRef, Notice};

impl Transport {
    /// Watches `target` for local engine `watcher`: a [`Notice::Down`] comes
    /// once when it stops, is forgotten or becomes unreachable (at once if
    /// it is unknown or unreachable now).
    ///
    /// # Errors
    /// `watcher` not local.
    pub fn monitor(
        &mut self,
        watcher: EngineAddr,
        target: EngineAddr,
    ) -> Result<MonitorRef, SendError> {
        self.check_local(watcher)?;
        let id = self.next_id();
        let now_down = if self.engines.contains_key(&target) {
            None
        } else {
            match self.proxies.get(&target).map(|p| p.reach) {
                Some(Reach::Up | Reach::Connecting) => None,
                Some(Reach::Down) => Some(DownReason::Unreachable),
                None => Some(DownReason::NoSuchEngine),
            }
        };
        if let Some(reason) = now_down {
            self.notices.push_back(Notice::Down {
                monitor: MonitorRef(id),
                watcher,
                target,
                reason,
            });
        } else {
            self.monitors.insert(id, Monitor { watcher, target });
        }
        Ok(MonitorRef(id))
    }

    /// Removes a monitor; false if it already fired or never existed.
    pub fn demonitor(&mut self, m: MonitorRef) -> bool {
        self.monitors.remove(&m.0).is_some()
    }

    /// Fires monitors on `target` and drops the ones its departure ends.
    pub(super) fn engine_gone(&mut self, target: EngineAddr, reason: DownReason) {
        let hit: Vec<u64> = self
            .monitors
            .iter()
            .filter(|(_, m)| m.target == target)
            .map(|(&id, _)| id)
            .collect();
        for id in hit {
            if let Some(m) = self.monitors.remove(&id) {
                if self.engines.contains_key(&m.watcher) {
                    self.notices.push_back(Notice::Down {
                        monitor: MonitorRef(id),
                        watcher: m.watcher,
                        target,
                        reason,
                    });
                }
            }
        }
        self.monitors.retain(|_, m| m.watcher != target);
    }
}
