//! Documents generated from the command line itself, so they never drift
//! from it: shell completion scripts (`tessel completions SHELL`) and the
//! man pages (`tessel man`), which packaging/build-deb.sh and
//! scripts/install.sh install.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, CompletionShell};

/// The binary's name in the scripts and pages.
const NAME: &str = "tessel";

/// Writes the completion script for `shell` to stdout.
pub(crate) fn completions(shell: CompletionShell) -> Result<()> {
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut without_hidden(Cli::command()), NAME, &mut out);
    out.flush().context("writing the completion script")
}

/// `cmd` without its hidden subcommands (`man`, test-only ones), which the
/// completion generators would otherwise offer.
fn without_hidden(cmd: clap::Command) -> clap::Command {
    let mut visible = clap::Command::new(NAME).version(env!("CARGO_PKG_VERSION"));
    if let Some(about) = cmd.get_about() {
        visible = visible.about(about.clone());
    }
    for arg in cmd.get_arguments() {
        visible = visible.arg(arg.clone());
    }
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        visible = visible.subcommand(sub.clone());
    }
    visible
}

/// Writes tessel(1) to stdout, or with `out` every page (tessel.1 and one
/// per command, e.g. tessel-up.1) into that directory.
pub(crate) fn man(out: Option<&Path>) -> Result<()> {
    let cmd = Cli::command();
    match out {
        None => {
            let mut stdout = std::io::stdout().lock();
            clap_mangen::Man::new(cmd)
                .render(&mut stdout)
                .context("writing the man page")?;
            stdout.flush().context("writing the man page")
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("writing the man pages into {}", dir.display()))
        }
    }
}
