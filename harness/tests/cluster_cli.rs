//! `skeptic cluster` end to end: it starts real node processes, they serve
//! reads and writes, and SIGINT stops and reaps every one of them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn alive(pid: u32) -> bool {
    // A reaped process has no /proc entry; a zombie would still show "Z".
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    stat.split_whitespace().nth(2) != Some("Z")
}

#[tokio::test]
async fn a_cluster_serves_and_sigint_leaves_no_process_behind() {
    let mut cluster = Command::new(env!("CARGO_BIN_EXE_skeptic"))
        .args(["cluster", "--nodes", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("skeptic cluster starts");
    let stdout = cluster.stdout.take().expect("piped");
    let mut nodes = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a line");
        if let Some(rest) = line.strip_prefix("node ") {
            // "1: http://127.0.0.1:PORT (pid N)"
            let url = rest.split_whitespace().nth(1).expect("a url").to_string();
            let pid: u32 = rest
                .rsplit("pid ")
                .next()
                .and_then(|p| p.trim_end_matches(')').parse().ok())
                .expect("a pid");
            nodes.push((url, pid));
        }
        if line.starts_with("Ctrl-C") {
            break;
        }
    }
    assert_eq!(nodes.len(), 3, "three nodes announced");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut written = false;
    while Instant::now() < deadline && !written {
        let r = http
            .post(format!("{}/kv/set", nodes[0].0))
            .json(&serde_json::json!({"key": "k", "value": "v"}))
            .send()
            .await;
        written = r.is_ok_and(|r| r.status().is_success());
        if !written {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(written, "the cluster acknowledged a write");
    let v: serde_json::Value = http
        .post(format!("{}/kv/get", nodes[2].0))
        .json(&serde_json::json!({"key": "k"}))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(v["value"], "v");
    let pid = cluster.id().to_string();
    let sent = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = cluster.try_wait().expect("wait works") {
            assert!(status.success(), "clean exit on SIGINT: {status}");
            break;
        }
        assert!(Instant::now() < deadline, "skeptic cluster did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (url, pid) in &nodes {
        assert!(!alive(*pid), "node {url} (pid {pid}) outlived the cluster");
    }
}
