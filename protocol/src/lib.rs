//! The sans-IO core of Allmenning.
//!
//! Everything that decides *what* a node does lives here: identities and signatures, the artefact
//! model on top of Automerge, signed changes, the wire messages and the sync engine. Nothing here
//! opens a socket, reads a clock or draws a random number: the node passes time and randomness in
//! and carries out the effects the engine asks for. That keeps every rule testable with a few
//! in-memory peers and a virtual clock, and lets the same logic run in the simulator at scale.

pub mod artefact;
pub mod authz;
pub mod blob;
pub mod catalog;
pub mod engine;
pub mod export;
pub mod identity;
pub mod refused;
pub mod signed;
pub mod store;
pub mod testing;
pub mod trust;
pub mod wire;

pub use artefact::{ArtefactId, FileEdit, Kind, Metadata};
pub use blob::BlobHash;
pub use engine::{Engine, Event, Output};
pub use identity::{NodeKey, OrgKind, OrgNumber, PublicKey};
pub use store::{MemStore, Store};

/// Automerge's change hash, re-exported so callers need not depend on automerge for it.
pub use automerge::ChangeHash;
