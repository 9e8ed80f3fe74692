//! One module per command, like jj's `cli/src/commands/`. Each command's doc comment is its help
//! text; each has an example in its `after_help`.

pub mod checkout;
pub mod commit;
pub mod connect;
pub mod debug;
pub mod demo;
pub mod diff;
pub mod export;
pub mod init;
pub mod list;
pub mod log;
pub mod node;
pub mod peers;
pub mod publish;
pub mod pull;
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
    List(list::ListArgs),
    Show(show::ShowArgs),
    Log(log::LogArgs),
    Checkout(checkout::CheckoutArgs),
    Status(status::StatusArgs),
    Diff(diff::DiffArgs),
    Commit(commit::CommitArgs),
    Pull(pull::PullArgs),
    Export(export::ExportArgs),
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
        Command::List(args) => list::run(&ctx, args).await,
        Command::Show(args) => show::run(&ctx, args).await,
        Command::Log(args) => log::run(&ctx, args).await,
        Command::Checkout(args) => checkout::run(&ctx, args).await,
        Command::Status(args) => status::run(&ctx, args).await,
        Command::Diff(args) => diff::run(&ctx, args).await,
        Command::Commit(args) => commit::run(&ctx, args).await,
        Command::Pull(args) => pull::run(&ctx, args).await,
        Command::Export(args) => export::run(&ctx, args).await,
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
    pub fn open(&self) -> anyhow::Result<crate::workdir::Checkout> {
        Ok(crate::workdir::Checkout::find(&self.dir)?)
    }
}
