//! Errors that decide the exit code, and the exit codes scripts can rely on.

use crate::workdir::WorkdirError;
use std::path::PathBuf;

/// Exit codes, documented in `allmenning --help`.
pub mod exit {
    pub const SUCCESS: u8 = 0;
    pub const ERROR: u8 = 1;
    /// clap's own code for usage errors.
    pub const USAGE: u8 = 2;
    pub const NOT_RUNNING: u8 = 3;
    pub const NOT_FOUND: u8 = 4;
    pub const CONFLICT: u8 = 5;
}

/// The text shown at the end of `allmenning --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  error
  2  usage error (bad arguments)
  3  no node is running (start one with `allmenning node start`)
  4  not found (unknown artefact, id prefix or organisation, or not inside a checkout)
  5  conflict (pull refused: local uncommitted edits to files that also changed remotely;
     commit refused: conflict markers or conflict side files still in the checkout)";

/// An error whose kind scripts can tell apart by the exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("no node is running (nothing answers on {socket})")]
    NotRunning { socket: PathBuf },
    #[error("{message}")]
    NotFound {
        message: String,
        hint: Option<String>,
    },
    #[error("pull refused: {} edited locally and changed remotely: {}", plural(files.len()), files.join(", "))]
    Conflict { files: Vec<String> },
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },
    /// A commit refused because conflicts are not resolved in the checkout.
    #[error("{message}")]
    Unresolved { message: String, hint: String },
    #[error("{message}")]
    Failed {
        message: String,
        hint: Option<String>,
    },
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 file".to_string()
    } else {
        format!("{n} files")
    }
}

impl CliError {
    pub fn failed(message: impl Into<String>, hint: impl Into<String>) -> Self {
        CliError::Failed {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::NotRunning { .. } => exit::NOT_RUNNING,
            CliError::NotFound { .. } => exit::NOT_FOUND,
            CliError::Conflict { .. } | CliError::Unresolved { .. } => exit::CONFLICT,
            CliError::Usage { .. } => exit::USAGE,
            CliError::Failed { .. } => exit::ERROR,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            CliError::NotRunning { .. } => Some(
                "start the node with `allmenning node start` (pass the same --home / ALLMENNING_HOME)"
                    .into(),
            ),
            CliError::Conflict { .. } => Some(
                "commit your edits first: the commit is merged with the remote changes, then pull; \
                 or drop them: `allmenning pull --discard` (the node's version) or \
                 `allmenning restore` (the checkout's base)"
                    .into(),
            ),
            CliError::Unresolved { hint, .. } => Some(hint.clone()),
            CliError::NotFound { hint, .. }
            | CliError::Usage { hint, .. }
            | CliError::Failed { hint, .. } => hint.clone(),
        }
    }
}

/// The exit code and hint for any error reaching `main`.
pub fn classify(err: &anyhow::Error) -> (u8, Option<String>) {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<CliError>() {
            return (e.exit_code(), e.hint());
        }
        if let Some(e) = cause.downcast_ref::<WorkdirError>() {
            return match e {
                WorkdirError::NotACheckout { .. } => (
                    exit::NOT_FOUND,
                    Some("run this inside a checkout, or pass -C DIR; create one with `allmenning checkout ID DIR`".into()),
                ),
                WorkdirError::NotEmpty { .. } => {
                    (exit::ERROR, Some("choose a new or empty directory".into()))
                }
                _ => (exit::ERROR, None),
            };
        }
    }
    (exit::ERROR, None)
}
