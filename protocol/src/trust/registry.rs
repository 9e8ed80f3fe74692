//! Who is who, derived from the registry statements (everything that is not about one artefact
//! or one initiative), and *as of when*.
//!
//! Every statement is judged at the time this node first accepted it (its `accepted_at`, by this
//! node's clock; see the module docs of `trust`). Grants are not bounded in time: a certificate
//! that arrives before the admission of its organisation counts once the admission is there.
//! Revocations are: a revocation takes effect from its own `accepted_at`, so what the revoked key
//! signed and this node accepted before keeps counting, and what it accepted from then on does
//! not. A statement accepted in the same second as the revocation counts as after it (a tie
//! fails closed). "As of `at`" below means "for a statement accepted at `at`"; [`NOW`] asks
//! about the present, where every revocation held counts.
//!
//! The derivation is one pass in a fixed order, so it does not depend on the order statements
//! arrived in, only on the statements and their acceptance times:
//!
//! 1. revocations: a `Revoke` counts if its target is known, is an `Admit`, `Delegate` or
//!    `Endorse`, and the `Revoke` is signed by the target's signer or by a root; the target is
//!    revoked from the earliest acceptance of such a `Revoke`;
//! 2. delegations: root-signed `Delegate`s (the root's signature binds org and key, so a
//!    delegation does not depend on admissions, and there are no cycles). One holds for a
//!    statement judged at `j` (its time, but never earlier than its acceptance less the clock
//!    tolerance: see `trust::judged_at`) and accepted at `a` if it has not expired at `j` and
//!    `a` is before its revocation;
//! 3. admissions: `Admit`s signed by a root, or by a key whose delegation of `Scope::Admit`
//!    held for the `Admit` itself. Each binds its organisation to an org key until its
//!    revocation; as of `at`, the earliest (time, then id) binding not yet revoked wins. Root
//!    orgs are admitted by the network file;
//! 4. nodes: a `NodeCert` counts if its signer was the organisation's key (a root org: one of
//!    its root keys) as of the certificate's acceptance. As of `at`, a node acts for the
//!    organisation if such a certificate is signed by the organisation's key as of `at`, and no
//!    `NodeRevoke` by the organisation's key (as of the revocation's own acceptance) was accepted
//!    at or before `at`.

use super::statement::{Scope, SignedStatement, Statement, StatementId};
use super::{judged_at, CuratorView, NodeView, OrgView, Root};
use crate::identity::{OrgKind, OrgNumber, PublicKey};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// "As of now": every revocation this node holds counts.
pub(crate) const NOW: i64 = i64::MAX;

#[derive(Clone, Debug)]
pub(crate) struct Delegation {
    pub org: OrgNumber,
    pub scopes: Vec<Scope>,
    pub expires: Option<i64>,
    pub time: i64,
    pub id: StatementId,
    /// When the first valid `Revoke` of it was accepted.
    pub revoked_at: Option<i64>,
}

impl Delegation {
    /// Whether it entitles a statement judged at `judged` and accepted at `accepted`.
    fn holds(&self, judged: i64, accepted: i64) -> bool {
        self.expires.is_none_or(|e| judged < e) && before(accepted, self.revoked_at)
    }
}

/// `at` comes before a revocation accepted at `revoked_at` (if any).
fn before(at: i64, revoked_at: Option<i64>) -> bool {
    revoked_at.is_none_or(|r| at < r)
}

#[derive(Clone, Debug)]
pub(crate) struct Binding {
    pub name: String,
    pub kind: OrgKind,
    pub key: PublicKey,
    pub by: PublicKey,
    pub time: i64,
    pub id: StatementId,
    /// When the statement was judged (expiry) and accepted (revocations) on this node.
    pub judged: i64,
    pub accepted: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Clone, Debug)]
struct Cert {
    signer: PublicKey,
    node: PublicKey,
    label: String,
    time: i64,
    id: StatementId,
    /// Its signer was the organisation's key when this node accepted it.
    valid: bool,
}

#[derive(Default)]
pub(crate) struct Registry {
    roots: Vec<Root>,
    /// Revoked statements, with the acceptance of the first valid `Revoke` of each.
    pub revoked_at: HashMap<StatementId, i64>,
    delegations: HashMap<PublicKey, Vec<Delegation>>,
    /// Every valid admission per org, earliest (time, then id) first, revoked ones included
    /// (they still bind their key for what was accepted before their revocation).
    admissions: BTreeMap<OrgNumber, Vec<Binding>>,
    profiles: BTreeMap<OrgNumber, Binding>,
    /// The orgs whose valid admissions bind a key, per key.
    admitted_keys: HashMap<PublicKey, BTreeSet<OrgNumber>>,
    certs: BTreeMap<OrgNumber, Vec<Cert>>,
    /// The orgs that validly certified a node key, per node key.
    certified_by: HashMap<PublicKey, BTreeSet<OrgNumber>>,
    /// Acceptance of the first valid `NodeRevoke` per (org, node key).
    node_revoked_at: HashMap<(OrgNumber, PublicKey), i64>,
}

fn ranked(time: i64, id: StatementId) -> (i64, StatementId) {
    (time, id)
}

impl Registry {
    /// `accepted` gives each statement's acceptance time on this node (0 if unknown).
    pub fn build<'a>(
        roots: &[Root],
        registry_ids: impl Iterator<Item = &'a StatementId>,
        statements: &'a BTreeMap<StatementId, SignedStatement>,
        accepted: &HashMap<StatementId, i64>,
    ) -> Registry {
        let mut reg = Registry {
            roots: roots.to_vec(),
            ..Registry::default()
        };
        let accepted_of = |id: &StatementId| accepted.get(id).copied().unwrap_or(0);
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
                            let at = accepted_of(id);
                            let slot = reg.revoked_at.entry(*target).or_insert(at);
                            *slot = (*slot).min(at);
                        }
                    }
                }
                Statement::OrgProfile {
                    org,
                    name,
                    kind,
                    org_key,
                } if *org_key == s.signer => {
                    let accepted = accepted_of(id);
                    let candidate = Binding {
                        name: name.clone(),
                        kind: *kind,
                        key: *org_key,
                        by: s.signer,
                        time: s.time,
                        id: *id,
                        judged: judged_at(s.time, accepted),
                        accepted,
                        revoked_at: None,
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
                if !is_root(&s.signer) || scopes.is_empty() {
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
                        revoked_at: reg.revoked_at.get(id).copied(),
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
                if root_orgs.contains(org) {
                    continue;
                }
                let accepted = accepted_of(id);
                let judged = judged_at(s.time, accepted);
                let entitled = is_root(&s.signer)
                    || reg
                        .rights_at(&s.signer, judged, accepted)
                        .is_some_and(|r| r.scopes.contains(&Scope::Admit));
                if !entitled {
                    continue;
                }
                reg.admissions.entry(*org).or_default().push(Binding {
                    name: name.clone(),
                    kind: *kind,
                    key: *org_key,
                    by: s.signer,
                    time: s.time,
                    id: *id,
                    judged,
                    accepted,
                    revoked_at: reg.revoked_at.get(id).copied(),
                });
            }
        }
        for (org, list) in &mut reg.admissions {
            list.sort_by_key(|b| ranked(b.time, b.id));
            for b in list.iter() {
                reg.admitted_keys.entry(b.key).or_default().insert(*org);
            }
        }

        for (id, s) in certs {
            if let Statement::NodeCert {
                org,
                node_key,
                label,
                ..
            } = &s.body
            {
                let valid = reg
                    .speaking_keys_at(*org, accepted_of(id))
                    .contains(&s.signer);
                if valid {
                    reg.certified_by.entry(*node_key).or_default().insert(*org);
                }
                reg.certs.entry(*org).or_default().push(Cert {
                    signer: s.signer,
                    node: *node_key,
                    label: label.clone(),
                    time: s.time,
                    id: *id,
                    valid,
                });
            }
        }
        for (id, s) in node_revokes {
            if let Statement::NodeRevoke { org, node_key } = &s.body {
                let at = accepted_of(id);
                if reg.speaking_keys_at(*org, at).contains(&s.signer) {
                    let slot = reg.node_revoked_at.entry((*org, *node_key)).or_insert(at);
                    *slot = (*slot).min(at);
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

    /// The admission that binds `org` as of `at`: the earliest not revoked by then.
    fn binding_at(&self, org: OrgNumber, at: i64) -> Option<&Binding> {
        self.admissions
            .get(&org)?
            .iter()
            .find(|b| before(at, b.revoked_at))
    }

    /// Whether `org` is admitted as of `at` (root orgs always are).
    pub fn is_admitted_at(&self, org: OrgNumber, at: i64) -> bool {
        self.is_root_org(org) || self.binding_at(org, at).is_some()
    }

    /// The keys that speak for `org` as a whole as of `at` (none if it is not admitted then).
    fn speaking_keys_at(&self, org: OrgNumber, at: i64) -> Vec<PublicKey> {
        if self.is_root_org(org) {
            self.roots
                .iter()
                .filter(|r| r.org == org)
                .map(|r| r.key)
                .collect()
        } else {
            self.binding_at(org, at)
                .map(|b| b.key)
                .into_iter()
                .collect()
        }
    }

    /// The org a key speaks for as a whole (root key or admitted org key) as of `at`. A key
    /// admitted for several orgs speaks for the one admitted first.
    fn org_of_key_at(&self, key: &PublicKey, at: i64) -> Option<OrgNumber> {
        if let Some(root) = self.roots.iter().find(|r| r.key == *key) {
            return Some(root.org);
        }
        self.admitted_keys
            .get(key)?
            .iter()
            .filter_map(|org| {
                self.binding_at(*org, at)
                    .filter(|b| b.key == *key)
                    .map(|b| (ranked(b.time, b.id), *org))
            })
            .min()
            .map(|(_, org)| org)
    }

    /// Whether node key `node` acts for `org` as of `at`.
    fn node_acts_for(&self, org: OrgNumber, node: &PublicKey, at: i64) -> bool {
        if !before(at, self.node_revoked_at.get(&(org, *node)).copied()) {
            return false;
        }
        let keys = self.speaking_keys_at(org, at);
        self.certs
            .get(&org)
            .into_iter()
            .flatten()
            .any(|c| c.valid && c.node == *node && keys.contains(&c.signer))
    }

    /// Every admitted org a key acts for as of `at`: an org key (or root key) acts for its org
    /// only; a node key for each org that certified it and had not revoked it by then.
    pub fn orgs_at(&self, key: &PublicKey, at: i64) -> BTreeSet<OrgNumber> {
        if let Some(org) = self.org_of_key_at(key, at) {
            return BTreeSet::from([org]);
        }
        self.certified_by
            .get(key)
            .into_iter()
            .flatten()
            .copied()
            .filter(|org| self.node_acts_for(*org, key, at))
            .collect()
    }

    /// Every admitted org a key acts for now.
    pub fn orgs_of(&self, key: &PublicKey) -> BTreeSet<OrgNumber> {
        self.orgs_at(key, NOW)
    }

    /// The one org a key acts for as of `at`; none if it acts for none or for several (a node
    /// certified by several orgs is ambiguous, though `orgs_at` still lets it act for each).
    pub fn org_at(&self, key: &PublicKey, at: i64) -> Option<OrgNumber> {
        let orgs = self.orgs_at(key, at);
        match orgs.len() {
            1 => orgs.into_iter().next(),
            _ => None,
        }
    }

    pub fn org_of_node(&self, key: &PublicKey) -> Option<OrgNumber> {
        self.org_at(key, NOW)
    }

    /// The node keys certified for `org` by one of `keys`, with the latest label of each.
    /// `only_valid`: only certificates that counted when they were accepted.
    fn node_views(&self, org: OrgNumber, keys: &[PublicKey], only_valid: bool) -> Vec<NodeView> {
        let mut nodes: BTreeMap<PublicKey, &Cert> = BTreeMap::new();
        for cert in self.certs.get(&org).into_iter().flatten() {
            if !keys.contains(&cert.signer) || (only_valid && !cert.valid) {
                continue;
            }
            let slot = nodes.entry(cert.node).or_insert(cert);
            if ranked(cert.time, cert.id) > ranked(slot.time, slot.id) {
                *slot = cert;
            }
        }
        nodes
            .into_iter()
            .map(|(key, cert)| NodeView {
                key,
                label: cert.label.clone(),
                revoked: self.node_revoked_at.contains_key(&(org, key)),
            })
            .collect()
    }

    /// The organisation a key writes for (or claims to) and where it stands, for telling a
    /// user why its changes were refused and what would admit them.
    pub fn writer_standing(&self, key: &PublicKey) -> (Option<OrgNumber>, super::WriterStanding) {
        use super::WriterStanding as Standing;
        if let Some(org) = self.orgs_of(key).into_iter().next() {
            return (Some(org), Standing::Member);
        }
        let mut found = None;
        for (org, certs) in &self.certs {
            if !certs.iter().any(|c| c.node == *key) {
                continue;
            }
            let standing = if self.node_revoked_at.contains_key(&(*org, *key)) {
                Standing::Revoked
            } else if self.speaking_keys_at(*org, NOW).is_empty() {
                Standing::NotAdmitted
            } else {
                Standing::Unknown
            };
            // A revocation or a missing admission says more than an unusable certificate.
            if found.is_none_or(|(_, s)| s == Standing::Unknown) {
                found = Some((*org, standing));
            }
        }
        match found {
            Some((org, standing)) => (Some(org), standing),
            None => (None, Standing::Unknown),
        }
    }

    /// Why a key acts for no admitted org, for error messages.
    pub fn why_not_member(&self, key: &PublicKey) -> String {
        let mut reasons = Vec::new();
        for (org, certs) in &self.certs {
            if !certs.iter().any(|c| c.node == *key) {
                continue;
            }
            let keys = self.speaking_keys_at(*org, NOW);
            if keys.is_empty() {
                reasons.push(format!(
                    "organisation {org} that certified it is not admitted"
                ));
            } else if self.node_revoked_at.contains_key(&(*org, *key)) {
                reasons.push(format!("organisation {org} revoked it"));
            } else if !certs
                .iter()
                .any(|c| c.node == *key && c.valid && keys.contains(&c.signer))
            {
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

    /// Curator rights of a key for a statement judged at `judged` and accepted at `accepted`.
    pub fn rights_at(&self, key: &PublicKey, judged: i64, accepted: i64) -> Option<CuratorView> {
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
                .filter(|d| d.holds(judged, accepted)),
        )
    }

    /// Curator rights of a key at `at`, with every revocation held counting.
    pub fn rights(&self, key: &PublicKey, at: i64) -> Option<CuratorView> {
        self.rights_at(key, at, NOW)
    }

    /// The org a curator key curates for, for a statement judged at `judged` and accepted at
    /// `accepted` (`None`: ignoring expiry and revocation), and for `scope`: a root's org, or
    /// the org named by its earliest delegation of that scope that holds.
    pub fn curator_org(
        &self,
        key: &PublicKey,
        when: Option<(i64, i64)>,
        scope: Scope,
    ) -> Option<OrgNumber> {
        if let Some(root) = self.roots.iter().find(|r| r.key == *key) {
            return Some(root.org);
        }
        self.delegations
            .get(key)
            .into_iter()
            .flatten()
            .find(|d| {
                when.is_none_or(|(judged, accepted)| d.holds(judged, accepted))
                    && d.scopes.contains(&scope)
            })
            .map(|d| d.org)
    }

    /// The latest expiry among a key's unrevoked delegations that have expired by `at`, if
    /// every one has.
    pub fn expired_at(&self, key: &PublicKey, at: i64) -> Option<i64> {
        let list: Vec<&Delegation> = self
            .delegations
            .get(key)?
            .iter()
            .filter(|d| d.revoked_at.is_none())
            .collect();
        if list.is_empty() || list.iter().any(|d| d.holds(at, NOW)) {
            return None;
        }
        list.iter().filter_map(|d| d.expires).max()
    }

    pub fn org_view(&self, org: OrgNumber) -> Option<OrgView> {
        let fingerprint =
            |key: &PublicKey| hex::encode(blake3::hash(&key.0).as_bytes())[..16].to_string();
        if let Some(root) = self.roots.iter().find(|r| r.org == org) {
            let keys = self.speaking_keys_at(org, NOW);
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
                nodes: self.node_views(org, &keys, true),
                curator: self.rights(&root.key, i64::MIN),
            });
        }
        let (binding, admitted) = match self.binding_at(org, NOW) {
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
                self.curator_org(
                    &binding.by,
                    Some((binding.judged, binding.accepted)),
                    Scope::Admit,
                )
            } else {
                None
            },
            admitted,
            // An applicant's certificates count once it is admitted: shown as they stand.
            nodes: self.node_views(org, &[binding.key], admitted),
            curator: summarise(
                self.delegations
                    .get(&binding.key)
                    .into_iter()
                    .flatten()
                    .filter(|d| d.org == org && d.revoked_at.is_none()),
            ),
        })
    }

    /// Orgs admitted now, and those that announced themselves (`admitted: false` in views).
    pub fn known_orgs(&self) -> BTreeSet<OrgNumber> {
        self.roots
            .iter()
            .map(|r| r.org)
            .chain(
                self.admissions
                    .keys()
                    .copied()
                    .filter(|o| self.binding_at(*o, NOW).is_some()),
            )
            .chain(self.profiles.keys().copied())
            .collect()
    }

    /// A display name for an org: its admitted (or root) name, else its announced one.
    pub fn org_name(&self, org: OrgNumber) -> Option<String> {
        self.roots
            .iter()
            .find(|r| r.org == org)
            .map(|r| r.name.clone())
            .or_else(|| self.binding_at(org, NOW).map(|a| a.name.clone()))
            .or_else(|| self.profiles.get(&org).map(|p| p.name.clone()))
            .or_else(|| self.admissions.get(&org)?.first().map(|a| a.name.clone()))
    }

    /// The name an org was admitted under as of `at`, if it was admitted then.
    pub fn admitted_name_at(&self, org: OrgNumber, at: i64) -> Option<String> {
        if let Some(root) = self.roots.iter().find(|r| r.org == org) {
            return Some(root.name.clone());
        }
        self.binding_at(org, at).map(|b| b.name.clone())
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
