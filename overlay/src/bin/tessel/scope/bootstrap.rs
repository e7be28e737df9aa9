//! `tessel scope bootstrap`: the DNS lookup that finds the root runtimes.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use clap::Args;
use tessel_overlay::driver::bootstrap::resolve_bootstrap;

/// Where to look the root runtimes up.
#[derive(Debug, Args)]
pub(crate) struct BootstrapArgs {
    /// The DNS name holding the TXT records, e.g. _tessel-root.example.org
    /// (taken as absolute).
    #[arg(long = "dns", value_name = "NAME")]
    pub(crate) name: String,
    /// Ask this DNS server instead of the system's resolvers
    /// (/etc/resolv.conf).
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) dns_server: Option<SocketAddr>,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(a: &BootstrapArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let roots = runtime.block_on(resolve_bootstrap(&a.name, a.dns_server))?;
    if a.json {
        let ids: Vec<String> = roots.iter().map(ToString::to_string).collect();
        println!("{}", serde_json::json!({ "name": a.name, "roots": ids }));
    } else {
        for id in roots {
            println!("{id}");
        }
    }
    Ok(())
}
