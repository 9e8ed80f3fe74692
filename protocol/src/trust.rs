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
//! statement it is given that has a good signature, together with the time this node first
//! accepted it (`accepted_at`, by this node's clock, passed in: nothing here reads a clock or
//! does I/O), and derives its answers from the statements *and those times*:
//!
//! - **A statement is judged as of when this node accepted it.** Grants are not bounded in
//!   time: a statement that arrives before what entitles it (a certificate before the admission
//!   of its org) is kept and counts as soon as the rest arrives. Revocations are: a node
//!   revocation, an admission revocation or a delegation revocation takes effect from its own
//!   `accepted_at`. What the affected key signed and this node accepted before keeps counting
//!   (revocation is not retroactive, so an access list signed by a laptop that is lost later
//!   stays in force and an earlier list does not come back); what this node accepts from then
//!   on does not. A statement accepted in the same second as the revocation counts as after it.
//!   A node that first sees a revocation and an older statement together cannot tell which came
//!   first and does not count the older one; so `revoke-node` signs the access lists in force
//!   that the revoked key signed again with the org key.
//! - **Curator expiry is judged by when the statement was first seen here**, not by the date
//!   its signer wrote into it: at that date, but never earlier than `accepted_at` less
//!   [`CLOCK_SKEW_TOLERANCE`] (10 minutes, for clocks that disagree). A statement dated more than
//!   the tolerance into this node's future is refused. An expired curator can therefore not
//!   endorse or admit by backdating; the price is that a node that first sees an endorsement or
//!   admission by a delegated curator after the delegation expired does not count it (a node
//!   that joins the network later, say). A root never expires: it can endorse or admit again.
//! - **An access list that is missing or no longer valid never makes an artefact public**:
//!   [`Trust::access_in_force`] says whether a valid one is held, and [`Trust::may_read`] fails
//!   closed (owner only) without one; whether an artefact is restricted at all is the engine's to
//!   know.
//!
//! So nodes that accepted the same statements at the same times give the same answers whatever
//! order they arrived in; nodes that accepted them at different times may differ on statements
//! signed around a revocation, and each fails closed about what it cannot order.

mod adoption;
mod initiative;
pub mod intake;
mod network;
mod rate;
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
    prove_possession, verify_possession, EndorsementStatus, ProposedBlob, ProposedChange, Scope,
    SignedStatement, Statement, StatementId,
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
/// Domain-separation context for a node key's consent to being certified (`NodeCert`).
pub const NODE_POSSESSION_CONTEXT: &[u8] = b"allmenning/node-possession/v1";
/// The statement format version (the first byte of an encoded statement and of signed bytes).
pub const STATEMENT_VERSION: u8 = 1;
/// Largest encoded statement accepted.
pub const MAX_STATEMENT_BYTES: usize = 64 * 1024;
/// Largest encoded network file accepted.
pub const MAX_NETWORK_BYTES: usize = 64 * 1024;
/// How far apart two nodes' clocks may be, in seconds. A statement dated further than this into
/// this node's future is refused; a curator's expiry is judged no earlier than this much before
/// the statement was first seen here (see [`judged_at`]).
pub const CLOCK_SKEW_TOLERANCE: i64 = 10 * 60;

/// The time at which a statement's curator rights are judged: the time its signer wrote into
/// it, but never earlier than when this node first accepted it less [`CLOCK_SKEW_TOLERANCE`].
/// A signer can date a statement into the past, but not make this node have seen it earlier,
/// so an expired curator cannot endorse or admit by backdating.
pub fn judged_at(time: i64, accepted_at: i64) -> i64 {
    time.max(accepted_at.saturating_sub(CLOCK_SKEW_TOLERANCE))
}

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
    #[error(
        "the certificate of node {node} for organisation {org} does not carry that node key's \
         proof of possession ({reason}): on that node, `allmenning org node-proof` prints it"
    )]
    NoProofOfPossession {
        node: PublicKey,
        org: OrgNumber,
        reason: String,
    },
    #[error(
        "statement by {signer} is dated {time}, more than {CLOCK_SKEW_TOLERANCE} s after this \
         node's clock ({now}): refused"
    )]
    FromTheFuture {
        signer: PublicKey,
        time: i64,
        now: i64,
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

/// Where a node key stands in the network, as far as this node knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriterStanding {
    /// It acts for an admitted organisation.
    Member,
    /// Its certificate names an organisation that is not (or no longer) admitted.
    NotAdmitted,
    /// Its organisation revoked it.
    Revoked,
    /// No usable certificate for it is known.
    Unknown,
}

/// All statements this node knows, with when it accepted each, and what follows from them.
/// Deterministic: the same statements with the same acceptance times give the same answers
/// whatever order they arrived in (statements that arrive before what entitles them are kept,
/// and count once it arrives).
///
/// Who-is-who (admissions, delegations, certificates, revocations) is derived lazily in one
/// O(n log n) pass after a registry statement arrives; endorsements and access are evaluated per
/// artefact from an index when asked.
pub struct Trust {
    network: Network,
    /// The network's roots if its signature verifies; none otherwise (nothing is trusted).
    roots: Vec<Root>,
    statements: BTreeMap<StatementId, SignedStatement>,
    /// When this node first accepted each statement, by its own clock (0: before such times
    /// were kept). What a statement means depends on it: see the module docs.
    accepted: HashMap<StatementId, i64>,
    registry_ids: BTreeSet<StatementId>,
    /// `Initiative` and `JoinInitiative` statements.
    initiative_ids: BTreeSet<StatementId>,
    by_artefact: HashMap<ArtefactId, Vec<StatementId>>,
    /// Best `Endorse` per (signer, artefact), for replay checks.
    endorse_best: HashMap<(PublicKey, ArtefactId), (u64, i64, StatementId)>,
    registry: OnceLock<Registry>,
    /// The latest time this node's engine was told (its clock, passed in): the acceptance time
    /// of statements that arrive on paths that carry no time of their own.
    clock: i64,
    /// Intake limits: applicants, quota use, peer rates (see [`intake`]).
    pub(crate) intake: intake::Intake,
    /// Statements removed because a newer one superseded them, not yet removed from the store.
    pruned: Vec<StatementId>,
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
            accepted: HashMap::new(),
            registry_ids: BTreeSet::new(),
            initiative_ids: BTreeSet::new(),
            by_artefact: HashMap::new(),
            endorse_best: HashMap::new(),
            registry: OnceLock::new(),
            clock: 0,
            intake: intake::Intake::default(),
            pruned: Vec::new(),
        }
    }

    /// Moves this node's clock forward to `now` (never back) and returns it.
    pub(crate) fn advance_clock(&mut self, now: i64) -> i64 {
        self.clock = self.clock.max(now);
        self.clock
    }

    /// The latest time this node's engine was told.
    pub(crate) fn clock(&self) -> i64 {
        self.clock
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    fn registry(&self) -> &Registry {
        self.registry.get_or_init(|| {
            Registry::build(
                &self.roots,
                self.registry_ids.iter(),
                &self.statements,
                &self.accepted,
            )
        })
    }

    /// Checks a statement this node sees for the first time at `accepted_at` (its own clock)
    /// and stores it with that time: size, a date no further than [`CLOCK_SKEW_TOLERANCE`] into
    /// this node's future, the signature, what the statement alone must satisfy, and replays
    /// (an `Endorse` whose seq does not go above the best known from the same signer for the
    /// same artefact; an `Access` whose seq does not go above the one in force for that artefact
    /// and owner). Between two different statements with the same seq, the earlier (time, then
    /// id) is kept and the other refused as a replay. Ok(true) if new, Ok(false) if known.
    pub fn insert(
        &mut self,
        statement: SignedStatement,
        accepted_at: i64,
    ) -> Result<bool, TrustError> {
        if statement.time > accepted_at.saturating_add(CLOCK_SKEW_TOLERANCE) {
            return Err(TrustError::FromTheFuture {
                signer: statement.signer,
                time: statement.time,
                now: accepted_at,
            });
        }
        self.insert_accepted(statement, accepted_at)
    }

    /// Inserts a statement accepted at `accepted_at`, without the check on its date (which was
    /// made when it was first accepted: a statement loaded from the store may be dated after
    /// the time recorded for it, 0 for records from before times were kept).
    fn insert_accepted(
        &mut self,
        statement: SignedStatement,
        accepted_at: i64,
    ) -> Result<bool, TrustError> {
        let len = statement.encode().len();
        if len > MAX_STATEMENT_BYTES {
            return Err(TrustError::TooLarge {
                len,
                limit: MAX_STATEMENT_BYTES,
            });
        }
        let id = statement.id();
        if self.statements.contains_key(&id) {
            return Ok(false);
        }
        statement.verify_signature()?;
        validate(&statement)?;
        let rank = |seq: u64| (seq, statement.time, id);
        let mut superseded = None;
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
                    // Only the highest seq per curator and artefact ever counts, and a replay
                    // of a lower one is refused: the one it beats can go.
                    superseded = Some(best.2);
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
        self.accepted.insert(id, accepted_at);
        self.statements.insert(id, statement);
        if let Some(old) = superseded {
            if self.remove(&old).is_some() {
                self.intake.counters.superseded += 1;
                self.pruned.push(old);
            }
        }
        Ok(true)
    }

    /// Inserts many statements that arrived together at `accepted_at` (one message from a
    /// peer): registry statements first, then endorsements and access statements by ascending
    /// seq, so that none is refused only because a later one of the same batch came first.
    /// Results are in input order.
    pub fn insert_many(
        &mut self,
        statements: impl IntoIterator<Item = SignedStatement>,
        accepted_at: i64,
    ) -> Vec<Result<bool, TrustError>> {
        self.insert_ordered(
            statements.into_iter().map(|s| (s, accepted_at)),
            |trust, s, at| trust.insert(s, at),
        )
    }

    /// Loads statements from this node's store, each with the time it was first accepted.
    /// Ordered like [`Trust::insert_many`]; results are in input order.
    pub fn load(
        &mut self,
        records: impl IntoIterator<Item = (SignedStatement, i64)>,
    ) -> Vec<Result<bool, TrustError>> {
        self.insert_ordered(records, |trust, s, at| trust.insert_accepted(s, at))
    }

    fn insert_ordered(
        &mut self,
        records: impl IntoIterator<Item = (SignedStatement, i64)>,
        mut insert: impl FnMut(&mut Self, SignedStatement, i64) -> Result<bool, TrustError>,
    ) -> Vec<Result<bool, TrustError>> {
        let mut batch: Vec<(usize, (SignedStatement, i64))> =
            records.into_iter().enumerate().collect();
        batch.sort_by_key(|(i, (s, _))| match &s.body {
            Statement::Endorse { seq, .. } => (1, *seq, s.time, *i),
            Statement::Access { seq, .. } => (2, *seq, s.time, *i),
            _ => (0, 0, 0, *i),
        });
        let mut results: Vec<(usize, Result<bool, TrustError>)> = batch
            .into_iter()
            .map(|(i, (s, at))| (i, insert(self, s, at)))
            .collect();
        results.sort_by_key(|(i, _)| *i);
        results.into_iter().map(|(_, r)| r).collect()
    }

    /// Forgets a statement (an applicant's that expired, a superseded endorsement). What it
    /// entitled no longer counts; a replay check it took part in stays.
    pub fn remove(&mut self, id: &StatementId) -> Option<SignedStatement> {
        let statement = self.statements.remove(id)?;
        self.accepted.remove(id);
        for key in [statement.body.artefact(), statement.body.adaptation()]
            .into_iter()
            .flatten()
        {
            if let Some(ids) = self.by_artefact.get_mut(key) {
                ids.retain(|i| i != id);
                if ids.is_empty() {
                    self.by_artefact.remove(key);
                }
            }
        }
        self.initiative_ids.remove(id);
        if self.registry_ids.remove(id) {
            self.registry = OnceLock::new();
        }
        self.intake.forget(id);
        Some(statement)
    }

    /// Statements removed because a newer one superseded them (an endorsement by the same
    /// curator with a higher seq) since last asked: the engine removes them from the store.
    pub fn take_pruned(&mut self) -> Vec<StatementId> {
        std::mem::take(&mut self.pruned)
    }

    /// When this node first accepted the statement (its own clock; 0 for statements stored
    /// before such times were kept).
    pub fn accepted_at(&self, id: &StatementId) -> Option<i64> {
        self.accepted.get(id).copied()
    }

    fn accepted_of(&self, id: &StatementId) -> i64 {
        self.accepted.get(id).copied().unwrap_or(0)
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
            // Only members propose: a proposal by a key that acted for no admitted organisation
            // when this node accepted it is not shown.
            let id = s.id();
            let proposed_at = self.accepted_of(&id);
            let Some(proposer_org) = reg.org_at(&s.signer, proposed_at) else {
                continue;
            };
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
                let decided_at = self.accepted_of(&v.id());
                if *proposal != id
                    || (*accepted && verdict_hashes != hashes)
                    || self
                        .may_write_at(artefact, owner_hint, &v.signer, decided_at, |_| false)
                        .is_err()
                {
                    continue;
                }
                let candidate = ProposalVerdictView {
                    accepted: *accepted,
                    by: reg.org_at(&v.signer, decided_at),
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
                proposer_org: Some(proposer_org),
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
            .filter_map(|s| adoption::view(reg, s, self.accepted_of(&s.id())))
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
            .filter_map(|s| adoption::view(reg, s, self.accepted_of(&s.id())))
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
            .iter()
            .filter_map(|(id, s)| adoption::view(reg, s, self.accepted_of(id)))
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
                .filter_map(|id| Some((self.statements.get(id)?, self.accepted_of(id)))),
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
        self.registry().revoked_at.contains_key(id)
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

    /// The organisation a node key writes for (or whose certificate it holds) and where it
    /// stands; see [`WriterStanding`].
    pub fn writer_standing(&self, node: &PublicKey) -> (Option<OrgNumber>, WriterStanding) {
        self.registry().writer_standing(node)
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
    /// seq counts, and it counts if it is not revoked and its signer held `Scope::Endorse` for
    /// it: judged at its time but no earlier than its acceptance here less the clock tolerance
    /// (see [`judged_at`]), and accepted before any revocation of the delegation. Sorted
    /// newest first.
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
                if reg.revoked_at.contains_key(&id) {
                    return None;
                }
                let accepted = self.accepted_of(&id);
                let judged = judged_at(time, accepted);
                let rights = reg.rights_at(&signer, judged, accepted)?;
                if !rights.scopes.contains(&Scope::Endorse) {
                    return None;
                }
                let curator = reg.curator_org(&signer, Some((judged, accepted)), Scope::Endorse)?;
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

    /// The valid `Access` statements of an artefact for `owner` (naming `owner`, signed by a key
    /// that acted for `owner` when this node accepted the statement), from the first to the one
    /// in force, with their seqs.
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
                    } if *named == owner
                        && reg
                            .orgs_at(&s.signer, self.accepted_of(id))
                            .contains(&owner) =>
                    {
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

    /// The access statement in force, if a valid one is held: the highest seq signed for the
    /// owner org (by its org key or a node certified for it, as of the statement's acceptance).
    /// `owner_hint` is the owner recorded in the artefact (the publisher's org); `Access`
    /// statements naming another owner are ignored.
    pub fn access_in_force(
        &self,
        artefact: &ArtefactId,
        owner_hint: OrgNumber,
    ) -> Option<AccessView> {
        self.access_chain(artefact, owner_hint)
            .last()
            .map(|(s, _)| access_view(s))
    }

    /// Organisations that could read the restricted artefact under an earlier access statement
    /// (as readers or maintainers) and cannot under the one in force: their nodes still need
    /// the statement that took their access away, to tell their users so.
    pub fn lost_read_access(&self, artefact: &ArtefactId, owner_hint: OrgNumber) -> Vec<OrgNumber> {
        let chain = self.access_chain(artefact, owner_hint);
        let Some((
            (
                SignedStatement {
                    body:
                        Statement::Access {
                            readers: Some(readers),
                            maintainers,
                            ..
                        },
                    ..
                },
                _,
            ),
            earlier,
        )) = chain.split_last()
        else {
            return Vec::new();
        };
        let mut lost: Vec<OrgNumber> = earlier
            .iter()
            .filter_map(|(s, _)| match &s.body {
                Statement::Access {
                    readers: before,
                    maintainers: maintained,
                    ..
                } => Some(before.iter().flatten().chain(maintained.iter()).copied()),
                _ => None,
            })
            .flatten()
            .filter(|o| *o != owner_hint && !readers.contains(o) && !maintainers.contains(o))
            .collect();
        lost.sort();
        lost.dedup();
        lost
    }

    /// Whether access statement `statement` of restricted artefact `artefact` may be given
    /// to organisation `org`, which lost read access to it (see
    /// [`Trust::lost_read_access`]): only the statement that last took its access away, so
    /// that its nodes can tell their users. Access lists signed later (who may read now, and
    /// the artefact's heads as they grow) are none of its business, nor are earlier ones that
    /// did not name it.
    pub fn access_revoking_statement(
        &self,
        artefact: &ArtefactId,
        owner_hint: OrgNumber,
        org: OrgNumber,
    ) -> Option<StatementId> {
        if org == owner_hint || !self.lost_read_access(artefact, owner_hint).contains(&org) {
            return None;
        }
        let names = |s: &SignedStatement| match &s.body {
            Statement::Access {
                readers,
                maintainers,
                ..
            } => readers
                .iter()
                .flatten()
                .chain(maintainers)
                .any(|o| *o == org),
            _ => false,
        };
        let chain = self.access_chain(artefact, owner_hint);
        chain
            .windows(2)
            .rev()
            .find(|w| names(w[0].0) && !names(w[1].0))
            .map(|w| w[1].0.id())
    }

    /// The access statement in force, or, when no valid one is held, the default: owner only,
    /// no readers listed (`statement: None`, `seq: 0`). The default says nothing about whether
    /// the artefact is public: a restricted artefact whose access statements are missing or no
    /// longer valid here is still restricted, so callers that decide who may read tell the two
    /// apart by `statement` (or use [`Trust::access_in_force`] and [`Trust::may_read`]).
    pub fn access(&self, artefact: &ArtefactId, owner_hint: OrgNumber) -> AccessView {
        self.access_in_force(artefact, owner_hint)
            .unwrap_or_else(|| AccessView {
                owner: owner_hint,
                maintainers: Vec::new(),
                readers: None,
                heads: Vec::new(),
                seq: 0,
                statement: None,
            })
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
        self.may_write_at(artefact, owner_hint, author, registry::NOW, in_past_of)
    }

    /// [`Trust::may_write`] for something `author` signed that this node accepted at `at`.
    fn may_write_at(
        &self,
        artefact: &ArtefactId,
        owner_hint: OrgNumber,
        author: &PublicKey,
        at: i64,
        in_past_of: impl Fn(&[Head]) -> bool,
    ) -> Result<(), TrustError> {
        let reg = self.registry();
        let orgs = reg.orgs_at(author, at);
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

    /// May this node (key) read the artefact? With a valid access statement in force: anyone if
    /// it lists no readers (public), else nodes of the owner, of a listed reader org, or of a
    /// current maintainer (a maintainer must read to write). Without one, only the owner's
    /// nodes: this fails closed, because an artefact whose access statements are missing or no
    /// longer valid here may well be restricted (the engine asks only about artefacts it does
    /// not know to be public).
    pub fn may_read(&self, artefact: &ArtefactId, owner_hint: OrgNumber, node: &PublicKey) -> bool {
        let orgs = self.registry().orgs_of(node);
        let Some(access) = self.access_in_force(artefact, owner_hint) else {
            return orgs.contains(&owner_hint);
        };
        let Some(readers) = &access.readers else {
            return true;
        };
        orgs.iter()
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
        Statement::OrgProfile { name, .. } | Statement::Admit { name, .. }
            if name.trim().is_empty() || name.chars().count() > intake::MAX_ORG_NAME_CHARS =>
        {
            Err(TrustError::Malformed(format!(
                "an organisation's name has 1 to {} characters",
                intake::MAX_ORG_NAME_CHARS
            )))
        }
        Statement::NodeCert { label, .. }
            if label.chars().count() > intake::MAX_NODE_LABEL_CHARS =>
        {
            Err(TrustError::Malformed(format!(
                "a node's label has at most {} characters",
                intake::MAX_NODE_LABEL_CHARS
            )))
        }
        Statement::OrgProfile { org, org_key, .. } if *org_key != s.signer => {
            Err(TrustError::NotEntitled {
                who: format!("key {}", s.signer),
                action: format!("announce organisation {org}"),
                reason: format!("a profile is signed by the org key it announces ({org_key})"),
            })
        }
        Statement::NodeCert {
            org,
            node_key,
            possession,
            ..
        } => verify_possession(*org, node_key, possession),
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
