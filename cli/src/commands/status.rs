//! `allmenning status`

use super::{CheckoutDir, Ctx};
use crate::outln;
use crate::output::{print_json, short};
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
}

pub fn report(id: &str, base_heads: &[String], changes: Changes) -> StatusReport {
    StatusReport {
        id: id.to_string(),
        base_heads: base_heads.to_vec(),
        modified: changes.modified,
        added: changes.added,
        deleted: changes.deleted,
        renamed: changes.renamed,
    }
}

pub async fn run(_ctx: &Ctx, args: StatusArgs) -> anyhow::Result<()> {
    let checkout = args.checkout.open()?;
    let changes = checkout.status()?;
    let clean = changes.is_empty();
    let report = report(
        &checkout.manifest.id,
        &checkout.manifest.base_heads,
        changes,
    );
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
