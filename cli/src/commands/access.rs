//! `allmenning access grant | revoke | list`

use super::Ctx;
use crate::outln;
use crate::output::{print_json, short};
use crate::parse;
use allmenning_node::control::AccessInfo;
use allmenning_protocol::identity::OrgNumber;

/// Who may change an artefact (maintainers) and who may read a restricted one.
///
/// The owner organisation (the publisher's) always may; grant and revoke run on a node of the
/// owner organisation.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum AccessCommand {
    Grant(GrantArgs),
    Revoke(RevokeArgs),
    List(ListArgs),
}

/// Let an organisation maintain (change) an artefact this organisation owns, or read a
/// restricted one.
///
/// A maintainer's nodes' commits are accepted everywhere; others' are refused. A maintainer may
/// also read a restricted artefact. Without --role: maintainer.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning access grant 3f2a9c 937052766
  allmenning access grant 3f2a9c 937052766 --role reader")]
pub struct GrantArgs {
    /// The artefact's id, or a unique prefix of it
    #[arg(value_name = "ID")]
    pub id: String,
    /// The organisation's 9-digit number
    #[arg(value_name = "ORGNR", value_parser = parse::org_number)]
    pub org: OrgNumber,
    /// maintainer (may change it) or reader (may read it when it is restricted)
    #[arg(long, value_name = "ROLE", ignore_case = true, default_value = "maintainer", value_parser = parse::role())]
    pub role: String,
    /// Print the artefact's access as JSON (the AccessInfo reply)
    #[arg(long)]
    pub json: bool,
}

/// Take away an organisation's maintainer and reader rights on an artefact.
///
/// Changes it made before keep counting; new ones are refused.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "Example:\n  allmenning access revoke 3f2a9c 937052766")]
pub struct RevokeArgs {
    /// The artefact's id, or a unique prefix of it
    #[arg(value_name = "ID")]
    pub id: String,
    /// The organisation's 9-digit number
    #[arg(value_name = "ORGNR", value_parser = parse::org_number)]
    pub org: OrgNumber,
    /// Print the artefact's access as JSON (the AccessInfo reply)
    #[arg(long)]
    pub json: bool,
}

/// Show an artefact's owner, maintainers, visibility and readers.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning access list 3f2a9c
  allmenning access list 3f2a9c --json | jq -r '.maintainers[]'")]
pub struct ListArgs {
    /// The artefact's id, or a unique prefix of it
    #[arg(value_name = "ID")]
    pub id: String,
    /// Print the artefact's access as JSON (the AccessInfo reply)
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: &Ctx, command: AccessCommand) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let (info, json, done) = match command {
        AccessCommand::Grant(args) => {
            let id = client.resolve(&args.id).await?;
            let info = client
                .access_grant(&id, &args.org.to_string(), &args.role)
                .await?;
            let done = match args.role.as_str() {
                "reader" => format!("{} may now read {}", args.org, short(&id)),
                _ => format!("{} may now maintain {}", args.org, short(&id)),
            };
            (info, args.json, Some(done))
        }
        AccessCommand::Revoke(args) => {
            let id = client.resolve(&args.id).await?;
            let info = client.access_revoke(&id, &args.org.to_string()).await?;
            let done = format!("{} no longer maintains or reads {}", args.org, short(&id));
            (info, args.json, Some(done))
        }
        AccessCommand::List(args) => {
            let id = client.resolve(&args.id).await?;
            (client.access_list(&id).await?, args.json, None)
        }
    };
    if json {
        return print_json(&info);
    }
    if let Some(done) = done {
        outln!("{done}")?;
    }
    print_access(&info)
}

/// "public", or "restricted" followed by who may read.
pub fn visibility_text(visibility: &str, owner: &str, readers: &[String]) -> String {
    if visibility == "restricted" {
        if readers.is_empty() {
            format!("restricted: only {owner}")
        } else {
            format!("restricted: {owner} and {}", readers.join(", "))
        }
    } else if visibility.is_empty() {
        "public".into()
    } else {
        visibility.to_string()
    }
}

fn print_access(info: &AccessInfo) -> anyhow::Result<()> {
    outln!("artefact:     {}", info.id)?;
    outln!("owner:        {}", info.owner)?;
    outln!(
        "maintainers:  {}",
        if info.maintainers.is_empty() {
            "only the owner".to_string()
        } else {
            info.maintainers.join(", ")
        }
    )?;
    outln!(
        "visibility:   {}",
        visibility_text(&info.visibility, &info.owner, &info.readers)
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visibility_names_who_may_read() {
        assert_eq!(visibility_text("public", "964338531", &[]), "public");
        assert_eq!(visibility_text("", "964338531", &[]), "public");
        assert_eq!(
            visibility_text("restricted", "964338531", &["937052766".into()]),
            "restricted: 964338531 and 937052766"
        );
        assert_eq!(
            visibility_text("restricted", "964338531", &[]),
            "restricted: only 964338531"
        );
    }
}
