use super::publiccode_check::{is_spdx_expression, is_url};
use super::*;
use crate::catalog::{CatalogEndorsement, CatalogEntry, OrgRef, Visibility};
use crate::identity::OrgNumber;
use crate::trust::EndorsementStatus;
use serde_json::json;

/// 2026-11-29 12:00 UTC.
const T0: i64 = 1_795_953_600;

fn org(number: &str) -> OrgNumber {
    number.parse().expect("valid organisation number")
}

fn entry(kind: &str) -> CatalogEntry {
    CatalogEntry {
        id: ArtefactId([0xab; 16]),
        title: "Redusert foreldrebetaling".into(),
        kind: kind.into(),
        description: "Inntektsoppslag for søknader om redusert foreldrebetaling i barnehage. \
                      Henter skattegrunnlag og beregner makspris."
            .into(),
        tags: vec!["document-management".into(), "barnehage".into()],
        owner: Some(org("964338531")),
        owner_name: Some("Bergen kommune".into()),
        maintainers: vec![OrgRef {
            org: org("942110464"),
            name: Some("Trondheim kommune".into()),
        }],
        endorsements: Vec::new(),
        adopters: Vec::new(),
        based_on: None,
        based_on_version: Vec::new(),
        los_theme: Some("Barnehage".into()),
        visibility: Visibility::Public,
        created: T0,
        updated: T0 + 86_400,
        head_count: 1,
        file_count: 3,
        size: 1234,
        conflicts: 0,
    }
}

fn endorsed(mut entry: CatalogEntry, status: EndorsementStatus) -> CatalogEntry {
    entry.endorsements.push(CatalogEndorsement {
        curator: org("971032146"),
        curator_name: "KS".into(),
        status,
        heads: vec!["00".repeat(32)],
        current: true,
        changes_since: 0,
        note: String::new(),
        time: T0,
    });
    entry
}

fn licensed() -> PubliccodeContext {
    PubliccodeContext {
        license: Some("EUPL-1.2".into()),
        ..PubliccodeContext::default()
    }
}

fn yaml(text: &str) -> serde_norway::Value {
    serde_norway::from_str(text).expect("the export is YAML")
}

// ----- publiccode.yml ------------------------------------------------------------------------

#[test]
fn a_code_artefact_exports_a_valid_publiccode_yml() {
    let entry = endorsed(entry("code"), EndorsementStatus::Approved);
    let yml = publiccode_yml(&entry, &licensed()).expect("export");
    assert_eq!(validate_publiccode(&yml), Vec::<String>::new(), "{yml}");
    let doc = yaml(&yml);
    assert_eq!(doc["publiccodeYmlVersion"], "0.4");
    assert_eq!(doc["name"], "Redusert foreldrebetaling");
    assert_eq!(
        doc["url"],
        format!("allmenning://{}", "ab".repeat(16)).as_str()
    );
    assert_eq!(doc["releaseDate"], "2026-11-30");
    assert_eq!(doc["developmentStatus"], "stable");
    assert_eq!(doc["softwareType"], "standalone/other");
    assert_eq!(doc["categories"][0], "document-management");
    assert_eq!(doc["legal"]["license"], "EUPL-1.2");
    assert_eq!(doc["maintenance"]["type"], "community");
    assert_eq!(doc["maintenance"]["contacts"][0]["name"], "Bergen kommune");
    assert_eq!(
        doc["maintenance"]["contacts"][1]["name"],
        "Trondheim kommune"
    );
    assert_eq!(doc["localisation"]["availableLanguages"][0], "nb");
    assert_eq!(doc["intendedAudience"]["countries"][0], "no");
    let nb = &doc["description"]["nb"];
    assert_eq!(
        nb["shortDescription"],
        "Inntektsoppslag for søknader om redusert foreldrebetaling i barnehage."
    );
    let long = nb["longDescription"].as_str().unwrap();
    assert!(long.starts_with("Inntektsoppslag"), "{long}");
    assert!(long.contains("godkjent"), "{long}");
    assert!(long.contains("Trondheim kommune"), "{long}");
}

#[test]
fn the_country_code_no_is_quoted_so_yaml_1_1_readers_do_not_see_false() {
    let yml = publiccode_yml(&entry("code"), &licensed()).expect("export");
    assert!(
        yml.contains("- \"no\""),
        "an unquoted `no` is the boolean false in YAML 1.1:\n{yml}"
    );
}

#[test]
fn an_integration_with_nothing_but_a_title_exports_a_valid_publiccode_yml() {
    let mut entry = entry("integration");
    entry.description = String::new();
    entry.tags = Vec::new();
    entry.maintainers = Vec::new();
    entry.owner_name = None;
    let yml = publiccode_yml(&entry, &licensed()).expect("export");
    assert_eq!(validate_publiccode(&yml), Vec::<String>::new(), "{yml}");
    let doc = yaml(&yml);
    assert_eq!(doc["softwareType"], "standalone/backend");
    assert_eq!(doc["categories"][0], "workflow-management");
    assert_eq!(doc["developmentStatus"], "development");
    assert_eq!(doc["maintenance"]["type"], "internal");
    assert_eq!(
        doc["maintenance"]["contacts"][0]["name"],
        "organisasjonsnummer 964338531"
    );
    assert_eq!(
        doc["description"]["nb"]["shortDescription"],
        "Redusert foreldrebetaling"
    );
}

#[test]
fn verdicts_set_the_development_status_and_deprecation_ends_maintenance() {
    let status = |entry: &CatalogEntry| {
        let doc = yaml(&publiccode_yml(entry, &licensed()).unwrap());
        (
            doc["developmentStatus"].as_str().unwrap().to_string(),
            doc["maintenance"]["type"].as_str().unwrap().to_string(),
        )
    };
    let reviewed = endorsed(entry("code"), EndorsementStatus::Reviewed);
    assert_eq!(status(&reviewed).0, "beta");
    let deprecated = endorsed(
        endorsed(entry("code"), EndorsementStatus::Approved),
        EndorsementStatus::Deprecated,
    );
    assert_eq!(status(&deprecated), ("obsolete".into(), "none".into()));
    let yml = publiccode_yml(&deprecated, &licensed()).unwrap();
    assert_eq!(validate_publiccode(&yml), Vec::<String>::new(), "{yml}");
}

#[test]
fn a_very_long_description_is_cut_to_the_standards_maximum() {
    let mut entry = entry("code");
    entry.description = "Lang tekst om saksbehandling. ".repeat(800);
    let yml = publiccode_yml(&entry, &licensed()).expect("export");
    assert_eq!(validate_publiccode(&yml), Vec::<String>::new());
    let doc = yaml(&yml);
    let long = doc["description"]["nb"]["longDescription"]
        .as_str()
        .unwrap();
    assert!(long.chars().count() <= 10_000);
    assert!(
        long.contains("*Delt i Allmenning:*"),
        "the note is kept whole"
    );
}

#[test]
fn context_overrides_url_version_contact_and_features() {
    let context = PubliccodeContext {
        url: Some("https://git.example.no/bergen/foreldrebetaling.git".into()),
        license: Some("MIT OR Apache-2.0".into()),
        software_version: Some("1.4.0".into()),
        contact: Some(PubliccodeContact {
            name: "Kari Nordmann".into(),
            email: Some("kari.nordmann@bergen.kommune.no".into()),
            phone: None,
        }),
        features: vec!["Henter skattegrunnlag".into(), "Beregner makspris".into()],
        platforms: vec!["linux".into()],
    };
    let yml = publiccode_yml(&entry("code"), &context).expect("export");
    assert_eq!(validate_publiccode(&yml), Vec::<String>::new(), "{yml}");
    let doc = yaml(&yml);
    assert_eq!(
        doc["url"],
        "https://git.example.no/bergen/foreldrebetaling.git"
    );
    assert_eq!(doc["softwareVersion"], "1.4.0");
    assert_eq!(doc["platforms"][0], "linux");
    assert_eq!(doc["maintenance"]["contacts"][0]["name"], "Kari Nordmann");
    assert_eq!(
        doc["maintenance"]["contacts"][0]["affiliation"],
        "Bergen kommune"
    );
    assert_eq!(doc["description"]["nb"]["features"][1], "Beregner makspris");
}

#[test]
fn export_needs_a_licence_and_refuses_malformed_context() {
    assert_eq!(
        publiccode_yml(&entry("code"), &PubliccodeContext::default()),
        Err(ExportError::NoLicense)
    );
    for bad in [
        "NOASSERTION",
        "MIT AND",
        "GPL-3.0 OR (MIT",
        "do what you want",
    ] {
        let context = PubliccodeContext {
            license: Some(bad.into()),
            ..PubliccodeContext::default()
        };
        assert!(
            matches!(
                publiccode_yml(&entry("code"), &context),
                Err(ExportError::InvalidContext {
                    field: "licence",
                    ..
                })
            ),
            "{bad}"
        );
    }
    let context = PubliccodeContext {
        url: Some("not a url".into()),
        ..licensed()
    };
    assert!(matches!(
        publiccode_yml(&entry("code"), &context),
        Err(ExportError::InvalidContext { field: "url", .. })
    ));
}

#[test]
fn kinds_that_are_not_software_or_datasets_get_a_clear_error() {
    for kind in [
        "dpia",
        "ros",
        "guide",
        "process",
        "dataset",
        "datamodel",
        "new-kind",
    ] {
        let error = publiccode_yml(&entry(kind), &licensed()).unwrap_err();
        assert!(
            matches!(&error, ExportError::NotApplicable { format: "publiccode.yml", kind: k, .. } if k == kind),
            "{kind}: {error:?}"
        );
        assert!(error.to_string().contains("code, integration"), "{error}");
    }
    for kind in ["code", "integration", "dpia", "experience"] {
        let error = dcat_jsonld(&entry(kind), &DcatContext::default()).unwrap_err();
        assert!(
            matches!(
                &error,
                ExportError::NotApplicable {
                    format: "DCAT-AP-NO",
                    ..
                }
            ),
            "{kind}: {error:?}"
        );
        assert!(error.to_string().contains("dataset, datamodel"), "{error}");
    }
}

#[test]
fn round_trip_gives_back_name_description_and_tags() {
    let mut entry = endorsed(entry("code"), EndorsementStatus::Recommended);
    entry.tags = vec!["document-management".into(), "workflow-management".into()];
    let yml = publiccode_yml(&entry, &licensed()).expect("export");
    let back = parse_publiccode(&yml).expect("parse");
    assert_eq!(back.name, entry.title);
    assert_eq!(back.description, entry.description);
    assert_eq!(back.tags, entry.tags);
    assert_eq!(back.license.as_deref(), Some("EUPL-1.2"));
    assert_eq!(back.description_language.as_deref(), Some("nb"));
    assert_eq!(back.contacts[0].name, "Bergen kommune");
    // A second round does not grow the description.
    entry.description = back.description.clone();
    let again = parse_publiccode(&publiccode_yml(&entry, &licensed()).unwrap()).unwrap();
    assert_eq!(again.description, back.description);
}

#[test]
fn tags_without_a_place_in_publiccode_yml_are_named() {
    assert_eq!(publiccode_dropped_tags(&entry("code")), vec!["barnehage"]);
}

#[test]
fn the_validator_catches_broken_documents() {
    let good = publiccode_yml(&entry("code"), &licensed()).unwrap();
    assert!(validate_publiccode(&good).is_empty());
    let broken = |edit: &dyn Fn(&mut serde_norway::Mapping)| {
        let mut doc = yaml(&good);
        edit(doc.as_mapping_mut().unwrap());
        validate_publiccode(&serde_norway::to_string(&doc).unwrap())
    };
    let expect = |problems: Vec<String>, needle: &str| {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "expected a problem about {needle:?}, got {problems:?}"
        );
    };
    expect(
        broken(&|d| {
            d.remove("legal");
        }),
        "legal",
    );
    expect(
        broken(&|d| {
            d.remove("url");
        }),
        "url is missing",
    );
    expect(
        broken(&|d| {
            d.insert("categories".into(), yaml("[barnehage]"));
        }),
        "category list",
    );
    expect(
        broken(&|d| {
            d.insert("developmentStatus".into(), "done".into());
        }),
        "developmentStatus",
    );
    expect(
        broken(&|d| {
            d.insert("publiccodeYmlVersion".into(), "0.2".into());
        }),
        "older than 0.4",
    );
    expect(
        broken(&|d| {
            d.insert("releaseDate".into(), "2026-02-30".into());
        }),
        "releaseDate",
    );
    expect(
        broken(&|d| {
            d.insert("legal".into(), yaml("license: NOASSERTION"));
        }),
        "SPDX",
    );
    expect(
        broken(&|d| {
            d.insert("maintenance".into(), yaml("type: internal"));
        }),
        "maintenance.contacts is mandatory",
    );
    expect(
        broken(&|d| {
            d.insert("maintenance".into(), yaml("type: contract"));
        }),
        "maintenance.contractors is mandatory",
    );
    expect(
        broken(&|d| {
            d.insert(
                "description".into(),
                yaml(&format!(
                    "nb:\n  shortDescription: '{}'\n  longDescription: kort\n",
                    "x".repeat(151)
                )),
            );
        }),
        "at most 150",
    );
    expect(
        broken(&|d| {
            d.insert(
                "description".into(),
                yaml("nb:\n  shortDescription: kort\n  longDescription: kort\n"),
            );
        }),
        "150 to 10000",
    );
    expect(
        broken(&|d| {
            d.insert("localisation".into(), yaml("localisationReady: 'yes'"));
        }),
        "availableLanguages is missing",
    );
    expect(validate_publiccode("name: [unclosed"), "not valid YAML");
    expect(validate_publiccode("- a\n- list\n"), "not a mapping");
    let everything_missing = validate_publiccode("{}");
    for key in [
        "publiccodeYmlVersion",
        "name",
        "url",
        "platforms",
        "categories",
        "developmentStatus",
        "softwareType",
        "description",
        "legal",
        "maintenance",
        "localisation",
    ] {
        expect(everything_missing.clone(), key);
    }
}

#[test]
fn parsing_tolerates_foreign_files_and_prefers_norwegian() {
    let foreign = "\
publiccodeYmlVersion: '0.2'
name: Medusa
url: https://example.com/italia/medusa.git
softwareVersion: 1.0
categories: [financial-reporting, crm]
unknownKey: {nested: [1, 2]}
description:
  en:
    shortDescription: A booking system
    longDescription: >
      Very long description of this software.
    features: [Booking]
  nb:
    shortDescription: Et bookingsystem
  it:
    shortDescription: Un sistema
legal:
  license: AGPL-3.0-or-later
maintenance:
  type: community
  contacts:
    - name: Francesco Rossi
      email: francesco@example.com
    - email: no-name@example.com
it:
  countryExtensionVersion: '1.0'
";
    let parsed = parse_publiccode(foreign).expect("parse");
    assert_eq!(parsed.name, "Medusa");
    assert_eq!(parsed.description, "Et bookingsystem");
    assert_eq!(parsed.description_language.as_deref(), Some("nb"));
    assert_eq!(parsed.tags, vec!["financial-reporting", "crm"]);
    assert_eq!(parsed.license.as_deref(), Some("AGPL-3.0-or-later"));
    assert_eq!(parsed.software_version.as_deref(), Some("1.0"));
    assert_eq!(
        parsed.url.as_deref(),
        Some("https://example.com/italia/medusa.git")
    );
    assert_eq!(
        parsed.contacts.len(),
        1,
        "a contact without a name is skipped"
    );

    let english = foreign.replace("  nb:\n    shortDescription: Et bookingsystem\n", "");
    let parsed = parse_publiccode(&english).unwrap();
    assert_eq!(
        parsed.description,
        "Very long description of this software."
    );
    assert_eq!(parsed.features, vec!["Booking"]);

    let only_italian = "name: X\ndescription:\n  it:\n    shortDescription: Un sistema\n";
    assert_eq!(
        parse_publiccode(only_italian).unwrap().description,
        "Un sistema"
    );
    let localised = "description:\n  nb:\n    localisedName: Navn\n";
    assert_eq!(parse_publiccode(localised).unwrap().name, "Navn");
}

#[test]
fn parsing_refuses_what_is_not_a_usable_publiccode_yml() {
    assert_eq!(
        parse_publiccode("url: https://example.com/x.git\n"),
        Err(ExportError::Missing("name"))
    );
    assert_eq!(
        parse_publiccode("name: '  '\n"),
        Err(ExportError::Missing("name"))
    );
    assert!(matches!(
        parse_publiccode("name: [unclosed"),
        Err(ExportError::Yaml(_))
    ));
    assert!(matches!(
        parse_publiccode("just text"),
        Err(ExportError::Yaml(_))
    ));
    let huge = format!("name: x\nfiller: '{}'\n", "a".repeat(MAX_PUBLICCODE_BYTES));
    assert!(matches!(
        parse_publiccode(&huge),
        Err(ExportError::TooLarge { .. })
    ));
    // A billion-laughs document is refused, not expanded.
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (i, name) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().enumerate() {
        let prev = ["a", "b", "c", "d", "e", "f", "g", "h"][i];
        bomb.push_str(&format!(
            "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    bomb.push_str("name: *i\n");
    assert!(parse_publiccode(&bomb).is_err());
}

#[test]
fn the_context_is_read_from_what_the_files_declare() {
    let cargo = b"[package]\nname = \"x\"\nversion = \"2.1.0\"\nlicense = \"EUPL-1.2\"\nrepository = \"https://git.example.no/x\"\n\n[dependencies]\nlicense = \"ignored\"\n";
    let context = PubliccodeContext::from_files([("Cargo.toml", &cargo[..])]);
    assert_eq!(context.license.as_deref(), Some("EUPL-1.2"));
    assert_eq!(context.software_version.as_deref(), Some("2.1.0"));
    assert_eq!(context.url.as_deref(), Some("https://git.example.no/x"));

    let npm = br#"{"version": "0.3.0", "license": "MIT", "repository": {"url": "https://git.example.no/y.git"}}"#;
    let context = PubliccodeContext::from_files([("package.json", &npm[..])]);
    assert_eq!(context.license.as_deref(), Some("MIT"));
    assert_eq!(context.url.as_deref(), Some("https://git.example.no/y.git"));

    let header = b"// SPDX-License-Identifier: MPL-2.0\nfn main() {}\n";
    let context = PubliccodeContext::from_files([("src/main.rs", &header[..])]);
    assert_eq!(context.license.as_deref(), Some("MPL-2.0"));

    let eupl = b"                      EUROPEAN UNION PUBLIC LICENCE v. 1.2\n                      EUPL (c) the European Union 2007, 2016\n";
    let context = PubliccodeContext::from_files([("LICENSE", &eupl[..])]);
    assert_eq!(context.license.as_deref(), Some("EUPL-1.2"));

    let own = b"name: X\nurl: https://git.example.no/z.git\nlegal:\n  license: Apache-2.0\n";
    let context =
        PubliccodeContext::from_files([("publiccode.yml", &own[..]), ("Cargo.toml", &cargo[..])]);
    assert_eq!(
        context.license.as_deref(),
        Some("Apache-2.0"),
        "publiccode.yml wins"
    );
    assert_eq!(context.url.as_deref(), Some("https://git.example.no/z.git"));

    let junk = PubliccodeContext::from_files([
        ("Cargo.toml", &b"\xff\xfe"[..]),
        ("package.json", &b"{not json"[..]),
        ("publiccode.yml", &b"[[["[..]),
        ("src/a.rs", &b"SPDX-License-Identifier: \n"[..]),
    ]);
    assert_eq!(junk, PubliccodeContext::default());
}

#[test]
fn spdx_expressions_urls_and_dates() {
    for good in [
        "EUPL-1.2",
        "MIT OR Apache-2.0",
        "(MIT OR Apache-2.0) AND BSD-3-Clause",
        "GPL-2.0-or-later WITH Classpath-exception-2.0",
        "LicenseRef-kommunal",
        "GPL-2.0+",
    ] {
        assert!(is_spdx_expression(good), "{good}");
    }
    for bad in [
        "",
        "NOASSERTION",
        "NONE",
        "MIT OR",
        "(MIT",
        "MIT)",
        "MIT Apache-2.0",
        "a/b",
    ] {
        assert!(!is_spdx_expression(bad), "{bad}");
    }
    assert!(is_url("https://example.com/x.git"));
    assert!(is_url("allmenning://abcd"));
    assert!(!is_url("example.com"));
    assert!(!is_url("https://exa mple.com"));
    assert!(is_iso_date("2024-02-29"));
    assert!(!is_iso_date("2023-02-29"));
    assert!(!is_iso_date("2023-2-28"));
    assert_eq!(iso_date(0), "1970-01-01");
    assert_eq!(iso_date(T0), "2026-11-29");
    assert_eq!(
        artefact_file_url(&ArtefactId([1; 16]), "data/år 2024.csv"),
        format!("allmenning://{}/data/%C3%A5r%202024.csv", "01".repeat(16))
    );
}

// ----- DCAT-AP-NO ------------------------------------------------------------------------------

fn dcat_context() -> DcatContext {
    DcatContext {
        contact_email: Some("postmottak@bergen.kommune.no".into()),
        license: Some("CC-BY-4.0".into()),
        files: vec![
            DistributionFile {
                path: "data/barnehager.csv".into(),
                size: 1000,
            },
            DistributionFile {
                path: "README.md".into(),
                size: 234,
            },
        ],
        ..DcatContext::default()
    }
}

#[test]
fn datasets_and_data_models_export_valid_dcat_ap_no() {
    for kind in ["dataset", "datamodel"] {
        let document = dcat_jsonld(&entry(kind), &dcat_context()).expect("export");
        assert_eq!(
            validate_dcat_ap_no(&document),
            Vec::<String>::new(),
            "{document:#}"
        );
        assert_eq!(document["@type"], "dcat:Dataset");
        assert_eq!(document["dct:title"][0]["@language"], "nb");
        assert_eq!(
            document["dct:publisher"]["@id"],
            "https://organization-catalog.fellesdatakatalog.digdir.no/organizations/964338531"
        );
        assert_eq!(document["dct:publisher"]["dct:identifier"], "964338531");
        assert_eq!(
            document["dcat:theme"][0]["@id"],
            format!("{EU_DATA_THEME}GOVE")
        );
        assert_eq!(
            document["dcat:theme"][1]["@id"],
            "https://psi.norge.no/los/tema/barnehage"
        );
        assert_eq!(document["dct:modified"]["@value"], "2026-11-30");
        assert_eq!(
            document["dcat:contactPoint"][0]["vcard:hasEmail"]["@id"],
            "mailto:postmottak@bergen.kommune.no"
        );
        let distributions = document["dcat:distribution"].as_array().unwrap();
        assert_eq!(distributions.len(), 2);
        assert_eq!(
            distributions[0]["dcat:mediaType"]["@id"],
            "https://www.iana.org/assignments/media-types/text/csv"
        );
        assert_eq!(
            document["dct:accessRights"]["@id"],
            "http://publications.europa.eu/resource/authority/access-right/PUBLIC"
        );
        assert_eq!(
            distributions[1]["dct:license"]["@id"],
            "http://publications.europa.eu/resource/authority/licence/CC_BY_4_0"
        );
    }
    let nlod = DcatContext {
        license: Some("NLOD_2_0".into()),
        ..dcat_context()
    };
    let document = dcat_jsonld(&entry("dataset"), &nlod).unwrap();
    assert_eq!(
        document["dcat:distribution"][0]["dct:license"]["@id"],
        "http://publications.europa.eu/resource/authority/licence/NLOD_2_0"
    );
    for unclear in [
        "MIT OR Apache-2.0",
        "http://data.norge.no/nlod/no/2.0",
        "cc-by",
    ] {
        let context = DcatContext {
            license: Some(unclear.into()),
            ..dcat_context()
        };
        assert!(
            matches!(
                dcat_jsonld(&entry("dataset"), &context),
                Err(ExportError::InvalidContext {
                    field: "licence",
                    ..
                })
            ),
            "{unclear}"
        );
    }
}

#[test]
fn a_bare_dataset_still_has_every_mandatory_property_but_the_e_mail() {
    let mut bare = entry("dataset");
    bare.description = String::new();
    bare.tags = Vec::new();
    bare.los_theme = None;
    bare.owner_name = None;
    bare.visibility = Visibility::Restricted {
        readers: Vec::new(),
    };
    let document = dcat_jsonld(&bare, &DcatContext::default()).expect("export");
    assert_eq!(
        validate_dcat_ap_no(&document),
        vec![format!(
            "allmenning://{}: dcat:contactPoint has no vcard:hasEmail (mandatory)",
            "ab".repeat(16)
        )]
    );
    assert_eq!(document["dcat:distribution"].as_array().unwrap().len(), 1);
    assert!(document["dct:accessRights"]["@id"]
        .as_str()
        .unwrap()
        .ends_with("RESTRICTED"));
    let with_email = DcatContext {
        contact_email: Some("data@example.no".into()),
        ..DcatContext::default()
    };
    assert!(validate_dcat_ap_no(&dcat_jsonld(&bare, &with_email).unwrap()).is_empty());
    let bad_email = DcatContext {
        contact_email: Some("not an address".into()),
        ..DcatContext::default()
    };
    assert!(matches!(
        dcat_jsonld(&bare, &bad_email),
        Err(ExportError::InvalidContext { .. })
    ));
}

#[test]
fn the_dcat_validator_catches_broken_documents() {
    let good = dcat_jsonld(&entry("dataset"), &dcat_context()).unwrap();
    let broken = |edit: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
        let mut doc = good.clone();
        edit(doc.as_object_mut().unwrap());
        validate_dcat_ap_no(&doc)
    };
    let expect = |problems: Vec<String>, needle: &str| {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "expected a problem about {needle:?}, got {problems:?}"
        );
    };
    for key in [
        "dct:title",
        "dct:description",
        "dct:identifier",
        "dct:publisher",
        "dcat:theme",
        "dcat:contactPoint",
    ] {
        expect(
            broken(&|d| {
                d.remove(key);
            }),
            key,
        );
    }
    expect(
        broken(&|d| {
            d.insert(
                "dcat:theme".into(),
                json!([{ "@id": "https://psi.norge.no/los/tema/barnehage" }]),
            );
        }),
        "EU vocabulary",
    );
    expect(
        broken(&|d| {
            d.insert("dct:publisher".into(), json!({ "foaf:name": "Bergen" }));
        }),
        "must be an IRI",
    );
    expect(
        broken(&|d| {
            d.insert(
                "dct:publisher".into(),
                json!({ "@id": "https://example.no/org/1" , "@type": "foaf:Agent"}),
            );
        }),
        "foaf:name",
    );
    expect(
        broken(&|d| {
            d.insert(
                "dct:title".into(),
                json!([{"@value": "A", "@language": "nb"}, {"@value": "B", "@language": "nb"}]),
            );
        }),
        "more than one value in language",
    );
    expect(
        broken(&|d| {
            d.insert(
                "dcat:distribution".into(),
                json!([{ "@type": "dcat:Distribution" }]),
            );
        }),
        "accessURL",
    );
    expect(
        broken(&|d| {
            d.insert("dct:issued".into(), json!("yesterday"));
        }),
        "dct:issued",
    );
    expect(
        broken(&|d| {
            d.insert(
                "dcat:distribution".into(),
                json!([{ "dcat:accessURL": { "@id": "https://x.no" }, "dct:license": { "@id": "https://x.no/lisens" } }]),
            );
        }),
        "EU vocabulary Licence",
    );
    expect(
        broken(&|d| {
            d.insert("@type".into(), json!("dcat:Catalog"));
        }),
        "no node has @type dcat:Dataset",
    );
    expect(validate_dcat_ap_no(&json!("text")), "dcat:Dataset");
}

#[test]
fn the_dcat_validator_reads_graphs_and_full_iris() {
    let document = json!({
        "@graph": [
            {
                "@id": "https://data.example.no/datasett/1",
                "@type": ["http://www.w3.org/ns/dcat#Dataset"],
                "http://purl.org/dc/terms/title": "Barnehager",
                "http://purl.org/dc/terms/description": "Alle barnehager",
                "http://purl.org/dc/terms/identifier": "1",
                "http://purl.org/dc/terms/publisher": { "@id": "https://example.no/org/1" },
                "http://www.w3.org/ns/dcat#theme": { "@id": format!("{EU_DATA_THEME}EDUC") },
                "http://www.w3.org/ns/dcat#contactPoint": {
                    "http://www.w3.org/2006/vcard/ns#fn": "Kundesenter",
                    "http://www.w3.org/2006/vcard/ns#hasEmail": { "@id": "mailto:post@example.no" }
                }
            },
            { "@id": "https://example.no/org/1", "foaf:name": "Eksempel kommune" }
        ]
    });
    assert_eq!(validate_dcat_ap_no(&document), Vec::<String>::new());
}
