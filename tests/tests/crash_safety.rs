//! Crash safety: a commit the CLI reported as done survives SIGKILL of the node.
//!
//! Node A streams commits (one unique marker line each) from a checkout while node B, its peer,
//! keeps committing to another file of the same artefact so A is receiving syncs at the same
//! time. After a pseudo-random delay (seeded, 20-300 ms) A is SIGKILLed, restarted on the same
//! home, and every commit the CLI ever acknowledged (exit 0) must be in A's files (`export`)
//! and in A's history (`log --json`). Each round starts from a fresh checkout of A's state.
//!
//! Environment:
//! - `ALLMENNING_CRASH_ROUNDS`: number of kill/restart rounds (default 20).
//! - `ALLMENNING_CRASH_SEED`: seed of the kill timing (default fixed; printed either way).

use allmenning_tests::*;
use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DEFAULT_ROUNDS: usize = 20;
const DEFAULT_SEED: u64 = 0x00a1_1e1e_c0de_5eed;
/// A's commits append to this file; B's to `B_FILE`.
const A_FILE: &str = "a-merker.txt";
const B_FILE: &str = "b-merker.txt";

/// splitmix64: a tiny deterministic generator for the kill timing.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    match std::env::var(key) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{key}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

/// `allmenning --home HOME ARGS` in `dir`, like `Node::cli_in`, but needing no `&Node`, so a
/// background thread can run it while the test kills and restarts the node.
fn cli_at(home: &Path, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.arg("--home")
        .arg(home)
        .env("ALLMENNING_HOME", home)
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .args(args);
    run_with_timeout(cmd, secs(60))
}

/// Appends `line` (and a newline) to `file`.
fn append_line(file: &Path, line: &str) {
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(file)
        .unwrap_or_else(|e| panic!("open {}: {e}", file.display()));
    writeln!(f, "{line}").unwrap();
}

/// One acknowledged commit: its marker (also its message) and the change `commit --json` named.
#[derive(Clone, Debug)]
struct Acked {
    marker: String,
    change: String,
}

/// What A's commit stream did in one round.
struct Stream {
    acked: Vec<Acked>,
    /// The marker of the commit that was running when A died (its CLI did not exit 0), if any.
    in_flight: Option<String>,
}

/// Commits on A from `dir` until `killed` is set: each commit appends a unique marker line to
/// `A_FILE` and runs `commit -m MARKER --json`. A commit counts as acknowledged only when the
/// CLI exited 0. A failure before the test set `killed` is a bug and panics the thread.
fn commit_stream(home: PathBuf, dir: PathBuf, round: usize, killed: Arc<AtomicBool>) -> Stream {
    let file = dir.join(A_FILE);
    let mut acked = Vec::new();
    for i in 0.. {
        if killed.load(Ordering::SeqCst) {
            return Stream {
                acked,
                in_flight: None,
            };
        }
        let marker = format!("A-r{round:03}-c{i:04}");
        append_line(&file, &marker);
        let out = cli_at(&home, &dir, &["commit", "-m", &marker, "--json"]);
        if out.status.success() {
            let v = parse_json(&out.stdout)
                .unwrap_or_else(|| panic!("commit --json printed no JSON\n{}", describe(&out)));
            let change = v["change"]
                .as_str()
                .unwrap_or_else(|| panic!("acknowledged commit {marker} names no change: {v}"))
                .to_string();
            acked.push(Acked { marker, change });
        } else {
            assert!(
                killed.load(Ordering::SeqCst),
                "commit {marker} on A failed while A was alive\n{}",
                describe(&out)
            );
            return Stream {
                acked,
                in_flight: Some(marker),
            };
        }
    }
    unreachable!()
}

/// B's background edits: commits a marker line to `B_FILE` every ~25 ms until `stop` is set.
/// B is never killed, so every commit must succeed. Returns the acknowledged markers.
fn b_stream(b: &Node, dir: &Path, stop: &AtomicBool) -> Vec<String> {
    let file = dir.join(B_FILE);
    let mut acked = Vec::new();
    let mut i = 0usize;
    while !stop.load(Ordering::SeqCst) {
        let marker = format!("B-c{i:05}");
        append_line(&file, &marker);
        b.ok_in(dir, &["commit", "-m", &marker]);
        acked.push(marker);
        i += 1;
        std::thread::sleep(Duration::from_millis(25));
    }
    acked
}

/// Checks that every acknowledged commit of A is in `files` (A_FILE's lines) and `log`.
/// Returns each lost commit's marker with a description.
fn losses(all_acked: &[Acked], a_file: &str, log: &[serde_json::Value]) -> Vec<(String, String)> {
    let lines: BTreeSet<&str> = a_file.lines().collect();
    let messages: BTreeSet<&str> = log.iter().filter_map(|e| e["message"].as_str()).collect();
    let hashes: BTreeSet<&str> = log.iter().filter_map(|e| e["hash"].as_str()).collect();
    let mut lost = Vec::new();
    for a in all_acked {
        let mut missing = Vec::new();
        if !lines.contains(a.marker.as_str()) {
            missing.push("file line");
        }
        if !messages.contains(a.marker.as_str()) {
            missing.push("log message");
        }
        if !hashes.contains(a.change.as_str()) {
            missing.push("log hash");
        }
        if !missing.is_empty() {
            lost.push((
                a.marker.clone(),
                format!("{} (change {}): missing {missing:?}", a.marker, a.change),
            ));
        }
    }
    lost
}

#[test]
fn crash_safety() {
    let rounds: usize = env_or("ALLMENNING_CRASH_ROUNDS", DEFAULT_ROUNDS);
    let seed: u64 = env_or("ALLMENNING_CRASH_SEED", DEFAULT_SEED);
    let mut rng = Rng(seed);
    let started = Instant::now();
    eprintln!("crash safety: {rounds} rounds, seed {seed:#x} (ALLMENNING_CRASH_SEED)");

    let mut a = Node::start("a", BERGEN);
    let b = Node::start_with("b", TRONDHEIM, &[a.addr()]);
    b.wait_connected(&a);
    // A's port changes on every restart; B's does not, so A dials B when it comes back.
    a.set_bootstrap(&[b.addr()]);

    let src = a.scratch().join("src");
    write_tree(
        &src,
        &[
            (A_FILE, b"Merker skrevet paa A\n"),
            (B_FILE, b"Merker skrevet paa B\n"),
            ("README.md", b"Krasjtest\n"),
        ],
    );
    let id = a.publish(&src, "Krasjtest");
    let h0 = a.heads(&id).unwrap();
    b.wait_complete_with(&id, &h0, secs(30));
    let wb = b.checkout(&id, "b");

    let mut all_acked: Vec<Acked> = Vec::new();
    let mut kills = 0usize;
    let mut in_flight = 0usize;
    let mut in_flight_kept = 0usize;
    // Each lost commit once, with the round where it was first missed.
    let mut lost: std::collections::BTreeMap<String, String> = Default::default();
    let stop_b = AtomicBool::new(false);

    let b_acked = std::thread::scope(|s| {
        let b_thread = s.spawn(|| b_stream(&b, &wb, &stop_b));

        // Any panic in the rounds must stop B's stream, or the scope would never end.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for round in 0..rounds {
                // A fresh checkout of whatever A holds now (an unacknowledged in-flight commit
                // may or may not be in it).
                let wa = a.checkout(&id, &format!("r{round:03}"));
                let killed = Arc::new(AtomicBool::new(false));
                let stream = {
                    let (home, dir, killed) = (a.home().to_path_buf(), wa.clone(), killed.clone());
                    std::thread::spawn(move || commit_stream(home, dir, round, killed))
                };

                let delay = Duration::from_millis(rng.between(20, 300));
                std::thread::sleep(delay);
                killed.store(true, Ordering::SeqCst);
                a.kill(); // SIGKILL
                kills += 1;
                let stream = stream.join().expect("A's commit stream panicked");
                all_acked.extend(stream.acked.iter().cloned());

                // The store must open cleanly on the same home.
                a.spawn();
                let status = a.status();
                assert!(
                    status["artefacts"].as_u64().unwrap_or(0) >= 1,
                    "A lists its artefact after restart #{}: {status}",
                    round + 1
                );

                let files = a.export_tree(&id, &format!("r{round:03}"));
                let a_file = String::from_utf8_lossy(
                    files
                        .get(A_FILE)
                        .unwrap_or_else(|| panic!("export on A has no {A_FILE}")),
                )
                .into_owned();
                let log = a.log_entries(&id);
                let round_lost = losses(&all_acked, &a_file, &log);
                for (marker, l) in round_lost {
                    if lost.contains_key(&marker) {
                        continue;
                    }
                    eprintln!(
                        "LOST after kill #{} (delay {} ms): {l}",
                        round + 1,
                        delay.as_millis()
                    );
                    lost.insert(marker, format!("kill #{}: {l}", round + 1));
                }
                if let Some(m) = &stream.in_flight {
                    in_flight += 1;
                    if a_file.lines().any(|l| l == m) {
                        in_flight_kept += 1;
                    }
                }
                eprintln!(
                    "round {round:>3}: killed after {:>3} ms, {:>2} acknowledged, in flight: {:<14} log {} entries",
                    delay.as_millis(),
                    stream.acked.len(),
                    stream.in_flight.as_deref().unwrap_or("-"),
                    log.len()
                );
                // Keep B syncing into A in the next round.
                a.wait_connected(&b);
            }
        }));
        stop_b.store(true, Ordering::SeqCst);
        let b_acked = b_thread.join().expect("B's commit stream panicked");
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
        b_acked
    });

    // B's edits kept reaching A across the crashes.
    wait_until(
        secs(30),
        "A has every commit B made during the crashes",
        || {
            let log = a.log_entries(&id);
            let messages: BTreeSet<&str> =
                log.iter().filter_map(|e| e["message"].as_str()).collect();
            b_acked.iter().all(|m| messages.contains(m.as_str()))
        },
    );

    println!(
        "crash safety: {rounds} rounds, {kills} kills, {} acknowledged commits checked, \
         {in_flight} in flight at a kill ({in_flight_kept} of them kept), {} commits from B synced, \
         {} lost, seed {seed:#x}, {:.1} s",
        all_acked.len(),
        b_acked.len(),
        lost.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        lost.is_empty(),
        "{} acknowledged commit(s) lost after SIGKILL (seed {seed:#x}):\n  {}",
        lost.len(),
        lost.values().cloned().collect::<Vec<_>>().join("\n  ")
    );
    assert!(
        !all_acked.is_empty(),
        "no commit on A was acknowledged in {rounds} rounds: the test checked nothing"
    );
}
