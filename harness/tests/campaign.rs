//! `skeptic campaign` end to end, on simulator entries (seconds, not
//! minutes): outcomes against expectations, exit statuses, the outputs,
//! the rerun command, shards and their merge.

use std::path::Path;
use std::process::{Command, Output};

fn skeptic() -> Command {
    Command::new(env!("CARGO_BIN_EXE_skeptic"))
}

const FILE: &str = r#"
name = "t"
[[sims]]
targets = ["multi/log"]
seeds = "0..20"
[[sims]]
targets = ["multi/local"]
seeds = "0..5"
expect = "caught"
# Correct: it will not be caught, and the campaign must say so.
[[sims]]
targets = ["basic/log"]
seeds = "0..5"
expect = "caught"
# Not linearizable, and expected valid: an anomaly.
[[sims]]
targets = ["multi/local"]
seeds = "0..3"
"#;

fn campaign(dir: &Path, text: &str, extra: &[&str]) -> Output {
    let file = dir.join("c.toml");
    std::fs::write(&file, text).expect("write");
    skeptic()
        .arg("campaign")
        .arg(&file)
        .arg("--store")
        .arg(dir.join("store"))
        .args(extra)
        .output()
        .expect("runs")
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

#[test]
fn a_campaign_judges_each_run_against_its_expectation() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = campaign(tmp.path(), FILE, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let dir = tmp.path().join("store/campaign-t/latest");
    let j = json(&dir.join("campaign.json"));
    let outcomes: Vec<&str> = j["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["outcome"].as_str().expect("outcome"))
        .collect();
    assert_eq!(
        outcomes,
        ["pass", "pass", "not-caught", "anomaly"],
        "{stdout}"
    );
    let junit = std::fs::read_to_string(dir.join("junit.xml")).expect("junit");
    assert!(
        junit.contains("tests=\"4\"") && junit.contains("failures=\"2\""),
        "{junit}"
    );
    assert!(std::fs::read_to_string(dir.join("summary.md"))
        .expect("md")
        .contains("NOT CAUGHT"));
    // The printed rerun command reproduces the anomaly, seed for seed.
    let rerun = j["runs"][3]["rerun"].as_str().expect("rerun").to_string();
    assert!(stdout.contains(&rerun), "{stdout}");
    let words: Vec<&str> = rerun.split(' ').collect();
    let again = Command::new(words[0])
        .args(&words[1..])
        .output()
        .expect("reruns");
    assert_eq!(again.status.code(), Some(1), "{rerun}");
}

#[test]
fn shards_are_disjoint_and_merge_into_the_whole() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut stores = Vec::new();
    for k in 1..=2 {
        let d = tmp.path().join(format!("shard{k}"));
        std::fs::create_dir_all(&d).expect("dir");
        let out = campaign(&d, FILE, &["--shard", &format!("{k}/2")]);
        assert!(matches!(out.status.code(), Some(0 | 1)));
        stores.push(d.join("store"));
    }
    let merged_store = tmp.path().join("merged");
    let out = skeptic()
        .args(["campaign", "merge"])
        .args(&stores)
        .arg("--store")
        .arg(&merged_store)
        .output()
        .expect("merges");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let j = json(&merged_store.join("campaign-t-merged/latest/campaign.json"));
    let ids: Vec<&str> = j["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["run"]["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in matrix order: {ids:?}"
    );
    assert_eq!(j["shard"], "merged");
}

#[test]
fn errors_are_listed_apart_and_fail_only_when_strict() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let text = r#"
name = "e"
[[sims]]
targets = ["multi/log"]
seeds = "0..5"
[[sims]]
targets = ["multi/log"]
seeds = "0..5"
args = ["--no-such-flag"]
"#;
    let out = campaign(tmp.path(), text, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Listed apart"), "{stdout}");
    assert_eq!(
        campaign(tmp.path(), text, &["--strict"]).status.code(),
        Some(2)
    );
}

#[test]
fn a_bad_campaign_file_is_refused_with_its_name() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = campaign(tmp.path(), "name = \"x\"\n[[tests]]\nworkloads = 3\n", &[]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("c.toml"), "{err}");
    assert!(
        !tmp.path().join("store").exists(),
        "nothing was started or written"
    );
}

#[test]
fn the_repository_campaigns_parse() {
    for f in ["smoke.toml", "nightly.toml"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../campaigns")
            .join(f);
        let out = skeptic()
            .arg("campaign")
            .arg(&path)
            .arg("--list")
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Processes whose command line names `path` (the nodes of runs stored
/// under it), the campaign's own `skeptic` processes left out.
fn nodes_under(path: &Path) -> Vec<String> {
    let needle = path.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        if entry.file_name().to_string_lossy().parse::<u32>().is_err() {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&needle)
            && !cmdline.contains(" campaign ")
            && !cmdline.contains(" test ")
        {
            found.push(cmdline);
        }
    }
    found
}

/// Every address a node of a run under `store` listened on, from the
/// `serving ... http=A peers=B` line each node logs.
fn node_addresses(store: &Path) -> Vec<std::net::SocketAddr> {
    let mut addrs = Vec::new();
    let mut dirs = vec![store.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir").flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            if meta.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "log")
                && path.parent().is_some_and(|p| p.ends_with("logs"))
            {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for line in text.lines().filter(|l| l.contains(" serving ")) {
                    for word in line.split_whitespace() {
                        if let Some(a) = word
                            .strip_prefix("http=")
                            .or_else(|| word.strip_prefix("peers="))
                        {
                            addrs.push(a.parse().expect("an address"));
                        }
                    }
                }
            }
        }
    }
    addrs
}

/// The IPv4 TCP sockets listening now, from `/proc/net/tcp`.
fn listening() -> Vec<std::net::SocketAddr> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // State 0A is LISTEN.
            if cols.get(3) != Some(&"0A") {
                return None;
            }
            let (ip, port) = cols.get(1)?.split_once(':')?;
            let ip = u32::from_str_radix(ip, 16).ok()?;
            let port = u16::from_str_radix(port, 16).ok()?;
            // The kernel prints the address in host (little-endian) order.
            let ip = std::net::Ipv4Addr::from(ip.swap_bytes());
            Some(std::net::SocketAddr::from((ip, port)))
        })
        .collect()
}

#[test]
fn a_campaign_of_20_runs_leaves_no_process_and_no_port_behind() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let seeds: Vec<String> = (1..=20).map(|s| s.to_string()).collect();
    let text = format!(
        r#"
name = "twenty"
time_limit_s = 1
jobs = 4
[[tests]]
workloads = ["register"]
nemeses = ["kill,pause"]
targets = ["multi/log"]
seeds = [{}]
args = ["--concurrency", "3", "--nemesis-interval", "0.3"]
"#,
        seeds.join(", ")
    );
    let out = campaign(tmp.path(), &text, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let j = json(
        &tmp.path()
            .join("store/campaign-twenty/latest/campaign.json"),
    );
    let runs = j["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 20);
    assert!(runs.iter().all(|r| r["outcome"] == "pass"), "{stdout}");
    // Each run's three nodes really ran and listened (two ports each)...
    let used = node_addresses(&tmp.path().join("store"));
    assert!(used.len() >= 20 * 3 * 2, "{} node addresses", used.len());
    // ...and nothing of them is left.
    assert_eq!(nodes_under(tmp.path()), Vec::<String>::new());
    let still: Vec<_> = listening()
        .into_iter()
        .filter(|a| used.contains(a))
        .collect();
    assert!(still.is_empty(), "still listening: {still:?}");
}

#[test]
fn a_harness_that_panics_is_reported_crashed_and_leaves_a_readable_history() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let text = r#"
name = "crash"
time_limit_s = 2
[[tests]]
workloads = ["register"]
nemeses = ["kill"]
targets = ["multi/log"]
seeds = [3]
args = ["--concurrency", "3", "--nemesis-interval", "0.5"]
"#;
    let file = tmp.path().join("c.toml");
    std::fs::write(&file, text).expect("write");
    let out = skeptic()
        .arg("campaign")
        .arg(&file)
        .arg("--store")
        .arg(tmp.path().join("store"))
        .env("SKEPTIC_PLANT_HARNESS_PANIC", "load")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Listed apart: it fails the campaign only with --strict.
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let j = json(&tmp.path().join("store/campaign-crash/latest/campaign.json"));
    let run = &j["runs"][0];
    assert_eq!(run["outcome"], "crashed", "{stdout}");
    assert_eq!(run["exit_code"], 101);
    let message = run["message"].as_str().expect("message");
    assert!(message.contains("panicked"), "{message}");
    assert!(stdout.contains("crashed"), "{stdout}");
    // The history it kept is whole and read by `skeptic check`.
    let history = message
        .split_whitespace()
        .last()
        .map(std::path::PathBuf::from)
        .expect("a history path");
    let lines = std::fs::read_to_string(&history).expect("the history");
    assert!(lines.lines().count() > 10, "{lines}");
    let check = skeptic()
        .arg("check")
        .arg(&history)
        .output()
        .expect("check");
    assert!(
        matches!(check.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // Its nodes died with it.
    assert_eq!(nodes_under(tmp.path()), Vec::<String>::new());
}
