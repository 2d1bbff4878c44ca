//! Commands per second through the consensus core alone: three replicas
//! in memory (no I/O, no fsync), Multi-Paxos and Basic Paxos.
//!
//! Run: `cargo bench -p target-kv --bench core`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use target_kv::kv::{Command, KvOp};
use target_kv::paxos::sim::Sim;
use target_kv::paxos::{Input, Mode, ReadMode, Role, Timer};

const COMMANDS: u64 = 1_000;

fn run(mode: Mode, batch: u64) {
    let mut sim = Sim::new(3, mode, ReadMode::Log);
    if mode == Mode::Multi {
        sim.now_ms = 1_000;
        sim.fire(1, Timer::Election);
        sim.deliver(1_000);
        assert_eq!(sim.replicas[&1].role(), &Role::Leader);
    }
    let mut sent = 0;
    while sent < COMMANDS {
        // One input with `batch` requests: what the node's driver does
        // when several calls are waiting (they become one slot).
        let mut requests = Vec::new();
        for _ in 0..batch.min(COMMANDS - sent) {
            let cmd = Command {
                client: 1,
                seq: sent + 1,
                op: KvOp::Set {
                    key: format!("k{}", sent % 64),
                    value: "v".into(),
                },
            };
            requests.push((sent, cmd));
            sent += 1;
        }
        sim.input(1, Input::Requests(requests));
        sim.deliver(usize::MAX);
    }
    assert_eq!(sim.replies.len() as u64, COMMANDS);
}

fn core(c: &mut Criterion) {
    let mut g = c.benchmark_group("core-3-replicas-in-memory");
    g.throughput(Throughput::Elements(COMMANDS));
    for (mode, name) in [(Mode::Multi, "multi"), (Mode::Basic, "basic")] {
        for batch in [1, 16] {
            g.bench_with_input(
                BenchmarkId::new(name, format!("{batch}-per-round")),
                &batch,
                |b, &batch| b.iter(|| run(mode, batch)),
            );
        }
    }
    g.finish();
}

criterion_group!(benches, core);
criterion_main!(benches);
