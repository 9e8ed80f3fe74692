//! `allmenning demo`: three real nodes on this machine, showing the whole flow.

use super::{checkout, commit, pull, Ctx};
use crate::client::{Client, NewArtefact};
use crate::error::CliError;
use crate::output::short;
use crate::workdir::{Checkout, FileEntry, Tree};
use allmenning_node::control::{Bytes, FilePayload, NodeStatus};
use allmenning_node::home::Home;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Run a small network of three nodes on this machine and co-edit an artefact.
///
/// Starts real node processes for Bergen kommune, Trondheim kommune and KS in a temporary
/// directory, connects them, publishes a sample integration from Bergen, checks it out in Bergen
/// and Trondheim, edits the same README.md in both at once, commits both, and shows that every
/// node ends up with the same, merged files. KS then approves that version, Trondheim finds it
/// by search and adopts it as its own adaptation, and merges Bergen's later improvement into it
/// with `pull-upstream`. Takes a few seconds; nothing outside the temporary
/// directory is touched, and the nodes are stopped at the end. Node logs go to files in the
/// temporary directory, which is kept (and printed) with --keep or when a step fails.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning demo
  allmenning demo --keep     # keep the node homes, checkouts and logs for a closer look")]
pub struct DemoArgs {
    /// Keep the temporary directory (node homes, checkouts, logs) and print where it is
    #[arg(long)]
    pub keep: bool,
    /// Seconds to wait for each step before giving up
    #[arg(long, value_name = "SECS", default_value_t = 20)]
    pub timeout: u64,
}

const SAMPLE_README: &str = include_str!("demo/README.md");
const SAMPLE_BPMN: &str = include_str!("demo/prosess.bpmn");
const SAMPLE_MODEL: &str = include_str!("demo/datamodell.json");

const BERGEN_OLD: &str = "Status: utkast, testet mot Skatteetatens testmiljø";
const BERGEN_NEW: &str = "Status: i produksjon i Bergen fra 1. august";
const TRONDHEIM_OLD: &str = "- Trondheim kommune: vurderer å ta den i bruk";
const TRONDHEIM_NEW: &str = "- Trondheim kommune: pilot i to bydeler fra høsten";
/// Trondheim's local change to its adaptation, and Bergen's later change upstream.
const CONFLICT_OLD: &str = "3. Saksbehandler får et forslag til vedtak med beregnet makspris.";
const CONFLICT_BERGEN: &str =
    "3. Saksbehandler får et forslag til vedtak med makspris etter 2026-satsene.";
const CONFLICT_TRONDHEIM: &str =
    "3. Saksbehandler får et forslag til vedtak med beregnet makspris og søskenmoderasjon.";
const CONFLICT_RESOLVED: &str =
    "3. Saksbehandler får et forslag til vedtak med makspris etter 2026-satsene og søskenmoderasjon.";
const LOCAL_OLD: &str = "1. Foreldrene søker via kommunens digitale søknadsskjema.";
const LOCAL_NEW: &str = "1. Foreldrene søker via Trondheims skjema på trondheim.kommune.no.";
const UPSTREAM_OLD: &str = "4. Vedtaket sendes til foreldrene og til fakturasystemet.";
const UPSTREAM_NEW: &str = "4. Vedtaket sendes til foreldrene via Digipost og til fakturasystemet.";

struct Org {
    name: &'static str,
    short: &'static str,
    number: &'static str,
    kind: &'static str,
    slug: &'static str,
}

const ORGS: [Org; 3] = [
    Org {
        name: "Bergen kommune",
        short: "Bergen",
        number: "964338531",
        kind: "kommune",
        slug: "bergen",
    },
    Org {
        name: "Trondheim kommune",
        short: "Trondheim",
        number: "942110464",
        kind: "kommune",
        slug: "trondheim",
    },
    Org {
        name: "KS",
        short: "KS",
        number: "971032146",
        kind: "ks",
        slug: "ks",
    },
];
const BERGEN: usize = 0;
const TRONDHEIM: usize = 1;
const KS: usize = 2;

struct NodeProc {
    org: &'static Org,
    socket: PathBuf,
    log: PathBuf,
    child: tokio::process::Child,
    spawned: Instant,
    status: Option<NodeStatus>,
}

impl NodeProc {
    async fn client(&self) -> anyhow::Result<Client> {
        Client::connect(&self.socket).await
    }

    /// The address peers should dial: a loopback TCP listen address, with the peer id.
    fn dial_addr(&self) -> anyhow::Result<String> {
        let status = self
            .status
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("{} has no status yet", self.org.name))?;
        let addr = status
            .listen_addrs
            .iter()
            .find(|a| a.contains("/127.0.0.1/") && a.contains("/tcp/"))
            .or_else(|| status.listen_addrs.first())
            .ok_or_else(|| anyhow::anyhow!("{} listens on no address", self.org.name))?;
        Ok(if addr.contains("/p2p/") {
            addr.clone()
        } else {
            format!("{addr}/p2p/{}", status.peer_id)
        })
    }
}

struct Demo {
    root: PathBuf,
    exe: PathBuf,
    timeout: Duration,
    nodes: Vec<NodeProc>,
    step: usize,
    step_name: &'static str,
    /// Where KS's node serves the read-only web portal.
    portal: Option<std::net::SocketAddr>,
}

fn took(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

impl Demo {
    fn step(&mut self, name: &'static str, text: &str) {
        self.step += 1;
        self.step_name = name;
        println!("\n{}. {text}", self.step);
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.timeout
    }

    fn timed_out(&self, what: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "timed out after {} s waiting for {what}",
            self.timeout.as_secs()
        )
    }

    async fn run(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        println!(
            "Allmenning demo: three organisations share and co-edit an artefact on this machine."
        );
        println!("(working in {})", self.root.display());

        self.step(
            "init",
            "Setting up a node for each organisation (`allmenning init`)",
        );
        for org in &ORGS {
            self.init(org).await?;
            println!(
                "   {:<18} org. no. {}, kind {}",
                org.name, org.number, org.kind
            );
        }

        self.step(
            "start",
            "Starting the three nodes (`allmenning node start`)",
        );
        // KS also serves the read-only web portal, on a free local port.
        self.portal = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .ok();
        for org in &ORGS {
            let extra: Vec<String> = match (org.number == ORGS[KS].number, self.portal) {
                (true, Some(addr)) => vec!["--portal".into(), addr.to_string()],
                _ => Vec::new(),
            };
            self.spawn(org, &extra)?;
        }
        for i in 0..self.nodes.len() {
            self.wait_ready(i).await?;
            let node = &self.nodes[i];
            let addr = node.dial_addr()?;
            println!(
                "   {:<18} ready in {:>6}, listening on {addr}",
                node.org.name,
                took(node.spawned.elapsed())
            );
        }

        self.step(
            "connect",
            "Connecting them to each other (`allmenning connect`)",
        );
        let t = Instant::now();
        for (from, to) in [(0, 1), (0, 2), (1, 2)] {
            let addr = self.nodes[to].dial_addr()?;
            self.nodes[from].client().await?.connect_peer(&addr).await?;
            println!(
                "   {} -> {}",
                self.nodes[from].org.short, self.nodes[to].org.short
            );
        }
        self.wait_connected().await?;
        println!("   every node has 2 peers ({})", took(t.elapsed()));

        self.step(
            "network",
            "KS creates a network and admits both municipalities (`allmenning network create`, `network join`, `curate admit`)",
        );
        let t = Instant::now();
        let network = self.nodes[KS]
            .client()
            .await?
            .network_create("Allmenning demo")
            .await?;
        println!(
            "   KS is root curator of \"{}\" (fingerprint {})",
            network.name, network.fingerprint
        );
        for i in [BERGEN, TRONDHEIM] {
            self.nodes[i]
                .client()
                .await?
                .network_join(network.file.clone())
                .await?;
        }
        for i in [BERGEN, TRONDHEIM] {
            let number = self.nodes[i].org.number;
            let fingerprint = self.wait_announced(number).await?;
            self.nodes[KS]
                .client()
                .await?
                .curate_admit(number, Some(fingerprint.clone()))
                .await?;
            println!(
                "   KS admits {} (org key {fingerprint})",
                self.nodes[i].org.name
            );
        }
        for i in [BERGEN, TRONDHEIM] {
            self.wait_admitted(i).await?;
        }
        println!("   both know they are admitted ({})", took(t.elapsed()));

        self.step("publish", "Bergen publishes an integration for \"redusert foreldrebetaling\" (`allmenning publish`)");
        let files = vec![
            FilePayload {
                path: "README.md".into(),
                content: Bytes(SAMPLE_README.as_bytes().to_vec()),
                executable: false,
            },
            FilePayload {
                path: "prosess.bpmn".into(),
                content: Bytes(SAMPLE_BPMN.as_bytes().to_vec()),
                executable: false,
            },
            FilePayload {
                path: "datamodell.json".into(),
                content: Bytes(SAMPLE_MODEL.as_bytes().to_vec()),
                executable: false,
            },
        ];
        let published = self.nodes[BERGEN]
            .client()
            .await?
            .publish(
                NewArtefact {
                    title: "Redusert foreldrebetaling – inntektsoppslag".into(),
                    kind: "integration".into(),
                    description: "Henter husholdningens inntekt fra Skatteetaten for søknader om redusert foreldrebetaling i barnehage.".into(),
                    tags: vec!["barnehage".into(), "skatteetaten".into()],
                    files,
                    share_with: Vec::new(),
                },
                |_| {},
            )
            .await?;
        let published_at = Instant::now();
        let id = published.id.clone();
        println!(
            "   id {}: README.md, prosess.bpmn, datamodell.json",
            short(&id)
        );

        self.step(
            "replicate",
            "Waiting for it to reach the other nodes (`allmenning list`)",
        );
        for i in [1, 2] {
            self.wait_listed(i, &id).await?;
            println!(
                "   replicated to {} in {}",
                self.nodes[i].org.name,
                took(published_at.elapsed())
            );
        }

        self.step(
            "grant",
            "Bergen, the owner, makes Trondheim a maintainer (`allmenning access grant`)",
        );
        let t = Instant::now();
        self.nodes[BERGEN]
            .client()
            .await?
            .access_grant(&id, self.nodes[TRONDHEIM].org.number, "maintainer")
            .await?;
        let deadline = self.deadline();
        loop {
            let access = self.nodes[TRONDHEIM]
                .client()
                .await?
                .access_list(&id)
                .await?;
            if access
                .maintainers
                .iter()
                .any(|m| m == self.nodes[TRONDHEIM].org.number)
            {
                break;
            }
            if Instant::now() > deadline {
                return Err(self.timed_out("Trondheim to learn it may maintain the artefact"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        println!(
            "   Trondheim kommune may now change it; every node knows ({})",
            took(t.elapsed())
        );

        self.step(
            "checkout",
            "Bergen and Trondheim check it out (`allmenning checkout`)",
        );
        let mut checkouts = Vec::new();
        for i in [BERGEN, TRONDHEIM] {
            let dir = self
                .root
                .join(format!("{}-checkout", self.nodes[i].org.slug));
            let co = checkout::checkout(&mut self.nodes[i].client().await?, short(&id), &dir, None)
                .await?;
            println!(
                "   {:<10} {} files in {}",
                self.nodes[i].org.short,
                co.manifest.files.len(),
                dir.display()
            );
            checkouts.push(co);
        }

        self.step(
            "edit",
            "Both edit README.md at the same time, on different lines",
        );
        edit_line(&checkouts[0], BERGEN_OLD, BERGEN_NEW)?;
        println!("   Bergen changes    \"{BERGEN_OLD}\"\n               to    \"{BERGEN_NEW}\"");
        edit_line(&checkouts[1], TRONDHEIM_OLD, TRONDHEIM_NEW)?;
        println!(
            "   Trondheim changes \"{TRONDHEIM_OLD}\"\n               to    \"{TRONDHEIM_NEW}\""
        );

        self.step(
            "commit",
            "Both commit, neither having seen the other's edit (`allmenning commit`)",
        );
        let changes = self
            .commit_both(
                &mut checkouts,
                "Bergen: i produksjon",
                "Trondheim: pilot fra høsten",
            )
            .await?;
        let committed_at = Instant::now();
        for (who, change) in ["Bergen", "Trondheim"].iter().zip(&changes) {
            println!("   {who:<10} change {}", short(change));
        }

        self.step(
            "converge",
            "Waiting until all three nodes have both changes",
        );
        let heads = self.wait_converged(&id, &changes).await?;
        let heads_text: Vec<&str> = heads.iter().map(|h| short(h)).collect();
        println!(
            "   all three agree on heads {} after {}",
            heads_text.join(" + "),
            took(committed_at.elapsed())
        );

        self.step(
            "pull",
            "Bergen and Trondheim pull the merged result (`allmenning pull`)",
        );
        for (i, co) in [BERGEN, TRONDHEIM].into_iter().zip(checkouts.iter_mut()) {
            let report = pull::pull(&mut self.nodes[i].client().await?, co).await?;
            println!(
                "   {:<10} updated {}",
                self.nodes[i].org.short,
                if report.updated.is_empty() {
                    "nothing".to_string()
                } else {
                    report.updated.join(", ")
                }
            );
        }
        let merged = std::fs::read_to_string(checkouts[0].root.join("README.md"))?;
        let has = |line: &str| merged.lines().any(|l| l == line);
        if !(has(BERGEN_NEW) && has(TRONDHEIM_NEW)) {
            return Err(anyhow::anyhow!(
                "the merged README.md lacks an edit:\n{merged}"
            ));
        }
        println!("   README.md now has both edits:");
        for line in merged
            .lines()
            .filter(|l| *l == BERGEN_NEW || *l == TRONDHEIM_NEW)
        {
            println!("     {line}");
        }

        self.conflict_and_resolve(&id, &mut checkouts).await?;

        self.step("verify", "Checking that every copy is byte-identical");
        self.verify_identical(&id, &checkouts).await?;

        self.step(
            "endorse",
            "KS, as editor, endorses exactly this version (`allmenning curate endorse`)",
        );
        self.nodes[KS]
            .client()
            .await?
            .curate_endorse(
                &id,
                "approved",
                "Anbefalt referanseløsning for inntektsoppslag",
            )
            .await?;
        let t = Instant::now();
        let endorsement = self.wait_endorsed(TRONDHEIM, &id).await?;
        println!(
            "   Trondheim sees: {} by {} ({}), {} ({})",
            endorsement.status,
            endorsement.curator_name,
            endorsement.curator,
            if endorsement.current {
                "the current version".to_string()
            } else {
                format!("{} changes since", endorsement.changes_since)
            },
            took(t.elapsed())
        );

        self.step(
            "search",
            "Trondheim searches the catalogue for \"foreldrebetalingen\" (`allmenning search`)",
        );
        let t = Instant::now();
        let hits = self.nodes[TRONDHEIM]
            .client()
            .await?
            .search("foreldrebetalingen", 5)
            .await?;
        let Some(hit) = hits.first() else {
            return Err(anyhow::anyhow!(
                "Trondheim's search found nothing; see {}",
                self.nodes[TRONDHEIM].log.display()
            ));
        };
        println!(
            "   best hit: \"{}\" by {}{} ({} hit(s), {})",
            hit.title,
            hit.owner_name.as_deref().unwrap_or("?"),
            if hit.approved { ", approved by KS" } else { "" },
            hits.len(),
            took(t.elapsed())
        );

        let adaptation = self.adopt_and_adapt(&id, &mut checkouts[0]).await?;

        if let Some(addr) = self.portal {
            self.step(
                "portal",
                "KS's node serves the catalogue as a read-only web portal (`node start --portal`)",
            );
            let t = Instant::now();
            match fetch_page(addr, "/").await {
                Ok((status, bytes)) => println!(
                    "   http://{addr}/ answered {status} with {} KiB of HTML ({}); it stops with the demo",
                    bytes / 1024,
                    took(t.elapsed())
                ),
                Err(e) => println!("   http://{addr}/ did not answer: {e}"),
            }
        }

        self.step("stop", "Stopping the nodes (`allmenning node stop`)");
        self.shutdown().await?;
        println!("   all three stopped cleanly");

        println!(
            "\nDone in {}: published once, edited in two places at once, merged everywhere, a same-line conflict shown on every node and resolved once, endorsed by KS, found by search, adopted and adapted by Trondheim ({}).",
            took(started.elapsed()),
            short(&adaptation)
        );
        Ok(())
    }

    /// Trondheim adopts the approved version, changes its adaptation locally while Bergen
    /// improves the upstream, and merges Bergen's change in. Returns the adaptation's id.
    async fn adopt_and_adapt(
        &mut self,
        upstream: &str,
        bergen_checkout: &mut Checkout,
    ) -> anyhow::Result<String> {
        self.step(
            "adopt",
            "Trondheim adopts the version KS approved, as its own adaptation (`allmenning adopt --endorsed`)",
        );
        let t = Instant::now();
        let adopted = self.nodes[TRONDHEIM]
            .client()
            .await?
            .adopt(
                upstream,
                Some("Redusert foreldrebetaling – Trondheim".into()),
                None,
                true,
            )
            .await?;
        let version: Vec<&str> = adopted.based_on_version.iter().map(|h| short(h)).collect();
        println!(
            "   adaptation {} owned by {}, based on version {}",
            short(&adopted.id),
            adopted.owner_name,
            version.join(" + ")
        );
        let deadline = self.deadline();
        loop {
            let detail = self.nodes[BERGEN].client().await?.show(upstream).await?;
            if let Some(user) = detail.adopters.iter().find(|a| a.adaptation == adopted.id) {
                println!(
                    "   Bergen's node verifies the signed adoption: used by {} ({})",
                    user.name,
                    took(t.elapsed())
                );
                break;
            }
            if Instant::now() > deadline {
                return Err(self.timed_out("Bergen to see Trondheim's adoption"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        self.step(
            "adapt",
            "Trondheim changes its adaptation; Bergen meanwhile improves the original",
        );
        let dir = self.root.join("trondheim-adaptation");
        let mut local = checkout::checkout(
            &mut self.nodes[TRONDHEIM].client().await?,
            &adopted.id,
            &dir,
            None,
        )
        .await?;
        edit_line(&local, LOCAL_OLD, LOCAL_NEW)?;
        commit::commit(
            &mut self.nodes[TRONDHEIM].client().await?,
            &mut local,
            "Trondheims søknadsskjema",
            false,
        )
        .await?;
        println!("   Trondheim (adaptation) \"{LOCAL_NEW}\"");
        edit_line(bergen_checkout, UPSTREAM_OLD, UPSTREAM_NEW)?;
        let report = commit::commit(
            &mut self.nodes[BERGEN].client().await?,
            bergen_checkout,
            "Vedtak via Digipost",
            false,
        )
        .await?;
        let change = report
            .change
            .ok_or_else(|| anyhow::anyhow!("Bergen's commit recorded no change"))?;
        println!("   Bergen (original)      \"{UPSTREAM_NEW}\"");

        self.step(
            "pull-upstream",
            "Trondheim merges Bergen's improvement into its adaptation (`allmenning pull-upstream`)",
        );
        let t = Instant::now();
        let deadline = self.deadline();
        loop {
            let log = self.nodes[TRONDHEIM].client().await?.log(upstream).await?;
            if log.iter().any(|e| e.hash == change) {
                break;
            }
            if Instant::now() > deadline {
                return Err(self.timed_out("Trondheim to receive Bergen's change"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let pulled = self.nodes[TRONDHEIM]
            .client()
            .await?
            .pull_upstream(&adopted.id)
            .await?;
        let files = self.nodes[TRONDHEIM]
            .client()
            .await?
            .files(&adopted.id, None)
            .await?;
        let readme = files
            .files
            .iter()
            .find(|f| f.path == "README.md")
            .map(|f| String::from_utf8_lossy(&f.content.0).to_string())
            .unwrap_or_default();
        let has = |line: &str| readme.lines().any(|l| l == line);
        if !(has(LOCAL_NEW) && has(UPSTREAM_NEW)) {
            return Err(anyhow::anyhow!(
                "the adaptation lacks an edit after pull-upstream:\n{readme}"
            ));
        }
        println!(
            "   merged {} upstream change(s) in {}; the adaptation keeps Trondheim's line and has Bergen's",
            pulled.merged,
            took(t.elapsed())
        );
        Ok(adopted.id)
    }

    async fn init(&self, org: &Org) -> anyhow::Result<()> {
        let home = self.root.join(org.slug).join("home");
        let output = tokio::process::Command::new(&self.exe)
            .arg("--home")
            .arg(&home)
            .args([
                "init",
                "--org-name",
                org.name,
                "--org-number",
                org.number,
                "--kind",
                org.kind,
            ])
            .env_remove("ALLMENNING_HOME")
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| anyhow::anyhow!("cannot run {}: {e}", self.exe.display()))?;
        if !output.status.success() {
            return Err(anyhow::anyhow!(
                "`allmenning init` for {} failed ({}): {}",
                org.name,
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(())
    }

    fn spawn(&mut self, org: &'static Org, extra: &[String]) -> anyhow::Result<()> {
        let dir = self.root.join(org.slug);
        let home = dir.join("home");
        let log = dir.join("node.log");
        let log_file = std::fs::File::create(&log)?;
        let child = tokio::process::Command::new(&self.exe)
            .arg("--home")
            .arg(&home)
            .args([
                "node",
                "start",
                "--listen",
                "/ip4/127.0.0.1/tcp/0",
                "--listen",
                "/ip4/127.0.0.1/udp/0/quic-v1",
            ])
            .args(extra)
            .env_remove("ALLMENNING_HOME")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_file.try_clone()?))
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start the node of {}: {e}", org.name))?;
        let socket = Home::resolve(Some(home))?.socket_path();
        self.nodes.push(NodeProc {
            org,
            socket,
            log,
            child,
            spawned: Instant::now(),
            status: None,
        });
        Ok(())
    }

    async fn wait_ready(&mut self, i: usize) -> anyhow::Result<()> {
        let deadline = self.deadline();
        loop {
            let node = &mut self.nodes[i];
            if let Some(exit) = node.child.try_wait()? {
                return Err(anyhow::anyhow!(
                    "the node of {} exited ({exit}); see {}",
                    node.org.name,
                    node.log.display()
                ));
            }
            if let Ok(mut client) = Client::connect(&node.socket).await {
                if let Ok(status) = client.status().await {
                    if !status.listen_addrs.is_empty() {
                        node.status = Some(status);
                        return Ok(());
                    }
                }
            }
            if Instant::now() >= deadline {
                let what = format!(
                    "the node of {} to answer on its control socket",
                    node.org.name
                );
                return Err(self.timed_out(&what));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_connected(&self) -> anyhow::Result<()> {
        let deadline = self.deadline();
        loop {
            let mut all = true;
            for node in &self.nodes {
                let status = node.client().await?.status().await?;
                all &= status.peers >= 2;
            }
            if all {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(self.timed_out("every node to have 2 peers"));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn wait_listed(&self, i: usize, id: &str) -> anyhow::Result<()> {
        let deadline = self.deadline();
        loop {
            let rows = self.nodes[i].client().await?.list().await?;
            if rows.iter().any(|r| r.id == id && r.complete) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let what = format!("{} to list the artefact", self.nodes[i].org.name);
                return Err(self.timed_out(&what));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until every node reports the same heads and knows every change in `changes`.
    /// Waits until KS has seen `org` announce itself; returns its org key fingerprint.
    async fn wait_announced(&self, org: &str) -> anyhow::Result<String> {
        let deadline = self.deadline();
        loop {
            let orgs = self.nodes[KS].client().await?.org_show(None).await?;
            if let Some(o) = orgs.iter().find(|o| o.number == org) {
                return Ok(o.fingerprint.clone());
            }
            if Instant::now() > deadline {
                return Err(self.timed_out(&format!("KS to hear from organisation {org}")));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_admitted(&self, i: usize) -> anyhow::Result<()> {
        let deadline = self.deadline();
        loop {
            if self.nodes[i].client().await?.status().await?.admitted {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(self.timed_out(&format!("{} to be admitted", self.nodes[i].org.name)));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_endorsed(
        &self,
        i: usize,
        id: &str,
    ) -> anyhow::Result<allmenning_node::control::EndorsementInfo> {
        let deadline = self.deadline();
        loop {
            let detail = self.nodes[i].client().await?.show(id).await?;
            if let Some(e) = detail.endorsements.into_iter().next() {
                return Ok(e);
            }
            if Instant::now() > deadline {
                return Err(self.timed_out("the endorsement to reach Trondheim"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_converged(&self, id: &str, changes: &[String]) -> anyhow::Result<Vec<String>> {
        let deadline = self.deadline();
        loop {
            let mut all_heads = Vec::new();
            for node in &self.nodes {
                let mut heads = node.client().await?.show(id).await?.heads;
                heads.sort();
                all_heads.push(heads);
            }
            if all_heads.windows(2).all(|w| w[0] == w[1]) {
                // Same heads everywhere; check they include both edits (one node's log suffices).
                let log = self.nodes[0].client().await?.log(id).await?;
                let known: BTreeSet<&str> = log.iter().map(|e| e.hash.as_str()).collect();
                if changes.iter().all(|c| known.contains(c.as_str())) {
                    return Ok(all_heads.swap_remove(0));
                }
            }
            if Instant::now() >= deadline {
                return Err(self.timed_out("the three nodes to agree on the artefact's heads"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Bergen and Trondheim commit their checkouts at once, neither having seen the other's
    /// change; returns the two changes.
    async fn commit_both(
        &self,
        checkouts: &mut [Checkout],
        bergen_message: &str,
        trondheim_message: &str,
    ) -> anyhow::Result<Vec<String>> {
        let (mut bergen_client, mut trondheim_client) = (
            self.nodes[BERGEN].client().await?,
            self.nodes[TRONDHEIM].client().await?,
        );
        let (co_b, co_t) = checkouts.split_at_mut(1);
        let (rb, rt) = tokio::join!(
            commit::commit(&mut bergen_client, &mut co_b[0], bergen_message, false),
            commit::commit(
                &mut trondheim_client,
                &mut co_t[0],
                trondheim_message,
                false
            ),
        );
        let mut changes = Vec::new();
        for (who, report) in [("Bergen", rb?), ("Trondheim", rt?)] {
            changes.push(
                report
                    .change
                    .ok_or_else(|| anyhow::anyhow!("{who}'s commit recorded no change"))?,
            );
        }
        Ok(changes)
    }

    /// Bergen and Trondheim change the same line at once: every node shows a conflict naming
    /// both, the checkouts get markers, Trondheim resolves it and the resolution reaches all.
    async fn conflict_and_resolve(
        &mut self,
        id: &str,
        checkouts: &mut [Checkout],
    ) -> anyhow::Result<()> {
        self.step(
            "conflict",
            "Both change the same line at once: a conflict, never a mix of the two",
        );
        edit_line(&checkouts[0], CONFLICT_OLD, CONFLICT_BERGEN)?;
        edit_line(&checkouts[1], CONFLICT_OLD, CONFLICT_TRONDHEIM)?;
        let changes = self
            .commit_both(
                checkouts,
                "Bergen: 2026-satser",
                "Trondheim: søskenmoderasjon",
            )
            .await?;
        self.wait_converged(id, &changes).await?;
        for node in &self.nodes {
            let detail = node.client().await?.show(id).await?;
            let Some(conflict) = detail.conflicts.first() else {
                return Err(anyhow::anyhow!("{} shows no conflict", node.org.name));
            };
            let sides: Vec<&str> = conflict.sides.iter().map(|s| s.label.as_str()).collect();
            println!(
                "   {:<10} shows a {} conflict in {}: {}",
                node.org.short,
                conflict.kind,
                conflict.path,
                sides.join(" vs ")
            );
        }
        let report = pull::pull(&mut self.nodes[BERGEN].client().await?, &mut checkouts[0]).await?;
        if report.conflicts.is_empty() {
            return Err(anyhow::anyhow!("Bergen's pull reported no conflict"));
        }
        let text = std::fs::read_to_string(checkouts[0].root.join("README.md"))?;
        let mut inside = false;
        println!("   Bergen's README.md after `allmenning pull`:");
        for line in text.lines() {
            if line.starts_with("<<<<<<<") {
                inside = true;
            }
            if inside {
                println!("     {line}");
            }
            if line.starts_with(">>>>>>>") {
                inside = false;
            }
        }

        self.step(
            "resolve",
            "Trondheim keeps both ideas in one line and commits: resolved on every node",
        );
        pull::pull(
            &mut self.nodes[TRONDHEIM].client().await?,
            &mut checkouts[1],
        )
        .await?;
        let path = checkouts[1].root.join("README.md");
        let marked = std::fs::read_to_string(&path)?;
        let mut resolved = String::new();
        let mut skipping = false;
        for line in marked.lines() {
            if line.starts_with("<<<<<<<") {
                skipping = true;
                resolved.push_str(CONFLICT_RESOLVED);
                resolved.push('\n');
            } else if line.starts_with(">>>>>>>") {
                skipping = false;
            } else if !skipping {
                resolved.push_str(line);
                resolved.push('\n');
            }
        }
        std::fs::write(&path, &resolved)?;
        let report = commit::commit(
            &mut self.nodes[TRONDHEIM].client().await?,
            &mut checkouts[1],
            "Løs konflikten: begge endringene",
            false,
        )
        .await?;
        let change = report
            .change
            .ok_or_else(|| anyhow::anyhow!("the resolution recorded no change"))?;
        self.wait_converged(id, std::slice::from_ref(&change))
            .await?;
        for node in &self.nodes {
            let left = node.client().await?.show(id).await?.conflicts.len();
            if left != 0 {
                return Err(anyhow::anyhow!(
                    "{} still shows {left} conflicts",
                    node.org.name
                ));
            }
        }
        pull::pull(&mut self.nodes[BERGEN].client().await?, &mut checkouts[0]).await?;
        let text = std::fs::read_to_string(checkouts[0].root.join("README.md"))?;
        if !text.lines().any(|l| l == CONFLICT_RESOLVED) {
            return Err(anyhow::anyhow!(
                "Bergen's README.md lacks the resolution:\n{text}"
            ));
        }
        println!("   no conflicts left on any node; README.md now says:\n     {CONFLICT_RESOLVED}");
        Ok(())
    }

    async fn verify_identical(&self, id: &str, checkouts: &[Checkout]) -> anyhow::Result<()> {
        let mut reference: Option<Vec<(String, Vec<u8>, bool)>> = None;
        for node in &self.nodes {
            let mut files: Vec<(String, Vec<u8>, bool)> = node
                .client()
                .await?
                .files(id, None)
                .await?
                .files
                .into_iter()
                .map(|f| (f.path, f.content.0, f.executable))
                .collect();
            files.sort();
            match &reference {
                None => reference = Some(files),
                Some(r) if *r == files => {}
                Some(_) => {
                    return Err(anyhow::anyhow!(
                        "{} has different files from {}",
                        node.org.name,
                        ORGS[0].name
                    ))
                }
            }
        }
        let reference = reference.unwrap_or_default();
        let tree: Tree = reference
            .iter()
            .map(|(p, c, x)| (p.clone(), FileEntry::of(c, *x)))
            .collect();
        for co in checkouts {
            let (work, _) = co.scan()?;
            if work != tree {
                return Err(anyhow::anyhow!(
                    "the checkout {} differs from the nodes' files",
                    co.root.display()
                ));
            }
        }
        let mut hasher = blake3::Hasher::new();
        for (path, content, _) in &reference {
            hasher.update(path.as_bytes());
            hasher.update(&[0]);
            hasher.update(blake3::hash(content).as_bytes());
        }
        println!(
            "   {} files, identical on all three nodes and in both checkouts (blake3 {})",
            reference.len(),
            short(&hasher.finalize().to_hex())
        );
        Ok(())
    }

    /// Asks every node still running to stop, waits for it, and kills it after a timeout.
    async fn shutdown(&mut self) -> anyhow::Result<()> {
        for node in &self.nodes {
            if let Ok(mut client) = node.client().await {
                let _ = client.stop().await;
            }
        }
        let mut unclean = Vec::new();
        for node in &mut self.nodes {
            match tokio::time::timeout(Duration::from_secs(10), node.child.wait()).await {
                Ok(Ok(status)) if status.success() => {}
                Ok(Ok(status)) => unclean.push(format!("{} exited with {status}", node.org.name)),
                Ok(Err(e)) => unclean.push(format!("{}: {e}", node.org.name)),
                Err(_) => {
                    let _ = node.child.kill().await;
                    unclean.push(format!(
                        "{} did not stop within 10 s and was killed",
                        node.org.name
                    ));
                }
            }
        }
        self.nodes.clear();
        if unclean.is_empty() {
            Ok(())
        } else {
            Err(anyhow::anyhow!(unclean.join("; ")))
        }
    }
}

/// Replaces the line `old` of the checkout's README.md with `new`.
fn edit_line(co: &Checkout, old: &str, new: &str) -> anyhow::Result<()> {
    let path = co.root.join("README.md");
    let text = std::fs::read_to_string(&path)?;
    if !text.lines().any(|l| l == old) {
        return Err(anyhow::anyhow!(
            "README.md in {} has no line {old:?}",
            co.root.display()
        ));
    }
    let edited: Vec<&str> = text
        .lines()
        .map(|l| if l == old { new } else { l })
        .collect();
    let mut out = edited.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    std::fs::write(&path, out)?;
    Ok(())
}

/// A plain HTTP/1.1 GET of `path`: the status code and the size of the response.
async fn fetch_page(addr: std::net::SocketAddr, path: &str) -> anyhow::Result<(u16, usize)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream =
        tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
            .await??;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await??;
    let status = String::from_utf8_lossy(&response)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, response.len()))
}

fn keep_dir(dir: tempfile::TempDir) -> PathBuf {
    dir.keep()
}

pub async fn run(_ctx: &Ctx, args: DemoArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().map_err(|e| {
        anyhow::anyhow!("cannot find the allmenning executable to start nodes with: {e}")
    })?;
    let tmp = tempfile::Builder::new()
        .prefix("allmenning-demo-")
        .tempdir()?;
    let mut demo = Demo {
        root: tmp.path().to_path_buf(),
        exe,
        timeout: Duration::from_secs(args.timeout.max(1)),
        nodes: Vec::new(),
        step: 0,
        step_name: "",
        portal: None,
    };
    let result = demo.run().await;
    // Whatever happened, no node outlives the demo.
    let cleanup = if demo.nodes.is_empty() {
        Ok(())
    } else {
        demo.shutdown().await
    };
    match result.and(cleanup) {
        Ok(()) => {
            if args.keep {
                let dir = keep_dir(tmp);
                println!(
                    "Kept {} (node homes, checkouts and node logs).",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(e) => {
            let logs: Vec<String> = ORGS
                .iter()
                .map(|o| format!("{}/node.log", o.slug))
                .collect();
            let dir = keep_dir(tmp);
            Err(CliError::failed(
                format!("demo step {} ({}) failed: {e:#}", demo.step, demo.step_name),
                format!(
                    "the node logs are kept in {} ({})",
                    dir.display(),
                    logs.join(", ")
                ),
            )
            .into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_has_the_lines_the_demo_edits() {
        assert!(SAMPLE_README.lines().any(|l| l == BERGEN_OLD));
        assert!(SAMPLE_README.lines().any(|l| l == TRONDHEIM_OLD));
        assert!(SAMPLE_README.lines().any(|l| l == LOCAL_OLD));
        assert!(SAMPLE_README.lines().any(|l| l == UPSTREAM_OLD));
        assert!(serde_json::from_str::<serde_json::Value>(SAMPLE_MODEL).is_ok());
        for org in &ORGS {
            assert!(
                allmenning_protocol::identity::OrgNumber::parse(org.number).is_ok(),
                "{}",
                org.name
            );
        }
    }

    #[test]
    fn edit_line_replaces_exactly_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![(
            "README.md".to_string(),
            SAMPLE_README.as_bytes().to_vec(),
            false,
        )];
        let co = Checkout::create(&dir.path().join("co"), "id", &[], &files).unwrap();
        edit_line(&co, BERGEN_OLD, BERGEN_NEW).unwrap();
        let text = std::fs::read_to_string(co.root.join("README.md")).unwrap();
        assert!(text.contains(BERGEN_NEW) && !text.contains(BERGEN_OLD));
        assert_eq!(text.lines().count(), SAMPLE_README.lines().count());
        assert_eq!(co.status().unwrap().modified, ["README.md"]);
    }
}
