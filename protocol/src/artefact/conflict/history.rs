//! Which signed changes touched which file: the index conflicts are decided on.
//!
//! A file is in conflict when changes that touched it are concurrent: none has the others in
//! its past. To know that, every signed change's operations are mapped to the paths they
//! concern: a put or delete of the path in the `files` map, an operation on the path's entry
//! map, an operation on a text object the path's entry has ever named, or a mark in the
//! `resolved` map (written by a commit that resolves the path without changing its content).
//! Origin changes are skipped: they only create a text from a blob every node already holds,
//! and are never a side of a conflict. Everything here is a function of the change history
//! alone, so every node builds the same index for the same changes in any arrival order.

use automerge::legacy::{Key, ObjectId, OpId, OpType};
use automerge::{Automerge, ChangeHash, ObjType, ReadDoc, ScalarValue, ROOT};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::artefact::FILES;
use crate::signed::actor_key;

/// The root key of the map in which a commit marks paths it resolved.
pub const RESOLVED: &str = "resolved";

/// The change graph of a document and, per path, the signed changes that touched it.
#[derive(Debug, Default)]
pub(crate) struct History {
    pub hashes: Vec<ChangeHash>,
    pub index: HashMap<ChangeHash, usize>,
    /// Dependencies by index; every dependency has a smaller index (topological order).
    pub deps: Vec<Vec<usize>>,
    pub times: Vec<i64>,
    /// Per path, the changes that touched it, in topological order.
    pub touches: BTreeMap<String, Vec<usize>>,
    /// Per change, the paths at which it created a new entry (for telling renames apart).
    pub made: HashMap<usize, BTreeSet<String>>,
    /// Every blob an entry was ever set to: the contents some version of the artefact names.
    pub blobs: HashSet<crate::blob::BlobHash>,
}

/// What one change's operations concern, before objects are mapped to paths.
#[derive(Default)]
struct Ops {
    /// (object, map key) of every operation.
    targets: Vec<(String, Option<String>)>,
    /// Objects the change made: id → (parent, key).
    made: Vec<(String, String, String)>,
    /// `text` keys put on a map: (entry object, text key).
    text_refs: Vec<(String, String)>,
}

impl History {
    /// Builds the index of `doc`'s whole history.
    pub fn of(doc: &Automerge) -> History {
        let changes = doc.get_changes(&[]);
        // Topological order (Kahn), ties broken by hash so that the order is the same on every
        // node; automerge's own order is usually topological already.
        let mut by_hash: HashMap<ChangeHash, usize> = HashMap::new();
        for (i, c) in changes.iter().enumerate() {
            by_hash.insert(c.hash(), i);
        }
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); changes.len()];
        let mut missing: Vec<usize> = vec![0; changes.len()];
        for (i, c) in changes.iter().enumerate() {
            for d in c.deps() {
                if let Some(&j) = by_hash.get(d) {
                    children[j].push(i);
                    missing[i] += 1;
                }
            }
        }
        let mut ready: BTreeSet<(ChangeHash, usize)> = (0..changes.len())
            .filter(|&i| missing[i] == 0)
            .map(|i| (changes[i].hash(), i))
            .collect();
        let mut order = Vec::with_capacity(changes.len());
        while let Some(first) = ready.iter().next().copied() {
            ready.remove(&first);
            let i = first.1;
            order.push(i);
            for &child in &children[i] {
                missing[child] -= 1;
                if missing[child] == 0 {
                    ready.insert((changes[child].hash(), child));
                }
            }
        }

        let mut history = History::default();
        for &i in &order {
            let hash = changes[i].hash();
            history.index.insert(hash, history.hashes.len());
            history.hashes.push(hash);
            history.times.push(changes[i].timestamp());
        }
        for &i in &order {
            let deps = changes[i]
                .deps()
                .iter()
                .filter_map(|d| history.index.get(d).copied())
                .collect();
            history.deps.push(deps);
        }

        // Decode the signed changes' operations.
        let mut per_change: Vec<(usize, Ops)> = Vec::new();
        for &i in &order {
            let change = &changes[i];
            if actor_key(change.actor_id()).is_none() {
                continue;
            }
            // A change whose operations do not expand is treated as touching nothing.
            let Some(expanded) = crate::artefact::expand(change) else {
                continue;
            };
            let mut ops = Ops::default();
            for (n, op) in expanded.operations.iter().enumerate() {
                let obj = match &op.obj {
                    ObjectId::Root => "_root".to_string(),
                    ObjectId::Id(id) => id.to_string(),
                };
                let key = match &op.key {
                    Key::Map(k) => Some(k.to_string()),
                    Key::Seq(_) => None,
                };
                if let (OpType::Make(_), Some(k)) = (&op.action, &key) {
                    let id = OpId(
                        expanded.start_op.get() + n as u64,
                        expanded.actor_id.clone(),
                    );
                    ops.made.push((id.to_string(), obj.clone(), k.clone()));
                }
                if let (OpType::Put(ScalarValue::Str(value)), Some("text")) =
                    (&op.action, key.as_deref())
                {
                    ops.text_refs.push((obj.clone(), value.to_string()));
                }
                if let (OpType::Put(ScalarValue::Str(value)), Some("blob")) =
                    (&op.action, key.as_deref())
                {
                    if let Ok(hash) = value.parse() {
                        history.blobs.insert(hash);
                    }
                }
                ops.targets.push((obj, key));
            }
            per_change.push((history.index[&change.hash()], ops));
        }

        // Objects → what they are.
        let mut files_maps: HashSet<String> = HashSet::new();
        let mut resolved_maps: HashSet<String> = HashSet::new();
        let mut entries: HashMap<String, String> = HashMap::new();
        for (_, ops) in &per_change {
            for (id, parent, key) in &ops.made {
                if parent == "_root" && key == FILES {
                    files_maps.insert(id.clone());
                } else if parent == "_root" && key == RESOLVED {
                    resolved_maps.insert(id.clone());
                }
            }
        }
        for (_, ops) in &per_change {
            for (id, parent, key) in &ops.made {
                if files_maps.contains(parent) {
                    entries.insert(id.clone(), key.clone());
                }
            }
        }
        // Text key → paths whose entries ever named it; text object → key.
        let mut text_paths: HashMap<String, BTreeSet<String>> = HashMap::new();
        for (_, ops) in &per_change {
            for (entry, key) in &ops.text_refs {
                if let Some(path) = entries.get(entry) {
                    text_paths
                        .entry(key.clone())
                        .or_default()
                        .insert(path.clone());
                }
            }
        }
        let mut texts: HashMap<String, String> = HashMap::new();
        for key in text_paths.keys() {
            if let Ok(all) = doc.get_all(ROOT, key.as_str()) {
                for (value, obj) in all {
                    if matches!(value, automerge::Value::Object(ObjType::Text)) {
                        texts.insert(obj.to_string(), key.clone());
                    }
                }
            }
        }

        for (change, ops) in &per_change {
            let mut paths: BTreeSet<&str> = BTreeSet::new();
            for (obj, key) in &ops.targets {
                if files_maps.contains(obj) || resolved_maps.contains(obj) {
                    if let Some(k) = key {
                        paths.insert(k);
                    }
                } else if let Some(path) = entries.get(obj) {
                    paths.insert(path);
                } else if let Some(key) = texts.get(obj) {
                    if let Some(all) = text_paths.get(key) {
                        paths.extend(all.iter().map(String::as_str));
                    }
                }
            }
            for path in paths {
                history
                    .touches
                    .entry(path.to_string())
                    .or_default()
                    .push(*change);
            }
            let made: BTreeSet<String> = ops
                .made
                .iter()
                .filter(|(_, parent, _)| files_maps.contains(parent))
                .map(|(_, _, key)| key.clone())
                .collect();
            if !made.is_empty() {
                history.made.insert(*change, made);
            }
        }
        for list in history.touches.values_mut() {
            list.sort_unstable();
            list.dedup();
        }
        history
    }

    /// The changes in the past of `heads` (included), as a set of indices.
    pub fn past(&self, heads: &[usize]) -> Vec<bool> {
        let mut seen = vec![false; self.hashes.len()];
        let mut stack: Vec<usize> = heads.to_vec();
        while let Some(i) = stack.pop() {
            if seen[i] {
                continue;
            }
            seen[i] = true;
            stack.extend(self.deps[i].iter().copied().filter(|&d| !seen[d]));
        }
        seen
    }

    /// The maximal elements of `changes` (none of which is in another's past). Linear in the
    /// history: candidates are visited newest first, and a candidate already reached from a
    /// newer one is not maximal and needs no walk of its own.
    pub fn maximal(&self, changes: &[usize]) -> Vec<usize> {
        let mut sorted = changes.to_vec();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        sorted.dedup();
        if sorted.len() <= 1 {
            return sorted;
        }
        let mut covered = vec![false; self.hashes.len()];
        let mut out = Vec::new();
        for c in sorted {
            if covered[c] {
                continue;
            }
            out.push(c);
            let mut stack: Vec<usize> = self.deps[c].clone();
            while let Some(i) = stack.pop() {
                if covered[i] {
                    continue;
                }
                covered[i] = true;
                stack.extend(self.deps[i].iter().copied().filter(|&d| !covered[d]));
            }
        }
        out.sort_unstable();
        out
    }

    /// The heads of the common past of `sides`: the newest changes all of them have.
    pub fn common_heads(&self, sides: &[usize]) -> Vec<usize> {
        let mut common: Option<Vec<bool>> = None;
        for &s in sides {
            let past = self.past(&[s]);
            common = Some(match common {
                None => past,
                Some(c) => c.iter().zip(&past).map(|(a, b)| *a && *b).collect(),
            });
        }
        let common = common.unwrap_or_default();
        let mut has_child = vec![false; common.len()];
        for (i, &inside) in common.iter().enumerate() {
            if inside {
                for &d in &self.deps[i] {
                    has_child[d] = true;
                }
            }
        }
        (0..common.len())
            .filter(|&i| common[i] && !has_child[i])
            .collect()
    }
}
