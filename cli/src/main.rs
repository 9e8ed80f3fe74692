//! `allmenning`: run a node, publish, check out and co-edit shared municipal artefacts.
//!
//! This file parses the command line, sets up logging and turns errors into one line on stderr
//! and an exit code; the commands themselves live in `commands/`.

use allmenning::commands::{self, Command, GlobalArgs};
use allmenning::error::{self, EXIT_CODES_HELP};
use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

const ABOUT: &str = "Share and co-edit municipal artefacts with other organisations";

const LONG_ABOUT: &str = "\
Allmenning lets Norway's municipalities share and co-edit artefacts: code, integrations, process
definitions, data models, DPIAs, risk assessments and more. Every organisation runs a node; nodes
replicate artefacts between each other, and edits made concurrently anywhere are merged.

This command talks to the node of its home directory (--home, ALLMENNING_HOME, or the user's data
directory) over a local control socket. Start with `allmenning init`, then `allmenning node start`,
or try `allmenning demo` to see three nodes at work on this machine.";

#[derive(Parser, Debug)]
#[command(
    name = "allmenning",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXIT_CODES_HELP,
    max_term_width = 100
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

fn init_tracing(daemon: bool) {
    let default = if daemon { "info" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(daemon)
        .try_init();
}

fn main() -> ExitCode {
    // Usage errors exit with 2, --help and --version with 0 (clap's own convention).
    let cli = Cli::parse();
    init_tracing(cli.command.is_daemon());

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(error::exit::ERROR);
        }
    };
    let result = runtime.block_on(commands::run(cli.global, cli.command));
    // Do not wait for stray background tasks (a node that is still draining, say).
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));

    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let (code, hint) = error::classify(&err);
            if is_broken_pipe(&err) {
                // `allmenning list | head`: the reader went away, nothing to report.
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            if let Some(hint) = hint {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(code)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
