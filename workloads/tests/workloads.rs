//! Workloads against an in-memory store: the operation streams are
//! deterministic, operations map onto the store and back honestly, and the
//! checkers tell good histories from bad ones.

use checker::{CheckOptions, History, Process, Record, RecordType, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use workloads::store::{BoxFuture, KvClient, StoreError, StoreOp, StoreReply};
use workloads::{
    make, CheckerVerdict, Completion, Invocation, OpStream, WorkloadKind, WorkloadOptions,
};

/// A linearizable store in memory, optionally failing every call.
#[derive(Default)]
struct MemStore {
    data: Mutex<BTreeMap<String, String>>,
    fail_with: Option<StoreError>,
}

impl KvClient for MemStore {
    fn call(&self, op: StoreOp) -> BoxFuture<'_, Result<StoreReply, StoreError>> {
        let result = match &self.fail_with {
            Some(e) => Err(e.clone()),
            None => {
                let mut d = self.data.lock().expect("lock");
                Ok(match op {
                    StoreOp::Get { key } => StoreReply::Value(d.get(&key).cloned()),
                    StoreOp::Set { key, value } => {
                        d.insert(key, value);
                        StoreReply::Done
                    }
                    StoreOp::Cas { key, from, to } => {
                        if d.get(&key) == from.as_ref() {
                            d.insert(key, to);
                            StoreReply::Done
                        } else {
                            StoreReply::CasMismatch
                        }
                    }
                    StoreOp::Contains { key } => StoreReply::Exists(Some(d.contains_key(&key))),
                    StoreOp::Remove { key } => StoreReply::Exists(Some(d.remove(&key).is_some())),
                })
            }
        };
        Box::pin(async move { result })
    }
}

/// Runs a future that never waits (the in-memory store answers at once).
fn now<T>(f: impl Future<Output = T>) -> T {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the in-memory store never waits"),
    }
}

fn options() -> WorkloadOptions {
    WorkloadOptions {
        threads: 4,
        keys: 2,
        ops_per_key: Some(40),
        values: 5,
    }
}

/// Runs `n` operations per thread, one at a time, against `store`, and
/// records them as a history (sequential, so always linearizable when the
/// store is right).
fn sequential_history(
    kind: WorkloadKind,
    store: &MemStore,
    n: usize,
) -> (Vec<Record>, Vec<Invocation>) {
    let w = make(kind, &options());
    let mut streams: Vec<OpStream> = (0..4).map(|t| OpStream::new(9, t)).collect();
    let mut records = Vec::new();
    let mut invocations = Vec::new();
    let push = |records: &mut Vec<Record>, p: u64, kind, op: &Invocation, value, error| {
        records.push(Record {
            index: records.len() as u64,
            process: Process::Client(p),
            kind,
            f: op.f.clone(),
            key: Some(Value::Str(op.key.clone())),
            value,
            time: None,
            error,
        });
    };
    for _ in 0..n {
        for (t, s) in streams.iter_mut().enumerate() {
            let op = w.next_op(s);
            push(
                &mut records,
                t as u64,
                RecordType::Invoke,
                &op,
                Some(op.value.clone()),
                None,
            );
            let done = now(w.execute(&op, store));
            push(
                &mut records,
                t as u64,
                done.kind,
                &op,
                done.value,
                done.error,
            );
            invocations.push(op);
        }
    }
    let keys: Vec<String> = invocations
        .iter()
        .map(|o| o.key.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for op in w.final_ops(&keys) {
        push(
            &mut records,
            100,
            RecordType::Invoke,
            &op,
            Some(op.value.clone()),
            None,
        );
        let done = now(w.execute(&op, store));
        push(&mut records, 100, done.kind, &op, done.value, done.error);
    }
    (records, invocations)
}

fn history(records: Vec<Record>) -> History {
    let lines = (1..=records.len()).collect();
    History::from_records(records, lines).expect("well formed")
}

#[test]
fn streams_are_deterministic_per_seed_and_thread() {
    for kind in WorkloadKind::ALL {
        let draw = |seed, thread| {
            // A fresh workload: keys follow the group's progress, which
            // depends on how threads interleave; alone, a thread's keys
            // are fixed too.
            let w = make(kind, &options());
            let mut s = OpStream::new(seed, thread);
            (0..100).map(|_| w.next_op(&mut s)).collect::<Vec<_>>()
        };
        assert_eq!(draw(1, 0), draw(1, 0), "{kind}");
        if kind != WorkloadKind::Set {
            // Set elements are unique by construction, whatever the seed.
            assert_ne!(draw(1, 0), draw(2, 0), "{kind}");
        }
        assert_ne!(draw(1, 0), draw(1, 1), "{kind}");
    }
}

#[test]
fn correct_store_passes_every_workload() {
    for kind in WorkloadKind::ALL {
        let store = MemStore::default();
        let (records, _) = sequential_history(kind, &store, 60);
        let results = make(kind, &options()).check(&history(records), &CheckOptions::default());
        for r in &results {
            assert_eq!(r.verdict, CheckerVerdict::Valid, "{kind}: {:?}", r.lines);
        }
    }
}

#[test]
fn a_stale_read_fails_the_register_and_kv_checkers() {
    for kind in [WorkloadKind::Register, WorkloadKind::Kv] {
        let store = MemStore::default();
        let (mut records, _) = sequential_history(kind, &store, 60);
        // Plant a stale read: the last ok read of a key that had been
        // written to a different value since the first write now returns
        // that first value... simplest: change an ok read's value to one
        // never written (99).
        let read = if kind == WorkloadKind::Register {
            "read"
        } else {
            "get"
        };
        let target = records
            .iter()
            .rposition(|r| r.kind == RecordType::Ok && r.f == read)
            .expect("an ok read");
        records[target].value = Some(Value::Int(99));
        let results = make(kind, &options()).check(&history(records), &CheckOptions::default());
        assert_eq!(results[0].verdict, CheckerVerdict::Anomaly, "{kind}");
        assert!(
            results[0].report.is_some(),
            "a counterexample comes with it"
        );
    }
}

#[test]
fn set_checker_reports_lost_and_unexpected_elements() {
    let store = MemStore::default();
    let (records, invocations) = sequential_history(WorkloadKind::Set, &store, 30);
    let key = invocations[0].key.clone();
    let acked = match &invocations[0].value {
        Value::Int(e) => *e,
        other => panic!("element {other}"),
    };
    // Lose an acknowledged element and add one nobody added.
    let mut bad = records.clone();
    let read = bad
        .iter_mut()
        .rev()
        .find(|r| {
            r.kind == RecordType::Ok && r.f == "read" && r.key == Some(Value::Str(key.clone()))
        })
        .expect("final read of the key");
    if let Some(Value::List(items)) = &mut read.value {
        items.retain(|v| *v != Value::Int(acked));
        items.push(Value::Int(-7));
    }
    let r = workloads::set::check_sets(&history(bad));
    assert_eq!(r.verdict, CheckerVerdict::Anomaly);
    assert_eq!(
        r.json["lost"],
        serde_json::json!([format!("{key}: {acked}")])
    );
    assert_eq!(
        r.json["unexpected"],
        serde_json::json!([format!("{key}: -7")])
    );
    // Without final reads nothing can be said.
    let unread: Vec<Record> = records.into_iter().filter(|r| r.f != "read").collect();
    assert_eq!(
        workloads::set::check_sets(&history(unread)).verdict,
        CheckerVerdict::Unknown
    );
}

#[test]
fn store_errors_are_recorded_honestly() {
    for kind in WorkloadKind::ALL {
        let w = make(kind, &options());
        let mut s = OpStream::new(3, 0);
        // Find a writing operation of this workload.
        let op = (0..50)
            .map(|_| w.next_op(&mut s))
            .find(|o| !matches!(o.f.as_str(), "read" | "get" | "contains"))
            .expect("a write");
        let refused = MemStore {
            fail_with: Some(StoreError::Definite("no leader".into())),
            ..MemStore::default()
        };
        assert_eq!(
            now(w.execute(&op, &refused)).kind,
            RecordType::Fail,
            "{kind} {op:?}"
        );
        let unknown = MemStore {
            fail_with: Some(StoreError::Indeterminate("timeout".into())),
            ..MemStore::default()
        };
        let done = now(w.execute(&op, &unknown));
        // A set add reads first: a read that times out changed nothing, so
        // the add definitely did not happen.
        let expected = if kind == WorkloadKind::Set {
            RecordType::Fail
        } else {
            RecordType::Info
        };
        assert_eq!(done.kind, expected, "{kind} {op:?}");
        assert!(done.is_unavailable());
    }
    assert!(!Completion::cas_mismatch().is_unavailable());
}
