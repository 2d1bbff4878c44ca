//! `kv`: get, set, contains, remove and compare-and-set over a key space,
//! each key checked with the kv model (absent keys read as nil).

use crate::keys::{KeyCursor, KeyPlan};
use crate::store::{BoxFuture, KvClient, StoreOp, StoreReply};
use crate::workload::{
    from_store, linearizability, reads_of, to_store, CheckerResult, Completion, Invocation,
    OpStream, Workload, WorkloadKind, WorkloadOptions,
};
use checker::{CheckOptions, History, ModelKind, Value};

/// Operations per key by default (see the register workload).
const OPS_PER_KEY: usize = 300;

/// The kv workload.
#[derive(Clone, Debug)]
pub struct Kv {
    keys: KeyCursor,
    values: u64,
}

impl Kv {
    /// A kv workload.
    pub fn new(options: &WorkloadOptions) -> Kv {
        Kv {
            keys: KeyCursor::for_options(options, OPS_PER_KEY),
            values: options.values.max(1),
        }
    }
}

impl Workload for Kv {
    fn kind(&self) -> WorkloadKind {
        WorkloadKind::Kv
    }

    fn next_op(&self, s: &mut OpStream) -> Invocation {
        let key = KeyPlan::name(self.keys.next_key(s.thread));
        s.n += 1;
        let value = |s: &mut OpStream| Value::Int(s.below(self.values) as i64);
        // Reads dominate, as in most real key-value traffic; removes keep
        // "absent" a live state.
        let (f, v) = match s.below(10) {
            0..=3 => ("get", Value::Nil),
            4..=6 => ("set", value(s)),
            7 => ("contains", Value::Nil),
            8 => ("remove", Value::Nil),
            _ => {
                // A third of the cas operations expect the key to be absent.
                let from = if s.below(3) == 0 {
                    Value::Nil
                } else {
                    value(s)
                };
                ("cas", Value::List(vec![from, value(s)]))
            }
        };
        Invocation {
            f: f.into(),
            key,
            value: v,
        }
    }

    fn final_ops(&self, keys: &[String]) -> Vec<Invocation> {
        reads_of(keys, "get")
    }

    fn execute<'a>(
        &'a self,
        op: &'a Invocation,
        client: &'a dyn KvClient,
    ) -> BoxFuture<'a, Completion> {
        Box::pin(async move {
            let key = op.key.clone();
            let call = match (op.f.as_str(), &op.value) {
                ("get", _) => StoreOp::Get { key },
                ("set", v) => StoreOp::Set {
                    key,
                    value: to_store(v),
                },
                ("contains", _) => StoreOp::Contains { key },
                ("remove", _) => StoreOp::Remove { key },
                ("cas", Value::List(pair)) if pair.len() == 2 => StoreOp::Cas {
                    key,
                    from: (!pair[0].is_nil()).then(|| to_store(&pair[0])),
                    to: to_store(&pair[1]),
                },
                _ => return Completion::fail(format!("not a kv operation: {} {}", op.f, op.value)),
            };
            let f = op.f.as_str();
            match client.call(call).await {
                Err(e) => Completion::from_error(&e),
                Ok(StoreReply::Value(v)) if f == "get" => {
                    Completion::ok(v.as_deref().map(from_store).unwrap_or(Value::Nil))
                }
                Ok(StoreReply::Done) if f == "set" || f == "cas" => {
                    Completion::ok(op.value.clone())
                }
                Ok(StoreReply::Exists(Some(b))) if f == "contains" || f == "remove" => {
                    Completion::ok(Value::Bool(b))
                }
                Ok(StoreReply::Exists(None)) if f == "remove" => Completion::ok(Value::Nil),
                Ok(StoreReply::CasMismatch) if f == "cas" => Completion::cas_mismatch(),
                Ok(other) => Completion::unexpected(&other),
            }
        })
    }

    fn model(&self) -> Option<ModelKind> {
        Some(ModelKind::Kv)
    }

    fn check(&self, history: &History, options: &CheckOptions) -> Vec<CheckerResult> {
        vec![linearizability(history, ModelKind::Kv, options)]
    }
}
