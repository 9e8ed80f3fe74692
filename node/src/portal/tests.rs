//! The portal against a fake event loop: what it renders, what it hides, and how it fails.

use super::*;
use crate::control::{ArtefactRef, FileInfo};
use allmenning_protocol::catalog::{CatalogEndorsement, OrgRef};
use allmenning_protocol::trust::EndorsementStatus;
use allmenning_protocol::ArtefactId;
use std::sync::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HOSTILE: &str = "Foreldrebetaling <script>alert('x')</script> & \"sitat\"";
const PUBLIC_ID: &str = "0123456789abcdef0123456789abcdef";
const GUIDE_ID: &str = "11111111111111111111111111111111";
const SECRET_ID: &str = "22222222222222222222222222222222";
const UNKNOWN_ID: &str = "33333333333333333333333333333333";
const SECRET_TITLE: &str = "ROS-analyse Q7ZK-KONFIDENSIELL";
const SECRET_TAG: &str = "hemmelig-emneord";
const SECRET_ORG_NAME: &str = "Skjult Samarbeid IKS";
const INITIATIVE_ID: &str = "44444444444444444444444444444444";
const INITIATIVE_TITLE: &str = "Felles barnehageopptak <b>2027</b>";

/// Trondheim leads an initiative Bergen joined; it names the public integration, the
/// restricted ROS analysis (with its title, as the node gives it) and an artefact nobody here has.
fn initiative_list() -> Vec<InitiativeInfo> {
    vec![InitiativeInfo {
        id: INITIATIVE_ID.into(),
        title: INITIATIVE_TITLE.into(),
        description: "Ett opptak for hele regionen.".into(),
        status: "active".into(),
        captain: "942110464".into(),
        captain_name: "Trondheim kommune".into(),
        participants: vec![crate::control::OrgName {
            org: "964338531".into(),
            name: "Bergen kommune".into(),
        }],
        artefacts: vec![
            aref(PUBLIC_ID, HOSTILE, "integration"),
            aref(SECRET_ID, SECRET_TITLE, "ros"),
            aref(UNKNOWN_ID, "", ""),
        ],
        created: 1_785_000_000,
        updated: 1_786_000_000,
    }]
}

fn org(number: &str, name: &str) -> OrgRef {
    OrgRef {
        org: number.parse().unwrap(),
        name: Some(name.into()),
    }
}

fn approved_by_ks(current: bool, changes_since: usize) -> CatalogEndorsement {
    CatalogEndorsement {
        curator: "971032146".parse().unwrap(),
        curator_name: "KS".into(),
        status: EndorsementStatus::Approved,
        heads: vec!["ab".repeat(32)],
        current,
        changes_since,
        note: "Gjennomgått <b>grundig</b>".into(),
        time: 1_790_000_000,
    }
}

fn entry(id: &str, title: &str, kind: &str, owner: (&str, &str), tags: &[&str]) -> CatalogEntry {
    CatalogEntry {
        id: id.parse::<ArtefactId>().unwrap(),
        title: title.into(),
        kind: kind.into(),
        description: format!("Om {title}.\n\nMer tekst."),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        owner: Some(owner.0.parse().unwrap()),
        owner_name: Some(owner.1.into()),
        maintainers: vec![org(owner.0, owner.1)],
        endorsements: Vec::new(),
        adopters: Vec::new(),
        based_on: None,
        based_on_version: Vec::new(),
        los_theme: None,
        visibility: Visibility::Public,
        created: 1_780_000_000,
        updated: 1_790_000_000,
        head_count: 1,
        file_count: 1,
        size: 1234,
        conflicts: 0,
    }
}

/// Bergen's approved integration (hostile title), Trondheim's guide built on it, and Bergen's
/// restricted ROS analysis (also approved, tagged and maintained by an organisation nobody
/// else mentions).
fn catalogue() -> Vec<CatalogEntry> {
    let mut integration = entry(
        PUBLIC_ID,
        HOSTILE,
        "integration",
        ("964338531", "Bergen kommune"),
        &["barnehage", "økonomi"],
    );
    integration.endorsements = vec![approved_by_ks(true, 0)];
    integration.los_theme = Some("Barnehage".into());
    let mut guide = entry(
        GUIDE_ID,
        "Veileder for innkjøp",
        "guide",
        ("942110464", "Trondheim kommune"),
        &["innkjøp"],
    );
    guide.based_on = Some(PUBLIC_ID.parse().unwrap());
    guide.updated = 1_780_000_000;
    guide.conflicts = 1;
    let mut secret = entry(
        SECRET_ID,
        SECRET_TITLE,
        "ros",
        ("964338531", "Bergen kommune"),
        &[SECRET_TAG, "barnehage"],
    );
    secret.endorsements = vec![approved_by_ks(false, 2)];
    secret.maintainers.push(org("974760673", SECRET_ORG_NAME));
    secret.visibility = Visibility::Restricted {
        readers: vec![org("942110464", "Trondheim kommune")],
    };
    secret.updated = 1_795_000_000;
    vec![secret, integration, guide]
}

fn aref(id: &str, title: &str, kind: &str) -> ArtefactRef {
    ArtefactRef {
        id: id.into(),
        title: title.into(),
        kind: kind.into(),
    }
}

fn activity() -> Vec<OrgActivity> {
    let blank = |org: &str, name: &str, admitted: bool| OrgActivity {
        org: org.into(),
        name: name.into(),
        kind: "kommune".into(),
        admitted,
        shares: Vec::new(),
        maintains: Vec::new(),
        adopts: Vec::new(),
        captains: Vec::new(),
        endorses: Vec::new(),
        participates: Vec::new(),
    };
    let mut bergen = blank("964338531", "Bergen kommune", true);
    bergen.shares = vec![
        aref(PUBLIC_ID, HOSTILE, "integration"),
        aref(SECRET_ID, SECRET_TITLE, "ros"),
    ];
    bergen.participates = vec![aref(INITIATIVE_ID, INITIATIVE_TITLE, "initiative")];
    let mut trondheim = blank("942110464", "Trondheim kommune", true);
    trondheim.shares = vec![aref(GUIDE_ID, "Veileder for innkjøp", "guide")];
    trondheim.captains = vec![aref(INITIATIVE_ID, INITIATIVE_TITLE, "initiative")];
    let mut ks = blank("971032146", "KS", true);
    ks.kind = "ks".into();
    ks.endorses = vec![
        aref(PUBLIC_ID, HOSTILE, "integration"),
        aref(SECRET_ID, SECRET_TITLE, "ros"),
    ];
    // Known only through the restricted artefact: must not appear at all.
    let mut hidden = blank("974760673", SECRET_ORG_NAME, false);
    hidden.maintains = vec![aref(SECRET_ID, SECRET_TITLE, "ros")];
    vec![bergen, trondheim, ks, hidden]
}

fn detail_of(e: &CatalogEntry) -> ArtefactDetail {
    ArtefactDetail {
        id: e.id.to_hex(),
        title: e.title.clone(),
        kind: e.kind.clone(),
        description: e.description.clone(),
        tags: e.tags.clone(),
        owner: e.owner.map(|o| o.to_string()).unwrap_or_default(),
        owner_name: e.owner_name.clone().unwrap_or_default(),
        created: e.created,
        heads: vec!["cd".repeat(32)],
        changes: 2,
        files: vec![
            FileInfo {
                path: "src/<beregning>.rs".into(),
                size: 2_500,
                storage: "text".into(),
                conflict: None,
            },
            FileInfo {
                path: "README.md".into(),
                size: 12,
                storage: "blob".into(),
                conflict: None,
            },
        ],
        complete: true,
        maintainers: Vec::new(),
        visibility: match e.visibility {
            Visibility::Public => "public".into(),
            Visibility::Restricted { .. } => "restricted".into(),
        },
        readers: Vec::new(),
        endorsements: Vec::new(),
        adaptation: None,
        adopters: Vec::new(),
        refused: Vec::new(),
        access_revoked: false,
        conflicts: (0..e.conflicts)
            .map(|_| conflict_in("src/<beregning>.rs"))
            .collect(),
        at: None,
    }
}

/// A text conflict in `path` between Bergen and an organisation with a hostile name.
fn conflict_in(path: &str) -> crate::control::ConflictInfo {
    let side = |org: &str, name: &str, change: &str| crate::control::ConflictSide {
        org: Some(org.into()),
        organisation: Some(name.into()),
        node: Some("ab".repeat(32)),
        change: change.repeat(32),
        state: "text".into(),
        renamed_to: None,
        size: 10,
        label: format!("{name} {}", &change.repeat(4)[..7]),
        file: None,
    };
    crate::control::ConflictInfo {
        path: path.into(),
        kind: "text".into(),
        base: vec!["cd".repeat(32)],
        sides: vec![
            side("964338531", "Bergen kommune", "e1"),
            side("942110464", "<b>Trondheim</b>", "f2"),
        ],
        regions: 1,
        omitted: Vec::new(),
    }
}

/// The first change of every fake artefact, and its second (the current version).
const FIRST: &str = "abababababababababababababababababababababababababababababababab";
const SECOND: &str = "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";

/// The files of a fake artefact at `heads`: at the first change only README.md, as it was.
fn files_at(id: &str, heads: Option<&[String]>) -> crate::control::FilesAt {
    let first = heads.is_some_and(|h| h == [FIRST.to_string()]);
    let file = |path: &str, content: &[u8]| crate::control::FilePayload {
        path: path.into(),
        content: crate::control::Bytes(content.to_vec()),
        executable: false,
    };
    crate::control::FilesAt {
        id: id.into(),
        conflicts: Vec::new(),
        heads: vec![if first { FIRST } else { SECOND }.to_string()],
        files: if first {
            vec![file("README.md", b"Forste <versjon>\n")]
        } else {
            vec![
                file("README.md", b"Andre versjon\n"),
                file("src/<beregning>.rs", b"fn main() {}\n"),
                file("bilde.png", b"\x89PNG\0\0"),
            ]
        },
    }
}

/// How the fake node behaves.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Normal,
    /// Answers every request with an error.
    Failing,
    /// Takes requests and never answers them (drops them).
    Dropping,
    /// Normal, with 10,000 more public artefacts.
    Many,
}

/// 10,000 public artefacts of every kind, with a few tags and two owners.
fn many() -> Vec<CatalogEntry> {
    (0..10_000u32)
        .map(|i| {
            let kind = Kind::ALL[i as usize % Kind::ALL.len()].as_str();
            let owner = if i % 2 == 0 {
                ("964338531", "Bergen kommune")
            } else {
                ("942110464", "Trondheim kommune")
            };
            let tag = format!("tema-{}", i % 40);
            let mut e = entry(
                &format!("{i:032x}"),
                &format!("Artefakt nummer {i}"),
                kind,
                owner,
                &[&tag],
            );
            e.updated = 1_700_000_000 + i64::from(i);
            if i % 7 == 0 {
                e.endorsements = vec![approved_by_ks(true, 0)];
                e.los_theme = Some(format!("Tema {}", i % 12));
            }
            e
        })
        .collect()
}

/// A stand-in for the node's event loop; records every request it gets.
fn fake_node(
    mut rx: mpsc::Receiver<ControlCall>,
    mode: Mode,
    seen: Arc<Mutex<Vec<ControlRequest>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut entries = catalogue();
        if mode == Mode::Many {
            entries.extend(many());
        }
        while let Some(call) = rx.recv().await {
            seen.lock().unwrap().push(call.request.clone());
            if mode == Mode::Dropping {
                drop(call.reply);
                continue;
            }
            if mode == Mode::Failing {
                let _ = call.reply.send(Err("the store is on fire".into()));
                continue;
            }
            let find = |id: &str| entries.iter().find(|e| e.id.to_hex() == id).cloned();
            let reply = match call.request {
                ControlRequest::Catalog { .. } => Ok(ControlReply::Catalog {
                    entries: entries.clone(),
                }),
                ControlRequest::Search { query, .. } => {
                    if query.contains('"') {
                        Err("cannot parse the query".to_string())
                    } else {
                        // Everything matches; the restricted one best of all.
                        let hit = |e: &CatalogEntry, score: f32| SearchHit {
                            id: e.id.to_hex(),
                            score,
                            title: e.title.clone(),
                            kind: e.kind.clone(),
                            owner: e.owner.map(|o| o.to_string()),
                            owner_name: e.owner_name.clone(),
                            approved: !e.endorsements.is_empty(),
                            snippet: Some(format!("... {query} i {} ...", e.title)),
                        };
                        Ok(ControlReply::Search {
                            hits: vec![
                                hit(&entries[0], 3.0),
                                hit(&entries[1], 2.0),
                                hit(&entries[2], 1.0),
                            ],
                        })
                    }
                }
                ControlRequest::Activity => Ok(ControlReply::Activity { orgs: activity() }),
                ControlRequest::InitiativeList => Ok(ControlReply::Initiatives {
                    initiatives: initiative_list(),
                }),
                ControlRequest::Show { id, heads } => match find(&id) {
                    Some(e) => {
                        let mut detail = detail_of(&e);
                        if let Some(heads) = heads {
                            detail.files = files_at(&id, Some(&heads))
                                .files
                                .iter()
                                .map(|f| FileInfo {
                                    path: f.path.clone(),
                                    size: f.content.0.len() as u64,
                                    storage: "text".into(),
                                    conflict: None,
                                })
                                .collect();
                            detail.at = Some(heads);
                        }
                        Ok(ControlReply::Show(detail))
                    }
                    None => Err(format!("no artefact matches {id:?}")),
                },
                ControlRequest::Version { id, version } => match find(&id) {
                    Some(_) if version == FIRST || version == SECOND => {
                        Ok(ControlReply::Version(crate::control::VersionInfo {
                            id,
                            heads: vec![version.clone()],
                            version,
                        }))
                    }
                    Some(_) => Err(format!(
                        "artefact {id} has no change whose hash starts with {version:?}"
                    )),
                    None => Err(format!("no artefact matches {id:?}")),
                },
                ControlRequest::Files { id, heads, .. } => match find(&id) {
                    Some(_) => Ok(ControlReply::Files(files_at(&id, heads.as_deref()))),
                    None => Err(format!("no artefact matches {id:?}")),
                },
                ControlRequest::Proposals { id } => match find(&id) {
                    Some(_) => Ok(ControlReply::Proposals {
                        proposals: vec![crate::control::ProposalInfo {
                            id: "ab".repeat(32),
                            artefact: id.clone(),
                            proposer: "cd".repeat(32),
                            proposer_org: Some("942110464".into()),
                            proposer_name: Some("Trondheim kommune".into()),
                            message: "SMS-varsling <b>".into(),
                            time: 1_700_000_000,
                            changes: vec!["ef".repeat(32)],
                            status: "open".into(),
                            decided_by: None,
                        }],
                    }),
                    None => Err(format!("no artefact matches {id:?}")),
                },
                ControlRequest::Log { id, .. } => match find(&id) {
                    Some(_) => Ok(ControlReply::Log {
                        entries: vec![
                            LogEntry {
                                author_org: None,
                                author_name: None,
                                file: None,
                                hash: "cd".repeat(32),
                                author: "ef".repeat(32),
                                time: 1_790_000_000,
                                message: "Beskriv drift i <Bergen>".into(),
                                deps: vec!["ab".repeat(32)],
                            },
                            LogEntry {
                                author_org: None,
                                author_name: None,
                                file: None,
                                hash: "ab".repeat(32),
                                author: "ef".repeat(32),
                                time: 1_780_000_000,
                                message: String::new(),
                                deps: Vec::new(),
                            },
                        ],
                    }),
                    None => Err(format!("no artefact matches {id:?}")),
                },
                _ => Err("unsupported".into()),
            };
            let _ = call.reply.send(reply);
        }
    })
}

struct Fixture {
    addr: std::net::SocketAddr,
    seen: Arc<Mutex<Vec<ControlRequest>>>,
    _node: tokio::task::JoinHandle<()>,
    _portal: tokio::task::JoinHandle<Result<(), PortalError>>,
}

async fn start(mode: Mode) -> Fixture {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel(8);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let node = fake_node(rx, mode, seen.clone());
    let portal = tokio::spawn(serve(listener, tx));
    Fixture {
        addr,
        seen,
        _node: node,
        _portal: portal,
    }
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

/// A plain HTTP/1.1 GET, as a browser would send it.
async fn get(addr: std::net::SocketAddr, path: &str) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut raw))
        .await
        .expect("the portal answers in time")
        .unwrap();
    let raw = String::from_utf8(raw).expect("UTF-8 answer");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    Answer {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn assert_no_secret(page: &Answer, path: &str) {
    for needle in [SECRET_TITLE, SECRET_ID, SECRET_TAG, SECRET_ORG_NAME, "Q7ZK"] {
        assert!(
            !page.body.contains(needle),
            "{path} shows {needle:?} of the restricted artefact:\n{}",
            page.body
        );
    }
}

#[tokio::test]
async fn catalogue_lists_public_entries_escaped_in_norwegian() {
    let f = start(Mode::Normal).await;
    let page = get(f.addr, "/").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.head
            .to_lowercase()
            .contains("content-type: text/html; charset=utf-8"),
        "{}",
        page.head
    );
    assert!(
        page.head
            .to_lowercase()
            .contains("content-security-policy: default-src 'none'"),
        "{}",
        page.head
    );
    let body = &page.body;
    assert!(
        body.starts_with("<!DOCTYPE html><html lang=\"nb\">"),
        "{body}"
    );
    for word in [
        "Katalog",
        "Søk",
        "Referansearkitektur",
        "Hvem gjør hva",
        "Initiativ",
        "Godkjent av KS",
        "Veileder for innkjøp",
    ] {
        assert!(body.contains(word), "/ lacks {word:?}:\n{body}");
    }
    // The hostile title is text, not markup.
    assert!(
        !body.contains("<script>"),
        "an unescaped script tag:\n{body}"
    );
    assert!(
        body.contains(
            "Foreldrebetaling &lt;script&gt;alert('x')&lt;/script&gt; &amp; &quot;sitat&quot;"
        ),
        "the title, escaped:\n{body}"
    );
    // Every form field has a label.
    for field in ["felt-q", "felt-kind", "felt-status", "felt-tag", "felt-org"] {
        assert!(
            body.contains(&format!("<label for=\"{field}\">")),
            "no label for {field}"
        );
        assert!(
            body.contains(&format!("id=\"{field}\"")),
            "no field {field}"
        );
    }
    assert!(body.contains("2 artefakter"), "{body}");
    assert!(
        body.contains(&format!("href=\"/artefakt/{PUBLIC_ID}\"")),
        "{body}"
    );
    assert_no_secret(&page, "/");
}

#[tokio::test]
async fn restricted_artefacts_appear_nowhere_and_answer_404() {
    let f = start(Mode::Normal).await;
    let paths = [
        "/".to_string(),
        "/?q=barnehage".to_string(),
        "/?tag=barnehage".to_string(),
        "/?kind=ros".to_string(),
        "/?status=approved".to_string(),
        format!("/artefakt/{PUBLIC_ID}"),
        format!("/artefakt/{GUIDE_ID}"),
        "/referansearkitektur".to_string(),
        "/hvem".to_string(),
        "/initiativ".to_string(),
    ];
    for path in &paths {
        let page = get(f.addr, path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert_no_secret(&page, path);
    }
    // Directly: the same 404 as an id nobody has, byte for byte.
    let secret = get(f.addr, &format!("/artefakt/{SECRET_ID}")).await;
    let unknown = get(f.addr, &format!("/artefakt/{UNKNOWN_ID}")).await;
    assert_eq!(secret.status, 404);
    assert_eq!(unknown.status, 404);
    assert_eq!(secret.body, unknown.body);
    assert_no_secret(&secret, "/artefakt/<restricted>");
    assert!(secret.body.contains("Fant ikke siden"), "{}", secret.body);
    // Upper case or a prefix of its id does not find it either.
    for path in [
        format!("/artefakt/{}", SECRET_ID.to_uppercase()),
        format!("/artefakt/{}", &SECRET_ID[..12]),
    ] {
        let page = get(f.addr, &path).await;
        assert_eq!(page.status, 404, "{path}");
        assert_eq!(page.body, unknown.body, "{path}");
    }
    // The restricted one was the best search hit and the newest entry: it was really there.
    let hvem = get(f.addr, "/hvem").await;
    assert!(
        hvem.body.contains("Bergen kommune") && hvem.body.contains("KS"),
        "{}",
        hvem.body
    );
    // The portal only ever read.
    let seen = f.seen.lock().unwrap();
    assert!(!seen.is_empty());
    assert!(seen.iter().all(read_only), "{seen:?}");
}

#[tokio::test]
async fn search_and_filters_combine() {
    let f = start(Mode::Normal).await;
    // Search alone: both public hits, best first, with their snippets.
    let page = get(f.addr, "/?q=barnehage").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("2 treff for «barnehage»"),
        "{}",
        page.body
    );
    let integration = page.body.find(&format!("/artefakt/{PUBLIC_ID}")).unwrap();
    let guide = page.body.find(&format!("/artefakt/{GUIDE_ID}")).unwrap();
    assert!(integration < guide, "ranked as the node ranked them");
    assert!(
        page.body
            .contains("Treff: «... barnehage i Veileder for innkjøp ...»"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("value=\"barnehage\""),
        "the search box keeps the query"
    );
    // Search with a filter: only the guide is a guide.
    let page = get(f.addr, "/?q=barnehage&kind=guide").await;
    assert!(
        page.body.contains("1 treff for «barnehage»"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(&format!("/artefakt/{PUBLIC_ID}")));
    assert!(
        page.body.contains("<option value=\"guide\" selected>"),
        "{}",
        page.body
    );
    // Filters without a search combine.
    let page = get(f.addr, "/?tag=barnehage&status=approved&org=964338531").await;
    assert!(page.body.contains("1 artefakt"), "{}", page.body);
    assert!(page.body.contains(&format!("/artefakt/{PUBLIC_ID}")));
    let page = get(f.addr, "/?tag=barnehage&kind=guide").await;
    assert!(
        page.body.contains("Ingen artefakter passer med filtrene."),
        "{}",
        page.body
    );
    // Empty values mean "any"; unknown names are ignored.
    let page = get(f.addr, "/?q=&kind=&status=&tag=&org=&utm=x").await;
    assert!(page.body.contains("2 artefakter"), "{}", page.body);
    // Options offered come from public entries only.
    let page = get(f.addr, "/").await;
    assert!(
        page.body.contains("<option value=\"økonomi\">"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(SECRET_TAG));
    // Bad filter values: 400 with a Norwegian explanation, and no call to the node.
    let before = f.seen.lock().unwrap().len();
    for path in ["/?kind=hologram", "/?status=ok", "/?org=964338532"] {
        let page = get(f.addr, path).await;
        assert_eq!(page.status, 400, "{path}");
        assert!(
            page.body.contains("Ugyldig filter"),
            "{path}: {}",
            page.body
        );
    }
    assert_eq!(f.seen.lock().unwrap().len(), before);
    // A query the node cannot parse: 400, the query escaped.
    let page = get(f.addr, "/?q=%22%3Cb%3E").await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("«&quot;&lt;b&gt;»"), "{}", page.body);
}

#[tokio::test]
async fn artefact_page_shows_everything_known_about_it() {
    let f = start(Mode::Normal).await;
    let page = get(f.addr, &format!("/artefakt/{PUBLIC_ID}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;
    for expected in [
        "<h1>Foreldrebetaling &lt;script&gt;",
        "Integrasjon",
        "Bergen kommune",
        "Barnehage",
        "Filer",
        "src/&lt;beregning&gt;.rs",
        "2,5\u{a0}kB",
        "README.md",
        "Kvalitetssikring",
        "Godkjent av KS",
        "gjelder gjeldende versjon",
        "Gjennomgått &lt;b&gt;grundig&lt;/b&gt;",
        "Tatt i bruk av",
        "ingen ennå",
        "Videreutviklet i",
        "Veileder for innkjøp",
        "Forslag til endringer",
        "Endringshistorikk",
        "Beskriv drift i &lt;Bergen&gt;",
        "(ingen melding)",
        "allmenning checkout 0123456789abcdef0123456789abcdef",
    ] {
        assert!(
            body.contains(expected),
            "the artefact page lacks {expected:?}:\n{body}"
        );
    }
    assert!(!body.contains("<script>"));
    // Newest change first.
    assert!(body.find("Beskriv drift").unwrap() < body.find("(ingen melding)").unwrap());
    // Proposals: who offers what, escaped, and that it is still open.
    assert!(
        body.contains("Trondheim kommune") && body.contains("Åpent"),
        "{body}"
    );
    assert!(body.contains("SMS-varsling &lt;b&gt;"), "{body}");

    // The guide builds on the integration.
    let page = get(f.addr, &format!("/artefakt/{GUIDE_ID}")).await;
    assert!(page.body.contains("Bygger på"), "{}", page.body);
    assert!(
        page.body
            .contains(&format!("href=\"/artefakt/{PUBLIC_ID}\"")),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains("Ingen kurator har vurdert denne artefakten ennå."));
}

#[tokio::test]
async fn conflicts_are_marked_on_the_artefact_page_and_in_the_catalogue() {
    let f = start(Mode::Normal).await;
    let page = get(f.addr, &format!("/artefakt/{GUIDE_ID}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;
    for expected in [
        "Konflikt: </strong>1 fil ble endret samtidig",
        "<code>src/&lt;beregning&gt;.rs</code> (text)",
        "Bergen kommune",
        "&lt;b&gt;Trondheim&lt;/b&gt;",
        &format!("/artefakt/{GUIDE_ID}?at={}#filer", "e1".repeat(32)),
    ] {
        assert!(
            body.contains(expected),
            "the page lacks {expected:?}:\n{body}"
        );
    }
    assert!(!body.contains("<b>Trondheim"), "{body}");
    // The artefact without conflicts says nothing of them.
    let page = get(f.addr, &format!("/artefakt/{PUBLIC_ID}")).await;
    assert!(!page.body.contains("id=\"konflikter\""), "{}", page.body);
    // The catalogue marks the conflicted artefact only.
    let page = get(f.addr, "/").await;
    assert_eq!(
        page.body.matches("Konflikt i 1 fil").count(),
        1,
        "{}",
        page.body
    );
}

#[tokio::test]
async fn history_links_to_each_version_and_files_show_at_a_version() {
    let f = start(Mode::Normal).await;
    let page = get(f.addr, &format!("/artefakt/{PUBLIC_ID}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    // Each history entry links to the files at that change; each file to its page.
    for href in [
        format!("href=\"/artefakt/{PUBLIC_ID}?at={FIRST}#filer\""),
        format!("href=\"/artefakt/{PUBLIC_ID}?at={SECOND}#filer\""),
        format!("href=\"/artefakt/{PUBLIC_ID}/fil/src/%3Cberegning%3E.rs\""),
    ] {
        assert!(page.body.contains(&href), "no {href}:\n{}", page.body);
    }
    assert!(page.body.contains("i gjeldende versjon"), "{}", page.body);

    // The tree at the first change: only what was there then, and files linked at it.
    let page = get(f.addr, &format!("/artefakt/{PUBLIC_ID}?at={FIRST}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("1 fil i versjon ababababab"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("beregning"), "{}", page.body);
    assert!(
        page.body
            .contains(&format!("/artefakt/{PUBLIC_ID}/fil/README.md?at={FIRST}")),
        "{}",
        page.body
    );
    assert!(page.body.contains("--at ababababab"), "{}", page.body);

    // One file, then and now, escaped.
    let then = get(
        f.addr,
        &format!("/artefakt/{PUBLIC_ID}/fil/README.md?at={FIRST}"),
    )
    .await;
    assert_eq!(then.status, 200, "{}", then.body);
    assert!(
        then.body.contains("Forste &lt;versjon&gt;"),
        "{}",
        then.body
    );
    assert!(!then.body.contains("<versjon>"), "{}", then.body);
    let now = get(f.addr, &format!("/artefakt/{PUBLIC_ID}/fil/README.md")).await;
    assert_eq!(now.status, 200, "{}", now.body);
    assert!(now.body.contains("Andre versjon"), "{}", now.body);
    let nested = get(
        f.addr,
        &format!("/artefakt/{PUBLIC_ID}/fil/src/%3Cberegning%3E.rs"),
    )
    .await;
    assert_eq!(nested.status, 200, "{}", nested.body);
    assert!(nested.body.contains("fn main() {}"), "{}", nested.body);
    let binary = get(f.addr, &format!("/artefakt/{PUBLIC_ID}/fil/bilde.png")).await;
    assert!(binary.body.contains("Binærfil"), "{}", binary.body);

    // Not there at that version, an unknown change, a prefix, garbage, a restricted artefact:
    // the one 404.
    let unknown = get(f.addr, &format!("/artefakt/{UNKNOWN_ID}")).await;
    for path in [
        format!("/artefakt/{PUBLIC_ID}/fil/bilde.png?at={FIRST}"),
        format!("/artefakt/{PUBLIC_ID}/fil/finnes-ikke.txt"),
        format!("/artefakt/{PUBLIC_ID}?at={}", "ef".repeat(32)),
        format!("/artefakt/{PUBLIC_ID}?at=abab"),
        format!("/artefakt/{PUBLIC_ID}?at=%3Cscript%3E"),
        format!("/artefakt/{PUBLIC_ID}/fil/README.md?at=ikke-en-hash"),
        format!("/artefakt/{SECRET_ID}?at={FIRST}"),
        format!("/artefakt/{SECRET_ID}/fil/README.md"),
        format!("/artefakt/{SECRET_ID}/fil/README.md?at={FIRST}"),
    ] {
        let page = get(f.addr, &path).await;
        assert_eq!(page.status, 404, "{path}: {}", page.body);
        assert_eq!(page.body, unknown.body, "{path}");
    }
    // The portal only ever read, and never asked for a restricted artefact's files.
    let seen = f.seen.lock().unwrap();
    assert!(seen.iter().all(read_only), "{seen:?}");
    assert!(
        !seen.iter().any(|r| matches!(r,
            ControlRequest::Files { id, .. } | ControlRequest::Version { id, .. } if id == SECRET_ID)),
        "{seen:?}"
    );
}

#[tokio::test]
async fn reference_architecture_who_does_what_and_initiatives() {
    let f = start(Mode::Normal).await;
    let page = get(f.addr, "/referansearkitektur").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("<h2 id=\"type-integrasjon\">Integrasjon</h2>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Tema: Barnehage"), "{}", page.body);
    assert!(page.body.contains("Godkjent av KS"), "{}", page.body);
    assert!(
        !page.body.contains("Veileder for innkjøp"),
        "not endorsed: not in the architecture"
    );
    assert!(
        page.body
            .contains("aria-current=\"page\">Referansearkitektur"),
        "{}",
        page.body
    );

    let page = get(f.addr, "/hvem").await;
    assert_eq!(page.status, 200);
    for expected in [
        "Hvem gjør hva",
        "Bergen kommune",
        "Trondheim kommune",
        "Deler (1)",
        "Har kvalitetssikret (1)",
        "Medlem av nettverket",
    ] {
        assert!(
            page.body.contains(expected),
            "/hvem lacks {expected:?}:\n{}",
            page.body
        );
    }

    assert!(
        page.body.contains("Kaptein for (1)") && page.body.contains("Deltar i (1)"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(&format!("href=\"/initiativ#initiativ-{INITIATIVE_ID}\"")),
        "{}",
        page.body
    );

    let page = get(f.addr, "/initiativ").await;
    assert_eq!(page.status, 200);
    for expected in [
        "Felles barnehageopptak &lt;b&gt;2027&lt;/b&gt;",
        "Pågår",
        "Kaptein: ",
        "Trondheim kommune",
        "Bergen kommune",
        "Ett opptak for hele regionen.",
        "og 2 artefakter som ikke er tilgjengelige her",
        &format!("href=\"/artefakt/{PUBLIC_ID}\""),
        &format!("id=\"initiativ-{INITIATIVE_ID}\""),
    ] {
        assert!(
            page.body.contains(expected),
            "/initiativ lacks {expected:?}:\n{}",
            page.body
        );
    }
    assert!(!page.body.contains(UNKNOWN_ID), "{}", page.body);
    assert_no_secret(&page, "/initiativ");
    // With none: an honest empty state.
    let empty = views::initiatives(&[]).into_string();
    assert!(
        empty.contains("Ingen initiativ er registrert ennå"),
        "{empty}"
    );
}

#[tokio::test]
async fn unknown_paths_answer_404() {
    let f = start(Mode::Normal).await;
    for path in [
        "/finnes-ikke",
        "/artefakt/",
        "/artefakt/ikke-hex",
        "/favicon.ico",
    ] {
        let page = get(f.addr, path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(page.body.contains("<html lang=\"nb\">"), "{path}");
        assert!(
            page.body.contains("Fant ikke siden"),
            "{path}: {}",
            page.body
        );
    }
}

#[tokio::test]
async fn node_errors_give_503_never_a_panic() {
    for mode in [Mode::Failing, Mode::Dropping] {
        let f = start(mode).await;
        for path in [
            "/".to_string(),
            format!("/artefakt/{PUBLIC_ID}"),
            "/referansearkitektur".to_string(),
            "/hvem".to_string(),
            "/initiativ".to_string(),
        ] {
            let page = get(f.addr, &path).await;
            assert_eq!(page.status, 503, "{path}");
            assert!(page.body.contains("Midlertidig utilgjengelig"), "{path}");
            assert!(!page.body.contains("on fire"), "no internals shown");
        }
    }
    // A node that has stopped taking requests.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel(1);
    drop(rx);
    tokio::spawn(serve(listener, tx));
    let page = get(addr, "/hvem").await;
    assert_eq!(page.status, 503);
}

#[tokio::test]
async fn a_large_catalogue_is_paged_and_quick() {
    let f = start(Mode::Many).await;
    let mut slowest = Duration::ZERO;
    for path in [
        "/",
        "/?side=3",
        "/?kind=guide&side=2",
        "/referansearkitektur",
        "/hvem",
    ] {
        let started = std::time::Instant::now();
        let page = get(f.addr, path).await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(page.status, 200, "{path}");
        assert_no_secret(&page, path);
    }
    let page = get(f.addr, "/").await;
    assert!(
        page.body.contains("10\u{a0}002 artefakter, viser 1–50."),
        "{}",
        page.body
    );
    assert!(page.body.contains("Side 1 av 201"), "{}", page.body);
    assert!(
        page.body.contains("href=\"/?side=2\" rel=\"next\""),
        "{}",
        page.body
    );
    assert_eq!(page.body.matches("<li><h2>").count(), 50);
    let page = get(f.addr, "/?kind=guide&side=2").await;
    assert!(page.body.contains("viser 51–100"), "{}", page.body);
    assert!(
        page.body.contains("href=\"/?kind=guide\" rel=\"prev\""),
        "{}",
        page.body
    );
    // Past the last page: the last page.
    let page = get(f.addr, "/?side=9999").await;
    assert!(page.body.contains("Side 201 av 201"), "{}", page.body);
    eprintln!("slowest page over 10,002 artefacts (debug build): {slowest:?}");
    assert!(slowest < Duration::from_secs(5), "{slowest:?}");
}
