//! The node's event loop: one task owns the libp2p swarm and the sync engine.
//!
//! Like rust-libp2p's file-sharing example, nothing else touches the swarm: the control socket
//! hands requests to this loop over a channel with a oneshot for the answer. Every network event
//! is translated into an engine input, and after every input the engine's outputs are carried
//! out (requests sent, announces gossiped, events logged). Because the engine is synchronous and
//! owns all replication state, there are no locks and no races between the CLI and the network.

use crate::control::{
    self, ArtefactDetail, ArtefactRow, Committed, ConflictInfo, ControlCall, ControlReply,
    ControlRequest, EditPayload, FilePayload, FilesAt, NodeStatus, OrgInfo, PeerInfo, Published,
};
use crate::home::{Config, Home, HomeError};
use crate::net::backoff::Backoff;
use crate::net::penalty::{Penalties, PenaltyConfig, Verdict};
use crate::net::work::{PeerWork, WorkLimits};
use crate::net::{
    self, announce_topic, statements_topic, AutonatTiming, Behaviour, BehaviourEvent, Frame,
    Limits, NetConfig, NetError, RelayConfig, KAD_PROTOCOL, STATEMENTS_TOPIC,
};
use crate::store::{SledStore, StoreError};
use allmenning_protocol::artefact::{FileEdit, Kind, Metadata};
use allmenning_protocol::engine::{Engine, EngineError, Event, FileData, Output};
use allmenning_protocol::trust::intake::StatementVerdict;
use allmenning_protocol::wire::Request;
use allmenning_protocol::{ArtefactId, ChangeHash};
use futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{ConnectionId, DialError, SwarmEvent};
use libp2p::{gossipsub, identify, kad, mdns, request_response, Multiaddr, PeerId, Swarm};
use rand::RngCore;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

mod adoption_api;
mod catalog_api;
mod checking;
#[cfg(test)]
mod flood_tests;
#[cfg(test)]
mod gossip_blame_tests;
mod nat;
mod proposals_api;
mod refused_api;
mod requests;
#[cfg(test)]
mod test_node;
mod trust_api;
mod versions_api;

use requests::{PeerRequests, Submitted, MAX_IN_FLIGHT_PER_PEER, MAX_QUEUED_PER_PEER};

/// How often the node checks for known but unconnected peers whose redial backoff is over
/// (each peer waits 1 s, 2 s, 4 s, ... up to 5 minutes after a failed dial; see
/// [`net::backoff`]). This is only the granularity of that schedule.
const REDIAL_CHECK_EVERY: Duration = Duration::from_secs(1);
/// How often (in redial checks) the node looks for nodes it shares restricted artefacts with
/// but is not connected to; also right after a publish or an access change.
const SEEK_PARTNERS_EVERY_TICKS: u64 = 5;
/// How often the engine gets a chance to retry work that waits on peers (missing contents).
const TICK_EVERY: Duration = Duration::from_secs(3);

/// Start-up options from the command line; empty lists mean "use the config file".
#[derive(Clone, Debug, Default)]
pub struct NodeOptions {
    pub listen: Vec<String>,
    pub bootstrap: Vec<String>,
    /// `--no-mdns`: no mDNS discovery this run, whatever `config.toml` says.
    pub no_mdns: bool,
    /// `--relay`: relay for nodes behind NAT this run, whatever `config.toml` says.
    pub relay: bool,
    /// `--external-address`: added to `external_addresses` from `config.toml`.
    pub external_addresses: Vec<String>,
    /// `--portal ADDR`: serve the read-only web portal there (e.g. 127.0.0.1:8080).
    pub portal: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Home(#[from] HomeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Control(#[from] control::ControlError),
    #[error("network: {0}")]
    Net(String),
    #[error("invalid multiaddr {addr:?}: {reason}")]
    BadAddr { addr: String, reason: String },
    #[error("the network file in this home is invalid: {0}")]
    Network(String),
}

/// Runs a node for `home` until `shutdown` resolves or a `Stop` request arrives.
pub async fn run(
    home: Home,
    options: NodeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    quiet_crdt_panics();
    let config = home.load_config()?;
    home.check_private()?;
    let key = home.node_key()?;
    let listener = control::bind(&home.socket_path())?;
    let store = SledStore::open(&home.db_path())?;
    let listen = parse_addrs(if options.listen.is_empty() {
        &config.network.listen
    } else {
        &options.listen
    })?;
    let mut bootstrap = parse_addrs(&config.network.bootstrap)?;
    bootstrap.extend(parse_addrs(&options.bootstrap)?);
    let net_err = |e: NetError| NodeError::Net(e.to_string());
    let keypair = net::keypair_from_secret(key.secret_bytes()).map_err(net_err)?;
    // mDNS and serving the DHT only make sense when other machines can reach us.
    let beyond_loopback = net::reachable_beyond_loopback(&listen);
    let mdns = config.network.mdns && !options.no_mdns && beyond_loopback;
    if config.network.mdns && !options.no_mdns && !beyond_loopback {
        tracing::info!("mDNS off: the node only listens on loopback");
    }
    let limits = Limits {
        max_established: config.network.max_connections,
        max_established_per_peer: config.network.max_connections_per_peer,
        max_pending_incoming: config.network.max_pending_incoming,
        max_pending_outgoing: config.network.max_pending_outgoing,
    };
    tracing::info!(
        mdns,
        dht_server = true,
        max_connections = limits.max_established,
        max_connections_per_peer = limits.max_established_per_peer,
        "discovery and connection limits"
    );
    let test_hooks = std::env::var("ALLMENNING_TEST_HOOKS").is_ok_and(|v| v == "1");
    let relay = RelayConfig {
        serve: config.relay.serve || options.relay,
        max_reservations: config.relay.max_reservations,
        max_circuits: config.relay.max_circuits,
        max_circuits_per_peer: config.relay.max_circuits_per_peer,
        max_circuit_duration: Duration::from_secs(
            config.relay.max_circuit_minutes.saturating_mul(60),
        ),
        max_circuit_bytes: config.relay.max_circuit_mib.saturating_mul(1 << 20),
    };
    let autonat = if test_hooks {
        // End-to-end tests cannot wait a minute for AutoNAT's verdict.
        AutonatTiming {
            boot_delay: Duration::from_secs(1),
            retry_interval: Duration::from_secs(2),
            refresh_interval: Duration::from_secs(30),
            throttle_server_period: Duration::from_secs(1),
        }
    } else {
        AutonatTiming::default()
    };
    let mut external = parse_addrs(&config.network.external_addresses)?;
    external.extend(parse_addrs(&options.external_addresses)?);
    let via = parse_addrs(&config.relay.via)?
        .into_iter()
        .map(|addr| {
            nat::parse_via(&addr).ok_or_else(|| NodeError::BadAddr {
                addr: addr.to_string(),
                reason: "a relay in [relay] via must end in /p2p/<peer id>".into(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    tracing::info!(
        relay_server = relay.serve,
        relays = via.len(),
        auto_relay = config.relay.auto,
        "NAT traversal"
    );
    let mut swarm = net::build_swarm(NetConfig {
        listen,
        keypair,
        limits,
        mdns,
        // Every node serves the DHT: a node listening on loopback only hands out loopback
        // addresses, which is right for the only peers it can have, those on the same host.
        kad_server: true,
        relay,
        autonat,
    })
    .map_err(net_err)?;
    for addr in external {
        swarm.add_external_address(addr);
    }
    let engine = Engine::new(key, store);
    let (calls_tx, calls_rx) = mpsc::channel(64);
    let portal_task = match &options.portal {
        Some(addr) => {
            // A bare port means localhost: the portal is reachable from elsewhere only when
            // an address says so.
            let addr: std::net::SocketAddr = match addr.parse::<u16>() {
                Ok(port) => std::net::SocketAddr::from(([127, 0, 0, 1], port)),
                Err(_) => addr.parse().map_err(|e| NodeError::BadAddr {
                    addr: addr.clone(),
                    reason: format!(
                        "--portal wants PORT or IP:PORT, e.g. 8080 or 127.0.0.1:8080 ({e})"
                    ),
                })?,
            };
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| NodeError::Net(format!("cannot serve the portal on {addr}: {e}")))?;
            if !addr.ip().is_loopback() {
                tracing::warn!(%addr, "the portal is reachable from other machines (read-only, public artefacts only)");
            }
            tracing::info!("portal on http://{addr}/");
            Some(tokio::spawn(crate::portal::serve(
                listener,
                calls_tx.clone(),
            )))
        }
        None => None,
    };
    let control_task = tokio::spawn(control::serve(listener, calls_tx));
    let mut engine = engine;
    engine.set_organisation(
        home.org_key()?,
        (config.org.number, config.org.name.clone(), config.org.kind),
    );
    if test_hooks && std::env::var("ALLMENNING_TEST_UNCHECKED_COMMITS").is_ok_and(|v| v == "1") {
        tracing::warn!("test hook: committing without the local write check");
        engine.skip_local_write_check_for_testing(true);
    }
    let penalty_config = penalty_config(test_hooks);
    if penalty_config != PenaltyConfig::default() {
        tracing::warn!(
            threshold = penalty_config.threshold,
            ban_secs = penalty_config.ban_for.as_secs(),
            "test hook: non-default ban settings"
        );
    }
    let config_network = config.network.clone();
    let search_dir = home.search_path();
    let (checker, checked_rx) = checking::Checker::new();
    let mut node = Node {
        swarm,
        engine,
        config,
        home,
        started: Instant::now(),
        outstanding: HashMap::new(),
        connected: HashSet::new(),
        pending_dials: HashMap::new(),
        connect_waiters: HashMap::new(),
        lookups: HashMap::new(),
        backoff: Backoff::default(),
        penalties: Penalties::new(penalty_config),
        nat: nat::NatState::new(via),
        work: PeerWork::new(work_limits(&config_network)),
        requests: PeerRequests::new(MAX_IN_FLIGHT_PER_PEER, MAX_QUEUED_PER_PEER),
        catalog: catalog_api::CatalogState::open(&search_dir),
        checker,
        test_hooks,
    };
    tracing::info!(peer_id = %node.swarm.local_peer_id(), org = %node.config.org.name, "node starting");
    for addr in bootstrap {
        node.dial(addr, None);
    }
    if let Some(json) = node.home.load_network()? {
        let network: allmenning_protocol::trust::Network =
            serde_json::from_str(&json).map_err(|e| NodeError::Network(e.to_string()))?;
        node.adopt_network(network)
            .map_err(|e| NodeError::Network(e.to_string()))?;
        tracing::info!(network = %node.engine.trust().map(|t| t.network().name.clone()).unwrap_or_default(), admitted = node.engine.admitted(), "in network");
    }
    node.seed_dht();
    node.redial_known();
    node.keep_reservations();
    node.event_loop(calls_rx, checked_rx, shutdown).await;
    // The event loop dropped its end of the call channel: the control task stops accepting,
    // delivers the answers already given (the one to `node stop` among them), and ends.
    if let Some(portal) = portal_task {
        portal.abort();
    }
    if let Err(e) = control_task.await {
        tracing::warn!("control socket task failed: {e}");
    }
    if let Err(e) = allmenning_protocol::Store::flush(node.engine.store_mut()) {
        tracing::error!("final flush failed: {e}");
    }
    tracing::info!("node stopped");
    Ok(())
}

/// Panics inside the CRDT library on a peer's data are caught (the data is refused), so they
/// are logged as one line: with `RUST_BACKTRACE` set, the default hook would resolve a
/// backtrace for each, which costs hundreds of megabytes and lets a peer that sends such data
/// exhaust the node's memory. Every other panic goes to the default hook as before.
fn quiet_crdt_panics() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_crdt = info.location().is_some_and(|l| {
                let file = l.file();
                file.contains("/automerge-") || file.contains("/hexane-")
            });
            if in_crdt {
                tracing::warn!(
                    "the CRDT library failed on a peer's data (caught, data refused): {info}"
                );
            } else {
                default(info);
            }
        }));
    });
}

/// The ban settings: the defaults, except that a node with test hooks on takes
/// `ALLMENNING_TEST_BAN_THRESHOLD` (rejections) and `ALLMENNING_TEST_BAN_SECS` from the
/// environment, so end-to-end tests can ban after one rejection and watch a ban end.
fn penalty_config(test_hooks: bool) -> PenaltyConfig {
    let mut config = PenaltyConfig::default();
    if !test_hooks {
        return config;
    }
    if let Some(t) = std::env::var("ALLMENNING_TEST_BAN_THRESHOLD")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|t| *t >= 1.0)
    {
        config.threshold = t;
    }
    if let Some(secs) = std::env::var("ALLMENNING_TEST_BAN_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        config.ban_for = Duration::from_secs(secs);
    }
    config
}

fn work_limits(network: &crate::home::NetworkConfig) -> WorkLimits {
    let defaults = WorkLimits::default();
    let bytes_per_sec = f64::from(network.max_response_mib_per_sec_per_peer.max(1)) * 1048576.0;
    WorkLimits {
        requests_per_sec: f64::from(network.max_requests_per_sec_per_peer.max(1)),
        request_burst: f64::from(network.max_request_burst_per_peer.max(1)),
        bytes_per_sec,
        // Room for the largest response at any configured rate.
        byte_burst: defaults.byte_burst.max(8.0 * bytes_per_sec),
    }
}

fn parse_addrs(addrs: &[String]) -> Result<Vec<Multiaddr>, NodeError> {
    addrs
        .iter()
        .map(|a| {
            a.parse()
                .map_err(|e: libp2p::multiaddr::Error| NodeError::BadAddr {
                    addr: a.clone(),
                    reason: e.to_string(),
                })
        })
        .collect()
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn nonce() -> [u8; 8] {
    let mut n = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut n);
    n
}

struct Node {
    swarm: Swarm<Behaviour>,
    engine: Engine<SledStore, PeerId>,
    config: Config,
    home: Home,
    started: Instant,
    outstanding: HashMap<request_response::OutboundRequestId, (PeerId, Request)>,
    connected: HashSet<PeerId>,
    pending_dials: HashMap<ConnectionId, (String, oneshot::Sender<Result<ControlReply, String>>)>,
    /// `connect` calls that name only a peer id, answered when a connection to that peer is
    /// established or a dial of it fails.
    connect_waiters: HashMap<PeerId, Vec<(String, Reply)>>,
    /// DHT lookups started for `connect` calls, by the peer looked for.
    lookups: HashMap<kad::QueryId, PeerId>,
    /// When each known peer may be redialled.
    backoff: Backoff<PeerId>,
    /// Rejection scores and bans of peers that send bad data.
    penalties: Penalties<PeerId>,
    /// Relays, reservations and relayed connections.
    nat: nat::NatState,
    /// How much serving each peer may ask for.
    work: PeerWork<PeerId>,
    /// Our requests per peer: a few in flight, the rest waiting.
    requests: PeerRequests<PeerId, Request>,
    /// The catalogue and its full-text index.
    catalog: catalog_api::CatalogState,
    /// Checks peers' replies on workers, off this loop.
    checker: checking::Checker,
    test_hooks: bool,
}

type Reply = oneshot::Sender<Result<ControlReply, String>>;

/// The peer id of a multiaddr that is nothing but `/p2p/<peer id>`.
fn bare_peer_id(addr: &Multiaddr) -> Option<PeerId> {
    let mut parts = addr.iter();
    match (parts.next(), parts.next()) {
        (Some(Protocol::P2p(peer)), None) => Some(peer),
        _ => None,
    }
}

/// A peer's listen addresses worth remembering and handing on: without `0.0.0.0`.
fn dialable(addrs: &[Multiaddr]) -> impl Iterator<Item = &Multiaddr> {
    addrs.iter().filter(|a| {
        !a.iter()
            .any(|p| matches!(p, Protocol::Ip4(ip) if ip.is_unspecified()))
    })
}

impl Node {
    async fn event_loop(
        &mut self,
        mut calls: mpsc::Receiver<ControlCall>,
        mut checked: mpsc::UnboundedReceiver<checking::Checked>,
        shutdown: impl Future<Output = ()>,
    ) {
        let mut redial = tokio::time::interval(REDIAL_CHECK_EVERY);
        redial.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        redial.tick().await;
        let mut tick = tokio::time::interval(TICK_EVERY);
        tick.tick().await;
        let mut redial_ticks: u64 = 0;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                Some(done) = checked.recv() => self.on_checked(done),
                call = calls.recv() => match call {
                    Some(call) => {
                        if self.on_call(call) {
                            return;
                        }
                    }
                    None => return,
                },
                _ = redial.tick() => {
                    redial_ticks += 1;
                    if redial_ticks.is_multiple_of(SEEK_PARTNERS_EVERY_TICKS) {
                        self.seek_partners();
                    }
                    self.work.forget_idle(Instant::now());
                    self.end_bans();
                    self.redial_known();
                    self.keep_reservations();
                }
                _ = tick.tick() => {
                    self.engine.handle_tick();
                    self.engine.handle_trust_tick(now_secs());
                    // Kept current once someone asked for it; built on first use, not at
                    // start-up (building loads every artefact once).
                    if self.catalog_in_use() {
                        if let Err(e) = self.refresh_catalog() {
                            tracing::warn!("cannot update the catalogue: {e}");
                        }
                    }
                }
                _ = &mut shutdown => return,
            }
            self.carry_out_outputs();
        }
    }

    fn dial(
        &mut self,
        addr: Multiaddr,
        reply: Option<(String, oneshot::Sender<Result<ControlReply, String>>)>,
    ) {
        let opts = DialOpts::unknown_peer_id().address(addr.clone()).build();
        let id = opts.connection_id();
        match self.swarm.dial(opts) {
            Ok(()) => {
                if let Some(reply) = reply {
                    self.pending_dials.insert(id, reply);
                }
            }
            Err(e) => {
                tracing::warn!(%addr, "cannot dial: {e}");
                if let Some((_, reply)) = reply {
                    let _ = reply.send(Err(format!("cannot dial {addr}: {e}")));
                }
            }
        }
    }

    fn redial_known(&mut self) {
        let known = match self.engine.store().known_peers() {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!("cannot read known peers: {e}");
                return;
            }
        };
        for (peer, addrs) in known {
            let Ok(peer_id) = peer.parse::<PeerId>() else {
                continue;
            };
            if self.connected.contains(&peer_id)
                || peer_id == *self.swarm.local_peer_id()
                || self.penalties.is_banned(&peer_id, Instant::now())
            {
                continue;
            }
            if !self.backoff.is_due(&peer_id, Instant::now()) {
                continue;
            }
            let addrs: Vec<Multiaddr> = addrs.iter().filter_map(|a| a.parse().ok()).collect();
            if addrs.is_empty() {
                continue;
            }
            let opts = DialOpts::peer_id(peer_id).addresses(addrs).build();
            match self.swarm.dial(opts) {
                Ok(()) => tracing::trace!(%peer_id, "redialling"),
                // A dial of this peer is already under way.
                Err(DialError::DialPeerConditionFalse(_)) => {}
                Err(e) => {
                    let wait = self.backoff.on_failure(peer_id, Instant::now());
                    tracing::debug!(%peer_id, "redial failed: {e}; next attempt in {wait:?}");
                }
            }
        }
    }

    /// Puts every remembered peer into the DHT's routing table and refreshes it from them, so a
    /// restarted node finds the rest of the network without waiting for connections.
    fn seed_dht(&mut self) {
        let known = match self.engine.store().known_peers() {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!("cannot read known peers: {e}");
                return;
            }
        };
        let me = *self.swarm.local_peer_id();
        for (peer, addrs) in known {
            let Ok(peer_id) = peer.parse::<PeerId>() else {
                continue;
            };
            if peer_id == me {
                continue;
            }
            for addr in addrs.iter().filter_map(|a| a.parse::<Multiaddr>().ok()) {
                self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
            }
        }
        match self.swarm.behaviour_mut().kad.bootstrap() {
            Ok(_) => tracing::debug!("DHT bootstrap started"),
            Err(_) => tracing::debug!("DHT routing table empty; bootstrap waits for peers"),
        }
    }

    /// `connect /p2p/<peer id>`: dials the peer at an address some behaviour already knows, or
    /// else asks the DHT for its addresses first. `reply` is answered when the connection is
    /// established or the dial fails.
    fn connect_peer(&mut self, peer: PeerId, addr: String, reply: Reply) {
        if peer == *self.swarm.local_peer_id() {
            let _ = reply.send(Err("that is this node's own peer id".into()));
            return;
        }
        if self.connected.contains(&peer) {
            let _ = reply.send(Ok(ControlReply::Connected { addr }));
            return;
        }
        match self.swarm.dial(DialOpts::peer_id(peer).build()) {
            Ok(()) | Err(DialError::DialPeerConditionFalse(_)) => {
                self.connect_waiters
                    .entry(peer)
                    .or_default()
                    .push((addr, reply));
            }
            Err(DialError::NoAddresses) => {
                tracing::info!(%peer, "no address known; asking the DHT");
                let query = self.swarm.behaviour_mut().kad.get_closest_peers(peer);
                self.lookups.insert(query, peer);
                self.connect_waiters
                    .entry(peer)
                    .or_default()
                    .push((addr, reply));
            }
            Err(e) => {
                let _ = reply.send(Err(format!("cannot dial {addr}: {e}")));
            }
        }
    }

    /// Answers every `connect` waiting for `peer`.
    fn answer_waiters(
        &mut self,
        peer: &PeerId,
        result: impl Fn(&str) -> Result<ControlReply, String>,
    ) {
        for (addr, reply) in self.connect_waiters.remove(peer).unwrap_or_default() {
            let _ = reply.send(result(&addr));
        }
    }

    fn on_kad_event(&mut self, event: kad::Event) {
        match event {
            kad::Event::OutboundQueryProgressed {
                id,
                result: kad::QueryResult::GetClosestPeers(result),
                step,
                ..
            } => {
                let Some(&target) = self.lookups.get(&id) else {
                    return;
                };
                let peers = match result {
                    Ok(ok) => ok.peers,
                    Err(kad::GetClosestPeersError::Timeout { peers, .. }) => peers,
                };
                let addrs: Vec<Multiaddr> = peers
                    .into_iter()
                    .filter(|p| p.peer_id == target)
                    .flat_map(|p| p.addrs)
                    .collect();
                if addrs.is_empty() && !step.last {
                    return;
                }
                self.lookups.remove(&id);
                if self.connected.contains(&target) {
                    // The lookup itself reached the peer; its waiters are already answered.
                    return;
                }
                if addrs.is_empty() {
                    tracing::info!(peer = %target, "the DHT does not know this peer");
                    if self.dial_via_relays(target) {
                        return;
                    }
                    self.answer_waiters(&target, |addr| {
                        Err(format!("cannot connect to {addr}: no address known and the DHT does not know this peer"))
                    });
                    return;
                }
                tracing::info!(peer = %target, addrs = addrs.len(), "DHT found addresses; dialling");
                match self
                    .swarm
                    .dial(DialOpts::peer_id(target).addresses(addrs).build())
                {
                    Ok(()) | Err(DialError::DialPeerConditionFalse(_)) => {}
                    Err(e) => {
                        let msg = e.to_string();
                        self.answer_waiters(&target, |addr| {
                            Err(format!("cannot dial {addr}: {msg}"))
                        });
                    }
                }
            }
            kad::Event::OutboundQueryProgressed {
                result: kad::QueryResult::Bootstrap(result),
                ..
            } => match result {
                Ok(ok) => tracing::debug!(remaining = ok.num_remaining, "DHT bootstrap step"),
                Err(e) => tracing::debug!("DHT bootstrap: {e}"),
            },
            kad::Event::RoutingUpdated {
                peer, is_new_peer, ..
            } => {
                if is_new_peer {
                    tracing::debug!(%peer, "added to the DHT routing table");
                }
            }
            other => tracing::trace!(?other, "DHT event"),
        }
    }

    fn on_mdns_event(&mut self, event: mdns::Event) {
        match event {
            mdns::Event::Discovered(found) => {
                let me = *self.swarm.local_peer_id();
                let mut by_peer: HashMap<PeerId, Vec<Multiaddr>> = HashMap::new();
                for (peer, addr) in found {
                    if peer != me {
                        by_peer.entry(peer).or_default().push(addr);
                    }
                }
                for (peer, addrs) in by_peer {
                    if self.connected.contains(&peer) {
                        continue;
                    }
                    tracing::info!(%peer, "found on the local network by mDNS; dialling");
                    match self
                        .swarm
                        .dial(DialOpts::peer_id(peer).addresses(addrs).build())
                    {
                        Ok(()) | Err(DialError::DialPeerConditionFalse(_)) => {}
                        Err(e) => tracing::debug!(%peer, "cannot dial mDNS peer: {e}"),
                    }
                }
            }
            mdns::Event::Expired(gone) => {
                for (peer, addr) in gone {
                    tracing::debug!(%peer, %addr, "mDNS record expired");
                }
            }
        }
    }

    fn send_request(&mut self, peer: PeerId, request: Request) {
        let id = self
            .swarm
            .behaviour_mut()
            .sync
            .send_request(&peer, Frame::outbound(request.encode()));
        self.outstanding.insert(id, (peer, request));
    }

    /// A request to `peer` was answered or failed: the next one waiting goes out.
    fn request_finished(&mut self, peer: PeerId) {
        if let Some(next) = self.requests.finished(&peer) {
            self.send_request(peer, next);
        }
    }

    fn carry_out_outputs(&mut self) {
        while let Some(output) = self.engine.poll_output() {
            match output {
                Output::Request { peer, request } => match self.requests.submit(&peer, request) {
                    Submitted::Send(request) => self.send_request(peer, request),
                    Submitted::Queued => {}
                    Submitted::Overflow(request) => {
                        tracing::warn!(%peer, "too many requests waiting for the peer; dropping one");
                        self.engine.handle_request_failed(peer, &request);
                    }
                },
                Output::Announce(announce) => {
                    match self
                        .swarm
                        .behaviour_mut()
                        .gossipsub
                        .publish(announce_topic(), announce.encode())
                    {
                        Ok(_)
                        | Err(gossipsub::PublishError::NoPeersSubscribedToTopic)
                        | Err(gossipsub::PublishError::Duplicate) => {}
                        Err(e) => tracing::warn!(artefact = %announce.id, "cannot announce: {e}"),
                    }
                }
                Output::Statement(statement) => {
                    match self
                        .swarm
                        .behaviour_mut()
                        .gossipsub
                        .publish(statements_topic(), statement.encode())
                    {
                        Ok(_)
                        | Err(gossipsub::PublishError::NoPeersSubscribedToTopic)
                        | Err(gossipsub::PublishError::Duplicate) => {}
                        Err(e) => tracing::warn!("cannot gossip statement: {e}"),
                    }
                }
                Output::Event(event) => {
                    log_event(&event);
                    if let Event::Updated { id, .. } | Event::Complete { id } = &event {
                        self.catalog.mark_dirty(*id);
                    }
                    if let Event::Rejected { peer, reason, .. } = &event {
                        self.penalise(peer, reason);
                    }
                }
            }
        }
    }

    /// Counts a rejection of data from `peer` (a `PeerId` as text, as the engine names it) and
    /// bans the peer once its score reaches the threshold: it is disconnected and its
    /// connections are refused, both ways, until the ban ends (see [`Node::end_bans`]).
    fn penalise(&mut self, peer: &str, reason: &str) {
        let Ok(peer_id) = peer.parse::<PeerId>() else {
            return;
        };
        if peer_id == *self.swarm.local_peer_id() {
            return;
        }
        match self.penalties.record(peer_id, Instant::now()) {
            Verdict::Counted { score } => {
                tracing::debug!(%peer_id, score, "rejection counted against peer");
            }
            Verdict::AlreadyBanned => {}
            Verdict::Ban { score, until } => {
                let ban_secs = until.saturating_duration_since(Instant::now()).as_secs();
                tracing::warn!(
                    peer = %peer_id,
                    score,
                    ban_secs,
                    "banning peer: it keeps sending data this node refuses (last: {reason})"
                );
                // Blocking closes the peer's open connections and refuses new ones, incoming
                // and outgoing; disconnecting as well makes the intent explicit.
                self.swarm.behaviour_mut().blocked.block_peer(peer_id);
                let _ = self.swarm.disconnect_peer_id(peer_id);
                self.answer_waiters(&peer_id, |addr| {
                    Err(format!(
                        "cannot connect to {addr}: the peer is banned for sending bad data"
                    ))
                });
            }
        }
    }

    /// Lifts bans whose time is over.
    fn end_bans(&mut self) {
        for peer in self.penalties.expired(Instant::now()) {
            tracing::info!(%peer, "ban over; the peer may connect again");
            self.swarm.behaviour_mut().blocked.unblock_peer(peer);
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!("listening on {address}/p2p/{}", self.swarm.local_peer_id());
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                if let Some((addr, reply)) = self.pending_dials.remove(&connection_id) {
                    let _ = reply.send(Ok(ControlReply::Connected { addr }));
                }
                self.nat_on_connection_established(peer_id, connection_id, &endpoint);
                self.backoff.on_success(&peer_id);
                self.answer_waiters(&peer_id, |addr| {
                    Ok(ControlReply::Connected {
                        addr: addr.to_string(),
                    })
                });
                if endpoint.is_dialer() {
                    let addr = endpoint.get_remote_address().to_string();
                    if let Err(e) = self
                        .engine
                        .store()
                        .remember_peer(&peer_id.to_string(), &[addr])
                    {
                        tracing::warn!("cannot remember peer: {e}");
                    }
                }
                if num_established.get() == 1 {
                    tracing::info!(%peer_id, "connected");
                    self.connected.insert(peer_id);
                    self.engine.handle_connected(peer_id, node_key_of(&peer_id));
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                ..
            } => {
                self.nat_on_connection_closed(peer_id, connection_id, num_established);
                if num_established == 0 {
                    tracing::info!(%peer_id, "disconnected");
                    self.connected.remove(&peer_id);
                    for request in self.requests.disconnected(&peer_id) {
                        self.engine.handle_request_failed(peer_id, &request);
                    }
                    self.engine.handle_disconnected(&peer_id);
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                peer_id,
                error,
                ..
            } => {
                if let Some((addr, reply)) = self.pending_dials.remove(&connection_id) {
                    let _ = reply.send(Err(format!("cannot connect to {addr}: {error}")));
                } else {
                    tracing::debug!(?peer_id, "outgoing connection failed: {error}");
                }
                if let Some(peer) = peer_id {
                    // Another dial of the peer may still be under way (mDNS, the DHT, a redial):
                    // failures of those are not a failure of the whole attempt.
                    if !matches!(error, DialError::DialPeerConditionFalse(_))
                        && !self.connected.contains(&peer)
                    {
                        let wait = self.backoff.on_failure(peer, Instant::now());
                        tracing::debug!(%peer, failures = self.backoff.failures(&peer), "next redial in {wait:?}");
                        let waited_for = self.connect_waiters.contains_key(&peer)
                            || self.nat.partners.contains(&peer);
                        if waited_for
                            && !self.lookups.values().any(|p| *p == peer)
                            && self.dial_via_relays(peer)
                        {
                            // The answer waits for the attempt through relays.
                        } else if !self.lookups.values().any(|p| *p == peer) {
                            let msg = error.to_string();
                            self.answer_waiters(&peer, |addr| {
                                Err(format!("cannot connect to {addr}: {msg}"))
                            });
                        }
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                let addrs: Vec<String> = dialable(&info.listen_addrs)
                    .map(|a| a.to_string())
                    .collect();
                // Only peers that serve the DHT belong in its routing table.
                if info.protocols.contains(&KAD_PROTOCOL) {
                    for addr in dialable(&info.listen_addrs) {
                        self.swarm
                            .behaviour_mut()
                            .kad
                            .add_address(&peer_id, addr.clone());
                    }
                }
                if !addrs.is_empty() {
                    if let Err(e) = self
                        .engine
                        .store()
                        .remember_peer(&peer_id.to_string(), &addrs)
                    {
                        tracing::warn!("cannot remember peer: {e}");
                    }
                }
                for addr in &info.listen_addrs {
                    self.swarm.add_peer_address(peer_id, addr.clone());
                }
                self.nat_on_identify(peer_id, &info);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(libp2p::ping::Event {
                peer,
                connection,
                result: Err(error),
            })) => {
                // A silent peer (a partition, a dead machine) is dropped so that redial with
                // backoff can find it again once it is reachable.
                tracing::info!(%peer, "peer stopped answering pings ({error}); closing the connection");
                self.swarm.close_connection(connection);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => {
                let acceptance = self.on_gossip(propagation_source, message);
                // Passed on to the mesh only if accepted here.
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&message_id, &propagation_source, acceptance);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Kad(event)) => self.on_kad_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(event)) => self.on_mdns_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Autonat(event)) => self.on_autonat_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::RelayClient(event)) => {
                self.on_relay_client_event(event)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Relay(event)) => {
                self.on_relay_server_event(event)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Dcutr(event)) => self.on_dcutr_event(event),
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } => {
                if let Err(e) = &reason {
                    tracing::debug!("listener closed: {e}");
                }
                self.nat_on_listener_closed(listener_id);
            }
            SwarmEvent::ListenerError { listener_id, error } => {
                tracing::debug!(?listener_id, "listener error: {error}");
            }
            SwarmEvent::ExternalAddrConfirmed { address } => {
                tracing::info!(%address, "address confirmed as reachable from outside");
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error: error @ libp2p::swarm::ListenError::Denied { .. },
                ..
            } => {
                tracing::info!(from = %send_back_addr, "incoming connection refused: {error}");
            }
            _ => {}
        }
    }

    /// A gossip message from `propagation_source`: the engine takes it, and the verdict says
    /// whether gossipsub passes it on.
    fn on_gossip(
        &mut self,
        propagation_source: PeerId,
        message: gossipsub::Message,
    ) -> gossipsub::MessageAcceptance {
        if !self.work.admit(&propagation_source, Instant::now()) {
            tracing::debug!(peer = %propagation_source, "peer over its work budget; gossip message not processed");
            return gossipsub::MessageAcceptance::Ignore;
        }
        // Prefer pulling from the author of the announce if we are connected to it.
        let from = match message.source {
            Some(source) if self.connected.contains(&source) => source,
            _ => propagation_source,
        };
        // Strict validation means gossipsub checked that `source` wrote the message; the peer
        // that forwarded it only relayed it. Bad content is the author's doing, so a relay or
        // hub is never banned for what passes through it.
        let author = message.source.unwrap_or(propagation_source);
        if message.topic.as_str() == STATEMENTS_TOPIC {
            match self
                .engine
                .handle_statement(author, &message.data, now_secs())
            {
                StatementVerdict::Accept => gossipsub::MessageAcceptance::Accept,
                StatementVerdict::Ignore => gossipsub::MessageAcceptance::Ignore,
                StatementVerdict::Reject => gossipsub::MessageAcceptance::Reject,
            }
        } else if let Err(e) = allmenning_protocol::wire::Announce::decode(&message.data) {
            let reason = format!("malformed announce: {e}");
            tracing::warn!(peer = %author, "refused gossip: {reason}");
            self.penalise(&author.to_string(), &reason);
            gossipsub::MessageAcceptance::Reject
        } else {
            self.engine.handle_announce(from, &message.data);
            gossipsub::MessageAcceptance::Accept
        }
    }

    fn on_sync_event(&mut self, event: request_response::Event<Frame, Frame>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    let now = Instant::now();
                    let response = if self.work.admit(&peer, now) {
                        let response = self.engine.handle_request(peer, request.bytes());
                        // The request's share of the inbound budget is free again.
                        drop(request);
                        self.work.charge(&peer, response.len(), now);
                        response
                    } else {
                        let wait = self.work.retry_after(&peer, now);
                        tracing::debug!(%peer, ?wait, "peer over its work budget; answered busy");
                        allmenning_protocol::wire::Response::Busy {
                            retry_after_ms: u32::try_from(wait.as_millis()).unwrap_or(u32::MAX),
                        }
                        .encode()
                    };
                    if self
                        .swarm
                        .behaviour_mut()
                        .sync
                        .send_response(channel, Frame::outbound(response))
                        .is_err()
                    {
                        tracing::debug!(%peer, "peer went away before our response");
                    }
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some((peer, request)) = self.outstanding.remove(&request_id) {
                        // Checked on a worker; the engine takes it in when that is done.
                        self.checker.submit(peer, request, response);
                        self.request_finished(peer);
                    }
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                tracing::debug!(%peer, "request failed: {error}");
                if let Some((peer, request)) = self.outstanding.remove(&request_id) {
                    self.engine.handle_request_failed(peer, &request);
                    self.request_finished(peer);
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, "inbound request failed: {error}");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    /// A peer's reply was checked off the loop: the engine takes it in, or, when checking gave
    /// up, counts the request as failed and the peer as having sent bad data.
    fn on_checked(&mut self, done: checking::Checked) {
        let checking::Checked {
            peer,
            request,
            outcome,
            took,
        } = done;
        if took > Duration::from_secs(1) {
            tracing::info!(%peer, ?took, "checking a reply took long");
        }
        match outcome {
            Ok(prepared) => self
                .engine
                .handle_prepared_response(peer, &request, prepared),
            Err(reason) => {
                tracing::warn!(%peer, "reply refused: {reason}");
                self.engine.handle_request_failed(peer, &request);
                self.penalise(&peer.to_string(), &reason);
            }
        }
    }

    /// Handles one control request. Returns true when the node should stop.
    fn on_call(&mut self, call: ControlCall) -> bool {
        let ControlCall {
            request,
            progress: _,
            reply,
        } = call;
        if let ControlRequest::Connect { addr } = &request {
            match addr.parse::<Multiaddr>() {
                Ok(ma) => match bare_peer_id(&ma) {
                    Some(peer) => self.connect_peer(peer, addr.clone(), reply),
                    None => self.dial(ma, Some((addr.clone(), reply))),
                },
                Err(e) => {
                    let _ = reply.send(Err(format!("invalid multiaddr {addr:?}: {e}")));
                }
            }
            return false;
        }
        let stop = matches!(request, ControlRequest::Stop);
        let may_add_partners = matches!(
            request,
            ControlRequest::Publish { .. }
                | ControlRequest::AccessGrant { .. }
                | ControlRequest::AccessRevoke { .. }
        );
        let started = Instant::now();
        let what = request_name(&request);
        let result = self.answer(request).map_err(|e| e.to_string());
        tracing::debug!(
            request = what,
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "control request handled"
        );
        let _ = reply.send(result);
        if may_add_partners {
            self.seek_partners();
        }
        stop
    }

    fn answer(&mut self, request: ControlRequest) -> Result<ControlReply, AnswerError> {
        Ok(match request {
            ControlRequest::Status => ControlReply::Status(self.status()?),
            ControlRequest::Peers => ControlReply::Peers {
                peers: self.peers()?,
            },
            ControlRequest::Catalog {
                kind,
                org,
                status,
                tag,
            } => ControlReply::Catalog {
                entries: self.answer_catalog(kind, org, status, tag)?,
            },
            ControlRequest::Search { query, limit } => ControlReply::Search {
                hits: self.answer_search(&query, limit)?,
            },
            ControlRequest::Activity => ControlReply::Activity {
                orgs: self.answer_orgs()?,
            },
            ControlRequest::InitiativeNew {
                title,
                description,
                artefacts,
            } => ControlReply::Initiative(self.answer_initiative_new(
                &title,
                &description,
                &artefacts,
            )?),
            ControlRequest::InitiativeList => ControlReply::Initiatives {
                initiatives: self.answer_initiatives()?,
            },
            ControlRequest::InitiativeShow { id } => {
                ControlReply::Initiative(self.answer_initiative_show(&id)?)
            }
            ControlRequest::InitiativeJoin { id } => {
                ControlReply::Initiative(self.answer_initiative_join(&id)?)
            }
            ControlRequest::InitiativeUpdate {
                id,
                status,
                artefacts,
            } => ControlReply::Initiative(self.answer_initiative_update(
                &id,
                status.as_deref(),
                &artefacts,
            )?),
            ControlRequest::Connect { .. } => {
                return Err(AnswerError::Invalid(
                    "connect is answered when its dial completes".into(),
                ))
            }
            ControlRequest::Stop => ControlReply::Stopping,
            ControlRequest::Publish {
                title,
                kind,
                description,
                tags,
                files,
                share_with,
            } => {
                let readers = if share_with.is_empty() {
                    None
                } else {
                    Some(
                        share_with
                            .iter()
                            .map(|o| {
                                o.parse::<allmenning_protocol::OrgNumber>()
                                    .map_err(|e| AnswerError::Invalid(e.to_string()))
                            })
                            .collect::<Result<Vec<_>, _>>()?,
                    )
                };
                let kind: Kind =
                    kind.parse()
                        .map_err(|e: allmenning_protocol::artefact::ParseKindError| {
                            AnswerError::Invalid(e.to_string())
                        })?;
                if title.trim().is_empty() {
                    return Err(AnswerError::Invalid("a title is required".into()));
                }
                let meta = Metadata {
                    title,
                    kind: kind.as_str().to_string(),
                    description,
                    tags,
                    owner: self.config.org.number.to_string(),
                    owner_name: self.config.org.name.clone(),
                    created: now_secs(),
                };
                let bytes: u64 = files.iter().map(|f| f.content.0.len() as u64).sum();
                let count = files.len();
                let files: Vec<FileData> = files
                    .into_iter()
                    .map(|f| FileData {
                        path: f.path,
                        content: f.content.0,
                        executable: f.executable,
                    })
                    .collect();
                let id = self
                    .engine
                    .publish(&meta, &files, readers, now_secs(), nonce())?;
                let heads = self.engine.artefact(&id)?.heads();
                tracing::info!(artefact = %id, files = count, bytes, "published");
                ControlReply::Published(Published {
                    id: id.to_hex(),
                    heads: hex_heads(&heads),
                    files: count,
                    bytes,
                })
            }
            ControlRequest::List => {
                let mut rows: Vec<ArtefactRow> = Vec::new();
                for s in self.engine.list()? {
                    rows.push(ArtefactRow {
                        refused: self.refused_count(&s.id)?,
                        id: s.id.to_hex(),
                        title: s.title,
                        kind: s.kind,
                        owner: s.owner,
                        owner_name: s.owner_name,
                        heads: s.heads.iter().map(|h| hex::encode(h.0)).collect(),
                        files: s.files,
                        size: s.size,
                        updated: s.updated,
                        complete: s.complete,
                        present: s.present,
                        conflicts: s.conflicts,
                    });
                }
                rows.sort_by(|a, b| b.updated.cmp(&a.updated).then(a.title.cmp(&b.title)));
                ControlReply::List { artefacts: rows }
            }
            ControlRequest::Show { id, heads } => {
                ControlReply::Show(self.show(&id, heads.as_deref())?)
            }
            ControlRequest::Log { id, path } => ControlReply::Log {
                entries: self.answer_log(&id, path.as_deref())?,
            },
            ControlRequest::Version { id, version } => {
                ControlReply::Version(self.answer_version(&id, &version)?)
            }
            ControlRequest::Files {
                id,
                heads,
                endorsed,
            } => {
                let id = self.engine.resolve(&id)?;
                let heads = if endorsed {
                    Some(self.engine.endorsed_heads(&id)?)
                } else {
                    heads.map(|h| parse_heads(&h)).transpose()?
                };
                let presented = self.engine.presented(&id, heads.as_deref())?;
                ControlReply::Files(FilesAt {
                    id: id.to_hex(),
                    heads: hex_heads(&presented.heads),
                    conflicts: presented.conflicts.iter().map(ConflictInfo::from).collect(),
                    files: presented
                        .files
                        .into_iter()
                        .map(|f| FilePayload {
                            path: f.path,
                            content: control::Bytes(f.content),
                            executable: f.executable,
                        })
                        .collect(),
                })
            }
            ControlRequest::Adopt {
                id,
                title,
                heads,
                endorsed,
            } => ControlReply::Adopted(self.answer_adopt(&id, title, heads, endorsed)?),
            ControlRequest::PullUpstream { id } => {
                ControlReply::UpstreamPulled(self.answer_pull_upstream(&id)?)
            }
            ControlRequest::ProposeUpstream { id, message } => {
                ControlReply::ProposedUpstream(self.answer_propose_upstream(&id, &message)?)
            }
            ControlRequest::Proposals { id } => ControlReply::Proposals {
                proposals: self.answer_proposals(&id)?,
            },
            ControlRequest::ProposalReview { proposal } => {
                ControlReply::ProposalReview(self.answer_proposal_review(&proposal)?)
            }
            ControlRequest::ProposalDecide { proposal, accept } => {
                ControlReply::ProposalReview(self.answer_proposal_decide(&proposal, accept)?)
            }
            ControlRequest::Commit {
                id,
                base_heads,
                edits,
                message,
                propose,
            } => {
                let id = self.engine.resolve(&id)?;
                let base = parse_heads(&base_heads)?;
                let edits: Vec<FileEdit> = edits
                    .into_iter()
                    .map(|e| match e {
                        EditPayload::Write {
                            path,
                            content,
                            executable,
                        } => FileEdit::Write {
                            path,
                            content: content.0,
                            executable,
                        },
                        EditPayload::Delete { path } => FileEdit::Delete { path },
                        EditPayload::Rename { from, to } => FileEdit::Rename { from, to },
                    })
                    .collect();
                let committed = if propose {
                    Err(None)
                } else {
                    match self
                        .engine
                        .commit(&id, &base, &edits, &message, now_secs(), nonce())
                    {
                        Ok(change) => Ok(change),
                        // Not lost: offered to the maintainers instead.
                        Err(EngineError::NotPermitted(reason)) if self.speaks_for_an_org() => {
                            Err(Some(reason))
                        }
                        Err(e) => return Err(e.into()),
                    }
                };
                let (change, proposal, not_permitted) = match committed {
                    Ok(change) => (change, None, None),
                    Err(reason) => {
                        let proposal = self.engine.propose(
                            &id,
                            &base,
                            &edits,
                            &message,
                            now_secs(),
                            nonce(),
                        )?;
                        tracing::info!(artefact = %id, %proposal, "proposed changes to the maintainers");
                        (None, Some(proposal.to_hex()), reason)
                    }
                };
                let heads = self.engine.artefact(&id)?.heads();
                if let Some(change) = change {
                    tracing::info!(artefact = %id, %change, "committed");
                }
                ControlReply::Committed(Committed {
                    id: id.to_hex(),
                    heads: hex_heads(&heads),
                    change: change.map(|c| c.to_string()),
                    proposal,
                    not_permitted,
                })
            }
            ControlRequest::NetworkCreate { .. }
            | ControlRequest::NetworkJoin { .. }
            | ControlRequest::NetworkShow
            | ControlRequest::CurateAdmit { .. }
            | ControlRequest::CurateDelegate { .. }
            | ControlRequest::CurateRevoke { .. }
            | ControlRequest::CurateEndorse { .. }
            | ControlRequest::OrgShow { .. }
            | ControlRequest::OrgAddNode { .. }
            | ControlRequest::OrgRevokeNode { .. }
            | ControlRequest::AccessGrant { .. }
            | ControlRequest::AccessRevoke { .. }
            | ControlRequest::AccessList { .. } => self.answer_trust(request)?,
            ControlRequest::DebugStatements => {
                if !self.test_hooks {
                    return Err(AnswerError::Invalid(
                        "test hooks are disabled on this node".into(),
                    ));
                }
                let statements = self
                    .engine
                    .trust()
                    .map(|t| t.statements().map(|s| hex::encode(s.encode())).collect())
                    .unwrap_or_default();
                ControlReply::RawStatements { statements }
            }
            ControlRequest::DebugInjectStatement { statement } => {
                if !self.test_hooks {
                    return Err(AnswerError::Invalid(
                        "test hooks are disabled on this node".into(),
                    ));
                }
                let bytes = hex::decode(statement.trim())
                    .map_err(|_| AnswerError::Invalid("not hex".into()))?;
                self.engine.offer_statement(&bytes, now_secs())?;
                ControlReply::Done
            }
            ControlRequest::DebugCorruptChange { id, hash } => {
                if !self.test_hooks {
                    return Err(AnswerError::Invalid(
                        "test hooks are disabled on this node".into(),
                    ));
                }
                let id = self.engine.resolve(&id)?;
                let hash = parse_heads(&[hash])?.remove(0);
                self.engine.corrupt_proof_for_testing(&id, &hash)?;
                ControlReply::Done
            }
        })
    }

    /// Whether this node's key is certified for an admitted organisation (so that what it
    /// signs, a proposal say, counts for that organisation).
    fn speaks_for_an_org(&self) -> bool {
        let me = self.engine.public_key();
        self.engine
            .trust()
            .is_some_and(|t| t.org_of_node(&me).is_some())
    }

    fn status(&mut self) -> Result<NodeStatus, AnswerError> {
        let me = *self.swarm.local_peer_id();
        let (reachability, public_addrs) = self.reachability();
        let listen_addrs = self
            .swarm
            .listeners()
            .map(|a| format!("{a}/p2p/{me}"))
            .collect();
        Ok(NodeStatus {
            peer_id: me.to_string(),
            listen_addrs,
            peers: self.connected.len(),
            artefacts: self.engine.list()?.len(),
            org: OrgInfo {
                name: self.config.org.name.clone(),
                number: self.config.org.number.to_string(),
                kind: self.config.org.kind.to_string(),
            },
            home: self.home.dir.display().to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_secs: self.started.elapsed().as_secs(),
            node_key: self.engine.public_key().to_hex(),
            network: self.engine.trust().map(|t| t.network().name.clone()),
            admitted: self.engine.trust().is_some() && self.engine.admitted(),
            has_org_key: self.engine.has_org_key(),
            reachability: reachability.to_string(),
            public_addrs,
            relay: self.relay_status(),
            busy_answers: self.work.turned_away(),
            requests_waiting: self.requests.waiting(),
        })
    }

    fn peers(&mut self) -> Result<Vec<PeerInfo>, AnswerError> {
        let mut out: Vec<PeerInfo> = Vec::new();
        for (peer, addrs) in self.engine.store().known_peers()? {
            let parsed = peer.parse::<PeerId>().ok();
            let connected = parsed.is_some_and(|p| self.connected.contains(&p));
            let relayed = parsed.is_some_and(|p| self.nat.only_relayed(&p));
            out.push(PeerInfo {
                peer_id: peer,
                addrs,
                connected,
                relayed,
            });
        }
        for peer in &self.connected {
            let id = peer.to_string();
            if !out.iter().any(|p| p.peer_id == id) {
                out.push(PeerInfo {
                    peer_id: id,
                    addrs: Vec::new(),
                    connected: true,
                    relayed: self.nat.only_relayed(peer),
                });
            }
        }
        out.sort_by(|a, b| {
            b.connected
                .cmp(&a.connected)
                .then(a.peer_id.cmp(&b.peer_id))
        });
        Ok(out)
    }

    /// `Show`: the artefact now, with its files at `heads` when given.
    fn show(&mut self, id: &str, heads: Option<&[String]>) -> Result<ArtefactDetail, AnswerError> {
        let id: ArtefactId = self.engine.resolve(id)?;
        let complete = self
            .engine
            .list()?
            .into_iter()
            .find(|r| r.id == id)
            .is_none_or(|r| r.complete);
        let access = trust_api::access_info(&id, &self.engine.access(&id)?);
        let endorsements = self
            .engine
            .endorsements(&id)?
            .iter()
            .map(trust_api::endorsement_info)
            .collect();
        let adaptation = self.adaptation_info(&id)?;
        let adopters = self.adopter_infos(&id);
        let meta = self.engine.metadata(&id)?;
        let (at, mut files) = self.files_at(&id, heads)?;
        let conflicts: Vec<ConflictInfo> = self
            .engine
            .conflicts(&id, at.as_deref())?
            .iter()
            .map(ConflictInfo::from)
            .collect();
        for file in &mut files {
            file.conflict = conflicts
                .iter()
                .find(|c| c.path == file.path)
                .map(|c| c.kind.clone());
        }
        let artefact = self.engine.artefact(&id)?;
        Ok(ArtefactDetail {
            id: id.to_hex(),
            title: meta.title,
            kind: meta.kind,
            description: meta.description,
            tags: meta.tags,
            owner: meta.owner,
            owner_name: meta.owner_name,
            created: meta.created,
            heads: hex_heads(&artefact.heads()),
            changes: artefact.history().len(),
            files,
            complete,
            maintainers: access.maintainers,
            visibility: access.visibility,
            readers: access.readers,
            endorsements,
            adaptation,
            adopters,
            conflicts,
            at: at.as_deref().map(hex_heads),
            refused: self.refused_infos(&id)?,
            access_revoked: self.engine.read_access_revoked(&id),
        })
    }
}

/// The node key behind a peer id: libp2p embeds small (ed25519) public keys in the peer id, and
/// Noise has authenticated that the peer holds the matching secret.
fn node_key_of(peer: &PeerId) -> Option<allmenning_protocol::PublicKey> {
    let multihash = peer.as_ref();
    if multihash.code() != 0 {
        return None;
    }
    let key = libp2p::identity::PublicKey::try_decode_protobuf(multihash.digest()).ok()?;
    let ed = key.try_into_ed25519().ok()?;
    Some(allmenning_protocol::PublicKey(ed.to_bytes()))
}

fn request_name(request: &ControlRequest) -> &'static str {
    match request {
        ControlRequest::Status => "status",
        ControlRequest::Peers => "peers",
        ControlRequest::Connect { .. } => "connect",
        ControlRequest::Stop => "stop",
        ControlRequest::Publish { .. } => "publish",
        ControlRequest::Catalog { .. } => "catalog",
        ControlRequest::Search { .. } => "search",
        ControlRequest::Activity => "activity",
        ControlRequest::InitiativeNew { .. } => "initiative new",
        ControlRequest::InitiativeList => "initiative list",
        ControlRequest::InitiativeShow { .. } => "initiative show",
        ControlRequest::InitiativeJoin { .. } => "initiative join",
        ControlRequest::InitiativeUpdate { .. } => "initiative update",
        ControlRequest::List => "list",
        ControlRequest::Show { .. } => "show",
        ControlRequest::Log { .. } => "log",
        ControlRequest::Version { .. } => "version",
        ControlRequest::Files { .. } => "files",
        ControlRequest::Commit { .. } => "commit",
        ControlRequest::Adopt { .. } => "adopt",
        ControlRequest::PullUpstream { .. } => "pull-upstream",
        ControlRequest::ProposeUpstream { .. } => "propose upstream",
        ControlRequest::Proposals { .. } => "proposals",
        ControlRequest::ProposalReview { .. } => "review",
        ControlRequest::ProposalDecide { .. } => "decide proposal",
        ControlRequest::DebugCorruptChange { .. } => "debug-corrupt-change",
        ControlRequest::DebugStatements => "debug-statements",
        ControlRequest::DebugInjectStatement { .. } => "debug-inject-statement",
        _ => "trust",
    }
}

fn hex_heads(heads: &[ChangeHash]) -> Vec<String> {
    heads.iter().map(|h| h.to_string()).collect()
}

fn parse_heads(heads: &[String]) -> Result<Vec<ChangeHash>, AnswerError> {
    heads
        .iter()
        .map(|h| {
            h.parse::<ChangeHash>()
                .map_err(|_| AnswerError::Invalid(format!("not a change hash: {h:?}")))
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
enum AnswerError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Home(#[from] HomeError),
}

fn log_event(event: &Event) {
    match event {
        Event::Updated { id, heads, from } => {
            tracing::info!(artefact = %id, heads = heads.len(), from = from.as_deref().unwrap_or("local"), "artefact updated")
        }
        Event::Complete { id } => tracing::info!(artefact = %id, "all file contents present"),
        Event::BlobProgress { id, have, want } => {
            tracing::info!(artefact = %id, "fetching file contents: {have}/{want} bytes")
        }
        Event::Rejected { peer, id, reason } => {
            tracing::warn!(%peer, artefact = ?id.map(|i| i.to_hex()), "refused data from peer: {reason}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use allmenning_protocol::NodeKey;

    #[test]
    fn the_node_key_is_recovered_from_the_peer_id() {
        let secret = [7u8; 32];
        let keypair = net::keypair_from_secret(secret).unwrap();
        let peer = keypair.public().to_peer_id();
        assert_eq!(
            node_key_of(&peer),
            Some(NodeKey::from_secret(secret).public())
        );
        assert_eq!(node_key_of(&PeerId::random()), None);
    }
}
