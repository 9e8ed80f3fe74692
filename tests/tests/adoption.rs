//! Adoption: Bergen adapts Oslo's artefact at an exact version, edits its adaptation, merges
//! Oslo's later changes with pull-upstream (both edits kept), and offers its change back; every
//! node sees Bergen among the upstream's users.

use allmenning_tests::*;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};

// The two lines edited below have an unchanged line between them, so that their edits merge
// (edits to adjacent lines are a conflict).
const ORIGINAL: &str =
    "Foreldrebetaling\n\nSats: etter nasjonal maksimalpris.\nGjelder alle barnehager.\nKlagefrist: tre uker.\n";

/// `rutine.txt` of artefact `id` on `node` now (a fresh export each time, so it can be polled).
fn rutine(node: &Node, id: &str) -> Option<String> {
    static EXPORTS: AtomicUsize = AtomicUsize::new(0);
    let label = format!("poll-{}", EXPORTS.fetch_add(1, Ordering::Relaxed));
    let tree = node.export_tree(id, &label);
    tree.get("rutine.txt")
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

fn adopters_of(node: &Node, id: &str) -> Vec<Value> {
    array_of(&node.show(id), "adopters")
}

#[test]
fn adoption() {
    let mut ks = Node::init("ks", KS);
    let port = free_port();
    ks.spawn_with_args(&["--portal", &format!("127.0.0.1:{port}")]);
    let oslo = Node::start("oslo", OSLO);
    let bergen = Node::start("bergen", BERGEN);
    form_network(&ks, &[&oslo, &bergen]);

    let (upstream, version) = oslo.publish_to(
        &[("rutine.txt", ORIGINAL.as_bytes())],
        "Foreldrebetaling i barnehage",
        &[&ks, &bergen],
    );

    // Bergen adopts the exact version it holds.
    let adopted = bergen.json(&[
        "adopt",
        &upstream[..10],
        "--title",
        "Foreldrebetaling, Bergen",
    ]);
    let id = adopted["id"]
        .as_str()
        .expect("adopt --json has id")
        .to_string();
    assert_ne!(id, upstream);
    assert_eq!(adopted["based_on"], upstream.as_str(), "{adopted}");
    assert_eq!(
        adopted["based_on_version"],
        serde_json::json!(version),
        "{adopted}"
    );
    assert_eq!(adopted["owner"], BERGEN.number, "{adopted}");
    assert_eq!(adopted["title"], "Foreldrebetaling, Bergen", "{adopted}");
    // Oslo cannot adopt its own artefact; something not an adaptation has no upstream.
    assert!(!oslo.cli(&["adopt", &upstream]).status.success());
    assert!(!oslo.cli(&["pull-upstream", &upstream]).status.success());

    // Every node verifies the adoption: Bergen is among the upstream's users, the adaptation
    // is Bergen's and says what it is based on.
    for n in [&ks, &oslo] {
        wait_until(secs(30), &format!("{} sees the adoption", n.name()), || {
            n.row(&id).is_some()
                && n.try_json(&["show", &upstream]).is_some_and(|v| {
                    array_of(&v, "adopters")
                        .iter()
                        .any(|a| a["org"] == BERGEN.number && a["adaptation"] == id.as_str())
                })
        });
        let row = n.row(&id).unwrap();
        assert_eq!(row["title"], "Foreldrebetaling, Bergen", "{row}");
        assert_eq!(row["owner"], BERGEN.number, "{row}");
        let detail = n.show(&id);
        assert_eq!(detail["owner"], BERGEN.number, "{detail}");
        assert_eq!(detail["title"], "Foreldrebetaling, Bergen", "{detail}");
        assert_eq!(
            detail["adaptation"]["based_on"],
            upstream.as_str(),
            "{detail}"
        );
    }
    let catalog = ks.json(&["catalog"]);
    let entries = catalog.as_array().cloned().unwrap_or_default();
    let entry_of = |wanted: &str| {
        entries
            .iter()
            .find(|e| e["id"] == wanted)
            .unwrap_or_else(|| panic!("{wanted} not in the catalogue: {catalog}"))
            .clone()
    };
    assert_eq!(entry_of(&id)["based_on"], upstream.as_str());
    assert_eq!(entry_of(&id)["owner"], BERGEN.number);
    assert_eq!(entry_of(&upstream)["adopters"][0]["org"], BERGEN.number);
    // The portal shows the same: Bergen under "Tatt i bruk av", the upstream under "Bygger på".
    let (status, page, _) = http_get(port, &format!("/artefakt/{upstream}"));
    assert_eq!(status, 200);
    let used_by = page.split("Tatt i bruk av").nth(1).unwrap_or_default();
    assert!(used_by.contains("Bergen kommune"), "{page}");
    let (status, page, _) = http_get(port, &format!("/artefakt/{id}"));
    assert_eq!(status, 200);
    let lineage = page.split("Bygger på").nth(1).unwrap_or_default();
    assert!(lineage.contains("Foreldrebetaling i barnehage"), "{page}");
    assert!(lineage.contains(&version[0][..12]), "{page}");
    let orgs = ks.json(&["orgs"]);
    let bergen_activity = orgs
        .as_array()
        .and_then(|a| a.iter().find(|o| o["org"] == BERGEN.number))
        .unwrap_or_else(|| panic!("Bergen not in orgs: {orgs}"));
    assert!(
        array_of(bergen_activity, "adopts")
            .iter()
            .any(|a| a["id"] == upstream.as_str()),
        "{bergen_activity}"
    );

    // Bergen edits its adaptation; Oslo edits the upstream, on another line of the same file.
    let work = bergen.checkout(&id, "bergen");
    let bergen_text = ORIGINAL.replace("tre uker", "tre uker (Bergen: fire uker i juli)");
    std::fs::write(work.join("rutine.txt"), &bergen_text).unwrap();
    bergen.commit(&work, "Bergens klagefrist");
    let owork = oslo.checkout(&upstream, "oslo");
    let oslo_text = ORIGINAL.replace(
        "nasjonal maksimalpris",
        "nasjonal maksimalpris fra 1. august",
    );
    std::fs::write(owork.join("rutine.txt"), &oslo_text).unwrap();
    let oslo_change = oslo.commit(&owork, "Ny sats fra august");
    assert_eq!(
        rutine(&oslo, &upstream),
        Some(oslo_text.clone()),
        "the adaptation's edit did not touch the upstream"
    );
    wait_until(secs(30), "bergen has oslo's change", || {
        bergen.has_change(&upstream, &oslo_change)
    });
    let detail = bergen.show(&id);
    assert_eq!(detail["adaptation"]["behind"], 1, "{detail}");
    assert_eq!(detail["adaptation"]["ahead"], 1, "{detail}");

    // pull-upstream merges Oslo's change and keeps Bergen's: both lines changed.
    let pulled = bergen.json(&["pull-upstream", &id[..10]]);
    assert_eq!(pulled["merged"], 1, "{pulled}");
    assert_eq!(pulled["upstream"], upstream.as_str(), "{pulled}");
    let merged = ORIGINAL
        .replace("tre uker", "tre uker (Bergen: fire uker i juli)")
        .replace(
            "nasjonal maksimalpris",
            "nasjonal maksimalpris fra 1. august",
        );
    for n in [&bergen, &ks] {
        wait_until(
            secs(30),
            &format!("{} has the merged adaptation", n.name()),
            || rutine(n, &id).as_deref() == Some(merged.as_str()),
        );
    }
    assert_eq!(bergen.json(&["pull-upstream", &id])["merged"], 0);
    bergen.ok_in(&work, &["pull"]);
    assert_eq!(
        std::fs::read_to_string(work.join("rutine.txt")).unwrap(),
        merged
    );

    // Bergen offers its change back; Oslo accepts; the upstream has it, signed by Bergen.
    let proposed = bergen.json(&["propose", &id, "-m", "Lengre klagefrist i juli"]);
    assert_eq!(proposed["upstream"], upstream.as_str(), "{proposed}");
    let proposal = proposed["proposal"].as_str().unwrap().to_string();
    wait_until(secs(20), "oslo sees bergen's proposal", || {
        oslo.try_json(&["proposals", &upstream]).is_some_and(|v| {
            v.as_array()
                .is_some_and(|a| a.iter().any(|p| p["id"] == proposal.as_str()))
        })
    });
    let accepted = oslo.json(&["accept", &proposal]);
    assert_eq!(accepted["proposal"]["status"], "accepted", "{accepted}");
    for n in [&ks, &oslo, &bergen] {
        wait_until(
            secs(30),
            &format!("{} has the accepted change", n.name()),
            || rutine(n, &upstream).as_deref() == Some(merged.as_str()),
        );
        assert!(n
            .log_entries(&upstream)
            .iter()
            .any(|e| { e["message"] == "Bergens klagefrist" && e["author_org"] == BERGEN.number }));
        let up = n.show(&upstream);
        assert_eq!(up["owner"], OSLO.number, "{up}");
        assert_eq!(up["title"], "Foreldrebetaling i barnehage", "{up}");
    }
    let detail = bergen.show(&id);
    assert_eq!(
        (
            detail["adaptation"]["behind"].clone(),
            detail["adaptation"]["ahead"].clone()
        ),
        (serde_json::json!(0), serde_json::json!(0)),
        "{detail}"
    );
    let again = bergen.cli(&["propose", &id]);
    assert!(!again.status.success(), "{}", describe(&again));
    assert_eq!(adopters_of(&oslo, &upstream).len(), 1);
}
