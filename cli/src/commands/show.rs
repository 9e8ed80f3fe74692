//! `allmenning show`

use super::Ctx;
use crate::outln;
use crate::output::{format_size, format_time, print, print_json, short, table};

/// Show an artefact: its metadata, current heads and files.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning show 3f2a9c
  allmenning show 3f2a9c --json | jq -r '.files[].path'")]
pub struct ShowArgs {
    /// The artefact's id, or a unique prefix of it
    #[arg(value_name = "ID")]
    pub id: String,
    /// Print the artefact as JSON
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: &Ctx, args: ShowArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let id = client.resolve(&args.id).await?;
    let detail = client.show(&id).await?;
    if args.json {
        return print_json(&detail);
    }
    outln!("{}", detail.title)?;
    outln!("id:       {}", detail.id)?;
    outln!("kind:     {}", detail.kind)?;
    outln!("owner:    {} ({})", detail.owner_name, short(&detail.owner))?;
    outln!("created:  {}", format_time(detail.created))?;
    if !detail.tags.is_empty() {
        outln!("tags:     {}", detail.tags.join(", "))?;
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
    if !detail.description.is_empty() {
        outln!()?;
        for line in detail.description.lines() {
            outln!("    {line}")?;
        }
    }
    let total: u64 = detail.files.iter().map(|f| f.size).sum();
    outln!()?;
    outln!("{} files, {}:", detail.files.len(), format_size(total))?;
    let rows: Vec<Vec<String>> = detail
        .files
        .iter()
        .map(|f| {
            vec![
                format!("  {}", f.path),
                format_size(f.size),
                f.storage.clone(),
            ]
        })
        .collect();
    let text = table(&["", "", ""], &rows);
    // Skip the (empty) header line.
    print(text.split_once('\n').map_or("", |(_, rest)| rest))
}
