//! `allmenning pull`

use super::{restore, CheckoutDir, Ctx};
use crate::client::Client;
use crate::conflicts;
use crate::error::CliError;
use crate::outln;
use crate::output::{print_json, short, warn};
use crate::workdir::{self, displaced_text, Checkout, FileEntry, Tree};
use allmenning_protocol::artefact::path::Displaced;
use std::collections::BTreeMap;

/// Bring this checkout up to date with the node's current version of the artefact.
///
/// Files changed elsewhere (and replicated to this node) are updated here, unless you edited
/// them too: then nothing at all is changed and the pull fails with exit code 5, listing those
/// files. Commit your edits first (the commit is merged with the other changes), then pull.
/// Your uncommitted edits to other files are kept as they are.
///
/// When changes made at the same time conflict (the same or adjacent lines of a text file, a
/// binary file replaced at both ends, a file deleted at one end and changed at the other), the
/// pull says so: a text file gets conflict markers naming each side by organisation and change;
/// the other sides of other conflicts are written next to the file (logo.png.trondheim-2d6fda9).
/// Edit and commit to resolve, or use `allmenning resolve`.
///
/// A file you edited to exactly what the node now has (your accepted proposal, say) is no
/// conflict.
///
/// `--discard` replaces every local edit with the node's version (files you added are removed),
/// after asking on a terminal; `--yes` skips the question, and without a terminal it is needed.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning pull
  allmenning commit -m \"Mine endringer\" && allmenning pull
  allmenning pull --discard            # drop local edits, take the node's version
  allmenning pull --discard --yes --json")]
pub struct PullArgs {
    #[command(flatten)]
    pub checkout: CheckoutDir,
    /// Replace local edits with the node's version (asks first on a terminal)
    #[arg(long)]
    pub discard: bool,
    /// With --discard: do not ask
    #[arg(long, requires = "discard")]
    pub yes: bool,
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
    /// Files written under another name because their paths clash with others.
    pub displaced: Vec<DisplacedFile>,
    /// Files in conflict at the new base: text files hold conflict markers, other sides of
    /// other conflicts are in the files each names.
    pub conflicts: Vec<crate::workdir::ConflictNote>,
    /// `--discard`: files whose local edits were replaced by the node's version.
    #[serde(default)]
    pub discarded: Vec<String>,
}

/// A file of the artefact that is not at its own path in the checkout.
#[derive(serde::Serialize, Debug, Clone, PartialEq, Eq)]
pub struct DisplacedFile {
    /// Its path in the artefact.
    pub path: String,
    /// Where it is in the checkout.
    pub disk: String,
    /// The path whose name it would collide with.
    pub clashes_with: String,
}

impl DisplacedFile {
    /// What to tell the user about it.
    pub fn warning(&self) -> String {
        displaced_text(&self.path, &self.disk, &self.clashes_with)
    }
}

impl From<Displaced> for DisplacedFile {
    fn from(d: Displaced) -> Self {
        DisplacedFile {
            path: d.path,
            disk: d.disk,
            clashes_with: d.clashes_with,
        }
    }
}

/// Pulls the node's current files into `checkout`, or fails with [`CliError::Conflict`]
/// (changing nothing) when local edits and remote changes touch the same files.
pub async fn pull(client: &mut Client, checkout: &mut Checkout) -> anyhow::Result<PullReport> {
    pull_with(client, checkout, None).await
}

/// [`pull`], or with `discard` (`Some(yes)`) the node's version replacing every local edit,
/// after [`restore::confirm_discard`].
pub async fn pull_with(
    client: &mut Client,
    checkout: &mut Checkout,
    discard: Option<bool>,
) -> anyhow::Result<PullReport> {
    let id = checkout.manifest.id.clone();
    let remote = conflicts::split(client.files(&id, None).await?);
    let mut contents: BTreeMap<String, (Vec<u8>, bool)> = BTreeMap::new();
    let mut remote_tree = Tree::new();
    for (path, content, executable) in remote.files {
        remote_tree.insert(path.clone(), FileEntry::of(&content, executable));
        contents.insert(path, (content, executable));
    }
    let work = checkout.work_tree()?;
    let mut discarded = Vec::new();
    let plan = match discard {
        None => checkout.plan_pull(&work, &remote_tree)?,
        Some(yes) => {
            discarded = workdir::local_edits(&checkout.manifest.files, &work);
            discarded.retain(|p| work.get(p) != remote_tree.get(p));
            restore::confirm_discard(&discarded, yes)?;
            workdir::discard_plan(&work, &remote_tree)
        }
    };
    if !plan.conflicts.is_empty() {
        return Err(CliError::Conflict {
            files: plan.conflicts,
        }
        .into());
    }
    checkout.apply_pull(&plan, &remote_tree, &contents)?;
    conflicts::record(checkout, &remote.conflicts, &remote.sides)?;
    checkout.manifest.base_heads = remote.heads.clone();
    checkout.save()?;
    Ok(PullReport {
        id,
        base_heads: remote.heads,
        updated: plan.write,
        deleted: plan.delete,
        displaced: checkout
            .displaced()
            .into_iter()
            .map(DisplacedFile::from)
            .collect(),
        conflicts: checkout.manifest.conflicts.clone(),
        discarded,
    })
}

pub async fn run(ctx: &Ctx, args: PullArgs) -> anyhow::Result<()> {
    let mut checkout = args.checkout.open(ctx)?;
    let mut client = ctx.client().await?;
    let before = checkout.manifest.base_heads.clone();
    let report = pull_with(&mut client, &mut checkout, args.discard.then_some(args.yes)).await?;
    for displaced in &report.displaced {
        warn(&displaced.warning());
    }
    if args.json {
        return print_json(&report);
    }
    for note in &report.conflicts {
        warn(&format!("conflict: {}", conflicts::describe(note)));
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
    for path in &report.discarded {
        outln!("  discarded local edits: {path}")?;
    }
    let heads: Vec<&str> = report.base_heads.iter().map(|h| short(h)).collect();
    outln!("now at {}", heads.join(" "))?;
    Ok(())
}
