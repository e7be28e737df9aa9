//! What every piece of one lab shares: the address plan's counters, and
//! the namespaces, kept alive until the last handle to the lab is dropped.

use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{bail, Result};

use crate::netns::Netns;

/// Shared state of one lab; cloning shares it.
#[derive(Debug, Clone, Default)]
pub(crate) struct World(Arc<Mutex<Plan>>);

/// Counters of the address plan, and every namespace of the lab.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Public hosts so far (198.51.100.0/24).
    pub(crate) hosts: u8,
    /// Extra public addresses so far (192.0.2.0/24).
    pub(crate) aliases: u8,
    /// Routers with a WAN leg on the internet so far (203.0.113.0/24).
    pub(crate) wans: u8,
    /// Home LANs so far (198.18.N.0/24).
    pub(crate) lans: u8,
    /// Carrier-grade NAT segments so far (198.19.N.0/24).
    pub(crate) segments: u8,
    /// Every namespace of the lab, so that none is deleted while another
    /// piece still routes through it.
    pub(crate) namespaces: Vec<Arc<Netns>>,
}

impl World {
    /// Locks the plan.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Plan> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates a namespace that lives as long as the lab.
    pub(crate) fn netns(&self, role: &str) -> Result<Arc<Netns>> {
        let ns = Arc::new(Netns::new(role)?);
        self.lock().namespaces.push(Arc::clone(&ns));
        Ok(ns)
    }
}

/// Increments `counter` and returns its new value, failing past `max`.
pub(crate) fn next(counter: &mut u8, max: u8, what: &str) -> Result<u8> {
    if *counter >= max {
        bail!("too many {what} in one lab (at most {max})");
    }
    *counter += 1;
    Ok(*counter)
}
