//! Who is who, derived from the registry statements (everything but `Endorse` and `Access`).
//!
//! The derivation is a pure function of the set of statements and the network's roots, computed
//! in one pass in a fixed order, so it cannot depend on the order statements arrived in:
//!
//! 1. revocations: a `Revoke` counts if its target is known, is an `Admit`, `Delegate` or
//!    `Endorse`, and the `Revoke` is signed by the target's signer or by a root;
//! 2. delegations: root-signed `Delegate`s that are not revoked (the root's signature binds org
//!    and key, so a delegation does not depend on admissions, and there are no cycles);
//! 3. admissions: non-revoked `Admit`s signed by a root, or by a key that held `Scope::Admit` at
//!    the `Admit`'s time; per org the earliest (time, then id) wins. Root orgs are admitted by the
//!    network file itself;
//! 4. nodes: `NodeCert`s and `NodeRevoke`s count if signed by the org's key (a root org: any of
//!    its root keys). A revocation is permanent.

use super::statement::{Scope, SignedStatement, Statement, StatementId};
use super::{CuratorView, NodeView, OrgView, Root};
use crate::identity::{OrgKind, OrgNumber, PublicKey};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

#[derive(Clone, Debug)]
pub(crate) struct Delegation {
    pub org: OrgNumber,
    pub scopes: Vec<Scope>,
    pub expires: Option<i64>,
    pub time: i64,
    pub id: StatementId,
}

impl Delegation {
    fn live_at(&self, at: i64) -> bool {
        self.expires.is_none_or(|e| at < e)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Binding {
    pub name: String,
    pub kind: OrgKind,
    pub key: PublicKey,
    pub by: PublicKey,
    pub time: i64,
    pub id: StatementId,
}

#[derive(Clone, Debug)]
struct Cert {
    signer: PublicKey,
    node: PublicKey,
    label: String,
    time: i64,
    id: StatementId,
}

#[derive(Default)]
pub(crate) struct Registry {
    roots: Vec<Root>,
    pub revoked: HashSet<StatementId>,
    delegations: HashMap<PublicKey, Vec<Delegation>>,
    admissions: BTreeMap<OrgNumber, Binding>,
    profiles: BTreeMap<OrgNumber, Binding>,
    /// Keys that speak for an org as a whole: root keys and admitted org keys. First wins.
    key_org: HashMap<PublicKey, OrgNumber>,
    /// Certified, unrevoked node keys of admitted orgs.
    node_orgs: HashMap<PublicKey, BTreeSet<OrgNumber>>,
    certs: BTreeMap<OrgNumber, Vec<Cert>>,
    node_revokes: BTreeMap<OrgNumber, Vec<(PublicKey, PublicKey)>>,
}

fn ranked(time: i64, id: StatementId) -> (i64, StatementId) {
    (time, id)
}

impl Registry {
    pub fn build<'a>(
        roots: &[Root],
        registry_ids: impl Iterator<Item = &'a StatementId>,
        statements: &'a BTreeMap<StatementId, SignedStatement>,
    ) -> Registry {
        let mut reg = Registry {
            roots: roots.to_vec(),
            ..Registry::default()
        };
        let is_root = |key: &PublicKey| roots.iter().any(|r| r.key == *key);
        let root_orgs: BTreeSet<OrgNumber> = roots.iter().map(|r| r.org).collect();

        let mut admits = Vec::new();
        let mut delegates = Vec::new();
        let mut certs = Vec::new();
        let mut node_revokes = Vec::new();
        for id in registry_ids {
            let Some(s) = statements.get(id) else {
                continue;
            };
            match &s.body {
                Statement::Revoke { target } => {
                    if let Some(t) = statements.get(target) {
                        let revocable = matches!(
                            t.body,
                            Statement::Admit { .. }
                                | Statement::Delegate { .. }
                                | Statement::Endorse { .. }
                        );
                        if revocable && (t.signer == s.signer || is_root(&s.signer)) {
                            reg.revoked.insert(*target);
                        }
                    }
                }
                Statement::OrgProfile {
                    org,
                    name,
                    kind,
                    org_key,
                } if *org_key == s.signer => {
                    let candidate = Binding {
                        name: name.clone(),
                        kind: *kind,
                        key: *org_key,
                        by: s.signer,
                        time: s.time,
                        id: *id,
                    };
                    // The latest profile describes an org that is not admitted yet.
                    let newer = reg
                        .profiles
                        .get(org)
                        .is_none_or(|p| ranked(s.time, *id) > ranked(p.time, p.id));
                    if newer {
                        reg.profiles.insert(*org, candidate);
                    }
                }
                Statement::Admit { .. } => admits.push((id, s)),
                Statement::Delegate { .. } => delegates.push((id, s)),
                Statement::NodeCert { .. } => certs.push((id, s)),
                Statement::NodeRevoke { .. } => node_revokes.push((id, s)),
                _ => {}
            }
        }

        for (id, s) in delegates {
            if let Statement::Delegate {
                org,
                org_key,
                scopes,
                expires,
            } = &s.body
            {
                if !is_root(&s.signer) || reg.revoked.contains(id) || scopes.is_empty() {
                    continue;
                }
                let mut scopes = scopes.clone();
                scopes.sort();
                scopes.dedup();
                reg.delegations
                    .entry(*org_key)
                    .or_default()
                    .push(Delegation {
                        org: *org,
                        scopes,
                        expires: *expires,
                        time: s.time,
                        id: *id,
                    });
            }
        }
        for list in reg.delegations.values_mut() {
            list.sort_by_key(|d| ranked(d.time, d.id));
        }

        for (id, s) in admits {
            if let Statement::Admit {
                org,
                name,
                kind,
                org_key,
            } = &s.body
            {
                if root_orgs.contains(org) || reg.revoked.contains(id) {
                    continue;
                }
                let entitled = is_root(&s.signer)
                    || reg
                        .rights(&s.signer, s.time)
                        .is_some_and(|r| r.scopes.contains(&Scope::Admit));
                if !entitled {
                    continue;
                }
                let earlier = reg
                    .admissions
                    .get(org)
                    .is_none_or(|a| ranked(s.time, *id) < ranked(a.time, a.id));
                if earlier {
                    reg.admissions.insert(
                        *org,
                        Binding {
                            name: name.clone(),
                            kind: *kind,
                            key: *org_key,
                            by: s.signer,
                            time: s.time,
                            id: *id,
                        },
                    );
                }
            }
        }

        for root in roots {
            reg.key_org.entry(root.key).or_insert(root.org);
        }
        let mut by_time: Vec<(&OrgNumber, &Binding)> = reg.admissions.iter().collect();
        by_time.sort_by_key(|(_, a)| ranked(a.time, a.id));
        for (org, a) in by_time {
            reg.key_org.entry(a.key).or_insert(*org);
        }

        for (id, s) in certs {
            if let Statement::NodeCert {
                org,
                node_key,
                label,
            } = &s.body
            {
                reg.certs.entry(*org).or_default().push(Cert {
                    signer: s.signer,
                    node: *node_key,
                    label: label.clone(),
                    time: s.time,
                    id: *id,
                });
            }
        }
        for (_, s) in node_revokes {
            if let Statement::NodeRevoke { org, node_key } = &s.body {
                reg.node_revokes
                    .entry(*org)
                    .or_default()
                    .push((s.signer, *node_key));
            }
        }
        let admitted: Vec<OrgNumber> = root_orgs
            .iter()
            .chain(reg.admissions.keys())
            .copied()
            .collect();
        for org in admitted {
            let keys = reg.speaking_keys(org);
            for node in reg.node_views(org, &keys) {
                if !node.revoked {
                    reg.node_orgs.entry(node.key).or_default().insert(org);
                }
            }
        }
        reg
    }

    pub fn is_root(&self, key: &PublicKey) -> bool {
        self.roots.iter().any(|r| r.key == *key)
    }

    fn is_root_org(&self, org: OrgNumber) -> bool {
        self.roots.iter().any(|r| r.org == org)
    }

    /// The keys that speak for an admitted org as a whole (empty if it is not admitted).
    fn speaking_keys(&self, org: OrgNumber) -> Vec<PublicKey> {
        if self.is_root_org(org) {
            self.roots
                .iter()
                .filter(|r| r.org == org)
                .map(|r| r.key)
                .collect()
        } else {
            self.admissions
                .get(&org)
                .map(|a| a.key)
                .into_iter()
                .collect()
        }
    }

    /// The node keys certified by one of `keys` for `org`, with the latest label of each.
    fn node_views(&self, org: OrgNumber, keys: &[PublicKey]) -> Vec<NodeView> {
        let mut nodes: BTreeMap<PublicKey, (&Cert, bool)> = BTreeMap::new();
        for cert in self.certs.get(&org).into_iter().flatten() {
            if !keys.contains(&cert.signer) {
                continue;
            }
            let slot = nodes.entry(cert.node).or_insert((cert, false));
            if ranked(cert.time, cert.id) > ranked(slot.0.time, slot.0.id) {
                slot.0 = cert;
            }
        }
        for (signer, node) in self.node_revokes.get(&org).into_iter().flatten() {
            if keys.contains(signer) {
                if let Some(slot) = nodes.get_mut(node) {
                    slot.1 = true;
                }
            }
        }
        nodes
            .into_iter()
            .map(|(key, (cert, revoked))| NodeView {
                key,
                label: cert.label.clone(),
                revoked,
            })
            .collect()
    }

    /// Every admitted org a key acts for: an org key (or root key) acts for its org only;
    /// a node key for each admitted org that certified it and did not revoke it.
    pub fn orgs_of(&self, key: &PublicKey) -> BTreeSet<OrgNumber> {
        if let Some(org) = self.key_org.get(key) {
            return BTreeSet::from([*org]);
        }
        self.node_orgs.get(key).cloned().unwrap_or_default()
    }

    pub fn org_of_node(&self, key: &PublicKey) -> Option<OrgNumber> {
        if let Some(org) = self.key_org.get(key) {
            return Some(*org);
        }
        match self.node_orgs.get(key) {
            // A node certified by several orgs is ambiguous: no single org is named for it
            // (`orgs_of` still lets it act for each of them).
            Some(orgs) if orgs.len() == 1 => orgs.iter().next().copied(),
            _ => None,
        }
    }

    /// Why a key acts for no admitted org, for error messages.
    pub fn why_not_member(&self, key: &PublicKey) -> String {
        let mut reasons = Vec::new();
        for (org, certs) in &self.certs {
            if !certs.iter().any(|c| c.node == *key) {
                continue;
            }
            let keys = self.speaking_keys(*org);
            if keys.is_empty() {
                reasons.push(format!(
                    "organisation {org} that certified it is not admitted"
                ));
            } else if let Some(view) = self.node_views(*org, &keys).iter().find(|n| n.key == *key) {
                if view.revoked {
                    reasons.push(format!("organisation {org} revoked it"));
                }
            } else {
                reasons.push(format!(
                    "its certificate for organisation {org} is not signed by that organisation's key"
                ));
            }
        }
        if reasons.is_empty() {
            "it is not certified by any admitted organisation".to_string()
        } else {
            reasons.join("; ")
        }
    }

    /// Curator rights of a key at `at`.
    pub fn rights(&self, key: &PublicKey, at: i64) -> Option<CuratorView> {
        if self.is_root(key) {
            return Some(CuratorView {
                root: true,
                scopes: Scope::ALL.to_vec(),
                expires: None,
            });
        }
        summarise(
            self.delegations
                .get(key)
                .into_iter()
                .flatten()
                .filter(|d| d.live_at(at)),
        )
    }

    /// The org a curator key curates for, at `at` and for `scope`: a root's org, or the org
    /// named by its earliest delegation of that scope live at `at`.
    pub fn curator_org(&self, key: &PublicKey, at: Option<i64>, scope: Scope) -> Option<OrgNumber> {
        if let Some(root) = self.roots.iter().find(|r| r.key == *key) {
            return Some(root.org);
        }
        self.delegations
            .get(key)
            .into_iter()
            .flatten()
            .find(|d| at.is_none_or(|at| d.live_at(at)) && d.scopes.contains(&scope))
            .map(|d| d.org)
    }

    /// The latest expiry among a key's delegations that have expired by `at`, if every one has.
    pub fn expired_at(&self, key: &PublicKey, at: i64) -> Option<i64> {
        let list = self.delegations.get(key)?;
        if list.is_empty() || list.iter().any(|d| d.live_at(at)) {
            return None;
        }
        list.iter().filter_map(|d| d.expires).max()
    }

    pub fn org_view(&self, org: OrgNumber) -> Option<OrgView> {
        let fingerprint =
            |key: &PublicKey| hex::encode(blake3::hash(&key.0).as_bytes())[..16].to_string();
        if let Some(root) = self.roots.iter().find(|r| r.org == org) {
            let keys = self.speaking_keys(org);
            let kind = self
                .profiles
                .get(&org)
                .filter(|p| keys.contains(&p.key))
                .map_or(OrgKind::Ks, |p| p.kind);
            return Some(OrgView {
                org,
                name: root.name.clone(),
                kind,
                org_key: root.key,
                fingerprint: fingerprint(&root.key),
                admitted_by: None,
                admitted: true,
                nodes: self.node_views(org, &keys),
                curator: self.rights(&root.key, i64::MIN),
            });
        }
        let (binding, admitted) = match self.admissions.get(&org) {
            Some(a) => (a, true),
            None => (self.profiles.get(&org)?, false),
        };
        Some(OrgView {
            org,
            name: binding.name.clone(),
            kind: binding.kind,
            org_key: binding.key,
            fingerprint: fingerprint(&binding.key),
            admitted_by: if admitted {
                self.curator_org(&binding.by, Some(binding.time), Scope::Admit)
            } else {
                None
            },
            admitted,
            nodes: self.node_views(org, &[binding.key]),
            curator: summarise(
                self.delegations
                    .get(&binding.key)
                    .into_iter()
                    .flatten()
                    .filter(|d| d.org == org),
            ),
        })
    }

    pub fn known_orgs(&self) -> BTreeSet<OrgNumber> {
        self.roots
            .iter()
            .map(|r| r.org)
            .chain(self.admissions.keys().copied())
            .chain(self.profiles.keys().copied())
            .collect()
    }

    /// A display name for an org: its admitted (or root) name, else its announced one.
    pub fn org_name(&self, org: OrgNumber) -> Option<String> {
        self.roots
            .iter()
            .find(|r| r.org == org)
            .map(|r| r.name.clone())
            .or_else(|| self.admissions.get(&org).map(|a| a.name.clone()))
            .or_else(|| self.profiles.get(&org).map(|p| p.name.clone()))
    }
}

/// The union of some delegations: their scopes, and the latest expiry (none if one never expires).
fn summarise<'a>(delegations: impl Iterator<Item = &'a Delegation>) -> Option<CuratorView> {
    let mut scopes = BTreeSet::new();
    let mut expires = Some(i64::MIN);
    let mut any = false;
    for d in delegations {
        any = true;
        scopes.extend(d.scopes.iter().copied());
        expires = match (expires, d.expires) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    }
    (any && !scopes.is_empty()).then(|| CuratorView {
        root: false,
        scopes: scopes.into_iter().collect(),
        expires,
    })
}
