//! Issue 10, finding 3: a stranger writes into a network's artefact with an unsigned change.
//!
//! Origin changes carry no signature: any node can recompute one from a path and a blob, so
//! the recipe is their proof. But any text makes a valid recipe, for any path, and nothing ties
//! it to a file the artefact holds. So a stranger, admitted nowhere, can make "the origin" of
//! 1 MiB of its own text at a path of Bergen's artefact, and every node recomputes it, finds it
//! valid and takes it: a new head in an artefact only Bergen may write, and the text on disk.
//! The blobs a `Changes` reply carries are stored before anything is checked, so it can attach
//! anything else as well. A node must take an origin change only as the origin of a file the
//! artefact really holds, and keep no blob nobody needs, while the origin changes honest edits
//! make go on working.

use allmenning_protocol::wire::{Announce, Request, WireBlob};
use allmenning_tests::adversary::{self, craft, Adversary};
use allmenning_tests::*;

const VEILEDER: &str = "# Veileder for innbyggerdialog\n\nSvar innen fem virkedager.\n";

/// About 1 MiB of text with `marker` at its start, middle and end.
fn big_text(marker: &str) -> String {
    let line = "Denne veilederen er endret av noen som ikke har lov til det.\n";
    let half = line.repeat((512 << 10) / line.len());
    format!("{marker}\n{half}{marker}\n{half}{marker}\n")
}

/// A round trip through `victim`'s event loop: everything the adversary sent before has been
/// handled once this returns.
fn barrier(adv: &Adversary, victim: &Node) {
    adv.ask(victim.peer_id(), &Request::Inventory)
        .expect("the victim still answers the stranger");
}

#[test]
fn a_strangers_origin_change_and_blobs_are_refused() {
    let _serial = one_at_a_time();
    let ks = Node::start("ks", KS);
    let bergen = Node::start("bergen", BERGEN);
    let victim = Node::start("trondheim", TRONDHEIM);
    form_network(&ks, &[&bergen, &victim]);
    let (id, before) = bergen.publish_to(
        &[("veileder.md", VEILEDER.as_bytes())],
        "Veileder",
        &[&ks, &victim],
    );
    let artefact = adversary::artefact(&id);

    // A stranger lists a new head of Bergen's artefact: the origin of its own 1 MiB text at
    // veileder.md. Its reply carries that text's blob, and an unrelated blob besides.
    let text_marker = craft::marker("origin-text");
    let (origin, text_blob, origin_hash) =
        craft::origin_change("veileder.md", &big_text(&text_marker));
    let blob_marker = craft::marker("unrelated-blob");
    let unrelated = WireBlob(format!("{blob_marker}\n").repeat(4096).into_bytes());
    let adv = Adversary::stranger();
    adv.respond_with(adversary::offering_changes(
        artefact,
        vec![origin_hash],
        vec![origin],
        vec![text_blob, unrelated],
    ));
    adv.dial(&victim.addr()).expect("the stranger connects");
    if adv.wait_pulls(artefact, 1, secs(20)) {
        barrier(&adv, &victim);
    } else {
        eprintln!("Trondheim did not pull from the stranger");
    }
    let stored: Vec<_> = [&text_marker, &blob_marker]
        .iter()
        .flat_map(|m| victim.files_with(m))
        .collect();
    assert_eq!(
        victim.heads(&id).unwrap(),
        before,
        "Trondheim took the stranger's origin change {origin_hash} into Bergen's artefact \
         (files with the stranger's markers: {stored:?})"
    );

    // Again, notified directly this time, with a head nobody has and a reply that carries no
    // change at all: only a blob nobody asked for.
    let unasked_marker = craft::marker("unasked-blob");
    let (_, nothing) = adversary::unknown_artefact();
    adv.respond_with(adversary::offering_changes(
        artefact,
        vec![nothing],
        vec![],
        vec![WireBlob(
            format!("{unasked_marker}\n").repeat(4096).into_bytes(),
        )],
    ));
    let pulls = adv.pulls_answered(artefact);
    let notified = adv.request(
        victim.peer_id(),
        &Request::Notify(Announce {
            id: artefact,
            heads: vec![nothing.into()],
        }),
    );
    if notified.is_ok() && adv.wait_pulls(artefact, pulls + 1, secs(10)) {
        barrier(&adv, &victim);
    } else {
        eprintln!("Trondheim did not pull after the notification: {notified:?}");
    }

    // Nothing of it is anywhere: not in Trondheim's heads, history or files, nor its home.
    assert_eq!(victim.heads(&id).unwrap(), before);
    assert_eq!(
        bergen.heads(&id).unwrap(),
        before,
        "nor did it spread to Bergen"
    );
    assert!(
        !victim.has_change(&id, &origin_hash.to_string()),
        "the origin change is in Trondheim's history"
    );
    assert_eq!(
        victim.export_tree(&id, "after-attack")["veileder.md"],
        VEILEDER.as_bytes()
    );
    for marker in [&text_marker, &blob_marker, &unasked_marker] {
        victim.assert_stored_nowhere(marker);
    }

    // Bergen's own first edit of veileder.md (an origin change of the real file, then its
    // signed edit) still reaches Trondheim, byte for byte.
    let work = bergen.checkout(&id, "bergen");
    let edited = format!("{VEILEDER}Gjelder også chat.\n");
    std::fs::write(work.join("veileder.md"), &edited).unwrap();
    bergen.commit(&work, "Chat");
    let now = bergen.heads(&id).unwrap();
    victim.wait_complete_with(&id, &now, secs(30));
    assert_eq!(
        victim.export_tree(&id, "after-edit")["veileder.md"],
        edited.as_bytes()
    );
}
