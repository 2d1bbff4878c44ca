//! `set`: clients add unique elements to a few sets, then each set is read
//! once the faults have healed. The checker (Jepsen's set checker) reports
//! acknowledged adds that are missing (lost), elements nobody successfully
//! or possibly added (unexpected; this includes adds that definitely
//! failed), and indeterminate adds that did land (recovered).
//!
//! A set is stored under one key as a comma-separated list, and an add is a
//! read followed by a compare-and-set, retried on contention: the store
//! needs nothing beyond the primitive interface.

use crate::keys::{KeyCursor, KeyPlan};
use crate::store::{BoxFuture, KvClient, StoreOp, StoreReply};
use crate::workload::{
    reads_of, CheckerResult, CheckerVerdict, Completion, Invocation, OpStream, Workload,
    WorkloadKind, WorkloadOptions,
};
use checker::{CheckOptions, History, ModelKind, Outcome, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Elements per set by default: each add rewrites the whole list, so sets
/// stay small.
const OPS_PER_KEY: usize = 100;

/// Compare-and-set attempts per add before it gives up (definitely, as
/// none of the attempts took effect).
const CAS_ATTEMPTS_MAX: usize = 16;

/// Examples listed per kind of anomaly.
const EXAMPLES_MAX: usize = 10;

/// The set workload.
#[derive(Clone, Debug)]
pub struct Set {
    keys: KeyCursor,
}

impl Set {
    /// A set workload.
    pub fn new(options: &WorkloadOptions) -> Set {
        Set {
            keys: KeyCursor::for_options(options, OPS_PER_KEY),
        }
    }
}

/// Parses a stored set; `None` if it is not a list of integers.
fn parse_elements(text: &str) -> Option<Vec<i64>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split(',').map(|e| e.parse().ok()).collect()
}

impl Workload for Set {
    fn kind(&self) -> WorkloadKind {
        WorkloadKind::Set
    }

    fn next_op(&self, s: &mut OpStream) -> Invocation {
        let key = KeyPlan::name(self.keys.next_key(s.thread));
        // Unique across threads: thread t adds t, t + T, t + 2T, ...
        let element = s.thread as u64 + s.n * self.keys.plan().threads as u64;
        s.n += 1;
        Invocation {
            f: "add".into(),
            key,
            value: Value::Int(element as i64),
        }
    }

    fn final_ops(&self, keys: &[String]) -> Vec<Invocation> {
        reads_of(keys, "read")
    }

    fn execute<'a>(
        &'a self,
        op: &'a Invocation,
        client: &'a dyn KvClient,
    ) -> BoxFuture<'a, Completion> {
        Box::pin(async move {
            let key = op.key.clone();
            match op.f.as_str() {
                "read" => match client.call(StoreOp::Get { key }).await {
                    Err(e) => Completion::from_error(&e),
                    Ok(StoreReply::Value(None)) => Completion::ok(Value::List(Vec::new())),
                    Ok(StoreReply::Value(Some(text))) => match parse_elements(&text) {
                        Some(es) => {
                            Completion::ok(Value::List(es.into_iter().map(Value::Int).collect()))
                        }
                        // Keep what was read: the checker reports it.
                        None => Completion::ok(Value::Str(text)),
                    },
                    Ok(other) => Completion::unexpected(&other),
                },
                "add" => {
                    let element = op.value.to_string();
                    for _ in 0..CAS_ATTEMPTS_MAX {
                        // A read changes nothing, so any read error means
                        // the add definitely has not happened yet.
                        let current = match client.call(StoreOp::Get { key: key.clone() }).await {
                            Ok(StoreReply::Value(v)) => v,
                            Ok(other) => return Completion::unexpected(&other),
                            Err(e) => return Completion::fail(format!("read before add: {e}")),
                        };
                        let to = match &current {
                            Some(list) if !list.is_empty() => format!("{list},{element}"),
                            _ => element.clone(),
                        };
                        let cas = StoreOp::Cas {
                            key: key.clone(),
                            from: current,
                            to,
                        };
                        match client.call(cas).await {
                            Ok(StoreReply::Done) => return Completion::ok(op.value.clone()),
                            Ok(StoreReply::CasMismatch) => continue,
                            Ok(other) => return Completion::unexpected(&other),
                            Err(e) => return Completion::from_error(&e),
                        }
                    }
                    Completion::fail(format!(
                        "gave up after {CAS_ATTEMPTS_MAX} contended attempts"
                    ))
                }
                f => Completion::fail(format!("not a set operation: {f}")),
            }
        })
    }

    fn model(&self) -> Option<ModelKind> {
        None
    }

    fn check(&self, history: &History, _options: &CheckOptions) -> Vec<CheckerResult> {
        vec![check_sets(history)]
    }
}

/// Jepsen's set checker over a history of `add` and final `read`s.
pub fn check_sets(history: &History) -> CheckerResult {
    #[derive(Default)]
    struct PerKey {
        ok: BTreeSet<i64>,
        info: BTreeSet<i64>,
        /// The last successful read, by invocation order.
        read: Option<(u64, Value)>,
    }
    let mut keys: BTreeMap<String, PerKey> = BTreeMap::new();
    for op in &history.ops {
        let key = match &op.key {
            Some(k) => k.as_str().map_or_else(|| k.to_string(), str::to_string),
            None => String::new(),
        };
        let entry = keys.entry(key).or_default();
        match (op.f.as_str(), op.outcome, &op.input, &op.output) {
            ("add", Outcome::Ok, Value::Int(e), _) => {
                entry.ok.insert(*e);
            }
            ("add", Outcome::Info, Value::Int(e), _) => {
                entry.info.insert(*e);
            }
            ("read", Outcome::Ok, _, Some(v))
                if entry.read.as_ref().is_none_or(|(call, _)| op.call > *call) =>
            {
                entry.read = Some((op.call, v.clone()));
            }
            _ => {}
        }
    }
    let mut verdict = CheckerVerdict::Valid;
    let (mut lost, mut unexpected, mut recovered) = (Vec::new(), Vec::new(), Vec::new());
    let mut unread = Vec::new();
    let mut acknowledged = 0usize;
    for (key, k) in &keys {
        acknowledged += k.ok.len();
        let read: BTreeSet<i64> = match &k.read {
            None => {
                if !k.ok.is_empty() || !k.info.is_empty() {
                    unread.push(key.clone());
                }
                continue;
            }
            Some((_, Value::List(items))) => {
                let mut set = BTreeSet::new();
                for item in items {
                    match item {
                        Value::Int(e) => {
                            set.insert(*e);
                        }
                        other => unexpected.push(format!("{key}: {other}")),
                    }
                }
                set
            }
            Some((_, other)) => {
                unexpected.push(format!("{key}: unreadable set {other}"));
                continue;
            }
        };
        lost.extend(k.ok.difference(&read).map(|e| format!("{key}: {e}")));
        recovered.extend(k.info.intersection(&read).map(|e| format!("{key}: {e}")));
        unexpected.extend(
            read.iter()
                .filter(|e| !k.ok.contains(e) && !k.info.contains(e))
                .map(|e| format!("{key}: {e}")),
        );
    }
    let mut lines = vec![format!(
        "{} sets, {} acknowledged adds: {} lost, {} unexpected, {} indeterminate adds recovered",
        keys.len(),
        acknowledged,
        lost.len(),
        unexpected.len(),
        recovered.len()
    )];
    let examples = |v: &[String]| {
        let mut s = v
            .iter()
            .take(EXAMPLES_MAX)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if v.len() > EXAMPLES_MAX {
            s.push_str(", ...");
        }
        s
    };
    if !lost.is_empty() {
        verdict = CheckerVerdict::Anomaly;
        lines.push(format!(
            "lost (acknowledged, then missing from the final read): {}",
            examples(&lost)
        ));
    }
    if !unexpected.is_empty() {
        verdict = CheckerVerdict::Anomaly;
        lines.push(format!(
            "unexpected (never added, or added by an add that definitely failed): {}",
            examples(&unexpected)
        ));
    }
    if !unread.is_empty() && verdict == CheckerVerdict::Valid {
        verdict = CheckerVerdict::Unknown;
    }
    if !unread.is_empty() {
        lines.push(format!(
            "no successful final read of: {}",
            examples(&unread)
        ));
    }
    CheckerResult {
        name: "set".into(),
        verdict,
        lines,
        json: serde_json::json!({
            "checker": "set",
            "valid": verdict.label(),
            "sets": keys.len(),
            "acknowledged": acknowledged,
            "lost": lost,
            "unexpected": unexpected,
            "recovered": recovered,
            "unread": unread,
        }),
        report: None,
    }
}
