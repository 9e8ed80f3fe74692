//! A typed wrapper around the node's [`ControlClient`]: one method per request, each returning
//! the reply it expects, with errors turned into [`CliError`]s that carry the right exit code.

use crate::error::CliError;
use allmenning_node::control::{
    AccessInfo, ArtefactDetail, ArtefactRow, Committed, ControlClient, ControlError, ControlReply,
    ControlRequest, EditPayload, FilePayload, FilesAt, LogEntry, NetworkInfo, NodeStatus,
    OrgDetail, PeerInfo, Progress, Published, RevokeTarget, StatementInfo,
};
use std::path::{Path, PathBuf};

/// What `publish` sends: a new artefact's metadata and files.
#[derive(Clone, Debug, Default)]
pub struct NewArtefact {
    pub title: String,
    pub kind: String,
    pub description: String,
    pub tags: Vec<String>,
    pub files: Vec<FilePayload>,
    /// Organisation numbers that may read it; empty means public.
    pub share_with: Vec<String>,
}

pub struct Client {
    inner: ControlClient,
    socket: PathBuf,
}

/// Whether a message from the node says that an artefact, an id prefix, an organisation or a
/// statement is unknown.
fn looks_not_found(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "no artefact",
        "no initiative",
        "no proposal",
        "not found",
        "unknown artefact",
        "no such artefact",
        "matches no",
        "ambiguous",
        "unknown organisation",
        "unknown organization",
        "no such organisation",
        "no organisation",
        "not announced",
        "unknown statement",
        "no such statement",
        "unknown node key",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

/// Whether a message from the node says that it has not joined a network.
fn looks_not_in_network(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "not joined a network",
        "not joined any network",
        "not in a network",
        "no network",
        "not part of a network",
        "not a member of a network",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

/// The error for trust commands on a node that has not joined a network.
pub fn not_in_network() -> CliError {
    CliError::Failed {
        message: "this node has not joined a network: run `allmenning network join FILE`".into(),
        hint: Some(
            "the network file comes from the network's root curator (KS), who makes it with `allmenning network create`"
                .into(),
        ),
    }
}

fn not_found_hint(message: &str) -> String {
    let m = message.to_ascii_lowercase();
    if m.contains("statement") {
        "statement ids are 64 hex digits, as the `--json` output of `allmenning curate` and `allmenning org` prints them"
            .into()
    } else if m.contains("organisation") || m.contains("organization") {
        "`allmenning org show --all` lists the organisations this node knows".into()
    } else if m.contains("node key") {
        "`allmenning org show` lists this organisation's node keys".into()
    } else {
        "`allmenning list` shows the artefacts this node knows".into()
    }
}

fn map_error(err: ControlError) -> anyhow::Error {
    match err {
        ControlError::NotRunning { socket } => CliError::NotRunning { socket }.into(),
        ControlError::Node(message) if looks_not_in_network(&message) => not_in_network().into(),
        ControlError::Node(message) if looks_not_found(&message) => CliError::NotFound {
            hint: Some(not_found_hint(&message)),
            message,
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

/// What a trust request needs of this node, to explain a refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Membership of a network.
    Network,
    /// The organisation's key (org.key) on this node.
    OrgKey,
    /// Both.
    NetworkAndOrgKey,
}

/// What the node says while it fetches an older version's content from peers (see
/// `EngineError::FetchingOld`); the request is worth repeating.
const FETCHING_OLD: &str = "is being fetched from peers";

/// How long a request for an older version waits for its contents to be fetched.
const FETCH_OLD_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether a version name is the word for the endorsed version.
pub fn is_endorsed(version: &str) -> bool {
    version
        .trim()
        .eq_ignore_ascii_case(allmenning_protocol::engine::ENDORSED)
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
        artefact: NewArtefact,
        on_progress: impl FnMut(&Progress),
    ) -> anyhow::Result<Published> {
        let NewArtefact {
            title,
            kind,
            description,
            tags,
            files,
            share_with,
        } = artefact;
        let request = ControlRequest::Publish {
            title,
            kind,
            description,
            tags,
            files,
            share_with,
        };
        match self.call(&request, on_progress).await? {
            ControlReply::Published(published) => Ok(published),
            other => Err(unexpected("published", other)),
        }
    }

    pub async fn catalog(
        &mut self,
        kind: Option<String>,
        org: Option<String>,
        status: Option<String>,
        tag: Option<String>,
    ) -> anyhow::Result<Vec<allmenning_protocol::catalog::CatalogEntry>> {
        let request = ControlRequest::Catalog {
            kind,
            org,
            status,
            tag,
        };
        match self.call(&request, |_| {}).await? {
            ControlReply::Catalog { entries } => Ok(entries),
            other => Err(unexpected("catalog", other)),
        }
    }

    pub async fn search(
        &mut self,
        query: &str,
        limit: usize,
    ) -> anyhow::Result<Vec<allmenning_node::control::SearchHit>> {
        let request = ControlRequest::Search {
            query: query.to_string(),
            limit,
        };
        match self.call(&request, |_| {}).await? {
            ControlReply::Search { hits } => Ok(hits),
            other => Err(unexpected("search", other)),
        }
    }

    pub async fn initiatives(
        &mut self,
    ) -> anyhow::Result<Vec<allmenning_node::control::InitiativeInfo>> {
        match self.call(&ControlRequest::InitiativeList, |_| {}).await? {
            ControlReply::Initiatives { initiatives } => Ok(initiatives),
            other => Err(unexpected("initiative list", other)),
        }
    }

    async fn initiative_call(
        &mut self,
        request: ControlRequest,
        what: &str,
    ) -> anyhow::Result<allmenning_node::control::InitiativeInfo> {
        match self.call(&request, |_| {}).await? {
            ControlReply::Initiative(info) => Ok(info),
            other => Err(unexpected(what, other)),
        }
    }

    pub async fn initiative_new(
        &mut self,
        title: &str,
        description: &str,
        artefacts: Vec<String>,
    ) -> anyhow::Result<allmenning_node::control::InitiativeInfo> {
        let request = ControlRequest::InitiativeNew {
            title: title.to_string(),
            description: description.to_string(),
            artefacts,
        };
        self.initiative_call(request, "initiative new").await
    }

    pub async fn initiative_show(
        &mut self,
        id: &str,
    ) -> anyhow::Result<allmenning_node::control::InitiativeInfo> {
        let request = ControlRequest::InitiativeShow { id: id.to_string() };
        self.initiative_call(request, "initiative show").await
    }

    pub async fn initiative_update(
        &mut self,
        id: &str,
        status: Option<String>,
        artefacts: Vec<String>,
    ) -> anyhow::Result<allmenning_node::control::InitiativeInfo> {
        let request = ControlRequest::InitiativeUpdate {
            id: id.to_string(),
            status,
            artefacts,
        };
        self.initiative_call(request, "initiative update").await
    }

    pub async fn initiative_join(
        &mut self,
        id: &str,
    ) -> anyhow::Result<allmenning_node::control::InitiativeInfo> {
        let request = ControlRequest::InitiativeJoin { id: id.to_string() };
        self.initiative_call(request, "initiative join").await
    }

    pub async fn proposals(
        &mut self,
        id: &str,
    ) -> anyhow::Result<Vec<allmenning_node::control::ProposalInfo>> {
        let request = ControlRequest::Proposals { id: id.to_string() };
        match self.call(&request, |_| {}).await? {
            ControlReply::Proposals { proposals } => Ok(proposals),
            other => Err(unexpected("proposals", other)),
        }
    }

    /// Adopts artefact `id` (at `heads`, or the endorsed version, or its current heads).
    pub async fn adopt(
        &mut self,
        id: &str,
        title: Option<String>,
        heads: Option<Vec<String>>,
        endorsed: bool,
    ) -> anyhow::Result<allmenning_node::control::AdaptationInfo> {
        let request = ControlRequest::Adopt {
            id: id.to_string(),
            title,
            heads,
            endorsed,
        };
        match self.trust_call(&request, Needs::Network).await? {
            ControlReply::Adopted(info) => Ok(info),
            other => Err(unexpected("adopted", other)),
        }
    }

    /// Merges the upstream's changes into adaptation `id`.
    pub async fn pull_upstream(
        &mut self,
        id: &str,
    ) -> anyhow::Result<allmenning_node::control::UpstreamPulled> {
        let request = ControlRequest::PullUpstream { id: id.to_string() };
        match self.trust_call(&request, Needs::Network).await? {
            ControlReply::UpstreamPulled(pulled) => Ok(pulled),
            other => Err(unexpected("upstream pulled", other)),
        }
    }

    /// Offers adaptation `id`'s changes to its upstream as a proposal.
    pub async fn propose_upstream(
        &mut self,
        id: &str,
        message: &str,
    ) -> anyhow::Result<allmenning_node::control::ProposedUpstream> {
        let request = ControlRequest::ProposeUpstream {
            id: id.to_string(),
            message: message.to_string(),
        };
        match self.trust_call(&request, Needs::Network).await? {
            ControlReply::ProposedUpstream(proposed) => Ok(proposed),
            other => Err(unexpected("proposed upstream", other)),
        }
    }

    /// A proposal with the files it changes; with `decide`, accepts or declines it first.
    pub async fn proposal_review(
        &mut self,
        proposal: &str,
        decide: Option<bool>,
    ) -> anyhow::Result<allmenning_node::control::ProposalReview> {
        let request = match decide {
            None => ControlRequest::ProposalReview {
                proposal: proposal.to_string(),
            },
            Some(accept) => ControlRequest::ProposalDecide {
                proposal: proposal.to_string(),
                accept,
            },
        };
        match self.call(&request, |_| {}).await? {
            ControlReply::ProposalReview(review) => Ok(review),
            other => Err(unexpected("review", other)),
        }
    }

    /// Who does what: every organisation's artefacts by role.
    pub async fn activity(&mut self) -> anyhow::Result<Vec<allmenning_node::control::OrgActivity>> {
        match self.call(&ControlRequest::Activity, |_| {}).await? {
            ControlReply::Activity { orgs } => Ok(orgs),
            other => Err(unexpected("orgs", other)),
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
        self.show_at(id, None).await
    }

    /// The artefact, with its files as they were at `heads` when given.
    pub async fn show_at(
        &mut self,
        id: &str,
        heads: Option<Vec<String>>,
    ) -> anyhow::Result<ArtefactDetail> {
        let request = ControlRequest::Show {
            id: id.to_string(),
            heads,
        };
        match self.call(&request, |_| {}).await? {
            ControlReply::Show(detail) => Ok(detail),
            other => Err(unexpected("show", other)),
        }
    }

    pub async fn log(&mut self, id: &str) -> anyhow::Result<Vec<LogEntry>> {
        self.log_of(id, None).await
    }

    /// The history, or with `path` only the changes that touched that file.
    pub async fn log_of(&mut self, id: &str, path: Option<&str>) -> anyhow::Result<Vec<LogEntry>> {
        let request = ControlRequest::Log {
            id: id.to_string(),
            path: path.map(str::to_string),
        };
        match self.call(&request, |_| {}).await? {
            ControlReply::Log { entries } => Ok(entries),
            other => Err(unexpected("log", other)),
        }
    }

    /// The heads `version` names in artefact `id` (a full id): a change hash, a unique prefix
    /// of one, or `endorsed`. The artefact itself was found already, so a version the node
    /// cannot resolve is a usage error (exit 2) naming what the node said (the candidates of
    /// an ambiguous prefix); a missing endorsement is "not found" (exit 4), as with --endorsed.
    pub async fn version(&mut self, id: &str, version: &str) -> anyhow::Result<Vec<String>> {
        let request = ControlRequest::Version {
            id: id.to_string(),
            version: version.to_string(),
        };
        let err = match self.call(&request, |_| {}).await {
            Ok(ControlReply::Version(info)) => return Ok(info.heads),
            Ok(other) => return Err(unexpected("version", other)),
            Err(err) => err,
        };
        let (message, not_found) = match err.downcast_ref::<CliError>() {
            Some(CliError::NotFound { message, .. }) => (message.clone(), true),
            Some(CliError::Failed { message, .. }) if !is_not_in_network(&err) => {
                (message.clone(), false)
            }
            _ => return Err(err),
        };
        if is_endorsed(version) {
            // Only "not found" is about the endorsement; any other failure says what it is.
            if !not_found {
                return Err(err);
            }
            return Err(CliError::NotFound {
                message: format!(
                    "no curator has endorsed a version of {} (reviewed, recommended or approved) that this node knows",
                    crate::output::short(id)
                ),
                hint: Some(format!(
                    "`allmenning show {}` lists its endorsements",
                    crate::output::short(id)
                )),
            }
            .into());
        }
        Err(CliError::Usage {
            message,
            hint: Some(format!(
                "`allmenning log {}` lists its changes; give one change hash or a longer prefix of it",
                crate::output::short(id)
            )),
        }
        .into())
    }

    /// Every file's content at `version` (see [`Client::version`]), or now when `None`.
    pub async fn files_at_version(
        &mut self,
        id: &str,
        version: Option<&str>,
    ) -> anyhow::Result<FilesAt> {
        match version {
            None => self.files(id, None).await,
            Some(v) if is_endorsed(v) => self.files_endorsed(id).await,
            Some(v) => {
                let heads = self.version(id, v).await?;
                self.wait_complete(id).await?;
                self.files(id, Some(heads)).await
            }
        }
    }

    /// Sends a `Files` request (through [`Client::trust_call`] when `trust`), and again while
    /// the node fetches an older version's content it lacked (it asks its peers when first
    /// asked), up to a minute, pausing longer each time: every attempt makes the node put the
    /// whole version together.
    async fn files_call(
        &mut self,
        request: &ControlRequest,
        trust: bool,
    ) -> anyhow::Result<ControlReply> {
        let started = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(200);
        loop {
            let reply = if trust {
                self.trust_call(request, Needs::Network).await
            } else {
                self.call(request, |_| {}).await
            };
            match reply {
                Err(e)
                    if e.to_string().contains(FETCHING_OLD)
                        && started.elapsed() < FETCH_OLD_WAIT =>
                {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_secs(2));
                }
                other => return other,
            }
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
        let request = ControlRequest::Files {
            id: id.to_string(),
            heads,
            endorsed: false,
        };
        match self.files_call(&request, false).await? {
            ControlReply::Files(files) => Ok(files),
            other => Err(unexpected("files", other)),
        }
    }

    /// Every file's content at the version a curator endorsed most recently (reviewed,
    /// recommended or approved); the reply's heads are that version's.
    pub async fn files_endorsed(&mut self, id: &str) -> anyhow::Result<FilesAt> {
        self.wait_complete(id).await?;
        let request = ControlRequest::Files {
            id: id.to_string(),
            heads: None,
            endorsed: true,
        };
        // The endorsed version is often an older one: its contents may need fetching too.
        let err = match self.files_call(&request, true).await {
            Ok(ControlReply::Files(files)) => return Ok(files),
            Ok(other) => return Err(unexpected("files", other)),
            Err(err) => err,
        };
        let hint = Some(format!(
            "`allmenning show {}` lists its endorsements; without --endorsed you get the latest version",
            crate::output::short(id)
        ));
        // The artefact itself was found (`resolve`), so "not found" is about the endorsement.
        match err.downcast_ref::<CliError>() {
            Some(CliError::NotFound { .. }) => Err(CliError::NotFound {
                message: format!(
                    "no curator has endorsed a version of {} (reviewed, recommended or approved) that this node knows",
                    crate::output::short(id)
                ),
                hint,
            }
            .into()),
            Some(CliError::Failed { message, .. }) if !is_not_in_network(&err) => {
                Err(CliError::Failed {
                    message: message.clone(),
                    hint,
                }
                .into())
            }
            _ => Err(err),
        }
    }

    pub async fn commit(
        &mut self,
        id: &str,
        base_heads: Vec<String>,
        edits: Vec<EditPayload>,
        message: String,
        propose: bool,
    ) -> anyhow::Result<Committed> {
        let request = ControlRequest::Commit {
            id: id.to_string(),
            base_heads,
            edits,
            message,
            propose,
        };
        match self.call(&request, |_| {}).await? {
            ControlReply::Committed(committed) => Ok(committed),
            other => Err(unexpected("committed", other)),
        }
    }

    /// Sends a trust request. When the node refuses it, explains why if this node lacks what the
    /// request needs: a network (then the error says to join one) or the org key (then a hint
    /// says where to run it instead).
    pub async fn trust_call(
        &mut self,
        request: &ControlRequest,
        needs: Needs,
    ) -> anyhow::Result<ControlReply> {
        let message = match self.inner.call(request, |_| {}).await {
            Ok(reply) => return Ok(reply),
            Err(ControlError::Node(message))
                if !looks_not_in_network(&message)
                    && !message.to_ascii_lowercase().contains("not implemented") =>
            {
                message
            }
            Err(other) => return Err(map_error(other)),
        };
        if let Ok(status) = self.status().await {
            let wants_network = matches!(needs, Needs::Network | Needs::NetworkAndOrgKey);
            let wants_org_key = matches!(needs, Needs::OrgKey | Needs::NetworkAndOrgKey);
            if wants_network && status.network.is_none() {
                return Err(not_in_network().into());
            }
            let says_so = {
                let m = message.to_ascii_lowercase();
                m.contains("org.key") || m.contains("org key") || m.contains("organisation's key")
            };
            if wants_org_key && !status.has_org_key && !says_so {
                return Err(CliError::Failed {
                    message,
                    hint: Some(
                        "this node does not hold the organisation's key (org.key): run this on the node that does"
                            .into(),
                    ),
                }
                .into());
            }
        }
        Err(map_error(ControlError::Node(message)))
    }

    pub async fn network_create(&mut self, name: &str) -> anyhow::Result<NetworkInfo> {
        let request = ControlRequest::NetworkCreate {
            name: name.to_string(),
        };
        match self.trust_call(&request, Needs::OrgKey).await? {
            ControlReply::Network(info) => Ok(info),
            other => Err(unexpected("network", other)),
        }
    }

    pub async fn network_join(&mut self, network: String) -> anyhow::Result<NetworkInfo> {
        let request = ControlRequest::NetworkJoin { network };
        match self.call(&request, |_| {}).await? {
            ControlReply::Network(info) => Ok(info),
            other => Err(unexpected("network", other)),
        }
    }

    pub async fn network_show(&mut self) -> anyhow::Result<NetworkInfo> {
        match self
            .trust_call(&ControlRequest::NetworkShow, Needs::Network)
            .await?
        {
            ControlReply::Network(info) => Ok(info),
            other => Err(unexpected("network", other)),
        }
    }

    /// A trust request answered with the statement it signed.
    async fn statement(
        &mut self,
        request: &ControlRequest,
        needs: Needs,
    ) -> anyhow::Result<Option<StatementInfo>> {
        match self.trust_call(request, needs).await? {
            ControlReply::Statement(info) => Ok(Some(info)),
            ControlReply::Done => Ok(None),
            other => Err(unexpected("statement", other)),
        }
    }

    pub async fn curate_admit(
        &mut self,
        org: &str,
        fingerprint: Option<String>,
    ) -> anyhow::Result<Option<StatementInfo>> {
        let request = ControlRequest::CurateAdmit {
            org: org.to_string(),
            fingerprint,
        };
        self.statement(&request, Needs::NetworkAndOrgKey).await
    }

    pub async fn curate_delegate(
        &mut self,
        org: &str,
        scopes: Vec<String>,
        expires: Option<i64>,
    ) -> anyhow::Result<Option<StatementInfo>> {
        let request = ControlRequest::CurateDelegate {
            org: org.to_string(),
            scopes,
            expires,
        };
        self.statement(&request, Needs::NetworkAndOrgKey).await
    }

    pub async fn curate_revoke(
        &mut self,
        target: RevokeTarget,
    ) -> anyhow::Result<Option<StatementInfo>> {
        let request = ControlRequest::CurateRevoke { target };
        self.statement(&request, Needs::NetworkAndOrgKey).await
    }

    pub async fn curate_endorse(
        &mut self,
        id: &str,
        status: &str,
        note: &str,
    ) -> anyhow::Result<Option<StatementInfo>> {
        let request = ControlRequest::CurateEndorse {
            id: id.to_string(),
            status: status.to_string(),
            note: note.to_string(),
        };
        self.statement(&request, Needs::NetworkAndOrgKey).await
    }

    /// One organisation (by number), or every organisation this node knows when `org` is `None`.
    pub async fn org_show(&mut self, org: Option<String>) -> anyhow::Result<Vec<OrgDetail>> {
        match self
            .trust_call(&ControlRequest::OrgShow { org }, Needs::Network)
            .await?
        {
            ControlReply::Orgs { orgs } => Ok(orgs),
            other => Err(unexpected("orgs", other)),
        }
    }

    pub async fn org_add_node(
        &mut self,
        node_key: &str,
        label: &str,
        proof: &str,
    ) -> anyhow::Result<Option<StatementInfo>> {
        let request = ControlRequest::OrgAddNode {
            node_key: node_key.to_string(),
            label: label.to_string(),
            proof: Some(proof.to_string()),
        };
        self.statement(&request, Needs::NetworkAndOrgKey).await
    }

    pub async fn org_revoke_node(
        &mut self,
        node_key: &str,
    ) -> anyhow::Result<Option<StatementInfo>> {
        let request = ControlRequest::OrgRevokeNode {
            node_key: node_key.to_string(),
        };
        self.statement(&request, Needs::NetworkAndOrgKey).await
    }

    async fn access(&mut self, request: &ControlRequest) -> anyhow::Result<AccessInfo> {
        match self.trust_call(request, Needs::Network).await? {
            ControlReply::Access(info) => Ok(info),
            other => Err(unexpected("access", other)),
        }
    }

    pub async fn access_grant(
        &mut self,
        id: &str,
        org: &str,
        role: &str,
    ) -> anyhow::Result<AccessInfo> {
        self.access(&ControlRequest::AccessGrant {
            id: id.to_string(),
            org: org.to_string(),
            role: role.to_string(),
        })
        .await
    }

    pub async fn access_revoke(&mut self, id: &str, org: &str) -> anyhow::Result<AccessInfo> {
        self.access(&ControlRequest::AccessRevoke {
            id: id.to_string(),
            org: org.to_string(),
        })
        .await
    }

    pub async fn access_list(&mut self, id: &str) -> anyhow::Result<AccessInfo> {
        self.access(&ControlRequest::AccessList { id: id.to_string() })
            .await
    }
}

/// Whether `err` is the "not joined a network" error.
pub fn is_not_in_network(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        matches!(cause.downcast_ref::<CliError>(), Some(CliError::Failed { message, .. }) if message.starts_with("this node has not joined a network"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_not_found_messages() {
        assert!(looks_not_found("no artefact matches \"abc\""));
        assert!(looks_not_found("Artefact not found"));
        assert!(!looks_not_found("the node is shutting down"));
        assert!(looks_not_found("unknown organisation 964338531"));
        assert!(looks_not_found(
            "organisation 964338531 has not announced itself"
        ));
        assert!(!looks_not_found(
            "Bergen kommune may not admit: not a curator"
        ));
    }

    #[test]
    fn recognises_not_in_network_messages_and_says_what_to_do() {
        assert!(looks_not_in_network("this node has not joined a network"));
        assert!(looks_not_in_network("No network: join one first"));
        assert!(!looks_not_in_network(
            "networks and trust are not implemented in this build yet"
        ));
        let err: anyhow::Error = map_error(ControlError::Node("not in a network".into()));
        assert!(is_not_in_network(&err));
        assert!(
            err.to_string().contains("allmenning network join FILE"),
            "{err}"
        );
        let (code, hint) = crate::error::classify(&err);
        assert_eq!(code, crate::error::exit::ERROR);
        assert!(hint.unwrap().contains("network create"));
    }

    #[test]
    fn not_found_hints_name_what_was_not_found() {
        let err = map_error(ControlError::Node("unknown organisation 964338531".into()));
        let (code, hint) = crate::error::classify(&err);
        assert_eq!(code, crate::error::exit::NOT_FOUND);
        assert!(hint.unwrap().contains("org show --all"));
        let err = map_error(ControlError::Node(
            "no artefact a statement to revoke signed by this organisation".into(),
        ));
        assert!(crate::error::classify(&err)
            .1
            .unwrap()
            .contains("statement ids"));
        let err = map_error(ControlError::Node("no artefact matches \"ab\"".into()));
        assert!(crate::error::classify(&err)
            .1
            .unwrap()
            .contains("allmenning list"));
    }
}
