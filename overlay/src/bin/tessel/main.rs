//! The `tessel` binary: parses the command line and runs one command.

mod cli;
mod commands;
mod config;
#[cfg(target_os = "linux")]
mod demo;
mod down;
mod engine;
#[cfg(feature = "test-hooks")]
mod flood;
mod heap;
mod join;
mod local;
mod logs;
mod manual;
mod map;
mod nat_status;
mod netcheck;
mod network;
mod ping;
mod rotate;
mod scope;
mod status;
mod table;
mod tile;
mod whois;

// Fuzzing builds skip MAC checks so that fuzzers reach deeper code: a node
// built that way would accept forged packets. Only the library is fuzzed.
#[cfg(fuzzing)]
compile_error!("the tessel binary must not be built with cfg(fuzzing): it turns off MAC checks");

use std::process::ExitCode;

fn main() -> ExitCode {
    heap::settle();
    let (cli, up_ctx) = match config::command_line() {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    if !runs_on(&cli.command) {
        // One-shot commands end quietly when their reader goes away
        // (`tessel ip | head -1`), like other Unix tools. The daemon (and
        // the demo, which must clean up whatever happens to its output)
        // keeps Rust's default of ignoring SIGPIPE.
        #[allow(unsafe_code)]
        // SAFETY: no thread has started yet, and SIG_DFL installs no handler
        // that could run Rust code in a signal context.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let log = match logs::init(cli.log_format, cli.log_level.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    match commands::run(cli.command, up_ctx, log) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// True for the commands that keep running and must not die of SIGPIPE.
fn runs_on(command: &cli::Command) -> bool {
    match command {
        cli::Command::Up(_) => true,
        #[cfg(target_os = "linux")]
        cli::Command::Demo(_) => true,
        _ => false,
    }
}
