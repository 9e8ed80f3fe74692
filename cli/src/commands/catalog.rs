//! `allmenning catalog`

use super::Ctx;
use crate::outln;
use crate::output::{format_time, print, print_json, short, table};
use allmenning_protocol::catalog::{CatalogEndorsement, Visibility};

/// List the catalogue: every artefact this node may see, with who owns, maintains and endorsed it.
///
/// Filters combine: `--kind dpia --status approved` lists approved DPIAs only. `--org` matches
/// artefacts the organisation owns or maintains. `--status` is one of approved (a curator approved
/// some version), endorsed (reviewed, recommended or approved), unendorsed or deprecated.
/// The CURATION column names a deprecated or withdrawn verdict in force first, then the
/// strongest verdict that vouches for it, as `show` lists them.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning catalog
  allmenning catalog --kind integration --status approved
  allmenning catalog --org 964338531 --tag barnehage --json | jq -r '.[].title'")]
pub struct CatalogArgs {
    /// Only artefacts of this kind (code, integration, process, datamodel, dpia, ros, ...)
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Only artefacts this organisation (9-digit number) owns or maintains
    #[arg(long, value_name = "ORGNR")]
    pub org: Option<String>,
    /// Only artefacts with this curation status: approved, endorsed, unendorsed, deprecated
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// Only artefacts with this tag
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Print the entries as a JSON array
    #[arg(long)]
    pub json: bool,
}

/// The curation column: the strongest verdict in force and whether it covers this version,
/// led by any warning (deprecated, withdrawn) in force, as `show` lists them all: a
/// deprecated artefact must not look unendorsed, nor approved without the warning.
fn curation(endorsements: &[CatalogEndorsement]) -> String {
    let line = |e: &CatalogEndorsement| {
        let status = format!("{:?}", e.status).to_lowercase();
        if e.current {
            format!("{status} by {}", e.curator_name)
        } else {
            format!("{status} by {} (older version)", e.curator_name)
        }
    };
    let mut parts: Vec<String> = endorsements
        .iter()
        .filter(|e| !e.vouches())
        .map(line)
        .collect();
    parts.extend(endorsements.iter().find(|e| e.vouches()).map(line));
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join("; ")
    }
}

pub async fn run(ctx: &Ctx, args: CatalogArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let entries = client
        .catalog(args.kind, args.org, args.status, args.tag)
        .await?;
    if args.json {
        return print_json(&entries);
    }
    if entries.is_empty() {
        outln!("nothing in the catalogue matches")?;
        return Ok(());
    }
    let cells: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let mut title = e.title.clone();
            if matches!(e.visibility, Visibility::Restricted { .. }) {
                title.push_str(" (restricted)");
            }
            if e.conflicts > 0 {
                title.push_str(&format!(
                    " [{} conflicted file{}]",
                    e.conflicts,
                    if e.conflicts == 1 { "" } else { "s" }
                ));
            }
            vec![
                short(&e.id.to_hex()).to_string(),
                e.kind.clone(),
                e.owner_name.clone().unwrap_or_default(),
                curation(&e.endorsements),
                format_time(e.updated),
                title,
            ]
        })
        .collect();
    print(&table(
        &["ID", "KIND", "OWNER", "CURATION", "UPDATED", "TITLE"],
        &cells,
    ))?;
    outln!("{} artefact(s)", entries.len())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use allmenning_protocol::trust::EndorsementStatus;

    fn verdict(status: EndorsementStatus, curator: &str, current: bool) -> CatalogEndorsement {
        CatalogEndorsement {
            curator: "971032146".parse().expect("a valid org number"),
            curator_name: curator.into(),
            status,
            heads: vec!["ab".into()],
            current,
            changes_since: usize::from(!current),
            note: String::new(),
            time: 1_795_953_600,
        }
    }

    #[test]
    fn the_curation_column_shows_deprecated_and_withdrawn_verdicts() {
        assert_eq!(curation(&[]), "-");
        assert_eq!(
            curation(&[verdict(EndorsementStatus::Approved, "KS", true)]),
            "approved by KS"
        );
        assert_eq!(
            curation(&[verdict(EndorsementStatus::Deprecated, "KS", true)]),
            "deprecated by KS"
        );
        assert_eq!(
            curation(&[verdict(EndorsementStatus::Withdrawn, "KS", false)]),
            "withdrawn by KS (older version)"
        );
        // A warning leads, even when another curator still vouches for the artefact.
        assert_eq!(
            curation(&[
                verdict(EndorsementStatus::Approved, "Agder IKS", true),
                verdict(EndorsementStatus::Deprecated, "KS", true),
            ]),
            "deprecated by KS; approved by Agder IKS"
        );
    }
}
