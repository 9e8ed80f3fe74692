//! Search behaviour that users notice: inflected words, ranking, replacing and removing entries,
//! hostile queries, and an index that survives a restart.

use super::*;
use allmenning_protocol::catalog::Visibility;
use allmenning_protocol::OrgNumber;

fn bergen() -> OrgNumber {
    OrgNumber::parse("964338531").expect("valid org number")
}

fn entry(n: u8, title: &str, description: &str, tags: &[&str]) -> CatalogEntry {
    CatalogEntry {
        id: ArtefactId([n; 16]),
        title: title.into(),
        kind: "integration".into(),
        description: description.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        owner: Some(bergen()),
        owner_name: Some("Bergen kommune".into()),
        maintainers: Vec::new(),
        endorsements: Vec::new(),
        adopters: Vec::new(),
        based_on: None,
        based_on_version: Vec::new(),
        los_theme: None,
        visibility: Visibility::Public,
        created: 1_700_000_000,
        updated: 1_700_000_000,
        head_count: 1,
        file_count: 1,
        size: 1,
        conflicts: 0,
    }
}

fn ids(hits: &[Hit]) -> Vec<String> {
    hits.iter().map(|h| h.id.clone()).collect()
}

fn hex(n: u8) -> String {
    ArtefactId([n; 16]).to_hex()
}

#[test]
fn an_inflected_form_finds_the_base_form() {
    let mut index = SearchIndex::in_memory().expect("index");
    let wanted = entry(1, "Foreldrebetaling i barnehage", "", &[]);
    index.upsert(&wanted, "").expect("upsert");
    index
        .upsert(&entry(2, "Byggesak", "Søknad om rammetillatelse", &[]), "")
        .expect("upsert");
    index.commit().expect("commit");

    let hits = index.search("foreldrebetalingen", 10).expect("search");
    assert_eq!(ids(&hits), vec![hex(1)]);
    assert_eq!(hits[0].title, "Foreldrebetaling i barnehage");
    let hits = index.search("barnehagene", 10).expect("search");
    assert_eq!(ids(&hits), vec![hex(1)]);
    let hits = index.search("FORELDREBETALING", 10).expect("search");
    assert_eq!(ids(&hits), vec![hex(1)]);
}

#[test]
fn a_title_match_ranks_above_a_body_only_match() {
    let mut index = SearchIndex::in_memory().expect("index");
    // Indexed first, so that insertion order cannot explain the ranking.
    index
        .upsert(
            &entry(1, "Veileder for arkiv", "", &[]),
            "Denne veilederen nevner også søknad om skoleskyss i et avsnitt.",
        )
        .expect("upsert");
    index
        .upsert(
            &entry(2, "Skoleskyss", "Saksbehandling i kommunen", &[]),
            "",
        )
        .expect("upsert");
    index.commit().expect("commit");

    let hits = index.search("skoleskyss", 10).expect("search");
    assert_eq!(ids(&hits), vec![hex(2), hex(1)]);
    assert!(hits[0].score > hits[1].score);
}

#[test]
fn files_and_tags_and_owner_are_searchable() {
    let mut index = SearchIndex::in_memory().expect("index");
    let mut with_theme = entry(1, "Integrasjon", "", &["økonomi"]);
    with_theme.los_theme = Some("Barnehage".into());
    index
        .upsert(
            &with_theme,
            &body_text([("flyt/vedtak.bpmn", b"<bpmn/>" as &[u8])]),
        )
        .expect("upsert");
    index.commit().expect("commit");
    for query in [
        "vedtak",
        "økonomi",
        "barnehage",
        "bergen",
        "964338531",
        "integration",
    ] {
        let hits = index.search(query, 10).expect("search");
        assert_eq!(ids(&hits), vec![hex(1)], "query {query:?}");
    }
}

#[test]
fn upsert_replaces_the_earlier_version() {
    let mut index = SearchIndex::in_memory().expect("index");
    index
        .upsert(&entry(1, "Foreldrebetaling", "gammel beskrivelse", &[]), "")
        .expect("upsert");
    index.commit().expect("commit");
    index
        .upsert(
            &entry(1, "Foreldrebetaling i barnehage", "ny beskrivelse", &[]),
            "",
        )
        .expect("upsert");
    // Twice in one batch, too.
    index
        .upsert(
            &entry(1, "Foreldrebetaling i barnehage", "ny beskrivelse", &[]),
            "",
        )
        .expect("upsert");
    index.commit().expect("commit");

    let hits = index.search("foreldrebetaling", 10).expect("search");
    assert_eq!(ids(&hits), vec![hex(1)]);
    assert_eq!(hits[0].title, "Foreldrebetaling i barnehage");
    assert!(index.search("gammel", 10).expect("search").is_empty());
    assert_eq!(index.num_docs(), 1);
}

#[test]
fn remove_drops_the_entry() {
    let mut index = SearchIndex::in_memory().expect("index");
    index
        .upsert(&entry(1, "Foreldrebetaling", "", &[]), "")
        .expect("upsert");
    index
        .upsert(&entry(2, "Foreldrebetaling for SFO", "", &[]), "")
        .expect("upsert");
    index.commit().expect("commit");
    index.remove(&ArtefactId([1; 16]));
    index.remove(&ArtefactId([9; 16])); // not indexed: nothing happens
    index.commit().expect("commit");

    let hits = index.search("foreldrebetaling", 10).expect("search");
    assert_eq!(ids(&hits), vec![hex(2)]);
    assert_eq!(index.num_docs(), 1);
}

#[test]
fn changes_are_invisible_until_commit() {
    let mut index = SearchIndex::in_memory().expect("index");
    index
        .upsert(&entry(1, "Foreldrebetaling", "", &[]), "")
        .expect("upsert");
    assert!(index
        .search("foreldrebetaling", 10)
        .expect("search")
        .is_empty());
    index.commit().expect("commit");
    assert_eq!(
        index.search("foreldrebetaling", 10).expect("search").len(),
        1
    );
}

#[test]
fn the_snippet_shows_where_the_description_or_files_matched() {
    let mut index = SearchIndex::in_memory().expect("index");
    index
        .upsert(
            &entry(
                1,
                "Automatisering",
                "Beregner redusert foreldrebetaling per barn",
                &[],
            ),
            "",
        )
        .expect("upsert");
    index
        .upsert(
            &entry(2, "Veileder", "", &[]),
            "Slik søker du om foreldrebetalingen.",
        )
        .expect("upsert");
    index
        .upsert(&entry(3, "Foreldrebetaling", "Ingen treff her", &[]), "")
        .expect("upsert");
    index.commit().expect("commit");

    let hits = index.search("foreldrebetaling", 10).expect("search");
    let snippet_of = |n: u8| {
        hits.iter()
            .find(|h| h.id == hex(n))
            .expect("hit")
            .snippet
            .clone()
    };
    let from_description = snippet_of(1).expect("snippet from the description");
    let highlighted: Vec<&str> = from_description
        .highlighted
        .iter()
        .map(|r| &from_description.text[r.clone()])
        .collect();
    assert_eq!(highlighted, vec!["foreldrebetaling"]);
    let from_body = snippet_of(2).expect("snippet from the files");
    assert!(from_body.text.contains("foreldrebetalingen"));
    assert_eq!(snippet_of(3), None, "title-only match has no snippet");
}

#[test]
fn the_limit_caps_the_hits() {
    let mut index = SearchIndex::in_memory().expect("index");
    for n in 0..20 {
        index
            .upsert(&entry(n, &format!("Barnehage {n}"), "", &[]), "")
            .expect("upsert");
    }
    index.commit().expect("commit");
    assert_eq!(index.search("barnehage", 5).expect("search").len(), 5);
    assert!(index.search("barnehage", 0).expect("search").is_empty());
    assert_eq!(
        index.search("barnehage", usize::MAX).expect("search").len(),
        20
    );
}

#[test]
fn hostile_or_malformed_queries_do_not_panic() {
    let mut index = SearchIndex::in_memory().expect("index");
    index
        .upsert(&entry(1, "Foreldrebetaling (barnehage)", "", &[]), "")
        .expect("upsert");
    index.commit().expect("commit");
    let long = "ord ".repeat(10_000);
    let queries = [
        "",
        "   ",
        "\"",
        "\"foreldrebetaling",
        "(foreldrebetaling",
        "foreldrebetaling)",
        "title:",
        ":",
        "AND OR NOT",
        "+",
        "-",
        "[a TO",
        "{* TO *}",
        "title:[a TO z]",
        "*",
        "foreldre*",
        "~",
        "foreldrebetaling^",
        "foreldrebetaling^abc",
        "id:",
        "\u{0}\u{feff}🦀",
        "IN [",
        long.as_str(),
    ];
    for query in queries {
        match index.search(query, 10) {
            Ok(_) | Err(SearchError::Query { .. }) => {}
            Err(other) => panic!("query {query:?} failed with {other}"),
        }
    }
    // Stray syntax around a real word still finds it.
    for query in [
        "\"foreldrebetaling",
        "(foreldrebetaling",
        "foreldrebetaling)",
    ] {
        let hits = index.search(query, 10).expect("lenient search");
        assert_eq!(ids(&hits), vec![hex(1)], "query {query:?}");
    }
}

#[test]
fn a_query_with_nothing_searchable_says_why() {
    let index = SearchIndex::in_memory().expect("index");
    match index.search("finnesikke:foreldrebetaling", 10) {
        Err(SearchError::Query { query, reason }) => {
            assert_eq!(query, "finnesikke:foreldrebetaling");
            assert!(reason.contains("finnesikke"), "reason: {reason}");
        }
        other => panic!("expected a query error, got {other:?}"),
    }
}

#[test]
fn an_overlong_query_is_refused_with_its_length() {
    let index = SearchIndex::in_memory().expect("index");
    let long = "foreldrebetaling ".repeat(100);
    match index.search(&long, 10) {
        Err(SearchError::Query { reason, .. }) => {
            assert!(reason.contains(&long.len().to_string()), "reason: {reason}")
        }
        other => panic!("expected a query error, got {other:?}"),
    }
}

#[test]
fn the_index_survives_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("search");
    {
        let mut index = SearchIndex::open(&path).expect("open");
        index
            .upsert(&entry(1, "Foreldrebetaling i barnehage", "", &[]), "")
            .expect("upsert");
        index.commit().expect("commit");
    }
    let index = SearchIndex::open(&path).expect("reopen");
    assert_eq!(index.num_docs(), 1);
    let hits = index.search("foreldrebetalingen", 10).expect("search");
    assert_eq!(ids(&hits), vec![hex(1)]);
}

#[test]
fn a_second_writer_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = SearchIndex::open(dir.path()).expect("open");
    match SearchIndex::open(dir.path()) {
        Err(SearchError::Locked { path }) => assert_eq!(path, dir.path()),
        Err(other) => panic!("expected Locked, got {other}"),
        Ok(_) => panic!("expected Locked, got a second index"),
    }
}

#[test]
fn hits_and_entries_serialise_with_hex_ids() {
    let mut index = SearchIndex::in_memory().expect("index");
    let mut catalogued = entry(1, "Foreldrebetaling", "", &[]);
    catalogued.based_on = Some(ArtefactId([2; 16]));
    index.upsert(&catalogued, "").expect("upsert");
    index.commit().expect("commit");
    let hits = index.search("foreldrebetaling", 1).expect("search");
    let hit_json = serde_json::to_value(&hits[0]).expect("json");
    assert_eq!(hit_json["id"], hex(1));

    let entry_json = serde_json::to_value(&catalogued).expect("json");
    assert_eq!(entry_json["id"], hex(1));
    assert_eq!(entry_json["based_on"], hex(2));
    assert_eq!(entry_json["owner"], "964338531");
    assert_eq!(entry_json["visibility"], "public");
    let back: CatalogEntry = serde_json::from_value(entry_json).expect("from json");
    assert_eq!(back, catalogued);
}
