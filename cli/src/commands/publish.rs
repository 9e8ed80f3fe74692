//! `allmenning publish`

use super::{Ctx, ARTEFACT_KINDS};
use crate::client::NewArtefact;
use crate::error::CliError;
use crate::outln;
use crate::output::{format_size, print_json, stderr_is_terminal};
use crate::walk::{self, WalkOptions};
use allmenning_node::control::{Bytes, FilePayload, Progress, Published};
use allmenning_protocol::artefact::path::check_tree;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

/// Share a file or a directory as a new artefact.
///
/// Every file under PATH is included (hidden files too) except what .gitignore files inside PATH
/// exclude, and never .git/, .allmenning/ or, unless --include-build-dirs, target/ and
/// node_modules/. Paths inside the artefact are relative to PATH; a single file keeps its name.
/// Prints the new artefact's id.
///
/// Artefacts are public within the network unless --share-with names the organisations that may
/// read it: then only they and the owner (this organisation) receive it. The owner changes who
/// may read and write later with `allmenning access`.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning publish ./foreldrebetaling --kind integration --title \"Redusert foreldrebetaling\" \\
      --description \"Inntektsoppslag for søknader om redusert foreldrebetaling\" --tag barnehage
  allmenning publish dpia.md --kind dpia --title \"DPIA for Visma Flyt Skole\" --json
  allmenning publish ros.md --kind ros --title ROS --share-with 937052766 964338531")]
pub struct PublishArgs {
    /// The file or directory to publish
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// What the artefact is
    #[arg(long, value_name = "KIND", ignore_case = true, value_parser = kind_parser())]
    pub kind: String,
    /// A short title
    #[arg(long, value_name = "TITLE")]
    pub title: String,
    /// A longer description
    #[arg(
        long,
        value_name = "TEXT",
        default_value = "",
        hide_default_value = true
    )]
    pub description: String,
    /// A tag to find it by (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Print the result as JSON (the Published reply)
    #[arg(long)]
    pub json: bool,
}

/// Which files to take and who may read the result: the options `publish` and `import` share.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct SourceArgs {
    /// Include target/ and node_modules/ directories
    #[arg(long)]
    pub include_build_dirs: bool,
    /// Restrict the artefact to these organisations (and the owner): their 9-digit numbers,
    /// one or more, or repeat the option; comma-separated works too
    #[arg(
        long = "share-with",
        value_name = "ORGNR",
        num_args = 1..,
        value_delimiter = ',',
        value_parser = crate::parse::org_number
    )]
    pub share_with: Vec<allmenning_protocol::identity::OrgNumber>,
}

/// The artefact kinds, case-insensitively, as lowercase (shared with `import`).
pub(crate) fn kind_parser() -> impl TypedValueParser<Value = String> {
    PossibleValuesParser::new(ARTEFACT_KINDS).map(|s| s.to_ascii_lowercase())
}

/// Reads the files to publish from `path` (a file or a directory), calling `on_file` with each
/// file's size after it is read.
pub fn collect_files(
    path: &Path,
    options: WalkOptions,
    mut on_file: impl FnMut(u64),
) -> anyhow::Result<Vec<FilePayload>> {
    let meta = std::fs::metadata(path).map_err(|e| CliError::Failed {
        message: format!("cannot read {}: {e}", path.display()),
        hint: None,
    })?;
    if meta.is_file() {
        let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
            anyhow::anyhow!("{} has no file name that is valid UTF-8", path.display())
        })?;
        let content = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        on_file(content.len() as u64);
        return Ok(vec![FilePayload {
            path: name.to_string(),
            content: Bytes(content),
            executable: walk::is_executable(&meta),
        }]);
    }
    let mut files = Vec::new();
    for file in walk::walk(path, options)? {
        let content = std::fs::read(&file.abs)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.abs.display()))?;
        on_file(content.len() as u64);
        files.push(FilePayload {
            path: file.path,
            content: Bytes(content),
            executable: file.executable,
        });
    }
    Ok(files)
}

pub async fn run(ctx: &Ctx, args: PublishArgs) -> anyhow::Result<()> {
    let json = args.json;
    let outcome = publish_path(
        ctx,
        PublishRequest {
            path: args.path,
            kind: args.kind,
            title: args.title,
            description: args.description,
            tags: args.tags,
            source: args.source,
            quiet: json,
        },
    )
    .await?;
    if json {
        return print_json(&outcome.published);
    }
    report_published(&outcome)
}

/// What to publish, however the command learnt it (`publish` from flags, `import` from a
/// publiccode.yml and flags).
#[derive(Clone, Debug)]
pub struct PublishRequest {
    /// The file or directory whose files become the artefact.
    pub path: PathBuf,
    pub kind: String,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    /// Build directories, and organisations that may read it (empty: public).
    pub source: SourceArgs,
    /// Show no progress bar (the caller prints JSON).
    pub quiet: bool,
}

/// What publishing did: the node's reply, and what was sent.
#[derive(Clone, Debug)]
pub struct PublishOutcome {
    pub published: Published,
    pub files: usize,
    pub bytes: u64,
    /// Organisation numbers that may read it, sorted; empty when public.
    pub share_with: Vec<String>,
}

/// Reads the files under `request.path` and publishes them as a new artefact: the one code
/// path behind `publish` and `import`.
pub async fn publish_path(ctx: &Ctx, request: PublishRequest) -> anyhow::Result<PublishOutcome> {
    let title = request.title.trim().to_string();
    if title.is_empty() {
        return Err(CliError::Usage {
            message: "--title must not be empty".into(),
            hint: None,
        }
        .into());
    }
    // Fail on a missing node before reading what may be many files.
    let mut client = ctx.client().await?;

    let show_progress = !request.quiet && stderr_is_terminal();
    let options = WalkOptions {
        default_excludes: !request.source.include_build_dirs,
    };
    // Size the bar from a first, cheap pass over the metadata.
    let total: u64 = if show_progress && request.path.is_dir() {
        walk::walk(&request.path, options)?
            .iter()
            .map(|f| f.size)
            .sum()
    } else {
        0
    };
    let bar = if show_progress {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{msg:>8} [{bar:30}] {bytes}/{total_bytes} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message("reading");
        bar
    } else {
        ProgressBar::hidden()
    };
    let files = collect_files(&request.path, options, |size| bar.inc(size))?;
    if files.is_empty() {
        bar.finish_and_clear();
        return Err(CliError::failed(
            format!(
                "nothing to publish: {} holds no files (after ignore rules)",
                request.path.display()
            ),
            "check .gitignore files in it; target/ and node_modules/ need --include-build-dirs",
        )
        .into());
    }
    // The protocol's path rule, before anything is sent: the node would refuse the same.
    if let Err(e) = check_tree(files.iter().map(|f| f.path.as_str())) {
        bar.finish_and_clear();
        return Err(CliError::failed(
            format!("cannot publish {}: {e}", request.path.display()),
            "rename the file (a path must be a valid file name on Windows, macOS and Linux, and differ from the others in more than letter case), then publish again",
        )
        .into());
    }
    let count = files.len();
    let bytes: u64 = files.iter().map(|f| f.content.0.len() as u64).sum();
    let mut share_with: Vec<String> = request
        .source
        .share_with
        .iter()
        .map(|o| o.to_string())
        .collect();
    share_with.sort();
    share_with.dedup();
    bar.set_message("storing");
    let published = client
        .publish(
            NewArtefact {
                title,
                kind: request.kind,
                description: request.description,
                tags: request.tags,
                files,
                share_with: share_with.clone(),
            },
            |p: &Progress| {
                if p.total > 0 {
                    bar.set_length(p.total);
                    bar.set_position(p.done);
                }
                bar.set_message(p.what.clone());
            },
        )
        .await;
    bar.finish_and_clear();
    Ok(PublishOutcome {
        published: published?,
        files: count,
        bytes,
        share_with,
    })
}

/// Prints the new artefact's id on stdout and, on a terminal, what was published on stderr.
pub fn report_published(outcome: &PublishOutcome) -> anyhow::Result<()> {
    outln!("{}", outcome.published.id)?;
    if stderr_is_terminal() {
        let visibility = if outcome.share_with.is_empty() {
            String::new()
        } else {
            format!(", shared only with {}", outcome.share_with.join(", "))
        };
        eprintln!(
            "published {} files ({}{visibility}); check it out with `allmenning checkout {} DIR`",
            outcome.files,
            format_size(outcome.bytes),
            crate::output::short(&outcome.published.id)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_a_single_file_by_its_name_and_a_directory_relative_to_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pkg/src")).unwrap();
        std::fs::write(dir.path().join("pkg/src/main.rs"), "fn main() {}").unwrap();
        std::fs::write(dir.path().join("pkg/README.md"), "# Hei").unwrap();
        let one = collect_files(
            &dir.path().join("pkg/README.md"),
            WalkOptions::default(),
            |_| {},
        )
        .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].path, "README.md");
        let mut seen = 0;
        let all = collect_files(&dir.path().join("pkg"), WalkOptions::default(), |n| {
            seen += n
        })
        .unwrap();
        let paths: Vec<&str> = all.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["README.md", "src/main.rs"]);
        assert_eq!(seen, 5 + 12);
    }
}
