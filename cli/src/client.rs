//! A typed wrapper around the node's [`ControlClient`]: one method per request, each returning
//! the reply it expects, with errors turned into [`CliError`]s that carry the right exit code.

use crate::error::CliError;
use allmenning_node::control::{
    ArtefactDetail, ArtefactRow, Committed, ControlClient, ControlError, ControlReply,
    ControlRequest, EditPayload, FilePayload, FilesAt, LogEntry, NodeStatus, PeerInfo, Progress,
    Published,
};
use std::path::{Path, PathBuf};

pub struct Client {
    inner: ControlClient,
    socket: PathBuf,
}

/// Whether a message from the node says that an artefact or id prefix is unknown.
fn looks_not_found(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "no artefact",
        "not found",
        "unknown artefact",
        "no such artefact",
        "matches no",
        "ambiguous",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

fn map_error(err: ControlError) -> anyhow::Error {
    match err {
        ControlError::NotRunning { socket } => CliError::NotRunning { socket }.into(),
        ControlError::Node(message) if looks_not_found(&message) => CliError::NotFound {
            message,
            hint: Some("`allmenning list` shows the artefacts this node knows".into()),
        }
        .into(),
        ControlError::Node(message) => CliError::Failed {
            message,
            hint: None,
        }
        .into(),
        other => anyhow::Error::new(other),
    }
}

fn unexpected(expected: &str, reply: ControlReply) -> anyhow::Error {
    let got = serde_json::to_value(&reply)
        .ok()
        .and_then(|v| v.get("reply").and_then(|r| r.as_str()).map(str::to_string))
        .unwrap_or_else(|| "something else".into());
    anyhow::anyhow!("the node answered `{got}` where `{expected}` was expected (are the CLI and the node the same version?)")
}

impl Client {
    pub async fn connect(socket: &Path) -> anyhow::Result<Client> {
        let inner = ControlClient::connect(socket).await.map_err(map_error)?;
        Ok(Client {
            inner,
            socket: socket.to_path_buf(),
        })
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub async fn call(
        &mut self,
        request: &ControlRequest,
        on_progress: impl FnMut(&Progress),
    ) -> anyhow::Result<ControlReply> {
        self.inner
            .call(request, on_progress)
            .await
            .map_err(map_error)
    }

    pub async fn status(&mut self) -> anyhow::Result<NodeStatus> {
        match self.call(&ControlRequest::Status, |_| {}).await? {
            ControlReply::Status(status) => Ok(status),
            other => Err(unexpected("status", other)),
        }
    }

    pub async fn peers(&mut self) -> anyhow::Result<Vec<PeerInfo>> {
        match self.call(&ControlRequest::Peers, |_| {}).await? {
            ControlReply::Peers { peers } => Ok(peers),
            other => Err(unexpected("peers", other)),
        }
    }

    pub async fn connect_peer(&mut self, addr: &str) -> anyhow::Result<String> {
        match self
            .call(
                &ControlRequest::Connect {
                    addr: addr.to_string(),
                },
                |_| {},
            )
            .await?
        {
            ControlReply::Connected { addr } => Ok(addr),
            other => Err(unexpected("connected", other)),
        }
    }

    pub async fn stop(&mut self) -> anyhow::Result<()> {
        match self.call(&ControlRequest::Stop, |_| {}).await? {
            ControlReply::Stopping => Ok(()),
            other => Err(unexpected("stopping", other)),
        }
    }

    pub async fn publish(
        &mut self,
        title: String,
        kind: String,
        description: String,
        tags: Vec<String>,
        files: Vec<FilePayload>,
        on_progress: impl FnMut(&Progress),
    ) -> anyhow::Result<Published> {
        let request = ControlRequest::Publish {
            title,
            kind,
            description,
            tags,
            files,
        };
        match self.call(&request, on_progress).await? {
            ControlReply::Published(published) => Ok(published),
            other => Err(unexpected("published", other)),
        }
    }

    pub async fn list(&mut self) -> anyhow::Result<Vec<ArtefactRow>> {
        match self.call(&ControlRequest::List, |_| {}).await? {
            ControlReply::List { artefacts } => Ok(artefacts),
            other => Err(unexpected("list", other)),
        }
    }

    /// The full id of the one artefact whose id starts with `prefix`, checked against `list`
    /// so that an unknown or ambiguous prefix gives exit code 4 whatever the node's wording.
    pub async fn resolve(&mut self, prefix: &str) -> anyhow::Result<String> {
        let prefix = prefix.trim();
        if prefix.is_empty() {
            return Err(CliError::Usage {
                message: "the artefact id is empty".into(),
                hint: None,
            }
            .into());
        }
        let rows = self.list().await?;
        let matches: Vec<&ArtefactRow> = rows.iter().filter(|r| r.id.starts_with(prefix)).collect();
        match matches.as_slice() {
            [one] => Ok(one.id.clone()),
            [] => Err(CliError::NotFound {
                message: format!(
                    "no artefact with an id starting with {prefix:?} is known to this node"
                ),
                hint: Some("`allmenning list` shows the artefacts this node knows".into()),
            }
            .into()),
            many => Err(CliError::NotFound {
                message: format!(
                    "the id prefix {prefix:?} is ambiguous: it matches {} artefacts",
                    many.len()
                ),
                hint: Some(format!(
                    "use more characters, e.g. one of: {}",
                    many.iter()
                        .take(5)
                        .map(|r| r.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
            .into()),
        }
    }

    pub async fn show(&mut self, id: &str) -> anyhow::Result<ArtefactDetail> {
        match self
            .call(&ControlRequest::Show { id: id.to_string() }, |_| {})
            .await?
        {
            ControlReply::Show(detail) => Ok(detail),
            other => Err(unexpected("show", other)),
        }
    }

    pub async fn log(&mut self, id: &str) -> anyhow::Result<Vec<LogEntry>> {
        match self
            .call(&ControlRequest::Log { id: id.to_string() }, |_| {})
            .await?
        {
            ControlReply::Log { entries } => Ok(entries),
            other => Err(unexpected("log", other)),
        }
    }

    /// Waits until the node holds every file content of artefact `id` (fetching from peers can
    /// take a while for a large artefact), showing a progress bar on a terminal. Gives up after
    /// `ALLMENNING_WAIT_SECS` seconds (default 300).
    pub async fn wait_complete(&mut self, id: &str) -> anyhow::Result<()> {
        let limit = std::env::var("ALLMENNING_WAIT_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300u64);
        let started = std::time::Instant::now();
        let mut bar: Option<indicatif::ProgressBar> = None;
        loop {
            let rows = self.list().await?;
            let Some(row) = rows.into_iter().find(|r| r.id == id) else {
                return Ok(());
            };
            if row.complete {
                if let Some(bar) = bar {
                    bar.finish_and_clear();
                }
                return Ok(());
            }
            if started.elapsed().as_secs() >= limit {
                anyhow::bail!(
                    "the node still lacks {} of file content of {} after {limit} s; is a peer that has it connected? (`allmenning peers`)",
                    crate::output::format_size(row.size.saturating_sub(row.present)),
                    crate::output::short(id)
                );
            }
            let bar = bar.get_or_insert_with(|| {
                let bar = indicatif::ProgressBar::new(row.size);
                if !crate::output::stderr_is_terminal() {
                    bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
                }
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "fetching file contents from peers {bar:30} {bytes}/{total_bytes} {eta}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                bar
            });
            bar.set_position(row.present);
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    pub async fn files(&mut self, id: &str, heads: Option<Vec<String>>) -> anyhow::Result<FilesAt> {
        if heads.is_none() {
            self.wait_complete(id).await?;
        }
        match self
            .call(
                &ControlRequest::Files {
                    id: id.to_string(),
                    heads,
                },
                |_| {},
            )
            .await?
        {
            ControlReply::Files(files) => Ok(files),
            other => Err(unexpected("files", other)),
        }
    }

    pub async fn commit(
        &mut self,
        id: &str,
        base_heads: Vec<String>,
        edits: Vec<EditPayload>,
        message: String,
    ) -> anyhow::Result<Committed> {
        let request = ControlRequest::Commit {
            id: id.to_string(),
            base_heads,
            edits,
            message,
        };
        match self.call(&request, |_| {}).await? {
            ControlReply::Committed(committed) => Ok(committed),
            other => Err(unexpected("committed", other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_not_found_messages() {
        assert!(looks_not_found("no artefact matches \"abc\""));
        assert!(looks_not_found("Artefact not found"));
        assert!(!looks_not_found("the node is shutting down"));
    }
}
