//! The node's home directory: its identity, its configuration and where its state lives.
//!
//! Everything a node is lives in one directory so that an operator can back it up, move it or run
//! several nodes side by side (`--home` / `ALLMENNING_HOME`). The directory holds:
//!
//! * `node.key`: the hex of the node's ed25519 secret. It *is* the node's identity (its peer id
//!   and the key every change it writes is signed with), so it is created 0600 from the first byte
//!   and a key that others can read is refused rather than silently used;
//! * `org.key` (optional): the hex of the organisation's ed25519 secret, 0600 like `node.key`. It
//!   signs the organisation's profile and certifies its node keys; only one node of an
//!   organisation needs it (the others are certified with `allmenning org add-node`);
//! * `config.toml`: the organisation the node speaks for and its network settings, meant to be
//!   read and edited by people;
//! * `network.json` (once the node created or joined a network): the signed network file;
//! * `db/`: the sled database, and `control.sock`: the local control socket of a running node.
//!
//! Files are written to a temporary name and renamed into place, so a crash during `init` or a
//! config save never leaves a half-written file behind.

use allmenning_protocol::identity::{NodeKey, OrgKind, OrgNumber};
use serde::{Deserialize, Serialize};
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const KEY_FILE: &str = "node.key";
pub const ORG_KEY_FILE: &str = "org.key";
pub const NETWORK_FILE: &str = "network.json";
pub const CONFIG_FILE: &str = "config.toml";
pub const DB_DIR: &str = "db";
pub const SEARCH_DIR: &str = "search";

/// Default listen addresses: TCP and QUIC on port 4646 on every interface.
pub const DEFAULT_LISTEN: [&str; 2] = ["/ip4/0.0.0.0/tcp/4646", "/ip4/0.0.0.0/udp/4646/quic-v1"];

#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error(
        "cannot find a home directory for Allmenning: set --home or ALLMENNING_HOME to choose one"
    )]
    NoDefaultHome,
    #[error(
        "not initialised: run `allmenning init` to set up a node in {}",
        .dir.display()
    )]
    NotInitialised { dir: PathBuf },
    #[error(
        "{} is already initialised (it holds {}); pass --force to overwrite it, which replaces the node's identity",
        .dir.display(),
        .existing.display()
    )]
    AlreadyInitialised { dir: PathBuf, existing: PathBuf },
    #[error(
        "{} is readable by other users (mode {mode:04o}); the node key must be private: run `chmod 600 {}`",
        .path.display(),
        .path.display()
    )]
    KeyPermissions { path: PathBuf, mode: u32 },
    #[error(
        "{} may be written by other users (mode {mode:04o}): they could replace the node's key, configuration or control socket; run `chmod 700 {}` and start the node again",
        .dir.display(),
        .dir.display()
    )]
    HomeNotPrivate { dir: PathBuf, mode: u32 },
    #[error("{} does not hold a key (expected 64 hex digits)", .path.display())]
    MalformedKey { path: PathBuf },
    #[error("cannot parse {}: {message}", .path.display())]
    ParseConfig { path: PathBuf, message: String },
    #[error("cannot write the configuration: {0}")]
    EncodeConfig(String),
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> HomeError + '_ {
    move |source| HomeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The organisation a node speaks for.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OrgProfile {
    pub name: String,
    pub number: OrgNumber,
    pub kind: OrgKind,
}

/// The contents of `config.toml`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Config {
    pub org: OrgProfile,
    #[serde(default)]
    pub network: NetworkConfig,
    #[serde(default)]
    pub relay: RelaySettings,
}

impl Config {
    /// A configuration for `org` with default network settings.
    pub fn new(org: OrgProfile) -> Self {
        Config {
            org,
            network: NetworkConfig::default(),
            relay: RelaySettings::default(),
        }
    }
}

/// Default for [`NetworkConfig::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: u32 = 256;
/// Default for [`NetworkConfig::max_connections_per_peer`].
pub const DEFAULT_MAX_CONNECTIONS_PER_PEER: u32 = 8;
/// Default for [`NetworkConfig::max_pending_incoming`] and [`NetworkConfig::max_pending_outgoing`].
pub const DEFAULT_MAX_PENDING: u32 = 64;

/// Where the node listens, whom it dials first, how it finds peers and how many connections it
/// holds. Every field may be left out of `config.toml`; a missing one takes its default.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NetworkConfig {
    /// Multiaddrs to listen on. Missing means the defaults; an explicit `[]` means listen nowhere.
    #[serde(default = "default_listen")]
    pub listen: Vec<String>,
    /// Multiaddrs (ending in `/p2p/<peer id>`) to dial at start-up.
    #[serde(default)]
    pub bootstrap: Vec<String>,
    /// Find and dial other Allmenning nodes on the local network by mDNS (default true).
    /// `allmenning node start --no-mdns` turns it off for one run. mDNS only runs when the node
    /// listens on some address other than loopback: a loopback-only node has nothing to announce.
    #[serde(default = "default_true")]
    pub mdns: bool,
    /// Established connections in total, incoming and outgoing (default 256). Further
    /// connections are refused: incoming ones are closed, dials fail.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// Established connections to one peer (default 8: a simultaneous dial, a relayed
    /// connection while hole punching opens a direct one, and AutoNAT's dial-backs each take
    /// one; a peer still cannot take the whole connection budget).
    #[serde(default = "default_max_connections_per_peer")]
    pub max_connections_per_peer: u32,
    /// Incoming connections still in their handshake (default 64).
    #[serde(default = "default_max_pending")]
    pub max_pending_incoming: u32,
    /// Outgoing dials still in progress (default 64).
    #[serde(default = "default_max_pending")]
    pub max_pending_outgoing: u32,
    /// Addresses at which other nodes can reach this one, when the node cannot tell by itself
    /// (it listens on 0.0.0.0 behind a port forward, say). A relay hands these out to the nodes
    /// that reserve a slot on it. AutoNAT confirms further addresses on its own.
    #[serde(default)]
    pub external_addresses: Vec<String>,
    /// Work one peer may ask of this node: requests and gossip messages per second (default
    /// 200, with bursts of up to `max_request_burst_per_peer`, default 1000) and response
    /// volume (default 32 MiB/s, bursts of 256 MiB). A peer over budget is answered "busy" and
    /// asks again later; other peers are not affected.
    #[serde(default = "default_requests_per_sec")]
    pub max_requests_per_sec_per_peer: u32,
    #[serde(default = "default_request_burst")]
    pub max_request_burst_per_peer: u32,
    #[serde(default = "default_response_mib_per_sec")]
    pub max_response_mib_per_sec_per_peer: u32,
}

fn default_requests_per_sec() -> u32 {
    200
}
fn default_request_burst() -> u32 {
    1000
}
fn default_response_mib_per_sec() -> u32 {
    32
}

/// Circuit relays (`[relay]` in `config.toml`): serving as one, and being reached through one.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RelaySettings {
    /// Relay for nodes behind NAT (default false). Meant for nodes with a public address, such
    /// as KS's and IKS's; such a node should also set `network.external_addresses`.
    #[serde(default)]
    pub serve: bool,
    /// Relays (multiaddrs ending in `/p2p/<peer id>`) to hold a reservation on from start-up,
    /// whatever AutoNAT finds.
    #[serde(default)]
    pub via: Vec<String>,
    /// When AutoNAT finds this node unreachable, reserve a slot on connected relays (default
    /// true), so that other nodes can reach it through them.
    #[serde(default = "default_true")]
    pub auto: bool,
    /// Limits when serving: reservations held at once (default 128), relayed connections at once
    /// (64) and per peer (8), and each relayed connection's lifetime (30 minutes) and volume
    /// (256 MiB each way).
    #[serde(default = "default_relay_reservations")]
    pub max_reservations: usize,
    #[serde(default = "default_relay_circuits")]
    pub max_circuits: usize,
    #[serde(default = "default_relay_circuits_per_peer")]
    pub max_circuits_per_peer: usize,
    #[serde(default = "default_relay_circuit_minutes")]
    pub max_circuit_minutes: u64,
    #[serde(default = "default_relay_circuit_mib")]
    pub max_circuit_mib: u64,
}

fn default_relay_reservations() -> usize {
    128
}
fn default_relay_circuits() -> usize {
    64
}
fn default_relay_circuits_per_peer() -> usize {
    8
}
fn default_relay_circuit_minutes() -> u64 {
    30
}
fn default_relay_circuit_mib() -> u64 {
    256
}

impl Default for RelaySettings {
    fn default() -> Self {
        RelaySettings {
            serve: false,
            via: Vec::new(),
            auto: true,
            max_reservations: default_relay_reservations(),
            max_circuits: default_relay_circuits(),
            max_circuits_per_peer: default_relay_circuits_per_peer(),
            max_circuit_minutes: default_relay_circuit_minutes(),
            max_circuit_mib: default_relay_circuit_mib(),
        }
    }
}

fn default_listen() -> Vec<String> {
    DEFAULT_LISTEN.iter().map(|s| s.to_string()).collect()
}

fn default_true() -> bool {
    true
}

fn default_max_connections() -> u32 {
    DEFAULT_MAX_CONNECTIONS
}

fn default_max_connections_per_peer() -> u32 {
    DEFAULT_MAX_CONNECTIONS_PER_PEER
}

fn default_max_pending() -> u32 {
    DEFAULT_MAX_PENDING
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            listen: default_listen(),
            bootstrap: Vec::new(),
            mdns: true,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_peer: DEFAULT_MAX_CONNECTIONS_PER_PEER,
            max_pending_incoming: DEFAULT_MAX_PENDING,
            max_pending_outgoing: DEFAULT_MAX_PENDING,
            external_addresses: Vec::new(),
            max_requests_per_sec_per_peer: default_requests_per_sec(),
            max_request_burst_per_peer: default_request_burst(),
            max_response_mib_per_sec_per_peer: default_response_mib_per_sec(),
        }
    }
}

const CONFIG_HEADER: &str = "\
# Allmenning node configuration.
#
# [org]      the organisation this node speaks for: its name, its 9-digit organisation number
#            and its kind (kommune, fylkeskommune, iks, ks, stat, leverandor or annen).
# [network]  listen:    multiaddrs to listen on (TCP and QUIC on port 4646 by default).
#            bootstrap: multiaddrs of peers to dial at start-up, each ending in /p2p/<peer id>.
#            mdns:      find nodes on the local network by mDNS (true by default; only when
#                       listening on more than loopback).
#            max_connections (256), max_connections_per_peer (8), max_pending_incoming (64),
#            max_pending_outgoing (64): connections beyond these are refused.
#            external_addresses: where others reach this node, if it cannot tell by itself.
#            max_requests_per_sec_per_peer (200), max_request_burst_per_peer (1000),
#            max_response_mib_per_sec_per_peer (32): work one peer may ask; a peer over it
#                       is answered busy and asks again later.
# [relay]    serve:     relay for nodes behind NAT (false by default; for public nodes).
#            via:       relays to be reachable through from start-up (/.../p2p/<peer id>).
#            auto:      when AutoNAT finds this node unreachable, be reachable through the
#                       relays it is connected to (true by default).
#            max_reservations (128), max_circuits (64), max_circuits_per_peer (8),
#            max_circuit_minutes (30), max_circuit_mib (256): limits when serving.
#
# Restart the node after editing this file.

";

/// A node's home directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Home {
    pub dir: PathBuf,
}

impl Home {
    /// `explicit` is `--home` or `ALLMENNING_HOME` (clap reads the variable); otherwise the user's
    /// data directory (e.g. `~/.local/share/allmenning` on Linux).
    pub fn resolve(explicit: Option<PathBuf>) -> Result<Home, HomeError> {
        if let Some(dir) = explicit {
            return Ok(Home { dir });
        }
        let dirs = directories::ProjectDirs::from("no", "Allmenning", "allmenning")
            .ok_or(HomeError::NoDefaultHome)?;
        Ok(Home {
            dir: dirs.data_dir().to_path_buf(),
        })
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.join(KEY_FILE)
    }

    /// The organisation's key; present only on the node that holds it.
    pub fn org_key_path(&self) -> PathBuf {
        self.dir.join(ORG_KEY_FILE)
    }

    /// The network file of the network this node created or joined.
    pub fn network_path(&self) -> PathBuf {
        self.dir.join(NETWORK_FILE)
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }

    pub fn socket_path(&self) -> PathBuf {
        self.dir.join(crate::control::SOCKET_FILE)
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.join(DB_DIR)
    }

    /// The full-text index of the catalogue: derived data, rebuilt from the artefacts if lost.
    pub fn search_path(&self) -> PathBuf {
        self.dir.join(SEARCH_DIR)
    }

    /// Refuses a home that group or others may write to: whoever can write there can swap the
    /// node's key or configuration, or put their own socket where the CLI looks for the node's.
    /// (`init` creates it 0700; this catches a home made or loosened by hand.)
    pub fn check_private(&self) -> Result<(), HomeError> {
        let meta = fs::metadata(&self.dir).map_err(io_err(&self.dir))?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(HomeError::HomeNotPrivate {
                dir: self.dir.clone(),
                mode,
            });
        }
        Ok(())
    }

    /// True when both the key and the configuration are in place.
    pub fn is_initialised(&self) -> bool {
        self.key_path().exists() && self.config_path().exists()
    }

    /// Sets up a new node: the directory (0700), its key (0600), the organisation's key (0600)
    /// when `org_secret` is given, and a default configuration. Refuses when a key or
    /// configuration it would write already exists, unless `force`. Without `org_secret` an
    /// existing `org.key` is left alone: an organisation's key is never deleted by `init`.
    pub fn init(
        &self,
        org: &OrgProfile,
        secret: [u8; 32],
        org_secret: Option<[u8; 32]>,
        force: bool,
    ) -> Result<(), HomeError> {
        if !force {
            let mut would_replace = vec![self.key_path(), self.config_path()];
            if org_secret.is_some() {
                would_replace.insert(1, self.org_key_path());
            }
            for existing in would_replace {
                if existing.exists() {
                    return Err(HomeError::AlreadyInitialised {
                        dir: self.dir.clone(),
                        existing,
                    });
                }
            }
        }
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(io_err(&self.dir))?;
        // The keys first: the configuration's presence marks a finished init.
        write_atomically(&self.key_path(), hex::encode(secret).as_bytes(), 0o600)?;
        if let Some(org_secret) = org_secret {
            write_atomically(
                &self.org_key_path(),
                hex::encode(org_secret).as_bytes(),
                0o600,
            )?;
        }
        self.save_config(&Config::new(org.clone()))
    }

    pub fn load_config(&self) -> Result<Config, HomeError> {
        let path = self.config_path();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(HomeError::NotInitialised {
                    dir: self.dir.clone(),
                })
            }
            Err(source) => return Err(HomeError::Io { path, source }),
        };
        toml::from_str(&text).map_err(|e| HomeError::ParseConfig {
            path,
            message: e.to_string(),
        })
    }

    pub fn save_config(&self, config: &Config) -> Result<(), HomeError> {
        let body = toml::to_string(config).map_err(|e| HomeError::EncodeConfig(e.to_string()))?;
        let text = format!("{CONFIG_HEADER}{body}");
        write_atomically(&self.config_path(), text.as_bytes(), 0o644)
    }

    /// Reads the node's key, refusing one that group or others may read.
    pub fn node_key(&self) -> Result<NodeKey, HomeError> {
        read_key(&self.key_path())?.ok_or_else(|| HomeError::NotInitialised {
            dir: self.dir.clone(),
        })
    }

    /// Reads the organisation's key if this node holds it (`None` when there is no `org.key`),
    /// refusing one that group or others may read.
    pub fn org_key(&self) -> Result<Option<NodeKey>, HomeError> {
        read_key(&self.org_key_path())
    }

    /// The network file's JSON text, or `None` if this node has not created or joined a network.
    pub fn load_network(&self) -> Result<Option<String>, HomeError> {
        let path = self.network_path();
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(HomeError::Io { path, source }),
        }
    }

    /// Stores the network file (JSON text), replacing any earlier one atomically.
    pub fn save_network(&self, json: &str) -> Result<(), HomeError> {
        write_atomically(&self.network_path(), json.as_bytes(), 0o644)
    }
}

/// Reads a hex-encoded ed25519 secret: `None` if the file does not exist; an error if group or
/// others may access it, or it does not hold 64 hex digits.
fn read_key(path: &Path) -> Result<Option<NodeKey>, HomeError> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(HomeError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(HomeError::KeyPermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    let malformed = || HomeError::MalformedKey {
        path: path.to_path_buf(),
    };
    let text = fs::read_to_string(path).map_err(|_| malformed())?;
    let mut secret = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut secret).map_err(|_| malformed())?;
    Ok(Some(NodeKey::from_secret(secret)))
}

/// Writes `bytes` to `path` through a fresh temporary file created with `mode`, then renames it
/// into place, so readers see the old file or the new one and never a partial one, and the file
/// never exists with looser permissions than `mode`.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), HomeError> {
    let mut tmp_name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(HomeError::Io { path: tmp, source }),
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    // The umask may have removed bits from `mode`, never added any; make it exact anyway.
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io_err(&tmp))?;
    file.write_all(bytes).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io_err(path))?;
    // Make the rename itself durable. Best effort: not every filesystem lets a directory be synced.
    if let Some(dir) = path.parent() {
        if let Ok(dir) = fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org() -> OrgProfile {
        OrgProfile {
            name: "Bergen kommune".into(),
            number: OrgNumber::parse("964338531").unwrap(),
            kind: OrgKind::Kommune,
        }
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_home_others_may_write_to_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home {
            dir: tmp.path().join("home"),
        };
        home.init(&org(), [7; 32], None, false).unwrap();
        home.check_private().unwrap();
        // Readable by others is fine (nothing secret is readable through the 0600 files).
        fs::set_permissions(&home.dir, fs::Permissions::from_mode(0o755)).unwrap();
        home.check_private().unwrap();
        for loose in [0o770, 0o702, 0o777, 0o1777] {
            fs::set_permissions(&home.dir, fs::Permissions::from_mode(loose)).unwrap();
            let err = home.check_private().unwrap_err();
            assert!(
                matches!(err, HomeError::HomeNotPrivate { mode, .. } if mode == loose),
                "{err}"
            );
            let text = err.to_string();
            assert!(
                text.contains(&format!("chmod 700 {}", home.dir.display())),
                "{text}"
            );
        }
    }

    #[test]
    fn explicit_home_wins() {
        let home = Home::resolve(Some(PathBuf::from("/tmp/x"))).unwrap();
        assert_eq!(home.dir, PathBuf::from("/tmp/x"));
        assert_eq!(home.socket_path(), PathBuf::from("/tmp/x/control.sock"));
        assert_eq!(home.db_path(), PathBuf::from("/tmp/x/db"));
    }

    #[test]
    fn init_creates_private_files_and_a_loadable_key() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home {
            dir: tmp.path().join("a/b/home"),
        };
        assert!(!home.is_initialised());
        home.init(&org(), [7; 32], Some([8; 32]), false).unwrap();
        assert!(home.is_initialised());
        assert_eq!(mode(&home.dir), 0o700);
        assert_eq!(mode(&home.key_path()), 0o600);
        assert!(!home.dir.join("node.key.tmp").exists());
        let key = home.node_key().unwrap();
        assert_eq!(key.secret_bytes(), [7; 32]);
        assert_eq!(mode(&home.org_key_path()), 0o600);
        assert!(!home.dir.join("org.key.tmp").exists());
        assert_eq!(home.org_key().unwrap().unwrap().secret_bytes(), [8; 32]);
        assert_eq!(home.org_key_path(), home.dir.join("org.key"));
        let config = home.load_config().unwrap();
        assert_eq!(config.org, org());
        assert_eq!(config.network, NetworkConfig::default());
        assert_eq!(config.network.listen, DEFAULT_LISTEN.to_vec());
    }

    #[test]
    fn second_init_refuses_unless_forced() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home {
            dir: tmp.path().to_path_buf(),
        };
        home.init(&org(), [1; 32], Some([11; 32]), false).unwrap();
        let err = home.init(&org(), [2; 32], None, false).unwrap_err();
        assert!(matches!(err, HomeError::AlreadyInitialised { .. }), "{err}");
        assert!(err.to_string().contains("--force"));
        assert_eq!(home.node_key().unwrap().secret_bytes(), [1; 32]);

        // Forcing replaces the key, and the replacement is still private even if the old file
        // had been loosened.
        fs::set_permissions(home.key_path(), fs::Permissions::from_mode(0o644)).unwrap();
        home.init(&org(), [2; 32], Some([12; 32]), true).unwrap();
        assert_eq!(mode(&home.key_path()), 0o600);
        assert_eq!(home.node_key().unwrap().secret_bytes(), [2; 32]);
        assert_eq!(home.org_key().unwrap().unwrap().secret_bytes(), [12; 32]);

        // Forcing without an org key keeps the organisation's key: init never deletes it.
        home.init(&org(), [4; 32], None, true).unwrap();
        assert_eq!(home.node_key().unwrap().secret_bytes(), [4; 32]);
        assert_eq!(home.org_key().unwrap().unwrap().secret_bytes(), [12; 32]);
    }

    #[test]
    fn a_key_readable_by_others_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home {
            dir: tmp.path().to_path_buf(),
        };
        home.init(&org(), [3; 32], Some([5; 32]), false).unwrap();
        fs::set_permissions(home.key_path(), fs::Permissions::from_mode(0o644)).unwrap();
        let err = home.node_key().unwrap_err();
        assert!(
            matches!(err, HomeError::KeyPermissions { mode: 0o644, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");

        fs::set_permissions(home.org_key_path(), fs::Permissions::from_mode(0o640)).unwrap();
        let err = home.org_key().unwrap_err();
        assert!(
            matches!(err, HomeError::KeyPermissions { mode: 0o640, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("org.key"), "{err}");
    }

    #[test]
    fn malformed_key_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home {
            dir: tmp.path().to_path_buf(),
        };
        home.init(&org(), [3; 32], Some([6; 32]), false).unwrap();
        fs::write(home.key_path(), "not hex").unwrap();
        fs::set_permissions(home.key_path(), fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            home.node_key(),
            Err(HomeError::MalformedKey { .. })
        ));
        fs::write(home.org_key_path(), "abcd").unwrap();
        assert!(matches!(
            home.org_key(),
            Err(HomeError::MalformedKey { .. })
        ));
    }

    #[test]
    fn config_round_trips_and_missing_config_says_run_init() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home {
            dir: tmp.path().to_path_buf(),
        };
        let err = home.load_config().unwrap_err();
        assert!(err.to_string().contains("allmenning init"), "{err}");
        assert!(matches!(
            home.node_key(),
            Err(HomeError::NotInitialised { .. })
        ));

        let config = Config {
            org: OrgProfile {
                name: "Vestland fylkeskommune".into(),
                number: OrgNumber::parse("821311632").unwrap_or_else(|_| org().number),
                kind: OrgKind::Fylkeskommune,
            },
            network: NetworkConfig {
                listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
                bootstrap: vec!["/ip4/10.0.0.1/tcp/4646/p2p/12D3KooWExample".into()],
                mdns: false,
                max_connections: 10,
                max_connections_per_peer: 1,
                max_pending_incoming: 3,
                max_pending_outgoing: 4,
                external_addresses: vec!["/ip4/203.0.113.7/tcp/4646".into()],
                max_requests_per_sec_per_peer: 5,
                max_request_burst_per_peer: 10,
                max_response_mib_per_sec_per_peer: 1,
            },
            relay: RelaySettings {
                serve: true,
                via: vec!["/ip4/10.0.0.2/tcp/4646/p2p/12D3KooWRelay".into()],
                auto: false,
                max_circuit_mib: 16,
                ..RelaySettings::default()
            },
        };
        home.save_config(&config).unwrap();
        assert_eq!(home.load_config().unwrap(), config);
        let text = fs::read_to_string(home.config_path()).unwrap();
        assert!(text.starts_with("# Allmenning node configuration."));
    }

    #[test]
    fn config_defaults_and_parse_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home {
            dir: tmp.path().to_path_buf(),
        };
        fs::write(
            home.config_path(),
            "[org]\nname = \"Bergen kommune\"\nnumber = \"964338531\"\nkind = \"kommune\"\n",
        )
        .unwrap();
        let config = home.load_config().unwrap();
        assert_eq!(config.network, NetworkConfig::default());
        assert!(config.network.mdns, "mDNS is on by default");
        assert_eq!(config.network.max_connections, 256);
        assert_eq!(config.network.max_connections_per_peer, 8);
        assert_eq!(config.network.max_pending_incoming, 64);
        assert_eq!(config.relay, RelaySettings::default());
        assert!(!config.relay.serve, "a node relays only when told to");
        assert!(
            config.relay.auto,
            "a node behind NAT uses relays by default"
        );
        assert_eq!(config.network.max_pending_outgoing, 64);

        // A [network] section that names only some fields keeps the defaults of the others.
        fs::write(
            home.config_path(),
            "[org]\nname = \"Bergen kommune\"\nnumber = \"964338531\"\nkind = \"kommune\"\n\
             [network]\nmdns = false\nmax_connections = 1\n",
        )
        .unwrap();
        let network = home.load_config().unwrap().network;
        assert!(!network.mdns);
        assert_eq!(network.max_connections, 1);
        assert_eq!(network.max_connections_per_peer, 8);
        assert_eq!(network.listen, DEFAULT_LISTEN.to_vec());

        fs::write(
            home.config_path(),
            "[org]\nname = \"X\"\nnumber = \"964338532\"\nkind = \"kommune\"\n",
        )
        .unwrap();
        let err = home.load_config().unwrap_err();
        assert!(matches!(err, HomeError::ParseConfig { .. }));
        assert!(err.to_string().contains("config.toml"), "{err}");
    }

    #[test]
    fn a_node_without_the_org_key_has_none() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home {
            dir: tmp.path().to_path_buf(),
        };
        home.init(&org(), [9; 32], None, false).unwrap();
        assert!(home.is_initialised());
        assert!(!home.org_key_path().exists());
        assert!(home.org_key().unwrap().is_none());
        assert_eq!(home.node_key().unwrap().secret_bytes(), [9; 32]);

        // An org key copied in by hand (before or after init) is used, and a later init with an
        // org key refuses to overwrite it unless forced.
        fs::write(home.org_key_path(), hex::encode([10u8; 32])).unwrap();
        fs::set_permissions(home.org_key_path(), fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(home.org_key().unwrap().unwrap().secret_bytes(), [10; 32]);
        fs::remove_file(home.key_path()).unwrap();
        fs::remove_file(home.config_path()).unwrap();
        let err = home
            .init(&org(), [9; 32], Some([1; 32]), false)
            .unwrap_err();
        assert!(
            matches!(&err, HomeError::AlreadyInitialised { existing, .. } if existing == &home.org_key_path()),
            "{err}"
        );
        home.init(&org(), [9; 32], None, false).unwrap();
        assert_eq!(home.org_key().unwrap().unwrap().secret_bytes(), [10; 32]);
    }

    #[test]
    fn network_file_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home {
            dir: tmp.path().to_path_buf(),
        };
        assert_eq!(home.network_path(), tmp.path().join("network.json"));
        assert_eq!(home.load_network().unwrap(), None);
        home.save_network("{\"name\":\"kommune-nett\"}").unwrap();
        assert_eq!(
            home.load_network().unwrap().as_deref(),
            Some("{\"name\":\"kommune-nett\"}")
        );
        assert_eq!(mode(&home.network_path()), 0o644);
        home.save_network("{}").unwrap();
        assert_eq!(home.load_network().unwrap().as_deref(), Some("{}"));
        assert!(!home.dir.join("network.json.tmp").exists());
    }
}
