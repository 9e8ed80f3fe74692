//! Small helpers for what commands print.

use serde::Serialize;
use std::io::{IsTerminal, Write};

/// `println!` that returns the write error instead of panicking (a closed pipe, say), so that
/// `allmenning list | head` ends quietly.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// Prints a warning on stderr (stdout stays clean for JSON and pipes).
pub fn warn(text: &str) {
    eprintln!("warning: {text}");
}

/// Writes `text` as is to stdout.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// The first 12 characters of an id or hash: enough to be unique in practice, and accepted
/// wherever an id is expected.
pub fn short(id: &str) -> &str {
    match id.char_indices().nth(12) {
        Some((i, _)) => &id[..i],
        None => id,
    }
}

/// Seconds since the Unix epoch as `YYYY-MM-DD HH:MM UTC`.
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Seconds since the Unix epoch as `YYYY-MM-DD` (UTC).
pub fn format_date(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

use allmenning_protocol::export::civil_from_days;

/// `1.2 MB`-style sizes.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `3h 12m`-style durations.
pub fn format_duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m {}s", secs / 60, secs % 60),
        3600..=86_399 => format!("{}h {}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d {}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths[i] - cell.chars().count() + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// Asks `question` on the terminal (`[y/N]`, answered on stdin; y, yes, j or ja agree). Off a
/// terminal it fails with `off_terminal` (message, hint), so that a script never agrees by
/// accident; a refusal fails with `declined`.
pub fn confirm(question: &str, off_terminal: (String, &str), declined: &str) -> anyhow::Result<()> {
    use std::io::BufRead;
    if !std::io::stdin().is_terminal() {
        return Err(crate::error::CliError::failed(off_terminal.0, off_terminal.1).into());
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(
        answer.trim().to_lowercase().as_str(),
        "y" | "yes" | "j" | "ja"
    ) {
        Ok(())
    } else {
        Err(crate::error::CliError::Failed {
            message: declined.into(),
            hint: None,
        }
        .into())
    }
}

/// Whether progress bars may be drawn on stderr.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_sizes_and_ids() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_700_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(format_size(999), "999 B");
        assert_eq!(format_size(1_234_567), "1.2 MB");
        assert_eq!(short("0123456789abcdef"), "0123456789ab");
        assert_eq!(short("abc"), "abc");
        assert_eq!(format_duration(3725), "1h 2m");
        assert_eq!(format_date(1_700_000_000), "2023-11-14");
        assert_eq!(format_date(-1), "1969-12-31");
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["ID", "TITLE"],
            &[
                vec!["a".into(), "Første".into()],
                vec!["bbbb".into(), "x".into()],
            ],
        );
        assert_eq!(t, "ID    TITLE\na     Første\nbbbb  x\n");
    }
}
