//! Trust: who wrote a change, who may change an artefact, and which exact version KS vetted.
//!
//! The sector trusts what it can verify. A change is signed by a node key (see `signed`), but a
//! node key alone says nothing about *whose* node it is. This module turns a small set of signed
//! statements into those answers, without any central server:
//!
//! - the **network file** names the root curators (KS) and is signed by the first of them;
//! - roots **admit** organisations, binding organisation number, name, kind and org key (and may
//!   **delegate** the right to admit or endorse to other organisations, optionally until a time);
//! - an org key **certifies** its org's node keys, and **revokes** one when a laptop is lost;
//! - curators **endorse** an exact version (the heads) of an artefact;
//! - an artefact's owner org sets its **access**: which orgs maintain it, and who may read it.
//!
//! Statements travel like any other data and may arrive in any order. [`Trust`] stores every
//! statement with a good signature and derives its answers from the whole set, so a statement
//! that arrives before what entitles it (a certificate before the admission of its org) is kept
//! and counts as soon as the rest arrives, and every node holding the same statements gives the
//! same answers. Nothing here does I/O or reads a clock: times are the signers' own, in seconds.

mod adoption;
mod initiative;
mod network;
mod registry;
mod statement;
#[cfg(test)]
mod tests;

pub use adoption::{adaptation_id, AdoptionView, MAX_ADAPTATION_TITLE};
pub use initiative::{
    InitiativeId, InitiativeStatus, InitiativeView, MAX_INITIATIVE_DESCRIPTION,
    MAX_INITIATIVE_TITLE,
};
pub use network::{Network, Root, NETWORK_VERSION};
pub use statement::{
    EndorsementStatus, ProposedChange, Scope, SignedStatement, Statement, StatementId,
};

use crate::artefact::ArtefactId;
use crate::identity::{OrgKind, OrgNumber, PublicKey};
use crate::wire::Head;
use registry::Registry;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

/// Domain-separation context for network file signatures.
pub const NETWORK_CONTEXT: &[u8] = b"allmenning/network/v1";
/// Domain-separation context for statement signatures.
pub const STATEMENT_CONTEXT: &[u8] = b"allmenning/statement/v1";
/// The statement format version (the first byte of an encoded statement and of signed bytes).
pub const STATEMENT_VERSION: u8 = 1;
/// Largest encoded statement accepted.
pub const MAX_STATEMENT_BYTES: usize = 64 * 1024;
/// Largest encoded network file accepted.
pub const MAX_NETWORK_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrustError {
    #[error("statement of {len} bytes exceeds the limit of {limit}")]
    TooLarge { len: usize, limit: usize },
    #[error("unsupported trust format version {0} (this node speaks {STATEMENT_VERSION})")]
    Version(u8),
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("bad signature by {signer}: {reason}")]
    BadSignature { signer: PublicKey, reason: String },
    #[error("{who} may not {action}: {reason}")]
    NotEntitled {
        who: String,
        action: String,
        reason: String,
    },
    #[error(
        "replay refused: statement by {curator} about artefact {artefact} has seq {seq}, \
         but seq {current} is already known (seq must go up)"
    )]
    Replay {
        curator: PublicKey,
        artefact: ArtefactId,
        seq: u64,
        current: u64,
    },
    #[error("curator rights of {key} expired at {expires} (asked at {at})")]
    Expired {
        key: PublicKey,
        expires: i64,
        at: i64,
    },
}

/// A node key as an org shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeView {
    pub key: PublicKey,
    pub label: String,
    pub revoked: bool,
}

/// A proposal of changes to an artefact, and what became of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalView {
    pub id: StatementId,
    pub proposer: PublicKey,
    pub proposer_org: Option<OrgNumber>,
    pub base: Vec<Head>,
    pub hashes: Vec<Head>,
    pub message: String,
    pub time: i64,
    /// `None` while no maintainer has decided.
    pub verdict: Option<ProposalVerdictView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalVerdictView {
    pub accepted: bool,
    pub by: Option<OrgNumber>,
    pub time: i64,
}

/// Curator rights: a root has every scope forever.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CuratorView {
    pub root: bool,
    pub scopes: Vec<Scope>,
    /// Latest expiry of the delegations counted; `None` if one never expires.
    pub expires: Option<i64>,
}

/// An organisation as this node knows it: admitted, or merely announced (`admitted: false`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgView {
    pub org: OrgNumber,
    pub name: String,
    pub kind: OrgKind,
    pub org_key: PublicKey,
    /// First 16 hex digits of BLAKE3 of the org key, to compare out of band.
    pub fingerprint: String,
    /// The curator org that admitted it (`None` for roots, admitted by the network file).
    pub admitted_by: Option<OrgNumber>,
    pub admitted: bool,
    pub nodes: Vec<NodeView>,
    /// Its curator rights, ignoring expiry (compare `expires` with the time of interest).
    pub curator: Option<CuratorView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndorsementView {
    pub id: StatementId,
    pub status: EndorsementStatus,
    pub curator: OrgNumber,
    pub curator_name: String,
    /// The curator key that signed it.
    pub signer: PublicKey,
    pub heads: Vec<Head>,
    pub note: String,
    pub time: i64,
    pub seq: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessView {
    pub owner: OrgNumber,
    pub maintainers: Vec<OrgNumber>,
    /// `None`: public.
    pub readers: Option<Vec<OrgNumber>>,
    pub heads: Vec<Head>,
    /// 0 when no `Access` statement is in force (the default: owner only, public).
    pub seq: u64,
    /// The `Access` statement in force, if any.
    pub statement: Option<StatementId>,
}

/// How an `Endorse` or `Access` ranks against another from the same source: the higher seq wins,
/// and between two different statements with the same seq the earlier (time, then id) wins, so
/// that nodes that received them in different orders still agree.
fn beats(a: (u64, i64, StatementId), b: (u64, i64, StatementId)) -> bool {
    a.0 > b.0 || (a.0 == b.0 && (a.1, a.2) < (b.1, b.2))
}

/// All statements this node knows, and what follows from them. Deterministic: the same set of
/// statements gives the same answers on every node whatever order they arrived in (statements
/// that arrive before what entitles them are kept, and count once it arrives).
///
/// Who-is-who (admissions, delegations, certificates, revocations) is derived lazily in one
/// O(n log n) pass after a registry statement arrives; endorsements and access are evaluated per
/// artefact from an index when asked.
pub struct Trust {
    network: Network,
    /// The network's roots if its signature verifies; none otherwise (nothing is trusted).
    roots: Vec<Root>,
    statements: BTreeMap<StatementId, SignedStatement>,
    registry_ids: BTreeSet<StatementId>,
    /// `Initiative` and `JoinInitiative` statements.
    initiative_ids: BTreeSet<StatementId>,
    by_artefact: HashMap<ArtefactId, Vec<StatementId>>,
    /// Best `Endorse` per (signer, artefact), for replay checks.
    endorse_best: HashMap<(PublicKey, ArtefactId), (u64, i64, StatementId)>,
    registry: OnceLock<Registry>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("network", &self.network.name)
            .field("roots", &self.roots.len())
            .field("statements", &self.statements.len())
            .finish()
    }
}

impl Trust {
    /// Trusts `network`'s roots if its signature verifies (the node checks it when it loads the
    /// file); a network file that does not verify yields a `Trust` that trusts nobody.
    pub fn new(network: Network) -> Self {
        let roots = if network.verify().is_ok() {
            network.roots.clone()
        } else {
            Vec::new()
        };
        Trust {
            network,
            roots,
            statements: BTreeMap::new(),
            registry_ids: BTreeSet::new(),
            initiative_ids: BTreeSet::new(),
            by_artefact: HashMap::new(),
            endorse_best: HashMap::new(),
            registry: OnceLock::new(),
        }
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    fn registry(&self) -> &Registry {
        self.registry.get_or_init(|| {
            Registry::build(&self.roots, self.registry_ids.iter(), &self.statements)
        })
    }

    /// Checks the signature and size, refuses replays (an `Endorse` whose seq does not go above
    /// the best known from the same signer for the same artefact; an `Access` whose seq does not
    /// go above the best known for that artefact and owner from a signer entitled for that owner),
    /// and stores it. Between two different statements with the same seq, the earlier (time,
    /// then id) is kept and the other refused as a replay. Ok(true) if new, Ok(false) if known.
    pub fn insert(&mut self, statement: SignedStatement) -> Result<bool, TrustError> {
        let len = statement.encode().len();
        if len > MAX_STATEMENT_BYTES {
            return Err(TrustError::TooLarge {
                len,
                limit: MAX_STATEMENT_BYTES,
            });
        }
        statement.verify_signature()?;
        let id = statement.id();
        if self.statements.contains_key(&id) {
            return Ok(false);
        }
        validate(&statement)?;
        let rank = |seq: u64| (seq, statement.time, id);
        match &statement.body {
            Statement::Endorse { artefact, seq, .. } => {
                if let Some(best) = self.endorse_best.get(&(statement.signer, *artefact)) {
                    if !beats(rank(*seq), *best) {
                        return Err(TrustError::Replay {
                            curator: statement.signer,
                            artefact: *artefact,
                            seq: *seq,
                            current: best.0,
                        });
                    }
                }
                self.endorse_best
                    .insert((statement.signer, *artefact), rank(*seq));
            }
            Statement::Access {
                artefact,
                owner,
                seq,
                ..
            } => {
                if let Some(best) = self.access_chain(artefact, *owner).last() {
                    let best_rank = (best.1, best.0.time, best.0.id());
                    if !beats(rank(*seq), best_rank) {
                        return Err(TrustError::Replay {
                            curator: statement.signer,
                            artefact: *artefact,
                            seq: *seq,
                            current: best.1,
                        });
                    }
                }
            }
            _ => {}
        }
        if let Some(adaptation) = statement.body.adaptation() {
            self.by_artefact.entry(*adaptation).or_default().push(id);
        }
        if let Some(artefact) = statement.body.artefact() {
            self.by_artefact.entry(*artefact).or_default().push(id);
        } else if statement.body.initiative().is_some() {
            self.initiative_ids.insert(id);
        } else {
            self.registry_ids.insert(id);
            self.registry = OnceLock::new();
        }
        self.statements.insert(id, statement);
        Ok(true)
    }

    /// Inserts many statements, e.g. when loading from disk or after a sync: registry statements
    /// first, then endorsements and access statements by ascending seq, so that none is refused
    /// only because a later one of the same batch arrived first. Results are in input order.
    pub fn insert_many(
        &mut self,
        statements: impl IntoIterator<Item = SignedStatement>,
    ) -> Vec<Result<bool, TrustError>> {
        let mut batch: Vec<(usize, SignedStatement)> = statements.into_iter().enumerate().collect();
        batch.sort_by_key(|(i, s)| match &s.body {
            Statement::Endorse { seq, .. } => (1, *seq, s.time, *i),
            Statement::Access { seq, .. } => (2, *seq, s.time, *i),
            _ => (0, 0, 0, *i),
        });
        let mut results: Vec<(usize, Result<bool, TrustError>)> = batch
            .into_iter()
            .map(|(i, s)| (i, self.insert(s)))
            .collect();
        results.sort_by_key(|(i, _)| *i);
        results.into_iter().map(|(_, r)| r).collect()
    }

    /// Proposals made for `artefact` (owned by `owner_hint`), oldest first, each with the
    /// verdict in force: accepted if some entitled maintainer accepted it, else declined if one
    /// declined it, else open. A verdict counts only from a key that may write the artefact.
    pub fn proposals(&self, artefact: &ArtefactId, owner_hint: OrgNumber) -> Vec<ProposalView> {
        let ids = self.by_artefact.get(artefact).cloned().unwrap_or_default();
        let statements: Vec<&SignedStatement> = ids
            .iter()
            .filter_map(|id| self.statements.get(id))
            .collect();
        let reg = self.registry();
        let mut out: Vec<ProposalView> = Vec::new();
        for s in &statements {
            let Statement::Propose {
                base,
                hashes,
                message,
                ..
            } = &s.body
            else {
                continue;
            };
            // Only members propose: a revoked or unknown key's proposal is not shown.
            if reg.org_of_node(&s.signer).is_none() {
                continue;
            }
            let id = s.id();
            let mut verdict: Option<ProposalVerdictView> = None;
            for v in &statements {
                let Statement::ProposalVerdict {
                    proposal,
                    accepted,
                    hashes: verdict_hashes,
                    ..
                } = &v.body
                else {
                    continue;
                };
                if *proposal != id
                    || (*accepted && verdict_hashes != hashes)
                    || self
                        .may_write(artefact, owner_hint, &v.signer, |_| false)
                        .is_err()
                {
                    continue;
                }
                let candidate = ProposalVerdictView {
                    accepted: *accepted,
                    by: reg.org_of_node(&v.signer),
                    time: v.time,
                };
                // An acceptance stands over a refusal: the changes may already have spread.
                if verdict
                    .as_ref()
                    .is_none_or(|current| !current.accepted && *accepted)
                {
                    verdict = Some(candidate);
                }
            }
            out.push(ProposalView {
                id,
                proposer: s.signer,
                proposer_org: reg.org_of_node(&s.signer),
                base: base.clone(),
                hashes: hashes.clone(),
                message: message.clone(),
                time: s.time,
                verdict,
            });
        }
        out.sort_by_key(|p| (p.time, p.id));
        out
    }

    /// Whether change `hash` of `artefact` belongs to a proposal an entitled maintainer accepted.
    pub fn is_accepted_change(
        &self,
        artefact: &ArtefactId,
        owner_hint: OrgNumber,
        hash: &Head,
    ) -> bool {
        self.proposals(artefact, owner_hint)
            .iter()
            .any(|p| p.verdict.as_ref().is_some_and(|v| v.accepted) && p.hashes.contains(hash))
    }

    /// The adoption that created `adaptation`, if a valid one is held. Should several
    /// statements name it (the same organisation signing the same adoption twice), the
    /// earliest counts, on every node alike.
    pub fn adoption(&self, adaptation: &ArtefactId) -> Option<AdoptionView> {
        let reg = self.registry();
        self.by_artefact
            .get(adaptation)
            .into_iter()
            .flatten()
            .filter_map(|id| self.statements.get(id))
            .filter(|s| s.body.adaptation() == Some(adaptation))
            .filter_map(|s| adoption::view(reg, s))
            .min_by_key(|v| (v.time, v.statement))
    }

    /// The valid adoptions of `upstream` (its adopters), oldest first, one per adaptation.
    pub fn adopters(&self, upstream: &ArtefactId) -> Vec<AdoptionView> {
        let reg = self.registry();
        let mut out: Vec<AdoptionView> = self
            .by_artefact
            .get(upstream)
            .into_iter()
            .flatten()
            .filter_map(|id| self.statements.get(id))
            .filter(|s| matches!(&s.body, Statement::Adopt { upstream: u, .. } if u == upstream))
            .filter_map(|s| adoption::view(reg, s))
            .collect();
        out.sort_by_key(|v| (v.time, v.statement));
        let mut seen = BTreeSet::new();
        out.retain(|v| seen.insert(v.adaptation));
        out
    }

    /// Every valid adoption, oldest first, one per adaptation.
    pub fn adoptions(&self) -> Vec<AdoptionView> {
        let reg = self.registry();
        let mut out: Vec<AdoptionView> = self
            .statements
            .values()
            .filter_map(|s| adoption::view(reg, s))
            .collect();
        out.sort_by_key(|v| (v.time, v.statement));
        let mut seen = BTreeSet::new();
        out.retain(|v| seen.insert(v.adaptation));
        out
    }

    /// Every initiative, as the statements held establish it, newest first.
    pub fn initiatives(&self) -> Vec<InitiativeView> {
        initiative::evaluate(
            self.registry(),
            self.initiative_ids
                .iter()
                .filter_map(|id| self.statements.get(id)),
        )
    }

    pub fn initiative(&self, id: &InitiativeId) -> Option<InitiativeView> {
        self.initiatives().into_iter().find(|i| i.id == *id)
    }

    pub fn get(&self, id: &StatementId) -> Option<&SignedStatement> {
        self.statements.get(id)
    }

    pub fn contains(&self, id: &StatementId) -> bool {
        self.statements.contains_key(id)
    }

    /// Every stored statement, in id order.
    pub fn statements(&self) -> impl Iterator<Item = &SignedStatement> {
        self.statements.values()
    }

    pub fn len(&self) -> usize {
        self.statements.len()
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// True if a `Revoke` in force withdraws this statement.
    pub fn is_revoked(&self, id: &StatementId) -> bool {
        self.registry().revoked.contains(id)
    }

    /// The admitted org of a node key: its org is admitted (not revoked), it holds a `NodeCert`
    /// from that org's admitted org key, and no `NodeRevoke` for it. An org's own org key (and a
    /// root's key) also maps to its org. A node key certified by several orgs maps to none
    /// (see [`Trust::orgs_of_node`]).
    pub fn org_of_node(&self, node: &PublicKey) -> Option<OrgNumber> {
        self.registry().org_of_node(node)
    }

    /// Every admitted org a key acts for (normally one).
    pub fn orgs_of_node(&self, node: &PublicKey) -> Vec<OrgNumber> {
        self.registry().orgs_of(node).into_iter().collect()
    }

    pub fn org(&self, org: OrgNumber) -> Option<OrgView> {
        self.registry().org_view(org)
    }

    /// Admitted orgs and merely announced ones (`admitted: false`), sorted by number.
    pub fn orgs(&self) -> Vec<OrgView> {
        let reg = self.registry();
        reg.known_orgs()
            .into_iter()
            .filter_map(|org| reg.org_view(org))
            .collect()
    }

    /// Curator rights of an org key at time `at`: roots have all scopes forever; delegations
    /// count while not revoked and not expired at `at` (a delegation expiring at `e` holds for
    /// `at < e`).
    pub fn curator_rights(&self, org_key: &PublicKey, at: i64) -> Option<CuratorView> {
        self.registry().rights(org_key, at)
    }

    /// Checks, before signing, that `key` holds `scope` at `at`: `Expired` if its delegations
    /// have all run out, `NotEntitled` if it never held the scope.
    pub fn check_curator(&self, key: &PublicKey, scope: Scope, at: i64) -> Result<(), TrustError> {
        let reg = self.registry();
        match reg.rights(key, at) {
            Some(r) if r.scopes.contains(&scope) => Ok(()),
            _ => {
                if let Some(expires) = reg.expired_at(key, at) {
                    return Err(TrustError::Expired {
                        key: *key,
                        expires,
                        at,
                    });
                }
                Err(TrustError::NotEntitled {
                    who: format!("key {key}"),
                    action: format!("{scope}"),
                    reason: "it is not a root and holds no delegation of that scope".into(),
                })
            }
        }
    }

    /// Valid endorsements of an artefact: of each curator key's endorsements only the highest
    /// seq counts, and it counts if that key had `Scope::Endorse` at the statement's time and it
    /// is not revoked. Sorted newest first.
    pub fn endorsements(&self, artefact: &ArtefactId) -> Vec<EndorsementView> {
        let reg = self.registry();
        let mut best: BTreeMap<PublicKey, (u64, i64, StatementId)> = BTreeMap::new();
        for id in self.by_artefact.get(artefact).into_iter().flatten() {
            let s = &self.statements[id];
            if let Statement::Endorse { seq, .. } = &s.body {
                let rank = (*seq, s.time, *id);
                let slot = best.entry(s.signer).or_insert(rank);
                if beats(rank, *slot) {
                    *slot = rank;
                }
            }
        }
        let mut out: Vec<EndorsementView> = best
            .into_iter()
            .filter_map(|(signer, (_, time, id))| {
                if reg.revoked.contains(&id) {
                    return None;
                }
                let rights = reg.rights(&signer, time)?;
                if !rights.scopes.contains(&Scope::Endorse) {
                    return None;
                }
                let curator = reg.curator_org(&signer, Some(time), Scope::Endorse)?;
                let Statement::Endorse {
                    heads,
                    status,
                    note,
                    seq,
                    ..
                } = &self.statements[&id].body
                else {
                    return None;
                };
                Some(EndorsementView {
                    id,
                    status: *status,
                    curator,
                    curator_name: reg.org_name(curator).unwrap_or_else(|| curator.to_string()),
                    signer,
                    heads: heads.clone(),
                    note: note.clone(),
                    time,
                    seq: *seq,
                })
            })
            .collect();
        out.sort_by(|a, b| b.time.cmp(&a.time).then(a.id.cmp(&b.id)));
        out
    }

    /// The valid `Access` statements of an artefact for `owner` (signed by a key acting for
    /// `owner`, naming `owner`), from the first to the one in force, with their seqs.
    fn access_chain(
        &self,
        artefact: &ArtefactId,
        owner: OrgNumber,
    ) -> Vec<(&SignedStatement, u64)> {
        let reg = self.registry();
        let mut chain: Vec<(&SignedStatement, u64, StatementId)> = self
            .by_artefact
            .get(artefact)
            .into_iter()
            .flatten()
            .filter_map(|id| {
                let s = &self.statements[id];
                match &s.body {
                    Statement::Access {
                        owner: named, seq, ..
                    } if *named == owner && reg.orgs_of(&s.signer).contains(&owner) => {
                        Some((s, *seq, *id))
                    }
                    _ => None,
                }
            })
            .collect();
        // Ascending, so that the winner (highest seq, then earliest time and id) comes last.
        chain.sort_by(|a, b| {
            a.1.cmp(&b.1)
                .then_with(|| (b.0.time, b.2).cmp(&(a.0.time, a.2)))
        });
        chain.into_iter().map(|(s, seq, _)| (s, seq)).collect()
    }

    /// The access statement in force: the highest seq signed by the owner org (its org key or a
    /// node certified for it). `owner_hint` is the owner recorded in the artefact (the
    /// publisher's org); `Access` statements naming another owner are ignored. Default: owner
    /// only, public.
    pub fn access(&self, artefact: &ArtefactId, owner_hint: OrgNumber) -> AccessView {
        match self.access_chain(artefact, owner_hint).last() {
            Some((s, _)) => access_view(s),
            None => AccessView {
                owner: owner_hint,
                maintainers: Vec::new(),
                readers: None,
                heads: Vec::new(),
                seq: 0,
                statement: None,
            },
        }
    }

    /// May `author` (a node key) write to the artefact? Ok if its org is the owner or a current
    /// maintainer; also Ok if its org was a maintainer under an earlier `Access` and
    /// `in_past_of(heads)` says the change is in the causal past of the heads of an `Access` that
    /// removed it (the engine answers with the document). Unadmitted and revoked nodes are
    /// refused.
    pub fn may_write(
        &self,
        artefact: &ArtefactId,
        owner_hint: OrgNumber,
        author: &PublicKey,
        in_past_of: impl Fn(&[Head]) -> bool,
    ) -> Result<(), TrustError> {
        let reg = self.registry();
        let orgs = reg.orgs_of(author);
        let action = format!("write to artefact {artefact} (owned by {owner_hint})");
        if orgs.is_empty() {
            return Err(TrustError::NotEntitled {
                who: format!("node {author}"),
                action,
                reason: reg.why_not_member(author),
            });
        }
        if orgs.contains(&owner_hint) {
            return Ok(());
        }
        let chain = self.access_chain(artefact, owner_hint);
        let current: &[OrgNumber] = match chain.last().map(|(s, _)| &s.body) {
            Some(Statement::Access { maintainers, .. }) => maintainers,
            _ => &[],
        };
        if orgs.iter().any(|o| current.contains(o)) {
            return Ok(());
        }
        let mut previous: &[OrgNumber] = &[];
        let mut removed_at = Vec::new();
        for (s, seq) in &chain {
            if let Statement::Access {
                maintainers, heads, ..
            } = &s.body
            {
                let removed = orgs
                    .iter()
                    .any(|o| previous.contains(o) && !maintainers.contains(o));
                if removed {
                    if in_past_of(heads) {
                        return Ok(());
                    }
                    removed_at.push(seq.to_string());
                }
                previous = maintainers;
            }
        }
        let names: Vec<String> = orgs.iter().map(|o| o.to_string()).collect();
        let names = names.join(", ");
        let reason = if removed_at.is_empty() {
            format!(
                "organisation {names} is neither its owner {owner_hint} nor one of its maintainers"
            )
        } else {
            format!(
                "organisation {names} was removed as a maintainer (access seq {}) and this change \
                 is not in the causal past of that statement's heads",
                removed_at.join(", ")
            )
        };
        Err(TrustError::NotEntitled {
            who: format!("node {author} of organisation {names}"),
            action,
            reason,
        })
    }

    /// May this node (key) read the artefact? Public: yes. Restricted: only nodes of the owner,
    /// of a listed reader org, or of a current maintainer (a maintainer must read to write).
    pub fn may_read(&self, artefact: &ArtefactId, owner_hint: OrgNumber, node: &PublicKey) -> bool {
        let access = self.access(artefact, owner_hint);
        let Some(readers) = &access.readers else {
            return true;
        };
        self.registry()
            .orgs_of(node)
            .iter()
            .any(|o| *o == access.owner || readers.contains(o) || access.maintainers.contains(o))
    }
}

fn access_view(s: &SignedStatement) -> AccessView {
    match &s.body {
        Statement::Access {
            owner,
            maintainers,
            readers,
            heads,
            seq,
            ..
        } => AccessView {
            owner: *owner,
            maintainers: maintainers.clone(),
            readers: readers.clone(),
            heads: heads.clone(),
            seq: *seq,
            statement: Some(s.id()),
        },
        // access_chain only yields Access statements.
        _ => unreachable!("access_view on a non-Access statement"),
    }
}

/// Checks that need nothing but the statement itself.
fn validate(s: &SignedStatement) -> Result<(), TrustError> {
    initiative::validate(s)?;
    adoption::validate(s)?;
    match &s.body {
        Statement::OrgProfile { org, org_key, .. } if *org_key != s.signer => {
            Err(TrustError::NotEntitled {
                who: format!("key {}", s.signer),
                action: format!("announce organisation {org}"),
                reason: format!("a profile is signed by the org key it announces ({org_key})"),
            })
        }
        Statement::Endorse { heads, .. } if heads.is_empty() => Err(TrustError::Malformed(
            "an endorsement names the exact version (heads) it endorses".into(),
        )),
        Statement::Delegate { scopes, .. } if scopes.is_empty() => Err(TrustError::Malformed(
            "a delegation grants at least one scope".into(),
        )),
        Statement::Delegate {
            org_key,
            expires: Some(expires),
            ..
        } if *expires <= s.time => Err(TrustError::Expired {
            key: *org_key,
            expires: *expires,
            at: s.time,
        }),
        _ => Ok(()),
    }
}
