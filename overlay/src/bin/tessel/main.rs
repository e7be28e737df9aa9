//! The `tessel` binary: parses the command line and runs one command.

mod cli;
mod commands;
mod down;
mod engine;
#[cfg(feature = "test-hooks")]
mod flood;
mod local;
mod logs;
mod manual;
mod nat_status;
mod netcheck;
mod network;
mod rotate;
mod scope;
mod tile;

// Fuzzing builds skip MAC checks so that fuzzers reach deeper code: a node
// built that way would accept forged packets. Only the library is fuzzed.
#[cfg(fuzzing)]
compile_error!("the tessel binary must not be built with cfg(fuzzing): it turns off MAC checks");

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if !matches!(cli.command, cli::Command::Up(_)) {
        // One-shot commands end quietly when their reader goes away
        // (`tessel ip | head -1`), like other Unix tools. The daemon keeps
        // Rust's default of ignoring SIGPIPE.
        #[allow(unsafe_code)]
        // SAFETY: no thread has started yet, and SIG_DFL installs no handler
        // that could run Rust code in a signal context.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    if let Err(e) = logs::init(cli.log_format) {
        eprintln!("error: {e:#}");
        return ExitCode::FAILURE;
    }
    match commands::run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
