//! An adversarial peer: a hostile Allmenning node, scripted by a test.
//!
//! Why: a node must survive whatever one peer sends it. Issue 10 found ways for a single peer
//! to freeze a node (a change whose op columns claim 2^40 operations), exhaust its memory (a
//! snapshot whose deflated column inflates to gigabytes) or write into it (an unsigned origin
//! change nobody asked for). Proving that a fix holds needs a peer that speaks the real
//! protocol over a real connection but says what no honest node would. The nodes under test
//! stay real `allmenning` processes; only this peer is fake.
//!
//! What it is: a libp2p swarm with exactly the node's wire surface (TCP, Noise, Yamux,
//! identify `/allmenning/id/1.0.0`, ping, gossipsub on `allmenning/announce/1` and
//! `allmenning/statements/1` with strict signing, and request-response `/allmenning/sync/1`
//! with u32 big-endian length-prefixed frames), running on its own thread. Its key is fresh
//! (an unadmitted stranger, [`Adversary::stranger`]) or a real node's (`node.key` and `org.key`
//! of a home, [`Adversary::impersonating`]): an admitted organisation gone bad.
//!
//! How a test uses it:
//!
//! ```no_run
//! use allmenning_protocol::wire::{InventoryEntry, Request, Response};
//! use allmenning_tests::adversary::{self, Adversary};
//! # let (victim_addr, id, bomb, bomb_hash): (String, allmenning_protocol::ArtefactId,
//! #     allmenning_protocol::wire::WireChange, allmenning_protocol::ChangeHash) = todo!();
//! let adv = Adversary::stranger();
//! adv.respond_with(move |_peer, request| match request {
//!     // "I have new heads of this artefact" ...
//!     Request::Inventory => Response::Inventory {
//!         entries: vec![InventoryEntry { id, heads: vec![bomb_hash.into()] }],
//!     }
//!     .encode(),
//!     // ... and when the victim pulls, it gets the crafted change.
//!     Request::Pull { .. } => Response::Changes {
//!         id,
//!         heads: vec![bomb_hash.into()],
//!         changes: vec![bomb.clone()],
//!         origin_blobs: vec![],
//!     }
//!     .encode(),
//!     other => adversary::default_answer(other),
//! });
//! adv.dial(&victim_addr).unwrap();
//! adv.wait_answered(std::time::Duration::from_secs(20), "the victim pulled", |r| {
//!     matches!(r, Request::Pull { .. })
//! });
//! ```
//!
//! Besides answering, it sends requests of its own ([`Adversary::request`]), publishes gossip
//! ([`Adversary::announce`], [`Adversary::publish_statement`]) and records every request the
//! victim sent it ([`Adversary::requests`]). The crafted payloads are in [`craft`].

pub mod craft;

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::Path;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use allmenning_protocol::trust::SignedStatement;
use allmenning_protocol::wire::{
    self, Announce, Head, InventoryEntry, Request, Response, WireBlob, WireChange,
};
use allmenning_protocol::{ArtefactId, ChangeHash, NodeKey};
use futures::prelude::*;
use libp2p::gossipsub::{self, IdentTopic};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identify, noise, ping, tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm};
use tokio::sync::mpsc;

/// The node's sync protocol, identify string and gossip topics (node/src/net.rs).
pub const SYNC_PROTOCOL: &str = "/allmenning/sync/1";
pub const IDENTIFY_PROTOCOL: &str = "/allmenning/id/1.0.0";
pub const ANNOUNCE_TOPIC: &str = "allmenning/announce/1";
pub const STATEMENTS_TOPIC: &str = "allmenning/statements/1";

/// How long a dial, a request or a publish may take before the call gives up.
const PATIENCE: Duration = Duration::from_secs(60);
/// Frames this peer reads. Generous: it must see what the victim sends, oversized or not.
const MAX_FRAME: usize = 256 << 20;

/// Answers one request from a peer with the raw bytes of a response frame (usually
/// `Response::encode()`, but anything goes).
pub type Responder = Box<dyn FnMut(&PeerId, &Request) -> Vec<u8> + Send>;

/// A request a peer sent the adversary.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub from: PeerId,
    pub at: Instant,
    /// The decoded request, or why it did not decode.
    pub request: Result<Request, String>,
    /// Whether our response has been flushed to the peer.
    pub answered: bool,
}

/// What an honest node with nothing to offer would answer: an empty inventory, no statements,
/// `NotFound` for pulls, every blob missing, `Ack` for offers and notifications.
pub fn default_answer(request: &Request) -> Vec<u8> {
    match request {
        Request::Inventory => Response::Inventory {
            entries: Vec::new(),
        },
        Request::Statements { .. } => Response::Statements {
            statements: Vec::new(),
        },
        Request::Pull { id, .. } => Response::NotFound { id: *id },
        Request::Blobs { hashes, .. } => Response::Blobs {
            blobs: Vec::new(),
            missing: hashes.clone(),
        },
        Request::Offer { .. } | Request::Notify(_) => Response::Ack,
    }
    .encode()
}

/// A script for [`Adversary::respond_with`]: lists artefact `id` at `heads` in its inventory
/// and answers every pull of it with `Changes` carrying `changes` and `origin_blobs`, whatever
/// the asker already has. Everything else gets [`default_answer`].
pub fn offering_changes(
    id: ArtefactId,
    heads: Vec<ChangeHash>,
    changes: Vec<WireChange>,
    origin_blobs: Vec<WireBlob>,
) -> impl FnMut(&PeerId, &Request) -> Vec<u8> + Send + 'static {
    let heads: Vec<Head> = heads.into_iter().map(Head::from).collect();
    move |_, request| match request {
        Request::Inventory => Response::Inventory {
            entries: vec![InventoryEntry {
                id,
                heads: heads.clone(),
            }],
        }
        .encode(),
        Request::Pull { id: asked, .. } if *asked == id => Response::Changes {
            id,
            heads: heads.clone(),
            changes: changes.clone(),
            origin_blobs: origin_blobs.clone(),
        }
        .encode(),
        other => default_answer(other),
    }
}

/// A script for [`Adversary::respond_with`]: lists artefact `id` at `heads` and answers every
/// pull of it with `Snapshot` carrying `document` (no proofs, no blobs).
pub fn offering_snapshot(
    id: ArtefactId,
    heads: Vec<ChangeHash>,
    document: Vec<u8>,
) -> impl FnMut(&PeerId, &Request) -> Vec<u8> + Send + 'static {
    let heads: Vec<Head> = heads.into_iter().map(Head::from).collect();
    move |_, request| match request {
        Request::Inventory => Response::Inventory {
            entries: vec![InventoryEntry {
                id,
                heads: heads.clone(),
            }],
        }
        .encode(),
        Request::Pull { id: asked, .. } if *asked == id => Response::Snapshot {
            id,
            document: document.clone(),
            proofs: Vec::new(),
            origin_blobs: Vec::new(),
        }
        .encode(),
        other => default_answer(other),
    }
}

/// Whether `request` is a pull of artefact `id`.
pub fn is_pull_of(request: &Request, id: ArtefactId) -> bool {
    matches!(request, Request::Pull { id: asked, .. } if *asked == id)
}

/// An artefact id as the CLI prints it (full hex).
pub fn artefact(id: &str) -> ArtefactId {
    id.parse()
        .unwrap_or_else(|e| panic!("not an artefact id: {id:?}: {e:?}"))
}

/// Change hashes as the CLI prints them (hex).
pub fn change_hashes(heads: &[String]) -> Vec<ChangeHash> {
    heads
        .iter()
        .map(|h| {
            ChangeHash(
                crate::from_hex(h)
                    .try_into()
                    .unwrap_or_else(|_| panic!("not a change hash: {h:?}")),
            )
        })
        .collect()
}

/// A random artefact id and head, for an artefact nobody has.
pub fn unknown_artefact() -> (ArtefactId, ChangeHash) {
    let bytes = crate::random_secret();
    let mut id = [0u8; 16];
    id.copy_from_slice(&bytes[..16]);
    (ArtefactId(id), ChangeHash(crate::random_secret()))
}

/// A hostile peer on its own thread. Dropping it closes its connections.
pub struct Adversary {
    node_key: NodeKey,
    org_key: Option<NodeKey>,
    peer_id: PeerId,
    listen: Vec<Multiaddr>,
    shared: Arc<Mutex<Shared>>,
    commands: Option<mpsc::UnboundedSender<Command>>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    responder: Responder,
    requests: Vec<Recorded>,
    connected: HashSet<PeerId>,
}

enum Command {
    Dial(Multiaddr, PeerId, std_mpsc::Sender<Result<(), String>>),
    Request(PeerId, Vec<u8>, std_mpsc::Sender<Result<Vec<u8>, String>>),
    Publish(IdentTopic, Vec<u8>, std_mpsc::Sender<Result<(), String>>),
}

impl Adversary {
    /// A stranger: a fresh key nobody has admitted or certified.
    pub fn stranger() -> Adversary {
        Adversary::with_keys(NodeKey::from_secret(crate::random_secret()), None)
    }

    /// Takes over the identity of the node whose home is `home` (its `node.key`, and its
    /// `org.key` if it has one): same peer id, same signing keys. Stop that node first.
    pub fn impersonating(home: &Path) -> Adversary {
        let read = |name: &str| -> Option<NodeKey> {
            let text = std::fs::read_to_string(home.join(name)).ok()?;
            let bytes = crate::from_hex(&text);
            let secret: [u8; 32] = bytes
                .try_into()
                .unwrap_or_else(|_| panic!("{name} in {} is not a key", home.display()));
            Some(NodeKey::from_secret(secret))
        };
        let node = read("node.key")
            .unwrap_or_else(|| panic!("no node.key in {} to impersonate", home.display()));
        Adversary::with_keys(node, read("org.key"))
    }

    /// Starts the peer with `node_key` (its libp2p identity and change-signing key), listening
    /// on a loopback TCP port.
    pub fn with_keys(node_key: NodeKey, org_key: Option<NodeKey>) -> Adversary {
        let mut secret = node_key.secret_bytes();
        let keypair = libp2p::identity::Keypair::ed25519_from_bytes(&mut secret)
            .expect("an ed25519 secret is a libp2p key");
        let peer_id = keypair.public().to_peer_id();
        let shared = Arc::new(Mutex::new(Shared {
            responder: Box::new(|_, r| default_answer(r)),
            requests: Vec::new(),
            connected: HashSet::new(),
        }));
        let (commands, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = std_mpsc::channel();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("adversary".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                runtime.block_on(run(keypair, thread_shared, rx, ready_tx));
            })
            .expect("spawn the adversary's thread");
        let listen = ready_rx
            .recv_timeout(PATIENCE)
            .expect("the adversary starts listening");
        Adversary {
            node_key,
            org_key,
            peer_id,
            listen,
            shared,
            commands: Some(commands),
            thread: Some(thread),
        }
    }

    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The key it signs changes (and node statements) with.
    pub fn node_key(&self) -> &NodeKey {
        &self.node_key
    }

    /// The organisation key of the impersonated home, if it had one.
    pub fn org_key(&self) -> Option<&NodeKey> {
        self.org_key.as_ref()
    }

    /// Its listen address, `/ip4/127.0.0.1/tcp/PORT/p2p/PEER`, for a victim to `connect` to.
    pub fn addr(&self) -> String {
        format!("{}/p2p/{}", self.listen[0], self.peer_id)
    }

    /// From now on, answers every request with `responder` (the request is recorded first).
    pub fn respond_with(
        &self,
        responder: impl FnMut(&PeerId, &Request) -> Vec<u8> + Send + 'static,
    ) {
        self.shared.lock().unwrap().responder = Box::new(responder);
    }

    /// Dials `addr` (a multiaddr ending in `/p2p/<peer id>`) and waits until connected.
    pub fn dial(&self, addr: &str) -> Result<(), String> {
        let addr: Multiaddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
        let peer = addr
            .iter()
            .find_map(|p| match p {
                libp2p::multiaddr::Protocol::P2p(peer) => Some(peer),
                _ => None,
            })
            .ok_or_else(|| format!("{addr} names no peer (/p2p/...)"))?;
        self.call(|reply| Command::Dial(addr, peer, reply))
    }

    /// Whether a connection to `peer` is open.
    pub fn is_connected(&self, peer: &str) -> bool {
        let peer = parse_peer(peer);
        self.shared.lock().unwrap().connected.contains(&peer)
    }

    /// Sends `request` to `peer` and returns the raw response frame.
    pub fn request(&self, peer: &str, request: &Request) -> Result<Vec<u8>, String> {
        self.request_raw(peer, request.encode())
    }

    /// Sends raw frame bytes as a request to `peer` and returns the raw response frame.
    pub fn request_raw(&self, peer: &str, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
        let peer = parse_peer(peer);
        self.call(|reply| Command::Request(peer, bytes, reply))
    }

    /// Like [`Adversary::request`], decoding the answer.
    pub fn ask(&self, peer: &str, request: &Request) -> Result<Response, String> {
        let bytes = self.request(peer, request)?;
        Response::decode(&bytes).map_err(|e| format!("undecodable response: {e}"))
    }

    /// Gossips an announce on `allmenning/announce/1` (waits until some peer subscribes).
    pub fn announce(&self, announce: &Announce) -> Result<(), String> {
        self.publish(ANNOUNCE_TOPIC, announce.encode())
    }

    /// Gossips a statement on `allmenning/statements/1` (waits until some peer subscribes).
    pub fn publish_statement(&self, statement: &SignedStatement) -> Result<(), String> {
        self.publish(STATEMENTS_TOPIC, statement.encode())
    }

    /// Publishes raw bytes on a gossip topic, signed by this peer's key, once some peer has
    /// subscribed to it.
    pub fn publish(&self, topic: &str, bytes: Vec<u8>) -> Result<(), String> {
        let topic = IdentTopic::new(topic);
        self.call(|reply| Command::Publish(topic, bytes, reply))
    }

    /// Every request peers sent so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().unwrap().requests.clone()
    }

    /// The decoded requests `peer` sent so far.
    pub fn requests_from(&self, peer: &str) -> Vec<Request> {
        let peer = parse_peer(peer);
        self.requests()
            .into_iter()
            .filter(|r| r.from == peer)
            .filter_map(|r| r.request.ok())
            .collect()
    }

    /// Waits (bounded) until a request matching `which` has been answered, and returns it.
    pub fn wait_answered(
        &self,
        timeout: Duration,
        what: &str,
        which: impl Fn(&Request) -> bool,
    ) -> Recorded {
        crate::wait_for(timeout, what, || {
            self.requests()
                .into_iter()
                .find(|r| r.answered && r.request.as_ref().is_ok_and(&which))
        })
    }

    /// How many pulls of artefact `id` this peer has answered.
    pub fn pulls_answered(&self, id: ArtefactId) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.answered && r.request.as_ref().is_ok_and(|q| is_pull_of(q, id)))
            .count()
    }

    /// Waits (bounded) until this peer has answered `count` pulls of `id`. `false` if it has
    /// not by `timeout`: the victim chose not to pull (a fixed node may well refuse to).
    pub fn wait_pulls(&self, id: ArtefactId, count: usize, timeout: Duration) -> bool {
        let start = Instant::now();
        while self.pulls_answered(id) < count {
            if start.elapsed() > timeout {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    }

    fn call<T>(
        &self,
        command: impl FnOnce(std_mpsc::Sender<Result<T, String>>) -> Command,
    ) -> Result<T, String> {
        let (tx, rx) = std_mpsc::channel();
        self.commands
            .as_ref()
            .expect("adversary running")
            .send(command(tx))
            .map_err(|_| "the adversary's thread has stopped".to_string())?;
        rx.recv_timeout(PATIENCE + Duration::from_secs(5))
            .map_err(|_| "the adversary got no answer in time".to_string())?
    }
}

impl Drop for Adversary {
    fn drop(&mut self) {
        // Closing the command channel ends the event loop.
        self.commands.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn parse_peer(peer: &str) -> PeerId {
    peer.parse()
        .unwrap_or_else(|e| panic!("not a peer id: {peer:?}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// The swarm
// ---------------------------------------------------------------------------------------------

#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    gossipsub: gossipsub::Behaviour,
    sync: request_response::Behaviour<FrameCodec>,
}

/// The node's sync framing: a u32 big-endian length, then that many bytes.
#[derive(Clone, Copy, Debug, Default)]
struct FrameCodec;

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<Vec<u8>> {
    let mut prefix = [0u8; 4];
    io.read_exact(&mut prefix).await?;
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut buf = Vec::new();
    (&mut *io).take(len as u64).read_to_end(&mut buf).await?;
    if buf.len() != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(buf)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame over 4 GiB"))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(bytes).await?;
    io.flush().await
}

impl request_response::Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &req).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res).await
    }
}

fn build_swarm(keypair: libp2p::identity::Keypair) -> Swarm<Behaviour> {
    // As the node configures gossipsub (node/src/net.rs): signed messages, strict validation,
    // default message ids. Only the size limit is larger, so that oversized messages can be
    // sent (the victim decides what it accepts).
    let gossip_config = gossipsub::ConfigBuilder::default()
        .mesh_n_low(2)
        .mesh_n(4)
        .mesh_n_high(8)
        .mesh_outbound_min(1)
        .gossip_lazy(4)
        .heartbeat_interval(Duration::from_secs(1))
        .heartbeat_initial_delay(Duration::from_millis(100))
        .validation_mode(gossipsub::ValidationMode::Strict)
        .max_transmit_size(1 << 20)
        .build()
        .expect("gossipsub config");
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("tcp transport")
        .with_behaviour(|key| Behaviour {
            identify: identify::Behaviour::new(identify::Config::new(
                IDENTIFY_PROTOCOL.to_owned(),
                key.public(),
            )),
            ping: ping::Behaviour::new(ping::Config::new()),
            gossipsub: gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Signed(key.clone()),
                gossip_config,
            )
            .expect("gossipsub"),
            sync: request_response::Behaviour::new(
                [(StreamProtocol::new(SYNC_PROTOCOL), ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(PATIENCE)
                    .with_max_concurrent_streams(256),
            ),
        })
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(600)))
        .build();
    for topic in [ANNOUNCE_TOPIC, STATEMENTS_TOPIC] {
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&IdentTopic::new(topic))
            .expect("subscribe");
    }
    swarm
        .listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .expect("listen on loopback");
    swarm
}

/// The adversary's event loop: runs until the command channel closes.
async fn run(
    keypair: libp2p::identity::Keypair,
    shared: Arc<Mutex<Shared>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    ready: std_mpsc::Sender<Vec<Multiaddr>>,
) {
    let mut swarm = build_swarm(keypair);
    let mut ready = Some(ready);
    let mut dials: HashMap<PeerId, Vec<std_mpsc::Sender<Result<(), String>>>> = HashMap::new();
    let mut outstanding: HashMap<OutboundRequestId, std_mpsc::Sender<Result<Vec<u8>, String>>> =
        HashMap::new();
    // Inbound request ids, to mark the recorded request answered once the response is out.
    let mut inbound: HashMap<request_response::InboundRequestId, usize> = HashMap::new();
    let mut publishes: Vec<Publish> = Vec::new();
    let mut retry = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None => return,
                Some(Command::Dial(addr, peer, reply)) => {
                    if shared.lock().unwrap().connected.contains(&peer) {
                        let _ = reply.send(Ok(()));
                    } else if let Err(e) = swarm.dial(addr.clone()) {
                        let _ = reply.send(Err(format!("cannot dial {addr}: {e}")));
                    } else {
                        dials.entry(peer).or_default().push(reply);
                    }
                }
                Some(Command::Request(peer, bytes, reply)) => {
                    let id = swarm.behaviour_mut().sync.send_request(&peer, bytes);
                    outstanding.insert(id, reply);
                }
                Some(Command::Publish(topic, bytes, reply)) => {
                    publishes.push((topic, bytes, Instant::now() + PATIENCE, reply));
                    try_publish(&mut swarm, &mut publishes);
                }
            },
            _ = retry.tick() => try_publish(&mut swarm, &mut publishes),
            event = swarm.select_next_some() => match event {
                SwarmEvent::NewListenAddr { address, .. } => {
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(vec![address]);
                    }
                }
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    shared.lock().unwrap().connected.insert(peer_id);
                    for reply in dials.remove(&peer_id).unwrap_or_default() {
                        let _ = reply.send(Ok(()));
                    }
                }
                SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                    shared.lock().unwrap().connected.remove(&peer_id);
                }
                SwarmEvent::OutgoingConnectionError { peer_id: Some(peer), error, .. } => {
                    for reply in dials.remove(&peer).unwrap_or_default() {
                        let _ = reply.send(Err(format!("cannot connect to {peer}: {error}")));
                    }
                }
                SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => match event {
                    request_response::Event::Message { peer, message, .. } => match message {
                        request_response::Message::Request { request_id, request, channel } => {
                            let decoded = Request::decode(&request).map_err(|e| {
                                format!("undecodable request of {} bytes: {e}", request.len())
                            });
                            let response = {
                                let mut shared = shared.lock().unwrap();
                                let response = match &decoded {
                                    Ok(r) => (shared.responder)(&peer, r),
                                    Err(e) => Response::Refused { reason: e.clone() }.encode(),
                                };
                                shared.requests.push(Recorded {
                                    from: peer,
                                    at: Instant::now(),
                                    request: decoded,
                                    answered: false,
                                });
                                inbound.insert(request_id, shared.requests.len() - 1);
                                response
                            };
                            let _ = swarm.behaviour_mut().sync.send_response(channel, response);
                        }
                        request_response::Message::Response { request_id, response } => {
                            if let Some(reply) = outstanding.remove(&request_id) {
                                let _ = reply.send(Ok(response));
                            }
                        }
                    },
                    request_response::Event::OutboundFailure { request_id, error, .. } => {
                        if let Some(reply) = outstanding.remove(&request_id) {
                            let _ = reply.send(Err(format!("request failed: {error}")));
                        }
                    }
                    request_response::Event::ResponseSent { request_id, .. } => {
                        if let Some(i) = inbound.remove(&request_id) {
                            shared.lock().unwrap().requests[i].answered = true;
                        }
                    }
                    request_response::Event::InboundFailure { request_id, .. } => {
                        inbound.remove(&request_id);
                    }
                },
                _ => {}
            },
        }
    }
}

/// A gossip message waiting for a subscriber: topic, bytes, deadline, where to answer.
type Publish = (
    IdentTopic,
    Vec<u8>,
    Instant,
    std_mpsc::Sender<Result<(), String>>,
);

/// Publishes what waits to be published; keeps what no peer has subscribed to yet until its
/// deadline.
fn try_publish(swarm: &mut Swarm<Behaviour>, publishes: &mut Vec<Publish>) {
    let now = Instant::now();
    publishes.retain(|(topic, bytes, deadline, reply)| {
        match swarm
            .behaviour_mut()
            .gossipsub
            .publish(topic.clone(), bytes.clone())
        {
            Ok(_) => {
                let _ = reply.send(Ok(()));
                false
            }
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) if now < *deadline => true,
            Err(e) => {
                let _ = reply.send(Err(format!("cannot publish on {topic}: {e}")));
                false
            }
        }
    });
}

/// The wire limits, re-exported for tests that craft messages at the edge.
pub use wire::{MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};

/// The key stored as `name` (`node.key` or `org.key`) in the home `home`: what someone who got
/// hold of that file, or an organisation's administrator gone bad, signs with. The node of that
/// home may keep running (unlike [`Adversary::impersonating`], this takes no peer identity).
pub fn key_in_home(home: &Path, name: &str) -> NodeKey {
    let text = std::fs::read_to_string(home.join(name))
        .unwrap_or_else(|e| panic!("no {name} in {}: {e}", home.display()));
    let secret: [u8; 32] = crate::from_hex(&text)
        .try_into()
        .unwrap_or_else(|_| panic!("{name} in {} is not a key", home.display()));
    NodeKey::from_secret(secret)
}

impl Adversary {
    /// How many `Inventory` requests `peer` has sent this peer so far.
    pub fn inventory_requests_from(&self, peer: &str) -> usize {
        self.requests_from(peer)
            .iter()
            .filter(|r| matches!(r, Request::Inventory))
            .count()
    }

    /// Pushes `statements` to `peer` in one `Offer` and waits for its answer: a node takes in
    /// what it is offered before it answers, so once this returns `Ok` the statements have
    /// been judged.
    pub fn offer(&self, peer: &str, statements: &[SignedStatement]) -> Result<Response, String> {
        self.ask(peer, &craft::offer(statements))
    }
}
