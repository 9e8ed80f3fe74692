//! `allmenning connect`

use super::Ctx;
use crate::outln;
use crate::output::print_json;

/// Dial a peer and keep it as a peer of this node.
///
/// The address is a libp2p multiaddr, best ending in /p2p/<peer id> so that the node can check
/// it reached the right peer. `allmenning node status` on the other node shows its addresses.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning connect /ip4/192.0.2.10/tcp/4646/p2p/12D3KooWAbc...
  allmenning connect /dns4/allmenning.ks.no/udp/4646/quic-v1/p2p/12D3KooWXyz...")]
pub struct ConnectArgs {
    /// The peer's multiaddr
    #[arg(value_name = "MULTIADDR")]
    pub addr: String,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
struct Connected {
    addr: String,
}

pub async fn run(ctx: &Ctx, args: ConnectArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let addr = client.connect_peer(&args.addr).await?;
    if args.json {
        return print_json(&Connected { addr });
    }
    outln!("connected to {addr}")?;
    Ok(())
}
