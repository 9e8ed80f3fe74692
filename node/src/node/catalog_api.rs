//! The catalogue and search as the event loop keeps them: `catalog`, `search` and `orgs`.
//!
//! Every artefact a node holds is one it may see (restricted ones reach only their readers), so
//! the catalogue is simply every artefact held, described by `protocol::catalog`. Building an
//! entry loads the document, so entries are cached and rebuilt only for artefacts that changed:
//! those the engine reports updated or complete, and those named by trust statements that
//! arrived since (endorsements, access lists); a statement about an organisation (admission,
//! profile) can rename owners anywhere, so it rebuilds everything. The full-text index lives
//! on disk (`search/` in the home) and is brought up to date in one commit per refresh, at the
//! latest before a `search` or `catalog` is answered, so a user never sees a stale answer. The
//! first build waits for the first such question, so a node that is never asked pays nothing.

use super::{AnswerError, Node};
use crate::control::{ArtefactRef, InitiativeInfo, OrgActivity, OrgName, SearchHit};
use crate::search::{body_text, SearchError, SearchIndex};
use allmenning_protocol::artefact::Kind;
use allmenning_protocol::catalog::{CatalogEntry, CatalogFilter, Status};
use allmenning_protocol::trust::{InitiativeId, InitiativeView};
use allmenning_protocol::{ArtefactId, OrgNumber};
use rand::RngCore;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// Upper bound on search results a caller may ask for.
const MAX_SEARCH_LIMIT: usize = 500;

/// The cached catalogue and the search index.
pub(super) struct CatalogState {
    index: Option<SearchIndex>,
    entries: HashMap<ArtefactId, CatalogEntry>,
    /// Whether `entries` covers every artefact held (built on first use).
    built: bool,
    dirty: HashSet<ArtefactId>,
    /// Trust statements already looked at.
    statements_seen: usize,
}

impl CatalogState {
    /// Opens (or creates) the index in `dir`. An index written by an incompatible version is
    /// removed and rebuilt: it holds nothing that the artefacts themselves do not.
    pub(super) fn open(dir: &Path) -> CatalogState {
        let index = match SearchIndex::open(dir) {
            Ok(index) => Some(index),
            Err(SearchError::Incompatible { .. }) => {
                tracing::info!(dir = %dir.display(), "search index from another version; rebuilding it");
                let _ = std::fs::remove_dir_all(dir);
                SearchIndex::open(dir)
                    .map_err(|e| tracing::warn!("search is off: {e}"))
                    .ok()
            }
            Err(e) => {
                tracing::warn!("search is off: {e}");
                None
            }
        };
        CatalogState {
            index,
            entries: HashMap::new(),
            built: false,
            dirty: HashSet::new(),
            statements_seen: 0,
        }
    }

    pub(super) fn mark_dirty(&mut self, id: ArtefactId) {
        self.dirty.insert(id);
    }
}

fn invalid(message: impl Into<String>) -> AnswerError {
    AnswerError::Invalid(message.into())
}

fn artefact_ref(entry: &CatalogEntry) -> ArtefactRef {
    ArtefactRef {
        id: entry.id.to_hex(),
        title: entry.title.clone(),
        kind: entry.kind.clone(),
    }
}

impl Node {
    /// Whether the catalogue was built (someone searched, listed or browsed it).
    pub(super) fn catalog_in_use(&self) -> bool {
        self.catalog.built
    }

    /// Brings the cached entries and the index up to date. Cheap when nothing changed.
    pub(super) fn refresh_catalog(&mut self) -> Result<(), AnswerError> {
        let held: Vec<ArtefactId> = self.engine.list()?.into_iter().map(|r| r.id).collect();
        if !self.catalog.built {
            self.catalog.dirty.extend(held.iter().copied());
            // An index that lost entries (or was deleted) is rebuilt whole.
            if let Some(index) = &self.catalog.index {
                if index.num_docs() != held.len() as u64 {
                    tracing::info!(
                        indexed = index.num_docs(),
                        held = held.len(),
                        "rebuilding the search index"
                    );
                }
            }
        }
        self.note_new_statements(&held);
        if self.catalog.dirty.is_empty() {
            self.catalog.built = true;
            return Ok(());
        }
        let first_build = !self.catalog.built;
        let index_complete = first_build
            && self
                .catalog
                .index
                .as_ref()
                .is_some_and(|i| i.num_docs() == held.len() as u64);
        let dirty: Vec<ArtefactId> = self.catalog.dirty.drain().collect();
        let mut indexed = 0usize;
        for id in dirty {
            let entry = match self.engine.catalog_entry(&id) {
                Ok(entry) => entry,
                Err(allmenning_protocol::engine::EngineError::NotFound(_)) => {
                    self.catalog.entries.remove(&id);
                    if let Some(index) = self.catalog.index.as_mut() {
                        index.remove(&id);
                    }
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            // At start-up an index that already holds every artefact is trusted as it is.
            if !index_complete {
                if let Some(index) = self.catalog.index.as_mut() {
                    let body = match self.engine.files(&id, None) {
                        Ok((_, files)) => body_text(
                            files
                                .iter()
                                .map(|f| (f.path.as_str(), f.content.as_slice())),
                        ),
                        // Contents still being fetched: the metadata is searchable already.
                        Err(_) => String::new(),
                    };
                    if let Err(e) = index.upsert(&entry, &body) {
                        tracing::warn!(artefact = %id, "cannot index: {e}");
                    }
                    indexed += 1;
                }
            }
            self.catalog.entries.insert(id, entry);
        }
        if indexed > 0 {
            if let Some(index) = self.catalog.index.as_mut() {
                if let Err(e) = index.commit() {
                    tracing::warn!("cannot commit the search index: {e}");
                }
            }
            tracing::debug!(indexed, "search index updated");
        }
        self.catalog.built = true;
        Ok(())
    }

    /// Marks the artefacts named by trust statements that arrived since the last look.
    fn note_new_statements(&mut self, held: &[ArtefactId]) {
        let Some(trust) = self.engine.trust() else {
            return;
        };
        let count = trust.len();
        if count == self.catalog.statements_seen {
            return;
        }
        // Statements are not ordered by arrival here, so look at them all; it is only done
        // when their number changed.
        let mut about_orgs = false;
        let mut named: Vec<ArtefactId> = Vec::new();
        for statement in trust.statements() {
            match statement.body.artefact() {
                Some(id) => named.push(*id),
                None => about_orgs = true,
            }
            // An adoption changes both the upstream's entry (adopters) and the adaptation's.
            named.extend(statement.body.adaptation().copied());
        }
        self.catalog.statements_seen = count;
        if about_orgs {
            self.catalog.dirty.extend(held.iter().copied());
        } else {
            let held: HashSet<&ArtefactId> = held.iter().collect();
            self.catalog
                .dirty
                .extend(named.into_iter().filter(|id| held.contains(id)));
        }
    }

    pub(super) fn answer_catalog(
        &mut self,
        kind: Option<String>,
        org: Option<String>,
        status: Option<String>,
        tag: Option<String>,
    ) -> Result<Vec<CatalogEntry>, AnswerError> {
        let filter = CatalogFilter {
            kind: kind
                .map(|k| {
                    k.parse::<Kind>()
                        .map_err(|e| invalid(format!("--kind {k:?}: {e}")))
                })
                .transpose()?,
            org: org
                .map(|o| {
                    o.parse::<OrgNumber>()
                        .map_err(|e| invalid(format!("--org {o:?}: {e}")))
                })
                .transpose()?,
            status: status
                .map(|s| {
                    s.parse::<Status>()
                        .map_err(|e| invalid(format!("--status {s:?}: {e}")))
                })
                .transpose()?,
            tag,
        };
        self.refresh_catalog()?;
        let mut entries: Vec<CatalogEntry> = self
            .catalog
            .entries
            .values()
            .filter(|e| filter.matches(e))
            .cloned()
            .collect();
        entries.sort_by(|a, b| b.updated.cmp(&a.updated).then(a.id.cmp(&b.id)));
        Ok(entries)
    }

    pub(super) fn answer_search(
        &mut self,
        query: &str,
        limit: usize,
    ) -> Result<Vec<SearchHit>, AnswerError> {
        if query.trim().is_empty() {
            return Err(invalid("give something to search for"));
        }
        self.refresh_catalog()?;
        let Some(index) = self.catalog.index.as_ref() else {
            return Err(invalid(
                "search is not available on this node (see its log for why)",
            ));
        };
        let hits = index
            .search(query, limit.clamp(1, MAX_SEARCH_LIMIT))
            .map_err(|e| invalid(e.to_string()))?;
        Ok(hits
            .into_iter()
            .filter_map(|hit| {
                let id: ArtefactId = hit.id.parse().ok()?;
                // Only what this node holds now; the index may briefly lag a removal.
                let entry = self.catalog.entries.get(&id)?;
                Some(SearchHit {
                    id: hit.id,
                    score: hit.score,
                    title: hit.title,
                    kind: entry.kind.clone(),
                    owner: entry.owner.map(|o| o.to_string()),
                    owner_name: entry.owner_name.clone(),
                    approved: entry.has_status(Status::Approved),
                    snippet: hit.snippet.map(|s| s.text),
                })
            })
            .collect())
    }

    pub(super) fn answer_orgs(&mut self) -> Result<Vec<OrgActivity>, AnswerError> {
        self.refresh_catalog()?;
        let mut orgs: BTreeMap<OrgNumber, OrgActivity> = BTreeMap::new();
        let blank = |org: OrgNumber, name: String, kind: String, admitted: bool| OrgActivity {
            org: org.to_string(),
            name,
            kind,
            admitted,
            shares: Vec::new(),
            maintains: Vec::new(),
            adopts: Vec::new(),
            captains: Vec::new(),
            endorses: Vec::new(),
            participates: Vec::new(),
        };
        if let Some(trust) = self.engine.trust() {
            for view in trust.orgs() {
                orgs.insert(
                    view.org,
                    blank(view.org, view.name, view.kind.to_string(), view.admitted),
                );
            }
        }
        let mut entries: Vec<&CatalogEntry> = self.catalog.entries.values().collect();
        entries.sort_by(|a, b| a.title.cmp(&b.title).then(a.id.cmp(&b.id)));
        for entry in entries {
            if let Some(owner) = entry.owner {
                orgs.entry(owner)
                    .or_insert_with(|| {
                        blank(
                            owner,
                            entry.owner_name.clone().unwrap_or_default(),
                            String::new(),
                            false,
                        )
                    })
                    .shares
                    .push(artefact_ref(entry));
            }
            for m in &entry.maintainers {
                if Some(m.org) == entry.owner {
                    continue;
                }
                orgs.entry(m.org)
                    .or_insert_with(|| {
                        blank(
                            m.org,
                            m.name.clone().unwrap_or_default(),
                            String::new(),
                            false,
                        )
                    })
                    .maintains
                    .push(artefact_ref(entry));
            }
            for a in &entry.adopters {
                orgs.entry(a.org)
                    .or_insert_with(|| {
                        blank(
                            a.org,
                            a.name.clone().unwrap_or_default(),
                            String::new(),
                            false,
                        )
                    })
                    .adopts
                    .push(artefact_ref(entry));
            }
            for e in entry.endorsements.iter().filter(|e| e.vouches()) {
                orgs.entry(e.curator)
                    .or_insert_with(|| {
                        blank(e.curator, e.curator_name.clone(), String::new(), false)
                    })
                    .endorses
                    .push(artefact_ref(entry));
            }
        }
        for initiative in self.engine.initiatives() {
            let reference = ArtefactRef {
                id: initiative.id.to_hex(),
                title: initiative.title.clone(),
                kind: "initiative".into(),
            };
            orgs.entry(initiative.captain)
                .or_insert_with(|| {
                    blank(
                        initiative.captain,
                        initiative.captain_name.clone(),
                        String::new(),
                        false,
                    )
                })
                .captains
                .push(reference.clone());
            for (org, name) in &initiative.participants {
                orgs.entry(*org)
                    .or_insert_with(|| blank(*org, name.clone(), String::new(), false))
                    .participates
                    .push(reference.clone());
            }
        }
        Ok(orgs.into_values().collect())
    }

    /// An initiative for the control API. Linked artefacts are named from the store's
    /// summaries, so listing initiatives does not build the catalogue.
    fn initiative_info(
        view: InitiativeView,
        summaries: &HashMap<ArtefactId, (String, String)>,
    ) -> InitiativeInfo {
        let artefacts = view
            .artefacts
            .iter()
            .map(|id| {
                let (title, kind) = summaries.get(id).cloned().unwrap_or_default();
                ArtefactRef {
                    id: id.to_hex(),
                    title,
                    kind,
                }
            })
            .collect();
        InitiativeInfo {
            id: view.id.to_hex(),
            title: view.title,
            description: view.description,
            status: view.status.to_string(),
            captain: view.captain.to_string(),
            captain_name: view.captain_name,
            participants: view
                .participants
                .into_iter()
                .map(|(org, name)| OrgName {
                    org: org.to_string(),
                    name,
                })
                .collect(),
            artefacts,
            created: view.created,
            updated: view.updated,
        }
    }

    /// Title and kind of every artefact held, by id.
    fn summaries(&self) -> Result<HashMap<ArtefactId, (String, String)>, AnswerError> {
        Ok(self
            .engine
            .list()?
            .into_iter()
            .map(|s| (s.id, (s.title, s.kind)))
            .collect())
    }

    fn initiative_answer(&self, view: InitiativeView) -> Result<InitiativeInfo, AnswerError> {
        Ok(Self::initiative_info(view, &self.summaries()?))
    }

    /// The initiative whose id is or starts with `text`.
    fn find_initiative(&mut self, text: &str) -> Result<InitiativeView, AnswerError> {
        let wanted = text.trim().to_ascii_lowercase();
        if wanted.is_empty() {
            return Err(invalid("give an initiative id"));
        }
        let mut matches: Vec<InitiativeView> = self
            .engine
            .initiatives()
            .into_iter()
            .filter(|i| i.id.to_hex().starts_with(&wanted))
            .collect();
        match matches.len() {
            0 => Err(invalid(format!(
                "no initiative {text} is known to this node (`allmenning initiative list` lists them)"
            ))),
            1 => Ok(matches.remove(0)),
            n => Err(invalid(format!(
                "{n} initiatives start with {text:?}: give more of the id"
            ))),
        }
    }

    pub(super) fn answer_initiative_new(
        &mut self,
        title: &str,
        description: &str,
        artefacts: &[String],
    ) -> Result<InitiativeInfo, AnswerError> {
        let mut ids = Vec::new();
        for a in artefacts {
            ids.push(self.engine.resolve(a)?);
        }
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let id = self
            .engine
            .new_initiative(title, description, ids, id, super::now_secs())?;
        let view = self
            .engine
            .initiatives()
            .into_iter()
            .find(|i| i.id == id)
            .ok_or_else(|| invalid("the initiative was signed but is not in force (is this organisation admitted?)"))?;
        self.initiative_answer(view)
    }

    pub(super) fn answer_initiative_join(
        &mut self,
        text: &str,
    ) -> Result<InitiativeInfo, AnswerError> {
        let id: InitiativeId = self.find_initiative(text)?.id;
        self.engine.join_initiative(&id, super::now_secs())?;
        let view = self.find_initiative(&id.to_hex())?;
        self.initiative_answer(view)
    }

    pub(super) fn answer_initiative_update(
        &mut self,
        text: &str,
        status: Option<&str>,
        artefacts: &[String],
    ) -> Result<InitiativeInfo, AnswerError> {
        let id: InitiativeId = self.find_initiative(text)?.id;
        let status = status
            .map(|s| {
                s.parse::<allmenning_protocol::trust::InitiativeStatus>()
                    .map_err(|e| invalid(e.to_string()))
            })
            .transpose()?;
        let mut link = Vec::new();
        for a in artefacts {
            link.push(self.engine.resolve(a)?);
        }
        self.engine
            .update_initiative(&id, status, link, super::now_secs())?;
        let view = self.find_initiative(&id.to_hex())?;
        self.initiative_answer(view)
    }

    pub(super) fn answer_initiative_show(
        &mut self,
        text: &str,
    ) -> Result<InitiativeInfo, AnswerError> {
        let view = self.find_initiative(text)?;
        self.initiative_answer(view)
    }

    pub(super) fn answer_initiatives(&mut self) -> Result<Vec<InitiativeInfo>, AnswerError> {
        let summaries = self.summaries()?;
        Ok(self
            .engine
            .initiatives()
            .into_iter()
            .map(|v| Self::initiative_info(v, &summaries))
            .collect())
    }
}
