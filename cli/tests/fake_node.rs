//! The checkout commands against a fake node: the node's real control socket (`bind`/`serve`),
//! with an in-memory artefact store behind it instead of the real event loop. This checks the
//! CLI's side of the contract (requests sent, replies used, exit codes) without libp2p; the
//! end-to-end tests with real nodes live in /tests.

use allmenning::client::Client;
use allmenning::commands::{checkout, commit, pull};
use allmenning::error::{classify, exit, CliError};
use allmenning::workdir::Checkout;
use allmenning_node::control::{
    bind, serve, ArtefactDetail, ArtefactRow, Bytes, Committed, ControlCall, ControlReply,
    ControlRequest, EditPayload, FilePayload, FilesAt, LogEntry, Published,
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
    log: Vec<LogEntry>,
}

#[derive(Default)]
struct State {
    artefacts: BTreeMap<String, Artefact>,
    counter: u64,
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
        a.versions.insert(head, a.files.clone());
    }

    fn handle(&mut self, request: ControlRequest) -> Result<ControlReply, String> {
        match request {
            ControlRequest::Publish {
                title, kind, files, ..
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
                        log: vec![],
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
                        owner: "00".into(),
                        owner_name: "Bergen kommune".into(),
                        heads: a.heads.clone(),
                        files: a.files.len(),
                        size: 0,
                        updated: 0,
                        complete: true,
                        present: 0,
                    })
                    .collect(),
            }),
            ControlRequest::Show { id } => {
                let id = self.find(&id)?;
                let a = &self.artefacts[&id];
                Ok(ControlReply::Show(ArtefactDetail {
                    id: id.clone(),
                    title: a.title.clone(),
                    kind: a.kind.clone(),
                    description: String::new(),
                    tags: vec![],
                    owner: "00".into(),
                    owner_name: "Bergen kommune".into(),
                    created: 0,
                    heads: a.heads.clone(),
                    changes: a.versions.len(),
                    files: vec![],
                    complete: true,
                }))
            }
            ControlRequest::Log { id } => {
                let id = self.find(&id)?;
                Ok(ControlReply::Log {
                    entries: self.artefacts[&id].log.clone(),
                })
            }
            ControlRequest::Files { id, heads } => {
                let id = self.find(&id)?;
                let a = &self.artefacts[&id];
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
                    }));
                }
                a.heads = vec![head.clone()];
                a.versions.insert(head.clone(), a.files.clone());
                a.log.insert(
                    0,
                    LogEntry {
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
                }))
            }
            _ => Err("unsupported by the fake node".into()),
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
                "Test".into(),
                "guide".into(),
                String::new(),
                vec![],
                files,
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

    let mut co = checkout::checkout(&mut node.client().await, &id[..8], &dir)
        .await
        .unwrap();
    assert_eq!(co.manifest.id, id);
    assert_eq!(read(&dir, "README.md"), "hei\n");

    // Edit locally and commit: the base moves to the new change.
    std::fs::write(dir.join("README.md"), "hei verden\n").unwrap();
    std::fs::rename(dir.join("b.txt"), dir.join("c.txt")).unwrap();
    let report = commit::commit(&mut node.client().await, &mut co, "endring")
        .await
        .unwrap();
    let change = report.change.clone().unwrap();
    assert_eq!(co.manifest.base_heads, [change]);
    assert_eq!(node.file(&id, "README.md").unwrap(), "hei verden\n");
    assert_eq!(node.file(&id, "c.txt").unwrap(), "b\n");
    assert!(node.file(&id, "b.txt").is_none());
    assert!(Checkout::open(&dir).unwrap().status().unwrap().is_empty());

    // Nothing to commit now.
    let again = commit::commit(&mut node.client().await, &mut co, "igjen")
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
    let mut co = checkout::checkout(&mut node.client().await, &id, &dir)
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
    commit::commit(&mut node.client().await, &mut co, "mitt")
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
