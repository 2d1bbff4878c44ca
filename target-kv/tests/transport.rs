//! The peer-to-peer transport over real sockets on 127.0.0.1: delivery and
//! ordering, late starters, restarts, strangers, the block list, garbage,
//! bounded queues and shutdown.
//!
//! Ports come from the OS. Nothing waits on a fixed sleep: every wait polls
//! or awaits a condition under a deadline, and every test runs under an
//! overall timeout.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use target_kv::transport::{BlockList, NodeId, Transport, TransportConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};

/// Bound on any single wait for a condition.
const WAIT: Duration = Duration::from_secs(10);
/// Bound on a whole test.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);
const CLUSTER: u64 = 0x5eed;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Msg {
    Seq { n: u64 },
    Text(String),
}

/// Mirrors the transport's private handshake struct, so raw-socket tests
/// can get past the handshake. If the wire format changes, the garbage
/// test's "valid hello" cases fail loudly rather than pass vacuously.
#[derive(Serialize)]
struct WireHello {
    cluster_id: u64,
    from: NodeId,
}

/// One running transport and the far ends of its channels.
struct Node<M = Msg> {
    addr: SocketAddr,
    transport: Transport<M>,
    inbox: mpsc::Receiver<(NodeId, M)>,
    blocked: BlockList,
}

impl<M: Serialize + DeserializeOwned + Send + Sync + 'static> Node<M> {
    fn start(cfg: TransportConfig, listener: TcpListener) -> Node<M> {
        let addr = listener.local_addr().expect("listener address");
        let (tx, inbox) = mpsc::channel(8192);
        let blocked = BlockList::default();
        let transport = Transport::start(cfg, listener, tx, blocked.clone());
        Node {
            addr,
            transport,
            inbox,
            blocked,
        }
    }

    /// The next message, or a panic naming `what` after [`WAIT`].
    async fn recv(&mut self, what: &str) -> (NodeId, M) {
        match timeout(WAIT, self.inbox.recv()).await {
            Ok(Some(got)) => got,
            Ok(None) => panic!("{what}: inbox closed"),
            Err(_) => panic!(
                "{what}: nothing within {WAIT:?}; stats {:?}",
                self.transport.stats()
            ),
        }
    }

    fn reachable(&self, peer: NodeId) -> bool {
        self.transport
            .reachable()
            .get(&peer)
            .copied()
            .unwrap_or(false)
    }
}

/// Runs a test body under [`TEST_TIMEOUT`].
async fn bounded(body: impl Future<Output = ()>) {
    timeout(TEST_TIMEOUT, body).await.expect("test timed out");
}

async fn listen() -> TcpListener {
    TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
}

/// Binds `addr` again, retrying for up to 2 s in case the OS still holds it.
async fn rebind(addr: SocketAddr) -> TcpListener {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return listener,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("could not bind {addr} again: {e}"),
        }
    }
}

/// An address nothing listens on: bound by the OS, then released.
async fn dead_addr() -> SocketAddr {
    listen().await.local_addr().expect("listener address")
}

/// Polls `cond` until it holds, panicking with `what` after [`WAIT`].
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A configuration with quick redials, for tests.
fn config(me: NodeId, addrs: &BTreeMap<NodeId, SocketAddr>) -> TransportConfig {
    TransportConfig {
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(200),
        ..TransportConfig::new(me, CLUSTER, addrs.clone())
    }
}

/// Starts one node per listener, all peers of each other.
fn cluster(listeners: Vec<(NodeId, TcpListener)>) -> BTreeMap<NodeId, Node> {
    let addrs: BTreeMap<NodeId, SocketAddr> = listeners
        .iter()
        .map(|(id, l)| (*id, l.local_addr().expect("listener address")))
        .collect();
    listeners
        .into_iter()
        .map(|(id, l)| (id, Node::start(config(id, &addrs), l)))
        .collect()
}

async fn cluster_of(ids: &[NodeId]) -> BTreeMap<NodeId, Node> {
    let mut listeners = Vec::new();
    for &id in ids {
        listeners.push((id, listen().await));
    }
    cluster(listeners)
}

async fn shutdown_all(nodes: BTreeMap<NodeId, Node>) {
    for (_, node) in nodes {
        node.transport.shutdown().await;
    }
}

/// Waits until the far end closes `stream` (end of stream or reset).
async fn closed_by_peer(stream: &mut TcpStream, what: &str) {
    let mut buf = [0u8; 64];
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) => continue,
            Err(_) => panic!("{what}: connection still open after {WAIT:?}"),
        }
    }
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(payload.len())
        .expect("small payload")
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(payload);
    out
}

fn hello_frame(cluster_id: u64, from: NodeId) -> Vec<u8> {
    frame(&postcard::to_allocvec(&WireHello { cluster_id, from }).expect("encode hello"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_deliver_everything_in_order_per_sender() {
    bounded(async {
        const N: u64 = 500;
        let mut nodes = cluster_of(&[1, 2, 3]).await;
        let ids: Vec<NodeId> = nodes.keys().copied().collect();
        // Sent before any connection is up: the queues hold them.
        for n in 0..N {
            for &from in &ids {
                for &to in &ids {
                    if from != to {
                        nodes[&from].transport.send(to, Msg::Seq { n });
                    }
                }
            }
        }
        for &from in &ids {
            for &to in &ids {
                if from != to {
                    nodes[&from]
                        .transport
                        .send(to, Msg::Text(format!("{from}->{to}")));
                }
            }
        }
        for (&me, node) in nodes.iter_mut() {
            let mut next: BTreeMap<NodeId, u64> = BTreeMap::new();
            let mut done = 0;
            while done < ids.len() - 1 {
                let (from, msg) = node.recv(&format!("node {me}")).await;
                assert!(from != me && ids.contains(&from), "bad sender {from}");
                let expected = next.entry(from).or_insert(0);
                match msg {
                    Msg::Seq { n } => {
                        assert_eq!(n, *expected, "node {me}: out of order from {from}");
                        *expected += 1;
                    }
                    Msg::Text(text) => {
                        assert_eq!(*expected, N, "node {me}: {from} ended early");
                        assert_eq!(text, format!("{from}->{me}"));
                        done += 1;
                    }
                }
            }
            // The counter is bumped just after the push, so it may trail.
            wait_until("every frame counted as received", || {
                node.transport.stats().received == 2 * (N + 1)
            })
            .await;
            let stats = node.transport.stats();
            assert_eq!(stats.dropped(), 0, "node {me}: {stats:?}");
        }
        for node in nodes.values() {
            wait_until("all frames counted as sent", || {
                node.transport.stats().sent == 2 * (N + 1)
            })
            .await;
        }
        shutdown_all(nodes).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_starts_later_gets_what_was_queued_for_it() {
    bounded(async {
        let l1 = listen().await;
        let addr2 = dead_addr().await;
        let addrs = BTreeMap::from([(1, l1.local_addr().expect("address")), (2, addr2)]);
        let n1 = Node::start(config(1, &addrs), l1);
        for n in 0..100 {
            n1.transport.send(2, Msg::Seq { n });
        }
        wait_until("a failed dial to the absent node", || {
            n1.transport.stats().connect_failures > 0
        })
        .await;
        assert!(!n1.reachable(2));

        let mut n2 = Node::start(config(2, &addrs), rebind(addr2).await);
        for n in 0..100 {
            assert_eq!(n2.recv("late node").await, (1, Msg::Seq { n }));
        }
        wait_until("node 1 sees node 2", || n1.reachable(2)).await;
        n1.transport.shutdown().await;
        n2.transport.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_peer_is_reconnected() {
    bounded(async {
        let mut nodes = cluster_of(&[1, 2]).await;
        let mut n2 = nodes.remove(&2).expect("node 2");
        let mut n1 = nodes.remove(&1).expect("node 1");
        n1.transport.send(2, Msg::Text("before".into()));
        assert_eq!(n2.recv("first life").await, (1, Msg::Text("before".into())));

        let addr2 = n2.addr;
        let addrs = BTreeMap::from([(1, n1.addr), (2, addr2)]);
        n2.transport.shutdown().await;
        // Node 1 notices the close without having to write anything.
        wait_until("node 1 to see node 2 go", || !n1.reachable(2)).await;

        // Queued while node 2 is down, delivered to its next life.
        n1.transport.send(2, Msg::Text("after".into()));
        let mut n2 = Node::start(config(2, &addrs), rebind(addr2).await);
        assert_eq!(n2.recv("second life").await, (1, Msg::Text("after".into())));
        n2.transport.send(1, Msg::Text("hello again".into()));
        assert_eq!(
            n1.recv("node 1").await,
            (2, Msg::Text("hello again".into()))
        );
        wait_until("node 1 to see node 2 again", || n1.reachable(2)).await;
        assert!(n1.transport.stats().connects >= 2);
        n1.transport.shutdown().await;
        n2.transport.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_are_refused() {
    bounded(async {
        let l1 = listen().await;
        let addr1 = l1.local_addr().expect("address");
        let (l2, l3, l7) = (listen().await, listen().await, listen().await);
        let addrs = BTreeMap::from([
            (1, addr1),
            (2, l2.local_addr().expect("address")),
            (3, l3.local_addr().expect("address")),
        ]);
        let mut n1 = Node::start(config(1, &addrs), l1);
        let n2 = Node::start(config(2, &addrs), l2);
        // Node 3 is a configured peer, but of another cluster.
        let n3 = Node::start(
            TransportConfig {
                cluster_id: CLUSTER + 1,
                ..config(3, &addrs)
            },
            l3,
        );
        // Node 7 is in the right cluster but not one of node 1's peers.
        let addrs7 = BTreeMap::from([(1, addr1), (7, l7.local_addr().expect("address"))]);
        let n7 = Node::start(config(7, &addrs7), l7);
        for n in 0..10 {
            n3.transport.send(1, Msg::Seq { n });
            n7.transport.send(1, Msg::Seq { n });
        }
        // Both strangers were turned away more than once (they redial).
        wait_until("repeated rejections", || {
            n3.transport.stats().connects >= 2
                && n7.transport.stats().connects >= 2
                && n1.transport.stats().rejected_handshakes >= 4
        })
        .await;
        n2.transport.send(1, Msg::Text("member".into()));
        assert_eq!(n1.recv("member").await, (2, Msg::Text("member".into())));
        assert!(
            n1.inbox.try_recv().is_err(),
            "only the member's message may arrive"
        );
        // The counter is bumped just after the push, so it may trail a bit.
        wait_until("the member's frame counted", || {
            n1.transport.stats().received == 1
        })
        .await;
        for node in [n1, n2, n3, n7] {
            node.transport.shutdown().await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_cuts_both_directions_until_unblocked() {
    bounded(async {
        let mut nodes = cluster_of(&[1, 2]).await;
        let mut n2 = nodes.remove(&2).expect("node 2");
        let mut n1 = nodes.remove(&1).expect("node 1");
        wait_until("both connected", || n1.reachable(2) && n2.reachable(1)).await;

        n1.blocked.block(&[2]);
        assert!(!n1.reachable(2), "a blocked peer is unreachable at once");
        assert!(n2.reachable(1), "node 2 has no block of its own");
        for n in 0..20 {
            n1.transport.send(2, Msg::Seq { n });
        }
        // Refused in `send` itself, synchronously.
        assert_eq!(n1.transport.stats().dropped_blocked, 20);
        for n in 0..20 {
            n2.transport.send(1, Msg::Seq { n });
        }
        wait_until("node 1 to discard node 2's frames", || {
            n1.transport.stats().dropped_blocked == 40
        })
        .await;
        assert!(
            n1.inbox.try_recv().is_err(),
            "nothing from 2 delivered at 1"
        );

        n1.blocked.unblock(&[2]);
        assert!(n1.reachable(2), "the connection was never torn down");
        // Per-sender order means anything that slipped through while
        // blocked would arrive before these.
        n1.transport.send(2, Msg::Text("after".into()));
        n2.transport.send(1, Msg::Text("after".into()));
        assert_eq!(n2.recv("node 2").await, (1, Msg::Text("after".into())));
        assert_eq!(n1.recv("node 1").await, (2, Msg::Text("after".into())));
        assert_eq!(n1.transport.stats().connects, 1);
        assert_eq!(n2.transport.stats().connects, 1);
        n1.transport.shutdown().await;
        n2.transport.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_closes_only_the_offending_connection() {
    bounded(async {
        let mut nodes = cluster_of(&[1, 2]).await;
        let mut n2 = nodes.remove(&2).expect("node 2");
        let mut n1 = nodes.remove(&1).expect("node 1");
        let addr1 = n1.addr;

        // Deterministic noise, no `rand` needed.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let mut short_noise = vec![0, 0, 0, 8];
        short_noise.extend_from_slice(&noise);
        let mut huge_after_hello = hello_frame(CLUSTER, 2);
        huge_after_hello.extend_from_slice(&u32::MAX.to_be_bytes());
        let mut cut_after_hello = hello_frame(CLUSTER, 2);
        cut_after_hello.extend_from_slice(&[0, 0]);
        let cases: [(&str, Vec<u8>); 4] = [
            ("huge length", u32::MAX.to_be_bytes().to_vec()),
            ("noise", short_noise),
            ("huge length after a valid hello", huge_after_hello),
            ("half a length prefix, then EOF", cut_after_hello),
        ];
        for (what, bytes) in &cases {
            let mut raw = TcpStream::connect(addr1).await.expect("connect");
            raw.write_all(bytes).await.expect("write garbage");
            if what.ends_with("EOF") {
                raw.shutdown().await.expect("half-close");
            }
            closed_by_peer(&mut raw, what).await;
        }
        let stats = n1.transport.stats();
        assert!(stats.rejected_handshakes >= 2, "{stats:?}");
        assert!(stats.protocol_errors >= 2, "{stats:?}");

        // A complete frame that does not decode costs only that frame: the
        // next one on the same connection is delivered.
        let errors_before = n1.transport.stats().protocol_errors;
        let mut raw = TcpStream::connect(addr1).await.expect("connect");
        let mut bytes = hello_frame(CLUSTER, 2);
        bytes.extend_from_slice(&frame(&[0xff; 32]));
        let valid = Msg::Text("after noise".into());
        bytes.extend_from_slice(&frame(&postcard::to_allocvec(&valid).expect("encode")));
        raw.write_all(&bytes).await.expect("write");
        assert_eq!(n1.recv("after an undecodable frame").await, (2, valid));
        assert_eq!(n1.transport.stats().protocol_errors, errors_before + 1);
        raw.write_all(&u32::MAX.to_be_bytes()).await.expect("write");
        closed_by_peer(&mut raw, "huge length after an undecodable frame").await;

        // The real peer's connections were never disturbed.
        n2.transport.send(1, Msg::Text("still here".into()));
        assert_eq!(n1.recv("node 1").await, (2, Msg::Text("still here".into())));
        n1.transport.send(2, Msg::Text("me too".into()));
        assert_eq!(n2.recv("node 2").await, (1, Msg::Text("me too".into())));
        assert_eq!(n2.transport.stats().connects, 1);
        n1.transport.shutdown().await;
        n2.transport.shutdown().await;
    })
    .await;
}

/// The node driver's real message type must survive postcard: a value
/// that serializes but cannot be deserialized would be dropped by every
/// receiver. Internally tagged enums (`#[serde(tag = ...)]`) are the usual
/// culprit, since postcard cannot decode them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consensus_messages_cross_the_wire() {
    use target_kv::kv::{Command, KvOp};
    use target_kv::paxos::{Ballot, Batch, Msg as PaxosMsg};
    bounded(async {
        let (l1, l2) = (listen().await, listen().await);
        let addrs = BTreeMap::from([
            (1, l1.local_addr().expect("address")),
            (2, l2.local_addr().expect("address")),
        ]);
        let n1: Node<PaxosMsg> = Node::start(config(1, &addrs), l1);
        let mut n2: Node<PaxosMsg> = Node::start(config(2, &addrs), l2);
        let ballot = Ballot { round: 3, node: 1 };
        let heartbeat = PaxosMsg::Heartbeat {
            ballot,
            first_unchosen: 7,
            sent_ms: 1234,
        };
        let command = |op| Command {
            client: 9,
            seq: 1,
            op,
        };
        let accept = PaxosMsg::Accept {
            ballot,
            slot: 7,
            batch: Batch::from(vec![
                command(KvOp::Set {
                    key: "k".into(),
                    value: "v".into(),
                }),
                command(KvOp::Cas {
                    key: "k".into(),
                    from: None,
                    to: "w".into(),
                }),
            ]),
            chosen_upto: 6,
        };
        for msg in [&heartbeat, &accept, &heartbeat] {
            n1.transport.send(2, msg.clone());
        }
        assert_eq!(n2.recv("heartbeat").await, (1, heartbeat.clone()));
        let (from, got) = n2.recv("accept").await;
        let stats = n2.transport.stats();
        assert_eq!(
            (from, &got),
            (1, &accept),
            "an Accept with commands did not survive postcard ({} undecodable frames); \
             check the serde attributes of every type inside paxos::Msg",
            stats.protocol_errors
        );
        assert_eq!(n2.recv("heartbeat").await, (1, heartbeat));
        n1.transport.shutdown().await;
        n2.transport.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_are_bounded() {
    bounded(async {
        const QUEUE_MAX: usize = 16;
        let l1 = listen().await;
        let addrs = BTreeMap::from([
            (1, l1.local_addr().expect("address")),
            (2, dead_addr().await),
        ]);
        let n1 = Node::start(
            TransportConfig {
                queue_max: QUEUE_MAX,
                ..config(1, &addrs)
            },
            l1,
        );
        for n in 0..(10 * QUEUE_MAX) as u64 {
            n1.transport.send(2, Msg::Seq { n });
        }
        n1.transport.send(99, Msg::Text("nobody".into()));
        let stats = n1.transport.stats();
        // Node 2 never answers, so the sender never drains its queue: all
        // but the first `QUEUE_MAX` messages are refused.
        assert_eq!(
            stats.dropped_queue_full,
            (9 * QUEUE_MAX) as u64,
            "{stats:?}"
        );
        assert_eq!(stats.dropped_unknown_peer, 1, "{stats:?}");
        assert_eq!(stats.sent, 0, "{stats:?}");
        n1.transport.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_and_drop_leave_nothing_behind() {
    bounded(async {
        let metrics = tokio::runtime::Handle::current().metrics();
        let no_tasks = || metrics.num_alive_tasks() == 0;
        let mut nodes = cluster_of(&[1, 2]).await;
        let mut n2 = nodes.remove(&2).expect("node 2");
        let n1 = nodes.remove(&1).expect("node 1");
        n1.transport.send(2, Msg::Text("up".into()));
        assert_eq!(n2.recv("node 2").await, (1, Msg::Text("up".into())));
        // A connection that never says hello must not hold up shutdown.
        let mut idle = TcpStream::connect(n1.addr).await.expect("connect");
        wait_until("node 2 to reach node 1", || n2.reachable(1)).await;

        let addr1 = n1.addr;
        n1.transport.shutdown().await;
        // The listener is gone: the port can be bound again.
        drop(rebind(addr1).await);
        // So are the accepted sockets.
        closed_by_peer(&mut idle, "idle connection").await;
        wait_until("node 2 to see node 1 go", || !n2.reachable(1)).await;
        n2.transport.shutdown().await;
        // The metric may lag on a multi-threaded runtime, hence the poll.
        wait_until("every task to finish after shutdown", no_tasks).await;

        // Dropping without `shutdown` stops the tasks too, without hanging.
        let mut nodes = cluster_of(&[3, 4]).await;
        let n3 = nodes.remove(&3).expect("node 3");
        let mut n4 = nodes.remove(&4).expect("node 4");
        n3.transport.send(4, Msg::Text("bye".into()));
        assert_eq!(n4.recv("node 4").await, (3, Msg::Text("bye".into())));
        let addr3 = n3.addr;
        drop(n3);
        drop(n4);
        wait_until("every task to finish after drop", no_tasks).await;
        drop(rebind(addr3).await);
    })
    .await;
}

/// Rough loopback throughput for ~100-byte messages between two nodes.
/// Run with `cargo test -p target-kv --release --test transport -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run by hand"]
async fn throughput_between_two_nodes() {
    bounded(async {
        const TOTAL: u64 = 1_000_000;
        // Keep fewer messages in flight than the queue holds so that none
        // are dropped and the figure is for delivered messages.
        const WINDOW: u64 = 2048;
        let mut nodes = cluster_of(&[1, 2]).await;
        let mut n2 = nodes.remove(&2).expect("node 2");
        let n1 = nodes.remove(&1).expect("node 1");
        wait_until("connected", || n1.reachable(2)).await;
        let body = "x".repeat(96);
        let msg = Msg::Text(body);
        let bytes = postcard::to_allocvec(&msg).expect("encode").len();

        let started = Instant::now();
        let (mut sent, mut received) = (0u64, 0u64);
        while received < TOTAL {
            while sent < TOTAL && sent - received < WINDOW {
                n1.transport.send(2, msg.clone());
                sent += 1;
            }
            n2.recv("throughput").await;
            received += 1;
            while n2.inbox.try_recv().is_ok() {
                received += 1;
            }
        }
        let elapsed = started.elapsed();
        let stats = n1.transport.stats();
        assert_eq!(stats.dropped(), 0, "{stats:?}");
        println!(
            "{TOTAL} messages of {bytes} bytes in {elapsed:.2?}: {:.0} messages/s",
            TOTAL as f64 / elapsed.as_secs_f64()
        );
        n1.transport.shutdown().await;
        n2.transport.shutdown().await;
    })
    .await;
}
