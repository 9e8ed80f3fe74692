//! DCAT-AP-NO (JSON-LD) for datasets and data models, as data.norge.no reads them.
//!
//! Which properties are mandatory comes from the standard, "Standard for beskrivelse av
//! datasett, datatjenester og datakataloger (DCAT-AP-NO)", published by Digdir at
//! <https://data.norge.no/specification/dcat-ap-no>. The current version (2.2) and its SHACL
//! shapes (`DCAT-AP-NO-shacl_shapes_2.00.ttl`, "Dataset_Shape") make these mandatory for a
//! Datasett (dcat:Dataset): dct:title, dct:description, dct:identifier, dct:publisher (exactly
//! one, an IRI) and dcat:theme (at least one IRI). The draft of version 3.0 keeps title,
//! description, publisher and theme, makes dcat:contactPoint mandatory (each with vcard:fn and
//! vcard:hasEmail), and requires dcat:theme to hold a theme from the EU vocabulary "Data theme"
//! (LOS, the Norwegian vocabulary, SHOULD be added). An Aktør (foaf:Agent) must have foaf:name,
//! and a Distribusjon (dcat:Distribution) a dcat:accessURL. [`dcat_jsonld`] writes all of them
//! and [`validate_dcat_ap_no`] checks the union of both versions, so a description that passes
//! is complete for either.
//!
//! Choices where the catalogue has no exact answer:
//! - The dataset's IRI and `dct:identifier` are `allmenning://<id>`; each file is a
//!   distribution with that access URL and `allmenning://<id>/<path>` as download URL.
//! - The publisher is the owner organisation, as the IRI the standard gives for organisations
//!   in Enhetsregisteret (`https://organization-catalog.fellesdatakatalog.digdir.no/
//!   organizations/<orgnr>`), with the organisation number as `dct:identifier`.
//! - The EU data theme is GOVE (government and public sector), the theme every municipal
//!   artefact shares; the LOS theme, when the artefact has one, is added as
//!   `https://psi.norge.no/los/tema/<slug>` (or as given, when it is already a URL).
//! - The contact point is the owner organisation; its e-mail address must come from the
//!   context (Allmenning does not store one), and without it the description fails validation
//!   rather than carrying an invented address.

use super::{
    artefact_file_url, artefact_url, is_iso_date, iso_date, refuse_kind, ExportError, DCAT_KINDS,
};
use crate::catalog::{CatalogEntry, Visibility};
use serde_json::{json, Map, Value};

/// Base of the EU "Data theme" vocabulary; a theme is this plus its code (e.g. `GOVE`).
pub const EU_DATA_THEME: &str = "http://publications.europa.eu/resource/authority/data-theme/";
/// The codes of the EU "Data theme" vocabulary.
const EU_DATA_THEME_CODES: [&str; 14] = [
    "AGRI",
    "ECON",
    "EDUC",
    "ENER",
    "ENVI",
    "GOVE",
    "HEAL",
    "INTR",
    "JUST",
    "REGI",
    "SOCI",
    "TECH",
    "TRAN",
    "OP_DATPRO",
];
const EU_LICENCE: &str = "http://publications.europa.eu/resource/authority/licence/";
const ACCESS_RIGHT: &str = "http://publications.europa.eu/resource/authority/access-right/";
const ORGANIZATION_IRI: &str =
    "https://organization-catalog.fellesdatakatalog.digdir.no/organizations/";
const LOS_THEME: &str = "https://psi.norge.no/los/tema/";
const IANA_MEDIA_TYPE: &str = "https://www.iana.org/assignments/media-types/";

const PREFIXES: [(&str, &str); 6] = [
    ("dcat", "http://www.w3.org/ns/dcat#"),
    ("dct", "http://purl.org/dc/terms/"),
    ("foaf", "http://xmlns.com/foaf/0.1/"),
    ("vcard", "http://www.w3.org/2006/vcard/ns#"),
    ("xsd", "http://www.w3.org/2001/XMLSchema#"),
    ("rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
];

/// One file of the artefact, described as a distribution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistributionFile {
    pub path: String,
    pub size: u64,
}

/// What a DCAT-AP-NO description needs that the catalogue does not hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DcatContext {
    /// E-mail address of the contact point (mandatory in DCAT-AP-NO 3.0).
    pub contact_email: Option<String>,
    /// Name of the contact point; default: the owner organisation's name.
    pub contact_name: Option<String>,
    /// The artefact's files; each becomes a distribution. Empty: one distribution for the
    /// whole artefact.
    pub files: Vec<DistributionFile>,
    /// A web page about the dataset (`dcat:landingPage`).
    pub landing_page: Option<String>,
    /// The licence of the distributions (`dct:license`, recommended): a code or IRI of the EU
    /// vocabulary "Licence" (`CC_BY_4_0`, `NLOD_2_0`), or one of the SPDX ids it maps.
    pub license: Option<String>,
}

/// The DCAT-AP-NO description (JSON-LD, compact form with prefixes) of a dataset or data model.
pub fn dcat_jsonld(entry: &CatalogEntry, extra: &DcatContext) -> Result<Value, ExportError> {
    refuse_kind("DCAT-AP-NO", &entry.kind, &DCAT_KINDS)?;
    let id = artefact_url(&entry.id);
    let nb = |text: &str| json!({ "@value": text, "@language": "nb" });
    let title = if entry.title.trim().is_empty() {
        entry.id.to_hex()
    } else {
        entry.title.trim().to_string()
    };
    let description = if entry.description.trim().is_empty() {
        // dct:description is mandatory; say what is known rather than leave it out.
        format!(
            "{} delt i Allmenning av {}.",
            if entry.kind == "datamodel" {
                "Datamodell"
            } else {
                "Datasett"
            },
            owner_label(entry)
        )
    } else {
        entry.description.trim().to_string()
    };
    let owner_name = owner_label(entry);

    let mut dataset = Map::new();
    dataset.insert("@context".into(), context());
    dataset.insert("@id".into(), json!(id));
    dataset.insert("@type".into(), json!("dcat:Dataset"));
    dataset.insert("dct:identifier".into(), json!(id));
    dataset.insert("dct:title".into(), json!([nb(&title)]));
    dataset.insert("dct:description".into(), json!([nb(&description)]));
    let mut publisher = Map::new();
    if let Some(org) = entry.owner {
        publisher.insert("@id".into(), json!(format!("{ORGANIZATION_IRI}{org}")));
        publisher.insert("dct:identifier".into(), json!(org.to_string()));
    }
    publisher.insert("@type".into(), json!("foaf:Agent"));
    publisher.insert("foaf:name".into(), json!([nb(&owner_name)]));
    dataset.insert("dct:publisher".into(), Value::Object(publisher));

    let mut themes = vec![json!({ "@id": format!("{EU_DATA_THEME}GOVE") })];
    if let Some(los) = entry.los_theme.as_deref().and_then(los_theme_iri) {
        themes.push(json!({ "@id": los }));
    }
    dataset.insert("dcat:theme".into(), Value::Array(themes));

    let mut keywords: Vec<Value> = entry
        .tags
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .map(nb)
        .collect();
    if let Some(los) = entry.los_theme.as_deref() {
        keywords.push(nb(los));
    }
    if !keywords.is_empty() {
        dataset.insert("dcat:keyword".into(), Value::Array(keywords));
    }
    let date = |secs: i64| json!({ "@value": iso_date(secs), "@type": "xsd:date" });
    dataset.insert("dct:issued".into(), date(entry.created));
    dataset.insert(
        "dct:modified".into(),
        date(entry.updated.max(entry.created)),
    );

    let mut contact = Map::new();
    contact.insert("@type".into(), json!("vcard:Organization"));
    let contact_name = extra
        .contact_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(&owner_name);
    contact.insert("vcard:fn".into(), json!([nb(contact_name)]));
    if let Some(email) = extra
        .contact_email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        if !looks_like_email(email) {
            return Err(ExportError::InvalidContext {
                field: "contact e-mail",
                value: email.to_string(),
                reason: "not an e-mail address",
            });
        }
        contact.insert(
            "vcard:hasEmail".into(),
            json!({ "@id": format!("mailto:{email}") }),
        );
    }
    dataset.insert("dcat:contactPoint".into(), json!([Value::Object(contact)]));

    let rights = match entry.visibility {
        Visibility::Public => "PUBLIC",
        Visibility::Restricted { .. } => "RESTRICTED",
    };
    dataset.insert(
        "dct:accessRights".into(),
        json!({ "@id": format!("{ACCESS_RIGHT}{rights}") }),
    );
    if let Some(source) = &entry.based_on {
        dataset.insert("dct:source".into(), json!({ "@id": artefact_url(source) }));
    }
    if let Some(page) = extra
        .landing_page
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        dataset.insert("dcat:landingPage".into(), json!([{ "@id": page }]));
    }
    dataset.insert(
        "dcat:distribution".into(),
        Value::Array(distributions(entry, extra)?),
    );
    Ok(Value::Object(dataset))
}

fn context() -> Value {
    Value::Object(
        PREFIXES
            .iter()
            .map(|(prefix, iri)| (prefix.to_string(), json!(iri)))
            .collect(),
    )
}

fn owner_label(entry: &CatalogEntry) -> String {
    match (&entry.owner_name, entry.owner) {
        (Some(name), _) if !name.trim().is_empty() => name.trim().to_string(),
        (_, Some(org)) => format!("organisasjonsnummer {org}"),
        _ => "en organisasjon i Allmenning".to_string(),
    }
}

fn distributions(entry: &CatalogEntry, extra: &DcatContext) -> Result<Vec<Value>, ExportError> {
    let access = artefact_url(&entry.id);
    let license = match extra.license.as_deref().map(str::trim) {
        Some("") | None => None,
        Some(given) => Some(
            eu_licence(given).ok_or_else(|| ExportError::InvalidContext {
                field: "licence",
                value: given.to_string(),
                reason:
                    "not in the EU licence vocabulary DCAT-AP-NO requires (give its code, e.g. \
                     CC_BY_4_0 or NLOD_2_0, or one of the SPDX ids CC-BY-4.0, CC-BY-SA-4.0, \
                     CC0-1.0, NLOD-2.0, EUPL-1.2, Apache-2.0, MIT)",
            })?,
        ),
    };
    let with_license = |mut distribution: Map<String, Value>| {
        if let Some(license) = &license {
            distribution.insert("dct:license".into(), json!({ "@id": license }));
        }
        Value::Object(distribution)
    };
    if extra.files.is_empty() {
        let mut whole = Map::new();
        whole.insert("@type".into(), json!("dcat:Distribution"));
        whole.insert(
            "dct:title".into(),
            json!([{ "@value": "Alle filer", "@language": "nb" }]),
        );
        whole.insert("dcat:accessURL".into(), json!({ "@id": access }));
        whole.insert(
            "dcat:byteSize".into(),
            json!({ "@value": entry.size.to_string(), "@type": "xsd:decimal" }),
        );
        return Ok(vec![with_license(whole)]);
    }
    Ok(extra
        .files
        .iter()
        .map(|file| {
            let mut distribution = Map::new();
            distribution.insert("@type".into(), json!("dcat:Distribution"));
            distribution.insert(
                "dct:title".into(),
                json!([{ "@value": file.path, "@language": "nb" }]),
            );
            distribution.insert("dcat:accessURL".into(), json!({ "@id": access }));
            distribution.insert(
                "dcat:downloadURL".into(),
                json!({ "@id": artefact_file_url(&entry.id, &file.path) }),
            );
            distribution.insert(
                "dcat:byteSize".into(),
                json!({ "@value": file.size.to_string(), "@type": "xsd:decimal" }),
            );
            if let Some(media_type) = media_type(&file.path) {
                distribution.insert(
                    "dcat:mediaType".into(),
                    json!({ "@id": format!("{IANA_MEDIA_TYPE}{media_type}") }),
                );
            }
            with_license(distribution)
        })
        .collect())
}

/// The IRI in the EU vocabulary "Licence" (which DCAT-AP-NO requires for `dct:license`) of a
/// licence given as such an IRI, as its code (`CC_BY_4_0`), or as one of a few SPDX ids.
fn eu_licence(given: &str) -> Option<String> {
    if let Some(code) = given
        .strip_prefix(EU_LICENCE)
        .or_else(|| given.strip_prefix(&EU_LICENCE.replacen("http:", "https:", 1)))
    {
        return is_eu_code(code).then(|| format!("{EU_LICENCE}{code}"));
    }
    let by_spdx = match given {
        "CC-BY-4.0" => Some("CC_BY_4_0"),
        "CC-BY-SA-4.0" => Some("CC_BYSA_4_0"),
        "CC0-1.0" => Some("CC0"),
        "NLOD-2.0" => Some("NLOD_2_0"),
        "EUPL-1.2" => Some("EUPL_1_2"),
        "Apache-2.0" => Some("APACHE_2_0"),
        "MIT" => Some("MIT"),
        _ => None,
    };
    let code = by_spdx.or_else(|| is_eu_code(given).then_some(given))?;
    Some(format!("{EU_LICENCE}{code}"))
}

/// The form of a code in the EU vocabularies: capitals, digits and underscores.
fn is_eu_code(code: &str) -> bool {
    !code.is_empty()
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// The IANA media type of common data files, by extension.
fn media_type(path: &str) -> Option<&'static str> {
    let extension = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match extension.as_str() {
        "csv" => "text/csv",
        "json" => "application/json",
        "jsonld" => "application/ld+json",
        "geojson" => "application/geo+json",
        "xml" | "xsd" => "application/xml",
        "rdf" => "application/rdf+xml",
        "ttl" => "text/turtle",
        "yaml" | "yml" => "application/yaml",
        "md" => "text/markdown",
        "txt" => "text/plain",
        "html" | "htm" => "text/html",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        _ => return None,
    })
}

/// The LOS theme's IRI: as given when it is a URL, else `https://psi.norge.no/los/tema/` and
/// the label as LOS writes its slugs (lowercase, æ→ae, ø→o, å→a, words joined by `-`).
fn los_theme_iri(theme: &str) -> Option<String> {
    let theme = theme.trim();
    if theme.starts_with("http://") || theme.starts_with("https://") {
        return Some(theme.to_string());
    }
    let mut slug = String::new();
    for c in theme.to_lowercase().chars() {
        match c {
            'æ' => slug.push_str("ae"),
            'ø' => slug.push('o'),
            'å' => slug.push('a'),
            c if c.is_ascii_alphanumeric() => slug.push(c),
            _ => {
                if !slug.is_empty() && !slug.ends_with('-') {
                    slug.push('-');
                }
            }
        }
    }
    let slug = slug.trim_end_matches('-');
    (!slug.is_empty()).then(|| format!("{LOS_THEME}{slug}"))
}

fn looks_like_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text
                    .chars()
                    .any(|c| c.is_whitespace() || c == '<' || c == '>')
        }
        None => false,
    }
}

/// Every way `document` falls short of the mandatory properties of a DCAT-AP-NO dataset (see
/// the module documentation for which), one sentence each; empty when it meets them.
///
/// Reads the compact form [`dcat_jsonld`] writes: properties named with the usual prefixes
/// (`dct:title`) or as full IRIs, the dataset as the top-level object or as a node of
/// `@graph`. Other JSON-LD contexts (aliases, @vocab) are not expanded.
pub fn validate_dcat_ap_no(document: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let graph: Vec<&Value> = match document.get("@graph") {
        Some(Value::Array(nodes)) => nodes.iter().collect(),
        _ => vec![document],
    };
    let datasets: Vec<&Value> = graph
        .iter()
        .copied()
        .filter(|node| has_type(node, "dcat", "Dataset"))
        .collect();
    if datasets.is_empty() {
        return vec!["no node has @type dcat:Dataset".to_string()];
    }
    for dataset in datasets {
        let name = dataset
            .get("@id")
            .and_then(Value::as_str)
            .unwrap_or("the dataset");
        let mut fail = |problem: String| problems.push(format!("{name}: {problem}"));

        for (prefix, local) in [("dct", "title"), ("dct", "description")] {
            let values = property(dataset, prefix, local);
            if !values.iter().any(|v| is_nonempty_literal(v)) {
                fail(format!("{prefix}:{local} is missing (mandatory)"));
            }
            if let Some(lang) = repeated_language(&values) {
                fail(format!(
                    "{prefix}:{local} has more than one value in language {lang:?}"
                ));
            }
        }
        if !property(dataset, "dct", "identifier")
            .iter()
            .any(|v| is_nonempty_literal(v))
        {
            fail("dct:identifier is missing (mandatory in DCAT-AP-NO 2.x)".into());
        }

        let publishers = property(dataset, "dct", "publisher");
        match publishers.as_slice() {
            [] => fail("dct:publisher is missing (mandatory, exactly one)".into()),
            [publisher] => match iri_of(publisher) {
                None => fail("dct:publisher must be an IRI (a node with @id)".into()),
                Some(iri) => {
                    let node = if publisher.as_object().is_some_and(|o| o.len() > 1) {
                        Some(*publisher)
                    } else {
                        graph
                            .iter()
                            .copied()
                            .find(|n| n.get("@id").and_then(Value::as_str) == Some(iri))
                    };
                    if let Some(node) = node {
                        if !property(node, "foaf", "name")
                            .iter()
                            .any(|v| is_nonempty_literal(v))
                        {
                            fail("dct:publisher has no foaf:name (mandatory for an Aktør)".into());
                        }
                    }
                }
            },
            _ => fail("dct:publisher has more than one value (exactly one is allowed)".into()),
        }

        let themes = property(dataset, "dcat", "theme");
        if themes.is_empty() {
            fail("dcat:theme is missing (mandatory)".into());
        }
        if themes.iter().any(|t| iri_of(t).is_none()) {
            fail("dcat:theme values must be IRIs (nodes with @id)".into());
        }
        let has_eu_theme = themes.iter().filter_map(|t| iri_of(t)).any(|iri| {
            iri.strip_prefix(EU_DATA_THEME)
                .is_some_and(|code| EU_DATA_THEME_CODES.contains(&code))
        });
        if !themes.is_empty() && !has_eu_theme {
            fail("dcat:theme holds no theme from the EU vocabulary Data theme".into());
        }

        let contacts = property(dataset, "dcat", "contactPoint");
        if contacts.is_empty() {
            fail("dcat:contactPoint is missing (mandatory in DCAT-AP-NO 3.0)".into());
        }
        for contact in &contacts {
            if !property(contact, "vcard", "fn")
                .iter()
                .any(|v| is_nonempty_literal(v))
            {
                fail("dcat:contactPoint has no vcard:fn (mandatory)".into());
            }
            let emails = property(contact, "vcard", "hasEmail");
            if !emails.iter().any(|e| {
                iri_of(e)
                    .or_else(|| e.as_str())
                    .is_some_and(|v| looks_like_email(v.strip_prefix("mailto:").unwrap_or(v)))
            }) {
                fail("dcat:contactPoint has no vcard:hasEmail (mandatory)".into());
            }
        }

        for (i, distribution) in property(dataset, "dcat", "distribution").iter().enumerate() {
            if !property(distribution, "dcat", "accessURL")
                .iter()
                .any(|u| iri_of(u).is_some())
            {
                fail(format!(
                    "dcat:distribution[{i}] has no dcat:accessURL (mandatory, an IRI)"
                ));
            }
            for license in property(distribution, "dct", "license") {
                let from_vocabulary = iri_of(license).is_some_and(|iri| {
                    iri.strip_prefix(EU_LICENCE)
                        .or_else(|| {
                            iri.strip_prefix(
                                "https://publications.europa.eu/resource/authority/licence/",
                            )
                        })
                        .is_some_and(is_eu_code)
                });
                if !from_vocabulary {
                    fail(format!(
                        "dcat:distribution[{i}] has a dct:license outside the EU vocabulary Licence"
                    ));
                }
            }
        }
        for local in ["issued", "modified"] {
            for value in property(dataset, "dct", local) {
                let text = value
                    .get("@value")
                    .and_then(Value::as_str)
                    .or_else(|| value.as_str());
                let ok = text.is_some_and(|t| is_iso_date(t) || is_iso_date_time(t));
                if !ok {
                    fail(format!("dct:{local} must be an xsd:date or xsd:dateTime"));
                }
            }
        }
    }
    problems
}

/// The values of a property named `prefix:local` or by its full IRI, as a list.
fn property<'a>(node: &'a Value, prefix: &str, local: &str) -> Vec<&'a Value> {
    let Some(object) = node.as_object() else {
        return Vec::new();
    };
    let full = PREFIXES
        .iter()
        .find(|(p, _)| *p == prefix)
        .map(|(_, iri)| format!("{iri}{local}"));
    let value = object
        .get(&format!("{prefix}:{local}"))
        .or_else(|| full.and_then(|f| object.get(&f)));
    match value {
        Some(Value::Array(values)) => values.iter().collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(value) => vec![value],
    }
}

fn has_type(node: &Value, prefix: &str, local: &str) -> bool {
    let full = PREFIXES
        .iter()
        .find(|(p, _)| *p == prefix)
        .map(|(_, iri)| format!("{iri}{local}"))
        .unwrap_or_default();
    let short = format!("{prefix}:{local}");
    let matches = |v: &Value| v.as_str().is_some_and(|t| t == short || t == full);
    match node.get("@type") {
        Some(Value::Array(types)) => types.iter().any(matches),
        Some(t) => matches(t),
        None => false,
    }
}

/// The IRI a value names: `{"@id": iri}` with an IRI that is not a blank node.
fn iri_of(value: &Value) -> Option<&str> {
    value
        .get("@id")
        .and_then(Value::as_str)
        .filter(|iri| !iri.starts_with("_:") && iri.contains(':'))
}

fn is_nonempty_literal(value: &Value) -> bool {
    match value {
        Value::String(s) => !s.trim().is_empty(),
        Value::Number(_) => true,
        Value::Object(o) => o
            .get("@value")
            .is_some_and(|v| v.as_str().is_none_or(|s| !s.trim().is_empty())),
        _ => false,
    }
}

/// A language that more than one of `values` is tagged with.
fn repeated_language(values: &[&Value]) -> Option<String> {
    let mut seen: Vec<&str> = Vec::new();
    for value in values {
        if let Some(lang) = value.get("@language").and_then(Value::as_str) {
            if seen.contains(&lang) {
                return Some(lang.to_string());
            }
            seen.push(lang);
        }
    }
    None
}

fn is_iso_date_time(text: &str) -> bool {
    text.get(..10).is_some_and(is_iso_date) && text.as_bytes().get(10) == Some(&b'T')
}
