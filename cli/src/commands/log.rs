//! `allmenning log`

use super::Ctx;
use crate::error::CliError;
use crate::outln;
use crate::output::{format_time, print_json, short, warn};
use allmenning_node::control::{FileChangeInfo, LogEntry};

/// Show an artefact's history, newest change first.
///
/// Every change is signed by a node; the author shown is the organisation that node is
/// certified for (when this node knows it) and the node's public key.
///
/// With PATH, only the changes that touched that file (added, modified, deleted or renamed it),
/// each judged against the version its author edited; a rename shows both paths. The hashes are
/// what `--at`, `--from` and `--to` of checkout, export, show and diff take (a unique prefix is
/// enough).
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning log 3f2a9c
  allmenning log 3f2a9c README.md                    # only the changes to README.md
  allmenning log 3f2a9c --json | jq -r '.[0].message'
  allmenning log 3f2a9c src/flyt.bpmn --json | jq -r '.[] | .hash + \" \" + .file.change'")]
pub struct LogArgs {
    /// The artefact's id, or a unique prefix of it
    #[arg(value_name = "ID")]
    pub id: String,
    /// Only the changes to this file (its path in the artefact)
    #[arg(value_name = "PATH")]
    pub path: Option<String>,
    /// Print the changes as a JSON array (with PATH each has "file": {"path", "change", "from",
    /// "to"})
    #[arg(long)]
    pub json: bool,
}

/// `Bergen kommune (964338531), node 3b6a27bc1d2e`, or the node key alone when the node's
/// organisation is unknown here.
pub fn author_line(entry: &LogEntry) -> String {
    match (&entry.author_name, &entry.author_org) {
        (Some(name), Some(org)) if !name.is_empty() && name != org => {
            format!("{name} ({org}), node {}", short(&entry.author))
        }
        (_, Some(org)) => format!("{org}, node {}", short(&entry.author)),
        _ => format!("node {}", short(&entry.author)),
    }
}

/// `modified`, `deleted`, `renamed README.md -> docs/README.md`.
pub fn file_line(file: &FileChangeInfo) -> String {
    match (&file.from, &file.to) {
        (Some(from), Some(to)) => format!("{} {from} -> {to}", file.change),
        _ => format!("{} {}", file.change, file.path),
    }
}

/// A path as the artefact names it: `./` and a trailing `/` dropped, checked by the path rule.
fn artefact_path(path: &str) -> Result<String, CliError> {
    let trimmed = path
        .trim_start_matches("./")
        .trim_end_matches('/')
        .to_string();
    crate::workdir::validate_path(&trimmed).map_err(|e| CliError::Usage {
        message: format!("{path:?} is not a path in an artefact: {e}"),
        hint: Some("give the file's path relative to the artefact's root, as `allmenning show ID` lists it".into()),
    })?;
    Ok(trimmed)
}

pub async fn run(ctx: &Ctx, args: LogArgs) -> anyhow::Result<()> {
    let path = args.path.as_deref().map(artefact_path).transpose()?;
    let mut client = ctx.client().await?;
    let id = client.resolve(&args.id).await?;
    let entries = client.log_of(&id, path.as_deref()).await?;
    if args.json {
        return print_json(&entries);
    }
    if let (Some(path), true) = (&path, entries.is_empty()) {
        warn(&format!("no change of {} touched {path}", short(&id)));
    }
    // Changes that are sides of a conflict at the current heads are marked as such.
    let conflicts = client.show(&id).await?.conflicts;
    if !conflicts.is_empty() {
        let list: Vec<String> = conflicts
            .iter()
            .map(|c| format!("{} ({})", c.path, c.kind))
            .collect();
        outln!(
            "conflicts now: {} (`allmenning show {}` names the sides; resolve by committing on top)",
            list.join(", "),
            short(&id)
        )?;
        outln!()?;
    }
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            outln!()?;
        }
        outln!("change {}", entry.hash)?;
        outln!("author {}", author_line(entry))?;
        outln!("date   {}", format_time(entry.time))?;
        if let Some(file) = &entry.file {
            outln!("file   {}", file_line(file))?;
        }
        for c in conflicts
            .iter()
            .filter(|c| c.sides.iter().any(|s| s.change == entry.hash))
        {
            outln!(
                "conflict  one side of the unresolved {} conflict in {}",
                c.kind,
                c.path
            )?;
        }
        outln!()?;
        let message = if entry.message.trim().is_empty() {
            "(no message)"
        } else {
            entry.message.as_str()
        };
        for line in message.lines() {
            outln!("    {line}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(org: Option<&str>, name: Option<&str>) -> LogEntry {
        LogEntry {
            hash: "ab".repeat(32),
            author: "3b6a27bc1d2e".repeat(5),
            time: 0,
            message: String::new(),
            deps: vec![],
            author_org: org.map(str::to_string),
            author_name: name.map(str::to_string),
            file: None,
        }
    }

    #[test]
    fn the_author_is_the_organisation_by_name_and_number() {
        assert_eq!(
            author_line(&entry(Some("964338531"), Some("Bergen kommune"))),
            "Bergen kommune (964338531), node 3b6a27bc1d2e"
        );
        assert_eq!(
            author_line(&entry(Some("964338531"), None)),
            "964338531, node 3b6a27bc1d2e"
        );
        assert_eq!(author_line(&entry(None, None)), "node 3b6a27bc1d2e");
    }

    #[test]
    fn file_lines_name_both_sides_of_a_rename() {
        let mut file = FileChangeInfo {
            path: "README.md".into(),
            change: "renamed".into(),
            from: Some("README.md".into()),
            to: Some("docs/README.md".into()),
        };
        assert_eq!(file_line(&file), "renamed README.md -> docs/README.md");
        file.change = "deleted".into();
        file.from = None;
        file.to = None;
        assert_eq!(file_line(&file), "deleted README.md");
    }

    #[test]
    fn paths_are_taken_as_the_artefact_names_them() {
        assert_eq!(artefact_path("./docs/a.md").unwrap(), "docs/a.md");
        assert_eq!(artefact_path("docs/").unwrap(), "docs");
        assert!(matches!(
            artefact_path("../etc/passwd"),
            Err(CliError::Usage { .. })
        ));
        assert!(matches!(artefact_path(""), Err(CliError::Usage { .. })));
    }
}
