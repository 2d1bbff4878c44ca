//! `skeptic check` end to end: exit codes, words, JSON, HTML, bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn skeptic(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skeptic"))
        .args(args)
        .output()
        .expect("skeptic runs")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("temp file");
    path
}

const GOOD: &str = r#"{"process":0,"type":"invoke","f":"write","value":1}
{"process":0,"type":"ok","f":"write","value":1}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":1}
"#;

const STALE: &str = r#"{"process":0,"type":"invoke","f":"write","value":5}
{"process":0,"type":"ok","f":"write","value":5}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":3}
"#;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn verdicts_map_to_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.jsonl", GOOD);
    let stale = write(dir.path(), "stale.jsonl", STALE);
    let o = skeptic(&["check", good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("LINEARIZABLE"));

    let o = skeptic(&["check", stale.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(text.contains("NOT LINEARIZABLE"), "{text}");
    assert!(
        text.contains("read returned 3, but the register held 5"),
        "{text}"
    );

    // The worst outcome wins across files.
    let o = skeptic(&["check", good.to_str().unwrap(), stale.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("2 files: 1 linearizable, 1 not linearizable"));
}

#[test]
fn a_search_out_of_budget_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl");
    let gen = skeptic(&[
        "gen-history",
        "--ops",
        "20000",
        "--processes",
        "10",
        "--seed",
        "3",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert!(gen.status.success());
    // 1 MiB of memo cannot hold a 20,000-operation search.
    let o = skeptic(&["check", "--memory-limit-mib", "1", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("past the limit of 1 MiB"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn malformed_input_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.jsonl",
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n{\"process\":0,\"type\":\"ok\",\"f\":\n",
    );
    let o = skeptic(&["check", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.jsonl:2:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let o = skeptic(&["check", "--model", "queue", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "a bad flag is a usage error");
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown model `queue`"));

    let o = skeptic(&["check", dir.path().join("missing.jsonl").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read"));

    let wrong_model = write(dir.path(), "incr.jsonl", "{\"process\":0,\"type\":\"invoke\",\"f\":\"incr\"}\n{\"process\":0,\"type\":\"ok\",\"f\":\"incr\"}\n");
    let o = skeptic(&[
        "check",
        "--model",
        "register",
        wrong_model.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no operation `incr`"));
}

#[test]
fn json_and_html_forms() {
    let dir = tempfile::tempdir().unwrap();
    let stale = write(dir.path(), "stale.jsonl", STALE);
    let page = dir.path().join("report.html");
    let o = skeptic(&[
        "check",
        "--json",
        "--html",
        page.to_str().unwrap(),
        stale.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON object");
    assert_eq!(v["verdict"], "not_linearizable");
    assert_eq!(v["model"], "register");
    assert_eq!(
        v["witnesses"][0]["blocked"][0]["reason"],
        "read returned 3, but the register held 5"
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<svg") && html.contains("read returned 3, but the register held 5"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "self-contained"
    );
}

#[test]
fn a_run_directory_stands_for_its_history() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "history.jsonl", GOOD);
    let o = skeptic(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn generated_histories_round_trip_through_every_text_format() {
    let dir = tempfile::tempdir().unwrap();
    for (format, model) in [
        ("jsonl", "append-kv"),
        ("edn-lines", "append-kv"),
        ("jepsen-log", "cas-register"),
    ] {
        let kind = if model == "append-kv" {
            "kv"
        } else {
            "register"
        };
        let path = dir.path().join(format!("h.{format}"));
        let gen = skeptic(&[
            "gen-history",
            "--kind",
            kind,
            "--ops",
            "2000",
            "--keys",
            "1",
            "--info",
            "0.01",
            "--format",
            format,
            "-o",
            path.to_str().unwrap(),
        ]);
        assert!(
            gen.status.success(),
            "{}",
            String::from_utf8_lossy(&gen.stderr)
        );
        let o = skeptic(&["check", "--model", model, path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{format}: {}", stdout(&o));
        let corrupt = dir.path().join(format!("bad.{format}"));
        let gen = skeptic(&[
            "gen-history",
            "--kind",
            kind,
            "--ops",
            "2000",
            "--keys",
            "1",
            "--corrupt",
            "--format",
            format,
            "-o",
            corrupt.to_str().unwrap(),
        ]);
        assert!(gen.status.success());
        let o = skeptic(&["check", "--model", model, corrupt.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{format}: {}", stdout(&o));
    }
}
