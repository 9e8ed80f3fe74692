//! The read-only web portal (`node start --portal 127.0.0.1:PORT`).
//!
//! The strategy behind Allmenning asks for a *delingsarena* with structure and search, a portal
//! of the common reference architecture and a catalogue saying who does what. This is that, in
//! Norwegian (bokmål), served by the node itself: no separate service, no database of its own,
//! no JavaScript. It is just another client of the node's event loop, like the CLI: every page
//! sends one to three read-only [`ControlRequest`]s (catalogue, search, activity, initiatives,
//! show, log) and renders the replies on the server with [`maud`], which escapes everything
//! spliced in (titles and descriptions come from other municipalities).
//!
//! **Restricted artefacts are never shown**, whoever asks: the portal has no logins, so it treats
//! every visitor as outside every access list. Entries whose visibility is restricted are removed
//! from every list, search hit, reference and filter option, and `/artefakt/<id>` of one answers
//! the very same 404 as an id that does not exist.
//!
//! Pages:
//! - `/`: the catalogue, with full-text search (`q`) and filters (`kind`, `status`, `tag`,
//!   `org`) that combine, 50 per page (`side`);
//! - `/artefakt/<id>`: metadata, files, history, endorsements, adopters, lineage, proposals;
//!   with `?at=<change hash>` the files as they were at that change (each history entry links
//!   there);
//! - `/artefakt/<id>/fil/<path>`: one file's content, now or (`?at=<change hash>`) at a change;
//! - `/referansearkitektur`: what curators approved or recommended, by kind and LOS theme;
//! - `/hvem`: who does what (shares, maintains, uses, leads, endorses);
//! - `/initiativ`: initiatives: what is being built, by which captain, with whom.
//!
//! A node that does not answer in time, or answers with an error, gives a 503 page; the portal
//! never panics on what the node says. At most [`MAX_CONCURRENT_CALLS`] portal requests wait on
//! the event loop at once, so a busy portal cannot crowd out the CLI.

#[cfg(test)]
mod tests;
mod text;
mod views;

use crate::control::{
    ArtefactDetail, ControlCall, ControlReply, ControlRequest, FilesAt, InitiativeInfo, LogEntry,
    OrgActivity, SearchHit,
};
use allmenning_protocol::catalog::{CatalogEntry, CatalogFilter, Status, Visibility};
use allmenning_protocol::{Kind, OrgNumber};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::Markup;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Semaphore};

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error("portal: {0}")]
    Io(#[from] std::io::Error),
}

/// How long a page waits for the node (queueing included) before it gives up with a 503.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Portal requests that may wait on the event loop at once.
const MAX_CONCURRENT_CALLS: usize = 8;
/// Artefacts per catalogue page.
const PAGE_SIZE: usize = 50;
/// Search hits asked for (the node's maximum); filters and the restricted rule apply after.
const SEARCH_LIMIT: usize = 500;
/// Newest changes shown on an artefact page.
const HISTORY_SHOWN: usize = 200;

/// Serves the portal on `listener` until the node stops; reads through `calls`, as the CLI does.
pub(crate) async fn serve(
    listener: TcpListener,
    calls: mpsc::Sender<ControlCall>,
) -> Result<(), PortalError> {
    axum::serve(listener, router(calls)).await?;
    Ok(())
}

/// The portal's routes, reading through `calls`.
fn router(calls: mpsc::Sender<ControlCall>) -> Router {
    let portal = Portal {
        calls,
        permits: Arc::new(Semaphore::new(MAX_CONCURRENT_CALLS)),
    };
    Router::new()
        .route("/", get(catalogue))
        .route("/artefakt/{id}", get(artefact))
        .route("/artefakt/{id}/fil/{*path}", get(file))
        .route("/referansearkitektur", get(reference_architecture))
        .route("/hvem", get(who_does_what))
        .route("/initiativ", get(initiatives))
        .fallback(not_found)
        .with_state(portal)
        .layer(axum::middleware::map_response(security_headers))
}

#[derive(Clone)]
struct Portal {
    calls: mpsc::Sender<ControlCall>,
    permits: Arc<Semaphore>,
}

/// Why a page could not be made from what the node said.
#[derive(Debug)]
enum Trouble {
    /// The node is stopping, did not answer in time, or dropped the request.
    Unavailable(String),
    /// The node answered with an error message.
    Refused(String),
    /// The node answered with a reply of another kind than asked for.
    Unexpected,
}

impl Trouble {
    fn into_response(self) -> Response {
        match &self {
            Trouble::Unavailable(why) => tracing::debug!("portal: node unavailable: {why}"),
            Trouble::Refused(why) => {
                tracing::warn!("portal: the node answered with an error: {why}")
            }
            Trouble::Unexpected => tracing::warn!("portal: the node answered with another reply"),
        }
        page(StatusCode::SERVICE_UNAVAILABLE, views::unavailable())
    }
}

impl Portal {
    /// Sends one read-only request to the event loop and waits (bounded) for its reply.
    async fn call(&self, request: ControlRequest) -> Result<ControlReply, Trouble> {
        debug_assert!(read_only(&request), "the portal only reads: {request:?}");
        let work = async {
            let _permit = self
                .permits
                .acquire()
                .await
                .map_err(|_| Trouble::Unavailable("the portal is closing".into()))?;
            let (progress, _progress_rx) = mpsc::unbounded_channel();
            let (reply, answer) = oneshot::channel();
            self.calls
                .send(ControlCall {
                    request,
                    progress,
                    reply,
                })
                .await
                .map_err(|_| Trouble::Unavailable("the node is shutting down".into()))?;
            match answer.await {
                Ok(Ok(reply)) => Ok(reply),
                Ok(Err(message)) => Err(Trouble::Refused(message)),
                Err(_) => Err(Trouble::Unavailable(
                    "the node dropped the request without answering".into(),
                )),
            }
        };
        tokio::time::timeout(CALL_TIMEOUT, work)
            .await
            .unwrap_or_else(|_| {
                Err(Trouble::Unavailable(
                    "the node did not answer in time".into(),
                ))
            })
    }

    /// Every catalogue entry anyone may see: restricted ones are gone from here on.
    async fn public_entries(&self) -> Result<Vec<CatalogEntry>, Trouble> {
        let request = ControlRequest::Catalog {
            kind: None,
            org: None,
            status: None,
            tag: None,
        };
        match self.call(request).await? {
            ControlReply::Catalog { entries } => {
                Ok(entries.into_iter().filter(is_public).collect())
            }
            _ => Err(Trouble::Unexpected),
        }
    }

    async fn search(&self, query: &str) -> Result<Vec<SearchHit>, Trouble> {
        let request = ControlRequest::Search {
            query: query.to_string(),
            limit: SEARCH_LIMIT,
        };
        match self.call(request).await? {
            ControlReply::Search { hits } => Ok(hits),
            _ => Err(Trouble::Unexpected),
        }
    }

    async fn activity(&self) -> Result<Vec<OrgActivity>, Trouble> {
        match self.call(ControlRequest::Activity).await? {
            ControlReply::Activity { orgs } => Ok(orgs),
            _ => Err(Trouble::Unexpected),
        }
    }

    async fn initiatives(&self) -> Result<Vec<InitiativeInfo>, Trouble> {
        match self.call(ControlRequest::InitiativeList).await? {
            ControlReply::Initiatives { initiatives } => Ok(initiatives),
            _ => Err(Trouble::Unexpected),
        }
    }

    /// The artefact, with its files at `heads` (full change hashes) when given.
    async fn show(&self, id: &str, heads: Option<Vec<String>>) -> Result<ArtefactDetail, Trouble> {
        match self
            .call(ControlRequest::Show {
                id: id.into(),
                heads,
            })
            .await?
        {
            ControlReply::Show(detail) => Ok(detail),
            _ => Err(Trouble::Unexpected),
        }
    }

    /// The heads of the change `at` (a full hash) of artefact `id`; `Ok(None)` when it is not
    /// one of the artefact's changes.
    async fn version(&self, id: &str, at: &str) -> Result<Option<Vec<String>>, Trouble> {
        let request = ControlRequest::Version {
            id: id.into(),
            version: at.into(),
        };
        match self.call(request).await {
            Ok(ControlReply::Version(version)) => Ok(Some(version.heads)),
            Ok(_) => Err(Trouble::Unexpected),
            Err(Trouble::Refused(_)) => Ok(None),
            Err(trouble) => Err(trouble),
        }
    }

    async fn files(&self, id: &str, heads: Option<Vec<String>>) -> Result<FilesAt, Trouble> {
        let request = ControlRequest::Files {
            id: id.into(),
            heads,
            endorsed: false,
        };
        match self.call(request).await? {
            ControlReply::Files(files) => Ok(files),
            _ => Err(Trouble::Unexpected),
        }
    }

    async fn proposals(&self, id: &str) -> Result<Vec<crate::control::ProposalInfo>, Trouble> {
        match self
            .call(ControlRequest::Proposals { id: id.into() })
            .await?
        {
            ControlReply::Proposals { proposals } => Ok(proposals),
            _ => Err(Trouble::Unexpected),
        }
    }

    async fn log(&self, id: &str) -> Result<Vec<LogEntry>, Trouble> {
        match self
            .call(ControlRequest::Log {
                id: id.into(),
                path: None,
            })
            .await?
        {
            ControlReply::Log { entries } => Ok(entries),
            _ => Err(Trouble::Unexpected),
        }
    }
}

/// The requests the portal may send: nothing that writes, connects or stops.
fn read_only(request: &ControlRequest) -> bool {
    matches!(
        request,
        ControlRequest::Catalog { .. }
            | ControlRequest::Search { .. }
            | ControlRequest::Activity
            | ControlRequest::InitiativeList
            | ControlRequest::Show { .. }
            | ControlRequest::Log { .. }
            | ControlRequest::Version { .. }
            | ControlRequest::Files { .. }
            | ControlRequest::Proposals { .. }
    )
}

/// Whether anyone may see the entry. The portal knows no visitor, so only public ones.
fn is_public(entry: &CatalogEntry) -> bool {
    matches!(entry.visibility, Visibility::Public)
}

fn page(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

/// Headers on every answer: no scripts, frames, plug-ins or foreign forms; styles only inline.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The one 404 answer, for unknown paths, unknown artefacts and restricted ones alike.
async fn not_found() -> Response {
    page(StatusCode::NOT_FOUND, views::not_found())
}

// ---------------------------------------------------------------------------------------------
// The catalogue
// ---------------------------------------------------------------------------------------------

/// The catalogue page's query string, as given (empty values mean "any").
#[derive(Debug, Default, Clone)]
struct CatalogueParams {
    q: String,
    kind: String,
    status: String,
    tag: String,
    org: String,
    page: usize,
}

impl CatalogueParams {
    /// Reads the query string leniently: unknown names are ignored, the first of a repeated
    /// name counts, and a bad page number means the first page.
    fn from_pairs(pairs: &[(String, String)]) -> Self {
        let first = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        CatalogueParams {
            q: first("q"),
            kind: first("kind"),
            status: first("status"),
            tag: first("tag"),
            org: first("org"),
            page: first("side").parse().ok().filter(|&p| p >= 1).unwrap_or(1),
        }
    }

    /// The filter the parameters ask for, or what is wrong with them (in Norwegian).
    fn filter(&self) -> Result<CatalogFilter, String> {
        let given = |s: &String| Some(s.clone()).filter(|s| !s.is_empty());
        Ok(CatalogFilter {
            kind: given(&self.kind)
                .map(|k| k.parse::<Kind>().map_err(|_| "Ukjent type".to_string()))
                .transpose()?,
            org: given(&self.org)
                .map(|o| {
                    o.parse::<OrgNumber>()
                        .map_err(|_| "Ugyldig organisasjonsnummer".to_string())
                })
                .transpose()?,
            status: given(&self.status)
                .map(|s| s.parse::<Status>().map_err(|_| "Ukjent status".to_string()))
                .transpose()?,
            tag: given(&self.tag),
        })
    }

    /// The query string of these parameters on page `page` (for pagination links).
    fn href(&self, page: usize) -> String {
        let mut parts = Vec::new();
        for (name, value) in [
            ("q", &self.q),
            ("kind", &self.kind),
            ("status", &self.status),
            ("tag", &self.tag),
            ("org", &self.org),
        ] {
            if !value.is_empty() {
                parts.push(format!("{name}={}", text::url_encode(value)));
            }
        }
        if page > 1 {
            parts.push(format!("side={page}"));
        }
        if parts.is_empty() {
            "/".into()
        } else {
            format!("/?{}", parts.join("&"))
        }
    }
}

/// What the filter selects offer: only values that public entries carry.
struct FilterOptions {
    tags: Vec<String>,
    /// (organisation number, name).
    orgs: Vec<(String, String)>,
}

impl FilterOptions {
    fn of(entries: &[CatalogEntry]) -> Self {
        let mut tags: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for tag in entries.iter().flat_map(|e| &e.tags) {
            let tag = tag.trim();
            if !tag.is_empty() && seen.insert(tag.to_lowercase()) {
                tags.push(tag.to_string());
            }
        }
        tags.sort_by_key(|t| t.to_lowercase());
        let mut orgs: HashMap<String, String> = HashMap::new();
        for entry in entries {
            if let Some(owner) = entry.owner {
                let name = entry.owner_name.clone().unwrap_or_default();
                let slot = orgs.entry(owner.to_string()).or_default();
                if slot.is_empty() {
                    *slot = name;
                }
            }
            for m in &entry.maintainers {
                let slot = orgs.entry(m.org.to_string()).or_default();
                if slot.is_empty() {
                    *slot = m.name.clone().unwrap_or_default();
                }
            }
        }
        let mut orgs: Vec<(String, String)> = orgs
            .into_iter()
            .map(|(number, name)| {
                let name = if name.trim().is_empty() {
                    number.clone()
                } else {
                    name
                };
                (number, name)
            })
            .collect();
        orgs.sort_by(|a, b| {
            a.1.to_lowercase()
                .cmp(&b.1.to_lowercase())
                .then(a.0.cmp(&b.0))
        });
        FilterOptions { tags, orgs }
    }
}

/// One row of the catalogue: an entry, and where a search matched in it.
struct Row<'a> {
    entry: &'a CatalogEntry,
    snippet: Option<&'a str>,
}

async fn catalogue(
    State(portal): State<Portal>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let params = CatalogueParams::from_pairs(&pairs);
    let filter = match params.filter() {
        Ok(filter) => filter,
        Err(problem) => return page(StatusCode::BAD_REQUEST, views::bad_filter(&problem)),
    };
    let entries = match portal.public_entries().await {
        Ok(entries) => entries,
        Err(trouble) => return trouble.into_response(),
    };
    let options = FilterOptions::of(&entries);
    let matching: Vec<&CatalogEntry> = entries.iter().filter(|e| filter.matches(e)).collect();
    let hits;
    let rows: Vec<Row> = if params.q.is_empty() {
        matching
            .iter()
            .map(|&entry| Row {
                entry,
                snippet: None,
            })
            .collect()
    } else {
        hits = match portal.search(&params.q).await {
            Ok(hits) => hits,
            Err(Trouble::Refused(message)) => {
                return page(
                    StatusCode::BAD_REQUEST,
                    views::bad_search(&params.q, &message),
                )
            }
            Err(trouble) => return trouble.into_response(),
        };
        // Hits the filters (and the restricted rule) let through, best first.
        let by_id: HashMap<String, &CatalogEntry> =
            matching.iter().map(|e| (e.id.to_hex(), *e)).collect();
        let mut shown = HashSet::new();
        hits.iter()
            .filter_map(|hit| {
                let entry = *by_id.get(&hit.id)?;
                shown.insert(hit.id.as_str()).then_some(Row {
                    entry,
                    snippet: hit.snippet.as_deref(),
                })
            })
            .collect()
    };
    let total = rows.len();
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let current = params.page.min(pages);
    let shown: Vec<Row> = rows
        .into_iter()
        .skip((current - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .collect();
    page(
        StatusCode::OK,
        views::catalogue(&views::CatalogueView {
            params: &params,
            options: &options,
            rows: &shown,
            total,
            all: entries.len(),
            page: current,
            pages,
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// One artefact
// ---------------------------------------------------------------------------------------------

/// The canonical form of an artefact id in a path (32 hex digits, lower case), or `None`.
/// Prefixes are not taken: an ambiguous prefix would tell that a hidden artefact shares it.
fn canonical_id(id: &str) -> Option<String> {
    let id = id.trim().to_ascii_lowercase();
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

/// The canonical form of a change hash in `?at=` (64 hex digits, lower case), or `None`.
/// Only full hashes, as the portal's own links carry them.
fn canonical_change(hash: &str) -> Option<String> {
    let hash = hash.trim().to_ascii_lowercase();
    (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hash)
}

/// The `at` of a query string: `Ok(None)` without one, `Err(())` for one that is no hash.
fn at_param(pairs: &[(String, String)]) -> Result<Option<String>, ()> {
    match pairs.iter().find(|(k, _)| k == "at") {
        None => Ok(None),
        Some((_, v)) if v.trim().is_empty() => Ok(None),
        Some((_, v)) => canonical_change(v).map(Some).ok_or(()),
    }
}

/// The public catalogue entries and the one for `id`, or the response to give instead (the
/// same 404 for an unknown id, a restricted artefact and a malformed id).
async fn public_entry(portal: &Portal, id: &str) -> Result<(Vec<CatalogEntry>, usize), Response> {
    let Some(id) = canonical_id(id) else {
        return Err(not_found().await);
    };
    let entries = match portal.public_entries().await {
        Ok(entries) => entries,
        Err(trouble) => return Err(trouble.into_response()),
    };
    match entries.iter().position(|e| e.id.to_hex() == id) {
        Some(at) => Ok((entries, at)),
        None => Err(not_found().await),
    }
}

/// The heads `?at=` names in artefact `id` (`Ok(None)`: the current version), or the 404 for
/// a change that is not one of the artefact's.
async fn version_of(
    portal: &Portal,
    id: &str,
    pairs: &[(String, String)],
) -> Result<Option<(String, Vec<String>)>, Response> {
    let Ok(at) = at_param(pairs) else {
        return Err(not_found().await);
    };
    let Some(at) = at else {
        return Ok(None);
    };
    match portal.version(id, &at).await {
        Ok(Some(heads)) => Ok(Some((at, heads))),
        Ok(None) => Err(not_found().await),
        Err(trouble) => Err(trouble.into_response()),
    }
}

/// A public artefact's page request: the catalogue, the artefact's place in it, and the version
/// `?at=` names (its change and heads; `None`: the current version).
struct Located {
    entries: Vec<CatalogEntry>,
    index: usize,
    version: Option<(String, Vec<String>)>,
}

/// What the artefact and file pages start from, or the response to give instead.
async fn located(
    portal: &Portal,
    id: &str,
    pairs: &[(String, String)],
) -> Result<Located, Response> {
    let (entries, index) = public_entry(portal, id).await?;
    let id = entries[index].id.to_hex();
    let version = version_of(portal, &id, pairs).await?;
    Ok(Located {
        entries,
        index,
        version,
    })
}

async fn artefact(
    State(portal): State<Portal>,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let Located {
        entries,
        index,
        version,
    } = match located(&portal, &id, &pairs).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let entry = &entries[index];
    let id = entry.id.to_hex();
    let heads = version.as_ref().map(|(_, heads)| heads.clone());
    // They queue on the event loop at once; it answers them one after the other.
    let (detail, history, proposals) = tokio::join!(
        portal.show(&id, heads),
        portal.log(&id),
        portal.proposals(&id)
    );
    // Proposals are secondary: a node that cannot list them still shows the artefact.
    let proposals = proposals.unwrap_or_default();
    let detail = match detail {
        // Belt and braces: the node's own word on visibility must agree.
        Ok(detail) if detail.visibility == "restricted" || detail.id != id => {
            return not_found().await
        }
        Ok(detail) => detail,
        Err(trouble) => return trouble.into_response(),
    };
    // Newest first, in causal order, as the node gives it (authors' clocks may be wrong).
    let history = match history {
        Ok(history) => history,
        Err(trouble) => return trouble.into_response(),
    };
    let parent = entry
        .based_on
        .and_then(|p| entries.iter().find(|e| e.id == p));
    let children: Vec<&CatalogEntry> = entries
        .iter()
        .filter(|e| e.based_on == Some(entry.id))
        .collect();
    page(
        StatusCode::OK,
        views::artefact(&views::ArtefactView {
            entry,
            detail: &detail,
            history: &history,
            history_shown: HISTORY_SHOWN,
            proposals: &proposals,
            parent,
            has_parent: entry.based_on.is_some(),
            children: &children,
            at: version.as_ref().map(|(at, _)| at.as_str()),
        }),
    )
}

async fn file(
    State(portal): State<Portal>,
    Path((id, path)): Path<(String, String)>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let Located {
        entries,
        index,
        version,
    } = match located(&portal, &id, &pairs).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let entry = &entries[index];
    let id = entry.id.to_hex();
    let heads = version.as_ref().map(|(_, heads)| heads.clone());
    let files = match portal.files(&id, heads).await {
        Ok(files) => files,
        Err(trouble) => return trouble.into_response(),
    };
    let Some(file) = files.files.iter().find(|f| f.path == path) else {
        return not_found().await;
    };
    page(
        StatusCode::OK,
        views::file(&views::FileView {
            entry,
            path: &file.path,
            content: &file.content.0,
            at: version.as_ref().map(|(at, _)| at.as_str()),
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// The reference architecture
// ---------------------------------------------------------------------------------------------

/// True if some curator approved or recommended some version of it.
fn in_reference_architecture(entry: &CatalogEntry) -> bool {
    use allmenning_protocol::trust::EndorsementStatus as E;
    entry
        .endorsements
        .iter()
        .any(|e| matches!(e.status, E::Approved | E::Recommended))
}

async fn reference_architecture(State(portal): State<Portal>) -> Response {
    let entries = match portal.public_entries().await {
        Ok(entries) => entries,
        Err(trouble) => return trouble.into_response(),
    };
    let endorsed: Vec<&CatalogEntry> = entries
        .iter()
        .filter(|e| in_reference_architecture(e))
        .collect();
    // Kind (in the order kinds are defined, unknown kinds last) → LOS theme → title.
    let kind_rank = |kind: &str| {
        kind.trim()
            .parse::<Kind>()
            .ok()
            .and_then(|k| Kind::ALL.iter().position(|&x| x == k))
            .unwrap_or(Kind::ALL.len())
    };
    let mut groups: Vec<views::KindGroup> = Vec::new();
    let mut sorted = endorsed.clone();
    sorted.sort_by(|a, b| {
        kind_rank(&a.kind)
            .cmp(&kind_rank(&b.kind))
            .then_with(|| text::kind_label(&a.kind).cmp(&text::kind_label(&b.kind)))
            .then_with(|| a.los_theme.is_none().cmp(&b.los_theme.is_none()))
            .then_with(|| a.los_theme.cmp(&b.los_theme))
            .then_with(|| a.title.to_lowercase().cmp(&b.title.to_lowercase()))
    });
    for entry in sorted {
        let label = text::kind_label(&entry.kind);
        if groups.last().is_none_or(|g| g.label != label) {
            groups.push(views::KindGroup {
                label: label.clone(),
                themes: Vec::new(),
            });
        }
        let group = groups.last_mut().expect("pushed above");
        let theme = entry.los_theme.clone();
        if group.themes.last().is_none_or(|(t, _)| *t != theme) {
            group.themes.push((theme, Vec::new()));
        }
        group.themes.last_mut().expect("pushed above").1.push(entry);
    }
    let mut themes: Vec<(String, usize)> = Vec::new();
    for entry in &endorsed {
        if let Some(theme) = &entry.los_theme {
            match themes.iter_mut().find(|(t, _)| t == theme) {
                Some((_, n)) => *n += 1,
                None => themes.push((theme.clone(), 1)),
            }
        }
    }
    themes.sort();
    page(
        StatusCode::OK,
        views::reference_architecture(&groups, &themes, endorsed.len()),
    )
}

// ---------------------------------------------------------------------------------------------
// Who does what, and initiatives
// ---------------------------------------------------------------------------------------------

/// Activity with every reference to an artefact that is not public removed, and organisations
/// left with nothing dropped unless they are admitted members (those are public knowledge).
/// Initiatives (`captains`, `participates`) are signed statements every node receives, so they
/// stay.
fn public_activity(orgs: Vec<OrgActivity>, entries: &[CatalogEntry]) -> Vec<OrgActivity> {
    let public: HashSet<String> = entries.iter().map(|e| e.id.to_hex()).collect();
    let mut orgs: Vec<OrgActivity> = orgs
        .into_iter()
        .map(|mut org| {
            for refs in [
                &mut org.shares,
                &mut org.maintains,
                &mut org.adopts,
                &mut org.endorses,
            ] {
                refs.retain(|r| public.contains(&r.id));
            }
            org
        })
        .filter(|org| org.admitted || !views::is_idle(org))
        .collect();
    orgs.sort_by(|a, b| {
        let name = |o: &OrgActivity| {
            if o.name.trim().is_empty() {
                o.org.clone()
            } else {
                o.name.to_lowercase()
            }
        };
        name(a).cmp(&name(b)).then_with(|| a.org.cmp(&b.org))
    });
    orgs
}

async fn who_does_what(State(portal): State<Portal>) -> Response {
    let (orgs, entries) = tokio::join!(portal.activity(), portal.public_entries());
    match (orgs, entries) {
        (Ok(orgs), Ok(entries)) => page(
            StatusCode::OK,
            views::who_does_what(&public_activity(orgs, &entries)),
        ),
        (Err(trouble), _) | (_, Err(trouble)) => trouble.into_response(),
    }
}

/// An initiative as the portal shows it: artefacts that are not public here are only counted
/// (restricted ones and ones this node does not hold alike, so the count tells nothing).
struct InitiativeCard<'a> {
    pub info: &'a InitiativeInfo,
    pub artefacts: Vec<&'a CatalogEntry>,
    pub elsewhere: usize,
}

async fn initiatives(State(portal): State<Portal>) -> Response {
    let (list, entries) = tokio::join!(portal.initiatives(), portal.public_entries());
    let (list, entries) = match (list, entries) {
        (Ok(list), Ok(entries)) => (list, entries),
        (Err(trouble), _) | (_, Err(trouble)) => return trouble.into_response(),
    };
    let by_id: HashMap<String, &CatalogEntry> =
        entries.iter().map(|e| (e.id.to_hex(), e)).collect();
    let mut cards: Vec<InitiativeCard> = list
        .iter()
        .map(|info| {
            let artefacts: Vec<&CatalogEntry> = info
                .artefacts
                .iter()
                .filter_map(|r| by_id.get(&r.id).copied())
                .collect();
            InitiativeCard {
                elsewhere: info.artefacts.len() - artefacts.len(),
                artefacts,
                info,
            }
        })
        .collect();
    // Work going on first, then planned, done and stopped; newest first within each.
    let rank = |status: &str| match status {
        "active" => 0,
        "planned" => 1,
        "done" => 2,
        "stopped" => 3,
        _ => 4,
    };
    cards.sort_by(|a, b| {
        rank(&a.info.status)
            .cmp(&rank(&b.info.status))
            .then_with(|| b.info.updated.cmp(&a.info.updated))
            .then_with(|| a.info.id.cmp(&b.info.id))
    });
    page(StatusCode::OK, views::initiatives(&cards))
}
