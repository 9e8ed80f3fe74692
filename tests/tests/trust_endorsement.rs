//! Endorsements: KS (the root curator) endorses an exact version of Bergen's artefact; every
//! node shows it, tells whether it is still the current version and how many changes came
//! since, and `checkout --endorsed` gives the endorsed version. A non-curator cannot endorse;
//! an organisation KS delegates the right to can, until KS revokes the delegation. A curator
//! can withdraw its endorsement.

use allmenning_tests::*;
use serde_json::Value;

const NOTE: &str = "Gjennomgått av KS, i tråd med Normen";

/// The one endorsement `n` shows for `id`, once it shows exactly one with `current == current`.
fn wait_endorsement(n: &Node, id: &str, current: bool) -> Value {
    let mut last = Vec::new();
    wait_until(
        secs(30),
        &format!(
            "{} shows one endorsement of {id} with current={current}",
            n.name()
        ),
        || {
            last = n.endorsements(id);
            last.len() == 1 && last[0]["current"] == current
        },
    );
    last.remove(0)
}

#[test]
fn trust_endorsement() {
    let ks = Node::start("ks", KS);
    let bergen = Node::start("bergen", BERGEN);
    let trondheim = Node::start("trondheim", TRONDHEIM);
    let oslo = Node::start("oslo", OSLO);
    form_network(&ks, &[&bergen, &trondheim, &oslo]);
    let all = [&ks, &bergen, &trondheim, &oslo];

    let src = bergen.scratch().join("src");
    let v1 = "# Veileder for innkjøp\n\nVersjon 1: bruk Normen.\n";
    write_tree(&src, &[("veileder.md", v1.as_bytes())]);
    let id = bergen.publish(&src, "Innkjøpsveileder");
    let endorsed_heads = bergen.heads(&id).unwrap();
    for n in all {
        n.wait_complete_with(&id, &endorsed_heads, secs(30));
        assert_eq!(n.endorsements(&id), Vec::<Value>::new(), "{}", n.name());
    }

    // Bergen is no curator: it cannot endorse, not even its own artefact.
    let denied = bergen.cli(&[
        "curate", "endorse", &id, "--status", "approved", "--note", "selv",
    ]);
    assert!(
        !denied.status.success(),
        "a non-curator's endorse must fail\n{}",
        describe(&denied)
    );
    assert!(
        output_text(&denied).contains("may not endorse"),
        "the error says Bergen may not endorse\n{}",
        describe(&denied)
    );

    // KS endorses the current version; every node shows it as current.
    let statement = ks.json(&[
        "curate", "endorse", &id, "--status", "approved", "--note", NOTE,
    ]);
    assert_eq!(statement["kind"], "endorse", "{statement}");
    for n in all {
        let e = wait_endorsement(n, &id, true);
        assert_eq!(e["status"], "approved", "{}: {e}", n.name());
        assert_eq!(e["curator"], KS.number, "{}: {e}", n.name());
        assert_eq!(e["curator_name"], KS.name, "{}: {e}", n.name());
        assert_eq!(e["note"], NOTE, "{}: {e}", n.name());
        assert_eq!(heads_of(&e), endorsed_heads, "{}: {e}", n.name());
        assert_eq!(e["changes_since"], 0, "{}: {e}", n.name());
        assert_eq!(e["seq"], 1, "{}: {e}", n.name());
    }

    // Bergen commits: the endorsement stays, but is no longer current, one change behind.
    let work = bergen.checkout(&id, "bergen");
    let v2 = "# Veileder for innkjøp\n\nVersjon 2: ikke gjennomgått ennå.\n";
    std::fs::write(work.join("veileder.md"), v2).unwrap();
    let change = bergen.commit(&work, "Versjon 2");
    let heads = wait_same_heads(&all, &id, secs(30));
    assert_eq!(heads, vec![change]);
    for n in all {
        let e = wait_endorsement(n, &id, false);
        assert_eq!(e["status"], "approved", "{}: {e}", n.name());
        assert_eq!(heads_of(&e), endorsed_heads, "{}: {e}", n.name());
        assert_eq!(
            e["changes_since"],
            1,
            "{}: one commit came after the endorsed version: {e}",
            n.name()
        );
    }

    // Oslo checks out the endorsed version (the old text); the plain checkout has the new one.
    let endorsed_dir = oslo.scratch().join("endorsed");
    oslo.ok(&[
        "checkout",
        &id,
        endorsed_dir.to_str().unwrap(),
        "--endorsed",
    ]);
    let tree = read_tree(&endorsed_dir, true);
    assert_eq!(
        String::from_utf8_lossy(&tree["veileder.md"]),
        v1,
        "checkout --endorsed gives the endorsed version"
    );
    let latest = oslo.checkout(&id, "latest");
    assert_eq!(
        std::fs::read_to_string(latest.join("veileder.md")).unwrap(),
        v2
    );

    // The statement hooks are off on a node started without ALLMENNING_TEST_HOOKS=1.
    for args in [
        &["debug", "statements"][..],
        &["debug", "inject-statement", "00"][..],
    ] {
        let out = oslo.cli(args);
        assert!(
            !out.status.success() && output_text(&out).contains("test hooks are disabled"),
            "`allmenning {}` must be refused without test hooks\n{}",
            args.join(" "),
            describe(&out)
        );
    }

    // KS delegates the right to endorse to Trondheim, which then endorses too.
    let delegated = ks.json(&["curate", "delegate", TRONDHEIM.number, "--scope", "endorse"]);
    assert_eq!(delegated["kind"], "delegate", "{delegated}");
    wait_until(secs(20), "Trondheim sees itself as curator", || {
        trondheim
            .org_detail(TRONDHEIM.number)
            .is_some_and(|o| o["curator"]["scopes"] == serde_json::json!(["endorse"]))
    });
    trondheim.ok(&[
        "curate", "endorse", &id, "--status", "reviewed", "--note", "Sett",
    ]);
    for n in all {
        wait_until(
            secs(20),
            &format!("{} shows both KS's and Trondheim's endorsements", n.name()),
            || {
                let es = n.endorsements(&id);
                es.len() == 2
                    && es.iter().any(|e| {
                        e["curator"] == TRONDHEIM.number
                            && e["status"] == "reviewed"
                            && e["current"] == true
                    })
            },
        );
    }

    // KS withdraws its own endorsement: it disappears everywhere, Trondheim's stays.
    ks.ok(&["curate", "revoke", "--endorsement", &id]);
    for n in all {
        wait_until(
            secs(20),
            &format!("{} shows only Trondheim's endorsement", n.name()),
            || {
                let es = n.endorsements(&id);
                es.len() == 1 && es[0]["curator"] == TRONDHEIM.number
            },
        );
    }

    // KS revokes the delegation: Trondheim can no longer endorse.
    ks.ok(&["curate", "revoke", "--delegation", TRONDHEIM.number]);
    wait_until(secs(20), "Trondheim sees its delegation revoked", || {
        trondheim
            .org_detail(TRONDHEIM.number)
            .is_some_and(|o| o["curator"].is_null())
    });
    let denied = trondheim.cli(&["curate", "endorse", &id, "--status", "approved"]);
    assert!(
        !denied.status.success() && output_text(&denied).contains("may not endorse"),
        "an organisation whose delegation was revoked cannot endorse\n{}",
        describe(&denied)
    );

    // Bergen's refused attempt left no endorsement anywhere.
    for n in all {
        let es = n.endorsements(&id);
        assert!(
            es.iter().all(|e| e["curator"] != BERGEN.number),
            "{} shows an endorsement by Bergen: {es:?}",
            n.name()
        );
    }
}
