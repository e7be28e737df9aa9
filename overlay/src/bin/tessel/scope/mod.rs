//! `tessel scope …`: owner keys and the signed records that create scopes
//! and grant access to them (signed offline here, [`sign`]), the DNS
//! bootstrap lookup ([`bootstrap`]), and the verbs that drive the running
//! node's scopes through its control socket ([`node`]).

mod bootstrap;
pub(crate) mod duration;
mod node;
mod sign;

pub(crate) use sign::{key_new, read_key};

use std::time::Duration;

use anyhow::Result;
use clap::Subcommand;

/// `tessel scope` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ScopeCommand {
    /// Owner keys: the keys that own scopes and sign their records.
    #[command(subcommand)]
    Key(sign::KeyCommand),
    /// Create a child scope (or `/` with the network's root key); prints
    /// the signed creation record.
    Create {
        /// The new scope, e.g. /org/team.
        path: String,
        /// Who will own it (default: the signing key itself).
        #[arg(long, value_name = "tessel-owner-…")]
        owner: Option<String>,
        /// Let anyone in the network read it.
        #[arg(long)]
        world_readable: bool,
        #[command(flatten)]
        signer: sign::Signer,
    },
    /// Let a runtime (a node, by node ID) host services in a scope.
    Grant(sign::GrantArgs),
    /// Give a member (by node ID) read permission on a scope and below.
    ReadGrant(sign::GrantArgs),
    /// Issue a read capability for a scope: a token its holder (or, with
    /// no --holder, anyone holding it) presents with a query.
    Readcap {
        /// The scope.
        scope: String,
        /// The node that may use it (default: a bearer token).
        #[arg(long, value_name = "tessel-node-…")]
        holder: Option<String>,
        /// How long it is valid: 90s, 30m, 12h, 7d.
        #[arg(long = "for", value_name = "LIFETIME", default_value = "1d", value_parser = duration::parse)]
        lifetime: Duration,
        #[command(flatten)]
        signer: sign::Signer,
    },
    /// Revoke a record signed by the same key before it expires.
    Revoke {
        /// The record's text, or @FILE holding it.
        record: String,
        #[command(flatten)]
        signer: sign::Signer,
    },
    /// Look up the root runtimes of the scopes in DNS (TXT records
    /// `tessel-root=tessel-node-…` at NAME) and print their node IDs.
    Bootstrap(bootstrap::BootstrapArgs),
    /// Decode a record's text and show what it says.
    Show {
        /// The record's text, or @FILE holding it.
        record: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Give the running node a record signed elsewhere: a scope creation,
    /// hosting grant, read capability, read grant or revocation.
    Add {
        /// The record's text, or @FILE holding it.
        record: String,
        #[command(flatten)]
        out: node::NodeOut,
    },
    /// Register a service of the running node in a scope, under a hosting
    /// grant for it; the service `sector` makes it a member of the scope's
    /// sector cluster.
    Register {
        /// The scope, e.g. /org/team.
        scope: String,
        /// The service: 1 to 32 of a-z 0-9 _ -.
        service: String,
        /// The hosting grant for this node and scope (text or @FILE).
        #[arg(long, value_name = "RECORD|@FILE")]
        grant: String,
        /// The engine serving it (64 hex digits; one running on this node).
        #[arg(long, value_name = "ADDR")]
        engine: Option<String>,
        #[command(flatten)]
        out: node::NodeOut,
    },
    /// Withdraw a registration of the running node.
    Withdraw {
        /// The scope.
        scope: String,
        /// The service.
        service: String,
        #[command(flatten)]
        out: node::NodeOut,
    },
    /// Find the runtimes hosting a service in a scope; prints them and the
    /// redirects followed.
    Query(node::QueryArgs),
    /// Send a message to the engines of a service in a scope: every one in
    /// the scope (--all) or one of the closest (--closest).
    Send {
        #[command(flatten)]
        target: node::QueryArgs,
        /// The message (UTF-8 text).
        data: String,
    },
    /// The running node's registrations, clusters and kept records.
    List {
        #[command(flatten)]
        out: node::NodeOut,
    },
    /// Drop the running node's query cache, so the next query starts from
    /// the bootstrap runtimes (for measurements).
    Forget {
        #[command(flatten)]
        out: node::NodeOut,
    },
}

/// Runs a `scope` subcommand.
pub(crate) fn run(command: ScopeCommand) -> Result<()> {
    match command {
        ScopeCommand::Key(k) => sign::key(k),
        ScopeCommand::Create {
            path,
            owner,
            world_readable,
            signer,
        } => sign::create(&path, owner, world_readable, &signer),
        ScopeCommand::Grant(a) => sign::hosting_grant(a),
        ScopeCommand::ReadGrant(a) => sign::read_grant(a),
        ScopeCommand::Readcap {
            scope,
            holder,
            lifetime,
            signer,
        } => sign::readcap(&scope, holder, lifetime, &signer),
        ScopeCommand::Revoke { record, signer } => sign::revoke(&record, &signer),
        ScopeCommand::Bootstrap(a) => bootstrap::run(&a),
        ScopeCommand::Show { record, json } => sign::show(&sign::record_arg(&record)?, json),
        ScopeCommand::Add { record, out } => node::add(&record, &out),
        ScopeCommand::Register {
            scope,
            service,
            grant,
            engine,
            out,
        } => node::register(&scope, &service, &grant, engine.as_deref(), &out),
        ScopeCommand::Withdraw {
            scope,
            service,
            out,
        } => node::withdraw(&scope, &service, &out),
        ScopeCommand::Query(a) => node::query(&a),
        ScopeCommand::Send { target, data } => node::send(&target, data.as_bytes()),
        ScopeCommand::List { out } => node::list(&out),
        ScopeCommand::Forget { out } => node::forget(&out),
    }
}
