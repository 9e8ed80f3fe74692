//! Reads a publiccode.yml for `allmenning import`: the metadata an artefact can take from it.
//!
//! The file is untrusted (a repository's author wrote it, for any version of the standard), so
//! this reads leniently: unknown keys are ignored, a key of the wrong type counts as absent,
//! and only a document without a usable name is refused. Descriptions are taken in bokmål
//! first, then Norwegian (`no`), nynorsk, English, then whichever language comes first.

use super::publiccode::GENERATED_NOTE_MARKER;
use super::publiccode_check::parse_root;
use super::ExportError;
use serde_norway::{Mapping, Value};

/// Preferred description languages, best first.
const LANGUAGE_PREFERENCE: [&str; 4] = ["nb", "no", "nn", "en"];

/// A technical contact named in `maintenance.contacts`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportedContact {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub affiliation: Option<String>,
}

/// What a publiccode.yml says about the software, as an artefact's metadata needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportedMetadata {
    /// `name`, else the chosen language's `localisedName`.
    pub name: String,
    /// The chosen language's `longDescription` (without a paragraph Allmenning generated on
    /// export), else its `shortDescription`; empty when there is neither.
    pub description: String,
    pub short_description: Option<String>,
    /// The language the description was taken from.
    pub description_language: Option<String>,
    /// `categories` (and a top-level `tags` list, which early versions had), without repeats.
    pub tags: Vec<String>,
    /// `legal.license`.
    pub license: Option<String>,
    /// `url`.
    pub url: Option<String>,
    pub software_version: Option<String>,
    /// The chosen language's `features`.
    pub features: Vec<String>,
    /// `maintenance.contacts`.
    pub contacts: Vec<ImportedContact>,
}

/// Reads the metadata from a publiccode.yml of any version, tolerating unknown keys.
pub fn parse_publiccode(yml: &str) -> Result<ImportedMetadata, ExportError> {
    let root = parse_root(yml)?;
    let texts = chosen_language(&root);
    let text_of = |key: &str| -> Option<String> {
        texts.as_ref().and_then(|(_, texts)| string(texts.get(key)))
    };
    let name = string(root.get("name"))
        .or_else(|| text_of("localisedName"))
        .ok_or(ExportError::Missing("name"))?;
    let short_description = text_of("shortDescription");
    let long_description = text_of("longDescription").map(|text| strip_generated_note(&text));
    let description = long_description
        .filter(|d| !d.is_empty())
        .or_else(|| short_description.clone())
        .unwrap_or_default();
    let mut tags: Vec<String> = Vec::new();
    for key in ["categories", "tags"] {
        for tag in strings(root.get(key)) {
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
    }
    let features = texts
        .as_ref()
        .map(|(_, texts)| strings(texts.get("features")))
        .unwrap_or_default();
    let maintenance = root.get("maintenance").and_then(Value::as_mapping);
    let contacts = maintenance
        .and_then(|m| m.get("contacts"))
        .and_then(Value::as_sequence)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_mapping)
                .filter_map(|c| {
                    Some(ImportedContact {
                        name: string(c.get("name"))?,
                        email: string(c.get("email")),
                        phone: string(c.get("phone")),
                        affiliation: string(c.get("affiliation")),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(ImportedMetadata {
        name,
        description,
        short_description,
        description_language: texts.map(|(lang, _)| lang),
        tags,
        license: root
            .get("legal")
            .and_then(Value::as_mapping)
            .and_then(|legal| string(legal.get("license"))),
        url: string(root.get("url")),
        software_version: string(root.get("softwareVersion")),
        features,
        contacts,
    })
}

/// The description section to read, and its language.
fn chosen_language(root: &Mapping) -> Option<(String, Mapping)> {
    let languages = root.get("description")?.as_mapping()?;
    let sections: Vec<(String, &Mapping)> = languages
        .iter()
        .filter_map(|(lang, texts)| Some((lang.as_str()?.to_string(), texts.as_mapping()?)))
        .collect();
    LANGUAGE_PREFERENCE
        .iter()
        .find_map(|want| {
            sections
                .iter()
                .find(|(lang, _)| lang.eq_ignore_ascii_case(want))
        })
        .or_else(|| sections.first())
        .map(|(lang, texts)| (lang.clone(), (*texts).clone()))
}

/// A trimmed, non-empty string value (numbers are read as text: `softwareVersion: 1.0`).
fn string(value: Option<&Value>) -> Option<String> {
    let text = match value? {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// The non-empty strings of a list (or a single string), in order.
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Sequence(items)) => items.iter().filter_map(|v| string(Some(v))).collect(),
        Some(single @ Value::String(_)) => string(Some(single)).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// `text` without the paragraph that `publiccode_yml` appends (it starts with the marker at
/// the beginning of a paragraph), so that export → import does not grow the description.
fn strip_generated_note(text: &str) -> String {
    let text = text.trim();
    if text.starts_with(GENERATED_NOTE_MARKER) {
        return String::new();
    }
    match text.find(&format!("\n\n{GENERATED_NOTE_MARKER}")) {
        Some(at) => text[..at].trim_end().to_string(),
        None => text.to_string(),
    }
}
