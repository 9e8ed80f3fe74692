//! `allmenning peers`

use super::Ctx;
use crate::outln;
use crate::output::{print, print_json, table};

/// List the peers this node knows, and whether each is connected now.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning peers
  allmenning peers --json | jq '[.[] | select(.connected)] | length'")]
pub struct PeersArgs {
    /// Print the peers as a JSON array
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: &Ctx, args: PeersArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let peers = client.peers().await?;
    if args.json {
        return print_json(&peers);
    }
    if peers.is_empty() {
        outln!("no peers yet: connect to one with `allmenning connect MULTIADDR`")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = peers
        .iter()
        .map(|p| {
            vec![
                p.peer_id.clone(),
                if p.relayed {
                    "relayed"
                } else if p.connected {
                    "connected"
                } else {
                    "-"
                }
                .to_string(),
                p.addrs.join(" "),
            ]
        })
        .collect();
    print(&table(&["PEER ID", "STATE", "ADDRESSES"], &rows))
}
