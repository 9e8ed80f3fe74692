//! Where the engine keeps what it knows.
//!
//! The engine never touches a disk itself: it talks to a `Store`. The node plugs in sled; tests
//! and the simulator use `MemStore`. An artefact rests as a compacted Automerge snapshot plus an
//! append-only log of changes written since, so a commit costs one small append and one flush,
//! not a rewrite of the whole document. Proofs (signatures) are kept per change for as long as the
//! artefact lives, because every peer that receives the artefact later must be able to check them.

use crate::artefact::{ArtefactId, ArtefactSummary};
use crate::blob::BlobHash;
use crate::signed::Proof;
use automerge::ChangeHash;
use std::collections::{BTreeMap, HashMap};

/// One change as stored: its hash, its raw Automerge bytes and the proof that it may be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredChange {
    pub hash: ChangeHash,
    pub bytes: Vec<u8>,
    pub proof: Proof,
}

/// What is needed to rebuild an artefact's document in memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredDocument {
    /// The last compacted snapshot (`Automerge::save`), if any.
    pub snapshot: Option<Vec<u8>>,
    /// Raw bytes of changes appended since that snapshot, in the order they were appended.
    pub changes: Vec<Vec<u8>>,
}

/// A trust statement as stored: its encoding and when this node first accepted it.
///
/// The acceptance time is part of what a statement means here: a revocation only ends what the
/// revoked key signs *after* the revocation was accepted, and a curator's expiry is judged by
/// when the statement was first seen, not by the date its signer wrote into it (see `trust`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredStatement {
    /// The encoded `SignedStatement`.
    pub bytes: Vec<u8>,
    /// Seconds since the Unix epoch, by this node's clock, when it first accepted the
    /// statement; 0 for records written before acceptance times were kept.
    pub accepted_at: i64,
}

/// Persistence for the engine. Writes may be buffered; `flush` makes everything written so far
/// durable, and the engine calls it before it reports a local commit as done.
pub trait Store {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Ids of every artefact that has at least one change stored.
    fn artefact_ids(&self) -> Result<Vec<ArtefactId>, Self::Error>;
    /// The document's snapshot and change log, or `None` if the artefact is unknown.
    fn load_document(&self, id: &ArtefactId) -> Result<Option<StoredDocument>, Self::Error>;
    /// Appends changes to the artefact's log and records their proofs.
    fn append_changes(
        &mut self,
        id: &ArtefactId,
        changes: &[StoredChange],
    ) -> Result<(), Self::Error>;
    /// Replaces the snapshot with `snapshot` and drops the log (the snapshot holds all of it).
    /// Proofs are kept.
    fn compact(&mut self, id: &ArtefactId, snapshot: &[u8]) -> Result<(), Self::Error>;
    /// Every proof recorded for the artefact.
    fn proofs(&self, id: &ArtefactId) -> Result<Vec<(ChangeHash, Proof)>, Self::Error>;

    /// Saves the listing row for an artefact (kept current by the engine after every change).
    fn put_summary(&mut self, summary: &ArtefactSummary) -> Result<(), Self::Error>;
    /// All listing rows.
    fn summaries(&self) -> Result<Vec<ArtefactSummary>, Self::Error>;

    fn has_blob(&self, hash: &BlobHash) -> Result<bool, Self::Error>;
    fn get_blob(&self, hash: &BlobHash) -> Result<Option<Vec<u8>>, Self::Error>;
    /// Stores a blob. The caller has checked that `bytes` hash to `hash`.
    fn put_blob(&mut self, hash: &BlobHash, bytes: &[u8]) -> Result<(), Self::Error>;

    /// Stores an encoded trust statement under its id with the time this node first accepted
    /// it (idempotent: the engine stores a statement once, when it first accepts it).
    fn put_statement(
        &mut self,
        id: &[u8; 32],
        bytes: &[u8],
        accepted_at: i64,
    ) -> Result<(), Self::Error>;
    /// Forgets a stored trust statement (an applicant's that expired, a superseded one).
    fn remove_statement(&mut self, id: &[u8; 32]) -> Result<(), Self::Error>;
    /// Every stored trust statement with its acceptance time.
    fn statements(&self) -> Result<Vec<StoredStatement>, Self::Error>;

    /// The record of changes refused for an artefact (an encoded `refused::RefusedLog`), if any.
    fn refused(&self, id: &ArtefactId) -> Result<Option<Vec<u8>>, Self::Error>;
    /// Replaces the refused-change record of an artefact; `None` removes it.
    fn put_refused(&mut self, id: &ArtefactId, record: Option<&[u8]>) -> Result<(), Self::Error>;

    /// Makes everything written so far durable.
    fn flush(&mut self) -> Result<(), Self::Error>;
}

/// An in-memory store for tests and simulations.
#[derive(Clone, Debug, Default)]
pub struct MemStore {
    documents: BTreeMap<ArtefactId, StoredDocument>,
    proofs: HashMap<ArtefactId, BTreeMap<ChangeHash, Proof>>,
    summaries: BTreeMap<ArtefactId, ArtefactSummary>,
    blobs: HashMap<BlobHash, Vec<u8>>,
    statements: BTreeMap<[u8; 32], StoredStatement>,
    refused: BTreeMap<ArtefactId, Vec<u8>>,
    /// How many times `flush` was called: tests use it to check durability ordering.
    pub flushes: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("in-memory store error")]
pub struct MemStoreError;

impl MemStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Total bytes of blobs held (for simulations and tests).
    pub fn blob_bytes(&self) -> usize {
        self.blobs.values().map(Vec::len).sum()
    }

    /// Total bytes of trust statements held (for tests of what peers can make a node store).
    pub fn statement_bytes(&self) -> usize {
        self.statements.values().map(|s| s.bytes.len()).sum()
    }

    /// Raw access for tests that tamper with stored data.
    pub fn document_mut(&mut self, id: &ArtefactId) -> Option<&mut StoredDocument> {
        self.documents.get_mut(id)
    }
}

impl Store for MemStore {
    type Error = MemStoreError;

    fn artefact_ids(&self) -> Result<Vec<ArtefactId>, Self::Error> {
        Ok(self.documents.keys().copied().collect())
    }

    fn load_document(&self, id: &ArtefactId) -> Result<Option<StoredDocument>, Self::Error> {
        Ok(self.documents.get(id).cloned())
    }

    fn append_changes(
        &mut self,
        id: &ArtefactId,
        changes: &[StoredChange],
    ) -> Result<(), Self::Error> {
        let doc = self.documents.entry(*id).or_default();
        let proofs = self.proofs.entry(*id).or_default();
        for change in changes {
            doc.changes.push(change.bytes.clone());
            proofs.insert(change.hash, change.proof.clone());
        }
        Ok(())
    }

    fn compact(&mut self, id: &ArtefactId, snapshot: &[u8]) -> Result<(), Self::Error> {
        let doc = self.documents.entry(*id).or_default();
        doc.snapshot = Some(snapshot.to_vec());
        doc.changes.clear();
        Ok(())
    }

    fn proofs(&self, id: &ArtefactId) -> Result<Vec<(ChangeHash, Proof)>, Self::Error> {
        Ok(self
            .proofs
            .get(id)
            .map(|p| p.iter().map(|(h, p)| (*h, p.clone())).collect())
            .unwrap_or_default())
    }

    fn put_summary(&mut self, summary: &ArtefactSummary) -> Result<(), Self::Error> {
        self.summaries.insert(summary.id, summary.clone());
        Ok(())
    }

    fn summaries(&self) -> Result<Vec<ArtefactSummary>, Self::Error> {
        Ok(self.summaries.values().cloned().collect())
    }

    fn has_blob(&self, hash: &BlobHash) -> Result<bool, Self::Error> {
        Ok(self.blobs.contains_key(hash))
    }

    fn get_blob(&self, hash: &BlobHash) -> Result<Option<Vec<u8>>, Self::Error> {
        Ok(self.blobs.get(hash).cloned())
    }

    fn put_blob(&mut self, hash: &BlobHash, bytes: &[u8]) -> Result<(), Self::Error> {
        self.blobs.insert(*hash, bytes.to_vec());
        Ok(())
    }

    fn put_statement(
        &mut self,
        id: &[u8; 32],
        bytes: &[u8],
        accepted_at: i64,
    ) -> Result<(), Self::Error> {
        self.statements.insert(
            *id,
            StoredStatement {
                bytes: bytes.to_vec(),
                accepted_at,
            },
        );
        Ok(())
    }

    fn remove_statement(&mut self, id: &[u8; 32]) -> Result<(), Self::Error> {
        self.statements.remove(id);
        Ok(())
    }

    fn statements(&self) -> Result<Vec<StoredStatement>, Self::Error> {
        Ok(self.statements.values().cloned().collect())
    }

    fn refused(&self, id: &ArtefactId) -> Result<Option<Vec<u8>>, Self::Error> {
        Ok(self.refused.get(id).cloned())
    }

    fn put_refused(&mut self, id: &ArtefactId, record: Option<&[u8]>) -> Result<(), Self::Error> {
        match record {
            Some(bytes) => self.refused.insert(*id, bytes.to_vec()),
            None => self.refused.remove(id),
        };
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.flushes += 1;
        Ok(())
    }
}
