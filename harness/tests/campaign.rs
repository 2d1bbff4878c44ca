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
