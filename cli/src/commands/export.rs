//! `allmenning export`

use super::Ctx;
use crate::outln;
use crate::output::{print_json, short};
use crate::walk;
use crate::workdir::{ensure_empty_dir, validate_path};
use std::path::PathBuf;

/// Write an artefact's current files as plain files: no metadata, nothing locked in.
///
/// Unlike `checkout`, DIR gets no .allmenning/ directory: it is a plain copy to archive, hand
/// over or import elsewhere. DIR must be new or empty.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Example:
  allmenning export 3f2a9c /tmp/foreldrebetaling && tar czf foreldrebetaling.tgz -C /tmp foreldrebetaling")]
pub struct ExportArgs {
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
struct Exported {
    id: String,
    heads: Vec<String>,
    dir: String,
    files: usize,
    bytes: u64,
}

pub async fn run(ctx: &Ctx, args: ExportArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let id = client.resolve(&args.id).await?;
    let files = client.files(&id, None).await?;
    for file in &files.files {
        validate_path(&file.path)?;
    }
    ensure_empty_dir(&args.dir)?;
    let mut bytes = 0;
    for file in &files.files {
        let target = file
            .path
            .split('/')
            .fold(args.dir.clone(), |p, part| p.join(part));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&target, &file.content.0)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", target.display()))?;
        walk::set_executable(&target, file.executable)
            .map_err(|e| anyhow::anyhow!("cannot set permissions of {}: {e}", target.display()))?;
        bytes += file.content.0.len() as u64;
    }
    let report = Exported {
        id: files.id.clone(),
        heads: files.heads.clone(),
        dir: args.dir.display().to_string(),
        files: files.files.len(),
        bytes,
    };
    if args.json {
        return print_json(&report);
    }
    outln!(
        "exported {} files of {} into {}",
        report.files,
        short(&report.id),
        report.dir
    )?;
    Ok(())
}
