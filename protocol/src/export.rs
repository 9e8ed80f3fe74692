//! Descriptions of an artefact in the formats that catalogues outside Allmenning read.
//!
//! Digital sovereignty means nothing is locked in: an artefact's files leave as plain files
//! (the CLI's `export`), and its catalogue entry leaves in the open formats the sector already
//! uses. Software catalogues in Europe read **publiccode.yml** (standard 0.4 and later), and the
//! Norwegian national data catalogue (data.norge.no) reads datasets described with
//! **DCAT-AP-NO**. This module turns a [`CatalogEntry`] into either, checks documents against
//! the mandatory parts of both standards (so tests, and users, can tell that an export is
//! complete), and reads a publiccode.yml back for `allmenning import`.
//!
//! Everything here is a pure function of its arguments: no I/O, no clock. What the catalogue
//! does not know (a repository URL, a licence, a person to contact, an e-mail address) comes in
//! a context value, filled by the caller from flags or from what the artefact's own files
//! declare ([`PubliccodeContext::from_files`]).
//!
//! Which kinds each format applies to:
//! - publiccode.yml describes software: kinds `code` and `integration`.
//! - DCAT-AP-NO describes datasets: kinds `dataset` and `datamodel` (a data model is catalogued
//!   as a dataset whose distributions are the model's files; ModellDCAT-AP-NO would describe it
//!   more precisely and is not produced yet).
//!
//! Anything else is refused with [`ExportError::NotApplicable`] rather than described badly.

mod dcat;
mod publiccode;
mod publiccode_check;
mod publiccode_import;
#[cfg(test)]
mod tests;
mod yaml_out;

pub use dcat::{dcat_jsonld, validate_dcat_ap_no, DcatContext, DistributionFile, EU_DATA_THEME};
pub use publiccode::{
    publiccode_dropped_tags, publiccode_yml, PubliccodeContact, PubliccodeContext,
    PUBLICCODE_VERSION,
};
pub use publiccode_check::{validate_publiccode, PUBLICCODE_CATEGORIES};
pub use publiccode_import::{parse_publiccode, ImportedContact, ImportedMetadata};

use crate::artefact::ArtefactId;

/// Kinds that publiccode.yml describes: software.
pub const PUBLICCODE_KINDS: [&str; 2] = ["code", "integration"];
/// Kinds that DCAT-AP-NO describes: datasets, and data models catalogued as datasets.
pub const DCAT_KINDS: [&str; 2] = ["dataset", "datamodel"];

/// The name an exported description goes by in a directory: `DIR/publiccode.yml`.
pub const PUBLICCODE_FILE: &str = "publiccode.yml";
/// The name an exported DCAT-AP-NO description goes by in a directory: `DIR/dataset.jsonld`.
pub const DCAT_FILE: &str = "dataset.jsonld";

/// Largest publiccode.yml that [`parse_publiccode`] and [`validate_publiccode`] read: the file
/// comes from users and peers, and a real one is a few kilobytes.
pub const MAX_PUBLICCODE_BYTES: usize = 1024 * 1024;

/// Why an artefact could not be described, or a description not read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExportError {
    #[error("{format} does not describe a {kind:?} artefact (it describes kinds: {applies_to})")]
    NotApplicable {
        format: &'static str,
        kind: String,
        applies_to: String,
    },
    #[error(
        "publiccode.yml needs a licence (legal.license, an SPDX expression such as EUPL-1.2) and \
         the artefact declares none"
    )]
    NoLicense,
    #[error("{field} {value:?} is not valid: {reason}")]
    InvalidContext {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("publiccode.yml is not valid YAML: {0}")]
    Yaml(String),
    #[error("publiccode.yml is too large ({size} bytes; at most {max} are read)")]
    TooLarge { size: usize, max: usize },
    #[error("publiccode.yml has no usable {0}")]
    Missing(&'static str),
    #[error("cannot write the description: {0}")]
    Serialize(String),
}

/// The stable address of an artefact, used where a format needs a URL and the artefact has no
/// other: `allmenning://<32 hex digits>`. Any node that holds the artefact resolves the id.
pub fn artefact_url(id: &ArtefactId) -> String {
    format!("allmenning://{}", id.to_hex())
}

/// The address of one file of an artefact: `allmenning://<id>/<path>`, with every byte outside
/// the URL's unreserved characters percent-encoded (paths may hold spaces and non-ASCII).
pub fn artefact_file_url(id: &ArtefactId, path: &str) -> String {
    let mut url = artefact_url(id);
    for segment in path.split('/') {
        url.push('/');
        for byte in segment.bytes() {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                url.push(char::from(byte));
            } else {
                url.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    url
}

fn refuse_kind(format: &'static str, kind: &str, kinds: &[&str]) -> Result<(), ExportError> {
    if kinds.contains(&kind) {
        Ok(())
    } else {
        Err(ExportError::NotApplicable {
            format,
            kind: kind.to_string(),
            applies_to: kinds.join(", "),
        })
    }
}

/// Seconds since the Unix epoch as `YYYY-MM-DD` (UTC): the date format both standards use.
pub fn iso_date(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Howard Hinnant's days → (year, month, day) for the proleptic Gregorian calendar.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// True if `text` is a real calendar date written `YYYY-MM-DD`.
fn is_iso_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(range)?;
        if part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day)
}

/// `text` cut to at most `max` characters, at a word boundary when there is one in the last
/// third, ending in "…" when anything was cut.
fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep: String = text.chars().take(max.saturating_sub(1)).collect();
    let cut = match keep.rfind(char::is_whitespace) {
        Some(i) if keep[..i].chars().count() >= max * 2 / 3 => keep[..i].trim_end().to_string(),
        _ => keep,
    };
    format!("{cut}…")
}
