//! Admission: an organisation whose node joined the network cannot publish until a curator (KS)
//! admits it, and the curator's check of the org key fingerprint stops a wrong key from being
//! admitted. Once admitted, its artefacts replicate, and every node knows who admitted it. The
//! changes of an organisation that was never admitted are refused by the others.

use allmenning_tests::*;

#[test]
fn trust_admission() {
    let ks = Node::start("ks", KS);
    let bergen = Node::start("bergen", BERGEN);
    let trondheim = Node::start("trondheim", TRONDHEIM);
    let oslo = Node::start("oslo", OSLO);

    // Oslo publishes while it is in no network at all (allowed: there is nobody to ask), and
    // never gets admitted below: the others must not take its artefact.
    let oslo_src = oslo.scratch().join("oslo-src");
    write_tree(
        &oslo_src,
        &[("plan.md", b"Oslo sin plan, aldri tatt opp\n")],
    );
    let oslo_id = oslo.publish(&oslo_src, "Oslo utenfor nettet");

    // KS creates the network; the three kommuner join it (joining dials KS).
    let file = ks.create_network("kommunenett");
    let ks_fp = ks.json(&["network", "show"])["fingerprint"]
        .as_str()
        .expect("network show --json has a fingerprint")
        .to_string();
    for n in [&bergen, &trondheim, &oslo] {
        let joined = n.join_network(&file);
        assert_eq!(
            joined["fingerprint"],
            ks_fp,
            "{} joined the network KS created",
            n.name()
        );
        n.wait_connected(&ks);
    }

    // Before admission: Bergen is in the network but not admitted, and cannot publish.
    let bergen_fp = bergen.own_org()["fingerprint"]
        .as_str()
        .expect("org show --json has a fingerprint")
        .to_string();
    assert_eq!(
        Some(bergen_fp.as_str()),
        bergen.org_key_fingerprint(),
        "org show and init agree on Bergen's org key fingerprint"
    );
    assert_eq!(bergen.own_org()["admitted"], false);
    assert_eq!(bergen.status()["admitted"], false);
    let src = bergen.scratch().join("src");
    let content = "# Felles innbyggerdialog\n\nBergen deler sin løsning.\n";
    write_tree(&src, &[("README.md", content.as_bytes())]);
    let src_arg = src.to_str().unwrap();
    let refused = bergen.cli(&[
        "publish",
        src_arg,
        "--kind",
        KIND,
        "--title",
        "Innbyggerdialog",
    ]);
    assert!(
        !refused.status.success(),
        "an unadmitted organisation's publish must fail\n{}",
        describe(&refused)
    );
    let msg = output_text(&refused);
    assert!(
        msg.contains("not admitted") && msg.contains("curate admit"),
        "the refusal says the organisation is not admitted and what to do\n{}",
        describe(&refused)
    );
    assert_eq!(
        bergen.list().len(),
        0,
        "the refused publish left nothing behind"
    );

    // KS sees Bergen's announcement, but a wrong fingerprint is refused.
    wait_until(secs(20), "KS has seen Bergen announce itself", || {
        ks.org_detail(BERGEN.number).is_some()
    });
    let seen = ks.org_detail(BERGEN.number).unwrap();
    assert_eq!(seen["admitted"], false, "{seen}");
    assert_eq!(seen["fingerprint"], bergen_fp.as_str(), "{seen}");
    // The right fingerprint with its first digit changed.
    let first = if bergen_fp.starts_with('0') { '1' } else { '0' };
    let wrong_fp: String = std::iter::once(first)
        .chain(bergen_fp.chars().skip(1))
        .collect();
    let wrong = ks.cli(&["curate", "admit", BERGEN.number, "--fingerprint", &wrong_fp]);
    assert!(
        !wrong.status.success(),
        "admitting with the wrong fingerprint must fail\n{}",
        describe(&wrong)
    );
    assert!(
        output_text(&wrong).contains("fingerprint"),
        "the refusal names the fingerprint mismatch\n{}",
        describe(&wrong)
    );
    assert_eq!(ks.org_detail(BERGEN.number).unwrap()["admitted"], false);

    // Admission with the fingerprint Bergen gave (and Trondheim's). Oslo stays unadmitted.
    let statement = admit(&ks, &bergen);
    assert_eq!(statement["kind"], "admit", "{statement}");
    admit(&ks, &trondheim);
    let all = [&ks, &bergen, &trondheim, &oslo];
    wait_orgs_admitted(
        &all,
        &[KS.number, BERGEN.number, TRONDHEIM.number],
        secs(30),
    );
    wait_until(secs(20), "Bergen reports itself admitted", || {
        bergen.status()["admitted"] == true
    });

    // Now Bergen publishes, and the artefact reaches Trondheim complete.
    let id = bergen.publish(&src, "Innbyggerdialog");
    let heads = bergen.heads(&id).unwrap();
    trondheim.wait_complete_with(&id, &heads, secs(30));
    ks.wait_complete_with(&id, &heads, secs(30));
    let exported = trondheim.export_tree(&id, "trondheim");
    assert_eq!(exported["README.md"], content.as_bytes());
    let row = trondheim.row(&id).unwrap();
    assert_eq!(row["owner"], BERGEN.number, "{row}");

    // Every node knows who admitted Bergen, and with which key.
    for n in all {
        let org = n
            .org_detail(BERGEN.number)
            .unwrap_or_else(|| panic!("{} knows Bergen", n.name()));
        assert_eq!(org["admitted"], true, "{}: {org}", n.name());
        assert_eq!(org["admitted_by"], KS.number, "{}: {org}", n.name());
        assert_eq!(
            org["fingerprint"],
            bergen_fp.as_str(),
            "{}: {org}",
            n.name()
        );
        assert_eq!(org["name"], BERGEN.name, "{}: {org}", n.name());
    }

    // Oslo, never admitted: still cannot publish, and its pre-network artefact reached nobody
    // (Bergen's artefact did reach Trondheim and KS, so they have synced since Oslo joined).
    assert_eq!(oslo.status()["admitted"], false);
    let oslo_refused = oslo.cli(&[
        "publish",
        oslo_src.to_str().unwrap(),
        "--kind",
        KIND,
        "--title",
        "Oslo igjen",
    ]);
    assert!(
        !oslo_refused.status.success() && output_text(&oslo_refused).contains("not admitted"),
        "{}",
        describe(&oslo_refused)
    );
    // Give the others a fair chance to pull from Oslo: Oslo reconnects to KS and to Trondheim.
    oslo.connect(&trondheim);
    trondheim.wait_connected(&oslo);
    let oslo_seen = ks.org_detail(OSLO.number);
    assert!(
        oslo_seen.as_ref().is_none_or(|o| o["admitted"] == false),
        "KS does not count Oslo as admitted: {oslo_seen:?}"
    );
    wait_until(secs(20), "KS logs that it refused Oslo's data", || {
        !ks.refusals_naming(OSLO.number).is_empty()
            || !trondheim.refusals_naming(OSLO.number).is_empty()
    });
    for n in [&ks, &bergen, &trondheim] {
        assert!(
            n.row(&oslo_id).is_none(),
            "{} took the artefact of unadmitted Oslo\n{}",
            n.name(),
            n.log_tail(40)
        );
    }
}
