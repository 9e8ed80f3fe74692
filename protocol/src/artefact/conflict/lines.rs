//! The line-based three-way (and N-way) comparison that decides whether concurrent text edits
//! merge or conflict.
//!
//! Automerge merges concurrent text edits character by character, which is right for edits to
//! different lines and wrong for edits to the same line (two prices become `68590_500`). So the
//! versions of each side are compared against their common ancestor line by line, as git and jj
//! do: edits to regions of the ancestor that are separated by at least one unchanged line merge;
//! edits to the same or adjacent lines conflict unless they are identical. The diff is git's
//! histogram diff (imara-diff), whose bounds in pathological inputs are counted in work, not
//! time, so every node reaches the same decision for the same versions.

use imara_diff::{Algorithm, Diff, InternedInput};

/// One piece of a merge result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chunk {
    /// Lines every side agrees on (unchanged, or changed by one side, or changed identically).
    Clean(String),
    /// A region of the ancestor that sides changed differently.
    Conflict {
        /// The ancestor's lines of the region.
        base: String,
        /// Each distinct version of the region, with the sides (indices into the merged
        /// versions) that wrote it, in side order.
        versions: Vec<(Vec<usize>, String)>,
    },
}

/// The line-based merge of several versions of a text against their common ancestor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merge {
    pub chunks: Vec<Chunk>,
}

/// A side's change to the ancestor: the ancestor lines `before` are replaced by the side's lines
/// `after`.
#[derive(Clone, Debug)]
struct Hunk {
    side: usize,
    before: std::ops::Range<u32>,
    after: std::ops::Range<u32>,
}

impl Merge {
    /// Merges `sides` (each a full text) against `base`.
    pub fn of(base: &str, sides: &[&str]) -> Merge {
        let base_lines: Vec<&str> = imara_diff::sources::lines(base).collect();
        let side_lines: Vec<Vec<&str>> = sides
            .iter()
            .map(|s| imara_diff::sources::lines(s).collect())
            .collect();
        let mut hunks: Vec<Hunk> = Vec::new();
        for (side, text) in sides.iter().enumerate() {
            let input = InternedInput::new(base, *text);
            let mut diff = Diff::compute(Algorithm::Histogram, &input);
            diff.postprocess_lines(&input);
            hunks.extend(diff.hunks().map(|h| Hunk {
                side,
                before: h.before,
                after: h.after,
            }));
        }
        // Stable order: by position in the ancestor, then by side.
        hunks.sort_by(|a, b| {
            (a.before.start, a.before.end, a.side).cmp(&(b.before.start, b.before.end, b.side))
        });

        // Each side's line offset (side position - base position) before the next hunk.
        let mut offset: Vec<i64> = vec![0; sides.len()];
        let mut chunks: Vec<Chunk> = Vec::new();
        let mut copied_to: u32 = 0;
        let mut i = 0;
        while i < hunks.len() {
            // A region: hunks whose ancestor ranges overlap or touch (adjacent lines conflict).
            let start = hunks[i].before.start;
            let mut end = hunks[i].before.end;
            let mut j = i + 1;
            while j < hunks.len() && hunks[j].before.start <= end {
                end = end.max(hunks[j].before.end);
                j += 1;
            }
            let region = &hunks[i..j];
            push_clean(
                &mut chunks,
                join(&base_lines[copied_to as usize..start as usize]),
            );
            copied_to = end;

            // Each participating side's version of [start, end).
            let mut participants: Vec<usize> = region.iter().map(|h| h.side).collect();
            participants.sort_unstable();
            participants.dedup();
            let mut versions: Vec<(Vec<usize>, String)> = Vec::new();
            for &side in &participants {
                let delta: i64 = region
                    .iter()
                    .filter(|h| h.side == side)
                    .map(|h| i64::from(h.after.len() as u32) - i64::from(h.before.len() as u32))
                    .sum();
                let from = (i64::from(start) + offset[side]).max(0) as usize;
                let to = (i64::from(end) + offset[side] + delta).max(from as i64) as usize;
                let lines = &side_lines[side];
                let text = join(&lines[from.min(lines.len())..to.min(lines.len())]);
                offset[side] += delta;
                match versions.iter_mut().find(|(_, t)| *t == text) {
                    Some((who, _)) => who.push(side),
                    None => versions.push((vec![side], text)),
                }
            }
            if versions.len() == 1 {
                let (_, text) = versions.remove(0);
                push_clean(&mut chunks, text);
            } else {
                chunks.push(Chunk::Conflict {
                    base: join(&base_lines[start as usize..end as usize]),
                    versions,
                });
            }
            i = j;
        }
        push_clean(&mut chunks, join(&base_lines[copied_to as usize..]));
        Merge { chunks }
    }

    /// True when no region conflicts.
    pub fn is_clean(&self) -> bool {
        self.chunks.iter().all(|c| matches!(c, Chunk::Clean(_)))
    }

    /// The merged text, when clean.
    pub fn clean_text(&self) -> Option<String> {
        let mut out = String::new();
        for chunk in &self.chunks {
            match chunk {
                Chunk::Clean(text) => out.push_str(text),
                Chunk::Conflict { .. } => return None,
            }
        }
        Some(out)
    }

    /// Number of conflicting regions.
    pub fn conflicts(&self) -> usize {
        self.chunks
            .iter()
            .filter(|c| matches!(c, Chunk::Conflict { .. }))
            .count()
    }

    /// The text with git's diff3-style conflict markers around each conflicting region:
    /// `<<<<<<< first side`, its lines, `||||||| base`, the ancestor's lines, `=======`, the
    /// next side's lines (one `=======` section per further version), `>>>>>>> last side`.
    /// `labels[i]` names side `i`.
    pub fn render(&self, labels: &[String], base_label: &str) -> String {
        let label = |who: &[usize]| {
            who.iter()
                .map(|&i| labels.get(i).map(String::as_str).unwrap_or("?"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut out = String::new();
        for chunk in &self.chunks {
            match chunk {
                Chunk::Clean(text) => out.push_str(text),
                Chunk::Conflict { base, versions } => {
                    let (first, rest) = match versions.split_first() {
                        Some(split) => split,
                        None => continue,
                    };
                    ensure_line_end(&mut out);
                    out.push_str(&format!("{} {}\n", OURS_MARKER, label(&first.0)));
                    push_section(&mut out, &first.1);
                    out.push_str(&format!("{} {}\n", BASE_MARKER, base_label));
                    push_section(&mut out, base);
                    for (_, text) in rest {
                        out.push_str(SEPARATOR_MARKER);
                        out.push('\n');
                        push_section(&mut out, text);
                    }
                    let last: Vec<usize> = rest.iter().flat_map(|(who, _)| who.clone()).collect();
                    out.push_str(&format!("{} {}\n", THEIRS_MARKER, label(&last)));
                }
            }
        }
        out
    }
}

pub const OURS_MARKER: &str = "<<<<<<<";
pub const BASE_MARKER: &str = "|||||||";
pub const SEPARATOR_MARKER: &str = "=======";
pub const THEIRS_MARKER: &str = ">>>>>>>";

/// Whether `text` still holds a conflict region as [`Merge::render`] writes it (and as git
/// writes them): a line starting `<<<<<<<` followed later by a `=======` line and a line
/// starting `>>>>>>>`.
pub fn has_conflict_markers(text: &str) -> bool {
    let mut state = 0;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        state = match state {
            0 if line.starts_with(OURS_MARKER) => 1,
            1 if line == SEPARATOR_MARKER => 2,
            2 if line.starts_with(THEIRS_MARKER) => return true,
            s => s,
        };
    }
    false
}

fn push_section(out: &mut String, text: &str) {
    out.push_str(text);
    ensure_line_end(out);
}

fn ensure_line_end(out: &mut String) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

fn push_clean(chunks: &mut Vec<Chunk>, text: String) {
    if text.is_empty() {
        return;
    }
    match chunks.last_mut() {
        Some(Chunk::Clean(prev)) => prev.push_str(&text),
        _ => chunks.push(Chunk::Clean(text)),
    }
}

fn join(lines: &[&str]) -> String {
    lines.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "a\nb\nc\nd\ne\n";

    #[test]
    fn edits_with_an_unchanged_line_between_merge() {
        let m = Merge::of(BASE, &["A\nb\nc\nd\ne\n", "a\nb\nC\nd\ne\n"]);
        assert_eq!(m.clean_text().as_deref(), Some("A\nb\nC\nd\ne\n"));
    }

    #[test]
    fn edits_to_the_same_line_conflict() {
        let m = Merge::of(
            "MAKS = 677_000\n",
            &["MAKS = 690_000\n", "MAKS = 685_500\n"],
        );
        assert!(!m.is_clean());
        let text = m.render(&["Bergen 1".into(), "Trondheim 2".into()], "base");
        assert_eq!(
            text,
            "<<<<<<< Bergen 1\nMAKS = 690_000\n||||||| base\nMAKS = 677_000\n=======\nMAKS = 685_500\n>>>>>>> Trondheim 2\n"
        );
        assert!(has_conflict_markers(&text));
    }

    #[test]
    fn edits_to_adjacent_lines_conflict() {
        let m = Merge::of(BASE, &["a\nB\nc\nd\ne\n", "a\nb\nC\nd\ne\n"]);
        assert_eq!(m.conflicts(), 1);
    }

    #[test]
    fn identical_edits_do_not_conflict() {
        let m = Merge::of(BASE, &["a\nB\nc\nd\ne\n", "a\nB\nc\nd\ne\n"]);
        assert_eq!(m.clean_text().as_deref(), Some("a\nB\nc\nd\ne\n"));
    }

    #[test]
    fn insertions_at_the_same_place_conflict_and_apart_merge() {
        let same = Merge::of(BASE, &["a\nx\nb\nc\nd\ne\n", "a\ny\nb\nc\nd\ne\n"]);
        assert!(!same.is_clean());
        let apart = Merge::of(BASE, &["x\na\nb\nc\nd\ne\n", "a\nb\nc\nd\ne\ny\n"]);
        assert_eq!(apart.clean_text().as_deref(), Some("x\na\nb\nc\nd\ne\ny\n"));
    }

    #[test]
    fn three_sides_merge_or_conflict() {
        let m = Merge::of(
            BASE,
            &["A\nb\nc\nd\ne\n", "a\nb\nC\nd\ne\n", "a\nb\nc\nd\nE\n"],
        );
        assert_eq!(m.clean_text().as_deref(), Some("A\nb\nC\nd\nE\n"));
        let m = Merge::of(
            BASE,
            &["A\nb\nc\nd\ne\n", "X\nb\nc\nd\ne\n", "Y\nb\nc\nd\ne\n"],
        );
        let text = m.render(&["one".into(), "two".into(), "three".into()], "base");
        assert!(text.contains("<<<<<<< one\nA\n"));
        assert!(text.contains("=======\nX\n=======\nY\n>>>>>>> two, three\n"));
    }

    #[test]
    fn a_missing_final_newline_still_gets_markers_on_their_own_lines() {
        let m = Merge::of("x", &["y", "z"]);
        let text = m.render(&["A".into(), "B".into()], "base");
        assert_eq!(
            text,
            "<<<<<<< A\ny\n||||||| base\nx\n=======\nz\n>>>>>>> B\n"
        );
    }

    #[test]
    fn markers_are_found_only_as_a_whole() {
        assert!(!has_conflict_markers("<<<<<<< only an opening line\n"));
        assert!(!has_conflict_markers("a\n=======\nb\n"));
        assert!(has_conflict_markers(
            "<<<<<<< A\r\nx\r\n=======\r\ny\r\n>>>>>>> B\r\n"
        ));
    }
}
