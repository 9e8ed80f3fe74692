//! Checks a publiccode.yml against the mandatory parts of the standard, version 0.4.
//!
//! The checks follow "The Standard (core)" of publiccode.yml 0.4 key by key: every key it marks
//! mandatory must be present and of the right type; enumerated keys must hold one of their
//! values; `categories` must come from the standard's category list; `shortDescription` is at
//! most 150 characters and `longDescription` 150 to 10 000; `maintenance.contacts` is required
//! when the type is internal or community and `maintenance.contractors` (with `name` and
//! `until`) when it is contract; dates are `YYYY-MM-DD`. `legal.license` is checked for the
//! *form* of an SPDX expression (identifiers joined by AND / OR / WITH, parentheses), not
//! against SPDX's list of licences, which changes independently of this code.
//!
//! Unknown keys are not reported: later versions of the standard add keys, and the point here
//! is to show that nothing mandatory is missing.

use super::{is_iso_date, ExportError, MAX_PUBLICCODE_BYTES};
use serde_norway::{Mapping, Value};

/// The category list of publiccode.yml 0.4 (`categories` takes only these values).
pub const PUBLICCODE_CATEGORIES: [&str; 105] = [
    "accounting",
    "agile-project-management",
    "applicant-tracking",
    "application-development",
    "appointment-scheduling",
    "backup",
    "billing-and-invoicing",
    "blog",
    "budgeting",
    "business-intelligence",
    "business-process-management",
    "cad",
    "call-center-management",
    "cloud-management",
    "collaboration",
    "communications",
    "compliance-management",
    "contact-management",
    "content-management",
    "crm",
    "customer-service-and-support",
    "data-analytics",
    "data-collection",
    "data-visualization",
    "design",
    "design-system",
    "digital-asset-management",
    "digital-citizenship",
    "document-management",
    "donor-management",
    "e-commerce",
    "e-signature",
    "educational-content",
    "email-management",
    "email-marketing",
    "employee-management",
    "enterprise-project-management",
    "enterprise-social-networking",
    "erp",
    "event-management",
    "facility-management",
    "feedback-and-reviews-management",
    "financial-reporting",
    "fleet-management",
    "fundraising",
    "gamification",
    "geographic-information-systems",
    "grant-management",
    "graphic-design",
    "help-desk",
    "hr",
    "ide",
    "identity-management",
    "instant-messaging",
    "integrated-library-system",
    "inventory-management",
    "it-asset-management",
    "it-development",
    "it-management",
    "it-security",
    "it-service-management",
    "knowledge-management",
    "learning-management-system",
    "marketing",
    "mind-mapping",
    "mobile-marketing",
    "mobile-payment",
    "network-management",
    "office",
    "online-booking",
    "online-community",
    "payment-gateway",
    "payroll",
    "predictive-analysis",
    "procurement",
    "productivity-suite",
    "project-collaboration",
    "project-management",
    "property-management",
    "real-estate-management",
    "regulations-and-directives",
    "remote-support",
    "resource-management",
    "sales-management",
    "seo",
    "service-desk",
    "social-media-management",
    "survey",
    "talent-management",
    "task-management",
    "taxes-management",
    "test-management",
    "time-management",
    "time-tracking",
    "translation",
    "video-conferencing",
    "video-editing",
    "visitor-management",
    "voip",
    "warehouse-management",
    "web-collaboration",
    "web-conferencing",
    "website-builder",
    "whistleblowing",
    "workflow-management",
];

/// The scope list of publiccode.yml 0.4 (`intendedAudience.scope`).
pub(crate) const SCOPES: [&str; 24] = [
    "agriculture",
    "culture",
    "defence",
    "education",
    "emergency-services",
    "employment",
    "energy",
    "environment",
    "finance-and-economic-development",
    "foreign-affairs",
    "government",
    "healthcare",
    "infrastructures",
    "justice",
    "local-authorities",
    "manufacturing",
    "research",
    "science-and-technology",
    "security",
    "society",
    "sport",
    "tourism",
    "transportation",
    "welfare",
];

const DEVELOPMENT_STATUSES: [&str; 5] = ["concept", "development", "beta", "stable", "obsolete"];
const SOFTWARE_TYPES: [&str; 9] = [
    "standalone/mobile",
    "standalone/iot",
    "standalone/desktop",
    "standalone/web",
    "standalone/backend",
    "standalone/other",
    "addon",
    "library",
    "configurationFiles",
];
const MAINTENANCE_TYPES: [&str; 4] = ["internal", "contract", "community", "none"];

/// Every way `yml` falls short of the mandatory parts of publiccode.yml 0.4, one sentence each
/// (empty when it meets them).
pub fn validate_publiccode(yml: &str) -> Vec<String> {
    let root = match parse_root(yml) {
        Ok(root) => root,
        Err(e) => return vec![e.to_string()],
    };
    let mut problems = Vec::new();
    let mut check = Checker {
        problems: &mut problems,
    };

    match root.get("publiccodeYmlVersion") {
        Some(Value::String(version)) => {
            if !version_at_least_0_4(version) {
                check.fail(format!(
                    "publiccodeYmlVersion {version:?} is older than 0.4 (or not a version)"
                ));
            }
        }
        Some(_) => check.fail("publiccodeYmlVersion must be a string such as \"0.4\""),
        None => check.fail("publiccodeYmlVersion is missing"),
    }
    check.nonempty_string(&root, "name", "name");
    if let Some(url) = check.nonempty_string(&root, "url", "url") {
        if !is_url(&url) {
            check.fail(format!("url {url:?} is not a URL"));
        }
    }
    for key in ["landingURL", "roadmap"] {
        if let Some(value) = root.get(key) {
            match value.as_str() {
                Some(url) if is_url(url) => {}
                _ => check.fail(format!("{key} must be a URL")),
            }
        }
    }
    if let Some(value) = root.get("releaseDate") {
        match value.as_str() {
            Some(date) if is_iso_date(date) => {}
            _ => check.fail("releaseDate must be a date written YYYY-MM-DD"),
        }
    }
    match root.get("platforms") {
        Some(Value::String(p)) if !p.trim().is_empty() => {}
        Some(Value::Sequence(items))
            if !items.is_empty() && items.iter().all(|p| is_nonempty_str(Some(p))) => {}
        Some(_) => check.fail("platforms must be a platform name or a non-empty list of them"),
        None => check.fail("platforms is missing"),
    }
    match root.get("categories") {
        Some(Value::Sequence(items)) if !items.is_empty() => {
            for item in items {
                match item.as_str() {
                    Some(c) if PUBLICCODE_CATEGORIES.contains(&c) => {}
                    Some(c) => check.fail(format!(
                        "categories: {c:?} is not in the standard's category list"
                    )),
                    None => check.fail("categories must hold strings"),
                }
            }
        }
        Some(_) => check.fail("categories must be a non-empty list"),
        None => check.fail("categories is missing"),
    }
    check.one_of(
        &root,
        "developmentStatus",
        "developmentStatus",
        &DEVELOPMENT_STATUSES,
    );
    check.one_of(&root, "softwareType", "softwareType", &SOFTWARE_TYPES);
    check_intended_audience(&root, &mut check);
    check_description(&root, &mut check);
    match root.get("legal") {
        Some(Value::Mapping(legal)) => {
            if let Some(license) = check.nonempty_string(legal, "license", "legal.license") {
                if !is_spdx_expression(&license) {
                    check.fail(format!(
                        "legal.license {license:?} is not an SPDX licence expression"
                    ));
                }
            }
        }
        Some(_) => check.fail("legal must be a mapping"),
        None => check.fail("legal is missing (legal.license is mandatory)"),
    }
    check_maintenance(&root, &mut check);
    match root.get("localisation") {
        Some(Value::Mapping(localisation)) => {
            match localisation.get("localisationReady") {
                Some(Value::Bool(_)) => {}
                Some(_) => check.fail("localisation.localisationReady must be true or false"),
                None => check.fail("localisation.localisationReady is missing"),
            }
            match localisation.get("availableLanguages") {
                Some(Value::Sequence(langs)) if !langs.is_empty() => {
                    for lang in langs {
                        if !lang.as_str().is_some_and(is_language_tag) {
                            check.fail(format!(
                                "localisation.availableLanguages: {} is not a BCP 47 language tag",
                                describe(lang)
                            ));
                        }
                    }
                }
                Some(_) => check.fail("localisation.availableLanguages must be a non-empty list"),
                None => check.fail("localisation.availableLanguages is missing"),
            }
        }
        Some(_) => check.fail("localisation must be a mapping"),
        None => check.fail("localisation is missing"),
    }
    problems
}

/// Parses `yml` into its top-level mapping, refusing oversized input.
pub(crate) fn parse_root(yml: &str) -> Result<Mapping, ExportError> {
    if yml.len() > MAX_PUBLICCODE_BYTES {
        return Err(ExportError::TooLarge {
            size: yml.len(),
            max: MAX_PUBLICCODE_BYTES,
        });
    }
    match serde_norway::from_str::<Value>(yml) {
        Ok(Value::Mapping(root)) => Ok(root),
        Ok(_) => Err(ExportError::Yaml(
            "the document is not a mapping of keys to values".into(),
        )),
        Err(e) => Err(ExportError::Yaml(e.to_string())),
    }
}

struct Checker<'a> {
    problems: &'a mut Vec<String>,
}

impl Checker<'_> {
    fn fail(&mut self, problem: impl Into<String>) {
        self.problems.push(problem.into());
    }

    /// The trimmed string under `key`, reporting it as `name` when missing, empty or not text.
    fn nonempty_string(&mut self, map: &Mapping, key: &str, name: &str) -> Option<String> {
        match map.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Value::String(_)) => {
                self.fail(format!("{name} is empty"));
                None
            }
            Some(_) => {
                self.fail(format!("{name} must be a string"));
                None
            }
            None => {
                self.fail(format!("{name} is missing"));
                None
            }
        }
    }

    fn one_of(&mut self, map: &Mapping, key: &str, name: &str, allowed: &[&str]) {
        if let Some(value) = self.nonempty_string(map, key, name) {
            if !allowed.contains(&value.as_str()) {
                self.fail(format!(
                    "{name} {value:?} is not one of: {}",
                    allowed.join(", ")
                ));
            }
        }
    }
}

fn check_intended_audience(root: &Mapping, check: &mut Checker<'_>) {
    let Some(audience) = root.get("intendedAudience") else {
        return;
    };
    let Value::Mapping(audience) = audience else {
        check.fail("intendedAudience must be a mapping");
        return;
    };
    for key in ["countries", "unsupportedCountries"] {
        if let Some(value) = audience.get(key) {
            let ok = value.as_sequence().is_some_and(|items| {
                items.iter().all(|c| {
                    c.as_str()
                        .is_some_and(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_lowercase()))
                })
            });
            if !ok {
                check.fail(format!(
                    "intendedAudience.{key} must list lowercase ISO 3166-1 alpha-2 codes"
                ));
            }
        }
    }
    if let Some(value) = audience.get("scope") {
        match value.as_sequence() {
            Some(items) => {
                for item in items {
                    if !item.as_str().is_some_and(|s| SCOPES.contains(&s)) {
                        check.fail(format!(
                            "intendedAudience.scope: {} is not in the standard's scope list",
                            describe(item)
                        ));
                    }
                }
            }
            None => check.fail("intendedAudience.scope must be a list"),
        }
    }
}

fn check_description(root: &Mapping, check: &mut Checker<'_>) {
    let languages = match root.get("description") {
        Some(Value::Mapping(languages)) if !languages.is_empty() => languages,
        Some(_) => {
            check.fail("description must map at least one language to its texts");
            return;
        }
        None => {
            check.fail("description is missing");
            return;
        }
    };
    let mut has_long = false;
    let mut has_features = false;
    for (lang, texts) in languages {
        let Some(lang) = lang.as_str() else {
            check.fail("description: language keys must be strings");
            continue;
        };
        if !is_language_tag(lang) {
            check.fail(format!(
                "description.{lang}: {lang:?} is not a BCP 47 language tag"
            ));
        }
        let Value::Mapping(texts) = texts else {
            check.fail(format!("description.{lang} must be a mapping"));
            continue;
        };
        let name = format!("description.{lang}.shortDescription");
        if let Some(short) = check.nonempty_string(texts, "shortDescription", &name) {
            let chars = short.chars().count();
            if chars > 150 {
                check.fail(format!(
                    "{name} has {chars} characters (at most 150 are allowed)"
                ));
            }
        }
        if let Some(long) = texts.get("longDescription") {
            has_long = true;
            match long.as_str() {
                Some(text) => {
                    let chars = text.trim().chars().count();
                    if !(150..=10_000).contains(&chars) {
                        check.fail(format!(
                            "description.{lang}.longDescription has {chars} characters (150 to 10000 are required)"
                        ));
                    }
                }
                None => check.fail(format!(
                    "description.{lang}.longDescription must be a string"
                )),
            }
        }
        if let Some(features) = texts.get("features") {
            has_features = true;
            let ok = features
                .as_sequence()
                .is_some_and(|items| items.iter().all(|f| is_nonempty_str(Some(f))));
            if !ok {
                check.fail(format!(
                    "description.{lang}.features must be a list of texts"
                ));
            }
        }
    }
    if !has_long {
        check.fail("description: no language has a longDescription (mandatory for at least one)");
    }
    if !has_features {
        check.fail("description: no language has features (mandatory for at least one)");
    }
}

fn check_maintenance(root: &Mapping, check: &mut Checker<'_>) {
    let maintenance = match root.get("maintenance") {
        Some(Value::Mapping(m)) => m,
        Some(_) => {
            check.fail("maintenance must be a mapping");
            return;
        }
        None => {
            check.fail("maintenance is missing (maintenance.type is mandatory)");
            return;
        }
    };
    check.one_of(maintenance, "type", "maintenance.type", &MAINTENANCE_TYPES);
    let kind = maintenance
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("");
    let contacts = maintenance.get("contacts");
    if matches!(kind, "internal" | "community") && contacts.is_none() {
        check.fail(format!(
            "maintenance.contacts is mandatory when maintenance.type is {kind}"
        ));
    }
    if let Some(contacts) = contacts {
        match contacts.as_sequence() {
            Some(items) if !items.is_empty() => {
                for (i, contact) in items.iter().enumerate() {
                    match contact.as_mapping() {
                        Some(c) => {
                            check.nonempty_string(
                                c,
                                "name",
                                &format!("maintenance.contacts[{i}].name"),
                            );
                        }
                        None => check.fail(format!(
                            "maintenance.contacts[{i}] must be a mapping with a name"
                        )),
                    }
                }
            }
            _ => check.fail("maintenance.contacts must be a non-empty list"),
        }
    }
    let contractors = maintenance.get("contractors");
    if kind == "contract" && contractors.is_none() {
        check.fail("maintenance.contractors is mandatory when maintenance.type is contract");
    }
    if let Some(contractors) = contractors {
        match contractors.as_sequence() {
            Some(items) if !items.is_empty() => {
                for (i, contractor) in items.iter().enumerate() {
                    let Some(c) = contractor.as_mapping() else {
                        check.fail(format!("maintenance.contractors[{i}] must be a mapping"));
                        continue;
                    };
                    check.nonempty_string(c, "name", &format!("maintenance.contractors[{i}].name"));
                    let until = format!("maintenance.contractors[{i}].until");
                    if let Some(date) = check.nonempty_string(c, "until", &until) {
                        if !is_iso_date(&date) {
                            check.fail(format!("{until} must be a date written YYYY-MM-DD"));
                        }
                    }
                }
            }
            _ => check.fail("maintenance.contractors must be a non-empty list"),
        }
    }
}

fn is_nonempty_str(value: Option<&Value>) -> bool {
    value
        .and_then(Value::as_str)
        .is_some_and(|s| !s.trim().is_empty())
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => "null".into(),
        _ => "a nested value".into(),
    }
}

/// True for "0.4", "0.4.0", "0.5", "1.0" and so on: a version this checker's rules cover.
fn version_at_least_0_4(version: &str) -> bool {
    let mut parts = version.trim().split('.');
    let major = parts.next().and_then(|p| p.parse::<u32>().ok());
    let minor = parts.next().map_or(Some(0), |p| p.parse::<u32>().ok());
    matches!((major, minor), (Some(major), Some(minor)) if major > 0 || minor >= 4)
}

/// A URL in the sense the standard needs: a scheme, a colon and something after it, no spaces.
pub(crate) fn is_url(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let mut scheme_chars = scheme.chars();
    scheme_chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme_chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && rest.len() > 2
        && !text.chars().any(char::is_whitespace)
}

/// A BCP 47 tag as far as the standard insists: a primary language subtag of 2–3 letters, then
/// subtags of 1–8 letters or digits.
fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    primary_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// True if `text` has the form of an SPDX licence expression: licence ids (letters, digits,
/// `.`, `-`, an optional trailing `+`, or `LicenseRef-…`) joined by AND / OR, with WITH naming
/// an exception, and balanced parentheses. `NOASSERTION` and `NONE` are not licences.
pub(crate) fn is_spdx_expression(text: &str) -> bool {
    let spaced = text.replace('(', " ( ").replace(')', " ) ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    if tokens.is_empty() {
        return false;
    }
    let mut depth = 0usize;
    // What may come next: an operand (id or "(") or an operator (AND/OR/WITH or ")").
    let mut want_operand = true;
    let mut after_with = false;
    for token in tokens {
        match token {
            "(" if want_operand => depth += 1,
            ")" if !want_operand && depth > 0 => depth -= 1,
            "AND" | "OR" | "WITH" if !want_operand => {
                after_with = token == "WITH";
                want_operand = true;
            }
            id if want_operand => {
                if !is_licence_id(id) || (!after_with && matches!(id, "NOASSERTION" | "NONE")) {
                    return false;
                }
                want_operand = false;
                after_with = false;
            }
            _ => return false,
        }
    }
    !want_operand && depth == 0
}

fn is_licence_id(id: &str) -> bool {
    let id = id.strip_suffix('+').unwrap_or(id);
    !id.is_empty()
        && id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && !matches!(id, "AND" | "OR" | "WITH")
}
