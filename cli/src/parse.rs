//! Value parsers for command-line arguments: organisation numbers, keys, fingerprints, statement
//! ids, endorsement statuses, curator scopes, roles and dates. Each is checked here, so that a
//! typo is a usage error (exit 2) before anything reaches the node.

use allmenning_protocol::identity::{OrgKind, OrgNumber, OrgNumberError, PublicKey};
use allmenning_protocol::trust::{EndorsementStatus, Scope, StatementId};
use clap::builder::{PossibleValuesParser, TypedValueParser};

/// A 9-digit organisation number, checked against its mod-11 check digit.
pub fn org_number(s: &str) -> Result<OrgNumber, OrgNumberError> {
    OrgNumber::parse(s)
}

pub fn org_kind() -> impl TypedValueParser<Value = OrgKind> {
    PossibleValuesParser::new(OrgKind::ALL.map(|k| k.as_str())).try_map(|s| s.parse::<OrgKind>())
}

/// reviewed, recommended, approved, deprecated or withdrawn (any case).
pub fn endorsement_status() -> impl TypedValueParser<Value = EndorsementStatus> {
    PossibleValuesParser::new(EndorsementStatus::ALL.map(|s| s.as_str()))
        .try_map(|s| s.parse::<EndorsementStatus>())
}

/// admit or endorse (any case).
pub fn scope() -> impl TypedValueParser<Value = Scope> {
    PossibleValuesParser::new(Scope::ALL.map(|s| s.as_str())).try_map(|s| s.parse::<Scope>())
}

/// The roles `access grant` gives.
pub const ROLES: [&str; 2] = ["maintainer", "reader"];

/// maintainer or reader (any case), lowercased.
pub fn role() -> impl TypedValueParser<Value = String> {
    PossibleValuesParser::new(ROLES).map(|s| s.to_ascii_lowercase())
}

/// A node key as `node status --json` prints it (`node_key`): 64 hex digits, lowercased.
pub fn node_key(s: &str) -> Result<String, String> {
    let s = s.trim();
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(s, &mut bytes).map_err(|_| {
        format!(
            "not a node key: expected 64 hex digits (the \"node_key\" of `allmenning node status --json` on that node), got {} characters",
            s.chars().count()
        )
    })?;
    Ok(hex::encode(bytes))
}

/// An org key fingerprint as `org show` prints it: 16 hex digits (spaces and colons allowed).
pub fn fingerprint(s: &str) -> Result<String, String> {
    let compact: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    if compact.len() != 16 || !compact.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "not a fingerprint: expected 16 hex digits (as `allmenning org show` prints it), got {s:?}"
        ));
    }
    Ok(compact)
}

/// A statement id: 64 hex digits, lowercased.
pub fn statement_id(s: &str) -> Result<String, String> {
    s.trim()
        .to_ascii_lowercase()
        .parse::<StatementId>()
        .map(|id| id.to_hex())
        .map_err(|e| e.to_string())
}

/// The fingerprint operators compare out of band: the first 16 hex digits of BLAKE3 of the
/// public key's bytes (what the node reports as an org's `fingerprint`).
/// A node's proof of possession: 64 bytes as 128 hex digits (lowercased).
pub fn possession_proof(s: &str) -> Result<String, String> {
    let s = s.trim();
    let mut bytes = [0u8; 64];
    hex::decode_to_slice(s, &mut bytes).map_err(|_| {
        format!(
            "not a proof of possession: expected 128 hex digits (what `allmenning org node-proof` prints on that node), got {} characters",
            s.chars().count()
        )
    })?;
    Ok(hex::encode(bytes))
}

pub fn key_fingerprint(key: &PublicKey) -> String {
    blake3::hash(&key.0).to_hex()[..16].to_string()
}

/// An expiry time, in seconds since the Unix epoch: `YYYY-MM-DD` means the end of that day in UTC
/// (the delegation holds through the whole day, until midnight), or an RFC 3339 time such as
/// `2026-12-31T16:00:00+01:00`.
pub fn expiry(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let bad = |why: &str| {
        format!("{why}: expected a date YYYY-MM-DD (until the end of that day, UTC) or an RFC 3339 time such as 2026-12-31T23:59:59Z, got {s:?}")
    };
    if s.len() == 10 {
        let (y, m, d) = parse_date(s).ok_or_else(|| bad("not a date"))?;
        return Ok((days_from_civil(y, m, d) + 1) * 86_400);
    }
    parse_rfc3339(s).map_err(|why| bad(&why))
}

/// `YYYY-MM-DD`, checked (months 1..=12, days within the month).
fn parse_date(s: &str) -> Option<(i64, u32, u32)> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = digits(&s[0..4])?.into();
    let m = digits(&s[5..7])?;
    let d = digits(&s[8..10])?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some((y, m, d))
}

/// Only ASCII digits (no sign, no spaces), as a number.
fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Howard Hinnant's (year, month, day) → days since 1970-01-01, proleptic Gregorian.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`; `t`, `z` and a space instead of `T` are accepted too.
/// Fractions of a second are dropped.
fn parse_rfc3339(s: &str) -> Result<i64, String> {
    if !s.is_ascii() || s.len() < 20 {
        return Err("not a date or time".into());
    }
    let (date, rest) = s.split_at(10);
    let (y, m, d) = parse_date(date).ok_or("not a valid date")?;
    let rest = rest
        .strip_prefix(['T', 't', ' '])
        .ok_or("the date and the time are separated by T")?;
    let b = rest.as_bytes();
    if b.len() < 9 || b[2] != b':' || b[5] != b':' {
        return Err("the time is HH:MM:SS".into());
    }
    let hh = digits(&rest[0..2]).ok_or("the time is HH:MM:SS")?;
    let mm = digits(&rest[3..5]).ok_or("the time is HH:MM:SS")?;
    let ss = digits(&rest[6..8]).ok_or("the time is HH:MM:SS")?;
    if hh > 23 || mm > 59 || ss > 60 {
        return Err("no such time of day".into());
    }
    let mut zone = &rest[8..];
    if let Some(frac) = zone.strip_prefix('.') {
        let end = frac
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        if end == 0 {
            return Err("a fraction of a second needs digits after the dot".into());
        }
        zone = &frac[end..];
    }
    let offset: i64 = match zone {
        "Z" | "z" => 0,
        _ => {
            let zb = zone.as_bytes();
            if zb.len() != 6 || !(zb[0] == b'+' || zb[0] == b'-') || zb[3] != b':' {
                return Err("the time ends with Z or an offset such as +01:00".into());
            }
            let oh = digits(&zone[1..3]).ok_or("bad offset")?;
            let om = digits(&zone[4..6]).ok_or("bad offset")?;
            if oh > 23 || om > 59 {
                return Err("bad offset".into());
            }
            let secs = i64::from(oh * 3600 + om * 60);
            if zb[0] == b'-' {
                -secs
            } else {
                secs
            }
        }
    };
    let local = days_from_civil(y, m, d) * 86_400
        + i64::from(hh) * 3600
        + i64::from(mm) * 60
        + i64::from(ss);
    Ok(local - offset)
}

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::format_time;

    #[test]
    fn days_match_the_calendar() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 2, 29) * 86_400, 951_782_400);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        for secs in [0i64, 951_782_400, 1_700_000_000, 1_798_675_200, -86_400] {
            let day = secs.div_euclid(86_400);
            let text = format_time(day * 86_400);
            let (y, m, d) = parse_date(&text[..10]).unwrap();
            assert_eq!(days_from_civil(y, m, d), day, "{text}");
        }
    }

    #[test]
    fn a_date_means_the_end_of_that_day_in_utc() {
        // 2026-12-31 ends at 2027-01-01 00:00 UTC.
        let end = expiry("2026-12-31").unwrap();
        assert_eq!(format_time(end), "2027-01-01 00:00 UTC");
        assert_eq!(expiry(" 2026-12-31 ").unwrap(), end);
        assert_eq!(
            format_time(expiry("2028-02-29").unwrap()),
            "2028-03-01 00:00 UTC"
        );
    }

    #[test]
    fn rfc3339_times_with_offsets_and_fractions() {
        assert_eq!(expiry("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(expiry("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000);
        assert_eq!(expiry("2023-11-14t22:13:20z").unwrap(), 1_700_000_000);
        assert_eq!(expiry("2023-11-14 22:13:20Z").unwrap(), 1_700_000_000);
        assert_eq!(expiry("2023-11-14T23:13:20+01:00").unwrap(), 1_700_000_000);
        assert_eq!(expiry("2023-11-14T20:43:20-01:30").unwrap(), 1_700_000_000);
        assert_eq!(expiry("2023-11-14T22:13:20.999Z").unwrap(), 1_700_000_000);
    }

    #[test]
    fn bad_dates_are_refused_with_the_expected_forms() {
        for bad in [
            "",
            "tomorrow",
            "2026-13-01",
            "2026-02-29",
            "2026-04-31",
            "2026-00-10",
            "26-12-31",
            "2026/12/31",
            "31.12.2026",
            "2026-12-31T24:00:00Z",
            "2026-12-31T23:60:00Z",
            "2026-12-31T23:59:59",
            "2026-12-31T23:59:59+1",
            "2026-12-31T23:59:59.Z",
            "2026-12-31X23:59:59Z",
            "+026-12-31",
            "2026-12-31T23:59:59+01:00 extra",
        ] {
            let err = expiry(bad).unwrap_err();
            assert!(err.contains("YYYY-MM-DD"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn keys_fingerprints_and_statement_ids() {
        let key = "AB".repeat(32);
        assert_eq!(node_key(&key).unwrap(), "ab".repeat(32));
        assert!(node_key("abcd").unwrap_err().contains("64 hex digits"));
        assert!(node_key(&"zz".repeat(32)).is_err());

        assert_eq!(
            fingerprint("0123 4567 89AB CDEF").unwrap(),
            "0123456789abcdef"
        );
        assert_eq!(
            fingerprint("01:23:45:67:89:ab:cd:ef").unwrap(),
            "0123456789abcdef"
        );
        assert!(fingerprint("0123456789abcde").is_err());
        assert!(fingerprint("0123456789abcdeg").is_err());

        assert_eq!(statement_id(&"0F".repeat(32)).unwrap(), "0f".repeat(32));
        assert!(statement_id("0f0f").unwrap_err().contains("64 hex"));

        let public = PublicKey([7; 32]);
        let fp = key_fingerprint(&public);
        assert_eq!(fp.len(), 16);
        assert_eq!(fp, &blake3::hash(&[7; 32]).to_hex()[..16]);
    }

    #[test]
    fn org_numbers_statuses_and_scopes() {
        assert!(org_number("964338531").is_ok());
        assert!(org_number("964 338 531").is_ok());
        assert!(org_number("964338532").is_err());
        assert!(org_number("12345").is_err());
        assert_eq!(
            "Approved".parse::<EndorsementStatus>().unwrap(),
            EndorsementStatus::Approved
        );
        assert!("good".parse::<EndorsementStatus>().is_err());
        assert_eq!("ADMIT".parse::<Scope>().unwrap(), Scope::Admit);
    }
}
