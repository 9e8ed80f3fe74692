//! `allmenning pull-upstream`

use super::Ctx;
use crate::outln;
use crate::output::{print_json, short};

/// Merge the upstream's later changes into your adaptation.
///
/// The merge is Automerge's: your edits stay, the upstream's changes join them, and edits of
/// the same text file merge line by line and character by character. Only the upstream's
/// changes that this node holds are merged; it syncs them like any artefact. A checkout of the
/// adaptation picks the result up with `allmenning pull`.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning pull-upstream 7be01d
  allmenning pull-upstream 7be01d --json | jq .merged")]
pub struct PullUpstreamArgs {
    /// Your adaptation (its id, or a unique prefix)
    #[arg(value_name = "ID")]
    pub id: String,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: &Ctx, args: PullUpstreamArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let id = client.resolve(&args.id).await?;
    let pulled = client.pull_upstream(&id).await?;
    if args.json {
        return print_json(&pulled);
    }
    if pulled.merged == 0 {
        outln!(
            "{} is up to date with its upstream {}",
            short(&pulled.id),
            short(&pulled.upstream)
        )?;
    } else {
        outln!(
            "merged {} change(s) from {} into {}; heads now {}",
            pulled.merged,
            short(&pulled.upstream),
            short(&pulled.id),
            pulled
                .heads
                .iter()
                .map(|h| short(h))
                .collect::<Vec<_>>()
                .join(" ")
        )?;
        outln!("update a checkout of it with `allmenning pull`")?;
    }
    for c in &pulled.conflicts {
        let sides: Vec<&str> = c.sides.iter().map(|s| s.label.as_str()).collect();
        outln!("conflict: {} ({}): {}", c.path, c.kind, sides.join(" vs "))?;
    }
    if !pulled.conflicts.is_empty() {
        outln!("resolve in a checkout of the adaptation: `allmenning pull`, edit, `allmenning commit` (or `allmenning resolve PATH --take ...`)")?;
    }
    Ok(())
}
