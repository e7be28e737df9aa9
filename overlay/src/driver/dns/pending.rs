//! Name queries waiting in the event loop for the node's fetch of a name,
//! each with a deadline after which it is answered with nobody (the
//! server then says `SERVFAIL`).

use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::answer::Holder;
use super::NameQuery;
use crate::identity::{NodeId, NodeName};
use crate::node::{NameLookup, Node};

/// How long a query waits for the node (its fetch ends well before).
const TIMEOUT: Duration = Duration::from_secs(8);

/// Queries waiting for [`crate::node::Event::NameResolved`].
#[derive(Default)]
pub(crate) struct PendingNames {
    waiting: Vec<(NodeName, oneshot::Sender<Holder>, Instant)>,
}

/// The holder's addresses.
fn holder(node: &Node, member: Option<NodeId>) -> Holder {
    member.map(|m| node.member_addresses(&m))
}

impl PendingNames {
    /// Asks the node who holds the name of `q`: answers at once if it knows,
    /// else waits for its answer.
    pub(crate) fn ask(&mut self, node: &mut Node, q: NameQuery, now: Instant) {
        match node.resolve_name(now, &q.name) {
            NameLookup::Found(id) => {
                let _ = q.reply.send(holder(node, Some(id)));
            }
            NameLookup::NotFound => {
                let _ = q.reply.send(None);
            }
            NameLookup::Pending => self.waiting.push((q.name, q.reply, now + TIMEOUT)),
        }
    }

    /// The node resolved `name`: answers every query waiting for it.
    pub(crate) fn answer(&mut self, node: &Node, name: &NodeName, member: Option<NodeId>) {
        let (done, waiting) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(n, _, _)| n == name);
        self.waiting = waiting;
        let h = holder(node, member);
        for (_, reply, _) in done {
            let _ = reply.send(h);
        }
    }

    /// Drops the queries whose time is up (their servers answer
    /// `SERVFAIL`).
    pub(crate) fn expire(&mut self, now: Instant) {
        if self.next_deadline().is_some_and(|d| d <= now) {
            self.waiting.retain(|(_, _, deadline)| *deadline > now);
        }
    }

    /// The earliest deadline of a waiting query.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.waiting.iter().map(|(_, _, d)| *d).min()
    }
}
