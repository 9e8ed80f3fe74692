//! One module per command, like jj's `cli/src/commands/`. Each command's doc comment is its help
//! text; each has an example in its `after_help`.

pub mod access;
pub mod adopt;
pub mod catalog;
pub mod checkout;
pub mod commit;
pub mod connect;
pub mod curate;
pub mod debug;
pub mod demo;
pub mod diff;
pub mod export;
pub mod import;
pub mod init;
pub mod initiative;
pub mod list;
pub mod log;
pub mod network;
pub mod node;
pub mod org;
pub mod orgs;
pub mod peers;
pub mod proposals;
pub mod propose;
pub mod publish;
pub mod pull;
pub mod pull_upstream;
pub mod resolve;
pub mod restore;
pub mod review;
pub mod search;
pub mod show;
pub mod status;

use crate::client::Client;
use allmenning_node::home::Home;
use clap::Subcommand;
use std::path::PathBuf;

/// The kinds of artefact the commons holds.
pub const ARTEFACT_KINDS: [&str; 10] = [
    "code",
    "integration",
    "process",
    "datamodel",
    "dpia",
    "ros",
    "procurement",
    "experience",
    "dataset",
    "guide",
];

/// Options that every command accepts.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct GlobalArgs {
    /// The node's home directory (identity, configuration, database, control socket).
    /// Defaults to the user's data directory, e.g. ~/.local/share/allmenning
    #[arg(long, global = true, env = "ALLMENNING_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
}

#[derive(Subcommand, Clone, Debug)]
pub enum Command {
    Init(init::InitArgs),
    #[command(subcommand)]
    Node(node::NodeCommand),
    Peers(peers::PeersArgs),
    Connect(connect::ConnectArgs),
    Publish(publish::PublishArgs),
    Import(import::ImportArgs),
    List(list::ListArgs),
    Catalog(catalog::CatalogArgs),
    Search(search::SearchArgs),
    Orgs(orgs::OrgsArgs),
    #[command(subcommand)]
    Initiative(initiative::InitiativeCommand),
    Show(show::ShowArgs),
    Log(log::LogArgs),
    Checkout(checkout::CheckoutArgs),
    Status(status::StatusArgs),
    Diff(diff::DiffArgs),
    Commit(commit::CommitArgs),
    Pull(pull::PullArgs),
    Resolve(resolve::ResolveArgs),
    Restore(restore::RestoreArgs),
    Adopt(adopt::AdoptArgs),
    PullUpstream(pull_upstream::PullUpstreamArgs),
    Propose(propose::ProposeArgs),
    Proposals(proposals::ProposalsArgs),
    Review(review::ReviewArgs),
    Accept(review::AcceptArgs),
    Decline(review::DeclineArgs),
    Export(export::ExportArgs),
    #[command(subcommand)]
    Network(network::NetworkCommand),
    #[command(subcommand)]
    Org(org::OrgCommand),
    #[command(subcommand)]
    Curate(curate::CurateCommand),
    #[command(subcommand)]
    Access(access::AccessCommand),
    Demo(demo::DemoArgs),
    #[command(subcommand, hide = true)]
    Debug(debug::DebugCommand),
}

impl Command {
    /// `node start` runs the daemon and logs at `info` by default; everything else at `warn`.
    pub fn is_daemon(&self) -> bool {
        matches!(self, Command::Node(node::NodeCommand::Start(_)))
    }
}

/// What every command gets: the global options, and ways to reach the node.
#[derive(Clone, Debug, Default)]
pub struct Ctx {
    pub global: GlobalArgs,
}

impl Ctx {
    pub fn home(&self) -> anyhow::Result<Home> {
        Ok(Home::resolve(self.global.home.clone())?)
    }

    /// This home as a checkout records it: its canonical path and the node's public key.
    pub fn home_binding(&self) -> anyhow::Result<crate::workdir::HomeBinding> {
        let home = self.home()?;
        let path = std::fs::canonicalize(&home.dir).unwrap_or_else(|_| home.dir.clone());
        Ok(crate::workdir::HomeBinding {
            path: path.display().to_string(),
            public_key: home.node_key()?.public().to_hex(),
        })
    }

    /// A connection to the running node of this home.
    pub async fn client(&self) -> anyhow::Result<Client> {
        let home = self.home()?;
        Client::connect(&home.socket_path()).await
    }
}

pub async fn run(global: GlobalArgs, command: Command) -> anyhow::Result<()> {
    let ctx = Ctx { global };
    match command {
        Command::Init(args) => init::run(&ctx, args).await,
        Command::Node(cmd) => node::run(&ctx, cmd).await,
        Command::Peers(args) => peers::run(&ctx, args).await,
        Command::Connect(args) => connect::run(&ctx, args).await,
        Command::Publish(args) => publish::run(&ctx, args).await,
        Command::Import(args) => import::run(&ctx, args).await,
        Command::List(args) => list::run(&ctx, args).await,
        Command::Catalog(args) => catalog::run(&ctx, args).await,
        Command::Search(args) => search::run(&ctx, args).await,
        Command::Orgs(args) => orgs::run(&ctx, args).await,
        Command::Initiative(cmd) => initiative::run(&ctx, cmd).await,
        Command::Show(args) => show::run(&ctx, args).await,
        Command::Log(args) => log::run(&ctx, args).await,
        Command::Checkout(args) => checkout::run(&ctx, args).await,
        Command::Status(args) => status::run(&ctx, args).await,
        Command::Diff(args) => diff::run(&ctx, args).await,
        Command::Commit(args) => commit::run(&ctx, args).await,
        Command::Pull(args) => pull::run(&ctx, args).await,
        Command::Resolve(args) => resolve::run(&ctx, args).await,
        Command::Restore(args) => restore::run(&ctx, args).await,
        Command::Adopt(args) => adopt::run(&ctx, args).await,
        Command::PullUpstream(args) => pull_upstream::run(&ctx, args).await,
        Command::Propose(args) => propose::run(&ctx, args).await,
        Command::Proposals(args) => proposals::run(&ctx, args).await,
        Command::Review(args) => review::run(&ctx, args).await,
        Command::Accept(args) => review::accept(&ctx, args).await,
        Command::Decline(args) => review::decline(&ctx, args).await,
        Command::Export(args) => export::run(&ctx, args).await,
        Command::Network(cmd) => network::run(&ctx, cmd).await,
        Command::Org(cmd) => org::run(&ctx, cmd).await,
        Command::Curate(cmd) => curate::run(&ctx, cmd).await,
        Command::Access(cmd) => access::run(&ctx, cmd).await,
        Command::Demo(args) => demo::run(&ctx, args).await,
        Command::Debug(cmd) => debug::run(&ctx, cmd).await,
    }
}

/// `-C DIR`: where the checkout is, for `status`, `diff`, `commit` and `pull`.
#[derive(clap::Args, Clone, Debug)]
pub struct CheckoutDir {
    /// Run as if started in DIR (any directory inside the checkout works)
    #[arg(short = 'C', value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
}

impl CheckoutDir {
    /// The checkout at or above DIR, if it belongs to this command's home (a checkout that
    /// does not say which home it belongs to is accepted with a warning).
    pub fn open(&self, ctx: &Ctx) -> anyhow::Result<crate::workdir::Checkout> {
        let mut checkout = crate::workdir::Checkout::find(&self.dir)?;
        if let Some(warning) = checkout.check_home(&ctx.home_binding()?)? {
            crate::output::warn(&warning);
        }
        Ok(checkout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use clap::{CommandFactory, Parser};

    #[derive(Parser, Debug)]
    struct TestCli {
        #[command(subcommand)]
        command: Command,
    }

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        TestCli::try_parse_from(std::iter::once("allmenning").chain(args.iter().copied()))
            .map(|cli| cli.command)
    }

    fn refused(args: &[&str]) -> ErrorKind {
        match parse(args) {
            Ok(command) => panic!("{args:?} was accepted: {command:?}"),
            Err(e) => e.kind(),
        }
    }

    const BERGEN: &str = "964338531";

    #[test]
    fn the_command_line_is_well_formed() {
        TestCli::command().debug_assert();
    }

    #[test]
    fn org_numbers_are_checked_everywhere() {
        for args in [
            &["curate", "admit", "964338532"][..],
            &["curate", "delegate", "12345678"],
            &["curate", "revoke", "--admission", "96433853x"],
            &["org", "show", "964338532"],
            &["access", "grant", "abc", "964338532"],
            &["access", "revoke", "abc", "1"],
            &[
                "publish",
                ".",
                "--kind",
                "code",
                "--title",
                "t",
                "--share-with",
                "964338532",
            ],
            &[
                "init",
                "--org-name",
                "X",
                "--org-number",
                "964338532",
                "--kind",
                "kommune",
            ],
        ] {
            assert_eq!(refused(args), ErrorKind::ValueValidation, "{args:?}");
        }
        match parse(&["curate", "admit", "964 338 531"]).unwrap() {
            Command::Curate(curate::CurateCommand::Admit(a)) => {
                assert_eq!(a.org.to_string(), BERGEN)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn statuses_scopes_and_roles_are_checked() {
        assert_eq!(
            refused(&["curate", "endorse", "abc", "--status", "good"]),
            ErrorKind::InvalidValue
        );
        assert_eq!(
            refused(&["curate", "endorse", "abc"]),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            refused(&["curate", "delegate", BERGEN, "--scope", "all"]),
            ErrorKind::InvalidValue
        );
        assert_eq!(
            refused(&["access", "grant", "abc", BERGEN, "--role", "owner"]),
            ErrorKind::InvalidValue
        );
        match parse(&["curate", "endorse", "abc", "--status", "RECOMMENDED"]).unwrap() {
            Command::Curate(curate::CurateCommand::Endorse(e)) => {
                assert_eq!(e.status.as_str(), "recommended");
                assert_eq!(e.note, "");
            }
            other => panic!("{other:?}"),
        }
        match parse(&["access", "grant", "abc", BERGEN]).unwrap() {
            Command::Access(access::AccessCommand::Grant(g)) => assert_eq!(g.role, "maintainer"),
            other => panic!("{other:?}"),
        }
        match parse(&["access", "grant", "abc", BERGEN, "--role", "Reader"]).unwrap() {
            Command::Access(access::AccessCommand::Grant(g)) => assert_eq!(g.role, "reader"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dates_are_checked() {
        for bad in [
            "2026-02-30",
            "next week",
            "2026-12-31T25:00:00Z",
            "1735689600",
        ] {
            assert_eq!(
                refused(&["curate", "delegate", BERGEN, "--expires", bad]),
                ErrorKind::ValueValidation,
                "{bad}"
            );
        }
        match parse(&[
            "curate",
            "delegate",
            BERGEN,
            "--scope",
            "admit",
            "--scope",
            "endorse",
            "--expires",
            "2026-12-31",
        ])
        .unwrap()
        {
            Command::Curate(curate::CurateCommand::Delegate(d)) => {
                assert_eq!(d.expires, Some(1_798_761_600));
                assert_eq!(d.scopes.len(), 2);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn revoke_takes_exactly_one_target() {
        assert_eq!(
            refused(&["curate", "revoke"]),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            refused(&[
                "curate",
                "revoke",
                "--admission",
                BERGEN,
                "--endorsement",
                "abc"
            ]),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(
            refused(&["curate", "revoke", "--statement", "abcd"]),
            ErrorKind::ValueValidation
        );
        match parse(&["curate", "revoke", "--statement", &"AB".repeat(32)]).unwrap() {
            Command::Curate(curate::CurateCommand::Revoke(r)) => {
                assert_eq!(r.statement, Some("ab".repeat(32)))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keys_fingerprints_and_flags() {
        assert_eq!(
            refused(&["org", "add-node", "abcd"]),
            ErrorKind::ValueValidation
        );
        let key = "AB".repeat(32);
        assert_eq!(
            refused(&["org", "add-node", &key, "--proof", "abcd"]),
            ErrorKind::ValueValidation
        );
        match parse(&["org", "add-node", &key, "--proof", &"CD".repeat(64)]).unwrap() {
            Command::Org(org::OrgCommand::AddNode(a)) => {
                assert_eq!(a.proof, Some("cd".repeat(64)))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            refused(&["curate", "admit", BERGEN, "--fingerprint", "abc"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            refused(&["org", "show", BERGEN, "--all"]),
            ErrorKind::ArgumentConflict
        );
        match parse(&["checkout", "abc", "dir", "--endorsed"]).unwrap() {
            Command::Checkout(c) => assert!(c.endorsed),
            other => panic!("{other:?}"),
        }
        match parse(&[
            "publish",
            ".",
            "--kind",
            "code",
            "--title",
            "t",
            "--share-with",
            BERGEN,
            "942110464",
        ])
        .unwrap()
        {
            Command::Publish(p) => assert_eq!(p.source.share_with.len(), 2),
            other => panic!("{other:?}"),
        }
        match parse(&[
            "init",
            "--org-name",
            "X",
            "--org-number",
            BERGEN,
            "--kind",
            "kommune",
            "--no-org-key",
        ])
        .unwrap()
        {
            Command::Init(i) => assert!(i.no_org_key),
            other => panic!("{other:?}"),
        }
        match parse(&["network", "create", "--name", "n", "--out", "f.json"]).unwrap() {
            Command::Network(network::NetworkCommand::Create(c)) => assert_eq!(c.name, "n"),
            other => panic!("{other:?}"),
        }
    }
}
