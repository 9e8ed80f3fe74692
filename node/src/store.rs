//! The node's durable `Store`: sled on disk.
//!
//! The engine is sans-IO and only sees the `Store` trait; this is the implementation a real node
//! runs on. The layout follows the trait's shape so that every operation is a handful of point
//! writes, never a rewrite of a whole document:
//!
//! * `snapshots`: artefact id → the last compacted Automerge snapshot;
//! * `changes`: artefact id ++ big-endian u64 sequence → raw change bytes. Big-endian keys sort in
//!   numeric order, so a prefix scan reads an artefact's log back in append order. Sequence
//!   numbers come from `Db::generate_id`, which sled keeps monotonic across restarts and crashes;
//! * `proofs`: artefact id ++ change hash → postcard of the `Proof`, kept across compaction
//!   because every later receiver must be able to check every change;
//! * `artefacts`: artefact id → nothing, a small index so listing artefacts never walks the logs;
//! * `summaries`: artefact id → JSON of the `ArtefactSummary` listing row;
//! * `blobs`: blob hash → bytes;
//! * `peers`: libp2p peer id → JSON list of multiaddrs, so a restarted node can redial the peers
//!   it knew without waiting for bootstrap;
//! * `statements`: statement id → a statement record: [`STATEMENT_RECORD_TAG`], the time this
//!   node first accepted the statement (big-endian i64 seconds) and the encoded statement. The
//!   acceptance time decides what a statement means after a revocation, so it is kept with the
//!   statement itself. Records written before times were kept are the bare encoded statement;
//!   they still load, as accepted at 0;
//! * `refused`: artefact id → the record of changes this node refused for it (bounded; see
//!   `allmenning_protocol::refused`), so the count shown survives a restart.
//!
//! Opening only opens trees: nothing is scanned at start-up, so start-up time does not grow with
//! the bytes stored. Writes that must agree with each other (a change and its proof; a new snapshot
//! and the log it replaces) go through one sled transaction, so a crash leaves either all of them
//! or none.

use allmenning_protocol::artefact::{ArtefactId, ArtefactSummary};
use allmenning_protocol::blob::BlobHash;
use allmenning_protocol::signed::Proof;
use allmenning_protocol::store::{Store, StoredChange, StoredDocument, StoredStatement};
use allmenning_protocol::ChangeHash;
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use std::path::{Path, PathBuf};

/// Length of an artefact id in keys.
const ID_LEN: usize = 16;
/// Length of an Automerge change hash in keys.
const HASH_LEN: usize = 32;

const TREE_SNAPSHOTS: &str = "snapshots";
const TREE_CHANGES: &str = "changes";
const TREE_PROOFS: &str = "proofs";
const TREE_ARTEFACTS: &str = "artefacts";
const TREE_SUMMARIES: &str = "summaries";
const TREE_BLOBS: &str = "blobs";
const TREE_PEERS: &str = "peers";
const TREE_STATEMENTS: &str = "statements";
const TREE_REFUSED: &str = "refused";

/// First byte of a statement record that carries its acceptance time. A bare encoded statement
/// (the record format before acceptance times) starts with the statement format version, 1.
const STATEMENT_RECORD_TAG: u8 = 0xA7;
/// Tag and acceptance time in front of the statement in a record.
const STATEMENT_RECORD_HEADER: usize = 1 + 8;

fn encode_statement_record(bytes: &[u8], accepted_at: i64) -> Vec<u8> {
    let mut record = Vec::with_capacity(STATEMENT_RECORD_HEADER + bytes.len());
    record.push(STATEMENT_RECORD_TAG);
    record.extend_from_slice(&accepted_at.to_be_bytes());
    record.extend_from_slice(bytes);
    record
}

/// Reads a statement record of either format; a record of the old format (no tag) is a
/// statement accepted at 0. A tagged record too short for its header is handed on as it is:
/// it does not decode as a statement, so the engine ignores it (and says so) instead of the
/// whole node failing to start over one damaged record.
fn decode_statement_record(record: &[u8]) -> StoredStatement {
    match record.split_first() {
        Some((&STATEMENT_RECORD_TAG, rest)) if rest.len() >= 8 => {
            let (time, bytes) = rest.split_at(8);
            let mut be = [0u8; 8];
            be.copy_from_slice(time);
            StoredStatement {
                bytes: bytes.to_vec(),
                accepted_at: i64::from_be_bytes(be),
            }
        }
        _ => StoredStatement {
            bytes: record.to_vec(),
            accepted_at: 0,
        },
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the database at {} is locked by another process: is a node already running for this home? \
         (stop it with `allmenning node stop`, or use another --home)",
        .path.display()
    )]
    Locked { path: PathBuf },
    #[error("cannot open the database at {}: {source}", .path.display())]
    Open { path: PathBuf, source: sled::Error },
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    #[error("the database holds a malformed {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("cannot encode {what}: {detail}")]
    Encode { what: &'static str, detail: String },
}

impl From<TransactionError<()>> for StoreError {
    fn from(e: TransactionError<()>) -> Self {
        match e {
            TransactionError::Storage(e) => StoreError::Sled(e),
            // Our transactions never abort on purpose.
            TransactionError::Abort(()) => StoreError::Corrupt {
                what: "transaction",
                detail: "aborted".into(),
            },
        }
    }
}

/// Artefacts, proofs, summaries, blobs and known peers in one sled database.
pub struct SledStore {
    db: sled::Db,
    path: PathBuf,
    snapshots: sled::Tree,
    changes: sled::Tree,
    proofs: sled::Tree,
    artefacts: sled::Tree,
    summaries: sled::Tree,
    blobs: sled::Tree,
    peers: sled::Tree,
    statements: sled::Tree,
    refused: sled::Tree,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn is_lock_error(e: &sled::Error) -> bool {
    match e {
        sled::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::WouldBlock
                || io.to_string().contains("could not acquire lock")
        }
        _ => false,
    }
}

fn id_key(id: &ArtefactId) -> [u8; ID_LEN] {
    id.0
}

fn change_key(id: &ArtefactId, seq: u64) -> [u8; ID_LEN + 8] {
    let mut key = [0u8; ID_LEN + 8];
    key[..ID_LEN].copy_from_slice(&id.0);
    key[ID_LEN..].copy_from_slice(&seq.to_be_bytes());
    key
}

fn proof_key(id: &ArtefactId, hash: &ChangeHash) -> [u8; ID_LEN + HASH_LEN] {
    let mut key = [0u8; ID_LEN + HASH_LEN];
    key[..ID_LEN].copy_from_slice(&id.0);
    key[ID_LEN..].copy_from_slice(&hash.0);
    key
}

fn decode_id(key: &[u8]) -> Result<ArtefactId, StoreError> {
    let bytes: [u8; ID_LEN] = key.try_into().map_err(|_| StoreError::Corrupt {
        what: "artefact id key",
        detail: format!("expected {ID_LEN} bytes, found {}", key.len()),
    })?;
    Ok(ArtefactId(bytes))
}

impl SledStore {
    /// Opens (creating if needed) the database directory at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new().path(path).open().map_err(|source| {
            if is_lock_error(&source) {
                StoreError::Locked {
                    path: path.to_path_buf(),
                }
            } else {
                StoreError::Open {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        let open_tree = |name: &str| {
            db.open_tree(name).map_err(|source| StoreError::Open {
                path: path.to_path_buf(),
                source,
            })
        };
        Ok(SledStore {
            snapshots: open_tree(TREE_SNAPSHOTS)?,
            changes: open_tree(TREE_CHANGES)?,
            proofs: open_tree(TREE_PROOFS)?,
            artefacts: open_tree(TREE_ARTEFACTS)?,
            summaries: open_tree(TREE_SUMMARIES)?,
            blobs: open_tree(TREE_BLOBS)?,
            peers: open_tree(TREE_PEERS)?,
            statements: open_tree(TREE_STATEMENTS)?,
            refused: open_tree(TREE_REFUSED)?,
            path: path.to_path_buf(),
            db,
        })
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records (or replaces) the addresses a peer was reached at.
    pub fn remember_peer(&self, peer_id: &str, addrs: &[String]) -> Result<(), StoreError> {
        let value = serde_json::to_vec(addrs).map_err(|e| StoreError::Encode {
            what: "peer addresses",
            detail: e.to_string(),
        })?;
        self.peers.insert(peer_id.as_bytes(), value)?;
        Ok(())
    }

    /// Every remembered peer with its addresses, ordered by peer id.
    pub fn known_peers(&self) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let mut out = Vec::new();
        for entry in self.peers.iter() {
            let (key, value) = entry?;
            let peer = String::from_utf8(key.to_vec()).map_err(|e| StoreError::Corrupt {
                what: "peer id",
                detail: e.to_string(),
            })?;
            let addrs: Vec<String> =
                serde_json::from_slice(&value).map_err(|e| StoreError::Corrupt {
                    what: "peer address list",
                    detail: format!("{peer}: {e}"),
                })?;
            out.push((peer, addrs));
        }
        Ok(out)
    }

    /// Forgets a peer (no error if it was unknown).
    pub fn forget_peer(&self, peer_id: &str) -> Result<(), StoreError> {
        self.peers.remove(peer_id.as_bytes())?;
        Ok(())
    }
}

impl Store for SledStore {
    type Error = StoreError;

    fn artefact_ids(&self) -> Result<Vec<ArtefactId>, Self::Error> {
        self.artefacts
            .iter()
            .keys()
            .map(|key| decode_id(&key?))
            .collect()
    }

    fn load_document(&self, id: &ArtefactId) -> Result<Option<StoredDocument>, Self::Error> {
        let key = id_key(id);
        let snapshot = self.snapshots.get(key)?.map(|v| v.to_vec());
        let changes = self
            .changes
            .scan_prefix(key)
            .values()
            .map(|v| v.map(|v| v.to_vec()))
            .collect::<Result<Vec<_>, _>>()?;
        if snapshot.is_none() && changes.is_empty() && !self.artefacts.contains_key(key)? {
            return Ok(None);
        }
        Ok(Some(StoredDocument { snapshot, changes }))
    }

    fn append_changes(
        &mut self,
        id: &ArtefactId,
        changes: &[StoredChange],
    ) -> Result<(), Self::Error> {
        if changes.is_empty() {
            return Ok(());
        }
        // Sequence numbers and encodings are prepared outside the transaction, whose closure may
        // run more than once.
        let mut rows = Vec::with_capacity(changes.len());
        for change in changes {
            let seq = self.db.generate_id()?;
            let proof = postcard::to_stdvec(&change.proof).map_err(|e| StoreError::Encode {
                what: "proof",
                detail: e.to_string(),
            })?;
            rows.push((
                change_key(id, seq),
                proof_key(id, &change.hash),
                &change.bytes,
                proof,
            ));
        }
        (&self.changes, &self.proofs, &self.artefacts).transaction(
            |(log, proofs, artefacts)| {
                for (change_key, proof_key, bytes, proof) in &rows {
                    log.insert(&change_key[..], bytes.as_slice())?;
                    proofs.insert(&proof_key[..], proof.as_slice())?;
                }
                artefacts.insert(&id_key(id)[..], &[][..])?;
                Ok::<(), ConflictableTransactionError<()>>(())
            },
        )?;
        Ok(())
    }

    fn compact(&mut self, id: &ArtefactId, snapshot: &[u8]) -> Result<(), Self::Error> {
        let key = id_key(id);
        // `&mut self` means no append can slip in between this scan and the transaction.
        let log_keys = self
            .changes
            .scan_prefix(key)
            .keys()
            .collect::<Result<Vec<_>, _>>()?;
        (&self.snapshots, &self.changes, &self.artefacts).transaction(
            |(snapshots, log, artefacts)| {
                snapshots.insert(&key[..], snapshot)?;
                for k in &log_keys {
                    log.remove(k)?;
                }
                artefacts.insert(&key[..], &[][..])?;
                Ok::<(), ConflictableTransactionError<()>>(())
            },
        )?;
        Ok(())
    }

    fn proofs(&self, id: &ArtefactId) -> Result<Vec<(ChangeHash, Proof)>, Self::Error> {
        let mut out = Vec::new();
        for entry in self.proofs.scan_prefix(id_key(id)) {
            let (key, value) = entry?;
            let hash: [u8; HASH_LEN] = key
                .get(ID_LEN..)
                .and_then(|h| h.try_into().ok())
                .ok_or_else(|| StoreError::Corrupt {
                    what: "proof key",
                    detail: format!("expected {} bytes, found {}", ID_LEN + HASH_LEN, key.len()),
                })?;
            let proof: Proof = postcard::from_bytes(&value).map_err(|e| StoreError::Corrupt {
                what: "proof",
                detail: format!("artefact {id}, change {}: {e}", hex::encode(hash)),
            })?;
            out.push((ChangeHash(hash), proof));
        }
        Ok(out)
    }

    fn put_summary(&mut self, summary: &ArtefactSummary) -> Result<(), Self::Error> {
        let value = serde_json::to_vec(summary).map_err(|e| StoreError::Encode {
            what: "artefact summary",
            detail: e.to_string(),
        })?;
        self.summaries.insert(id_key(&summary.id), value)?;
        Ok(())
    }

    fn summaries(&self) -> Result<Vec<ArtefactSummary>, Self::Error> {
        self.summaries
            .iter()
            .values()
            .map(|value| {
                serde_json::from_slice(&value?).map_err(|e| StoreError::Corrupt {
                    what: "artefact summary",
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    fn has_blob(&self, hash: &BlobHash) -> Result<bool, Self::Error> {
        Ok(self.blobs.contains_key(hash.0)?)
    }

    fn get_blob(&self, hash: &BlobHash) -> Result<Option<Vec<u8>>, Self::Error> {
        Ok(self.blobs.get(hash.0)?.map(|v| v.to_vec()))
    }

    fn put_blob(&mut self, hash: &BlobHash, bytes: &[u8]) -> Result<(), Self::Error> {
        self.blobs.insert(hash.0, bytes)?;
        Ok(())
    }

    fn put_statement(
        &mut self,
        id: &[u8; 32],
        bytes: &[u8],
        accepted_at: i64,
    ) -> Result<(), Self::Error> {
        self.statements
            .insert(id, encode_statement_record(bytes, accepted_at))?;
        Ok(())
    }

    fn remove_statement(&mut self, id: &[u8; 32]) -> Result<(), Self::Error> {
        self.statements.remove(id)?;
        Ok(())
    }

    fn statements(&self) -> Result<Vec<StoredStatement>, Self::Error> {
        self.statements
            .iter()
            .values()
            .map(|v| Ok(decode_statement_record(&v?)))
            .collect()
    }

    fn refused(&self, id: &ArtefactId) -> Result<Option<Vec<u8>>, Self::Error> {
        Ok(self.refused.get(id_key(id))?.map(|v| v.to_vec()))
    }

    fn put_refused(&mut self, id: &ArtefactId, record: Option<&[u8]>) -> Result<(), Self::Error> {
        match record {
            Some(bytes) => {
                self.refused.insert(id_key(id), bytes)?;
            }
            None => {
                self.refused.remove(id_key(id))?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opens a database just closed in this process. sled's background flusher can hold the
    /// file lock for a moment after the last handle is dropped (another process never sees
    /// this: the lock goes when the process exits), so wait for it briefly.
    fn reopen(path: &Path) -> SledStore {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match SledStore::open(path) {
                Ok(store) => return store,
                Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("reopen failed: {e}"),
            }
        }
    }
    use allmenning_protocol::wire::Head;

    fn id(n: u8) -> ArtefactId {
        ArtefactId([n; 16])
    }

    fn change(n: u8) -> StoredChange {
        StoredChange {
            hash: ChangeHash([n; 32]),
            bytes: vec![n; 3 + n as usize],
            proof: Proof::Signed {
                signature: vec![n; 64],
            },
        }
    }

    fn summary(n: u8) -> ArtefactSummary {
        ArtefactSummary {
            id: id(n),
            title: format!("Artefact {n}"),
            kind: "code".into(),
            owner: "964338531".into(),
            owner_name: "Bergen kommune".into(),
            heads: vec![Head([n; 32])],
            files: 2,
            size: 1234,
            updated: 1_700_000_000,
            complete: n.is_multiple_of(2),
            present: 1000,
            conflicts: 0,
        }
    }

    #[test]
    fn every_method_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = SledStore::open(&tmp.path().join("db")).unwrap();

        assert!(store.artefact_ids().unwrap().is_empty());
        assert_eq!(store.load_document(&id(1)).unwrap(), None);
        assert!(store.proofs(&id(1)).unwrap().is_empty());

        // Many appends so that the log order is not an accident of small numbers.
        let changes: Vec<StoredChange> = (0..40).map(change).collect();
        for chunk in changes.chunks(7) {
            store.append_changes(&id(1), chunk).unwrap();
        }
        store.append_changes(&id(2), &[change(200)]).unwrap();
        store.append_changes(&id(3), &[]).unwrap();
        assert_eq!(store.artefact_ids().unwrap(), vec![id(1), id(2)]);

        let doc = store.load_document(&id(1)).unwrap().unwrap();
        assert_eq!(doc.snapshot, None);
        assert_eq!(
            doc.changes,
            changes.iter().map(|c| c.bytes.clone()).collect::<Vec<_>>()
        );
        assert_eq!(
            store.load_document(&id(2)).unwrap().unwrap().changes,
            vec![change(200).bytes]
        );

        let mut proofs = store.proofs(&id(1)).unwrap();
        proofs.sort_by_key(|(h, _)| *h);
        let mut expected: Vec<_> = changes.iter().map(|c| (c.hash, c.proof.clone())).collect();
        expected.sort_by_key(|(h, _)| *h);
        assert_eq!(proofs, expected);
        let origin = Proof::Origin {
            path: "README.md".into(),
            blob: BlobHash::of(b"hi"),
        };
        store
            .append_changes(
                &id(2),
                &[StoredChange {
                    hash: ChangeHash([9; 32]),
                    bytes: vec![1],
                    proof: origin.clone(),
                }],
            )
            .unwrap();
        assert!(store
            .proofs(&id(2))
            .unwrap()
            .contains(&(ChangeHash([9; 32]), origin)));

        store.put_summary(&summary(1)).unwrap();
        store.put_summary(&summary(2)).unwrap();
        let mut newer = summary(1);
        newer.title = "Renamed".into();
        store.put_summary(&newer).unwrap();
        assert_eq!(store.summaries().unwrap(), vec![newer, summary(2)]);

        let blob = b"some file contents".to_vec();
        let hash = BlobHash::of(&blob);
        assert!(!store.has_blob(&hash).unwrap());
        assert_eq!(store.get_blob(&hash).unwrap(), None);
        store.put_blob(&hash, &blob).unwrap();
        assert!(store.has_blob(&hash).unwrap());
        assert_eq!(store.get_blob(&hash).unwrap(), Some(blob));

        store.flush().unwrap();
    }

    #[test]
    fn data_survives_close_and_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("db");
        let blob = vec![42u8; 100_000];
        let hash = BlobHash::of(&blob);
        {
            let mut store = SledStore::open(&path).unwrap();
            store
                .append_changes(&id(1), &[change(1), change(2)])
                .unwrap();
            store.compact(&id(2), b"snapshot").unwrap();
            store.put_summary(&summary(1)).unwrap();
            store.put_blob(&hash, &blob).unwrap();
            store.flush().unwrap();
        }
        let mut store = reopen(&path);
        assert_eq!(store.artefact_ids().unwrap(), vec![id(1), id(2)]);
        let doc = store.load_document(&id(1)).unwrap().unwrap();
        assert_eq!(doc.changes, vec![change(1).bytes, change(2).bytes]);
        assert_eq!(store.proofs(&id(1)).unwrap().len(), 2);
        assert_eq!(
            store.load_document(&id(2)).unwrap().unwrap(),
            StoredDocument {
                snapshot: Some(b"snapshot".to_vec()),
                changes: vec![]
            }
        );
        assert_eq!(store.summaries().unwrap(), vec![summary(1)]);
        assert_eq!(store.get_blob(&hash).unwrap(), Some(blob));

        // Appends after a restart still land after the earlier ones.
        store.append_changes(&id(1), &[change(3)]).unwrap();
        let doc = store.load_document(&id(1)).unwrap().unwrap();
        assert_eq!(
            doc.changes,
            vec![change(1).bytes, change(2).bytes, change(3).bytes]
        );
    }

    #[test]
    fn compaction_drops_the_log_but_keeps_proofs() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = SledStore::open(&tmp.path().join("db")).unwrap();
        store
            .append_changes(&id(1), &[change(1), change(2)])
            .unwrap();
        store.append_changes(&id(2), &[change(3)]).unwrap();
        store.compact(&id(1), b"snap-1").unwrap();

        let doc = store.load_document(&id(1)).unwrap().unwrap();
        assert_eq!(
            doc,
            StoredDocument {
                snapshot: Some(b"snap-1".to_vec()),
                changes: vec![]
            }
        );
        assert_eq!(store.proofs(&id(1)).unwrap().len(), 2);
        // Other artefacts are untouched.
        assert_eq!(
            store.load_document(&id(2)).unwrap().unwrap().changes,
            vec![change(3).bytes]
        );

        store.append_changes(&id(1), &[change(4)]).unwrap();
        store.compact(&id(1), b"snap-2").unwrap();
        store.append_changes(&id(1), &[change(5)]).unwrap();
        let doc = store.load_document(&id(1)).unwrap().unwrap();
        assert_eq!(
            doc,
            StoredDocument {
                snapshot: Some(b"snap-2".to_vec()),
                changes: vec![change(5).bytes]
            }
        );
        assert_eq!(store.proofs(&id(1)).unwrap().len(), 4);
        assert_eq!(store.artefact_ids().unwrap(), vec![id(1), id(2)]);
    }

    #[test]
    fn refused_records_survive_a_reopen_and_can_be_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("db");
        let (a, b) = (ArtefactId([1; 16]), ArtefactId([2; 16]));
        {
            let mut store = SledStore::open(&path).unwrap();
            store.put_refused(&a, Some(&[1, 2, 3])).unwrap();
            store.put_refused(&b, Some(&[4])).unwrap();
            store.put_refused(&b, None).unwrap();
            store.flush().unwrap();
        }
        let store = reopen(&path);
        assert_eq!(store.refused(&a).unwrap(), Some(vec![1, 2, 3]));
        assert_eq!(store.refused(&b).unwrap(), None);
    }

    #[test]
    fn statements_keep_their_acceptance_time_and_old_records_still_load() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("db");
        {
            let mut store = SledStore::open(&path).unwrap();
            store
                .put_statement(&[1; 32], &[1, 2, 3], 1_700_000_123)
                .unwrap();
            store.put_statement(&[2; 32], &[1, 9], -5).unwrap();
            // A record as written before acceptance times were kept: the bare statement.
            store.statements.insert([3; 32], &[1u8, 7, 7][..]).unwrap();
            store.put_statement(&[4; 32], &[1], 9).unwrap();
            store.remove_statement(&[4; 32]).unwrap();
            store.flush().unwrap();
        }
        let store = reopen(&path);
        assert_eq!(
            store.statements().unwrap(),
            vec![
                StoredStatement {
                    bytes: vec![1, 2, 3],
                    accepted_at: 1_700_000_123
                },
                StoredStatement {
                    bytes: vec![1, 9],
                    accepted_at: -5
                },
                StoredStatement {
                    bytes: vec![1, 7, 7],
                    accepted_at: 0
                },
            ]
        );
        // A tagged record too short for its header is handed on as it is (it will not decode
        // as a statement), not misread as another time.
        store
            .statements
            .insert([5; 32], &[STATEMENT_RECORD_TAG, 0, 1][..])
            .unwrap();
        assert_eq!(
            store.statements().unwrap()[3],
            StoredStatement {
                bytes: vec![STATEMENT_RECORD_TAG, 0, 1],
                accepted_at: 0
            }
        );
    }

    #[test]
    fn known_peers_survive_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("db");
        {
            let store = SledStore::open(&path).unwrap();
            assert!(store.known_peers().unwrap().is_empty());
            store
                .remember_peer("12D3KooWB", &["/ip4/10.0.0.2/tcp/4646".into()])
                .unwrap();
            store
                .remember_peer("12D3KooWA", &["/ip4/10.0.0.1/tcp/4646".into()])
                .unwrap();
            store.remember_peer("12D3KooWC", &[]).unwrap();
            store
                .remember_peer(
                    "12D3KooWA",
                    &[
                        "/ip4/10.0.0.9/tcp/4646".into(),
                        "/ip4/10.0.0.9/udp/4646/quic-v1".into(),
                    ],
                )
                .unwrap();
            store.forget_peer("12D3KooWC").unwrap();
            store.forget_peer("unknown").unwrap();
        }
        let store = reopen(&path);
        assert_eq!(
            store.known_peers().unwrap(),
            vec![
                (
                    "12D3KooWA".to_string(),
                    vec![
                        "/ip4/10.0.0.9/tcp/4646".to_string(),
                        "/ip4/10.0.0.9/udp/4646/quic-v1".to_string()
                    ]
                ),
                (
                    "12D3KooWB".to_string(),
                    vec!["/ip4/10.0.0.2/tcp/4646".to_string()]
                ),
            ]
        );
    }

    #[test]
    fn a_second_open_of_the_same_database_says_it_is_locked() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("db");
        let _first = SledStore::open(&path).unwrap();
        let err = SledStore::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
        assert!(err.to_string().contains("already running"), "{err}");
    }
}
