//! `allmenning status`

use super::{CheckoutDir, Ctx};
use crate::commands::pull::DisplacedFile;
use crate::conflicts;
use crate::outln;
use crate::output::{print_json, short, warn};
use crate::workdir::{Changes, Rename};
use allmenning_protocol::artefact::conflict::lines::has_conflict_markers;

/// Show what was edited in this checkout since it was checked out, committed or pulled.
///
/// Works without a running node: it compares the files with the checkout's record of its base.
/// A file deleted and another added with identical content are shown as a rename. Conflicted
/// files (as of the last checkout, pull or commit) are listed with what is left to resolve.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning status
  allmenning status -C ~/allmenning/foreldrebetaling --json")]
pub struct StatusArgs {
    #[command(flatten)]
    pub checkout: CheckoutDir,
    /// Print the status as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
pub struct StatusReport {
    pub id: String,
    pub base_heads: Vec<String>,
    pub modified: Vec<String>,
    pub added: Vec<String>,
    pub deleted: Vec<String>,
    pub renamed: Vec<Rename>,
    /// Files of the base kept under another name in this checkout, because their paths clash
    /// with others (not local changes).
    pub displaced: Vec<DisplacedFile>,
    /// Conflicted files of the base (as of the last checkout, pull or commit), each with what
    /// is left to resolve.
    pub conflicts: Vec<ConflictStatus>,
}

/// A conflicted file in the checkout.
#[derive(serde::Serialize)]
pub struct ConflictStatus {
    pub path: String,
    pub kind: String,
    /// The sides, as the markers name them.
    pub sides: Vec<String>,
    /// Whether the file still holds conflict markers.
    pub markers: bool,
    /// Side files still in the checkout.
    pub side_files: Vec<String>,
    /// What to do.
    pub hint: String,
}

pub fn report(id: &str, base_heads: &[String], changes: Changes) -> StatusReport {
    StatusReport {
        id: id.to_string(),
        base_heads: base_heads.to_vec(),
        modified: changes.modified,
        added: changes.added,
        deleted: changes.deleted,
        renamed: changes.renamed,
        displaced: Vec::new(),
        conflicts: Vec::new(),
    }
}

pub async fn run(ctx: &Ctx, args: StatusArgs) -> anyhow::Result<()> {
    let checkout = args.checkout.open(ctx)?;
    let changes = checkout.status()?;
    let clean = changes.is_empty();
    let mut report = report(
        &checkout.manifest.id,
        &checkout.manifest.base_heads,
        changes,
    );
    report.displaced = checkout
        .displaced()
        .into_iter()
        .map(DisplacedFile::from)
        .collect();
    for d in &report.displaced {
        warn(&d.warning());
    }
    let sides_left = checkout.sides_present()?;
    for note in &checkout.manifest.conflicts {
        let markers = checkout
            .read_file(&note.path)?
            .and_then(|(c, _)| String::from_utf8(c).ok())
            .is_some_and(|t| has_conflict_markers(&t));
        report.conflicts.push(ConflictStatus {
            path: note.path.clone(),
            kind: note.kind.clone(),
            sides: note.sides.clone(),
            markers,
            side_files: note
                .files
                .iter()
                .filter(|f| sides_left.contains(f))
                .cloned()
                .collect(),
            hint: conflicts::describe(note),
        });
    }
    let clean = clean && report.conflicts.is_empty();
    if args.json {
        return print_json(&report);
    }
    let heads: Vec<&str> = report.base_heads.iter().map(|h| short(h)).collect();
    outln!("artefact {} at {}", short(&report.id), heads.join(" "))?;
    if clean {
        outln!("no local changes")?;
        return Ok(());
    }
    for path in &report.modified {
        outln!("  modified:  {path}")?;
    }
    for path in &report.added {
        outln!("  added:     {path}")?;
    }
    for path in &report.deleted {
        outln!("  deleted:   {path}")?;
    }
    for r in &report.renamed {
        outln!("  renamed:   {} -> {}", r.from, r.to)?;
    }
    if !report.conflicts.is_empty() {
        outln!("conflicts (resolve, then commit):")?;
    }
    for c in &report.conflicts {
        let state = if c.markers {
            " (markers left)".to_string()
        } else if !c.side_files.is_empty() {
            format!(" (side files left: {})", c.side_files.join(", "))
        } else {
            " (ready to commit)".to_string()
        };
        outln!("  {}:  {}{state}", c.kind, c.path)?;
        outln!("      {}", c.hint)?;
    }
    Ok(())
}
