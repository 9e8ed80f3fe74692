//! `allmenning debug`: hidden hooks for end-to-end tests.

use super::Ctx;
use allmenning_node::control::{ControlReply, ControlRequest};

/// Test hooks. Hidden from help: they only work on a node started with ALLMENNING_TEST_HOOKS=1.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum DebugCommand {
    /// Corrupt the stored signature of one change, so this node serves a tampered change to its
    /// peers (which must refuse it).
    CorruptChange {
        /// Artefact id or unique prefix
        id: String,
        /// Full hash of the change to corrupt
        hash: String,
    },
    /// Print every trust statement the node holds, one encoded (hex) statement per line.
    Statements,
    /// Hand the node one encoded statement (hex) as if a peer had sent it; fails if refused.
    InjectStatement {
        /// The statement, hex-encoded as `debug statements` prints it
        statement: String,
    },
}

pub async fn run(ctx: &Ctx, command: DebugCommand) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let request = match command {
        DebugCommand::CorruptChange { id, hash } => {
            let id = client.resolve(&id).await?;
            ControlRequest::DebugCorruptChange { id, hash }
        }
        DebugCommand::Statements => ControlRequest::DebugStatements,
        DebugCommand::InjectStatement { statement } => {
            ControlRequest::DebugInjectStatement { statement }
        }
    };
    match client.call(&request, |_| {}).await? {
        ControlReply::Done => Ok(()),
        ControlReply::RawStatements { statements } => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            for statement in statements {
                if let Err(e) = writeln!(out, "{statement}") {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(());
                    }
                    return Err(e.into());
                }
            }
            Ok(())
        }
        other => anyhow::bail!("unexpected reply from the node: {other:?}"),
    }
}
