//! `allmenning checkout`

use super::Ctx;
use crate::client::{is_endorsed, Client};
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
/// With --at VERSION, the artefact as it was at that version: a change hash as `allmenning log`
/// prints it, or a unique prefix of one, or `endorsed`. With --endorsed (the same as --at
/// endorsed), the version a curator endorsed most recently (reviewed, recommended or approved)
/// instead of the latest. The checkout's base is that version, so a commit from it is a change
/// on top of that version, merged with whatever came after, and `allmenning pull` brings the
/// checkout up to date.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning checkout 3f2a9c foreldrebetaling && cd foreldrebetaling
  $EDITOR README.md && allmenning diff && allmenning commit -m \"Oppdater kontaktinfo\"
  allmenning checkout 3f2a9c /srv/foreldrebetaling --endorsed   # the version KS approved
  allmenning checkout 3f2a9c /tmp/fb-mars --at 8c1d02e4          # as it was after that change")]
pub struct CheckoutArgs {
    /// The artefact's id, or a unique prefix of it
    #[arg(value_name = "ID")]
    pub id: String,
    /// The directory to create (or an empty one)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Check out the version a curator endorsed, not the latest
    #[arg(long, conflicts_with = "at")]
    pub endorsed: bool,
    /// Check out this version: a change hash, a unique prefix of one, or `endorsed`
    #[arg(long, value_name = "VERSION")]
    pub at: Option<String>,
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
    /// The version asked for with --at, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
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
    let at = endorsed.then_some(allmenning_protocol::engine::ENDORSED);
    checkout_at(client, id, dir, at, home).await
}

/// Checks out the artefact `id` (or a unique prefix) into `dir` at the version `at` names (a
/// change hash, a unique prefix of one, or `endorsed`), or its latest version; the checkout's
/// base is that version.
pub async fn checkout_at(
    client: &mut Client,
    id: &str,
    dir: &Path,
    at: Option<&str>,
    home: Option<HomeBinding>,
) -> anyhow::Result<Checkout> {
    let id = client.resolve(id).await?;
    let files = client.files_at_version(&id, at).await?;
    let id = files.id.clone();
    let split = conflicts::split(files);
    let mut checkout = Checkout::create_for(dir, &id, &split.heads, &split.files, home)?;
    conflicts::record(&mut checkout, &split.conflicts, &split.sides)?;
    checkout.save()?;
    for displaced in checkout.displaced() {
        warn(&displaced_warning(&displaced));
    }
    if at.is_some_and(is_endorsed) && !checkout.manifest.conflicts.is_empty() {
        warn(&format!(
            "the endorsed version has {} conflicted file{}: the curator endorsed it as it is",
            checkout.manifest.conflicts.len(),
            if checkout.manifest.conflicts.len() == 1 {
                ""
            } else {
                "s"
            }
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
    let at = match (&args.at, args.endorsed) {
        (Some(at), _) => Some(at.as_str()),
        (None, true) => Some(allmenning_protocol::engine::ENDORSED),
        (None, false) => None,
    };
    let checkout = checkout_at(&mut client, &args.id, &args.dir, at, Some(home)).await?;
    let report = CheckedOut {
        id: checkout.manifest.id.clone(),
        base_heads: checkout.manifest.base_heads.clone(),
        dir: args.dir.display().to_string(),
        files: checkout.manifest.files.len(),
        endorsed: at.is_some_and(is_endorsed),
        at: args.at.clone(),
        conflicts: checkout.manifest.conflicts.clone(),
    };
    if args.json {
        return print_json(&report);
    }
    let version = if report.endorsed {
        " (the endorsed version)".to_string()
    } else if args.at.is_some() {
        format!(
            " at {}",
            report
                .base_heads
                .iter()
                .map(|h| short(h))
                .collect::<Vec<_>>()
                .join(" ")
        )
    } else {
        String::new()
    };
    outln!(
        "checked out {} files of {}{version} into {}",
        report.files,
        short(&report.id),
        report.dir
    )?;
    Ok(())
}
