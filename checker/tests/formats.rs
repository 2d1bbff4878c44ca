//! The history formats through the public API only: write a history in
//! each format, load it back from a file, and read the errors a user sees.

use checker::format::{self, Format, LoadError};
use checker::{Process, Record, RecordType, Value};
use std::path::PathBuf;

/// A file in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &[u8]) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("skeptic-formats-it-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn record(index: u64, process: u64, kind: RecordType, f: &str, value: Option<Value>) -> Record {
    Record {
        index,
        process: Process::Client(process),
        kind,
        f: f.to_string(),
        key: None,
        value,
        time: None,
        error: None,
    }
}

/// A register history: a write, a read that sees it, and a failed cas.
fn history() -> Vec<Record> {
    let pair = Some(Value::List(vec![Value::Int(5), Value::Int(6)]));
    vec![
        record(0, 0, RecordType::Invoke, "write", Some(Value::Int(5))),
        record(1, 0, RecordType::Ok, "write", Some(Value::Int(5))),
        record(2, 1, RecordType::Invoke, "read", Some(Value::Nil)),
        record(3, 2, RecordType::Invoke, "cas", pair.clone()),
        record(4, 1, RecordType::Ok, "read", Some(Value::Int(5))),
        record(5, 2, RecordType::Fail, "cas", pair),
    ]
}

#[test]
fn each_written_format_loads_back_as_the_same_history() {
    let records = history();
    for format in Format::ALL {
        let mut bytes = Vec::new();
        match format {
            Format::Jsonl => {
                for r in &records {
                    format::write_jsonl_record(&mut bytes, r).unwrap();
                }
            }
            Format::JepsenLog => format::write_jepsen_log(&mut bytes, &records).unwrap(),
            Format::EdnLines => format::write_edn_lines(&mut bytes, &records).unwrap(),
            Format::JepsenEdn => {
                bytes.extend_from_slice(b"[");
                format::write_edn_lines(&mut bytes, &records).unwrap();
                bytes.extend_from_slice(b"]\n");
            }
        }
        let file = TempFile::new(format.name(), &bytes);
        for given in [None, Some(format)] {
            let h = format::load(&file.0, given).unwrap_or_else(|e| panic!("{format}: {e}"));
            let text = String::from_utf8(bytes.clone()).unwrap();
            let (parsed, _) = format::parse(&text, format, "t").unwrap();
            assert_eq!(parsed, records, "{format}");
            assert_eq!(h.record_count, records.len(), "{format}");
            assert_eq!(h.ops.len(), 2, "{format}: the failed cas is dropped");
            assert_eq!(h.failed, 1, "{format}");
            assert_eq!(h.ops[1].output, Some(Value::Int(5)), "{format}");
        }
    }
}

#[test]
fn format_names_parse_like_a_command_line_flag() {
    let parsed: Vec<Format> = ["jsonl", "jepsen-edn", "jepsen-log", "edn-lines"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(parsed, Format::ALL);
    let err = "edn".parse::<Format>().unwrap_err();
    assert_eq!(
        err,
        "unknown format `edn`; expected one of: jsonl, jepsen-edn, jepsen-log, edn-lines"
    );
}

#[test]
fn a_bad_line_in_the_middle_is_reported_with_file_line_and_column() {
    let mut bytes = Vec::new();
    for r in &history()[..2] {
        format::write_jsonl_record(&mut bytes, r).unwrap();
    }
    bytes.extend_from_slice(b"{\"process\":1,\"type\":\"invoke\"}\n");
    for r in &history()[2..] {
        format::write_jsonl_record(&mut bytes, r).unwrap();
    }
    let file = TempFile::new("bad.jsonl", &bytes);
    let err = format::load(&file.0, None).unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::Parse {
                line: 3,
                column: 29,
                ..
            }
        ),
        "{err:?}"
    );
    let shown = err.to_string();
    assert!(
        shown.ends_with(
            "bad.jsonl:3:29: expected a history record (JSON object with process, type, f), found missing field `f`"
        ),
        "{shown}"
    );
}
