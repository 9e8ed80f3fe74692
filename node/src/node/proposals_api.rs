//! Control requests about proposals: changes offered by organisations that may not write.

use super::{now_secs, AnswerError, Node};
use crate::control::{Bytes, ConflictInfo, ProposalInfo, ProposalReview, ProposedFile};
use allmenning_protocol::engine::FileData;
use allmenning_protocol::trust::ProposalView;
use allmenning_protocol::ArtefactId;
use std::collections::BTreeMap;

impl Node {
    fn proposal_info(&self, artefact: &ArtefactId, view: ProposalView) -> ProposalInfo {
        let name_of = |org: allmenning_protocol::OrgNumber| {
            self.engine.trust().and_then(|t| t.org(org)).map(|v| v.name)
        };
        let status = match &view.verdict {
            None => "open",
            Some(v) if v.accepted => "accepted",
            Some(_) => "declined",
        };
        ProposalInfo {
            id: view.id.to_hex(),
            artefact: artefact.to_hex(),
            proposer: view.proposer.to_hex(),
            proposer_org: view.proposer_org.map(|o| o.to_string()),
            proposer_name: view.proposer_org.and_then(name_of),
            message: view.message,
            time: view.time,
            changes: view.hashes.iter().map(|h| hex::encode(h.0)).collect(),
            status: status.into(),
            decided_by: view
                .verdict
                .and_then(|v| v.by)
                .map(|o| name_of(o).unwrap_or_else(|| o.to_string())),
        }
    }

    pub(super) fn answer_proposals(&mut self, id: &str) -> Result<Vec<ProposalInfo>, AnswerError> {
        let id = self.engine.resolve(id)?;
        let views = self.engine.proposals(&id)?;
        Ok(views
            .into_iter()
            .map(|v| self.proposal_info(&id, v))
            .collect())
    }

    pub(super) fn answer_proposal_review(
        &mut self,
        proposal: &str,
    ) -> Result<ProposalReview, AnswerError> {
        let (artefact, _) = self.engine.find_proposal(proposal)?;
        let (view, before, after, conflicts) = self.engine.proposal_files(proposal)?;
        let index = |files: Vec<FileData>| -> BTreeMap<String, Vec<u8>> {
            files.into_iter().map(|f| (f.path, f.content)).collect()
        };
        let (before, after) = (index(before), index(after));
        let mut paths: Vec<&String> = before.keys().chain(after.keys()).collect();
        paths.sort();
        paths.dedup();
        let files = paths
            .into_iter()
            .filter(|p| before.get(*p) != after.get(*p))
            .map(|p| ProposedFile {
                path: p.clone(),
                before: before.get(p).cloned().map(Bytes),
                after: after.get(p).cloned().map(Bytes),
            })
            .collect();
        Ok(ProposalReview {
            proposal: self.proposal_info(&artefact, view),
            files,
            conflicts: conflicts.iter().map(ConflictInfo::from).collect(),
        })
    }

    pub(super) fn answer_proposal_decide(
        &mut self,
        proposal: &str,
        accept: bool,
    ) -> Result<ProposalReview, AnswerError> {
        let review = self.answer_proposal_review(proposal)?;
        self.engine
            .decide_proposal(&review.proposal.id, accept, now_secs())?;
        let (artefact, view) = self.engine.find_proposal(&review.proposal.id)?;
        self.catalog.mark_dirty(artefact);
        Ok(ProposalReview {
            proposal: self.proposal_info(&artefact, view),
            conflicts: review.conflicts,
            files: review.files,
        })
    }
}
