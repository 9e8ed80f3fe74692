//! `allmenning curate admit | delegate | revoke | endorse`

use super::org::report_statement;
use super::Ctx;
use crate::error::CliError;
use crate::outln;
use crate::output::{format_time, short};
use crate::parse;
use allmenning_node::control::RevokeTarget;
use allmenning_protocol::identity::OrgNumber;
use allmenning_protocol::trust::{EndorsementStatus, Scope};

/// Curate the network: admit organisations, delegate curator rights, endorse versions.
///
/// Run these on a curator's node that holds its org key: the network's root curator (KS), or an
/// organisation a root delegated the right to admit or to endorse.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum CurateCommand {
    Admit(AdmitArgs),
    Delegate(DelegateArgs),
    Revoke(RevokeArgs),
    Endorse(EndorseArgs),
}

/// Admit an organisation that announced itself, binding its number, name, kind and org key.
///
/// The organisation announces itself when its node joins the network (see `allmenning org show
/// --all`). Ask it for its org key fingerprint (`allmenning org show` on its node) through
/// another channel and pass it with --fingerprint: the admission is refused if the key this node
/// saw has another fingerprint, so a stranger claiming the number is not admitted by mistake.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning org show --all                      # who waits for admission, with fingerprints
  allmenning curate admit 964338531 --fingerprint 3fa2c81d09e4b7a6")]
pub struct AdmitArgs {
    /// The organisation's 9-digit number
    #[arg(value_name = "ORGNR", value_parser = parse::org_number)]
    pub org: OrgNumber,
    /// The org key fingerprint the organisation gave you (16 hex digits)
    #[arg(long, value_name = "FP", value_parser = parse::fingerprint)]
    pub fingerprint: Option<String>,
    /// Print the signed statement as JSON
    #[arg(long)]
    pub json: bool,
}

/// Delegate curator rights to an admitted organisation (root curators only).
///
/// --scope endorse lets it endorse artefact versions; --scope admit lets it admit
/// organisations. Without --scope: endorse. --expires ends the rights at the end of that day
/// (UTC), or at an exact RFC 3339 time; without it they last until revoked.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning curate delegate 964338531
  allmenning curate delegate 964338531 --scope admit --scope endorse --expires 2026-12-31
  allmenning curate delegate 964338531 --expires 2026-06-30T12:00:00+02:00")]
pub struct DelegateArgs {
    /// The organisation's 9-digit number
    #[arg(value_name = "ORGNR", value_parser = parse::org_number)]
    pub org: OrgNumber,
    /// A right to delegate: admit or endorse (repeatable; default endorse)
    #[arg(long = "scope", value_name = "SCOPE", ignore_case = true, value_parser = parse::scope())]
    pub scopes: Vec<Scope>,
    /// When the rights end: YYYY-MM-DD (the end of that day, UTC) or an RFC 3339 time
    #[arg(long, value_name = "DATE", value_parser = parse::expiry)]
    pub expires: Option<i64>,
    /// Print the signed statement as JSON
    #[arg(long)]
    pub json: bool,
}

/// Revoke an admission, a delegation, an endorsement, or any statement this organisation signed.
///
/// --endorsement takes the artefact's id (or a unique prefix): it revokes this organisation's
/// endorsement of it. --statement takes a statement id (64 hex digits) as the `--json` output of
/// the curate and org commands prints it.
#[derive(clap::Args, Clone, Debug)]
#[command(
    group(
        clap::ArgGroup::new("target")
            .required(true)
            .args(["admission", "delegation", "endorsement", "statement"])
    ),
    after_help = "\
Examples:
  allmenning curate revoke --admission 964338531
  allmenning curate revoke --delegation 964338531
  allmenning curate revoke --endorsement 3f2a9c
  allmenning curate revoke --statement 5d1e...(64 hex digits)"
)]
pub struct RevokeArgs {
    /// Withdraw the admission of this organisation
    #[arg(long, value_name = "ORGNR", value_parser = parse::org_number)]
    pub admission: Option<OrgNumber>,
    /// Withdraw the curator rights delegated to this organisation
    #[arg(long, value_name = "ORGNR", value_parser = parse::org_number)]
    pub delegation: Option<OrgNumber>,
    /// Withdraw this organisation's endorsement of this artefact
    #[arg(long, value_name = "ID")]
    pub endorsement: Option<String>,
    /// Withdraw the statement with this id
    #[arg(long, value_name = "STATEMENT_ID", value_parser = parse::statement_id)]
    pub statement: Option<String>,
    /// Print the signed statement as JSON
    #[arg(long)]
    pub json: bool,
}

/// Endorse the current version of an artefact with a status.
///
/// The endorsement names the exact version (the artefact's current heads), so later changes are
/// not endorsed by it: `allmenning show ID` tells how many changes came since, and
/// `allmenning checkout ID DIR --endorsed` checks out the endorsed version. A later endorsement
/// by the same curator replaces the earlier one; `deprecated` and `withdrawn` warn against using
/// the artefact.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning curate endorse 3f2a9c --status approved --note \"Gjennomgått av KS, i tråd med Normen\"
  allmenning curate endorse 3f2a9c --status deprecated --note \"Erstattet av 8b1e07\"")]
pub struct EndorseArgs {
    /// The artefact's id, or a unique prefix of it
    #[arg(value_name = "ID")]
    pub id: String,
    /// reviewed, recommended, approved, deprecated or withdrawn
    #[arg(long, value_name = "STATUS", ignore_case = true, value_parser = parse::endorsement_status())]
    pub status: EndorsementStatus,
    /// Why: shown with the endorsement
    #[arg(
        long,
        value_name = "TEXT",
        default_value = "",
        hide_default_value = true
    )]
    pub note: String,
    /// Print the signed statement as JSON
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: &Ctx, command: CurateCommand) -> anyhow::Result<()> {
    match command {
        CurateCommand::Admit(args) => admit(ctx, args).await,
        CurateCommand::Delegate(args) => delegate(ctx, args).await,
        CurateCommand::Revoke(args) => revoke(ctx, args).await,
        CurateCommand::Endorse(args) => endorse(ctx, args).await,
    }
}

async fn admit(ctx: &Ctx, args: AdmitArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let org = args.org.to_string();
    let statement = client.curate_admit(&org, args.fingerprint.clone()).await?;
    if args.json {
        return report_statement(true, statement.as_ref(), "");
    }
    // Name the organisation and its fingerprint, so a mistake is noticed now.
    let detail = client
        .org_show(Some(org.clone()))
        .await
        .ok()
        .and_then(|orgs| orgs.into_iter().find(|o| o.number == org));
    let what = match &detail {
        Some(d) => format!(
            "admitted {} ({org}), org key fingerprint {}",
            d.name, d.fingerprint
        ),
        None => format!("admitted {org}"),
    };
    report_statement(false, statement.as_ref(), &what)?;
    if args.fingerprint.is_none() {
        outln!("check that fingerprint with the organisation; revoke with `allmenning curate revoke --admission {org}` if it differs")?;
    }
    Ok(())
}

/// The scopes to send: as given, without repeats, in a fixed order; `endorse` if none.
fn scopes_to_send(scopes: &[Scope]) -> Vec<String> {
    let mut scopes = scopes.to_vec();
    if scopes.is_empty() {
        scopes.push(Scope::Endorse);
    }
    scopes.sort();
    scopes.dedup();
    scopes.iter().map(|s| s.as_str().to_string()).collect()
}

async fn delegate(ctx: &Ctx, args: DelegateArgs) -> anyhow::Result<()> {
    if let Some(expires) = args.expires {
        if expires <= parse::now() {
            return Err(CliError::Usage {
                message: format!("--expires {} is in the past", format_time(expires)),
                hint: Some("give a future date, YYYY-MM-DD or RFC 3339".into()),
            }
            .into());
        }
    }
    let scopes = scopes_to_send(&args.scopes);
    let org = args.org.to_string();
    let mut client = ctx.client().await?;
    let statement = client
        .curate_delegate(&org, scopes.clone(), args.expires)
        .await?;
    let until = match args.expires {
        Some(expires) => format!("until {}", format_time(expires)),
        None => "until revoked".into(),
    };
    report_statement(
        args.json,
        statement.as_ref(),
        &format!("delegated {} to {org} {until}", scopes.join(" and ")),
    )
}

async fn revoke(ctx: &Ctx, args: RevokeArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let (target, what) = if let Some(org) = args.admission {
        (
            RevokeTarget::Admission {
                org: org.to_string(),
            },
            format!("revoked the admission of {org}"),
        )
    } else if let Some(org) = args.delegation {
        (
            RevokeTarget::Delegation {
                org: org.to_string(),
            },
            format!("revoked the curator rights delegated to {org}"),
        )
    } else if let Some(id) = args.endorsement {
        let id = client.resolve(&id).await?;
        let what = format!("revoked this organisation's endorsement of {}", short(&id));
        (RevokeTarget::Endorsement { id }, what)
    } else if let Some(statement) = args.statement {
        let what = format!("revoked statement {}", short(&statement));
        (RevokeTarget::Statement { statement }, what)
    } else {
        // clap's ArgGroup requires exactly one of them.
        unreachable!("curate revoke without a target")
    };
    let statement = client.curate_revoke(target).await?;
    report_statement(args.json, statement.as_ref(), &what)
}

async fn endorse(ctx: &Ctx, args: EndorseArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let id = client.resolve(&args.id).await?;
    let statement = client
        .curate_endorse(&id, args.status.as_str(), args.note.trim())
        .await?;
    let verb = match args.status {
        EndorsementStatus::Deprecated | EndorsementStatus::Withdrawn => "marked",
        _ => "endorsed",
    };
    report_statement(
        args.json,
        statement.as_ref(),
        &format!(
            "{verb} {} as {} at its current version",
            short(&id),
            args.status
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_default_to_endorse_and_are_deduplicated() {
        assert_eq!(scopes_to_send(&[]), ["endorse"]);
        assert_eq!(
            scopes_to_send(&[Scope::Endorse, Scope::Admit, Scope::Endorse]),
            ["admit", "endorse"]
        );
    }
}
