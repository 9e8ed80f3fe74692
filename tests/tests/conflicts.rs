//! Concurrent edits that do not merge become conflicts on every node, keep every side, are
//! shown, and are resolved once for all: the Python same-line case of issue 11, and binary,
//! add/add and delete/edit conflicts, with real node processes.

use allmenning_tests::*;
use std::path::Path;

const SATS: &str =
    "# Redusert foreldrebetaling\nSATS = 0.06\n\nMAKS_INNTEKT_2026 = 677_000\n\nMIN_BETALING = 0\n";

/// KS, Bergen (owner) and Trondheim (maintainer) in one network, with a published artefact.
fn network(files: &[(&str, &[u8])]) -> (Node, Node, Node, String) {
    let ks = Node::start("ks", KS);
    let bergen = Node::start("bergen", BERGEN);
    let trondheim = Node::start("trondheim", TRONDHEIM);
    form_network(&ks, &[&bergen, &trondheim]);
    let (id, _) = bergen.publish_to(files, "Foreldrebetaling", &[&ks, &trondheim]);
    bergen.ok(&["access", "grant", &id, TRONDHEIM.number]);
    wait_until(secs(20), "Trondheim sees itself a maintainer", || {
        trondheim.sees_maintainer(&id, TRONDHEIM.number)
    });
    (ks, bergen, trondheim, id)
}

/// Commits in both checkouts at once, before either node has seen the other's change.
fn commit_both(a: &Node, wa: &Path, b: &Node, wb: &Path) {
    let (ca, cb) = std::thread::scope(|s| {
        let ta = s.spawn(|| a.cli_in(wa, &["commit", "-m", "Bergen"]));
        let tb = s.spawn(|| b.cli_in(wb, &["commit", "-m", "Trondheim"]));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    assert!(ca.status.success(), "commit in Bergen\n{}", describe(&ca));
    assert!(
        cb.status.success(),
        "commit in Trondheim\n{}",
        describe(&cb)
    );
}

fn conflicts_of(node: &Node, id: &str) -> Vec<serde_json::Value> {
    array_of(&node.show(id), "conflicts")
}

fn read(dir: &Path, path: &str) -> String {
    std::fs::read_to_string(dir.join(path)).unwrap_or_default()
}

#[test]
fn the_same_line_changed_at_two_ends_is_a_conflict_on_every_node_until_resolved() {
    let _serial = one_at_a_time();
    let (ks, bergen, trondheim, id) = network(&[("sats.py", SATS.as_bytes())]);
    let wb = bergen.checkout(&id, "b");
    let wt = trondheim.checkout(&id, "t");
    std::fs::write(wb.join("sats.py"), SATS.replace("677_000", "690_000")).unwrap();
    std::fs::write(wt.join("sats.py"), SATS.replace("677_000", "685_500")).unwrap();
    commit_both(&bergen, &wb, &trondheim, &wt);
    let heads = wait_same_heads(&[&ks, &bergen, &trondheim], &id, secs(30));
    assert_eq!(heads.len(), 2, "two concurrent changes: {heads:?}");

    // Every node decides the same conflict and names both organisations.
    for node in [&ks, &bergen, &trondheim] {
        let conflicts = conflicts_of(node, &id);
        assert_eq!(conflicts.len(), 1, "on {}: {conflicts:#?}", node.name());
        let c = &conflicts[0];
        assert_eq!(c["path"], "sats.py");
        assert_eq!(c["kind"], "text");
        let mut orgs: Vec<String> = array_of(c, "sides")
            .iter()
            .map(|s| s["organisation"].as_str().unwrap_or("?").to_string())
            .collect();
        orgs.sort();
        assert_eq!(orgs, vec!["Bergen kommune", "Trondheim kommune"], "{c:#}");
        for side in array_of(c, "sides") {
            assert!(
                side["node"].as_str().is_some_and(|k| k.len() == 64),
                "{side}"
            );
            assert!(side["change"]
                .as_str()
                .is_some_and(|h| heads.contains(&h.to_string())));
        }
        assert_eq!(node.row(&id).unwrap()["conflicts"], 1);
    }
    assert_eq!(conflicts_of(&ks, &id), conflicts_of(&bergen, &id));

    // Pull writes git-style markers naming both sides; nothing interleaved.
    let mut texts = Vec::new();
    for (node, dir) in [(&bergen, &wb), (&trondheim, &wt)] {
        let out = node.ok_in(dir, &["pull"]);
        assert!(
            output_text(&out).contains("conflict"),
            "pull says so\n{}",
            describe(&out)
        );
        let text = read(dir, "sats.py");
        assert!(!text.contains("68590"), "{text}");
        assert!(
            text.contains("<<<<<<< Bergen kommune ") || text.contains("<<<<<<< Trondheim kommune "),
            "{text}"
        );
        assert!(
            text.contains(">>>>>>> Trondheim kommune ") || text.contains(">>>>>>> Bergen kommune "),
            "{text}"
        );
        assert!(text.contains("\n||||||| base "), "{text}");
        assert!(text.contains("MAKS_INNTEKT_2026 = 690_000\n"), "{text}");
        assert!(text.contains("MAKS_INNTEKT_2026 = 685_500\n"), "{text}");
        assert!(
            text.contains("MAKS_INNTEKT_2026 = 677_000\n"),
            "the base, as diff3 shows it: {text}"
        );
        let st = node.json_in(dir, &["status", "--json"]);
        assert_eq!(array_of(&st, "conflicts").len(), 1, "{st}");
        assert_eq!(array_of(&st, "conflicts")[0]["markers"], true, "{st}");
        texts.push(text);
    }
    assert_eq!(texts[0], texts[1], "the same markers on both nodes");

    // Every side's version stays reachable.
    for side in array_of(&conflicts_of(&ks, &id)[0], "sides") {
        let change = side["change"].as_str().unwrap();
        let dir = ks.scratch().join(format!("at-{}", &change[..8]));
        ks.ok(&[
            "checkout",
            &id,
            dir.to_str().unwrap(),
            "--at",
            &change[..10],
        ]);
        let text = read(&dir, "sats.py");
        let value = if side["organisation"] == "Bergen kommune" {
            "690_000"
        } else {
            "685_500"
        };
        assert_eq!(
            text,
            SATS.replace("677_000", value),
            "checkout --at {change}"
        );
    }
    // log marks the sides; the catalogue marks the artefact.
    let log = output_text(&ks.ok(&["log", &id]));
    assert_eq!(
        log.matches("one side of the unresolved text conflict in sats.py")
            .count(),
        2,
        "{log}"
    );
    let catalog = ks.json(&["catalog", "--json"]);
    let entry = catalog
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id.as_str())
        .cloned();
    assert_eq!(
        entry.map(|e| e["conflicts"].clone()),
        Some(serde_json::json!(1))
    );
    // A plain export of a conflicted version is refused, unless asked for.
    let refused = ks.cli(&["export", &id, ks.scratch().join("ut").to_str().unwrap()]);
    assert_eq!(exit_code(&refused), Some(5), "{}", describe(&refused));
    assert!(
        output_text(&refused).contains("sats.py (text)"),
        "{}",
        describe(&refused)
    );
    let out = ks.scratch().join("ut-med");
    ks.ok(&["export", &id, out.to_str().unwrap(), "--allow-conflicts"]);
    assert_eq!(read(&out, "sats.py"), texts[0]);

    // A commit that still holds the markers is refused.
    std::fs::write(wb.join("annet.txt"), "ny fil\n").unwrap();
    std::fs::write(wb.join("sats.py"), format!("{}# kommentar\n", texts[0])).unwrap();
    let refused = bergen.cli_in(&wb, &["commit", "-m", "med markører"]);
    assert_eq!(exit_code(&refused), Some(5), "{}", describe(&refused));
    assert!(
        output_text(&refused).contains("conflict markers"),
        "{}",
        describe(&refused)
    );
    std::fs::write(wb.join("sats.py"), &texts[0]).unwrap();
    std::fs::remove_file(wb.join("annet.txt")).unwrap();

    // Trondheim resolves; the conflict is gone on every node.
    let resolution = SATS.replace("677_000", "690_000");
    std::fs::write(wt.join("sats.py"), &resolution).unwrap();
    let out = trondheim.ok_in(&wt, &["commit", "-m", "Bergens tall gjelder"]);
    assert!(output_text(&out).contains("resolved"), "{}", describe(&out));
    let after = wait_same_heads(&[&ks, &bergen, &trondheim], &id, secs(30));
    assert_eq!(after.len(), 1);
    for node in [&ks, &bergen, &trondheim] {
        wait_until(secs(10), "the conflict is resolved", || {
            conflicts_of(node, &id).is_empty()
        });
        assert_eq!(node.row(&id).unwrap()["conflicts"], 0);
    }
    bergen.ok_in(&wb, &["pull"]);
    assert_eq!(read(&wb, "sats.py"), resolution);
    let st = bergen.json_in(&wb, &["status", "--json"]);
    assert!(array_of(&st, "conflicts").is_empty(), "{st}");
    assert!(array_of(&st, "modified").is_empty(), "{st}");
}

#[test]
fn binary_add_add_and_delete_edit_keep_every_side_until_resolved() {
    let _serial = one_at_a_time();
    let logo: &[u8] = &[0x89, b'P', b'N', b'G', 0, 0xff, 1];
    let (ks, bergen, trondheim, id) = network(&[
        ("logo.png", logo),
        ("dpia.md", b"Status: utkast\nEier: Bergen\n"),
        ("README.md", b"hei\n"),
    ]);
    let wb = bergen.checkout(&id, "b");
    let wt = trondheim.checkout(&id, "t");
    let logo_b: &[u8] = &[0x89, b'P', b'N', b'G', 0, 0xfe, 2];
    let logo_t: &[u8] = &[0x89, b'P', b'N', b'G', 0, 0xfd, 3];
    std::fs::write(wb.join("logo.png"), logo_b).unwrap();
    std::fs::write(wt.join("logo.png"), logo_t).unwrap();
    std::fs::write(wb.join("ny.md"), "Bergens versjon\n").unwrap();
    std::fs::write(wt.join("ny.md"), "Trondheims versjon\n").unwrap();
    std::fs::remove_file(wb.join("dpia.md")).unwrap();
    std::fs::write(wt.join("dpia.md"), "Status: i pilot\nEier: Bergen\n").unwrap();
    commit_both(&bergen, &wb, &trondheim, &wt);
    wait_same_heads(&[&ks, &bergen, &trondheim], &id, secs(30));

    let kinds = |node: &Node| {
        let mut k: Vec<(String, String)> = conflicts_of(node, &id)
            .iter()
            .map(|c| {
                (
                    c["path"].as_str().unwrap().into(),
                    c["kind"].as_str().unwrap().into(),
                )
            })
            .collect();
        k.sort();
        k
    };
    let expected: Vec<(String, String)> = vec![
        ("dpia.md".into(), "delete/edit".into()),
        ("logo.png".into(), "binary".into()),
        ("ny.md".into(), "add/add".into()),
    ];
    for node in [&ks, &bergen, &trondheim] {
        assert_eq!(kinds(node), expected, "on {}", node.name());
    }

    // Every side is in the checkout: one in the file, the others next to it.
    bergen.ok_in(&wb, &["pull"]);
    let tree = read_tree(&wb, true);
    let logos: Vec<&Vec<u8>> = tree
        .iter()
        .filter(|(p, _)| p.starts_with("logo.png"))
        .map(|(_, c)| c)
        .collect();
    assert_eq!(logos.len(), 2, "{:?}", tree.keys().collect::<Vec<_>>());
    assert!(logos.contains(&&logo_b.to_vec()) && logos.contains(&&logo_t.to_vec()));
    let side = tree
        .keys()
        .find(|p| {
            p.starts_with("logo.png.") && (p.contains(".trondheim-") || p.contains(".bergen-"))
        })
        .unwrap_or_else(|| {
            panic!(
                "a side file named after its organisation: {:?}",
                tree.keys()
            )
        });
    assert!(side.len() > "logo.png.bergen-".len() + 6, "{side}");
    let nys: Vec<&String> = tree.keys().filter(|p| p.starts_with("ny.md")).collect();
    assert_eq!(nys.len(), 2, "{nys:?}");
    assert_eq!(
        read(&wb, "dpia.md"),
        "Status: i pilot\nEier: Bergen\n",
        "the edit is kept"
    );
    let st = bergen.json_in(&wb, &["status", "--json"]);
    assert!(
        array_of(&st, "added").is_empty(),
        "side files are not additions: {st}"
    );
    assert_eq!(array_of(&st, "conflicts").len(), 3, "{st}");

    // resolve --take names a side by organisation.
    bergen.ok_in(&wb, &["resolve", "logo.png", "--take", "trondheim"]);
    assert_eq!(std::fs::read(wb.join("logo.png")).unwrap(), logo_t);
    // Keep ny.md as it is: delete its side file and commit.
    let ny_side = nys
        .iter()
        .find(|p| p.as_str() != "ny.md")
        .unwrap()
        .to_string();
    std::fs::remove_file(wb.join(&ny_side)).unwrap();
    // Take the deletion of dpia.md: delete it and commit.
    std::fs::remove_file(wb.join("dpia.md")).unwrap();
    bergen.ok_in(&wb, &["commit", "-m", "Løs konfliktene"]);
    wait_same_heads(&[&ks, &bergen, &trondheim], &id, secs(30));
    for node in [&ks, &bergen, &trondheim] {
        wait_until(secs(10), "every conflict is resolved", || {
            conflicts_of(node, &id).is_empty()
        });
    }
    trondheim.ok_in(&wt, &["pull"]);
    let tree = read_tree(&wt, true);
    assert_eq!(tree.get("logo.png").map(Vec::as_slice), Some(logo_t));
    assert!(!tree.contains_key("dpia.md"), "{:?}", tree.keys());
    assert!(!tree
        .keys()
        .any(|p| p.starts_with("logo.png.") || p.starts_with("ny.md.")));
    assert_eq!(tree.len(), 3, "{:?}", tree.keys());
}
