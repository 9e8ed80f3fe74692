//! NAT traversal with real NAT: municipal nodes behind NAT routers reach each other through a
//! KS relay, and hole punching turns relayed connections into direct ones where the NAT allows.
//!
//! The lab, in network namespaces this test creates (and always deletes):
//!
//! ```text
//!                 "internet" bridge 10.78.0.0/24 (namespace inet)
//!        |                  |                    |                    |
//!   ks 10.78.0.10     nat1 10.78.0.21      nat2 10.78.0.22      nat3 10.78.0.23
//!   (relay)           MASQUERADE           MASQUERADE           MASQUERADE --random-fully
//!                     192.168.1.1          192.168.2.1          192.168.3.1
//!                          |                    |                    |
//!                     bergen 192.168.1.2   trondheim 192.168.2.2  oslo 192.168.3.2
//! ```
//!
//! The municipalities can dial out (to KS) but nothing can dial in to them: their addresses are
//! private and their NAT routers forward only replies. nat1 and nat2 keep source ports (like
//! most home and office routers), so a hole can be punched between Bergen and Trondheim; nat3
//! picks a new random port for every connection (a "symmetric" NAT), so Oslo stays relayed.
//!
//! What is checked, with real node processes and the nodes' own code paths:
//! * AutoNAT: KS finds itself public, the municipalities find themselves private;
//! * each municipality reserves a slot on the KS relay by itself (`[relay] auto`) and
//!   `node status` shows the reservation, then the relayed connections and hole-punch results;
//! * `connect /p2p/<peer id>` reaches a NATed peer through the relay;
//! * a node that shares a restricted artefact with another organisation connects to that
//!   organisation's node by itself, here only possible through the relay;
//! * Bergen and Trondheim end up with a direct connection (DCUtR);
//! * Oslo, behind the symmetric NAT, gets a restricted artefact from Bergen byte for byte over
//!   the relayed connection, while KS, which relays the bytes but may not read the artefact,
//!   holds none of it.
//!
//! Needs root, iproute2 and iptables; otherwise prints "skipped: ..." and passes. `.ci/run`
//! installs iptables.

use allmenning_tests::*;
use serde_json::Value;
use std::process::Command;

const SECRET: &str = "NAT-HEMMELIG-41c9: nøkkelen til serverrommet henger bak døra";

struct Lab {
    inet: String,
    ks: String,
    /// (router namespace, node namespace) for bergen, trondheim, oslo.
    sites: Vec<(String, String)>,
    created: Vec<String>,
}

use netns::{ip, is_root, run};

fn in_ns(ns: &str, program: &str, args: &[&str]) {
    let mut all = vec!["netns", "exec", ns, program];
    all.extend_from_slice(args);
    if let Err(e) = run("ip", &all) {
        panic!("{e}");
    }
}

fn has_iptables() -> bool {
    Command::new("iptables")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

const KS_IP: &str = "10.78.0.10";

impl Lab {
    fn new() -> Result<Lab, String> {
        if !is_root() {
            return Err("needs root".into());
        }
        if !has_iptables() {
            return Err("needs iptables (apt-get install iptables)".into());
        }
        let suffix = to_hex(&random_secret()[..4]);
        let name = |n: &str| format!("alm-nat-{suffix}-{n}");
        let mut lab = Lab {
            inet: name("inet"),
            ks: name("ks"),
            sites: (1..=3)
                .map(|i| (name(&format!("r{i}")), name(&format!("h{i}"))))
                .collect(),
            created: Vec::new(),
        };
        run("ip", &["netns", "add", &lab.inet])?;
        lab.created.push(lab.inet.clone());
        let mut all = vec![lab.ks.clone()];
        for (r, h) in &lab.sites {
            all.push(r.clone());
            all.push(h.clone());
        }
        for ns in all {
            ip(&["netns", "add", &ns]);
            lab.created.push(ns.clone());
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        let inet = lab.inet.clone();
        ip(&["-n", &inet, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &inet, "link", "set", "br0", "up"]);
        // A port on the internet bridge for `ns`, with address `addr` on its side.
        let plug = |ns: &str, port: &str, addr: &str| {
            ip(&[
                "-n", &inet, "link", "add", port, "type", "veth", "peer", "name", "wan",
            ]);
            ip(&["-n", &inet, "link", "set", "wan", "netns", ns]);
            ip(&["-n", &inet, "link", "set", port, "master", "br0"]);
            ip(&["-n", &inet, "link", "set", port, "up"]);
            ip(&["-n", ns, "addr", "add", addr, "dev", "wan"]);
            ip(&["-n", ns, "link", "set", "wan", "up"]);
        };
        plug(&lab.ks, "pks", &format!("{KS_IP}/24"));
        for (i, (router, host)) in lab.sites.iter().enumerate() {
            let n = i + 1;
            plug(router, &format!("pr{n}"), &format!("10.78.0.2{n}/24"));
            ip(&[
                "-n", router, "link", "add", "lan", "type", "veth", "peer", "name", "eth0",
            ]);
            ip(&["-n", router, "link", "set", "eth0", "netns", host]);
            ip(&[
                "-n",
                router,
                "addr",
                "add",
                &format!("192.168.{n}.1/24"),
                "dev",
                "lan",
            ]);
            ip(&["-n", router, "link", "set", "lan", "up"]);
            ip(&[
                "-n",
                host,
                "addr",
                "add",
                &format!("192.168.{n}.2/24"),
                "dev",
                "eth0",
            ]);
            ip(&["-n", host, "link", "set", "eth0", "up"]);
            ip(&[
                "-n",
                host,
                "route",
                "add",
                "default",
                "via",
                &format!("192.168.{n}.1"),
            ]);
            in_ns(router, "sysctl", &["-q", "-w", "net.ipv4.ip_forward=1"]);
            let mut rule = vec![
                "-t",
                "nat",
                "-A",
                "POSTROUTING",
                "-o",
                "wan",
                "-j",
                "MASQUERADE",
            ];
            if n == 3 {
                rule.push("--random-fully");
            }
            in_ns(router, "iptables", &rule);
            // Only replies come in from the internet; anything else is dropped without an
            // answer, to the router itself as well as to the LAN behind it, as NAT routers do.
            for chain in ["FORWARD", "INPUT"] {
                in_ns(
                    router,
                    "iptables",
                    &[
                        "-A",
                        chain,
                        "-i",
                        "wan",
                        "-m",
                        "conntrack",
                        "!",
                        "--ctstate",
                        "ESTABLISHED,RELATED",
                        "-j",
                        "DROP",
                    ],
                );
            }
        }
        Ok(lab)
    }

    fn host(&self, i: usize) -> &str {
        &self.sites[i].1
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = run("ip", &["-n", &self.inet, "link", "del", "br0"]);
        for ns in self.created.iter().rev() {
            if let Err(e) = run("ip", &["netns", "del", ns]) {
                eprintln!("NAT test clean-up: {e}");
            }
        }
    }
}

fn listen_on(ip: &str) -> Vec<String> {
    vec![
        format!("/ip4/{ip}/tcp/4646"),
        format!("/ip4/{ip}/udp/4646/quic-v1"),
    ]
}

fn relay_of(status: &Value) -> &Value {
    &status["relay"]
}

fn peer_row(node: &Node, peer: &Node) -> Option<Value> {
    node.peers()
        .into_iter()
        .find(|p| p["peer_id"].as_str() == Some(peer.peer_id()))
}

#[test]
fn nat_traversal() {
    // Declared before the nodes, so it is dropped after them: nodes die, then namespaces go.
    let lab = match Lab::new() {
        Ok(lab) => lab,
        Err(why) => {
            allmenning_tests::skip_without("nat_traversal", &why.to_string());
            return;
        }
    };

    let mut ks = Node::init("ks", KS);
    ks.spawn_in_netns(
        &lab.ks,
        &listen_on(KS_IP),
        &[
            "--no-mdns",
            "--relay",
            "--external-address",
            &format!("/ip4/{KS_IP}/tcp/4646"),
            "--external-address",
            &format!("/ip4/{KS_IP}/udp/4646/quic-v1"),
        ],
    );
    let ks_addr = format!("/ip4/{KS_IP}/tcp/4646/p2p/{}", ks.peer_id());
    let mut sites: Vec<Node> = Vec::new();
    for (i, (name, org)) in [("bergen", BERGEN), ("trondheim", TRONDHEIM), ("oslo", OSLO)]
        .into_iter()
        .enumerate()
    {
        let mut n = Node::init(name, org);
        n.set_bootstrap(std::slice::from_ref(&ks_addr));
        n.spawn_in_netns(
            lab.host(i),
            &listen_on(&format!("192.168.{}.2", i + 1)),
            &["--no-mdns"],
        );
        sites.push(n);
    }
    let (bergen, trondheim, oslo) = (&sites[0], &sites[1], &sites[2]);
    form_network(&ks, &[bergen, trondheim, oslo]);

    // --- AutoNAT and reservations ------------------------------------------------------------
    let started = std::time::Instant::now();
    wait_until(
        secs(60),
        "KS finds itself reachable (AutoNAT: public)",
        || ks.status()["reachability"] == "public",
    );
    for n in [bergen, trondheim, oslo] {
        wait_until(
            secs(60),
            &format!(
                "{} finds itself behind NAT and holds a reservation on the KS relay",
                n.name()
            ),
            || {
                let s = n.status();
                s["reachability"] == "private"
                    && array_of(relay_of(&s), "reservations")
                        .iter()
                        .any(|r| r.as_str() == Some(ks.peer_id()))
            },
        );
    }
    let reserved_after = started.elapsed();
    let ks_status = ks.status();
    assert_eq!(relay_of(&ks_status)["serving"], true, "{ks_status}");
    assert_eq!(
        relay_of(&ks_status)["serving_reservations"],
        3,
        "KS relays for the three municipalities: {ks_status}"
    );
    // A NATed node cannot be dialled directly at its private address from another site.
    assert!(
        !bergen.is_connected_to(trondheim.peer_id()) && !bergen.is_connected_to(oslo.peer_id()),
        "the municipalities only know each other through KS so far"
    );

    // --- Bergen and Trondheim: relayed, then hole punched -------------------------------------
    let punch_started = std::time::Instant::now();
    let out = bergen.cli(&["connect", &format!("/p2p/{}", trondheim.peer_id())]);
    assert!(
        out.status.success(),
        "bergen connects to trondheim by peer id\n{}\n--- bergen log ---\n{}",
        describe(&out),
        bergen.log_tail(60)
    );
    wait_until(
        secs(30),
        "bergen and trondheim connected directly by hole punching",
        || {
            let punched = [bergen, trondheim].iter().any(|n| {
                relay_of(&n.status())["hole_punch"]["succeeded"]
                    .as_u64()
                    .is_some_and(|k| k >= 1)
            });
            punched
                && peer_row(bergen, trondheim)
                    .is_some_and(|p| p["connected"] == true && p["relayed"] == false)
        },
    );
    let punched_after = punch_started.elapsed();
    let b = bergen.status();
    let t = trondheim.status();
    assert!(
        relay_of(&b)["relayed_connections_since_start"].as_u64() >= Some(1)
            || relay_of(&t)["relayed_connections_since_start"].as_u64() >= Some(1),
        "the first connection went through the relay: {b} {t}"
    );

    // --- Oslo: symmetric NAT, stays relayed, restricted content over the relay ---------------
    // Nobody connects Bergen and Oslo: sharing a restricted artefact with Oslo makes Bergen
    // seek Oslo's node by itself, and the only way there is through the relay.
    let src = bergen.scratch().join("ros");
    let body = format!("# ROS serverrom\n\n{SECRET}\n");
    write_tree(&src, &[("ros.md", body.as_bytes())]);
    let source = read_tree(&src, false);
    let published = bergen.json(&[
        "publish",
        src.to_str().unwrap(),
        "--kind",
        "ros",
        "--title",
        "ROS serverrom",
        "--share-with",
        OSLO.number,
    ]);
    let id = published["id"]
        .as_str()
        .expect("publish --json has id")
        .to_string();
    let heads = bergen.heads(&id).unwrap();
    let sent = std::time::Instant::now();
    oslo.wait_complete_with(&id, &heads, secs(60));
    let relayed_transfer = sent.elapsed();
    assert_same_tree(
        &source,
        &oslo.export_tree(&id, "oslo"),
        "Oslo's copy, received over the relayed connection",
    );
    let row = peer_row(oslo, bergen).expect("oslo lists bergen");
    assert_eq!(row["connected"], true, "{row}");
    assert_eq!(
        row["relayed"], true,
        "oslo reaches bergen only through the relay: {row}"
    );
    let o = oslo.status();
    assert!(
        array_of(relay_of(&o), "relayed_peers")
            .iter()
            .any(|p| p.as_str() == Some(bergen.peer_id())),
        "{o}"
    );
    wait_until(
        secs(60),
        "hole punching between bergen and oslo gives up",
        || {
            [bergen, oslo].iter().any(|n| {
                relay_of(&n.status())["hole_punch"]["failed"]
                    .as_u64()
                    .is_some_and(|k| k >= 1)
            })
        },
    );
    let row = peer_row(oslo, bergen).expect("oslo lists bergen");
    assert_eq!(row["relayed"], true, "still only relayed: {row}");
    let ks_status = ks.status();
    assert!(
        relay_of(&ks_status)["circuits_served"].as_u64() >= Some(2),
        "KS relayed both connections: {ks_status}"
    );
    assert!(
        files_containing(ks.home(), SECRET.as_bytes()).is_empty(),
        "KS relayed the encrypted bytes but holds none of the restricted content"
    );
    println!(
        "NAT traversal: AutoNAT verdicts and 3 reservations {:.1} s after start; \
         connect to hole-punched direct connection {:.1} s; restricted artefact over the \
         relay to Oslo {:.2} s",
        reserved_after.as_secs_f64(),
        punched_after.as_secs_f64(),
        relayed_transfer.as_secs_f64()
    );
    println!(
        "NAT traversal: KS {}; bergen {}; trondheim {}; oslo {}",
        relay_of(&ks.status()),
        relay_of(&bergen.status()),
        relay_of(&trondheim.status()),
        relay_of(&oslo.status())
    );
}
