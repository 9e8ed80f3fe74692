//! What this node takes in: limits on the statements peers can make it store and relay.
//!
//! A node stores every statement it accepts and hands it to every peer that connects, so each
//! statement one node accepts costs every node of the network disk, bandwidth and signature
//! checks. Without limits any fresh key could make every node store unlimited self-signed
//! statements (200 of 30 KiB grew each node's database by 11-15 MB, and `org show --all` listed
//! 201 fake "Bergen kommune"), and an admitted organisation could do so at will. The limits, and
//! why these numbers:
//!
//! - **Only members' statements are kept.** A statement is stored, and so relayed, only if its
//!   signer speaks for an admitted organisation now (its org key, or a node key it certified) or
//!   is a root. One that arrives before what entitles it (a node's statement before the node's
//!   certificate) is dropped, not kept; the node asks its peers for statements again once
//!   something that changes who is who has arrived, and gets it then.
//! - **Applicants get a bounded, expiring allowance.** An organisation that announced itself and
//!   waits for admission may have its `OrgProfile` and the `NodeCert`s its own org key signs
//!   stored and relayed, so that a curator can admit it whether it connects to the curator
//!   directly or its profile comes through another node. At most [`MAX_PENDING_APPLICANTS`] (64,
//!   far more organisations than join a network in a week) wait on one node, at most
//!   [`MAX_APPLICANTS_PER_PEER`] (8) of them first delivered by any one peer so that one
//!   connection cannot take every place, each with at most [`MAX_STATEMENTS_PER_APPLICANT`] (8:
//!   a profile, a renamed one, a few nodes) statements of at most
//!   [`MAX_APPLICANT_STATEMENT_BYTES`] (2 KiB; an organisation's name has at most
//!   [`MAX_ORG_NAME_CHARS`] characters and a node's label [`MAX_NODE_LABEL_CHARS`], for
//!   everyone). An applicant not admitted [`APPLICANT_TTL`] (7 days, by this node's clock) after
//!   this node first accepted one of its statements is dropped from memory and store; its node
//!   announces it again when it next connects. All applicants together take at most 1 MiB.
//!   Someone who fills the places with fake applicants keeps a real one out for at most a week,
//!   and a curator it connects to directly still sees it once a place frees up.
//! - **A quota per admitted organisation.** What one organisation's keys can make every node
//!   store is bounded to [`ORG_STATEMENT_QUOTA`] statements and [`ORG_BYTE_QUOTA`] bytes (20,000
//!   and 32 MiB: a municipality with a thousand artefacts, each with a few access lists,
//!   adoptions and proposals of up to 60 KiB, stays well inside). Proposals count like every
//!   other statement (only members propose). Roots (KS) are exempt: the network file names them
//!   to run it. An endorsement superseded by a higher seq from the same curator is removed (it
//!   can never count again, and a replay of it is refused), so re-endorsing uses up nothing.
//! - **A rate per peer** ([`super::rate::STATEMENT_RATE`]: 100 statements a second, bursts of
//!   5,000), and **bounded messages**: at most [`MAX_STATEMENTS_PER_MESSAGE`] statements are
//!   taken from one message and served in one response (of at most
//!   [`MAX_STATEMENT_RESPONSE_BYTES`]); what is dropped is counted, and asked for again.
//! - **Cheapest checks first**: decode (size-bounded), already held?, signer's standing
//!   (member, or applicant within the allowance, quota), rate, then the signature, what the
//!   statement must satisfy, and only then the store. A flood of junk costs a hash lookup per
//!   statement, not a signature check.
//!
//! This node's own statements (signed with its node or org key) are exempt here: its user decides
//! what it signs, and other nodes apply the limits to them as to anyone's.

use super::registry::NOW;
use super::{SignedStatement, Statement, StatementId, Trust};
use crate::identity::{OrgNumber, PublicKey};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub use super::rate::{PeerRates, RateLimits, STATEMENT_RATE};

/// Applicants (organisations waiting for admission) one node keeps at a time.
pub const MAX_PENDING_APPLICANTS: usize = 64;
/// Applicants first delivered by one peer that one node keeps at a time.
pub const MAX_APPLICANTS_PER_PEER: usize = 8;
/// Statements (profiles, node certificates) kept per applicant.
pub const MAX_STATEMENTS_PER_APPLICANT: usize = 8;
/// Largest encoded statement kept from an applicant.
pub const MAX_APPLICANT_STATEMENT_BYTES: usize = 2 * 1024;
/// How long an applicant's statements are kept without an admission: 7 days.
pub const APPLICANT_TTL: i64 = 7 * 86_400;
/// Longest organisation name in a profile or an admission, in characters.
pub const MAX_ORG_NAME_CHARS: usize = 200;
/// Longest node label in a certificate, in characters.
pub const MAX_NODE_LABEL_CHARS: usize = 100;
/// Statements one admitted organisation can make a node store.
pub const ORG_STATEMENT_QUOTA: usize = 20_000;
/// Bytes of statements one admitted organisation can make a node store.
pub const ORG_BYTE_QUOTA: usize = 32 * 1024 * 1024;
/// Statements taken from one message, and served in one response.
pub const MAX_STATEMENTS_PER_MESSAGE: usize = 4_096;
/// Bytes of statements served in one response (responses are limited to 64 MiB).
pub const MAX_STATEMENT_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// Where a statement's signer stands, as far as keeping the statement goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Signed with this node's own node or org key.
    Own,
    /// Signed by a root (exempt from quotas).
    Root,
    /// Signed by a key that acts for this admitted organisation now (charged to it).
    Member(OrgNumber),
    /// A profile, or a certificate by its org key, of an organisation that is not admitted.
    Applicant(PublicKey),
}

/// Why a statement was dropped before its signature was even checked. None of these is the
/// sending peer's fault (it may relay what others signed), so none counts against it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Dropped {
    #[error("already held")]
    Known,
    #[error("its signer {0} speaks for no admitted organisation (and it is no applicant's profile or certificate)")]
    UnknownSigner(PublicKey),
    #[error("{MAX_PENDING_APPLICANTS} organisations already wait for admission on this node")]
    ApplicantsFull,
    #[error("{MAX_APPLICANTS_PER_PEER} waiting organisations came from this peer already")]
    ApplicantsFromPeer,
    #[error("applicant {0} has {MAX_STATEMENTS_PER_APPLICANT} statements here already")]
    ApplicantLimit(PublicKey),
    #[error(
        "an applicant's statement is at most {MAX_APPLICANT_STATEMENT_BYTES} bytes, this one {0}"
    )]
    ApplicantTooLarge(usize),
    #[error(
        "organisation {org} has used its quota here ({statements} statements, {bytes} bytes; \
         at most {ORG_STATEMENT_QUOTA} and {ORG_BYTE_QUOTA})"
    )]
    OverQuota {
        org: OrgNumber,
        statements: usize,
        bytes: usize,
    },
    #[error("the peer sends statements faster than {} a second", STATEMENT_RATE.per_sec)]
    RateLimited,
}

/// What gossip may do with a statement that arrived on it (for a gossipsub validation result).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatementVerdict {
    /// Kept, and public: gossip may pass it on.
    Accept,
    /// Known already, dropped by the intake limits, or kept but not to be passed on to
    /// everyone (it names an artefact this node does not know to be public).
    Ignore,
    /// Malformed, forged or otherwise refused: its author sent something no node accepts.
    Reject,
}

/// What the limits dropped since start (for status and tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IntakeCounters {
    /// Signed by keys that speak for no admitted organisation.
    pub unknown_signer: u64,
    /// Over an applicant allowance (places, per peer, per applicant, size).
    pub applicant_refused: u64,
    /// Over an organisation's quota.
    pub over_quota: u64,
    /// Over a peer's rate.
    pub rate_limited: u64,
    /// Beyond the statements taken from one message.
    pub truncated: u64,
    /// Applicants' statements dropped because they were not admitted in time.
    pub expired: u64,
    /// Endorsements removed because the same curator endorsed the artefact again.
    pub superseded: u64,
}

/// A statement as the allowance sees it: when it was accepted, its id, its encoded size.
type HeldStatement = (i64, StatementId, usize);

#[derive(Clone, Debug)]
struct Applicant {
    first_accepted: i64,
    delivered_by: Option<String>,
    statements: BTreeSet<StatementId>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Usage {
    statements: usize,
    bytes: usize,
}

/// The intake state a node keeps besides the statements: applicants, quota use, peer rates,
/// counters, and the pending "ask again" work. It lives in [`Trust`] because it lives and dies
/// with the node's membership of a network.
#[derive(Debug)]
pub(crate) struct Intake {
    own_keys: Vec<PublicKey>,
    applicants: BTreeMap<PublicKey, Applicant>,
    usage: HashMap<OrgNumber, Usage>,
    charged: HashMap<StatementId, (OrgNumber, usize)>,
    pub(crate) rates: PeerRates,
    pub(crate) counters: IntakeCounters,
    /// A re-check of peers after an authority change was put off to the next tick.
    recheck_due: bool,
    /// The clock second of the last re-check.
    last_recheck: Option<i64>,
    /// Statements were dropped for an unknown signer since the last re-check: ask peers for
    /// statements again when who is who changes.
    missed_statements: bool,
    /// Peers to ask for statements again (some were dropped for their rate, or a message was
    /// cut short).
    reask: BTreeSet<String>,
}

impl Default for Intake {
    fn default() -> Self {
        Intake {
            own_keys: Vec::new(),
            applicants: BTreeMap::new(),
            usage: HashMap::new(),
            charged: HashMap::new(),
            rates: PeerRates::new(STATEMENT_RATE),
            counters: IntakeCounters::default(),
            recheck_due: false,
            last_recheck: None,
            missed_statements: false,
            reask: BTreeSet::new(),
        }
    }
}

impl Intake {
    fn charge(&mut self, id: StatementId, org: OrgNumber, len: usize) {
        if self.charged.insert(id, (org, len)).is_none() {
            let usage = self.usage.entry(org).or_default();
            usage.statements += 1;
            usage.bytes += len;
        }
    }

    /// Forgets a statement that left the store: its charge, its applicant's place.
    pub(crate) fn forget(&mut self, id: &StatementId) {
        if let Some((org, len)) = self.charged.remove(id) {
            if let Some(usage) = self.usage.get_mut(&org) {
                usage.statements = usage.statements.saturating_sub(1);
                usage.bytes = usage.bytes.saturating_sub(len);
            }
        }
        self.applicants.retain(|_, a| {
            a.statements.remove(id);
            !a.statements.is_empty()
        });
    }

    /// Whether an authority change may re-check peers now (at most once per clock second);
    /// otherwise it is put off to the next tick.
    pub(crate) fn recheck_now(&mut self, now: i64) -> bool {
        if self.last_recheck == Some(now) {
            self.recheck_due = true;
            return false;
        }
        self.last_recheck = Some(now);
        self.recheck_due = false;
        true
    }

    /// At a tick: whether a re-check was put off, and marks it done.
    pub(crate) fn take_due_recheck(&mut self, now: i64) -> bool {
        if !self.recheck_due {
            return false;
        }
        self.recheck_due = false;
        self.last_recheck = Some(now);
        true
    }

    /// Whether statements were dropped for unknown signers since last asked; clears it.
    pub(crate) fn take_missed_statements(&mut self) -> bool {
        std::mem::take(&mut self.missed_statements)
    }

    /// Notes why a statement was dropped.
    pub(crate) fn count(&mut self, dropped: &Dropped) {
        let c = &mut self.counters;
        match dropped {
            Dropped::Known => {}
            Dropped::UnknownSigner(_) => {
                c.unknown_signer += 1;
                self.missed_statements = true;
            }
            Dropped::ApplicantsFull
            | Dropped::ApplicantsFromPeer
            | Dropped::ApplicantLimit(_)
            | Dropped::ApplicantTooLarge(_) => c.applicant_refused += 1,
            Dropped::OverQuota { .. } => c.over_quota += 1,
            Dropped::RateLimited => c.rate_limited += 1,
        }
    }

    /// Asks `peer` again for statements at a later tick.
    pub(crate) fn reask_later(&mut self, peer: &str) {
        self.reask.insert(peer.to_string());
    }

    /// The peers to ask again now: those whose buckets refilled to half their burst.
    pub(crate) fn due_reasks(&mut self, now: i64) -> Vec<String> {
        let half = self.rates.limits().burst / 2;
        let due: Vec<String> = self
            .reask
            .iter()
            .filter(|p| self.rates.peek(p, now) >= half)
            .cloned()
            .collect();
        for p in &due {
            self.reask.remove(p);
        }
        due
    }
}

/// The order statements of one message are taken in: what entitles others first, so that none
/// is dropped only because what entitles it came later in the same message. Endorsements and
/// access lists by ascending seq (the replay checks keep the highest).
pub(crate) fn intake_order(s: &SignedStatement) -> (u8, u64, i64) {
    let group = match &s.body {
        Statement::Delegate { .. } => 0,
        Statement::Admit { .. } => 1,
        Statement::OrgProfile { .. } => 2,
        Statement::NodeCert { .. } | Statement::NodeRevoke { .. } => 3,
        Statement::Revoke { .. } => 4,
        _ => 5,
    };
    let seq = match &s.body {
        Statement::Endorse { seq, .. } | Statement::Access { seq, .. } => *seq,
        _ => 0,
    };
    (group, seq, s.time)
}

/// Whether a statement, once kept, can change who may write or read something (so peers are
/// asked again what they have). An applicant's profile or certificate does not, nor do
/// endorsements, initiatives and proposals.
pub(crate) fn changes_authority(s: &SignedStatement, standing: Standing) -> bool {
    match &s.body {
        Statement::OrgProfile { .. }
        | Statement::Endorse { .. }
        | Statement::Initiative { .. }
        | Statement::JoinInitiative { .. }
        | Statement::Propose { .. } => false,
        Statement::NodeCert { .. } => !matches!(standing, Standing::Applicant(_)),
        Statement::Admit { .. }
        | Statement::NodeRevoke { .. }
        | Statement::Delegate { .. }
        | Statement::Revoke { .. }
        | Statement::Access { .. }
        | Statement::ProposalVerdict { .. }
        | Statement::Adopt { .. } => true,
    }
}

impl Trust {
    /// Names this node's own keys: what they sign is exempt from the intake limits here.
    pub(crate) fn set_own_keys(&mut self, keys: Vec<PublicKey>) {
        self.intake.own_keys = keys;
    }

    /// The first, registry-based checks on a statement that arrived (`id` is its id): is it
    /// new, and where does its signer stand?
    pub(crate) fn standing(
        &self,
        statement: &SignedStatement,
        id: &StatementId,
    ) -> Result<Standing, Dropped> {
        if self.statements.contains_key(id) {
            return Err(Dropped::Known);
        }
        let signer = &statement.signer;
        if self.intake.own_keys.contains(signer) {
            return Ok(Standing::Own);
        }
        let reg = self.registry();
        if reg.is_root(signer) {
            return Ok(Standing::Root);
        }
        if let Some(org) = reg.orgs_at(signer, NOW).into_iter().next() {
            return Ok(Standing::Member(org));
        }
        match &statement.body {
            Statement::OrgProfile { org_key, .. } if org_key == signer => {
                Ok(Standing::Applicant(*signer))
            }
            Statement::NodeCert { .. } if self.intake.applicants.contains_key(signer) => {
                Ok(Standing::Applicant(*signer))
            }
            _ => Err(Dropped::UnknownSigner(*signer)),
        }
    }

    /// The allowance and quota checks (no registry needed): may a statement of `len` encoded
    /// bytes with this standing, delivered by `from`, be kept?
    pub(crate) fn check_allowance(
        &self,
        standing: Standing,
        len: usize,
        from: Option<&str>,
    ) -> Result<(), Dropped> {
        let intake = &self.intake;
        match standing {
            Standing::Own | Standing::Root => Ok(()),
            Standing::Member(org) => {
                let usage = intake.usage.get(&org).copied().unwrap_or_default();
                if usage.statements >= ORG_STATEMENT_QUOTA
                    || usage.bytes.saturating_add(len) > ORG_BYTE_QUOTA
                {
                    return Err(Dropped::OverQuota {
                        org,
                        statements: usage.statements,
                        bytes: usage.bytes,
                    });
                }
                Ok(())
            }
            Standing::Applicant(key) => {
                if len > MAX_APPLICANT_STATEMENT_BYTES {
                    return Err(Dropped::ApplicantTooLarge(len));
                }
                if let Some(applicant) = intake.applicants.get(&key) {
                    if applicant.statements.len() >= MAX_STATEMENTS_PER_APPLICANT {
                        return Err(Dropped::ApplicantLimit(key));
                    }
                    return Ok(());
                }
                if intake.applicants.len() >= MAX_PENDING_APPLICANTS {
                    return Err(Dropped::ApplicantsFull);
                }
                let from_peer = intake
                    .applicants
                    .values()
                    .filter(|a| from.is_some() && a.delivered_by.as_deref() == from)
                    .count();
                if from_peer >= MAX_APPLICANTS_PER_PEER {
                    return Err(Dropped::ApplicantsFromPeer);
                }
                Ok(())
            }
        }
    }

    /// Books a statement that was just kept: charges its organisation, or gives its applicant
    /// a place.
    pub(crate) fn record_intake(
        &mut self,
        id: StatementId,
        standing: Standing,
        len: usize,
        from: Option<&str>,
        accepted_at: i64,
    ) {
        match standing {
            Standing::Own | Standing::Root => {}
            Standing::Member(org) => self.intake.charge(id, org, len),
            Standing::Applicant(key) => {
                self.intake
                    .applicants
                    .entry(key)
                    .or_insert_with(|| Applicant {
                        first_accepted: accepted_at,
                        delivered_by: from.map(str::to_string),
                        statements: BTreeSet::new(),
                    })
                    .statements
                    .insert(id);
            }
        }
    }

    /// Takes a token of `peer`'s statement budget at `now`.
    pub(crate) fn take_token(&mut self, peer: &str, now: i64) -> bool {
        self.intake.rates.take(peer, now)
    }

    /// Drops the statements of applicants not admitted within [`APPLICANT_TTL`] of when this
    /// node first accepted one of theirs, and lets admitted ones go from the allowance (their
    /// statements stay, charged to their organisation). Returns what was dropped, for the store.
    pub(crate) fn expire_applicants(&mut self, now: i64) -> Vec<StatementId> {
        let reg = self.registry();
        // Admitted since (or a root's): out of the allowance, charged to the organisation.
        let mut admitted: Vec<(PublicKey, Option<OrgNumber>)> = Vec::new();
        let mut expired: Vec<PublicKey> = Vec::new();
        for (key, applicant) in &self.intake.applicants {
            if reg.is_root(key) {
                admitted.push((*key, None));
            } else if let Some(org) = reg.orgs_at(key, NOW).into_iter().next() {
                admitted.push((*key, Some(org)));
            } else if applicant.first_accepted.saturating_add(APPLICANT_TTL) <= now {
                expired.push(*key);
            }
        }
        for (key, org) in admitted {
            let Some(applicant) = self.intake.applicants.remove(&key) else {
                continue;
            };
            let Some(org) = org else {
                continue;
            };
            for id in applicant.statements {
                let len = self.statements.get(&id).map_or(0, |s| s.encode().len());
                self.intake.charge(id, org, len);
            }
        }
        let mut dropped = Vec::new();
        for key in expired {
            let Some(applicant) = self.intake.applicants.remove(&key) else {
                continue;
            };
            for id in applicant.statements {
                if self.remove(&id).is_some() {
                    dropped.push(id);
                }
            }
        }
        self.intake.counters.expired += dropped.len() as u64;
        dropped
    }

    /// After loading from the store: charges every statement to the organisation its signer
    /// acted for when it was accepted, gives applicants their places back (oldest first, within
    /// the allowance), and drops what the limits would not have let in: statements by keys
    /// that acted for no admitted organisation, applicants beyond the allowance or past their
    /// time (records from before acceptance times were kept count as accepted at 0, so an
    /// unadmitted organisation's old profile goes, and its node announces it again). Returns
    /// what was dropped, for the store.
    pub(crate) fn settle_loaded(&mut self, now: i64) -> Vec<StatementId> {
        let mut charges = Vec::new();
        let mut candidates: BTreeMap<PublicKey, Vec<HeldStatement>> = BTreeMap::new();
        let mut junk = Vec::new();
        {
            let reg = self.registry();
            let announced: BTreeSet<PublicKey> = self
                .statements
                .values()
                .filter_map(|s| match &s.body {
                    Statement::OrgProfile { org_key, .. } if *org_key == s.signer => Some(s.signer),
                    _ => None,
                })
                .collect();
            for (id, s) in &self.statements {
                if self.intake.own_keys.contains(&s.signer) || reg.is_root(&s.signer) {
                    continue;
                }
                let accepted_at = self.accepted_of(id);
                let len = s.encode().len();
                if let Some(org) = reg.orgs_at(&s.signer, accepted_at).into_iter().next() {
                    charges.push((*id, org, len));
                    continue;
                }
                let applicant_material = match &s.body {
                    Statement::OrgProfile { org_key, .. } => *org_key == s.signer,
                    Statement::NodeCert { .. } => announced.contains(&s.signer),
                    _ => false,
                };
                if applicant_material
                    && len <= MAX_APPLICANT_STATEMENT_BYTES
                    && reg.orgs_at(&s.signer, NOW).is_empty()
                {
                    candidates
                        .entry(s.signer)
                        .or_default()
                        .push((accepted_at, *id, len));
                } else {
                    junk.push(*id);
                }
            }
        }
        for (id, org, len) in charges {
            self.intake.charge(id, org, len);
        }
        let mut applicants: Vec<(i64, PublicKey, Vec<HeldStatement>)> = candidates
            .into_iter()
            .filter_map(|(key, mut list)| {
                list.sort();
                let first = list.first()?.0;
                Some((first, key, list))
            })
            .collect();
        applicants.sort_by_key(|(first, key, _)| (*first, *key));
        for (i, (first, key, list)) in applicants.into_iter().enumerate() {
            let keep = i < MAX_PENDING_APPLICANTS && first.saturating_add(APPLICANT_TTL) > now;
            let mut kept = BTreeSet::new();
            for (_, id, _) in list {
                if keep && kept.len() < MAX_STATEMENTS_PER_APPLICANT {
                    kept.insert(id);
                } else {
                    junk.push(id);
                }
            }
            if !kept.is_empty() {
                self.intake.applicants.insert(
                    key,
                    Applicant {
                        first_accepted: first,
                        delivered_by: None,
                        statements: kept,
                    },
                );
            }
        }
        junk.retain(|id| self.remove(id).is_some());
        junk
    }

    /// What the intake limits dropped since start.
    pub fn intake_counters(&self) -> IntakeCounters {
        self.intake.counters
    }

    /// Statements and bytes this node holds charged to `org`.
    pub fn org_usage(&self, org: OrgNumber) -> (usize, usize) {
        self.intake
            .usage
            .get(&org)
            .map_or((0, 0), |u| (u.statements, u.bytes))
    }

    /// Organisations waiting for admission whose statements this node keeps.
    pub fn pending_applicants(&self) -> usize {
        self.intake.applicants.len()
    }
}
