//! After healing: read every key the clients used, so that a lost write
//! shows in the history.

use super::clients::{perform, Shared};
use crate::recorder::Recorder;
use checker::{Process, RecordType, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workloads::store::KvClient;

/// Attempts at each final read.
const FINAL_READ_ATTEMPTS: usize = 5;

/// Keys the clients used, for the final reads.
fn used_keys(recorder: &Recorder) -> Vec<String> {
    let mut keys = BTreeSet::new();
    for r in recorder.records() {
        if let (Process::Client(_), Some(Value::Str(k))) = (&r.process, &r.key) {
            keys.insert(k.clone());
        }
    }
    keys.into_iter().collect()
}

/// Final reads, spread over the nodes; each read is retried as a fresh
/// process until it succeeds, a few times, and none starts after
/// `deadline` (a cluster that never recovers cannot hold the run forever).
pub(super) async fn final_reads(
    shared: &Arc<Shared>,
    clients: &[Arc<dyn KvClient>],
    first_process: u64,
    deadline: Instant,
) {
    let ops = shared.workload.final_ops(&used_keys(&shared.recorder));
    let lanes = shared.config.concurrency.max(1);
    let guard = Duration::from_millis(shared.config.op_timeout_ms) + Duration::from_secs(1);
    let mut tasks = Vec::new();
    for lane in 0..lanes {
        let mine: Vec<workloads::Invocation> =
            ops.iter().skip(lane).step_by(lanes).cloned().collect();
        let shared = shared.clone();
        let client = clients[lane % clients.len()].clone();
        let mut process = first_process + lane as u64;
        tasks.push(tokio::spawn(async move {
            for op in mine {
                for _ in 0..FINAL_READ_ATTEMPTS {
                    if Instant::now() >= deadline {
                        return;
                    }
                    let kind = perform(&shared, &*client, process, &op, guard).await.kind;
                    if kind == RecordType::Info {
                        process += lanes as u64;
                    }
                    if kind == RecordType::Ok {
                        break;
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}
