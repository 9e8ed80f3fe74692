//! `allmenning pull`

use super::{CheckoutDir, Ctx};
use crate::client::Client;
use crate::error::CliError;
use crate::outln;
use crate::output::{print_json, short};
use crate::workdir::{Checkout, FileEntry, Tree};
use std::collections::BTreeMap;

/// Bring this checkout up to date with the node's current version of the artefact.
///
/// Files changed elsewhere (and replicated to this node) are updated here, unless you edited
/// them too: then nothing at all is changed and the pull fails with exit code 5, listing those
/// files. Commit your edits first (the commit is merged with the other changes), then pull.
/// Your uncommitted edits to other files are kept as they are.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning pull
  allmenning commit -m \"Mine endringer\" && allmenning pull")]
pub struct PullArgs {
    #[command(flatten)]
    pub checkout: CheckoutDir,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize, Debug)]
pub struct PullReport {
    pub id: String,
    /// The checkout's new base: the node's current heads.
    pub base_heads: Vec<String>,
    /// Files written with the node's content.
    pub updated: Vec<String>,
    /// Files removed because they were deleted elsewhere.
    pub deleted: Vec<String>,
}

/// Pulls the node's current files into `checkout`, or fails with [`CliError::Conflict`]
/// (changing nothing) when local edits and remote changes touch the same files.
pub async fn pull(client: &mut Client, checkout: &mut Checkout) -> anyhow::Result<PullReport> {
    let id = checkout.manifest.id.clone();
    let remote = client.files(&id, None).await?;
    let mut contents: BTreeMap<String, (Vec<u8>, bool)> = BTreeMap::new();
    let mut remote_tree = Tree::new();
    for file in remote.files {
        remote_tree.insert(
            file.path.clone(),
            FileEntry::of(&file.content.0, file.executable),
        );
        contents.insert(file.path, (file.content.0, file.executable));
    }
    let (work, _) = checkout.scan()?;
    let plan = checkout.plan_pull(&work, &remote_tree)?;
    if !plan.conflicts.is_empty() {
        return Err(CliError::Conflict {
            files: plan.conflicts,
        }
        .into());
    }
    // Deletions first, so that a file replaced by a directory of the same name can be written.
    for path in &plan.delete {
        checkout.remove_file(path)?;
    }
    for path in &plan.write {
        if let Some((content, executable)) = contents.get(path) {
            checkout.write_file(path, content, *executable)?;
        }
    }
    // The new base is the node's current version, whatever was done locally.
    let stale: Vec<String> = checkout
        .manifest
        .files
        .keys()
        .filter(|p| !remote_tree.contains_key(*p))
        .cloned()
        .collect();
    for path in stale {
        checkout.set_base(&path, None)?;
    }
    for (path, entry) in &remote_tree {
        if checkout.manifest.files.get(path) != Some(entry) {
            if let Some((content, executable)) = contents.get(path) {
                checkout.set_base(path, Some((content, *executable)))?;
            }
        }
    }
    checkout.manifest.base_heads = remote.heads.clone();
    checkout.save()?;
    Ok(PullReport {
        id,
        base_heads: remote.heads,
        updated: plan.write,
        deleted: plan.delete,
    })
}

pub async fn run(ctx: &Ctx, args: PullArgs) -> anyhow::Result<()> {
    let mut checkout = args.checkout.open()?;
    let mut client = ctx.client().await?;
    let before = checkout.manifest.base_heads.clone();
    let report = pull(&mut client, &mut checkout).await?;
    if args.json {
        return print_json(&report);
    }
    if report.updated.is_empty() && report.deleted.is_empty() {
        if before == report.base_heads {
            outln!("already up to date")?;
        } else {
            outln!("up to date (no files changed)")?;
        }
        return Ok(());
    }
    for path in &report.updated {
        outln!("  updated:  {path}")?;
    }
    for path in &report.deleted {
        outln!("  deleted:  {path}")?;
    }
    let heads: Vec<&str> = report.base_heads.iter().map(|h| short(h)).collect();
    outln!("now at {}", heads.join(" "))?;
    Ok(())
}
