//! Records per second written to `history.jsonl` on the disk that holds the
//! build directory: through the recorder a run uses (`Recorder::record`:
//! the lock, the clock, one JSONL line into its 64 KiB `BufWriter`, the
//! copy kept in memory), and through `checker::format::write_jsonl_record`
//! alone into the same kind of buffer, to show what the recorder adds.
//! The records are the four kinds a register run writes most (invoke and
//! ok of a write and a read); every chunk of records ends with a flush,
//! which is timed, but no fsync (a run syncs once, at the end).
//!
//! Run: `cargo bench -p harness --bench history_writer`. Criterion reports
//! the time per record and records per second.

// Measured with the allocator `skeptic` runs with (harness/src/main.rs),
// not the system's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use checker::format::write_jsonl_record;
use checker::{Process, Record, RecordType, Value};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use harness::recorder::{Entry, Recorder};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// A fresh file (and, for the recorder, a fresh in-memory history) every
/// this many records, so neither grows without bound during a long
/// measurement. Creating them is not timed.
const CHUNK_RECORDS: u64 = 100_000;

/// Invoke and ok of a write, then of a read, on one key.
fn entries() -> [Entry; 4] {
    let e = |kind, f: &str, value| Entry {
        process: Process::Client(3),
        kind,
        f: f.into(),
        key: Some(Value::Str("k17".into())),
        value,
        error: None,
    };
    [
        e(RecordType::Invoke, "write", Some(Value::Int(42))),
        e(RecordType::Ok, "write", Some(Value::Int(42))),
        e(RecordType::Invoke, "read", None),
        e(RecordType::Ok, "read", Some(Value::Int(42))),
    ]
}

/// Runs `iters` timed writes in chunks of at most [`CHUNK_RECORDS`];
/// `chunk(n)` writes `n` records to a fresh file and returns their time.
fn chunked(iters: u64, mut chunk: impl FnMut(u64) -> Duration) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(CHUNK_RECORDS);
        total += chunk(n);
        left -= n;
    }
    total
}

fn recorder_chunk(path: &Path, templates: &[Entry; 4], n: u64) -> Duration {
    let recorder = Recorder::create(path).expect("create the history");
    let started = Instant::now();
    for i in 0..n {
        // The runner builds a fresh entry (its strings included) per record.
        recorder.record(templates[(i % 4) as usize].clone());
    }
    recorder.flush();
    let elapsed = started.elapsed();
    drop(recorder);
    elapsed
}

fn jsonl_chunk(path: &Path, records: &[Record; 4], n: u64) -> Duration {
    let file = File::create(path).expect("create the history");
    // The recorder's buffer size.
    let mut out = BufWriter::with_capacity(1 << 16, file);
    let started = Instant::now();
    for i in 0..n {
        write_jsonl_record(&mut out, &records[(i % 4) as usize]).expect("write a record");
    }
    out.flush().expect("flush");
    started.elapsed()
}

fn history_writer(c: &mut Criterion) {
    // Same filesystem as the repository (target/tmp), not a tmpfs /tmp.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let path = dir.path().join("history.jsonl");
    let templates = entries();
    let records = templates.clone().map(|e| Record {
        index: 123_456,
        process: e.process,
        kind: e.kind,
        f: e.f,
        key: e.key,
        value: e.value,
        time: Some(12_345_678_901),
        error: e.error,
    });
    let mut line = Vec::new();
    records
        .iter()
        .for_each(|r| write_jsonl_record(&mut line, r).expect("write to memory"));
    eprintln!(
        "history_writer bench: {:.0} bytes per line on average, e.g. {}",
        line.len() as f64 / records.len() as f64,
        String::from_utf8_lossy(&line)
            .lines()
            .next()
            .unwrap_or_default()
    );

    let mut g = c.benchmark_group("history-writer");
    g.throughput(Throughput::Elements(1));
    g.bench_function("recorder-record", |b| {
        b.iter_custom(|iters| chunked(iters, |n| recorder_chunk(&path, &templates, n)))
    });
    g.bench_function("write_jsonl_record-bufwriter-64k", |b| {
        b.iter_custom(|iters| chunked(iters, |n| jsonl_chunk(&path, &records, n)))
    });
    g.finish();
}

criterion_group!(benches, history_writer);
criterion_main!(benches);
