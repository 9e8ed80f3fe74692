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
    /// The catalogue, filtered; every criterion given must hold.
    Catalog {
        #[serde(default)]
        kind: Option<String>,
        #[serde(default)]
        org: Option<String>,
        #[serde(default)]
        status: Option<String>,
        #[serde(default)]
        tag: Option<String>,
    },
    /// Full-text search of the catalogue, best first.
    Search {
        query: String,
        #[serde(default = "default_search_limit")]
        limit: usize,
    },
    /// Who does what: each organisation's artefacts, by role.
    Activity,
    /// Announce an initiative this node's organisation leads.
    InitiativeNew {
        title: String,
        #[serde(default)]
        description: String,
        /// Ids (or unique prefixes) of artefacts that belong to it.
        #[serde(default)]
        artefacts: Vec<String>,
    },
    InitiativeList,
    InitiativeShow {
        id: String,
    },
    InitiativeJoin {
        id: String,
    },
    /// Change an initiative this node's organisation leads.
    InitiativeUpdate {
        id: String,
        #[serde(default)]
        status: Option<String>,
        #[serde(default)]
        artefacts: Vec<String>,
    },
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
        /// Organisation numbers that may read the artefact; empty means public.
        #[serde(default)]
        share_with: Vec<String>,
    },
    List,
    /// `id` may be a unique prefix of an artefact id. With `heads`, the files are listed as
    /// they were at that version (the rest describes the artefact now).
    Show {
        id: String,
        #[serde(default)]
        heads: Option<Vec<String>>,
    },
    /// The history, newest first; with `path`, only the changes that touched that file.
    Log {
        id: String,
        #[serde(default)]
        path: Option<String>,
    },
    /// The heads a version name stands for: a change hash, a unique prefix of one, or
    /// `endorsed` (the version a curator endorsed most recently).
    Version {
        id: String,
        version: String,
    },
    /// Every file's content at `heads` (the current heads when `None`).
    Files {
        id: String,
        heads: Option<Vec<String>>,
        /// The version a curator endorsed most recently (reviewed, recommended or approved),
        /// instead of `heads`.
        #[serde(default)]
        endorsed: bool,
    },
    /// Applies `edits`, made against `base_heads`, as one signed change.
    Commit {
        id: String,
        base_heads: Vec<String>,
        edits: Vec<EditPayload>,
        message: String,
        /// Offer the edits to the maintainers as a proposal instead (also what happens when
        /// this node's organisation may not write to the artefact).
        #[serde(default)]
        propose: bool,
    },
    /// Makes this node's organisation an adaptation of artefact `id` at an exact version: its
    /// current heads, the given `heads`, or (with `endorsed`) the version a curator endorsed
    /// most recently.
    Adopt {
        id: String,
        #[serde(default)]
        title: Option<String>,
        #[serde(default)]
        heads: Option<Vec<String>>,
        #[serde(default)]
        endorsed: bool,
    },
    /// Merges the upstream's changes this node holds into adaptation `id`.
    PullUpstream {
        id: String,
    },
    /// Offers the changes of adaptation `id` that its upstream lacks to the upstream's
    /// maintainers, as a proposal.
    ProposeUpstream {
        id: String,
        message: String,
    },
    /// Proposals made for an artefact.
    Proposals {
        id: String,
    },
    /// One proposal with what it would change.
    ProposalReview {
        proposal: String,
    },
    /// A maintainer accepts or declines a proposal.
    ProposalDecide {
        proposal: String,
        accept: bool,
    },
    /// Makes this node's organisation the root curator of a new network and joins it.
    NetworkCreate {
        name: String,
    },
    /// Adopts a network file (its roots and bootstrap addresses).
    NetworkJoin {
        network: String,
    },
    NetworkShow,
    /// Admits an organisation that announced itself (roots and admit-scoped curators).
    CurateAdmit {
        org: String,
        fingerprint: Option<String>,
    },
    /// Delegates curator rights to an admitted organisation (roots only).
    CurateDelegate {
        org: String,
        scopes: Vec<String>,
        expires: Option<i64>,
    },
    /// Revokes an admission, a delegation or an endorsement.
    CurateRevoke {
        target: RevokeTarget,
    },
    /// Endorses the artefact's current heads with a status.
    CurateEndorse {
        id: String,
        status: String,
        note: String,
    },
    /// One organisation (by number), or all known ones when `org` is `None`.
    OrgShow {
        org: Option<String>,
    },
    /// Certifies another node key for this node's organisation (needs the org key).
    OrgAddNode {
        node_key: String,
        label: String,
        /// That node's proof of possession (128 hex digits, from `allmenning org node-proof`
        /// there); a certificate without a valid one counts nowhere, so the node refuses it.
        #[serde(default)]
        proof: Option<String>,
    },
    /// Revokes a node key of this node's organisation (a lost laptop).
    OrgRevokeNode {
        node_key: String,
    },
    /// Grants `role` ("maintainer" or "reader") on an artefact this organisation owns.
    AccessGrant {
        id: String,
        org: String,
        role: String,
    },
    /// Removes an organisation's maintainer and reader rights on an artefact.
    AccessRevoke {
        id: String,
        org: String,
    },
    AccessList {
        id: String,
    },
    /// Test hook: corrupt the stored signature of change `hash`, so that this node serves a
    /// tampered change. Refused unless the node was started with ALLMENNING_TEST_HOOKS=1.
    DebugCorruptChange {
        id: String,
        hash: String,
    },
    /// Test hook: every trust statement this node holds, encoded as hex.
    DebugStatements,
    /// Test hook: hand the node one encoded statement (hex) as if a peer had sent it.
    DebugInjectStatement {
        statement: String,
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
// One reply per request, moved once: the size of the largest variant costs nothing worth boxing.
#[allow(clippy::large_enum_variant)]
pub enum ControlReply {
    Status(NodeStatus),
    Catalog {
        entries: Vec<allmenning_protocol::catalog::CatalogEntry>,
    },
    Search {
        hits: Vec<SearchHit>,
    },
    Activity {
        orgs: Vec<OrgActivity>,
    },
    Initiative(InitiativeInfo),
    Adopted(AdaptationInfo),
    UpstreamPulled(UpstreamPulled),
    ProposedUpstream(ProposedUpstream),
    Proposals {
        proposals: Vec<ProposalInfo>,
    },
    ProposalReview(ProposalReview),
    Initiatives {
        initiatives: Vec<InitiativeInfo>,
    },
    Peers {
        peers: Vec<PeerInfo>,
    },
    Connected {
        addr: String,
    },
    Stopping,
    Published(Published),
    List {
        artefacts: Vec<ArtefactRow>,
    },
    Show(ArtefactDetail),
    Log {
        entries: Vec<LogEntry>,
    },
    Version(VersionInfo),
    Files(FilesAt),
    Committed(Committed),
    Done,
    Network(NetworkInfo),
    Statement(StatementInfo),
    Orgs {
        orgs: Vec<OrgDetail>,
    },
    Access(AccessInfo),
    RawStatements {
        statements: Vec<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RevokeTarget {
    Admission {
        org: String,
    },
    Delegation {
        org: String,
    },
    /// This curator's endorsement of an artefact.
    Endorsement {
        id: String,
    },
    /// Any statement this node's organisation signed, by its id.
    Statement {
        statement: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootInfo {
    pub org: String,
    pub name: String,
    pub key: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    pub name: String,
    pub fingerprint: String,
    pub roots: Vec<RootInfo>,
    pub bootstrap: Vec<String>,
    /// The network file itself (JSON), to hand to other organisations.
    pub file: String,
    /// `network join`: artefacts with changes this node refused.
    #[serde(default)]
    pub refused: Vec<RefusedSummary>,
    /// `network join`: artefacts this node holds with changes by other organisations than their
    /// owner that are not its maintainers: nodes in the network refuse those changes (and
    /// what builds on them) until the owner grants those organisations access.
    #[serde(default)]
    pub co_edited: Vec<CoEdited>,
}

/// An artefact with refused changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedSummary {
    pub id: String,
    pub title: String,
    pub refused: Vec<RefusedInfo>,
}

/// An artefact co-edited outside a network by nodes that do not write for its owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoEdited {
    pub id: String,
    pub title: String,
    pub owner: String,
    /// Changes by other nodes than the owner's and its maintainers' (as far as this node knows).
    pub changes: u64,
    /// Their node keys.
    pub authors: Vec<String>,
    /// What keeps them from being refused.
    pub hint: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementInfo {
    pub id: String,
    pub kind: String,
    pub signer: String,
    pub time: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeKeyInfo {
    pub key: String,
    pub label: String,
    pub revoked: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CuratorInfo {
    pub root: bool,
    pub scopes: Vec<String>,
    pub expires: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgDetail {
    pub number: String,
    pub name: String,
    pub kind: String,
    pub org_key: String,
    pub fingerprint: String,
    pub admitted: bool,
    pub admitted_by: Option<String>,
    pub nodes: Vec<NodeKeyInfo>,
    pub curator: Option<CuratorInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessInfo {
    pub id: String,
    pub owner: String,
    pub maintainers: Vec<String>,
    /// "public" or "restricted".
    pub visibility: String,
    /// The organisations a restricted artefact is shared with (besides the owner).
    pub readers: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndorsementInfo {
    pub status: String,
    pub curator: String,
    pub curator_name: String,
    pub heads: Vec<String>,
    pub note: String,
    pub time: i64,
    pub seq: u64,
    /// True when the endorsed heads are the artefact's current heads.
    pub current: bool,
    /// How many changes this node holds that came after the endorsed version.
    pub changes_since: usize,
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
    /// This node's public key (hex), for `allmenning org add-node` on the org-key holder.
    #[serde(default)]
    pub node_key: String,
    /// The network this node belongs to, if it joined or created one.
    #[serde(default)]
    pub network: Option<String>,
    /// Whether this node's organisation is admitted in that network.
    #[serde(default)]
    pub admitted: bool,
    /// Whether this node holds its organisation's key.
    #[serde(default)]
    pub has_org_key: bool,
    /// What AutoNAT found: "public" (peers could dial this node back), "private" (they could
    /// not: others reach it through relays) or "unknown" (not probed yet, or nobody to ask).
    #[serde(default)]
    pub reachability: String,
    /// Addresses confirmed as reachable from outside (AutoNAT, or `external_addresses`).
    #[serde(default)]
    pub public_addrs: Vec<String>,
    /// Relays used and relaying done.
    #[serde(default)]
    pub relay: RelayStatus,
    /// Requests and gossip messages turned away since start because their peer was over its
    /// work budget (`max_requests_per_sec_per_peer` and friends in config.toml).
    #[serde(default)]
    pub busy_answers: u64,
    /// This node's requests waiting for earlier ones to the same peer to finish.
    #[serde(default)]
    pub requests_waiting: usize,
}

/// The relay part of `node status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayStatus {
    /// Whether this node relays for others (`[relay] serve`).
    #[serde(default)]
    pub serving: bool,
    /// Peer ids of the relays holding an accepted reservation for this node.
    #[serde(default)]
    pub reservations: Vec<String>,
    /// Open connections that pass through a relay, and the peers at their other end.
    #[serde(default)]
    pub relayed_connections: usize,
    #[serde(default)]
    pub relayed_peers: Vec<String>,
    /// Relayed connections opened since the node started.
    #[serde(default)]
    pub relayed_connections_since_start: u64,
    /// When serving: nodes holding a reservation on this one, and connections relayed so far.
    #[serde(default)]
    pub serving_reservations: usize,
    #[serde(default)]
    pub circuits_served: u64,
    /// Outcomes of hole punching (DCUtR) on relayed connections.
    #[serde(default)]
    pub hole_punch: HolePunchStats,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolePunchStats {
    pub succeeded: u64,
    pub failed: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    pub peer_id: String,
    pub addrs: Vec<String>,
    pub connected: bool,
    /// Connected, but only through a relay.
    #[serde(default)]
    pub relayed: bool,
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
    /// Files in conflict at the current heads (`show` lists them).
    #[serde(default)]
    pub conflicts: usize,
    /// How many changes this node refused for the artefact (`show` says whose and why).
    #[serde(default)]
    pub refused: u64,
}

/// Changes this node refused for an artefact, by organisation and reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedInfo {
    /// The authors' organisation number; empty when their node is certified for none known.
    pub org: String,
    /// Its name, when known.
    pub org_name: String,
    /// The author's node key, when the organisation is unknown.
    #[serde(default)]
    pub author: Option<String>,
    /// `not_maintainer`, `not_admitted`, `node_revoked`, `unknown_node`, `builds_on_refused`,
    /// `invalid`, or `not_recorded` (refusals beyond what the node keeps one by one).
    pub reason: String,
    pub count: u64,
    /// What would admit them.
    pub hint: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub path: String,
    pub size: u64,
    /// "text" when the file is co-edited as Automerge text, "blob" otherwise.
    pub storage: String,
    /// The kind of conflict the file is in, if any (details in the artefact's `conflicts`).
    #[serde(default)]
    pub conflict: Option<String>,
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
    #[serde(default)]
    pub maintainers: Vec<String>,
    /// "public" or "restricted".
    #[serde(default)]
    pub visibility: String,
    #[serde(default)]
    pub readers: Vec<String>,
    #[serde(default)]
    pub endorsements: Vec<EndorsementInfo>,
    /// Set when the artefact is an adaptation of another.
    #[serde(default)]
    pub adaptation: Option<AdaptationInfo>,
    /// Organisations that adopted the artefact, with their adaptations.
    #[serde(default)]
    pub adopters: Vec<AdopterInfo>,
    /// Files in conflict at the current heads, with every side.
    #[serde(default)]
    pub conflicts: Vec<ConflictInfo>,
    /// The version `files` describes when one was asked for (`show --at`); `None`: the
    /// current heads.
    #[serde(default)]
    pub at: Option<Vec<String>>,
    /// Changes this node refused, by organisation and reason: `complete` speaks only of the
    /// changes it accepted, so these are what other nodes may hold and this one does not.
    #[serde(default)]
    pub refused: Vec<RefusedInfo>,
    /// This node's organisation could read the restricted artefact and its owner took that
    /// away: the node keeps what it had, and no further changes reach it.
    #[serde(default)]
    pub access_revoked: bool,
}

/// An adaptation: whose it is, what it is based on, and how it stands against its upstream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdaptationInfo {
    /// The adaptation's id.
    pub id: String,
    pub title: String,
    pub owner: String,
    pub owner_name: String,
    /// The artefact adopted.
    pub based_on: String,
    /// The exact upstream version adopted (change hashes).
    pub based_on_version: Vec<String>,
    /// The signed adoption statement.
    pub statement: String,
    /// Whether this node holds the upstream (the counts below need it).
    pub upstream_held: bool,
    /// Upstream changes not merged yet (`pull-upstream` merges them).
    pub behind: usize,
    /// Changes of the adaptation the upstream lacks (`propose` offers them).
    pub ahead: usize,
}

/// An organisation that adopted an artefact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdopterInfo {
    pub org: String,
    pub name: String,
    /// Its adaptation.
    pub adaptation: String,
    /// The version it adopted.
    pub based_on_version: Vec<String>,
    pub time: i64,
}

/// What `pull-upstream` merged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamPulled {
    pub id: String,
    pub upstream: String,
    /// Upstream changes merged now (0: up to date).
    pub merged: usize,
    /// The adaptation's heads after the merge.
    pub heads: Vec<String>,
    /// Conflicts in the adaptation after the merge (local and upstream edits to the same
    /// lines, and the like), resolved like any other.
    #[serde(default)]
    pub conflicts: Vec<ConflictInfo>,
}

/// A proposal offering an adaptation's changes to its upstream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposedUpstream {
    pub id: String,
    pub upstream: String,
    pub proposal: String,
    /// The changes offered (hashes).
    pub changes: Vec<String>,
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
    /// The organisation the author's node key is certified for, and its name, when known.
    #[serde(default)]
    pub author_org: Option<String>,
    #[serde(default)]
    pub author_name: Option<String>,
    /// With `log ID PATH`: what this change did to that file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileChangeInfo>,
}

/// What one change did to one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChangeInfo {
    pub path: String,
    /// added, modified, deleted or renamed.
    pub change: String,
    /// For a rename: the path before and after (one of them is `path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// The heads a version name stands for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    pub id: String,
    /// The name as given.
    pub version: String,
    pub heads: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesAt {
    pub id: String,
    pub heads: Vec<String>,
    pub files: Vec<FilePayload>,
    /// Conflicted files at these heads; `files` holds them with markers (text) or with their
    /// sides next to them (each side's `file`).
    #[serde(default)]
    pub conflicts: Vec<ConflictInfo>,
}

/// A conflicted file: concurrent changes that do not merge, every side kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictInfo {
    pub path: String,
    /// "text", "binary", "add/add", "delete/edit", "rename/rename" or "rename/edit".
    pub kind: String,
    /// The common version the sides started from (change hashes).
    pub base: Vec<String>,
    pub sides: Vec<ConflictSide>,
    /// Conflicting regions marked in a text conflict.
    #[serde(default)]
    pub regions: usize,
    /// Older concurrent versions beyond the 32 compared (their changes are in the history):
    /// the file is in conflict whatever the others hold.
    #[serde(default)]
    pub omitted: Vec<String>,
}

/// One side of a conflict: the newest change on that side that touched the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictSide {
    /// Organisation number of the organisation whose node made the change, when known.
    pub org: Option<String>,
    /// Its name, when known.
    pub organisation: Option<String>,
    /// Hex public key of the node that signed the change.
    pub node: Option<String>,
    pub change: String,
    /// "text", "blob", "deleted" or "renamed".
    pub state: String,
    #[serde(default)]
    pub renamed_to: Option<String>,
    pub size: u64,
    /// How conflict markers name this side.
    pub label: String,
    /// Where a checkout holds this side's content, when not in the conflicted file itself.
    #[serde(default)]
    pub file: Option<String>,
}

impl From<&allmenning_protocol::engine::ConflictView> for ConflictInfo {
    fn from(c: &allmenning_protocol::engine::ConflictView) -> Self {
        ConflictInfo {
            path: c.path.clone(),
            kind: c.kind.as_str().to_string(),
            base: c.base.iter().map(|h| h.to_string()).collect(),
            regions: c.regions,
            omitted: c.omitted.iter().map(|h| h.to_string()).collect(),
            sides: c
                .sides
                .iter()
                .map(|s| ConflictSide {
                    org: s.org.map(|o| o.to_string()),
                    organisation: s.org_name.clone(),
                    node: s.node.map(|k| k.to_hex()),
                    change: s.change.to_string(),
                    state: s.state.to_string(),
                    renamed_to: s.renamed_to.clone(),
                    size: s.size,
                    label: s.label.clone(),
                    file: s.file.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    pub id: String,
    /// The artefact's heads after the commit (including concurrent changes already merged).
    pub heads: Vec<String>,
    /// The new change, or `None` when the edits changed nothing.
    pub change: Option<String>,
    /// The edits went to the maintainers as this proposal instead of joining the artefact.
    #[serde(default)]
    pub proposal: Option<String>,
    /// Why the edits became a proposal (this organisation may not write to the artefact).
    #[serde(default)]
    pub not_permitted: Option<String>,
}

/// A proposal of changes and what became of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalInfo {
    pub id: String,
    pub artefact: String,
    /// Node key of the proposer, and its organisation when known.
    pub proposer: String,
    pub proposer_org: Option<String>,
    pub proposer_name: Option<String>,
    pub message: String,
    pub time: i64,
    /// The changes it carries (hashes).
    pub changes: Vec<String>,
    /// open, accepted or declined.
    pub status: String,
    /// The organisation that decided, when one did.
    pub decided_by: Option<String>,
}

/// A proposal and, for every file it touches, the text now and with the proposal merged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalReview {
    pub proposal: ProposalInfo,
    pub files: Vec<ProposedFile>,
    /// Conflicts accepting would make (each then resolved by the maintainers like any other).
    #[serde(default)]
    pub conflicts: Vec<ConflictInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposedFile {
    pub path: String,
    /// `None`: the file does not exist on that side.
    pub before: Option<Bytes>,
    pub after: Option<Bytes>,
}

fn default_search_limit() -> usize {
    20
}

/// One search result, best first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub id: String,
    /// Relevance; only the order is meaningful.
    pub score: f32,
    pub title: String,
    pub kind: String,
    pub owner: Option<String>,
    pub owner_name: Option<String>,
    /// Whether a curator approved some version of it.
    pub approved: bool,
    /// Where the query matched in the description or the files, if there.
    pub snippet: Option<String>,
}

/// What one organisation does in the commons.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgActivity {
    pub org: String,
    pub name: String,
    pub kind: String,
    /// Admitted to the network this node is in.
    pub admitted: bool,
    /// Artefacts it owns (published).
    pub shares: Vec<ArtefactRef>,
    /// Artefacts of others it is a maintainer of.
    pub maintains: Vec<ArtefactRef>,
    /// Artefacts it uses (adoption statements).
    pub adopts: Vec<ArtefactRef>,
    /// Initiatives it leads.
    pub captains: Vec<ArtefactRef>,
    /// Artefacts it endorsed, as a curator.
    pub endorses: Vec<ArtefactRef>,
    /// Initiatives it takes part in (led by others).
    #[serde(default)]
    pub participates: Vec<ArtefactRef>,
}

/// An initiative: a service being built, its captain and participants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiativeInfo {
    pub id: String,
    pub title: String,
    pub description: String,
    /// planned, active, done or stopped.
    pub status: String,
    pub captain: String,
    pub captain_name: String,
    pub participants: Vec<OrgName>,
    pub artefacts: Vec<ArtefactRef>,
    pub created: i64,
    pub updated: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgName {
    pub org: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtefactRef {
    pub id: String,
    pub title: String,
    pub kind: String,
}
