//! The portal's words and numbers in Norwegian (bokmål): names of kinds, statuses and
//! organisation kinds, dates, sizes and counts.

use allmenning_protocol::catalog::Status;
use allmenning_protocol::trust::EndorsementStatus;
use allmenning_protocol::Kind;

/// A kind as a heading or badge says it; kinds this version does not know are shown as written.
pub(super) fn kind_label(kind: &str) -> String {
    match kind.trim().parse::<Kind>() {
        Ok(kind) => known_kind_label(kind).to_string(),
        Err(_) => kind.trim().to_string(),
    }
}

pub(super) fn known_kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Code => "Kode",
        Kind::Integration => "Integrasjon",
        Kind::Process => "Prosess (BPMN)",
        Kind::Datamodel => "Datamodell",
        Kind::Dpia => "DPIA",
        Kind::Ros => "ROS-analyse",
        Kind::Procurement => "Anskaffelse",
        Kind::Experience => "Erfaring",
        Kind::Dataset => "Datasett",
        Kind::Guide => "Veileder",
    }
}

/// A curator's verdict, as a badge says it ("Godkjent av KS").
pub(super) fn endorsement_label(status: EndorsementStatus) -> &'static str {
    match status {
        EndorsementStatus::Reviewed => "Vurdert",
        EndorsementStatus::Recommended => "Anbefalt",
        EndorsementStatus::Approved => "Godkjent",
        EndorsementStatus::Deprecated => "Frarådet",
        EndorsementStatus::Withdrawn => "Trukket tilbake",
    }
}

/// The CSS class of a verdict's badge.
pub(super) fn endorsement_class(status: EndorsementStatus) -> &'static str {
    match status {
        EndorsementStatus::Approved => "merke godkjent",
        EndorsementStatus::Recommended | EndorsementStatus::Reviewed => "merke anbefalt",
        EndorsementStatus::Deprecated | EndorsementStatus::Withdrawn => "merke advarsel",
    }
}

/// An initiative's status (planned, active, done or stopped); unknown ones as written.
pub(super) fn initiative_status_label(status: &str) -> String {
    match status.trim() {
        "planned" => "Planlagt".into(),
        "active" => "Pågår".into(),
        "done" => "Fullført".into(),
        "stopped" => "Stanset".into(),
        other => other.to_string(),
    }
}

/// The CSS class of an initiative status badge.
pub(super) fn initiative_class(status: &str) -> &'static str {
    match status.trim() {
        "active" => "merke anbefalt",
        "done" => "merke godkjent",
        "stopped" => "merke advarsel",
        _ => "merke",
    }
}

/// A status filter, as the select offers it.
pub(super) fn status_filter_label(status: Status) -> &'static str {
    match status {
        Status::Approved => "Godkjent",
        Status::Endorsed => "Kvalitetssikret (vurdert, anbefalt eller godkjent)",
        Status::Unendorsed => "Ikke kvalitetssikret",
        Status::Deprecated => "Frarådet eller trukket tilbake",
    }
}

/// An organisation kind as written in `config.toml` and the trust statements.
pub(super) fn org_kind_label(kind: &str) -> String {
    match kind.trim() {
        "kommune" => "Kommune".into(),
        "fylkeskommune" => "Fylkeskommune".into(),
        "iks" => "Interkommunalt selskap (IKS)".into(),
        "ks" => "KS".into(),
        "stat" => "Statlig virksomhet".into(),
        "leverandor" => "Leverandør".into(),
        "annen" => "Annen virksomhet".into(),
        other => other.to_string(),
    }
}

/// "1 artefakt", "3 artefakter".
pub(super) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", number(n as u64), if n == 1 { one } else { many })
}

/// A whole number with thin groups of three, the Norwegian way ("10 000").
pub(super) fn number(n: u64) -> String {
    let digits = n.to_string();
    if digits.len() <= 4 {
        return digits;
    }
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{a0}');
        }
        out.push(c);
    }
    out
}

/// A size in bytes with a decimal comma ("12 byte", "3,4 kB", "1,5 MB").
pub(super) fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes}\u{a0}byte");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for u in UNITS {
        value /= 1000.0;
        unit = u;
        if value < 1000.0 {
            break;
        }
    }
    let text = if value < 10.0 {
        format!("{value:.1}").replace('.', ",")
    } else {
        format!("{value:.0}")
    };
    format!("{text}\u{a0}{unit}")
}

/// A moment as a date ("29.11.2026"), in UTC: nodes do not know the reader's time zone.
pub(super) fn date(secs: i64) -> String {
    let (y, m, d, _, _) = civil(secs);
    format!("{d:02}.{m:02}.{y}")
}

/// A moment as date and time ("29.11.2026 kl. 05:17 UTC").
pub(super) fn date_time(secs: i64) -> String {
    let (y, m, d, hh, mm) = civil(secs);
    format!("{d:02}.{m:02}.{y} kl.\u{a0}{hh:02}:{mm:02}\u{a0}UTC")
}

/// The moment as an HTML `datetime` attribute (ISO 8601, UTC).
pub(super) fn iso(secs: i64) -> String {
    let (y, m, d, hh, mm) = civil(secs);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}Z")
}

/// Year, month, day, hour and minute (UTC) of a Unix time, by Howard Hinnant's
/// `civil_from_days`.
fn civil(secs: i64) -> (i64, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, (rest / 3600) as u32, ((rest % 3600) / 60) as u32)
}

/// Percent-encodes a query-string value (everything but RFC 3986's unreserved characters).
pub(super) fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The first `n` characters of a hex string, for showing keys and hashes briefly.
pub(super) fn short(hex: &str, n: usize) -> &str {
    hex.get(..n).unwrap_or(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_norwegian_and_utc() {
        assert_eq!(date(0), "01.01.1970");
        assert_eq!(
            date_time(1_798_522_620),
            "29.12.2026 kl.\u{a0}05:37\u{a0}UTC"
        );
        assert_eq!(iso(951_782_400), "2000-02-29T00:00Z");
        assert_eq!(date(-86_400), "31.12.1969");
    }

    #[test]
    fn sizes_and_numbers_use_norwegian_separators() {
        assert_eq!(size(12), "12\u{a0}byte");
        assert_eq!(size(3_400), "3,4\u{a0}kB");
        assert_eq!(size(1_500_000), "1,5\u{a0}MB");
        assert_eq!(size(250_000), "250\u{a0}kB");
        assert_eq!(number(9_999), "9999");
        assert_eq!(number(10_000), "10\u{a0}000");
        assert_eq!(number(1_234_567), "1\u{a0}234\u{a0}567");
        assert_eq!(count(1, "artefakt", "artefakter"), "1 artefakt");
        assert_eq!(count(2, "artefakt", "artefakter"), "2 artefakter");
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(url_encode("økonomi & drift"), "%C3%B8konomi%20%26%20drift");
        assert_eq!(url_encode("a-b_c.d~e"), "a-b_c.d~e");
    }

    #[test]
    fn unknown_kinds_are_shown_as_written() {
        assert_eq!(kind_label("integration"), "Integrasjon");
        assert_eq!(kind_label("hologram"), "hologram");
    }
}
