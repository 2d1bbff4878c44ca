//! Shared helpers for the checker's integration tests.
#![allow(dead_code)]

use checker::{History, Process, Record, RecordType, Value};
use std::path::PathBuf;

/// `../shared/histories/porcupine`, or `None` (with a message) when absent.
pub fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/histories/porcupine");
    if dir.join("EXPECTED.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: {} is absent (it sits beside the project in CI)",
            dir.display()
        );
        None
    }
}

/// The corpus's expected verdicts: (relative path, Some(linearizable) or None for empty).
pub fn expected(dir: &std::path::Path) -> Vec<(String, Option<bool>)> {
    let text = std::fs::read_to_string(dir.join("EXPECTED.tsv")).expect("EXPECTED.tsv reads");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let verdict = match cols[5] {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            };
            (cols[0].to_string(), verdict)
        })
        .collect()
}

/// Builds a history from `(process, type, f, value)` rows.
pub fn history(rows: &[(u64, &str, &str, Value)]) -> History {
    let records = rows
        .iter()
        .enumerate()
        .map(|(i, (p, t, f, v))| Record {
            index: i as u64,
            process: Process::Client(*p),
            kind: RecordType::parse(t).expect("a record type"),
            f: f.to_string(),
            key: None,
            value: Some(v.clone()),
            time: None,
            error: None,
        })
        .collect();
    History::from_records(records, vec![]).expect("a well-formed history")
}
