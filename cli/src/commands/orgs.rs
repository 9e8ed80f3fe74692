//! `allmenning orgs`

use super::Ctx;
use crate::outln;
use crate::output::{print_json, short};
use allmenning_node::control::ArtefactRef;

/// Who does what: each organisation and what it shares, maintains, adopts, captains and endorses.
///
/// Built from the artefacts and signed statements this node holds. `allmenning org show ORGNR`
/// shows one organisation's keys and nodes.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning orgs
  allmenning orgs --json | jq -r '.[] | select(.shares | length > 0) | .name'")]
pub struct OrgsArgs {
    /// Print the organisations as a JSON array
    #[arg(long)]
    pub json: bool,
}

fn list(label: &str, refs: &[ArtefactRef]) -> anyhow::Result<()> {
    if refs.is_empty() {
        return Ok(());
    }
    outln!("  {label} ({}):", refs.len())?;
    for r in refs {
        outln!("    {}  {} ({})", short(&r.id), r.title, r.kind)?;
    }
    Ok(())
}

pub async fn run(ctx: &Ctx, args: OrgsArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let orgs = client.activity().await?;
    if args.json {
        return print_json(&orgs);
    }
    if orgs.is_empty() {
        outln!("no organisations known yet: join a network or connect to a peer")?;
        return Ok(());
    }
    for (i, org) in orgs.iter().enumerate() {
        if i > 0 {
            outln!()?;
        }
        let kind = if org.kind.is_empty() {
            String::new()
        } else {
            format!(", {}", org.kind)
        };
        let admitted = if org.admitted { "" } else { " (not admitted)" };
        outln!("{} ({}{kind}){admitted}", org.name, org.org)?;
        if org.shares.is_empty()
            && org.maintains.is_empty()
            && org.adopts.is_empty()
            && org.captains.is_empty()
            && org.endorses.is_empty()
            && org.participates.is_empty()
        {
            outln!("  nothing shared yet")?;
        }
        list("shares", &org.shares)?;
        list("maintains", &org.maintains)?;
        list("adopts", &org.adopts)?;
        list("captains", &org.captains)?;
        list("endorses", &org.endorses)?;
        list("takes part in", &org.participates)?;
    }
    Ok(())
}
