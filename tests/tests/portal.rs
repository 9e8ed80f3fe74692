//! The web portal in a real headless browser: Bergen's node serves `--portal` on loopback, holds
//! a public artefact that KS approved and a restricted one shared with Trondheim only. Debian's
//! chromium renders every page; the public title and KS's approval show, the restricted title
//! shows nowhere, not even at its own address, which answers like an id that does not exist.
//!
//! Needs `/usr/bin/chromium` (Debian package `chromium`, which `.ci/run` installs); without it the
//! test says so loudly and is skipped, except in CI (`CI=true`), where it fails.
//! With `ALLMENNING_PORTAL_SCREENSHOT=FILE.png` it also saves a screenshot of the catalogue.

use allmenning_tests::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const PUBLIC_TITLE: &str = "Redusert foreldrebetaling i barnehage";
const SECRET_TITLE: &str = "ROS-analyse barnehageopptak Q7ZK-KONFIDENSIELL";
const SECRET_BODY: &str = "HEMMELIG-7f3a9c: passordet ligger i arkivkjelleren";

/// Chromium, headless, with a throw-away profile and nothing that phones home.
fn chromium(profile: &Path) -> Command {
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// The DOM chromium rendered for `url`.
fn dump_dom(profile: &Path, url: &str) -> String {
    let started = Instant::now();
    let mut cmd = chromium(profile);
    cmd.args(["--dump-dom", url]);
    let out = run_with_timeout(cmd, secs(60));
    assert!(
        out.status.success(),
        "chromium --dump-dom {url} failed\n{}",
        describe(&out)
    );
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        dom.contains("</html>"),
        "chromium gave no document for {url}\n{}",
        describe(&out)
    );
    eprintln!(
        "chromium rendered {url} in {:.0} ms ({} bytes)",
        started.elapsed().as_secs_f64() * 1000.0,
        dom.len()
    );
    dom
}

fn publish(node: &Node, dir: &str, files: &[(&str, &[u8])], args: &[&str]) -> String {
    let src = node.scratch().join(dir);
    write_tree(&src, files);
    let mut all = vec!["publish", src.to_str().unwrap()];
    all.extend_from_slice(args);
    let v = node.json(&all);
    v["id"].as_str().expect("publish --json has id").to_string()
}

#[test]
fn portal() {
    if !Path::new(CHROMIUM).exists() {
        allmenning_tests::skip_without(
            "portal",
            &format!("chromium not installed ({CHROMIUM}; apt-get install chromium)"),
        );
        return;
    }
    let started = Instant::now();
    let ks = Node::start("ks", KS);
    let mut bergen = Node::init("bergen", BERGEN);
    let port = free_port();
    let portal_addr = format!("127.0.0.1:{port}");
    bergen.spawn_with_args(&["--portal", &portal_addr]);
    let trondheim = Node::start("trondheim", TRONDHEIM);
    form_network(&ks, &[&bergen, &trondheim]);
    // Restricted content travels only over direct connections between nodes that may read it.
    trondheim.connect(&bergen);
    trondheim.wait_connected(&bergen);

    let public = publish(
        &bergen,
        "foreldrebetaling",
        &[
            (
                "README.md",
                b"# Redusert foreldrebetaling\n\nHenter skattegrunnlag og beregner satsen.\n",
            ),
            (
                "src/beregning.py",
                b"def sats(inntekt):\n    return min(inntekt * 0.06, 3315)\n",
            ),
        ],
        &[
            "--kind",
            "integration",
            "--title",
            PUBLIC_TITLE,
            "--tag",
            "barnehage",
            "--description",
            "Automatiserer redusert foreldrebetaling i barnehage.",
        ],
    );
    let secret = publish(
        &bergen,
        "ros",
        &[("ros.md", format!("# ROS\n\n{SECRET_BODY}\n").as_bytes())],
        &[
            "--kind",
            "ros",
            "--title",
            SECRET_TITLE,
            "--tag",
            "barnehage",
            "--share-with",
            TRONDHEIM.number,
        ],
    );
    assert_eq!(bergen.show(&secret)["visibility"], "restricted");

    // KS approves the public one; Bergen's node (the portal's) learns of it.
    let heads = bergen.heads(&public).unwrap();
    ks.wait_complete_with(&public, &heads, secs(30));
    ks.ok(&[
        "curate",
        "endorse",
        &public,
        "--status",
        "approved",
        "--note",
        "Gjennomgått av KS",
    ]);
    wait_until(secs(30), "bergen sees KS's approval", || {
        bergen
            .endorsements(&public)
            .iter()
            .any(|e| e["status"] == "approved")
    });
    // Bergen's own search finds both (it may read the restricted one): the portal must not.
    wait_until(secs(20), "bergen's search finds both artefacts", || {
        bergen.try_json(&["search", "barnehage"]).is_some_and(|v| {
            let text = v.to_string();
            text.contains(&public) && text.contains(&secret)
        })
    });
    eprintln!(
        "nodes, network, artefacts and approval ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let base = format!("http://{portal_addr}");
    let profile = tempfile::tempdir().unwrap();
    // No initiative yet: an honest empty state.
    let empty = dump_dom(profile.path(), &format!("{base}/initiativ"));
    assert!(
        empty.contains("Ingen initiativ er registrert ennå"),
        "{empty}"
    );
    for id in [&public, &secret] {
        let heads = bergen.heads(id).unwrap();
        trondheim.wait_complete_with(id, &heads, secs(30));
    }
    // Trondheim (a reader of the restricted artefact) leads an initiative naming both artefacts;
    // Bergen's node learns of it with the restricted title attached, and must not show that.
    let initiative = trondheim.json(&[
        "initiative",
        "new",
        "Felles digitalt barnehageopptak",
        "--description",
        "Ett opptak for hele regionen",
        "--artefact",
        &public,
        "--artefact",
        &secret,
        "--yes",
    ]);
    let initiative = initiative["id"]
        .as_str()
        .unwrap_or_else(|| panic!("initiative new --json has no id: {initiative}"))
        .to_string();
    wait_until(secs(30), "bergen knows the initiative", || {
        bergen
            .try_json(&["initiative", "list"])
            .is_some_and(|v| v.to_string().contains(&initiative))
    });
    let browser_started = Instant::now();
    let pages: Vec<(String, String)> = [
        "/".to_string(),
        "/?q=barnehage".to_string(),
        "/?q=barnehage&kind=integration&status=approved".to_string(),
        "/?tag=barnehage".to_string(),
        format!("/artefakt/{public}"),
        "/referansearkitektur".to_string(),
        "/hvem".to_string(),
        "/initiativ".to_string(),
        format!("/artefakt/{secret}"),
    ]
    .into_iter()
    .map(|path| {
        let dom = dump_dom(profile.path(), &format!("{base}{path}"));
        (path, dom)
    })
    .collect();
    let browser_time = browser_started.elapsed();

    for (path, dom) in &pages {
        assert!(
            dom.contains("<html lang=\"nb\">"),
            "{path}: no lang=\"nb\"\n{dom}"
        );
        for needle in [SECRET_TITLE, "Q7ZK", "HEMMELIG-7f3a9c", secret.as_str()] {
            assert!(
                !dom.contains(needle),
                "{path} shows {needle:?} of the restricted artefact\n{dom}"
            );
        }
    }
    let dom = |path: &str| -> &str {
        &pages
            .iter()
            .find(|(p, _)| p == path)
            .unwrap_or_else(|| panic!("no page {path}"))
            .1
    };
    let link = format!("href=\"/artefakt/{public}\"");
    for path in [
        "/",
        "/?q=barnehage",
        "/?q=barnehage&kind=integration&status=approved",
        "/?tag=barnehage",
    ] {
        let d = dom(path);
        assert!(
            d.contains(PUBLIC_TITLE),
            "{path} lacks the public title\n{d}"
        );
        assert!(d.contains(&link), "{path} lacks the link to it\n{d}");
        assert!(
            d.contains("Godkjent av KS"),
            "{path} lacks the approval\n{d}"
        );
    }
    assert!(dom("/").contains("Katalog") && dom("/").contains("<label for=\"felt-q\">Søk</label>"));
    assert!(
        dom("/?q=barnehage").contains("1 treff for «barnehage»"),
        "{}",
        dom("/?q=barnehage")
    );

    let page = dom(&format!("/artefakt/{public}"));
    for expected in [
        PUBLIC_TITLE,
        "Godkjent av KS",
        "gjelder gjeldende versjon",
        "Gjennomgått av KS",
        "README.md",
        "src/beregning.py",
        "Endringshistorikk",
        "Tatt i bruk av",
        "ingen ennå",
        "Ingen forslag",
        "Bergen kommune",
    ] {
        assert!(
            page.contains(expected),
            "the artefact page lacks {expected:?}\n{page}"
        );
    }
    let arch = dom("/referansearkitektur");
    assert!(
        arch.contains(PUBLIC_TITLE) && arch.contains("Integrasjon"),
        "{arch}"
    );
    assert!(arch.contains("Godkjent av KS"), "{arch}");
    let who = dom("/hvem");
    for expected in [
        "Hvem gjør hva",
        "Bergen kommune",
        "Trondheim kommune",
        "KS",
        PUBLIC_TITLE,
    ] {
        assert!(who.contains(expected), "/hvem lacks {expected:?}\n{who}");
    }
    let initiatives = dom("/initiativ");
    for expected in [
        "Felles digitalt barnehageopptak",
        "Ett opptak for hele regionen",
        "Trondheim kommune",
        PUBLIC_TITLE,
        "og 1 artefakt som ikke er tilgjengelig her",
    ] {
        assert!(
            initiatives.contains(expected),
            "/initiativ lacks {expected:?}\n{initiatives}"
        );
    }
    assert!(who.contains("Kaptein for (1)"), "{who}");
    let hidden = dom(&format!("/artefakt/{secret}"));
    assert!(hidden.contains("Fant ikke siden"), "{hidden}");

    // Status codes, and the restricted artefact's answer is the unknown id's, byte for byte.
    let unknown = format!("/artefakt/{}", "0".repeat(32));
    let (status, secret_body, _) = http_get(port, &format!("/artefakt/{secret}"));
    assert_eq!(status, 404);
    let (status, unknown_body, _) = http_get(port, &unknown);
    assert_eq!(status, 404);
    assert_eq!(secret_body, unknown_body);
    let mut slowest = Duration::ZERO;
    for path in [
        "/",
        "/?q=barnehage",
        &format!("/artefakt/{public}"),
        "/referansearkitektur",
        "/hvem",
    ] {
        let (status, body, took) = http_get(port, path);
        assert_eq!(status, 200, "{path}\n{body}");
        slowest = slowest.max(took);
    }
    eprintln!(
        "chromium rendered {} pages in {:.1} s; slowest plain GET {:.1} ms",
        pages.len(),
        browser_time.as_secs_f64(),
        slowest.as_secs_f64() * 1000.0
    );
    assert!(slowest < secs(2), "a portal page took {slowest:?}");

    if let Some(file) = std::env::var_os("ALLMENNING_PORTAL_SCREENSHOT") {
        // The catalogue in FILE, the other pages beside it (FILE-artefakt.png, ...).
        let file = PathBuf::from(file);
        let stem = file.with_extension("");
        for (path, suffix) in [
            ("/".to_string(), None),
            (format!("/artefakt/{public}"), Some("artefakt")),
            (
                "/referansearkitektur".to_string(),
                Some("referansearkitektur"),
            ),
            ("/hvem".to_string(), Some("hvem")),
            ("/initiativ".to_string(), Some("initiativ")),
        ] {
            let target = match suffix {
                None => file.clone(),
                Some(s) => PathBuf::from(format!("{}-{s}.png", stem.display())),
            };
            let mut cmd = chromium(profile.path());
            cmd.arg(format!("--screenshot={}", target.display()))
                .args(["--window-size=1280,1100", "--hide-scrollbars"])
                .arg(format!("{base}{path}"));
            let out = run_with_timeout(cmd, secs(60));
            assert!(
                out.status.success(),
                "screenshot failed\n{}",
                describe(&out)
            );
            eprintln!("screenshot of {path} in {}", target.display());
        }
    }
    eprintln!(
        "portal test done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
