//! Simulated clients. Each runs the workload's own code for an operation
//! (`Workload::execute`, the same future the harness awaits) over a
//! [`Wire`]: the future's one call is taken off the wire by the world,
//! carried to a node as a command, and its answer put back, after which the
//! future is polled to its completion. No executor, no threads: a future
//! is only ever polled by the world, so a run is deterministic.
//!
//! A client either has no session (client id 0, as the harness's clients)
//! or a `client`/`seq` session: it then retries an operation whose attempt
//! ended indeterminate with the same sequence number, a few times, and
//! reports the operation indeterminate if any attempt was (a later
//! refusal says nothing about an earlier attempt still in flight).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use target_kv::kv::{KvOp, KvResult};
use target_kv::paxos::{NodeId, Reply};
use workloads::store::{BoxFuture, KvClient, StoreError, StoreOp, StoreReply};
use workloads::{Completion, Invocation, OpStream, Workload};

/// Attempts a session client makes for one operation.
pub const SESSION_ATTEMPTS: u32 = 3;

/// What a call's future waits on.
#[derive(Debug, Default)]
struct Slot {
    request: Option<StoreOp>,
    reply: Option<Result<StoreReply, StoreError>>,
}

/// The link between a workload's future and the world.
#[derive(Clone, Debug, Default)]
pub struct Wire(Arc<Mutex<Slot>>);

impl Wire {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        // Only the world's one thread touches it.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl KvClient for Wire {
    fn call(&self, op: StoreOp) -> BoxFuture<'_, Result<StoreReply, StoreError>> {
        self.lock().request = Some(op);
        Box::pin(std::future::poll_fn(move |_| {
            match self.lock().reply.take() {
                Some(r) => Poll::Ready(r),
                None => Poll::Pending,
            }
        }))
    }
}

/// An operation in flight.
pub struct InFlight {
    /// The operation as recorded.
    pub op: Arc<Invocation>,
    future: Pin<Box<dyn Future<Output = Completion> + Send>>,
    /// The command to send again on a retry (only a session client
    /// retries, so only it keeps a copy).
    retry: Option<target_kv::kv::Command>,
    /// The current attempt's id (answers to older attempts are ignored).
    pub attempt: u64,
    /// Attempts made so far.
    pub attempts: u32,
    /// Whether an earlier attempt ended indeterminate.
    pub was_indeterminate: bool,
    /// Whether the current attempt reached the node.
    pub delivered: bool,
}

/// One simulated client.
pub struct SimClient {
    /// Its index (0-based).
    pub index: usize,
    /// The history process it records as now (a fresh one after `info`).
    pub process: u64,
    /// The node it talks to.
    pub node: NodeId,
    /// Its session id (0: no session).
    pub session: u64,
    /// Its last sequence number.
    pub seq: u64,
    /// Its operation stream.
    pub stream: OpStream,
    wire: Wire,
    /// What it is doing, if anything.
    pub inflight: Option<InFlight>,
    /// Attempts left for the final read it is doing.
    pub final_attempts_left: u32,
}

/// How a call ended, seen from the client.
pub type CallResult = Result<StoreReply, StoreError>;

/// What starting an operation gives.
pub enum Started {
    /// A command to send.
    Send(target_kv::kv::Command),
    /// The workload completed it without a call.
    Done(Completion),
}

impl SimClient {
    /// A client.
    pub fn new(index: usize, node: NodeId, session: u64, stream: OpStream) -> SimClient {
        SimClient {
            index,
            process: index as u64,
            node,
            session,
            seq: 0,
            stream,
            wire: Wire::default(),
            inflight: None,
            final_attempts_left: 0,
        }
    }

    /// Starts `op`: runs the workload's code up to its call.
    pub fn begin(
        &mut self,
        workload: &Arc<dyn Workload>,
        op: Arc<Invocation>,
        attempt: u64,
    ) -> Started {
        let (w, o, wire) = (workload.clone(), op.clone(), self.wire.clone());
        let mut future: Pin<Box<dyn Future<Output = Completion> + Send>> =
            Box::pin(async move { w.execute(&o, &wire).await });
        if let Poll::Ready(done) = poll(&mut future) {
            return Started::Done(done);
        }
        let request = self.wire.lock().request.take();
        let Some(store_op) = request else {
            return Started::Done(Completion::info("the workload waited on nothing"));
        };
        self.seq += 1;
        let command = target_kv::kv::Command {
            client: self.session,
            seq: if self.session == 0 { 0 } else { self.seq },
            op: kv_op(store_op),
        };
        self.inflight = Some(InFlight {
            op,
            future,
            retry: (self.session != 0).then(|| command.clone()),
            attempt,
            attempts: 1,
            was_indeterminate: false,
            delivered: false,
        });
        Started::Send(command)
    }

    /// An answer to attempt `attempt`. Returns the completion when the
    /// operation is over, or `Err(command)` to send again (a session
    /// client's retry, which the caller gives `next_attempt`).
    pub fn answer(
        &mut self,
        attempt: u64,
        result: CallResult,
        next_attempt: u64,
    ) -> Option<Result<Completion, target_kv::kv::Command>> {
        let f = self.inflight.as_mut()?;
        if f.attempt != attempt {
            return None;
        }
        let indeterminate = matches!(result, Err(StoreError::Indeterminate(_)));
        if indeterminate && f.attempts < SESSION_ATTEMPTS {
            if let Some(command) = &f.retry {
                f.was_indeterminate = true;
                f.attempts += 1;
                f.attempt = next_attempt;
                f.delivered = false;
                return Some(Err(command.clone()));
            }
        }
        let result = match result {
            // An earlier attempt may still take effect: a refusal of this
            // one does not make the operation definitely failed.
            Err(StoreError::Definite(m)) if f.was_indeterminate => Err(StoreError::Indeterminate(
                format!("{m} (after an indeterminate attempt)"),
            )),
            r => r,
        };
        let mut f = self.inflight.take().expect("checked above");
        self.wire.lock().reply = Some(result);
        let done = match poll(&mut f.future) {
            Poll::Ready(done) => done,
            Poll::Pending => Completion::info("the workload made a second call"),
        };
        Some(Ok(done))
    }
}

fn poll<T>(future: &mut Pin<Box<dyn Future<Output = T> + Send>>) -> Poll<T> {
    future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
}

/// The store command for a workload's call.
fn kv_op(op: StoreOp) -> KvOp {
    match op {
        StoreOp::Get { key } => KvOp::Get { key },
        StoreOp::Set { key, value } => KvOp::Set { key, value },
        StoreOp::Cas { key, from, to } => KvOp::Cas { key, from, to },
        StoreOp::Contains { key } => KvOp::Contains { key },
        StoreOp::Remove { key } => KvOp::Remove { key },
    }
}

/// The node's answer as the harness's HTTP client reports it (the same
/// mapping as the node's HTTP API and `harness::client::skeptic`).
pub fn call_result(reply: Reply) -> CallResult {
    match reply {
        Reply::Ok(KvResult::Value { value }) => Ok(StoreReply::Value(value)),
        Reply::Ok(KvResult::Exists { exists }) => Ok(StoreReply::Exists(Some(exists))),
        Reply::Ok(KvResult::Done) => Ok(StoreReply::Done),
        Reply::Ok(KvResult::CasMismatch { .. }) => Ok(StoreReply::CasMismatch),
        Reply::Ok(KvResult::Superseded) => Err(StoreError::Indeterminate("409 superseded".into())),
        Reply::Error { code, definite } => {
            let m = format!("503 {code:?}");
            if definite {
                Err(StoreError::Definite(m))
            } else {
                Err(StoreError::Indeterminate(m))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use workloads::{WorkloadKind, WorkloadOptions};

    fn started(session: u64) -> (SimClient, Arc<dyn Workload>) {
        let workload: Arc<dyn Workload> = Arc::from(workloads::make(
            WorkloadKind::Register,
            &WorkloadOptions::default(),
        ));
        let mut c = SimClient::new(0, 1, session, OpStream::new(1, 0));
        let op = Invocation {
            f: "write".into(),
            key: "k0".into(),
            value: checker::Value::Int(3),
        };
        assert!(matches!(
            c.begin(&workload, Arc::new(op), 1),
            Started::Send(_)
        ));
        (c, workload)
    }

    /// Bug 8 of the review: a session's retry refused definitely while an
    /// earlier attempt may still be chosen must not be recorded `fail`.
    #[test]
    fn a_refused_retry_after_an_indeterminate_attempt_stays_indeterminate() {
        let (mut c, _w) = started(7);
        let timeout = Err(StoreError::Indeterminate("timeout".into()));
        let again = c.answer(1, timeout, 2).expect("answers its attempt");
        let cmd = again.expect_err("a session client retries");
        assert_eq!(
            (cmd.client, cmd.seq),
            (7, 1),
            "with the same sequence number"
        );
        let refused = Err(StoreError::Definite("503 NoLeader".into()));
        let done = c.answer(2, refused, 3).expect("answers").expect("done");
        assert_eq!(done.kind, checker::RecordType::Info, "{done:?}");
    }

    #[test]
    fn without_a_session_a_refusal_is_a_failure_and_nothing_is_retried() {
        let (mut c, _w) = started(0);
        let refused = Err(StoreError::Definite("503 NoLeader".into()));
        let done = c.answer(1, refused, 2).expect("answers").expect("done");
        assert_eq!(done.kind, checker::RecordType::Fail);
        let (mut c, _w) = started(0);
        let timeout = Err(StoreError::Indeterminate("timeout".into()));
        let done = c.answer(1, timeout, 2).expect("answers").expect("done");
        assert_eq!(done.kind, checker::RecordType::Info);
        assert!(
            c.answer(1, Ok(StoreReply::Done), 3).is_none(),
            "an answer to an old attempt is ignored"
        );
    }
}
