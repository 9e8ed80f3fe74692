//! The engine's side of trust: joining a network, signing, taking in and spreading statements,
//! and the read checks that keep restricted artefacts on the nodes they are shared with.
//!
//! Statements travel two ways. Those about no single artefact (profiles, admissions,
//! certificates, delegations, revocations, initiatives) are gossiped and exchanged with every
//! peer on connect. One that names an artefact (an endorsement, access list, proposal, verdict
//! or adoption) says something about it (its id, its version, a note), so it is gossiped and
//! served to anyone only when this node holds the artefact and knows it to be public. For an
//! artefact held here as restricted it goes only to nodes that may read it, pushed directly
//! (`Offer`) or served on request to them alone; for an artefact this node does not hold it
//! cannot tell, so it keeps the statement (if its signer is admitted) and passes it on to nobody.
//!
//! What comes in passes the intake limits of `trust::intake` (members only, a bounded and
//! expiring allowance for applicants, a quota per organisation, a rate per peer, bounded
//! messages), cheapest checks first, and is stored with the time this node accepted it, which
//! is what it is judged by (see `trust`). Re-checking peers after who-may-do-what changed is
//! coalesced to once per clock second, the rest at the next tick.

use super::{store_err, Engine, EngineError, Output, PeerKey};
use crate::artefact::{Artefact, ArtefactId};
use crate::identity::{NodeKey, OrgKind, OrgNumber, PublicKey};
use crate::store::Store;
use crate::trust::intake::{
    changes_authority, intake_order, Dropped, Standing, StatementVerdict,
    MAX_STATEMENTS_PER_MESSAGE, MAX_STATEMENT_RESPONSE_BYTES,
};
use crate::trust::{
    judged_at, prove_possession, verify_possession, AccessView, EndorsementStatus, EndorsementView,
    InitiativeId, InitiativeStatus, InitiativeView, Network, Scope, SignedStatement, Statement,
    StatementId, Trust,
};
use crate::wire::{heads_from_wire, heads_to_wire, Head, Request, Response, WireBlob};
use automerge::{ChangeHash, ReadDoc};
use std::collections::{BTreeSet, HashSet};

/// An endorsement as shown to users: the statement plus where the artefact stands now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndorsementState {
    pub endorsement: EndorsementView,
    /// The endorsed heads are the artefact's current heads.
    pub current: bool,
    /// Changes this node holds that are not in the endorsed version.
    pub changes_since: usize,
}

/// What `revoke` withdraws.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevokeTarget {
    Admission(OrgNumber),
    Delegation(OrgNumber),
    /// This node's organisation's latest endorsement of the artefact.
    Endorsement(ArtefactId),
    Statement(StatementId),
}

/// To whom a statement may be passed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RelayScope {
    Everyone,
    /// Only peers that may read this (restricted) artefact.
    Readers(ArtefactId),
    Nobody,
}

/// What became of one message's statements.
#[derive(Default)]
struct TakenIn {
    kept: Vec<(SignedStatement, Standing)>,
    /// Statements refused as malformed, forged or invalid (counted against the sender).
    faults: usize,
}

/// The roles `grant` hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Maintainer,
    Reader,
}

impl<S: Store, P: PeerKey> Engine<S, P> {
    /// Puts this engine in a network: statements are checked against `network`'s roots, changes
    /// are authorized, restricted artefacts are kept to their readers. Loads stored statements
    /// and, when this node holds its organisation's key, announces the organisation and
    /// certifies this node.
    pub fn join_network(
        &mut self,
        network: Network,
        org_key: Option<NodeKey>,
        profile: (OrgNumber, String, OrgKind),
        now: i64,
    ) -> Result<(), EngineError> {
        network.verify()?;
        let mut trust = Trust::new(network);
        trust.advance_clock(now);
        let stored = self.store.statements().map_err(store_err)?;
        let mut undecodable = 0usize;
        let mut records = Vec::with_capacity(stored.len());
        for record in stored {
            match SignedStatement::decode(&record.bytes) {
                Ok(statement) => records.push((statement, record.accepted_at)),
                Err(_) => undecodable += 1,
            }
        }
        let refused = trust.load(records).iter().filter(|r| r.is_err()).count();
        let mut own_keys = vec![self.key.public()];
        own_keys.extend(org_key.as_ref().map(NodeKey::public));
        trust.set_own_keys(own_keys);
        // What the intake limits would not have let in (from before they existed, or
        // applicants whose time ran out while the node was down) leaves the store too.
        let mut dropped = trust.settle_loaded(now);
        dropped.extend(trust.take_pruned());
        for id in &dropped {
            self.store.remove_statement(&id.0).map_err(store_err)?;
        }
        if !dropped.is_empty() {
            self.store.flush().map_err(store_err)?;
        }
        if undecodable + refused > 0 {
            self.outbox.push_back(Output::Event(super::Event::Rejected {
                peer: String::from("local store"),
                id: None,
                reason: format!(
                    "{} stored trust statements no longer count ({undecodable} in a format this \
                     version does not read, such as node certificates without proof of \
                     possession; {refused} that fail today's checks)",
                    undecodable + refused
                ),
            }));
        }
        self.trust = Some(trust);
        self.org_key = org_key.clone();
        self.profile = Some(profile.clone());
        if let Some(org_key) = org_key {
            let (org, name, kind) = profile;
            let announced = self.trust.as_ref().is_some_and(|t| {
                t.statements().any(|s| {
                    matches!(&s.body, Statement::OrgProfile { org: o, org_key: k, .. } if *o == org && *k == org_key.public())
                })
            });
            if !announced {
                self.issue(
                    Statement::OrgProfile {
                        org,
                        name,
                        kind,
                        org_key: org_key.public(),
                    },
                    now,
                )?;
            }
            let node = self.key.public();
            let certified = self.trust.as_ref().is_some_and(|t| {
                t.statements().any(|s| {
                    matches!(&s.body, Statement::NodeCert { org: o, node_key, .. } if *o == org && *node_key == node)
                        && s.signer == org_key.public()
                })
            });
            if !certified {
                // This node holds both keys, so it proves possession of its own node key itself.
                // (A certificate from before proofs of possession no longer decodes: this
                // re-certifies the first node after an upgrade.)
                self.issue(
                    Statement::NodeCert {
                        org,
                        node_key: node,
                        label: "first node".into(),
                        possession: prove_possession(&self.key, org).to_vec(),
                    },
                    now,
                )?;
            }
        }
        // Peers we were already connected to hold statements we ignored until now.
        let have = self.statement_prefixes();
        let peers: Vec<P> = self.connected.iter().cloned().collect();
        for peer in peers {
            self.outbox.push_back(Output::Request {
                peer,
                request: Request::Statements { have: have.clone() },
            });
        }
        Ok(())
    }

    /// Tells the engine which organisation this node speaks for and whether it holds that
    /// organisation's key, before (or without) joining a network.
    pub fn set_organisation(
        &mut self,
        org_key: Option<NodeKey>,
        profile: (OrgNumber, String, OrgKind),
    ) {
        self.org_key = org_key;
        self.profile = Some(profile);
    }

    pub fn trust(&self) -> Option<&Trust> {
        self.trust.as_ref()
    }

    pub fn has_org_key(&self) -> bool {
        self.org_key.is_some()
    }

    /// Whether this node may write in its network: its organisation is admitted and the node is
    /// certified (always true outside a network).
    pub fn admitted(&self) -> bool {
        match &self.trust {
            None => true,
            Some(t) => t.org_of_node(&self.key.public()).is_some(),
        }
    }

    /// Refuses work that other nodes would refuse because this node speaks for no admitted
    /// organisation.
    pub(super) fn check_admitted(&self) -> Result<(), EngineError> {
        if self.admitted() {
            return Ok(());
        }
        Err(EngineError::NotPermitted(
            "this node's organisation is not admitted to the network yet (or this node is not certified for it): ask a curator to run `allmenning curate admit ORGNR`".into(),
        ))
    }

    pub(super) fn trust_or_err(&self) -> Result<&Trust, EngineError> {
        self.trust.as_ref().ok_or(EngineError::NoNetwork)
    }

    fn org_key_or_err(&self) -> Result<&NodeKey, EngineError> {
        self.org_key.as_ref().ok_or_else(|| {
            EngineError::NotPermitted(
                "this node does not hold its organisation's key (org.key); run this on the node that does".into(),
            )
        })
    }

    pub(super) fn own_org(&self) -> Result<OrgNumber, EngineError> {
        self.profile
            .as_ref()
            .map(|p| p.0)
            .ok_or(EngineError::NoNetwork)
    }

    /// Signs `body` (with the org key when this node holds it, else the node key), stores it and
    /// spreads it.
    pub fn issue(&mut self, body: Statement, now: i64) -> Result<StatementId, EngineError> {
        let key = self.org_key.clone().unwrap_or_else(|| self.key.clone());
        let statement = SignedStatement::sign(body, &key, now);
        let id = statement.id();
        let trust = self.trust.as_mut().ok_or(EngineError::NoNetwork)?;
        let accepted_at = trust.advance_clock(now);
        trust.insert(statement.clone(), accepted_at)?;
        let pruned = trust.take_pruned();
        self.store
            .put_statement(&id.0, &statement.encode(), accepted_at)
            .map_err(store_err)?;
        for old in pruned {
            self.store.remove_statement(&old.0).map_err(store_err)?;
        }
        self.store.flush().map_err(store_err)?;
        self.spread(&statement, None);
        // Who may write or read may have changed; endorsements and initiatives change neither.
        if changes_authority(&statement, Standing::Own) {
            self.request_recheck();
        }
        Ok(id)
    }

    /// Announces an initiative led by this node's organisation. `id` is 16 random bytes.
    pub fn new_initiative(
        &mut self,
        title: &str,
        description: &str,
        artefacts: Vec<ArtefactId>,
        id: [u8; 16],
        now: i64,
    ) -> Result<InitiativeId, EngineError> {
        let org = self.own_org()?;
        if !self.admitted() {
            return Err(EngineError::NotPermitted(format!(
                "organisation {org} is not admitted in the network yet: a curator runs `allmenning curate admit {org}`"
            )));
        }
        let id = InitiativeId(id);
        self.issue(
            Statement::Initiative {
                id,
                captain: org,
                title: title.trim().to_string(),
                description: description.trim().to_string(),
                status: InitiativeStatus::Active,
                artefacts,
                seq: 1,
            },
            now,
        )?;
        Ok(id)
    }

    /// Changes an initiative this node's organisation leads: its status, and artefacts to link.
    pub fn update_initiative(
        &mut self,
        id: &InitiativeId,
        status: Option<InitiativeStatus>,
        link: Vec<ArtefactId>,
        now: i64,
    ) -> Result<StatementId, EngineError> {
        let org = self.own_org()?;
        let view = self
            .trust_or_err()?
            .initiative(id)
            .ok_or_else(|| EngineError::NotFound(format!("initiative {id}")))?;
        if view.captain != org {
            return Err(EngineError::NotPermitted(format!(
                "only its captain ({}) can change this initiative",
                view.captain_name
            )));
        }
        let seq = self
            .trust_or_err()?
            .statements()
            .filter_map(|s| match &s.body {
                Statement::Initiative { id: i, seq, .. } if i == id => Some(*seq),
                _ => None,
            })
            .max()
            .unwrap_or(0)
            + 1;
        let mut artefacts = view.artefacts.clone();
        for a in link {
            if !artefacts.contains(&a) {
                artefacts.push(a);
            }
        }
        self.issue(
            Statement::Initiative {
                id: *id,
                captain: org,
                title: view.title,
                description: view.description,
                status: status.unwrap_or(view.status),
                artefacts,
                seq,
            },
            now,
        )
    }

    /// Joins an initiative led by another organisation.
    pub fn join_initiative(
        &mut self,
        id: &InitiativeId,
        now: i64,
    ) -> Result<StatementId, EngineError> {
        let org = self.own_org()?;
        if !self.admitted() {
            return Err(EngineError::NotPermitted(format!(
                "organisation {org} is not admitted in the network yet"
            )));
        }
        let view = self
            .trust_or_err()?
            .initiative(id)
            .ok_or_else(|| EngineError::NotFound(format!("initiative {id}")))?;
        if view.captain == org {
            return Err(EngineError::NotPermitted(format!(
                "{org} leads this initiative already"
            )));
        }
        if view.participants.iter().any(|(o, _)| *o == org) {
            return Err(EngineError::NotPermitted(format!(
                "{org} takes part in this initiative already"
            )));
        }
        self.issue(
            Statement::JoinInitiative {
                initiative: *id,
                org,
            },
            now,
        )
    }

    /// Every initiative known here, newest first.
    pub fn initiatives(&self) -> Vec<InitiativeView> {
        self.trust
            .as_ref()
            .map(|t| t.initiatives())
            .unwrap_or_default()
    }

    /// Passes a statement on. One that names an artefact (an endorsement, access list,
    /// proposal, verdict or adoption) is gossiped only when this node holds the artefact and
    /// knows it to be public; when it holds it restricted, the statement is offered directly to
    /// the connected peers that may read it; when it does not hold it, it cannot tell, and
    /// passes it on to nobody. Anything else is gossiped.
    fn spread(&mut self, statement: &SignedStatement, except: Option<&P>) {
        match self.relay_scope(statement) {
            RelayScope::Everyone => self.outbox.push_back(Output::Statement(statement.clone())),
            RelayScope::Readers(artefact) => {
                let peers: Vec<P> = self.connected.iter().cloned().collect();
                for peer in peers {
                    if Some(&peer) == except || !self.peer_may_receive(&peer, &artefact, statement)
                    {
                        continue;
                    }
                    self.outbox.push_back(Output::Request {
                        peer,
                        request: Request::Offer {
                            statements: vec![WireBlob(statement.encode())],
                        },
                    });
                }
            }
            RelayScope::Nobody => {}
        }
    }

    /// Whether this node holds artefact `id` and knows it to be public.
    fn known_public(&mut self, id: &ArtefactId) -> bool {
        self.owner_of(id).is_some() && !self.is_restricted(id)
    }

    /// To whom a statement may be passed on (see [`Engine::spread`]).
    fn relay_scope(&mut self, statement: &SignedStatement) -> RelayScope {
        let Some(artefact) = statement.body.artefact().copied() else {
            return RelayScope::Everyone;
        };
        // An adoption names its upstream and creates a (public) adaptation: either one held
        // and public here says the adoption is public.
        let adaptation = statement.body.adaptation().copied();
        if self.known_public(&artefact) || adaptation.is_some_and(|a| self.known_public(&a)) {
            return RelayScope::Everyone;
        }
        if self.owner_of(&artefact).is_some() {
            RelayScope::Readers(artefact)
        } else {
            RelayScope::Nobody
        }
    }

    /// May `peer` be given this statement (in a `Statements` answer)?
    fn may_pass_to(&mut self, statement: &SignedStatement, peer: &P) -> bool {
        match self.relay_scope(statement) {
            RelayScope::Everyone => true,
            RelayScope::Readers(artefact) => self.peer_may_receive(peer, &artefact, statement),
            RelayScope::Nobody => false,
        }
    }

    /// May `peer` be given `statement` about restricted artefact `artefact`: if it may read
    /// the artefact, or, when its organisation lost read access, the access list that took it
    /// away (it learns that, but neither what was written since nor later access lists).
    fn peer_may_receive(
        &mut self,
        peer: &P,
        artefact: &ArtefactId,
        statement: &SignedStatement,
    ) -> bool {
        if self.peer_may_read(peer, artefact) {
            return true;
        }
        if !matches!(statement.body, Statement::Access { .. }) {
            return false;
        }
        let (Some(key), Some(owner)) = (self.peer_keys.get(peer).copied(), self.owner_of(artefact))
        else {
            return false;
        };
        let Some(trust) = self.trust.as_ref() else {
            return false;
        };
        let id = statement.id();
        trust
            .orgs_of_node(&key)
            .iter()
            .any(|o| trust.access_revoking_statement(artefact, owner, *o) == Some(id))
    }

    /// Whether this node's organisation could read restricted artefact `id` once and its
    /// owner has taken that away: this node keeps what it had, and receives nothing more.
    pub fn read_access_revoked(&mut self, id: &ArtefactId) -> bool {
        let (Some(owner), Some((org, _, _))) = (self.owner_of(id), self.profile.clone()) else {
            return false;
        };
        self.trust
            .as_ref()
            .is_some_and(|t| t.lost_read_access(id, owner).contains(&org))
    }

    /// After who-may-do-what changed: re-checks peers now, or, if that was done in this clock
    /// second already, at the next tick, so that a stream of such statements costs one round of
    /// questions per tick rather than one per statement.
    fn request_recheck(&mut self) {
        let Some(trust) = self.trust.as_mut() else {
            return;
        };
        let now = trust.clock();
        if trust.intake.recheck_now(now) {
            self.recheck_peers();
        }
    }

    /// Asks every peer again what it has: changes refused before may be acceptable now, and
    /// restricted artefacts may have become readable; and, if statements were dropped because
    /// their signer was unknown then, for statements again too.
    fn recheck_peers(&mut self) {
        // What was refused may be permitted now.
        self.refused.clear();
        let statements_too = self
            .trust
            .as_mut()
            .is_some_and(|t| t.intake.take_missed_statements());
        let have = if statements_too {
            Some(self.statement_prefixes())
        } else {
            None
        };
        let peers: Vec<P> = self.connected.iter().cloned().collect();
        for peer in peers {
            if let Some(have) = &have {
                self.outbox.push_back(Output::Request {
                    peer: peer.clone(),
                    request: Request::Statements { have: have.clone() },
                });
            }
            self.outbox.push_back(Output::Request {
                peer,
                request: Request::Inventory,
            });
        }
    }

    pub(super) fn statement_prefixes(&self) -> Vec<[u8; 8]> {
        self.trust
            .as_ref()
            .map(|t| {
                t.statements()
                    .map(|s| {
                        let mut p = [0u8; 8];
                        p.copy_from_slice(&s.id().0[..8]);
                        p
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The statements `peer` lacks (by id prefix) that it may be given, at most
    /// `MAX_STATEMENTS_PER_MESSAGE` and `MAX_STATEMENT_RESPONSE_BYTES` at once (the peer asks
    /// again for the rest).
    pub(super) fn serve_statements(&mut self, peer: &P, have: &[[u8; 8]]) -> Response {
        let Some(trust) = &self.trust else {
            return Response::Statements {
                statements: Vec::new(),
            };
        };
        let have: HashSet<[u8; 8]> = have.iter().copied().collect();
        let candidates: Vec<SignedStatement> = trust
            .statements()
            .filter(|s| {
                let mut p = [0u8; 8];
                p.copy_from_slice(&s.id().0[..8]);
                !have.contains(&p)
            })
            .cloned()
            .collect();
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for statement in candidates {
            if !self.may_pass_to(&statement, peer) {
                continue;
            }
            let encoded = statement.encode();
            if out.len() >= MAX_STATEMENTS_PER_MESSAGE
                || bytes + encoded.len() > MAX_STATEMENT_RESPONSE_BYTES
            {
                break;
            }
            bytes += encoded.len();
            out.push(WireBlob(encoded));
        }
        Response::Statements { statements: out }
    }

    /// Takes statements from a peer (or from gossip), accepted at this node's clock (the latest
    /// time it was told). Returns how many were new.
    pub(super) fn ingest_statements(
        &mut self,
        peer: Option<&P>,
        statements: Vec<WireBlob>,
    ) -> usize {
        let Some(now) = self.trust.as_ref().map(Trust::clock) else {
            return 0;
        };
        self.ingest_statements_at(peer, statements, now)
    }

    /// Takes statements from a peer (or from gossip) that arrived at `now`. Returns how many
    /// were new.
    pub(super) fn ingest_statements_at(
        &mut self,
        peer: Option<&P>,
        statements: Vec<WireBlob>,
        now: i64,
    ) -> usize {
        self.take_in(peer, statements, now).kept.len()
    }

    /// The intake of one message's statements, cheapest checks first (see `trust::intake`):
    /// decode, already held?, the signer's standing (member, or an applicant within its
    /// allowance, within its organisation's quota), curator rights for an endorsement, the
    /// peer's rate, and only then the signature and what the statement must satisfy, and the
    /// store. Statements are taken in an order where what entitles others comes first; the
    /// signers' standing is looked up once per kind of statement, not once per statement.
    fn take_in(&mut self, peer: Option<&P>, mut blobs: Vec<WireBlob>, now: i64) -> TakenIn {
        let mut taken = TakenIn::default();
        let from = peer.map(|p| p.to_string());
        let Some(trust) = self.trust.as_mut() else {
            return taken;
        };
        let now = trust.advance_clock(now);
        if blobs.len() >= MAX_STATEMENTS_PER_MESSAGE {
            // Cut short, or a full answer: the peer may have more. Ask again later.
            let extra = blobs.len() - MAX_STATEMENTS_PER_MESSAGE;
            trust.intake.counters.truncated += extra as u64;
            blobs.truncate(MAX_STATEMENTS_PER_MESSAGE);
            if let Some(from) = &from {
                trust.intake.reask_later(from);
            }
        }
        let mut problems = Vec::new();
        let mut decoded: Vec<(SignedStatement, StatementId, usize)> = Vec::new();
        for WireBlob(bytes) in blobs {
            match SignedStatement::decode(&bytes) {
                Ok(s) => {
                    let id = s.id();
                    decoded.push((s, id, bytes.len()));
                }
                Err(e) => problems.push(format!("malformed statement: {e}")),
            }
        }
        decoded.sort_by_key(|(s, _, _)| intake_order(s));
        let mut start = 0;
        while start < decoded.len() {
            let group = intake_order(&decoded[start].0).0;
            let end = decoded[start..]
                .iter()
                .position(|(s, _, _)| intake_order(s).0 != group)
                .map_or(decoded.len(), |n| start + n);
            // Who stands where, against who-is-who as it was before this kind of statement.
            let standings: Vec<Result<Standing, Dropped>> = decoded[start..end]
                .iter()
                .map(|(s, id, _)| trust.standing(s, id))
                .collect();
            for ((statement, id, len), standing) in decoded[start..end].iter().zip(standings) {
                let standing = match standing.and_then(|standing| {
                    trust
                        .check_allowance(standing, *len, from.as_deref())
                        .map(|()| standing)
                }) {
                    Ok(standing) => standing,
                    Err(dropped) => {
                        trust.intake.count(&dropped);
                        continue;
                    }
                };
                // An endorsement counts only from a curator, judged by when it is first seen.
                if matches!(statement.body, Statement::Endorse { .. }) {
                    let judged = judged_at(statement.time, now);
                    if let Err(e) = trust.check_curator(&statement.signer, Scope::Endorse, judged) {
                        problems.push(format!("endorsement refused: {e}"));
                        continue;
                    }
                }
                if let Some(from) = &from {
                    if !trust.take_token(from, now) {
                        trust.intake.count(&Dropped::RateLimited);
                        trust.intake.reask_later(from);
                        continue;
                    }
                }
                match trust.insert(statement.clone(), now) {
                    Ok(true) => {
                        trust.record_intake(*id, standing, *len, from.as_deref(), now);
                        taken.kept.push((statement.clone(), standing));
                    }
                    Ok(false) => {}
                    Err(e) => problems.push(format!("statement refused: {e}")),
                }
            }
            start = end;
        }
        let pruned = trust.take_pruned();
        taken.faults = problems.len();
        for reason in problems {
            if let Some(peer) = peer {
                self.reject(peer, None, reason);
            }
        }
        for (statement, _) in &taken.kept {
            let id = statement.id();
            if let Err(e) = self.store.put_statement(&id.0, &statement.encode(), now) {
                self.store_trouble(format!("cannot store statement {id}: {e}"));
            }
        }
        for id in &pruned {
            if let Err(e) = self.store.remove_statement(&id.0) {
                self.store_trouble(format!("cannot remove superseded statement {id}: {e}"));
            }
        }
        if !taken.kept.is_empty() || !pruned.is_empty() {
            let _ = self.store.flush();
        }
        if taken
            .kept
            .iter()
            .any(|(s, standing)| changes_authority(s, *standing))
        {
            self.request_recheck();
        }
        taken
    }

    fn store_trouble(&mut self, reason: String) {
        self.outbox.push_back(Output::Event(super::Event::Rejected {
            peer: String::from("local store"),
            id: None,
            reason,
        }));
    }

    /// Takes one encoded statement handed in locally at `now` (imported from a file, or by a
    /// test): it is checked exactly like one from a peer (but for the per-peer rate), and an
    /// error says why it was refused.
    pub fn offer_statement(&mut self, bytes: &[u8], now: i64) -> Result<bool, EngineError> {
        let statement = SignedStatement::decode(bytes)?;
        let id = statement.id();
        let trust = self.trust.as_mut().ok_or(EngineError::NoNetwork)?;
        let now = trust.advance_clock(now);
        let standing = match trust.standing(&statement, &id).and_then(|standing| {
            trust
                .check_allowance(standing, bytes.len(), None)
                .map(|()| standing)
        }) {
            Ok(standing) => standing,
            Err(Dropped::Known) => return Ok(false),
            Err(dropped) => {
                trust.intake.count(&dropped);
                return Err(EngineError::NotPermitted(format!(
                    "statement not kept: {dropped}"
                )));
            }
        };
        if matches!(statement.body, Statement::Endorse { .. }) {
            let judged = judged_at(statement.time, now);
            trust.check_curator(&statement.signer, Scope::Endorse, judged)?;
        }
        let new = trust.insert(statement.clone(), now)?;
        if !new {
            return Ok(false);
        }
        trust.record_intake(id, standing, bytes.len(), None, now);
        let pruned = trust.take_pruned();
        self.store
            .put_statement(&id.0, &statement.encode(), now)
            .map_err(store_err)?;
        for old in pruned {
            self.store.remove_statement(&old.0).map_err(store_err)?;
        }
        self.store.flush().map_err(store_err)?;
        self.spread(&statement, None);
        if changes_authority(&statement, standing) {
            self.request_recheck();
        }
        Ok(true)
    }

    /// Whether the engine has effects waiting to be taken (for simulations that tick a node
    /// only to see whether that gives it something to do).
    pub fn has_pending_output(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// Test hook: let this node commit even where its own check says nobody will accept the
    /// change, so end-to-end tests can show that the other nodes refuse it.
    pub fn skip_local_write_check_for_testing(&mut self, skip: bool) {
        self.skip_local_write_check = skip;
    }

    /// A gossiped statement by `peer` arrived at `now`. The verdict says whether gossip may
    /// pass it on (for a gossipsub validation result): `Accept` only for a statement this node
    /// kept and would gossip itself.
    pub fn handle_statement(&mut self, peer: P, bytes: &[u8], now: i64) -> StatementVerdict {
        let taken = self.take_in(Some(&peer), vec![WireBlob(bytes.to_vec())], now);
        if taken.faults > 0 {
            return StatementVerdict::Reject;
        }
        let mut verdict = StatementVerdict::Ignore;
        for (statement, _) in &taken.kept {
            if self.relay_scope(statement) == RelayScope::Everyone {
                verdict = StatementVerdict::Accept;
            }
        }
        verdict
    }

    /// Called now and then (every few seconds) with the time. Keeps this node's trust clock
    /// current (statements in responses carry no time of their own, and are accepted at it),
    /// drops applicants whose time ran out, re-checks peers if an authority change put that
    /// off, and asks again for statements peers had to hold back (over their rate, or beyond
    /// one message) once their budget has refilled.
    pub fn handle_trust_tick(&mut self, now: i64) {
        let Some(trust) = self.trust.as_mut() else {
            return;
        };
        let now = trust.advance_clock(now);
        let expired = trust.expire_applicants(now);
        let recheck = trust.intake.take_due_recheck(now);
        let reasks: BTreeSet<String> = trust.intake.due_reasks(now).into_iter().collect();
        trust.intake.rates.forget_idle(now);
        for id in &expired {
            if let Err(e) = self.store.remove_statement(&id.0) {
                self.store_trouble(format!("cannot remove expired statement {id}: {e}"));
            }
        }
        if !expired.is_empty() {
            let _ = self.store.flush();
        }
        if recheck {
            self.recheck_peers();
        }
        if !reasks.is_empty() {
            let have = self.statement_prefixes();
            let peers: Vec<P> = self
                .connected
                .iter()
                .filter(|p| reasks.contains(&p.to_string()))
                .cloned()
                .collect();
            for peer in peers {
                self.outbox.push_back(Output::Request {
                    peer,
                    request: Request::Statements { have: have.clone() },
                });
            }
        }
    }

    /// The artefact's owner (from its genesis), cached.
    pub(super) fn owner_of(&mut self, id: &ArtefactId) -> Option<OrgNumber> {
        if let Some(owner) = self.owners.get(id) {
            return *owner;
        }
        self.load(id).ok()?;
        let owner = self
            .docs
            .get(id)
            .and_then(|l| self.owner_in(id, &l.artefact.doc));
        self.owners.insert(*id, owner);
        owner
    }

    /// The access list in force (owner only and public when none was signed). A restricted
    /// artefact without a valid access list is shown as what it then is: readable by its owner
    /// alone (`readers: Some([])`), never public.
    pub fn access(&mut self, id: &ArtefactId) -> Result<AccessView, EngineError> {
        let owner = self
            .owner_of(id)
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?;
        let restricted = self.is_restricted(id);
        Ok(match &self.trust {
            Some(t) => {
                let mut view = t.access(id, owner);
                if restricted && view.readers.is_none() {
                    view.readers = Some(Vec::new());
                }
                view
            }
            None => AccessView {
                owner,
                maintainers: Vec::new(),
                readers: None,
                heads: Vec::new(),
                seq: 0,
                statement: None,
            },
        })
    }

    /// Node keys of the other organisations this node shares restricted artefacts with: the
    /// owner, maintainers and readers of every restricted artefact it holds. Restricted content
    /// travels only over direct connections between such nodes, so the node keeps connections
    /// to them instead of waiting for someone to connect them by hand. Revoked node keys and
    /// this node itself are left out.
    pub fn restricted_partners(&mut self) -> Vec<PublicKey> {
        let Some(own) = self.profile.as_ref().map(|p| p.0) else {
            return Vec::new();
        };
        // Only artefacts with an access list can be restricted; no need to look at the rest.
        let with_access: BTreeSet<ArtefactId> = match self.trust.as_ref() {
            Some(trust) => trust
                .statements()
                .filter(|s| s.body.kind_name() == "access")
                .filter_map(|s| s.body.artefact().copied())
                .collect(),
            None => return Vec::new(),
        };
        let mut orgs: BTreeSet<OrgNumber> = BTreeSet::new();
        for id in with_access {
            // Not held here: no owner. owner_of loads a document once, then answers from its
            // cache, so this runs every few seconds without reading documents again.
            let Some(owner) = self.owner_of(&id) else {
                continue;
            };
            if !self.is_restricted(&id) {
                continue;
            }
            let Some(trust) = self.trust.as_ref() else {
                continue;
            };
            let access = trust.access(&id, owner);
            orgs.insert(access.owner);
            orgs.extend(access.maintainers);
            orgs.extend(access.readers.unwrap_or_default());
        }
        orgs.remove(&own);
        let me = self.key.public();
        let Some(trust) = self.trust.as_ref() else {
            return Vec::new();
        };
        let mut keys: Vec<PublicKey> = orgs
            .into_iter()
            .filter_map(|org| trust.org(org))
            .flat_map(|view| view.nodes)
            .filter(|node| !node.revoked && node.key != me)
            .map(|node| node.key)
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Whether the artefact is kept to the organisations its access list names. A valid access
    /// list decides; without one, the artefact is what its genesis says it was born as
    /// (`publish --share-with` marks it restricted there). Fails closed: an artefact whose owner
    /// cannot be read, or that this node does not hold, counts as restricted.
    pub(super) fn is_restricted(&mut self, id: &ArtefactId) -> bool {
        if self.trust.is_none() {
            return false;
        }
        let Some(owner) = self.owner_of(id) else {
            // No readable owner: treat as restricted, so nothing leaks by mistake.
            return true;
        };
        let born_restricted = self.born_restricted(id);
        let Some(trust) = self.trust.as_ref() else {
            return false;
        };
        let access = trust.access(id, owner);
        match access.statement {
            Some(_) => access.readers.is_some(),
            None => born_restricted,
        }
    }

    /// May `peer` be shown artefact `id`? Public artefacts: anyone. Restricted ones: nodes of
    /// the owner, of a listed reader organisation or of a maintainer, identified by their
    /// transport key; with no valid access list, the owner's nodes alone.
    pub(super) fn peer_may_read(&mut self, peer: &P, id: &ArtefactId) -> bool {
        if !self.is_restricted(id) {
            return true;
        }
        let Some(key) = self.peer_keys.get(peer).copied() else {
            return false;
        };
        let Ok(access) = self.access(id) else {
            return false;
        };
        let Some(trust) = self.trust.as_ref() else {
            return false;
        };
        let readers = access.readers.unwrap_or_default();
        trust
            .orgs_of_node(&key)
            .iter()
            .any(|o| *o == access.owner || readers.contains(o) || access.maintainers.contains(o))
    }

    /// Checks that this node may write to `id` before it makes a change nobody would accept.
    pub(super) fn check_may_write(&mut self, id: &ArtefactId) -> Result<(), EngineError> {
        if self.trust.is_none() || self.skip_local_write_check {
            return Ok(());
        }
        let owner = self.owner_of(id);
        let me = self.key.public();
        let org = self.profile.as_ref().map(|p| p.0);
        let uncertified = self
            .trust
            .as_ref()
            .is_some_and(|t| t.org_of_node(&me).is_none());
        if uncertified {
            return crate::authz::authorize(self.trust.as_ref(), id, owner, Some(&me), None, |_| false)
                .map_err(|e| {
                    EngineError::NotPermitted(format!(
                        "{e}. This node is not (or no longer) certified for an admitted organisation, so your edits stay in your checkout and are not shared; the holder of your organisation's key can certify a node (`allmenning org add-node`)"
                    ))
                });
        }
        crate::authz::authorize(self.trust.as_ref(), id, owner, Some(&me), None, |_| false).map_err(|e| {
            EngineError::NotPermitted(format!(
                "{e}. Your organisation ({}) is not a maintainer of this artefact, so your edits stay in your checkout and are not shared; ask the owner ({}) for maintainer rights (`allmenning access grant`)",
                org.map(|o| o.to_string()).unwrap_or_default(),
                owner.map(|o| o.to_string()).unwrap_or_default(),
            ))
        })
    }

    /// Endorses the artefact's current heads.
    pub fn endorse(
        &mut self,
        id: &ArtefactId,
        status: EndorsementStatus,
        note: &str,
        now: i64,
    ) -> Result<StatementId, EngineError> {
        let signer = self.org_key_or_err()?.public();
        self.trust_or_err()?
            .check_curator(&signer, Scope::Endorse, now)?;
        let heads = heads_to_wire(&self.artefact(id)?.heads());
        let seq = 1 + self
            .trust_or_err()?
            .statements()
            .filter(|s| s.signer == signer)
            .filter_map(|s| match &s.body {
                Statement::Endorse { artefact, seq, .. } if artefact == id => Some(*seq),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        self.issue(
            Statement::Endorse {
                artefact: *id,
                heads,
                status,
                note: note.to_string(),
                seq,
            },
            now,
        )
    }

    /// Valid endorsements of an artefact, newest first, with where the artefact stands now.
    pub fn endorsements(&mut self, id: &ArtefactId) -> Result<Vec<EndorsementState>, EngineError> {
        let views = match &self.trust {
            Some(t) => t.endorsements(id),
            None => return Ok(Vec::new()),
        };
        let artefact = self.artefact(id)?;
        let out = views
            .into_iter()
            .map(|view| endorsement_state(artefact, view))
            .collect();
        Ok(out)
    }

    /// The heads of the newest endorsement that vouches for a version (reviewed, recommended
    /// or approved) and that this node holds.
    pub fn endorsed_heads(&mut self, id: &ArtefactId) -> Result<Vec<ChangeHash>, EngineError> {
        let states = self.endorsements(id)?;
        states
            .into_iter()
            .filter(|s| {
                matches!(
                    s.endorsement.status,
                    EndorsementStatus::Reviewed
                        | EndorsementStatus::Recommended
                        | EndorsementStatus::Approved
                )
            })
            .map(|s| heads_from_wire(&s.endorsement.heads))
            .find(|heads| {
                self.docs.get(id).is_some_and(|l| {
                    heads
                        .iter()
                        .all(|h| l.artefact.doc.get_change_by_hash(h).is_some())
                })
            })
            .ok_or_else(|| EngineError::Missing(format!("an endorsed version of {id}")))
    }

    /// Admits an organisation that announced itself. `fingerprint`, when given, must match the
    /// start of the announced org key's fingerprint.
    pub fn admit(
        &mut self,
        org: OrgNumber,
        fingerprint: Option<&str>,
        now: i64,
    ) -> Result<StatementId, EngineError> {
        let signer = self.org_key_or_err()?.public();
        let trust = self.trust_or_err()?;
        trust.check_curator(&signer, Scope::Admit, now)?;
        let view = trust.org(org).ok_or_else(|| {
            EngineError::Missing(format!(
                "organisation {org}: it has not announced itself to this node yet (its node must join the network and connect)"
            ))
        })?;
        if let Some(fp) = fingerprint {
            let fp = fp.trim().to_ascii_lowercase();
            if fp.is_empty() || !view.fingerprint.starts_with(&fp) {
                return Err(EngineError::NotPermitted(format!(
                    "fingerprint mismatch: organisation {org} announced a key with fingerprint {}, not {fp}",
                    view.fingerprint
                )));
            }
        }
        self.issue(
            Statement::Admit {
                org,
                name: view.name,
                kind: view.kind,
                org_key: view.org_key,
            },
            now,
        )
    }

    /// Delegates curator rights to an admitted organisation (roots only).
    pub fn delegate(
        &mut self,
        org: OrgNumber,
        scopes: Vec<Scope>,
        expires: Option<i64>,
        now: i64,
    ) -> Result<StatementId, EngineError> {
        let signer = self.org_key_or_err()?.public();
        let trust = self.trust_or_err()?;
        if !trust.network().is_root(&signer) {
            return Err(EngineError::NotPermitted(
                "only a root curator (listed in the network file) can delegate curator rights"
                    .into(),
            ));
        }
        let view = trust
            .org(org)
            .filter(|v| v.admitted)
            .ok_or_else(|| EngineError::Missing(format!("admitted organisation {org}")))?;
        self.issue(
            Statement::Delegate {
                org,
                org_key: view.org_key,
                scopes,
                expires,
            },
            now,
        )
    }

    /// Withdraws an admission, a delegation, an endorsement or any statement by id.
    pub fn revoke(&mut self, target: RevokeTarget, now: i64) -> Result<StatementId, EngineError> {
        let signer = self.org_key_or_err()?.public();
        let trust = self.trust_or_err()?;
        let is_root = trust.network().is_root(&signer);
        let mine = |s: &SignedStatement| s.signer == signer || is_root;
        // The first unrevoked statement of ours (or any, for a root) that `is_target` picks.
        let live = |is_target: &dyn Fn(&Statement) -> bool| {
            trust
                .statements()
                .filter(|s| is_target(&s.body) && mine(s) && !trust.is_revoked(&s.id()))
                .map(|s| s.id())
                .next()
        };
        let found: Option<StatementId> = match &target {
            RevokeTarget::Admission(org) => {
                live(&|b| matches!(b, Statement::Admit { org: o, .. } if o == org))
            }
            RevokeTarget::Delegation(org) => {
                live(&|b| matches!(b, Statement::Delegate { org: o, .. } if o == org))
            }
            RevokeTarget::Endorsement(artefact) => trust
                .statements()
                .filter(|s| s.signer == signer)
                .filter_map(|s| match &s.body {
                    Statement::Endorse {
                        artefact: a, seq, ..
                    } if a == artefact => Some((*seq, s.id())),
                    _ => None,
                })
                .max()
                .map(|(_, id)| id),
            RevokeTarget::Statement(id) => trust.get(id).filter(|s| mine(s)).map(|s| s.id()),
        };
        let target_id = found.ok_or_else(|| {
            EngineError::Missing(format!(
                "a statement to revoke ({target:?}) signed by this organisation"
            ))
        })?;
        self.issue(Statement::Revoke { target: target_id }, now)
    }

    /// Certifies another node key for this node's organisation. `possession` is that node's
    /// proof that it holds the key and consents to speak for this organisation
    /// (`allmenning org node-proof` prints it there; see `trust::prove_possession`).
    pub fn add_node(
        &mut self,
        node_key: PublicKey,
        label: &str,
        possession: &[u8],
        now: i64,
    ) -> Result<StatementId, EngineError> {
        self.org_key_or_err()?;
        let org = self.own_org()?;
        if let Err(e) = verify_possession(org, &node_key, possession) {
            return Err(EngineError::NotPermitted(format!(
                "{e}. Run `allmenning org node-proof` on the node to certify and run the \
                 `allmenning org add-node ... --proof ...` command it prints here"
            )));
        }
        self.issue(
            Statement::NodeCert {
                org,
                node_key,
                label: label.to_string(),
                possession: possession.to_vec(),
            },
            now,
        )
    }

    /// Revokes a node key of this node's organisation (a lost laptop): what it signs from now
    /// on no longer counts. What it signed before stays in force on the nodes that accepted it
    /// before the revocation, but a node that receives the revocation and an old access list
    /// together (a fresh one) cannot tell which came first and does not count the access list.
    /// So the access lists in force for this organisation's artefacts that the revoked key
    /// signed are signed again with the org key: same content, next seq. (After revoking a key
    /// that may be in someone else's hands, check them with `access list`.)
    pub fn revoke_node(
        &mut self,
        node_key: PublicKey,
        now: i64,
    ) -> Result<StatementId, EngineError> {
        self.org_key_or_err()?;
        let org = self.own_org()?;
        let revocation = self.issue(Statement::NodeRevoke { org, node_key }, now)?;
        let trust = self.trust_or_err()?;
        let signed_by_revoked: BTreeSet<ArtefactId> = trust
            .statements()
            .filter(|s| s.signer == node_key)
            .filter_map(|s| match &s.body {
                Statement::Access {
                    artefact, owner, ..
                } if *owner == org => Some(*artefact),
                _ => None,
            })
            .collect();
        let in_force: Vec<(ArtefactId, AccessView)> = signed_by_revoked
            .into_iter()
            .filter_map(|artefact| {
                let view = trust.access_in_force(&artefact, org)?;
                let signer = trust.get(&view.statement?)?.signer;
                (signer == node_key).then_some((artefact, view))
            })
            .collect();
        for (artefact, view) in in_force {
            self.issue(
                Statement::Access {
                    artefact,
                    owner: org,
                    maintainers: view.maintainers,
                    readers: view.readers,
                    heads: view.heads,
                    seq: view.seq + 1,
                },
                now,
            )?;
        }
        Ok(revocation)
    }

    /// Sets who may write and read an artefact this node's organisation owns.
    pub fn set_access(
        &mut self,
        id: &ArtefactId,
        maintainers: Vec<OrgNumber>,
        readers: Option<Vec<OrgNumber>>,
        now: i64,
    ) -> Result<StatementId, EngineError> {
        let current = self.access(id)?;
        let org = self.own_org()?;
        if current.owner != org {
            return Err(EngineError::NotPermitted(format!(
                "only the owner ({}) can change who may write or read this artefact",
                current.owner
            )));
        }
        let heads: Vec<Head> = heads_to_wire(&self.artefact(id)?.heads());
        let id_copy = *id;
        let statement = self.issue(
            Statement::Access {
                artefact: id_copy,
                owner: org,
                maintainers,
                readers,
                heads: heads.clone(),
                seq: current.seq + 1,
            },
            now,
        )?;
        // Newly allowed readers learn of the artefact's heads directly.
        self.announce_restricted(&id_copy, heads);
        Ok(statement)
    }

    /// Grants a role on an owned artefact.
    pub fn grant(
        &mut self,
        id: &ArtefactId,
        org: OrgNumber,
        role: Role,
        now: i64,
    ) -> Result<StatementId, EngineError> {
        let current = self.access(id)?;
        let mut maintainers = current.maintainers.clone();
        let mut readers = current.readers.clone();
        match role {
            Role::Maintainer => {
                if !maintainers.contains(&org) {
                    maintainers.push(org);
                }
                if let Some(r) = readers.as_mut() {
                    if !r.contains(&org) {
                        r.push(org);
                    }
                }
            }
            Role::Reader => match readers.as_mut() {
                None => {
                    return Err(EngineError::NotPermitted(
                        "the artefact is public: every organisation can read it already".into(),
                    ))
                }
                Some(r) => {
                    if !r.contains(&org) {
                        r.push(org);
                    }
                }
            },
        }
        self.set_access(id, maintainers, readers, now)
    }

    /// Removes an organisation's maintainer and reader rights.
    pub fn revoke_access(
        &mut self,
        id: &ArtefactId,
        org: OrgNumber,
        now: i64,
    ) -> Result<StatementId, EngineError> {
        let current = self.access(id)?;
        let maintainers = current
            .maintainers
            .iter()
            .copied()
            .filter(|o| *o != org)
            .collect();
        let readers = current
            .readers
            .map(|r| r.into_iter().filter(|o| *o != org).collect());
        self.set_access(id, maintainers, readers, now)
    }

    /// Sends the artefact's heads straight to every connected peer that may read it (the
    /// gossip topic never carries restricted artefacts).
    pub(super) fn announce_restricted(&mut self, id: &ArtefactId, heads: Vec<Head>) {
        let peers: Vec<P> = self.connected.iter().cloned().collect();
        for peer in peers {
            if self.peer_may_read(&peer, id) {
                self.outbox.push_back(Output::Request {
                    peer,
                    request: Request::Notify(crate::wire::Announce {
                        id: *id,
                        heads: heads.clone(),
                    }),
                });
            }
        }
    }
}

/// Where an endorsement stands against the artefact: whether it names the current version, and
/// how many changes came since, counted as people see history: signed changes, not the origins
/// of co-edited text.
pub(crate) fn endorsement_state(artefact: &Artefact, view: EndorsementView) -> EndorsementState {
    let endorsed = heads_from_wire(&view.heads);
    let mut sorted = endorsed.clone();
    sorted.sort();
    sorted.dedup();
    let known = endorsed
        .iter()
        .all(|h| artefact.doc.get_change_by_hash(h).is_some());
    let changes_since = if known {
        artefact
            .doc
            .get_changes(&endorsed)
            .iter()
            .filter(|c| crate::signed::actor_key(c.actor_id()).is_some())
            .count()
    } else {
        0
    };
    EndorsementState {
        current: sorted == artefact.heads(),
        changes_since,
        endorsement: view,
    }
}
