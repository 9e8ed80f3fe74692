//! `allmenning init`

use super::org::NodeProof;
use super::Ctx;
use crate::outln;
use crate::output::print_json;
use crate::parse;
use allmenning_node::home::OrgProfile;
use allmenning_protocol::identity::{NodeKey, OrgKind, OrgNumber};
use rand::RngCore;

/// Set up a node: the organisation it speaks for, a new node key and the organisation's key.
///
/// Creates the home directory (--home, ALLMENNING_HOME or the user's data directory) with
/// config.toml, which names the organisation and can be edited, and node.key, the node's secret
/// ed25519 key (mode 0600). The key is the node's identity: every change it writes is signed
/// with it, and its peer id derives from it. Back it up; never share it.
///
/// It also creates org.key (mode 0600), the organisation's key: it announces the organisation
/// to a network, and certifies the organisation's other nodes (`allmenning org add-node`). One
/// node of an organisation holds it; set up any further node with --no-org-key and certify it
/// from the node that holds the key. Its fingerprint is what a curator compares before
/// admitting the organisation.
///
/// The organisation number is checked against its mod-11 check digit, so a typo is caught now
/// rather than after publishing.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning init --org-name \"Bergen kommune\" --org-number 964338531 --kind kommune
  allmenning --home /srv/allmenning init --org-name KS --org-number 971032146 --kind ks
  allmenning --home ~/laptop init --org-name \"Bergen kommune\" --org-number 964338531 \\
      --kind kommune --no-org-key   # prints the `allmenning org add-node KEY --proof HEX`
                                     # command to run on the org-key holder")]
pub struct InitArgs {
    /// The organisation's name, as people know it
    #[arg(long, value_name = "NAME")]
    pub org_name: String,
    /// The 9-digit organisation number (organisasjonsnummer) from Enhetsregisteret
    #[arg(long, value_name = "NUMBER", value_parser = parse::org_number)]
    pub org_number: OrgNumber,
    /// What kind of organisation it is
    #[arg(long, value_name = "KIND", ignore_case = true, value_parser = parse::org_kind())]
    pub kind: OrgKind,
    /// Do not create an organisation key: for a further node of an organisation whose key is
    /// held by another node (which then certifies this one with `allmenning org add-node`)
    #[arg(long)]
    pub no_org_key: bool,
    /// Overwrite an existing home: the node gets a new key and peer id, and a new org key
    /// unless --no-org-key (which leaves an existing org.key alone)
    #[arg(long)]
    pub force: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
struct Initialised {
    home: String,
    org: OrgJson,
    /// The node key (same as `node_key`; kept for scripts written before org keys).
    public_key: String,
    node_key: String,
    /// The organisation's public key, if this node holds the org key.
    org_key: Option<String>,
    /// First 16 hex digits of BLAKE3 of the org public key.
    org_key_fingerprint: Option<String>,
    /// This node's proof of possession for its organisation (for `org add-node --proof`).
    node_proof: String,
    /// Without the org key here: the command that certifies this node, to run on the node
    /// that holds it.
    add_node_command: Option<String>,
}

#[derive(serde::Serialize)]
struct OrgJson {
    name: String,
    number: String,
    kind: String,
}

pub async fn run(ctx: &Ctx, args: InitArgs) -> anyhow::Result<()> {
    let name = args.org_name.trim().to_string();
    if name.is_empty() {
        return Err(crate::error::CliError::Usage {
            message: "--org-name must not be empty".into(),
            hint: None,
        }
        .into());
    }
    let home = ctx.home()?;
    let org = OrgProfile {
        name,
        number: args.org_number,
        kind: args.kind,
    };
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let node_key = NodeKey::from_secret(secret);
    let public_key = node_key.public().to_hex();
    let node_proof = NodeProof::new(&node_key, org.number);
    let org_secret = if args.no_org_key {
        None
    } else {
        let mut org_secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut org_secret);
        Some(org_secret)
    };
    home.init(&org, secret, org_secret, args.force)?;
    // Report the org key this home holds now (with --no-org-key --force, one kept from before).
    let org_public = home.org_key()?.map(|key| key.public());
    let org_key = org_public.map(|key| key.to_hex());
    let org_key_fingerprint = org_public.as_ref().map(parse::key_fingerprint);
    if args.json {
        return print_json(&Initialised {
            home: home.dir.display().to_string(),
            org: OrgJson {
                name: org.name.clone(),
                number: org.number.to_string(),
                kind: org.kind.to_string(),
            },
            node_key: public_key.clone(),
            public_key,
            add_node_command: org_key.is_none().then(|| node_proof.command.clone()),
            org_key,
            org_key_fingerprint,
            node_proof: node_proof.proof,
        });
    }
    outln!(
        "Initialised a node for {} ({}, {}) in {}",
        org.name,
        org.number,
        org.kind,
        home.dir.display()
    )?;
    outln!("node key: {public_key}")?;
    match (&org_key, &org_key_fingerprint) {
        (Some(key), Some(fingerprint)) => {
            outln!("org key:  {key}")?;
            outln!("          fingerprint {fingerprint}: tell it to the curator who admits you")?;
        }
        _ => {
            outln!("org key:  none on this node; on the node that holds it, run")?;
            outln!("          {}", node_proof.command)?;
            outln!("          (`allmenning org node-proof` prints it again)")?;
        }
    }
    outln!(
        "next: `allmenning node start` (edit {} to change listen addresses)",
        home.dir.join(allmenning_node::home::CONFIG_FILE).display()
    )?;
    Ok(())
}
