//! The client threads of the load phase: each draws operations from its
//! stream, records the invocation before sending it and the completion
//! when it ends.

use crate::config::TestConfig;
use crate::progress::Progress;
use crate::recorder::{Entry, Recorder};
use checker::{Process, RecordType, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use workloads::store::KvClient;
use workloads::{OpStream, Workload};

/// Operations one client thread may issue, whatever the time limit: every
/// load loop is bounded in count as well as time.
const OPS_PER_THREAD_MAX: u64 = 10_000_000;

/// Pause after an operation the store could not serve.
const UNAVAILABLE_BACKOFF: Duration = Duration::from_millis(50);

/// Everything the client threads share.
pub(super) struct Shared {
    /// The run's configuration.
    pub config: TestConfig,
    /// The operations and their meaning.
    pub workload: Box<dyn Workload>,
    /// The history being written.
    pub recorder: Arc<Recorder>,
    /// Counters for the progress line.
    pub progress: Arc<Progress>,
}

/// One client thread: draws operations from its stream and records each
/// invocation before sending it and each completion when it ends. A thread
/// whose operation ends indeterminate carries on as a fresh process.
pub(super) async fn client_thread(
    thread: usize,
    shared: Arc<Shared>,
    client: Arc<dyn KvClient>,
    stop: watch::Receiver<bool>,
    deadline: Instant,
) {
    let c = &shared.config;
    let mut process = thread as u64;
    let mut stream = OpStream::new(c.seed, thread);
    // Open loop: each thread sends on a fixed schedule, so slow replies do
    // not lower the offered load until every thread is busy.
    let period = c
        .rate
        .map(|r| Duration::from_secs_f64(c.concurrency as f64 / r));
    let mut next_send = Instant::now()
        + period
            .map(|p| p.mul_f64(thread as f64 / c.concurrency as f64))
            .unwrap_or_default();
    let guard = Duration::from_millis(c.op_timeout_ms) + Duration::from_secs(1);
    for _ in 0..OPS_PER_THREAD_MAX {
        if let Some(p) = period {
            if next_send > Instant::now() {
                tokio::time::sleep_until(next_send.into()).await;
            }
            next_send += p;
        }
        if *stop.borrow() || Instant::now() >= deadline {
            break;
        }
        let op = shared.workload.next_op(&mut stream);
        let done = perform(&shared, &*client, process, &op, guard).await;
        if done.kind == RecordType::Info {
            process += c.concurrency as u64;
        }
        if done.is_unavailable() {
            // Do not spin against a node that is down: a refused
            // connection fails in microseconds.
            let mut stop = stop.clone();
            tokio::select! {
                _ = tokio::time::sleep(UNAVAILABLE_BACKOFF) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        }
    }
}

/// Records an invocation, performs it, records its completion.
pub(super) async fn perform(
    shared: &Shared,
    client: &dyn KvClient,
    process: u64,
    op: &workloads::Invocation,
    guard: Duration,
) -> workloads::Completion {
    let key = Some(Value::Str(op.key.clone()));
    shared.recorder.record(Entry {
        process: Process::Client(process),
        kind: RecordType::Invoke,
        f: op.f.clone(),
        key: key.clone(),
        value: Some(op.value.clone()),
        error: None,
    });
    // The client has its own timeout; this one only guards against a
    // client that never returns.
    let done = match tokio::time::timeout(guard, shared.workload.execute(op, client)).await {
        Ok(c) => c,
        Err(_) => workloads::Completion::info("no reply"),
    };
    let counter = match done.kind {
        RecordType::Ok => &shared.progress.ok,
        RecordType::Fail => &shared.progress.fail,
        _ => &shared.progress.info,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    shared.recorder.record(Entry {
        process: Process::Client(process),
        kind: done.kind,
        f: op.f.clone(),
        key,
        value: done.value.clone(),
        error: done.error.clone(),
    });
    done
}
