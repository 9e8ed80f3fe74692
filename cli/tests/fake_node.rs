//! The checkout commands against a fake node: the node's real control socket (`bind`/`serve`),
//! with an in-memory artefact store behind it instead of the real event loop. This checks the
//! CLI's side of the contract (requests sent, replies used, exit codes) without libp2p; the
//! end-to-end tests with real nodes live in /tests.
//!
//! The fake node also plays a small network for the trust commands (network, curate, org,
//! access, restricted publish, endorsed checkout): it is KS (971032146), the root curator, once
//! `network create` ran, and it knows a few other organisations.

use allmenning::client::{Client, NewArtefact};
use allmenning::commands::{checkout, commit, pull};
use allmenning::error::{classify, exit, CliError};
use allmenning::workdir::Checkout;
use allmenning_node::control::{
    bind, serve, AccessInfo, ArtefactDetail, ArtefactRow, Bytes, Committed, ControlCall,
    ControlReply, ControlRequest, CuratorInfo, EditPayload, EndorsementInfo, FilePayload, FilesAt,
    LogEntry, NetworkInfo, NodeKeyInfo, NodeStatus, OrgDetail, OrgInfo, Published, RevokeTarget,
    RootInfo, StatementInfo,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

type Files = BTreeMap<String, (Vec<u8>, bool)>;

#[derive(Default)]
struct Artefact {
    title: String,
    kind: String,
    heads: Vec<String>,
    files: Files,
    /// Every version by its head, for `Files { heads: Some(..) }`.
    versions: BTreeMap<String, Files>,
    /// Heads in the order they came, for `changes_since`.
    history: Vec<String>,
    log: Vec<LogEntry>,
    maintainers: Vec<String>,
    readers: Vec<String>,
    restricted: bool,
    endorsements: Vec<EndorsementInfo>,
}

const KS: &str = "971032146";
const BERGEN: &str = "964338531";
const TRONDHEIM: &str = "942110464";
const NODE_KEY: &str = "1111111111111111111111111111111111111111111111111111111111111111";

fn fingerprint_of(key: &str) -> String {
    blake3::hash(&hex::decode(key).unwrap()).to_hex()[..16].to_string()
}

fn org(number: &str, name: &str, kind: &str, key_byte: u8) -> OrgDetail {
    let org_key = hex::encode([key_byte; 32]);
    OrgDetail {
        number: number.into(),
        name: name.into(),
        kind: kind.into(),
        fingerprint: fingerprint_of(&org_key),
        org_key,
        admitted: false,
        admitted_by: None,
        nodes: vec![],
        curator: None,
    }
}

struct State {
    artefacts: BTreeMap<String, Artefact>,
    counter: u64,
    network: Option<NetworkInfo>,
    has_org_key: bool,
    orgs: BTreeMap<String, OrgDetail>,
    /// Every request the fake node answered, to check what the CLI sent.
    requests: Vec<ControlRequest>,
}

impl Default for State {
    fn default() -> Self {
        let mut ks = org(KS, "KS", "ks", 1);
        ks.admitted = true;
        ks.curator = Some(CuratorInfo {
            root: true,
            scopes: vec!["admit".into(), "endorse".into()],
            expires: None,
        });
        ks.nodes.push(NodeKeyInfo {
            key: NODE_KEY.into(),
            label: "this node".into(),
            revoked: false,
        });
        let orgs = [
            ks,
            org(BERGEN, "Bergen kommune", "kommune", 2),
            org(TRONDHEIM, "Trondheim kommune", "kommune", 3),
        ]
        .into_iter()
        .map(|o| (o.number.clone(), o))
        .collect();
        State {
            artefacts: BTreeMap::new(),
            counter: 0,
            network: None,
            has_org_key: true,
            orgs,
            requests: Vec::new(),
        }
    }
}

impl State {
    fn new_head(&mut self) -> String {
        self.counter += 1;
        blake3::hash(&self.counter.to_le_bytes())
            .to_hex()
            .to_string()
    }

    fn find(&self, prefix: &str) -> Result<String, String> {
        let ids: Vec<&String> = self
            .artefacts
            .keys()
            .filter(|id| id.starts_with(prefix))
            .collect();
        match ids.as_slice() {
            [one] => Ok((*one).clone()),
            _ => Err(format!("no artefact matches {prefix:?}")),
        }
    }

    /// A change made elsewhere and replicated here.
    fn remote_edit(&mut self, id: &str, path: &str, content: Option<&str>) {
        let head = self.new_head();
        let a = self.artefacts.get_mut(id).unwrap();
        match content {
            Some(c) => {
                a.files
                    .insert(path.to_string(), (c.as_bytes().to_vec(), false));
            }
            None => {
                a.files.remove(path);
            }
        }
        a.heads = vec![head.clone()];
        a.history.push(head.clone());
        a.versions.insert(head, a.files.clone());
    }

    fn statement(&mut self, kind: &str) -> ControlReply {
        let id = self.new_head();
        ControlReply::Statement(StatementInfo {
            id,
            kind: kind.into(),
            signer: hex::encode([1u8; 32]),
            time: 1_795_953_600,
        })
    }

    fn org_mut(&mut self, number: &str) -> Result<&mut OrgDetail, String> {
        self.orgs
            .get_mut(number)
            .ok_or_else(|| format!("unknown organisation {number}"))
    }

    fn access_info(&self, id: &str) -> AccessInfo {
        let a = &self.artefacts[id];
        AccessInfo {
            id: id.to_string(),
            owner: KS.into(),
            maintainers: a.maintainers.clone(),
            visibility: if a.restricted { "restricted" } else { "public" }.into(),
            readers: a.readers.clone(),
        }
    }

    fn endorsements(&self, id: &str) -> Vec<EndorsementInfo> {
        let a = &self.artefacts[id];
        a.endorsements
            .iter()
            .map(|e| {
                let at = a.history.iter().position(|h| e.heads.contains(h)).unwrap();
                EndorsementInfo {
                    current: e.heads == a.heads,
                    changes_since: a.history.len() - 1 - at,
                    ..e.clone()
                }
            })
            .collect()
    }

    /// The trust requests: what a KS node in a small network answers.
    fn handle_trust(&mut self, request: ControlRequest) -> Result<ControlReply, String> {
        match request {
            ControlRequest::NetworkCreate { name } => {
                if !self.has_org_key {
                    return Err("refused: not entitled".into());
                }
                let file = serde_json::json!({ "version": 1, "name": name }).to_string();
                let info = NetworkInfo {
                    name,
                    fingerprint: "0123456789abcdef".into(),
                    roots: vec![RootInfo {
                        org: KS.into(),
                        name: "KS".into(),
                        key: hex::encode([1u8; 32]),
                    }],
                    bootstrap: vec!["/ip4/127.0.0.1/tcp/4646/p2p/12D3KooWFake".into()],
                    file,
                    refused: Vec::new(),
                    co_edited: Vec::new(),
                };
                self.network = Some(info.clone());
                return Ok(ControlReply::Network(info));
            }
            ControlRequest::NetworkJoin { network } => {
                let value: serde_json::Value =
                    serde_json::from_str(&network).map_err(|e| e.to_string())?;
                let name = value["name"]
                    .as_str()
                    .ok_or("the network file names no network")?;
                let info = NetworkInfo {
                    name: name.into(),
                    fingerprint: "0123456789abcdef".into(),
                    roots: vec![],
                    bootstrap: vec![],
                    file: network,
                    refused: Vec::new(),
                    co_edited: Vec::new(),
                };
                self.network = Some(info.clone());
                return Ok(ControlReply::Network(info));
            }
            ControlRequest::NetworkShow => {
                return self
                    .network
                    .clone()
                    .map(ControlReply::Network)
                    .ok_or_else(|| "this node has not joined a network".into())
            }
            _ => {}
        }
        if self.network.is_none() {
            // Worded so that only the CLI's status check can tell why.
            return Err("refused: no trust state".into());
        }
        match request {
            ControlRequest::CurateAdmit { org, fingerprint } => {
                let o = self.org_mut(&org)?;
                if let Some(fp) = fingerprint {
                    if fp != o.fingerprint {
                        return Err(format!(
                            "fingerprint mismatch: {org} announced key {}",
                            o.fingerprint
                        ));
                    }
                }
                o.admitted = true;
                o.admitted_by = Some(KS.into());
                Ok(self.statement("admit"))
            }
            ControlRequest::CurateDelegate {
                org,
                scopes,
                expires,
            } => {
                let o = self.org_mut(&org)?;
                if !o.admitted {
                    return Err(format!("{org} is not admitted"));
                }
                o.curator = Some(CuratorInfo {
                    root: false,
                    scopes,
                    expires,
                });
                Ok(self.statement("delegate"))
            }
            ControlRequest::CurateRevoke { target } => {
                match target {
                    RevokeTarget::Admission { org } => self.org_mut(&org)?.admitted = false,
                    RevokeTarget::Delegation { org } => self.org_mut(&org)?.curator = None,
                    RevokeTarget::Endorsement { id } => {
                        let id = self.find(&id)?;
                        self.artefacts.get_mut(&id).unwrap().endorsements.clear();
                    }
                    RevokeTarget::Statement { statement } => {
                        return Err(format!("unknown statement {statement}"))
                    }
                }
                Ok(self.statement("revoke"))
            }
            ControlRequest::CurateEndorse { id, status, note } => {
                let id = self.find(&id)?;
                let a = self.artefacts.get_mut(&id).unwrap();
                let seq = a.endorsements.len() as u64 + 1;
                a.endorsements = vec![EndorsementInfo {
                    status,
                    curator: KS.into(),
                    curator_name: "KS".into(),
                    heads: a.heads.clone(),
                    note,
                    time: 1_795_953_600,
                    seq,
                    current: true,
                    changes_since: 0,
                }];
                Ok(self.statement("endorse"))
            }
            ControlRequest::OrgShow { org: Some(org) } if !self.orgs.contains_key(&org) => {
                Err(format!("no artefact organisation {org}"))
            }
            ControlRequest::OrgShow { org } => Ok(ControlReply::Orgs {
                orgs: self
                    .orgs
                    .values()
                    .filter(|o| org.as_ref().is_none_or(|n| *n == o.number))
                    .cloned()
                    .collect(),
            }),
            ControlRequest::OrgAddNode {
                node_key,
                label,
                proof,
            } => {
                if !self.has_org_key {
                    return Err("refused: not entitled".into());
                }
                if proof.is_none_or(|p| p.len() != 128) {
                    return Err("refused: no proof of possession".into());
                }
                self.org_mut(KS)?.nodes.push(NodeKeyInfo {
                    key: node_key,
                    label,
                    revoked: false,
                });
                Ok(self.statement("node_cert"))
            }
            ControlRequest::OrgRevokeNode { node_key } => {
                let node = self
                    .org_mut(KS)?
                    .nodes
                    .iter_mut()
                    .find(|n| n.key == node_key)
                    .ok_or_else(|| format!("unknown node key {node_key}"))?;
                node.revoked = true;
                Ok(self.statement("node_revoke"))
            }
            ControlRequest::AccessGrant { id, org, role } => {
                let id = self.find(&id)?;
                self.org_mut(&org)?;
                let a = self.artefacts.get_mut(&id).unwrap();
                match role.as_str() {
                    "maintainer" => a.maintainers.push(org),
                    "reader" => a.readers.push(org),
                    other => return Err(format!("unknown role {other}")),
                }
                Ok(ControlReply::Access(self.access_info(&id)))
            }
            ControlRequest::AccessRevoke { id, org } => {
                let id = self.find(&id)?;
                let a = self.artefacts.get_mut(&id).unwrap();
                a.maintainers.retain(|o| *o != org);
                a.readers.retain(|o| *o != org);
                Ok(ControlReply::Access(self.access_info(&id)))
            }
            ControlRequest::AccessList { id } => {
                let id = self.find(&id)?;
                Ok(ControlReply::Access(self.access_info(&id)))
            }
            other => Err(format!("unsupported by the fake node: {other:?}")),
        }
    }

    fn handle(&mut self, request: ControlRequest) -> Result<ControlReply, String> {
        self.requests.push(request.clone());
        match request {
            // The stand-in holds no catalogue: every organisation does nothing yet.
            ControlRequest::Activity => Ok(ControlReply::Activity { orgs: Vec::new() }),
            ControlRequest::Status => Ok(ControlReply::Status(NodeStatus {
                peer_id: "12D3KooWFake".into(),
                listen_addrs: vec![],
                peers: 0,
                artefacts: self.artefacts.len(),
                org: OrgInfo {
                    name: "KS".into(),
                    number: KS.into(),
                    kind: "ks".into(),
                },
                home: "/fake".into(),
                version: "0.1.0".into(),
                uptime_secs: 1,
                node_key: NODE_KEY.into(),
                network: self.network.as_ref().map(|n| n.name.clone()),
                admitted: self.network.is_some(),
                has_org_key: self.has_org_key,
                reachability: "unknown".into(),
                public_addrs: Vec::new(),
                relay: Default::default(),
                busy_answers: 0,
                requests_waiting: 0,
            })),
            ControlRequest::Publish {
                title,
                kind,
                files,
                share_with,
                ..
            } => {
                let id = self.new_head();
                let head = self.new_head();
                let files: Files = files
                    .into_iter()
                    .map(|f| (f.path, (f.content.0, f.executable)))
                    .collect();
                let n = files.len();
                let mut versions = BTreeMap::new();
                versions.insert(head.clone(), files.clone());
                self.artefacts.insert(
                    id.clone(),
                    Artefact {
                        title,
                        kind,
                        heads: vec![head.clone()],
                        files,
                        versions,
                        history: vec![head.clone()],
                        log: vec![],
                        maintainers: vec![],
                        restricted: !share_with.is_empty(),
                        readers: share_with,
                        endorsements: vec![],
                    },
                );
                Ok(ControlReply::Published(Published {
                    id,
                    heads: vec![head],
                    files: n,
                    bytes: 0,
                }))
            }
            ControlRequest::List => Ok(ControlReply::List {
                artefacts: self
                    .artefacts
                    .iter()
                    .map(|(id, a)| ArtefactRow {
                        id: id.clone(),
                        title: a.title.clone(),
                        kind: a.kind.clone(),
                        owner: KS.into(),
                        owner_name: "KS".into(),
                        heads: a.heads.clone(),
                        files: a.files.len(),
                        size: 0,
                        updated: 0,
                        complete: true,
                        present: 0,
                        conflicts: 0,
                        refused: 0,
                    })
                    .collect(),
            }),
            ControlRequest::Show { id, heads } => {
                let id = self.find(&id)?;
                let a = &self.artefacts[&id];
                let files = match &heads {
                    Some(h) => h
                        .first()
                        .and_then(|h| a.versions.get(h))
                        .ok_or_else(|| format!("unknown heads {h:?}"))?,
                    None => &a.files,
                };
                let files = files
                    .iter()
                    .map(|(path, (content, _))| allmenning_node::control::FileInfo {
                        path: path.clone(),
                        size: content.len() as u64,
                        storage: "blob".into(),
                        conflict: None,
                    })
                    .collect();
                Ok(ControlReply::Show(ArtefactDetail {
                    id: id.clone(),
                    title: a.title.clone(),
                    kind: a.kind.clone(),
                    description: String::new(),
                    tags: vec![],
                    owner: KS.into(),
                    owner_name: "KS".into(),
                    created: 0,
                    heads: a.heads.clone(),
                    changes: a.versions.len(),
                    files,
                    complete: true,
                    maintainers: a.maintainers.clone(),
                    visibility: if a.restricted { "restricted" } else { "public" }.into(),
                    readers: a.readers.clone(),
                    endorsements: self.endorsements(&id),
                    adaptation: None,
                    adopters: Vec::new(),
                    conflicts: Vec::new(),
                    at: heads,
                    refused: Vec::new(),
                    access_revoked: false,
                }))
            }
            // Worded as the engine words it (`Engine::resolve_version`).
            ControlRequest::Version { id, version } => {
                let id = self.find(&id)?;
                let a = &self.artefacts[&id];
                let heads = if version == "endorsed" {
                    let e = a
                        .endorsements
                        .first()
                        .ok_or_else(|| format!("not found: an endorsed version of {id}"))?;
                    e.heads.clone()
                } else {
                    let v = version.to_ascii_lowercase();
                    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(format!("{version:?} is not a version: give one change hash, or a prefix of one (hex digits, as `allmenning log` prints them), or `endorsed`"));
                    }
                    let matches: Vec<&String> =
                        a.history.iter().filter(|h| h.starts_with(&v)).collect();
                    match matches.as_slice() {
                        [one] => vec![(*one).clone()],
                        [] => {
                            return Err(format!(
                                "artefact {id} has no change whose hash starts with {v:?}"
                            ))
                        }
                        many => {
                            return Err(format!(
                            "version {v:?} of artefact {id} is ambiguous: it starts {} changes: {}",
                            many.len(),
                            many.iter()
                                .map(|h| format!("{} \"endring\"", &h[..12]))
                                .collect::<Vec<_>>()
                                .join("; ")
                        ))
                        }
                    }
                };
                Ok(ControlReply::Version(
                    allmenning_node::control::VersionInfo { id, version, heads },
                ))
            }
            ControlRequest::Log { id, .. } => {
                let id = self.find(&id)?;
                Ok(ControlReply::Log {
                    entries: self.artefacts[&id].log.clone(),
                })
            }
            ControlRequest::Files {
                id,
                heads,
                endorsed,
            } => {
                let id = self.find(&id)?;
                let a = &self.artefacts[&id];
                let heads = if endorsed {
                    if self.network.is_none() {
                        return Err("refused: no trust state".into());
                    }
                    let endorsed = a
                        .endorsements
                        .iter()
                        .find(|e| {
                            ["reviewed", "recommended", "approved"].contains(&e.status.as_str())
                        })
                        .ok_or_else(|| format!("no artefact an endorsed version of {id}"))?;
                    Some(endorsed.heads.clone())
                } else {
                    heads
                };
                let (heads, files) = match heads {
                    None => (a.heads.clone(), a.files.clone()),
                    Some(h) => {
                        let files = h
                            .first()
                            .and_then(|h| a.versions.get(h))
                            .cloned()
                            .ok_or_else(|| format!("unknown heads {h:?}"))?;
                        (h, files)
                    }
                };
                Ok(ControlReply::Files(FilesAt {
                    id,
                    heads,
                    conflicts: Vec::new(),
                    files: files
                        .into_iter()
                        .map(|(path, (c, x))| FilePayload {
                            path,
                            content: Bytes(c),
                            executable: x,
                        })
                        .collect(),
                }))
            }
            ControlRequest::Commit {
                id,
                base_heads,
                edits,
                message,
                propose: _,
            } => {
                let id = self.find(&id)?;
                let head = self.new_head();
                let a = self.artefacts.get_mut(&id).unwrap();
                if !base_heads.iter().all(|h| a.versions.contains_key(h)) {
                    return Err(format!("unknown base heads {base_heads:?}"));
                }
                // Simplified merge: the edits are applied to the current version, file by file.
                let before = a.files.clone();
                for edit in edits {
                    match edit {
                        EditPayload::Write {
                            path,
                            content,
                            executable,
                        } => {
                            a.files.insert(path, (content.0, executable));
                        }
                        EditPayload::Delete { path } => {
                            a.files.remove(&path);
                        }
                        EditPayload::Rename { from, to } => {
                            let f = a.files.remove(&from).ok_or(format!("no file {from}"))?;
                            a.files.insert(to, f);
                        }
                    }
                }
                if a.files == before {
                    return Ok(ControlReply::Committed(Committed {
                        id,
                        heads: a.heads.clone(),
                        change: None,
                        proposal: None,
                        not_permitted: None,
                    }));
                }
                a.heads = vec![head.clone()];
                a.history.push(head.clone());
                a.versions.insert(head.clone(), a.files.clone());
                a.log.insert(
                    0,
                    LogEntry {
                        author_org: None,
                        author_name: None,
                        file: None,
                        hash: head.clone(),
                        author: "00".into(),
                        time: 0,
                        message,
                        deps: base_heads,
                    },
                );
                Ok(ControlReply::Committed(Committed {
                    id,
                    heads: vec![head.clone()],
                    change: Some(head),
                    proposal: None,
                    not_permitted: None,
                }))
            }
            other => self.handle_trust(other),
        }
    }
}

struct FakeNode {
    home: tempfile::TempDir,
    state: Arc<Mutex<State>>,
}

impl FakeNode {
    async fn start() -> FakeNode {
        let home = tempfile::tempdir().unwrap();
        // A node key, as a real home has: checkouts record the node they belong to.
        {
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut key = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(home.path().join(allmenning_node::home::KEY_FILE))
                .unwrap();
            key.write_all("07".repeat(32).as_bytes()).unwrap();
        }
        let socket = allmenning_node::home::Home {
            dir: home.path().to_path_buf(),
        }
        .socket_path();
        let listener = bind(&socket).unwrap();
        let (tx, mut rx) = mpsc::channel::<ControlCall>(16);
        tokio::spawn(serve(listener, tx));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Some(call) = rx.recv().await {
                let reply = shared.lock().unwrap().handle(call.request);
                let _ = call.reply.send(reply);
            }
        });
        FakeNode { home, state }
    }

    fn socket(&self) -> PathBuf {
        allmenning_node::home::Home {
            dir: self.home.path().to_path_buf(),
        }
        .socket_path()
    }

    async fn client(&self) -> Client {
        Client::connect(&self.socket()).await.unwrap()
    }

    async fn publish(&self, files: &[(&str, &str)]) -> String {
        let files = files
            .iter()
            .map(|(p, c)| FilePayload {
                path: p.to_string(),
                content: Bytes(c.as_bytes().to_vec()),
                executable: false,
            })
            .collect();
        self.client()
            .await
            .publish(
                NewArtefact {
                    title: "Test".into(),
                    kind: "guide".into(),
                    files,
                    ..NewArtefact::default()
                },
                |_| {},
            )
            .await
            .unwrap()
            .id
    }

    fn file(&self, id: &str, path: &str) -> Option<String> {
        let state = self.state.lock().unwrap();
        state.artefacts[id]
            .files
            .get(path)
            .map(|(c, _)| String::from_utf8(c.clone()).unwrap())
    }
}

fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_edit_commit_and_pull() {
    let node = FakeNode::start().await;
    let id = node
        .publish(&[("README.md", "hei\n"), ("a.txt", "a\n"), ("b.txt", "b\n")])
        .await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("co");

    let mut co = checkout::checkout(&mut node.client().await, &id[..8], &dir, None)
        .await
        .unwrap();
    assert_eq!(co.manifest.id, id);
    assert_eq!(read(&dir, "README.md"), "hei\n");

    // Edit locally and commit: the base moves to the new change.
    std::fs::write(dir.join("README.md"), "hei verden\n").unwrap();
    std::fs::rename(dir.join("b.txt"), dir.join("c.txt")).unwrap();
    let report = commit::commit(&mut node.client().await, &mut co, "endring", false)
        .await
        .unwrap();
    let change = report.change.clone().unwrap();
    assert_eq!(co.manifest.base_heads, [change]);
    assert_eq!(node.file(&id, "README.md").unwrap(), "hei verden\n");
    assert_eq!(node.file(&id, "c.txt").unwrap(), "b\n");
    assert!(node.file(&id, "b.txt").is_none());
    assert!(Checkout::open(&dir).unwrap().status().unwrap().is_empty());

    // Nothing to commit now.
    let again = commit::commit(&mut node.client().await, &mut co, "igjen", false)
        .await
        .unwrap();
    assert!(again.change.is_none());

    // A remote change to a.txt, a local uncommitted edit to README.md: pull takes the first
    // and keeps the second.
    node.state
        .lock()
        .unwrap()
        .remote_edit(&id, "a.txt", Some("a fra Trondheim\n"));
    node.state
        .lock()
        .unwrap()
        .remote_edit(&id, "ny.txt", Some("ny\n"));
    std::fs::write(dir.join("README.md"), "hei verden, lokalt\n").unwrap();
    let report = pull::pull(&mut node.client().await, &mut co).await.unwrap();
    assert_eq!(report.updated, ["a.txt", "ny.txt"]);
    assert_eq!(read(&dir, "a.txt"), "a fra Trondheim\n");
    assert_eq!(read(&dir, "README.md"), "hei verden, lokalt\n");
    let heads = node.state.lock().unwrap().artefacts[&id].heads.clone();
    let reopened = Checkout::open(&dir).unwrap();
    assert_eq!(reopened.manifest.base_heads, heads);
    assert_eq!(reopened.status().unwrap().modified, ["README.md"]);

    // Remote deletion of an untouched file.
    node.state.lock().unwrap().remote_edit(&id, "ny.txt", None);
    let report = pull::pull(&mut node.client().await, &mut co).await.unwrap();
    assert_eq!(report.deleted, ["ny.txt"]);
    assert!(!dir.join("ny.txt").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_refuses_to_overwrite_local_edits_and_changes_nothing() {
    let node = FakeNode::start().await;
    let id = node
        .publish(&[("README.md", "hei\n"), ("a.txt", "a\n")])
        .await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("co");
    let mut co = checkout::checkout(&mut node.client().await, &id, &dir, None)
        .await
        .unwrap();
    let manifest_before = co.manifest.clone();

    node.state
        .lock()
        .unwrap()
        .remote_edit(&id, "README.md", Some("hei fra Bergen\n"));
    node.state
        .lock()
        .unwrap()
        .remote_edit(&id, "a.txt", Some("a2\n"));
    std::fs::write(dir.join("README.md"), "hei fra Trondheim\n").unwrap();

    let err = pull::pull(&mut node.client().await, &mut co)
        .await
        .unwrap_err();
    let (code, hint) = classify(&err);
    assert_eq!(code, exit::CONFLICT);
    assert!(hint.unwrap().starts_with("commit your edits first"));
    assert!(
        matches!(err.downcast_ref::<CliError>(), Some(CliError::Conflict { files }) if files == &["README.md"])
    );
    // Nothing was touched: not even the file that could have been updated.
    assert_eq!(read(&dir, "README.md"), "hei fra Trondheim\n");
    assert_eq!(read(&dir, "a.txt"), "a\n");
    assert_eq!(Checkout::open(&dir).unwrap().manifest, manifest_before);

    // Commit, then pull, works.
    commit::commit(&mut node.client().await, &mut co, "mitt", false)
        .await
        .unwrap();
    pull::pull(&mut node.client().await, &mut co).await.unwrap();
    assert_eq!(read(&dir, "a.txt"), "a2\n");
    assert!(Checkout::open(&dir).unwrap().status().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_prints_json_and_uses_the_documented_exit_codes() {
    let node = FakeNode::start().await;
    let id = node.publish(&[("README.md", "hei\n")]).await;
    let exe = env!("CARGO_BIN_EXE_allmenning");
    let home = node.home.path();
    let run = |args: Vec<String>| async move {
        tokio::process::Command::new(exe)
            .arg("--home")
            .arg(home)
            .args(args)
            .output()
            .await
            .unwrap()
    };
    let args = |s: &[&str]| s.iter().map(|a| a.to_string()).collect::<Vec<_>>();

    let out = run(args(&["list", "--json"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["id"], id.as_str());
    assert_eq!(rows[0]["kind"], "guide");

    let out = run(args(&["show", &id[..6], "--json"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let detail: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(detail["id"], id.as_str());

    let out = run(args(&["show", "zzzz"])).await;
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");

    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("co");
    let dir_s = dir.display().to_string();
    let out = run(args(&["checkout", &id[..6], &dir_s])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.join("README.md"), "hei du\n").unwrap();

    let out = run(args(&["status", "-C", &dir_s, "--json"])).await;
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["modified"][0], "README.md");
    assert_eq!(status["id"], id.as_str());

    let out = run(args(&["diff", "-C", &dir_s])).await;
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(diff.contains("-hei\n+hei du\n"), "{diff}");

    node.state
        .lock()
        .unwrap()
        .remote_edit(&id, "README.md", Some("hei alle\n"));
    let out = run(args(&["pull", "-C", &dir_s])).await;
    assert_eq!(out.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("README.md") && stderr.contains("commit your edits first"),
        "{stderr}"
    );

    let out = run(args(&["commit", "-C", &dir_s, "-m", "mitt"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(args(&["commit", "-C", &dir_s, "-m", "igjen"])).await;
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "nothing to commit"
    );

    let export = work.path().join("export");
    let out = run(args(&["export", &id, &export.display().to_string()])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(export.join("README.md").is_file());
    assert!(!export.join(".allmenning").exists());

    let out = run(args(&["status", "-C", home.to_str().unwrap()])).await;
    assert_eq!(out.status.code(), Some(4));

    let out = tokio::process::Command::new(exe)
        .args(["--home", "/nonexistent/allmenning", "list"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

/// Runs the `allmenning` binary against a fake node's home.
struct Cli {
    home: PathBuf,
}

impl Cli {
    fn of(node: &FakeNode) -> Cli {
        Cli {
            home: node.home.path().to_path_buf(),
        }
    }

    async fn run(&self, args: &[&str]) -> std::process::Output {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_allmenning"))
            .arg("--home")
            .arg(&self.home)
            .args(args)
            .env_remove("ALLMENNING_HOME")
            .output()
            .await
            .unwrap()
    }

    /// Runs a command that must succeed and print JSON.
    async fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Runs a command that must succeed; its stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command that must fail with `code`; its stderr.
    async fn fails(&self, code: u8, args: &[&str]) -> String {
        let out = self.run(args).await;
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(
            out.status.code(),
            Some(i32::from(code)),
            "{args:?}: stdout {} stderr {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        stderr
    }
}

impl FakeNode {
    fn requests(&self) -> Vec<ControlRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    fn last_request(&self, pick: impl Fn(&ControlRequest) -> bool) -> ControlRequest {
        self.requests()
            .into_iter()
            .rev()
            .find(|r| pick(r))
            .expect("no such request was sent")
    }

    async fn with_network(&self) {
        self.state.lock().unwrap().network = Some(NetworkInfo {
            name: "kommune-nett".into(),
            fingerprint: "0123456789abcdef".into(),
            roots: vec![],
            bootstrap: vec![],
            file: "{}".into(),
            refused: Vec::new(),
            co_edited: Vec::new(),
        });
    }
}

const NOT_IN_NETWORK: &str =
    "this node has not joined a network: run `allmenning network join FILE`";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_create_join_and_show() {
    let node = FakeNode::start().await;
    let cli = Cli::of(&node);
    let work = tempfile::tempdir().unwrap();

    // Not in a network yet: said plainly, whether the node words it so or not.
    let stderr = cli.fails(exit::ERROR, &["network", "show"]).await;
    assert!(stderr.contains(NOT_IN_NETWORK), "{stderr}");
    let stderr = cli.fails(exit::ERROR, &["org", "show", "--all"]).await;
    assert!(stderr.contains(NOT_IN_NETWORK), "{stderr}");
    let stderr = cli.fails(exit::ERROR, &["curate", "admit", BERGEN]).await;
    assert!(stderr.contains(NOT_IN_NETWORK), "{stderr}");
    let status = cli.json(&["node", "status", "--json"]).await;
    assert_eq!(status["network"], serde_json::Value::Null);
    assert_eq!(status["node_key"], NODE_KEY);
    assert_eq!(status["has_org_key"], true);
    let text = cli.ok(&["node", "status"]).await;
    assert!(text.contains(&format!("node key:   {NODE_KEY}")), "{text}");
    assert!(text.contains("network:    none"), "{text}");

    // Create: the file is written, and the reply printed.
    let file = work.path().join("kommune-nett.json");
    let file_s = file.to_str().unwrap();
    let info = cli
        .json(&[
            "network",
            "create",
            "--name",
            "kommune-nett",
            "--out",
            file_s,
            "--json",
        ])
        .await;
    assert_eq!(info["name"], "kommune-nett");
    assert_eq!(info["fingerprint"], "0123456789abcdef");
    assert_eq!(info["roots"][0]["org"], KS);
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(written.trim_end(), info["file"].as_str().unwrap());

    // An existing FILE is not overwritten, and nothing is sent to the node.
    let before = node.requests().len();
    let stderr = cli
        .fails(
            exit::ERROR,
            &["network", "create", "--name", "x", "--out", file_s],
        )
        .await;
    assert!(stderr.contains("cannot create"), "{stderr}");
    assert_eq!(node.requests().len(), before);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), written);

    // Show, in JSON and as text; status names the network.
    let shown = cli.json(&["network", "show", "--json"]).await;
    assert_eq!(shown, info);
    let text = cli.ok(&["network", "show"]).await;
    assert!(
        text.contains("kommune-nett") && text.contains("KS (971032146)"),
        "{text}"
    );
    let status = cli.json(&["node", "status", "--json"]).await;
    assert_eq!(status["network"], "kommune-nett");
    let text = cli.ok(&["node", "status"]).await;
    assert!(text.contains("network:    kommune-nett"), "{text}");

    // Join another node's file.
    let other = work.path().join("annet.json");
    std::fs::write(&other, r#"{"version":1,"name":"annet-nett"}"#).unwrap();
    let joined = cli
        .json(&["network", "join", other.to_str().unwrap(), "--json"])
        .await;
    assert_eq!(joined["name"], "annet-nett");
    match node.last_request(|r| matches!(r, ControlRequest::NetworkJoin { .. })) {
        ControlRequest::NetworkJoin { network } => {
            assert_eq!(network, r#"{"version":1,"name":"annet-nett"}"#)
        }
        _ => unreachable!(),
    }
    let text = cli.ok(&["network", "join", other.to_str().unwrap()]).await;
    assert!(text.contains("joined network \"annet-nett\""), "{text}");

    // What cannot be a network file is refused before the node sees it.
    let bad = work.path().join("bad.json");
    std::fs::write(&bad, "hei").unwrap();
    let stderr = cli
        .fails(exit::ERROR, &["network", "join", bad.to_str().unwrap()])
        .await;
    assert!(stderr.contains("is not a network file"), "{stderr}");
    cli.fails(exit::ERROR, &["network", "join", "/nonexistent/net.json"])
        .await;
    cli.fails(exit::USAGE, &["network", "create", "--out", file_s])
        .await;
    cli.fails(exit::USAGE, &["network", "join"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_create_without_the_org_key_says_where_to_run_it() {
    let node = FakeNode::start().await;
    node.state.lock().unwrap().has_org_key = false;
    let cli = Cli::of(&node);
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("net.json");
    let stderr = cli
        .fails(
            exit::ERROR,
            &[
                "network",
                "create",
                "--name",
                "n",
                "--out",
                file.to_str().unwrap(),
            ],
        )
        .await;
    assert!(stderr.contains("refused: not entitled"), "{stderr}");
    assert!(
        stderr.contains("hint: this node does not hold the organisation's key"),
        "{stderr}"
    );
    // The claimed file is removed again.
    assert!(!file.exists());
    let text = cli.ok(&["node", "status"]).await;
    assert!(text.contains("org key:    held elsewhere"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curate_admit_delegate_revoke() {
    let node = FakeNode::start().await;
    node.with_network().await;
    let cli = Cli::of(&node);
    let bergen_fp = fingerprint_of(&hex::encode([2u8; 32]));

    // Unknown organisation: exit 4; wrong fingerprint: refused; malformed ones never sent.
    cli.fails(exit::NOT_FOUND, &["curate", "admit", "974760673"])
        .await;
    let stderr = cli
        .fails(
            exit::ERROR,
            &[
                "curate",
                "admit",
                BERGEN,
                "--fingerprint",
                "0000000000000000",
            ],
        )
        .await;
    assert!(stderr.contains("fingerprint mismatch"), "{stderr}");
    cli.fails(exit::USAGE, &["curate", "admit", "964338532"])
        .await;
    cli.fails(
        exit::USAGE,
        &["curate", "admit", BERGEN, "--fingerprint", "xyz"],
    )
    .await;

    let upper = bergen_fp.to_uppercase();
    let statement = cli
        .json(&["curate", "admit", BERGEN, "--fingerprint", &upper, "--json"])
        .await;
    assert_eq!(statement["kind"], "admit");
    assert_eq!(statement["id"].as_str().unwrap().len(), 64);
    match node.last_request(|r| matches!(r, ControlRequest::CurateAdmit { .. })) {
        ControlRequest::CurateAdmit { org, fingerprint } => {
            assert_eq!(org, BERGEN);
            assert_eq!(fingerprint.as_deref(), Some(bergen_fp.as_str()));
        }
        _ => unreachable!(),
    }
    let text = cli.ok(&["curate", "admit", TRONDHEIM]).await;
    assert!(
        text.contains("admitted Trondheim kommune (942110464)"),
        "{text}"
    );
    assert!(text.contains("check that fingerprint"), "{text}");

    // Delegate: default scope endorse; scopes deduplicated; dates end at the end of the day.
    cli.json(&["curate", "delegate", BERGEN, "--json"]).await;
    match node.last_request(|r| matches!(r, ControlRequest::CurateDelegate { .. })) {
        ControlRequest::CurateDelegate {
            scopes, expires, ..
        } => {
            assert_eq!(scopes, ["endorse"]);
            assert_eq!(expires, None);
        }
        _ => unreachable!(),
    }
    let text = cli
        .ok(&[
            "curate",
            "delegate",
            BERGEN,
            "--scope",
            "endorse",
            "--scope",
            "ADMIT",
            "--scope",
            "endorse",
            "--expires",
            "2099-12-31",
        ])
        .await;
    assert!(
        text.contains("delegated admit and endorse to 964338531 until 2100-01-01 00:00 UTC"),
        "{text}"
    );
    match node.last_request(|r| matches!(r, ControlRequest::CurateDelegate { .. })) {
        ControlRequest::CurateDelegate {
            org,
            scopes,
            expires,
        } => {
            assert_eq!(org, BERGEN);
            assert_eq!(scopes, ["admit", "endorse"]);
            assert_eq!(expires, Some(4_102_444_800));
        }
        _ => unreachable!(),
    }
    cli.ok(&[
        "curate",
        "delegate",
        BERGEN,
        "--expires",
        "2099-06-30T12:00:00+02:00",
    ])
    .await;
    match node.last_request(|r| matches!(r, ControlRequest::CurateDelegate { .. })) {
        ControlRequest::CurateDelegate { expires, .. } => {
            assert_eq!(expires, Some(4_086_496_800))
        }
        _ => unreachable!(),
    }
    let org = cli.json(&["org", "show", BERGEN, "--json"]).await;
    assert_eq!(org["admitted"], true);
    assert_eq!(org["admitted_by"], KS);
    assert_eq!(org["curator"]["scopes"], serde_json::json!(["endorse"]));
    assert_eq!(org["curator"]["expires"], 4_086_496_800i64);

    let sent = node.requests().len();
    for bad in [
        vec!["curate", "delegate", BERGEN, "--expires", "2099-13-01"],
        vec!["curate", "delegate", BERGEN, "--expires", "snart"],
        vec!["curate", "delegate", BERGEN, "--expires", "2020-01-01"],
        vec!["curate", "delegate", BERGEN, "--scope", "everything"],
        vec!["curate", "delegate", "123"],
    ] {
        let stderr = cli.fails(exit::USAGE, &bad).await;
        assert!(stderr.contains("error"), "{stderr}");
    }
    assert_eq!(
        node.requests().len(),
        sent,
        "a usage error reached the node"
    );

    // Revoke: exactly one target.
    cli.fails(exit::USAGE, &["curate", "revoke"]).await;
    cli.fails(
        exit::USAGE,
        &[
            "curate",
            "revoke",
            "--admission",
            BERGEN,
            "--delegation",
            BERGEN,
        ],
    )
    .await;
    cli.fails(exit::USAGE, &["curate", "revoke", "--statement", "abc"])
        .await;
    let statement = cli
        .json(&["curate", "revoke", "--delegation", BERGEN, "--json"])
        .await;
    assert_eq!(statement["kind"], "revoke");
    let org = cli.json(&["org", "show", BERGEN, "--json"]).await;
    assert_eq!(org["curator"], serde_json::Value::Null);
    let text = cli.ok(&["curate", "revoke", "--admission", BERGEN]).await;
    assert!(
        text.starts_with("revoked the admission of 964338531 (statement "),
        "{text}"
    );
    let id = "AB".repeat(32);
    let stderr = cli
        .fails(exit::NOT_FOUND, &["curate", "revoke", "--statement", &id])
        .await;
    assert!(stderr.contains("unknown statement"), "{stderr}");
    match node.last_request(|r| matches!(r, ControlRequest::CurateRevoke { .. })) {
        ControlRequest::CurateRevoke { target } => assert_eq!(
            target,
            RevokeTarget::Statement {
                statement: "ab".repeat(32)
            }
        ),
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endorse_show_and_checkout_the_endorsed_version() {
    let node = FakeNode::start().await;
    node.with_network().await;
    let cli = Cli::of(&node);
    let id = node.publish(&[("README.md", "versjon 1\n")]).await;
    let endorsed_heads = node.state.lock().unwrap().artefacts[&id].heads.clone();

    cli.fails(
        exit::USAGE,
        &["curate", "endorse", &id[..8], "--status", "great"],
    )
    .await;
    cli.fails(exit::USAGE, &["curate", "endorse", &id[..8]])
        .await;
    cli.fails(
        exit::NOT_FOUND,
        &["curate", "endorse", "zzzz", "--status", "approved"],
    )
    .await;

    // Nothing endorsed yet: checkout --endorsed says so.
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("co");
    let dir_s = dir.to_str().unwrap();
    let stderr = cli
        .fails(
            exit::NOT_FOUND,
            &["checkout", &id[..8], dir_s, "--endorsed"],
        )
        .await;
    assert!(
        stderr.contains("no curator has endorsed a version of"),
        "{stderr}"
    );
    assert!(stderr.contains("lists its endorsements"), "{stderr}");
    assert!(!dir.exists());

    let statement = cli
        .json(&[
            "curate",
            "endorse",
            &id[..8],
            "--status",
            "Approved",
            "--note",
            "Gjennomgått",
            "--json",
        ])
        .await;
    assert_eq!(statement["kind"], "endorse");
    match node.last_request(|r| matches!(r, ControlRequest::CurateEndorse { .. })) {
        ControlRequest::CurateEndorse {
            id: sent,
            status,
            note,
        } => {
            assert_eq!(sent, id);
            assert_eq!(status, "approved");
            assert_eq!(note, "Gjennomgått");
        }
        _ => unreachable!(),
    }

    let detail = cli.json(&["show", &id[..8], "--json"]).await;
    let e = &detail["endorsements"][0];
    assert_eq!(e["status"], "approved");
    assert_eq!(e["curator"], KS);
    assert_eq!(e["note"], "Gjennomgått");
    assert_eq!(e["current"], true);
    assert_eq!(e["heads"], serde_json::json!(endorsed_heads));
    assert_eq!(detail["visibility"], "public");
    assert_eq!(detail["owner"], KS);
    let text = cli.ok(&["show", &id[..8]]).await;
    assert!(
        text.contains("Endorsed: approved by KS (971032146) 2026-11-29, current version"),
        "{text}"
    );

    // Three changes later, the endorsement stays with the version it named.
    for n in 2..=4 {
        node.state
            .lock()
            .unwrap()
            .remote_edit(&id, "README.md", Some(&format!("versjon {n}\n")));
    }
    let detail = cli.json(&["show", &id, "--json"]).await;
    assert_eq!(detail["endorsements"][0]["current"], false);
    assert_eq!(detail["endorsements"][0]["changes_since"], 3);
    let text = cli.ok(&["show", &id]).await;
    assert!(
        text.contains("approved by KS (971032146) 2026-11-29, 3 changes since"),
        "{text}"
    );
    assert!(text.contains("--endorsed"), "{text}");

    // checkout --endorsed gets that version and makes it the base.
    let report = cli
        .json(&["checkout", &id[..8], dir_s, "--endorsed", "--json"])
        .await;
    assert_eq!(report["endorsed"], true);
    assert_eq!(report["base_heads"], serde_json::json!(endorsed_heads));
    assert_eq!(read(&dir, "README.md"), "versjon 1\n");
    assert_eq!(
        Checkout::open(&dir).unwrap().manifest.base_heads,
        endorsed_heads
    );
    match node.last_request(|r| matches!(r, ControlRequest::Files { .. })) {
        ControlRequest::Files {
            endorsed, heads, ..
        } => {
            assert!(endorsed);
            assert_eq!(heads, None);
        }
        _ => unreachable!(),
    }
    // A plain checkout gets the latest.
    let latest = work.path().join("latest");
    let report = cli
        .json(&["checkout", &id[..8], latest.to_str().unwrap(), "--json"])
        .await;
    assert_eq!(report["endorsed"], false);
    assert_eq!(read(&latest, "README.md"), "versjon 4\n");
    // And pull brings the endorsed checkout up to date.
    cli.ok(&["pull", "-C", dir_s]).await;
    assert_eq!(read(&dir, "README.md"), "versjon 4\n");

    // Deprecating is worded as a warning; revoking the endorsement by artefact id.
    let text = cli
        .ok(&["curate", "endorse", &id[..8], "--status", "deprecated"])
        .await;
    assert!(
        text.starts_with(&format!("marked {} as deprecated", &id[..12])),
        "{text}"
    );
    cli.json(&["curate", "revoke", "--endorsement", &id[..8], "--json"])
        .await;
    match node.last_request(|r| matches!(r, ControlRequest::CurateRevoke { .. })) {
        ControlRequest::CurateRevoke { target } => {
            assert_eq!(target, RevokeTarget::Endorsement { id: id.clone() })
        }
        _ => unreachable!(),
    }
    let detail = cli.json(&["show", &id, "--json"]).await;
    assert_eq!(detail["endorsements"], serde_json::json!([]));
    cli.fails(
        exit::NOT_FOUND,
        &["curate", "revoke", "--endorsement", "zzzz"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_show_add_node_and_revoke_node() {
    let node = FakeNode::start().await;
    node.with_network().await;
    let cli = Cli::of(&node);

    // Without ORGNR: this node's own organisation (from `node status`).
    let own = cli.json(&["org", "show", "--json"]).await;
    assert_eq!(own["number"], KS);
    assert_eq!(own["curator"]["root"], true);
    assert_eq!(own["fingerprint"], fingerprint_of(&hex::encode([1u8; 32])));
    let text = cli.ok(&["org", "show"]).await;
    assert!(text.starts_with("KS (971032146, ks)"), "{text}");
    assert!(text.contains("a root curator"), "{text}");

    let bergen = cli.json(&["org", "show", "964 338 531", "--json"]).await;
    assert_eq!(bergen["number"], BERGEN);
    assert_eq!(bergen["admitted"], false);
    let text = cli.ok(&["org", "show", BERGEN]).await;
    assert!(
        text.contains(&format!(
            "curate admit 964338531 --fingerprint {}",
            bergen["fingerprint"].as_str().unwrap()
        )),
        "{text}"
    );
    let stderr = cli
        .fails(exit::NOT_FOUND, &["org", "show", "974760673"])
        .await;
    assert!(
        stderr.contains("error: organisation 974760673 is not known to this node"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: `allmenning org show --all`"),
        "{stderr}"
    );
    cli.fails(exit::USAGE, &["org", "show", "974760674"]).await;
    cli.fails(exit::USAGE, &["org", "show", BERGEN, "--all"])
        .await;

    let all = cli.json(&["org", "show", "--all", "--json"]).await;
    let numbers: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, [TRONDHEIM, BERGEN, KS]);
    let text = cli.ok(&["org", "show", "--all"]).await;
    assert!(text.starts_with("NUMBER"), "{text}");
    assert!(text.contains("Trondheim kommune"), "{text}");

    // Certify a laptop, then revoke it. Without its proof of possession the CLI says where to
    // get one, before asking the node.
    let laptop = "AA".repeat(32);
    let proof = "0f".repeat(64);
    cli.fails(exit::USAGE, &["org", "add-node", "abcd"]).await;
    let stderr = cli.fails(exit::USAGE, &["org", "add-node", &laptop]).await;
    assert!(stderr.contains("proof of possession"), "{stderr}");
    assert!(
        stderr.contains("hint: run `allmenning org node-proof` on that node"),
        "{stderr}"
    );
    cli.fails(
        exit::USAGE,
        &["org", "add-node", &laptop, "--proof", "0f0f"],
    )
    .await;
    let statement = cli
        .json(&[
            "org",
            "add-node",
            &laptop,
            "--proof",
            &proof,
            "--label",
            "laptop, drift",
            "--json",
        ])
        .await;
    assert_eq!(statement["kind"], "node_cert");
    match node.last_request(|r| matches!(r, ControlRequest::OrgAddNode { .. })) {
        ControlRequest::OrgAddNode {
            node_key,
            label,
            proof: sent,
        } => {
            assert_eq!(node_key, "aa".repeat(32));
            assert_eq!(label, "laptop, drift");
            assert_eq!(sent, Some(proof.clone()));
        }
        _ => unreachable!(),
    }
    let text = cli.ok(&["org", "revoke-node", &laptop]).await;
    assert!(text.starts_with("revoked node aaaaaaaaaaaa"), "{text}");
    let own = cli.json(&["org", "show", "--json"]).await;
    let nodes = own["nodes"].as_array().unwrap();
    assert_eq!(nodes[1]["key"], "aa".repeat(32));
    assert_eq!(nodes[1]["revoked"], true);
    let text = cli.ok(&["org", "show"]).await;
    assert!(text.contains("laptop, drift  (revoked)"), "{text}");
    let stderr = cli
        .fails(exit::NOT_FOUND, &["org", "revoke-node", &"bb".repeat(32)])
        .await;
    assert!(stderr.contains("unknown node key"), "{stderr}");

    // Without the org key: a hint where to run it.
    node.state.lock().unwrap().has_org_key = false;
    let stderr = cli
        .fails(
            exit::ERROR,
            &["org", "add-node", &"cc".repeat(32), "--proof", &proof],
        )
        .await;
    assert!(
        stderr.contains("hint: this node does not hold the organisation's key"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_grant_revoke_list_and_restricted_publish() {
    let node = FakeNode::start().await;
    node.with_network().await;
    let cli = Cli::of(&node);
    let work = tempfile::tempdir().unwrap();
    let id = node.publish(&[("README.md", "hei\n")]).await;

    let info = cli.json(&["access", "list", &id[..8], "--json"]).await;
    assert_eq!(info["owner"], KS);
    assert_eq!(info["visibility"], "public");
    assert_eq!(info["maintainers"], serde_json::json!([]));

    let info = cli
        .json(&["access", "grant", &id[..8], BERGEN, "--json"])
        .await;
    assert_eq!(info["maintainers"], serde_json::json!([BERGEN]));
    match node.last_request(|r| matches!(r, ControlRequest::AccessGrant { .. })) {
        ControlRequest::AccessGrant {
            id: sent,
            org,
            role,
        } => {
            assert_eq!(
                (sent.as_str(), org.as_str(), role.as_str()),
                (id.as_str(), BERGEN, "maintainer")
            );
        }
        _ => unreachable!(),
    }
    let text = cli
        .ok(&["access", "grant", &id[..8], TRONDHEIM, "--role", "Reader"])
        .await;
    assert!(text.starts_with("942110464 may now read"), "{text}");
    let info = cli.json(&["access", "list", &id, "--json"]).await;
    assert_eq!(info["readers"], serde_json::json!([TRONDHEIM]));
    cli.fails(
        exit::USAGE,
        &["access", "grant", &id[..8], BERGEN, "--role", "owner"],
    )
    .await;
    cli.fails(exit::USAGE, &["access", "grant", &id[..8], "964338532"])
        .await;
    cli.fails(exit::NOT_FOUND, &["access", "list", "zzzz"])
        .await;
    cli.fails(exit::NOT_FOUND, &["access", "grant", &id[..8], "974760673"])
        .await;

    let info = cli
        .json(&["access", "revoke", &id[..8], BERGEN, "--json"])
        .await;
    assert_eq!(info["maintainers"], serde_json::json!([]));
    let text = cli.ok(&["access", "list", &id[..8]]).await;
    assert!(text.contains("maintainers:  only the owner"), "{text}");

    // Restricted publish: the org numbers are checked, deduplicated and sent.
    let file = work.path().join("ros.md");
    std::fs::write(&file, "# ROS\n").unwrap();
    let file_s = file.to_str().unwrap();
    let base = ["publish", file_s, "--kind", "ros", "--title", "ROS"];
    cli.fails(
        exit::USAGE,
        &[&base[..], &["--share-with", "964338532"]].concat(),
    )
    .await;
    let published = cli
        .json(
            &[
                &base[..],
                &[
                    "--share-with",
                    BERGEN,
                    TRONDHEIM,
                    "--share-with",
                    BERGEN,
                    "--json",
                ],
            ]
            .concat(),
        )
        .await;
    match node.last_request(|r| matches!(r, ControlRequest::Publish { .. })) {
        ControlRequest::Publish { share_with, .. } => {
            assert_eq!(share_with, [TRONDHEIM, BERGEN])
        }
        _ => unreachable!(),
    }
    let restricted = published["id"].as_str().unwrap();
    let detail = cli.json(&["show", restricted, "--json"]).await;
    assert_eq!(detail["visibility"], "restricted");
    assert_eq!(detail["readers"], serde_json::json!([TRONDHEIM, BERGEN]));
    let text = cli.ok(&["show", restricted]).await;
    assert!(
        text.contains("access:   restricted: 971032146 and 942110464, 964338531"),
        "{text}"
    );
    cli.json(
        &[
            &base[..],
            &["--share-with", &format!("{BERGEN},{TRONDHEIM}"), "--json"],
        ]
        .concat(),
    )
    .await;
    match node.last_request(|r| matches!(r, ControlRequest::Publish { .. })) {
        ControlRequest::Publish { share_with, .. } => {
            assert_eq!(share_with, [TRONDHEIM, BERGEN])
        }
        _ => unreachable!(),
    }
    // Public by default.
    cli.json(&[&base[..], &["--json"]].concat()).await;
    match node.last_request(|r| matches!(r, ControlRequest::Publish { .. })) {
        ControlRequest::Publish { share_with, .. } => assert!(share_with.is_empty()),
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_creates_the_org_key_unless_told_not_to() {
    let exe = env!("CARGO_BIN_EXE_allmenning");
    let tmp = tempfile::tempdir().unwrap();
    let init = |home: PathBuf, extra: &'static [&'static str]| async move {
        tokio::process::Command::new(exe)
            .arg("--home")
            .arg(home)
            .args([
                "init",
                "--org-name",
                "Bergen kommune",
                "--org-number",
                BERGEN,
                "--kind",
                "kommune",
                "--json",
            ])
            .args(extra)
            .env_remove("ALLMENNING_HOME")
            .output()
            .await
            .unwrap()
    };

    let home = tmp.path().join("a");
    let out = init(home.clone(), &[]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let node_key = v["node_key"].as_str().unwrap();
    assert_eq!(node_key.len(), 64);
    assert_eq!(v["public_key"], node_key);
    let org_key = v["org_key"].as_str().unwrap();
    assert_eq!(org_key.len(), 64);
    assert_ne!(org_key, node_key);
    assert_eq!(v["org_key_fingerprint"], fingerprint_of(org_key));
    let h = allmenning_node::home::Home { dir: home.clone() };
    assert_eq!(h.org_key().unwrap().unwrap().public().to_hex(), org_key);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(h.org_key_path())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    let home = tmp.path().join("b");
    let out = init(home.clone(), &["--no-org-key"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["org_key"], serde_json::Value::Null);
    assert_eq!(v["org_key_fingerprint"], serde_json::Value::Null);
    assert!(!home.join("org.key").exists());
    // It prints the command that certifies it, with a proof of possession that verifies, and
    // `org node-proof` prints the same again later (no running node needed).
    let node_key = v["node_key"].as_str().unwrap().to_string();
    let proof = v["node_proof"].as_str().unwrap().to_string();
    assert_eq!(proof.len(), 128);
    assert_eq!(
        v["add_node_command"],
        format!("allmenning org add-node {node_key} --proof {proof}")
    );
    let mut key = [0u8; 32];
    hex::decode_to_slice(&node_key, &mut key).unwrap();
    let bergen: allmenning_protocol::OrgNumber = BERGEN.parse().unwrap();
    allmenning_protocol::trust::verify_possession(
        bergen,
        &allmenning_protocol::PublicKey(key),
        &hex::decode(&proof).unwrap(),
    )
    .unwrap();
    let again = tokio::process::Command::new(exe)
        .arg("--home")
        .arg(&home)
        .args(["org", "node-proof", "--json"])
        .env_remove("ALLMENNING_HOME")
        .output()
        .await
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["node_key"], node_key.as_str());
    assert_eq!(again["org"], BERGEN);
    assert_eq!(again["proof"], proof.as_str());
    assert_eq!(again["command"], v["add_node_command"]);
    let text = tokio::process::Command::new(exe)
        .arg("--home")
        .arg(&home)
        .args(["org", "node-proof"])
        .env_remove("ALLMENNING_HOME")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!(
            "  allmenning org add-node {node_key} --proof {proof}"
        )),
        "{text}"
    );
    let home_c = tmp.path().join("c");
    let plain = tokio::process::Command::new(exe)
        .arg("--home")
        .arg(&home_c)
        .args([
            "init",
            "--org-name",
            "Bergen kommune",
            "--org-number",
            BERGEN,
            "--kind",
            "kommune",
            "--no-org-key",
        ])
        .env_remove("ALLMENNING_HOME")
        .output()
        .await
        .unwrap();
    let plain = String::from_utf8_lossy(&plain.stdout);
    assert!(
        plain.contains("allmenning org add-node ") && plain.contains(" --proof "),
        "{plain}"
    );

    // A second init refuses (exit 1) and keeps both keys.
    let out = init(tmp.path().join("a"), &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(h.org_key().unwrap().unwrap().public().to_hex(), org_key);
}

#[test]
fn cli_can_reach_the_fake_node_over_the_client_too() {
    // The typed client turns "not in a network" into the documented error, whatever the wording.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let node = FakeNode::start().await;
        let err = node.client().await.access_list("x").await.unwrap_err();
        assert!(allmenning::client::is_not_in_network(&err), "{err:#}");
        assert_eq!(classify(&err).0, exit::ERROR);
        let err = node.client().await.network_show().await.unwrap_err();
        assert!(err.to_string().contains(NOT_IN_NETWORK), "{err:#}");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_by_hash_or_prefix_for_checkout_export_show_and_diff() {
    let node = FakeNode::start().await;
    let cli = Cli::of(&node);
    let id = node.publish(&[("README.md", "versjon 1\n")]).await;
    // Changes until two share a first hex digit, so that a one-digit prefix is ambiguous.
    let (first, history) = loop {
        let n = node.state.lock().unwrap().artefacts[&id].history.len();
        node.state.lock().unwrap().remote_edit(
            &id,
            "README.md",
            Some(&format!("versjon {}\n", n + 1)),
        );
        let history = node.state.lock().unwrap().artefacts[&id].history.clone();
        let mut firsts: Vec<&str> = history.iter().map(|h| &h[..1]).collect();
        firsts.sort_unstable();
        firsts.dedup();
        if firsts.len() < history.len() {
            break (history[0].clone(), history);
        }
    };
    let latest = history.last().unwrap().clone();
    let work = tempfile::tempdir().unwrap();

    // checkout --at a unique prefix: that version, as the base.
    let dir = work.path().join("v1");
    let dir_s = dir.to_str().unwrap();
    let unique = (6..=64)
        .map(|n| &first[..n])
        .find(|p| history.iter().filter(|h| h.starts_with(p)).count() == 1)
        .unwrap();
    let report = cli
        .json(&["checkout", &id[..8], dir_s, "--at", unique, "--json"])
        .await;
    assert_eq!(report["base_heads"], serde_json::json!([first]));
    assert_eq!(report["at"], unique);
    assert_eq!(report["endorsed"], false);
    assert_eq!(read(&dir, "README.md"), "versjon 1\n");
    assert_eq!(
        Checkout::open(&dir).unwrap().manifest.base_heads,
        std::slice::from_ref(&first)
    );
    match node.last_request(|r| matches!(r, ControlRequest::Files { .. })) {
        ControlRequest::Files { heads, .. } => assert_eq!(heads, Some(vec![first.clone()])),
        _ => unreachable!(),
    }

    // export --at, and show --at lists that version's files.
    let out = work.path().join("ut");
    let report = cli
        .json(&[
            "export",
            &id,
            out.to_str().unwrap(),
            "--at",
            &first,
            "--json",
        ])
        .await;
    assert_eq!(report["heads"], serde_json::json!([first]));
    assert_eq!(read(&out, "README.md"), "versjon 1\n");
    let detail = cli.json(&["show", &id, "--at", unique, "--json"]).await;
    assert_eq!(detail["at"], serde_json::json!([first]));
    assert_eq!(detail["files"][0]["size"], "versjon 1\n".len());
    assert_eq!(detail["heads"], serde_json::json!([latest]));

    // diff between two versions, as text and as JSON.
    let text = cli
        .ok(&["diff", &id[..8], "--from", unique, "--to", &latest])
        .await;
    let n = history.len();
    assert!(
        text.contains(&format!("-versjon 1\n+versjon {n}\n")),
        "{text}"
    );
    let diff = cli
        .json(&["diff", &id[..8], "--from", unique, "--json"])
        .await;
    assert_eq!(diff["from"], serde_json::json!([first]));
    assert_eq!(diff["to"], serde_json::json!([latest]));
    assert_eq!(diff["files"][0]["path"], "README.md");
    assert_eq!(diff["files"][0]["status"], "modified");

    // An ambiguous prefix is a usage error naming the candidates; so is an unknown one.
    let shared = history
        .iter()
        .map(|h| &h[..1])
        .find(|p| history.iter().filter(|h| h.starts_with(p)).count() > 1)
        .unwrap();
    for command in [
        vec!["checkout", &id[..8], "/nonexistent/x", "--at", shared],
        vec!["show", &id[..8], "--at", shared],
        vec!["diff", &id[..8], "--from", shared],
    ] {
        let stderr = cli.fails(exit::USAGE, &command).await;
        assert!(stderr.contains("ambiguous"), "{stderr}");
        for candidate in history.iter().filter(|h| h.starts_with(shared)) {
            assert!(stderr.contains(&candidate[..12]), "{stderr}");
        }
        assert!(stderr.contains("allmenning log"), "{stderr}");
    }
    let unknown = if history.iter().any(|h| h.starts_with("ffff")) {
        "eeee"
    } else {
        "ffff"
    };
    let stderr = cli
        .fails(
            exit::USAGE,
            &["export", &id, "/nonexistent/y", "--at", unknown],
        )
        .await;
    assert!(stderr.contains("has no change"), "{stderr}");
    cli.fails(exit::USAGE, &["show", &id, "--at", "abc,def"])
        .await;
    // No endorsement: "not found", as with --endorsed.
    let stderr = cli
        .fails(exit::NOT_FOUND, &["show", &id, "--at", "endorsed"])
        .await;
    assert!(stderr.contains("no curator has endorsed"), "{stderr}");
    // --at and --endorsed together, and --from without an id, are usage errors.
    cli.fails(
        exit::USAGE,
        &[
            "checkout",
            &id,
            "/nonexistent/z",
            "--at",
            unique,
            "--endorsed",
        ],
    )
    .await;
    cli.fails(exit::USAGE, &["diff", "--from", unique]).await;
    cli.fails(exit::USAGE, &["diff", &id]).await;
}
