//! Deterministic origins for co-edited text.
//!
//! A file starts life as a blob. The first time anyone edits it, it must become Automerge text so
//! that concurrent edits merge character by character. If each editor created that text object
//! itself, two nodes editing the same file at once would create two different objects and one
//! edit would be lost. Instead the text object is created by an *origin change* that depends only
//! on the path and the blob: actor id derived from them, no dependencies, time 0. Every node that
//! makes or checks it gets the same bytes and the same hash, so concurrent first edits land in one
//! shared object. The origin needs no signature: any node can recompute it from the blob that a
//! signed change names.

use crate::blob::BlobHash;
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Automerge, Change, ObjType, ROOT};

/// Length of an origin actor id. Signed actor ids are 40 bytes, so the two never collide.
pub const ORIGIN_ACTOR_LEN: usize = 16;

const TEXT_KEY_PREFIX: &str = "text:";

/// The root-map key under which the origin text of `path` at `blob` lives.
pub fn text_key(path: &str, blob: &BlobHash) -> String {
    format!("{TEXT_KEY_PREFIX}{}:{path}", blob.to_hex())
}

/// Parses a key made by `text_key` back into (path, blob).
pub fn parse_text_key(key: &str) -> Option<(String, BlobHash)> {
    let rest = key.strip_prefix(TEXT_KEY_PREFIX)?;
    let (hex, path) = rest.split_at_checked(64)?;
    let path = path.strip_prefix(':')?;
    Some((path.to_string(), hex.parse().ok()?))
}

/// The actor id of the origin change for `path` at `blob`.
pub fn origin_actor(path: &str, blob: &BlobHash) -> ActorId {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"allmenning/origin/v1\0");
    hasher.update(&blob.0);
    hasher.update(path.as_bytes());
    ActorId::from(&hasher.finalize().as_bytes()[..ORIGIN_ACTOR_LEN])
}

#[derive(Debug, thiserror::Error)]
pub enum OriginError {
    #[error("building origin text failed: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    #[error("building origin text produced no change")]
    Empty,
}

/// Builds the origin change: a fresh document whose only change puts `content` as text under
/// `text_key(path, blob)` in the root map.
pub fn origin_change(path: &str, blob: &BlobHash, content: &str) -> Result<Change, OriginError> {
    let mut doc = Automerge::new().with_actor(origin_actor(path, blob));
    let key = text_key(path, blob);
    doc.transact_with(
        |_| CommitOptions::default().with_time(0),
        |tx| {
            let text = tx.put_object(ROOT, key.as_str(), ObjType::Text)?;
            tx.splice_text(&text, 0, 0, content)?;
            Ok::<_, automerge::AutomergeError>(())
        },
    )
    .map_err(|failure| OriginError::Automerge(failure.error))?;
    doc.get_changes(&[])
        .into_iter()
        .next()
        .ok_or(OriginError::Empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_is_deterministic_and_depends_on_path_and_blob() {
        let blob = BlobHash::of(b"hei\n");
        let a = origin_change("README.md", &blob, "hei\n").unwrap();
        let b = origin_change("README.md", &blob, "hei\n").unwrap();
        assert_eq!(a.hash(), b.hash());
        assert_eq!(a.raw_bytes(), b.raw_bytes());
        assert!(a.deps().is_empty());
        assert_ne!(
            origin_change("other.md", &blob, "hei\n").unwrap().hash(),
            a.hash()
        );
    }

    #[test]
    fn text_keys_round_trip_even_with_colons_in_paths() {
        let blob = BlobHash::of(b"x");
        let key = text_key("dir/a:b.txt", &blob);
        assert_eq!(
            parse_text_key(&key),
            Some(("dir/a:b.txt".to_string(), blob))
        );
        assert_eq!(parse_text_key("files"), None);
        assert_eq!(parse_text_key("text:zz:path"), None);
    }
}
