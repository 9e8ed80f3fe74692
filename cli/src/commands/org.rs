//! `allmenning org show | add-node | revoke-node | node-proof`

use super::Ctx;
use crate::error::{classify, exit, CliError};
use crate::outln;
use crate::output::{format_time, print, print_json, short, table};
use crate::parse;
use allmenning_node::control::{CuratorInfo, OrgDetail, StatementInfo};
use allmenning_protocol::identity::{NodeKey, OrgNumber};
use allmenning_protocol::trust::prove_possession;

/// Organisations: who they are, their keys and nodes, and their curator rights.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum OrgCommand {
    Show(ShowArgs),
    AddNode(AddNodeArgs),
    RevokeNode(RevokeNodeArgs),
    NodeProof(NodeProofArgs),
}

/// Show an organisation: profile, org key fingerprint, who admitted it, its nodes and curator
/// rights.
///
/// Without ORGNR: this node's own organisation. With --all: every organisation this node knows,
/// admitted ones and those that announced themselves and wait for admission.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning org show                   # your own organisation and its fingerprint
  allmenning org show 964338531
  allmenning org show --all
  allmenning org show --all --json | jq -r '.[] | select(.admitted | not) | .number'")]
pub struct ShowArgs {
    /// The organisation's 9-digit number (default: this node's organisation)
    #[arg(value_name = "ORGNR", value_parser = parse::org_number, conflicts_with = "all")]
    pub org: Option<OrgNumber>,
    /// Show every organisation this node knows
    #[arg(long)]
    pub all: bool,
    /// Print as JSON: one object (the OrgDetail), or an array of them with --all
    #[arg(long)]
    pub json: bool,
}

/// Certify another node of this organisation, so that its changes count as the organisation's.
///
/// Run it on the node that holds the organisation's key (org.key). NODE_KEY is the other node's
/// key and PROOF its proof of possession: its own signature saying it speaks for this
/// organisation, without which no node counts a certificate (so no organisation can claim
/// another's node). `allmenning org node-proof` on the other node prints this whole command;
/// so does `allmenning init --no-org-key` when that node is set up.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Example:
  allmenning org add-node 3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29 \\
      --proof 5f0c...e20b --label \"laptop, drift\"   # from `allmenning org node-proof` there")]
pub struct AddNodeArgs {
    /// The node's public key (64 hex digits)
    #[arg(value_name = "NODE_KEY", value_parser = parse::node_key)]
    pub node_key: String,
    /// The node's proof of possession (128 hex digits): `allmenning org node-proof` on that node
    #[arg(long, value_name = "HEX", value_parser = parse::possession_proof)]
    pub proof: Option<String>,
    /// A note on what the node is, shown by `org show`
    #[arg(
        long,
        value_name = "TEXT",
        default_value = "",
        hide_default_value = true
    )]
    pub label: String,
    /// Print the signed statement as JSON
    #[arg(long)]
    pub json: bool,
}

/// Print this node's proof of possession, and the command that certifies it.
///
/// A node certificate counts only with the node key's own signature over the organisation number
/// and the key. Run this on the node to certify (one set up with `init --no-org-key`), then run
/// the `allmenning org add-node ... --proof ...` command it prints on the node that holds the
/// organisation's key. It reads this node's home only: the node need not be running.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning org node-proof
  allmenning org node-proof --json | jq -r .command")]
pub struct NodeProofArgs {
    /// Print as JSON: {"node_key", "org", "proof", "command"}
    #[arg(long)]
    pub json: bool,
}

/// Revoke a node of this organisation (a lost laptop): changes it signs are no longer accepted.
///
/// Run it on the node that holds the organisation's key (org.key).
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Example:
  allmenning org revoke-node 3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29")]
pub struct RevokeNodeArgs {
    /// The node's public key (64 hex digits)
    #[arg(value_name = "NODE_KEY", value_parser = parse::node_key)]
    pub node_key: String,
    /// Print the signed statement as JSON
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: &Ctx, command: OrgCommand) -> anyhow::Result<()> {
    match command {
        OrgCommand::Show(args) => show(ctx, args).await,
        OrgCommand::AddNode(args) => add_node(ctx, args).await,
        OrgCommand::RevokeNode(args) => revoke_node(ctx, args).await,
        OrgCommand::NodeProof(args) => node_proof(ctx, args),
    }
}

async fn show(ctx: &Ctx, args: ShowArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    if args.all {
        let mut orgs = client.org_show(None).await?;
        orgs.sort_by(|a, b| a.number.cmp(&b.number));
        if args.json {
            return print_json(&orgs);
        }
        if orgs.is_empty() {
            outln!("no organisations known yet")?;
            return Ok(());
        }
        let rows: Vec<Vec<String>> = orgs
            .iter()
            .map(|o| {
                vec![
                    o.number.clone(),
                    o.kind.clone(),
                    o.fingerprint.clone(),
                    admitted_text(o),
                    o.curator
                        .as_ref()
                        .map_or_else(|| "-".to_string(), curator_text),
                    o.name.clone(),
                ]
            })
            .collect();
        return print(&table(
            &[
                "NUMBER",
                "KIND",
                "FINGERPRINT",
                "ADMITTED",
                "CURATOR",
                "NAME",
            ],
            &rows,
        ));
    }
    let (number, own) = match args.org {
        Some(org) => (org.to_string(), false),
        None => (client.status().await?.org.number, true),
    };
    // The node may answer an unknown number with an error or with no organisation: both are
    // "not found", said the same way.
    let found = match client.org_show(Some(number.clone())).await {
        Ok(orgs) => orgs.into_iter().find(|o| o.number == number),
        Err(err) if classify(&err).0 == exit::NOT_FOUND => None,
        Err(err) => return Err(err),
    };
    let org = found.ok_or_else(|| CliError::NotFound {
            message: if own {
                format!("this node's organisation {number} is not known in the network yet")
            } else {
                format!("organisation {number} is not known to this node")
            },
            hint: Some(if own {
                "it becomes known once this node has joined a network (`allmenning network join FILE`) and announced it".into()
            } else {
                "`allmenning org show --all` lists the organisations this node knows".into()
            }),
        })?;
    // What it does in the commons: shares, maintains, adopts, captains, endorses.
    let activity = client
        .activity()
        .await?
        .into_iter()
        .find(|a| a.org == org.number);
    if args.json {
        let mut value = serde_json::to_value(&org)?;
        if let (Some(object), Some(activity)) = (value.as_object_mut(), &activity) {
            for (key, refs) in [
                ("shares", &activity.shares),
                ("maintains", &activity.maintains),
                ("adopts", &activity.adopts),
                ("captains", &activity.captains),
                ("endorses", &activity.endorses),
            ] {
                object.insert(key.into(), serde_json::to_value(refs)?);
            }
        }
        return print_json(&value);
    }
    print_org(&org)?;
    if let Some(activity) = activity {
        for (label, refs) in [
            ("shares", &activity.shares),
            ("maintains", &activity.maintains),
            ("adopts", &activity.adopts),
            ("captains", &activity.captains),
            ("endorses", &activity.endorses),
        ] {
            if !refs.is_empty() {
                outln!("{label}:")?;
                for r in refs {
                    outln!("  {}  {} ({})", short(&r.id), r.title, r.kind)?;
                }
            }
        }
    }
    Ok(())
}

fn admitted_text(org: &OrgDetail) -> String {
    match (&org.admitted_by, org.admitted) {
        (_, false) => "no".into(),
        (Some(by), true) => format!("by {by}"),
        (None, true) => "root".into(),
    }
}

fn curator_text(c: &CuratorInfo) -> String {
    let scopes = if c.scopes.is_empty() {
        "no scopes".to_string()
    } else {
        c.scopes.join(", ")
    };
    match (c.root, c.expires) {
        (true, _) => format!("root ({scopes})"),
        (false, Some(expires)) => format!("{scopes} until {}", format_time(expires)),
        (false, None) => scopes,
    }
}

fn print_org(org: &OrgDetail) -> anyhow::Result<()> {
    outln!("{} ({}, {})", org.name, org.number, org.kind)?;
    outln!("org key:      {}", org.org_key)?;
    outln!("fingerprint:  {}", org.fingerprint)?;
    let admitted = match (&org.admitted_by, org.admitted) {
        (_, false) => format!(
            "no: announced, waiting for a curator (`allmenning curate admit {} --fingerprint {}`)",
            org.number, org.fingerprint
        ),
        (Some(by), true) => format!("yes, by {by}"),
        (None, true) => "yes, a root curator named in the network file".into(),
    };
    outln!("admitted:     {admitted}")?;
    match &org.curator {
        Some(c) => outln!("curator:      {}", curator_text(c))?,
        None => outln!("curator:      no")?,
    }
    if org.nodes.is_empty() {
        outln!("nodes:        none certified")?;
    }
    for (i, node) in org.nodes.iter().enumerate() {
        let mut line = node.key.clone();
        if !node.label.is_empty() {
            line.push_str(&format!("  {}", node.label));
        }
        if node.revoked {
            line.push_str("  (revoked)");
        }
        outln!(
            "{}{line}",
            if i == 0 {
                "nodes:        "
            } else {
                "              "
            }
        )?;
    }
    Ok(())
}

/// Prints a signed statement: as JSON (`null` when the node reported none), or one line.
pub fn report_statement(
    json: bool,
    statement: Option<&StatementInfo>,
    what: &str,
) -> anyhow::Result<()> {
    if json {
        return print_json(&statement);
    }
    match statement {
        Some(s) => outln!("{what} (statement {})", short(&s.id))?,
        None => outln!("{what}")?,
    }
    Ok(())
}

async fn add_node(ctx: &Ctx, args: AddNodeArgs) -> anyhow::Result<()> {
    let Some(proof) = args.proof.as_deref() else {
        return Err(CliError::Usage {
            message: format!(
                "certifying node {} needs its proof of possession (--proof)",
                short(&args.node_key)
            ),
            hint: Some(
                "run `allmenning org node-proof` on that node: it prints the whole \
                 `allmenning org add-node KEY --proof HEX` command to run here"
                    .into(),
            ),
        }
        .into());
    };
    let mut client = ctx.client().await?;
    let statement = client
        .org_add_node(&args.node_key, args.label.trim(), proof)
        .await?;
    report_statement(
        args.json,
        statement.as_ref(),
        &format!("certified node {}", short(&args.node_key)),
    )
}

async fn revoke_node(ctx: &Ctx, args: RevokeNodeArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let statement = client.org_revoke_node(&args.node_key).await?;
    report_statement(
        args.json,
        statement.as_ref(),
        &format!(
            "revoked node {}: changes it signs are no longer accepted",
            short(&args.node_key)
        ),
    )
}

/// This node's proof of possession for its organisation, and the command that certifies it.
#[derive(serde::Serialize)]
pub struct NodeProof {
    pub node_key: String,
    pub org: String,
    pub proof: String,
    /// The `allmenning org add-node` command to run on the node holding the org key.
    pub command: String,
}

impl NodeProof {
    /// The proof `node` gives for being certified by `org`.
    pub fn new(node: &NodeKey, org: OrgNumber) -> NodeProof {
        let node_key = node.public().to_hex();
        let proof = hex::encode(prove_possession(node, org));
        NodeProof {
            command: format!("allmenning org add-node {node_key} --proof {proof}"),
            org: org.to_string(),
            node_key,
            proof,
        }
    }
}

fn node_proof(ctx: &Ctx, args: NodeProofArgs) -> anyhow::Result<()> {
    let home = ctx.home()?;
    let config = home.load_config()?;
    let proof = NodeProof::new(&home.node_key()?, config.org.number);
    if args.json {
        return print_json(&proof);
    }
    outln!(
        "node {} asks to be certified for {} ({})",
        proof.node_key,
        config.org.name,
        proof.org
    )?;
    outln!("on the node that holds the organisation's key (org.key), run:")?;
    outln!("  {}", proof.command)?;
    Ok(())
}
