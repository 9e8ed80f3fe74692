//! `allmenning diff`

use super::{CheckoutDir, Ctx};
use crate::error::CliError;
use crate::output::{print, print_json};
use crate::workdir::{compare, is_text, Checkout};
use allmenning_node::control::FilePayload;
use similar::TextDiff;
use std::collections::{BTreeMap, BTreeSet};

/// Show the local edits of this checkout as a unified diff, or what changed between two
/// versions of an artefact.
///
/// Without ID: text files of this checkout are compared line by line with their base (the
/// version last checked out, committed or pulled); binary files are only named. The base of
/// text files is cached in the checkout, so this works without a running node.
///
/// With ID --from VERSION [--to VERSION] [PATH]: the difference between two versions of the
/// artefact (--to defaults to the latest), only for PATH (a file, or a folder) when given.
/// A VERSION is a change hash as `allmenning log` prints it, a unique prefix of one, or
/// `endorsed`. With --json that form prints {"id","from","to","files":[{"path","status",
/// "binary","diff"}]}, status being added, modified or deleted (a rename is a deletion and an
/// addition).
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning diff
  allmenning diff -C ~/allmenning/foreldrebetaling > mine.patch
  allmenning diff 3f2a9c --from 8c1d02 --to 5be1f0
  allmenning diff 3f2a9c --from endorsed README.md        # what changed since KS approved it
  allmenning diff 3f2a9c --from 8c1d02 --json | jq -r '.files[] | .status + \" \" + .path'")]
pub struct DiffArgs {
    /// Compare two versions of this artefact (id or unique prefix) instead of a checkout
    #[arg(value_name = "ID", requires = "from")]
    pub id: Option<String>,
    /// With ID: only this file, or the files under this folder
    #[arg(value_name = "PATH", requires = "id")]
    pub path: Option<String>,
    /// With ID: the older version
    #[arg(long, value_name = "VERSION", requires = "id")]
    pub from: Option<String>,
    /// With ID: the newer version (default: the latest)
    #[arg(long, value_name = "VERSION", requires = "from")]
    pub to: Option<String>,
    #[command(flatten)]
    pub checkout: CheckoutDir,
    /// Lines of context around each change
    #[arg(long, short = 'U', value_name = "LINES", default_value_t = 3)]
    pub context: usize,
    /// Print the diffs as JSON: for a checkout an array of {"path","change","from","binary",
    /// "diff"}; for two versions see above
    #[arg(long)]
    pub json: bool,
}

/// One file's difference between two versions of an artefact.
#[derive(serde::Serialize, Debug, PartialEq, Eq)]
pub struct VersionFileDiff {
    pub path: String,
    /// added, modified or deleted
    pub status: &'static str,
    pub binary: bool,
    /// The unified diff, headers included.
    pub diff: String,
}

/// What `diff ID --from --to --json` prints.
#[derive(serde::Serialize, Debug)]
pub struct VersionDiff {
    pub id: String,
    /// The heads of the two versions.
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub files: Vec<VersionFileDiff>,
}

/// Whether `path` is `filter` or lies under the folder `filter`.
fn under(path: &str, filter: Option<&str>) -> bool {
    match filter {
        None => true,
        Some(f) => {
            path == f
                || path
                    .strip_prefix(f)
                    .is_some_and(|rest| rest.starts_with('/'))
        }
    }
}

/// The differences between two versions' files, by path, only under `filter` when given.
pub fn diff_versions(
    old: &[FilePayload],
    new: &[FilePayload],
    filter: Option<&str>,
    context: usize,
) -> Vec<VersionFileDiff> {
    let old: BTreeMap<&str, &FilePayload> = old.iter().map(|f| (f.path.as_str(), f)).collect();
    let new: BTreeMap<&str, &FilePayload> = new.iter().map(|f| (f.path.as_str(), f)).collect();
    let paths: BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
    let mut out = Vec::new();
    for path in paths.into_iter().filter(|p| under(p, filter)) {
        let (before, after) = (old.get(path), new.get(path));
        let status = match (before, after) {
            (None, Some(_)) => "added",
            (Some(_), None) => "deleted",
            (Some(b), Some(a)) if b.content == a.content && b.executable == a.executable => {
                continue
            }
            (Some(_), Some(_)) => "modified",
            (None, None) => continue,
        };
        let header = format!(
            "diff a/{path} b/{path}\n{}",
            mode_lines(before.map(|f| f.executable), after.map(|f| f.executable))
        );
        let (old_name, new_name) = names(path, path, before.is_some(), after.is_some());
        let empty = Vec::new();
        let old_bytes = before.map_or(&empty, |f| &f.content.0);
        let new_bytes = after.map_or(&empty, |f| &f.content.0);
        let (binary, body) = if old_bytes == new_bytes {
            (false, String::new()) // only the mode changed
        } else {
            body(old_bytes, new_bytes, &old_name, &new_name, context)
        };
        out.push(VersionFileDiff {
            path: path.to_string(),
            status,
            binary,
            diff: format!("{header}{body}"),
        });
    }
    out
}

/// `diff ID --from VERSION [--to VERSION] [PATH]`.
async fn run_versions(ctx: &Ctx, args: &DiffArgs, id: &str, from: &str) -> anyhow::Result<()> {
    let filter = args
        .path
        .as_deref()
        .map(|p| p.trim_start_matches("./").trim_end_matches('/'));
    if let Some(filter) = filter {
        crate::workdir::validate_path(filter).map_err(|e| CliError::Usage {
            message: format!("{filter:?} is not a path in an artefact: {e}"),
            hint: None,
        })?;
    }
    let mut client = ctx.client().await?;
    let id = client.resolve(id).await?;
    let old = client.files_at_version(&id, Some(from)).await?;
    let new = client.files_at_version(&id, args.to.as_deref()).await?;
    let report = VersionDiff {
        files: diff_versions(&old.files, &new.files, filter, args.context),
        id,
        from: old.heads,
        to: new.heads,
    };
    if args.json {
        return print_json(&report);
    }
    let text: String = report.files.iter().map(|d| d.diff.as_str()).collect();
    if text.is_empty() {
        return Ok(());
    }
    print(&text)
}

#[derive(serde::Serialize, Debug, PartialEq, Eq)]
pub struct FileDiff {
    pub path: String,
    /// modified, added, deleted or renamed
    pub change: &'static str,
    /// The old path of a rename.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub binary: bool,
    /// The unified diff, headers included.
    pub diff: String,
}

/// Where base contents come from: the checkout's cache, else the node (asked once, lazily).
/// `diff` and `restore` read the base through it.
pub(super) struct Bases<'a> {
    ctx: &'a Ctx,
    checkout: &'a Checkout,
    fetched: Option<Result<BTreeMap<String, Vec<u8>>, String>>,
}

impl<'a> Bases<'a> {
    pub(super) fn new(ctx: &'a Ctx, checkout: &'a Checkout) -> Self {
        Bases {
            ctx,
            checkout,
            fetched: None,
        }
    }

    /// The base content of `path`, or `None` when the node has no such file at the base
    /// heads. Failing to reach the node is returned as it is the first time (its exit code
    /// kept), as text after that.
    pub(super) async fn content(&mut self, path: &str) -> anyhow::Result<Option<Vec<u8>>> {
        if let Some(content) = self.checkout.cached_base(path) {
            return Ok(Some(content));
        }
        if self.fetched.is_none() {
            match self.fetch().await {
                Ok(files) => self.fetched = Some(Ok(files)),
                Err(e) => {
                    self.fetched = Some(Err(format!("{e:#}")));
                    return Err(e);
                }
            }
        }
        match &self.fetched {
            Some(Ok(files)) => Ok(files.get(path).cloned()),
            Some(Err(e)) => Err(anyhow::anyhow!(e.clone())),
            None => Ok(None),
        }
    }

    async fn get(&mut self, path: &str) -> Result<Vec<u8>, String> {
        self.content(path)
            .await
            .map_err(|e| format!("{e:#}"))?
            .ok_or_else(|| format!("the node has no {path} at the base heads"))
    }

    async fn fetch(&self) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
        let mut client = self.ctx.client().await?;
        let m = &self.checkout.manifest;
        let files = client.files(&m.id, Some(m.base_heads.clone())).await?;
        Ok(files
            .files
            .into_iter()
            .map(|f| (f.path, f.content.0))
            .collect())
    }
}

/// A unified diff of two contents, or `None` when either side is binary.
pub fn unified(
    old: &[u8],
    new: &[u8],
    old_name: &str,
    new_name: &str,
    context: usize,
) -> Option<String> {
    if !is_text(old) || !is_text(new) {
        return None;
    }
    let old = std::str::from_utf8(old).ok()?;
    let new = std::str::from_utf8(new).ok()?;
    let diff = TextDiff::from_lines(old, new);
    let text = diff
        .unified_diff()
        .context_radius(context)
        .header(old_name, new_name)
        .to_string();
    Some(text)
}

/// The body of one file's diff: the unified diff of two texts, or the line that says two
/// contents (at least one binary) differ; and whether it is the latter.
fn body(old: &[u8], new: &[u8], old_name: &str, new_name: &str, context: usize) -> (bool, String) {
    match unified(old, new, old_name, new_name, context) {
        Some(text) => (false, text),
        None => (
            true,
            format!("Binary files {old_name} and {new_name} differ\n"),
        ),
    }
}

/// The `---`/`+++` names of a file that was at `old_path` and is at `path`: `/dev/null` for
/// the side where it is absent.
fn names(old_path: &str, path: &str, before: bool, after: bool) -> (String, String) {
    let side = |present: bool, name: String| if present { name } else { "/dev/null".into() };
    (
        side(before, format!("a/{old_path}")),
        side(after, format!("b/{path}")),
    )
}

/// The header lines for a file's mode: a new or deleted file's, or a change of the executable
/// bit (`None`: the file is absent on that side).
fn mode_lines(before: Option<bool>, after: Option<bool>) -> String {
    match (before, after) {
        (None, Some(x)) => format!("new file mode {}\n", mode(x)),
        (Some(x), None) => format!("deleted file mode {}\n", mode(x)),
        (Some(b), Some(a)) if b != a => format!("old mode {}\nnew mode {}\n", mode(b), mode(a)),
        _ => String::new(),
    }
}

fn mode(executable: bool) -> &'static str {
    if executable {
        "100755"
    } else {
        "100644"
    }
}

pub async fn diffs(
    ctx: &Ctx,
    checkout: &Checkout,
    context: usize,
) -> anyhow::Result<Vec<FileDiff>> {
    let (work, contents) = checkout.scan()?;
    let base = &checkout.manifest.files;
    let changes = compare(base, &work);
    let mut bases = Bases::new(ctx, checkout);
    let mut out = Vec::new();

    let mut entries: Vec<(&'static str, Option<String>, String)> = Vec::new();
    entries.extend(
        changes
            .modified
            .iter()
            .map(|p| ("modified", Some(p.clone()), p.clone())),
    );
    entries.extend(changes.added.iter().map(|p| ("added", None, p.clone())));
    entries.extend(
        changes
            .deleted
            .iter()
            .map(|p| ("deleted", Some(p.clone()), p.clone())),
    );
    entries.extend(
        changes
            .renamed
            .iter()
            .map(|r| ("renamed", Some(r.from.clone()), r.to.clone())),
    );
    entries.sort_by(|a, b| a.2.cmp(&b.2));

    for (change, old_path, path) in entries {
        let new: Option<&Vec<u8>> = if change == "deleted" {
            None
        } else {
            contents.get(&path)
        };
        let mut header = format!("diff a/{} b/{path}\n", old_path.as_deref().unwrap_or(&path));
        match change {
            "added" => header.push_str(&mode_lines(None, Some(work[&path].executable))),
            "deleted" => header.push_str(&mode_lines(Some(base[&path].executable), None)),
            "renamed" => {
                let from = old_path.as_deref().unwrap_or_default();
                header.push_str(&format!("rename from {from}\nrename to {path}\n"));
            }
            _ => header.push_str(&mode_lines(
                Some(base[&path].executable),
                Some(work[&path].executable),
            )),
        }
        let old: Result<Vec<u8>, String> = match (&old_path, change) {
            (_, "added") => Ok(Vec::new()),
            (_, "renamed") => Ok(new.cloned().unwrap_or_default()), // identical content
            (Some(p), _) => {
                if new.is_some_and(|n| !is_text(n)) {
                    Ok(Vec::from(&b"\0"[..])) // binary either way: no need to fetch the base
                } else {
                    bases.get(p).await
                }
            }
            (None, _) => Ok(Vec::new()),
        };
        let new_bytes: &[u8] = new.map(Vec::as_slice).unwrap_or_default();
        let (old_name, new_name) = names(
            old_path.as_deref().unwrap_or(&path),
            &path,
            change != "added",
            change != "deleted",
        );
        let (binary, body) = match old {
            Ok(old) => body(&old, new_bytes, &old_name, &new_name, context),
            Err(why) => (
                !is_text(new_bytes),
                format!("(base content not available: {why})\n"),
            ),
        };
        out.push(FileDiff {
            path: path.clone(),
            change,
            from: if change == "renamed" { old_path } else { None },
            binary,
            diff: format!("{header}{body}"),
        });
    }
    Ok(out)
}

pub async fn run(ctx: &Ctx, args: DiffArgs) -> anyhow::Result<()> {
    if let (Some(id), Some(from)) = (&args.id, &args.from) {
        return run_versions(ctx, &args, id, from).await;
    }
    let checkout = args.checkout.open(ctx)?;
    let diffs = diffs(ctx, &checkout, args.context).await?;
    if args.json {
        return print_json(&diffs);
    }
    let text: String = diffs.iter().map(|d| d.diff.as_str()).collect();
    if text.is_empty() {
        return Ok(());
    }
    print(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_diff_of_text_and_none_for_binary() {
        let text = unified(b"a\nb\nc\n", b"a\nB\nc\n", "a/x", "b/x", 3).unwrap();
        assert!(text.starts_with("--- a/x\n+++ b/x\n"), "{text}");
        assert!(text.contains("-b\n+B\n"), "{text}");
        assert!(unified(b"\0\x01", b"x", "a/x", "b/x", 3).is_none());
    }

    fn file(path: &str, content: &[u8], executable: bool) -> FilePayload {
        FilePayload {
            path: path.into(),
            content: allmenning_node::control::Bytes(content.to_vec()),
            executable,
        }
    }

    #[test]
    fn two_versions_give_added_modified_and_deleted_files() {
        let old = vec![
            file("README.md", b"linje 1\nlinje 2\n", false),
            file("docs/gone.txt", b"borte\n", false),
            file("same.txt", b"lik\n", false),
            file("run.sh", b"#!/bin/sh\n", false),
            file("logo.png", b"\x89PNG\0a", false),
        ];
        let new = vec![
            file("README.md", b"linje 1\nlinje 2 endret\n", false),
            file("docs/ny.txt", b"ny\n", false),
            file("same.txt", b"lik\n", false),
            file("run.sh", b"#!/bin/sh\n", true),
            file("logo.png", b"\x89PNG\0b", false),
        ];
        let diffs = diff_versions(&old, &new, None, 3);
        let by_path: BTreeMap<&str, &VersionFileDiff> =
            diffs.iter().map(|d| (d.path.as_str(), d)).collect();
        assert_eq!(
            by_path.keys().copied().collect::<Vec<_>>(),
            [
                "README.md",
                "docs/gone.txt",
                "docs/ny.txt",
                "logo.png",
                "run.sh"
            ]
        );
        assert_eq!(by_path["README.md"].status, "modified");
        assert!(by_path["README.md"]
            .diff
            .contains("--- a/README.md\n+++ b/README.md\n"));
        assert!(by_path["README.md"]
            .diff
            .contains("-linje 2\n+linje 2 endret\n"));
        assert_eq!(by_path["docs/gone.txt"].status, "deleted");
        assert!(by_path["docs/gone.txt"].diff.contains("+++ /dev/null"));
        assert!(by_path["docs/gone.txt"].diff.contains("-borte\n"));
        assert_eq!(by_path["docs/ny.txt"].status, "added");
        assert!(by_path["docs/ny.txt"]
            .diff
            .contains("--- /dev/null\n+++ b/docs/ny.txt\n@@"));
        assert!(by_path["docs/ny.txt"].diff.ends_with("+ny\n"));
        assert!(by_path["logo.png"].binary);
        assert!(by_path["logo.png"].diff.contains("Binary files"));
        assert_eq!(by_path["run.sh"].status, "modified");
        assert!(by_path["run.sh"]
            .diff
            .contains("old mode 100644\nnew mode 100755\n"));
        // PATH: one file, or a folder; never a mere name prefix.
        let only: Vec<String> = diff_versions(&old, &new, Some("docs"), 3)
            .into_iter()
            .map(|d| d.path)
            .collect();
        assert_eq!(only, ["docs/gone.txt", "docs/ny.txt"]);
        assert!(diff_versions(&old, &new, Some("doc"), 3).is_empty());
        assert_eq!(diff_versions(&old, &new, Some("README.md"), 3).len(), 1);
        // The same version twice: nothing.
        assert!(diff_versions(&old, &old, None, 3).is_empty());
    }

    #[tokio::test]
    async fn diff_works_offline_from_the_base_cache() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![
            (
                "README.md".to_string(),
                b"linje 1\nlinje 2\n".to_vec(),
                false,
            ),
            ("old.txt".to_string(), b"flyttes\n".to_vec(), false),
            ("gone.txt".to_string(), b"borte\n".to_vec(), false),
        ];
        let co = Checkout::create(&dir.path().join("co"), "id", &["h".into()], &files).unwrap();
        std::fs::write(co.root.join("README.md"), "linje 1\nlinje 2 endret\n").unwrap();
        std::fs::rename(co.root.join("old.txt"), co.root.join("new.txt")).unwrap();
        std::fs::remove_file(co.root.join("gone.txt")).unwrap();
        std::fs::write(co.root.join("ny.txt"), "ny\n").unwrap();
        // No node: a home with no socket.
        let ctx = Ctx {
            global: super::super::GlobalArgs {
                home: Some(dir.path().join("nohome")),
            },
        };
        let diffs = diffs(&ctx, &co, 3).await.unwrap();
        let by_path: BTreeMap<&str, &FileDiff> =
            diffs.iter().map(|d| (d.path.as_str(), d)).collect();
        assert!(by_path["README.md"]
            .diff
            .contains("-linje 2\n+linje 2 endret\n"));
        assert_eq!(by_path["new.txt"].change, "renamed");
        assert_eq!(by_path["new.txt"].from.as_deref(), Some("old.txt"));
        assert!(by_path["gone.txt"].diff.contains("-borte\n"));
        assert!(by_path["gone.txt"].diff.contains("+++ /dev/null"));
        assert!(by_path["ny.txt"]
            .diff
            .contains("--- /dev/null\n+++ b/ny.txt\n"));
        assert!(by_path["ny.txt"].diff.contains("+ny\n"));
    }
}
