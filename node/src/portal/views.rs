//! The portal's pages as HTML, with [`maud`]: every value spliced in with `(...)` is escaped, so
//! nothing another organisation wrote can add markup. The only unescaped text is the style sheet
//! below, a constant.

use super::text;
use super::{CatalogueParams, FilterOptions, InitiativeCard, Row};
use crate::control::{ArtefactDetail, ArtefactRef, LogEntry, OrgActivity};
use allmenning_protocol::catalog::{CatalogEndorsement, CatalogEntry, OrgRef, Status};
use allmenning_protocol::Kind;
use maud::{html, Markup, PreEscaped, DOCTYPE};

/// The section a page belongs to, for the navigation's `aria-current`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Catalogue,
    Reference,
    Who,
    Initiatives,
    None,
}

const STYLE: &str = r#"
:root{--blaa:#0b3d6b;--blaa2:#134e85;--tekst:#1b1f24;--svak:#4b5563;--linje:#d5dae1;--flate:#fff;--bak:#f4f6f9}
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;line-height:1.5;color:var(--tekst);background:var(--bak)}
a{color:var(--blaa2)}
a:hover{text-decoration-thickness:2px}
:focus-visible{outline:3px solid #f2a900;outline-offset:2px}
.hopp{position:absolute;left:-9999px;top:0}
.hopp:focus{left:1rem;top:.5rem;background:#fff;color:var(--blaa);padding:.5rem 1rem;z-index:10}
.ramme{max-width:66rem;margin:0 auto;padding:0 1.25rem}
header.topp{background:var(--blaa);color:#fff}
header.topp .ramme{display:flex;flex-wrap:wrap;align-items:baseline;justify-content:space-between;gap:.25rem 2rem;padding-top:.9rem;padding-bottom:.4rem}
.merkevare{color:#fff;text-decoration:none;font-size:1.35rem;font-weight:700;letter-spacing:.02em}
.merkevare small{display:block;font-size:.8rem;font-weight:400;opacity:.85;letter-spacing:0}
nav ul{list-style:none;display:flex;flex-wrap:wrap;gap:.25rem 1.4rem;margin:0;padding:0}
nav a{color:#fff;text-decoration:none;display:inline-block;padding:.35rem 0;border-bottom:3px solid transparent;font-weight:500}
nav a:hover{border-bottom-color:rgba(255,255,255,.5)}
nav a[aria-current=page]{border-bottom-color:#f2a900}
main.ramme{padding-top:1.5rem;padding-bottom:3rem}
h1{font-size:1.8rem;line-height:1.2;margin:.5rem 0 1rem}
h2{font-size:1.3rem;margin:2rem 0 .6rem}
h3{font-size:1.05rem;margin:1.2rem 0 .4rem}
.ingress{color:var(--svak);max-width:46rem;margin-top:-.4rem}
form.sok{background:var(--flate);border:1px solid var(--linje);border-radius:10px;padding:1rem 1.1rem;display:grid;grid-template-columns:repeat(auto-fit,minmax(11rem,1fr));gap:.8rem 1rem;align-items:end}
form.sok .felt-q{grid-column:1/-1}
label{display:block;font-weight:600;font-size:.9rem;margin-bottom:.2rem}
input[type=search],select{width:100%;padding:.5rem .55rem;border:1px solid #8a94a3;border-radius:6px;font:inherit;background:#fff;color:inherit}
input[type=search]{font-size:1.05rem}
.knapper{display:flex;gap:.8rem;align-items:center}
button{background:var(--blaa);color:#fff;border:0;border-radius:6px;padding:.55rem 1.2rem;font:inherit;font-weight:600;cursor:pointer}
button:hover{background:var(--blaa2)}
.antall{color:var(--svak);margin:1rem 0 .25rem}
ul.liste{list-style:none;padding:0;margin:.5rem 0}
ul.liste>li{background:var(--flate);border:1px solid var(--linje);border-radius:10px;padding:.85rem 1.1rem;margin:.7rem 0}
ul.liste h2,ul.liste h3,ul.liste h4{margin:0 0 .25rem;font-size:1.1rem}
.meta{color:var(--svak);font-size:.9rem;margin:.15rem 0}
.beskrivelse{margin:.35rem 0}
.utdrag{margin:.35rem 0;padding-left:.7rem;border-left:3px solid var(--linje);color:var(--svak);font-size:.92rem}
.merker{display:flex;flex-wrap:wrap;gap:.35rem;margin:.35rem 0}
.merke{display:inline-block;font-size:.8rem;font-weight:600;padding:.1rem .55rem;border-radius:999px;background:#e6ebf2;color:#1f3550;white-space:nowrap}
.merke.type{background:#e8e4f5;color:#3a2a73}
.merke.godkjent{background:#d8f0e1;color:#0d4a2b}
.merke.anbefalt{background:#dcebfa;color:#0d3a66}
.merke.advarsel{background:#fbe3e2;color:#7a1f1a}
.emneord a{font-size:.85rem;margin-right:.6rem}
dl.fakta{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1.2rem;background:var(--flate);border:1px solid var(--linje);border-radius:10px;padding:1rem 1.1rem;margin:0}
dl.fakta dt{font-weight:600}
dl.fakta dd{margin:0;min-width:0}
table{border-collapse:collapse;width:100%;background:var(--flate);border:1px solid var(--linje);border-radius:10px;overflow:hidden}
caption{text-align:left;color:var(--svak);padding:.3rem 0}
th,td{text-align:left;padding:.45rem .7rem;border-bottom:1px solid #e7eaef;vertical-align:top}
th{background:#eef1f5;font-size:.9rem}
.tall{text-align:right;white-space:nowrap}
code,.kode{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em;overflow-wrap:anywhere}
pre.kode{background:#0f1b2a;color:#e6edf3;padding:.7rem .9rem;border-radius:8px;overflow-x:auto}
.tom{color:var(--svak);font-style:italic}
.visuelt-skjult{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.tekst{white-space:pre-line;max-width:48rem}
.varsel{background:#fff7e0;border:1px solid #e8c66a;border-radius:8px;padding:.6rem .9rem}
.sider{display:flex;gap:1rem;align-items:center;margin:1rem 0}
.kolonner{display:grid;grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:.5rem 1.5rem}
.kolonner h4{margin:.4rem 0 .2rem;font-size:.95rem}
.kolonner ul{margin:0;padding-left:1.1rem}
footer{border-top:1px solid var(--linje);color:var(--svak);font-size:.85rem;padding:1rem 0 2rem}
@media (max-width:36rem){dl.fakta{grid-template-columns:1fr}dl.fakta dd{margin-bottom:.4rem}}
"#;

fn layout(title: &str, section: Section, main: Markup) -> Markup {
    let nav = [
        (Section::Catalogue, "/", "Katalog"),
        (
            Section::Reference,
            "/referansearkitektur",
            "Referansearkitektur",
        ),
        (Section::Who, "/hvem", "Hvem gjør hva"),
        (Section::Initiatives, "/initiativ", "Initiativ"),
    ];
    html! {
        (DOCTYPE)
        html lang="nb" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " – Allmenning" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                a.hopp href="#innhold" { "Hopp til hovedinnholdet" }
                header.topp {
                    div.ramme {
                        a.merkevare href="/" {
                            "Allmenning"
                            small { "Den nasjonale allmenningen for kommunal digitalisering" }
                        }
                        nav aria-label="Hovedmeny" {
                            ul {
                                @for (s, href, label) in nav {
                                    li {
                                        @if s == section {
                                            a href=(href) aria-current="page" { (label) }
                                        } @else {
                                            a href=(href) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                main #innhold .ramme tabindex="-1" { (main) }
                footer {
                    div.ramme {
                        "Allmenning – lesevisning fra denne noden. Bare offentlige artefakter vises; "
                        "artefakter som er delt med utvalgte organisasjoner, vises aldri her."
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pieces
// ---------------------------------------------------------------------------------------------

fn artefact_href(id: &str) -> String {
    format!("/artefakt/{id}")
}

fn org_name(org: &OrgRef) -> String {
    org.name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| org.org.to_string())
}

fn owner_name(entry: &CatalogEntry) -> Option<String> {
    entry
        .owner_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| entry.owner.map(|o| o.to_string()))
}

fn curator_name(e: &CatalogEndorsement) -> String {
    if e.curator_name.trim().is_empty() {
        e.curator.to_string()
    } else {
        e.curator_name.clone()
    }
}

/// "Godkjent av KS".
fn endorsement_badge(e: &CatalogEndorsement) -> Markup {
    html! {
        span class=(text::endorsement_class(e.status)) {
            (text::endorsement_label(e.status)) " av " (curator_name(e))
        }
    }
}

/// Where an endorsed version stands against the version this node holds.
fn endorsement_currency(e: &CatalogEndorsement) -> String {
    if e.current {
        "gjelder gjeldende versjon".into()
    } else if e.changes_since > 0 {
        format!(
            "{} etter den godkjente versjonen",
            text::count(e.changes_since, "endring", "endringer")
        )
    } else {
        "gjelder en annen versjon enn den gjeldende".into()
    }
}

/// The first paragraph of a description, cut at about `max` characters.
fn excerpt(description: &str, max: usize) -> String {
    let first = description
        .split("\n\n")
        .map(str::trim)
        .find(|p| !p.is_empty())
        .unwrap_or("");
    let flat: String = first.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max).collect();
        let cut = cut.rsplit_once(' ').map(|(a, _)| a).unwrap_or(&cut);
        format!("{cut} …")
    }
}

/// One artefact in a list: title, kind, curators' verdicts, owner, date, tags, description.
fn entry_card(entry: &CatalogEntry, snippet: Option<&str>, heading: u8) -> Markup {
    let id = entry.id.to_hex();
    let title = html! { a href=(artefact_href(&id)) { (entry.title) } };
    html! {
        li {
            @match heading {
                2 => h2 { (title) },
                _ => h3 { (title) },
            }
            div.merker {
                span.merke.type { (text::kind_label(&entry.kind)) }
                @for e in &entry.endorsements {
                    (endorsement_badge(e))
                }
                @if entry.conflicts > 0 {
                    span.merke.konflikt { "Konflikt i " (text::count(entry.conflicts, "fil", "filer")) }
                }
            }
            p.meta {
                @if let Some(owner) = owner_name(entry) {
                    "Delt av " (owner) " · "
                }
                "Oppdatert "
                time datetime=(text::iso(entry.updated)) { (text::date(entry.updated)) }
                @if let Some(theme) = &entry.los_theme {
                    " · Tema: " (theme)
                }
            }
            @if !entry.description.trim().is_empty() {
                p.beskrivelse { (excerpt(&entry.description, 260)) }
            }
            @if let Some(snippet) = snippet.filter(|s| !s.trim().is_empty()) {
                p.utdrag { "Treff: «" (snippet.trim()) "»" }
            }
            @if !entry.tags.is_empty() {
                p.emneord.meta {
                    span.visuelt-skjult { "Emneord: " }
                    @for tag in &entry.tags {
                        a href={ "/?tag=" (text::url_encode(tag)) } { "#" (tag) }
                    }
                }
            }
        }
    }
}

fn select(name: &str, label: &str, current: &str, options: &[(String, String)]) -> Markup {
    let id = format!("felt-{name}");
    html! {
        div {
            label for=(id) { (label) }
            select id=(id) name=(name) {
                option value="" selected[current.is_empty()] { "Alle" }
                @for (value, text) in options {
                    option value=(value) selected[current == value] { (text) }
                }
            }
        }
    }
}

fn ref_list(refs: &[ArtefactRef]) -> Markup {
    html! {
        ul {
            @for r in refs {
                li {
                    a href=(artefact_href(&r.id)) { (r.title) }
                    " "
                    span.meta { "(" (text::kind_label(&r.kind)) ")" }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------------

pub(super) struct CatalogueView<'a> {
    pub params: &'a CatalogueParams,
    pub options: &'a FilterOptions,
    pub rows: &'a [Row<'a>],
    /// Rows matching the search and filters, on all pages.
    pub total: usize,
    /// Public artefacts in the whole catalogue.
    pub all: usize,
    pub page: usize,
    pub pages: usize,
}

pub(super) fn catalogue(view: &CatalogueView) -> Markup {
    let p = view.params;
    let kinds: Vec<(String, String)> = Kind::ALL
        .iter()
        .map(|k| {
            (
                k.as_str().to_string(),
                text::known_kind_label(*k).to_string(),
            )
        })
        .collect();
    let statuses: Vec<(String, String)> = Status::ALL
        .iter()
        .map(|s| {
            (
                s.as_str().to_string(),
                text::status_filter_label(*s).to_string(),
            )
        })
        .collect();
    let tags: Vec<(String, String)> = view
        .options
        .tags
        .iter()
        .map(|t| (t.clone(), t.clone()))
        .collect();
    let orgs: Vec<(String, String)> = view
        .options
        .orgs
        .iter()
        .map(|(number, name)| (number.clone(), format!("{name} ({number})")))
        .collect();
    let filtered = !(p.q.is_empty()
        && p.kind.is_empty()
        && p.status.is_empty()
        && p.tag.is_empty()
        && p.org.is_empty());
    let first = (view.page - 1) * super::PAGE_SIZE + 1;
    let last = first + view.rows.len() - usize::from(!view.rows.is_empty());
    let title = if p.q.is_empty() {
        "Katalog".to_string()
    } else {
        format!("Søk: {}", p.q)
    };
    layout(
        &title,
        Section::Catalogue,
        html! {
            h1 { "Katalog" }
            p.ingress {
                "Kode, integrasjoner, prosesser, datamodeller, DPIA-er, ROS-analyser, anskaffelseskrav "
                "og erfaringer som kommuner, fylkeskommuner, IKS-er og KS deler med hverandre. "
                "Katalogen har " (text::count(view.all, "offentlig artefakt", "offentlige artefakter")) "."
            }
            form.sok method="get" action="/" role="search" aria-label="Søk i katalogen" {
                div.felt-q {
                    label for="felt-q" { "Søk" }
                    input #felt-q type="search" name="q" value=(p.q) maxlength="500"
                        placeholder="For eksempel «foreldrebetaling» eller «sak og arkiv»";
                }
                (select("kind", "Type", &p.kind, &kinds))
                (select("status", "Status", &p.status, &statuses))
                (select("tag", "Emneord", &p.tag, &tags))
                (select("org", "Organisasjon", &p.org, &orgs))
                div.knapper {
                    button type="submit" { "Søk" }
                    @if filtered {
                        a href="/" { "Nullstill" }
                    }
                }
            }
            p.antall role="status" {
                @if view.total == 0 {
                    @if p.q.is_empty() {
                        @if filtered { "Ingen artefakter passer med filtrene." }
                        @else { "Katalogen er tom: ingen har delt noe offentlig ennå." }
                    } @else {
                        "Ingen treff for «" (p.q) "»."
                    }
                } @else {
                    @if !p.q.is_empty() {
                        (text::count(view.total, "treff", "treff")) " for «" (p.q) "»"
                    } @else {
                        (text::count(view.total, "artefakt", "artefakter"))
                    }
                    @if view.pages > 1 {
                        ", viser " (first) "–" (last)
                    }
                    "."
                }
            }
            @if !view.rows.is_empty() {
                ul.liste {
                    @for row in view.rows {
                        (entry_card(row.entry, row.snippet, 2))
                    }
                }
            }
            @if view.pages > 1 {
                nav.sider aria-label="Sider" {
                    @if view.page > 1 {
                        a href=(p.href(view.page - 1)) rel="prev" { "← Forrige side" }
                    }
                    span { "Side " (view.page) " av " (view.pages) }
                    @if view.page < view.pages {
                        a href=(p.href(view.page + 1)) rel="next" { "Neste side →" }
                    }
                }
            }
        },
    )
}

pub(super) struct ArtefactView<'a> {
    pub entry: &'a CatalogEntry,
    pub detail: &'a ArtefactDetail,
    /// Newest first.
    pub history: &'a [LogEntry],
    pub history_shown: usize,
    /// Changes offered by organisations that may not write to it, oldest first.
    pub proposals: &'a [crate::control::ProposalInfo],
    /// The public artefact this one says it builds on, if this node holds it.
    pub parent: Option<&'a CatalogEntry>,
    /// Whether it says it builds on something at all.
    pub has_parent: bool,
    /// Public artefacts that say they build on this one.
    pub children: &'a [&'a CatalogEntry],
    /// The change whose version the files are shown at (`?at=`); `None`: the current version.
    pub at: Option<&'a str>,
}

/// The link to one file's page, at change `at` or now.
fn file_href(id: &str, path: &str, at: Option<&str>) -> String {
    let path: Vec<String> = path.split('/').map(text::url_encode).collect();
    match at {
        Some(at) => format!("/artefakt/{id}/fil/{}?at={at}", path.join("/")),
        None => format!("/artefakt/{id}/fil/{}", path.join("/")),
    }
}

/// The link to an artefact's page with its files at change `at`.
fn version_href(id: &str, at: &str) -> String {
    format!("/artefakt/{id}?at={at}#filer")
}

pub(super) fn artefact(view: &ArtefactView) -> Markup {
    let entry = view.entry;
    let detail = view.detail;
    let id = entry.id.to_hex();
    let mut files = detail.files.clone();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let others: Vec<&OrgRef> = entry
        .maintainers
        .iter()
        .filter(|m| Some(m.org) != entry.owner)
        .collect();
    layout(
        &entry.title,
        Section::Catalogue,
        html! {
            p.meta { a href="/" { "← Til katalogen" } }
            h1 { (entry.title) }
            div.merker {
                span.merke.type { (text::kind_label(&entry.kind)) }
                @for e in &entry.endorsements {
                    (endorsement_badge(e))
                }
            }
            @if !entry.description.trim().is_empty() {
                p.tekst { (entry.description.trim()) }
            }
            @if !detail.complete {
                p.varsel { "Noe av innholdet hentes fortsatt fra andre noder." }
            }
            @if entry.head_count > 1 {
                p.varsel {
                    "Artefakten har samtidige endringer som ennå ikke er slått sammen av en senere endring ("
                    (entry.head_count) " grener). Innholdet under viser dem flettet."
                }
            }

            h2 { "Om artefakten" }
            dl.fakta {
                dt { "Type" } dd { (text::kind_label(&entry.kind)) }
                dt { "Eier" }
                dd {
                    @if let Some(owner) = owner_name(entry) {
                        @if let Some(number) = entry.owner {
                            a href={ "/?org=" (number) } { (owner) } " (" (number) ")"
                        } @else { (owner) }
                    } @else { span.tom { "ukjent" } }
                }
                dt { "Vedlikeholdes også av" }
                dd {
                    @if others.is_empty() { span.tom { "ingen andre" } }
                    @else {
                        @for (i, m) in others.iter().enumerate() {
                            @if i > 0 { ", " }
                            a href={ "/?org=" (m.org) } { (org_name(m)) }
                        }
                    }
                }
                dt { "Tilgang" } dd { "Offentlig for hele sektoren" }
                dt { "LOS-tema" }
                dd {
                    @if let Some(theme) = &entry.los_theme { (theme) }
                    @else { span.tom { "ikke angitt" } }
                }
                dt { "Emneord" }
                dd {
                    @if entry.tags.is_empty() { span.tom { "ingen" } }
                    @else {
                        @for (i, tag) in entry.tags.iter().enumerate() {
                            @if i > 0 { ", " }
                            a href={ "/?tag=" (text::url_encode(tag)) } { (tag) }
                        }
                    }
                }
                dt { "Publisert" }
                dd { time datetime=(text::iso(entry.created)) { (text::date_time(entry.created)) } }
                dt { "Sist endret" }
                dd { time datetime=(text::iso(entry.updated)) { (text::date_time(entry.updated)) } }
                dt { "Innhold" }
                dd {
                    (text::count(detail.files.len(), "fil", "filer")) ", "
                    (text::size(detail.files.iter().map(|f| f.size).sum()))
                }
                dt { "Identifikator" } dd { code { (id) } }
            }
            p { "Hent en arbeidskopi med:" }
            pre.kode {
                "allmenning checkout " (id) " " (folder_name(&entry.title))
                @if let Some(at) = view.at { " --at " (text::short(at, 12)) }
            }

            h2 #filer { "Filer" }
            @if let Some(at) = view.at {
                p.varsel {
                    "Filene vises slik de var etter endring " code title=(at) { (text::short(at, 12)) } ". "
                    a href=(artefact_href(&id)) { "Vis gjeldende versjon" }
                }
            }
            @if !detail.conflicts.is_empty() {
                div.varsel #konflikter {
                    p {
                        strong { "Konflikt: " }
                        (text::count(detail.conflicts.len(), "fil", "filer"))
                        " ble endret samtidig på måter som ikke lar seg slå sammen. Alle versjonene er tatt vare på; "
                        "en arbeidskopi viser dem med konfliktmarkører, og en ny endring løser konflikten."
                    }
                    ul {
                        @for c in &detail.conflicts {
                            li {
                                code { (c.path) } " (" (c.kind) "): "
                                @for (i, side) in c.sides.iter().enumerate() {
                                    @if i > 0 { " mot " }
                                    (side.organisation.clone().or_else(|| side.org.clone()).unwrap_or_else(|| "ukjent".into()))
                                    " "
                                    a href=(version_href(&id, &side.change)) { code title=(side.change) { (text::short(&side.change, 7)) } }
                                }
                            }
                        }
                    }
                }
            }
            @if files.is_empty() {
                p.tom { "Ingen filer." }
            } @else {
                table {
                    caption {
                        (text::count(files.len(), "fil", "filer"))
                        @if let Some(at) = view.at { " i versjon " (text::short(at, 12)) }
                        @else { " i gjeldende versjon" }
                    }
                    thead { tr { th scope="col" { "Sti" } th.tall scope="col" { "Størrelse" } th scope="col" { "Lagring" } } }
                    tbody {
                        @for f in &files {
                            tr {
                                td { a href=(file_href(&id, &f.path, view.at)) { code { (f.path) } } }
                                td.tall { (text::size(f.size)) }
                                td {
                                    @if f.storage == "text" { "tekst (samredigeres)" } @else { "fil" }
                                    @if let Some(kind) = &f.conflict { " · " strong { "konflikt (" (kind) ")" } }
                                }
                            }
                        }
                    }
                }
            }

            h2 #godkjenninger { "Kvalitetssikring" }
            @if entry.endorsements.is_empty() {
                p.tom { "Ingen kurator har vurdert denne artefakten ennå." }
            } @else {
                ul.liste {
                    @for e in &entry.endorsements {
                        li {
                            div.merker { (endorsement_badge(e)) }
                            p.meta {
                                time datetime=(text::iso(e.time)) { (text::date_time(e.time)) }
                                " · " (endorsement_currency(e))
                            }
                            @if !e.note.trim().is_empty() { p.tekst { (e.note.trim()) } }
                            p.meta {
                                "Versjon: "
                                @for (i, h) in e.heads.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    code title=(h) { (text::short(h, 12)) }
                                }
                            }
                        }
                    }
                }
            }

            h2 #brukere { "Tatt i bruk av" }
            @if entry.adopters.is_empty() {
                p.tom { "ingen ennå" }
            } @else {
                ul {
                    @for a in &entry.adopters {
                        li { a href={ "/?org=" (a.org) } { (org_name(a)) } }
                    }
                }
            }

            h2 #opphav { "Opphav og videreutvikling" }
            dl.fakta {
                dt { "Bygger på" }
                dd {
                    @match (view.parent, view.has_parent) {
                        (Some(parent), _) => {
                            a href=(artefact_href(&parent.id.to_hex())) { (parent.title) }
                            @if let Some(owner) = owner_name(parent) { " (" (owner) ")" }
                            @if !entry.based_on_version.is_empty() {
                                ", tatt i bruk ved versjon "
                                @for (i, h) in entry.based_on_version.iter().enumerate() {
                                    @if i > 0 { " + " }
                                    code title=(h) { (text::short(h, 12)) }
                                }
                            }
                        },
                        (None, true) => span.tom { "en artefakt som ikke er tilgjengelig her" },
                        (None, false) => span.tom { "ingen ennå" },
                    }
                }
                dt { "Videreutviklet i" }
                dd {
                    @if view.children.is_empty() { span.tom { "ingen ennå" } }
                    @else {
                        @for (i, child) in view.children.iter().enumerate() {
                            @if i > 0 { ", " }
                            a href=(artefact_href(&child.id.to_hex())) { (child.title) }
                        }
                    }
                }
            }

            h2 #forslag { "Forslag til endringer" }
            @if view.proposals.is_empty() {
                p.tom { "Ingen forslag." }
            } @else {
                table {
                    thead { tr { th scope="col" { "Fra" } th scope="col" { "Tid" } th scope="col" { "Begrunnelse" } th scope="col" { "Status" } } }
                    tbody {
                        @for p in view.proposals {
                            tr {
                                td { (p.proposer_name.clone().or_else(|| p.proposer_org.clone()).unwrap_or_else(|| text::short(&p.proposer, 12).to_string())) }
                                td { time datetime=(text::iso(p.time)) { (text::date_time(p.time)) } }
                                td { (p.message) }
                                td {
                                    @match p.status.as_str() {
                                        "accepted" => { "Godtatt" }
                                        "declined" => { "Avslått" }
                                        _ => { "Åpent" }
                                    }
                                }
                            }
                        }
                    }
                }
            }

            h2 #historikk { "Endringshistorikk" }
            @if view.history.is_empty() {
                p.tom { "Ingen endringer." }
            } @else {
                table {
                    caption {
                        (text::count(view.history.len(), "endring", "endringer"))
                        @if view.history.len() > view.history_shown {
                            ", de " (view.history_shown) " nyeste vises"
                        }
                        ", nyeste først"
                    }
                    thead {
                        tr {
                            th scope="col" { "Tidspunkt" }
                            th scope="col" { "Melding" }
                            th scope="col" { "Signert av node" }
                            th scope="col" { "Endring" }
                        }
                    }
                    tbody {
                        @for change in view.history.iter().take(view.history_shown) {
                            tr {
                                td { time datetime=(text::iso(change.time)) { (text::date_time(change.time)) } }
                                td {
                                    @if change.message.trim().is_empty() { span.tom { "(ingen melding)" } }
                                    @else { (change.message.trim()) }
                                }
                                td {
                                    @if let Some(name) = &change.author_name { span title=(change.author) { (name) } }
                                    @else { code title=(change.author) { (text::short(&change.author, 12)) } }
                                }
                                td {
                                    a href=(version_href(&id, &change.hash)) title="Filene etter denne endringen" {
                                        code title=(change.hash) { (text::short(&change.hash, 12)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// Most bytes of a text file shown on its page.
const FILE_SHOWN: usize = 512 * 1024;

pub(super) struct FileView<'a> {
    pub entry: &'a CatalogEntry,
    pub path: &'a str,
    pub content: &'a [u8],
    /// The change the file is shown at (`?at=`); `None`: the current version.
    pub at: Option<&'a str>,
}

/// One file of an artefact, now or at a change: text as it is (escaped), other files by size.
pub(super) fn file(view: &FileView) -> Markup {
    let id = view.entry.id.to_hex();
    let text = std::str::from_utf8(view.content)
        .ok()
        .filter(|t| !t.contains('\0'));
    let back = match view.at {
        Some(at) => version_href(&id, at),
        None => format!("{}#filer", artefact_href(&id)),
    };
    layout(
        &format!("{} – {}", view.path, view.entry.title),
        Section::Catalogue,
        html! {
            p.meta { a href=(back) { "← " (view.entry.title) } }
            h1 { code { (view.path) } }
            p.meta {
                @if let Some(at) = view.at {
                    "Slik filen var etter endring " code title=(at) { (text::short(at, 12)) } " · "
                    a href=(file_href(&id, view.path, None)) { "Vis gjeldende versjon" }
                } @else {
                    "Gjeldende versjon"
                }
                " · " (text::size(view.content.len() as u64))
            }
            @match text {
                Some(text) if text.len() > FILE_SHOWN => {
                    p.varsel { "Filen er for stor til å vises her; hent den med " code { "allmenning export" } "." }
                }
                Some(text) => { pre.kode { (text) } }
                None => { p.tom { "Binærfil; den vises ikke her." } }
            }
        },
    )
}

/// A folder name for the checkout hint: the title in lower case, letters and digits only.
fn folder_name(title: &str) -> String {
    let mut out = String::new();
    for c in title.to_lowercase().chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.chars().count() >= 40 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "arbeidskopi".into()
    } else {
        out
    }
}

/// One kind's approved or recommended artefacts, by LOS theme (`None`: no theme given).
pub(super) struct KindGroup<'a> {
    pub label: String,
    pub themes: Vec<(Option<String>, Vec<&'a CatalogEntry>)>,
}

pub(super) fn reference_architecture(
    groups: &[KindGroup],
    themes: &[(String, usize)],
    total: usize,
) -> Markup {
    layout(
        "Referansearkitektur",
        Section::Reference,
        html! {
            h1 { "Referansearkitektur" }
            p.ingress {
                "Felles kommunal arkitektur: artefaktene som en kurator (KS eller en organisasjon KS har gitt "
                "kuratorrett) har godkjent eller anbefalt, etter type og LOS-tema. Hver godkjenning gjelder "
                "en bestemt versjon; siden viser om den fortsatt er den gjeldende."
            }
            @if groups.is_empty() {
                p.tom { "Ingen artefakter er godkjent eller anbefalt ennå." }
            } @else {
                p.antall { (text::count(total, "godkjent eller anbefalt artefakt", "godkjente eller anbefalte artefakter")) "." }
                @if !themes.is_empty() {
                    p.meta {
                        "LOS-temaer: "
                        @for (i, (theme, n)) in themes.iter().enumerate() {
                            @if i > 0 { ", " }
                            (theme) " (" (n) ")"
                        }
                    }
                }
                @for group in groups {
                    section aria-labelledby={ "type-" (slug(&group.label)) } {
                        h2 id={ "type-" (slug(&group.label)) } { (group.label) }
                        @for (theme, entries) in &group.themes {
                            @if group.themes.len() > 1 || theme.is_some() {
                                h3 {
                                    @if let Some(theme) = theme { "Tema: " (theme) }
                                    @else { "Uten LOS-tema" }
                                }
                            }
                            ul.liste {
                                @for entry in entries {
                                    li {
                                        h4 { a href=(artefact_href(&entry.id.to_hex())) { (entry.title) } }
                                        div.merker {
                                            @for e in &entry.endorsements { (endorsement_badge(e)) }
                                        }
                                        p.meta {
                                            @if let Some(owner) = owner_name(entry) { "Delt av " (owner) " · " }
                                            @for (i, e) in entry.endorsements.iter().filter(|e| e.vouches()).enumerate() {
                                                @if i > 0 { "; " }
                                                (text::endorsement_label(e.status)) " av " (curator_name(e)) ": "
                                                (endorsement_currency(e))
                                            }
                                        }
                                        @if !entry.description.trim().is_empty() {
                                            p.beskrivelse { (excerpt(&entry.description, 200)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// An ASCII id fragment for a heading.
fn slug(label: &str) -> String {
    let s: String = label
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'æ' => 'e',
            'ø' => 'o',
            'å' => 'a',
            c if c.is_ascii_alphanumeric() => c,
            _ => '-',
        })
        .collect();
    s.trim_matches('-').to_string()
}

/// True if an organisation does nothing visible here.
pub(super) fn is_idle(org: &OrgActivity) -> bool {
    org.shares.is_empty()
        && org.maintains.is_empty()
        && org.adopts.is_empty()
        && org.captains.is_empty()
        && org.participates.is_empty()
        && org.endorses.is_empty()
}

fn initiative_anchor(id: &str) -> String {
    format!("/initiativ#initiativ-{id}")
}

fn initiative_list(refs: &[ArtefactRef]) -> Markup {
    html! {
        ul {
            @for r in refs {
                li { a href=(initiative_anchor(&r.id)) { (r.title) } }
            }
        }
    }
}

pub(super) fn who_does_what(orgs: &[OrgActivity]) -> Markup {
    layout(
        "Hvem gjør hva",
        Section::Who,
        html! {
            h1 { "Hvem gjør hva" }
            p.ingress {
                "Hvilke organisasjoner som deler, vedlikeholder, bruker og kvalitetssikrer hva, og hvem som "
                "er kaptein for hvilke initiativ, slik at ingen lager det samme to ganger."
            }
            @if orgs.is_empty() {
                p.tom { "Ingen organisasjoner er kjent ennå." }
            }
            @for org in orgs {
                section.org aria-labelledby={ "org-" (org.org) } {
                    h2 id={ "org-" (org.org) } {
                        @if org.name.trim().is_empty() { (org.org) } @else { (org.name) }
                    }
                    p.meta {
                        @if !org.kind.trim().is_empty() { (text::org_kind_label(&org.kind)) " · " }
                        "Org.nr. " (org.org)
                        @if org.admitted { " · Medlem av nettverket" }
                        " · " a href={ "/?org=" (org.org) } { "Se i katalogen" }
                    }
                    @if is_idle(org) {
                        p.tom { "Ingen offentlige artefakter eller initiativ ennå." }
                    } @else {
                        div.kolonner {
                            @for (label, refs) in [
                                ("Deler", &org.shares),
                                ("Vedlikeholder", &org.maintains),
                                ("Bruker", &org.adopts),
                                ("Har kvalitetssikret", &org.endorses),
                            ] {
                                @if !refs.is_empty() {
                                    div {
                                        h3 { (label) " (" (refs.len()) ")" }
                                        (ref_list(refs))
                                    }
                                }
                            }
                            @for (label, refs) in [
                                ("Kaptein for", &org.captains),
                                ("Deltar i", &org.participates),
                            ] {
                                @if !refs.is_empty() {
                                    div {
                                        h3 { (label) " (" (refs.len()) ")" }
                                        (initiative_list(refs))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub(super) fn initiatives(cards: &[InitiativeCard]) -> Markup {
    layout(
        "Initiativ",
        Section::Initiatives,
        html! {
            h1 { "Initiativ" }
            p.ingress {
                "Et initiativ samler organisasjoner om en ny tjeneste, med en kaptein som leder arbeidet, "
                "slik at alle kan se hvem som har kapteinsrollen og ingen bygger det samme to ganger."
            }
            @if cards.is_empty() {
                p.tom { "Ingen initiativ er registrert ennå." }
            } @else {
                p.antall { (text::count(cards.len(), "initiativ", "initiativ")) "." }
                ul.liste {
                    @for card in cards {
                        @let info = card.info;
                        li id={ "initiativ-" (info.id) } {
                            h2 { (info.title) }
                            div.merker {
                                span class=(text::initiative_class(&info.status)) {
                                    (text::initiative_status_label(&info.status))
                                }
                            }
                            p.meta {
                                "Kaptein: "
                                a href={ "/hvem#org-" (info.captain) } {
                                    @if info.captain_name.trim().is_empty() { (info.captain) }
                                    @else { (info.captain_name) }
                                }
                                " · Startet "
                                time datetime=(text::iso(info.created)) { (text::date(info.created)) }
                                " · Oppdatert "
                                time datetime=(text::iso(info.updated)) { (text::date(info.updated)) }
                            }
                            @if !info.description.trim().is_empty() {
                                p.tekst { (info.description.trim()) }
                            }
                            div.kolonner {
                                div {
                                    h3 { "Deltakere" }
                                    @if info.participants.is_empty() {
                                        p.tom { "ingen ennå" }
                                    } @else {
                                        ul {
                                            @for p in &info.participants {
                                                li {
                                                    a href={ "/hvem#org-" (p.org) } {
                                                        @if p.name.trim().is_empty() { (p.org) } @else { (p.name) }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                                div {
                                    h3 { "Artefakter" }
                                    @if card.artefacts.is_empty() && card.elsewhere == 0 {
                                        p.tom { "ingen ennå" }
                                    }
                                    @if !card.artefacts.is_empty() {
                                        ul {
                                            @for e in &card.artefacts {
                                                li {
                                                    a href=(artefact_href(&e.id.to_hex())) { (e.title) }
                                                    " "
                                                    span.meta { "(" (text::kind_label(&e.kind)) ")" }
                                                }
                                            }
                                        }
                                    }
                                    @if card.elsewhere > 0 {
                                        p.meta {
                                            "og " (text::count(card.elsewhere, "artefakt", "artefakter"))
                                            @if card.elsewhere == 1 { " som ikke er tilgjengelig her" }
                                            @else { " som ikke er tilgjengelige her" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub(super) fn not_found() -> Markup {
    layout(
        "Fant ikke siden",
        Section::None,
        html! {
            h1 { "Fant ikke siden" }
            p { "Det finnes ingen side eller artefakt med denne adressen her. Lenken kan være feil, eller artefakten er ikke delt offentlig." }
            p { a href="/" { "Gå til katalogen" } }
        },
    )
}

pub(super) fn unavailable() -> Markup {
    layout(
        "Midlertidig utilgjengelig",
        Section::None,
        html! {
            h1 { "Midlertidig utilgjengelig" }
            p { "Noden svarte ikke som den skulle. Prøv igjen om litt." }
            p { a href="/" { "Gå til katalogen" } }
        },
    )
}

pub(super) fn bad_filter(problem: &str) -> Markup {
    layout(
        "Ugyldig filter",
        Section::Catalogue,
        html! {
            h1 { "Ugyldig filter" }
            p { (problem) ". Velg blant verdiene i skjemaet." }
            p { a href="/" { "Gå til katalogen" } }
        },
    )
}

pub(super) fn bad_search(query: &str, message: &str) -> Markup {
    layout(
        "Ugyldig søk",
        Section::Catalogue,
        html! {
            h1 { "Søket kunne ikke utføres" }
            p { "Søket «" (query) "» kunne ikke tolkes. Prøv med færre eller enklere ord." }
            p.meta { "Fra noden: " (message) }
            p { a href="/" { "Gå til katalogen" } }
        },
    )
}
