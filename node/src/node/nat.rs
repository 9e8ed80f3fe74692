//! NAT traversal in the event loop: reachability, relays and hole punching.
//!
//! Most municipal servers accept no connection from outside. Three libp2p behaviours cover that
//! (see [`crate::net`]); this module is the policy around them:
//!
//! * AutoNAT's verdict decides whether this node needs a relay. A node that peers could not dial
//!   back reserves a slot on up to [`MAX_AUTO_RELAYS`] connected relays (`[relay] auto`), and
//!   always on the relays named in `[relay] via`, and renews a reservation when it is lost.
//! * A node that wants a peer it has no working address for tries the peer through every relay
//!   it knows (`/p2p/<relay>/p2p-circuit/p2p/<peer>`) once the direct attempts have failed.
//! * DCUtR replaces relayed connections by direct ones where hole punching works; whatever it
//!   manages is counted, so `node status` shows how this node is really connected.

use super::Node;
use crate::control::{HolePunchStats, RelayStatus};
use libp2p::core::transport::ListenerId;
use libp2p::core::ConnectedPoint;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::ConnectionId;
use libp2p::{autonat, dcutr, identify, relay, Multiaddr, PeerId};
use std::collections::{HashMap, HashSet};

/// How many relays a node that AutoNAT found unreachable holds reservations on. Two, so that
/// the loss of one relay does not make the node unreachable while it finds another.
pub(super) const MAX_AUTO_RELAYS: usize = 2;

/// What the event loop knows about relays and relayed connections.
#[derive(Default)]
pub(super) struct NatState {
    /// Connected peers that offer to relay, with an address we reach them at.
    relays: HashMap<PeerId, Multiaddr>,
    /// Reservations asked for, by relay: the listener that holds it and whether the relay
    /// accepted it.
    reservations: HashMap<PeerId, (ListenerId, bool)>,
    /// The relays of `[relay] via` (address ending in `/p2p/<relay>`), kept reserved always.
    configured: Vec<(PeerId, Multiaddr)>,
    /// Open connections: to whom, and whether they pass through a relay.
    connections: HashMap<ConnectionId, (PeerId, bool)>,
    /// The address we dialled, for open connections we dialled directly.
    dialled: HashMap<ConnectionId, (PeerId, Multiaddr)>,
    /// Peers already tried through relays for the current `connect`.
    tried_via_relays: HashSet<PeerId>,
    /// Nodes this node shares restricted artefacts with, as last computed: kept connected.
    pub(super) partners: HashSet<PeerId>,
    relayed_since_start: u64,
    hole_punch: HolePunchStats,
    /// When serving as a relay: nodes holding a reservation on us, and circuits relayed.
    served_reservations: HashSet<PeerId>,
    circuits_served: u64,
}

/// The peer id of the node with node key `key` (the libp2p key is the node key).
pub(super) fn peer_id_of_key(key: &allmenning_protocol::PublicKey) -> Option<PeerId> {
    let ed = libp2p::identity::ed25519::PublicKey::try_from_bytes(&key.0).ok()?;
    Some(libp2p::identity::PublicKey::from(ed).to_peer_id())
}

/// `addr` without a trailing `/p2p/<peer id>`.
fn without_peer_id(addr: &Multiaddr) -> Multiaddr {
    addr.iter()
        .filter(|p| !matches!(p, Protocol::P2p(_)))
        .collect()
}

/// The address to listen on for a reservation on `relay` reached at `relay_addr`.
pub(super) fn reservation_addr(relay_addr: &Multiaddr, relay: PeerId) -> Multiaddr {
    without_peer_id(relay_addr)
        .with(Protocol::P2p(relay))
        .with(Protocol::P2pCircuit)
}

/// The address of `peer` through `relay` reached at `relay_addr`.
pub(super) fn circuit_addr(relay_addr: &Multiaddr, relay: PeerId, peer: PeerId) -> Multiaddr {
    reservation_addr(relay_addr, relay).with(Protocol::P2p(peer))
}

/// The relay peer and its address in a `[relay] via` entry, which must end in `/p2p/<id>`.
pub(super) fn parse_via(addr: &Multiaddr) -> Option<(PeerId, Multiaddr)> {
    match addr.iter().last() {
        Some(Protocol::P2p(peer)) if !addr.iter().any(|p| p == Protocol::P2pCircuit) => {
            Some((peer, without_peer_id(addr)))
        }
        _ => None,
    }
}

fn is_loopback_or_unspecified(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| match p {
        Protocol::Ip4(ip) => ip.is_loopback() || ip.is_unspecified(),
        Protocol::Ip6(ip) => ip.is_loopback() || ip.is_unspecified(),
        _ => false,
    })
}

impl NatState {
    pub(super) fn new(configured: Vec<(PeerId, Multiaddr)>) -> Self {
        NatState {
            configured,
            ..NatState::default()
        }
    }

    /// Whether `peer` is connected, and only through relays.
    pub(super) fn only_relayed(&self, peer: &PeerId) -> bool {
        let mut to_peer = self.connections.values().filter(|(p, _)| p == peer);
        let Some((_, first)) = to_peer.next() else {
            return false;
        };
        *first && to_peer.all(|(_, relayed)| *relayed)
    }

    fn relayed(&self) -> impl Iterator<Item = &PeerId> {
        self.connections
            .values()
            .filter(|(_, relayed)| *relayed)
            .map(|(p, _)| p)
    }
}

impl Node {
    /// Asks for the reservations of `[relay] via`, and the automatic ones AutoNAT calls for.
    /// Called at start-up and on every redial tick, so that a lost reservation is renewed.
    pub(super) fn keep_reservations(&mut self) {
        let configured = self.nat.configured.clone();
        for (relay, addr) in configured {
            self.reserve(relay, &addr);
        }
        if !self.config.relay.auto
            || self.swarm.behaviour().autonat.nat_status() != autonat::NatStatus::Private
        {
            return;
        }
        let mut held = self
            .nat
            .reservations
            .keys()
            .filter(|r| !self.nat.configured.iter().any(|(c, _)| c == *r))
            .count();
        let mut candidates: Vec<(PeerId, Multiaddr)> = self
            .nat
            .relays
            .iter()
            .filter(|(relay, _)| !self.nat.reservations.contains_key(relay))
            .map(|(r, a)| (*r, a.clone()))
            .collect();
        candidates.sort_by_key(|(r, _)| *r);
        for (relay, addr) in candidates {
            if held >= MAX_AUTO_RELAYS {
                break;
            }
            if self.reserve(relay, &addr) {
                held += 1;
            }
        }
    }

    /// Listens through `relay` unless a reservation there is held or under way.
    fn reserve(&mut self, relay: PeerId, relay_addr: &Multiaddr) -> bool {
        if self.nat.reservations.contains_key(&relay)
            || self.penalties.is_banned(&relay, std::time::Instant::now())
        {
            return false;
        }
        let addr = reservation_addr(relay_addr, relay);
        match self.swarm.listen_on(addr.clone()) {
            Ok(listener) => {
                tracing::info!(%relay, %addr, "asking the relay for a reservation");
                self.nat.reservations.insert(relay, (listener, false));
                true
            }
            Err(e) => {
                tracing::warn!(%relay, %addr, "cannot listen through the relay: {e}");
                false
            }
        }
    }

    pub(super) fn nat_on_connection_established(
        &mut self,
        peer: PeerId,
        connection: ConnectionId,
        endpoint: &ConnectedPoint,
    ) {
        let relayed = endpoint.is_relayed();
        self.nat.connections.insert(connection, (peer, relayed));
        if relayed {
            self.nat.relayed_since_start += 1;
            tracing::info!(%peer, "connected through a relay");
        } else if let ConnectedPoint::Dialer { address, .. } = endpoint {
            self.nat
                .dialled
                .insert(connection, (peer, without_peer_id(address)));
        }
        self.nat.tried_via_relays.remove(&peer);
    }

    pub(super) fn nat_on_connection_closed(
        &mut self,
        peer: PeerId,
        connection: ConnectionId,
        remaining: u32,
    ) {
        self.nat.connections.remove(&connection);
        self.nat.dialled.remove(&connection);
        if remaining == 0 {
            self.nat.relays.remove(&peer);
        }
    }

    pub(super) fn nat_on_identify(&mut self, peer: PeerId, info: &identify::Info) {
        if !info.protocols.contains(&relay::HOP_PROTOCOL_NAME) {
            return;
        }
        // The address we dialled it at is known to work from here; otherwise the first of its
        // listen addresses that another machine could use.
        let addr = self
            .nat
            .dialled
            .values()
            .find(|(p, _)| *p == peer)
            .map(|(_, a)| a.clone())
            .or_else(|| {
                info.listen_addrs
                    .iter()
                    .find(|a| {
                        !is_loopback_or_unspecified(a)
                            && !a.iter().any(|p| p == Protocol::P2pCircuit)
                    })
                    .map(without_peer_id)
            });
        if let Some(addr) = addr {
            if self.nat.relays.insert(peer, addr).is_none() {
                tracing::debug!(%peer, "peer offers to relay");
            }
            self.keep_reservations();
        }
    }

    pub(super) fn on_autonat_event(&mut self, event: autonat::Event) {
        match event {
            autonat::Event::StatusChanged { old, new } => {
                match &new {
                    autonat::NatStatus::Public(addr) => {
                        tracing::info!(%addr, "reachable: peers can dial this node directly")
                    }
                    autonat::NatStatus::Private => tracing::info!(
                        "not reachable from outside (AutoNAT): other nodes reach this one through relays"
                    ),
                    autonat::NatStatus::Unknown => {
                        tracing::info!(?old, "reachability unknown again")
                    }
                }
                self.keep_reservations();
            }
            other => tracing::trace!(?other, "AutoNAT"),
        }
    }

    pub(super) fn on_relay_client_event(&mut self, event: relay::client::Event) {
        match event {
            relay::client::Event::ReservationReqAccepted {
                relay_peer_id,
                renewal,
                ..
            } => {
                if let Some((_, accepted)) = self.nat.reservations.get_mut(&relay_peer_id) {
                    *accepted = true;
                }
                if !renewal {
                    tracing::info!(relay = %relay_peer_id, "reachable through the relay");
                }
            }
            relay::client::Event::OutboundCircuitEstablished { relay_peer_id, .. } => {
                tracing::debug!(relay = %relay_peer_id, "circuit through the relay opened")
            }
            relay::client::Event::InboundCircuitEstablished { src_peer_id, .. } => {
                tracing::debug!(peer = %src_peer_id, "a peer reached us through a relay")
            }
        }
    }

    pub(super) fn on_relay_server_event(&mut self, event: relay::Event) {
        match event {
            relay::Event::ReservationReqAccepted { src_peer_id, .. } => {
                if self.nat.served_reservations.insert(src_peer_id) {
                    tracing::info!(peer = %src_peer_id, "relaying for the peer (reservation accepted)");
                }
            }
            relay::Event::ReservationClosed { src_peer_id }
            | relay::Event::ReservationTimedOut { src_peer_id } => {
                self.nat.served_reservations.remove(&src_peer_id);
            }
            relay::Event::CircuitReqAccepted {
                src_peer_id,
                dst_peer_id,
            } => {
                self.nat.circuits_served += 1;
                tracing::info!(from = %src_peer_id, to = %dst_peer_id, "relaying a connection");
            }
            other => tracing::debug!(?other, "relay"),
        }
    }

    pub(super) fn on_dcutr_event(&mut self, event: dcutr::Event) {
        match event.result {
            Ok(_) => {
                self.nat.hole_punch.succeeded += 1;
                tracing::info!(peer = %event.remote_peer_id, "hole punched: direct connection");
            }
            Err(e) => {
                self.nat.hole_punch.failed += 1;
                tracing::info!(peer = %event.remote_peer_id, "hole punching failed, staying relayed: {e}");
            }
        }
    }

    /// A listener closed: if it held a reservation, forget it so that it is asked for again.
    pub(super) fn nat_on_listener_closed(&mut self, listener: ListenerId) {
        let lost: Vec<PeerId> = self
            .nat
            .reservations
            .iter()
            .filter(|(_, (l, _))| *l == listener)
            .map(|(r, _)| *r)
            .collect();
        for relay in lost {
            tracing::info!(%relay, "reservation on the relay lost");
            self.nat.reservations.remove(&relay);
        }
    }

    /// Dials the nodes this node shares restricted artefacts with that it is not connected to
    /// (restricted content travels only over direct connections between them): at a known
    /// address, else at the addresses the DHT knows, else through relays. Each peer waits out
    /// its redial backoff between attempts.
    pub(super) fn seek_partners(&mut self) {
        let keys = self.engine.restricted_partners();
        self.nat.partners = keys.iter().filter_map(peer_id_of_key).collect();
        let now = std::time::Instant::now();
        let partners: Vec<PeerId> = self.nat.partners.iter().copied().collect();
        for peer in partners {
            if self.connected.contains(&peer)
                || self.penalties.is_banned(&peer, now)
                || !self.backoff.is_due(&peer, now)
                || self.lookups.values().any(|p| *p == peer)
            {
                continue;
            }
            // A new attempt may use the relays again.
            self.nat.tried_via_relays.remove(&peer);
            match self
                .swarm
                .dial(libp2p::swarm::dial_opts::DialOpts::peer_id(peer).build())
            {
                Ok(()) => {
                    tracing::debug!(%peer, "dialling a node we share restricted artefacts with")
                }
                Err(libp2p::swarm::DialError::DialPeerConditionFalse(_)) => {}
                Err(libp2p::swarm::DialError::NoAddresses) => {
                    tracing::debug!(%peer, "looking up a node we share restricted artefacts with");
                    let query = self.swarm.behaviour_mut().kad.get_closest_peers(peer);
                    self.lookups.insert(query, peer);
                }
                Err(e) => tracing::debug!(%peer, "cannot dial partner: {e}"),
            }
        }
    }

    /// Dials `peer` through every relay this node is connected to, once per `connect`, after
    /// the direct ways failed. Returns whether a dial was started.
    pub(super) fn dial_via_relays(&mut self, peer: PeerId) -> bool {
        if self.nat.relays.is_empty() || !self.nat.tried_via_relays.insert(peer) {
            return false;
        }
        let addrs: Vec<Multiaddr> = self
            .nat
            .relays
            .iter()
            .filter(|(relay, _)| **relay != peer)
            .map(|(relay, addr)| circuit_addr(addr, *relay, peer))
            .collect();
        if addrs.is_empty() {
            return false;
        }
        tracing::info!(%peer, relays = addrs.len(), "trying the peer through relays");
        let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(peer)
            .addresses(addrs)
            .override_dial_concurrency_factor(
                std::num::NonZeroU8::new(MAX_AUTO_RELAYS as u8 + 1)
                    .unwrap_or(std::num::NonZeroU8::MIN),
            )
            .build();
        match self.swarm.dial(opts) {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(%peer, "cannot dial through relays: {e}");
                false
            }
        }
    }

    /// The `reachability` field of `node status`.
    pub(super) fn reachability(&self) -> (&'static str, Vec<String>) {
        let public: Vec<String> = self
            .swarm
            .external_addresses()
            .filter(|a| !a.iter().any(|p| p == Protocol::P2pCircuit))
            .map(|a| a.to_string())
            .collect();
        let word = match self.swarm.behaviour().autonat.nat_status() {
            autonat::NatStatus::Public(_) => "public",
            autonat::NatStatus::Private => "private",
            autonat::NatStatus::Unknown => "unknown",
        };
        (word, public)
    }

    pub(super) fn relay_status(&self) -> RelayStatus {
        let mut reservations: Vec<String> = self
            .nat
            .reservations
            .iter()
            .filter(|(_, (_, accepted))| *accepted)
            .map(|(r, _)| r.to_string())
            .collect();
        reservations.sort();
        let mut relayed_peers: Vec<String> = self
            .nat
            .relayed()
            .map(|p| p.to_string())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        relayed_peers.sort();
        RelayStatus {
            serving: self.swarm.behaviour().relay.is_enabled(),
            reservations,
            relayed_connections: self.nat.relayed().count(),
            relayed_peers,
            relayed_connections_since_start: self.nat.relayed_since_start,
            serving_reservations: self.nat.served_reservations.len(),
            circuits_served: self.nat.circuits_served,
            hole_punch: self.nat.hole_punch.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_addresses_are_built_from_the_relay_address() {
        let relay = PeerId::random();
        let peer = PeerId::random();
        let at: Multiaddr = format!("/ip4/10.79.0.1/tcp/4646/p2p/{relay}")
            .parse()
            .unwrap();
        assert_eq!(
            reservation_addr(&at, relay).to_string(),
            format!("/ip4/10.79.0.1/tcp/4646/p2p/{relay}/p2p-circuit")
        );
        assert_eq!(
            circuit_addr(&at, relay, peer).to_string(),
            format!("/ip4/10.79.0.1/tcp/4646/p2p/{relay}/p2p-circuit/p2p/{peer}")
        );
    }

    #[test]
    fn a_node_key_maps_to_the_peer_id_it_is_known_by() {
        let key = allmenning_protocol::identity::NodeKey::from_secret([5u8; 32]);
        let keypair = crate::net::keypair_from_secret([5u8; 32]).unwrap();
        assert_eq!(
            peer_id_of_key(&key.public()),
            Some(keypair.public().to_peer_id())
        );
        assert_eq!(
            super::super::node_key_of(&keypair.public().to_peer_id()),
            Some(key.public())
        );
    }

    #[test]
    fn a_via_entry_must_name_the_relay() {
        let relay = PeerId::random();
        let good: Multiaddr = format!("/ip4/10.0.0.1/udp/4646/quic-v1/p2p/{relay}")
            .parse()
            .unwrap();
        assert_eq!(
            parse_via(&good),
            Some((relay, "/ip4/10.0.0.1/udp/4646/quic-v1".parse().unwrap()))
        );
        assert_eq!(parse_via(&"/ip4/10.0.0.1/tcp/4646".parse().unwrap()), None);
        let circuit: Multiaddr = format!("/ip4/10.0.0.1/tcp/1/p2p/{relay}/p2p-circuit")
            .parse()
            .unwrap();
        assert_eq!(parse_via(&circuit), None);
    }
}
