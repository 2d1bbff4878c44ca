//! `skeptic serve` over a store that real runs wrote (a test, a bench, a
//! campaign): its pages in plain HTTP and in headless Chromium, refusals,
//! and that it never writes to the store.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn skeptic() -> Command {
    Command::new(env!("CARGO_BIN_EXE_skeptic"))
}

struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One GET, as a browser would send it but with the path exactly as
/// given (no normalising of `..`): the status and the body.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connects");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("sends");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("reads");
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// Every file in the store with its size and modification time.
fn listing(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let m = std::fs::symlink_metadata(e.path()).expect("metadata");
            if m.is_dir() {
                stack.push(e.path());
            } else {
                out.push((e.path(), m.len(), m.modified().expect("mtime")));
            }
        }
    }
    out.sort();
    out
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|b| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(b).is_file()))
    })
}

fn run_ok(args: &[&str], store: &Path) {
    let out = skeptic()
        .args(args)
        .arg("--store")
        .arg(store)
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_browser_shows_what_the_store_holds_and_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    run_ok(
        &[
            "test",
            "--time-limit",
            "2",
            "--nemesis",
            "none",
            "--seed",
            "3",
        ],
        &store,
    );
    run_ok(
        &[
            "bench",
            "--targets",
            "multi/log",
            "--mix",
            "write",
            "--concurrency",
            "1",
            "--duration",
            "0.5",
            "--warmup",
            "0.1",
            "--rounds",
            "1",
            "--scenario",
            "none",
        ],
        &store,
    );
    let file = tmp.path().join("c.toml");
    std::fs::write(
        &file,
        "name = \"tiny\"\n[[sims]]\ntargets = [\"multi/log\"]\nseeds = \"0..3\"\n",
    )
    .expect("write");
    run_ok(&["campaign", file.to_str().expect("utf-8")], &store);
    let before = listing(&store);

    let mut child = KillOnDrop(
        skeptic()
            .arg("serve")
            .arg(&store)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("serves"),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("its address");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .expect("an address")
        .to_string();

    let (status, list) = get(&addr, "/");
    assert_eq!(status, 200);
    assert!(
        list.contains("register-bundled-multi-log") && list.contains("class=\"valid\""),
        "{list}"
    );
    assert!(list.contains("1 of 1 runs"), "{list}");
    let report = list
        .split("href=\"/files/")
        .filter_map(|s| s.split('"').next())
        .find(|l| l.ends_with("report.html"))
        .expect("a report link")
        .to_string();
    let (status, page) = get(&addr, &format!("/files/{report}"));
    assert_eq!(status, 200);
    assert!(
        page.contains("<html") || page.contains("<!doctype"),
        "{}",
        &page[..80.min(page.len())]
    );
    let history = report.replace("report.html", "history.jsonl");
    let (status, h) = get(&addr, &format!("/files/{history}"));
    assert!(status == 200 && h.contains("\"invoke\""), "{status}");
    assert!(list.contains("n1.log"), "node logs are linked");
    assert!(get(&addr, "/?verdict=anomaly").1.contains("0 of 1 runs"));
    assert!(get(&addr, "/?sort=throughput&order=asc")
        .1
        .contains("1 of 1 runs"));

    let (status, c) = get(&addr, "/campaigns");
    assert!(
        status == 200 && c.contains("tiny") && c.contains("1 pass"),
        "{c}"
    );
    let (status, b) = get(&addr, "/bench");
    assert!(
        status == 200 && b.contains("multi/log") && b.contains("<img"),
        "{b}"
    );

    for bad in [
        "/files/../../etc/passwd",
        "/files/%2e%2e/%2e%2e/etc/passwd",
        "/files//etc/passwd",
    ] {
        let (status, body) = get(&addr, bad);
        assert_eq!(status, 404, "{bad}: {body}");
    }
    let (status, body) = get(&addr, "/?sort=colour");
    assert_eq!(status, 400);
    let err: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
    assert!(
        err["error"].as_str().is_some_and(|e| e.contains("sort")),
        "{body}"
    );
    let (status, body) = get(&addr, "/no-such-page");
    assert_eq!(status, 404);
    assert!(
        serde_json::from_str::<serde_json::Value>(&body).is_ok(),
        "{body}"
    );

    match chromium() {
        None => {
            eprintln!("chromium is not installed: the real-browser part of this test is skipped")
        }
        Some(browser) => {
            let dom = |path: &str| {
                let out = Command::new(browser)
                    .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
                    .arg(format!("http://{addr}{path}"))
                    .stderr(Stdio::null())
                    .output()
                    .expect("chromium runs");
                String::from_utf8_lossy(&out.stdout).into_owned()
            };
            let page = dom("/?verdict=valid");
            assert!(
                page.contains("class=\"run\"") && page.contains("1 of 1 runs"),
                "{page}"
            );
            assert!(dom("/campaigns").contains("class=\"campaign\""));
            assert!(dom("/bench").contains("<img"));
        }
    }
    drop(child);
    assert_eq!(listing(&store), before, "serving wrote to the store");
}

#[test]
fn serve_refuses_a_store_that_is_not_there() {
    let out = skeptic()
        .args(["serve", "/nonexistent/store"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a results store"));
}
