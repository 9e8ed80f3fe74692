//! Decoding untrusted changes and snapshots within a budget: real changes and snapshots of every
//! size a node writes decode as before, hostile ones are refused before Automerge works on them,
//! and budgets are charged across calls. (The structural check itself is tested in
//! `precheck::tests`.) Times and memory are printed, not asserted.

use super::*;
use crate::artefact::{Artefact, Metadata, NewFile, MAX_TEXT_BYTES};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ReadDoc, ROOT};
use std::time::Instant;

/// Changes of every kind: map puts and overwrites, nested objects, text splices and deletes,
/// marks, counters, lists, two and three actors, merges (several deps), a message and a time.
fn varied_changes() -> Vec<Change> {
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "title", "Foreldrebetaling").unwrap();
    let meta = doc.put_object(ROOT, "meta", ObjType::Map).unwrap();
    doc.put(&meta, "kind", "integration").unwrap();
    doc.put(&meta, "count", automerge::ScalarValue::counter(1))
        .unwrap();
    let text = doc.put_object(ROOT, "text", ObjType::Text).unwrap();
    doc.splice_text(&text, 0, 0, "Linje 1\nLinje 2 – æøå\n")
        .unwrap();
    let list = doc.put_object(ROOT, "tags", ObjType::List).unwrap();
    doc.insert(&list, 0, "barnehage").unwrap();
    doc.insert(&list, 1, 42_i64).unwrap();
    doc.commit_with(
        automerge::transaction::CommitOptions::default()
            .with_message("first".to_string())
            .with_time(1_700_000_000),
    );
    let mut other = doc.fork();
    other.put(&meta, "kind", "service").unwrap();
    other.splice_text(&text, 5, 2, "x").unwrap();
    other.delete(ROOT, "title").unwrap();
    other.increment(&meta, "count", 5).unwrap();
    other
        .mark(
            &text,
            automerge::marks::Mark::new("bold".to_string(), true, 0, 4),
            automerge::marks::ExpandMark::Both,
        )
        .unwrap();
    other.commit();
    let mut third = doc.fork();
    third.delete(&list, 0).unwrap();
    third.put(&meta, "kind", "tjeneste").unwrap();
    third.commit();
    doc.merge(&mut other).unwrap();
    doc.merge(&mut third).unwrap();
    doc.put(ROOT, "title", "Ny tittel").unwrap();
    doc.splice_text(&text, 0, 3, "").unwrap();
    doc.commit();
    let changes = doc.get_changes(&[]);
    assert!(changes.iter().any(|c| c.deps().len() >= 3));
    assert!(
        changes
            .iter()
            .map(|c| c.actor_id())
            .collect::<std::collections::HashSet<_>>()
            .len()
            >= 3
    );
    changes
}

fn assert_header_matches(change: &Change) {
    let header = change_header(change.raw_bytes()).unwrap();
    assert_eq!(header.hash, change.hash());
    assert_eq!(&header.actor, change.actor_id());
    assert_eq!(header.deps, change.deps());
    assert_eq!(header.seq, change.seq());
    assert_eq!(header.time, change.timestamp());
    assert_eq!(header.claimed_ops, change.len() as u64);
}

#[test]
fn the_header_says_what_automerge_says_of_real_changes() {
    for change in varied_changes() {
        assert_header_matches(&change);
    }
    for change in crate::signed::precheck::tests::real_changes() {
        assert_header_matches(&change);
    }
}

/// A 1 MiB text of ASCII lines (one op per byte, the most ops a text of that size makes).
fn big_text(fill: char) -> String {
    let line = format!("{}\n", fill.to_string().repeat(63));
    line.repeat(MAX_TEXT_BYTES / line.len())
}

/// The largest changes a node writes fit in one change and in one message: the origin of a
/// text at `MAX_TEXT_BYTES`, an edit replacing all of it, and a genesis of thousands of files.
#[test]
fn the_largest_changes_a_node_writes_fit_the_budget() {
    let text = big_text('a');
    assert_eq!(text.len(), MAX_TEXT_BYTES);
    let blob = crate::BlobHash::of(text.as_bytes());
    let origin = origin::origin_change("README.md", &blob, &text).unwrap();

    // Replacing every character: delete them all, insert as many.
    let mut doc = Automerge::new();
    doc.apply_changes([origin.clone()]).unwrap();
    let mut doc = AutoCommit::load(&doc.save()).unwrap();
    let (_, obj) = doc
        .get(ROOT, origin::text_key("README.md", &blob))
        .unwrap()
        .unwrap();
    doc.splice_text(&obj, 0, text.chars().count() as isize, &big_text('b'))
        .unwrap();
    doc.commit();
    let rewrite = doc.get_last_local_change().unwrap().clone();

    // A genesis of 5000 files.
    let files: Vec<NewFile> = (0..5000)
        .map(|i| NewFile {
            path: format!("src/module{}/file{i}.rs", i % 50),
            blob: crate::BlobHash::of(format!("{i}").as_bytes()),
            size: i,
            executable: i % 7 == 0,
        })
        .collect();
    let meta = Metadata {
        title: "Stort".into(),
        kind: "integration".into(),
        description: String::new(),
        tags: vec![],
        owner: "964338531".into(),
        owner_name: "Bergen kommune".into(),
        created: 0,
    };
    let (_, genesis) =
        Artefact::genesis(&meta, &files, ActorId::random(), 0, "genesis", false).unwrap();

    let mut message = DecodeBudget::per_message();
    for (what, change) in [
        ("origin", &origin),
        ("rewrite", &rewrite),
        ("genesis", &genesis),
    ] {
        let bytes = change.raw_bytes().to_vec();
        let t = Instant::now();
        let header = change_header(&bytes).unwrap();
        let header_time = t.elapsed();
        assert_eq!(header.hash, change.hash());
        assert_eq!(header.claimed_ops, change.len() as u64);
        assert!(header.claimed_ops <= MAX_OPS_PER_CHANGE);
        let t = Instant::now();
        let decoded = decode_change(bytes.clone(), &mut DecodeBudget::per_message()).unwrap();
        println!(
            "{what}: {} ops, {} bytes; header in {header_time:?}, decoded in {:?}",
            change.len(),
            bytes.len(),
            t.elapsed()
        );
        assert_eq!(decoded.hash(), change.hash());
        decode_change(bytes, &mut message).unwrap();
    }
    assert!(rewrite.len() as u64 >= 2 * (MAX_TEXT_BYTES as u64) - 2);
    // All three in one message.
    assert_eq!(
        message.ops_left(),
        MAX_OPS_PER_MESSAGE - (origin.len() + rewrite.len() + genesis.len()) as u64
    );

    // And their document, as a snapshot, compressed as `save` writes it.
    doc.apply_changes([genesis.clone()]).unwrap();
    let snapshot = doc.save();
    let mut budget = DecodeBudget::per_message();
    let t = Instant::now();
    let loaded = load_snapshot(&snapshot, &mut budget).unwrap();
    println!(
        "snapshot of {} ops, {} bytes: loaded in {:?}, charged {} ops and {} inflated bytes",
        loaded.stats().num_ops,
        snapshot.len(),
        t.elapsed(),
        MAX_OPS_PER_MESSAGE - budget.ops_left(),
        MAX_INFLATED_BYTES_PER_MESSAGE - budget.inflated_bytes_left()
    );
    assert_eq!(loaded.get_heads(), doc.get_heads());
    assert_eq!(
        budget.ops_left(),
        MAX_OPS_PER_MESSAGE - loaded.stats().num_ops
    );
    assert!(budget.inflated_bytes_left() < MAX_INFLATED_BYTES_PER_MESSAGE);
}

/// Peak resident memory of this process so far, in MiB (Linux), for printouts.
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

#[test]
fn a_change_claiming_2_pow_62_ops_is_refused_at_once() {
    for (what, bytes) in [
        ("ops", hostile::change_claiming_ops(1 << 62)),
        ("predecessors", hostile::change_claiming_preds(1 << 62)),
    ] {
        let t = Instant::now();
        let header = change_header(&bytes);
        let header_time = t.elapsed();
        let mut budget = DecodeBudget::per_message();
        let t = Instant::now();
        let decoded = decode_change(bytes.clone(), &mut budget);
        println!(
            "{} bytes claiming 2^62 {what}: change_header refused in {header_time:?}, \
             decode_change in {:?}",
            bytes.len(),
            t.elapsed()
        );
        for refused in [header.map(|_| ()), decoded.map(|_| ())] {
            assert!(
                matches!(
                    refused,
                    Err(DecodeChangeError::OverBudget(OverBudget::OpsPerChange {
                        claimed,
                        limit: MAX_OPS_PER_CHANGE
                    })) if claimed >= 1 << 62
                ),
                "{refused:?}"
            );
        }
        // Nothing was charged.
        assert_eq!(budget, DecodeBudget::per_message());
    }
    // The same chunk claiming a little less decodes, to the ops it claimed.
    let small = hostile::change_claiming_ops(1000);
    assert_eq!(change_header(&small).unwrap().claimed_ops, 1000);
    assert_eq!(
        decode_change(small, &mut DecodeBudget::per_message())
            .unwrap()
            .len(),
        1000
    );
}

#[test]
fn changes_draw_on_one_budget_across_calls() {
    let changes = varied_changes();
    let total: u64 = changes.iter().map(|c| c.len() as u64).sum();
    let mut budget = DecodeBudget::new(total, 1 << 20);
    for change in &changes {
        decode_change(change.raw_bytes().to_vec(), &mut budget).unwrap();
    }
    assert_eq!(budget.ops_left(), 0);
    // The next one is refused, and charges nothing.
    let refused = decode_change(changes[0].raw_bytes().to_vec(), &mut budget);
    assert!(matches!(
        refused,
        Err(DecodeChangeError::OverBudget(OverBudget::Ops {
            left: 0,
            ..
        }))
    ));

    // A message's worth of big changes, then one more.
    let big = hostile::change_claiming_ops(MAX_OPS_PER_CHANGE);
    let mut budget = DecodeBudget::per_message();
    for _ in 0..MAX_OPS_PER_MESSAGE / MAX_OPS_PER_CHANGE {
        assert_eq!(change_header(&big).unwrap().claimed_ops, MAX_OPS_PER_CHANGE);
        budget.charge_ops(MAX_OPS_PER_CHANGE).unwrap();
    }
    assert!(matches!(
        decode_change(big, &mut budget),
        Err(DecodeChangeError::OverBudget(OverBudget::Ops { .. }))
    ));
}

#[test]
fn a_deflate_bomb_snapshot_is_refused_without_inflating_it_into_memory() {
    let t = Instant::now();
    let bomb = hostile::document_with_deflate_bomb(1 << 30);
    println!(
        "deflate bomb of 1 GiB: {} bytes, made in {:?}",
        bomb.len(),
        t.elapsed()
    );
    let before = peak_rss_mib();
    let mut budget = DecodeBudget::per_message();
    let t = Instant::now();
    let refused = load_snapshot(&bomb, &mut budget);
    println!(
        "refused in {:?}; peak RSS {before:?} MiB before, {:?} MiB after",
        t.elapsed(),
        peak_rss_mib()
    );
    assert!(
        matches!(
            refused,
            Err(LoadSnapshotError::OverBudget(OverBudget::Inflated { claimed, left }))
                if claimed > left && left == MAX_INFLATED_BYTES_PER_MESSAGE
        ),
        "{refused:?}"
    );
    assert_eq!(budget, DecodeBudget::per_message());

    // The budget left is the limit: a smaller bomb fits a budget and is charged, then the same
    // bomb again is over what is left.
    let small = hostile::document_with_deflate_bomb(3 << 20);
    let mut budget = DecodeBudget::new(0, 5 << 20);
    let loaded = load_snapshot(&small, &mut budget);
    assert_eq!(budget.inflated_bytes_left(), 2 << 20);
    println!("a 3 MiB column of zeros: {:?}", loaded.map(|_| ()));
    assert!(matches!(
        load_snapshot(&small, &mut budget),
        Err(LoadSnapshotError::OverBudget(OverBudget::Inflated { .. }))
    ));
}

#[test]
fn documents_claiming_more_rows_than_the_budget_are_refused_at_once() {
    for (what, bytes) in [
        (
            "ops",
            hostile::list_of_nulls(u64::from(u32::MAX) - 2, [0; 32]),
        ),
        ("changes", hostile::document_claiming_changes(1 << 40)),
    ] {
        let mut budget = DecodeBudget::per_message();
        let t = Instant::now();
        let refused = load_snapshot(&bytes, &mut budget);
        println!(
            "{} bytes claiming {what}: refused in {:?}",
            bytes.len(),
            t.elapsed()
        );
        assert!(
            matches!(
                refused,
                Err(LoadSnapshotError::OverBudget(OverBudget::Ops { claimed, left }))
                    if claimed > left && left == MAX_OPS_PER_MESSAGE
            ),
            "{what}: {refused:?}"
        );
        assert_eq!(budget, DecodeBudget::per_message());
    }
    // A trailing change that claims too much.
    let mut doc = crate::signed::precheck::tests::saved_document();
    let snapshot = [doc.save(), hostile::change_claiming_ops(1 << 40)].concat();
    assert!(matches!(
        load_snapshot(&snapshot, &mut DecodeBudget::per_message()),
        Err(LoadSnapshotError::OverBudget(
            OverBudget::OpsPerChange { .. }
        ))
    ));
}

/// Snapshots a node writes load, and equal what was saved: compressed columns, big texts, many
/// changes.
#[test]
fn real_snapshots_load_and_equal_the_original() {
    // Many changes by several actors.
    let mut doc = AutoCommit::new();
    let text = doc.put_object(ROOT, "text", ObjType::Text).unwrap();
    let list = doc.put_object(ROOT, "list", ObjType::List).unwrap();
    doc.commit();
    let mut forks: Vec<AutoCommit> = (0..3).map(|_| doc.fork()).collect();
    for round in 0..200 {
        for (i, fork) in forks.iter_mut().enumerate() {
            let len = fork.length(&text);
            fork.splice_text(&text, len / 2, 0, &format!("{i}:{round} "))
                .unwrap();
            fork.insert(&list, 0, round as i64).unwrap();
            fork.put(ROOT, format!("k{}", round % 10), i as i64)
                .unwrap();
            fork.commit();
        }
    }
    for fork in &mut forks {
        doc.merge(fork).unwrap();
    }
    // A big, repetitive text (compresses well).
    let big = doc.put_object(ROOT, "big", ObjType::Text).unwrap();
    doc.splice_text(&big, 0, 0, &big_text('x')).unwrap();
    doc.commit();

    for (what, bytes) in [
        ("compressed", doc.save()),
        ("uncompressed", doc.save_nocompress()),
    ] {
        let mut budget = DecodeBudget::per_message();
        let t = Instant::now();
        let loaded = load_snapshot(&bytes, &mut budget).unwrap();
        let inflated = MAX_INFLATED_BYTES_PER_MESSAGE - budget.inflated_bytes_left();
        println!(
            "{what}: {} bytes, {} changes, {} ops, {inflated} bytes inflated, loaded in {:?}",
            bytes.len(),
            loaded.get_changes(&[]).len(),
            loaded.stats().num_ops,
            t.elapsed()
        );
        assert_eq!(loaded.get_heads(), doc.get_heads());
        assert_eq!(loaded.save(), doc.save());
        assert_eq!(loaded.text(&big).unwrap(), doc.text(&big).unwrap(),);
        assert_eq!(
            budget.ops_left(),
            MAX_OPS_PER_MESSAGE - loaded.stats().num_ops
        );
        // Deflated columns, or only the keys (of which there are few).
        match what {
            "compressed" => assert!(inflated > 1 << 20, "expected deflated columns"),
            _ => assert!(inflated < 1 << 10, "{inflated}"),
        }
    }
}

#[test]
fn a_snapshot_charges_its_document_and_its_changes() {
    let mut doc = crate::signed::precheck::tests::saved_document();
    let mut other = doc.fork();
    for i in 0..3 {
        other.put(ROOT, "n", i).unwrap();
        other.commit();
    }
    let waiting: Vec<Change> = other
        .get_changes(&doc.get_heads())
        .into_iter()
        .skip(1)
        .collect();
    doc.apply_changes(waiting.clone()).unwrap();
    let bytes = doc.save();
    let document_ops = doc.document().stats().num_ops;
    let waiting_ops: u64 = waiting.iter().map(|c| c.len() as u64).sum();
    let mut budget = DecodeBudget::new(1000, 1 << 20);
    load_snapshot(&bytes, &mut budget).unwrap();
    assert_eq!(budget.ops_left(), 1000 - document_ops - waiting_ops);

    // Both or neither: a budget one op short charges nothing.
    let need = document_ops + waiting_ops;
    let mut short = DecodeBudget::new(need - 1, 1 << 20);
    assert!(matches!(
        load_snapshot(&bytes, &mut short),
        Err(LoadSnapshotError::OverBudget(OverBudget::Ops { .. }))
    ));
    assert_eq!(short, DecodeBudget::new(need - 1, 1 << 20));
}

/// Runs of strings expand: a change repeating a 64 KiB key, a document repeating a 64 KiB
/// change message. What they expand to is charged as inflated bytes, before Automerge copies it.
#[test]
fn strings_are_charged_with_their_runs_expanded() {
    // Small enough to decode and apply, to see what automerge makes of it.
    let key = hostile::change_repeating_key(1 << 8, 64 << 10);
    let header = change_header(&key).unwrap();
    assert_eq!(header.claimed_ops, 1 << 8);
    assert_eq!(header.claimed_bytes, 16 << 20);
    let mut budget = DecodeBudget::per_message();
    let change = decode_change(key.clone(), &mut budget).unwrap();
    assert_eq!(
        budget.inflated_bytes_left(),
        MAX_INFLATED_BYTES_PER_MESSAGE - (16 << 20)
    );
    let t = Instant::now();
    Automerge::new().apply_changes([change]).unwrap();
    println!(
        "a {}-byte change repeating a 64 KiB key 2^8 times: applied in {:?}",
        key.len(),
        t.elapsed()
    );
    // A message cannot hold twice that.
    let bomb = hostile::change_repeating_key(1 << 10, 64 << 10);
    let mut budget = DecodeBudget::per_message();
    assert!(matches!(
        decode_change(bomb, &mut budget),
        Err(DecodeChangeError::OverBudget(OverBudget::Inflated { .. }))
    ));
    assert_eq!(budget, DecodeBudget::per_message());

    let message = hostile::document_repeating_message(1 << 8, 64 << 10);
    let t = Instant::now();
    let loaded = Automerge::load(&message);
    println!(
        "a {}-byte document repeating a 64 KiB message over 2^8 changes: loaded by automerge \
         in {:?} ({:?})",
        message.len(),
        t.elapsed(),
        loaded.map(|_| ()).map_err(|e| e.to_string())
    );
    let mut budget = DecodeBudget::per_message();
    assert!(load_snapshot(&message, &mut budget).is_err());
    assert_eq!(
        budget.inflated_bytes_left(),
        MAX_INFLATED_BYTES_PER_MESSAGE - (16 << 20)
    );
    let bomb = hostile::document_repeating_message(1 << 20, 64 << 10);
    let t = Instant::now();
    let refused = load_snapshot(&bomb, &mut DecodeBudget::per_message());
    println!(
        "the same over 2^20 changes ({} bytes): refused in {:?}",
        bomb.len(),
        t.elapsed()
    );
    assert!(matches!(
        refused,
        Err(LoadSnapshotError::OverBudget(OverBudget::Inflated { .. }))
    ));
}
