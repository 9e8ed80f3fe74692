//! `allmenning resolve`

use super::{CheckoutDir, Ctx};
use crate::client::Client;
use crate::conflicts;
use crate::error::CliError;
use crate::outln;
use crate::output::{print_json, short};
use crate::workdir::Checkout;
use allmenning_node::control::{Bytes, ConflictInfo, ConflictSide, EditPayload};
use allmenning_protocol::artefact::conflict::lines::has_conflict_markers;

/// Resolve a conflicted file of this checkout and commit the resolution.
///
/// With --take, one side's version becomes the file: `ours` (the side of this node's
/// organisation), `theirs` (the other side, when there is exactly one other), an organisation
/// number or name (`942110464`, `trondheim`), or a change hash prefix as `status` and the
/// conflict markers show it. Without --take, the file as it is in the checkout is the
/// resolution (after you edited it; or, for a rename/rename conflict, to keep both copies); it
/// must hold no conflict markers. The conflict's side files are removed, and the resolution is
/// committed as one change on top of every side, which resolves the conflict on every node.
/// Other local edits stay uncommitted.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning resolve sats.py --take ours
  allmenning resolve logo.png --take trondheim -m \"Trondheims logo er den nye\"
  $EDITOR dpia.md && allmenning resolve dpia.md      # the edited file is the resolution")]
pub struct ResolveArgs {
    #[command(flatten)]
    pub checkout: CheckoutDir,
    /// The conflicted file (its path in the artefact)
    #[arg(value_name = "PATH")]
    pub path: String,
    /// Take one side: ours, theirs, an organisation (number or name) or a change hash prefix
    #[arg(long, value_name = "SIDE")]
    pub take: Option<String>,
    /// Message for the change (default: says which side was taken)
    #[arg(short = 'm', long, value_name = "MSG")]
    pub message: Option<String>,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize, Debug)]
pub struct Resolved {
    pub id: String,
    pub path: String,
    /// The side taken (its change), or null when the checkout's file was the resolution.
    pub taken: Option<String>,
    /// Its organisation and change as the markers named it.
    pub label: Option<String>,
    /// The change that resolved it (null when it went to the maintainers as a proposal).
    pub change: Option<String>,
    pub proposal: Option<String>,
    /// Conflicts left in the checkout.
    pub conflicts: Vec<String>,
}

/// The side `take` names among `sides`, given this node's organisation.
pub fn choose<'a>(
    sides: &'a [ConflictSide],
    take: &str,
    our_org: &str,
) -> Result<&'a ConflictSide, CliError> {
    let list = || {
        sides
            .iter()
            .map(|s| s.label.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ours = |s: &&ConflictSide| s.org.as_deref() == Some(our_org);
    let found: Vec<&ConflictSide> = match take {
        "ours" => sides.iter().filter(ours).collect(),
        "theirs" => sides.iter().filter(|s| !ours(s)).collect(),
        other => {
            let lower = other.to_lowercase();
            sides
                .iter()
                .filter(|s| {
                    s.org.as_deref() == Some(other)
                        || s.change.starts_with(&lower)
                        || s.organisation.as_deref().is_some_and(|n| {
                            let n = n.to_lowercase();
                            n == lower
                                || allmenning_protocol::engine::org_slug(&n) == lower
                                || n.split_whitespace().next() == Some(lower.as_str())
                        })
                })
                .collect()
        }
    };
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(CliError::Usage {
            message: format!(
                "no side of the conflict is {take:?}; the sides are: {}",
                list()
            ),
            hint: Some(
                "--take ours, theirs, an organisation number or name, or a change hash prefix"
                    .into(),
            ),
        }),
        _ => Err(CliError::Usage {
            message: format!("{take:?} names more than one side: {}", list()),
            hint: Some("name one side by its change hash prefix".into()),
        }),
    }
}

pub async fn run(ctx: &Ctx, args: ResolveArgs) -> anyhow::Result<()> {
    let mut checkout = args.checkout.open(ctx)?;
    if !checkout
        .manifest
        .conflicts
        .iter()
        .any(|n| n.path == args.path)
    {
        return Err(CliError::NotFound {
            message: format!("{} is not in conflict in this checkout", args.path),
            hint: Some(
                "`allmenning status` lists the conflicts; `allmenning pull` brings new ones".into(),
            ),
        }
        .into());
    }
    let mut client = ctx.client().await?;
    let id = checkout.manifest.id.clone();
    // The conflict's sides as the node names them at the checkout's base (no file contents).
    let base = client
        .show_at(&id, Some(checkout.manifest.base_heads.clone()))
        .await?;
    let Some(conflict) = base.conflicts.iter().find(|c| c.path == args.path).cloned() else {
        return Err(CliError::NotFound {
            message: format!(
                "the node has no conflict in {} at this checkout's base",
                args.path
            ),
            hint: Some("run `allmenning pull` to bring the checkout up to date".into()),
        }
        .into());
    };
    let (content, taken) = match &args.take {
        Some(take) => {
            let our_org = client.status().await?.org.number;
            let side = choose(&conflict.sides, take, &our_org)?.clone();
            (
                side_content(&mut client, &id, &conflict, &side).await?,
                Some(side),
            )
        }
        None => {
            let current = checkout.read_file(&args.path)?;
            if let Some((bytes, _)) = &current {
                if std::str::from_utf8(bytes).is_ok_and(has_conflict_markers) {
                    return Err(CliError::Unresolved {
                        message: format!("{} still holds conflict markers", args.path),
                        hint: "edit it to keep what should stay and remove the markers, or pass --take ours|theirs|ORG|CHANGE".into(),
                    }
                    .into());
                }
            }
            (current, None)
        }
    };
    let edit = match &content {
        Some((bytes, executable)) => EditPayload::Write {
            path: args.path.clone(),
            content: Bytes(bytes.clone()),
            executable: *executable,
        },
        None => EditPayload::Delete {
            path: args.path.clone(),
        },
    };
    let message = args.message.clone().unwrap_or_else(|| match &taken {
        Some(side) => format!("Resolve the conflict in {}: take {}", args.path, side.label),
        None => format!("Resolve the conflict in {}", args.path),
    });
    let committed = client
        .commit(
            &id,
            checkout.manifest.base_heads.clone(),
            vec![edit],
            message,
            false,
        )
        .await?;
    if committed.proposal.is_none() {
        apply(&mut checkout, &args.path, content, committed.change.clone())?;
    }
    let report = Resolved {
        id,
        path: args.path.clone(),
        taken: taken.as_ref().map(|s| s.change.clone()),
        label: taken.as_ref().map(|s| s.label.clone()),
        change: committed.change.clone(),
        proposal: committed.proposal.clone(),
        conflicts: conflicts::paths(&checkout),
    };
    if args.json {
        return print_json(&report);
    }
    match (&report.change, &report.proposal) {
        (Some(change), _) => outln!(
            "resolved {}{} in change {}",
            report.path,
            report.label.as_ref().map(|l| format!(" (took {l})")).unwrap_or_default(),
            short(change)
        )?,
        (None, Some(proposal)) => outln!(
            "your organisation may not write to this artefact: the resolution went to its maintainers as proposal {}",
            short(proposal)
        )?,
        (None, None) => outln!("nothing changed")?,
    }
    if !report.conflicts.is_empty() {
        outln!("still in conflict: {}", report.conflicts.join(", "))?;
    }
    Ok(())
}

/// The content of `side`'s version of the conflicted file (`None`: that side deleted it).
async fn side_content(
    client: &mut Client,
    id: &str,
    conflict: &ConflictInfo,
    side: &ConflictSide,
) -> anyhow::Result<Option<(Vec<u8>, bool)>> {
    if side.state == "deleted" || side.state == "renamed" {
        return Ok(None);
    }
    let at = client.files(id, Some(vec![side.change.clone()])).await?;
    Ok(at
        .files
        .into_iter()
        .find(|f| f.path == conflict.path)
        .map(|f| (f.content.0, f.executable)))
}

/// Puts the resolution in the checkout: the file, its new base, the side files gone.
fn apply(
    checkout: &mut Checkout,
    path: &str,
    content: Option<(Vec<u8>, bool)>,
    change: Option<String>,
) -> anyhow::Result<()> {
    match &content {
        Some((bytes, executable)) => {
            checkout.write_file(path, bytes, *executable)?;
            checkout.set_base(path, Some((bytes, *executable)))?;
        }
        None => {
            checkout.remove_file(path)?;
            checkout.set_base(path, None)?;
        }
    }
    conflicts::forget_resolved(checkout, &[path.to_string()].into_iter().collect())?;
    if let Some(change) = change {
        checkout.manifest.base_heads = vec![change];
    }
    checkout.save()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(org: &str, name: &str, change: &str) -> ConflictSide {
        ConflictSide {
            org: Some(org.into()),
            organisation: Some(name.into()),
            node: None,
            change: change.repeat(32),
            state: "text".into(),
            renamed_to: None,
            size: 1,
            label: format!("{name} {}", &change.repeat(4)[..7]),
            file: None,
        }
    }

    #[test]
    fn take_names_a_side_by_ours_theirs_organisation_or_change() {
        let sides = vec![
            side("964338531", "Bergen kommune", "ab"),
            side("942110464", "Trondheim kommune", "cd"),
        ];
        let bergen = "964338531";
        assert_eq!(
            choose(&sides, "ours", bergen).unwrap().change,
            "ab".repeat(32)
        );
        assert_eq!(
            choose(&sides, "theirs", bergen).unwrap().change,
            "cd".repeat(32)
        );
        assert_eq!(
            choose(&sides, "942110464", bergen).unwrap().change,
            "cd".repeat(32)
        );
        assert_eq!(
            choose(&sides, "trondheim", bergen).unwrap().change,
            "cd".repeat(32)
        );
        assert_eq!(
            choose(&sides, "Bergen kommune", bergen).unwrap().change,
            "ab".repeat(32)
        );
        assert_eq!(
            choose(&sides, "cdcd", bergen).unwrap().change,
            "cd".repeat(32)
        );
        assert!(choose(&sides, "oslo", bergen).is_err());
        // Neither side is ours: "ours" names nothing, "theirs" two.
        assert!(choose(&sides, "ours", "974760673").is_err());
        assert!(choose(&sides, "theirs", "974760673").is_err());
    }
}
