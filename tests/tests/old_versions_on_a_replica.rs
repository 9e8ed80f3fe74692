//! A node that received an artefact after one of its binary files was replaced can still check
//! out the version before: the older content is fetched when first asked for, from a peer that
//! holds it (which serves any content the artefact's history names).

use allmenning_tests::*;

#[test]
fn an_older_binary_content_is_fetched_when_a_replica_checks_that_version_out() {
    let bergen = Node::start("bergen", BERGEN);
    let v1: &[u8] = &[0x89, b'P', b'N', b'G', 0, 0xff, 1];
    let v2: &[u8] = &[0x89, b'P', b'N', b'G', 0, 0xfe, 2];
    let src = bergen.scratch().join("src");
    write_tree(&src, &[("logo.png", v1), ("README.md", b"hei\n")]);
    let id = bergen.publish(&src, "Logo");
    let first = bergen.heads(&id).unwrap()[0].clone();
    let work = bergen.checkout(&id, "b");
    std::fs::write(work.join("logo.png"), v2).unwrap();
    bergen.commit(&work, "Ny logo");
    let now = bergen.heads(&id).unwrap();

    // Trondheim joins only now: it fetches the current contents, not v1.
    let trondheim = Node::start_with("trondheim", TRONDHEIM, &[bergen.addr()]);
    trondheim.wait_connected(&bergen);
    trondheim.wait_complete_with(&id, &now, secs(30));
    assert!(
        files_containing(trondheim.home(), v1).is_empty(),
        "the replaced content is not fetched until asked for"
    );

    let dir = trondheim.scratch().join("gammel");
    trondheim.ok(&["checkout", &id, dir.to_str().unwrap(), "--at", &first[..12]]);
    assert_eq!(std::fs::read(dir.join("logo.png")).unwrap(), v1);
    assert_eq!(std::fs::read(dir.join("README.md")).unwrap(), b"hei\n");
    // And the current version still checks out as it is.
    let current = trondheim.checkout(&id, "ny");
    assert_eq!(std::fs::read(current.join("logo.png")).unwrap(), v2);
}
