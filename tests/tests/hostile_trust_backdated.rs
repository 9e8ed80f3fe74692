//! Issue 10, finding 6: an expired curator endorses and admits forever by backdating.
//!
//! A delegation of curator rights can end (`curate delegate ... --expires`). Today a node
//! checks whether the curator's rights held at the date the curator itself wrote into the
//! statement, so once its rights have run out it signs with an earlier date and every node
//! counts the statement. A node must judge expiry by its own clock when it first sees a
//! statement (the fix allows clocks to disagree by up to 10 minutes).
//!
//! So the delegation here ended an hour ago: KS delegated `admit` and `endorse` to Bergen from
//! two hours ago until one hour ago. No CLI signs in the past (`curate delegate --expires`
//! refuses a past time, and a delegation that ends a few seconds from now would still be within
//! the clock tolerance when the backdated statement arrives), so the test signs that delegation
//! with KS's own org key from its home, dated when KS would have signed it, and KS's node takes
//! it in (`debug inject-statement`) and spreads it. Then Bergen's org key, in a stranger's
//! hands, signs an endorsement of Trondheim's artefact and an admission of a made-up
//! organisation, both dated 30 minutes before the delegation ended, and offers and gossips them
//! to Trondheim. Trondheim must count neither: no endorsement in `show --json`, the organisation
//! not admitted in `org show --all --json`. A statement from a curator whose rights hold, sent
//! the same way right after, does count (so the route works).
//!
//! Measured on today's code: fails; Trondheim shows Bergen's backdated endorsement as an
//! approval of the current version and lists the made-up organisation as admitted by Bergen.

use allmenning_protocol::trust::{EndorsementStatus, Scope};
use allmenning_protocol::wire::Response;
use allmenning_protocol::{NodeKey, OrgKind};
use allmenning_tests::adversary::{self, craft, key_in_home, Adversary};
use allmenning_tests::*;

const HOUR: i64 = 3600;

#[test]
fn an_expired_curator_cannot_endorse_or_admit_by_backdating() {
    let _serial = one_at_a_time();
    let mut ks = Node::init("ks", KS);
    ks.set_env("ALLMENNING_TEST_HOOKS", "1");
    ks.spawn();
    let bergen = Node::start("bergen", BERGEN);
    let trondheim = Node::start("trondheim", TRONDHEIM);
    form_network(&ks, &[&bergen, &trondheim]);
    let (veileder, heads) = trondheim.publish_to(
        &[("veileder.md", b"# Veileder\n\nVersjon 1.\n")],
        "Veileder for innbyggerdialog",
        &[&ks, &bergen],
    );
    let (annet, annet_heads) = trondheim.publish_to(
        &[("rutine.md", b"# Rutine\n")],
        "Rutine for arkiv",
        &[&ks, &bergen],
    );

    // KS delegated admit and endorse to Bergen from two hours ago until one hour ago.
    let ks_key = key_in_home(ks.home(), "org.key");
    let bergen_key = key_in_home(bergen.home(), "org.key");
    let now = unix_now();
    let expired = now - HOUR;
    let delegation = craft::delegation_at(
        &ks_key,
        BERGEN.number,
        bergen_key.public(),
        &[Scope::Admit, Scope::Endorse],
        Some(expired),
        now - 2 * HOUR,
    );
    let injected = ks.inject_statement(&to_hex(&delegation.encode()));
    assert!(injected.status.success(), "{}", describe(&injected));
    wait_until(
        secs(20),
        "Trondheim knows Bergen's delegation (and its end)",
        || {
            trondheim.org_detail(BERGEN.number).is_some_and(|o| {
                o["curator"]["expires"] == expired && o["curator"]["scopes"].as_array().is_some()
            })
        },
    );

    // Bergen's org key, in a stranger's hands, dates an endorsement and an admission to half an
    // hour before the delegation ended, and offers and gossips them to Trondheim.
    let backdated = expired - HOUR / 2;
    let endorsement = craft::endorsement_at(
        &bergen_key,
        adversary::artefact(&veileder),
        &adversary::change_hashes(&heads),
        EndorsementStatus::Approved,
        "Godkjent av Bergen (regional kurator)",
        1,
        backdated,
    );
    let fjordby = craft::fake_org_number(4_242);
    let fjordby_key = NodeKey::from_secret(random_secret());
    let admission = craft::admission_at(
        &bergen_key,
        &fjordby,
        "Fjordby kommune",
        OrgKind::Kommune,
        fjordby_key.public(),
        backdated,
    );
    let adv = Adversary::stranger();
    adv.dial(&trondheim.addr()).expect("the stranger connects");
    let answer = adv.offer(
        trondheim.peer_id(),
        &[endorsement.clone(), admission.clone()],
    );
    assert_eq!(answer, Ok(Response::Ack), "Trondheim took the offer in");
    adv.publish_statement(&endorsement).expect("gossip");
    adv.publish_statement(&admission).expect("gossip");

    // The same route works for a curator whose rights hold: KS's endorsement of another
    // artefact, gossiped right after, counts. By then the backdated ones have been judged.
    let control = craft::endorsement_at(
        &ks_key,
        adversary::artefact(&annet),
        &adversary::change_hashes(&annet_heads),
        EndorsementStatus::Reviewed,
        "Gjennomgått av KS",
        1,
        unix_now(),
    );
    adv.publish_statement(&control).expect("gossip");
    wait_until(secs(20), "Trondheim counts KS's endorsement", || {
        trondheim.endorsements(&annet).len() == 1
    });

    // Neither backdated statement counts.
    let mut counted = Vec::new();
    let endorsements = trondheim.endorsements(&veileder);
    if !endorsements.is_empty() {
        counted.push(format!(
            "the endorsement: show --json lists {endorsements:?}"
        ));
    }
    let admitted = trondheim
        .orgs()
        .into_iter()
        .find(|o| o["number"] == fjordby.as_str() && o["admitted"] == true);
    if let Some(org) = admitted {
        counted.push(format!("the admission: org show --all --json lists {org}"));
    }
    assert!(
        counted.is_empty(),
        "Trondheim counts what Bergen signed an hour after its curator rights ended, dated \
         before they did:\n  {}",
        counted.join("\n  ")
    );
}
