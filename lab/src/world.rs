//! What every piece of one lab shares: how its namespaces are named, the
//! address plan's counters, and the namespaces, kept alive until the last
//! handle to the lab is dropped.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::netns::Netns;

/// How a lab names its namespaces.
#[derive(Debug, Clone, Default)]
pub enum Naming {
    /// `ts-<pid>-<n>-<role>` ([`Netns::new`]): unique per process and lab,
    /// so that parallel tests never collide.
    #[default]
    Unique,
    /// `<prefix><role>`, exactly ([`Netns::create`]): names a person can
    /// type, for one lab at a time.
    Prefixed(String),
}

/// Shared state of one lab; cloning shares it.
#[derive(Debug, Clone, Default)]
pub(crate) struct World(Arc<Mutex<Plan>>);

/// Counters of the address plan, and every namespace of the lab.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// How namespaces are named.
    pub(crate) naming: Naming,
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
    /// A lab whose namespaces are named as `naming` says.
    pub(crate) fn new(naming: Naming) -> Self {
        Self(Arc::new(Mutex::new(Plan {
            naming,
            ..Plan::default()
        })))
    }

    /// Locks the plan.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Plan> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates a namespace that lives as long as the lab.
    pub(crate) fn netns(&self, role: &str) -> Result<Arc<Netns>> {
        let naming = self.lock().naming.clone();
        let ns = Arc::new(match naming {
            Naming::Unique => Netns::new(role)?,
            Naming::Prefixed(prefix) => Netns::create(&format!("{prefix}{role}"))?,
        });
        self.lock().namespaces.push(Arc::clone(&ns));
        Ok(ns)
    }

    /// Names of the lab's namespaces so far, in the order they were made.
    pub(crate) fn names(&self) -> Vec<String> {
        self.lock()
            .namespaces
            .iter()
            .map(|ns| ns.name().to_owned())
            .collect()
    }

    /// Leaves every namespace of the lab in place when dropped.
    pub(crate) fn keep(&self) {
        for ns in &self.lock().namespaces {
            ns.keep();
        }
    }
}

/// Increments `counter` and returns its new value, failing past `max`.
pub(crate) fn next(counter: &mut u8, max: u8, what: &'static str) -> Result<u8> {
    if *counter >= max {
        return Err(Error::Exhausted { what, max });
    }
    *counter += 1;
    Ok(*counter)
}
