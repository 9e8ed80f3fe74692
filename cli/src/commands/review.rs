//! `allmenning review`, `allmenning accept` and `allmenning decline`

use super::Ctx;
use crate::commands::diff::unified;
use crate::outln;
use crate::output::{format_time, print_json, short};
use allmenning_node::control::ProposalReview;

/// Show a proposal: who offers what, why, and the diff it would make to the artefact now.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Example:
  allmenning review 8c1d02")]
pub struct ReviewArgs {
    /// The proposal's id, or a unique prefix of it
    #[arg(value_name = "PROPOSAL")]
    pub proposal: String,
    /// Print the proposal and its files (before and after, base64) as JSON
    #[arg(long)]
    pub json: bool,
}

/// Accept a proposal, as a maintainer: its changes join the artefact with their author kept.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Example:
  allmenning accept 8c1d02")]
pub struct AcceptArgs {
    /// The proposal's id, or a unique prefix of it
    #[arg(value_name = "PROPOSAL")]
    pub proposal: String,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

/// Decline a proposal, as a maintainer: nothing of it joins the artefact.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Example:
  allmenning decline 8c1d02")]
pub struct DeclineArgs {
    /// The proposal's id, or a unique prefix of it
    #[arg(value_name = "PROPOSAL")]
    pub proposal: String,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

fn print_review(review: &ProposalReview) -> anyhow::Result<()> {
    let p = &review.proposal;
    outln!(
        "proposal {} for artefact {} ({})",
        short(&p.id),
        short(&p.artefact),
        p.status
    )?;
    outln!(
        "from:    {}",
        p.proposer_name
            .clone()
            .or_else(|| p.proposer_org.clone())
            .unwrap_or_else(|| p.proposer.clone())
    )?;
    outln!("when:    {}", format_time(p.time))?;
    outln!("message: {}", p.message)?;
    if let Some(by) = &p.decided_by {
        outln!("decided by {by}")?;
    }
    for file in &review.files {
        let before = file.before.as_ref().map(|b| b.0.as_slice()).unwrap_or(&[]);
        let after = file.after.as_ref().map(|b| b.0.as_slice()).unwrap_or(&[]);
        let (old, new) = (
            if file.before.is_some() {
                format!("a/{}", file.path)
            } else {
                "/dev/null".into()
            },
            if file.after.is_some() {
                format!("b/{}", file.path)
            } else {
                "/dev/null".into()
            },
        );
        match unified(before, after, &old, &new, 3) {
            Some(diff) => print!("{diff}"),
            None => outln!("binary file {} differs", file.path)?,
        }
    }
    if review.files.is_empty() {
        outln!("(it changes nothing the artefact does not already have)")?;
    }
    print_conflicts(review)
}

/// What accepting would leave in conflict (the maintainers then resolve it like any other).
fn print_conflicts(review: &ProposalReview) -> anyhow::Result<()> {
    if review.conflicts.is_empty() {
        return Ok(());
    }
    outln!(
        "accepting would make {} conflict{} (resolved afterwards like any other: checkout or pull, edit, commit):",
        review.conflicts.len(),
        if review.conflicts.len() == 1 { "" } else { "s" }
    )?;
    for c in &review.conflicts {
        let sides: Vec<&str> = c.sides.iter().map(|s| s.label.as_str()).collect();
        outln!("  {} ({}): {}", c.path, c.kind, sides.join(" vs "))?;
    }
    Ok(())
}

pub async fn run(ctx: &Ctx, args: ReviewArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let review = client.proposal_review(&args.proposal, None).await?;
    if args.json {
        return print_json(&review);
    }
    print_review(&review)
}

async fn decide(ctx: &Ctx, proposal: &str, accept: bool, json: bool) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let review = client.proposal_review(proposal, Some(accept)).await?;
    if json {
        return print_json(&review);
    }
    let p = &review.proposal;
    if accept {
        outln!(
            "accepted proposal {}: {} change(s) joined artefact {}",
            short(&p.id),
            p.changes.len(),
            short(&p.artefact)
        )?;
        print_conflicts(&review)?;
    } else {
        outln!("declined proposal {}", short(&p.id))?;
    }
    Ok(())
}

pub async fn accept(ctx: &Ctx, args: AcceptArgs) -> anyhow::Result<()> {
    decide(ctx, &args.proposal, true, args.json).await
}

pub async fn decline(ctx: &Ctx, args: DeclineArgs) -> anyhow::Result<()> {
    decide(ctx, &args.proposal, false, args.json).await
}
