//! Appends per second to the real write-ahead log (`storage::Wal`) on the
//! disk that holds the build directory: one encoded `Record::Accepted` of a
//! one-command batch (about 100 bytes) per `fdatasync`, sixteen of them per
//! `fdatasync` (what `--fsync batch` does when requests arrive together),
//! and, for reference, one per append with `FsyncPolicy::Never`.
//!
//! Run: `cargo bench -p target-kv --bench wal`. Criterion reports the time
//! per call (one append, or one batch of 16) and records per second.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::path::Path;
use std::time::{Duration, Instant};
use target_kv::kv::{Command, KvOp};
use target_kv::paxos::{Ballot, Record};
use target_kv::shell::encode_record;
use target_kv::storage::{FsyncPolicy, Wal};

/// The log is emptied (outside the timing) once it is this large, so a
/// long run does not fill the disk.
const LOG_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// A WAL record like the ones an acceptor writes for a `set`: slot,
/// ballot and one command with an 88-byte value (100 bytes encoded).
fn accepted_record(slot: u64) -> Vec<u8> {
    let command = Command {
        client: 7,
        seq: slot,
        op: KvOp::Set {
            key: format!("k{}", slot % 64),
            value: "v".repeat(88),
        },
    };
    encode_record(&Record::Accepted {
        slot,
        ballot: Ballot { round: 3, node: 1 },
        batch: vec![command].into(),
    })
}

/// Total time of `iters` calls of `append` on a log at `path`, leaving out
/// the occasional truncation that keeps the file small.
fn timed_appends(
    path: &Path,
    policy: FsyncPolicy,
    iters: u64,
    mut append: impl FnMut(&mut Wal),
) -> Duration {
    let (mut wal, _) = Wal::open(path, policy).expect("open the log");
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        if wal.len_bytes() > LOG_BYTES_MAX {
            wal.rewrite(std::iter::empty()).expect("empty the log");
        }
        let started = Instant::now();
        append(&mut wal);
        total += started.elapsed();
    }
    total
}

fn wal(c: &mut Criterion) {
    // Same filesystem as the repository (target/tmp), not a tmpfs /tmp.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let path = dir.path().join("wal.log");
    let records: Vec<Vec<u8>> = (1..=16).map(accepted_record).collect();
    let batch: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    eprintln!(
        "wal bench: records of {} bytes (+8 bytes of frame header) in {}",
        records[0].len(),
        dir.path().display()
    );

    let mut g = c.benchmark_group("wal-append");
    for (policy, name, per_call) in [
        (FsyncPolicy::Always, "fsync", 1u64),
        (FsyncPolicy::Batch, "fsync", 16),
        (FsyncPolicy::Never, "no-fsync", 1),
    ] {
        g.throughput(Throughput::Elements(per_call));
        let id = BenchmarkId::new(name, format!("{per_call}-per-call"));
        g.bench_function(id, |b| {
            b.iter_custom(|iters| {
                let _ = std::fs::remove_file(&path);
                timed_appends(&path, policy, iters, |wal| {
                    let result = if per_call == 1 {
                        wal.append(&records[0])
                    } else {
                        wal.append_batch(&batch)
                    };
                    result.expect("append");
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, wal);
criterion_main!(benches);
