//! Every history of the Porcupine corpus gets the verdict the literature
//! agrees on (../shared/histories/porcupine/EXPECTED.tsv).

mod common;

use checker::{check_history, format, CheckOptions, ModelKind, Verdict};

#[test]
fn every_corpus_history_gets_its_expected_verdict() {
    let Some(dir) = common::corpus() else { return };
    let expected = common::expected(&dir);
    assert_eq!(
        expected.len(),
        109,
        "EXPECTED.tsv lists 103 etcd (one empty) and 6 kv histories"
    );
    let mut wrong = Vec::new();
    for (file, want) in &expected {
        let history = format::load(&dir.join(file), None).unwrap_or_else(|e| panic!("{file}: {e}"));
        let model = if file.starts_with("jepsen/") {
            ModelKind::CasRegister
        } else {
            ModelKind::AppendKv
        };
        let options = CheckOptions {
            model: Some(model),
            ..CheckOptions::default()
        };
        let report = check_history(&history, &options).unwrap_or_else(|e| panic!("{file}: {e}"));
        let got = match &report.verdict {
            Verdict::Linearizable => true,
            Verdict::NotLinearizable { .. } => false,
            Verdict::Unknown { reason } => panic!("{file}: unknown: {reason}"),
        };
        // An empty file (`none`) has nothing to violate.
        if got != want.unwrap_or(true) {
            wrong.push(format!(
                "{file}: expected {want:?}, got {}",
                report.verdict.label()
            ));
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

#[test]
fn model_guessing_matches_the_corpus() {
    let Some(dir) = common::corpus() else { return };
    let etcd = format::load(&dir.join("jepsen/etcd_000.log"), None).unwrap();
    assert_eq!(ModelKind::guess(&etcd.ops), ModelKind::CasRegister);
    let kv = format::load(&dir.join("kv/c01-ok.txt"), None).unwrap();
    assert_eq!(ModelKind::guess(&kv.ops), ModelKind::AppendKv);
}
