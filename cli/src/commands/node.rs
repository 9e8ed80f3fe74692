//! `allmenning node start | status | stop`

use super::Ctx;
use crate::client::Client;
use crate::error::CliError;
use crate::outln;
use crate::output::{format_duration, print_json};
use allmenning_node::home::HomeError;
use allmenning_node::NodeOptions;
use std::time::{Duration, Instant};

/// Run, inspect or stop this machine's node.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum NodeCommand {
    Start(StartArgs),
    Status(StatusArgs),
    Stop(StopArgs),
}

/// Run the node in the foreground until Ctrl-C or SIGTERM.
///
/// The node listens for peers, replicates artefacts, and answers this command's other
/// subcommands on a control socket in its home directory. It logs to stderr (RUST_LOG sets the
/// level; the default is info). Ctrl-C or SIGTERM shut it down gracefully; a second Ctrl-C
/// exits at once. Listen and bootstrap addresses default to those in config.toml.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning node start
  allmenning node start --listen /ip4/0.0.0.0/tcp/4646 --listen /ip4/0.0.0.0/udp/4646/quic-v1
  allmenning node start --bootstrap /ip4/203.0.113.10/tcp/4646/p2p/12D3KooW...
  allmenning node start --relay --external-address /ip4/203.0.113.10/tcp/4646   # a public KS node
  allmenning node start --portal 8080    # then open http://127.0.0.1:8080/")]
pub struct StartArgs {
    /// A multiaddr to listen on (repeatable; replaces the configured ones)
    #[arg(long, value_name = "MULTIADDR")]
    pub listen: Vec<String>,
    /// A peer to dial at start-up, ending in /p2p/<peer id> (repeatable; replaces the configured ones)
    #[arg(long, value_name = "MULTIADDR")]
    pub bootstrap: Vec<String>,
    /// Do not look for nodes on the local network by mDNS (overrides `mdns` in config.toml)
    #[arg(long)]
    pub no_mdns: bool,
    /// Relay for nodes behind NAT (overrides `serve` in the [relay] section of config.toml).
    /// For nodes with a public address, such as KS's or an IKS's
    #[arg(long)]
    pub relay: bool,
    /// An address at which other nodes reach this one (repeatable; added to
    /// `external_addresses` in config.toml). Relays hand these out in reservations
    #[arg(long = "external-address", value_name = "MULTIADDR")]
    pub external_addresses: Vec<String>,
    /// Serve the read-only web portal (catalogue, search, artefacts, curation) on PORT of
    /// localhost, or at IP:PORT (use another IP only if other machines should reach it)
    #[arg(long, value_name = "[IP:]PORT")]
    pub portal: Option<String>,
}

/// Show the running node's identity, network, addresses and peers.
///
/// The node key is what the node holding the organisation's key certifies with
/// `allmenning org add-node NODE_KEY --proof HEX` (`allmenning org node-proof` prints it).
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning node status
  allmenning node status --json | jq -r .peer_id
  allmenning node status --json | jq -r .node_key")]
pub struct StatusArgs {
    /// Print the status as JSON
    #[arg(long)]
    pub json: bool,
}

/// Ask the running node to shut down, and wait until it has.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "Example:\n  allmenning node stop")]
pub struct StopArgs {
    /// How long to wait for the node to finish, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
}

pub async fn run(ctx: &Ctx, command: NodeCommand) -> anyhow::Result<()> {
    match command {
        NodeCommand::Start(args) => start(ctx, args).await,
        NodeCommand::Status(args) => status(ctx, args).await,
        NodeCommand::Stop(args) => stop(ctx, args).await,
    }
}

async fn start(ctx: &Ctx, args: StartArgs) -> anyhow::Result<()> {
    let home = ctx.home()?;
    if !home.is_initialised() {
        return Err(HomeError::NotInitialised {
            dir: home.dir.clone(),
        }
        .into());
    }
    let options = NodeOptions {
        listen: args.listen,
        bootstrap: args.bootstrap,
        no_mdns: args.no_mdns,
        relay: args.relay,
        external_addresses: args.external_addresses,
        portal: args.portal,
    };
    allmenning_node::run(home, options, shutdown_signal()).await?;
    Ok(())
}

/// Resolves on the first Ctrl-C or SIGTERM; a second Ctrl-C then exits immediately.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C: shutting down (press it again to exit at once)"),
                    _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                }
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM ({e}); only Ctrl-C stops the node");
                let _ = tokio::signal::ctrl_c().await;
                tracing::info!("Ctrl-C: shutting down");
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C: shutting down");
    }
    tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("second Ctrl-C: exiting without a clean shutdown");
            std::process::exit(130);
        }
    });
}

async fn status(ctx: &Ctx, args: StatusArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let status = client.status().await?;
    if args.json {
        return print_json(&status);
    }
    outln!(
        "{} ({}, {})",
        status.org.name,
        status.org.number,
        status.org.kind
    )?;
    outln!("peer id:    {}", status.peer_id)?;
    if !status.node_key.is_empty() {
        outln!("node key:   {}", status.node_key)?;
    }
    outln!(
        "org key:    {}",
        if status.has_org_key {
            "held by this node"
        } else {
            "held elsewhere (certify this node there: `allmenning org add-node NODE_KEY`)"
        }
    )?;
    match &status.network {
        Some(network) => {
            outln!("network:    {network}")?;
            if status.admitted {
                outln!("admitted:   yes")?;
            } else {
                outln!(
                    "admitted:   not yet (a curator runs `allmenning curate admit {}`)",
                    status.org.number
                )?;
            }
        }
        None => outln!("network:    none (join one with `allmenning network join FILE`)")?,
    }
    if status.listen_addrs.is_empty() {
        outln!("listening:  nowhere")?;
    }
    for (i, addr) in status.listen_addrs.iter().enumerate() {
        outln!(
            "{}{addr}",
            if i == 0 {
                "listening:  "
            } else {
                "            "
            }
        )?;
    }
    outln!("peers:      {}", status.peers)?;
    let reachability = match status.reachability.as_str() {
        "public" => "public (peers can dial this node)",
        "private" => "private (behind NAT or a firewall: others reach this node through relays)",
        "" | "unknown" => "unknown (not yet probed by a peer)",
        other => other,
    };
    outln!("reachable:  {reachability}")?;
    for addr in &status.public_addrs {
        outln!("            {addr}")?;
    }
    let relay = &status.relay;
    if relay.serving {
        outln!(
            "relaying:   for {} node(s), {} connection(s) relayed so far",
            relay.serving_reservations,
            relay.circuits_served
        )?;
    }
    if relay.reservations.is_empty() {
        if status.reachability == "private" {
            outln!("relays:     none yet (connect to a node started with --relay)")?;
        }
    } else {
        outln!("relays:     {}", relay.reservations.join(", "))?;
    }
    if relay.relayed_connections > 0 || relay.relayed_connections_since_start > 0 {
        outln!(
            "relayed:    {} connection(s) now, {} since start; hole punching {} ok, {} failed",
            relay.relayed_connections,
            relay.relayed_connections_since_start,
            relay.hole_punch.succeeded,
            relay.hole_punch.failed
        )?;
    }
    outln!("artefacts:  {}", status.artefacts)?;
    outln!("uptime:     {}", format_duration(status.uptime_secs))?;
    outln!("home:       {}", status.home)?;
    outln!("version:    {}", status.version)?;
    Ok(())
}

async fn stop(ctx: &Ctx, args: StopArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    client.stop().await?;
    let socket = client.socket().to_path_buf();
    drop(client);
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    loop {
        match Client::connect(&socket).await {
            Err(e)
                if matches!(
                    e.downcast_ref::<CliError>(),
                    Some(CliError::NotRunning { .. })
                ) =>
            {
                outln!("node stopped")?;
                return Ok(());
            }
            _ if Instant::now() >= deadline => {
                return Err(CliError::failed(
                    format!("the node is still shutting down after {} s", args.timeout),
                    "wait a little and check with `allmenning node status`",
                )
                .into());
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
