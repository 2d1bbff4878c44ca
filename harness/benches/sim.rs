//! Seeds per second of the deterministic simulator on one core: 3 nodes,
//! 500 client operations, the default fault mix, the history checked.
//! The bar is 200 seeds/s for `multi/log`.
//!
//! Run: `cargo bench -p harness --bench sim`. Criterion reports the time
//! per seed; seeds per second is its inverse (printed at the end too).

// Measured with the allocator `skeptic` runs with (harness/src/main.rs),
// not the system's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion};
use harness::sim::{self, SimConfig};
use std::time::Instant;
use target_kv::paxos::{Mode, ReadMode};

fn seeds(c: &mut Criterion) {
    // One thread for everything, the checker's parallel parts included.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    let mut group = c.benchmark_group("sim seed");
    group.sample_size(20);
    for (name, mode, reads) in [
        ("multi/log", Mode::Multi, ReadMode::Log),
        ("multi/lease", Mode::Multi, ReadMode::Lease),
        ("basic/quorum", Mode::Basic, ReadMode::Quorum),
    ] {
        let cfg = SimConfig::new(mode, reads);
        let mut seed = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                seed += 1;
                pool.install(|| sim::run_seed(&cfg, seed))
            })
        });
        // The same as a plain rate over a fixed range, for the README.
        let started = Instant::now();
        let n = 200;
        pool.install(|| (0..n).for_each(|s| drop(sim::run_seed(&cfg, s))));
        let rate = n as f64 / started.elapsed().as_secs_f64();
        eprintln!("{name}: {rate:.0} seeds/s on one core (seeds 0..{n})");
    }
    group.finish();
}

criterion_group!(benches, seeds);
criterion_main!(benches);
