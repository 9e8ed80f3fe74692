//! A partitioned network whose groups edit overlapping and disjoint lines of shared artefacts,
//! then heals: is every conflict found, on every node alike, and none lost or resolved silently?
//!
//! Seeded and replayable. Node 0 publishes a few artefacts (text files and one binary file
//! each) to a random mesh; the mesh is cut into groups; each group then makes a sequence of
//! edits (one at a time, so that inside a group the history stays linear) to lines that are
//! planned per file: the same line in several groups (an overlap), different lines with at
//! least three unchanged lines between them in several groups (disjoint), lines in one group
//! only, or none; and some groups replace the binary file. Every edit appends a unique marker
//! to its line, so every group's version of a line is known.
//!
//! From that plan alone the scenario knows, independently of the conflict code, what must
//! follow: a file edited by several groups on a shared line is a `text` conflict whose sides are
//! exactly the last change of each group that touched it, with one marked region per shared
//! line; a binary file replaced by several groups is a `binary` conflict likewise; every other
//! file merges to the plan's text. After the heal it checks that on every node, then has one
//! node resolve every conflict and checks that every node ends with none and identical files.

use allmenning_protocol::artefact::conflict::{Analysis, ConflictKind};
use allmenning_protocol::artefact::{ArtefactId, FileEdit, Metadata};
use allmenning_protocol::engine::FileData;
use allmenning_protocol::identity::PublicKey;
use allmenning_protocol::testing::SimNet;
use allmenning_protocol::ChangeHash;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

/// Lines in every text file.
pub const LINES: usize = 40;
/// Lines that edits may touch: every fourth line, so two different ones always have three
/// unchanged lines between them (they must merge) and the same one is a conflict.
pub const SLOTS: usize = 10;
const TEXT_FILES: [&str; 4] = ["README.md", "docs/rutine.md", "docs/ros.md", "src/sats.py"];
const BINARY_FILE: &str = "data/logo.bin";

#[derive(Clone, Debug)]
pub struct Config {
    pub nodes: usize,
    pub groups: usize,
    pub artefacts: usize,
    pub seed: u64,
    /// Whether groups also replace the binary file. Off by default: a binary conflict's side
    /// whose blob lost the document's pick is never fetched by nodes that do not hold it, so
    /// they cannot present it (`binary_conflict_sides_are_fetched` in
    /// `tests/partition_conflicts.rs` reproduces that; it is ignored until that is fixed).
    pub binary: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            nodes: 12,
            groups: 3,
            artefacts: 4,
            seed: 1,
            binary: false,
        }
    }
}

/// What a run measured.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub nodes: usize,
    pub groups: usize,
    pub artefacts: usize,
    pub links: usize,
    pub cut_links: usize,
    /// Edits committed during the partition.
    pub edits: usize,
    /// Lines edited by more than one group (each must be a marked conflict region).
    pub shared_lines: usize,
    /// Text files edited by several groups on different lines only (each must merge).
    pub disjoint_files: usize,
    /// Conflicts the plan predicts, per kind; every node reported exactly these.
    pub text_conflicts: usize,
    pub binary_conflicts: usize,
    /// Time for every node to analyse every artefact after the heal (first, uncached call),
    /// summed over nodes, and the slowest node.
    pub analyse_total: Duration,
    pub analyse_slowest_node: Duration,
    /// Messages delivered from the heal until the network was quiet.
    pub heal_steps: usize,
    /// Changes that resolved conflicts (one per artefact with conflicts).
    pub resolutions: usize,
    pub wall: Duration,
}

impl Report {
    pub fn conflicts(&self) -> usize {
        self.text_conflicts + self.binary_conflicts
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "nodes {}  groups {}  artefacts {}  links {} ({} cut by the partition)",
            self.nodes, self.groups, self.artefacts, self.links, self.cut_links
        )?;
        writeln!(
            f,
            "edits during the partition {}  lines edited by several groups {}  files edited by several groups on disjoint lines {}",
            self.edits, self.shared_lines, self.disjoint_files
        )?;
        writeln!(
            f,
            "conflicts detected on every node {} (text {}, binary {}), as planned; disjoint files merged without conflict",
            self.conflicts(),
            self.text_conflicts,
            self.binary_conflicts
        )?;
        writeln!(
            f,
            "analysis after the heal: {:.1} ms for all nodes and artefacts, slowest node {:.1} ms; heal delivered {} messages",
            self.analyse_total.as_secs_f64() * 1e3,
            self.analyse_slowest_node.as_secs_f64() * 1e3,
            self.heal_steps
        )?;
        write!(
            f,
            "resolutions {} -> 0 conflicts and identical files on every node; wall time {:.2} s",
            self.resolutions,
            self.wall.as_secs_f64()
        )
    }
}

/// One planned edit: a group appends a marker to a slot of a text file, or replaces the binary.
#[derive(Clone, Debug)]
enum Task {
    Line {
        artefact: usize,
        path: &'static str,
        slot: usize,
    },
    Binary {
        artefact: usize,
    },
}

fn base_line(path: &str, i: usize) -> String {
    format!("{path} linje {i}: kommunen behandler saken innen {i} dager")
}

fn base_text(path: &str) -> String {
    (0..LINES).map(|i| base_line(path, i) + "\n").collect()
}

fn base_binary(artefact: usize) -> Vec<u8> {
    let mut b: Vec<u8> = (0..=255u8).collect();
    b.push(artefact as u8);
    b
}

fn slot_line(slot: usize) -> usize {
    slot * 4 + 1
}

/// The conflict as the plan predicts it, or as a node reports it, in comparable form.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    path: String,
    kind: ConflictKind,
    sides: BTreeSet<ChangeHash>,
    regions: usize,
}

/// What one group did to one file: its version of every slot it edited, its last change.
#[derive(Clone, Debug, Default)]
struct GroupFile {
    lines: BTreeMap<usize, String>,
    binary: Option<Vec<u8>>,
    /// The marker of `binary`.
    binary_marker: Option<String>,
    last: Option<ChangeHash>,
}

fn shuffle<T>(net: &mut SimNet, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let j = net.rng.below(i + 1);
        v.swap(i, j);
    }
}

/// Runs the scenario; `Err` names the first broken expectation.
pub fn run(config: &Config) -> Result<Report, String> {
    let started = Instant::now();
    let Config {
        nodes,
        groups,
        artefacts,
        seed,
        binary,
    } = config.clone();
    if !(2..=5).contains(&groups) || nodes < groups || artefacts == 0 {
        // Five groups at most: the disjoint plan gives each up to two of the ten lines.
        return Err("needs 2 to 5 groups, a node per group and an artefact".into());
    }
    let mut net = SimNet::new(nodes, seed);
    let keys: Vec<PublicKey> = net.nodes.iter().map(|n| n.public_key()).collect();

    // Groups: a random assignment with every group non-empty.
    let mut order: Vec<usize> = (0..nodes).collect();
    shuffle(&mut net, &mut order);
    let mut group_of = vec![0; nodes];
    for (k, &n) in order.iter().enumerate() {
        group_of[n] = k % groups;
    }
    let members: Vec<Vec<usize>> = (0..groups)
        .map(|g| (0..nodes).filter(|&n| group_of[n] == g).collect())
        .collect();

    // Links: a chain inside every group (so each stays connected when cut off), a chain over
    // all nodes and random links; the partition cuts every link between groups.
    let mut links: BTreeSet<(usize, usize)> = BTreeSet::new();
    for m in &members {
        for w in m.windows(2) {
            links.insert((w[0].min(w[1]), w[0].max(w[1])));
        }
    }
    for a in 1..nodes {
        links.insert((a - 1, a));
    }
    for a in 0..nodes {
        for _ in 0..2 {
            let b = net.rng.below(nodes);
            if a != b {
                links.insert((a.min(b), a.max(b)));
            }
        }
    }
    for &(a, b) in &links {
        net.connect(a, b);
    }
    let cross: Vec<(usize, usize)> = links
        .iter()
        .copied()
        .filter(|&(a, b)| group_of[a] != group_of[b])
        .collect();

    // Publish the artefacts on node 0 and let them reach everyone.
    let mut ids: Vec<ArtefactId> = Vec::new();
    for a in 0..artefacts {
        let mut files: Vec<FileData> = TEXT_FILES
            .iter()
            .map(|p| FileData {
                path: p.to_string(),
                content: base_text(p).into_bytes(),
                executable: false,
            })
            .collect();
        files.push(FileData {
            path: BINARY_FILE.into(),
            content: base_binary(a),
            executable: false,
        });
        let meta = Metadata {
            title: format!("Delt artefakt {a}"),
            kind: "guide".into(),
            description: String::new(),
            tags: vec![],
            owner: "971032146".into(),
            owner_name: "KS".into(),
            created: net.now,
        };
        let nonce = net.nonce();
        let id = net.nodes[0]
            .publish(&meta, &files, None, net.now, nonce)
            .map_err(|e| format!("publish {a}: {e}"))?;
        ids.push(id);
    }
    net.run(usize::MAX);
    let published: Vec<_> = ids
        .iter()
        .map(|id| net.nodes[0].files(id, None).map(|f| f.0))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    for n in 0..nodes {
        for (a, id) in ids.iter().enumerate() {
            let heads = net.nodes[n].files(id, None).map(|f| f.0).ok();
            if heads.as_ref() != Some(&published[a]) {
                return Err(format!(
                    "node {n} did not get artefact {a} before the split"
                ));
            }
        }
    }

    // The plan: per text file an overlap, disjoint lines, one group only or nothing (the first
    // artefact has one of each, the others draw); per binary file several groups, one or none.
    let mut tasks: Vec<Vec<Task>> = vec![Vec::new(); groups];
    for a in 0..artefacts {
        for (f, &path) in TEXT_FILES.iter().enumerate() {
            let category = if a == 0 { f } else { net.rng.below(4) };
            let mut slots: Vec<usize> = (0..SLOTS).collect();
            shuffle(&mut net, &mut slots);
            let mut gs: Vec<usize> = (0..groups).collect();
            shuffle(&mut net, &mut gs);
            let several = 2 + net.rng.below(groups - 1);
            let mut assign = |g: usize, slot: usize, net: &mut SimNet| {
                for _ in 0..1 + net.rng.below(2) {
                    tasks[g].push(Task::Line {
                        artefact: a,
                        path,
                        slot,
                    });
                }
            };
            match category {
                0 => {
                    // Overlap: several groups edit slot 0 of the shuffle; each may also edit a
                    // line of its own.
                    for (k, &g) in gs[..several].iter().enumerate() {
                        assign(g, slots[0], &mut net);
                        if net.rng.below(2) == 0 {
                            assign(g, slots[1 + k], &mut net);
                        }
                    }
                }
                1 => {
                    // Disjoint: several groups, one or two lines each, no line shared.
                    let mut next = 0;
                    for &g in &gs[..several] {
                        for _ in 0..1 + net.rng.below(2) {
                            assign(g, slots[next], &mut net);
                            next += 1;
                        }
                    }
                }
                2 => {
                    for k in 0..1 + net.rng.below(3) {
                        assign(gs[0], slots[k], &mut net);
                    }
                }
                _ => {}
            }
        }
        let binary_groups = match a {
            _ if !binary => 0,
            0 => 2 + net.rng.below(groups - 1),
            1 => 1,
            _ => net.rng.below(groups + 1),
        };
        let mut gs: Vec<usize> = (0..groups).collect();
        shuffle(&mut net, &mut gs);
        for &g in &gs[..binary_groups] {
            for _ in 0..1 + net.rng.below(2) {
                tasks[g].push(Task::Binary { artefact: a });
            }
        }
    }
    for t in tasks.iter_mut() {
        shuffle(&mut net, t);
    }

    // --- Partition. ------------------------------------------------------------------------
    for &(a, b) in &cross {
        net.disconnect(a, b);
    }
    // (artefact, path) -> group -> what that group did.
    let mut done: BTreeMap<(usize, String), BTreeMap<usize, GroupFile>> = BTreeMap::new();
    let mut author: BTreeMap<ChangeHash, usize> = BTreeMap::new();
    let mut markers: Vec<(usize, String)> = Vec::new();
    let mut edits = 0;
    let rounds = tasks.iter().map(Vec::len).max().unwrap_or(0);
    for round in 0..rounds {
        for g in 0..groups {
            let Some(task) = tasks[g].get(round).cloned() else {
                continue;
            };
            let node = members[g][net.rng.below(members[g].len())];
            let (artefact, path) = match &task {
                Task::Line { artefact, path, .. } => (*artefact, path.to_string()),
                Task::Binary { artefact } => (*artefact, BINARY_FILE.to_string()),
            };
            let id = ids[artefact];
            let (heads, files) = net.nodes[node]
                .files(&id, None)
                .map_err(|e| format!("node {node}: {e}"))?;
            let current = files
                .iter()
                .find(|f| f.path == path)
                .ok_or(format!("node {node} lost {path} of artefact {artefact}"))?
                .content
                .clone();
            let marker = format!("[g{g} n{node} e{edits}]");
            let entry = done.entry((artefact, path.clone())).or_default();
            let mine = entry.entry(g).or_default();
            let content = match task {
                Task::Line { slot, .. } => {
                    let text = String::from_utf8(current).map_err(|e| e.to_string())?;
                    let mut lines: Vec<String> = text.lines().map(String::from).collect();
                    let l = slot_line(slot);
                    lines[l] = format!("{} {marker}", lines[l]);
                    mine.lines.insert(slot, lines[l].clone());
                    lines
                        .iter()
                        .map(|l| format!("{l}\n"))
                        .collect::<String>()
                        .into_bytes()
                }
                Task::Binary { .. } => {
                    // A group's later replacement replaces its earlier one: only the last
                    // version of each group must survive the heal.
                    if let Some(previous) = mine.binary_marker.replace(marker.clone()) {
                        markers.retain(|(a, m)| !(*a == artefact && *m == previous));
                    }
                    let mut b = vec![0x89, 0xff, 0x00, 0xfe];
                    b.extend_from_slice(marker.as_bytes());
                    mine.binary = Some(b.clone());
                    b
                }
            };
            let edit = FileEdit::Write {
                path: path.clone(),
                content,
                executable: false,
            };
            net.now += 1;
            let nonce = net.nonce();
            let change = net.nodes[node]
                .commit(&id, &heads, &[edit], "edit", net.now, nonce)
                .map_err(|e| format!("commit on node {node}: {e}"))?
                .ok_or(format!("edit {marker} changed nothing"))?;
            mine.last = Some(change);
            author.insert(change, node);
            markers.push((artefact, marker));
            edits += 1;
        }
        net.run(usize::MAX);
    }

    // During the split every group agrees within itself and sees no conflict: its own edits
    // were made one after the other.
    for (a, id) in ids.iter().enumerate() {
        for m in &members {
            let first = net.nodes[m[0]].files(id, None).map_err(|e| e.to_string())?;
            for &n in &m[1..] {
                if net.nodes[n].files(id, None).map_err(|e| e.to_string())? != first {
                    return Err(format!(
                        "artefact {a}: node {n} differs from node {} of its group during the split",
                        m[0]
                    ));
                }
            }
            for &n in m {
                let c = net.nodes[n]
                    .conflicts(id, None)
                    .map_err(|e| e.to_string())?;
                if !c.is_empty() {
                    return Err(format!(
                        "artefact {a}: node {n} shows conflicts before the heal: {c:?}"
                    ));
                }
            }
        }
    }

    // What must follow, from the plan alone.
    let mut expected: Vec<BTreeSet<Key>> = vec![BTreeSet::new(); artefacts];
    let mut expected_files: Vec<BTreeMap<String, Vec<u8>>> = Vec::new();
    let mut shared_lines = 0;
    let mut disjoint_files = 0;
    let (mut text_conflicts, mut binary_conflicts) = (0, 0);
    for a in 0..artefacts {
        let mut files = BTreeMap::new();
        for path in TEXT_FILES {
            let by_group = done
                .get(&(a, path.to_string()))
                .cloned()
                .unwrap_or_default();
            let mut per_slot: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for (g, gf) in &by_group {
                for slot in gf.lines.keys() {
                    per_slot.entry(*slot).or_default().push(*g);
                }
            }
            let shared = per_slot.values().filter(|gs| gs.len() > 1).count();
            shared_lines += shared;
            if shared > 0 {
                text_conflicts += 1;
                expected[a].insert(Key {
                    path: path.into(),
                    kind: ConflictKind::Text,
                    sides: by_group.values().filter_map(|gf| gf.last).collect(),
                    regions: shared,
                });
            } else {
                if by_group.len() > 1 {
                    disjoint_files += 1;
                }
                let mut lines: Vec<String> = (0..LINES).map(|i| base_line(path, i)).collect();
                for gf in by_group.values() {
                    for (slot, line) in &gf.lines {
                        lines[slot_line(*slot)] = line.clone();
                    }
                }
                files.insert(
                    path.to_string(),
                    lines
                        .iter()
                        .map(|l| format!("{l}\n"))
                        .collect::<String>()
                        .into_bytes(),
                );
            }
        }
        let by_group = done
            .get(&(a, BINARY_FILE.to_string()))
            .cloned()
            .unwrap_or_default();
        match by_group.len() {
            0 => {
                files.insert(BINARY_FILE.into(), base_binary(a));
            }
            1 => {
                let gf = by_group.values().next().unwrap();
                files.insert(BINARY_FILE.into(), gf.binary.clone().unwrap());
            }
            _ => {
                binary_conflicts += 1;
                expected[a].insert(Key {
                    path: BINARY_FILE.into(),
                    kind: ConflictKind::Binary,
                    sides: by_group.values().filter_map(|gf| gf.last).collect(),
                    regions: 0,
                });
            }
        }
        expected_files.push(files);
    }

    // --- Heal. -----------------------------------------------------------------------------
    for &(a, b) in &cross {
        net.connect(a, b);
    }
    let heal_steps = net.run(usize::MAX);

    let mut analyse_total = Duration::ZERO;
    let mut analyse_slowest_node = Duration::ZERO;
    let mut reference: Vec<(Vec<ChangeHash>, Vec<FileData>, Vec<String>)> = Vec::new();
    for n in 0..nodes {
        // The engine caches its analysis per heads (the listing already asked for it), so the
        // analysis is timed on its own, from the document and heads alone.
        let mut took = Duration::ZERO;
        let mut views = Vec::new();
        for id in &ids {
            let artefact = net.nodes[n].artefact(id).map_err(|e| e.to_string())?;
            let heads = artefact.heads();
            let t = Instant::now();
            let analysis = Analysis::of(artefact, &heads).map_err(|e| e.to_string())?;
            took += t.elapsed();
            let view = net.nodes[n]
                .conflicts(id, None)
                .map_err(|e| e.to_string())?;
            if analysis.conflicts().count() != view.len() {
                return Err(format!(
                    "node {n}: the engine's conflicts differ from a fresh analysis"
                ));
            }
            views.push(view);
        }
        analyse_total += took;
        analyse_slowest_node = analyse_slowest_node.max(took);
        let summaries = net.nodes[n].list().map_err(|e| e.to_string())?;
        for (a, id) in ids.iter().enumerate() {
            let got: BTreeSet<Key> = views[a]
                .iter()
                .map(|v| Key {
                    path: v.path.clone(),
                    kind: v.kind,
                    sides: v.sides.iter().map(|s| s.change).collect(),
                    regions: v.regions,
                })
                .collect();
            if got.len() != views[a].len() || got != expected[a] {
                return Err(format!(
                    "artefact {a} on node {n}: conflicts\n  got      {got:?}\n  expected {:?}",
                    expected[a]
                ));
            }
            // Each side is named by the node that made it.
            for v in &views[a] {
                for s in &v.sides {
                    let by = author.get(&s.change).map(|&m| keys[m]);
                    if s.node.is_none() || s.node != by {
                        return Err(format!(
                            "artefact {a} on node {n}: side {} of {} names {:?}, made by {by:?}",
                            s.change, v.path, s.node
                        ));
                    }
                }
            }
            let count = summaries.iter().find(|s| s.id == *id).map(|s| s.conflicts);
            if count != Some(expected[a].len()) {
                return Err(format!(
                    "artefact {a} on node {n}: listing counts {count:?} conflicts, expected {}",
                    expected[a].len()
                ));
            }

            let (heads, files) = net.nodes[n].files(id, None).map_err(|e| e.to_string())?;
            let labels: Vec<String> = views[a].iter().map(|v| format!("{v:?}")).collect();
            match reference.get(a) {
                None => reference.push((heads.clone(), files.clone(), labels)),
                Some(r) => {
                    if r.0 != heads || r.1 != files || r.2 != labels {
                        return Err(format!("artefact {a}: node {n} differs from node 0 after the heal (heads, files or conflict views)"));
                    }
                }
            }
            check_presented(a, &files, &expected_files[a], &done, &expected[a], &markers)?;
        }
    }

    // --- One node resolves every conflict. ---------------------------------------------------
    let resolver = net.rng.below(nodes);
    let mut resolutions = 0;
    for (a, id) in ids.iter().enumerate() {
        if expected[a].is_empty() {
            continue;
        }
        let (heads, _) = net.nodes[resolver]
            .files(id, None)
            .map_err(|e| e.to_string())?;
        let mut writes = Vec::new();
        for key in &expected[a] {
            let by_group = &done[&(a, key.path.clone())];
            let content = match key.kind {
                ConflictKind::Text => {
                    // Keep every group's markers on each line, in group order.
                    let mut lines: Vec<String> =
                        (0..LINES).map(|i| base_line(&key.path, i)).collect();
                    for gf in by_group.values() {
                        for (slot, line) in &gf.lines {
                            let l = slot_line(*slot);
                            let added = &line[base_line(&key.path, l).len()..];
                            lines[l].push_str(added);
                        }
                    }
                    lines
                        .iter()
                        .map(|l| format!("{l}\n"))
                        .collect::<String>()
                        .into_bytes()
                }
                // Take one side's bytes as they are (a resolution that may change no byte);
                // the other sides' versions are then discarded on purpose, not lost.
                _ => {
                    let taken = by_group.values().next().unwrap();
                    let dropped: Vec<&String> = by_group
                        .values()
                        .skip(1)
                        .filter_map(|gf| gf.binary_marker.as_ref())
                        .collect();
                    markers.retain(|(m_a, m)| !(*m_a == a && dropped.contains(&m)));
                    taken.binary.clone().unwrap()
                }
            };
            expected_files[a].insert(key.path.clone(), content.clone());
            writes.push(FileEdit::Write {
                path: key.path.clone(),
                content,
                executable: false,
            });
        }
        net.now += 1;
        let nonce = net.nonce();
        net.nodes[resolver]
            .commit(id, &heads, &writes, "resolve", net.now, nonce)
            .map_err(|e| format!("resolution of artefact {a} on node {resolver}: {e}"))?
            .ok_or(format!("resolution of artefact {a} made no change"))?;
        resolutions += 1;
    }
    net.run(usize::MAX);
    for (a, id) in ids.iter().enumerate() {
        let first = net.nodes[0].files(id, None).map_err(|e| e.to_string())?;
        for n in 0..nodes {
            let c = net.nodes[n]
                .conflicts(id, None)
                .map_err(|e| e.to_string())?;
            if !c.is_empty() {
                return Err(format!(
                    "artefact {a}: node {n} still shows conflicts after the resolution: {c:?}"
                ));
            }
            let listed = net.nodes[n].list().map_err(|e| e.to_string())?;
            if listed.iter().find(|s| s.id == *id).map(|s| s.conflicts) != Some(0) {
                return Err(format!(
                    "artefact {a}: node {n} lists conflicts after the resolution"
                ));
            }
            let files = net.nodes[n].files(id, None).map_err(|e| e.to_string())?;
            if files != first {
                return Err(format!(
                    "artefact {a}: node {n} differs from node 0 after the resolution"
                ));
            }
        }
        if first.0.len() != 1 && !expected[a].is_empty() {
            return Err(format!(
                "artefact {a}: the resolution should be the only head: {:?}",
                first.0
            ));
        }
        let got: BTreeMap<String, Vec<u8>> = first
            .1
            .iter()
            .map(|f| (f.path.clone(), f.content.clone()))
            .collect();
        if got != expected_files[a] {
            return Err(format!(
                "artefact {a}: files after the resolution differ from the plan: {:?}",
                diff_keys(&got, &expected_files[a])
            ));
        }
        let all: Vec<u8> = first.1.iter().flat_map(|f| f.content.clone()).collect();
        for (m_a, marker) in &markers {
            if *m_a == a && !contains(&all, marker.as_bytes()) {
                return Err(format!(
                    "artefact {a}: edit {marker} lost after the resolution"
                ));
            }
        }
    }

    Ok(Report {
        nodes,
        groups,
        artefacts,
        links: links.len(),
        cut_links: cross.len(),
        edits,
        shared_lines,
        disjoint_files,
        text_conflicts,
        binary_conflicts,
        analyse_total,
        analyse_slowest_node,
        heal_steps,
        resolutions,
        wall: started.elapsed(),
    })
}

/// The files a node presents for artefact `a` after the heal: every file without a conflict
/// as planned; every text conflict marked, holding each group's version of each shared line;
/// every binary side present (in the file or next to it); no edit's marker missing.
fn check_presented(
    a: usize,
    files: &[FileData],
    merged: &BTreeMap<String, Vec<u8>>,
    done: &BTreeMap<(usize, String), BTreeMap<usize, GroupFile>>,
    conflicts: &BTreeSet<Key>,
    markers: &[(usize, String)],
) -> Result<(), String> {
    let by_path: BTreeMap<&str, &[u8]> = files
        .iter()
        .map(|f| (f.path.as_str(), f.content.as_slice()))
        .collect();
    for (path, content) in merged {
        if by_path.get(path.as_str()) != Some(&content.as_slice()) {
            return Err(format!(
                "artefact {a}: {path} is not the plan's merge (disjoint or single-group edits must merge cleanly):\n{}",
                String::from_utf8_lossy(by_path.get(path.as_str()).copied().unwrap_or_default())
            ));
        }
    }
    for key in conflicts {
        let groups = &done[&(a, key.path.clone())];
        match key.kind {
            ConflictKind::Text => {
                let text = String::from_utf8_lossy(
                    by_path.get(key.path.as_str()).copied().unwrap_or_default(),
                )
                .to_string();
                let opened = text.lines().filter(|l| l.starts_with("<<<<<<< ")).count();
                let closed = text.lines().filter(|l| l.starts_with(">>>>>>> ")).count();
                let based = text
                    .lines()
                    .filter(|l| l.starts_with("||||||| base"))
                    .count();
                if opened != key.regions || closed != key.regions || based != key.regions {
                    return Err(format!(
                        "artefact {a}: {} should hold {} marked regions:\n{text}",
                        key.path, key.regions
                    ));
                }
                for gf in groups.values() {
                    for line in gf.lines.values() {
                        if !text.lines().any(|l| l == line) {
                            return Err(format!("artefact {a}: {} lacks the line {line:?} (silently resolved?):\n{text}", key.path));
                        }
                    }
                }
            }
            _ => {
                let present: BTreeSet<&[u8]> = by_path
                    .iter()
                    .filter(|(p, _)| p.starts_with(key.path.as_str()))
                    .map(|(_, c)| *c)
                    .collect();
                let sides: BTreeSet<&[u8]> = groups
                    .values()
                    .filter_map(|gf| gf.binary.as_deref())
                    .collect();
                if present != sides {
                    return Err(format!("artefact {a}: {} and its side files hold {} versions, expected every side's {}", key.path, present.len(), sides.len()));
                }
            }
        }
    }
    let all: Vec<u8> = files.iter().flat_map(|f| f.content.clone()).collect();
    for (m_a, marker) in markers {
        if *m_a == a && !contains(&all, marker.as_bytes()) {
            return Err(format!("artefact {a}: edit {marker} lost after the heal"));
        }
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn diff_keys(got: &BTreeMap<String, Vec<u8>>, want: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let paths: BTreeSet<&String> = got.keys().chain(want.keys()).collect();
    paths
        .into_iter()
        .filter(|p| got.get(*p) != want.get(*p))
        .cloned()
        .collect()
}
