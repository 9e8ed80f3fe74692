//! `allmenning adopt`

use super::Ctx;
use crate::outln;
use crate::output::{print_json, short};

/// Adopt another organisation's artefact: make your organisation's own adaptation of it.
///
/// The adaptation starts as an exact version of the upstream (its current heads, or with
/// `--endorsed` the version a curator endorsed) and is yours to change: check it out, edit and
/// commit as usual. A signed adoption statement records what it is based on, so every node
/// shows your organisation among the upstream's users. Later upstream changes come in with
/// `allmenning pull-upstream`; your changes go back with `allmenning propose`.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning adopt 3f2a9c
  allmenning adopt 3f2a9c --endorsed --title \"Foreldrebetaling, Bergen\"
  allmenning adopt 3f2a9c --json | jq -r .id")]
pub struct AdoptArgs {
    /// The artefact to adopt (its id, or a unique prefix)
    #[arg(value_name = "ID")]
    pub id: String,
    /// A title for your adaptation (default: the upstream's)
    #[arg(long)]
    pub title: Option<String>,
    /// Adopt the version a curator endorsed most recently, not the latest
    #[arg(long)]
    pub endorsed: bool,
    /// Print the adaptation as JSON
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: &Ctx, args: AdoptArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let upstream = client.resolve(&args.id).await?;
    // Adopt complete contents only: the adaptation's files must be readable right away.
    client.wait_complete(&upstream).await?;
    let adaptation = client
        .adopt(&upstream, args.title.clone(), None, args.endorsed)
        .await?;
    if args.json {
        return print_json(&adaptation);
    }
    outln!(
        "adopted {} as {} ({}), owned by {}",
        short(&adaptation.based_on),
        adaptation.id,
        adaptation.title,
        adaptation.owner_name
    )?;
    outln!(
        "based on version {}",
        adaptation
            .based_on_version
            .iter()
            .map(|h| short(h))
            .collect::<Vec<_>>()
            .join(" ")
    )?;
    outln!(
        "next: `allmenning checkout {}` to edit it; `allmenning pull-upstream {}` brings in later upstream changes",
        short(&adaptation.id),
        short(&adaptation.id)
    )?;
    Ok(())
}
