//! `allmenning propose`

use super::{CheckoutDir, Ctx};
use crate::commands::commit::{commit, print_proposed};
use crate::error::CliError;
use crate::outln;
use crate::output::print_json;

/// Offer the local edits of a checkout to the artefact's maintainers, as a proposal.
///
/// The edits become signed changes, exactly as `commit` would make them, but they do not join
/// the artefact: its maintainers see them with `allmenning proposals ID` and `review`, and
/// `accept` (the changes then join with you as their author) or `decline` them. `commit` does
/// this by itself when your organisation may not write to the artefact. The edits stay in the
/// checkout.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Example:
  allmenning propose 3f2a9c -m \"Rett opp beløpsgrensen for 2027\"")]
pub struct ProposeArgs {
    /// The artefact the checkout holds (its id, or a unique prefix)
    #[arg(value_name = "ID")]
    pub id: String,
    /// Why: what the changes do, for the maintainers
    #[arg(short, long, default_value = "")]
    pub message: String,
    #[command(flatten)]
    pub checkout: CheckoutDir,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: &Ctx, args: ProposeArgs) -> anyhow::Result<()> {
    let mut checkout = args.checkout.open()?;
    let wanted = args.id.trim().to_ascii_lowercase();
    if wanted.is_empty() || !checkout.manifest.id.starts_with(&wanted) {
        return Err(CliError::Usage {
            message: format!(
                "this checkout holds artefact {}, not {}",
                checkout.manifest.id, args.id
            ),
            hint: Some("run it inside a checkout of that artefact, or pass -C DIR".into()),
        }
        .into());
    }
    if checkout.status()?.is_empty() {
        outln!("nothing to propose: the checkout has no local edits")?;
        return Ok(());
    }
    let mut client = ctx.client().await?;
    let message = if args.message.trim().is_empty() {
        "Forslag".to_string()
    } else {
        args.message.clone()
    };
    let report = commit(&mut client, &mut checkout, &message, true).await?;
    if args.json {
        return print_json(&report);
    }
    match &report.proposal {
        Some(proposal) => print_proposed(proposal, &report),
        None => {
            outln!("nothing to propose (the artefact already has these contents)")?;
            Ok(())
        }
    }
}
