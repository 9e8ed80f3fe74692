//! publiccode.yml (standard 0.4) for code and integrations.
//!
//! How the catalogue maps onto the standard, and why (the standard's text is at
//! <https://yml.publiccode.tools>, "The Standard (core)", version 0.4):
//! - `url` must identify the source repository. The artefact's own declaration wins (a
//!   `--url`, or `repository` in its Cargo.toml / package.json, or `url` in a publiccode.yml it
//!   carries); otherwise the stable `allmenning://<id>` address, which any node resolves.
//! - `releaseDate` is the date of the newest change; `softwareVersion` only when declared.
//! - `categories` come from tags that are in the standard's category list, else from the kind
//!   (`code` → it-development, `integration` → workflow-management). Tags outside the list have
//!   no place in the core standard and are left out ([`publiccode_dropped_tags`] names them).
//! - `developmentStatus` follows the curators' verdicts in force: deprecated or withdrawn →
//!   obsolete; approved → stable; reviewed or recommended → beta; none → development.
//! - `softwareType`: code → standalone/other (the catalogue cannot tell a web app from a
//!   script), integration → standalone/backend.
//! - `description.nb`: `shortDescription` is the description's first sentence (≤ 150
//!   characters), else the title. `longDescription` (150–10 000 characters) is the description
//!   followed by a paragraph that starts with [`GENERATED_NOTE_MARKER`] and says, in bokmål,
//!   where the artefact comes from, who maintains and who endorsed it. [`parse_publiccode`]
//!   strips that paragraph again, so export → import gives back the description as written.
//! - `legal.license` must be an SPDX expression naming an open-source licence. Nothing is
//!   invented: the licence comes from the context (a flag or the artefact's files); without one
//!   export fails with [`ExportError::NoLicense`]. (`NOASSERTION` is an SPDX document value,
//!   not a licence expression, and catalogues reject it.)
//! - `maintenance.type`: obsolete → none; maintained together with other organisations →
//!   community; otherwise internal. The standard asks for *persons* as contacts. Allmenning
//!   knows organisations, so unless the context names a person, each contact is the owning or
//!   maintaining organisation by name (with itself as affiliation).
//! - `localisation`: not localisation-ready (unknown), available in `nb`;
//!   `intendedAudience`: countries `no`, scope `local-authorities`.
//! - No country section: the standard defines country sections only for the countries that
//!   have published an extension (Italy), and a `no:` key would be an unknown key.
//!
//! [`parse_publiccode`]: super::parse_publiccode

use super::publiccode_check::{is_spdx_expression, is_url, PUBLICCODE_CATEGORIES, SCOPES};
use super::publiccode_import::parse_publiccode;
use super::yaml_out::to_yaml;
use super::{artefact_url, iso_date, refuse_kind, truncate_chars, ExportError, PUBLICCODE_KINDS};
use crate::catalog::{CatalogEntry, Status};
use serde::Serialize;
use std::collections::BTreeMap;

/// The standard version written into `publiccodeYmlVersion`.
pub const PUBLICCODE_VERSION: &str = "0.4";

/// Start of the paragraph that [`publiccode_yml`] appends to the long description, and that
/// [`super::parse_publiccode`] strips again.
pub(crate) const GENERATED_NOTE_MARKER: &str = "*Delt i Allmenning:*";

const LANGUAGE: &str = "nb";
const SHORT_MAX: usize = 150;
const LONG_MIN: usize = 150;
const LONG_MAX: usize = 10_000;

/// A person to name as technical contact (publiccode.yml's `maintenance.contacts`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PubliccodeContact {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// What a publiccode.yml needs that the catalogue does not hold. Every field is optional except
/// the licence, which [`publiccode_yml`] requires.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PubliccodeContext {
    /// The source repository (`url`); default `allmenning://<id>`.
    pub url: Option<String>,
    /// SPDX licence expression (`legal.license`).
    pub license: Option<String>,
    /// `softwareVersion`, when the software has releases.
    pub software_version: Option<String>,
    /// A person to name as technical contact; default: the organisations themselves.
    pub contact: Option<PubliccodeContact>,
    /// User-visible features; default: the short description.
    pub features: Vec<String>,
    /// `platforms`; default `["web"]`.
    pub platforms: Vec<String>,
}

impl PubliccodeContext {
    /// What an artefact's own files declare: a publiccode.yml at the top (`url`, licence,
    /// version, features, first contact), `Cargo.toml` or `package.json` at the top (licence,
    /// version, repository), an `SPDX-License-Identifier:` line in any text file, or the text
    /// of a LICENSE / COPYING / LICENCE file at the top (EUPL-1.2, MIT, Apache-2.0, MPL-2.0 are
    /// recognised). Earlier sources win. Unreadable or odd files are skipped, never an error.
    pub fn from_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        let mut files: Vec<(&str, &[u8])> = files.into_iter().collect();
        files.sort_by(|a, b| a.0.cmp(b.0));
        let top = |name: &str| {
            files
                .iter()
                .find(|(path, _)| path.eq_ignore_ascii_case(name))
                .map(|(_, bytes)| *bytes)
        };
        let mut context = PubliccodeContext::default();
        let declared = ["publiccode.yml", "publiccode.yaml"]
            .into_iter()
            .find_map(top)
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .and_then(|text| parse_publiccode(text).ok());
        if let Some(declared) = declared {
            context.url = declared.url.filter(|u| is_url(u));
            context.license = declared.license.filter(|l| is_spdx_expression(l));
            context.software_version = declared.software_version;
            context.features = declared.features;
            context.contact = declared
                .contacts
                .into_iter()
                .next()
                .map(|c| PubliccodeContact {
                    name: c.name,
                    email: c.email,
                    phone: c.phone,
                });
        }
        let manifests = [
            top("Cargo.toml").map(cargo_manifest),
            top("package.json").map(npm_manifest),
        ];
        for manifest in manifests.into_iter().flatten() {
            context.license = context
                .license
                .or(manifest.license.filter(|l| is_spdx_expression(l)));
            context.software_version = context.software_version.or(manifest.version);
            context.url = context.url.or(manifest.repository.filter(|u| is_url(u)));
        }
        if context.license.is_none() {
            context.license = files
                .iter()
                .find_map(|(_, bytes)| spdx_identifier_line(bytes))
                .filter(|l| is_spdx_expression(l));
        }
        if context.license.is_none() {
            context.license = ["LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE", "COPYING"]
                .into_iter()
                .find_map(top)
                .and_then(recognise_licence_text)
                .map(str::to_string);
        }
        context
    }
}

/// The publiccode.yml (standard 0.4) describing `entry`. Refuses kinds other than code and
/// integration, and entries whose context gives no licence.
pub fn publiccode_yml(
    entry: &CatalogEntry,
    extra: &PubliccodeContext,
) -> Result<String, ExportError> {
    refuse_kind("publiccode.yml", &entry.kind, &PUBLICCODE_KINDS)?;
    let license = extra
        .license
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .ok_or(ExportError::NoLicense)?;
    if !is_spdx_expression(license) {
        return Err(ExportError::InvalidContext {
            field: "licence",
            value: license.to_string(),
            reason: "not an SPDX licence expression (e.g. EUPL-1.2, MIT OR Apache-2.0)",
        });
    }
    let url = match extra.url.as_deref().map(str::trim) {
        Some(url) if !url.is_empty() => {
            if !is_url(url) {
                return Err(ExportError::InvalidContext {
                    field: "url",
                    value: url.to_string(),
                    reason: "not a URL (scheme://...)",
                });
            }
            url.to_string()
        }
        _ => artefact_url(&entry.id),
    };
    let name = nonempty(&entry.title).unwrap_or_else(|| entry.id.to_hex());
    let short = short_description(entry);
    let features = if extra.features.iter().any(|f| !f.trim().is_empty()) {
        extra
            .features
            .iter()
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect()
    } else {
        vec![short.clone()]
    };
    let status = development_status(entry);
    let maintenance = maintenance(entry, extra, status);
    let platforms = if extra.platforms.iter().any(|p| !p.trim().is_empty()) {
        extra
            .platforms
            .iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect()
    } else {
        vec!["web".to_string()]
    };
    let mut scope: Vec<String> = vec!["local-authorities".to_string()];
    scope.extend(
        entry
            .tags
            .iter()
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| SCOPES.contains(&t.as_str()) && t != "local-authorities"),
    );
    let document = Publiccode {
        publiccode_yml_version: PUBLICCODE_VERSION.to_string(),
        name: name.clone(),
        url,
        is_based_on: entry.based_on.as_ref().map(artefact_url),
        software_version: extra.software_version.as_deref().and_then(nonempty),
        release_date: iso_date(entry.updated.max(entry.created)),
        platforms,
        categories: categories(entry),
        development_status: status,
        software_type: match entry.kind.as_str() {
            "integration" => "standalone/backend",
            _ => "standalone/other",
        },
        intended_audience: IntendedAudience {
            countries: vec!["no".to_string()],
            scope,
        },
        description: BTreeMap::from([(
            LANGUAGE.to_string(),
            Description {
                localised_name: name,
                short_description: short,
                long_description: long_description(entry),
                features,
            },
        )]),
        legal: Legal {
            license: license.to_string(),
            repo_owner: entry.owner_name.as_deref().and_then(nonempty),
        },
        maintenance,
        localisation: Localisation {
            localisation_ready: false,
            available_languages: vec![LANGUAGE.to_string()],
        },
    };
    let value =
        serde_norway::to_value(&document).map_err(|e| ExportError::Serialize(e.to_string()))?;
    Ok(to_yaml(&value))
}

/// Tags of `entry` that publiccode.yml has no place for (neither a category nor a scope), so
/// that a caller can say they were left out.
pub fn publiccode_dropped_tags(entry: &CatalogEntry) -> Vec<String> {
    entry
        .tags
        .iter()
        .filter(|t| {
            let t = t.trim().to_ascii_lowercase();
            !PUBLICCODE_CATEGORIES.contains(&t.as_str()) && !SCOPES.contains(&t.as_str())
        })
        .cloned()
        .collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Publiccode {
    publiccode_yml_version: String,
    name: String,
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_based_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    software_version: Option<String>,
    release_date: String,
    platforms: Vec<String>,
    categories: Vec<String>,
    development_status: &'static str,
    software_type: &'static str,
    intended_audience: IntendedAudience,
    description: BTreeMap<String, Description>,
    legal: Legal,
    maintenance: Maintenance,
    localisation: Localisation,
}

#[derive(Serialize)]
struct IntendedAudience {
    countries: Vec<String>,
    scope: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Description {
    localised_name: String,
    short_description: String,
    long_description: String,
    features: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Legal {
    license: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    repo_owner: Option<String>,
}

#[derive(Serialize)]
struct Maintenance {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    contacts: Vec<Contact>,
}

#[derive(Serialize)]
struct Contact {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    affiliation: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Localisation {
    localisation_ready: bool,
    available_languages: Vec<String>,
}

fn nonempty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn categories(entry: &CatalogEntry) -> Vec<String> {
    let mut categories: Vec<String> = Vec::new();
    for tag in &entry.tags {
        let tag = tag.trim().to_ascii_lowercase();
        if PUBLICCODE_CATEGORIES.contains(&tag.as_str()) && !categories.contains(&tag) {
            categories.push(tag);
        }
    }
    if categories.is_empty() {
        let by_kind = match entry.kind.as_str() {
            "integration" => "workflow-management",
            _ => "it-development",
        };
        categories.push(by_kind.to_string());
    }
    categories
}

fn development_status(entry: &CatalogEntry) -> &'static str {
    if entry.has_status(Status::Deprecated) {
        "obsolete"
    } else if entry.has_status(Status::Approved) {
        "stable"
    } else if entry.has_status(Status::Endorsed) {
        "beta"
    } else {
        "development"
    }
}

fn maintenance(
    entry: &CatalogEntry,
    extra: &PubliccodeContext,
    status: &'static str,
) -> Maintenance {
    if status == "obsolete" {
        return Maintenance {
            kind: "none",
            contacts: Vec::new(),
        };
    }
    let owner = entry
        .owner_name
        .as_deref()
        .and_then(nonempty)
        .or_else(|| entry.owner.map(|o| format!("organisasjonsnummer {o}")));
    let mut contacts = Vec::new();
    match &extra.contact {
        Some(person) if !person.name.trim().is_empty() => contacts.push(Contact {
            name: person.name.trim().to_string(),
            email: person.email.as_deref().and_then(nonempty),
            phone: person.phone.as_deref().and_then(nonempty),
            affiliation: owner.clone(),
        }),
        _ => {
            if let Some(owner) = &owner {
                contacts.push(Contact {
                    name: owner.clone(),
                    email: None,
                    phone: None,
                    affiliation: Some(owner.clone()),
                });
            }
        }
    }
    for maintainer in &entry.maintainers {
        if Some(maintainer.org) == entry.owner {
            continue;
        }
        let name = maintainer
            .name
            .as_deref()
            .and_then(nonempty)
            .unwrap_or_else(|| format!("organisasjonsnummer {}", maintainer.org));
        contacts.push(Contact {
            name: name.clone(),
            email: None,
            phone: None,
            affiliation: Some(name),
        });
    }
    if contacts.is_empty() {
        // No owner could be read: name the artefact's address so the key is not empty.
        contacts.push(Contact {
            name: "Allmenning".to_string(),
            email: None,
            phone: None,
            affiliation: Some(artefact_url(&entry.id)),
        });
    }
    let shared = entry.maintainers.iter().any(|m| Some(m.org) != entry.owner);
    Maintenance {
        kind: if shared { "community" } else { "internal" },
        contacts,
    }
}

/// The description's first sentence or line, at most 150 characters; else the title.
fn short_description(entry: &CatalogEntry) -> String {
    let description = entry.description.trim();
    let first_line = description.lines().map(str::trim).find(|l| !l.is_empty());
    let first = first_line.map(|line| {
        match line.find(". ") {
            Some(end) => &line[..=end],
            None => line,
        }
        .trim()
        .to_string()
    });
    let text = first
        .or_else(|| nonempty(&entry.title))
        .unwrap_or_else(|| format!("{} i Allmenning", entry.kind));
    truncate_chars(&text, SHORT_MAX)
}

fn kind_phrase(kind: &str) -> &'static str {
    match kind {
        "integration" => "En integrasjon",
        _ => "Programvare",
    }
}

/// The description, then a generated paragraph about origin, maintenance and endorsements,
/// padded with the catalogue's facts until it reaches the standard's minimum length.
fn long_description(entry: &CatalogEntry) -> String {
    let owner = match (&entry.owner_name, entry.owner) {
        (Some(name), Some(org)) => format!("{name} (organisasjonsnummer {org})"),
        (Some(name), None) => name.clone(),
        (None, Some(org)) => format!("organisasjonsnummer {org}"),
        (None, None) => "en organisasjon i nettverket".to_string(),
    };
    let mut note = format!(
        "{GENERATED_NOTE_MARKER} {} delt i Allmenning, allmenningen der kommuner, \
         interkommunale selskaper og KS deler og utvikler løsninger sammen. Utgitt av {owner} \
         {}, sist endret {}.",
        kind_phrase(&entry.kind),
        iso_date(entry.created),
        iso_date(entry.updated.max(entry.created)),
    );
    let others: Vec<String> = entry
        .maintainers
        .iter()
        .filter(|m| Some(m.org) != entry.owner)
        .map(|m| m.name.clone().unwrap_or_else(|| m.org.to_string()))
        .collect();
    if !others.is_empty() {
        note.push_str(&format!(" Vedlikeholdes sammen med {}.", others.join(", ")));
    }
    for endorsement in &entry.endorsements {
        let version = if endorsement.current {
            "denne versjonen".to_string()
        } else {
            format!(
                "en tidligere versjon ({} endringer siden)",
                endorsement.changes_since
            )
        };
        let curator = if endorsement.curator_name.trim().is_empty() {
            endorsement.curator.to_string()
        } else {
            endorsement.curator_name.trim().to_string()
        };
        note.push_str(&format!(
            " Vurdert som «{}» av {curator} {}: gjelder {version}.",
            norwegian_status(endorsement.status.as_str()),
            iso_date(endorsement.time),
        ));
    }
    note.push_str(&format!(
        " Allmenning-adresse: {}.",
        artefact_url(&entry.id)
    ));
    let body = entry.description.trim();
    let mut text = if body.is_empty() {
        note
    } else {
        format!("{body}\n\n{note}")
    };
    if text.chars().count() < LONG_MIN {
        text.push_str(&format!(" Artefakten har {} filer.", entry.file_count));
    }
    if text.chars().count() > LONG_MAX {
        // Keep the generated note whole: cut the author's text instead.
        let note_start = text.rfind(GENERATED_NOTE_MARKER).unwrap_or(text.len());
        let note = text[note_start..].to_string();
        let room = LONG_MAX.saturating_sub(note.chars().count() + 2);
        text = format!("{}\n\n{note}", truncate_chars(&text[..note_start], room));
    }
    text
}

fn norwegian_status(status: &str) -> &str {
    match status {
        "reviewed" => "gjennomgått",
        "recommended" => "anbefalt",
        "approved" => "godkjent",
        "deprecated" => "frarådet",
        "withdrawn" => "trukket tilbake",
        other => other,
    }
}

/// What a `Cargo.toml` or `package.json` declares.
struct Manifest {
    license: Option<String>,
    version: Option<String>,
    repository: Option<String>,
}

/// Reads `license`, `version` and `repository` from the `[package]` table of a Cargo.toml, by
/// line (enough for the plain `key = "value"` form; anything else is ignored).
fn cargo_manifest(bytes: &[u8]) -> Manifest {
    let mut manifest = Manifest {
        license: None,
        version: None,
        repository: None,
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        return manifest;
    };
    let mut in_package = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if !in_package {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let Some(value) = value
            .strip_prefix('"')
            .and_then(|v| v.split_once('"'))
            .map(|(v, _)| v.to_string())
        else {
            continue;
        };
        match key.trim() {
            "license" => manifest.license = Some(value),
            "version" => manifest.version = Some(value),
            "repository" => manifest.repository = Some(value),
            _ => {}
        }
    }
    manifest
}

fn npm_manifest(bytes: &[u8]) -> Manifest {
    let value: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    Manifest {
        license: text(&value["license"]),
        version: text(&value["version"]),
        repository: text(&value["repository"]).or_else(|| text(&value["repository"]["url"])),
    }
}

/// The expression after `SPDX-License-Identifier:` in the first 4 KiB of a text file.
fn spdx_identifier_line(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let (_, rest) = text.split_once("SPDX-License-Identifier:")?;
    let expression = rest.lines().next()?.trim();
    // Comment closers that often follow on the same line.
    let expression = expression
        .trim_end_matches("*/")
        .trim_end_matches("-->")
        .trim();
    (!expression.is_empty()).then(|| expression.to_string())
}

/// The SPDX id of a licence text this recognises by its opening words.
fn recognise_licence_text(bytes: &[u8]) -> Option<&'static str> {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]).to_ascii_uppercase();
    let head: String = head.split_whitespace().collect::<Vec<_>>().join(" ");
    if head.contains("EUROPEAN UNION PUBLIC LICENCE V. 1.2") {
        Some("EUPL-1.2")
    } else if head.contains("APACHE LICENSE VERSION 2.0") {
        Some("Apache-2.0")
    } else if head.contains("MOZILLA PUBLIC LICENSE VERSION 2.0") {
        Some("MPL-2.0")
    } else if head.starts_with("MIT LICENSE")
        || head.contains("PERMISSION IS HEREBY GRANTED, FREE OF CHARGE")
    {
        Some("MIT")
    } else {
        None
    }
}
