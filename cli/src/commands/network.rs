//! `allmenning network create | join | show`

use super::Ctx;
use crate::error::CliError;
use crate::outln;
use crate::output::{print_json, short};
use allmenning_node::control::NetworkInfo;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Largest network file `join` reads (a network file is a few kilobytes).
const MAX_NETWORK_FILE: u64 = 1024 * 1024;

/// Create, join or inspect the network of organisations this node trusts.
///
/// A network is named by a small signed file that names its root curators (KS) and the
/// addresses of nodes to dial first. The root curator admits organisations; only changes from
/// admitted organisations' certified nodes are accepted.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum NetworkCommand {
    Create(CreateArgs),
    Join(JoinArgs),
    Show(ShowArgs),
}

/// Create a new network with this node's organisation as its root curator (on a KS node).
///
/// Needs this node's org key. The node signs the network file with it, joins the network, and
/// the file is written to FILE: hand it to every organisation that is to join, and tell them its
/// fingerprint through another channel (phone, letter) so they can check it. FILE must not
/// exist yet; `allmenning network show --json` prints the file again.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Example:
  allmenning network create --name kommune-nett --out kommune-nett.json")]
pub struct CreateArgs {
    /// The network's name
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Where to write the network file
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Print the network as JSON (the NetworkInfo reply)
    #[arg(long)]
    pub json: bool,
}

/// Join a network: adopt the roots and bootstrap addresses of its network file.
///
/// Compare the fingerprint this prints with the one the network's root curator gave you. Then
/// have a curator admit your organisation (`allmenning curate admit ORGNR --fingerprint FP` on
/// their node), giving them your org key's fingerprint from `allmenning org show`. FILE may be
/// `-` to read the file from standard input.
///
/// In a network, nodes accept a change only from its artefact's owner and maintainers. Join
/// before you co-edit: `join` names every artefact this node holds with changes by other
/// organisations (made outside the network), which the network's nodes will refuse until the
/// owner grants those organisations access (`--json`: `co_edited`, and `refused` for changes
/// this node already refused).
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Example:
  allmenning network join kommune-nett.json
  allmenning org show          # your organisation's fingerprint, for the curator")]
pub struct JoinArgs {
    /// The network file (from `allmenning network create` on the root curator's node)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print the network as JSON (the NetworkInfo reply)
    #[arg(long)]
    pub json: bool,
}

/// Show the network this node belongs to: its name, fingerprint, roots and bootstrap addresses.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "\
Examples:
  allmenning network show
  allmenning network show --json | jq -r .file > kommune-nett.json   # the network file again")]
pub struct ShowArgs {
    /// Print the network as JSON (the NetworkInfo reply, including the file itself)
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: &Ctx, command: NetworkCommand) -> anyhow::Result<()> {
    match command {
        NetworkCommand::Create(args) => create(ctx, args).await,
        NetworkCommand::Join(args) => join(ctx, args).await,
        NetworkCommand::Show(args) => show(ctx, args).await,
    }
}

async fn create(ctx: &Ctx, args: CreateArgs) -> anyhow::Result<()> {
    let name = args.name.trim().to_string();
    if name.is_empty() {
        return Err(CliError::Usage {
            message: "--name must not be empty".into(),
            hint: None,
        }
        .into());
    }
    let mut client = ctx.client().await?;
    // Claim FILE before the network exists, so that a path we cannot write fails first.
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&args.out)
        .map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::AlreadyExists {
                "choose a new file name (`allmenning network show --json` prints the file of a network this node already has)"
            } else {
                "check that the directory exists and is writable"
            };
            CliError::failed(format!("cannot create {}: {e}", args.out.display()), hint)
        })?;
    let info = match client.network_create(&name).await {
        Ok(info) => info,
        Err(err) => {
            drop(out);
            let _ = std::fs::remove_file(&args.out);
            return Err(err);
        }
    };
    let written = out
        .write_all(info.file.as_bytes())
        .and_then(|()| {
            if info.file.ends_with('\n') {
                Ok(())
            } else {
                out.write_all(b"\n")
            }
        })
        .and_then(|()| out.sync_all());
    if let Err(e) = written {
        return Err(CliError::failed(
            format!(
                "the network was created, but writing {} failed: {e}",
                args.out.display()
            ),
            "`allmenning network show --json | jq -r .file > FILE` writes it again",
        )
        .into());
    }
    if args.json {
        return print_json(&info);
    }
    outln!(
        "created network {:?}; {} is its root curator",
        info.name,
        roots_text(&info)
    )?;
    outln!("fingerprint: {}", info.fingerprint)?;
    outln!("network file written to {}", args.out.display())?;
    outln!(
        "next: give the file to each organisation (`allmenning network join FILE`), tell them the fingerprint by another channel, and admit them with `allmenning curate admit ORGNR --fingerprint FP`"
    )?;
    Ok(())
}

/// Reads FILE (or standard input for `-`), refusing what cannot be a network file.
fn read_network_file(path: &Path) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    let read = if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .take(MAX_NETWORK_FILE + 1)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_NETWORK_FILE + 1).read_to_end(&mut bytes))
    };
    read.map_err(|e| CliError::Failed {
        message: format!("cannot read {}: {e}", path.display()),
        hint: None,
    })?;
    let not_a_network_file = |why: String| {
        CliError::failed(
            format!("{} is not a network file: {why}", path.display()),
            "a network file comes from `allmenning network create` on the root curator's node",
        )
    };
    if bytes.len() as u64 > MAX_NETWORK_FILE {
        return Err(not_a_network_file(format!(
            "it is larger than {} kB",
            MAX_NETWORK_FILE / 1024
        ))
        .into());
    }
    let text =
        String::from_utf8(bytes).map_err(|_| not_a_network_file("it is not UTF-8 text".into()))?;
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(_)) => Ok(text),
        Ok(_) => Err(not_a_network_file("it is not a JSON object".into()).into()),
        Err(e) => Err(not_a_network_file(format!("it is not JSON ({e})")).into()),
    }
}

async fn join(ctx: &Ctx, args: JoinArgs) -> anyhow::Result<()> {
    let text = read_network_file(&args.file)?;
    let mut client = ctx.client().await?;
    let info = client.network_join(text).await?;
    if args.json {
        return print_json(&info);
    }
    outln!("joined network {:?}", info.name)?;
    print_info(&info)?;
    for a in &info.co_edited {
        outln!(
            "warning: {} ({}) holds {} change(s) by {} node(s) that do not write for its owner {}: \
             nodes in the network refuse them, and everything built on them; {}",
            a.title,
            short(&a.id),
            a.changes,
            a.authors.len(),
            a.owner,
            a.hint
        )?;
    }
    for a in &info.refused {
        for r in &a.refused {
            outln!(
                "{} ({}): {}",
                a.title,
                short(&a.id),
                super::show::refused_line(r)
            )?;
        }
    }
    outln!(
        "check the fingerprint with the network's curator; then have them admit your organisation (its fingerprint: `allmenning org show`)"
    )?;
    Ok(())
}

async fn show(ctx: &Ctx, args: ShowArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let info = client.network_show().await?;
    if args.json {
        return print_json(&info);
    }
    outln!("network:     {}", info.name)?;
    print_info(&info)
}

fn roots_text(info: &NetworkInfo) -> String {
    if info.roots.is_empty() {
        return "nobody".into();
    }
    info.roots
        .iter()
        .map(|r| format!("{} ({})", r.name, r.org))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_info(info: &NetworkInfo) -> anyhow::Result<()> {
    outln!("fingerprint: {}", info.fingerprint)?;
    outln!("roots:       {}", roots_text(info))?;
    if info.bootstrap.is_empty() {
        outln!("bootstrap:   none")?;
    }
    for (i, addr) in info.bootstrap.iter().enumerate() {
        outln!(
            "{}{addr}",
            if i == 0 {
                "bootstrap:   "
            } else {
                "             "
            }
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_objects_and_refuses_anything_else() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("net.json");
        std::fs::write(&good, "{\"name\":\"kommune-nett\"}\n").unwrap();
        assert_eq!(
            read_network_file(&good).unwrap(),
            "{\"name\":\"kommune-nett\"}\n"
        );
        for (name, content) in [
            ("a.json", &b"[1,2]"[..]),
            ("b.json", &b"not json"[..]),
            ("c.json", &b"\xff\xfe"[..]),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, content).unwrap();
            let err = read_network_file(&path).unwrap_err();
            assert!(err.to_string().contains("is not a network file"), "{err}");
        }
        let err = read_network_file(&dir.path().join("missing.json")).unwrap_err();
        assert!(err.to_string().contains("cannot read"), "{err}");
    }
}
