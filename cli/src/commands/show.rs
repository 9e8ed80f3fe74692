//! `allmenning show`

use super::access::visibility_text;
use super::Ctx;
use crate::outln;
use crate::output::{format_date, format_size, format_time, print, print_json, short, table};
use allmenning_node::control::{EndorsementInfo, RefusedInfo};
use allmenning_protocol::refused::RefusalReason;

/// Show an artefact: its metadata, access, endorsements, current heads and files.
///
/// Endorsements are curators' verdicts on an exact version: the line tells whether that version
/// is the current one or how many changes came after it.
///
/// With --at VERSION the files and their sizes are those of that version (a change hash as
/// `allmenning log` prints it, a unique prefix of one, or `endorsed`); the rest describes the
/// artefact now. `--json` then says which version in "at". Changes this node refused (their author
/// may not write to the artefact) are listed with what would admit them: other nodes may hold
/// them, so "complete" speaks only of what this node accepted. When the owner took your
/// organisation's read access to a restricted artefact away, it says so (`access_revoked` in
/// --json): the node keeps what it had, and no further changes reach it.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning show 3f2a9c
  allmenning show 3f2a9c --at 8c1d02e4      # the files as they were after that change
  allmenning show 3f2a9c --json | jq -r '.files[].path'
  allmenning show 3f2a9c --json | jq '.endorsements[] | {status, curator, current}'
  allmenning show 3f2a9c --json | jq -r '.adopters[].name'
  allmenning show 3f2a9c --json | jq '.refused[] | {org_name, reason, count, hint}'")]
pub struct ShowArgs {
    /// The artefact's id, or a unique prefix of it
    #[arg(value_name = "ID")]
    pub id: String,
    /// List the files of this version: a change hash, a unique prefix of one, or `endorsed`
    #[arg(long, value_name = "VERSION")]
    pub at: Option<String>,
    /// Print the artefact as JSON
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: &Ctx, args: ShowArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let id = client.resolve(&args.id).await?;
    let heads = match &args.at {
        Some(at) => Some(client.version(&id, at).await?),
        None => None,
    };
    let detail = client.show_at(&id, heads).await?;
    if args.json {
        return print_json(&detail);
    }
    outln!("{}", detail.title)?;
    outln!("id:       {}", detail.id)?;
    outln!("kind:     {}", detail.kind)?;
    outln!("owner:    {} ({})", detail.owner_name, short(&detail.owner))?;
    outln!(
        "access:   {}",
        visibility_text(&detail.visibility, &detail.owner, &detail.readers)
    )?;
    if detail.access_revoked {
        outln!("{}", revoked_line(&detail.owner_name))?;
    }
    if !detail.maintainers.is_empty() {
        outln!("maintainers: {}", detail.maintainers.join(", "))?;
    }
    outln!("created:  {}", format_time(detail.created))?;
    if !detail.tags.is_empty() {
        outln!("tags:     {}", detail.tags.join(", "))?;
    }
    if let Some(a) = &detail.adaptation {
        outln!(
            "adapts:   {} at {}",
            short(&a.based_on),
            a.based_on_version
                .iter()
                .map(|h| short(h))
                .collect::<Vec<_>>()
                .join(" ")
        )?;
        if a.upstream_held {
            outln!(
                "upstream: {} change(s) to merge (`allmenning pull-upstream`), {} of ours it lacks (`allmenning propose`)",
                a.behind,
                a.ahead
            )?;
        } else {
            outln!("upstream: not on this node yet")?;
        }
    }
    if !detail.adopters.is_empty() {
        outln!(
            "used by:  {}",
            detail
                .adopters
                .iter()
                .map(|a| format!("{} ({})", a.name, short(&a.adaptation)))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    outln!("changes:  {}", detail.changes)?;
    outln!(
        "heads:    {}",
        detail
            .heads
            .iter()
            .map(|h| short(h))
            .collect::<Vec<_>>()
            .join(" ")
    )?;
    if !detail.complete {
        outln!("          (some file contents are still being fetched from peers)")?;
    }
    if !detail.conflicts.is_empty() {
        outln!(
            "CONFLICTS: {} file{} changed at the same time in ways that do not merge; every side is kept:",
            detail.conflicts.len(),
            if detail.conflicts.len() == 1 { "" } else { "s" }
        )?;
        for c in &detail.conflicts {
            let sides: Vec<String> = c
                .sides
                .iter()
                .map(|s| match (&s.state[..], &s.renamed_to) {
                    ("renamed", Some(to)) => format!("{} (renamed to {to})", s.label),
                    ("deleted", _) => format!("{} (deleted)", s.label),
                    _ => s.label.clone(),
                })
                .collect();
            outln!("  {} ({}): {}", c.path, c.kind, sides.join(" vs "))?;
            if !c.omitted.is_empty() {
                outln!(
                    "      and {} older concurrent version(s) not compared (`allmenning log` lists them)",
                    c.omitted.len()
                )?;
            }
        }
        outln!(
            "          (`allmenning checkout {} DIR` or `pull` shows them; edit and commit, or `allmenning resolve PATH --take ...`)",
            short(&detail.id)
        )?;
    }
    for r in &detail.refused {
        outln!("{}", refused_line(r))?;
    }
    for e in &detail.endorsements {
        outln!("Endorsed: {}", endorsement_line(e))?;
        if !e.note.is_empty() {
            outln!("          \"{}\"", e.note)?;
        }
    }
    if detail
        .endorsements
        .iter()
        .any(|e| !e.current && is_positive(&e.status))
    {
        outln!(
            "          (`allmenning checkout {} DIR --endorsed` checks out the endorsed version)",
            short(&detail.id)
        )?;
    }
    if !detail.description.is_empty() {
        outln!()?;
        for line in detail.description.lines() {
            outln!("    {line}")?;
        }
    }
    let total: u64 = detail.files.iter().map(|f| f.size).sum();
    outln!()?;
    match &detail.at {
        Some(at) => outln!(
            "{} files, {}, at {}:",
            detail.files.len(),
            format_size(total),
            at.iter().map(|h| short(h)).collect::<Vec<_>>().join(" ")
        )?,
        None => outln!("{} files, {}:", detail.files.len(), format_size(total))?,
    }
    let rows: Vec<Vec<String>> = detail
        .files
        .iter()
        .map(|f| {
            vec![
                format!("  {}", f.path),
                format_size(f.size),
                match &f.conflict {
                    Some(kind) => format!("{} CONFLICT ({kind})", f.storage),
                    None => f.storage.clone(),
                },
            ]
        })
        .collect();
    let text = table(&["", "", ""], &rows);
    // Skip the (empty) header line.
    print(text.split_once('\n').map_or("", |(_, rest)| rest))
}

/// A refusal reason in words: the protocol's own words for its reasons; "not_recorded" is the
/// node's line for refusals counted beyond those remembered one by one.
fn reason_text(reason: &str) -> &str {
    match RefusalReason::from_name(reason) {
        Some(r) => r.text(),
        None if reason == "not_recorded" => "not recorded one by one",
        None => reason,
    }
}

/// `2 changes by Trondheim kommune (942110464) refused: not a maintainer (`...` admits them)`.
pub fn refused_line(r: &RefusedInfo) -> String {
    let changes = if r.count == 1 {
        "1 change".to_string()
    } else {
        format!("{} changes", r.count)
    };
    let by = match (r.org.as_str(), r.org_name.as_str(), &r.author) {
        ("", _, Some(author)) => format!(" by node {}", short(author)),
        ("", _, None) => String::new(),
        (org, "", _) => format!(" by {org}"),
        (org, name, _) => format!(" by {name} ({org})"),
    };
    format!(
        "{changes}{by} refused: {} ({})",
        reason_text(&r.reason),
        r.hint
    )
}

/// What a node whose organisation lost read access to a restricted artefact holds.
fn revoked_line(owner_name: &str) -> String {
    format!(
        "          REVOKED: your organisation's read access was revoked by {owner_name}; this \
         node keeps the version it has, and no further changes reach it"
    )
}

/// Whether a status vouches for the version (what `checkout --endorsed` picks).
fn is_positive(status: &str) -> bool {
    matches!(status, "reviewed" | "recommended" | "approved")
}

/// `approved by KS (971032146) 2026-11-29, current version` or `..., 3 changes since`.
pub fn endorsement_line(e: &EndorsementInfo) -> String {
    let by = if e.curator_name.is_empty() || e.curator_name == e.curator {
        e.curator.clone()
    } else {
        format!("{} ({})", e.curator_name, e.curator)
    };
    let version = if e.current {
        "current version".to_string()
    } else {
        match e.changes_since {
            0 => "not the current version".to_string(),
            1 => "1 change since".to_string(),
            n => format!("{n} changes since"),
        }
    };
    format!("{} by {by} {}, {version}", e.status, format_date(e.time))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endorsement(current: bool, changes_since: usize) -> EndorsementInfo {
        EndorsementInfo {
            status: "approved".into(),
            curator: "971032146".into(),
            curator_name: "KS".into(),
            heads: vec!["ab".into()],
            note: String::new(),
            time: 1_795_953_600,
            seq: 1,
            current,
            changes_since,
        }
    }

    #[test]
    fn refused_lines_name_the_organisation_the_reason_and_the_hint() {
        let mut r = RefusedInfo {
            org: "942110464".into(),
            org_name: "Trondheim kommune".into(),
            author: None,
            reason: "not_maintainer".into(),
            count: 2,
            hint: "`allmenning access grant 3f2a9c 942110464` on the owner's node admits them"
                .into(),
        };
        assert_eq!(
            refused_line(&r),
            "2 changes by Trondheim kommune (942110464) refused: not a maintainer \
             (`allmenning access grant 3f2a9c 942110464` on the owner's node admits them)"
        );
        r.count = 1;
        r.org = String::new();
        r.author = Some("ab".repeat(32));
        r.reason = "unknown_node".into();
        assert!(refused_line(&r).starts_with(
            "1 change by node abababababab refused: node not certified by an admitted organisation"
        ));
    }

    #[test]
    fn endorsement_lines_say_how_far_the_version_is_behind() {
        assert_eq!(
            endorsement_line(&endorsement(true, 0)),
            "approved by KS (971032146) 2026-11-29, current version"
        );
        assert_eq!(
            endorsement_line(&endorsement(false, 3)),
            "approved by KS (971032146) 2026-11-29, 3 changes since"
        );
        assert_eq!(
            endorsement_line(&endorsement(false, 1)),
            "approved by KS (971032146) 2026-11-29, 1 change since"
        );
        let mut unnamed = endorsement(true, 0);
        unnamed.curator_name = String::new();
        assert!(endorsement_line(&unnamed).starts_with("approved by 971032146 "));
    }
}
