//! Many nodes, one artefact, random edits and random partitions: do they converge?
//!
//! Runs the real sync engine (no sockets) for a seeded scenario: a random mesh of nodes, one
//! publishes an artefact, then for a number of rounds random nodes edit random lines of its
//! files while random links are cut and healed. At the end every link is healed and the network
//! runs until quiet; every node must then hold identical heads and byte-identical files, with
//! every edit present. The same seed always replays the same run.
//!
//! ```text
//! cargo run --release -p allmenning-simulations --bin simulate -- --nodes 30 --rounds 40 --seed 7
//! ```
//!
//! `simulate conflicts [--nodes N] [--groups G] [--artefacts A] [--seed S] [--binary 0|1]` runs the partition
//! conflict scenario instead (`allmenning_simulations::partition_conflicts`): groups cut apart
//! edit the same and different lines of shared artefacts, heal, and every node must report
//! exactly the planned conflicts until one node resolves them.

use allmenning_protocol::artefact::{FileEdit, Metadata};
use allmenning_protocol::engine::FileData;
use allmenning_protocol::testing::SimNet;
use std::time::Instant;

struct Args {
    nodes: usize,
    rounds: usize,
    seed: u64,
    degree: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        nodes: 20,
        rounds: 30,
        seed: 1,
        degree: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| -> Result<usize, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("{name} needs a number"))
        };
        match flag.as_str() {
            "--nodes" => args.nodes = value("--nodes")?.max(2),
            "--rounds" => args.rounds = value("--rounds")?,
            "--seed" => args.seed = value("--seed")? as u64,
            "--degree" => args.degree = value("--degree")?.max(1),
            "-h" | "--help" => {
                println!("usage: simulate [--nodes N] [--rounds R] [--seed S] [--degree D]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

/// `simulate conflicts ...`: the partition conflict scenario.
fn conflicts_scenario(args: &[String]) -> ! {
    use allmenning_simulations::partition_conflicts::{run, Config};
    let mut config = Config::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value: Option<u64> = it.next().and_then(|v| v.parse().ok());
        let Some(value) = value else {
            eprintln!("usage: simulate conflicts [--nodes N] [--groups G] [--artefacts A] [--seed S] [--binary 0|1]");
            std::process::exit(2);
        };
        match flag.as_str() {
            "--nodes" => config.nodes = value as usize,
            "--groups" => config.groups = value as usize,
            "--artefacts" => config.artefacts = value as usize,
            "--seed" => config.seed = value,
            "--binary" => config.binary = value != 0,
            other => {
                eprintln!("error: unknown argument {other:?}");
                std::process::exit(2);
            }
        }
    }
    match run(&config) {
        Ok(report) => {
            println!("seed {}\n{report}", config.seed);
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("FAIL (seed {}): {e}", config.seed);
            std::process::exit(1);
        }
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("conflicts") {
        conflicts_scenario(&argv[1..]);
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let started = Instant::now();
    let mut net = SimNet::new(args.nodes, args.seed);
    let mut links = Vec::new();
    for a in 0..args.nodes {
        for _ in 0..args.degree {
            let b = net.rng.below(args.nodes);
            if a != b {
                links.push((a, b));
            }
        }
        if a > 0 {
            // Keep the mesh connected: a spanning chain under the random links.
            links.push((a - 1, a));
        }
    }
    for &(a, b) in &links {
        net.connect(a, b);
    }
    let lines: Vec<String> = (0..40).map(|i| format!("linje {i}")).collect();
    let files = vec![
        FileData {
            path: "README.md".into(),
            content: (lines.join("\n") + "\n").into_bytes(),
            executable: false,
        },
        FileData {
            path: "docs/rutine.md".into(),
            content: (lines.join("\n") + "\n").into_bytes(),
            executable: false,
        },
        FileData {
            path: "data/logo.bin".into(),
            content: (0..=255u8).collect(),
            executable: false,
        },
    ];
    let meta = Metadata {
        title: "Simulert artefakt".into(),
        kind: "guide".into(),
        description: String::new(),
        tags: vec![],
        owner: "971032146".into(),
        owner_name: "KS".into(),
        created: net.now,
    };
    let nonce = net.nonce();
    let id = match net.nodes[0].publish(&meta, &files, None, net.now, nonce) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("publish failed: {e}");
            std::process::exit(1);
        }
    };
    net.run(usize::MAX);
    let mut edits_made = Vec::new();
    let mut cuts = 0;
    for round in 0..args.rounds {
        // Cut or heal a few links.
        for _ in 0..2 {
            let &(a, b) = &links[net.rng.below(links.len())];
            if net.linked(a, b) {
                net.disconnect(a, b);
                cuts += 1;
            } else {
                net.connect(a, b);
            }
        }
        // A few nodes edit a random line of a random text file, each from its own current view.
        for _ in 0..3 {
            let node = net.rng.below(args.nodes);
            let path = if net.rng.below(2) == 0 {
                "README.md"
            } else {
                "docs/rutine.md"
            };
            let Ok((base, files)) = net.nodes[node].files(&id, None) else {
                continue;
            };
            let Some(file) = files.into_iter().find(|f| f.path == path) else {
                continue;
            };
            let text = String::from_utf8_lossy(&file.content).to_string();
            let line = net.rng.below(lines.len());
            let marker = format!(" [r{round} n{node}]");
            let edited: String = text
                .lines()
                .enumerate()
                .map(|(i, l)| {
                    if i == line {
                        format!("{l}{marker}\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            let nonce = net.nonce();
            net.now += 1;
            let edit = FileEdit::Write {
                path: path.into(),
                content: edited.into_bytes(),
                executable: false,
            };
            match net.nodes[node].commit(&id, &base, &[edit], "edit", net.now, nonce) {
                Ok(Some(_)) => edits_made.push((path, marker)),
                Ok(None) => {}
                Err(e) => {
                    eprintln!("commit failed on node {node}: {e}");
                    std::process::exit(1);
                }
            }
        }
        net.run(usize::MAX);
    }
    for &(a, b) in &links {
        net.connect(a, b);
    }
    net.run(usize::MAX);

    let mut failures = Vec::new();
    let reference = net.nodes[0].files(&id, None);
    let Ok((ref_heads, ref_files)) = reference else {
        eprintln!("node 0 lost the artefact");
        std::process::exit(1);
    };
    for n in 1..args.nodes {
        match net.nodes[n].files(&id, None) {
            Ok((heads, files)) => {
                if heads != ref_heads || files != ref_files {
                    failures.push(format!("node {n} differs from node 0"));
                }
            }
            Err(e) => failures.push(format!("node {n}: {e}")),
        }
    }
    let all_text: String = ref_files
        .iter()
        .map(|f| String::from_utf8_lossy(&f.content).to_string())
        .collect();
    let lost = edits_made
        .iter()
        .filter(|(_, marker)| !all_text.contains(marker.as_str()))
        .count();
    let t = &net.traffic;
    println!(
        "seed {}  nodes {}  links {}  rounds {}",
        args.seed,
        args.nodes,
        links.len(),
        args.rounds
    );
    println!(
        "edits committed {}  edits lost {}  link cuts {}",
        edits_made.len(),
        lost,
        cuts
    );
    println!(
        "requests {}  request bytes {}  response bytes {}  announces {}  snapshots {}",
        t.requests, t.request_bytes, t.response_bytes, t.announces, t.snapshots
    );
    println!(
        "final heads {}  wall time {:.2} s",
        ref_heads.len(),
        started.elapsed().as_secs_f64()
    );
    if !failures.is_empty() || lost > 0 {
        for f in &failures {
            eprintln!("FAIL: {f}");
        }
        eprintln!("FAIL: {lost} edits lost");
        std::process::exit(1);
    }
    println!("converged: every node holds identical heads and files, no edit lost");
}
