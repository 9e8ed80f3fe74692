//! `allmenning list`

use super::Ctx;
use crate::outln;
use crate::output::{format_time, print, print_json, short, table};

/// List the artefacts this node holds: its own and those replicated from peers.
///
/// IDs are shown shortened; any unique prefix of an id works wherever an id is expected.
/// `--json` prints every field, full ids included. `complete` means this node holds every file
/// of the changes it accepted; `refused` counts changes it refused (`allmenning show ID` says
/// whose, why, and what admits them).
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning list
  allmenning list --json | jq -r '.[] | select(.kind == \"dpia\") | .id'
  allmenning list --json | jq -r '.[] | select(.refused > 0) | .id'")]
pub struct ListArgs {
    /// Print the artefacts as a JSON array
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: &Ctx, args: ListArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let mut rows = client.list().await?;
    rows.sort_by(|a, b| b.updated.cmp(&a.updated).then_with(|| a.id.cmp(&b.id)));
    if args.json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        outln!(
            "no artefacts yet: share one with `allmenning publish PATH --kind KIND --title TITLE`"
        )?;
        return Ok(());
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut title = if r.complete {
                r.title.clone()
            } else {
                format!("{} (still fetching)", r.title)
            };
            if r.conflicts > 0 {
                title.push_str(&format!(
                    " [{} conflicted file{}]",
                    r.conflicts,
                    if r.conflicts == 1 { "" } else { "s" }
                ));
            }
            if r.refused > 0 {
                title.push_str(&format!(" ({} refused: `allmenning show`)", r.refused));
            }
            vec![
                short(&r.id).to_string(),
                r.kind.clone(),
                r.owner_name.clone(),
                r.files.to_string(),
                format_time(r.updated),
                title,
            ]
        })
        .collect();
    print(&table(
        &["ID", "KIND", "OWNER", "FILES", "UPDATED", "TITLE"],
        &cells,
    ))
}
