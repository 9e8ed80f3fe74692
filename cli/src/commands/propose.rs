//! `allmenning propose`

use super::{CheckoutDir, Ctx};
use crate::commands::commit::{commit, print_proposed};
use crate::error::CliError;
use crate::outln;
use crate::output::{print_json, short};

/// Offer changes to an artefact's maintainers, as a proposal: your adaptation's changes to its
/// upstream, or the local edits of a checkout.
///
/// For an adaptation (made with `allmenning adopt`), every committed change of it that the
/// upstream lacks is offered to the upstream, with the signatures of those who made it; commit
/// your edits first. For any other artefact, the checkout's local edits become signed changes,
/// exactly as `commit` would make them, but they do not join the artefact (`commit` does this by
/// itself when your organisation may not write to the artefact; the edits stay in the
/// checkout). Either way the maintainers see the proposal with `allmenning proposals ID` and
/// `review`, and `accept` (the changes then join with their authors kept) or `decline` it.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning propose 3f2a9c -m \"Rett opp beløpsgrensen for 2027\"
  allmenning propose 7be01d -m \"Bergens presisering av klagefristen\"   # 7be01d: an adaptation")]
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
    let mut client = ctx.client().await?;
    let id = client.resolve(&args.id).await?;
    let detail = client.show(&id).await?;
    if detail.adaptation.is_some() {
        return propose_adaptation(ctx, &mut client, &id, &args).await;
    }
    let mut checkout = args.checkout.open(ctx)?;
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

/// Offers the committed changes of adaptation `id` to its upstream.
async fn propose_adaptation(
    ctx: &Ctx,
    client: &mut crate::client::Client,
    id: &str,
    args: &ProposeArgs,
) -> anyhow::Result<()> {
    let edits_pending = match args.checkout.open(ctx) {
        Ok(checkout) if checkout.manifest.id == id => !checkout.status()?.is_empty(),
        _ => false,
    };
    if edits_pending {
        return Err(CliError::Usage {
            message: format!(
                "the checkout of adaptation {} has edits that are not committed",
                short(id)
            ),
            hint: Some(
                "commit them to your adaptation first (`allmenning commit -m ...`); `propose` then offers the adaptation's changes to its upstream".into(),
            ),
        }
        .into());
    }
    let message = if args.message.trim().is_empty() {
        "Forslag fra en tilpasning".to_string()
    } else {
        args.message.clone()
    };
    let proposed = client.propose_upstream(id, &message).await?;
    if args.json {
        return print_json(&proposed);
    }
    outln!(
        "offered {} change(s) of {} to its upstream {} as proposal {}",
        proposed.changes.len(),
        short(&proposed.id),
        short(&proposed.upstream),
        short(&proposed.proposal)
    )?;
    outln!(
        "its maintainers see it with `allmenning proposals {}`",
        short(&proposed.upstream)
    )?;
    Ok(())
}
