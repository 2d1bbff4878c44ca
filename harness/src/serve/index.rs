//! What a results store holds, read (never written): test runs, campaigns
//! and bench runs, each with the files a page links to.

use serde::Serialize;
use std::path::{Path, PathBuf};

/// One `skeptic test` run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TestRun {
    /// Its directory, relative to the store (`register-bundled-multi-log/2026...Z`).
    pub path: String,
    /// The test's name.
    pub test: String,
    /// When it started (the directory's timestamp).
    pub time: String,
    /// `bundled`, `etcd`, `external`.
    pub target: String,
    /// `multi/log` (bundled) or empty.
    pub variant: String,
    /// The workload.
    pub workload: String,
    /// The nemesis, comma-separated.
    pub nemesis: String,
    /// `valid`, `anomaly`, `unknown`, `interrupted`; `running?` when the
    /// run has no results yet (still running, or killed).
    pub verdict: String,
    /// Successful operations per second.
    pub ok_per_s: Option<f64>,
    /// p99 latency, ms.
    pub p99_ms: Option<f64>,
    /// Files present, relative to the store: report, history, plots.
    pub files: Vec<String>,
    /// Node logs, relative to the store.
    pub logs: Vec<String>,
}

/// One campaign (or merged campaign) directory.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CampaignRun {
    /// Its directory, relative to the store.
    pub path: String,
    /// The campaign's name.
    pub name: String,
    /// When it ran.
    pub time: String,
    /// Its shard (`2/4`, `merged`).
    pub shard: String,
    /// Runs by outcome: `(outcome, count)`.
    pub counts: Vec<(String, usize)>,
}

/// One bench run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchRun {
    /// Its directory, relative to the store.
    pub path: String,
    /// When it ran.
    pub time: String,
    /// Its table, as the terminal showed it.
    pub table: String,
    /// Its plots, relative to the store.
    pub plots: Vec<String>,
}

fn read_json(p: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()
}

/// The run directories below `store/<group>/` (real directories named by
/// timestamp; `latest` links are skipped), newest first.
fn run_dirs(store: &Path) -> Vec<(String, String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(groups) = std::fs::read_dir(store) else {
        return out;
    };
    for g in groups.flatten() {
        let gpath = g.path();
        if g.file_type()
            .map_or(true, |t| t.is_symlink() || !t.is_dir())
        {
            continue;
        }
        let group = g.file_name().to_string_lossy().into_owned();
        let Ok(runs) = std::fs::read_dir(&gpath) else {
            continue;
        };
        for r in runs.flatten() {
            if r.file_type()
                .map_or(true, |t| t.is_symlink() || !t.is_dir())
            {
                continue;
            }
            let time = r.file_name().to_string_lossy().into_owned();
            out.push((group.clone(), time, r.path()));
        }
    }
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

fn rel(store: &Path, p: &Path) -> String {
    p.strip_prefix(store)
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

fn present(store: &Path, dir: &Path, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
        .map(|p| rel(store, &p))
        .collect()
}

fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(","),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Every test run in the store, newest first.
pub fn test_runs(store: &Path) -> Vec<TestRun> {
    let mut out = Vec::new();
    for (group, time, dir) in run_dirs(store) {
        let Some(cfg) = read_json(&dir.join("test.json")) else {
            continue;
        };
        let results = read_json(&dir.join("results.json"));
        let target = text(&cfg["target"]);
        let variant = if target == "bundled" {
            format!("{}/{}", text(&cfg["consensus"]), text(&cfg["reads"]))
        } else {
            String::new()
        };
        let stats = results.as_ref().map(|r| &r["stats"]);
        let mut logs: Vec<String> = std::fs::read_dir(dir.join("logs"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_file())
            .map(|e| rel(store, &e.path()))
            .collect();
        logs.sort();
        out.push(TestRun {
            path: rel(store, &dir),
            test: group,
            time,
            target,
            variant,
            workload: text(&cfg["workload"]),
            nemesis: text(&cfg["nemesis"]),
            verdict: results
                .as_ref()
                .map_or("running?".into(), |r| text(&r["verdict"])),
            ok_per_s: stats.and_then(|s| s["ok_per_s"].as_f64()),
            p99_ms: stats
                .and_then(|s| s["latency_us_p99"].as_f64())
                .map(|us| us / 1000.0),
            files: present(
                store,
                &dir,
                &[
                    "report.html",
                    "history.jsonl",
                    "latency.svg",
                    "throughput.svg",
                    "results.json",
                    "junit.xml",
                ],
            ),
            logs,
        });
    }
    out
}

/// Every campaign directory, newest first.
pub fn campaigns(store: &Path) -> Vec<CampaignRun> {
    run_dirs(store)
        .into_iter()
        .filter_map(|(_, time, dir)| {
            let j = read_json(&dir.join("campaign.json"))?;
            let mut counts: Vec<(String, usize)> = Vec::new();
            for r in j["runs"].as_array()? {
                let o = text(&r["outcome"]);
                match counts.iter_mut().find(|(k, _)| *k == o) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((o, 1)),
                }
            }
            Some(CampaignRun {
                path: rel(store, &dir),
                name: text(&j["name"]),
                time,
                shard: text(&j["shard"]),
                counts,
            })
        })
        .collect()
}

/// Every bench run, newest first.
pub fn bench_runs(store: &Path) -> Vec<BenchRun> {
    run_dirs(store)
        .into_iter()
        .filter(|(group, _, dir)| group == "bench" && dir.join("bench.json").is_file())
        .map(|(_, time, dir)| {
            let mut plots: Vec<String> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "svg"))
                .map(|e| rel(store, &e.path()))
                .collect();
            plots.sort();
            BenchRun {
                path: rel(store, &dir),
                time,
                table: std::fs::read_to_string(dir.join("bench.txt")).unwrap_or_default(),
                plots,
            }
        })
        .collect()
}

/// A file inside the store named by a request, or `None` for anything
/// outside it (`..`, absolute paths, links that lead out) or missing.
pub fn resolve(store: &Path, requested: &str) -> Option<PathBuf> {
    let rel = Path::new(requested);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return None;
    }
    let root = std::fs::canonicalize(store).ok()?;
    let full = std::fs::canonicalize(root.join(rel)).ok()?;
    full.starts_with(&root).then_some(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_store_are_refused() {
        let store = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(store.path().join("t/1")).expect("dir");
        std::fs::write(store.path().join("t/1/history.jsonl"), "{}\n").expect("write");
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("secret"), "x").expect("write");
        std::os::unix::fs::symlink(outside.path(), store.path().join("t/escape")).expect("link");
        assert!(resolve(store.path(), "t/1/history.jsonl").is_some());
        for bad in [
            "../x",
            "t/../../etc/passwd",
            "/etc/passwd",
            "t/escape/secret",
            "t/1/missing",
        ] {
            assert_eq!(resolve(store.path(), bad), None, "{bad}");
        }
    }

    #[test]
    fn the_index_reads_runs_campaigns_and_benches() {
        let store = tempfile::tempdir().expect("tempdir");
        let run = store
            .path()
            .join("register-bundled-multi-log/20261201T000000.000Z");
        std::fs::create_dir_all(run.join("logs")).expect("dir");
        std::fs::write(
            run.join("test.json"),
            r#"{"target":"bundled","consensus":"multi","reads":"log","workload":"register","nemesis":["partition","kill"]}"#,
        )
        .expect("write");
        std::fs::write(
            run.join("results.json"),
            r#"{"verdict":"anomaly","stats":{"ok_per_s":410.5,"latency_us_p99":12500}}"#,
        )
        .expect("write");
        std::fs::write(run.join("report.html"), "<html></html>").expect("write");
        std::fs::write(run.join("logs/n1.log"), "hello").expect("write");
        let runs = test_runs(store.path());
        assert_eq!(runs.len(), 1);
        let r = &runs[0];
        assert_eq!(
            (r.variant.as_str(), r.verdict.as_str()),
            ("multi/log", "anomaly")
        );
        assert_eq!(r.nemesis, "partition,kill");
        assert_eq!(r.p99_ms, Some(12.5));
        assert!(r.files.iter().any(|f| f.ends_with("report.html")));
        assert_eq!(r.logs.len(), 1);
        let c = store.path().join("campaign-smoke/20261201T010000.000Z");
        std::fs::create_dir_all(&c).expect("dir");
        std::fs::write(
            c.join("campaign.json"),
            r#"{"name":"smoke","shard":"1/1","runs":[{"outcome":"pass"},{"outcome":"pass"},{"outcome":"anomaly"}]}"#,
        )
        .expect("write");
        let cs = campaigns(store.path());
        assert_eq!(
            cs[0].counts,
            vec![("pass".into(), 2), ("anomaly".into(), 1)]
        );
        assert!(bench_runs(store.path()).is_empty());
    }
}
