//! Every version reachable: after an artefact is published and edited twice, `checkout --at`,
//! `export --at` and `show --at` give the earlier versions by change hash or unique prefix;
//! `log ID PATH` lists only the changes to that file, naming the organisation; `diff --from
//! --to` shows what changed between two versions; a commit from an `--at` checkout is a change
//! on top of that version. An ambiguous prefix is a usage error naming its candidates.

use allmenning_tests::*;
use serde_json::Value;
use std::path::Path;

const V1: &str = "# Søknad om redusert foreldrebetaling\n\nFrist: 1. mars.\n";
const V2: &str = "# Søknad om redusert foreldrebetaling\n\nFrist: 15. mars.\n";
const V3: &str =
    "# Søknad om redusert foreldrebetaling\n\nFrist: 15. mars.\nSvar innen tre uker.\n";
const NOTES: &str = "Notater\n";

fn commit(node: &Node, dir: &Path, message: &str) {
    node.ok_in(dir, &["commit", "-m", message]);
}

/// The shortest prefix (at least 7 digits) of `hash` that no other change of `all` shares.
fn unique_prefix<'a>(hash: &'a str, all: &[String]) -> &'a str {
    (7..=64)
        .map(|n| &hash[..n])
        .find(|p| all.iter().filter(|h| h.starts_with(p)).count() == 1)
        .expect("a full hash is unique")
}

fn hashes(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["hash"].as_str().expect("a hash").to_string())
        .collect()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn versions_reachable() {
    let ks = Node::start("ks", KS);
    let bergen = Node::start("bergen", BERGEN);
    form_network(&ks, &[&bergen]);

    let src = bergen.scratch().join("src");
    write_tree(
        &src,
        &[
            ("README.md", V1.as_bytes()),
            ("notater.txt", NOTES.as_bytes()),
        ],
    );
    let id = bergen.publish(&src, "Redusert foreldrebetaling");
    let work = bergen.checkout(&id, "arbeid");

    // Edit README twice, with a change to another file in between.
    std::fs::write(work.join("README.md"), V2).unwrap();
    commit(&bergen, &work, "Ny frist");
    std::fs::write(work.join("notater.txt"), "Notater\nMøte 3. februar\n").unwrap();
    commit(&bergen, &work, "Notat fra møtet");
    std::fs::write(work.join("README.md"), V3).unwrap();
    commit(&bergen, &work, "Svarfrist");

    let all = bergen.log_entries(&id);
    let all_hashes = hashes(&all);
    assert_eq!(all.len(), 4, "publish and three commits: {all:?}");
    let (v3, notes_change, v2, v1) = (
        all_hashes[0].clone(),
        all_hashes[1].clone(),
        all_hashes[2].clone(),
        all_hashes[3].clone(),
    );

    // log ID PATH: only the changes to README.md, each saying what it did.
    let readme_log = bergen.json(&["log", &id, "README.md"]);
    let readme_log = readme_log.as_array().expect("an array").clone();
    assert_eq!(
        hashes(&readme_log),
        [v3.clone(), v2.clone(), v1.clone()],
        "log README.md leaves out the change to notater.txt ({notes_change}): {readme_log:?}"
    );
    let changes: Vec<&str> = readme_log
        .iter()
        .map(|e| e["file"]["change"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(changes, ["modified", "modified", "added"]);
    let notes_log = bergen.json(&["log", &id, "notater.txt"]);
    assert_eq!(
        hashes(notes_log.as_array().expect("an array")),
        [notes_change.clone(), v1.clone()]
    );
    // The human log names the organisation, not only a node key.
    let text = String::from_utf8_lossy(&bergen.ok(&["log", &id, "README.md"]).stdout).into_owned();
    assert!(
        text.contains("author Bergen kommune (964338531), node "),
        "{text}"
    );
    assert!(!text.contains("Notat fra møtet"), "{text}");

    // checkout --at the first version (by a unique prefix): the first contents, as the base.
    let first = bergen.scratch().join("forste");
    let p1 = unique_prefix(&v1, &all_hashes);
    let report = bergen.json(&["checkout", &id, first.to_str().unwrap(), "--at", p1]);
    assert_eq!(report["base_heads"], serde_json::json!([v1]));
    assert_eq!(
        std::fs::read_to_string(first.join("README.md")).unwrap(),
        V1
    );
    assert_eq!(
        std::fs::read_to_string(first.join("notater.txt")).unwrap(),
        NOTES
    );

    // export --at the second version, by full hash.
    let out = bergen.scratch().join("eksport-v2");
    let report = bergen.json(&["export", &id, out.to_str().unwrap(), "--at", &v2]);
    assert_eq!(report["heads"], serde_json::json!([v2]));
    let exported = read_tree(&out, false);
    assert_eq!(exported["README.md"], V2.as_bytes());
    assert_eq!(exported["notater.txt"], NOTES.as_bytes());

    // show --at: that version's files and sizes; the rest is now.
    let shown = bergen.json(&["show", &id, "--at", p1]);
    assert_eq!(shown["at"], serde_json::json!([v1]));
    let readme = array_of(&shown, "files")
        .into_iter()
        .find(|f| f["path"] == "README.md")
        .expect("README.md at v1");
    assert_eq!(readme["size"], V1.len());
    assert_eq!(shown["heads"], serde_json::json!([v3]));
    let now = bergen.show(&id);
    let readme_now = array_of(&now, "files")
        .into_iter()
        .find(|f| f["path"] == "README.md")
        .expect("README.md now");
    assert_eq!(readme_now["size"], V3.len());

    // diff --from --to: what changed between the first and the third version.
    let diff = bergen.ok(&["diff", &id, "--from", p1, "--to", &v3, "README.md"]);
    let diff = String::from_utf8_lossy(&diff.stdout).into_owned();
    assert!(
        diff.contains("--- a/README.md\n+++ b/README.md\n"),
        "{diff}"
    );
    assert!(
        diff.contains("-Frist: 1. mars.\n+Frist: 15. mars.\n+Svar innen tre uker.\n"),
        "{diff}"
    );
    assert!(!diff.contains("notater"), "PATH limits the diff: {diff}");
    let json = bergen.json(&["diff", &id, "--from", &v2, "--to", &v3]);
    assert_eq!(json["from"], serde_json::json!([v2]));
    assert_eq!(json["to"], serde_json::json!([v3]));
    let files = array_of(&json, "files");
    let statuses: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or("?").to_string(),
                f["status"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("README.md".to_string(), "modified".to_string()),
            ("notater.txt".to_string(), "modified".to_string())
        ]
    );
    assert!(files[0]["diff"]
        .as_str()
        .unwrap_or("")
        .contains("+Svar innen tre uker.\n"));

    // A commit from the --at checkout is a change on top of the first version, merged with
    // the later ones: nothing of them is undone.
    std::fs::write(first.join("tillegg.txt"), "Tillegg skrevet mot versjon 1\n").unwrap();
    commit(&bergen, &first, "Tillegg");
    let after = bergen.log_entries(&id);
    assert_eq!(after[0]["message"], "Tillegg");
    assert_eq!(
        after[0]["deps"],
        serde_json::json!([v1]),
        "made at the first version"
    );
    let latest = bergen.export_tree(&id, "etter-tillegg");
    assert_eq!(latest["README.md"], V3.as_bytes(), "the later edits stay");
    assert_eq!(latest["tillegg.txt"], b"Tillegg skrevet mot versjon 1\n");
    assert_eq!(
        bergen.heads(&id).expect("heads").len(),
        2,
        "two concurrent heads"
    );

    // Unknown and malformed versions are usage errors; `endorsed` before any endorsement is
    // "not found", as with --endorsed.
    let unknown = if all_hashes.iter().any(|h| h.starts_with("0000000")) {
        "fffffff"
    } else {
        "0000000"
    };
    let out = bergen.cli(&["show", &id, "--at", unknown]);
    assert_eq!(exit_code(&out), Some(2), "{}", describe(&out));
    assert!(
        stderr_of(&out).contains("has no change"),
        "{}",
        describe(&out)
    );
    let out = bergen.cli(&[
        "checkout",
        &id,
        bergen.scratch().join("x").to_str().unwrap(),
        "--at",
        "ikke-en-versjon",
    ]);
    assert_eq!(exit_code(&out), Some(2), "{}", describe(&out));
    let out = bergen.cli(&[
        "export",
        &id,
        bergen.scratch().join("y").to_str().unwrap(),
        "--at",
        "endorsed",
    ]);
    assert_eq!(exit_code(&out), Some(4), "{}", describe(&out));

    // An ambiguous prefix names its candidates. Commit to a third file until two changes
    // share a first hex digit (at most 17 changes).
    let mut n = 0;
    let (shared, candidates) = loop {
        let hashes = hashes(&bergen.log_entries(&id));
        let shared = hashes
            .iter()
            .map(|h| &h[..1])
            .find(|p| hashes.iter().filter(|h| h.starts_with(p)).count() > 1);
        if let Some(p) = shared {
            let candidates: Vec<String> = hashes
                .iter()
                .filter(|h| h.starts_with(p))
                .cloned()
                .collect();
            break (p.to_string(), candidates);
        }
        n += 1;
        assert!(n <= 17, "17 hashes share some first digit");
        std::fs::write(work.join("teller.txt"), format!("{n}\n")).unwrap();
        commit(&bergen, &work, &format!("Teller {n}"));
    };
    let out = bergen.cli(&["diff", &id, "--from", &shared]);
    assert_eq!(exit_code(&out), Some(2), "{}", describe(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("ambiguous"), "{stderr}");
    for c in &candidates {
        assert!(stderr.contains(&c[..12]), "{c} not named: {stderr}");
    }
    // The counter commits never touched README.md.
    let readme_log = bergen.json(&["log", &id, "README.md"]);
    assert_eq!(readme_log.as_array().map(Vec::len), Some(3));
}
