//! `allmenning initiative`

use super::Ctx;
use crate::error::CliError;
use crate::outln;
use crate::output::{confirm, format_time, print, print_json, short, table};
use allmenning_node::control::InitiativeInfo;
use std::collections::BTreeSet;
use std::io::Write;

/// Initiatives: services being built, who leads them (the captain) and who takes part.
///
/// Before building something, look for an initiative to join: `initiative new` searches for
/// similar initiatives and artefacts first and asks before creating what may be a duplicate.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum InitiativeCommand {
    New(NewArgs),
    List(ListArgs),
    Show(ShowArgs),
    Join(JoinArgs),
    Update(UpdateArgs),
}

/// Change an initiative your organisation leads: its status, or artefacts that belong to it.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning initiative update 5be1 --status done
  allmenning initiative update 5be1 --artefact 3f2a9c --artefact 77c1")]
pub struct UpdateArgs {
    /// The initiative's id, or a unique prefix of it
    #[arg(value_name = "ID")]
    pub id: String,
    /// The new status: planned, active, done or stopped
    #[arg(long)]
    pub status: Option<String>,
    /// An artefact to link to it (repeatable; id or unique prefix)
    #[arg(long = "artefact", value_name = "ARTEFACT")]
    pub artefacts: Vec<String>,
    /// Print the initiative as JSON
    #[arg(long)]
    pub json: bool,
}

/// Announce an initiative your organisation leads (it becomes the captain).
///
/// Similar initiatives and artefacts are listed first; on a terminal you are asked whether to go
/// on, elsewhere the command stops (exit 1) unless `--yes` is given.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning initiative new \"Digital søknad om redusert foreldrebetaling\" --description \"Felles skjema og vedtak\"
  allmenning initiative new \"Chatbot for byggesak\" --artefact 3f2a9c --yes --json")]
pub struct NewArgs {
    /// The initiative's title
    #[arg(value_name = "TITLE")]
    pub title: String,
    /// What is being built, and for whom
    #[arg(long, default_value = "")]
    pub description: String,
    /// An artefact that belongs to it (repeatable; id or unique prefix)
    #[arg(long = "artefact", value_name = "ID")]
    pub artefacts: Vec<String>,
    /// Create it even if similar initiatives or artefacts exist
    #[arg(long)]
    pub yes: bool,
    /// Print the initiative as JSON
    #[arg(long)]
    pub json: bool,
}

/// List the initiatives this node knows, newest first.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning initiative list
  allmenning initiative list --json | jq -r '.[] | select(.status == \"active\") | .title'")]
pub struct ListArgs {
    /// Print the initiatives as a JSON array
    #[arg(long)]
    pub json: bool,
}

/// Show one initiative: captain, participants, status and artefacts.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Example:
  allmenning initiative show 5be1")]
pub struct ShowArgs {
    /// The initiative's id, or a unique prefix of it
    #[arg(value_name = "ID")]
    pub id: String,
    /// Print the initiative as JSON
    #[arg(long)]
    pub json: bool,
}

/// Join an initiative led by another organisation, as a participant.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Example:
  allmenning initiative join 5be1")]
pub struct JoinArgs {
    /// The initiative's id, or a unique prefix of it
    #[arg(value_name = "ID")]
    pub id: String,
    /// Print the initiative as JSON
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: &Ctx, command: InitiativeCommand) -> anyhow::Result<()> {
    match command {
        InitiativeCommand::New(args) => new(ctx, args).await,
        InitiativeCommand::List(args) => list(ctx, args).await,
        InitiativeCommand::Show(args) => show(ctx, args.id, args.json).await,
        InitiativeCommand::Join(args) => join(ctx, args).await,
        InitiativeCommand::Update(args) => update(ctx, args).await,
    }
}

/// The words of `text` that carry meaning, cut to a crude stem so that inflected forms
/// ("søknad", "søknaden") compare equal.
fn significant_words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4)
        .map(|w| w.to_lowercase().chars().take(7).collect())
        .collect()
}

/// Whether two titles are about the same thing: at least half the meaningful words of the
/// shorter one also occur in the other.
pub(crate) fn similar_titles(a: &str, b: &str) -> bool {
    let (a, b) = (significant_words(a), significant_words(b));
    let smaller = a.len().min(b.len());
    smaller > 0 && a.intersection(&b).count() * 2 >= smaller
}

async fn new(ctx: &Ctx, args: NewArgs) -> anyhow::Result<()> {
    if args.title.trim().is_empty() {
        return Err(CliError::Usage {
            message: "an initiative needs a title".into(),
            hint: None,
        }
        .into());
    }
    let mut client = ctx.client().await?;
    if !args.yes {
        let initiatives: Vec<InitiativeInfo> = client
            .initiatives()
            .await?
            .into_iter()
            .filter(|i| similar_titles(&i.title, &args.title))
            .collect();
        let hits: Vec<_> = client
            .search(&args.title, 20)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|h| similar_titles(&h.title, &args.title))
            .take(5)
            .collect();
        if !initiatives.is_empty() || !hits.is_empty() {
            let mut err = std::io::stderr().lock();
            writeln!(err, "Similar work exists already:")?;
            for i in &initiatives {
                writeln!(
                    err,
                    "  initiative {}  {} (captain {}, {} participant(s)); join it with `allmenning initiative join {}`",
                    short(&i.id),
                    i.title,
                    i.captain_name,
                    i.participants.len(),
                    short(&i.id)
                )?;
            }
            for h in &hits {
                writeln!(
                    err,
                    "  artefact   {}  {} ({}, {})",
                    short(&h.id),
                    h.title,
                    h.kind,
                    h.owner_name.as_deref().unwrap_or("?")
                )?;
            }
            drop(err);
            confirm(
                &format!("Create \"{}\" anyway?", args.title),
                (
                    "not created: similar initiatives or artefacts exist (listed above)".into(),
                    "join one of them, or pass --yes to create it anyway",
                ),
                "not created",
            )?;
        }
    }
    let info = client
        .initiative_new(&args.title, &args.description, args.artefacts)
        .await?;
    if args.json {
        return print_json(&info);
    }
    outln!(
        "initiative {} created; {} is its captain",
        short(&info.id),
        info.captain_name
    )?;
    outln!(
        "others join with `allmenning initiative join {}`",
        short(&info.id)
    )?;
    Ok(())
}

async fn list(ctx: &Ctx, args: ListArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let initiatives = client.initiatives().await?;
    if args.json {
        return print_json(&initiatives);
    }
    if initiatives.is_empty() {
        outln!("no initiatives yet: announce one with `allmenning initiative new TITLE`")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = initiatives
        .iter()
        .map(|i| {
            vec![
                short(&i.id).to_string(),
                i.status.clone(),
                i.captain_name.clone(),
                i.participants.len().to_string(),
                format_time(i.updated),
                i.title.clone(),
            ]
        })
        .collect();
    print(&table(
        &[
            "ID",
            "STATUS",
            "CAPTAIN",
            "PARTICIPANTS",
            "UPDATED",
            "TITLE",
        ],
        &rows,
    ))
}

fn print_initiative(i: &InitiativeInfo) -> anyhow::Result<()> {
    outln!("{}", i.title)?;
    outln!("id:           {}", i.id)?;
    outln!("status:       {}", i.status)?;
    outln!("captain:      {} ({})", i.captain_name, i.captain)?;
    if i.participants.is_empty() {
        outln!("participants: none yet")?;
    } else {
        for (k, p) in i.participants.iter().enumerate() {
            let label = if k == 0 {
                "participants: "
            } else {
                "              "
            };
            outln!("{label}{} ({})", p.name, p.org)?;
        }
    }
    for (k, a) in i.artefacts.iter().enumerate() {
        let label = if k == 0 {
            "artefacts:    "
        } else {
            "              "
        };
        outln!("{label}{}  {} ({})", short(&a.id), a.title, a.kind)?;
    }
    outln!("announced:    {}", format_time(i.created))?;
    if !i.description.is_empty() {
        outln!()?;
        outln!("{}", i.description)?;
    }
    Ok(())
}

async fn show(ctx: &Ctx, id: String, json: bool) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let info = client.initiative_show(&id).await?;
    if json {
        return print_json(&info);
    }
    print_initiative(&info)
}

async fn update(ctx: &Ctx, args: UpdateArgs) -> anyhow::Result<()> {
    if args.status.is_none() && args.artefacts.is_empty() {
        return Err(CliError::Usage {
            message: "nothing to change: give --status or --artefact".into(),
            hint: None,
        }
        .into());
    }
    let mut client = ctx.client().await?;
    let info = client
        .initiative_update(&args.id, args.status, args.artefacts)
        .await?;
    if args.json {
        return print_json(&info);
    }
    print_initiative(&info)
}

async fn join(ctx: &Ctx, args: JoinArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let info = client.initiative_join(&args.id).await?;
    if args.json {
        return print_json(&info);
    }
    outln!(
        "joined \"{}\", led by {} ({} participant(s) now)",
        info.title,
        info.captain_name,
        info.participants.len()
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::similar_titles;

    #[test]
    fn inflected_and_reordered_titles_are_similar_and_unrelated_ones_are_not() {
        assert!(similar_titles(
            "Digital søknad om redusert foreldrebetaling",
            "Redusert foreldrebetaling – digital søknaden"
        ));
        assert!(similar_titles("Chatbot for byggesak", "Byggesak chatbot"));
        assert!(!similar_titles(
            "Digital søknad om redusert foreldrebetaling",
            "Chatbot for byggesak"
        ));
        assert!(!similar_titles("", "Chatbot for byggesak"));
    }
}
