//! `tessel scope …`: scopes. For now the DNS bootstrap lookup, which finds
//! the root runtimes named in DNS.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use tessel_overlay::driver::bootstrap::resolve_bootstrap;

/// `tessel scope …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ScopeCommand {
    /// Look up the root runtimes of the scopes in DNS (TXT records
    /// `tessel-root=tessel-node-…` at NAME) and print their node IDs.
    Bootstrap(BootstrapArgs),
}

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

/// Runs a `tessel scope` command.
pub(crate) fn run(cmd: ScopeCommand) -> Result<()> {
    match cmd {
        ScopeCommand::Bootstrap(a) => bootstrap(&a),
    }
}

fn bootstrap(a: &BootstrapArgs) -> Result<()> {
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
