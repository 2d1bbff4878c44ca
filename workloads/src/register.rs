//! `register`: read, write and compare-and-set on independent keys, each
//! checked as a cas-register (Jepsen's linearizable register test).

use crate::keys::{KeyCursor, KeyPlan};
use crate::store::{BoxFuture, KvClient, StoreOp, StoreReply};
use crate::workload::{
    from_store, linearizability, reads_of, to_store, CheckerResult, Completion, Invocation,
    OpStream, Workload, WorkloadKind, WorkloadOptions,
};
use checker::{CheckOptions, History, ModelKind, Value};

/// Operations per key by default: enough for real contention, few enough
/// that a key's history with indeterminate operations stays cheap to check.
const OPS_PER_KEY: usize = 200;

/// The register workload.
#[derive(Clone, Debug)]
pub struct Register {
    keys: KeyCursor,
    values: u64,
}

impl Register {
    /// A register workload.
    pub fn new(options: &WorkloadOptions) -> Register {
        Register {
            keys: KeyCursor::for_options(options, OPS_PER_KEY),
            values: options.values.max(1),
        }
    }
}

impl Workload for Register {
    fn kind(&self) -> WorkloadKind {
        WorkloadKind::Register
    }

    fn next_op(&self, s: &mut OpStream) -> Invocation {
        let key = KeyPlan::name(self.keys.next_key(s.thread));
        s.n += 1;
        // Jepsen's mix: a third each of reads, writes and cas.
        let (f, value) = match s.below(3) {
            0 => ("read", Value::Nil),
            1 => ("write", Value::Int(s.below(self.values) as i64)),
            _ => {
                let from = Value::Int(s.below(self.values) as i64);
                let to = Value::Int(s.below(self.values) as i64);
                ("cas", Value::List(vec![from, to]))
            }
        };
        Invocation {
            f: f.into(),
            key,
            value,
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
            let call = match (op.f.as_str(), &op.value) {
                ("read", _) => StoreOp::Get { key },
                ("write", v) => StoreOp::Set {
                    key,
                    value: to_store(v),
                },
                ("cas", Value::List(pair)) if pair.len() == 2 => StoreOp::Cas {
                    key,
                    from: Some(to_store(&pair[0])),
                    to: to_store(&pair[1]),
                },
                _ => {
                    return Completion::fail(format!(
                        "not a register operation: {} {}",
                        op.f, op.value
                    ))
                }
            };
            match client.call(call).await {
                Err(e) => Completion::from_error(&e),
                Ok(StoreReply::Value(v)) if op.f == "read" => {
                    Completion::ok(v.as_deref().map(from_store).unwrap_or(Value::Nil))
                }
                Ok(StoreReply::Done) if op.f != "read" => Completion::ok(op.value.clone()),
                // The cas found another value: it definitely changed nothing.
                Ok(StoreReply::CasMismatch) if op.f == "cas" => Completion::cas_mismatch(),
                Ok(other) => Completion::unexpected(&other),
            }
        })
    }

    fn model(&self) -> Option<ModelKind> {
        Some(ModelKind::CasRegister)
    }

    fn check(&self, history: &History, options: &CheckOptions) -> Vec<CheckerResult> {
        vec![linearizability(history, ModelKind::CasRegister, options)]
    }
}
