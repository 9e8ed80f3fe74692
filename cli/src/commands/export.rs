//! `allmenning export`: an artefact's files, or its description for catalogues elsewhere.
//!
//! Nothing is locked in: `--format files` writes the plain files; `--format publiccode` writes
//! the publiccode.yml that European software catalogues read (code and integrations);
//! `--format dcat` writes the DCAT-AP-NO description that data.norge.no reads (datasets and
//! data models). The descriptions are made by `allmenning_protocol::export` from the
//! artefact's catalogue entry and checked against the standards' mandatory parts before they
//! are written; what is missing is reported, not invented.

use super::Ctx;
use crate::client::Client;
use crate::commands::pull::DisplacedFile;
use crate::error::CliError;
use crate::outln;
use crate::output::{print, print_json, short, warn};
use crate::walk;
use crate::workdir::{displaced_warning, ensure_empty_dir, validate_path};
use allmenning_node::control::{ArtefactDetail, FilesAt};
use allmenning_protocol::artefact::path::disk_layout;
use allmenning_protocol::catalog::{CatalogEndorsement, CatalogEntry, OrgRef, Visibility};
use allmenning_protocol::export::{
    dcat_jsonld, publiccode_dropped_tags, publiccode_yml, validate_dcat_ap_no, validate_publiccode,
    DcatContext, DistributionFile, ExportError, PubliccodeContact, PubliccodeContext, DCAT_FILE,
    DCAT_KINDS, PUBLICCODE_FILE, PUBLICCODE_KINDS,
};
use allmenning_protocol::identity::OrgNumber;
use allmenning_protocol::ArtefactId;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Write an artefact's files as plain files, or describe it for catalogues elsewhere.
///
/// --format files (the default) writes the current files into DIR, which must be new or empty:
/// no metadata, no .allmenning/ directory, a plain copy to archive, hand over or import
/// elsewhere. With --at VERSION, the files as they were at that version: a change hash as
/// `allmenning log` prints it, a unique prefix of one, or `endorsed`. A version with conflicts
/// is refused (exit code 5) unless --allow-conflicts.
///
/// --format publiccode writes DIR/publiccode.yml (standard 0.4) for a code or integration
/// artefact; --format dcat writes DIR/dataset.jsonld (DCAT-AP-NO, JSON-LD) for a dataset or
/// data model. Without DIR they print the document on stdout. Both are checked against the
/// standard's mandatory fields, and anything missing is reported on stderr (and under
/// `problems` with --json). What the catalogue does not know comes from flags or from the
/// artefact's own files: the licence and repository URL from a publiccode.yml, Cargo.toml,
/// package.json, SPDX-License-Identifier lines or a LICENSE file in the artefact. A
/// publiccode.yml needs a licence; without one the export fails. DCAT-AP-NO needs a contact
/// e-mail address (--contact-email).
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning export 3f2a9c /tmp/foreldrebetaling && tar czf foreldrebetaling.tgz -C /tmp foreldrebetaling
  allmenning export 3f2a9c /tmp/fb-godkjent --at endorsed      # the version a curator endorsed
  allmenning export 3f2a9c --format publiccode > publiccode.yml
  allmenning export 3f2a9c --format publiccode ./repo --license EUPL-1.2 \\
      --url https://git.bergen.kommune.no/foreldrebetaling.git --contact-name \"Kari Nordmann\"
  allmenning export 7be01d --format dcat ./katalog --contact-email postmottak@bergen.kommune.no \\
      --license NLOD_2_0 --json")]
pub struct ExportArgs {
    /// The artefact's id, or a unique prefix of it
    #[arg(value_name = "ID")]
    pub id: String,
    /// The directory to write into (for files: new or empty; for publiccode and dcat: optional,
    /// stdout when left out)
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// What to write
    #[arg(long, value_enum, default_value_t = ExportFormat::Files)]
    pub format: ExportFormat,
    /// The version to export: a change hash, a unique prefix of one, or `endorsed` (default:
    /// the latest)
    #[arg(long, value_name = "VERSION")]
    pub at: Option<String>,
    /// publiccode: the SPDX licence (e.g. EUPL-1.2); dcat: the distributions' licence, a code of
    /// the EU licence vocabulary (CC_BY_4_0, NLOD_2_0) or CC-BY-4.0, CC0-1.0, NLOD-2.0, ...
    #[arg(long, value_name = "LICENCE")]
    pub license: Option<String>,
    /// publiccode: the source repository's URL (default: what the artefact declares, else
    /// allmenning://ID)
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// publiccode: the released version (softwareVersion)
    #[arg(long, value_name = "VERSION")]
    pub software_version: Option<String>,
    /// publiccode: a person to name as technical contact (default: the organisations); dcat:
    /// the contact point's name (default: the owner organisation)
    #[arg(long, value_name = "NAME")]
    pub contact_name: Option<String>,
    /// publiccode and dcat: the contact's e-mail address (mandatory in DCAT-AP-NO)
    #[arg(long, value_name = "EMAIL")]
    pub contact_email: Option<String>,
    /// publiccode and dcat: replace DIR/publiccode.yml or DIR/dataset.jsonld if it exists
    #[arg(long)]
    pub force: bool,
    /// files: export a version with conflicts anyway (text files with conflict markers, other
    /// sides next to the files)
    #[arg(long)]
    pub allow_conflicts: bool,
    /// Print the result as JSON (with publiccode and dcat, only together with DIR)
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// The artefact's files, as plain files
    Files,
    /// publiccode.yml for code and integrations
    Publiccode,
    /// DCAT-AP-NO JSON-LD for datasets and data models
    Dcat,
}

impl ExportFormat {
    fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Files => "files",
            ExportFormat::Publiccode => "publiccode",
            ExportFormat::Dcat => "dcat",
        }
    }
}

#[derive(serde::Serialize)]
struct Exported {
    id: String,
    heads: Vec<String>,
    format: &'static str,
    dir: String,
    files: usize,
    bytes: u64,
    /// Files written under another name because their paths clash with others.
    displaced: Vec<DisplacedFile>,
}

#[derive(serde::Serialize)]
struct Described {
    id: String,
    heads: Vec<String>,
    format: &'static str,
    dir: String,
    /// The file written.
    path: String,
    /// What the document lacks of the standard's mandatory parts (empty when complete).
    problems: Vec<String>,
    /// Tags the format has no place for (publiccode.yml takes only its category list).
    dropped_tags: Vec<String>,
}

pub async fn run(ctx: &Ctx, args: ExportArgs) -> anyhow::Result<()> {
    match args.format {
        ExportFormat::Files => export_files(ctx, args).await,
        ExportFormat::Publiccode | ExportFormat::Dcat => describe(ctx, args).await,
    }
}

async fn export_files(ctx: &Ctx, args: ExportArgs) -> anyhow::Result<()> {
    let description_flags = [
        ("--license", args.license.is_some()),
        ("--url", args.url.is_some()),
        ("--software-version", args.software_version.is_some()),
        ("--contact-name", args.contact_name.is_some()),
        ("--contact-email", args.contact_email.is_some()),
        ("--force", args.force),
    ];
    if let Some((flag, _)) = description_flags.iter().find(|(_, given)| *given) {
        return Err(CliError::Usage {
            message: format!("{flag} applies only to --format publiccode or dcat"),
            hint: Some("plain files carry no metadata to fill in".into()),
        }
        .into());
    }
    let Some(dir) = args.dir.clone() else {
        return Err(CliError::Usage {
            message: "DIR is required with --format files".into(),
            hint: Some(
                "name a new or empty directory; only --format publiccode and dcat print to stdout"
                    .into(),
            ),
        }
        .into());
    };
    let mut client = ctx.client().await?;
    let id = client.resolve(&args.id).await?;
    let files = client.files_at_version(&id, args.at.as_deref()).await?;
    if !files.conflicts.is_empty() && !args.allow_conflicts {
        let list: Vec<String> = files
            .conflicts
            .iter()
            .map(|c| format!("{} ({})", c.path, c.kind))
            .collect();
        return Err(CliError::Unresolved {
            message: format!(
                "export refused: this version has {} conflicted file{}: {}",
                list.len(),
                if list.len() == 1 { "" } else { "s" },
                list.join(", ")
            ),
            hint: format!(
                "resolve them first (`allmenning checkout {} DIR`, edit, commit; or `allmenning resolve`), or export them as they are with --allow-conflicts",
                short(&id)
            ),
        }
        .into());
    }
    for file in &files.files {
        validate_path(&file.path)?;
    }
    // Paths that clash (README.md and readme.md from concurrent changes) go where the
    // protocol's layout puts them, the same on every machine.
    let layout = disk_layout(files.files.iter().map(|f| f.path.as_str()));
    ensure_empty_dir(&dir)?;
    let mut bytes = 0;
    for file in &files.files {
        let target = layout
            .disk_path(&file.path)
            .split('/')
            .fold(dir.clone(), |p, part| p.join(part));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&target, &file.content.0)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", target.display()))?;
        walk::set_executable(&target, file.executable)
            .map_err(|e| anyhow::anyhow!("cannot set permissions of {}: {e}", target.display()))?;
        bytes += file.content.0.len() as u64;
    }
    for c in &files.conflicts {
        // Asked for with --allow-conflicts: still say what the copy holds.
        warn(&format!(
            "exported {} in conflict ({}): {}",
            c.path,
            c.kind,
            if c.kind == "text" {
                "the file holds conflict markers".to_string()
            } else {
                let beside: Vec<&str> = c.sides.iter().filter_map(|s| s.file.as_deref()).collect();
                format!("other sides are in {}", beside.join(", "))
            }
        ));
    }
    for displaced in layout.displaced() {
        warn(&displaced_warning(displaced));
    }
    let report = Exported {
        id: files.id.clone(),
        heads: files.heads.clone(),
        format: ExportFormat::Files.as_str(),
        dir: dir.display().to_string(),
        files: files.files.len(),
        bytes,
        displaced: layout
            .displaced()
            .iter()
            .cloned()
            .map(DisplacedFile::from)
            .collect(),
    };
    if args.json {
        return print_json(&report);
    }
    outln!(
        "exported {} files of {} into {}",
        report.files,
        short(&report.id),
        report.dir
    )?;
    Ok(())
}

/// `--format publiccode` and `--format dcat`.
async fn describe(ctx: &Ctx, args: ExportArgs) -> anyhow::Result<()> {
    if args.json && args.dir.is_none() {
        return Err(CliError::Usage {
            message: "--json needs DIR with --format publiccode or dcat".into(),
            hint: Some("without DIR the document itself is printed on stdout".into()),
        }
        .into());
    }
    let (file_name, kinds) = match args.format {
        ExportFormat::Dcat => (DCAT_FILE, &DCAT_KINDS),
        _ => (PUBLICCODE_FILE, &PUBLICCODE_KINDS),
    };
    let target = args.dir.as_ref().map(|dir| dir.join(file_name));
    if let Some(target) = &target {
        if target.exists() && !args.force {
            return Err(CliError::failed(
                format!("{} exists already", target.display()),
                "pass --force to replace it",
            )
            .into());
        }
    }
    let mut client = ctx.client().await?;
    let id = client.resolve(&args.id).await?;
    let detail = client.show(&id).await?;
    if !kinds.contains(&detail.kind.as_str()) {
        // Refuse before fetching every file's content.
        return Err(export_error(ExportError::NotApplicable {
            format: if args.format == ExportFormat::Dcat {
                "DCAT-AP-NO"
            } else {
                "publiccode.yml"
            },
            kind: detail.kind.clone(),
            applies_to: kinds.join(", "),
        }));
    }
    let entry = catalog_entry(&mut client, &detail).await?;
    let files = client.files_at_version(&id, args.at.as_deref()).await?;
    let (document, problems, dropped_tags) = match args.format {
        ExportFormat::Dcat => {
            let context = dcat_context(&args, &files);
            let value = dcat_jsonld(&entry, &context).map_err(export_error)?;
            let problems = validate_dcat_ap_no(&value);
            (format!("{:#}\n", value), problems, Vec::new())
        }
        _ => {
            let context = publiccode_context(&args, &files);
            let defaulted_url = context.url.is_none();
            let yml = publiccode_yml(&entry, &context).map_err(export_error)?;
            let problems = validate_publiccode(&yml);
            if defaulted_url && !args.json {
                eprintln!(
                    "note: url is allmenning://{}; catalogues that visit the repository need --url",
                    entry.id
                );
            }
            (yml, problems, publiccode_dropped_tags(&entry))
        }
    };
    for problem in &problems {
        eprintln!("warning: {problem}");
    }
    if !dropped_tags.is_empty() && !args.json {
        eprintln!(
            "note: publiccode.yml takes tags only from its category list; left out: {}",
            dropped_tags.join(", ")
        );
    }
    let (Some(dir), Some(target)) = (args.dir.as_ref(), target.as_ref()) else {
        return print(&document);
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(target, document.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", target.display()))?;
    let report = Described {
        id: files.id.clone(),
        heads: files.heads.clone(),
        format: args.format.as_str(),
        dir: dir.display().to_string(),
        path: target.display().to_string(),
        problems,
        dropped_tags,
    };
    if args.json {
        return print_json(&report);
    }
    outln!(
        "wrote {} for {}{}",
        report.path,
        short(&report.id),
        if report.problems.is_empty() {
            String::new()
        } else {
            format!(" ({} problems, see above)", report.problems.len())
        }
    )?;
    Ok(())
}

fn export_error(error: ExportError) -> anyhow::Error {
    let hint = match &error {
        ExportError::NotApplicable { .. } => Some(
            "--format publiccode describes code and integrations, --format dcat datasets and data models; --format files works for everything"
                .to_string(),
        ),
        ExportError::NoLicense => Some(
            "pass --license with an SPDX expression (e.g. --license EUPL-1.2), or give the artefact a LICENSE file or SPDX-License-Identifier lines"
                .to_string(),
        ),
        _ => None,
    };
    match error {
        ExportError::InvalidContext { .. } => CliError::Usage {
            message: error.to_string(),
            hint,
        }
        .into(),
        _ => CliError::Failed {
            message: error.to_string(),
            hint,
        }
        .into(),
    }
}

fn nonempty(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// What the artefact's files declare, overridden by the flags.
fn publiccode_context(args: &ExportArgs, files: &FilesAt) -> PubliccodeContext {
    let mut context = PubliccodeContext::from_files(
        files
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.content.0.as_slice())),
    );
    context.url = nonempty(&args.url).or(context.url);
    context.license = nonempty(&args.license).or(context.license);
    context.software_version = nonempty(&args.software_version).or(context.software_version);
    if let Some(name) = nonempty(&args.contact_name) {
        context.contact = Some(PubliccodeContact {
            name,
            email: nonempty(&args.contact_email),
            phone: None,
        });
    } else if let (Some(contact), Some(email)) =
        (context.contact.as_mut(), nonempty(&args.contact_email))
    {
        contact.email = Some(email);
    }
    context
}

fn dcat_context(args: &ExportArgs, files: &FilesAt) -> DcatContext {
    DcatContext {
        contact_email: nonempty(&args.contact_email),
        contact_name: nonempty(&args.contact_name),
        files: files
            .files
            .iter()
            .map(|f| DistributionFile {
                path: f.path.clone(),
                size: f.content.0.len() as u64,
            })
            .collect(),
        landing_page: None,
        license: nonempty(&args.license),
    }
}

/// The artefact's catalogue entry: from the node's catalogue when it keeps one, else built
/// from `show` by [`catalog_entry_from_show`].
async fn catalog_entry(
    client: &mut Client,
    detail: &ArtefactDetail,
) -> anyhow::Result<CatalogEntry> {
    if let Ok(entries) = client
        .catalog(Some(detail.kind.clone()), None, None, None)
        .await
    {
        if let Some(entry) = entries.into_iter().find(|e| e.id.to_hex() == detail.id) {
            return Ok(entry);
        }
    }
    let updated = client
        .list()
        .await?
        .into_iter()
        .find(|row| row.id == detail.id)
        .map(|row| row.updated);
    // Names of maintainers, when this node knows them (inside a network); optional.
    let names: BTreeMap<String, String> = if detail.maintainers.is_empty() {
        BTreeMap::new()
    } else {
        client
            .org_show(None)
            .await
            .map(|orgs| orgs.into_iter().map(|o| (o.number, o.name)).collect())
            .unwrap_or_default()
    };
    catalog_entry_from_show(detail, updated, &names)
}

/// A catalogue entry from what `show` tells: everything but the LOS theme and lineage, which
/// `show` does not carry (they stay `None`).
pub fn catalog_entry_from_show(
    detail: &ArtefactDetail,
    updated: Option<i64>,
    names: &BTreeMap<String, String>,
) -> anyhow::Result<CatalogEntry> {
    let id: ArtefactId = detail
        .id
        .parse()
        .map_err(|e| anyhow::anyhow!("the node sent a malformed artefact id: {e}"))?;
    let org_ref = |number: &String| {
        number.parse::<OrgNumber>().ok().map(|org| OrgRef {
            org,
            name: names.get(number).cloned(),
        })
    };
    let endorsements = detail
        .endorsements
        .iter()
        .filter_map(|e| {
            Some(CatalogEndorsement {
                curator: e.curator.parse().ok()?,
                curator_name: e.curator_name.clone(),
                status: e.status.parse().ok()?,
                heads: e.heads.clone(),
                current: e.current,
                changes_since: e.changes_since,
                note: e.note.clone(),
                time: e.time,
            })
        })
        .collect();
    let visibility = if detail.visibility == "restricted" {
        Visibility::Restricted {
            readers: detail.readers.iter().filter_map(org_ref).collect(),
        }
    } else {
        Visibility::Public
    };
    Ok(CatalogEntry {
        id,
        title: detail.title.clone(),
        kind: detail.kind.clone(),
        description: detail.description.clone(),
        tags: detail.tags.clone(),
        owner: detail.owner.parse().ok(),
        owner_name: Some(detail.owner_name.trim().to_string()).filter(|n| !n.is_empty()),
        maintainers: detail.maintainers.iter().filter_map(org_ref).collect(),
        endorsements,
        adopters: detail
            .adopters
            .iter()
            .filter_map(|a| {
                Some(allmenning_protocol::catalog::OrgRef {
                    org: a.org.parse().ok()?,
                    name: Some(a.name.clone()),
                })
            })
            .collect(),
        based_on: detail
            .adaptation
            .as_ref()
            .and_then(|a| a.based_on.parse().ok()),
        based_on_version: detail
            .adaptation
            .as_ref()
            .map(|a| a.based_on_version.clone())
            .unwrap_or_default(),
        los_theme: None,
        visibility,
        created: detail.created,
        updated: updated.unwrap_or(detail.created).max(detail.created),
        head_count: detail.heads.len(),
        file_count: detail.files.len(),
        size: detail.files.iter().map(|f| f.size).sum(),
        conflicts: detail.conflicts.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use allmenning_node::control::{EndorsementInfo, FileInfo};

    fn detail() -> ArtefactDetail {
        ArtefactDetail {
            id: "ab".repeat(16),
            title: "Foreldrebetaling".into(),
            kind: "integration".into(),
            description: "Inntektsoppslag".into(),
            tags: vec!["barnehage".into()],
            owner: "964338531".into(),
            owner_name: "Bergen kommune".into(),
            created: 1_795_953_600,
            heads: vec!["cd".repeat(32)],
            changes: 3,
            files: vec![FileInfo {
                path: "README.md".into(),
                size: 10,
                storage: "blob".into(),
                conflict: None,
            }],
            complete: true,
            maintainers: vec!["942110464".into(), "not a number".into()],
            visibility: "restricted".into(),
            readers: vec!["974760673".into()],
            endorsements: vec![EndorsementInfo {
                status: "approved".into(),
                curator: "971032146".into(),
                curator_name: "KS".into(),
                heads: vec!["cd".repeat(32)],
                note: String::new(),
                time: 1_795_953_600,
                seq: 1,
                current: true,
                changes_since: 0,
            }],
            adaptation: None,
            adopters: Vec::new(),
            conflicts: Vec::new(),
            at: None,
            refused: Vec::new(),
            access_revoked: false,
        }
    }

    #[test]
    fn show_data_becomes_a_catalogue_entry() {
        let names = BTreeMap::from([("942110464".to_string(), "Trondheim kommune".to_string())]);
        let entry = catalog_entry_from_show(&detail(), Some(1_796_000_000), &names).unwrap();
        assert_eq!(entry.id.to_hex(), "ab".repeat(16));
        assert_eq!(
            entry.owner.map(|o| o.to_string()).as_deref(),
            Some("964338531")
        );
        assert_eq!(entry.owner_name.as_deref(), Some("Bergen kommune"));
        assert_eq!(
            entry.maintainers.len(),
            1,
            "an unreadable number is skipped"
        );
        assert_eq!(
            entry.maintainers[0].name.as_deref(),
            Some("Trondheim kommune")
        );
        assert!(
            matches!(entry.visibility, Visibility::Restricted { ref readers } if readers.len() == 1)
        );
        assert_eq!(entry.endorsements.len(), 1);
        assert!(entry.has_status(allmenning_protocol::catalog::Status::Approved));
        assert_eq!(entry.updated, 1_796_000_000);
        assert_eq!(entry.size, 10);

        let mut broken = detail();
        broken.id = "xyz".into();
        assert!(catalog_entry_from_show(&broken, None, &BTreeMap::new()).is_err());
    }

    #[test]
    fn descriptions_refuse_wrong_kinds_with_a_hint_and_bad_flags_as_usage_errors() {
        let err = export_error(ExportError::NotApplicable {
            format: "publiccode.yml",
            kind: "dpia".into(),
            applies_to: "code, integration".into(),
        });
        let (code, hint) = crate::error::classify(&err);
        assert_eq!(code, crate::error::exit::ERROR);
        assert!(hint.unwrap().contains("--format files"));
        let (code, hint) = crate::error::classify(&export_error(ExportError::NoLicense));
        assert_eq!(code, crate::error::exit::ERROR);
        assert!(hint.unwrap().contains("--license"));
        let err = export_error(ExportError::InvalidContext {
            field: "url",
            value: "x".into(),
            reason: "not a URL",
        });
        assert_eq!(crate::error::classify(&err).0, crate::error::exit::USAGE);
    }
}
