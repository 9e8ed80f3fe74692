//! `allmenning commit`

use super::{CheckoutDir, Ctx};
use crate::client::Client;
use crate::conflicts;
use crate::error::CliError;
use crate::outln;
use crate::output::{print_json, short};
use crate::workdir::{check_new_paths, compare, Changes, Checkout, Rename};
use allmenning_node::control::{Bytes, EditPayload};

/// Record the local edits of this checkout as one signed change, and share it.
///
/// The change is made against the checkout's base, so edits made elsewhere in the meantime are
/// merged rather than overwritten: two people editing different lines of a file both keep their
/// edits. Edits to the same or adjacent lines become a conflict on every node, never a mix of
/// both: `allmenning pull` then writes the file with conflict markers naming both sides.
/// Resolve it by editing the file (keep what should stay, remove the markers) and committing;
/// a commit of a file that still holds markers is refused unless --allow-markers. The node
/// answers only once the change is stored durably.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning commit -m \"Legg til kontaktperson i Bergen\"
  allmenning commit -m \"Løs konflikten i sats.py\"   # after removing the conflict markers
  allmenning commit -C ~/foreldrebetaling -m \"Rett BPMN-flyten\" && allmenning pull -C ~/foreldrebetaling")]
pub struct CommitArgs {
    #[command(flatten)]
    pub checkout: CheckoutDir,
    /// What the change does, for the artefact's history
    #[arg(short = 'm', long, value_name = "MSG")]
    pub message: String,
    /// Commit files that still hold conflict markers
    #[arg(long)]
    pub allow_markers: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize, Debug)]
pub struct CommitReport {
    pub id: String,
    /// The new change, or null when there was nothing to commit.
    pub change: Option<String>,
    /// The artefact's heads on the node after the commit (concurrent changes included).
    pub heads: Vec<String>,
    /// The checkout's new base.
    pub base_heads: Vec<String>,
    pub modified: Vec<String>,
    pub added: Vec<String>,
    pub deleted: Vec<String>,
    pub renamed: Vec<Rename>,
    /// When the edits went to the artefact's maintainers as a proposal instead: its id. The
    /// edits then stay in the checkout as local modifications.
    pub proposal: Option<String>,
    /// Why they became a proposal.
    pub not_permitted: Option<String>,
    /// Conflicted files this commit resolved.
    #[serde(default)]
    pub resolved: Vec<String>,
    /// Conflicts still in the checkout's files after the commit.
    #[serde(default)]
    pub conflicts: Vec<String>,
}

/// The edits that turn the base into the working tree.
pub fn edits(
    changes: &Changes,
    checkout: &Checkout,
    work: &crate::workdir::Tree,
    contents: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Vec<EditPayload> {
    let write = |path: &String| EditPayload::Write {
        path: path.clone(),
        content: Bytes(contents.get(path).cloned().unwrap_or_default()),
        executable: work.get(path).is_some_and(|e| e.executable),
    };
    let mut edits = Vec::new();
    for r in &changes.renamed {
        edits.push(EditPayload::Rename {
            from: r.from.clone(),
            to: r.to.clone(),
        });
        let was_executable = checkout
            .manifest
            .files
            .get(&r.from)
            .is_some_and(|e| e.executable);
        if work
            .get(&r.to)
            .is_some_and(|e| e.executable != was_executable)
        {
            edits.push(write(&r.to));
        }
    }
    edits.extend(changes.modified.iter().map(write));
    edits.extend(changes.added.iter().map(write));
    edits.extend(
        changes
            .deleted
            .iter()
            .map(|p| EditPayload::Delete { path: p.clone() }),
    );
    edits
}

/// Commits the working tree of `checkout` through `client`, updating the checkout's base.
pub async fn commit(
    client: &mut Client,
    checkout: &mut Checkout,
    message: &str,
    propose: bool,
) -> anyhow::Result<CommitReport> {
    commit_with(client, checkout, message, propose, false).await
}

/// [`commit`], optionally committing files that still hold conflict markers. Conflict side
/// files are never committed under their side name.
pub async fn commit_with(
    client: &mut Client,
    checkout: &mut Checkout,
    message: &str,
    propose: bool,
    allow_markers: bool,
) -> anyhow::Result<CommitReport> {
    let (work, contents) = checkout.scan_work()?;
    let changes = compare(&checkout.manifest.files, &work);
    let id = checkout.manifest.id.clone();
    let written: Vec<String> = changes
        .modified
        .iter()
        .chain(&changes.added)
        .chain(changes.renamed.iter().map(|r| &r.to))
        .cloned()
        .collect();
    let resolving = conflicts::check_commit(checkout, &work, &contents, &written, allow_markers)?;
    if changes.is_empty() && resolving.is_empty() {
        return Ok(commit_report_empty(checkout));
    }
    // The node and every peer apply the protocol's path rule; say so before sending anything.
    check_new_paths(&changes, &work).map_err(|e| {
        CliError::failed(
            e.to_string(),
            "rename the file in the checkout (a path must be a valid file name on Windows, macOS and Linux, and differ from the others in more than letter case), then commit again",
        )
    })?;
    let mut edits = edits(&changes, checkout, &work, &contents);
    edits.extend(resolving.iter().cloned());
    let committed = client
        .commit(
            &id,
            checkout.manifest.base_heads.clone(),
            edits,
            message.to_string(),
            propose,
        )
        .await?;
    if committed.proposal.is_some() {
        // Nothing joined the artefact: the checkout keeps its base and its edits.
        return Ok(CommitReport {
            id,
            change: None,
            heads: committed.heads,
            base_heads: checkout.manifest.base_heads.clone(),
            modified: changes.modified,
            added: changes.added,
            deleted: changes.deleted,
            renamed: changes.renamed,
            proposal: committed.proposal,
            not_permitted: committed.not_permitted,
            resolved: Vec::new(),
            conflicts: conflicts::paths(checkout),
        });
    }
    // The node now holds the working tree as of the new change (or, with no change, already
    // held it at the base): the working tree is the new base.
    let mut touched: Vec<String> = changes.touched().into_iter().map(str::to_string).collect();
    for edit in &resolving {
        if let EditPayload::Write { path, .. } = edit {
            touched.push(path.clone());
        }
    }
    let resolved = conflicts::forget_resolved(checkout, &touched.iter().cloned().collect())?;
    for path in &touched {
        match (work.get(path), contents.get(path)) {
            (Some(entry), Some(content)) => {
                checkout.set_base(path, Some((content, entry.executable)))?
            }
            _ => checkout.set_base(path, None)?,
        }
    }
    if let Some(change) = &committed.change {
        checkout.manifest.base_heads = vec![change.clone()];
    }
    // Files kept under a suffixed name move back once their clash is resolved.
    checkout.relayout()?;
    checkout.save()?;
    Ok(CommitReport {
        id,
        change: committed.change,
        heads: committed.heads,
        base_heads: checkout.manifest.base_heads.clone(),
        modified: changes.modified,
        added: changes.added,
        deleted: changes.deleted,
        renamed: changes.renamed,
        proposal: None,
        not_permitted: None,
        resolved,
        conflicts: conflicts::paths(checkout),
    })
}

pub async fn run(ctx: &Ctx, args: CommitArgs) -> anyhow::Result<()> {
    if args.message.trim().is_empty() {
        return Err(CliError::Usage {
            message: "the commit message must not be empty".into(),
            hint: Some("say what the change does: allmenning commit -m \"...\"".into()),
        }
        .into());
    }
    let mut checkout = args.checkout.open(ctx)?;
    // Nothing to commit needs no node.
    if checkout.status()?.is_empty() && checkout.manifest.conflicts.is_empty() {
        if args.json {
            let report = commit_report_empty(&checkout);
            return print_json(&report);
        }
        outln!("nothing to commit")?;
        return Ok(());
    }
    let mut client = ctx.client().await?;
    let report = commit_with(
        &mut client,
        &mut checkout,
        &args.message,
        false,
        args.allow_markers,
    )
    .await?;
    if args.json {
        return print_json(&report);
    }
    if let Some(proposal) = &report.proposal {
        return print_proposed(proposal, &report);
    }
    match &report.change {
        Some(change) => {
            let n = report.modified.len()
                + report.added.len()
                + report.deleted.len()
                + report.renamed.len();
            outln!(
                "committed {} ({n} file{} changed)",
                short(change),
                if n == 1 { "" } else { "s" }
            )?;
            if report.heads.len() > 1 || report.heads.first() != Some(change) {
                outln!("the artefact has changes from others too: `allmenning pull` merges them into this checkout")?;
            }
        }
        None => outln!("nothing to commit (the node already has these contents)")?,
    }
    for path in &report.resolved {
        outln!("resolved the conflict in {path}")?;
    }
    if !report.conflicts.is_empty() {
        outln!(
            "still in conflict: {} (`allmenning status` says how to resolve)",
            report.conflicts.join(", ")
        )?;
    }
    Ok(())
}

/// What `commit` and `propose` say when the edits went to the maintainers.
pub fn print_proposed(proposal: &str, report: &CommitReport) -> anyhow::Result<()> {
    if report.not_permitted.is_some() {
        outln!("your organisation may not write to this artefact, so nothing was committed:")?;
    }
    outln!(
        "your edits were sent to its maintainers as proposal {} (`allmenning proposals {}` shows it)",
        short(proposal),
        short(&report.id)
    )?;
    outln!("they stay in this checkout until a maintainer accepts them and you `allmenning pull`")?;
    Ok(())
}

fn commit_report_empty(checkout: &Checkout) -> CommitReport {
    CommitReport {
        id: checkout.manifest.id.clone(),
        change: None,
        heads: Vec::new(),
        base_heads: checkout.manifest.base_heads.clone(),
        modified: vec![],
        added: vec![],
        deleted: vec![],
        renamed: vec![],
        proposal: None,
        not_permitted: None,
        resolved: Vec::new(),
        conflicts: conflicts::paths(checkout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_cover_every_kind_of_change() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![
            ("a.txt".to_string(), b"a".to_vec(), false),
            ("b.txt".to_string(), b"b".to_vec(), false),
            ("c.txt".to_string(), b"c".to_vec(), false),
        ];
        let co = Checkout::create(&dir.path().join("co"), "id", &["h".into()], &files).unwrap();
        std::fs::write(co.root.join("a.txt"), "a2").unwrap();
        std::fs::rename(co.root.join("b.txt"), co.root.join("b2.txt")).unwrap();
        std::fs::remove_file(co.root.join("c.txt")).unwrap();
        std::fs::write(co.root.join("d.txt"), "d").unwrap();
        let (work, contents) = co.scan().unwrap();
        let changes = compare(&co.manifest.files, &work);
        let edits = edits(&changes, &co, &work, &contents);
        assert_eq!(
            edits,
            vec![
                EditPayload::Rename {
                    from: "b.txt".into(),
                    to: "b2.txt".into()
                },
                EditPayload::Write {
                    path: "a.txt".into(),
                    content: Bytes(b"a2".to_vec()),
                    executable: false
                },
                EditPayload::Write {
                    path: "d.txt".into(),
                    content: Bytes(b"d".to_vec()),
                    executable: false
                },
                EditPayload::Delete {
                    path: "c.txt".into()
                },
            ]
        );
    }
}
