//! Restricted artefacts: published with `--share-with`, an artefact reaches only nodes of the
//! owner and of the organisations it is shared with, over direct connections, which the owner's
//! node opens by itself. An admitted
//! organisation it is not shared with (Oslo), even connected directly to the owner, gets nothing:
//! every command says "not found" (exit 4), and not one byte of the title or of the contents is
//! anywhere on its disk. The KS hub, which may not read it either, does not hold or relay it.

use allmenning_tests::*;

const TITLE: &str = "ROS-analyse sak/arkiv Q7ZK-KONFIDENSIELL";
const SECRET: &str = "HEMMELIG-7f3a9c: administrator-passordet ligger i arkivkjelleren";

#[test]
fn trust_restricted() {
    let ks = Node::start("ks", KS);
    let bergen = Node::start("bergen", BERGEN);
    let trondheim = Node::start("trondheim", TRONDHEIM);
    let oslo = Node::start("oslo", OSLO);
    form_network(&ks, &[&bergen, &trondheim, &oslo]);

    // Restricted content travels only over direct connections between nodes that may read it.
    // Nobody connects Trondheim to Bergen: Bergen seeks the nodes of the organisations it shares
    // with. Oslo is connected to Bergen on purpose, to show a direct connection is not enough.
    oslo.connect(&bergen);
    oslo.wait_connected(&bergen);
    oslo.wait_connected(&ks);

    let src = bergen.scratch().join("ros");
    let body = format!("# ROS\n\n{SECRET}\n\nTiltak: flytt det.\n");
    write_tree(
        &src,
        &[
            ("ros.md", body.as_bytes()),
            (
                "vedlegg/risiko.csv",
                format!("id;risiko\n1;{SECRET}\n").as_bytes(),
            ),
        ],
    );
    let source = read_tree(&src, false);
    let published = bergen.json(&[
        "publish",
        src.to_str().unwrap(),
        "--kind",
        "ros",
        "--title",
        TITLE,
        "--share-with",
        TRONDHEIM.number,
    ]);
    let id = published["id"]
        .as_str()
        .expect("publish --json has id")
        .to_string();
    let heads = bergen.heads(&id).unwrap();

    let own = bergen.show(&id);
    assert_eq!(own["visibility"], "restricted", "{own}");
    assert_eq!(
        own["readers"],
        serde_json::json!([TRONDHEIM.number]),
        "{own}"
    );
    assert_eq!(own["owner"], BERGEN.number, "{own}");

    // Trondheim gets it complete, byte for byte, and sees it as restricted.
    trondheim.wait_complete_with(&id, &heads, secs(30));
    let show = trondheim.show(&id);
    assert_eq!(show["title"], TITLE, "{show}");
    assert_eq!(show["visibility"], "restricted", "{show}");
    assert_eq!(
        show["readers"],
        serde_json::json!([TRONDHEIM.number]),
        "{show}"
    );
    let exported = trondheim.export_tree(&id, "trondheim");
    assert_same_tree(
        &source,
        &exported,
        "Trondheim's export of the restricted artefact",
    );
    let access = trondheim.access_list(&id);
    assert_eq!(access["visibility"], "restricted", "{access}");

    // A public artefact published afterwards reaches Oslo and KS: they have synced with Bergen
    // (and with each other) since the restricted one existed.
    let pub_src = bergen.scratch().join("offentlig");
    write_tree(&pub_src, &[("les-meg.md", b"Offentlig veiledning\n")]);
    let public_id = bergen.publish(&pub_src, "Offentlig veiledning");
    let public_heads = bergen.heads(&public_id).unwrap();
    for n in [&oslo, &ks, &trondheim] {
        n.wait_complete_with(&public_id, &public_heads, secs(30));
    }
    // Trondheim asks everyone for their inventories too (a reader that could leak onward).
    oslo.connect(&trondheim);
    oslo.wait_connected(&trondheim);
    let probe_src = trondheim.scratch().join("probe");
    write_tree(&probe_src, &[("probe.txt", b"Trondheim er her\n")]);
    let probe = trondheim.publish(&probe_src, "Probe fra Trondheim");
    let probe_heads = trondheim.heads(&probe).unwrap();
    oslo.wait_complete_with(&probe, &probe_heads, secs(30));
    ks.wait_complete_with(&probe, &probe_heads, secs(30));

    // Oslo: every way of asking for it says "not found" (exit 4), and it is not listed.
    let dir = oslo.scratch().join("checkout-ros");
    let export_dir = oslo.scratch().join("export-ros");
    let prefix = &id[..12];
    let attempts: Vec<Vec<&str>> = vec![
        vec!["show", &id],
        vec!["show", &id, "--json"],
        vec!["show", prefix],
        vec!["log", &id],
        vec!["log", &id, "--json"],
        vec!["checkout", &id, dir.to_str().unwrap()],
        vec!["checkout", &id, dir.to_str().unwrap(), "--endorsed"],
        vec!["export", &id, export_dir.to_str().unwrap()],
        vec!["access", "list", &id],
    ];
    for n in [&oslo, &ks] {
        for args in &attempts {
            let out = n.cli(args);
            assert_eq!(
                exit_code(&out),
                Some(4),
                "`allmenning {}` on {} must say not found\n{}",
                args.join(" "),
                n.name(),
                describe(&out)
            );
            assert!(
                !output_text(&out).contains(TITLE) && !output_text(&out).contains(SECRET),
                "`allmenning {}` on {} printed the title or the contents\n{}",
                args.join(" "),
                n.name(),
                describe(&out)
            );
        }
        assert!(
            n.row(&id).is_none(),
            "{} lists the restricted artefact",
            n.name()
        );
        let list = n.ok(&["list"]);
        assert!(!output_text(&list).contains(TITLE));
    }
    for d in [&dir, &export_dir] {
        assert!(
            !d.exists() || read_tree(d, false).is_empty(),
            "{} got files",
            d.display()
        );
    }

    // Not a byte of the title or the contents on Oslo's or KS's disk (home, database, logs,
    // anything under their scratch directories).
    for n in [&oslo, &ks] {
        for needle in [TITLE, SECRET, "Q7ZK-KONFIDENSIELL", "HEMMELIG-7f3a9c"] {
            let found = files_containing(n.scratch(), needle.as_bytes());
            assert!(
                found.is_empty(),
                "{}'s disk holds {needle:?} in {found:?}",
                n.name()
            );
        }
    }
    // The same search does find both on Trondheim's disk, so it would have found a leak.
    let home = trondheim.home();
    assert!(
        !files_containing(home, SECRET.as_bytes()).is_empty(),
        "the disk search finds the contents on Trondheim (a reader)"
    );
    assert!(
        !files_containing(home, TITLE.as_bytes()).is_empty(),
        "the disk search finds the title on Trondheim (a reader)"
    );
}
