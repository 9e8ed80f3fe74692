//! What the node tells about changes it refused (`show`, `list`, `network join`).
//!
//! The engine keeps the record (see `allmenning_protocol::refused`); here it becomes what a user
//! needs: whose changes, why, and the command that would admit them. The hints live in one
//! place so that `show`, `show --json` and `network join` say the same thing.

use super::{AnswerError, Node};
use crate::control::{CoEdited, RefusedInfo, RefusedSummary};
use allmenning_protocol::refused::{RefusalReason, RefusedGroup};
use allmenning_protocol::ArtefactId;

/// The first characters of an id, as the CLI shows it (any unique prefix works).
fn short(id: &ArtefactId) -> String {
    id.to_hex().chars().take(12).collect()
}

/// What would admit changes refused for `reason`, written by `org` (when known).
pub(super) fn hint(reason: RefusalReason, id: &ArtefactId, org: Option<&str>) -> String {
    let org_or = |placeholder: &str| org.map_or(placeholder.to_string(), str::to_string);
    match reason {
        RefusalReason::NotMaintainer => format!(
            "`allmenning access grant {} {}` on the owner's node admits them",
            short(id),
            org_or("ORGNR")
        ),
        RefusalReason::NotAdmitted => format!(
            "`allmenning curate admit {} --fingerprint FP` on a curator's node admits the organisation; \
             then the owner may have to grant it access",
            org_or("ORGNR")
        ),
        RefusalReason::NodeRevoked => {
            "its organisation revoked the node key that wrote them: they stay refused (commit the \
             edits again from a certified node)"
                .to_string()
        }
        RefusalReason::UnknownNode => {
            "the node that wrote them is not certified by an admitted organisation: \
             `allmenning org add-node KEY --proof ...` on its organisation's node certifies it"
                .to_string()
        }
        RefusalReason::BuildsOnRefused => {
            "they build on refused changes and join when those do".to_string()
        }
        RefusalReason::Invalid => {
            "they break a rule every node applies; nothing admits them".to_string()
        }
    }
}

impl Node {
    /// The changes refused for `id`, grouped, with names and hints.
    pub(super) fn refused_infos(&self, id: &ArtefactId) -> Result<Vec<RefusedInfo>, AnswerError> {
        let log = self.engine.refused_changes(id)?;
        let trust = self.engine.trust();
        let mut out: Vec<RefusedInfo> = log
            .groups()
            .into_iter()
            .map(
                |RefusedGroup {
                     org,
                     author,
                     reason,
                     count,
                 }| {
                    let org_text = org.map(|o| o.to_string());
                    let org_name = org
                        .and_then(|o| trust.and_then(|t| t.org(o)))
                        .map(|v| v.name)
                        .unwrap_or_default();
                    RefusedInfo {
                        hint: hint(reason, id, org_text.as_deref()),
                        org: org_text.unwrap_or_default(),
                        org_name,
                        author: author.map(|a| a.to_hex()),
                        reason: reason.as_str().to_string(),
                        count,
                    }
                },
            )
            .collect();
        if log.overflow() > 0 {
            out.push(RefusedInfo {
                org: String::new(),
                org_name: String::new(),
                author: None,
                reason: "not_recorded".into(),
                count: log.overflow(),
                hint: "more refusals than the node keeps one by one".into(),
            });
        }
        Ok(out)
    }

    /// How many changes were refused for `id`.
    pub(super) fn refused_count(&self, id: &ArtefactId) -> Result<u64, AnswerError> {
        Ok(self.engine.refused_changes(id)?.count())
    }

    /// Every held artefact with refused changes, for `network join`.
    pub(super) fn refused_summaries(&mut self) -> Result<Vec<RefusedSummary>, AnswerError> {
        let mut out = Vec::new();
        for row in self.engine.list()? {
            let refused = self.refused_infos(&row.id)?;
            if refused.is_empty() {
                continue;
            }
            out.push(RefusedSummary {
                id: row.id.to_hex(),
                title: row.title,
                refused,
            });
        }
        Ok(out)
    }

    /// Held artefacts with changes by nodes that, as far as this node knows, write neither for
    /// the owner nor for a maintainer: right after `network join` (before admissions arrive) the
    /// owner's own nodes are known only by the genesis author and this node's own key.
    pub(super) fn co_edited(&mut self) -> Result<Vec<CoEdited>, AnswerError> {
        let me = self.engine.public_key();
        let own_org = self.config.org.number;
        let mut out = Vec::new();
        for row in self.engine.list()? {
            let id = row.id;
            let history = self.engine.history(&id)?;
            // History is newest first; the genesis is the change without dependencies.
            let genesis = history
                .iter()
                .find(|h| h.deps.is_empty())
                .or(history.last());
            let Some(genesis_author) = genesis.map(|h| h.author) else {
                continue;
            };
            let owner: Option<allmenning_protocol::OrgNumber> = row.owner.parse().ok();
            let maintainers = self.engine.access(&id)?.maintainers;
            let trust = self.engine.trust();
            let writes_for_owner = |author: &allmenning_protocol::PublicKey| {
                if *author == genesis_author || (*author == me && owner == Some(own_org)) {
                    return true;
                }
                let org = trust.and_then(|t| t.writer_standing(author).0);
                org.is_some_and(|o| Some(o) == owner || maintainers.contains(&o))
            };
            let mut authors: Vec<String> = Vec::new();
            let mut changes = 0u64;
            for entry in &history {
                if writes_for_owner(&entry.author) {
                    continue;
                }
                changes += 1;
                let key = entry.author.to_hex();
                if !authors.contains(&key) {
                    authors.push(key);
                }
            }
            if changes == 0 {
                continue;
            }
            out.push(CoEdited {
                hint: format!(
                    "once they are admitted, the owner ({}) admits their changes with \
                     `allmenning access grant {} ORGNR` for each organisation that co-edited it; \
                     `allmenning show {}` then lists what is refused",
                    row.owner,
                    short(&id),
                    short(&id)
                ),
                id: id.to_hex(),
                title: row.title,
                owner: row.owner,
                changes,
                authors,
            });
        }
        Ok(out)
    }
}
