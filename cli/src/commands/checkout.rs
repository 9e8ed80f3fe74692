//! `allmenning checkout`

use super::Ctx;
use crate::client::Client;
use crate::conflicts;
use crate::outln;
use crate::output::{print_json, short, warn};
use crate::workdir::{displaced_warning, Checkout, HomeBinding};
use std::path::{Path, PathBuf};

/// Put an artefact's files in a directory, ready to edit with any editor.
///
/// DIR must be new or empty. Besides the files it gets .allmenning/, which records what was
/// checked out (so `status`, `diff`, `commit` and `pull` know the base) and keeps a copy of the
/// base text files so that `diff` works without a running node. Every path the node sends is
/// checked first: nothing is written outside DIR or into .allmenning/. The checkout belongs to
/// this node's home: `status`, `commit` and `pull` refuse it with another --home.
///
/// When two files of the artefact differ only in letter case (README.md and readme.md, added
/// concurrently), the later one by byte order is written next to the other as
/// readme.md.clash-1, with a warning: rename it and commit to resolve the clash.
///
/// With --endorsed, the version a curator endorsed most recently (reviewed, recommended or
/// approved) instead of the latest; the checkout's base is that version, so a commit from it is
/// merged with whatever came after, and `allmenning pull` brings the checkout up to date.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning checkout 3f2a9c foreldrebetaling && cd foreldrebetaling
  $EDITOR README.md && allmenning diff && allmenning commit -m \"Oppdater kontaktinfo\"
  allmenning checkout 3f2a9c /srv/foreldrebetaling --endorsed   # the version KS approved")]
pub struct CheckoutArgs {
    /// The artefact's id, or a unique prefix of it
    #[arg(value_name = "ID")]
    pub id: String,
    /// The directory to create (or an empty one)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Check out the version a curator endorsed, not the latest
    #[arg(long)]
    pub endorsed: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
pub struct CheckedOut {
    pub id: String,
    pub base_heads: Vec<String>,
    pub dir: String,
    pub files: usize,
    /// True when this is the endorsed version rather than the latest.
    pub endorsed: bool,
    /// Conflicted files (with markers, or with their other sides next to them).
    pub conflicts: Vec<crate::workdir::ConflictNote>,
}

/// Checks out the artefact `id` (or a unique prefix) into `dir`, for the node of `home`.
pub async fn checkout(
    client: &mut Client,
    id: &str,
    dir: &Path,
    home: Option<HomeBinding>,
) -> anyhow::Result<Checkout> {
    checkout_version(client, id, dir, false, home).await
}

/// Checks out the artefact `id` (or a unique prefix) into `dir`: its latest version, or with
/// `endorsed` the version a curator endorsed most recently, whose heads become the base.
pub async fn checkout_version(
    client: &mut Client,
    id: &str,
    dir: &Path,
    endorsed: bool,
    home: Option<HomeBinding>,
) -> anyhow::Result<Checkout> {
    let id = client.resolve(id).await?;
    let files = if endorsed {
        client.files_endorsed(&id).await?
    } else {
        client.files(&id, None).await?
    };
    let id = files.id.clone();
    let split = conflicts::split(files);
    let mut checkout = Checkout::create_for(dir, &id, &split.heads, &split.files, home)?;
    conflicts::record(&mut checkout, &split.conflicts, &split.sides)?;
    checkout.save()?;
    for displaced in checkout.displaced() {
        warn(&displaced_warning(&displaced));
    }
    if endorsed && !checkout.manifest.conflicts.is_empty() {
        warn(&format!(
            "the endorsed version has {} conflicted file{}: the curator endorsed it as it is",
            checkout.manifest.conflicts.len(),
            if checkout.manifest.conflicts.len() == 1 { "" } else { "s" }
        ));
    }
    for note in &checkout.manifest.conflicts {
        warn(&format!("conflict: {}", conflicts::describe(note)));
    }
    Ok(checkout)
}

pub async fn run(ctx: &Ctx, args: CheckoutArgs) -> anyhow::Result<()> {
    let home = ctx.home_binding()?;
    let mut client = ctx.client().await?;
    let checkout =
        checkout_version(&mut client, &args.id, &args.dir, args.endorsed, Some(home)).await?;
    let report = CheckedOut {
        id: checkout.manifest.id.clone(),
        base_heads: checkout.manifest.base_heads.clone(),
        dir: args.dir.display().to_string(),
        files: checkout.manifest.files.len(),
        endorsed: args.endorsed,
        conflicts: checkout.manifest.conflicts.clone(),
    };
    if args.json {
        return print_json(&report);
    }
    outln!(
        "checked out {} files of {}{} into {}",
        report.files,
        short(&report.id),
        if report.endorsed {
            " (the endorsed version)"
        } else {
            ""
        },
        report.dir
    )?;
    Ok(())
}
