//! A whole node in this process (event loop, swarm, store, control socket) and bare libp2p
//! peers to talk to it, for tests that need a real node without spawning processes.

use super::{run, NodeError, NodeOptions};
use crate::home::{Config, Home, OrgProfile};
use crate::net::{self, AutonatTiming, Limits, NetConfig, RelayConfig};
use allmenning_protocol::identity::{OrgKind, OrgNumber};
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId, Swarm};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A bare peer speaking the node's protocols, listening on `listen` (none: dial only).
pub(super) fn peer_swarm(listen: Option<&str>) -> Swarm<net::Behaviour> {
    net::build_swarm(NetConfig {
        listen: listen
            .map(|a| vec![a.parse().expect("listen addr")])
            .unwrap_or_default(),
        keypair: Keypair::generate_ed25519(),
        limits: Limits::default(),
        mdns: false,
        kad_server: false,
        relay: RelayConfig::default(),
        autonat: AutonatTiming::default(),
    })
    .expect("peer swarm")
}

/// A node of Bergen kommune running in this process on a free loopback port.
pub(super) struct TestNode {
    pub addr: Multiaddr,
    pub peer_id: PeerId,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), NodeError>>,
    _dir: tempfile::TempDir,
}

impl TestNode {
    /// Starts a node with node key `secret` after `configure` adjusted its config.toml.
    pub(super) fn start(secret: [u8; 32], configure: impl FnOnce(&mut Config)) -> TestNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home {
            dir: dir.path().join("node"),
        };
        let org = OrgProfile {
            name: "Bergen kommune".into(),
            number: OrgNumber::parse("964338531").expect("valid org number"),
            kind: OrgKind::Kommune,
        };
        home.init(&org, secret, Some([secret[0].wrapping_add(1); 32]), false)
            .expect("init");
        let mut config = home.load_config().expect("config");
        config.network.mdns = false;
        configure(&mut config);
        home.save_config(&config).expect("save config");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}").parse().expect("addr");
        let peer_id = net::keypair_from_secret(secret)
            .expect("keypair")
            .public()
            .to_peer_id();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run(
            home,
            NodeOptions {
                listen: vec![addr.to_string()],
                no_mdns: true,
                ..NodeOptions::default()
            },
            async {
                let _ = stopped.await;
            },
        ));
        TestNode {
            addr,
            peer_id,
            stop,
            task,
            _dir: dir,
        }
    }

    /// Stops the node and checks that it ran without error.
    pub(super) async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("node task").expect("node ran");
    }
}
