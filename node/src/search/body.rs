//! The text of an artefact's files as the search index sees it: every file name, and the start
//! of every text file. Reading only the start keeps indexing cheap and the index small on modest
//! municipal hardware, while a README, a guide or a DPIA is still found by what it says; binary
//! files (images, archives, PDFs) contribute their names only.

/// Most bytes of one file's text that are indexed.
pub const MAX_FILE_TEXT_BYTES: usize = 16 * 1024;
/// Most bytes of body text indexed per artefact (names and texts together).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// A file whose first bytes hold a NUL is taken as binary.
const BINARY_SNIFF_BYTES: usize = 1024;

/// Builds the body text of an artefact from its files (path and content): each path, followed by
/// the first [`MAX_FILE_TEXT_BYTES`] of the file when it is UTF-8 text, up to [`MAX_BODY_BYTES`]
/// in all.
pub fn body_text<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut body = String::new();
    for (path, content) in files {
        if body.len() >= MAX_BODY_BYTES {
            break;
        }
        body.push_str(path);
        body.push('\n');
        if let Some(text) = text_start(content) {
            body.push_str(text);
            body.push('\n');
        }
    }
    truncate_at_char(&body, MAX_BODY_BYTES).to_string()
}

/// The first [`MAX_FILE_TEXT_BYTES`] of `content` if it is UTF-8 text (a character cut in two at
/// the limit is left out), `None` for binary content.
fn text_start(content: &[u8]) -> Option<&str> {
    let sniff = &content[..content.len().min(BINARY_SNIFF_BYTES)];
    if sniff.contains(&0) {
        return None;
    }
    let start = &content[..content.len().min(MAX_FILE_TEXT_BYTES)];
    match std::str::from_utf8(start) {
        Ok(text) => Some(text),
        // Only the limit cut a character: keep what precedes it.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&start[..e.valid_up_to()]).ok(),
        Err(_) => None,
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
pub(super) fn truncate_at_char(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_text_are_included_binary_content_is_not() {
        let png: &[u8] = &[0x89, b'P', b'N', b'G', 0, 0, 0];
        let body = body_text([
            ("README.md", "Redusert foreldrebetaling".as_bytes()),
            ("bilder/logo.png", png),
        ]);
        assert!(body.contains("README.md"));
        assert!(body.contains("Redusert foreldrebetaling"));
        assert!(body.contains("bilder/logo.png"));
        assert!(!body.contains("PNG"));
    }

    #[test]
    fn invalid_utf8_is_treated_as_binary() {
        let latin1: &[u8] = &[b'b', b'l', 0xe5, b'b', b'\xe6', b'r'];
        let body = body_text([("gammel.txt", latin1)]);
        assert_eq!(body, "gammel.txt\n");
    }

    #[test]
    fn each_file_contributes_only_its_start() {
        let long = "æ".repeat(MAX_FILE_TEXT_BYTES); // two bytes each: twice the limit
        let body = body_text([("lang.txt", long.as_bytes())]);
        let text = body
            .strip_prefix("lang.txt\n")
            .and_then(|rest| rest.strip_suffix('\n'))
            .expect("name, text, newline");
        assert_eq!(text.len(), MAX_FILE_TEXT_BYTES);
        assert!(text.chars().all(|c| c == 'æ'));
    }

    #[test]
    fn a_character_cut_by_the_file_limit_is_left_out() {
        let mut content = "a".repeat(MAX_FILE_TEXT_BYTES - 1);
        content.push('ø'); // its second byte falls beyond the limit
        let body = body_text([("x.txt", content.as_bytes())]);
        assert!(body.contains(&"a".repeat(MAX_FILE_TEXT_BYTES - 1)));
        assert!(!body.contains('ø'));
    }

    #[test]
    fn the_whole_body_is_capped() {
        let text = "ord ".repeat(MAX_FILE_TEXT_BYTES / 4);
        let names: Vec<String> = (0..100).map(|i| format!("fil{i}.txt")).collect();
        let body = body_text(names.iter().map(|n| (n.as_str(), text.as_bytes())));
        assert!(body.len() <= MAX_BODY_BYTES);
        assert!(body.len() > MAX_BODY_BYTES - MAX_FILE_TEXT_BYTES);
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate_at_char("blåbær", 3), "bl");
        assert_eq!(truncate_at_char("blåbær", 4), "blå");
        assert_eq!(truncate_at_char("kort", 100), "kort");
    }
}
