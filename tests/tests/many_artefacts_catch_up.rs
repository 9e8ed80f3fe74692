//! A node that joins late gets every one of many artefacts, although the catch-up asks for far
//! more of them at once than one connection may carry requests (libp2p fails requests beyond a
//! connection's streams; the node queues its own requests per peer instead of losing them).

use allmenning_tests::*;
use std::time::Instant;

/// Well above the streams of one connection (32) and the requests in flight per peer (8).
const ARTEFACTS: usize = 60;

#[test]
fn many_artefacts_catch_up() {
    let a = Node::start("a", BERGEN);
    let mut ids: Vec<(String, Vec<String>)> = Vec::new();
    for i in 0..ARTEFACTS {
        let src = a.scratch().join(format!("src{i}"));
        let body = format!("# Rutine {i}\n\nSteg 1 for rutine {i}.\n");
        write_tree(&src, &[("rutine.md", body.as_bytes())]);
        let id = a.publish(&src, &format!("Rutine nummer {i}"));
        let heads = a.heads(&id).unwrap();
        ids.push((id, heads));
    }

    let started = Instant::now();
    let b = Node::start_with("b", TRONDHEIM, &[a.addr()]);
    b.wait_connected(&a);
    wait_until(
        secs(60),
        &format!("b has all {ARTEFACTS} artefacts, complete"),
        || {
            let rows = b.list();
            ids.iter().all(|(id, heads)| {
                rows.iter().any(|r| {
                    r["id"].as_str() == Some(id.as_str())
                        && r["complete"] == true
                        && heads_of(r) == *heads
                })
            })
        },
    );
    println!(
        "{ARTEFACTS} artefacts caught up in {:.2} s",
        started.elapsed().as_secs_f64()
    );
}
