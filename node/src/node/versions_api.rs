//! Control requests about an artefact's past: naming a version, the history (of the whole
//! artefact or of one file), and the files as they were at a version.
//!
//! Version names are resolved by the engine ([`Engine::resolve_version`]), here on the node,
//! so that the CLI's `--at`, `--from` and `--to` and the portal's `?at=` mean the same thing.
//!
//! [`Engine::resolve_version`]: allmenning_protocol::engine::Engine::resolve_version

use super::{hex_heads, parse_heads, AnswerError, Node};
use crate::control::{FileChangeInfo, FileInfo, LogEntry, VersionInfo};
use allmenning_protocol::artefact::versions::FileChange;
use allmenning_protocol::artefact::{validate_path, FileContent};
use allmenning_protocol::engine::HistoryEntry;
use allmenning_protocol::{ArtefactId, ChangeHash};

impl Node {
    /// `Version`: the heads `version` names in artefact `id` (or a unique prefix of its id).
    pub(super) fn answer_version(
        &mut self,
        id: &str,
        version: &str,
    ) -> Result<VersionInfo, AnswerError> {
        let id = self.engine.resolve(id)?;
        let heads = self.engine.resolve_version(&id, version)?;
        Ok(VersionInfo {
            id: id.to_hex(),
            version: version.to_string(),
            heads: hex_heads(&heads),
        })
    }

    /// `Log`: every change, or with `path` the changes that touched that file, newest first.
    pub(super) fn answer_log(
        &mut self,
        id: &str,
        path: Option<&str>,
    ) -> Result<Vec<LogEntry>, AnswerError> {
        let id = self.engine.resolve(id)?;
        let Some(path) = path else {
            let history = self.engine.history(&id)?;
            return Ok(history
                .into_iter()
                .map(|h| self.log_entry(h, None))
                .collect());
        };
        validate_path(path).map_err(|e| AnswerError::Invalid(e.to_string()))?;
        let history = self.engine.file_history(&id, path)?;
        Ok(history
            .into_iter()
            .map(|h| {
                let (from, to) = match &h.file {
                    FileChange::RenamedFrom(from) => (Some(from.clone()), Some(path.to_string())),
                    FileChange::RenamedTo(to) => (Some(path.to_string()), Some(to.clone())),
                    _ => (None, None),
                };
                let file = FileChangeInfo {
                    path: path.to_string(),
                    change: h.file.as_str().to_string(),
                    from,
                    to,
                };
                self.log_entry(h.change, Some(file))
            })
            .collect())
    }

    fn log_entry(&self, h: HistoryEntry, file: Option<FileChangeInfo>) -> LogEntry {
        let trust = self.engine.trust();
        let org = trust.and_then(|t| t.org_of_node(&h.author));
        let name = org.and_then(|o| trust.and_then(|t| t.org(o)).map(|v| v.name));
        LogEntry {
            hash: h.hash.to_string(),
            author: h.author.to_hex(),
            time: h.time,
            message: h.message,
            deps: h.deps.iter().map(|d| d.to_string()).collect(),
            author_org: org.map(|o| o.to_string()),
            author_name: name,
            file,
        }
    }

    /// The files of `id` at `heads` (full change hashes), as `show --at` lists them, and those
    /// heads; `None`: the current files.
    pub(super) fn files_at(
        &mut self,
        id: &ArtefactId,
        heads: Option<&[String]>,
    ) -> Result<(Option<Vec<ChangeHash>>, Vec<FileInfo>), AnswerError> {
        let heads = heads.map(parse_heads).transpose()?;
        let artefact = self.engine.artefact(id)?;
        if let Some(heads) = &heads {
            artefact.check_heads(heads).map_err(|e| {
                AnswerError::Invalid(format!("no such version of {}: {e}", id.to_hex()))
            })?;
        }
        let files = artefact
            .files(heads.as_deref())
            .into_iter()
            .map(|f| FileInfo {
                size: artefact.file_size(&f, heads.as_deref()),
                storage: match f.content {
                    FileContent::Text { .. } => "text".into(),
                    FileContent::Blob { .. } => "blob".into(),
                },
                conflict: None,
                path: f.path,
            })
            .collect();
        Ok((heads, files))
    }
}
