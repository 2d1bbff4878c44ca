//! The test loop (Jepsen's `core/run!`): set up the cluster, run the
//! workload while the nemesis injects faults, heal, wait for recovery, do
//! the final reads, tear down, check, and store everything.
//!
//! Whatever happens (an error, a panic in a task, Ctrl-C) every fault is
//! undone, every process is reaped and the history recorded so far is
//! flushed to disk.

use crate::client;
use crate::config::{Target, TestConfig};
use crate::db::{BundledDb, BundledOptions, Db, EtcdDb, EtcdOptions, ExternalDb, Protocol};
use crate::nemesis::plan::{Planner, Step};
use crate::nemesis::{lock_db, unsupported, FaultEvent, Nemesis, SharedDb};
use crate::recorder::{Entry, Recorder, FLUSH_INTERVAL};
use crate::report;
use checker::{CheckOptions, History, Process, RecordType, Value};
use results::store::RunDir;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use workloads::store::{KvClient, StoreOp};
use workloads::{CheckerResult, CheckerVerdict, OpStream, Workload, WorkloadKind, WorkloadOptions};

/// Operations one client thread may issue, whatever the time limit: every
/// load loop is bounded in count as well as time.
const OPS_PER_THREAD_MAX: u64 = 10_000_000;

/// Pause after an operation the store could not serve.
const UNAVAILABLE_BACKOFF: Duration = Duration::from_millis(50);

/// Attempts at each final read.
const FINAL_READ_ATTEMPTS: usize = 5;

/// Why a run could not be carried out (as opposed to what it found).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration cannot work.
    #[error("{0}")]
    Config(String),
    /// The cluster or the run directory could not be set up.
    #[error("{0}")]
    Setup(String),
    /// Writing results failed.
    #[error("cannot write results: {0}")]
    Results(String),
}

/// Where the nodes come from for the bundled target.
#[derive(Clone, Debug)]
pub struct Programs {
    /// `skeptic` (run as `skeptic node`) or `skeptic-kv`.
    pub bundled_node: PathBuf,
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Worst of the checkers' verdicts; `None` when interrupted.
    pub verdict: Option<CheckerVerdict>,
    /// The run's directory.
    pub dir: PathBuf,
    /// Every checker's result.
    pub checkers: Vec<CheckerResult>,
    /// Every fault started and stopped, with whether it took effect.
    pub faults: Vec<FaultEvent>,
    /// The summary table, formatted.
    pub summary: String,
    /// Records in the history.
    pub records: usize,
}

impl Outcome {
    /// 0 valid, 1 anomaly, 2 unknown, 130 interrupted.
    pub fn exit_code(&self) -> u8 {
        self.verdict.map(CheckerVerdict::exit_code).unwrap_or(130)
    }
}

/// Live counters for the progress line.
#[derive(Debug, Default)]
pub struct Progress {
    /// Successful operations.
    pub ok: AtomicU64,
    /// Failed operations.
    pub fail: AtomicU64,
    /// Indeterminate operations.
    pub info: AtomicU64,
    /// Faults in force, in words.
    pub faults: Mutex<String>,
}

/// Everything the client threads share.
struct Shared {
    config: TestConfig,
    workload: Box<dyn Workload>,
    recorder: Arc<Recorder>,
    progress: Arc<Progress>,
}

/// Kills the cluster's processes if the run ends without tearing down
/// (an early return or a panic).
struct TeardownGuard(SharedDb);

impl Drop for TeardownGuard {
    fn drop(&mut self) {
        lock_db(&self.0).teardown();
    }
}

/// Aborts tasks that are still running when dropped.
struct Tasks(Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

fn setup_db(
    config: &TestConfig,
    programs: &Programs,
    dir: &RunDir,
) -> Result<Box<dyn Db>, RunError> {
    Ok(match config.target {
        Target::Bundled => Box::new(
            BundledDb::setup(&BundledOptions {
                program: programs.bundled_node.clone(),
                nodes: config.nodes,
                consensus: config.consensus.clone(),
                reads: config.reads.clone(),
                fsync: config.fsync.clone(),
                // The node answers "timeout" (indeterminate) before the
                // client gives up, so the history says which it was.
                node_op_timeout_ms: (config.op_timeout_ms * 2 / 3).max(5),
                data_dir: dir.path.join("data"),
                logs_dir: dir.logs_dir(),
                extra_args: config.node_args.clone(),
            })
            .map_err(|e| RunError::Setup(e.to_string()))?,
        ),
        Target::Etcd => {
            let program = EtcdDb::find_binary().ok_or_else(|| {
                RunError::Setup(
                    "etcd is not installed (on Debian: apt-get install etcd-server)".into(),
                )
            })?;
            Box::new(
                EtcdDb::setup(&EtcdOptions {
                    program,
                    nodes: config.nodes,
                    data_dir: dir.path.join("data"),
                    logs_dir: dir.logs_dir(),
                })
                .map_err(|e| RunError::Setup(e.to_string()))?,
            )
        }
        Target::External => Box::new(ExternalDb::new(config.addresses.clone(), config.protocol)),
    })
}

/// Waits until every node serves a read (bounded); a read of a key no
/// workload uses, not recorded.
pub async fn wait_ready(clients: &[Arc<dyn KvClient>], timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    for (i, c) in clients.iter().enumerate() {
        loop {
            let probe = StoreOp::Get {
                key: "skeptic-probe".into(),
            };
            match c.call(probe).await {
                Ok(_) => break,
                Err(e) if Instant::now() >= deadline => {
                    return Err(format!(
                        "node {} did not serve a read within {timeout:?}: {e}",
                        i + 1
                    ))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
    Ok(())
}

/// One client thread: draws operations from its stream and records each
/// invocation before sending it and each completion when it ends. A thread
/// whose operation ends indeterminate carries on as a fresh process.
async fn client_thread(
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
async fn perform(
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

/// The nemesis's loop: a step every interval until told to stop.
async fn nemesis_loop(
    nemesis: Arc<tokio::sync::Mutex<Nemesis>>,
    config: TestConfig,
    mut stop: watch::Receiver<bool>,
    progress: Arc<Progress>,
) {
    let nodes = config.nodes;
    let mut planner = Planner::new(config.seed, &config.nemesis, nodes, config.nemesis_targets);
    let interval = Duration::from_secs_f64(config.nemesis_interval_s);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let mut n = nemesis.lock().await;
        let Some(step) = planner.next(&|k| n.is_active(k)) else {
            return;
        };
        match step {
            Step::Start(plan) => {
                n.start(&plan).await;
            }
            Step::Stop(kind) => {
                n.stop(kind).await;
            }
        }
        let now: Vec<&str> = n.active_kinds().iter().map(|k| k.name()).collect();
        *progress.faults.lock().unwrap_or_else(|e| e.into_inner()) = now.join(",");
    }
}

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
async fn final_reads(
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

/// Resolves when `interrupt` becomes true.
async fn interrupted(interrupt: &mut watch::Receiver<bool>) {
    if interrupt.wait_for(|i| *i).await.is_err() {
        // The sender is gone: no interrupt can come.
        std::future::pending::<()>().await;
    }
}

/// Runs a test. `interrupt` turning true (Ctrl-C) stops it early: faults
/// are undone, the cluster torn down and the history kept, unchecked.
pub async fn run(
    config: &TestConfig,
    programs: &Programs,
    mut interrupt: watch::Receiver<bool>,
) -> Result<Outcome, RunError> {
    config.validate().map_err(RunError::Config)?;
    let kind: WorkloadKind = config.workload.parse().map_err(RunError::Config)?;
    // Refused before anything starts: no cluster, no run directory, and
    // `latest` still points where it did.
    let t = config.target;
    if let Some(why) = crate::nemesis::unsupported_by(
        t.name(),
        t.has_fault_hooks(),
        t.controls_processes(),
        &config.nemesis,
    ) {
        return Err(RunError::Config(why));
    }
    let dir =
        RunDir::create(&config.store, &config.name).map_err(|e| RunError::Setup(e.to_string()))?;
    let mut stored = serde_json::to_value(config).map_err(|e| RunError::Results(e.to_string()))?;
    stored["skeptic_version"] = env!("CARGO_PKG_VERSION").into();
    let workload = workloads::make(
        kind,
        &WorkloadOptions {
            threads: config.concurrency,
            keys: config.keys,
            ..WorkloadOptions::default()
        },
    );
    if let Some(m) = workload.model() {
        stored["model"] = m.name().into();
    }
    dir.write_json("test.json", &stored)
        .map_err(|e| RunError::Results(e.to_string()))?;
    let recorder = Arc::new(
        Recorder::create(&dir.history_path())
            .map_err(|e| RunError::Setup(format!("cannot create the history file: {e}")))?,
    );

    let db: SharedDb = Arc::new(Mutex::new(setup_db(config, programs, &dir)?));
    let _teardown = TeardownGuard(db.clone());
    if let Some(why) = unsupported(&**lock_db(&db), &config.nemesis) {
        return Err(RunError::Config(why));
    }
    let protocol = lock_db(&db).protocol();
    let timeout = Duration::from_millis(config.op_timeout_ms);
    let node_clients: Vec<Arc<dyn KvClient>> = {
        let db = lock_db(&db);
        (0..db.nodes())
            .map(|n| client::connect(protocol, &db.client_url(n), timeout))
            .collect::<Result<_, _>>()
            .map_err(|e| RunError::Setup(format!("cannot build an HTTP client: {e}")))?
    };
    let recovery = Duration::from_secs_f64(config.recovery_timeout_s);
    tracing::info!("waiting for {} nodes to serve reads", node_clients.len());
    tokio::select! {
        r = wait_ready(&node_clients, recovery) => r.map_err(|e| RunError::Setup(format!("{e}; node logs are in {}", dir.logs_dir().display())))?,
        _ = interrupted(&mut interrupt) => {
            return finish_interrupted(&dir, &recorder, &db, None).await;
        }
    }

    let progress = Arc::new(Progress::default());
    let shared = Arc::new(Shared {
        config: config.clone(),
        workload,
        recorder: recorder.clone(),
        progress: progress.clone(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(config.time_limit_s);
    let mut tasks = Tasks(Vec::new());
    for t in 0..config.concurrency {
        // Each thread sticks to one node, round-robin, as Jepsen's clients do.
        let client = match protocol {
            // A client of its own per thread: its own connections.
            Protocol::Skeptic | Protocol::Etcd => {
                let url = lock_db(&db).client_url(t % node_clients.len());
                client::connect(protocol, &url, timeout)
                    .map_err(|e| RunError::Setup(e.to_string()))?
            }
        };
        tasks.0.push(tokio::spawn(client_thread(
            t,
            shared.clone(),
            client,
            stop_rx.clone(),
            deadline,
        )));
    }
    let nemesis = Arc::new(tokio::sync::Mutex::new(
        Nemesis::new(db.clone(), recorder.clone()).map_err(|e| RunError::Setup(e.to_string()))?,
    ));
    let nemesis_task = tokio::spawn(nemesis_loop(
        nemesis.clone(),
        config.clone(),
        stop_rx.clone(),
        progress.clone(),
    ));
    let flusher = {
        let recorder = recorder.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_INTERVAL);
            loop {
                tick.tick().await;
                recorder.flush();
            }
        })
    };
    tasks.0.push(flusher);
    let bar = crate::progress::Bar::start(config.time_limit_s, progress.clone());

    let mut was_interrupted = tokio::select! {
        _ = tokio::time::sleep_until(deadline.into()) => false,
        _ = interrupted(&mut interrupt) => true,
    };
    let _ = stop_tx.send(true);
    if was_interrupted {
        nemesis_task.abort();
        for t in &tasks.0 {
            t.abort();
        }
    } else {
        // Threads finish their operation in flight (bounded by the client
        // timeout); Ctrl-C meanwhile cuts that short.
        let joined = async {
            let _ = nemesis_task.await;
            for t in tasks.0.iter_mut().take(config.concurrency) {
                let _ = t.await;
            }
        };
        tokio::select! {
            _ = joined => {}
            _ = interrupted(&mut interrupt) => was_interrupted = true,
        }
    }
    bar.finish();
    tracing::info!("healing the cluster");
    nemesis.lock().await.heal_all().await;
    let faults = nemesis.lock().await.events().to_vec();
    if was_interrupted {
        return finish_interrupted(&dir, &recorder, &db, Some(faults)).await;
    }
    let recovered = tokio::select! {
        r = wait_ready(&node_clients, recovery) => r,
        _ = interrupted(&mut interrupt) => return finish_interrupted(&dir, &recorder, &db, Some(faults)).await,
    };
    if let Err(e) = &recovered {
        tracing::warn!("the cluster did not recover: {e}");
    }
    let first_final = 1_000_000_000 + config.concurrency as u64;
    tokio::select! {
        _ = final_reads(&shared, &node_clients, first_final, Instant::now() + recovery) => {}
        _ = interrupted(&mut interrupt) => return finish_interrupted(&dir, &recorder, &db, Some(faults)).await,
    }
    drop(tasks);
    lock_db(&db).teardown();
    recorder
        .sync()
        .map_err(|e| RunError::Results(format!("history: {e}")))?;

    let records = recorder.records();
    let count = records.len();
    let lines: Vec<usize> = (1..=count).collect();
    let history = History::from_records(records.clone(), lines)
        .map_err(|e| RunError::Results(format!("the recorded history is malformed: {e}")))?;
    let options = CheckOptions {
        timeout: Some(Duration::from_secs_f64(config.check_timeout_s.max(0.001))),
        ..CheckOptions::default()
    };
    let workload = &shared.workload;
    let checkers = tokio::task::block_in_place(|| workload.check(&history, &options));
    let verdict = checkers
        .iter()
        .fold(CheckerVerdict::Valid, |v, c| v.worst(c.verdict));
    let mut extra = Vec::new();
    if let Err(e) = recovered {
        extra.push(format!("the cluster did not recover after healing: {e}"));
    }
    let summary = report::write(
        &dir,
        config,
        &records,
        &checkers,
        &faults,
        Some(verdict),
        &extra,
    )?;
    Ok(Outcome {
        verdict: Some(verdict),
        dir: dir.path.clone(),
        checkers,
        faults,
        summary,
        records: count,
    })
}

/// After an interrupt: heal (if the nemesis ran), tear down, keep the
/// history, and say so in the results.
async fn finish_interrupted(
    dir: &RunDir,
    recorder: &Recorder,
    db: &SharedDb,
    faults: Option<Vec<FaultEvent>>,
) -> Result<Outcome, RunError> {
    lock_db(db).teardown();
    let synced = recorder.sync();
    let records = recorder.records();
    let faults = faults.unwrap_or_default();
    let config: TestConfig = std::fs::read(dir.path.join("test.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let summary = report::write(dir, &config, &records, &[], &faults, None, &[])?;
    synced.map_err(|e| RunError::Results(format!("history: {e}")))?;
    Ok(Outcome {
        verdict: None,
        dir: dir.path.clone(),
        checkers: Vec::new(),
        faults,
        summary,
        records: records.len(),
    })
}
