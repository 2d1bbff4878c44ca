//! Checker benchmarks against Porcupine's published timings on the same
//! machine kind (see the closing notes and README for the figures):
//! the etcd and kv corpora, a 10,000-operation register history, and a
//! 1,000,000-operation kv history parsed and checked.
//!
//! Run: `cargo bench -p checker --bench check`.

use checker::format::{self, Format};
use checker::generate::{generate, GenKind, GenOptions};
use checker::{check_history, CheckOptions, History, ModelKind, Verdict};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::path::PathBuf;
use std::time::Duration;

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/histories/porcupine");
    if dir.is_dir() {
        return Some(dir);
    }
    eprintln!("skipping corpus benches: {} is absent", dir.display());
    None
}

fn options(model: ModelKind) -> CheckOptions {
    CheckOptions {
        model: Some(model),
        ..CheckOptions::default()
    }
}

fn check(history: &History, model: ModelKind) -> Verdict {
    check_history(history, &options(model))
        .expect("model fits")
        .verdict
}

fn corpus_benches(c: &mut Criterion) {
    let Some(dir) = corpus() else { return };
    let mut etcd: Vec<History> = Vec::new();
    for i in 0..=102 {
        let path = dir.join(format!("jepsen/etcd_{i:03}.log"));
        etcd.push(format::load(&path, None).expect("corpus loads"));
    }
    c.bench_function("etcd/all-103-files", |b| {
        b.iter(|| {
            etcd.iter()
                .map(|h| check(h, ModelKind::CasRegister).exit_code())
                .sum::<i32>()
        })
    });
    for name in ["etcd_002", "etcd_057", "etcd_007"] {
        let h = format::load(&dir.join(format!("jepsen/{name}.log")), None).unwrap();
        c.bench_function(&format!("etcd/{name}"), |b| {
            b.iter(|| check(&h, ModelKind::CasRegister))
        });
    }
    for name in ["c50-ok", "c50-bad"] {
        let h = format::load(&dir.join(format!("kv/{name}.txt")), None).unwrap();
        c.bench_function(&format!("kv/{name}"), |b| {
            b.iter(|| check(&h, ModelKind::AppendKv))
        });
    }
}

fn register_10k(c: &mut Criterion) {
    let mut group = c.benchmark_group("register-10k-ops-10-procs");
    for info in [0.0, 0.01] {
        let records = generate(&GenOptions {
            kind: GenKind::CasRegister,
            ops: 10_000,
            processes: 10,
            keys: 1,
            info_fraction: info,
            seed: 42,
        });
        let h = History::from_records(records, vec![]).unwrap();
        assert_eq!(check(&h, ModelKind::CasRegister), Verdict::Linearizable);
        group.bench_with_input(BenchmarkId::new("info", info), &h, |b, h| {
            b.iter(|| check(h, ModelKind::CasRegister))
        });
    }
    group.finish();
}

fn kv_1m(c: &mut Criterion) {
    let mut group = c.benchmark_group("kv-1m-ops-1000-keys-32-procs-parse-and-check");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(30));
    let dir = std::env::temp_dir().join("skeptic-bench");
    std::fs::create_dir_all(&dir).unwrap();
    for info in [0.0, 0.01] {
        let records = generate(&GenOptions {
            kind: GenKind::AppendKv,
            ops: 1_000_000,
            processes: 32,
            keys: 1000,
            info_fraction: info,
            seed: 42,
        });
        for fmt in [Format::Jsonl, Format::EdnLines] {
            let path = dir.join(format!("kv-1m-{info}.{}", fmt.name()));
            let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
            match fmt {
                Format::Jsonl => records
                    .iter()
                    .for_each(|r| format::write_jsonl_record(&mut out, r).unwrap()),
                _ => format::write_edn_lines(&mut out, &records).unwrap(),
            }
            drop(out);
            group.bench_with_input(BenchmarkId::new(fmt.name(), info), &path, |b, path| {
                b.iter(|| {
                    let h = format::load(path, Some(fmt)).unwrap();
                    check(&h, ModelKind::AppendKv)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, corpus_benches, register_10k, kv_1m);
criterion_main!(benches);
