//! `allmenning checkout`

use super::Ctx;
use crate::client::Client;
use crate::outln;
use crate::output::{print_json, short};
use crate::workdir::Checkout;
use std::path::{Path, PathBuf};

/// Put an artefact's files in a directory, ready to edit with any editor.
///
/// DIR must be new or empty. Besides the files it gets .allmenning/, which records what was
/// checked out (so `status`, `diff`, `commit` and `pull` know the base) and keeps a copy of the
/// base text files so that `diff` works without a running node. Every path the node sends is
/// checked first: nothing is written outside DIR or into .allmenning/.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Example:
  allmenning checkout 3f2a9c foreldrebetaling && cd foreldrebetaling
  $EDITOR README.md && allmenning diff && allmenning commit -m \"Oppdater kontaktinfo\"")]
pub struct CheckoutArgs {
    /// The artefact's id, or a unique prefix of it
    #[arg(value_name = "ID")]
    pub id: String,
    /// The directory to create (or an empty one)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
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
}

/// Checks out the artefact `id` (or a unique prefix) into `dir`.
pub async fn checkout(client: &mut Client, id: &str, dir: &Path) -> anyhow::Result<Checkout> {
    let id = client.resolve(id).await?;
    let files = client.files(&id, None).await?;
    let contents: Vec<(String, Vec<u8>, bool)> = files
        .files
        .into_iter()
        .map(|f| (f.path, f.content.0, f.executable))
        .collect();
    Ok(Checkout::create(dir, &files.id, &files.heads, &contents)?)
}

pub async fn run(ctx: &Ctx, args: CheckoutArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let checkout = checkout(&mut client, &args.id, &args.dir).await?;
    let report = CheckedOut {
        id: checkout.manifest.id.clone(),
        base_heads: checkout.manifest.base_heads.clone(),
        dir: args.dir.display().to_string(),
        files: checkout.manifest.files.len(),
    };
    if args.json {
        return print_json(&report);
    }
    outln!(
        "checked out {} files of {} into {}",
        report.files,
        short(&report.id),
        report.dir
    )?;
    Ok(())
}
