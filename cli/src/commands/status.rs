//! `allmenning status`

use super::{CheckoutDir, Ctx};
use crate::commands::pull::DisplacedFile;
use crate::outln;
use crate::output::{print_json, short, warn};
use crate::workdir::{Changes, Rename};

/// Show what was edited in this checkout since it was checked out, committed or pulled.
///
/// Works without a running node: it compares the files with the checkout's record of its base.
/// A file deleted and another added with identical content are shown as a rename.
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
    Ok(())
}
