//! Real processes on loopback: a 3-node `skeptic-kv` cluster, killed,
//! restarted, partitioned through its fault hooks, fed bad requests.

use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A cluster of node processes, killed and reaped on drop. Each node's
/// output goes to `n<id>.log` in the temp dir, and a failing test prints
/// those logs, so a flake can be read after the fact.
struct Cluster {
    http: Vec<SocketAddr>,
    peers: String,
    dir: tempfile::TempDir,
    children: Vec<Option<Child>>,
    extra: Vec<String>,
}

impl Cluster {
    fn start(n: usize, extra: &[&str]) -> Cluster {
        let mut http = target_kv::loopback::spare_addrs(2 * n).expect("free ports");
        let peer: Vec<SocketAddr> = http.split_off(n);
        let peers = target_kv::server::peers_arg(&peer);
        let mut c = Cluster {
            http,
            peers,
            dir: tempfile::tempdir().expect("a temp dir"),
            children: (0..n).map(|_| None).collect(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        for i in 0..n {
            c.spawn(i);
        }
        c
    }

    fn data_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("n{}", i + 1))
    }

    fn log_path(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("n{}.log", i + 1))
    }

    fn spawn(&mut self, i: usize) {
        // Appended to, so a restarted node's log follows its earlier life.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(i))
            .expect("a node log file");
        let err = log.try_clone().expect("a second handle on the log");
        let child = Command::new(env!("CARGO_BIN_EXE_skeptic-kv"))
            .args([
                "--id",
                &(i + 1).to_string(),
                "--listen",
                &self.http[i].to_string(),
                "--peers",
                &self.peers,
            ])
            .arg("--data-dir")
            .arg(self.data_dir(i))
            .args([
                "--fault-hooks",
                "--election-timeout-ms",
                "150",
                "--op-timeout-ms",
                "1000",
            ])
            .args(&self.extra)
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("skeptic-kv starts");
        self.children[i] = Some(child);
    }

    /// SIGKILL and reap.
    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.children[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self, i: usize, path: &str) -> String {
        format!("http://{}{}", self.http[i], path)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
        if std::thread::panicking() {
            for i in 0..self.children.len() {
                let log = std::fs::read_to_string(self.log_path(i)).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(200).collect();
                eprintln!("--- node {} log (last {} lines) ---", i + 1, tail.len());
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("a client")
}

async fn post(c: &reqwest::Client, url: &str, body: Value) -> Option<(u16, Value)> {
    let r = c.post(url).json(&body).send().await.ok()?;
    let status = r.status().as_u16();
    Some((status, r.json().await.ok()?))
}

async fn status(c: &reqwest::Client, cl: &Cluster, i: usize) -> Option<Value> {
    c.get(cl.url(i, "/status"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()
}

/// Waits (bounded) until some live node among `nodes` says it leads.
async fn leader(c: &reqwest::Client, cl: &Cluster, nodes: &[usize]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        for &i in nodes {
            if let Some(s) = status(c, cl, i).await {
                if s["role"] == "leader" {
                    return i;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut seen = Vec::new();
    for &i in nodes {
        seen.push((i, status(c, cl, i).await));
    }
    panic!("no leader among {nodes:?} within 20 s; their status now: {seen:?}");
}

/// Sets with retries through any node until one is acknowledged.
async fn set_ok(c: &reqwest::Client, cl: &Cluster, nodes: &[usize], key: &str, value: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        for &i in nodes {
            if let Some((200, _)) = post(
                c,
                &cl.url(i, "/kv/set"),
                json!({"key": key, "value": value}),
            )
            .await
            {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("set {key} was never acknowledged");
}

async fn get(c: &reqwest::Client, cl: &Cluster, nodes: &[usize], key: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        for &i in nodes {
            if let Some((200, v)) = post(c, &cl.url(i, "/kv/get"), json!({"key": key})).await {
                return v["value"].clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("get {key} never answered");
}

#[tokio::test]
async fn bad_requests_get_json_errors() {
    let cl = Cluster::start(3, &[]);
    let c = client();
    leader(&c, &cl, &[0, 1, 2]).await;
    let cases = [
        ("/kv/get", "{not json", 400, "bad_request"),
        ("/kv/set", r#"{"key":"k"}"#, 422, "bad_request"),
        ("/kv/nope", "{}", 404, "not_found"),
    ];
    for (path, body, want, code) in cases {
        let r = c
            .post(cl.url(0, path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("an answer");
        assert_eq!(r.status().as_u16(), want, "{path} {body}");
        let v: Value = r.json().await.expect("a JSON error");
        assert_eq!(v["error"], code, "{path}");
        assert_eq!(v["definite"], true);
    }
    let big = "x".repeat(70 * 1024);
    let (status, v) = post(&c, &cl.url(1, "/kv/set"), json!({"key": "k", "value": big}))
        .await
        .expect("an answer");
    assert_eq!((status, v["error"].as_str()), (413, Some("too_large")));
    let big = "x".repeat(300 * 1024);
    let (status, _) = post(&c, &cl.url(1, "/kv/set"), json!({"key": "k", "value": big}))
        .await
        .expect("an answer");
    assert_eq!(status, 413);
}

#[tokio::test]
async fn killing_the_leader_loses_no_acknowledged_write() {
    // Small snapshots, so the restarted node catches up by snapshot.
    let mut cl = Cluster::start(3, &["--snapshot-every", "5"]);
    let c = client();
    let first = leader(&c, &cl, &[0, 1, 2]).await;
    for i in 0..20 {
        set_ok(&c, &cl, &[first], &format!("k{i}"), &format!("v{i}")).await;
    }
    assert!(
        cl.data_dir(first).join("snapshot.bin").is_file(),
        "the leader snapshotted"
    );
    cl.kill(first);
    let rest: Vec<usize> = (0..3).filter(|&i| i != first).collect();
    let second = leader(&c, &cl, &rest).await;
    assert_ne!(second, first);
    for i in 0..20 {
        assert_eq!(
            get(&c, &cl, &rest, &format!("k{i}")).await,
            json!(format!("v{i}")),
            "k{i}"
        );
    }
    // The killed node comes back from its WAL and catches up.
    cl.spawn(first);
    for i in 20..40 {
        set_ok(&c, &cl, &rest, &format!("k{i}"), "later").await;
    }
    set_ok(&c, &cl, &rest, "after", "yes").await;
    assert_eq!(get(&c, &cl, &[first], "after").await, json!("yes"));
}

#[tokio::test]
async fn a_full_restart_keeps_the_state_and_a_torn_wal_tail_is_recovered() {
    let mut cl = Cluster::start(3, &[]);
    let c = client();
    let l = leader(&c, &cl, &[0, 1, 2]).await;
    for i in 0..10 {
        set_ok(&c, &cl, &[l], "k", &i.to_string()).await;
    }
    for i in 0..3 {
        cl.kill(i);
    }
    // A crash in the middle of a write: half a frame at the end of a log
    // (where the log ends, in the space the file allocates ahead).
    {
        use std::os::unix::fs::FileExt;
        let path = cl.data_dir(0).join("wal.log");
        let bytes = std::fs::read(&path).expect("the WAL");
        let (records, end) =
            target_kv::storage::recover_bytes(&path, &bytes).expect("an intact WAL");
        assert!(!records.is_empty());
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("the WAL");
        f.write_all_at(&[200, 0, 0, 0, 1, 2], end).expect("garbage");
    }
    for i in 0..3 {
        cl.spawn(i);
    }
    leader(&c, &cl, &[0, 1, 2]).await;
    assert_eq!(get(&c, &cl, &[0, 1, 2], "k").await, json!("9"));
    set_ok(&c, &cl, &[0], "k2", "after").await;
    assert_eq!(get(&c, &cl, &[0], "k2").await, json!("after"));
}

#[tokio::test]
async fn a_partitioned_leader_is_replaced_and_cannot_commit() {
    let cl = Cluster::start(3, &[]);
    let c = client();
    let old = leader(&c, &cl, &[0, 1, 2]).await;
    let others: Vec<u64> = (0..3u64)
        .filter(|&i| i as usize != old)
        .map(|i| i + 1)
        .collect();
    let (code, _) = post(&c, &cl.url(old, "/fault/block"), json!({"peers": others}))
        .await
        .expect("block");
    assert_eq!(code, 200);
    for &o in &others {
        let i = (o - 1) as usize;
        post(
            &c,
            &cl.url(i, "/fault/block"),
            json!({"peers": [old as u64 + 1]}),
        )
        .await
        .expect("block");
    }
    // The isolated node sees its peers as unreachable.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = status(&c, &cl, old).await.expect("status");
        if s["reachable"]
            .as_object()
            .is_some_and(|m| m.values().all(|v| v == false))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the isolated node still reaches peers: {s}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rest: Vec<usize> = others.iter().map(|&o| (o - 1) as usize).collect();
    let new = leader(&c, &cl, &rest).await;
    assert_ne!(new, old);
    // The old leader cannot get a write chosen: no acknowledgement.
    let r = post(
        &c,
        &cl.url(old, "/kv/set"),
        json!({"key": "k", "value": "lost"}),
    )
    .await;
    assert!(
        !matches!(r, Some((200, _))),
        "an isolated node acknowledged a write: {r:?}"
    );
    if let Some((_, v)) = &r {
        assert_eq!(
            v["definite"], false,
            "the write may still be chosen later: indeterminate"
        );
    }
    set_ok(&c, &cl, &rest, "k", "kept").await;
    let (code, _) = post(&c, &cl.url(old, "/fault/heal"), json!({}))
        .await
        .expect("heal");
    assert_eq!(code, 200);
    for &i in &rest {
        post(&c, &cl.url(i, "/fault/heal"), json!({}))
            .await
            .expect("heal");
    }
    assert_eq!(get(&c, &cl, &[old], "k").await, json!("kept"));
}

/// Requests without a session (no client/seq) in flight at once each get
/// their own reply. (They once shared the waiter key (0, 0), so one
/// command's result was handed to every waiting request: `skeptic test`
/// caught it as a cas that "succeeded" on a value never written.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_anonymous_requests_get_their_own_replies() {
    let cl = Cluster::start(3, &[]);
    let c = client();
    let all = [0, 1, 2];
    leader(&c, &cl, &all).await;
    const KEYS: usize = 24;
    for k in 0..KEYS {
        set_ok(&c, &cl, &all, &format!("k{k}"), &format!("v{k}")).await;
    }
    for _round in 0..5 {
        let reads = (0..KEYS).map(|k| {
            let c = c.clone();
            // Spread over the nodes: followers forward to the leader too.
            let url = cl.url(k % 3, "/kv/get");
            async move { (k, post(&c, &url, json!({"key": format!("k{k}")})).await) }
        });
        for (k, reply) in futures_join_all(reads).await {
            if let Some((200, v)) = reply {
                assert_eq!(
                    v["value"],
                    json!(format!("v{k}")),
                    "k{k} got another request's reply"
                );
            }
        }
    }
}

/// Runs futures concurrently on the current task and collects their outputs.
async fn futures_join_all<F>(futs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}
