//! The load phase: client threads and the nemesis run until the time
//! limit (or Ctrl-C), then every fault is healed.

use super::clients::client_thread;
use super::faults::nemesis_loop;
use super::interrupted;
use super::setup::Prepared;
use crate::client;
use crate::db::Protocol;
use crate::error::RunError;
use crate::nemesis::{lock_db, FaultEvent, Nemesis};
use crate::recorder::FLUSH_INTERVAL;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Aborts tasks that are still running when dropped.
pub(super) struct Tasks(Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// How the load phase ended.
pub(super) struct Loaded {
    /// Ctrl-C cut it short.
    pub interrupted: bool,
    /// Every fault started and stopped (all healed by now).
    pub faults: Vec<FaultEvent>,
    /// Tasks that must outlive the phase (the history flusher); aborted
    /// when dropped.
    pub tasks: Tasks,
}

/// Runs the clients and the nemesis until the time limit, then heals.
pub(super) async fn run_load(
    prepared: &Prepared,
    interrupt: &mut watch::Receiver<bool>,
) -> Result<Loaded, RunError> {
    let shared = &prepared.shared;
    let config = &shared.config;
    let db = &prepared.db;
    let timeout = Duration::from_millis(config.op_timeout_ms);
    let (stop_tx, stop_rx) = watch::channel(false);
    let deadline = Instant::now() + Duration::from_secs_f64(config.time_limit_s);
    let mut tasks = Tasks(Vec::new());
    for t in 0..config.concurrency {
        // Each thread sticks to one node, round-robin, as Jepsen's clients
        // do, with a client (and connections) of its own.
        let client = match prepared.protocol {
            Protocol::Skeptic | Protocol::Etcd => {
                let url = lock_db(db).client_url(t % prepared.node_clients.len());
                client::connect(prepared.protocol, &url, timeout)
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
        Nemesis::new(db.clone(), prepared.recorder.clone())
            .map_err(|e| RunError::Setup(e.to_string()))?
            .with_packet_spec(prepared.packet.clone()),
    ));
    let nemesis_task = tokio::spawn(nemesis_loop(
        nemesis.clone(),
        crate::nemesis::network::has_net(db),
        config.clone(),
        stop_rx.clone(),
        shared.progress.clone(),
    ));
    let flusher = {
        let recorder = prepared.recorder.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_INTERVAL);
            loop {
                tick.tick().await;
                recorder.flush();
            }
        })
    };
    let bar = crate::progress::Bar::start(config.time_limit_s, shared.progress.clone());

    let mut was_interrupted = tokio::select! {
        _ = tokio::time::sleep_until(deadline.into()) => false,
        _ = interrupted(interrupt) => true,
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
            for t in tasks.0.iter_mut() {
                let _ = t.await;
            }
        };
        tokio::select! {
            _ = joined => {}
            _ = interrupted(interrupt) => was_interrupted = true,
        }
    }
    bar.finish();
    tracing::info!("healing the cluster");
    nemesis.lock().await.heal_all().await;
    let faults = nemesis.lock().await.events().to_vec();
    tasks.0.push(flusher);
    Ok(Loaded {
        interrupted: was_interrupted,
        faults,
        tasks,
    })
}
