//! Allmenning vs git on the same job: share a ~5 MB source tree with a second machine, then
//! keep it in sync through small edits.
//!
//! ```text
//! cargo build --release && cargo run --release -p allmenning-simulations --bin bench -- [--tree PATH] [--out FILE] [--edits N]
//! ```
//!
//! Everything runs on this machine over loopback: two `allmenning node start` processes with
//! their own temporary homes, and `git daemon` serving a temporary repository. Figures are
//! printed as a side-by-side table and as JSON (to stdout, or to `--out FILE`). Nothing is
//! asserted: this measures.
//!
//! Every Allmenning figure includes the cost of starting the CLI process (as a user pays it),
//! and the "arrived on the 2nd node" times are detected by polling the 2nd node every ~20 ms, so
//! they are upper bounds that are up to one poll (plus one CLI start) late.

use allmenning_tests::{heads_of, parse_json, Node, BERGEN, OSLO, TRONDHEIM};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(20);

struct Args {
    tree: Option<PathBuf>,
    out: Option<PathBuf>,
    edits: usize,
    runs: usize,
    git_only: bool,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        tree: None,
        out: None,
        edits: 50,
        runs: 3,
        git_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--tree" => args.tree = Some(it.next().context("--tree needs a path")?.into()),
            "--out" => args.out = Some(it.next().context("--out needs a path")?.into()),
            "--edits" => args.edits = it.next().context("--edits needs a number")?.parse()?,
            "--git-only" => args.git_only = true,
            "--runs" => args.runs = it.next().context("--runs needs a number")?.parse::<usize>()?.max(1),
            "-h" | "--help" => {
                println!("usage: bench [--tree PATH] [--out FILE] [--edits N] [--runs N] [--git-only]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (usage: bench [--tree PATH] [--out FILE] [--edits N] [--runs N] [--git-only])"),
        }
    }
    Ok(args)
}

// ---------------------------------------------------------------------------------------------
// The allmenning binary
// ---------------------------------------------------------------------------------------------

fn ensure_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("ALLMENNING_BIN") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        bail!("ALLMENNING_BIN={} does not exist", p.display());
    }
    // Next to this binary (target/release/allmenning); under `cargo run` it is (re)built first.
    let exe = std::env::current_exe()?;
    let found = allmenning_tests::locate_or_build(&exe).map_err(|e| {
        anyhow::anyhow!(
            "{e}\n(for the benchmark: `cargo build --release` first, or set ALLMENNING_BIN)"
        )
    })?;
    // The harness looks for ALLMENNING_BIN first: pin it to what we found.
    std::env::set_var("ALLMENNING_BIN", &found);
    Ok(found)
}

// ---------------------------------------------------------------------------------------------
// The input tree
// ---------------------------------------------------------------------------------------------

/// (files, bytes) of the regular files under `dir` (symlinks not followed).
fn tree_stats(dir: &Path) -> (usize, u64) {
    let mut files = 0;
    let mut bytes = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                files += 1;
                bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    (files, bytes)
}

/// A crate from the local cargo registry with 500-800 files and 3-8 MB, chosen deterministically:
/// the preferred families first (in order), then any crate, closest to 600 files / 5 MB, ties by
/// name.
fn choose_tree() -> Result<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    let src = home.join("registry").join("src");
    let mut crates: Vec<PathBuf> = Vec::new();
    for index in fs::read_dir(&src)
        .with_context(|| format!("reading {}", src.display()))?
        .flatten()
    {
        for c in fs::read_dir(index.path())?.flatten() {
            if c.file_type()?.is_dir() {
                crates.push(c.path());
            }
        }
    }
    crates.sort_by(|a, b| a.file_name().cmp(&b.file_name()).then(a.cmp(b)));
    crates.dedup_by(|a, b| a.file_name() == b.file_name());
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    let fits = |p: &Path| {
        let (f, b) = tree_stats(p);
        (500..=800).contains(&f) && (3_000_000..=8_000_000).contains(&b)
    };
    let score = |p: &Path| {
        let (f, b) = tree_stats(p);
        (
            (f as f64 - 600.0).abs() / 600.0 + (b as f64 - 5e6).abs() / 5e6,
            name(p),
        )
    };
    let best = |list: Vec<&PathBuf>| {
        list.into_iter()
            .map(|p| (score(p), p.clone()))
            .min_by(|a, b| a.0 .0.total_cmp(&b.0 .0).then_with(|| a.0 .1.cmp(&b.0 .1)))
            .map(|(_, p)| p)
    };
    for family in ["libp2p-", "tokio-1.", "syn-2.", "windows-", "rustls-"] {
        let matching: Vec<&PathBuf> = crates
            .iter()
            .filter(|p| name(p).starts_with(family) && fits(p))
            .collect();
        if let Some(p) = best(matching) {
            return Ok(p);
        }
    }
    let matching: Vec<&PathBuf> = crates.iter().filter(|p| fits(p)).collect();
    best(matching).with_context(|| {
        format!(
            "no crate in {} has 500-800 files and 3-8 MB; pass --tree PATH",
            src.display()
        )
    })
}

/// Copies the regular files of `from` into `to` (symlinks skipped), keeping permissions.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for e in fs::read_dir(from)?.flatten() {
        let ft = e.file_type()?;
        let target = to.join(e.file_name());
        if ft.is_dir() {
            if e.file_name() == ".git" {
                continue;
            }
            copy_tree(&e.path(), &target)?;
        } else if ft.is_file() {
            fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}

/// A mid-sized text file of the tree: the median-sized UTF-8 `.rs` (else any text) file with at
/// least 60 lines. Returns its path relative to `root`.
fn choose_edit_file(root: &Path) -> Result<String> {
    let mut candidates: Vec<(u64, String, bool)> = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d)?.flatten() {
            let ft = e.file_type()?;
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                let p = e.path();
                let Ok(text) = fs::read_to_string(&p) else {
                    continue;
                };
                if text.lines().count() < 60 {
                    continue;
                }
                let rel = p.strip_prefix(root)?.to_string_lossy().replace('\\', "/");
                let is_rs = rel.ends_with(".rs");
                candidates.push((text.len() as u64, rel, is_rs));
            }
        }
    }
    let mut pick: Vec<(u64, String)> = candidates
        .iter()
        .filter(|c| c.2)
        .map(|c| (c.0, c.1.clone()))
        .collect();
    if pick.is_empty() {
        pick = candidates.iter().map(|c| (c.0, c.1.clone())).collect();
    }
    pick.sort();
    pick.get(pick.len() / 2)
        .map(|c| c.1.clone())
        .context("no text file with 60+ lines in the tree")
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn run(cmd: &mut Command) -> Result<Output> {
    let described = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("spawning {described}"))?;
    if !out.status.success() {
        bail!(
            "{described} failed ({})\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, Duration)> {
    let start = Instant::now();
    let v = f()?;
    Ok((v, start.elapsed()))
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn du(dir: &Path) -> u64 {
    tree_stats(dir).1
}

/// VmHWM (peak resident set) of a process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    percentile(&s, 50.0)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

// ---------------------------------------------------------------------------------------------
// git
// ---------------------------------------------------------------------------------------------

struct GitFigures {
    commit: Duration,
    clone: Duration,
    clone_bytes: u64,
    /// Per edit: `git commit -a` in the served repo, then `git pull` in the clone.
    edit_secs: Vec<f64>,
}

/// Line numbers (0-based) for `edits` edits of a file of `n` lines: a different one each time,
/// spread over the file. The same sequence is used for git and Allmenning.
fn edit_lines(edits: usize, n: usize) -> Vec<usize> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for i in 0..edits {
        let mut line = (i * 7919) % n;
        while !seen.insert(line) && seen.len() < n {
            line = (line + 1) % n;
        }
        out.push(line);
    }
    out
}

/// Writes edit `i` into line `line` of `path` (whose lines are `lines`, updated in place).
fn apply_edit(path: &Path, lines: &mut [String], i: usize, line: usize) -> Result<()> {
    lines[line] = format!("// allmenning bench edit {i} (line {})", line + 1);
    fs::write(path, lines.join("\n"))?;
    Ok(())
}

fn file_lines(path: &Path) -> Result<(Vec<String>, usize)> {
    let original =
        fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let lines: Vec<String> = original.split('\n').map(String::from).collect();
    let n = lines.len().saturating_sub(1).max(1); // the text after the last '\n' is empty
    Ok((lines, n))
}

fn bench_git(input: &Path, edit_file: &str, edits: usize) -> Result<GitFigures> {
    let tmp = tempfile::Builder::new().prefix("bench-git-").tempdir()?;
    let base = tmp.path().join("served");
    let repo = base.join("repo");
    copy_tree(input, &repo)?;
    let git = |dir: &Path| {
        let mut c = Command::new("git");
        c.current_dir(dir)
            .args([
                "-c",
                "user.name=Bench",
                "-c",
                "user.email=bench@example.invalid",
            ])
            .args([
                "-c",
                "init.defaultBranch=main",
                "-c",
                "commit.gpgsign=false",
            ])
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", tmp.path());
        c
    };

    let ((), commit) = timed(|| {
        run(git(&repo).args(["init", "-q"]))?;
        run(git(&repo).args(["add", "-A"]))?;
        run(git(&repo).args(["commit", "-q", "-m", "Import"]))?;
        Ok(())
    })?;

    let port = free_port()?;
    let mut daemon = Command::new("git")
        .arg("daemon")
        .arg("--reuseaddr")
        .arg(format!("--base-path={}", base.display()))
        .arg("--export-all")
        .arg("--listen=127.0.0.1")
        .arg(format!("--port={port}"))
        .arg(&base)
        .env("HOME", tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting git daemon")?;
    let result = (|| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = daemon.try_wait()? {
                bail!("git daemon exited early ({status})");
            }
            if Instant::now() > deadline {
                bail!("git daemon did not listen on port {port} within 10 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let dest = tmp.path().join("clone");
        let ((), clone) = timed(|| {
            run(git(tmp.path()).args([
                "clone",
                "-q",
                &format!("git://127.0.0.1:{port}/repo"),
                "clone",
            ]))?;
            Ok(())
        })?;
        let clone_bytes = du(&dest);
        let path = repo.join(edit_file);
        let (mut lines, n) = file_lines(&path)?;
        let mut edit_secs = Vec::new();
        for (i, line) in edit_lines(edits, n).into_iter().enumerate() {
            apply_edit(&path, &mut lines, i, line)?;
            let t = Instant::now();
            run(git(&repo).args(["commit", "-q", "-a", "-m", &format!("bench edit {i}")]))?;
            run(git(&dest).args(["pull", "-q", "--ff-only"]))?;
            edit_secs.push(t.elapsed().as_secs_f64());
        }
        Ok(GitFigures {
            commit,
            clone,
            clone_bytes,
            edit_secs,
        })
    })();
    let _ = daemon.kill();
    let _ = daemon.wait();
    result
}

// ---------------------------------------------------------------------------------------------
// Allmenning
// ---------------------------------------------------------------------------------------------

struct AllmenningFigures {
    publish: Vec<f64>,
    complete_on_b: Vec<f64>,
    home_b_bytes: u64,
    edit_file: String,
    edit_lines: usize,
    commit_secs: Vec<f64>,
    edit_latency_secs: Vec<f64>,
    rss_a_kib: Option<u64>,
    rss_b_kib: Option<u64>,
    start_loaded_secs: Vec<f64>,
    start_empty_first: Duration,
    start_empty_secs: Vec<f64>,
}

fn cli_json(node: &Node, dir: Option<&Path>, args: &[&str]) -> Result<Value> {
    let mut cmd = node.command();
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let out = run(cmd.args(args))?;
    parse_json(&out.stdout)
        .with_context(|| format!("`allmenning {}` printed no JSON", args.join(" ")))
}

/// Heads of `id` on `node`, or None if it does not know it (yet).
fn heads(node: &Node, id: &str) -> Option<Vec<String>> {
    let out = node
        .command()
        .args(["show", id, "--json"])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_json(&out.stdout).map(|v| heads_of(&v))
}

/// Two fresh nodes; A publishes `input`; returns them, the id, the publish time and the time
/// from the start of `publish` until B lists the artefact complete with A's heads.
fn publish_once(input: &Path) -> Result<(Node, Node, String, Duration, Duration)> {
    let a = Node::start("bench-a", BERGEN);
    let b = Node::start_with("bench-b", TRONDHEIM, &[a.addr()]);
    b.wait_connected(&a);
    let input_s = input.to_str().context("input path is not UTF-8")?;
    let start = Instant::now();
    let published = cli_json(
        &a,
        None,
        &[
            "publish",
            input_s,
            "--kind",
            "code",
            "--title",
            "Benchmark tree",
            "--json",
        ],
    )?;
    let publish = start.elapsed();
    let id = published["id"]
        .as_str()
        .context("publish --json has no id")?
        .to_string();
    let want = match published.get("heads") {
        Some(Value::Array(_)) => heads_of(&published),
        _ => heads(&a, &id).context("A does not show what it published")?,
    };
    let deadline = Duration::from_secs(600);
    let complete_on_b = loop {
        let out = b
            .command()
            .args(["list", "--json"])
            .stdin(Stdio::null())
            .output()?;
        if out.status.success() {
            if let Some(v) = parse_json(&out.stdout) {
                let rows = allmenning_tests::array_of(&v, "artefacts");
                if rows
                    .iter()
                    .any(|r| r["id"] == id.as_str() && r["complete"] == true && heads_of(r) == want)
                {
                    break start.elapsed();
                }
            }
        }
        if start.elapsed() > deadline {
            bail!(
                "B did not list the artefact complete within {} s\n{}",
                deadline.as_secs(),
                b.log_tail(40)
            );
        }
        std::thread::sleep(POLL);
    };
    Ok((a, b, id, publish, complete_on_b))
}

fn bench_allmenning(
    input: &Path,
    edit_file: &str,
    edits: usize,
    runs: usize,
) -> Result<AllmenningFigures> {
    let mut publish = Vec::new();
    let mut complete_on_b = Vec::new();
    let mut last = None;
    for r in 0..runs {
        eprintln!("allmenning: run {}/{runs}: two fresh nodes, publish on A, wait until B lists it complete ...", r + 1);
        drop(last.take()); // the previous run's nodes stop before this run starts
        let (a, b, id, p, c) = publish_once(input)?;
        publish.push(p.as_secs_f64());
        complete_on_b.push(c.as_secs_f64());
        last = Some((a, b, id));
    }
    let (a, mut b, id) = last.expect("at least one run");
    let home_b_bytes = du(b.home());

    // Edit latency.
    let edit_file = edit_file.to_string();
    let checkout = a.scratch().join("checkout");
    run(a
        .command()
        .args(["checkout", &id, checkout.to_str().unwrap()]))?;
    let path = checkout.join(&edit_file);
    let (mut lines, n) = file_lines(&path)?;
    eprintln!("allmenning: {edits} edits to {edit_file} ({n} lines), each committed on A and awaited on B ...");
    let mut commit_secs = Vec::new();
    let mut edit_latency_secs = Vec::new();
    for (i, line) in edit_lines(edits, n).into_iter().enumerate() {
        apply_edit(&path, &mut lines, i, line)?;
        let t = Instant::now();
        let committed = cli_json(
            &a,
            Some(&checkout),
            &["commit", "-m", &format!("bench edit {i}"), "--json"],
        )?;
        commit_secs.push(t.elapsed().as_secs_f64());
        // `commit --json` reports the node's heads after the commit; else ask A.
        let target = match committed.get("heads") {
            Some(Value::Array(_)) => heads_of(&committed),
            _ => heads(&a, &id).context("A lost its artefact")?,
        };
        loop {
            if heads(&b, &id).as_ref() == Some(&target) {
                break;
            }
            if t.elapsed() > Duration::from_secs(120) {
                bail!("edit {i} did not reach B within 120 s\n{}", b.log_tail(40));
            }
            std::thread::sleep(POLL);
        }
        edit_latency_secs.push(t.elapsed().as_secs_f64());
    }

    let rss_a_kib = a.pid().and_then(peak_rss_kib);
    let rss_b_kib = b.pid().and_then(peak_rss_kib);

    // Start-up: B (holding the artefact) vs an empty node, three restarts each.
    eprintln!("allmenning: timing node start-up ...");
    let mut start_loaded_secs = Vec::new();
    b.set_bootstrap(&[]);
    for _ in 0..3 {
        b.stop();
        start_loaded_secs.push(b.spawn().as_secs_f64());
    }
    let mut empty = Node::init("bench-empty", OSLO);
    let start_empty_first = empty.spawn();
    let mut start_empty_secs = Vec::new();
    for _ in 0..3 {
        empty.stop();
        start_empty_secs.push(empty.spawn().as_secs_f64());
    }

    Ok(AllmenningFigures {
        publish,
        complete_on_b,
        home_b_bytes,
        edit_file,
        edit_lines: n,
        commit_secs,
        edit_latency_secs,
        rss_a_kib,
        rss_b_kib,
        start_loaded_secs,
        start_empty_first,
        start_empty_secs,
    })
}

// ---------------------------------------------------------------------------------------------

fn main() -> Result<()> {
    let args = parse_args()?;
    let bin = if args.git_only {
        PathBuf::new()
    } else {
        ensure_binary()?
    };

    let source = match &args.tree {
        Some(t) => t.clone(),
        None => choose_tree()?,
    };
    let (src_files, src_bytes) = tree_stats(&source);
    eprintln!(
        "input: {} ({src_files} files, {:.2} MiB)",
        source.display(),
        mib(src_bytes)
    );

    // Both sides get the same copy of the tree.
    let input_tmp = tempfile::Builder::new().prefix("bench-input-").tempdir()?;
    let input = input_tmp
        .path()
        .join(source.file_name().unwrap_or_else(|| "tree".as_ref()));
    copy_tree(&source, &input)?;
    let (files, bytes) = tree_stats(&input);

    eprintln!("git: init+add+commit, then clone over git://127.0.0.1 ...");
    let edit_file = choose_edit_file(&input)?;
    let mut git_commit = Vec::new();
    let mut git_clone = Vec::new();
    let mut g = None;
    for r in 0..args.runs {
        // The edit series runs once, with the last run.
        let edits = if r + 1 == args.runs { args.edits } else { 0 };
        let run = bench_git(&input, &edit_file, edits)?;
        git_commit.push(run.commit.as_secs_f64());
        git_clone.push(run.clone.as_secs_f64());
        g = Some(run);
    }
    let g = g.expect("at least one run");
    let (gc, gk) = (median(&git_commit), median(&git_clone));
    if args.git_only {
        println!(
            "git (median of {} runs): init+add+commit {:.3} s, clone {:.3} s, total {:.3} s ({files} files, {:.2} MiB)",
            args.runs,
            gc,
            gk,
            gc + gk,
            mib(bytes)
        );
        return Ok(());
    }
    let m = bench_allmenning(&input, &edit_file, args.edits, args.runs)?;

    let mut lat = m.edit_latency_secs.clone();
    lat.sort_by(f64::total_cmp);
    let mut com = m.commit_secs.clone();
    com.sort_by(f64::total_cmp);
    let (p50, p90, max) = (
        percentile(&lat, 50.0),
        percentile(&lat, 90.0),
        lat.last().copied().unwrap_or(f64::NAN),
    );
    let mut gl = g.edit_secs.clone();
    gl.sort_by(f64::total_cmp);
    let (g50, g90, gmax) = (
        percentile(&gl, 50.0),
        percentile(&gl, 90.0),
        gl.last().copied().unwrap_or(f64::NAN),
    );
    // Headline figures: medians over the runs.
    let (ap, ac) = (median(&m.publish), median(&m.complete_on_b));
    let transfer: Vec<f64> = m
        .publish
        .iter()
        .zip(&m.complete_on_b)
        .map(|(p, c)| c - p)
        .collect();
    let at = median(&transfer);
    let git_totals: Vec<f64> = git_commit
        .iter()
        .zip(&git_clone)
        .map(|(c, k)| c + k)
        .collect();
    let git_total = median(&git_totals);

    let f = |x: f64| format!("{x:.3} s");
    let rss = |k: Option<u64>| {
        k.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
            .unwrap_or_else(|| "n/a".into())
    };
    let runs = args.runs;
    let rows: Vec<(String, String, String)> = vec![
        (
            "input".into(),
            format!("{files} files, {:.2} MiB", mib(bytes)),
            "same tree".into(),
        ),
        (
            format!("record on 1st node (median of {runs})"),
            format!("{} (publish)", f(ap)),
            format!("{} (init+add+commit)", f(gc)),
        ),
        (
            format!("transfer to 2nd node (median of {runs})"),
            format!("{} (publish end → B complete)", f(at)),
            format!("{} (clone over git://)", f(gk)),
        ),
        (
            format!("publish→complete on 2nd node (median of {runs})"),
            f(ac),
            format!("{} (commit+clone)", f(git_total)),
        ),
        (
            "stored on 2nd node".into(),
            format!("{:.2} MiB (home)", mib(m.home_b_bytes)),
            format!("{:.2} MiB (clone incl. checkout)", mib(g.clone_bytes)),
        ),
        (
            format!("edit→on 2nd node, {} edits", lat.len()),
            format!("p50 {} | p90 {} | max {}", f(p50), f(p90), f(max)),
            format!(
                "p50 {} | p90 {} | max {} (commit -a + pull)",
                f(g50),
                f(g90),
                f(gmax)
            ),
        ),
        (
            "  of which `commit` on A".into(),
            format!(
                "p50 {} | max {}",
                f(percentile(&com, 50.0)),
                f(com.last().copied().unwrap_or(f64::NAN))
            ),
            "".into(),
        ),
        (
            "peak RSS node A / node B".into(),
            format!("{} / {}", rss(m.rss_a_kib), rss(m.rss_b_kib)),
            "".into(),
        ),
        (
            "node start-up, holding the tree".into(),
            format!("median {} of 3", f(median(&m.start_loaded_secs))),
            "".into(),
        ),
        (
            "node start-up, empty".into(),
            format!(
                "median {} of 3 (first start {})",
                f(median(&m.start_empty_secs)),
                f(m.start_empty_first.as_secs_f64())
            ),
            "".into(),
        ),
    ];
    let w0 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let w1 = rows
        .iter()
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(0)
        .max("allmenning".len());
    println!();
    println!(
        "Allmenning vs git — tree: {} ({files} files, {:.2} MiB), binary: {}",
        source.display(),
        mib(bytes),
        bin.display()
    );
    println!("{:<w0$} | {:<w1$} | git", "", "allmenning");
    println!("{}", "-".repeat(w0 + w1 + 30));
    for (k, a, g) in &rows {
        println!("{k:<w0$} | {a:<w1$} | {g}");
    }
    println!();
    println!(
        "publish→complete on 2nd node: allmenning {ac:.2} s | git commit+clone {git_total:.2} s"
    );
    println!(
        "Notes: every allmenning figure includes starting the CLI process; arrival on the 2nd node is \
         detected by polling it every {} ms with the CLI (so up to one poll plus one CLI start late). \
         Edits change one line of {} ({} lines), a different line each time; the first edit also \
         turns the file from a blob into co-edited text. git's edit figure is `git commit -a` in the \
         served repository plus `git pull` over git:// in the clone (what a 2nd site would run). \
         Each run of the first rows uses fresh nodes / a fresh repository.",
        POLL.as_millis(),
        m.edit_file,
        m.edit_lines
    );

    let figures = json!({
        "tree": {"source": source.display().to_string(), "files": files, "bytes": bytes},
        "runs": runs,
        "git": {
            "commit_s": gc,
            "clone_s": gk,
            "total_s": git_total,
            "runs": {"commit_s": git_commit, "clone_s": git_clone},
            "clone_bytes": g.clone_bytes,
            "edit_s": {"p50": g50, "p90": g90, "max": gmax, "all": g.edit_secs},
        },
        "allmenning": {
            "publish_s": ap,
            "complete_on_b_s": ac,
            "transfer_s": at,
            "total_s": ac,
            "runs": {"publish_s": m.publish, "complete_on_b_s": m.complete_on_b},
            "home_b_bytes": m.home_b_bytes,
            "peak_rss_kib": {"a": m.rss_a_kib, "b": m.rss_b_kib},
            "edit": {
                "file": m.edit_file,
                "count": lat.len(),
                "latency_s": {"p50": p50, "p90": p90, "max": max, "all": m.edit_latency_secs},
                "commit_s": {"p50": percentile(&com, 50.0), "all": m.commit_secs},
            },
            "startup_s": {
                "loaded": m.start_loaded_secs,
                "empty_first": m.start_empty_first.as_secs_f64(),
                "empty": m.start_empty_secs,
            },
            "poll_ms": POLL.as_millis() as u64,
            "includes_cli_start": true,
        },
    });
    let text = serde_json::to_string_pretty(&figures)?;
    match &args.out {
        Some(p) => {
            fs::write(p, text + "\n").with_context(|| format!("writing {}", p.display()))?;
            println!("figures written to {}", p.display());
        }
        None => {
            println!();
            println!("{text}");
        }
    }
    Ok(())
}
