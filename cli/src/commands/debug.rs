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
}

pub async fn run(ctx: &Ctx, command: DebugCommand) -> anyhow::Result<()> {
    match command {
        DebugCommand::CorruptChange { id, hash } => {
            let mut client = ctx.client().await?;
            let id = client.resolve(&id).await?;
            match client
                .call(&ControlRequest::DebugCorruptChange { id, hash }, |_| {})
                .await?
            {
                ControlReply::Done => Ok(()),
                other => anyhow::bail!("unexpected reply from the node: {other:?}"),
            }
        }
    }
}
