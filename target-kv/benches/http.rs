//! Round trips per second through one node's HTTP API: a one-node bundled
//! store (Multi-Paxos, reads through the log, `FsyncPolicy::Never`, so
//! neither the disk nor a network of peers is measured) started in-process
//! on 127.0.0.1 with OS-chosen ports, the same way `skeptic-kv` and
//! `skeptic node` start one (`node::start` plus `http::router`), and one
//! reqwest client sending `POST /kv/set` and `POST /kv/get` one at a time
//! over a kept-alive connection. Server and client share one multi-thread
//! tokio runtime and the bench thread blocks on each request, so every
//! round trip wakes threads as it would between a client and a node in
//! separate processes. `GET /status`, which the HTTP task answers
//! without asking the node's core task, is measured too, for reference.
//!
//! Run: `cargo bench -p target-kv --bench http`. Criterion reports the time
//! per round trip and round trips per second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use target_kv::node::{self, NodeConfig, NodeHandle};
use target_kv::paxos::{Mode, ReadMode};
use target_kv::storage::FsyncPolicy;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The node's own limit on waiting for consensus (the `--op-timeout-ms`
/// default).
const OP_TIMEOUT: Duration = Duration::from_millis(2000);

/// A running one-node store and what it takes to stop it.
struct OneNode {
    base: String,
    node: Arc<NodeHandle>,
    stop_http: oneshot::Sender<()>,
    http: tokio::task::JoinHandle<std::io::Result<()>>,
    _data_dir: tempfile::TempDir,
}

async fn start_one_node() -> OneNode {
    let data_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let peer_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind peer");
    let http_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind http");
    let peer_addr = peer_listener.local_addr().expect("peer address");
    let http_addr = http_listener.local_addr().expect("http address");
    // The `NodeArgs` defaults, except `fsync`.
    let cfg = NodeConfig {
        id: 1,
        peers: BTreeMap::from([(1, peer_addr)]),
        data_dir: data_dir.path().to_path_buf(),
        mode: Mode::Multi,
        reads: ReadMode::Log,
        fsync: FsyncPolicy::Never,
        cluster_id: 1,
        heartbeat_ms: 50,
        election_timeout_ms: (300, 600),
        lease_ms: 1000,
        snapshot_every: 10_000,
    };
    let node = Arc::new(node::start(cfg, peer_listener).await.expect("start node"));

    // A lone node elects itself after one election timeout.
    let mut status = node.status.clone();
    tokio::time::timeout(
        Duration::from_secs(5),
        status.wait_for(|s| s.role == "leader"),
    )
    .await
    .expect("the node became leader within 5 s")
    .expect("the node is running");

    let app = target_kv::http::router(node.clone(), OP_TIMEOUT, false);
    let (stop_http, stopped) = oneshot::channel();
    let http = tokio::spawn(async move {
        axum::serve(http_listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    OneNode {
        base: format!("http://{http_addr}"),
        node,
        stop_http,
        http,
        _data_dir: data_dir,
    }
}

impl OneNode {
    /// Stops the HTTP server, then the node's core task and transport.
    async fn shutdown(self) {
        let _ = self.stop_http.send(());
        self.http
            .await
            .expect("the HTTP task did not panic")
            .expect("the HTTP server ran");
        match Arc::try_unwrap(self.node) {
            Ok(node) => node.shutdown().await,
            Err(_) => panic!("HTTP handlers still hold the node after the server stopped"),
        }
    }
}

/// One POST and its whole reply; panics on anything but 200.
async fn post(client: &reqwest::Client, url: &str, body: &serde_json::Value) -> axum::body::Bytes {
    let resp = client.post(url).json(body).send().await.expect("request");
    assert_eq!(resp.status(), 200, "{url} answered {}", resp.status());
    resp.bytes().await.expect("reply body")
}

fn http(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let server = rt.block_on(start_one_node());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("reqwest client");
    let set_url = format!("{}/kv/set", server.base);
    let get_url = format!("{}/kv/get", server.base);
    let value = "v".repeat(64);

    // The reads below find a value: check the API answers as expected.
    rt.block_on(async {
        for k in 0..64 {
            let body = json!({ "key": format!("k{k}"), "value": value });
            post(&client, &set_url, &body).await;
        }
        let reply = post(&client, &get_url, &json!({ "key": "k1" })).await;
        let reply: serde_json::Value = serde_json::from_slice(&reply).expect("JSON reply");
        assert_eq!(reply, json!({ "value": value }));
    });

    let mut g = c.benchmark_group("http-one-node");
    g.throughput(Throughput::Elements(1));
    let mut i = 0u64;
    g.bench_function("set", |b| {
        b.iter(|| {
            i += 1;
            let body = json!({ "key": format!("k{}", i % 64), "value": value });
            rt.block_on(post(&client, &set_url, &body))
        })
    });
    g.bench_function("get", |b| {
        b.iter(|| {
            i += 1;
            let body = json!({ "key": format!("k{}", i % 64) });
            rt.block_on(post(&client, &get_url, &body))
        })
    });
    // For reference: the HTTP path alone, answered from the node's status
    // without a trip through the core task.
    let status_url = format!("{}/status", server.base);
    g.bench_function("status", |b| {
        b.iter(|| {
            rt.block_on(async {
                let resp = client.get(&status_url).send().await.expect("request");
                assert_eq!(resp.status(), 200);
                resp.bytes().await.expect("reply body")
            })
        })
    });
    g.finish();

    // Close the client's pooled connections first, so the graceful
    // shutdown has nothing to wait for.
    drop(client);
    rt.block_on(server.shutdown());
    rt.shutdown_timeout(Duration::from_secs(5));
}

criterion_group!(benches, http);
criterion_main!(benches);
