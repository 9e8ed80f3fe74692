//! Full-text search over the catalogue, with a Norwegian analyser.
//!
//! Shared material is useless if nobody can find it: the strategy behind Allmenning asks for a
//! sharing arena "with structure and search". Each node indexes the artefacts it holds (title,
//! description, tags, kind, owner, and the text of their files) in a local tantivy index, so a
//! search works offline, reveals nothing to other nodes and costs no network round trip.
//!
//! Norwegian words inflect ("foreldrebetaling", "foreldrebetalingen", "foreldrebetalinger"), so
//! every text field goes through the same analyser at index and at query time: words split on
//! anything that is not a letter or digit, very long tokens dropped, lower-cased, then reduced to
//! their stem by the Snowball Norwegian stemmer. A title match counts more than one in the
//! description or the files. Queries come from people typing in a search box, so they are parsed
//! leniently: stray quotes or brackets never fail a search, and only a query with nothing
//! searchable left and a syntax problem (such as an unknown field) is refused, with the reason.
//!
//! The index is derived data: the node can delete its directory and index everything again.

mod body;
#[cfg(test)]
mod tests;

pub use body::{body_text, MAX_BODY_BYTES, MAX_FILE_TEXT_BYTES};

use allmenning_protocol::artefact::ArtefactId;
use allmenning_protocol::catalog::CatalogEntry;
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::path::{Path, PathBuf};
use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::{Query, QueryParser};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, STORED, STRING,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer,
    TokenizerManager,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, TantivyError, Term};

/// Name under which the Norwegian analyser is registered with the index.
pub const NORWEGIAN_ANALYSER: &str = "norwegian_stem";
/// Tokens longer than this many bytes are dropped (hashes, base64, minified code).
const MAX_TOKEN_BYTES: usize = 40;
/// Memory the writer buffers before it writes a segment: tantivy's minimum for one thread, plus
/// headroom, to keep the node's footprint small.
const WRITER_MEMORY_BYTES: usize = 32 * 1024 * 1024;
/// Most hits one search returns, whatever the caller asks for.
pub const MAX_HITS: usize = 1000;
/// Longest query accepted, in bytes: a search box needs far less, and every word costs a lookup.
pub const MAX_QUERY_BYTES: usize = 1024;
/// Longest snippet, in characters.
const SNIPPET_CHARS: usize = 160;
/// How much a match in each field weighs against one in the description or the files.
const TITLE_BOOST: f32 = 3.0;
const TAGS_BOOST: f32 = 2.0;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("cannot create the search index directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the search index in {path} was written with another layout; remove that directory and \
         the node indexes everything again"
    )]
    Incompatible { path: PathBuf },
    #[error("the search index in {path} is in use by another process")]
    Locked { path: PathBuf },
    #[error("cannot search for {query:?}: {reason}")]
    Query { query: String, reason: String },
    #[error("search index: {0}")]
    Index(#[from] TantivyError),
}

/// Part of a matching text around the words that matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HitSnippet {
    pub text: String,
    /// Byte ranges of `text` that matched the query.
    pub highlighted: Vec<Range<usize>>,
}

/// One search result, best first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// The artefact id, 32 hex digits.
    pub id: String,
    /// Relevance (BM25 with field boosts); only the order is meaningful.
    pub score: f32,
    pub title: String,
    /// Where the query matched in the description or the files, if it did there.
    pub snippet: Option<HitSnippet>,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    title: Field,
    description: Field,
    body: Field,
    tags: Field,
    kind: Field,
    owner: Field,
}

fn schema() -> (Schema, Fields) {
    let text = |stored: bool| {
        let options = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(NORWEGIAN_ANALYSER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        if stored {
            options.set_stored()
        } else {
            options
        }
    };
    let mut builder = Schema::builder();
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED),
        title: builder.add_text_field("title", text(true)),
        description: builder.add_text_field("description", text(true)),
        body: builder.add_text_field("body", text(true)),
        tags: builder.add_text_field("tags", text(false)),
        kind: builder.add_text_field("kind", text(false)),
        owner: builder.add_text_field("owner", text(false)),
    };
    (builder.build(), fields)
}

fn tokenizers() -> TokenizerManager {
    let manager = TokenizerManager::default();
    manager.register(
        NORWEGIAN_ANALYSER,
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
            .filter(LowerCaser)
            .filter(Stemmer::new(Language::Norwegian))
            .build(),
    );
    manager
}

/// A full-text index of catalogue entries. Changes become visible to `search` after `commit`;
/// commit in batches (a commit writes files and costs milliseconds).
pub struct SearchIndex {
    writer: IndexWriter,
    reader: IndexReader,
    parser: QueryParser,
    fields: Fields,
}

impl SearchIndex {
    /// Opens the index in `dir`, creating the directory and an empty index if needed. One
    /// process at a time may hold it.
    pub fn open(dir: &Path) -> Result<SearchIndex, SearchError> {
        std::fs::create_dir_all(dir).map_err(|source| SearchError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let directory = MmapDirectory::open(dir).map_err(TantivyError::from)?;
        let (schema, fields) = schema();
        let index = Index::builder()
            .schema(schema)
            .tokenizers(tokenizers())
            .open_or_create(directory)
            .map_err(|e| match e {
                TantivyError::SchemaError(_) => SearchError::Incompatible {
                    path: dir.to_path_buf(),
                },
                other => SearchError::Index(other),
            })?;
        Self::from_index(index, fields).map_err(|e| match e {
            SearchError::Index(TantivyError::LockFailure(..)) => SearchError::Locked {
                path: dir.to_path_buf(),
            },
            other => other,
        })
    }

    /// An index held in memory only, for tests and benchmarks.
    pub fn in_memory() -> Result<SearchIndex, SearchError> {
        let (schema, fields) = schema();
        let index = Index::builder()
            .schema(schema)
            .tokenizers(tokenizers())
            .create_in_ram()?;
        Self::from_index(index, fields)
    }

    fn from_index(index: Index, fields: Fields) -> Result<SearchIndex, SearchError> {
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY_BYTES)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let mut parser = QueryParser::for_index(
            &index,
            vec![
                fields.title,
                fields.description,
                fields.body,
                fields.tags,
                fields.kind,
                fields.owner,
            ],
        );
        parser.set_field_boost(fields.title, TITLE_BOOST);
        parser.set_field_boost(fields.tags, TAGS_BOOST);
        Ok(SearchIndex {
            writer,
            reader,
            parser,
            fields,
        })
    }

    /// Indexes `entry` with `body` (the text of its files, see [`body_text`]; cut at
    /// [`MAX_BODY_BYTES`]), replacing whatever was indexed for the same id.
    pub fn upsert(&mut self, entry: &CatalogEntry, body: &str) -> Result<(), SearchError> {
        let f = self.fields;
        let id = entry.id.to_hex();
        self.writer
            .delete_term(Term::from_field_text(f.id, id.as_str()));
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, id.as_str());
        doc.add_text(f.title, entry.title.as_str());
        doc.add_text(f.description, entry.description.as_str());
        doc.add_text(f.body, body::truncate_at_char(body, MAX_BODY_BYTES));
        for tag in &entry.tags {
            doc.add_text(f.tags, tag.as_str());
        }
        // A LOS theme is a classification like a tag, and found the same way.
        if let Some(theme) = &entry.los_theme {
            doc.add_text(f.tags, theme.as_str());
        }
        doc.add_text(f.kind, entry.kind.as_str());
        if let Some(owner) = entry.owner {
            doc.add_text(f.owner, owner.to_string());
        }
        if let Some(name) = &entry.owner_name {
            doc.add_text(f.owner, name.as_str());
        }
        self.writer.add_document(doc)?;
        Ok(())
    }

    /// Removes an artefact from the index (nothing happens if it is not there).
    pub fn remove(&mut self, id: &ArtefactId) {
        self.writer
            .delete_term(Term::from_field_text(self.fields.id, &id.to_hex()));
    }

    /// Makes every upsert and removal so far durable and visible to `search`.
    pub fn commit(&mut self) -> Result<(), SearchError> {
        self.writer.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Number of artefacts visible to `search`.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The best `limit` (at most [`MAX_HITS`]) matches for `query`, best first. The query
    /// language is tantivy's (`"exact phrase"`, `-excluded`, `title:word`), parsed leniently.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Hit>, SearchError> {
        let limit = limit.min(MAX_HITS);
        if query.trim().is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        if query.len() > MAX_QUERY_BYTES {
            return Err(SearchError::Query {
                query: body::truncate_at_char(query, 64).to_string() + "...",
                reason: format!(
                    "the query is {} bytes long; at most {MAX_QUERY_BYTES} are accepted",
                    query.len()
                ),
            });
        }
        let (parsed, problems) = self.parser.parse_query_lenient(query);
        if let Some(problem) = problems.first() {
            if !has_terms(parsed.as_ref()) {
                return Err(SearchError::Query {
                    query: query.to_string(),
                    reason: problem.to_string(),
                });
            }
        }
        let searcher = self.reader.searcher();
        let top = searcher.search(
            parsed.as_ref(),
            &TopDocs::with_limit(limit).order_by_score(),
        )?;
        if top.is_empty() {
            return Ok(Vec::new());
        }
        let mut snippet_sources = Vec::new();
        for field in [self.fields.description, self.fields.body] {
            let mut generator = SnippetGenerator::create(&searcher, parsed.as_ref(), field)?;
            generator.set_max_num_chars(SNIPPET_CHARS);
            snippet_sources.push((field, generator));
        }
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text_of = |field: Field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let snippet = snippet_sources.iter().find_map(|(field, generator)| {
                let snippet = generator.snippet(&text_of(*field));
                (!snippet.highlighted().is_empty()).then(|| HitSnippet {
                    text: snippet.fragment().to_string(),
                    highlighted: snippet.highlighted().to_vec(),
                })
            });
            hits.push(Hit {
                id: text_of(self.fields.id),
                score,
                title: text_of(self.fields.title),
                snippet,
            });
        }
        Ok(hits)
    }
}

/// True if the query looks for at least one term (an unknown field leaves none).
fn has_terms(query: &dyn Query) -> bool {
    let mut any = false;
    query.query_terms(&mut |_, _| any = true);
    any
}
