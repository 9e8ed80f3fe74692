//! Control requests about adaptations: adopting an artefact, merging its upstream's later
//! changes, and offering the adaptation's changes back.

use super::{hex_heads, nonce, now_secs, parse_heads, AnswerError, Node};
use crate::control::{AdaptationInfo, AdopterInfo, ProposedUpstream, UpstreamPulled};
use allmenning_protocol::ArtefactId;

impl Node {
    /// How adaptation `id` stands, or `None` if it is not one.
    pub(super) fn adaptation_info(
        &mut self,
        id: &ArtefactId,
    ) -> Result<Option<AdaptationInfo>, AnswerError> {
        if self.engine.adoption(id).is_none() {
            return Ok(None);
        }
        let state = self.engine.adaptation_state(id)?;
        let meta = self.engine.metadata(id)?;
        let adoption = state.adoption;
        Ok(Some(AdaptationInfo {
            id: id.to_hex(),
            title: meta.title,
            owner: meta.owner,
            owner_name: meta.owner_name,
            based_on: adoption.upstream.to_hex(),
            based_on_version: adoption.heads.iter().map(|h| hex::encode(h.0)).collect(),
            statement: adoption.statement.to_hex(),
            upstream_held: state.upstream_held,
            behind: state.behind,
            ahead: state.ahead,
        }))
    }

    /// The organisations that adopted `id`.
    pub(super) fn adopter_infos(&self, id: &ArtefactId) -> Vec<AdopterInfo> {
        self.engine
            .trust()
            .map(|t| t.adopters(id))
            .unwrap_or_default()
            .into_iter()
            .map(|a| AdopterInfo {
                org: a.org.to_string(),
                name: a.org_name,
                adaptation: a.adaptation.to_hex(),
                based_on_version: a.heads.iter().map(|h| hex::encode(h.0)).collect(),
                time: a.time,
            })
            .collect()
    }

    pub(super) fn answer_adopt(
        &mut self,
        id: &str,
        title: Option<String>,
        heads: Option<Vec<String>>,
        endorsed: bool,
    ) -> Result<AdaptationInfo, AnswerError> {
        let upstream = self.engine.resolve(id)?;
        let heads = if endorsed {
            Some(self.engine.endorsed_heads(&upstream)?)
        } else {
            heads.map(|h| parse_heads(&h)).transpose()?
        };
        let adaptation = self.engine.adopt(
            &upstream,
            heads.as_deref(),
            title.as_deref().unwrap_or(""),
            now_secs(),
            nonce(),
        )?;
        self.catalog.mark_dirty(upstream);
        self.catalog.mark_dirty(adaptation);
        self.adaptation_info(&adaptation)?.ok_or_else(|| {
            AnswerError::Invalid("the adoption was signed but does not count yet".into())
        })
    }

    pub(super) fn answer_pull_upstream(&mut self, id: &str) -> Result<UpstreamPulled, AnswerError> {
        let id = self.engine.resolve(id)?;
        let merge = self.engine.pull_upstream(&id)?;
        self.catalog.mark_dirty(id);
        let conflicts = self
            .engine
            .conflicts(&id, None)?
            .iter()
            .map(crate::control::ConflictInfo::from)
            .collect();
        Ok(UpstreamPulled {
            id: id.to_hex(),
            upstream: merge.upstream.to_hex(),
            merged: merge.merged,
            heads: hex_heads(&merge.heads),
            conflicts,
        })
    }

    pub(super) fn answer_propose_upstream(
        &mut self,
        id: &str,
        message: &str,
    ) -> Result<ProposedUpstream, AnswerError> {
        let id = self.engine.resolve(id)?;
        let offered = self.engine.propose_upstream(&id, message, now_secs())?;
        self.catalog.mark_dirty(offered.upstream);
        Ok(ProposedUpstream {
            id: id.to_hex(),
            upstream: offered.upstream.to_hex(),
            proposal: offered.proposal.to_hex(),
            changes: hex_heads(&offered.changes),
        })
    }
}
