//! `allmenning restore`: discard local edits, putting files back to the checkout's base.
//!
//! A user must never be stuck with edits they do not want (a proposal that was declined, an
//! experiment): restore undoes them file by file, without touching the node. The base is the
//! version the checkout was taken from or last pulled/committed (its stored heads): text files
//! come from the checkout's own base cache, others (and any cache entry that is damaged) from
//! the node at those heads.

use super::diff::Bases;
use super::{CheckoutDir, Ctx};
use crate::error::CliError;
use crate::outln;
use crate::output::{confirm, print_json};
use crate::workdir::Checkout;
use std::io::{IsTerminal, Write};
use std::path::{Component, Path, PathBuf};

/// Put files of this checkout back to its base version, discarding local edits.
///
/// Without PATH every modified, added and deleted file is restored: modified and deleted files
/// get their base content back, added files are removed. With PATHs (files or folders, relative
/// to the current directory) only those. The node is asked only for base contents the checkout
/// does not cache (binary files). To take the node's newest version instead, use `allmenning
/// pull` (or `pull --discard`).
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning restore                   # every local edit
  allmenning restore README.md src/    # only these
  allmenning restore --json")]
pub struct RestoreArgs {
    /// Files or folders to restore (default: everything edited)
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub checkout: CheckoutDir,
    /// Print what was restored as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize, Debug, Default, PartialEq, Eq)]
pub struct RestoreReport {
    pub id: String,
    /// Files written back with their base content.
    pub restored: Vec<String>,
    /// Files removed because the base does not have them.
    pub removed: Vec<String>,
}

/// `path` (relative to `cwd`, or absolute) as a path of the checkout at `root`; `None` when it
/// lies outside it. Works for paths that no longer exist (a deleted file).
fn artefact_path(root: &Path, cwd: &Path, path: &Path) -> Option<String> {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    let mut parts: Vec<String> = Vec::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                parts.pop();
            }
            Component::CurDir => {}
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::RootDir | Component::Prefix(_) => parts.clear(),
        }
    }
    let root_parts: Vec<String> = root
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    if parts.len() < root_parts.len() || parts[..root_parts.len()] != root_parts[..] {
        return None;
    }
    Some(parts[root_parts.len()..].join("/"))
}

/// Which of the `edited` paths the user's `wanted` paths select (a folder selects what is
/// under it; "" is the whole checkout). A wanted path that selects nothing edited is fine if
/// the checkout knows it (nothing to do), otherwise an error.
fn select(
    edited: &[String],
    known: &dyn Fn(&str) -> bool,
    wanted: &[String],
) -> Result<Vec<String>, CliError> {
    let mut out: Vec<String> = Vec::new();
    for w in wanted {
        let under = |p: &str| w.is_empty() || p == w || p.starts_with(&format!("{w}/"));
        let hits: Vec<&String> = edited.iter().filter(|p| under(p)).collect();
        if hits.is_empty() && !known(w) {
            return Err(CliError::NotFound {
                message: format!("{w} is not a file or folder of this checkout"),
                hint: Some("`allmenning status` lists what was edited".into()),
            });
        }
        for h in hits {
            if !out.contains(h) {
                out.push(h.clone());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Restores `paths` of `checkout` to its base. Base contents not cached are fetched from the
/// node (connected only when needed, through the same [`Bases`] as `diff`), all of them before
/// any file is written: a node that cannot be reached leaves every file as it was.
pub async fn restore(
    ctx: &Ctx,
    checkout: &mut Checkout,
    paths: &[String],
) -> anyhow::Result<RestoreReport> {
    let mut report = RestoreReport {
        id: checkout.manifest.id.clone(),
        ..RestoreReport::default()
    };
    // path → its base content and mode; `None`: not in the base, removed.
    let mut planned: Vec<(&String, Option<(Vec<u8>, bool)>)> = Vec::new();
    {
        let mut bases = Bases::new(ctx, checkout);
        for path in paths {
            let Some(entry) = checkout.manifest.files.get(path) else {
                planned.push((path, None));
                continue;
            };
            let Some(content) = bases.content(path).await? else {
                return Err(CliError::failed(
                    format!("the node has no base content for {path}"),
                    "`allmenning pull --discard` takes the node's current version instead",
                )
                .into());
            };
            planned.push((path, Some((content, entry.executable))));
        }
    }
    for (path, base) in planned {
        match base {
            Some((content, executable)) => {
                checkout.write_file(path, &content, executable)?;
                report.restored.push(path.clone());
            }
            None => {
                checkout.remove_file(path)?;
                report.removed.push(path.clone());
            }
        }
    }
    Ok(report)
}

/// Asks on the terminal whether to discard local edits to `paths`; `yes` answers for the user.
/// Off a terminal without `yes` it refuses, so a script never loses edits by accident.
pub fn confirm_discard(paths: &[String], yes: bool) -> anyhow::Result<()> {
    if yes || paths.is_empty() {
        return Ok(());
    }
    if std::io::stdin().is_terminal() {
        let mut err = std::io::stderr().lock();
        writeln!(err, "Local edits to these files will be lost:")?;
        for p in paths {
            writeln!(err, "  {p}")?;
        }
    }
    confirm(
        "Discard them?",
        (
            format!(
                "not discarded: {} file(s) have local edits ({})",
                paths.len(),
                paths.join(", ")
            ),
            "pass --yes to discard them without asking (or `allmenning restore` to go back to the checkout's base)",
        ),
        "nothing discarded",
    )
}

pub async fn run(ctx: &Ctx, args: RestoreArgs) -> anyhow::Result<()> {
    let mut checkout = args.checkout.open(ctx)?;
    // Every path touched by a local edit (both sides of a rename). Side files of conflicts are
    // the node's, not local additions (`status` leaves them out): `resolve` and `pull` manage them.
    let edited: Vec<String> = checkout
        .status()?
        .touched()
        .into_iter()
        .map(str::to_string)
        .collect();
    let targets = if args.paths.is_empty() {
        edited
    } else {
        let cwd = std::env::current_dir()?;
        let cwd = std::fs::canonicalize(&cwd).unwrap_or(cwd);
        let root = std::fs::canonicalize(&checkout.root).unwrap_or(checkout.root.clone());
        let mut wanted = Vec::new();
        for p in &args.paths {
            let Some(rel) = artefact_path(&root, &cwd, p) else {
                return Err(CliError::Usage {
                    message: format!("{} is outside the checkout {}", p.display(), root.display()),
                    hint: None,
                }
                .into());
            };
            wanted.push(rel);
        }
        let manifest = &checkout.manifest.files;
        // (A path on disk that the base lacks is an addition, so among the edited ones.)
        let known = |p: &str| {
            manifest.contains_key(p) || manifest.keys().any(|k| k.starts_with(&format!("{p}/")))
        };
        select(&edited, &known, &wanted)?
    };
    let report = restore(ctx, &mut checkout, &targets).await?;
    if args.json {
        return print_json(&report);
    }
    if report.restored.is_empty() && report.removed.is_empty() {
        outln!("nothing to restore: no local edits")?;
        return Ok(());
    }
    for p in &report.restored {
        outln!("  restored: {p}")?;
    }
    for p in &report.removed {
        outln!("  removed:  {p}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_taken_relative_to_the_current_directory_and_kept_inside_the_checkout() {
        let root = Path::new("/home/a/work");
        let cwd = Path::new("/home/a/work/src");
        assert_eq!(
            artefact_path(root, cwd, Path::new("main.rs")).as_deref(),
            Some("src/main.rs")
        );
        assert_eq!(
            artefact_path(root, cwd, Path::new("../README.md")).as_deref(),
            Some("README.md")
        );
        assert_eq!(
            artefact_path(root, cwd, Path::new("..")).as_deref(),
            Some("")
        );
        assert_eq!(artefact_path(root, cwd, Path::new("../../x")), None);
        assert_eq!(artefact_path(root, cwd, Path::new("/etc/passwd")), None);
    }

    #[test]
    fn folders_select_what_is_under_them_and_unknown_paths_are_refused() {
        let edited: Vec<String> = ["README.md", "src/a.rs", "src/b.rs", "srcx"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let known = |p: &str| p == "docs/guide.md";
        assert_eq!(
            select(&edited, &known, &["src".into()]).unwrap(),
            vec!["src/a.rs", "src/b.rs"]
        );
        assert_eq!(select(&edited, &known, &["".into()]).unwrap().len(), 4);
        assert!(select(&edited, &known, &["docs/guide.md".into()])
            .unwrap()
            .is_empty());
        assert!(matches!(
            select(&edited, &known, &["nope.txt".into()]),
            Err(CliError::NotFound { .. })
        ));
    }
}
