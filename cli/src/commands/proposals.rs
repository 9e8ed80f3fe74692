//! `allmenning proposals`

use super::Ctx;
use crate::outln;
use crate::output::{format_time, print, print_json, short, table};

/// List the proposals made for an artefact: changes offered by organisations that may not
/// write to it, open, accepted or declined.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning proposals 3f2a9c
  allmenning proposals 3f2a9c --json | jq -r '.[] | select(.status == \"open\") | .id'")]
pub struct ProposalsArgs {
    /// The artefact's id, or a unique prefix of it
    #[arg(value_name = "ID")]
    pub id: String,
    /// Print the proposals as a JSON array
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: &Ctx, args: ProposalsArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let id = client.resolve(&args.id).await?;
    let proposals = client.proposals(&id).await?;
    if args.json {
        return print_json(&proposals);
    }
    if proposals.is_empty() {
        outln!("no proposals for {}", short(&id))?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = proposals
        .iter()
        .map(|p| {
            vec![
                short(&p.id).to_string(),
                p.status.clone(),
                p.proposer_name
                    .clone()
                    .or_else(|| p.proposer_org.clone())
                    .unwrap_or_else(|| short(&p.proposer).to_string()),
                format_time(p.time),
                p.message.clone(),
            ]
        })
        .collect();
    print(&table(&["ID", "STATUS", "FROM", "TIME", "MESSAGE"], &rows))?;
    outln!("look at one with `allmenning review ID`; then `allmenning accept ID` or `decline ID`")?;
    Ok(())
}
