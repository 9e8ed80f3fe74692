//! Issue 11, "nothing silently lost": when the owner of a restricted artefact revokes an
//! organisation's read access, that organisation's node must say so. Before, the new access
//! list went only to the organisations still allowed to read, so the revoked reader never
//! learnt of it: its `show` kept listing it as a reader of a complete artefact while nothing
//! more arrived. Now the owner's node offers the access list to the organisations that lost
//! access, and `show` on their nodes says the access was revoked (`access_revoked` in --json).

use allmenning_tests::*;

fn readers_in(show: &serde_json::Value) -> Vec<String> {
    array_of(show, "readers")
        .iter()
        .filter_map(|r| r.as_str().map(String::from))
        .collect()
}

#[test]
fn revoked_reader_show() {
    let ks = Node::start("ks", KS);
    let bergen = Node::start("bergen", BERGEN);
    let trondheim = Node::start("trondheim", TRONDHEIM);
    form_network(&ks, &[&bergen, &trondheim]);
    trondheim.connect(&bergen);
    trondheim.wait_connected(&bergen);
    wait_until(secs(20), "bergen knows trondheim is admitted", || {
        bergen.sees_admitted(TRONDHEIM.number)
    });

    let src = bergen.scratch().join("ros");
    write_tree(&src, &[("ros.md", b"# ROS\n\nVersjon 1.\n")]);
    let published = bergen.json(&[
        "publish",
        src.to_str().unwrap(),
        "--kind",
        "ros",
        "--title",
        "ROS delt med Trondheim",
        "--share-with",
        TRONDHEIM.number,
    ]);
    let id = published["id"]
        .as_str()
        .expect("publish --json has id")
        .to_string();
    let heads = bergen.heads(&id).unwrap();
    trondheim.wait_complete_with(&id, &heads, secs(30));
    let before = trondheim.show(&id);
    assert_eq!(before["access_revoked"], false, "{before}");
    assert_eq!(readers_in(&before), vec![TRONDHEIM.number.to_string()]);

    bergen.ok(&["access", "revoke", &id, TRONDHEIM.number]);

    // Trondheim learns it: no longer a reader, and `show` says what that means.
    let after = wait_for(
        secs(20),
        "trondheim's show says its access was revoked",
        || {
            trondheim
                .try_json(&["show", &id])
                .filter(|v| v["access_revoked"] == true)
        },
    );
    assert!(
        !readers_in(&after).contains(&TRONDHEIM.number.to_string()),
        "{after}"
    );
    assert_eq!(after["visibility"], "restricted", "{after}");
    let text = output_text(&trondheim.ok(&["show", &id]));
    assert!(
        text.contains("your organisation's read access was revoked by Bergen kommune")
            && text.contains("no further changes reach it"),
        "{text}"
    );
    // The owner's own node is not told it lost anything.
    assert_eq!(bergen.show(&id)["access_revoked"], false);

    // And indeed nothing further arrives.
    let work = bergen.checkout(&id, "bergen");
    std::fs::write(work.join("ros.md"), "# ROS\n\nVersjon 2.\n").unwrap();
    let change = bergen.commit(&work, "Versjon 2");
    std::thread::sleep(std::time::Duration::from_secs(6));
    assert!(!trondheim.has_change(&id, &change));
    assert_eq!(trondheim.heads(&id).unwrap(), heads);
}
