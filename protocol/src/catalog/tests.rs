//! The catalogue entry read from documents and trust statements, and the filter.

use super::*;
use crate::artefact::{FileEdit, Kind, Metadata, NewFile};
use crate::blob::BlobHash;
use crate::engine::FileData;
use crate::identity::{NodeKey, OrgKind};
use crate::signed::signed_actor;
use crate::store::MemStore;
use crate::testing::orgs::{bergen, ks, oslo, trondheim};
use crate::trust::{Network, SignedStatement, Statement};
use crate::wire::heads_to_wire;
use automerge::transaction::Transactable;

const T0: i64 = 1_700_000_000;

fn ks_key() -> NodeKey {
    NodeKey::from_secret([1; 32])
}
fn bergen_key() -> NodeKey {
    NodeKey::from_secret([2; 32])
}
fn trondheim_key() -> NodeKey {
    NodeKey::from_secret([3; 32])
}

fn meta() -> Metadata {
    Metadata {
        title: "Foreldrebetaling i barnehage".into(),
        kind: "integration".into(),
        description: "Automatisering av redusert foreldrebetaling".into(),
        tags: vec!["Barnehage".into(), "økonomi".into()],
        owner: bergen().to_string(),
        owner_name: "Bergen (skrevet ved publisering)".into(),
        created: T0,
    }
}

fn publish() -> Artefact {
    let content = b"# Foreldrebetaling\n".to_vec();
    let files = [NewFile {
        path: "README.md".into(),
        blob: BlobHash::of(&content),
        size: content.len() as u64,
        executable: false,
    }];
    let actor = signed_actor(&bergen_key().public(), [1; 8]);
    Artefact::genesis(&meta(), &files, actor, T0, "publish", false)
        .expect("genesis")
        .0
}

fn edit(artefact: &mut Artefact, path: &str, time: i64) {
    let base = artefact.heads();
    let edits = [FileEdit::Write {
        path: path.into(),
        content: b"nytt innhold\n".to_vec(),
        executable: false,
    }];
    let actor = signed_actor(&bergen_key().public(), [2; 8]);
    artefact
        .edit(&base, &edits, actor, time, "endring", |_| None)
        .expect("edit");
}

/// Writes metadata keys that `Metadata` does not know (yet).
fn put_meta(artefact: &mut Artefact, key: &str, value: &str) {
    let meta = match artefact.doc.get(ROOT, "meta") {
        Ok(Some((Value::Object(ObjType::Map), meta))) => meta,
        other => panic!("no meta map: {other:?}"),
    };
    let mut tx = artefact.doc.transaction();
    tx.put(&meta, key, value).expect("put");
    tx.commit();
}

/// KS as root; Bergen and Trondheim admitted by KS under their own names.
fn world() -> Trust {
    let network = Network::create("test", ks(), "KS", &ks_key(), Vec::new(), T0);
    let mut trust = Trust::new(network);
    for (org, name, key) in [
        (bergen(), "Bergen kommune", bergen_key()),
        (trondheim(), "Trondheim kommune", trondheim_key()),
    ] {
        let admit = SignedStatement::sign(
            Statement::Admit {
                org,
                name: name.into(),
                kind: OrgKind::Kommune,
                org_key: key.public(),
            },
            &ks_key(),
            T0,
        );
        trust.insert(admit, T0).expect("admission");
    }
    trust
}

fn endorse(trust: &mut Trust, artefact: &Artefact, status: EndorsementStatus, seq: u64) {
    let statement = SignedStatement::sign(
        Statement::Endorse {
            artefact: artefact.id,
            heads: heads_to_wire(&artefact.heads()),
            status,
            note: "Referansearkitektur".into(),
            seq,
        },
        &ks_key(),
        T0 + seq as i64,
    );
    trust
        .insert(statement, T0 + seq as i64)
        .expect("endorsement");
}

fn set_access(
    trust: &mut Trust,
    artefact: &Artefact,
    maintainers: &[OrgNumber],
    readers: Option<&[OrgNumber]>,
) {
    let statement = SignedStatement::sign(
        Statement::Access {
            artefact: artefact.id,
            owner: bergen(),
            maintainers: maintainers.to_vec(),
            readers: readers.map(|r| r.to_vec()),
            heads: heads_to_wire(&artefact.heads()),
            seq: 1,
        },
        &bergen_key(),
        T0 + 10,
    );
    trust.insert(statement, T0 + 10).expect("access");
}

#[test]
fn entry_reads_the_metadata_and_file_statistics() {
    let artefact = publish();
    let entry = CatalogEntry::build(&artefact, None);
    assert_eq!(entry.id, artefact.id);
    assert_eq!(entry.title, "Foreldrebetaling i barnehage");
    assert_eq!(entry.kind, "integration");
    assert_eq!(
        entry.description,
        "Automatisering av redusert foreldrebetaling"
    );
    assert_eq!(entry.tags, vec!["Barnehage", "økonomi"]);
    assert_eq!(entry.owner, Some(bergen()));
    assert_eq!(entry.created, T0);
    assert_eq!(entry.updated, T0);
    assert_eq!(entry.head_count, 1);
    assert_eq!(entry.file_count, 1);
    assert_eq!(entry.size, "# Foreldrebetaling\n".len() as u64);
    assert!(entry.adopters.is_empty());
}

#[test]
fn entry_outside_a_network_is_public_unendorsed_and_named_as_published() {
    let entry = CatalogEntry::build(&publish(), None);
    assert_eq!(entry.visibility, Visibility::Public);
    assert!(entry.endorsements.is_empty());
    assert!(entry.maintainers.is_empty());
    assert_eq!(
        entry.owner_name.as_deref(),
        Some("Bergen (skrevet ved publisering)")
    );
    assert!(entry.has_status(Status::Unendorsed));
    assert!(!entry.has_status(Status::Endorsed));
}

#[test]
fn los_theme_and_lineage_are_read_from_metadata_when_present() {
    let mut artefact = publish();
    let entry = CatalogEntry::build(&artefact, None);
    assert_eq!(entry.los_theme, None);
    assert_eq!(entry.based_on, None);

    let origin = ArtefactId([9; 16]);
    put_meta(&mut artefact, META_LOS_THEME, "Barnehage");
    put_meta(&mut artefact, META_BASED_ON, &origin.to_hex());
    let entry = CatalogEntry::build(&artefact, None);
    assert_eq!(entry.los_theme.as_deref(), Some("Barnehage"));
    assert_eq!(entry.based_on, Some(origin));
}

#[test]
fn unreadable_lineage_and_blank_theme_are_left_empty() {
    let mut artefact = publish();
    put_meta(&mut artefact, META_LOS_THEME, "   ");
    put_meta(&mut artefact, META_BASED_ON, "not an id");
    let entry = CatalogEntry::build(&artefact, None);
    assert_eq!(entry.los_theme, None);
    assert_eq!(entry.based_on, None);
}

#[test]
fn owner_name_comes_from_the_admission_in_a_network() {
    let entry = CatalogEntry::build(&publish(), Some(&world()));
    assert_eq!(entry.owner_name.as_deref(), Some("Bergen kommune"));
    assert_eq!(entry.visibility, Visibility::Public);
}

#[test]
fn endorsement_of_the_current_version_is_current() {
    let artefact = publish();
    let mut trust = world();
    endorse(&mut trust, &artefact, EndorsementStatus::Approved, 1);
    let entry = CatalogEntry::build(&artefact, Some(&trust));
    assert_eq!(entry.endorsements.len(), 1);
    let endorsement = &entry.endorsements[0];
    assert_eq!(endorsement.curator, ks());
    assert_eq!(endorsement.curator_name, "KS");
    assert_eq!(endorsement.status, EndorsementStatus::Approved);
    assert_eq!(endorsement.note, "Referansearkitektur");
    assert!(endorsement.current);
    assert_eq!(endorsement.changes_since, 0);
    assert_eq!(endorsement.heads, vec![hex::encode(artefact.heads()[0].0)]);
}

#[test]
fn endorsement_of_an_older_version_is_not_current_but_still_approves() {
    let mut artefact = publish();
    let mut trust = world();
    endorse(&mut trust, &artefact, EndorsementStatus::Approved, 1);
    edit(&mut artefact, "ny.md", T0 + 100);
    let entry = CatalogEntry::build(&artefact, Some(&trust));
    let endorsement = &entry.endorsements[0];
    assert!(!endorsement.current);
    assert_eq!(endorsement.changes_since, 1);
    assert_eq!(entry.updated, T0 + 100);
    assert_eq!(entry.file_count, 2);
    assert!(entry.has_status(Status::Approved));
}

#[test]
fn later_verdict_of_the_same_curator_replaces_the_earlier() {
    let artefact = publish();
    let mut trust = world();
    endorse(&mut trust, &artefact, EndorsementStatus::Approved, 1);
    endorse(&mut trust, &artefact, EndorsementStatus::Withdrawn, 2);
    let entry = CatalogEntry::build(&artefact, Some(&trust));
    assert_eq!(entry.endorsements.len(), 1);
    assert!(entry.has_status(Status::Deprecated));
    assert!(entry.has_status(Status::Unendorsed));
    assert!(!entry.has_status(Status::Approved));
    assert!(!entry.has_status(Status::Endorsed));
}

#[test]
fn restricted_artefact_names_its_readers_and_maintainers() {
    let artefact = publish();
    let mut trust = world();
    set_access(&mut trust, &artefact, &[trondheim()], Some(&[oslo()]));
    let entry = CatalogEntry::build(&artefact, Some(&trust));
    assert_eq!(
        entry.maintainers,
        vec![OrgRef {
            org: trondheim(),
            name: Some("Trondheim kommune".into())
        }]
    );
    // Oslo is not admitted in this world: listed by number only.
    assert_eq!(
        entry.visibility,
        Visibility::Restricted {
            readers: vec![OrgRef {
                org: oslo(),
                name: None
            }]
        }
    );
    assert!(entry.involves(trondheim()));
    assert!(entry.involves(bergen()));
    assert!(!entry.involves(oslo()));
}

#[test]
fn engine_builds_the_same_entry_as_the_document_does() {
    let mut engine: Engine<MemStore, u32> =
        Engine::new(NodeKey::from_secret([5; 32]), MemStore::new());
    let files = [FileData {
        path: "README.md".into(),
        content: b"# Foreldrebetaling\n".to_vec(),
        executable: false,
    }];
    let id = engine
        .publish(&meta(), &files, None, T0, [3; 8])
        .expect("publish");
    let from_engine = engine.catalog_entry(&id).expect("entry");
    let artefact = engine.artefact(&id).expect("artefact").clone();
    assert_eq!(from_engine, CatalogEntry::build(&artefact, None));
    assert_eq!(from_engine.title, "Foreldrebetaling i barnehage");
}

#[test]
fn entry_round_trips_through_serde() {
    let mut artefact = publish();
    put_meta(&mut artefact, META_BASED_ON, &ArtefactId([9; 16]).to_hex());
    let mut trust = world();
    endorse(&mut trust, &artefact, EndorsementStatus::Approved, 1);
    set_access(&mut trust, &artefact, &[trondheim()], Some(&[oslo()]));
    let entry = CatalogEntry::build(&artefact, Some(&trust));
    let encoded = postcard::to_stdvec(&entry).expect("encode");
    let back: CatalogEntry = postcard::from_bytes(&encoded).expect("decode");
    assert_eq!(back, entry);
}

// ----- filter ---------------------------------------------------------------------------

fn entry(kind: &str, owner: OrgNumber, tags: &[&str]) -> CatalogEntry {
    CatalogEntry {
        id: ArtefactId([1; 16]),
        title: "Tittel".into(),
        kind: kind.into(),
        description: String::new(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        owner: Some(owner),
        owner_name: None,
        maintainers: Vec::new(),
        endorsements: Vec::new(),
        adopters: Vec::new(),
        based_on: None,
        based_on_version: Vec::new(),
        los_theme: None,
        visibility: Visibility::Public,
        created: T0,
        updated: T0,
        head_count: 1,
        file_count: 1,
        size: 1,
        conflicts: 0,
    }
}

fn with_verdict(mut entry: CatalogEntry, status: EndorsementStatus) -> CatalogEntry {
    entry.endorsements.push(CatalogEndorsement {
        curator: ks(),
        curator_name: "KS".into(),
        status,
        heads: vec!["00".repeat(32)],
        current: false,
        changes_since: 3,
        note: String::new(),
        time: T0,
    });
    entry
}

#[test]
fn empty_filter_matches_everything() {
    assert!(CatalogFilter::default().matches(&entry("code", bergen(), &[])));
    assert!(CatalogFilter::default().matches(&entry("ukjent-ny-type", oslo(), &["x"])));
}

#[test]
fn filter_by_kind() {
    let filter = CatalogFilter {
        kind: Some(Kind::Dpia),
        ..CatalogFilter::default()
    };
    assert!(filter.matches(&entry("dpia", bergen(), &[])));
    assert!(filter.matches(&entry("DPIA", bergen(), &[])));
    assert!(!filter.matches(&entry("ros", bergen(), &[])));
}

#[test]
fn filter_by_org_matches_owner_and_maintainers() {
    let filter = CatalogFilter {
        org: Some(trondheim()),
        ..CatalogFilter::default()
    };
    let mut maintained = entry("code", bergen(), &[]);
    assert!(!filter.matches(&maintained));
    maintained.maintainers.push(OrgRef {
        org: trondheim(),
        name: None,
    });
    assert!(filter.matches(&maintained));
    assert!(filter.matches(&entry("code", trondheim(), &[])));
}

#[test]
fn filter_by_tag_ignores_case_and_spaces() {
    let filter = CatalogFilter {
        tag: Some(" barnehage ".into()),
        ..CatalogFilter::default()
    };
    assert!(filter.matches(&entry("code", bergen(), &["Barnehage"])));
    assert!(filter.matches(&entry("code", bergen(), &["skole", "BARNEHAGE"])));
    assert!(!filter.matches(&entry("code", bergen(), &["skole"])));
    assert!(!filter.matches(&entry("code", bergen(), &[])));
    let non_ascii = CatalogFilter {
        tag: Some("ØKONOMI".into()),
        ..CatalogFilter::default()
    };
    assert!(non_ascii.matches(&entry("code", bergen(), &["økonomi"])));
}

#[test]
fn filter_by_status_approved_counts_any_version() {
    let approved = CatalogFilter {
        status: Some(Status::Approved),
        ..CatalogFilter::default()
    };
    let endorsed = CatalogFilter {
        status: Some(Status::Endorsed),
        ..CatalogFilter::default()
    };
    let unendorsed = CatalogFilter {
        status: Some(Status::Unendorsed),
        ..CatalogFilter::default()
    };
    let plain = entry("code", bergen(), &[]);
    let reviewed = with_verdict(plain.clone(), EndorsementStatus::Reviewed);
    let approved_old = with_verdict(plain.clone(), EndorsementStatus::Approved);
    assert!(!approved.matches(&plain));
    assert!(!approved.matches(&reviewed));
    assert!(approved.matches(&approved_old));
    assert!(endorsed.matches(&reviewed));
    assert!(endorsed.matches(&approved_old));
    assert!(unendorsed.matches(&plain));
    assert!(!unendorsed.matches(&reviewed));
}

#[test]
fn filters_combine_with_and() {
    let filter = CatalogFilter {
        kind: Some(Kind::Integration),
        org: Some(bergen()),
        status: Some(Status::Approved),
        tag: Some("barnehage".into()),
    };
    let all = with_verdict(
        entry("integration", bergen(), &["barnehage"]),
        EndorsementStatus::Approved,
    );
    assert!(filter.matches(&all));
    let mut wrong_kind = all.clone();
    wrong_kind.kind = "code".into();
    assert!(!filter.matches(&wrong_kind));
    let mut wrong_org = all.clone();
    wrong_org.owner = Some(oslo());
    assert!(!filter.matches(&wrong_org));
    let mut not_approved = all.clone();
    not_approved.endorsements.clear();
    assert!(!filter.matches(&not_approved));
    let mut wrong_tag = all.clone();
    wrong_tag.tags = vec!["skole".into()];
    assert!(!filter.matches(&wrong_tag));
}

#[test]
fn status_parses_from_user_input() {
    assert_eq!(" Approved ".parse::<Status>(), Ok(Status::Approved));
    for status in Status::ALL {
        assert_eq!(status.as_str().parse::<Status>(), Ok(status));
    }
    assert_eq!(
        "godkjent".parse::<Status>(),
        Err(CatalogError::UnknownStatus("godkjent".into()))
    );
}
