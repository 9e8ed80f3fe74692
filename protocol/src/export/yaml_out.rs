//! Writes YAML that every reader takes the same way, whether it speaks YAML 1.1 or 1.2.
//!
//! publiccode.yml files are read by many tools, some of them YAML 1.1 readers (PyYAML, older
//! Go parsers) for which a plain `no` is the boolean false and a plain `2026-11-30` a date.
//! serde_norway's serializer writes such strings unquoted, because they are strings in YAML
//! 1.2. This writer therefore double-quotes every string on one line, writes multi-line text
//! as a literal block (`|-`), which no reader interprets, and otherwise keeps the key order
//! and layout of the value it is given.

use serde_norway::Value;
use std::fmt::Write as _;

/// `value` as a YAML document.
pub(crate) fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Mapping(map) if !map.is_empty() => write_mapping(&mut out, map, 0),
        Value::Sequence(items) if !items.is_empty() => write_sequence(&mut out, items, 0),
        scalar => {
            write_scalar(&mut out, scalar, 2);
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, width: usize) {
    out.extend(std::iter::repeat_n(' ', width));
}

fn write_mapping(out: &mut String, map: &serde_norway::Mapping, width: usize) {
    for (i, (key, value)) in map.iter().enumerate() {
        // The first key of a sequence item follows its "- " on the same line.
        if i > 0 || !out.ends_with("- ") {
            indent(out, width);
        }
        write_key(out, key);
        out.push(':');
        write_value(out, value, width);
    }
}

fn write_sequence(out: &mut String, items: &[Value], width: usize) {
    for item in items {
        indent(out, width);
        out.push_str("- ");
        match item {
            Value::Mapping(map) if !map.is_empty() => write_mapping(out, map, width + 2),
            Value::Sequence(inner) if !inner.is_empty() => {
                out.push('\n');
                write_sequence(out, inner, width + 2);
            }
            scalar => {
                write_scalar(out, scalar, width + 2);
                out.push('\n');
            }
        }
    }
}

/// The value after `key:`, on the same line when it is a scalar, else on the following lines.
fn write_value(out: &mut String, value: &Value, width: usize) {
    match value {
        Value::Mapping(map) if !map.is_empty() => {
            out.push('\n');
            write_mapping(out, map, width + 2);
        }
        Value::Sequence(items) if !items.is_empty() => {
            out.push('\n');
            write_sequence(out, items, width + 2);
        }
        scalar => {
            out.push(' ');
            write_scalar(out, scalar, width + 2);
            out.push('\n');
        }
    }
}

fn write_key(out: &mut String, key: &Value) {
    match key.as_str() {
        Some(k)
            if k.starts_with(|c: char| c.is_ascii_alphabetic())
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                && !is_ambiguous_plain(k) =>
        {
            out.push_str(k)
        }
        Some(k) => write_quoted(out, k),
        None => write_scalar(out, key, 0),
    }
}

/// Plain words that some YAML version reads as something other than a string.
fn is_ambiguous_plain(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
    )
}

/// A scalar whose continuation lines (for block text) are indented by `width`.
fn write_scalar(out: &mut String, value: &Value, width: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) if fits_literal_block(s) => {
            out.push_str("|-");
            for line in s.split('\n') {
                out.push('\n');
                if !line.is_empty() {
                    indent(out, width);
                    out.push_str(line);
                }
            }
        }
        Value::String(s) => write_quoted(out, s),
        Value::Mapping(_) => out.push_str("{}"),
        Value::Sequence(_) => out.push_str("[]"),
        Value::Tagged(tagged) => write_scalar(out, &tagged.value, width),
    }
}

/// Multi-line text that a literal block keeps exactly: no leading space or break (that would
/// need an indentation indicator), no trailing break (chomped by `|-`), no line of only
/// spaces, and nothing but printable characters and tabs.
fn fits_literal_block(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with([' ', '\n', '\t'])
        && !s.ends_with('\n')
        && s.split('\n')
            .all(|line| line.is_empty() || !line.chars().all(|c| c == ' ' || c == '\t'))
        && s.chars().all(|c| c == '\n' || c == '\t' || is_printable(c))
}

fn is_printable(c: char) -> bool {
    !c.is_control() && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

fn write_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_printable(c) => out.push(c),
            c => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(value: &Value) {
        let text = to_yaml(value);
        let back: Value = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(&back, value, "\n{text}");
    }

    #[test]
    fn tricky_strings_read_back_exactly() {
        let strings = [
            "no",
            "yes",
            "2026-11-30",
            "0.4",
            "",
            " leading space",
            "trailing space ",
            "a: b",
            "- dash",
            "# hash",
            "\"quoted\" and \\ backslash",
            "line one\nline two",
            "two paragraphs\n\nsecond",
            "ends with break\n",
            "\nstarts with break",
            "blank line with spaces\n   \nafter",
            "tab\tinside\nand below",
            "control \u{7} bell",
            "next line \u{85} NEL",
            "line separator \u{2028} here",
            "æøå ÆØÅ «sitat» …",
            "*Delt i Allmenning:* tekst",
            "&anchor *alias !tag %directive @at `tick",
        ];
        for s in strings {
            round_trip(&Value::String(s.to_string()));
        }
        let nested: Value = serde_norway::from_str(
            "a:\n  - b: 1\n    c: [x, 'no']\n  - []\n  - {}\n  - [[1, 2], []]\nd: true\ne: null\n'yes': 2\n",
        )
        .unwrap();
        round_trip(&nested);
    }

    #[test]
    fn ambiguous_words_and_dates_are_quoted() {
        let value: Value =
            serde_norway::from_str("countries: ['no']\nreleaseDate: '2026-11-30'\n").unwrap();
        let text = to_yaml(&value);
        assert!(text.contains("- \"no\""), "{text}");
        assert!(text.contains("releaseDate: \"2026-11-30\""), "{text}");
    }
}
