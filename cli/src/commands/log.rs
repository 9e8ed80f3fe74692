//! `allmenning log`

use super::Ctx;
use crate::outln;
use crate::output::{format_time, print_json, short};

/// Show an artefact's history, newest change first.
///
/// Every change is signed by the node that wrote it; the author shown is that node's public key.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning log 3f2a9c
  allmenning log 3f2a9c --json | jq -r '.[0].message'")]
pub struct LogArgs {
    /// The artefact's id, or a unique prefix of it
    #[arg(value_name = "ID")]
    pub id: String,
    /// Print the changes as a JSON array
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: &Ctx, args: LogArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let id = client.resolve(&args.id).await?;
    let entries = client.log(&id).await?;
    if args.json {
        return print_json(&entries);
    }
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            outln!()?;
        }
        outln!("change {}", entry.hash)?;
        outln!("author {}", short(&entry.author))?;
        outln!("date   {}", format_time(entry.time))?;
        outln!()?;
        let message = if entry.message.trim().is_empty() {
            "(no message)"
        } else {
            entry.message.as_str()
        };
        for line in message.lines() {
            outln!("    {line}")?;
        }
    }
    Ok(())
}
