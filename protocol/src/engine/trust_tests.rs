//! Trust end to end between in-memory engines: admission, write permission, access, node
//! revocation, restricted artefacts and endorsements.

use super::*;
use crate::artefact::{FileEdit, Metadata};
use crate::store::MemStore;
use crate::testing::SimNet;
use crate::trust::intake::StatementVerdict;
use crate::trust::{EndorsementStatus, InitiativeId, InitiativeStatus, Network, Scope, Statement};
use crate::wire::Response;

const KS: usize = 0;
const BERGEN: usize = 1;
const TRONDHEIM: usize = 2;
const OSLO: usize = 3;

struct Org {
    number: OrgNumber,
    name: &'static str,
    kind: OrgKind,
    key: NodeKey,
}

fn orgs() -> Vec<Org> {
    let org = |n: &str, name, kind, seed| Org {
        number: n.parse().unwrap(),
        name,
        kind,
        key: NodeKey::from_secret([seed; 32]),
    };
    vec![
        org("971032146", "KS", OrgKind::Ks, 100),
        org("964338531", "Bergen kommune", OrgKind::Kommune, 101),
        org("942110464", "Trondheim kommune", OrgKind::Kommune, 102),
        org("974760673", "Oslo kommune", OrgKind::Kommune, 103),
    ]
}

/// Four nodes in a star around KS, all in one network; `admit` lists the orgs KS admits.
fn network(seed: u64, admit: &[usize]) -> (SimNet, Vec<Org>) {
    let mut net = SimNet::new(4, seed);
    let orgs = orgs();
    let network = Network::create(
        "Test",
        orgs[KS].number,
        "KS",
        &orgs[KS].key,
        vec![],
        net.now,
    );
    for (i, org) in orgs.iter().enumerate() {
        net.nodes[i]
            .join_network(
                network.clone(),
                Some(org.key.clone()),
                (org.number, org.name.into(), org.kind),
                net.now,
            )
            .unwrap();
    }
    for n in 1..4 {
        net.connect(KS, n);
    }
    net.run(100_000);
    for &i in admit {
        let now = net.now;
        net.nodes[KS].admit(orgs[i].number, None, now).unwrap();
    }
    net.run(100_000);
    (net, orgs)
}

fn meta(owner: &Org, title: &str) -> Metadata {
    Metadata {
        title: title.into(),
        kind: "dpia".into(),
        description: String::new(),
        tags: vec![],
        owner: owner.number.to_string(),
        owner_name: owner.name.into(),
        created: 0,
    }
}

fn files() -> Vec<FileData> {
    vec![
        FileData {
            path: "dpia.md".into(),
            content: b"# DPIA\n\nRisiko: lav\n".to_vec(),
            executable: false,
        },
        FileData {
            path: "vedlegg.bin".into(),
            content: vec![0xde, 0xad, 0xbe, 0xef, 0x00, 0xff],
            executable: false,
        },
    ]
}

fn publish(
    net: &mut SimNet,
    orgs: &[Org],
    node: usize,
    readers: Option<Vec<OrgNumber>>,
) -> ArtefactId {
    let nonce = net.nonce();
    let now = net.now;
    let id = net.nodes[node]
        .publish(
            &meta(&orgs[node], "Hemmelig DPIA"),
            &files(),
            readers,
            now,
            nonce,
        )
        .unwrap();
    net.run(100_000);
    id
}

fn edit(
    net: &mut SimNet,
    node: usize,
    id: &ArtefactId,
    text: &str,
) -> Result<Option<ChangeHash>, EngineError> {
    let (base, _) = net.nodes[node].files(id, None)?;
    let nonce = net.nonce();
    let now = net.now;
    let edit = FileEdit::Write {
        path: "dpia.md".into(),
        content: text.as_bytes().to_vec(),
        executable: false,
    };
    net.nodes[node].commit(id, &base, &[edit], "edit", now, nonce)
}

fn has(net: &mut SimNet, node: usize, id: &ArtefactId) -> bool {
    net.nodes[node].list().unwrap().iter().any(|r| r.id == *id)
}

#[test]
fn an_unadmitted_organisation_cannot_publish_and_an_admitted_one_can() {
    let (mut net, orgs) = network(1, &[TRONDHEIM]);
    let nonce = net.nonce();
    let refused = net.nodes[BERGEN].publish(&meta(&orgs[BERGEN], "x"), &files(), None, 1, nonce);
    assert!(
        matches!(refused, Err(EngineError::NotPermitted(_))),
        "{refused:?}"
    );
    let now = net.now;
    net.nodes[KS].admit(orgs[BERGEN].number, None, now).unwrap();
    net.run(100_000);
    assert!(
        net.nodes[TRONDHEIM]
            .trust()
            .unwrap()
            .org(orgs[BERGEN].number)
            .unwrap()
            .admitted
    );
    let id = publish(&mut net, &orgs, BERGEN, None);
    for n in [KS, TRONDHEIM, OSLO] {
        assert!(
            has(&mut net, n, &id),
            "node {n} should have the public artefact"
        );
    }
}

#[test]
fn a_wrong_fingerprint_stops_an_admission() {
    let (mut net, orgs) = network(2, &[]);
    let now = net.now;
    let wrong = net.nodes[KS].admit(orgs[BERGEN].number, Some("0000000000"), now);
    assert!(
        matches!(wrong, Err(EngineError::NotPermitted(_))),
        "{wrong:?}"
    );
    let fp = net.nodes[KS]
        .trust()
        .unwrap()
        .org(orgs[BERGEN].number)
        .unwrap()
        .fingerprint;
    net.nodes[KS]
        .admit(orgs[BERGEN].number, Some(&fp[..8]), now)
        .unwrap();
}

#[test]
fn a_non_maintainer_change_is_refused_everywhere_until_granted() {
    let (mut net, orgs) = network(3, &[BERGEN, TRONDHEIM, OSLO]);
    let id = publish(&mut net, &orgs, BERGEN, None);
    // Trondheim's own node refuses to make a change nobody would accept.
    let local = edit(&mut net, TRONDHEIM, &id, "# DPIA\n\nRisiko: middels\n");
    assert!(
        matches!(&local, Err(EngineError::NotPermitted(m)) if m.contains("stay in your checkout")),
        "{local:?}"
    );

    // A node that ignores the rule (simulated by writing the change directly) is refused by peers.
    let (base, _) = net.nodes[TRONDHEIM].files(&id, None).unwrap();
    let trondheim_key = net.nodes[TRONDHEIM].key.clone();
    let mut doc = net.nodes[TRONDHEIM].artefact(&id).unwrap().clone();
    let actor = signed::signed_actor(&trondheim_key.public(), [7; 8]);
    let outcome = doc
        .edit(
            &base,
            &[FileEdit::Write {
                path: "dpia.md".into(),
                content: b"# DPIA\n\nRisiko: ingen\n".to_vec(),
                executable: false,
            }],
            actor,
            5,
            "rogue",
            |_| Some("# DPIA\n\nRisiko: lav\n".into()),
        )
        .unwrap();
    let change = outcome.change.unwrap();
    let mut wire_changes: Vec<WireChange> = outcome
        .origins
        .iter()
        .map(|(c, path, blob)| WireChange {
            bytes: c.raw_bytes().to_vec(),
            proof: Proof::Origin {
                path: path.clone(),
                blob: *blob,
            },
        })
        .collect();
    wire_changes.push(WireChange {
        bytes: change.raw_bytes().to_vec(),
        proof: signed::sign_change(&trondheim_key, &change.hash()),
    });
    let pull = Request::Pull {
        id,
        heads: vec![],
        have: vec![],
        need: vec![],
    };
    let response = Response::Changes {
        id,
        heads: vec![Head::from(change.hash())],
        changes: wire_changes.clone(),
        // As a real node sends it: the origin's blob travels with it.
        origin_blobs: vec![WireBlob(b"# DPIA\n\nRisiko: lav\n".to_vec())],
    };
    net.nodes[KS].handle_response(TRONDHEIM, &pull, &response.encode());
    assert!(net.nodes[KS]
        .artefact(&id)
        .unwrap()
        .doc
        .get_change_by_hash(&change.hash())
        .is_none());
    net.run(100_000);
    assert!(
        net.events.iter().any(|(n, e)| *n == KS
            && matches!(e, Event::Rejected { reason, .. } if reason.contains("942110464"))),
        "KS logs the refusal naming Trondheim's organisation"
    );
    assert!(net.nodes[KS]
        .artefact(&id)
        .unwrap()
        .doc
        .get_change_by_hash(&change.hash())
        .is_none());

    // The owner grants Trondheim maintainer rights: now its edits are accepted everywhere.
    let now = net.now;
    net.nodes[BERGEN]
        .grant(&id, orgs[TRONDHEIM].number, Role::Maintainer, now)
        .unwrap();
    net.run(100_000);
    let accepted = edit(&mut net, TRONDHEIM, &id, "# DPIA\n\nRisiko: middels\n")
        .unwrap()
        .unwrap();
    net.run(100_000);
    for n in [KS, BERGEN, OSLO] {
        assert!(
            net.nodes[n]
                .artefact(&id)
                .unwrap()
                .doc
                .get_change_by_hash(&accepted)
                .is_some(),
            "node {n}"
        );
    }

    // Revoked again: a change made afterwards is refused; the earlier one stays.
    let now = net.now;
    net.nodes[BERGEN]
        .revoke_access(&id, orgs[TRONDHEIM].number, now)
        .unwrap();
    net.run(100_000);
    assert!(matches!(
        edit(&mut net, TRONDHEIM, &id, "x"),
        Err(EngineError::NotPermitted(_))
    ));
    assert!(net.nodes[OSLO]
        .artefact(&id)
        .unwrap()
        .doc
        .get_change_by_hash(&accepted)
        .is_some());
}

#[test]
fn a_revoked_node_key_can_no_longer_write() {
    let (mut net, orgs) = network(4, &[BERGEN]);
    let id = publish(&mut net, &orgs, BERGEN, None);
    // Bergen revokes its own node key (as for a lost laptop); the org key stays.
    let node_key = net.nodes[BERGEN].public_key();
    let now = net.now;
    net.nodes[BERGEN].revoke_node(node_key, now).unwrap();
    net.run(100_000);
    assert_eq!(net.nodes[KS].trust().unwrap().org_of_node(&node_key), None);
    assert!(matches!(
        edit(&mut net, BERGEN, &id, "y"),
        Err(EngineError::NotPermitted(_))
    ));
}

#[test]
fn a_restricted_artefact_never_reaches_an_unlisted_organisation() {
    let (mut net, orgs) = network(5, &[BERGEN, TRONDHEIM, OSLO]);
    // Restricted content travels only between nodes that may read it, so Bergen needs direct
    // links; Oslo is linked too, and tries everything.
    net.connect(BERGEN, TRONDHEIM);
    net.connect(BERGEN, OSLO);
    net.run(100_000);
    let id = publish(&mut net, &orgs, BERGEN, Some(vec![orgs[TRONDHEIM].number]));
    assert!(has(&mut net, TRONDHEIM, &id), "the listed reader gets it");
    assert!(!has(&mut net, OSLO, &id), "the unlisted org does not");
    assert!(
        !has(&mut net, KS, &id),
        "not even the curator, unless listed"
    );
    // Oslo asks by id on every protocol and gets nothing.
    let pull = Request::Pull {
        id,
        heads: vec![],
        have: vec![],
        need: vec![],
    };
    let answer = net.nodes[BERGEN].handle_request(OSLO, &pull.encode());
    assert!(matches!(
        Response::decode(&answer),
        Ok(Response::NotFound { .. })
    ));
    let blob = BlobHash::of(&files()[1].content);
    let answer = net.nodes[BERGEN].handle_request(
        OSLO,
        &Request::Blobs {
            id,
            hashes: vec![blob],
        }
        .encode(),
    );
    assert!(
        matches!(Response::decode(&answer), Ok(Response::Blobs { blobs, .. }) if blobs.is_empty())
    );
    let answer = net.nodes[BERGEN].handle_request(OSLO, &Request::Inventory.encode());
    assert!(
        matches!(Response::decode(&answer), Ok(Response::Inventory { entries }) if entries.iter().all(|e| e.id != id))
    );
    let answer =
        net.nodes[BERGEN].handle_request(OSLO, &Request::Statements { have: vec![] }.encode());
    let Ok(Response::Statements { statements }) = Response::decode(&answer) else {
        panic!("statements")
    };
    assert!(statements.iter().all(|s| !matches!(SignedStatement::decode(&s.0).unwrap().body, Statement::Access { artefact, .. } if artefact == id)));
    // Nothing of it is in Oslo's store: no document, no blob, no statement naming it.
    assert!(net.nodes[OSLO]
        .store()
        .load_document(&id)
        .unwrap()
        .is_none());
    assert!(!net.nodes[OSLO].store().has_blob(&blob).unwrap());
    // Granting Oslo read access brings it there.
    let now = net.now;
    net.nodes[BERGEN]
        .grant(&id, orgs[OSLO].number, Role::Reader, now)
        .unwrap();
    net.run(100_000);
    assert!(has(&mut net, OSLO, &id));
    let row = net.nodes[OSLO]
        .list()
        .unwrap()
        .into_iter()
        .find(|r| r.id == id)
        .unwrap();
    assert!(
        row.complete,
        "blobs of a restricted artefact reach a listed reader"
    );
}

#[test]
fn endorsements_by_curators_are_seen_everywhere_and_forgeries_and_replays_are_refused() {
    let (mut net, orgs) = network(6, &[BERGEN, TRONDHEIM]);
    let id = publish(&mut net, &orgs, BERGEN, None);
    let now = net.now;
    net.nodes[KS]
        .endorse(
            &id,
            EndorsementStatus::Approved,
            "Godkjent som referanse",
            now,
        )
        .unwrap();
    net.run(100_000);
    for n in [BERGEN, TRONDHEIM, OSLO] {
        let states = net.nodes[n].endorsements(&id).unwrap();
        assert_eq!(states.len(), 1, "node {n}");
        assert!(states[0].current);
        assert_eq!(states[0].endorsement.status, EndorsementStatus::Approved);
    }
    // A later change: the endorsement is no longer current, one change came after it.
    net.nodes[BERGEN]
        .grant(&id, orgs[BERGEN].number, Role::Maintainer, now)
        .ok();
    edit(&mut net, BERGEN, &id, "# DPIA\n\nRisiko: lav (revidert)\n").unwrap();
    net.run(100_000);
    let states = net.nodes[TRONDHEIM].endorsements(&id).unwrap();
    assert!(!states[0].current);
    assert!(states[0].changes_since >= 1);
    // The endorsed version is still there to check out.
    let endorsed = net.nodes[TRONDHEIM].endorsed_heads(&id).unwrap();
    assert_eq!(
        crate::wire::heads_to_wire(&endorsed),
        states[0].endorsement.heads
    );

    // A non-curator cannot endorse.
    assert!(net.nodes[BERGEN]
        .endorse(&id, EndorsementStatus::Approved, "selv", now)
        .is_err());
    // A forged endorsement (signed by a random key) is not counted anywhere.
    let forged = SignedStatement::sign(
        Statement::Endorse {
            artefact: id,
            heads: vec![],
            status: EndorsementStatus::Withdrawn,
            note: "falsk".into(),
            seq: 99,
        },
        &NodeKey::from_secret([66; 32]),
        now,
    );
    net.nodes[TRONDHEIM].handle_statement(BERGEN, &forged.encode(), net.now);
    assert_eq!(net.nodes[TRONDHEIM].endorsements(&id).unwrap().len(), 1);
    // A replay of an older endorsement (lower seq) is refused.
    let first = net.nodes[KS]
        .trust()
        .unwrap()
        .statements()
        .find(|s| matches!(s.body, Statement::Endorse { .. }))
        .unwrap()
        .clone();
    net.nodes[KS]
        .endorse(&id, EndorsementStatus::Recommended, "", now + 1)
        .unwrap();
    net.run(100_000);
    let _ = net.nodes[OSLO].drain_outputs();
    net.nodes[OSLO].handle_statement(KS, &first.encode(), net.now);
    let states = net.nodes[OSLO].endorsements(&id).unwrap();
    assert_eq!(states[0].endorsement.status, EndorsementStatus::Recommended);
}

#[test]
fn the_nodes_to_keep_connected_are_those_of_the_organisations_sharing_restricted_artefacts() {
    let (mut net, orgs) = network(7, &[BERGEN, TRONDHEIM, OSLO]);
    assert!(net.nodes[BERGEN].restricted_partners().is_empty());
    publish(&mut net, &orgs, BERGEN, None);
    assert!(
        net.nodes[BERGEN].restricted_partners().is_empty(),
        "public artefacts travel through anyone: no direct links needed"
    );
    let id = publish(&mut net, &orgs, BERGEN, Some(vec![orgs[TRONDHEIM].number]));
    let trondheim = net.nodes[TRONDHEIM].public_key();
    let oslo = net.nodes[OSLO].public_key();
    assert_eq!(net.nodes[BERGEN].restricted_partners(), vec![trondheim]);
    let now = net.now;
    net.nodes[BERGEN]
        .grant(&id, orgs[OSLO].number, Role::Reader, now)
        .unwrap();
    let mut both = vec![trondheim, oslo];
    both.sort();
    assert_eq!(net.nodes[BERGEN].restricted_partners(), both);
    // A reader that holds the artefact keeps the owner and the other readers.
    net.connect(BERGEN, TRONDHEIM);
    net.run(100_000);
    assert!(has(&mut net, TRONDHEIM, &id));
    let mut others = vec![net.nodes[BERGEN].public_key(), oslo];
    others.sort();
    assert_eq!(net.nodes[TRONDHEIM].restricted_partners(), others);
    // KS, which may not read it, has nothing to keep.
    assert!(net.nodes[KS].restricted_partners().is_empty());
}

#[test]
fn initiatives_have_a_captain_and_participants_everywhere_and_cannot_be_forged() {
    let (mut net, orgs) = network(8, &[BERGEN, TRONDHEIM]);
    let now = net.now;
    let id = net.nodes[BERGEN]
        .new_initiative(
            "Digital søknad om redusert foreldrebetaling",
            "Felles løsning for søknad og vedtak",
            vec![],
            [42u8; 16],
            now,
        )
        .unwrap();
    net.run(100_000);
    net.nodes[TRONDHEIM].join_initiative(&id, now + 1).unwrap();
    net.run(100_000);
    for node in [KS, BERGEN, TRONDHEIM, OSLO] {
        let list = net.nodes[node].initiatives();
        assert_eq!(list.len(), 1, "node {node}: {list:?}");
        let i = &list[0];
        assert_eq!(i.id, id);
        assert_eq!(i.captain, orgs[BERGEN].number);
        assert_eq!(i.captain_name, "Bergen kommune");
        assert_eq!(
            i.participants,
            vec![(orgs[TRONDHEIM].number, "Trondheim kommune".to_string())]
        );
        assert_eq!(i.status, InitiativeStatus::Active);
    }
    // Joining twice, or one's own initiative, is refused.
    assert!(net.nodes[TRONDHEIM].join_initiative(&id, now + 2).is_err());
    assert!(net.nodes[BERGEN].join_initiative(&id, now + 2).is_err());
    // Oslo is not admitted: it can neither lead nor join.
    assert!(net.nodes[OSLO]
        .new_initiative("Oslos eget", "", vec![], [7u8; 16], now)
        .is_err());
    assert!(net.nodes[OSLO].join_initiative(&id, now + 3).is_err());
    // Trondheim signs an "update" naming Bergen as captain: it does not speak for Bergen, so
    // every node ignores it, and a join in Oslo's name signed by Trondheim counts for nobody.
    for body in [
        Statement::Initiative {
            id,
            captain: orgs[BERGEN].number,
            title: "Kapret".into(),
            description: String::new(),
            status: InitiativeStatus::Stopped,
            artefacts: vec![],
            seq: 9,
        },
        Statement::JoinInitiative {
            initiative: id,
            org: orgs[OSLO].number,
        },
    ] {
        let forged = SignedStatement::sign(body, &orgs[TRONDHEIM].key, now + 4);
        net.nodes[KS].handle_statement(TRONDHEIM, &forged.encode(), net.now);
    }
    net.run(100_000);
    let i = &net.nodes[KS].initiatives()[0];
    assert_eq!(i.title, "Digital søknad om redusert foreldrebetaling");
    assert_eq!(i.status, InitiativeStatus::Active);
    assert_eq!(i.participants.len(), 1);
    // The captain updates it; a participant cannot.
    let artefact = publish(&mut net, &orgs, BERGEN, None);
    assert!(net.nodes[TRONDHEIM]
        .update_initiative(&id, Some(InitiativeStatus::Stopped), vec![], now + 5)
        .is_err());
    net.nodes[BERGEN]
        .update_initiative(&id, Some(InitiativeStatus::Done), vec![artefact], now + 6)
        .unwrap();
    net.run(100_000);
    for node in [KS, TRONDHEIM] {
        let i = &net.nodes[node].initiatives()[0];
        assert_eq!(i.status, InitiativeStatus::Done);
        assert_eq!(i.artefacts, vec![artefact]);
        assert_eq!(i.participants.len(), 1, "joins survive updates");
    }
}

#[test]
fn a_non_maintainers_edit_becomes_a_proposal_that_a_maintainer_accepts_or_declines() {
    let (mut net, orgs) = network(9, &[BERGEN, TRONDHEIM, OSLO]);
    let id = publish(&mut net, &orgs, BERGEN, None);
    for n in [TRONDHEIM, OSLO] {
        assert!(has(&mut net, n, &id));
    }
    // Trondheim may not commit, but may propose.
    assert!(edit(&mut net, TRONDHEIM, &id, "# DPIA\n\nRisiko: middels\n").is_err());
    let (base, _) = net.nodes[TRONDHEIM].files(&id, None).unwrap();
    let now = net.now;
    let nonce = net.nonce();
    let edits = [FileEdit::Write {
        path: "dpia.md".into(),
        content: b"# DPIA\n\nRisiko: middels (Trondheim)\n".to_vec(),
        executable: false,
    }];
    let proposal = net.nodes[TRONDHEIM]
        .propose(&id, &base, &edits, "Høyere risiko", now, nonce)
        .unwrap();
    net.run(100_000);
    // Nothing changed yet; Bergen sees the proposal and what it would do.
    assert_eq!(
        heads_of_node(&mut net, BERGEN, &id),
        heads_of_node(&mut net, TRONDHEIM, &id)
    );
    let list = net.nodes[BERGEN].proposals(&id).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, proposal);
    assert_eq!(list[0].proposer_org, Some(orgs[TRONDHEIM].number));
    assert!(list[0].verdict.is_none());
    let (_, before, after, _) = net.nodes[BERGEN]
        .proposal_files(&proposal.to_hex()[..10])
        .unwrap();
    let text = |files: &[FileData]| {
        String::from_utf8(
            files
                .iter()
                .find(|f| f.path == "dpia.md")
                .unwrap()
                .content
                .clone(),
        )
        .unwrap()
    };
    assert!(text(&before).contains("Risiko: lav"));
    assert!(text(&after).contains("Risiko: middels (Trondheim)"));
    // Oslo, no maintainer either, cannot decide it.
    assert!(net.nodes[OSLO]
        .decide_proposal(&proposal.to_hex(), true, now + 1)
        .is_err());
    // Bergen accepts: the change joins everywhere, still Trondheim's.
    net.nodes[BERGEN]
        .decide_proposal(&proposal.to_hex(), true, now + 2)
        .unwrap();
    net.run(100_000);
    let trondheim_key = net.nodes[TRONDHEIM].public_key();
    for n in [KS, BERGEN, TRONDHEIM, OSLO] {
        let (_, files) = net.nodes[n].files(&id, None).unwrap();
        assert!(
            text(&files).contains("Risiko: middels (Trondheim)"),
            "node {n}"
        );
        let history = net.nodes[n].history(&id).unwrap();
        assert!(
            history
                .iter()
                .any(|h| h.author == trondheim_key && h.message == "Høyere risiko"),
            "node {n} keeps Trondheim as the author"
        );
        let views = net.nodes[n].proposals(&id).unwrap();
        assert!(
            views[0].verdict.as_ref().is_some_and(|v| v.accepted),
            "node {n}"
        );
    }
    // A declined proposal changes nothing.
    let (base, _) = net.nodes[OSLO].files(&id, None).unwrap();
    let nonce = net.nonce();
    let other = net.nodes[OSLO]
        .propose(
            &id,
            &base,
            &[FileEdit::Delete {
                path: "vedlegg.bin".into(),
            }],
            "Fjern vedlegget",
            now + 3,
            nonce,
        )
        .unwrap();
    net.run(100_000);
    net.nodes[BERGEN]
        .decide_proposal(&other.to_hex(), false, now + 4)
        .unwrap();
    net.run(100_000);
    for n in [KS, BERGEN, OSLO] {
        let (_, files) = net.nodes[n].files(&id, None).unwrap();
        assert!(files.iter().any(|f| f.path == "vedlegg.bin"), "node {n}");
        let views = net.nodes[n].proposals(&id).unwrap();
        let v = views.iter().find(|p| p.id == other).unwrap();
        assert!(v.verdict.as_ref().is_some_and(|v| !v.accepted), "node {n}");
    }
    assert!(
        net.nodes[BERGEN]
            .decide_proposal(&other.to_hex(), true, now + 5)
            .is_ok(),
        "a declined proposal may still be accepted later"
    );
}

/// A proposal that adds a file and replaces a binary carries their contents: the maintainer
/// reviews and accepts it although nobody could have served them, and every node ends up
/// with them. Too large a proposal is refused when it is made; one that lacks a content it
/// needs can be neither reviewed nor accepted.
#[test]
fn a_proposal_carries_the_files_it_adds_or_replaces() {
    let (mut net, orgs) = network(19, &[BERGEN, TRONDHEIM, OSLO]);
    let id = publish(&mut net, &orgs, BERGEN, None);
    assert!(has(&mut net, TRONDHEIM, &id));
    let (base, _) = net.nodes[TRONDHEIM].files(&id, None).unwrap();
    let note = b"Notat fra Trondheim\n".to_vec();
    let binary: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    let edits = [
        FileEdit::Write {
            path: "notat.txt".into(),
            content: note.clone(),
            executable: false,
        },
        FileEdit::Write {
            path: "vedlegg.bin".into(),
            content: binary.clone(),
            executable: false,
        },
    ];
    let (now, nonce) = (net.now, net.nonce());
    let proposal = net.nodes[TRONDHEIM]
        .propose(&id, &base, &edits, "Notat og nytt vedlegg", now, nonce)
        .unwrap();
    net.run(100_000);
    assert!(
        !net.nodes[BERGEN]
            .store()
            .has_blob(&crate::blob::BlobHash::of(&note))
            .unwrap(),
        "nothing is stored before review"
    );
    let content = |files: &[FileData], path: &str| {
        files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.content.clone())
    };
    let (_, before, after, _) = net.nodes[BERGEN]
        .proposal_files(&proposal.to_hex())
        .unwrap();
    assert_eq!(content(&before, "notat.txt"), None);
    assert_eq!(content(&after, "notat.txt"), Some(note.clone()));
    assert_eq!(content(&after, "vedlegg.bin"), Some(binary.clone()));
    net.nodes[BERGEN]
        .decide_proposal(&proposal.to_hex(), true, now + 1)
        .unwrap();
    net.run(100_000);
    for n in [KS, BERGEN, TRONDHEIM, OSLO] {
        let (_, files) = net.nodes[n].files(&id, None).unwrap();
        assert_eq!(content(&files, "notat.txt"), Some(note.clone()), "node {n}");
        assert_eq!(
            content(&files, "vedlegg.bin"),
            Some(binary.clone()),
            "node {n}"
        );
        let listed = net.nodes[n].list().unwrap();
        let row = listed.iter().find(|r| r.id == id).unwrap();
        assert!(row.complete, "node {n} holds every file's content");
    }

    // Too large: refused at `propose`, saying why and what to do.
    let (base, _) = net.nodes[OSLO].files(&id, None).unwrap();
    let big: Vec<u8> = (0..70_000u32).map(|i| (i * 13 % 256) as u8).collect();
    let (now, nonce) = (net.now, net.nonce());
    let refused = net.nodes[OSLO].propose(
        &id,
        &base,
        &[FileEdit::Write {
            path: "stor.bin".into(),
            content: big,
            executable: false,
        }],
        "For stor",
        now,
        nonce,
    );
    let message = refused.unwrap_err().to_string();
    assert!(
        message.contains("at most about") && message.contains("1 added or replaced file"),
        "{message}"
    );
    assert!(net.nodes[OSLO].proposals(&id).unwrap().len() == 1);

    // A proposal without the content it adds (as a node that dropped it would send it) is
    // refused at review and at accept, and no verdict is signed.
    let (base, _) = net.nodes[TRONDHEIM].files(&id, None).unwrap();
    let (now, nonce) = (net.now, net.nonce());
    let full = net.nodes[TRONDHEIM]
        .propose(
            &id,
            &base,
            &[FileEdit::Write {
                path: "annet.txt".into(),
                content: b"Annet notat\n".to_vec(),
                executable: false,
            }],
            "Annet",
            now,
            nonce,
        )
        .unwrap();
    let mut body = net.nodes[TRONDHEIM]
        .trust()
        .unwrap()
        .get(&full)
        .unwrap()
        .body
        .clone();
    if let Statement::Propose { blobs, .. } = &mut body {
        assert_eq!(blobs.len(), 1, "a new file's content travels with it");
        blobs.clear();
    }
    let stripped = SignedStatement::sign(body, &orgs[TRONDHEIM].key, now + 1);
    net.nodes[BERGEN].handle_statement(TRONDHEIM, &stripped.encode(), now + 1);
    net.run(100_000);
    let stripped = stripped.id().to_hex();
    for refused in [
        net.nodes[BERGEN].proposal_files(&stripped).map(|_| ()),
        net.nodes[BERGEN]
            .decide_proposal(&stripped, true, now + 2)
            .map(|_| ()),
    ] {
        let message = refused.unwrap_err().to_string();
        assert!(
            message.contains("does not carry the content of annet.txt"),
            "{message}"
        );
    }
    let views = net.nodes[BERGEN].proposals(&id).unwrap();
    let view = views.iter().find(|v| v.id.to_hex() == stripped).unwrap();
    assert!(view.verdict.is_none(), "no verdict for a refused accept");
    assert!(net.nodes[BERGEN]
        .files(&id, None)
        .unwrap()
        .1
        .iter()
        .all(|f| f.path != "annet.txt"));
}

fn heads_of_node(net: &mut SimNet, node: usize, id: &ArtefactId) -> Vec<ChangeHash> {
    net.nodes[node].artefact(id).unwrap().heads()
}

fn text_of(net: &mut SimNet, node: usize, id: &ArtefactId) -> String {
    let (_, files) = net.nodes[node].files(id, None).unwrap();
    let file = files.iter().find(|f| f.path == "dpia.md").unwrap();
    String::from_utf8(file.content.clone()).unwrap()
}

#[test]
fn an_adaptation_keeps_local_edits_merges_upstream_and_gives_back_by_proposal() {
    let (mut net, orgs) = network(11, &[BERGEN, TRONDHEIM, OSLO]);
    let upstream = publish(&mut net, &orgs, OSLO, None);
    let adopted_at = heads_of_node(&mut net, BERGEN, &upstream);
    let now = net.now;
    let nonce = net.nonce();
    let id = net.nodes[BERGEN]
        .adopt(&upstream, None, "DPIA for Bergen", now, nonce)
        .unwrap();
    assert_ne!(id, upstream);
    // Oslo cannot adopt its own artefact; nobody can adopt what they lack.
    assert!(net.nodes[OSLO]
        .adopt(&upstream, None, "", now, nonce)
        .is_err());
    net.run(100_000);
    // Everyone holds the adaptation, sees Bergen as its owner and as an adopter upstream.
    for n in [KS, BERGEN, TRONDHEIM, OSLO] {
        assert!(has(&mut net, n, &id), "node {n}");
        let entry = net.nodes[n].catalog_entry(&id).unwrap();
        assert_eq!(entry.owner, Some(orgs[BERGEN].number), "node {n}");
        assert_eq!(entry.title, "DPIA for Bergen");
        let row = net.nodes[n]
            .list()
            .unwrap()
            .into_iter()
            .find(|r| r.id == id)
            .unwrap();
        assert_eq!(
            (
                row.title.as_str(),
                row.owner.as_str(),
                row.owner_name.as_str()
            ),
            ("DPIA for Bergen", "964338531", "Bergen kommune"),
            "node {n}"
        );
        assert_eq!(entry.based_on, Some(upstream));
        assert_eq!(
            entry.based_on_version,
            adopted_at.iter().map(|h| h.to_string()).collect::<Vec<_>>()
        );
        let up = net.nodes[n].catalog_entry(&upstream).unwrap();
        assert_eq!(up.owner, Some(orgs[OSLO].number));
        assert_eq!(
            up.adopters.iter().map(|a| a.org).collect::<Vec<_>>(),
            vec![orgs[BERGEN].number],
            "node {n}"
        );
    }
    // Bergen edits its adaptation; the upstream does not change. Oslo edits the upstream.
    edit(&mut net, BERGEN, &id, "# DPIA Bergen\n\nRisiko: lav\n")
        .unwrap()
        .unwrap();
    edit(
        &mut net,
        OSLO,
        &upstream,
        "# DPIA\n\nRisiko: lav\nTiltak: kryptering\n",
    )
    .unwrap()
    .unwrap();
    net.run(100_000);
    assert_eq!(
        text_of(&mut net, KS, &upstream),
        "# DPIA\n\nRisiko: lav\nTiltak: kryptering\n"
    );
    assert_eq!(text_of(&mut net, KS, &id), "# DPIA Bergen\n\nRisiko: lav\n");
    let state = net.nodes[BERGEN].adaptation_state(&id).unwrap();
    assert_eq!((state.behind, state.ahead), (1, 1));
    // Trondheim may not write to Bergen's adaptation: its change goes nowhere.
    net.nodes[TRONDHEIM].skip_local_write_check_for_testing(true);
    edit(&mut net, TRONDHEIM, &id, "# Trondheim\n")
        .unwrap()
        .unwrap();
    net.run(100_000);
    for n in [KS, BERGEN, OSLO] {
        assert!(!text_of(&mut net, n, &id).contains("Trondheim"), "node {n}");
    }
    // Only the adaptation's owner pulls upstream; the merge keeps both edits, everywhere.
    assert!(net.nodes[OSLO].pull_upstream(&id).is_err());
    let merge = net.nodes[BERGEN].pull_upstream(&id).unwrap();
    assert_eq!((merge.upstream, merge.merged), (upstream, 1));
    net.run(100_000);
    for n in [KS, BERGEN, OSLO] {
        assert_eq!(
            text_of(&mut net, n, &id),
            "# DPIA Bergen\n\nRisiko: lav\nTiltak: kryptering\n",
            "node {n}"
        );
    }
    assert_eq!(
        net.nodes[BERGEN].pull_upstream(&id).unwrap().merged,
        0,
        "nothing new upstream"
    );
    // Bergen offers its change back; Oslo accepts; the upstream has it, Bergen's signature kept.
    let offered = net.nodes[BERGEN]
        .propose_upstream(&id, "Tittel med kommunenavn", net.now)
        .unwrap();
    assert_eq!(offered.upstream, upstream);
    let proposal = offered.proposal;
    net.run(100_000);
    assert_eq!(net.nodes[OSLO].proposals(&upstream).unwrap().len(), 1);
    let now = net.now;
    net.nodes[OSLO]
        .decide_proposal(&proposal.to_hex(), true, now)
        .unwrap();
    net.run(100_000);
    let bergen_key = net.nodes[BERGEN].public_key();
    for n in [KS, BERGEN, OSLO] {
        assert_eq!(
            text_of(&mut net, n, &upstream),
            "# DPIA Bergen\n\nRisiko: lav\nTiltak: kryptering\n",
            "node {n}"
        );
        assert!(net.nodes[n]
            .history(&upstream)
            .unwrap()
            .iter()
            .any(|h| h.author == bergen_key));
        // The upstream keeps its own title and owner.
        let up = net.nodes[n].catalog_entry(&upstream).unwrap();
        assert_eq!(
            (up.title.as_str(), up.owner),
            ("Hemmelig DPIA", Some(orgs[OSLO].number))
        );
    }
    let state = net.nodes[BERGEN].adaptation_state(&id).unwrap();
    assert_eq!((state.behind, state.ahead), (0, 0));
    assert!(net.nodes[BERGEN]
        .propose_upstream(&id, "igjen", net.now)
        .is_err());
}

#[test]
fn an_adoption_cannot_be_forged_nor_claim_an_existing_artefact() {
    let (mut net, orgs) = network(12, &[BERGEN, TRONDHEIM, OSLO]);
    let upstream = publish(&mut net, &orgs, OSLO, None);
    let heads = heads_to_wire(&heads_of_node(&mut net, OSLO, &upstream));
    let nonce = [7u8; 8];
    // Trondheim signs an adoption in Bergen's name: kept, but it counts for nobody.
    let adaptation = crate::trust::adaptation_id(&upstream, &heads, orgs[BERGEN].number, &nonce);
    let forged = SignedStatement::sign(
        Statement::Adopt {
            upstream,
            heads: heads.clone(),
            org: orgs[BERGEN].number,
            nonce,
            adaptation,
            title: String::new(),
        },
        &orgs[TRONDHEIM].key,
        net.now,
    );
    net.nodes[KS]
        .offer_statement(&forged.encode(), net.now)
        .unwrap();
    assert!(net.nodes[KS].adoption(&adaptation).is_none());
    assert!(net.nodes[KS]
        .trust()
        .unwrap()
        .adopters(&upstream)
        .is_empty());
    // An adoption that names an id its fields do not give is refused outright.
    let claim = SignedStatement::sign(
        Statement::Adopt {
            upstream,
            heads,
            org: orgs[TRONDHEIM].number,
            nonce,
            adaptation: upstream,
            title: String::new(),
        },
        &orgs[TRONDHEIM].key,
        net.now,
    );
    assert!(net.nodes[KS]
        .offer_statement(&claim.encode(), net.now)
        .is_err());
    // So Trondheim still cannot write to Oslo's artefact.
    net.nodes[TRONDHEIM].skip_local_write_check_for_testing(true);
    edit(&mut net, TRONDHEIM, &upstream, "# overtatt\n")
        .unwrap()
        .unwrap();
    net.run(100_000);
    assert!(!text_of(&mut net, KS, &upstream).contains("overtatt"));
}

// ---------------------------------------------------------------------------------------------
// Hardening against hostile peers and admitted-but-malicious organisations (issue 10).

const DAY: i64 = 86_400;

/// Bergen's second node (a laptop without the org key), certified by Bergen's org key.
fn bergen_laptop() -> NodeKey {
    NodeKey::from_secret([150; 32])
}

fn certify_laptop(net: &mut SimNet, laptop: &NodeKey) {
    let now = net.now;
    let proof = crate::trust::prove_possession(laptop, crate::testing::orgs::bergen());
    net.nodes[BERGEN]
        .add_node(laptop.public(), "laptop", &proof, now)
        .unwrap();
    net.run(100_000);
}

/// Gossips `statement` to `to` as if `from` had sent it.
fn gossip(net: &mut SimNet, to: usize, from: usize, statement: &SignedStatement) {
    let now = net.now;
    net.nodes[to].handle_statement(from, &statement.encode(), now);
}

/// Hands `statement` to `node` as a local import (checked like one from a peer).
fn offer(net: &mut SimNet, node: usize, statement: &SignedStatement) -> Result<bool, EngineError> {
    let now = net.now;
    net.nodes[node].offer_statement(&statement.encode(), now)
}

fn statements_naming(net: &SimNet, node: usize, id: &ArtefactId) -> usize {
    net.nodes[node]
        .trust()
        .unwrap()
        .statements()
        .filter(|s| s.body.artefact() == Some(id))
        .count()
}

#[test]
fn an_access_list_signed_by_a_node_key_revoked_later_keeps_counting() {
    let (mut net, orgs) = network(20, &[BERGEN, TRONDHEIM, OSLO]);
    net.connect(BERGEN, TRONDHEIM);
    net.connect(BERGEN, OSLO);
    net.run(100_000);
    let laptop = bergen_laptop();
    certify_laptop(&mut net, &laptop);
    let (trondheim, oslo) = (orgs[TRONDHEIM].number, orgs[OSLO].number);
    let id = publish(&mut net, &orgs, BERGEN, Some(vec![trondheim, oslo]));
    assert!(has(&mut net, OSLO, &id));
    // The laptop removes Oslo as a reader.
    net.now += 60;
    let heads = heads_to_wire(&heads_of_node(&mut net, BERGEN, &id));
    let removal = SignedStatement::sign(
        Statement::Access {
            artefact: id,
            owner: orgs[BERGEN].number,
            maintainers: vec![],
            readers: Some(vec![trondheim]),
            heads,
            seq: 2,
        },
        &laptop,
        net.now,
    );
    offer(&mut net, BERGEN, &removal).unwrap();
    net.run(100_000);
    for n in [BERGEN, TRONDHEIM] {
        assert_eq!(
            net.nodes[n].access(&id).unwrap().readers,
            Some(vec![trondheim]),
            "node {n}"
        );
    }
    // Later the laptop is lost and revoked: what it signed before stays in force.
    net.now += 60;
    let now = net.now;
    net.nodes[BERGEN].revoke_node(laptop.public(), now).unwrap();
    net.run(100_000);
    for n in [BERGEN, TRONDHEIM] {
        let access = net.nodes[n].access(&id).unwrap();
        assert_eq!(access.readers, Some(vec![trondheim]), "node {n}");
        let oslo_node = net.nodes[OSLO].public_key();
        assert!(
            !net.nodes[n]
                .trust()
                .unwrap()
                .may_read(&id, orgs[BERGEN].number, &oslo_node),
            "node {n} lets removed Oslo read again"
        );
    }
    // Content written after the removal does not reach Oslo.
    net.now += 60;
    let later = edit(
        &mut net,
        BERGEN,
        &id,
        "# DPIA\n\nEtter at Oslo ble fjernet\n",
    )
    .unwrap()
    .unwrap();
    net.run(100_000);
    assert!(net.nodes[TRONDHEIM]
        .artefact(&id)
        .unwrap()
        .doc
        .get_change_by_hash(&later)
        .is_some());
    assert!(net.nodes[OSLO]
        .artefact(&id)
        .unwrap()
        .doc
        .get_change_by_hash(&later)
        .is_none());
    // A fresh node that receives the revocation and the old access list together still sees
    // the owner's intent: revoke-node re-signed the access list in force with the org key.
    let all: Vec<SignedStatement> = net.nodes[BERGEN]
        .trust()
        .unwrap()
        .statements()
        .cloned()
        .collect();
    let mut fresh: Engine<MemStore, usize> =
        Engine::new(NodeKey::from_secret([151; 32]), MemStore::new());
    let network = net.nodes[KS].trust().unwrap().network().clone();
    let now = net.now;
    fresh
        .join_network(
            network,
            None,
            (oslo, "Oslo kommune".into(), OrgKind::Kommune),
            now,
        )
        .unwrap();
    let response = Response::Statements {
        statements: all.iter().map(|s| WireBlob(s.encode())).collect(),
    };
    fresh.handle_response(
        BERGEN,
        &Request::Statements { have: vec![] },
        &response.encode(),
    );
    let view = fresh.trust().unwrap().access(&id, orgs[BERGEN].number);
    assert_eq!(view.readers, Some(vec![trondheim]));
    let signer = fresh
        .trust()
        .unwrap()
        .get(&view.statement.unwrap())
        .unwrap()
        .signer;
    assert_eq!(
        signer,
        orgs[BERGEN].key.public(),
        "re-signed by the org key"
    );
}

#[test]
fn a_revoked_admission_keeps_the_owners_restricted_artefacts_restricted() {
    let (mut net, orgs) = network(21, &[BERGEN, TRONDHEIM, OSLO]);
    net.connect(BERGEN, TRONDHEIM);
    net.connect(TRONDHEIM, OSLO);
    net.run(100_000);
    let trondheim = orgs[TRONDHEIM].number;
    let id = publish(&mut net, &orgs, BERGEN, Some(vec![trondheim]));
    assert!(has(&mut net, TRONDHEIM, &id));
    net.now += 60;
    let now = net.now;
    net.nodes[KS]
        .revoke(RevokeTarget::Admission(orgs[BERGEN].number), now)
        .unwrap();
    net.run(100_000);
    assert!(!net.nodes[TRONDHEIM]
        .trust()
        .unwrap()
        .org(orgs[BERGEN].number)
        .is_some_and(|o| o.admitted));
    // Trondheim, a reader, keeps it restricted: Oslo (linked to Trondheim) never gets it.
    assert_eq!(
        net.nodes[TRONDHEIM].access(&id).unwrap().readers,
        Some(vec![trondheim])
    );
    net.disconnect(TRONDHEIM, OSLO);
    net.connect(TRONDHEIM, OSLO);
    net.run(100_000);
    assert!(!has(&mut net, OSLO, &id), "the artefact went public");
    assert_eq!(statements_naming(&net, OSLO, &id), 0);
}

#[test]
fn a_backdated_endorsement_by_an_expired_curator_is_refused() {
    let (mut net, orgs) = network(22, &[BERGEN, TRONDHEIM, OSLO]);
    let id = publish(&mut net, &orgs, BERGEN, None);
    let expires = net.now + 10 * DAY;
    let now = net.now;
    net.nodes[KS]
        .delegate(
            orgs[TRONDHEIM].number,
            vec![Scope::Endorse],
            Some(expires),
            now,
        )
        .unwrap();
    net.run(100_000);
    // Eleven days later Trondheim signs an endorsement dated before its delegation expired.
    net.now = expires + DAY;
    let heads = heads_to_wire(&heads_of_node(&mut net, OSLO, &id));
    let backdated = SignedStatement::sign(
        Statement::Endorse {
            artefact: id,
            heads: heads.clone(),
            status: EndorsementStatus::Approved,
            note: "tilbakedatert".into(),
            seq: 1,
        },
        &orgs[TRONDHEIM].key,
        expires - 100,
    );
    gossip(&mut net, OSLO, TRONDHEIM, &backdated);
    assert!(net.nodes[OSLO].endorsements(&id).unwrap().is_empty());
    assert!(!net.nodes[OSLO].trust().unwrap().contains(&backdated.id()));
    // A statement dated far in the future is refused too, even by a root.
    let future = SignedStatement::sign(
        Statement::Endorse {
            artefact: id,
            heads,
            status: EndorsementStatus::Approved,
            note: "fra fremtiden".into(),
            seq: 1,
        },
        &orgs[KS].key,
        net.now + DAY,
    );
    gossip(&mut net, OSLO, KS, &future);
    assert!(!net.nodes[OSLO].trust().unwrap().contains(&future.id()));
}

#[test]
fn another_organisation_cannot_hijack_a_node_key_with_a_certificate() {
    let (mut net, orgs) = network(23, &[BERGEN, TRONDHEIM, OSLO]);
    let bergen_node = net.nodes[BERGEN].public_key();
    // Trondheim has no proof of possession from Bergen's node key: it can send none, or an
    // invalid one, or replay the proof Bergen's node gave for its own organisation.
    let bergen_proof = crate::trust::prove_possession(
        &NodeKey::from_secret(net.nodes[BERGEN].key.secret_bytes()),
        orgs[BERGEN].number,
    );
    for possession in [vec![], vec![0; 64], bergen_proof.to_vec()] {
        let hijack = SignedStatement::sign(
            Statement::NodeCert {
                org: orgs[TRONDHEIM].number,
                node_key: bergen_node,
                label: "kapret".into(),
                possession,
            },
            &orgs[TRONDHEIM].key,
            net.now,
        );
        for n in [KS, BERGEN, OSLO] {
            gossip(&mut net, n, TRONDHEIM, &hijack);
            assert!(!net.nodes[n].trust().unwrap().contains(&hijack.id()));
        }
    }
    // Nor can Trondheim's org-key holder certify it through the engine.
    let now = net.now;
    let refused = net.nodes[TRONDHEIM].add_node(bergen_node, "kapret", &bergen_proof, now);
    assert!(
        matches!(&refused, Err(EngineError::NotPermitted(m)) if m.contains("org node-proof")),
        "{refused:?}"
    );
    net.run(100_000);
    for n in [KS, BERGEN, OSLO] {
        assert_eq!(
            net.nodes[n].trust().unwrap().org_of_node(&bergen_node),
            Some(orgs[BERGEN].number),
            "node {n}"
        );
    }
    assert!(net.nodes[BERGEN].admitted());
    let id = publish(&mut net, &orgs, BERGEN, None);
    assert!(has(&mut net, OSLO, &id));
}

#[test]
fn endorsements_of_a_restricted_artefact_stay_with_its_readers() {
    let (mut net, orgs) = network(24, &[BERGEN, TRONDHEIM, OSLO]);
    let now = net.now;
    net.nodes[KS]
        .delegate(orgs[TRONDHEIM].number, vec![Scope::Endorse], None, now)
        .unwrap();
    net.connect(BERGEN, TRONDHEIM);
    net.run(100_000);
    let id = publish(&mut net, &orgs, BERGEN, Some(vec![orgs[TRONDHEIM].number]));
    assert!(has(&mut net, TRONDHEIM, &id));
    net.nodes[TRONDHEIM]
        .endorse(
            &id,
            EndorsementStatus::Approved,
            "hemmelig merknad",
            now + 1,
        )
        .unwrap();
    net.run(100_000);
    assert_eq!(net.nodes[BERGEN].endorsements(&id).unwrap().len(), 1);
    for n in [KS, OSLO] {
        assert_eq!(statements_naming(&net, n, &id), 0, "node {n}");
    }
    let answer =
        net.nodes[TRONDHEIM].handle_request(OSLO, &Request::Statements { have: vec![] }.encode());
    let Ok(Response::Statements { statements }) = Response::decode(&answer) else {
        panic!("statements")
    };
    assert!(statements
        .iter()
        .all(|s| SignedStatement::decode(&s.0).unwrap().body.artefact() != Some(&id)));
}

#[test]
fn statements_about_an_artefact_this_node_lacks_are_kept_but_not_passed_on() {
    let (mut net, orgs) = network(25, &[BERGEN, TRONDHEIM, OSLO]);
    let elsewhere = ArtefactId([42; 16]);
    let endorsement = SignedStatement::sign(
        Statement::Endorse {
            artefact: elsewhere,
            heads: vec![Head([1; 32])],
            status: EndorsementStatus::Reviewed,
            note: "ukjent".into(),
            seq: 1,
        },
        &orgs[KS].key,
        net.now,
    );
    let now = net.now;
    assert_eq!(
        net.nodes[OSLO].handle_statement(KS, &endorsement.encode(), now),
        StatementVerdict::Ignore,
        "kept, but gossip is not to pass it on"
    );
    assert!(net.nodes[OSLO].trust().unwrap().contains(&endorsement.id()));
    let answer =
        net.nodes[OSLO].handle_request(TRONDHEIM, &Request::Statements { have: vec![] }.encode());
    let Ok(Response::Statements { statements }) = Response::decode(&answer) else {
        panic!("statements")
    };
    assert!(statements
        .iter()
        .all(|s| SignedStatement::decode(&s.0).unwrap().body.artefact() != Some(&elsewhere)));
}

#[test]
fn a_fresh_keys_flood_of_large_statements_stays_within_the_applicant_allowance() {
    let (mut net, _orgs) = network(26, &[BERGEN, TRONDHEIM]);
    let before = net.nodes[OSLO].store().statement_bytes();
    let padding = "x".repeat(30 * 1024);
    // Valid organisation numbers that nobody has: each fresh key claims one.
    let mut numbers = (800_000_000u32..).filter_map(|n| OrgNumber::parse(&n.to_string()).ok());
    for i in 0..200u32 {
        let mut secret = [0u8; 32];
        secret[..4].copy_from_slice(&i.to_le_bytes());
        secret[31] = 201;
        let fresh = NodeKey::from_secret(secret);
        let org = numbers.next().unwrap();
        let fake = SignedStatement::sign(
            Statement::OrgProfile {
                org,
                name: format!("Bergen kommune {padding}"),
                kind: OrgKind::Kommune,
                org_key: fresh.public(),
            },
            &fresh,
            net.now,
        );
        gossip(&mut net, OSLO, KS, &fake);
        let small = SignedStatement::sign(
            Statement::OrgProfile {
                org,
                name: "Bergen kommune".into(),
                kind: OrgKind::Kommune,
                org_key: fresh.public(),
            },
            &fresh,
            net.now,
        );
        gossip(&mut net, OSLO, KS, &small);
        let proposal = SignedStatement::sign(
            Statement::Propose {
                artefact: ArtefactId([9; 16]),
                base: vec![],
                hashes: vec![],
                changes: vec![],
                message: padding.clone(),
                blobs: vec![],
            },
            &fresh,
            net.now,
        );
        gossip(&mut net, OSLO, KS, &proposal);
    }
    let after = net.nodes[OSLO].store().statement_bytes();
    assert!(
        after - before <= 64 * 2048,
        "the flood grew the store by {} bytes",
        after - before
    );
    let waiting = net.nodes[OSLO]
        .trust()
        .unwrap()
        .orgs()
        .into_iter()
        .filter(|o| !o.admitted)
        .count();
    assert!(
        waiting <= 64 + 1,
        "{waiting} organisations wait for admission"
    );
    let pending = net.nodes[OSLO].trust().unwrap().len();
    assert!(pending < 200, "{pending} statements held");
}

/// A profile of a fresh organisation (number `n` of a range nobody has), signed by a fresh key.
fn applicant(n: u32) -> (NodeKey, OrgNumber, SignedStatement) {
    let mut secret = [0u8; 32];
    secret[..4].copy_from_slice(&n.to_le_bytes());
    secret[31] = 202;
    let key = NodeKey::from_secret(secret);
    let org = (700_000_000 + n * 10..)
        .find_map(|n| OrgNumber::parse(&n.to_string()).ok())
        .unwrap();
    let profile = SignedStatement::sign(
        Statement::OrgProfile {
            org,
            name: format!("Søker {n}"),
            kind: OrgKind::Kommune,
            org_key: key.public(),
        },
        &key,
        1_700_000_000,
    );
    (key, org, profile)
}

fn applicant_cert(key: &NodeKey, org: OrgNumber, node: u8) -> SignedStatement {
    let node = NodeKey::from_secret([node; 32]);
    SignedStatement::sign(
        Statement::NodeCert {
            org,
            node_key: node.public(),
            label: "node".into(),
            possession: crate::trust::prove_possession(&node, org).to_vec(),
        },
        key,
        1_700_000_000,
    )
}

fn counters(net: &SimNet, node: usize) -> crate::trust::intake::IntakeCounters {
    net.nodes[node].trust().unwrap().intake_counters()
}

#[test]
fn a_curator_admits_an_applicant_that_reaches_it_directly_or_through_another_node() {
    let mut net = SimNet::new(4, 30);
    let orgs = orgs();
    let network = Network::create(
        "Test",
        orgs[KS].number,
        "KS",
        &orgs[KS].key,
        vec![],
        net.now,
    );
    let join = |net: &mut SimNet, i: usize| {
        let now = net.now;
        let org = &orgs[i];
        net.nodes[i]
            .join_network(
                network.clone(),
                Some(org.key.clone()),
                (org.number, org.name.into(), org.kind),
                now,
            )
            .unwrap();
    };
    // Bergen announces itself straight to KS; Oslo only to Trondheim, before KS is around.
    net.connect(TRONDHEIM, OSLO);
    join(&mut net, TRONDHEIM);
    join(&mut net, OSLO);
    net.run(100_000);
    assert!(net.nodes[TRONDHEIM]
        .trust()
        .unwrap()
        .org(orgs[OSLO].number)
        .is_some());
    join(&mut net, KS);
    join(&mut net, BERGEN);
    net.connect(KS, BERGEN);
    net.connect(KS, TRONDHEIM);
    net.run(100_000);
    for i in [BERGEN, TRONDHEIM, OSLO] {
        let now = net.now;
        net.nodes[KS].admit(orgs[i].number, None, now).unwrap();
        net.run(100_000);
    }
    for i in [BERGEN, TRONDHEIM, OSLO] {
        assert!(net.nodes[i].admitted(), "node {i} is admitted");
    }
    // Admitted: out of the allowance, and counted against the quota instead.
    net.now += 60;
    net.run(100_000);
    assert_eq!(
        net.nodes[TRONDHEIM].trust().unwrap().pending_applicants(),
        0
    );
    assert!(
        net.nodes[TRONDHEIM]
            .trust()
            .unwrap()
            .org_usage(orgs[OSLO].number)
            .0
            >= 2
    );
}

#[test]
fn the_applicant_allowance_is_bounded_per_node_per_peer_and_per_applicant_and_expires() {
    use crate::trust::intake::{
        APPLICANT_TTL, MAX_APPLICANTS_PER_PEER, MAX_PENDING_APPLICANTS,
        MAX_STATEMENTS_PER_APPLICANT,
    };
    let (mut net, orgs) = network(31, &[BERGEN, TRONDHEIM]);
    let base = net.nodes[OSLO].trust().unwrap().pending_applicants();
    // One peer delivers twenty applicants: only its share is kept.
    for n in 0..20 {
        gossip(&mut net, OSLO, KS, &applicant(n).2);
    }
    let pending = || net.nodes[OSLO].trust().unwrap().pending_applicants();
    assert_eq!(pending(), base + MAX_APPLICANTS_PER_PEER);
    // Many peers fill the node's places, and no more.
    for n in 20..200 {
        let peer = 100 + n as usize;
        gossip(&mut net, OSLO, peer, &applicant(n).2);
    }
    let pending = net.nodes[OSLO].trust().unwrap().pending_applicants();
    assert_eq!(pending, MAX_PENDING_APPLICANTS);
    assert_eq!(counters(&net, OSLO).applicant_refused, 200 - 64);
    // An applicant keeps a handful of statements, each small.
    let (key, org, _) = applicant(20);
    for node in 0..12u8 {
        gossip(&mut net, OSLO, 120, &applicant_cert(&key, org, 160 + node));
    }
    let held = |net: &SimNet| {
        net.nodes[OSLO]
            .trust()
            .unwrap()
            .statements()
            .filter(|s| s.signer == key.public())
            .count()
    };
    assert_eq!(held(&net), MAX_STATEMENTS_PER_APPLICANT);
    // A week later, not admitted: gone from memory and store. One admitted meanwhile stays.
    let (admitted_key, admitted_org, _) = applicant(21);
    let admission = SignedStatement::sign(
        Statement::Admit {
            org: admitted_org,
            name: "Søker 21".into(),
            kind: OrgKind::Kommune,
            org_key: admitted_key.public(),
        },
        &orgs[KS].key,
        net.now,
    );
    gossip(&mut net, OSLO, KS, &admission);
    let stored_before = net.nodes[OSLO].store().statements().unwrap().len();
    net.now += APPLICANT_TTL + 1;
    let now = net.now;
    net.nodes[OSLO].handle_trust_tick(now);
    assert_eq!(held(&net), 0);
    let trust = net.nodes[OSLO].trust().unwrap();
    assert_eq!(trust.pending_applicants(), 0);
    assert!(trust.org(admitted_org).is_some_and(|o| o.admitted));
    assert!(trust
        .statements()
        .any(|s| s.signer == admitted_key.public()));
    let expired = counters(&net, OSLO).expired as usize;
    assert_eq!(
        expired,
        MAX_PENDING_APPLICANTS - 1 - 1 + MAX_STATEMENTS_PER_APPLICANT
    );
    assert_eq!(
        net.nodes[OSLO].store().statements().unwrap().len(),
        stored_before - expired
    );
    // Places are free again.
    gossip(&mut net, OSLO, KS, &applicant(500).2);
    assert_eq!(net.nodes[OSLO].trust().unwrap().pending_applicants(), 1);
}

#[test]
fn a_peer_over_its_statement_rate_is_cut_off_and_asked_again_later() {
    use crate::trust::intake::STATEMENT_RATE;
    let (mut net, orgs) = network(32, &[BERGEN, TRONDHEIM, OSLO]);
    net.connect(TRONDHEIM, OSLO);
    net.run(100_000);
    let flood = STATEMENT_RATE.burst as usize + 1_000;
    let statements: Vec<SignedStatement> = (0..flood as u32)
        .map(|n| {
            let mut id = [0u8; 16];
            id[..4].copy_from_slice(&n.to_le_bytes());
            SignedStatement::sign(
                Statement::Initiative {
                    id: InitiativeId(id),
                    captain: orgs[TRONDHEIM].number,
                    title: format!("Initiativ {n}"),
                    description: String::new(),
                    status: InitiativeStatus::Planned,
                    artefacts: vec![],
                    seq: 1,
                },
                &orgs[TRONDHEIM].key,
                net.now,
            )
        })
        .collect();
    let before = net.nodes[OSLO].trust().unwrap().len();
    for s in &statements {
        gossip(&mut net, OSLO, TRONDHEIM, s);
    }
    // Trondheim's bucket at Oslo was full but for the few statements it gossiped while the
    // network formed.
    let kept = net.nodes[OSLO].trust().unwrap().len() - before;
    assert!(kept <= STATEMENT_RATE.burst as usize);
    assert!(kept >= STATEMENT_RATE.burst as usize - 10, "{kept}");
    assert_eq!(counters(&net, OSLO).rate_limited as usize, flood - kept);
    // Another peer is not held back by it.
    let (_, _, profile) = applicant(1);
    gossip(&mut net, OSLO, KS, &profile);
    assert!(net.nodes[OSLO].trust().unwrap().contains(&profile.id()));
    // Trondheim holds them all; once its budget has refilled, Oslo asks it again.
    for s in &statements {
        let now = net.now;
        net.nodes[TRONDHEIM]
            .trust
            .as_mut()
            .unwrap()
            .insert(s.clone(), now)
            .unwrap();
    }
    let _ = net.nodes[OSLO].drain_outputs();
    net.now += 1;
    let now = net.now;
    net.nodes[OSLO].handle_trust_tick(now);
    assert!(
        !net.nodes[OSLO].drain_outputs().iter().any(|o| matches!(
            o,
            Output::Request {
                peer: TRONDHEIM,
                request: Request::Statements { .. }
            }
        )),
        "not before its budget has refilled"
    );
    net.now += 60;
    net.run(100_000);
    let kept = net.nodes[OSLO].trust().unwrap().len() - before;
    assert_eq!(kept, flood + 1, "the rest arrived when asked again");
}

#[test]
fn an_organisation_cannot_make_other_nodes_store_more_than_its_quota() {
    use crate::trust::intake::ORG_BYTE_QUOTA;
    let (mut net, orgs) = network(33, &[BERGEN, TRONDHEIM, OSLO]);
    let id = publish(&mut net, &orgs, BERGEN, None);
    let message = "x".repeat(60 * 1024);
    let before = net.nodes[OSLO].store().statement_bytes();
    let mut sent = 0usize;
    for n in 0..(ORG_BYTE_QUOTA / (60 * 1024) + 50) {
        let proposal = SignedStatement::sign(
            Statement::Propose {
                artefact: id,
                base: vec![],
                hashes: vec![],
                changes: vec![],
                message: format!("{n}{message}"),
                blobs: vec![],
            },
            &orgs[TRONDHEIM].key,
            net.now,
        );
        sent += proposal.encode().len();
        gossip(&mut net, OSLO, TRONDHEIM, &proposal);
    }
    assert!(sent > ORG_BYTE_QUOTA);
    let (statements, bytes) = net.nodes[OSLO]
        .trust()
        .unwrap()
        .org_usage(orgs[TRONDHEIM].number);
    assert!(bytes <= ORG_BYTE_QUOTA, "{bytes}");
    assert!(statements > 0);
    assert!(counters(&net, OSLO).over_quota >= 40);
    let grown = net.nodes[OSLO].store().statement_bytes() - before;
    assert!(grown <= ORG_BYTE_QUOTA + 64 * 1024, "{grown}");
    // Other organisations are not affected.
    let now = net.now;
    let other = net.nodes[BERGEN]
        .new_initiative("Bergens eget", "", vec![], [9; 16], now)
        .unwrap();
    net.run(100_000);
    assert!(net.nodes[OSLO].initiatives().iter().any(|i| i.id == other));
}

#[test]
fn a_stream_of_authority_changes_asks_peers_again_once_per_tick() {
    let (mut net, orgs) = network(34, &[BERGEN, TRONDHEIM, OSLO]);
    let ids: Vec<ArtefactId> = (0..3)
        .map(|_| publish(&mut net, &orgs, BERGEN, None))
        .collect();
    let _ = net.nodes[OSLO].drain_outputs();
    let inventories = |outputs: &[Output<usize>]| {
        outputs
            .iter()
            .filter(|o| {
                matches!(
                    o,
                    Output::Request {
                        request: Request::Inventory,
                        ..
                    }
                )
            })
            .count()
    };
    // Fifty access lists in one second: one round of inventory requests now, one at the tick.
    net.now += 10;
    for n in 0..50u64 {
        let id = ids[n as usize % ids.len()];
        let access = SignedStatement::sign(
            Statement::Access {
                artefact: id,
                owner: orgs[BERGEN].number,
                maintainers: vec![orgs[TRONDHEIM].number],
                readers: None,
                heads: vec![],
                seq: 10 + n,
            },
            &orgs[BERGEN].key,
            net.now,
        );
        gossip(&mut net, OSLO, BERGEN, &access);
    }
    let peers = 1;
    assert_eq!(inventories(&net.nodes[OSLO].drain_outputs()), peers);
    let now = net.now;
    net.nodes[OSLO].handle_trust_tick(now);
    assert_eq!(inventories(&net.nodes[OSLO].drain_outputs()), peers);
    net.nodes[OSLO].handle_trust_tick(now);
    assert_eq!(inventories(&net.nodes[OSLO].drain_outputs()), 0);
    // An applicant's profile changes nobody's rights: no questions at all.
    net.now += 10;
    gossip(&mut net, OSLO, KS, &applicant(3).2);
    let now = net.now;
    net.nodes[OSLO].handle_trust_tick(now);
    assert_eq!(inventories(&net.nodes[OSLO].drain_outputs()), 0);
}

#[test]
fn one_message_gives_at_most_its_share_of_statements_and_the_peer_is_asked_for_the_rest() {
    use crate::trust::intake::MAX_STATEMENTS_PER_MESSAGE;
    let (mut net, orgs) = network(35, &[BERGEN, TRONDHEIM, OSLO]);
    let statements: Vec<WireBlob> = (0..MAX_STATEMENTS_PER_MESSAGE as u32 + 100)
        .map(|n| {
            let mut id = [0u8; 16];
            id[..4].copy_from_slice(&n.to_le_bytes());
            WireBlob(
                SignedStatement::sign(
                    Statement::JoinInitiative {
                        initiative: InitiativeId(id),
                        org: orgs[TRONDHEIM].number,
                    },
                    &orgs[TRONDHEIM].key,
                    net.now,
                )
                .encode(),
            )
        })
        .collect();
    let before = net.nodes[OSLO].trust().unwrap().len();
    let response = Response::Statements { statements };
    net.nodes[OSLO].handle_response(
        KS,
        &Request::Statements { have: vec![] },
        &response.encode(),
    );
    let kept = net.nodes[OSLO].trust().unwrap().len() - before;
    assert_eq!(kept, MAX_STATEMENTS_PER_MESSAGE);
    assert_eq!(counters(&net, OSLO).truncated, 100);
    let _ = net.nodes[OSLO].drain_outputs();
    net.now += 120;
    let now = net.now;
    net.nodes[OSLO].handle_trust_tick(now);
    assert!(net.nodes[OSLO].drain_outputs().iter().any(|o| matches!(
        o,
        Output::Request {
            peer: KS,
            request: Request::Statements { .. }
        }
    )));
    // And a node serves at most that many at once.
    let answer =
        net.nodes[OSLO].handle_request(TRONDHEIM, &Request::Statements { have: vec![] }.encode());
    let Ok(Response::Statements { statements }) = Response::decode(&answer) else {
        panic!("statements")
    };
    assert_eq!(statements.len(), MAX_STATEMENTS_PER_MESSAGE);
}

#[test]
fn junk_is_dropped_without_a_signature_check_and_forgeries_of_members_are_refused() {
    let (mut net, orgs) = network(36, &[BERGEN, TRONDHEIM, OSLO]);
    let _ = net.nodes[OSLO].drain_outputs();
    let stranger = NodeKey::from_secret([77; 32]);
    let mut junk = SignedStatement::sign(
        Statement::JoinInitiative {
            initiative: InitiativeId([1; 16]),
            org: orgs[OSLO].number,
        },
        &stranger,
        net.now,
    );
    junk.signature = vec![0; 64];
    let now = net.now;
    assert_eq!(
        net.nodes[OSLO].handle_statement(KS, &junk.encode(), now),
        StatementVerdict::Ignore
    );
    assert!(!net.nodes[OSLO]
        .drain_outputs()
        .iter()
        .any(|o| matches!(o, Output::Event(Event::Rejected { .. }))));
    assert_eq!(counters(&net, OSLO).unknown_signer, 1);
    // The same with a member's key as signer is checked, and its author blamed.
    let mut forged = junk.clone();
    forged.signer = orgs[TRONDHEIM].key.public();
    assert_eq!(
        net.nodes[OSLO].handle_statement(TRONDHEIM, &forged.encode(), now),
        StatementVerdict::Reject
    );
    assert!(net.nodes[OSLO]
        .drain_outputs()
        .iter()
        .any(|o| matches!(o, Output::Event(Event::Rejected { reason, .. }) if reason.contains("signature"))));
    // A good one is kept, and may be gossiped on; again, it is known.
    let good = SignedStatement::sign(
        Statement::JoinInitiative {
            initiative: InitiativeId([1; 16]),
            org: orgs[TRONDHEIM].number,
        },
        &orgs[TRONDHEIM].key,
        now,
    );
    assert_eq!(
        net.nodes[OSLO].handle_statement(TRONDHEIM, &good.encode(), now),
        StatementVerdict::Accept
    );
    assert_eq!(
        net.nodes[OSLO].handle_statement(KS, &good.encode(), now),
        StatementVerdict::Ignore
    );
    // Locally offered junk says why it is not kept.
    let refused = net.nodes[OSLO].offer_statement(&junk.encode(), now);
    assert!(
        matches!(&refused, Err(EngineError::NotPermitted(m)) if m.contains("no admitted organisation")),
        "{refused:?}"
    );
}

#[test]
fn stored_junk_from_before_the_limits_leaves_the_store_at_start_up() {
    let (net, orgs) = network(37, &[BERGEN, TRONDHEIM]);
    let network = net.nodes[KS].trust().unwrap().network().clone();
    let mut store = MemStore::new();
    // What a node kept before the limits: KS's statements, and a stranger's flood, stored
    // without acceptance times.
    for s in net.nodes[KS].trust().unwrap().statements() {
        store.put_statement(&s.id().0, &s.encode(), 0).unwrap();
    }
    let legit = store.statement_bytes();
    let padding = "x".repeat(30 * 1024);
    let stranger = NodeKey::from_secret([88; 32]);
    for n in 0..20u8 {
        let junk = SignedStatement::sign(
            Statement::Propose {
                artefact: ArtefactId([n; 16]),
                base: vec![],
                hashes: vec![],
                changes: vec![],
                message: padding.clone(),
                blobs: vec![],
            },
            &stranger,
            net.now,
        );
        store
            .put_statement(&junk.id().0, &junk.encode(), 0)
            .unwrap();
    }
    let mut node: Engine<MemStore, usize> = Engine::new(NodeKey::from_secret([89; 32]), store);
    let now = net.now;
    node.join_network(
        network,
        None,
        (orgs[OSLO].number, "Oslo".into(), OrgKind::Kommune),
        now,
    )
    .unwrap();
    assert!(node.store().statement_bytes() <= legit);
    let trust = node.trust().unwrap();
    assert!(trust.org(orgs[BERGEN].number).is_some_and(|o| o.admitted));
    assert!(!trust.statements().any(|s| s.signer == stranger.public()));
}

#[test]
fn a_curators_superseded_endorsements_are_not_kept() {
    let (mut net, orgs) = network(38, &[BERGEN, TRONDHEIM, OSLO]);
    let id = publish(&mut net, &orgs, BERGEN, None);
    for n in 0..5 {
        let now = net.now + n;
        net.nodes[KS]
            .endorse(&id, EndorsementStatus::Reviewed, &format!("runde {n}"), now)
            .unwrap();
        net.run(100_000);
    }
    for node in [KS, OSLO] {
        let held = net.nodes[node]
            .trust()
            .unwrap()
            .statements()
            .filter(|s| matches!(s.body, Statement::Endorse { .. }))
            .count();
        assert_eq!(held, 1, "node {node}");
        let stored = net.nodes[node]
            .store()
            .statements()
            .unwrap()
            .iter()
            .filter_map(|r| SignedStatement::decode(&r.bytes).ok())
            .filter(|s| matches!(s.body, Statement::Endorse { .. }))
            .count();
        assert_eq!(stored, 1, "node {node}");
        assert_eq!(
            net.nodes[node].endorsements(&id).unwrap()[0]
                .endorsement
                .seq,
            5
        );
    }
}

#[test]
fn a_stored_certificate_without_proof_no_longer_counts_and_the_first_node_certifies_itself_again() {
    use serde::Serialize;
    // The node certificate as it was stored before proofs of possession (variant 2 of the
    // statement enum, without the proof).
    #[derive(Serialize)]
    enum OldStatement {
        _OrgProfile,
        _Admit,
        NodeCert {
            org: OrgNumber,
            node_key: PublicKey,
            label: String,
        },
    }
    #[derive(Serialize)]
    struct OldSigned {
        body: OldStatement,
        signer: PublicKey,
        time: i64,
        #[serde(with = "serde_bytes")]
        signature: Vec<u8>,
    }
    let (net, orgs) = network(39, &[BERGEN]);
    let network = net.nodes[KS].trust().unwrap().network().clone();
    let node_key = NodeKey::from_secret([90; 32]);
    let old = OldSigned {
        body: OldStatement::NodeCert {
            org: orgs[BERGEN].number,
            node_key: node_key.public(),
            label: "first node".into(),
        },
        signer: orgs[BERGEN].key.public(),
        time: net.now - 1000,
        signature: vec![7; 64],
    };
    let mut bytes = vec![crate::trust::STATEMENT_VERSION];
    bytes.extend(postcard::to_stdvec(&old).unwrap());
    let mut store = MemStore::new();
    store.put_statement(&[1; 32], &bytes, 0).unwrap();
    for s in net.nodes[KS].trust().unwrap().statements() {
        store.put_statement(&s.id().0, &s.encode(), 0).unwrap();
    }
    let mut node: Engine<MemStore, usize> = Engine::new(node_key.clone(), store);
    let now = net.now;
    node.join_network(
        network,
        Some(orgs[BERGEN].key.clone()),
        (
            orgs[BERGEN].number,
            "Bergen kommune".into(),
            OrgKind::Kommune,
        ),
        now,
    )
    .unwrap();
    let warnings: Vec<String> = node
        .drain_outputs()
        .into_iter()
        .filter_map(|o| match o {
            Output::Event(Event::Rejected { peer, reason, .. }) if peer == "local store" => {
                Some(reason)
            }
            _ => None,
        })
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("proof of possession"), "{warnings:?}");
    // Its own first node is certified again, with a proof: it is admitted.
    assert!(node.admitted());
    assert_eq!(
        node.trust().unwrap().org_of_node(&node_key.public()),
        Some(orgs[BERGEN].number)
    );
}

/// Trondheim's signed change on `id` made at the current heads of its own copy, without the
/// local write check, as a pull reply carrying it (and the origin it needs).
fn rogue_change(
    net: &mut SimNet,
    id: &ArtefactId,
    text: &str,
    nonce: u8,
) -> (ChangeHash, Response) {
    let (base, _) = net.nodes[TRONDHEIM].files(id, None).unwrap();
    let key = net.nodes[TRONDHEIM].key.clone();
    let mut doc = net.nodes[TRONDHEIM].artefact(id).unwrap().clone();
    let actor = signed::signed_actor(&key.public(), [nonce; 8]);
    let outcome = doc
        .edit(
            &base,
            &[FileEdit::Write {
                path: "dpia.md".into(),
                content: text.as_bytes().to_vec(),
                executable: false,
            }],
            actor,
            5,
            "rogue",
            |_| Some("# DPIA\n\nRisiko: lav\n".into()),
        )
        .unwrap();
    let change = outcome.change.unwrap();
    let mut changes: Vec<WireChange> = outcome
        .origins
        .iter()
        .map(|(c, path, blob)| WireChange {
            bytes: c.raw_bytes().to_vec(),
            proof: Proof::Origin {
                path: path.clone(),
                blob: *blob,
            },
        })
        .collect();
    changes.push(WireChange {
        bytes: change.raw_bytes().to_vec(),
        proof: signed::sign_change(&key, &change.hash()),
    });
    let response = Response::Changes {
        id: *id,
        heads: vec![Head::from(change.hash())],
        changes,
        origin_blobs: vec![WireBlob(b"# DPIA\n\nRisiko: lav\n".to_vec())],
    };
    (change.hash(), response)
}

fn pull_request(id: &ArtefactId) -> Request {
    Request::Pull {
        id: *id,
        heads: vec![],
        have: vec![],
        need: vec![],
    }
}

#[test]
fn refused_changes_are_recorded_per_artefact_persisted_and_cleared_once_admitted() {
    let (mut net, orgs) = network(11, &[BERGEN, TRONDHEIM, OSLO]);
    let id = publish(&mut net, &orgs, BERGEN, None);
    assert!(net.nodes[KS].refused_changes(&id).unwrap().is_empty());

    // Trondheim, neither owner nor maintainer, sends a change: KS refuses it and records who
    // wrote it and why.
    let (rogue, response) = rogue_change(&mut net, &id, "# DPIA\n\nRisiko: ingen\n", 7);
    net.nodes[KS].handle_response(TRONDHEIM, &pull_request(&id), &response.encode());
    net.run(100_000);
    assert!(net.nodes[KS]
        .artefact(&id)
        .unwrap()
        .doc
        .get_change_by_hash(&rogue)
        .is_none());
    let log = net.nodes[KS].refused_changes(&id).unwrap();
    assert_eq!(log.count(), 1, "{log:?}");
    assert!(log.contains(&rogue));
    let groups = log.groups();
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0].org, Some(orgs[TRONDHEIM].number));
    assert_eq!(
        groups[0].reason,
        crate::refused::RefusalReason::NotMaintainer
    );
    assert_eq!(groups[0].count, 1);

    // The same change offered again counts once.
    net.nodes[KS].handle_response(TRONDHEIM, &pull_request(&id), &response.encode());
    assert_eq!(net.nodes[KS].refused_changes(&id).unwrap().count(), 1);

    // The record is in the store: an engine started on the same store (a restart) has it.
    let restarted: Engine<MemStore, usize> = Engine::new(
        NodeKey::from_secret([55; 32]),
        net.nodes[KS].store().clone(),
    );
    assert_eq!(restarted.refused_changes(&id).unwrap().count(), 1);

    // Bergen grants Trondheim maintainer rights; offered again, the change joins and leaves the
    // record, which leaves the store.
    let now = net.now;
    net.nodes[BERGEN]
        .grant(&id, orgs[TRONDHEIM].number, Role::Maintainer, now)
        .unwrap();
    net.run(100_000);
    net.nodes[KS].handle_response(TRONDHEIM, &pull_request(&id), &response.encode());
    net.run(100_000);
    assert!(net.nodes[KS]
        .artefact(&id)
        .unwrap()
        .doc
        .get_change_by_hash(&rogue)
        .is_some());
    assert!(net.nodes[KS].refused_changes(&id).unwrap().is_empty());
    assert_eq!(net.nodes[KS].store().refused(&id).unwrap(), None);
}

#[test]
fn a_change_built_on_a_refused_one_is_recorded_with_its_own_author_and_an_unknown_artefact_gets_no_record(
) {
    let (mut net, orgs) = network(12, &[BERGEN, TRONDHEIM]);
    let id = publish(&mut net, &orgs, BERGEN, None);
    // Oslo is not admitted: its node's change is refused as "organisation not admitted".
    let oslo_key = net.nodes[OSLO].key.clone();
    let (base, _) = net.nodes[BERGEN].files(&id, None).unwrap();
    let mut doc = net.nodes[BERGEN].artefact(&id).unwrap().clone();
    let first = doc
        .edit(
            &base,
            &[FileEdit::Write {
                path: "vedlegg.bin".into(),
                content: vec![1, 2, 3],
                executable: false,
            }],
            signed::signed_actor(&oslo_key.public(), [1; 8]),
            5,
            "oslo",
            |_| None,
        )
        .unwrap()
        .change
        .unwrap();
    // Bergen (the owner) builds on it: refused with it, as built on a refused change.
    let bergen_key = net.nodes[BERGEN].key.clone();
    let second = doc
        .edit(
            &[first.hash()],
            &[FileEdit::Write {
                path: "vedlegg.bin".into(),
                content: vec![4, 5, 6],
                executable: false,
            }],
            signed::signed_actor(&bergen_key.public(), [2; 8]),
            6,
            "bergen on oslo",
            |_| None,
        )
        .unwrap()
        .change
        .unwrap();
    let response = Response::Changes {
        id,
        heads: vec![Head::from(second.hash())],
        changes: vec![
            WireChange {
                bytes: first.raw_bytes().to_vec(),
                proof: signed::sign_change(&oslo_key, &first.hash()),
            },
            WireChange {
                bytes: second.raw_bytes().to_vec(),
                proof: signed::sign_change(&bergen_key, &second.hash()),
            },
        ],
        origin_blobs: vec![],
    };
    net.nodes[KS].handle_response(OSLO, &pull_request(&id), &response.encode());
    let log = net.nodes[KS].refused_changes(&id).unwrap();
    assert_eq!(log.count(), 2, "{log:?}");
    let groups = log.groups();
    let reason_of = |org: OrgNumber| groups.iter().find(|g| g.org == Some(org)).map(|g| g.reason);
    assert_eq!(
        reason_of(orgs[OSLO].number),
        Some(crate::refused::RefusalReason::NotAdmitted),
        "{groups:?}"
    );
    assert_eq!(
        reason_of(orgs[BERGEN].number),
        Some(crate::refused::RefusalReason::BuildsOnRefused),
        "{groups:?}"
    );

    // Changes for an artefact this node does not hold leave no record (nothing a peer can
    // grow without bound).
    let unknown = ArtefactId([9; 16]);
    let response = Response::Changes {
        id: unknown,
        heads: vec![],
        changes: vec![],
        origin_blobs: vec![],
    };
    net.nodes[KS].handle_response(OSLO, &pull_request(&unknown), &response.encode());
    assert_eq!(net.nodes[KS].store().refused(&unknown).unwrap(), None);
}

#[test]
fn accepting_a_proposal_that_overlaps_a_later_edit_makes_a_conflict_review_foretold() {
    let (mut net, orgs) = network(19, &[BERGEN, TRONDHEIM, OSLO]);
    let id = publish(&mut net, &orgs, BERGEN, None);
    net.run(100_000);
    // Trondheim proposes a new risk level; Bergen meanwhile sets another one itself.
    let (base, _) = net.nodes[TRONDHEIM].files(&id, None).unwrap();
    let (now, nonce) = (net.now, net.nonce());
    let proposal = net.nodes[TRONDHEIM]
        .propose(
            &id,
            &base,
            &[FileEdit::Write {
                path: "dpia.md".into(),
                content: b"# DPIA\n\nRisiko: middels\n".to_vec(),
                executable: false,
            }],
            "Middels risiko",
            now,
            nonce,
        )
        .unwrap();
    edit(&mut net, BERGEN, &id, "# DPIA\n\nRisiko: høy\n").unwrap();
    net.run(100_000);
    let (_, _, after, conflicts) = net.nodes[BERGEN]
        .proposal_files(&proposal.to_hex())
        .unwrap();
    assert_eq!(conflicts.len(), 1, "review says accepting would conflict");
    assert_eq!(conflicts[0].path, "dpia.md");
    let shown = String::from_utf8(
        after
            .iter()
            .find(|f| f.path == "dpia.md")
            .unwrap()
            .content
            .clone(),
    )
    .unwrap();
    assert!(
        shown.contains("<<<<<<< ")
            && shown.contains("Risiko: middels\n")
            && shown.contains("Risiko: høy\n"),
        "{shown}"
    );
    net.nodes[BERGEN]
        .decide_proposal(&proposal.to_hex(), true, now + 2)
        .unwrap();
    net.run(100_000);
    for n in [KS, BERGEN, TRONDHEIM, OSLO] {
        let conflicts = net.nodes[n].conflicts(&id, None).unwrap();
        assert_eq!(conflicts.len(), 1, "node {n}");
        let (_, files) = net.nodes[n].files(&id, None).unwrap();
        let text = String::from_utf8(
            files
                .iter()
                .find(|f| f.path == "dpia.md")
                .unwrap()
                .content
                .clone(),
        )
        .unwrap();
        assert_eq!(text, shown, "node {n}: the same markers, no interleaving");
    }
}

#[test]
fn pulling_an_upstream_edit_of_a_line_the_adaptation_changed_too_is_a_conflict_everywhere() {
    let (mut net, orgs) = network(23, &[BERGEN, TRONDHEIM, OSLO]);
    let upstream = publish(&mut net, &orgs, OSLO, None);
    let (now, nonce) = (net.now, net.nonce());
    let id = net.nodes[BERGEN]
        .adopt(&upstream, None, "DPIA for Bergen", now, nonce)
        .unwrap();
    net.run(100_000);
    // The same line, changed in the adaptation and upstream.
    edit(&mut net, BERGEN, &id, "# DPIA\n\nRisiko: høy\n")
        .unwrap()
        .unwrap();
    edit(&mut net, OSLO, &upstream, "# DPIA\n\nRisiko: middels\n")
        .unwrap()
        .unwrap();
    net.run(100_000);
    let merge = net.nodes[BERGEN].pull_upstream(&id).unwrap();
    assert_eq!(merge.merged, 1);
    net.run(100_000);
    let mut seen = None;
    for n in [KS, BERGEN, OSLO] {
        let conflicts = net.nodes[n].conflicts(&id, None).unwrap();
        assert_eq!(conflicts.len(), 1, "node {n}");
        assert_eq!(
            conflicts[0].kind,
            crate::artefact::conflict::ConflictKind::Text
        );
        let text = text_of(&mut net, n, &id);
        assert!(
            text.contains("<<<<<<< ")
                && text.contains("Risiko: høy\n")
                && text.contains("Risiko: middels\n"),
            "node {n}: {text}"
        );
        assert!(
            !text.contains("høymiddels") && !text.contains("middelshøy"),
            "{text}"
        );
        if let Some(prev) = &seen {
            assert_eq!(prev, &text, "node {n}: the same markers");
        }
        seen = Some(text);
    }
    // The upstream itself is untouched by the adaptation's conflict.
    assert!(net.nodes[OSLO]
        .conflicts(&upstream, None)
        .unwrap()
        .is_empty());
}

#[test]
fn a_revoked_reader_is_given_the_access_list_that_revoked_it_and_none_after() {
    let (mut net, orgs) = network(13, &[BERGEN, TRONDHEIM, OSLO]);
    net.connect(BERGEN, TRONDHEIM);
    net.connect(BERGEN, OSLO);
    net.run(100_000);
    let id = publish(&mut net, &orgs, BERGEN, Some(vec![orgs[TRONDHEIM].number]));
    assert!(has(&mut net, TRONDHEIM, &id));
    assert!(!net.nodes[TRONDHEIM].read_access_revoked(&id));
    let now = net.now;
    let revoking = net.nodes[BERGEN]
        .revoke_access(&id, orgs[TRONDHEIM].number, now)
        .unwrap();
    net.run(100_000);
    assert!(net.nodes[TRONDHEIM].read_access_revoked(&id));
    assert!(net.nodes[TRONDHEIM]
        .trust()
        .unwrap()
        .get(&revoking)
        .is_some());
    // A later access list (Oslo may read now, at heads Trondheim never saw) is not its business.
    let now = net.now;
    let later = net.nodes[BERGEN]
        .grant(&id, orgs[OSLO].number, Role::Reader, now)
        .unwrap();
    net.run(100_000);
    assert!(net.nodes[OSLO].trust().unwrap().get(&later).is_some());
    assert!(
        net.nodes[TRONDHEIM].trust().unwrap().get(&later).is_none(),
        "a revoked reader learns who may read after it"
    );
    // Asked for statements, the owner's node gives it only the one that revoked it.
    let answer =
        net.nodes[BERGEN].handle_request(TRONDHEIM, &Request::Statements { have: vec![] }.encode());
    let Ok(Response::Statements { statements }) = Response::decode(&answer) else {
        panic!("statements")
    };
    let access: Vec<crate::trust::StatementId> = statements
        .iter()
        .map(|s| SignedStatement::decode(&s.0).unwrap())
        .filter(|s| matches!(s.body, Statement::Access { artefact, .. } if artefact == id))
        .map(|s| s.id())
        .collect();
    assert_eq!(access, vec![revoking]);
    assert!(net.nodes[TRONDHEIM].read_access_revoked(&id));
}
