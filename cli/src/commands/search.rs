//! `allmenning search`

use super::Ctx;
use crate::error::CliError;
use crate::outln;
use crate::output::{print_json, short};

/// Search the catalogue: titles, descriptions, tags, owners, file names and file text.
///
/// Ranked, best first; titles weigh most. Words are matched by their stem, so "foreldrebetalingen"
/// finds "foreldrebetaling". Quote a phrase to match it exactly. Exit code 4 when nothing matches.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning search foreldrebetaling
  allmenning search '\"redusert foreldrebetaling\" barnehage'
  allmenning search sak arkiv --limit 5 --json | jq -r '.[0].id'")]
pub struct SearchArgs {
    /// What to look for
    #[arg(value_name = "QUERY", required = true, num_args = 1..)]
    pub query: Vec<String>,
    /// At most this many results
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print the hits as a JSON array
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: &Ctx, args: SearchArgs) -> anyhow::Result<()> {
    let query = args.query.join(" ");
    let mut client = ctx.client().await?;
    let hits = client.search(&query, args.limit).await?;
    if args.json {
        print_json(&hits)?;
    } else {
        for hit in &hits {
            let approved = if hit.approved { "  [approved]" } else { "" };
            outln!(
                "{}  {}  ({}, {}){approved}",
                short(&hit.id),
                hit.title,
                hit.kind,
                hit.owner_name.as_deref().unwrap_or("unknown owner")
            )?;
            if let Some(snippet) = &hit.snippet {
                outln!(
                    "        {}",
                    snippet.split_whitespace().collect::<Vec<_>>().join(" ")
                )?;
            }
        }
    }
    if hits.is_empty() {
        return Err(CliError::NotFound {
            message: format!("nothing matches {query:?}"),
            hint: Some(
                "try fewer or other words, or `allmenning catalog` to see everything".into(),
            ),
        }
        .into());
    }
    Ok(())
}
