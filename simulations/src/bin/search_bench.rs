//! How fast is catalogue search on a node holding a large commons?
//!
//! Builds a seeded, synthetic commons of Norwegian artefacts (real Automerge documents, catalogue
//! entries built from them), indexes them in an on-disk search index, and measures what a user
//! and an operator notice: the time to index everything, the size of the index on disk, and the
//! latency of searches of several kinds (a single word, an inflected form of it, two words). The
//! words are drawn from a list of municipal vocabulary with its inflections, so the stemmer does
//! real work. The same seed always builds the same commons and asks the same queries. Nothing is
//! asserted: this measures.
//!
//! ```text
//! cargo run --release -p allmenning-simulations --bin search_bench -- [--docs N] [--queries N] [--seed S]
//! ```

use allmenning_node::search::{body_text, SearchIndex};
use allmenning_protocol::artefact::{Artefact, Kind, Metadata, NewFile};
use allmenning_protocol::blob::BlobHash;
use allmenning_protocol::catalog::CatalogEntry;
use allmenning_protocol::signed::signed_actor;
use allmenning_protocol::{NodeKey, OrgNumber};
use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::time::{Duration, Instant};

/// Municipal vocabulary: each noun as (indefinite, definite, plural, definite plural).
const NOUNS: &[[&str; 4]] = &[
    [
        "foreldrebetaling",
        "foreldrebetalingen",
        "foreldrebetalinger",
        "foreldrebetalingene",
    ],
    ["barnehage", "barnehagen", "barnehager", "barnehagene"],
    ["søknad", "søknaden", "søknader", "søknadene"],
    ["vedtak", "vedtaket", "vedtak", "vedtakene"],
    [
        "integrasjon",
        "integrasjonen",
        "integrasjoner",
        "integrasjonene",
    ],
    [
        "skoleskyss",
        "skoleskyssen",
        "skoleskysser",
        "skoleskyssene",
    ],
    ["byggesak", "byggesaken", "byggesaker", "byggesakene"],
    ["kommune", "kommunen", "kommuner", "kommunene"],
    ["innbygger", "innbyggeren", "innbyggere", "innbyggerne"],
    ["tjeneste", "tjenesten", "tjenester", "tjenestene"],
    ["arkiv", "arkivet", "arkiv", "arkivene"],
    [
        "saksbehandling",
        "saksbehandlingen",
        "saksbehandlinger",
        "saksbehandlingene",
    ],
    ["personvern", "personvernet", "personvern", "personvernene"],
    ["risiko", "risikoen", "risikoer", "risikoene"],
    [
        "anskaffelse",
        "anskaffelsen",
        "anskaffelser",
        "anskaffelsene",
    ],
    [
        "datamodell",
        "datamodellen",
        "datamodeller",
        "datamodellene",
    ],
    ["prosess", "prosessen", "prosesser", "prosessene"],
    ["veileder", "veilederen", "veiledere", "veilederne"],
    [
        "helsestasjon",
        "helsestasjonen",
        "helsestasjoner",
        "helsestasjonene",
    ],
    ["sykehjem", "sykehjemmet", "sykehjem", "sykehjemmene"],
    [
        "hjemmetjeneste",
        "hjemmetjenesten",
        "hjemmetjenester",
        "hjemmetjenestene",
    ],
    ["avtale", "avtalen", "avtaler", "avtalene"],
    ["faktura", "fakturaen", "fakturaer", "fakturaene"],
    ["elev", "eleven", "elever", "elevene"],
    ["skole", "skolen", "skoler", "skolene"],
    [
        "renovasjon",
        "renovasjonen",
        "renovasjoner",
        "renovasjonene",
    ],
    [
        "eiendomsskatt",
        "eiendomsskatten",
        "eiendomsskatter",
        "eiendomsskattene",
    ],
    ["plan", "planen", "planer", "planene"],
    ["kart", "kartet", "kart", "kartene"],
    ["melding", "meldingen", "meldinger", "meldingene"],
    [
        "brukerstøtte",
        "brukerstøtten",
        "brukerstøtter",
        "brukerstøttene",
    ],
    ["gevinst", "gevinsten", "gevinster", "gevinstene"],
    [
        "folkeregister",
        "folkeregisteret",
        "folkeregistre",
        "folkeregistrene",
    ],
    ["samtykke", "samtykket", "samtykker", "samtykkene"],
    ["time", "timen", "timer", "timene"],
    ["vann", "vannet", "vann", "vannene"],
    ["tilskudd", "tilskuddet", "tilskudd", "tilskuddene"],
    ["bevilling", "bevillingen", "bevillinger", "bevillingene"],
    ["klage", "klagen", "klager", "klagene"],
    ["journal", "journalen", "journaler", "journalene"],
];

/// Words that bind sentences together (not stemmed to anything useful, like real text).
const FILLERS: &[&str] = &[
    "og",
    "i",
    "for",
    "med",
    "til",
    "av",
    "om",
    "på",
    "som",
    "en",
    "et",
    "den",
    "det",
    "fra",
    "ved",
    "etter",
    "mellom",
    "uten",
    "alle",
    "nye",
    "felles",
    "digital",
    "kommunal",
    "enkel",
    "automatisk",
    "sikker",
    "rask",
    "nasjonal",
    "regional",
    "lokal",
];

const VERBS: &[&str] = &[
    "beregner",
    "sender",
    "henter",
    "oppdaterer",
    "kontrollerer",
    "arkiverer",
    "varsler",
    "publiserer",
    "godkjenner",
    "registrerer",
    "behandler",
    "beskriver",
];

const TAGS: &[&str] = &[
    "barnehage",
    "skole",
    "helse",
    "økonomi",
    "plan og bygg",
    "arkiv",
    "personvern",
    "sikkerhet",
    "innbyggerdialog",
    "integrasjon",
    "velferd",
    "kultur",
    "teknisk",
    "HR",
    "samferdsel",
];

const FILE_NAMES: &[&str] = &[
    "README.md",
    "docs/veileder.md",
    "src/integrasjon.py",
    "flyt/prosess.bpmn",
    "modell/datamodell.json",
    "dpia/vurdering.md",
    "ros/analyse.md",
    "krav/kravspesifikasjon.md",
    "erfaringer.md",
    "config/oppsett.yaml",
];

struct Args {
    docs: usize,
    queries: usize,
    seed: u64,
}

fn parse_args() -> Result<Args> {
    let usage = "usage: search_bench [--docs N] [--queries N] [--seed S]";
    let mut args = Args {
        docs: 10_000,
        queries: 200,
        seed: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<u64> {
            it.next()
                .with_context(|| format!("{name} needs a number"))?
                .parse()
                .with_context(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--docs" => args.docs = usize::try_from(number("--docs")?)?.max(1),
            "--queries" => args.queries = usize::try_from(number("--queries")?)?.max(1),
            "--seed" => args.seed = number("--seed")?,
            "-h" | "--help" => {
                println!("{usage}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} ({usage})"),
        }
    }
    Ok(args)
}

/// Any inflected form of a random noun.
fn noun(rng: &mut StdRng) -> &'static str {
    let forms = NOUNS.choose(rng).expect("nouns");
    forms.choose(rng).expect("forms")
}

/// A sentence of `words` words, mostly nouns in any form with fillers and verbs between.
fn sentence(rng: &mut StdRng, words: usize) -> String {
    let mut out: Vec<&str> = Vec::with_capacity(words);
    for _ in 0..words {
        let word = match rng.gen_range(0..10) {
            0..=4 => noun(rng),
            5..=6 => VERBS.choose(rng).expect("verbs"),
            _ => FILLERS.choose(rng).expect("fillers"),
        };
        out.push(word);
    }
    let mut text = out.join(" ");
    if let Some(first) = text.get(..1) {
        let upper = first.to_uppercase();
        text.replace_range(..1, &upper);
    }
    text.push('.');
    text
}

fn title(rng: &mut StdRng) -> String {
    let mut words = vec![noun(rng)];
    if rng.gen_bool(0.6) {
        words.push(FILLERS.choose(rng).expect("fillers"));
        words.push(noun(rng));
    }
    if rng.gen_bool(0.3) {
        words.push(noun(rng));
    }
    let text = words.join(" ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// Valid organisation numbers (mod-11) near a few well-known ones.
fn organisations() -> Vec<(OrgNumber, String)> {
    let mut out = Vec::new();
    for base in 96_433_853u32..96_433_953 {
        for digit in 0..10 {
            if let Ok(org) = OrgNumber::parse(&format!("{:09}", base * 10 + digit)) {
                out.push((org, format!("Kommune {}", out.len() + 1)));
            }
        }
        if out.len() == 40 {
            break;
        }
    }
    out
}

struct Synthetic {
    entry: CatalogEntry,
    body: String,
}

fn build_commons(args: &Args, rng: &mut StdRng) -> Result<Vec<Synthetic>> {
    let orgs = organisations();
    let node = NodeKey::from_secret([7; 32]);
    let mut out = Vec::with_capacity(args.docs);
    for n in 0..args.docs {
        let (owner, owner_name) = orgs.choose(rng).context("organisations")?;
        let tag_count = rng.gen_range(1..=3);
        let tags: Vec<String> = TAGS
            .choose_multiple(rng, tag_count)
            .map(|t| t.to_string())
            .collect();
        let description_sentences = rng.gen_range(1..=3);
        let description: Vec<String> = (0..description_sentences)
            .map(|_| {
                let words = rng.gen_range(8..20);
                sentence(rng, words)
            })
            .collect();
        let meta = Metadata {
            title: title(rng),
            kind: Kind::ALL[n % Kind::ALL.len()].as_str().to_string(),
            description: description.join(" "),
            tags,
            owner: owner.to_string(),
            owner_name: owner_name.clone(),
            created: 1_700_000_000 + n as i64,
        };
        let file_count = rng.gen_range(1..=4);
        let files: Vec<(String, String)> = FILE_NAMES
            .choose_multiple(rng, file_count)
            .map(|name| {
                let sentences = rng.gen_range(3..30);
                let text: Vec<String> = (0..sentences)
                    .map(|_| {
                        let words = rng.gen_range(6..18);
                        sentence(rng, words)
                    })
                    .collect();
                (name.to_string(), text.join("\n"))
            })
            .collect();
        let new_files: Vec<NewFile> = files
            .iter()
            .map(|(path, text)| NewFile {
                path: path.clone(),
                blob: BlobHash::of(text.as_bytes()),
                size: text.len() as u64,
                executable: false,
            })
            .collect();
        let mut nonce = [0u8; 8];
        nonce.copy_from_slice(&(n as u64).to_le_bytes());
        let actor = signed_actor(&node.public(), nonce);
        let (artefact, _) =
            Artefact::genesis(&meta, &new_files, actor, meta.created, "publish", false)
                .context("genesis")?;
        let entry = CatalogEntry::build(&artefact, None);
        let body = body_text(files.iter().map(|(p, t)| (p.as_str(), t.as_bytes())));
        out.push(Synthetic { entry, body });
    }
    Ok(out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum QueryKind {
    SingleWord,
    InflectedForm,
    TwoWords,
}

impl QueryKind {
    fn label(self) -> &'static str {
        match self {
            QueryKind::SingleWord => "single word",
            QueryKind::InflectedForm => "inflected form",
            QueryKind::TwoWords => "two words",
        }
    }
}

fn queries(rng: &mut StdRng, count: usize) -> Vec<(QueryKind, String)> {
    let kinds = [
        QueryKind::SingleWord,
        QueryKind::InflectedForm,
        QueryKind::TwoWords,
    ];
    (0..count)
        .map(|i| {
            let kind = kinds[i % kinds.len()];
            let forms = NOUNS.choose(rng).expect("nouns");
            let text = match kind {
                QueryKind::SingleWord => forms[0].to_string(),
                QueryKind::InflectedForm => forms[rng.gen_range(1..4)].to_string(),
                QueryKind::TwoWords => {
                    let other = NOUNS.choose(rng).expect("nouns");
                    format!("{} {}", forms[0], other[rng.gen_range(0..4)])
                }
            };
            (kind, text)
        })
        .collect()
}

fn dir_size(path: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Peak resident memory of this process, from /proc (Linux only).
fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(mib(kib * 1024))
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let mut rng = StdRng::seed_from_u64(args.seed);

    let started = Instant::now();
    let commons = build_commons(&args, &mut rng)?;
    let build_time = started.elapsed();
    let body_bytes: usize = commons.iter().map(|s| s.body.len()).sum();
    let text_bytes: usize = commons
        .iter()
        .map(|s| s.entry.title.len() + s.entry.description.len() + s.body.len())
        .sum();

    let dir = tempfile::tempdir().context("temporary directory")?;
    let index_dir = dir.path().join("search");
    let mut index = SearchIndex::open(&index_dir)?;
    let started = Instant::now();
    for synthetic in &commons {
        index.upsert(&synthetic.entry, &synthetic.body)?;
    }
    let add_time = started.elapsed();
    let started = Instant::now();
    index.commit()?;
    let commit_time = started.elapsed();
    let index_time = add_time + commit_time;
    let size_on_disk = dir_size(&index_dir)?;

    // Re-indexing one artefact, as a node does after each change it receives.
    let started = Instant::now();
    let reindexed = &commons[commons.len() / 2];
    index.upsert(&reindexed.entry, &reindexed.body)?;
    index.commit()?;
    let single_update = started.elapsed();

    let asked = queries(&mut rng, args.queries);
    // One warm-up search so the first measured one does not pay for page faults alone.
    index.search("barnehage", 10)?;
    let mut by_kind: Vec<(QueryKind, Vec<Duration>, usize)> = Vec::new();
    let mut all = Vec::with_capacity(asked.len());
    let mut empty = 0;
    for (kind, query) in &asked {
        let started = Instant::now();
        let hits = index.search(query, 10)?;
        let took = started.elapsed();
        if hits.is_empty() {
            empty += 1;
        }
        all.push(took);
        match by_kind.iter_mut().find(|(k, _, _)| k == kind) {
            Some((_, times, count)) => {
                times.push(took);
                *count += 1;
            }
            None => by_kind.push((*kind, vec![took], 1)),
        }
    }
    all.sort();

    println!(
        "search benchmark: seed {}, {} artefacts",
        args.seed, args.docs
    );
    println!(
        "  commons built (documents + catalogue entries): {:.2} s",
        build_time.as_secs_f64()
    );
    println!(
        "  text indexed: {} (bodies {})",
        mib(text_bytes as u64),
        mib(body_bytes as u64)
    );
    println!(
        "  index time: {:.2} s (upsert calls {:.2} s, commit {:.2} s: the writer indexes in \
         the background until the commit), {:.0} artefacts/s",
        index_time.as_secs_f64(),
        add_time.as_secs_f64(),
        commit_time.as_secs_f64(),
        args.docs as f64 / index_time.as_secs_f64()
    );
    println!("  index size on disk: {}", mib(size_on_disk));
    println!(
        "  re-index one artefact (upsert + commit): {}",
        ms(single_update)
    );
    println!(
        "  query latency, {} queries, top 10 with snippets:",
        asked.len()
    );
    for (kind, mut times, count) in by_kind {
        times.sort();
        println!(
            "    {:<15} n={:<4} p50 {}  p99 {}  max {}",
            kind.label(),
            count,
            ms(percentile(&times, 50.0)),
            ms(percentile(&times, 99.0)),
            ms(times.last().copied().unwrap_or_default())
        );
    }
    println!(
        "    {:<15} n={:<4} p50 {}  p99 {}  max {}",
        "all",
        all.len(),
        ms(percentile(&all, 50.0)),
        ms(percentile(&all, 99.0)),
        ms(all.last().copied().unwrap_or_default())
    );
    println!("  queries with no hit: {empty}");
    if let Some(peak) = peak_rss() {
        println!("  peak resident memory (including the synthetic commons): {peak}");
    }
    Ok(())
}
