//! `allmenning init`

use super::Ctx;
use crate::outln;
use crate::output::print_json;
use allmenning_node::home::OrgProfile;
use allmenning_protocol::identity::{NodeKey, OrgKind, OrgNumber, OrgNumberError};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use rand::RngCore;

/// Set up a node: the organisation it speaks for and a new identity key.
///
/// Creates the home directory (--home, ALLMENNING_HOME or the user's data directory) with
/// config.toml, which names the organisation and can be edited, and node.key, the node's secret
/// ed25519 key (mode 0600). The key is the node's identity: every change it writes is signed
/// with it, and its peer id derives from it. Back it up; never share it.
///
/// The organisation number is checked against its mod-11 check digit, so a typo is caught now
/// rather than after publishing.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning init --org-name \"Bergen kommune\" --org-number 964338531 --kind kommune
  allmenning --home /srv/allmenning init --org-name KS --org-number 971032146 --kind ks")]
pub struct InitArgs {
    /// The organisation's name, as people know it
    #[arg(long, value_name = "NAME")]
    pub org_name: String,
    /// The 9-digit organisation number (organisasjonsnummer) from Enhetsregisteret
    #[arg(long, value_name = "NUMBER", value_parser = parse_org_number)]
    pub org_number: OrgNumber,
    /// What kind of organisation it is
    #[arg(long, value_name = "KIND", ignore_case = true, value_parser = org_kind_parser())]
    pub kind: OrgKind,
    /// Overwrite an existing home: the node gets a new key and peer id
    #[arg(long)]
    pub force: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

fn parse_org_number(s: &str) -> Result<OrgNumber, OrgNumberError> {
    OrgNumber::parse(s)
}

fn org_kind_parser() -> impl TypedValueParser<Value = OrgKind> {
    PossibleValuesParser::new(OrgKind::ALL.map(|k| k.as_str())).try_map(|s| s.parse::<OrgKind>())
}

#[derive(serde::Serialize)]
struct Initialised {
    home: String,
    org: OrgJson,
    public_key: String,
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
    let public_key = NodeKey::from_secret(secret).public().to_hex();
    home.init(&org, secret, args.force)?;
    if args.json {
        return print_json(&Initialised {
            home: home.dir.display().to_string(),
            org: OrgJson {
                name: org.name.clone(),
                number: org.number.to_string(),
                kind: org.kind.to_string(),
            },
            public_key,
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
    outln!(
        "next: `allmenning node start` (edit {} to change listen addresses)",
        home.dir.join(allmenning_node::home::CONFIG_FILE).display()
    )?;
    Ok(())
}
