//! Control requests about networks, organisations, curation and access.
//!
//! Each handler turns a request into one engine operation (which signs, stores and spreads the
//! resulting statement) and answers with what a user or script needs to see.

use super::{now_secs, AnswerError, Node};
use crate::control::{
    AccessInfo, ControlReply, CuratorInfo, EndorsementInfo, NetworkInfo, NodeKeyInfo, OrgDetail,
    RevokeTarget, RootInfo, StatementInfo,
};
use allmenning_protocol::engine::{EndorsementState, RevokeTarget as EngineTarget, Role};
use allmenning_protocol::trust::{
    AccessView, EndorsementStatus, Network, OrgView, Scope, StatementId,
};
use allmenning_protocol::{ArtefactId, OrgNumber, PublicKey};
use libp2p::Multiaddr;

fn invalid(message: impl Into<String>) -> AnswerError {
    AnswerError::Invalid(message.into())
}

fn org_number(text: &str) -> Result<OrgNumber, AnswerError> {
    text.parse()
        .map_err(|e: allmenning_protocol::identity::OrgNumberError| invalid(e.to_string()))
}

fn public_key(text: &str) -> Result<PublicKey, AnswerError> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut key)
        .map_err(|_| invalid(format!("not a node key (64 hex digits expected): {text:?}")))?;
    Ok(PublicKey(key))
}

/// The node's proof of possession for `org add-node`: 64 bytes as hex. A missing or garbled
/// proof is refused here with the way to get a good one; whether it matches is the engine's
/// check.
fn possession_proof(node_key: &PublicKey, proof: Option<&str>) -> Result<Vec<u8>, AnswerError> {
    let how = format!(
        "on the node with key {node_key}, run `allmenning org node-proof`: it prints the \
         `allmenning org add-node {node_key} --proof ...` command to run here"
    );
    let Some(proof) = proof.map(str::trim).filter(|p| !p.is_empty()) else {
        return Err(invalid(format!(
            "certifying a node needs its proof of possession (--proof): {how}"
        )));
    };
    let mut bytes = [0u8; 64];
    hex::decode_to_slice(proof, &mut bytes).map_err(|_| {
        invalid(format!(
            "not a proof of possession (128 hex digits expected): {proof:?}; {how}"
        ))
    })?;
    Ok(bytes.to_vec())
}

pub(super) fn network_info(network: &Network) -> Result<NetworkInfo, AnswerError> {
    Ok(NetworkInfo {
        name: network.name.clone(),
        fingerprint: network.fingerprint(),
        roots: network
            .roots
            .iter()
            .map(|r| RootInfo {
                org: r.org.to_string(),
                name: r.name.clone(),
                key: r.key.to_hex(),
            })
            .collect(),
        bootstrap: network.bootstrap.clone(),
        file: serde_json::to_string_pretty(network)
            .map_err(|e| invalid(format!("cannot encode the network file: {e}")))?,
        refused: Vec::new(),
        co_edited: Vec::new(),
    })
}

pub(super) fn access_info(id: &ArtefactId, view: &AccessView) -> AccessInfo {
    AccessInfo {
        id: id.to_hex(),
        owner: view.owner.to_string(),
        maintainers: view.maintainers.iter().map(|o| o.to_string()).collect(),
        visibility: if view.readers.is_some() {
            "restricted"
        } else {
            "public"
        }
        .into(),
        readers: view
            .readers
            .iter()
            .flatten()
            .map(|o| o.to_string())
            .collect(),
    }
}

pub(super) fn endorsement_info(state: &EndorsementState) -> EndorsementInfo {
    let e = &state.endorsement;
    EndorsementInfo {
        status: e.status.to_string(),
        curator: e.curator.to_string(),
        curator_name: e.curator_name.clone(),
        heads: e.heads.iter().map(|h| hex::encode(h.0)).collect(),
        note: e.note.clone(),
        time: e.time,
        seq: e.seq,
        current: state.current,
        changes_since: state.changes_since,
    }
}

fn org_detail(view: OrgView) -> OrgDetail {
    OrgDetail {
        number: view.org.to_string(),
        name: view.name,
        kind: view.kind.to_string(),
        org_key: view.org_key.to_hex(),
        fingerprint: view.fingerprint,
        admitted: view.admitted,
        admitted_by: view.admitted_by.map(|o| o.to_string()),
        nodes: view
            .nodes
            .into_iter()
            .map(|n| NodeKeyInfo {
                key: n.key.to_hex(),
                label: n.label,
                revoked: n.revoked,
            })
            .collect(),
        curator: view.curator.map(|c| CuratorInfo {
            root: c.root,
            scopes: c.scopes.iter().map(|s| s.to_string()).collect(),
            expires: c.expires,
        }),
    }
}

impl Node {
    fn statement_reply(&self, id: StatementId) -> Result<ControlReply, AnswerError> {
        let statement = self
            .engine
            .trust()
            .and_then(|t| t.get(&id))
            .ok_or_else(|| invalid("the statement just signed is missing"))?;
        Ok(ControlReply::Statement(StatementInfo {
            id: id.to_hex(),
            kind: statement.body.kind_name().to_string(),
            signer: statement.signer.to_hex(),
            time: statement.time,
        }))
    }

    /// Adopts `network`: saves it in the home, enables trust in the engine, dials its bootstrap.
    pub(super) fn adopt_network(&mut self, network: Network) -> Result<(), AnswerError> {
        network
            .verify()
            .map_err(|e| invalid(format!("invalid network file: {e}")))?;
        if let Some(current) = self.engine.trust() {
            if current.network().fingerprint() != network.fingerprint() {
                return Err(invalid(format!(
                    "this node is already in network {:?}; use another home for another network",
                    current.network().name
                )));
            }
        }
        let json = serde_json::to_string_pretty(&network)
            .map_err(|e| invalid(format!("cannot encode the network file: {e}")))?;
        self.home.save_network(&json)?;
        let org_key = self.home.org_key()?;
        let profile = (
            self.config.org.number,
            self.config.org.name.clone(),
            self.config.org.kind,
        );
        self.engine
            .join_network(network.clone(), org_key, profile, now_secs())?;
        let me = *self.swarm.local_peer_id();
        for addr in &network.bootstrap {
            let Ok(addr) = addr.parse::<Multiaddr>() else {
                continue;
            };
            if addr.to_string().contains(&me.to_string()) {
                continue;
            }
            self.dial(addr, None);
        }
        Ok(())
    }

    pub(super) fn answer_trust(
        &mut self,
        request: crate::control::ControlRequest,
    ) -> Result<ControlReply, AnswerError> {
        use crate::control::ControlRequest as R;
        let now = now_secs();
        match request {
            R::NetworkCreate { name } => {
                let org_key = self.home.org_key()?.ok_or_else(|| {
                    invalid("this node does not hold its organisation's key (org.key): create the network on the node that does")
                })?;
                let me = *self.swarm.local_peer_id();
                let bootstrap = self
                    .swarm
                    .listeners()
                    .filter(|a| !a.to_string().contains("/0.0.0.0/"))
                    .map(|a| format!("{a}/p2p/{me}"))
                    .collect();
                let network = Network::create(
                    &name,
                    self.config.org.number,
                    &self.config.org.name,
                    &org_key,
                    bootstrap,
                    now,
                );
                self.adopt_network(network.clone())?;
                Ok(ControlReply::Network(network_info(&network)?))
            }
            R::NetworkJoin { network } => {
                let network: Network = serde_json::from_str(&network)
                    .map_err(|e| invalid(format!("not a network file: {e}")))?;
                self.adopt_network(network.clone())?;
                let mut info = network_info(&network)?;
                info.refused = self.refused_summaries()?;
                info.co_edited = self.co_edited()?;
                Ok(ControlReply::Network(info))
            }
            R::NetworkShow => {
                let trust = self
                    .engine
                    .trust()
                    .ok_or(allmenning_protocol::engine::EngineError::NoNetwork)?;
                Ok(ControlReply::Network(network_info(trust.network())?))
            }
            R::CurateAdmit { org, fingerprint } => {
                let id = self
                    .engine
                    .admit(org_number(&org)?, fingerprint.as_deref(), now)?;
                self.statement_reply(id)
            }
            R::CurateDelegate {
                org,
                scopes,
                expires,
            } => {
                let scopes = if scopes.is_empty() {
                    vec![Scope::Endorse]
                } else {
                    scopes
                        .iter()
                        .map(|s| s.parse::<Scope>().map_err(|e| invalid(e.to_string())))
                        .collect::<Result<_, _>>()?
                };
                let id = self
                    .engine
                    .delegate(org_number(&org)?, scopes, expires, now)?;
                self.statement_reply(id)
            }
            R::CurateRevoke { target } => {
                let target = match target {
                    RevokeTarget::Admission { org } => EngineTarget::Admission(org_number(&org)?),
                    RevokeTarget::Delegation { org } => EngineTarget::Delegation(org_number(&org)?),
                    RevokeTarget::Endorsement { id } => {
                        EngineTarget::Endorsement(self.engine.resolve(&id)?)
                    }
                    RevokeTarget::Statement { statement } => {
                        EngineTarget::Statement(statement.parse().map_err(
                            |e: allmenning_protocol::trust::TrustError| invalid(e.to_string()),
                        )?)
                    }
                };
                let id = self.engine.revoke(target, now)?;
                self.statement_reply(id)
            }
            R::CurateEndorse { id, status, note } => {
                let artefact = self.engine.resolve(&id)?;
                let status: EndorsementStatus = status
                    .parse()
                    .map_err(|e: allmenning_protocol::trust::TrustError| invalid(e.to_string()))?;
                let id = self.engine.endorse(&artefact, status, &note, now)?;
                self.statement_reply(id)
            }
            R::OrgShow { org } => {
                let trust = self
                    .engine
                    .trust()
                    .ok_or(allmenning_protocol::engine::EngineError::NoNetwork)?;
                let orgs = match org {
                    Some(org) => {
                        let number = org_number(&org)?;
                        let view = trust.org(number).ok_or_else(|| {
                            allmenning_protocol::engine::EngineError::NotFound(format!(
                                "organisation {number}"
                            ))
                        })?;
                        vec![org_detail(view)]
                    }
                    None => trust.orgs().into_iter().map(org_detail).collect(),
                };
                Ok(ControlReply::Orgs { orgs })
            }
            R::OrgAddNode {
                node_key,
                label,
                proof,
            } => {
                let node_key = public_key(&node_key)?;
                let proof = possession_proof(&node_key, proof.as_deref())?;
                let id = self.engine.add_node(node_key, &label, &proof, now)?;
                self.statement_reply(id)
            }
            R::OrgRevokeNode { node_key } => {
                let id = self.engine.revoke_node(public_key(&node_key)?, now)?;
                self.statement_reply(id)
            }
            R::AccessGrant { id, org, role } => {
                let artefact = self.engine.resolve(&id)?;
                let role = match role.as_str() {
                    "maintainer" | "" => Role::Maintainer,
                    "reader" => Role::Reader,
                    other => {
                        return Err(invalid(format!(
                            "unknown role {other:?} (expected maintainer or reader)"
                        )))
                    }
                };
                self.engine.grant(&artefact, org_number(&org)?, role, now)?;
                let view = self.engine.access(&artefact)?;
                Ok(ControlReply::Access(access_info(&artefact, &view)))
            }
            R::AccessRevoke { id, org } => {
                let artefact = self.engine.resolve(&id)?;
                self.engine
                    .revoke_access(&artefact, org_number(&org)?, now)?;
                let view = self.engine.access(&artefact)?;
                Ok(ControlReply::Access(access_info(&artefact, &view)))
            }
            R::AccessList { id } => {
                let artefact = self.engine.resolve(&id)?;
                let view = self.engine.access(&artefact)?;
                Ok(ControlReply::Access(access_info(&artefact, &view)))
            }
            other => Err(invalid(format!("not a trust request: {other:?}"))),
        }
    }
}
