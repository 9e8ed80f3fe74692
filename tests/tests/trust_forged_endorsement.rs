//! Forged and replayed endorsements.
//!
//! Uses the hidden test hooks `allmenning debug statements` and `allmenning debug
//! inject-statement HEX` (nodes started with ALLMENNING_TEST_HOOKS=1): statements are built and
//! taken apart with `allmenning_protocol`, exactly as they travel between nodes.
//!
//! - An endorsement signed by a key that is no curator never counts, wherever it goes.
//! - KS's real endorsement with its body altered, or a statement claiming KS's key but signed by
//!   another key, fails the signature check and is refused.
//! - Replay: KS endorses twice (seq 1, then seq 2). A node that holds seq 2 but never saw seq 1
//!   refuses seq 1 when it is replayed to it, and keeps showing the newer verdict; a node that
//!   holds both keeps showing the newer verdict when seq 1 is offered again.

use allmenning_protocol::trust::{EndorsementStatus, SignedStatement, Statement};
use allmenning_protocol::wire::Head;
use allmenning_protocol::{ArtefactId, NodeKey};
use allmenning_tests::*;
use serde_json::Value;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn decode(hex: &str) -> SignedStatement {
    SignedStatement::decode(&from_hex(hex))
        .unwrap_or_else(|e| panic!("debug statements printed an undecodable statement: {e}"))
}

/// KS's endorsement of `id` with sequence number `seq`, from `debug statements` on KS.
fn endorsement_with_seq(ks: &Node, id: &ArtefactId, seq: u64) -> (String, SignedStatement) {
    ks.debug_statements()
        .into_iter()
        .map(|h| {
            let s = decode(&h);
            (h, s)
        })
        .find(|(_, s)| {
            matches!(&s.body, Statement::Endorse { artefact, seq: q, .. } if artefact == id && *q == seq)
        })
        .unwrap_or_else(|| panic!("KS holds no endorsement of {id} with seq {seq}"))
}

/// The endorsements `n` shows for `id`, asserting they are exactly KS's one with `status`/`seq`.
fn assert_only_ks(n: &Node, id: &str, status: &str, seq: u64) -> Value {
    let es = n.endorsements(id);
    assert_eq!(
        es.len(),
        1,
        "{} shows exactly KS's endorsement: {es:?}",
        n.name()
    );
    let e = es[0].clone();
    assert_eq!(e["curator"], KS.number, "{}: {e}", n.name());
    assert_eq!(e["status"], status, "{}: {e}", n.name());
    assert_eq!(e["seq"], seq, "{}: {e}", n.name());
    e
}

#[test]
fn trust_forged_endorsement() {
    let mut ks = Node::init("ks", KS);
    let mut bergen = Node::init("bergen", BERGEN);
    let mut trondheim = Node::init("trondheim", TRONDHEIM);
    for n in [&mut ks, &mut bergen, &mut trondheim] {
        n.set_env("ALLMENNING_TEST_HOOKS", "1");
        n.spawn();
    }
    form_network(&ks, &[&bergen, &trondheim]);

    let src = bergen.scratch().join("src");
    write_tree(&src, &[("integrasjon.py", b"def hent():\n    return 42\n")]);
    let id = bergen.publish(&src, "Folkeregisterintegrasjon");
    let heads = bergen.heads(&id).unwrap();
    for n in [&ks, &trondheim] {
        n.wait_complete_with(&id, &heads, secs(30));
    }
    let artefact: ArtefactId = id.parse().expect("an artefact id");
    let wire_heads: Vec<Head> = heads
        .iter()
        .map(|h| Head(from_hex(h).try_into().expect("a head is 32 bytes")))
        .collect();

    // Trondheim goes offline while KS endorses twice: approved (seq 1), then recommended (seq 2).
    trondheim.stop();
    ks.ok(&[
        "curate",
        "endorse",
        &id,
        "--status",
        "approved",
        "--note",
        "Første vurdering",
    ]);
    wait_until(secs(20), "Bergen shows KS's first endorsement", || {
        bergen.endorsements(&id).iter().any(|e| e["seq"] == 1)
    });
    // Kept by the adversary while it is current: nodes drop an endorsement once the same
    // curator's higher seq supersedes it.
    let (first_hex, first) = endorsement_with_seq(&ks, &artefact, 1);
    ks.ok(&[
        "curate",
        "endorse",
        &id,
        "--status",
        "recommended",
        "--note",
        "Ny vurdering",
    ]);
    wait_until(secs(20), "Bergen shows KS's second endorsement", || {
        bergen.endorsements(&id).iter().any(|e| e["seq"] == 2)
    });
    assert_only_ks(&bergen, &id, "recommended", 2);
    assert!(
        !ks.debug_statements().contains(&first_hex),
        "KS no longer keeps its superseded endorsement"
    );
    let (second_hex, second) = endorsement_with_seq(&ks, &artefact, 2);
    assert_eq!(first.signer, second.signer, "both signed by KS's org key");
    assert!(
        matches!(
            first.body,
            Statement::Endorse {
                status: EndorsementStatus::Approved,
                ..
            }
        ),
        "{first:?}"
    );
    let ks_org_key = ks.own_org()["org_key"].as_str().unwrap().to_string();
    assert_eq!(
        first.signer.to_hex(),
        ks_org_key,
        "KS endorses with its org key"
    );

    // Replay to a node that held both: seq 1 was superseded there (the node may answer that it
    // has it, or refuse it as a replay), and changes nothing.
    let _ = bergen.inject_statement(&first_hex);
    assert_only_ks(&bergen, &id, "recommended", 2);

    // KS goes away; Trondheim comes back with nobody to talk to (KS was its only peer), so it
    // holds the artefact but no endorsement at all.
    ks.stop();
    trondheim.spawn();
    assert_eq!(
        trondheim
            .peers()
            .iter()
            .filter(|p| p["connected"] == true)
            .count(),
        0
    );
    assert_eq!(trondheim.endorsements(&id), Vec::<Value>::new());

    // Seq 2 arrives (as a peer would send it): accepted and shown.
    let out = trondheim.inject_statement(&second_hex);
    assert!(
        out.status.success(),
        "KS's seq 2 is accepted\n{}",
        describe(&out)
    );
    let e = assert_only_ks(&trondheim, &id, "recommended", 2);
    assert_eq!(e["current"], true, "{e}");
    assert_eq!(e["note"], "Ny vurdering", "{e}");

    // Replay of seq 1 (validly signed by KS, but older): refused, and the newer verdict stays.
    let out = trondheim.inject_statement(&first_hex);
    assert!(
        !out.status.success(),
        "a replayed older endorsement must be refused\n{}",
        describe(&out)
    );
    assert!(
        output_text(&out).contains("replay"),
        "the refusal says it is a replay\n{}",
        describe(&out)
    );
    assert_only_ks(&trondheim, &id, "recommended", 2);

    // KS's real statement with its body altered (approved -> withdrawn, seq 3): bad signature.
    let mut altered = second.clone();
    altered.body = Statement::Endorse {
        artefact,
        heads: wire_heads.clone(),
        status: EndorsementStatus::Withdrawn,
        note: "Trukket tilbake".into(),
        seq: 3,
    };
    let out = trondheim.inject_statement(&to_hex(&altered.encode()));
    assert!(
        !out.status.success(),
        "an altered statement must fail its signature check\n{}",
        describe(&out)
    );
    assert!(
        output_text(&out).to_lowercase().contains("signature"),
        "the refusal names the signature\n{}",
        describe(&out)
    );

    // A random key signs an endorsement and claims to be KS's key: bad signature.
    let forger = NodeKey::from_secret(random_secret());
    let forged_body = Statement::Endorse {
        artefact,
        heads: wire_heads.clone(),
        status: EndorsementStatus::Withdrawn,
        note: "Forfalsket".into(),
        seq: 1000,
    };
    let mut impostor = SignedStatement::sign(forged_body.clone(), &forger, now());
    impostor.signer = second.signer;
    let out = trondheim.inject_statement(&to_hex(&impostor.encode()));
    assert!(
        !out.status.success(),
        "a statement claiming KS's key without its signature must be refused\n{}",
        describe(&out)
    );

    // A random key signs an endorsement as itself: it is no curator, so it never counts (the
    // node may refuse it outright, or hold it without counting it).
    let forged = SignedStatement::sign(forged_body, &forger, now());
    let forged_hex = to_hex(&forged.encode());
    let forged_out = trondheim.inject_statement(&forged_hex);
    assert_only_ks(&trondheim, &id, "recommended", 2);
    let held = trondheim.debug_statements().contains(&forged_hex);
    assert!(
        !forged_out.status.success() || held,
        "an accepted statement is held\n{}",
        describe(&forged_out)
    );
    let _ = bergen.inject_statement(&forged_hex);
    assert_only_ks(&bergen, &id, "recommended", 2);

    // Trondheim meets Bergen: whatever it holds spreads, and neither counts the forgery nor
    // lets seq 1 win.
    trondheim.connect(&bergen);
    trondheim.wait_connected(&bergen);
    let src2 = bergen.scratch().join("src2");
    write_tree(&src2, &[("merknad.txt", b"Synkronisert\n")]);
    let id2 = bergen.publish(&src2, "Merknad");
    let h2 = bergen.heads(&id2).unwrap();
    trondheim.wait_complete_with(&id2, &h2, secs(30));
    for n in [&bergen, &trondheim] {
        let e = assert_only_ks(n, &id, "recommended", 2);
        assert_eq!(e["current"], true, "{}: {e}", n.name());
        assert_eq!(e["note"], "Ny vurdering", "{}: {e}", n.name());
        assert_eq!(heads_of(&e), heads, "{}: {e}", n.name());
    }
}
