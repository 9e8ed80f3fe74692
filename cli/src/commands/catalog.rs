//! `allmenning catalog`

use super::Ctx;
use crate::outln;
use crate::output::{format_time, print, print_json, short, table};
use allmenning_protocol::catalog::{CatalogEntry, Visibility};

/// List the catalogue: every artefact this node may see, with who owns, maintains and endorsed it.
///
/// Filters combine: `--kind dpia --status approved` lists approved DPIAs only. `--org` matches
/// artefacts the organisation owns or maintains. `--status` is one of approved (a curator approved
/// some version), endorsed (reviewed, recommended or approved), unendorsed or deprecated.
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

/// The curation column: the strongest verdict in force, and whether it covers this version.
fn curation(entry: &CatalogEntry) -> String {
    match entry.endorsements.iter().find(|e| e.vouches()) {
        Some(e) => {
            let status = format!("{:?}", e.status).to_lowercase();
            if e.current {
                format!("{status} by {}", e.curator_name)
            } else {
                format!("{status} by {} (older version)", e.curator_name)
            }
        }
        None => "-".into(),
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
                curation(e),
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
