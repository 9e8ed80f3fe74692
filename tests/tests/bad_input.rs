//! Bad input from the network: a node keeps serving after garbage on its listening ports, and a
//! peer that sends data the node refuses gets banned.

use allmenning_tests::*;
use serde_json::Value;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A node process started by the test itself (the harness listens on TCP only; this one also
/// listens on QUIC). Killed when dropped.
struct Manual {
    child: Child,
    log: std::path::PathBuf,
}

impl Manual {
    fn log_text(&self) -> String {
        fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
    fn is_running(&mut self) -> bool {
        self.child.try_wait().map(|s| s.is_none()).unwrap_or(false)
    }
}

impl Drop for Manual {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let text = self.log_text();
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(60);
            eprintln!("===== manual node log =====\n{}", lines[from..].join("\n"));
        }
    }
}

/// Starts `node` with a TCP and a QUIC listener on loopback and waits for `node status`.
fn spawn_tcp_and_quic(node: &Node) -> (Manual, Value) {
    let log = node.scratch().join("manual-node.log");
    let file = fs::File::create(&log).unwrap();
    let mut cmd = node.command();
    cmd.args([
        "node",
        "start",
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--listen",
        "/ip4/127.0.0.1/udp/0/quic-v1",
    ])
    .env("RUST_LOG", "info")
    .stdin(Stdio::null())
    .stdout(Stdio::from(file.try_clone().unwrap()))
    .stderr(Stdio::from(file));
    let mut manual = Manual {
        child: cmd.spawn().expect("spawn node"),
        log,
    };
    let status = wait_for(secs(20), "the node listens on TCP and QUIC", || {
        assert!(manual.is_running(), "the node exited during start-up");
        let v = node.try_json(&["node", "status"])?;
        let addrs = array_of(&v, "listen_addrs");
        let has = |s: &str| {
            addrs
                .iter()
                .any(|a| a.as_str().is_some_and(|a| a.contains(s)))
        };
        (has("/tcp/") && has("/quic-v1")).then_some(v)
    });
    (manual, status)
}

fn listen_addr_with(status: &Value, needle: &str) -> String {
    array_of(status, "listen_addrs")
        .iter()
        .filter_map(|a| a.as_str())
        .find(|a| a.contains(needle))
        .unwrap_or_else(|| panic!("no {needle} listen address in {status}"))
        .to_string()
}

/// The port after `/tcp/` or `/udp/` in a multiaddr.
fn port_of(addr: &str, proto: &str) -> u16 {
    let parts: Vec<&str> = addr.split('/').collect();
    let i = parts
        .iter()
        .position(|p| *p == proto)
        .unwrap_or_else(|| panic!("{addr} has no {proto}"));
    parts[i + 1].parse().unwrap()
}

/// A small xorshift generator seeded from the OS: fast, and enough for garbage.
struct Garbage(u64);

impl Garbage {
    fn new() -> Self {
        let seed = random_secret();
        Garbage(u64::from_le_bytes(seed[..8].try_into().unwrap()) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Opens a connection, writes `bytes` (giving up quietly when the node closes on us), then
/// reads briefly so the node gets to see the data before we hang up.
fn send_tcp(addr: SocketAddr, bytes: &[u8]) {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        // Refused for the pending-connection limit, or the listener is busy: fine.
        return;
    };
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
    let _ = s.write_all(bytes);
    let mut buf = [0u8; 512];
    let _ = s.read(&mut buf);
}

/// An unsigned LEB128 varint, as multistream-select uses for its length prefixes.
fn varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

fn multistream_line(line: &str) -> Vec<u8> {
    let mut out = varint(line.len() as u64);
    out.extend_from_slice(line.as_bytes());
    out
}

#[test]
fn garbage_on_the_listening_ports_does_not_stop_the_node() {
    let a = Node::init("a", BERGEN);
    let (mut manual, status) = spawn_tcp_and_quic(&a);
    let a_peer = status["peer_id"].as_str().unwrap().to_string();
    let tcp_addr = listen_addr_with(&status, "/tcp/");
    let quic_addr = listen_addr_with(&status, "/quic-v1");
    let tcp: SocketAddr = ([127, 0, 0, 1], port_of(&tcp_addr, "tcp")).into();
    let udp: SocketAddr = ([127, 0, 0, 1], port_of(&quic_addr, "udp")).into();
    let mut g = Garbage::new();
    let started = Instant::now();

    // 1. Random bytes on fresh TCP connections.
    for _ in 0..60 {
        let len = 1 + g.below(8192) as usize;
        send_tcp(tcp, &g.bytes(len));
    }
    // 2. Oversized length-prefixed frames: a multistream-select line that claims to be
    //    gigabytes long, and (after a proper multistream negotiation of Noise) a Noise frame of
    //    the largest length that is nothing but noise.
    for i in 0..20 {
        let mut frame = if i % 2 == 0 {
            varint(u64::MAX >> 1)
        } else {
            let mut f = multistream_line("/multistream/1.0.0\n");
            f.extend(multistream_line("/noise\n"));
            f.extend_from_slice(&[0xff, 0xff]);
            f
        };
        frame.extend(g.bytes(256 * 1024));
        send_tcp(tcp, &frame);
    }
    // 3. A handful of connections left open with a half-written frame while the rest goes on.
    let held: Vec<TcpStream> = (0..8)
        .filter_map(|_| TcpStream::connect_timeout(&tcp, Duration::from_secs(2)).ok())
        .map(|mut s| {
            let _ = s.write_all(&varint(1 << 30));
            s
        })
        .collect();
    // 4. Random UDP datagrams at the QUIC port, some shaped like QUIC v1 Initial packets
    //    (long header, version 1, padded to 1200 bytes) so that they reach the decryption.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..600 {
        let mut d = if i % 3 == 0 {
            let mut d = vec![0xc0 | (g.next() as u8 & 0x0f), 0, 0, 0, 1];
            d.extend(g.bytes(1195));
            d
        } else {
            let len = 1 + g.below(1400) as usize;
            g.bytes(len)
        };
        if i % 50 == 0 {
            d.truncate(1);
        }
        let _ = sock.send_to(&d, udp);
    }
    drop(held);
    eprintln!("garbage sent in {:?}", started.elapsed());

    // The node is still alive and answers.
    assert!(manual.is_running(), "the node died from garbage");
    let status = a.json(&["node", "status"]);
    assert_eq!(status["peer_id"].as_str(), Some(a_peer.as_str()));

    // A real node can still connect over TCP and replicate what A publishes.
    let src = a.scratch().join("src");
    write_tree(&src, &[("README.md", b"Still serving after garbage\n")]);
    let id = a.publish(&src, "Etter søppel");
    let heads = a.heads(&id).unwrap();
    let b = Node::start_with("b", TRONDHEIM, &[with_p2p(&tcp_addr, &a_peer)]);
    b.wait_complete_with(&id, &heads, secs(30));
    assert_eq!(
        b.export_tree(&id, "b")["README.md"],
        b"Still serving after garbage\n".to_vec()
    );

    // And over QUIC.
    let c = Node::start("c", OSLO);
    c.ok(&["connect", &with_p2p(&quic_addr, &a_peer)]);
    c.wait_complete_with(&id, &heads, secs(30));

    assert!(manual.is_running(), "the node is still running at the end");
    let log = manual.log_text();
    assert!(!log.contains("panicked"), "the node panicked:\n{log}");
}

#[test]
fn a_peer_that_sends_refused_data_is_banned() {
    // A serves a change whose signature does not verify (test hook). B refuses it, and with a
    // ban threshold of one rejection (test hook; the default is 20) bans A: it disconnects A,
    // keeps it out while the ban lasts, and lets it back in once the ban is over.
    let mut a = Node::init("a", BERGEN);
    a.set_env("ALLMENNING_TEST_HOOKS", "1");
    a.spawn();
    let mut b = Node::init("b", TRONDHEIM);
    b.set_env("ALLMENNING_TEST_HOOKS", "1");
    b.set_env("ALLMENNING_TEST_BAN_THRESHOLD", "1");
    b.set_env("ALLMENNING_TEST_BAN_SECS", "8");
    b.set_bootstrap(&[a.addr()]);
    b.spawn();
    b.wait_connected(&a);

    let src = a.scratch().join("src");
    write_tree(&src, &[("vedtak.txt", b"Vedtak\n")]);
    let id = a.publish(&src, "Vedtak");
    let genesis = a.heads(&id).unwrap();
    b.wait_complete_with(&id, &genesis, secs(30));
    assert!(
        !b.log_text().contains("banning peer"),
        "no ban for valid data"
    );

    // While B is offline, A makes a change and tampers with its signature.
    b.stop();
    let w = a.checkout(&id, "a");
    fs::write(w.join("vedtak.txt"), "Forfalsket vedtak\n").unwrap();
    let committed = parse_json(
        &a.ok_in(&w, &["commit", "-m", "Forfalsket", "--json"])
            .stdout,
    )
    .expect("commit --json");
    let x = committed["change"].as_str().unwrap().to_string();
    a.ok(&["debug", "corrupt-change", &id, &x]);

    b.spawn();
    wait_until(secs(30), "B bans A with a WARN naming A", || {
        b.log_text()
            .lines()
            .any(|l| l.contains("WARN") && l.contains("banning peer") && l.contains(a.peer_id()))
    });
    // A is disconnected and stays out while the ban lasts, although A knows B's address and
    // B knows A's (both redial known peers every second).
    let banned_at = Instant::now();
    wait_until(secs(5), "B drops A", || !b.is_connected_to(a.peer_id()));
    while banned_at.elapsed() < Duration::from_secs(4) {
        assert!(
            !b.is_connected_to(a.peer_id()),
            "B let banned A in again\n{}",
            b.log_tail(30)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let heads = b.heads(&id).unwrap();
    assert!(!heads.contains(&x), "B took the tampered change");

    // The ban ends; B is healthy throughout.
    wait_until(secs(30), "B lifts the ban", || {
        b.log_text().contains("ban over")
    });
    assert!(b.status()["peer_id"].is_string());
}
