//! Exports for catalogues outside Allmenning, and import from a publiccode.yml, on a real node.
//!
//! A code artefact exports a publiccode.yml and a data model a DCAT-AP-NO description, each
//! checked with the protocol's validators against the standards' mandatory fields; kinds a
//! format does not describe are refused; and `import` takes the title, description and tags of
//! a directory from its publiccode.yml.

use allmenning_protocol::export::{parse_publiccode, validate_dcat_ap_no, validate_publiccode};
use allmenning_tests::*;

fn id_of(published: &serde_json::Value) -> String {
    published["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {published}"))
        .to_string()
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn exports_validate_and_import_reads_publiccode_yml() {
    let a = Node::start("a", BERGEN);

    // --- publiccode.yml for a code artefact that declares its licence in Cargo.toml ---------
    let code = a.scratch().join("arkivuttrekk");
    write_tree(
        &code,
        &[
            (
                "Cargo.toml",
                b"[package]\nname = \"arkivuttrekk\"\nversion = \"1.2.0\"\nlicense = \"EUPL-1.2\"\n",
            ),
            ("src/main.rs", b"fn main() {\n    println!(\"uttrekk\");\n}\n"),
            ("README.md", b"# Arkivuttrekk\n"),
        ],
    );
    let description = "Lager arkivuttrekk etter Noark 5 fra fagsystemer. Brukes av flere kommuner.";
    let code_id = id_of(&a.json(&[
        "publish",
        code.to_str().unwrap(),
        "--kind",
        "code",
        "--title",
        "Arkivuttrekk",
        "--description",
        description,
        "--tag",
        "document-management",
        "--tag",
        "arkiv",
    ]));

    let out_dir = a.scratch().join("publiccode");
    let report = a.json(&[
        "export",
        &code_id,
        "--format",
        "publiccode",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(report["format"], "publiccode", "{report}");
    assert_eq!(report["problems"], serde_json::json!([]), "{report}");
    assert_eq!(strings(&report["dropped_tags"]), ["arkiv"], "{report}");
    let yml = std::fs::read_to_string(out_dir.join("publiccode.yml")).expect("publiccode.yml");
    assert_eq!(validate_publiccode(&yml), Vec::<String>::new(), "{yml}");
    let parsed = parse_publiccode(&yml).expect("parses");
    assert_eq!(parsed.name, "Arkivuttrekk");
    assert_eq!(parsed.description, description);
    assert_eq!(parsed.tags, ["document-management"]);
    assert_eq!(
        parsed.license.as_deref(),
        Some("EUPL-1.2"),
        "from Cargo.toml"
    );
    assert_eq!(parsed.software_version.as_deref(), Some("1.2.0"));
    assert_eq!(parsed.url, Some(format!("allmenning://{code_id}")));

    // Without DIR the document goes to stdout; flags override what the files declare.
    let stdout = a.ok(&[
        "export",
        &code_id,
        "--format",
        "publiccode",
        "--license",
        "MIT OR Apache-2.0",
        "--url",
        "https://git.bergen.kommune.no/arkivuttrekk.git",
        "--contact-name",
        "Kari Nordmann",
        "--contact-email",
        "kari.nordmann@bergen.kommune.no",
    ]);
    let printed = String::from_utf8(stdout.stdout).expect("UTF-8");
    assert_eq!(
        validate_publiccode(&printed),
        Vec::<String>::new(),
        "{printed}"
    );
    let parsed = parse_publiccode(&printed).unwrap();
    assert_eq!(parsed.license.as_deref(), Some("MIT OR Apache-2.0"));
    assert_eq!(
        parsed.url.as_deref(),
        Some("https://git.bergen.kommune.no/arkivuttrekk.git")
    );
    assert_eq!(parsed.contacts[0].name, "Kari Nordmann");

    // An existing file is not replaced without --force.
    let again = a.cli(&[
        "export",
        &code_id,
        "--format",
        "publiccode",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(exit_code(&again), Some(1), "{}", describe(&again));
    assert!(
        output_text(&again).contains("--force"),
        "{}",
        describe(&again)
    );
    a.ok(&[
        "export",
        &code_id,
        "--format",
        "publiccode",
        out_dir.to_str().unwrap(),
        "--force",
    ]);

    // Code is not a dataset.
    let refused = a.cli(&["export", &code_id, "--format", "dcat"]);
    assert_eq!(exit_code(&refused), Some(1), "{}", describe(&refused));
    assert!(
        output_text(&refused).contains("dataset, datamodel"),
        "{}",
        describe(&refused)
    );

    // The plain files are still the default, with the old JSON fields.
    let files_dir = a.scratch().join("files");
    let plain = a.json(&["export", &code_id, files_dir.to_str().unwrap()]);
    assert_eq!(plain["files"], 3, "{plain}");
    assert_eq!(plain["format"], "files", "{plain}");
    assert!(files_dir.join("src/main.rs").is_file());

    // --- DCAT-AP-NO for a data model ---------------------------------------------------------
    let model = a.scratch().join("barnehagemodell");
    write_tree(
        &model,
        &[
            ("barnehage.schema.json", b"{\"type\": \"object\"}\n"),
            ("data/barnehager.csv", b"navn,plasser\nSolsikken,48\n"),
        ],
    );
    let model_id = id_of(&a.json(&[
        "publish",
        model.to_str().unwrap(),
        "--kind",
        "datamodel",
        "--title",
        "Barnehagemodell",
        "--description",
        "Felles datamodell for barnehager og plasser.",
        "--tag",
        "barnehage",
    ]));
    let dcat_dir = a.scratch().join("dcat");
    let report = a.json(&[
        "export",
        &model_id,
        "--format",
        "dcat",
        dcat_dir.to_str().unwrap(),
        "--contact-email",
        "postmottak@bergen.kommune.no",
        "--license",
        "NLOD_2_0",
    ]);
    assert_eq!(report["problems"], serde_json::json!([]), "{report}");
    let text = std::fs::read_to_string(dcat_dir.join("dataset.jsonld")).expect("dataset.jsonld");
    let document: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(
        validate_dcat_ap_no(&document),
        Vec::<String>::new(),
        "{document:#}"
    );
    assert_eq!(document["dct:title"][0]["@value"], "Barnehagemodell");
    assert_eq!(
        document["dct:publisher"]["dct:identifier"], BERGEN.number,
        "{document:#}"
    );
    assert_eq!(
        document["dcat:distribution"].as_array().map(Vec::len),
        Some(2)
    );

    // Without a contact e-mail the description is still written, and says what it lacks.
    let lacking = a.cli(&["export", &model_id, "--format", "dcat"]);
    assert_eq!(exit_code(&lacking), Some(0), "{}", describe(&lacking));
    assert!(
        String::from_utf8_lossy(&lacking.stderr).contains("vcard:hasEmail"),
        "{}",
        describe(&lacking)
    );
    let printed: serde_json::Value = serde_json::from_slice(&lacking.stdout).expect("JSON");
    assert_eq!(validate_dcat_ap_no(&printed).len(), 1);

    // A data model is not software.
    let refused = a.cli(&["export", &model_id, "--format", "publiccode"]);
    assert_eq!(exit_code(&refused), Some(1), "{}", describe(&refused));
    assert!(
        output_text(&refused).contains("code, integration"),
        "{}",
        describe(&refused)
    );

    // --- import takes the metadata from publiccode.yml -----------------------------------------
    let repo = a.scratch().join("saksbehandling");
    write_tree(
        &repo,
        &[
            (
                "publiccode.yml",
                "publiccodeYmlVersion: \"0.4\"
name: Felles saksbehandling
url: https://git.trondheim.kommune.no/saksbehandling.git
platforms: [web]
categories: [document-management, workflow-management]
developmentStatus: beta
softwareType: standalone/web
description:
  en:
    shortDescription: Shared case handling
  nb:
    shortDescription: Felles saksbehandling for kommuner
    longDescription: |
      Saksbehandling med journalføring og arkiv, delt mellom kommunene.
    features: [Journalføring]
legal:
  license: EUPL-1.2
maintenance:
  type: internal
  contacts: [{name: Ola Nordmann}]
localisation:
  localisationReady: true
  availableLanguages: [nb]
unknownKey: ignored
"
                .as_bytes(),
            ),
            ("src/lib.rs", b"pub fn sak() {}\n"),
        ],
    );
    let imported = a.json(&["import", repo.to_str().unwrap()]);
    assert_eq!(imported["metadata_from"], "publiccode.yml", "{imported}");
    let imported_id = id_of(&imported);
    assert_eq!(imported["files"], 2, "{imported}");
    let show = a.show(&imported_id);
    assert_eq!(show["title"], "Felles saksbehandling", "{show}");
    assert_eq!(
        show["description"], "Saksbehandling med journalføring og arkiv, delt mellom kommunene.",
        "{show}"
    );
    assert_eq!(
        strings(&show["tags"]),
        ["document-management", "workflow-management"],
        "{show}"
    );
    assert_eq!(show["kind"], "code", "{show}");

    // Flags override the file.
    let overridden = a.json(&[
        "import",
        repo.to_str().unwrap(),
        "--kind",
        "integration",
        "--title",
        "Saksbehandling (Bergen)",
        "--tag",
        "arkiv",
    ]);
    let show = a.show(&id_of(&overridden));
    assert_eq!(show["title"], "Saksbehandling (Bergen)");
    assert_eq!(show["kind"], "integration");
    assert_eq!(strings(&show["tags"]), ["arkiv"]);
    assert_eq!(
        show["description"],
        "Saksbehandling med journalføring og arkiv, delt mellom kommunene."
    );

    // Without a publiccode.yml, import needs --kind and --title like publish (usage error).
    let bare = a.scratch().join("bare");
    write_tree(&bare, &[("README.md", b"# Uten metadata\n")]);
    let refused = a.cli(&["import", bare.to_str().unwrap(), "--json"]);
    assert_eq!(exit_code(&refused), Some(2), "{}", describe(&refused));
    let plain = a.json(&[
        "import",
        bare.to_str().unwrap(),
        "--kind",
        "guide",
        "--title",
        "Uten metadata",
    ]);
    assert_eq!(plain["metadata_from"], serde_json::Value::Null, "{plain}");
}
