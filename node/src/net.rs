//! The libp2p shell around the sans-IO protocol core.
//!
//! `allmenning_protocol` decides what to say; this module only knows how to reach other
//! municipalities' nodes: which transports (TCP and QUIC, both authenticated by the node key),
//! which sub-protocols (gossip for small announces, request-response for everything that moves
//! data, identify and ping to keep connections honest), and the byte limits that stop a peer from
//! exhausting our memory. It deliberately holds no state of its own: one event loop owns the
//! `Swarm` returned by [`build_swarm`], feeds what arrives into the engine and carries out what
//! the engine asks for, so there is exactly one place where network and state meet.
//!
//! Discovery: peers are found through configured bootstrap addresses, remembered peers (redialled
//! with per-peer exponential backoff, see [`backoff`]), a Kademlia DHT ([`KAD_PROTOCOL`]) that
//! finds a peer's addresses from its peer id, and mDNS on the local network. Connection limits
//! ([`Limits`]) bound how many connections, established and pending, a node holds.
//!
//! NAT traversal: most municipal servers sit behind NAT or a firewall that lets no connection in.
//! AutoNAT asks connected peers to dial us back and so tells a node whether it is reachable.
//! Nodes with public addresses (KS, IKS) can serve as circuit relays (relay v2, [`RelayConfig`]);
//! a node that finds itself unreachable reserves a slot on a relay, so that others reach it
//! through the relay, and DCUtR then tries to replace each relayed connection with a direct one
//! by hole punching.

pub(crate) mod backoff;
mod codec;
pub(crate) mod penalty;
pub(crate) mod work;

use std::convert::Infallible;
use std::time::Duration;

use allmenning_protocol::wire;
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{
    allow_block_list, autonat, connection_limits, dcutr, gossipsub, identify, kad, mdns, noise,
    ping, relay, request_response, tcp, yamux, Multiaddr, StreamProtocol, Swarm, SwarmBuilder,
    TransportError,
};

#[allow(unused_imports)] // part of the module's API: the event loop inspects refused frames
pub(crate) use codec::{Frame, FrameBudget, FrameError, FrameKind, SyncCodec};

/// The sync sub-protocol. The version is part of the name so that a future incompatible framing
/// can be negotiated side by side with this one instead of breaking old nodes.
pub(crate) const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/allmenning/sync/1");
/// The gossip topic for `wire::Announce`. Versioned for the same reason as [`SYNC_PROTOCOL`].
pub(crate) const ANNOUNCE_TOPIC: &str = "allmenning/announce/1";
/// The gossip topic for trust statements (`trust::SignedStatement`), public ones only.
pub(crate) const STATEMENTS_TOPIC: &str = "allmenning/statements/1";

/// The Kademlia DHT protocol. A private name keeps Allmenning's DHT apart from the public IPFS
/// one, so that our routing tables only ever hold Allmenning nodes.
pub(crate) const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/allmenning/kad/1.0.0");
/// How long one DHT lookup may take before it reports what it found so far.
const KAD_QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the DHT refreshes its routing table (a Kademlia bootstrap). Kademlia also
/// bootstraps on its own shortly after a new peer enters a small routing table.
pub(crate) const KAD_BOOTSTRAP_EVERY: Duration = Duration::from_secs(5 * 60);

/// How often a connection is pinged.
const PING_INTERVAL: Duration = Duration::from_secs(5);
/// A ping unanswered this long fails. libp2p reports the second failure in a row (the first is
/// forgiven), so a silent peer is dropped after about 20 s.
const PING_TIMEOUT: Duration = Duration::from_secs(5);
/// Identify protocol version: peers outside Allmenning show up as a different string, so the
/// event loop can ignore nodes that merely speak libp2p.
const IDENTIFY_PROTOCOL: &str = "/allmenning/id/1.0.0";
/// How long a request may take end to end. Generous because a response may be a 64 MiB snapshot
/// over a municipal uplink.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Concurrent sync streams per connection (inbound and outbound together). Bounds what one
/// connection can make us buffer: at most this many requests of `MAX_REQUEST_BYTES` each.
/// Our own requests take at most `node::requests::MAX_IN_FLIGHT_PER_PEER` of them, so a peer's
/// requests to us are not crowded out by ours.
pub(crate) const MAX_CONCURRENT_STREAMS: usize = 32;
/// Room for gossipsub's own envelope (source, sequence number, topic, signature, framing) on top
/// of the announce itself. `max_transmit_size` limits the whole RPC frame on receipt, so without
/// this slack an announce just under `MAX_ANNOUNCE_BYTES` would be published locally but silently
/// dropped by every receiver. The announce's own limit is enforced by `wire::Announce::decode`.
const GOSSIP_ENVELOPE_BYTES: usize = 1024;
/// A connection nothing keeps alive is closed after this. Gossip mesh peers stay connected (the
/// gossipsub handler keeps its connection alive while in the mesh); a peer we only synced with
/// is shed a minute after its last request instead of holding a socket forever.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);

/// Every sub-protocol a node speaks, combined so that one `Swarm` and one event loop drive them.
///
/// The derive generates `BehaviourEvent` with one variant per field (`Limits`, `Identify`,
/// `Ping`, `Gossipsub`, `Sync`, `Kad`, `Mdns`, `Autonat`, `RelayClient`, `Relay`, `Dcutr`),
/// which the event loop receives as
/// `SwarmEvent::Behaviour(..)`. `limits` and `blocked` come first so that a connection over the
/// limits or from a banned peer is refused before any other behaviour sets up state for it.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub limits: connection_limits::Behaviour,
    /// Peers banned for sending bad data (see [`penalty`]): their connections are refused, in
    /// both directions, and blocking a peer closes its open connections.
    pub blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    pub identify: identify::Behaviour,
    pub ping: ping::Behaviour,
    pub gossipsub: gossipsub::Behaviour,
    pub sync: request_response::Behaviour<SyncCodec>,
    pub kad: kad::Behaviour<kad::store::MemoryStore>,
    /// Off when the configuration or `--no-mdns` says so, or when the node only listens on
    /// loopback (see [`reachable_beyond_loopback`]).
    pub mdns: Toggle<mdns::tokio::Behaviour>,
    /// Asks peers to dial us back, and dials back for them: whether this node is reachable.
    pub autonat: autonat::Behaviour,
    /// Listening through relays (reservations) and dialling `/p2p-circuit` addresses.
    pub relay_client: relay::client::Behaviour,
    /// Serving as a relay for others; on only when [`RelayConfig::serve`] says so.
    pub relay: Toggle<relay::Behaviour>,
    /// Upgrades relayed connections to direct ones by hole punching.
    pub dcutr: dcutr::Behaviour,
}

/// Serving as a circuit relay (libp2p relay v2). A relay only forwards encrypted streams: it
/// cannot read or alter what passes, and each circuit is bounded in time and bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RelayConfig {
    /// Whether this node relays for others.
    pub serve: bool,
    /// Nodes that may hold a reservation (be reachable through us) at the same time.
    pub max_reservations: usize,
    /// Relayed connections at the same time, and per peer.
    pub max_circuits: usize,
    pub max_circuits_per_peer: usize,
    /// How long one relayed connection may last and how many bytes it may carry (each way)
    /// before the relay closes it. The peers then redial, hopefully directly by then.
    pub max_circuit_duration: Duration,
    pub max_circuit_bytes: u64,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            serve: false,
            max_reservations: 128,
            max_circuits: 64,
            max_circuits_per_peer: 8,
            // libp2p's defaults (2 min, 128 KiB) suit a relay of last resort for small
            // messages; artefact sync needs room for a snapshot.
            max_circuit_duration: Duration::from_secs(30 * 60),
            max_circuit_bytes: 256 << 20,
        }
    }
}

impl RelayConfig {
    fn to_libp2p(self) -> relay::Config {
        relay::Config {
            max_reservations: self.max_reservations,
            max_circuits: self.max_circuits,
            max_circuits_per_peer: self.max_circuits_per_peer,
            max_circuit_duration: self.max_circuit_duration,
            max_circuit_bytes: self.max_circuit_bytes,
            ..relay::Config::default()
        }
    }
}

/// How AutoNAT probes. The defaults suit servers that run for months; tests shorten the waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AutonatTiming {
    /// Wait before the first probe.
    pub boot_delay: Duration,
    /// Wait before probing again while the answer is unknown or not yet confident.
    pub retry_interval: Duration,
    /// Wait before re-probing once confident.
    pub refresh_interval: Duration,
    /// Wait before asking the same peer again.
    pub throttle_server_period: Duration,
}

impl Default for AutonatTiming {
    fn default() -> Self {
        AutonatTiming {
            boot_delay: Duration::from_secs(10),
            retry_interval: Duration::from_secs(60),
            refresh_interval: Duration::from_secs(15 * 60),
            throttle_server_period: Duration::from_secs(60),
        }
    }
}

/// Connection limits (libp2p `connection_limits`). A connection over a limit is refused: an
/// incoming one is closed as it is established (or before, for the pending limits), an outgoing
/// dial fails with `DialError::Denied`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Established connections in total, incoming and outgoing together.
    pub max_established: u32,
    /// Established connections to one peer. Eight leaves room for what legitimately runs side
    /// by side: both ends of a simultaneous dial, a relayed connection while hole punching adds
    /// a direct one, AutoNAT's dial-backs and a relay client's own dial, while still stopping a
    /// single peer from taking a node's connection budget.
    pub max_established_per_peer: u32,
    /// Incoming connections still in their handshake.
    pub max_pending_incoming: u32,
    /// Outgoing dials still in progress.
    pub max_pending_outgoing: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_established: 256,
            max_established_per_peer: 8,
            max_pending_incoming: 64,
            max_pending_outgoing: 64,
        }
    }
}

pub(crate) struct NetConfig {
    /// Addresses to listen on; the caller decides the defaults (tests use loopback, port 0).
    pub listen: Vec<Multiaddr>,
    /// The node's identity; its peer id is what other nodes know us by.
    pub keypair: Keypair,
    /// Connection limits.
    pub limits: Limits,
    /// Whether to run mDNS discovery on the local network.
    pub mdns: bool,
    /// Whether to answer DHT queries (Kademlia server mode). A client still queries the DHT;
    /// it only does not serve it, and other nodes do not put it in their routing tables.
    pub kad_server: bool,
    /// Whether and how to relay for others.
    pub relay: RelayConfig,
    /// AutoNAT's probe timing.
    pub autonat: AutonatTiming,
}

/// True when some address in `listen` can be reached from another machine: anything but a
/// loopback IP (the unspecified `0.0.0.0`/`::` count, they include the network interfaces).
/// A node that listens on loopback only has nothing to announce by mDNS or to serve in the DHT.
pub(crate) fn reachable_beyond_loopback(listen: &[Multiaddr]) -> bool {
    listen.iter().any(|addr| match addr.iter().next() {
        Some(Protocol::Ip4(ip)) => !ip.is_loopback(),
        Some(Protocol::Ip6(ip)) => !ip.is_loopback(),
        Some(_) => true,
        None => false,
    })
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum NetError {
    #[error("the node secret is not a valid ed25519 key: {0}")]
    InvalidKey(#[source] libp2p::identity::DecodingError),
    #[error("could not set up the noise handshake for TCP: {0}")]
    Noise(#[source] noise::Error),
    #[error("invalid gossipsub configuration: {0}")]
    GossipConfig(String),
    #[error("could not start gossipsub: {0}")]
    Gossip(String),
    #[error("could not subscribe to the announce topic {ANNOUNCE_TOPIC}: {0}")]
    Subscribe(String),
    #[error("could not start mDNS: {0}")]
    Mdns(#[source] std::io::Error),
    #[error(
        "could not listen on {addr}: {source}; another program (perhaps another allmenning node) uses that port: stop it, or give this node another port with --listen or `listen` in config.toml"
    )]
    PortInUse {
        addr: Multiaddr,
        #[source]
        source: std::io::Error,
    },
    #[error("could not listen on {addr}: {source}")]
    Listen {
        addr: Multiaddr,
        #[source]
        source: TransportError<std::io::Error>,
    },
}

/// The gossip topic announces travel on, as the type `gossipsub::Behaviour::publish` takes.
pub(crate) fn announce_topic() -> gossipsub::IdentTopic {
    gossipsub::IdentTopic::new(ANNOUNCE_TOPIC)
}

/// The gossip topic trust statements travel on.
pub(crate) fn statements_topic() -> gossipsub::IdentTopic {
    gossipsub::IdentTopic::new(STATEMENTS_TOPIC)
}

/// Converts a node's 32-byte ed25519 secret into a libp2p keypair (same key, so the peer id
/// derives from the node key and a peer id can be checked against a node's published key).
pub(crate) fn keypair_from_secret(secret: [u8; 32]) -> Result<Keypair, NetError> {
    // `ed25519_from_bytes` zeroizes the buffer it is given; `secret` is our own copy.
    let mut secret = secret;
    Keypair::ed25519_from_bytes(&mut secret).map_err(NetError::InvalidKey)
}

fn gossipsub_config() -> Result<gossipsub::Config, NetError> {
    gossipsub::ConfigBuilder::default()
        // Networks are a handful of municipalities, not thousands of nodes: a mesh of 2 to 8
        // lets three nodes form a mesh while still bounding fan-out as the network grows.
        .mesh_n_low(2)
        .mesh_n(4)
        .mesh_n_high(8)
        .mesh_outbound_min(1)
        .gossip_lazy(4)
        .heartbeat_interval(Duration::from_secs(1))
        // The default 5 s would delay the first announce after start-up for no benefit.
        .heartbeat_initial_delay(Duration::from_millis(500))
        // Only accept messages signed by their origin, so an announce is attributable.
        .validation_mode(gossipsub::ValidationMode::Strict)
        // A message is passed on only after the engine took it (the event loop reports each
        // verdict): a statement nobody may store, or junk, goes no further than this node.
        .validate_messages()
        .max_transmit_size(
            wire::MAX_ANNOUNCE_BYTES.max(allmenning_protocol::trust::MAX_STATEMENT_BYTES)
                + GOSSIP_ENVELOPE_BYTES,
        )
        .build()
        .map_err(|e| NetError::GossipConfig(e.to_string()))
}

fn kad_config() -> kad::Config {
    let mut config = kad::Config::new(KAD_PROTOCOL);
    config
        .set_query_timeout(KAD_QUERY_TIMEOUT)
        .set_periodic_bootstrap_interval(Some(KAD_BOOTSTRAP_EVERY));
    config
}

fn connection_limits(limits: Limits) -> connection_limits::Behaviour {
    connection_limits::Behaviour::new(
        connection_limits::ConnectionLimits::default()
            .with_max_established(Some(limits.max_established))
            .with_max_established_per_peer(Some(limits.max_established_per_peer))
            .with_max_pending_incoming(Some(limits.max_pending_incoming))
            .with_max_pending_outgoing(Some(limits.max_pending_outgoing)),
    )
}

fn autonat_config(timing: AutonatTiming) -> autonat::Config {
    autonat::Config {
        boot_delay: timing.boot_delay,
        retry_interval: timing.retry_interval,
        refresh_interval: timing.refresh_interval,
        throttle_server_period: timing.throttle_server_period,
        // Municipal and sector networks use private address space for real: a peer that dials
        // us back at 10.x proves reachability for the peers on that network.
        only_global_ips: false,
        ..autonat::Config::default()
    }
}

/// Builds every part that can fail before the swarm builder runs; the relay client, which only
/// the builder can make (it is tied to the relay transport), goes in last.
fn new_behaviour(
    keypair: &Keypair,
    config: &NetConfig,
) -> Result<impl FnOnce(relay::client::Behaviour) -> Behaviour, NetError> {
    let (limits, mdns, kad_server) = (config.limits, config.mdns, config.kad_server);
    let peer_id = keypair.public().to_peer_id();
    let identify = identify::Behaviour::new(
        identify::Config::new(IDENTIFY_PROTOCOL.to_owned(), keypair.public())
            .with_agent_version(format!("allmenning/{}", env!("CARGO_PKG_VERSION")))
            // Tell peers at once about new addresses, such as a relay reservation, so that they
            // can hand them on (DHT, remembered peers).
            .with_push_listen_addr_updates(true),
    );
    let gossipsub = gossipsub::Behaviour::new(
        gossipsub::MessageAuthenticity::Signed(keypair.clone()),
        gossipsub_config()?,
    )
    .map_err(|e| NetError::Gossip(e.to_owned()))?;
    // One inbound budget for every connection of this swarm.
    let sync = request_response::Behaviour::with_codec(
        SyncCodec::new(FrameBudget::default()),
        [(SYNC_PROTOCOL, request_response::ProtocolSupport::Full)],
        request_response::Config::default()
            .with_request_timeout(REQUEST_TIMEOUT)
            .with_max_concurrent_streams(MAX_CONCURRENT_STREAMS),
    );
    let mut kad =
        kad::Behaviour::with_config(peer_id, kad::store::MemoryStore::new(peer_id), kad_config());
    // Without a fixed mode Kademlia waits for a confirmed external address before serving,
    // which nodes on a municipal network without AutoNAT never get.
    kad.set_mode(Some(if kad_server {
        kad::Mode::Server
    } else {
        kad::Mode::Client
    }));
    let mdns = if mdns {
        Some(
            mdns::tokio::Behaviour::new(mdns::Config::default(), peer_id)
                .map_err(NetError::Mdns)?,
        )
    } else {
        None
    };
    let relay = config.relay.serve.then(|| {
        let mut relay = relay::Behaviour::new(peer_id, config.relay.to_libp2p());
        // The operator said this node is reachable: relay at once instead of waiting for a
        // confirmed external address (it still needs one to hand out in reservations).
        relay.set_status(Some(relay::Status::Enable));
        relay
    });
    let autonat = autonat::Behaviour::new(peer_id, autonat_config(config.autonat));
    Ok(move |relay_client| Behaviour {
        limits: connection_limits(limits),
        blocked: allow_block_list::Behaviour::default(),
        identify,
        // Liveness: a peer that stops answering for PING_TIMEOUT is dropped by the event loop
        // (libp2p no longer closes the connection by itself), so redial takes over after a
        // partition instead of waiting minutes for TCP to give up.
        ping: ping::Behaviour::new(
            ping::Config::new()
                .with_interval(PING_INTERVAL)
                .with_timeout(PING_TIMEOUT),
        ),
        gossipsub,
        sync,
        kad,
        mdns: Toggle::from(mdns),
        autonat,
        relay_client,
        relay: Toggle::from(relay),
        dcutr: dcutr::Behaviour::new(peer_id),
    })
}

/// Builds the swarm, subscribes to [`ANNOUNCE_TOPIC`] and starts listening on every configured
/// address. Listening happens here rather than in the caller so that a port already in use is
/// reported at start-up, naming the address, instead of surfacing later as a swarm event.
///
/// Must be called from within a tokio runtime (the transports spawn onto it).
pub(crate) fn build_swarm(config: NetConfig) -> Result<Swarm<Behaviour>, NetError> {
    let behaviour = new_behaviour(&config.keypair, &config)?;
    let mut swarm = SwarmBuilder::with_existing_identity(config.keypair.clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(NetError::Noise)?
        .with_quic()
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(NetError::Noise)?
        .with_behaviour(|_, relay_client| behaviour(relay_client))
        .map_err(|never: Infallible| -> NetError { match never {} })?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
        .build();
    swarm
        .behaviour_mut()
        .gossipsub
        .subscribe(&announce_topic())
        .map_err(|e| NetError::Subscribe(e.to_string()))?;
    swarm
        .behaviour_mut()
        .gossipsub
        .subscribe(&statements_topic())
        .map_err(|e| NetError::Subscribe(e.to_string()))?;

    for addr in &config.listen {
        probe_exclusive(addr)?;
    }
    for addr in config.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|source| NetError::Listen { addr, source })?;
    }
    Ok(swarm)
}

/// Fails when a fixed TCP or UDP port in `addr` is taken, by binding it once, exclusively.
///
/// libp2p's TCP transport binds its listeners with `SO_REUSEPORT` (so that it can dial from the
/// port it listens on), and Linux lets any number of sockets of one user share such a port: a
/// second node on the same port would start, and the kernel would split incoming connections
/// between the two. A plain socket without `SO_REUSEPORT` cannot share a port with anyone, so
/// binding one first tells whether the port is free. (Port 0, a fresh port, needs no probe.)
/// Two nodes started in the same instant could still both pass; that is the only gap left.
pub(crate) fn probe_exclusive(addr: &Multiaddr) -> Result<(), NetError> {
    let mut parts = addr.iter();
    let ip: std::net::IpAddr = match parts.next() {
        Some(Protocol::Ip4(ip)) => ip.into(),
        Some(Protocol::Ip6(ip)) => ip.into(),
        _ => return Ok(()),
    };
    let in_use = |source| NetError::PortInUse {
        addr: addr.clone(),
        source,
    };
    match parts.next() {
        Some(Protocol::Tcp(port)) if port != 0 => {
            drop(std::net::TcpListener::bind((ip, port)).map_err(in_use)?);
        }
        Some(Protocol::Udp(port)) if port != 0 => {
            drop(std::net::UdpSocket::bind((ip, port)).map_err(in_use)?);
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use libp2p::swarm::{dial_opts::DialOpts, SwarmEvent};
    use libp2p::PeerId;
    use tokio::time::{timeout, Instant};

    /// Upper bound for any single scenario; generous for a loaded 2-core CI box.
    const DEADLINE: Duration = Duration::from_secs(30);

    fn swarm_on(addr: &str) -> Swarm<Behaviour> {
        swarm_with(addr, Limits::default())
    }

    fn swarm_with(addr: &str, limits: Limits) -> Swarm<Behaviour> {
        build_swarm(NetConfig {
            listen: vec![addr.parse().unwrap()],
            keypair: Keypair::generate_ed25519(),
            limits,
            mdns: false,
            // Loopback only, so serving the DHT has to be asked for explicitly.
            kad_server: true,
            relay: RelayConfig::default(),
            autonat: AutonatTiming::default(),
        })
        .unwrap()
    }

    /// Feeds identify's listen addresses of DHT servers into the routing table, as the node's
    /// event loop does.
    fn learn_from_identify(swarm: &mut Swarm<Behaviour>, ev: &SwarmEvent<BehaviourEvent>) {
        if let SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
            peer_id,
            info,
            ..
        })) = ev
        {
            if info.protocols.contains(&KAD_PROTOCOL) {
                for addr in &info.listen_addrs {
                    swarm.behaviour_mut().kad.add_address(peer_id, addr.clone());
                }
            }
        }
    }

    #[tokio::test]
    async fn a_peer_is_found_through_the_dht_and_connected() {
        // A - B - C: C is bootstrapped only to B and has never heard of A's address. It asks
        // the DHT for A's peer id, learns A's addresses from B and connects to A directly.
        let mut a = swarm_on("/ip4/127.0.0.1/tcp/0");
        let mut b = swarm_on("/ip4/127.0.0.1/tcp/0");
        let mut c = swarm_on("/ip4/127.0.0.1/tcp/0");
        let b_addr = listen_addr(&mut b).await;
        let a_addr = listen_addr(&mut a).await;
        let _ = listen_addr(&mut c).await;
        let (a_id, b_id) = (*a.local_peer_id(), *b.local_peer_id());
        a.dial(
            DialOpts::peer_id(b_id)
                .addresses(vec![b_addr.clone()])
                .build(),
        )
        .unwrap();
        c.dial(DialOpts::peer_id(b_id).addresses(vec![b_addr]).build())
            .unwrap();
        // C cannot dial A: no address of A is known anywhere in C's swarm.
        assert!(matches!(
            c.dial(DialOpts::peer_id(a_id).build()),
            Err(libp2p::swarm::DialError::NoAddresses)
        ));

        let mut query = None;
        let mut found: Vec<Multiaddr> = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        timeout(DEADLINE, async {
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        // Ask once B, as a DHT server, is in C's routing table and knows A.
                        let c_knows_b = c.behaviour_mut().kad.kbucket(b_id).is_some_and(|b| b.num_entries() > 0);
                        let b_knows_a = b.behaviour_mut().kad.kbucket(a_id).is_some_and(|b| b.num_entries() > 0);
                        if query.is_none() && c_knows_b && b_knows_a {
                            query = Some(c.behaviour_mut().kad.get_closest_peers(a_id));
                        }
                    }
                    ev = a.select_next_some() => learn_from_identify(&mut a, &ev),
                    ev = b.select_next_some() => learn_from_identify(&mut b, &ev),
                    ev = c.select_next_some() => {
                        learn_from_identify(&mut c, &ev);
                        match ev {
                            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
                                id, result: kad::QueryResult::GetClosestPeers(result), ..
                            })) if Some(id) == query => {
                                let peers = match result {
                                    Ok(ok) => ok.peers,
                                    Err(kad::GetClosestPeersError::Timeout { peers, .. }) => peers,
                                };
                                found = peers.into_iter().filter(|p| p.peer_id == a_id).flat_map(|p| p.addrs).collect();
                                assert!(!found.is_empty(), "the DHT knows A's addresses");
                                if !c.is_connected(&a_id) {
                                    c.dial(DialOpts::peer_id(a_id).addresses(found.clone()).build()).unwrap();
                                }
                            }
                            SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == a_id && !found.is_empty() => return,
                            _ => {}
                        }
                        if !found.is_empty() && c.is_connected(&a_id) {
                            return;
                        }
                    }
                }
            }
        })
        .await
        .expect("C connects to A through the DHT before the deadline");
        let a_full = a_addr.clone().with_p2p(a_id).unwrap();
        assert!(
            found.contains(&a_addr) || found.contains(&a_full),
            "found {found:?}, A listens on {a_addr}"
        );
        assert!(c.is_connected(&a_id));
    }

    #[tokio::test]
    async fn a_node_at_its_connection_limit_refuses_another_peer() {
        let mut a = swarm_with(
            "/ip4/127.0.0.1/tcp/0",
            Limits {
                max_established: 1,
                ..Limits::default()
            },
        );
        let mut b = swarm_on("/ip4/127.0.0.1/tcp/0");
        let mut c = swarm_on("/ip4/127.0.0.1/tcp/0");
        let a_addr = listen_addr(&mut a).await;
        let (a_id, b_id, c_id) = (*a.local_peer_id(), *b.local_peer_id(), *c.local_peer_id());
        b.dial(
            DialOpts::peer_id(a_id)
                .addresses(vec![a_addr.clone()])
                .build(),
        )
        .unwrap();
        let mut c_dialled = false;
        let mut refused = false;
        timeout(DEADLINE, async {
            loop {
                tokio::select! {
                    ev = a.select_next_some() => match ev {
                        SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                            assert_eq!(peer_id, b_id, "only B gets a connection");
                            if !c_dialled {
                                c_dialled = true;
                                c.dial(DialOpts::peer_id(a_id).addresses(vec![a_addr.clone()]).build()).unwrap();
                            }
                        }
                        SwarmEvent::IncomingConnectionError { error: libp2p::swarm::ListenError::Denied { cause }, .. } => {
                            assert!(cause.downcast::<connection_limits::Exceeded>().is_ok(), "refused for the limit");
                            refused = true;
                        }
                        _ => {}
                    },
                    _ = b.select_next_some() => {},
                    _ = c.select_next_some() => {},
                }
                if refused {
                    return;
                }
            }
        })
        .await
        .expect("A refuses C before the deadline");
        // Give C's side time to settle, then check A still holds exactly B.
        let settle = tokio::time::sleep(Duration::from_millis(300));
        tokio::pin!(settle);
        loop {
            tokio::select! {
                _ = &mut settle => break,
                _ = a.select_next_some() => {},
                _ = b.select_next_some() => {},
                _ = c.select_next_some() => {},
            }
        }
        assert!(a.is_connected(&b_id));
        assert!(!a.is_connected(&c_id));
        assert_eq!(a.network_info().num_peers(), 1);
    }

    /// Drives both swarms until `a` has a connection from `from` (panics with `what` if not).
    async fn accepts(a: &mut Swarm<Behaviour>, b: &mut Swarm<Behaviour>, from: PeerId, what: &str) {
        timeout(DEADLINE, async {
            loop {
                tokio::select! {
                    ev = a.select_next_some() => if let SwarmEvent::ConnectionEstablished { peer_id, .. } = ev {
                        assert_eq!(peer_id, from);
                        return;
                    },
                    _ = b.select_next_some() => {},
                }
            }
        })
        .await
        .expect(what);
    }

    #[tokio::test]
    async fn a_blocked_peer_is_disconnected_and_refused_until_unblocked() {
        // What the event loop does to a banned peer: block it (which closes its connections),
        // refuse its dials while blocked, and let it in again once unblocked.
        let mut a = swarm_on("/ip4/127.0.0.1/tcp/0");
        let mut b = swarm_on("/ip4/127.0.0.1/tcp/0");
        let a_addr = listen_addr(&mut a).await;
        let (a_id, b_id) = (*a.local_peer_id(), *b.local_peer_id());
        let dial_a = |b: &mut Swarm<Behaviour>| {
            b.dial(
                DialOpts::peer_id(a_id)
                    .condition(libp2p::swarm::dial_opts::PeerCondition::Always)
                    .addresses(vec![a_addr.clone()])
                    .build(),
            )
        };
        dial_a(&mut b).unwrap();
        // 1. Connected.
        accepts(&mut a, &mut b, b_id, "B connects to A").await;
        // 2. A blocks B: the connection goes away.
        a.behaviour_mut().blocked.block_peer(b_id);
        let _ = a.disconnect_peer_id(b_id);
        timeout(DEADLINE, async {
            loop {
                tokio::select! {
                    _ = a.select_next_some() => {},
                    _ = b.select_next_some() => {},
                }
                if !a.is_connected(&b_id) && !b.is_connected(&a_id) {
                    return;
                }
            }
        })
        .await
        .expect("blocking closes the connection on both sides");
        // 3. While blocked, A refuses B's dials and cannot dial B itself.
        assert!(matches!(
            a.dial(
                DialOpts::peer_id(b_id)
                    .addresses(vec![a_addr.clone()])
                    .build()
            ),
            Err(libp2p::swarm::DialError::Denied { .. })
        ));
        for _ in 0..3 {
            dial_a(&mut b).unwrap();
            timeout(DEADLINE, async {
                loop {
                    tokio::select! {
                        ev = a.select_next_some() => match ev {
                            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                                panic!("A accepted a connection from blocked {peer_id}")
                            }
                            SwarmEvent::IncomingConnectionError { error: libp2p::swarm::ListenError::Denied { cause }, .. } => {
                                assert!(cause.downcast::<allow_block_list::Blocked>().is_ok(), "refused because blocked");
                                return;
                            }
                            _ => {}
                        },
                        _ = b.select_next_some() => {},
                    }
                }
            })
            .await
            .expect("A refuses the blocked peer");
        }
        assert!(!a.is_connected(&b_id));
        // 4. Unblocked: B connects again.
        a.behaviour_mut().blocked.unblock_peer(b_id);
        let settle = tokio::time::sleep(Duration::from_millis(200));
        tokio::pin!(settle);
        loop {
            tokio::select! {
                _ = &mut settle => break,
                _ = a.select_next_some() => {},
                _ = b.select_next_some() => {},
            }
        }
        dial_a(&mut b).unwrap();
        accepts(&mut a, &mut b, b_id, "B connects again once unblocked").await;
    }

    #[tokio::test]
    async fn mdns_can_be_switched_on_and_off() {
        // Whether multicast actually works depends on the machine; this checks that the
        // behaviour builds and is present exactly when asked for.
        let build = |mdns| {
            build_swarm(NetConfig {
                listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
                keypair: Keypair::generate_ed25519(),
                limits: Limits::default(),
                mdns,
                kad_server: false,
                relay: RelayConfig::default(),
                autonat: AutonatTiming::default(),
            })
            .unwrap()
        };
        assert!(build(true).behaviour().mdns.is_enabled());
        assert!(!build(false).behaviour().mdns.is_enabled());
    }

    #[test]
    fn loopback_only_nodes_are_not_reachable_from_elsewhere() {
        let addrs =
            |list: &[&str]| -> Vec<Multiaddr> { list.iter().map(|a| a.parse().unwrap()).collect() };
        assert!(!reachable_beyond_loopback(&addrs(&[
            "/ip4/127.0.0.1/tcp/0",
            "/ip6/::1/udp/0/quic-v1"
        ])));
        assert!(!reachable_beyond_loopback(&[]));
        assert!(reachable_beyond_loopback(&addrs(&[
            "/ip4/127.0.0.1/tcp/0",
            "/ip4/0.0.0.0/tcp/4646"
        ])));
        assert!(reachable_beyond_loopback(&addrs(&[
            "/ip4/10.1.2.3/tcp/4646"
        ])));
        assert!(reachable_beyond_loopback(&addrs(&[
            "/dns4/node.ks.no/tcp/4646"
        ])));
    }

    /// Drives the swarm until it reports its first listen address.
    async fn listen_addr<B: NetworkBehaviour>(swarm: &mut Swarm<B>) -> Multiaddr
    where
        B::ToSwarm: std::fmt::Debug,
    {
        timeout(DEADLINE, async {
            loop {
                if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                    return address;
                }
            }
        })
        .await
        .expect("swarm starts listening")
    }

    /// A dials B, sends one request, B echoes it reversed; returns what A received.
    async fn request_roundtrip(listen: &str) {
        let mut a = swarm_on(listen);
        let mut b = swarm_on(listen);
        let b_addr = listen_addr(&mut b).await;
        let b_id = *b.local_peer_id();

        let request: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        let expected: Vec<u8> = request.iter().rev().copied().collect();
        let sent_id = a.behaviour_mut().sync.send_request_with_addresses(
            &b_id,
            Frame::outbound(request.clone()),
            vec![b_addr],
        );

        let got = timeout(DEADLINE, async {
            loop {
                tokio::select! {
                    ev = a.select_next_some() => match ev {
                        SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                            peer,
                            message: request_response::Message::Response { request_id, response },
                            ..
                        })) => {
                            assert_eq!(peer, b_id);
                            assert_eq!(request_id, sent_id);
                            return response.bytes().to_vec();
                        }
                        SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::OutboundFailure { error, .. })) => {
                            panic!("request failed: {error}");
                        }
                        _ => {}
                    },
                    ev = b.select_next_some() => {
                        if let SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                            message: request_response::Message::Request { request, channel, .. },
                            ..
                        })) = ev {
                            assert_eq!(request.bytes().len(), 100_000);
                            let answer: Vec<u8> = request.bytes().iter().rev().copied().collect();
                            b.behaviour_mut().sync.send_response(channel, Frame::outbound(answer)).unwrap();
                        }
                    }
                }
            }
        })
        .await
        .expect("response arrives before the deadline");
        assert_eq!(got, expected);
    }

    #[tokio::test]
    async fn request_response_over_tcp() {
        request_roundtrip("/ip4/127.0.0.1/tcp/0").await;
    }

    #[tokio::test]
    async fn request_response_over_quic() {
        request_roundtrip("/ip4/127.0.0.1/udp/0/quic-v1").await;
    }

    #[tokio::test]
    async fn announce_gossip_reaches_a_peer_two_hops_away() {
        // A line A - B - C: C only hears A's announce if B forwards it through the mesh.
        let mut a = swarm_on("/ip4/127.0.0.1/tcp/0");
        let mut b = swarm_on("/ip4/127.0.0.1/tcp/0");
        let mut c = swarm_on("/ip4/127.0.0.1/tcp/0");
        let b_addr = listen_addr(&mut b).await;
        let (a_id, b_id, c_id) = (*a.local_peer_id(), *b.local_peer_id(), *c.local_peer_id());
        a.dial(
            DialOpts::peer_id(b_id)
                .addresses(vec![b_addr.clone()])
                .build(),
        )
        .unwrap();
        c.dial(DialOpts::peer_id(b_id).addresses(vec![b_addr]).build())
            .unwrap();

        let topic = announce_topic().hash();
        let payload = b"announce: new heads".to_vec();
        let mut published = false;
        let mut got_b = false;
        let mut got_c = false;
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let start = Instant::now();

        let check = |source: Option<PeerId>, data: &[u8], t: &gossipsub::TopicHash| {
            assert_eq!(source, Some(a_id), "signed with the origin's identity");
            assert_eq!(t, &topic);
            assert_eq!(data, &payload[..]);
        };

        timeout(DEADLINE, async {
            while !(got_b && got_c) {
                tokio::select! {
                    _ = tick.tick() => {
                        if published {
                            continue;
                        }
                        // Publish once the mesh along the line has formed; until then publishing
                        // would fail (no subscribed peers) or stop at B.
                        let a_mesh: Vec<_> = a.behaviour().gossipsub.mesh_peers(&topic).copied().collect();
                        let b_mesh: Vec<_> = b.behaviour().gossipsub.mesh_peers(&topic).copied().collect();
                        if a_mesh.contains(&b_id) && b_mesh.contains(&a_id) && b_mesh.contains(&c_id) {
                            match a.behaviour_mut().gossipsub.publish(announce_topic(), payload.clone()) {
                                Ok(_) => published = true,
                                Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {}
                                Err(e) => panic!("publish failed: {e}"),
                            }
                        }
                    }
                    ev = a.select_next_some() => {
                        if let SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message { .. })) = ev {
                            panic!("the publisher does not receive its own announce");
                        }
                    }
                    ev = b.select_next_some() => {
                        if let SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message { message, propagation_source, message_id })) = ev {
                            assert_eq!(propagation_source, a_id);
                            check(message.source, &message.data, &message.topic);
                            got_b = true;
                            // B takes it, so gossipsub passes it on to C.
                            let _ = b.behaviour_mut().gossipsub.report_message_validation_result(
                                &message_id,
                                &propagation_source,
                                gossipsub::MessageAcceptance::Accept,
                            );
                        }
                    }
                    ev = c.select_next_some() => {
                        if let SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message { message, propagation_source, .. })) = ev {
                            assert_eq!(propagation_source, b_id, "C is only connected to B");
                            check(message.source, &message.data, &message.topic);
                            got_c = true;
                        }
                    }
                }
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "announce not delivered within {DEADLINE:?} (published: {published}, B: {got_b}, C: {got_c}, after {:?})",
                start.elapsed()
            )
        });
    }

    /// A client codec that lies about the request length, as a hostile peer would.
    #[derive(Clone, Default)]
    struct LyingCodec;

    impl request_response::Codec for LyingCodec {
        type Protocol = StreamProtocol;
        type Request = Vec<u8>;
        type Response = Vec<u8>;

        async fn read_request<T>(
            &mut self,
            _: &StreamProtocol,
            _: &mut T,
        ) -> std::io::Result<Vec<u8>>
        where
            T: futures::AsyncRead + Unpin + Send,
        {
            unreachable!("the lying client only sends")
        }

        async fn read_response<T>(
            &mut self,
            _: &StreamProtocol,
            io: &mut T,
        ) -> std::io::Result<Vec<u8>>
        where
            T: futures::AsyncRead + Unpin + Send,
        {
            use futures::AsyncReadExt;
            // The node closes the stream without answering; report that as the failure it is.
            let mut v = Vec::new();
            io.read_to_end(&mut v).await?;
            if v.is_empty() {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            Ok(v)
        }

        async fn write_request<T>(
            &mut self,
            _: &StreamProtocol,
            io: &mut T,
            req: Vec<u8>,
        ) -> std::io::Result<()>
        where
            T: futures::AsyncWrite + Unpin + Send,
        {
            use futures::AsyncWriteExt;
            io.write_all(&(wire::MAX_REQUEST_BYTES as u32 + 1).to_be_bytes())
                .await?;
            io.write_all(&req).await?;
            io.flush().await
        }

        async fn write_response<T>(
            &mut self,
            _: &StreamProtocol,
            _: &mut T,
            _: Vec<u8>,
        ) -> std::io::Result<()>
        where
            T: futures::AsyncWrite + Unpin + Send,
        {
            unreachable!("the lying client only sends")
        }
    }

    #[tokio::test]
    async fn oversized_request_from_a_raw_client_is_refused_and_the_node_keeps_serving() {
        let mut node = swarm_on("/ip4/127.0.0.1/tcp/0");
        let node_addr = listen_addr(&mut node).await;
        let node_id = *node.local_peer_id();

        let mut liar = SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_tcp(
                tcp::Config::default(),
                noise::Config::new,
                yamux::Config::default,
            )
            .unwrap()
            .with_behaviour(|_| {
                request_response::Behaviour::<LyingCodec>::new(
                    [(SYNC_PROTOCOL, request_response::ProtocolSupport::Outbound)],
                    request_response::Config::default(),
                )
            })
            .unwrap()
            .build();
        let mut honest = swarm_on("/ip4/127.0.0.1/tcp/0");

        liar.behaviour_mut().send_request_with_addresses(
            &node_id,
            b"tiny body".to_vec(),
            vec![node_addr.clone()],
        );

        // The liar's request must fail; the node must never hand it to the application.
        timeout(DEADLINE, async {
            loop {
                tokio::select! {
                    ev = liar.select_next_some() => match ev {
                        SwarmEvent::Behaviour(request_response::Event::OutboundFailure { error, .. }) => {
                            // The stream was negotiated, the node read the prefix and closed the
                            // stream without answering: not a dial or protocol failure.
                            assert!(
                                matches!(&error, request_response::OutboundFailure::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof),
                                "unexpected failure: {error:?}"
                            );
                            return;
                        }
                        SwarmEvent::Behaviour(request_response::Event::Message { .. }) => {
                            panic!("the node answered an oversized request")
                        }
                        _ => {}
                    },
                    ev = node.select_next_some() => {
                        if let SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message { .. })) = ev {
                            panic!("an oversized request reached the application");
                        }
                    }
                }
            }
        })
        .await
        .expect("the lying request fails before the deadline");

        // The node still serves honest peers.
        honest.behaviour_mut().sync.send_request_with_addresses(
            &node_id,
            Frame::outbound(b"ping".to_vec()),
            vec![node_addr],
        );
        let response = timeout(DEADLINE, async {
            loop {
                tokio::select! {
                    ev = honest.select_next_some() => match ev {
                        SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                            message: request_response::Message::Response { response, .. }, ..
                        })) => return response.bytes().to_vec(),
                        SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::OutboundFailure { error, .. })) => {
                            panic!("honest request failed: {error}")
                        }
                        _ => {}
                    },
                    ev = node.select_next_some() => {
                        if let SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                            message: request_response::Message::Request { request, channel, .. }, ..
                        })) = ev {
                            assert_eq!(request.bytes(), b"ping");
                            node.behaviour_mut().sync.send_response(channel, Frame::outbound(b"pong".to_vec())).unwrap();
                        }
                    }
                    _ = liar.select_next_some() => {}
                }
            }
        })
        .await
        .expect("honest request answered before the deadline");
        assert_eq!(response, b"pong");
    }

    #[test]
    fn keypair_from_secret_keeps_the_node_key() {
        let secret = [42u8; 32];
        let expected = ed25519_dalek::SigningKey::from_bytes(&secret)
            .verifying_key()
            .to_bytes();
        let keypair = keypair_from_secret(secret).unwrap();
        let public = keypair.public().try_into_ed25519().unwrap().to_bytes();
        assert_eq!(public, expected);
        // Deterministic: the same secret always yields the same peer id.
        assert_eq!(
            keypair.public().to_peer_id(),
            keypair_from_secret(secret).unwrap().public().to_peer_id()
        );
    }

    #[tokio::test]
    async fn a_taken_port_is_refused_even_by_a_port_sharing_listener() {
        // The first swarm listens on a fixed port (with SO_REUSEPORT, as libp2p does).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap();
        let mut first = swarm_on(&addr.to_string());
        let _ = listen_addr(&mut first).await;
        let config = || NetConfig {
            listen: vec![addr.clone()],
            keypair: Keypair::generate_ed25519(),
            limits: Limits::default(),
            mdns: false,
            kad_server: false,
            relay: RelayConfig::default(),
            autonat: AutonatTiming::default(),
        };
        let err = build_swarm(config())
            .err()
            .expect("a second swarm on the same port is refused");
        assert!(matches!(&err, NetError::PortInUse { .. }), "{err}");
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
        drop(first);
        // Port 0 and non-IP addresses are not probed.
        probe_exclusive(&"/ip4/127.0.0.1/tcp/0".parse().unwrap()).unwrap();
        probe_exclusive(&"/dns4/example.invalid/tcp/1".parse().unwrap()).unwrap();
    }

    #[tokio::test]
    async fn listen_failure_names_the_address() {
        let bad: Multiaddr = "/dns4/example.invalid/tcp/1".parse().unwrap();
        let err = build_swarm(NetConfig {
            listen: vec![bad.clone()],
            keypair: Keypair::generate_ed25519(),
            limits: Limits::default(),
            mdns: false,
            kad_server: false,
            relay: RelayConfig::default(),
            autonat: AutonatTiming::default(),
        })
        .err()
        .expect("an address no transport supports cannot be listened on");
        assert!(matches!(&err, NetError::Listen { addr, .. } if *addr == bad));
        assert!(
            err.to_string().contains("/dns4/example.invalid/tcp/1"),
            "{err}"
        );
    }
}
