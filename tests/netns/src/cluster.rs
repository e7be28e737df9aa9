//! Helpers over several nodes at once.

use std::time::Duration;

use anyhow::Result;

use crate::tessel::TesselNode;

/// How long a full mesh may take to form.
pub const MESH_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits until every node's status shows every other node connected.
pub fn wait_full_mesh(nodes: &mut [&mut TesselNode], timeout: Duration) -> Result<()> {
    let ids = nodes
        .iter()
        .map(|n| n.node_id())
        .collect::<Result<Vec<_>>>()?;
    for (i, node) in nodes.iter_mut().enumerate() {
        let others: Vec<&String> = ids
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, id)| id)
            .collect();
        let what = format!(
            "node {} to be connected to {} peers",
            node.label(),
            others.len()
        );
        node.wait_until(&what, timeout, |s| {
            others.iter().all(|id| s.is_connected_to(id))
        })?;
    }
    Ok(())
}
