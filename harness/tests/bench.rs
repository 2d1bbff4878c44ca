//! `skeptic bench` against real processes: the figures it writes are the
//! ones it measured, the leader-kill scenario really kills the leader, and
//! bad flags are refused before anything starts.

use std::path::Path;
use std::process::Command;

fn skeptic() -> Command {
    Command::new(env!("CARGO_BIN_EXE_skeptic"))
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("the JSON file");
    serde_json::from_str(&text).expect("valid JSON")
}

#[test]
fn bench_measures_two_rounds_and_a_leader_kill_and_writes_every_output() {
    let store = tempfile::tempdir().expect("tempdir");
    let out_json = store.path().join("out.json");
    let out = skeptic()
        .args([
            "bench",
            "--targets",
            "multi/log",
            "--mix",
            "write,read",
            "--concurrency",
            "1,4",
            "--duration",
            "1",
            "--warmup",
            "0.2",
            "--rounds",
            "2",
            "--fsync",
            "always",
        ])
        .arg("--json")
        .arg(&out_json)
        .arg("--store")
        .arg(store.path())
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = json(&out_json);
    let rows = j["results"].as_array().expect("results");
    assert_eq!(rows.len(), 4, "2 mixes x 2 concurrencies: {j}");
    for r in rows {
        assert_eq!(r["target"], "multi/log");
        assert_eq!(r["rounds"], 2);
        let tput = r["throughput_ops_s"].as_f64().expect("throughput");
        assert!(tput > 10.0, "{r}");
        let [lo, hi] = [0, 1].map(|i| r["spread"]["throughput_ops_s"][i].as_f64().expect("range"));
        assert!(
            lo <= tput && tput <= hi,
            "the median lies in its range: {r}"
        );
        let l = &r["latency_ms"];
        let p = |k: &str| l[k].as_f64().expect(k);
        assert!(
            0.0 < p("p50") && p("p50") <= p("p90") && p("p90") <= p("p99"),
            "{r}"
        );
        assert!(p("p99") <= p("p999") && p("p999") <= p("max"), "{r}");
        // Our own processes: their CPU is counted.
        assert!(r["cpu_s_per_1k_ops"].as_f64().expect("cpu") > 0.0, "{r}");
        assert!(
            r["loadgen_cpu_pct"].as_f64().expect("loadgen cpu") > 0.0,
            "{r}"
        );
    }
    // One client per worker: a point at 4 workers outruns one at 1.
    let tput = |mix: &str, c: u64| {
        rows.iter()
            .find(|r| r["mix"] == mix && r["concurrency"] == c)
            .and_then(|r| r["throughput_ops_s"].as_f64())
            .expect("a row")
    };
    assert!(tput("write", 4) > tput("write", 1), "{j}");

    let s = &j["scenarios"][0];
    assert_eq!(s["scenario"], "leader-kill", "{j}");
    assert_eq!(s["rounds"], 2);
    // Killing the leader stops writes at least until the followers notice
    // and elect (an election timeout, 150 ms or more); it must not stop
    // them for the rest of the run.
    let gap = s["unavailable_ms"].as_f64().expect("unavailable_ms");
    assert!((100.0..5_000.0).contains(&gap), "{s}");
    assert!(s["before_ops_s"].as_f64().expect("before") > 10.0, "{s}");
    assert_eq!(j["machine"]["cpus"].as_u64().map(|n| n > 0), Some(true));

    // The run's directory holds the same JSON, the tables and the plots.
    let dir = store.path().join("bench").join("latest");
    assert_eq!(json(&dir.join("bench.json")), j);
    let md = std::fs::read_to_string(dir.join("bench.md")).expect("markdown");
    assert!(md.contains("| multi/log | write | 4 |"), "{md}");
    for svg in [
        "latency-cdf-write-c1.svg",
        "latency-cdf-read-c4.svg",
        "throughput-write.svg",
        "leader-kill.svg",
    ] {
        let text = std::fs::read_to_string(dir.join(svg)).expect(svg);
        assert!(
            text.contains("<polyline") && text.contains("multi/log"),
            "{svg}"
        );
    }
    assert!(stdout.contains("p99 ms"), "{stdout}");

    // Comparing a run with itself: no change, nothing marked.
    let cmp = skeptic()
        .args(["bench", "--compare"])
        .arg(&out_json)
        .arg("--against")
        .arg(&out_json)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&cmp.stdout);
    assert!(cmp.status.success(), "{text}");
    assert_eq!(text.matches("+0.0%").count(), 8, "{text}");
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("multi/log") && l.contains(" *")),
        "{text}"
    );
}

#[test]
fn bench_refuses_bad_flags_before_starting_anything() {
    let store = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| {
        skeptic()
            .arg("bench")
            .args(args)
            .arg("--store")
            .arg(store.path())
            .output()
            .expect("runs")
    };
    let unsafe_run = run(&["--targets", "multi/log", "--fsync", "never"]);
    assert_eq!(unsafe_run.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&unsafe_run.stderr).contains("--unsafe"));
    let bad_target = run(&["--targets", "multi/fast"]);
    assert_eq!(bad_target.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&bad_target.stderr).contains("reads are log"));
    let bad_c = run(&["--concurrency", "0"]);
    assert_eq!(bad_c.status.code(), Some(3));
    // Nothing was started or written.
    assert!(!store.path().join("bench").exists());

    let garbage = store.path().join("garbage.json");
    std::fs::write(&garbage, "{\"not\": 1}").expect("write");
    let cmp = skeptic()
        .args(["bench", "--compare"])
        .arg(&garbage)
        .arg("--against")
        .arg(&garbage)
        .output()
        .expect("runs");
    assert_eq!(cmp.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&cmp.stderr).contains("not a skeptic bench JSON document"));
}
