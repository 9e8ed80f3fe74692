//! The control API's messages: what the CLI may ask a running node, and what it answers.
//!
//! These types are the contract between `allmenning` (the CLI) and the node. Their JSON field
//! names are what `--json` prints, so scripts depend on them: add fields freely, never rename.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// Bytes that travel as base64 inside JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(Bytes)
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum ControlRequest {
    Status,
    Peers,
    Connect {
        addr: String,
    },
    Stop,
    Publish {
        title: String,
        kind: String,
        description: String,
        tags: Vec<String>,
        files: Vec<FilePayload>,
    },
    List,
    /// `id` may be a unique prefix of an artefact id.
    Show {
        id: String,
    },
    Log {
        id: String,
    },
    /// Every file's content at `heads` (the current heads when `None`).
    Files {
        id: String,
        heads: Option<Vec<String>>,
    },
    /// Applies `edits`, made against `base_heads`, as one signed change.
    Commit {
        id: String,
        base_heads: Vec<String>,
        edits: Vec<EditPayload>,
        message: String,
    },
    /// Test hook: corrupt the stored signature of change `hash`, so that this node serves a
    /// tampered change. Refused unless the node was started with ALLMENNING_TEST_HOOKS=1.
    DebugCorruptChange {
        id: String,
        hash: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePayload {
    pub path: String,
    pub content: Bytes,
    #[serde(default)]
    pub executable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum EditPayload {
    Write {
        path: String,
        content: Bytes,
        #[serde(default)]
        executable: bool,
    },
    Delete {
        path: String,
    },
    Rename {
        from: String,
        to: String,
    },
}

/// Sent zero or more times before the final reply of a long operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub what: String,
    pub done: u64,
    pub total: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum ControlReply {
    Status(NodeStatus),
    Peers { peers: Vec<PeerInfo> },
    Connected { addr: String },
    Stopping,
    Published(Published),
    List { artefacts: Vec<ArtefactRow> },
    Show(ArtefactDetail),
    Log { entries: Vec<LogEntry> },
    Files(FilesAt),
    Committed(Committed),
    Done,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgInfo {
    pub name: String,
    pub number: String,
    pub kind: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub peer_id: String,
    pub listen_addrs: Vec<String>,
    pub peers: usize,
    pub artefacts: usize,
    pub org: OrgInfo,
    pub home: String,
    pub version: String,
    pub uptime_secs: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    pub peer_id: String,
    pub addrs: Vec<String>,
    pub connected: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub id: String,
    pub heads: Vec<String>,
    pub files: usize,
    pub bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtefactRow {
    pub id: String,
    pub title: String,
    pub kind: String,
    pub owner: String,
    pub owner_name: String,
    pub heads: Vec<String>,
    pub files: usize,
    pub size: u64,
    pub updated: i64,
    /// False while some file contents are still being fetched from peers.
    pub complete: bool,
    /// Bytes of file content already on this node (equals `size` when complete).
    #[serde(default)]
    pub present: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub path: String,
    pub size: u64,
    /// "text" when the file is co-edited as Automerge text, "blob" otherwise.
    pub storage: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtefactDetail {
    pub id: String,
    pub title: String,
    pub kind: String,
    pub description: String,
    pub tags: Vec<String>,
    pub owner: String,
    pub owner_name: String,
    pub created: i64,
    pub heads: Vec<String>,
    pub changes: usize,
    pub files: Vec<FileInfo>,
    pub complete: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub hash: String,
    /// Hex public key of the node that signed the change.
    pub author: String,
    /// Seconds since the Unix epoch, as the author's clock said.
    pub time: i64,
    pub message: String,
    pub deps: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesAt {
    pub id: String,
    pub heads: Vec<String>,
    pub files: Vec<FilePayload>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    pub id: String,
    /// The artefact's heads after the commit (including concurrent changes already merged).
    pub heads: Vec<String>,
    /// The new change, or `None` when the edits changed nothing.
    pub change: Option<String>,
}
