//! `allmenning import`: publish a repository that already describes itself.
//!
//! Much public-sector code already carries a publiccode.yml. Asking for its title, description
//! and tags again on the command line invites the two to drift apart, so `import` reads them
//! from the file and publishes through the same code path as `publish`.

use super::publish::{kind_parser, publish_path, report_published, PublishRequest, SourceArgs};
use super::Ctx;
use crate::error::CliError;
use crate::output::{print_json, stderr_is_terminal};
use allmenning_protocol::export::{parse_publiccode, ImportedMetadata, MAX_PUBLICCODE_BYTES};
use std::path::{Path, PathBuf};

/// Publish a directory as a new artefact, taking its metadata from its publiccode.yml.
///
/// Like `publish`, but when PATH is a directory holding publiccode.yml (the metadata standard
/// for public software), its name becomes the title, its description (bokmål, else English,
/// else any language) the description, its categories the tags, and the kind is `code`.
/// --kind, --title, --description and --tag override what the file says (tags given on the
/// command line replace the file's). Without a publiccode.yml, --kind and --title are
/// required, as for `publish`. The file itself is published with the rest.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning import ./foreldrebetaling
  allmenning import ./foreldrebetaling --kind integration --json
  allmenning import ./saksbehandling --tag arkiv --tag noark --share-with 942110464
  allmenning import ./skript --kind code --title \"Skript for arkivuttrekk\"   # no publiccode.yml")]
pub struct ImportArgs {
    /// The directory (or file) to publish
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// What the artefact is (default: code when PATH has a publiccode.yml)
    #[arg(long, value_name = "KIND", ignore_case = true, value_parser = kind_parser())]
    pub kind: Option<String>,
    /// A short title (default: the publiccode.yml's name)
    #[arg(long, value_name = "TITLE")]
    pub title: Option<String>,
    /// A longer description (default: the publiccode.yml's description)
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// A tag to find it by (repeatable; default: the publiccode.yml's categories)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Print the result as JSON (the Published reply, plus `metadata_from`)
    #[arg(long)]
    pub json: bool,
}

/// The file names `import` reads, in order; the standard's name first.
const PUBLICCODE_NAMES: [&str; 2] = ["publiccode.yml", "publiccode.yaml"];

pub async fn run(ctx: &Ctx, args: ImportArgs) -> anyhow::Result<()> {
    let declared = read_publiccode(&args.path)?;
    let request = merge(&args, declared.as_ref().map(|(_, metadata)| metadata))?;
    let outcome = publish_path(ctx, request).await?;
    let metadata_from = declared.as_ref().map(|(name, _)| *name);
    if args.json {
        let mut report = serde_json::to_value(&outcome.published)?;
        if let Some(object) = report.as_object_mut() {
            object.insert("metadata_from".into(), serde_json::json!(metadata_from));
        }
        return print_json(&report);
    }
    report_published(&outcome)?;
    if let (Some(name), true) = (metadata_from, stderr_is_terminal()) {
        eprintln!("took the metadata from {}", args.path.join(name).display());
    }
    Ok(())
}

/// The publiccode.yml in directory `path`, parsed, with the name it was found under; `None`
/// when `path` is a file or holds none.
fn read_publiccode(path: &Path) -> anyhow::Result<Option<(&'static str, ImportedMetadata)>> {
    if !path.is_dir() {
        return Ok(None);
    }
    for name in PUBLICCODE_NAMES {
        let file = path.join(name);
        let meta = match std::fs::metadata(&file) {
            Ok(meta) if meta.is_file() => meta,
            _ => continue,
        };
        let failed = |message: String| -> anyhow::Error {
            CliError::failed(
                message,
                "fix the file, or publish without reading it: `allmenning publish PATH --kind KIND --title TITLE`",
            )
            .into()
        };
        if meta.len() > MAX_PUBLICCODE_BYTES as u64 {
            return Err(failed(format!(
                "{} is too large to be a publiccode.yml ({} bytes)",
                file.display(),
                meta.len()
            )));
        }
        let bytes = std::fs::read(&file)
            .map_err(|e| failed(format!("cannot read {}: {e}", file.display())))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| failed(format!("{} is not UTF-8 text", file.display())))?;
        let metadata =
            parse_publiccode(&text).map_err(|e| failed(format!("{}: {e}", file.display())))?;
        return Ok(Some((name, metadata)));
    }
    Ok(None)
}

/// What to publish: the flags, and what the publiccode.yml says where they are silent.
fn merge(args: &ImportArgs, declared: Option<&ImportedMetadata>) -> anyhow::Result<PublishRequest> {
    let usage = |message: &str| -> anyhow::Error {
        CliError::Usage {
            message: message.to_string(),
            hint: Some(format!(
                "{} has no publiccode.yml to take it from",
                args.path.display()
            )),
        }
        .into()
    };
    let kind = match (&args.kind, declared) {
        (Some(kind), _) => kind.clone(),
        (None, Some(_)) => "code".to_string(),
        (None, None) => return Err(usage("--kind is required")),
    };
    let title = match (&args.title, declared) {
        (Some(title), _) => title.clone(),
        (None, Some(metadata)) => metadata.name.clone(),
        (None, None) => return Err(usage("--title is required")),
    };
    let description = match (&args.description, declared) {
        (Some(description), _) => description.clone(),
        (None, Some(metadata)) => metadata.description.clone(),
        (None, None) => String::new(),
    };
    let tags = match declared {
        Some(metadata) if args.tags.is_empty() => metadata.tags.clone(),
        _ => args.tags.clone(),
    };
    Ok(PublishRequest {
        path: args.path.clone(),
        kind,
        title,
        description,
        tags,
        source: args.source.clone(),
        quiet: args.json,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(path: &Path) -> ImportArgs {
        ImportArgs {
            path: path.to_path_buf(),
            kind: None,
            title: None,
            description: None,
            tags: Vec::new(),
            source: SourceArgs::default(),
            json: false,
        }
    }

    const PUBLICCODE: &str = "\
publiccodeYmlVersion: '0.4'
name: Saksbehandling
url: https://git.example.no/saksbehandling.git
categories: [document-management, workflow-management]
description:
  en:
    shortDescription: Case handling
  nb:
    shortDescription: Saksbehandling for kommuner
    longDescription: Saksbehandling for kommuner, med arkiv.
";

    #[test]
    fn metadata_comes_from_publiccode_yml_and_flags_override_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("publiccode.yml"), PUBLICCODE).unwrap();
        let declared = read_publiccode(dir.path()).unwrap().expect("found");
        assert_eq!(declared.0, "publiccode.yml");
        let request = merge(&args(dir.path()), Some(&declared.1)).unwrap();
        assert_eq!(request.kind, "code");
        assert_eq!(request.title, "Saksbehandling");
        assert_eq!(
            request.description,
            "Saksbehandling for kommuner, med arkiv."
        );
        assert_eq!(request.tags, ["document-management", "workflow-management"]);

        let mut explicit = args(dir.path());
        explicit.kind = Some("integration".into());
        explicit.title = Some("Eget navn".into());
        explicit.description = Some(String::new());
        explicit.tags = vec!["arkiv".into()];
        let request = merge(&explicit, Some(&declared.1)).unwrap();
        assert_eq!(request.kind, "integration");
        assert_eq!(request.title, "Eget navn");
        assert_eq!(request.description, "");
        assert_eq!(request.tags, ["arkiv"]);
    }

    #[test]
    fn without_publiccode_yml_kind_and_title_are_required() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("README.md"), "# Hei").unwrap();
        assert!(read_publiccode(dir.path()).unwrap().is_none());
        assert!(read_publiccode(&dir.path().join("README.md"))
            .unwrap()
            .is_none());
        let err = merge(&args(dir.path()), None).unwrap_err();
        assert_eq!(crate::error::classify(&err).0, crate::error::exit::USAGE);
        let mut with_kind = args(dir.path());
        with_kind.kind = Some("code".into());
        assert!(merge(&with_kind, None)
            .unwrap_err()
            .to_string()
            .contains("--title"));
        with_kind.title = Some("Tittel".into());
        assert_eq!(merge(&with_kind, None).unwrap().description, "");
    }

    #[test]
    fn a_broken_publiccode_yml_is_an_error_that_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("publiccode.yml"), "name: [unclosed").unwrap();
        let err = read_publiccode(dir.path()).unwrap_err();
        assert!(err.to_string().contains("publiccode.yml"), "{err}");
        assert_eq!(crate::error::classify(&err).0, crate::error::exit::ERROR);
        std::fs::write(dir.path().join("publiccode.yml"), b"name: \xff\xfe").unwrap();
        assert!(read_publiccode(dir.path())
            .unwrap_err()
            .to_string()
            .contains("UTF-8"));
        std::fs::write(
            dir.path().join("publiccode.yml"),
            "url: https://x.no/y.git\n",
        )
        .unwrap();
        assert!(read_publiccode(dir.path())
            .unwrap_err()
            .to_string()
            .contains("name"));
    }
}
