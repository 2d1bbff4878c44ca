//! The [`Workload`] trait and the types it speaks.

use crate::store::{BoxFuture, KvClient, StoreError, StoreReply};
use checker::generate::SplitMix;
use checker::{
    check_history, CheckOptions, CheckReport, History, ModelKind, RecordType, Value, Verdict,
};
use std::fmt;
use std::str::FromStr;

/// The workloads on offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// read / write / cas registers on independent keys.
    Register,
    /// get / set / contains / remove / cas over a key space.
    Kv,
    /// adds of unique elements to sets, then final reads.
    Set,
}

impl WorkloadKind {
    /// Every kind.
    pub const ALL: [WorkloadKind; 3] =
        [WorkloadKind::Register, WorkloadKind::Kv, WorkloadKind::Set];

    /// The name used on the command line and in stored runs.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Register => "register",
            WorkloadKind::Kv => "kv",
            WorkloadKind::Set => "set",
        }
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for WorkloadKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WorkloadKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown workload {s:?} (expected register, kv or set)"))
    }
}

/// How a workload draws its operations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadOptions {
    /// Client threads.
    pub threads: usize,
    /// Keys in use at once.
    pub keys: usize,
    /// Operations per key before it is retired (all threads together);
    /// `None` takes the workload's default.
    pub ops_per_key: Option<usize>,
    /// Values written are drawn from `0..values` (set elements are unique
    /// regardless).
    pub values: u64,
}

impl Default for WorkloadOptions {
    fn default() -> Self {
        WorkloadOptions {
            threads: 10,
            keys: 3,
            ops_per_key: None,
            values: 5,
        }
    }
}

/// An operation as the history records it: `f`, key and argument.
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    /// The function (`read`, `write`, `cas`, `get`, `add`, ...).
    pub f: String,
    /// The store key.
    pub key: String,
    /// The argument (nil for reads).
    pub value: Value,
}

/// The error of a compare-and-set that found another value.
const CAS_MISMATCH: &str = "cas mismatch";

/// How an operation ended, as the history records it.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// ok, fail or info (never invoke).
    pub kind: RecordType,
    /// The result on ok (and the argument echoed where the model wants it).
    pub value: Option<Value>,
    /// Why it failed or is indeterminate.
    pub error: Option<String>,
}

impl Completion {
    /// A success with a result.
    pub fn ok(value: Value) -> Completion {
        Completion {
            kind: RecordType::Ok,
            value: Some(value),
            error: None,
        }
    }

    /// A definite failure.
    pub fn fail(error: impl Into<String>) -> Completion {
        Completion {
            kind: RecordType::Fail,
            value: None,
            error: Some(error.into()),
        }
    }

    /// The definite failure of a compare-and-set that found another value:
    /// the store answered; the operation lost.
    pub fn cas_mismatch() -> Completion {
        Completion::fail(CAS_MISMATCH)
    }

    /// Whether the store could not serve the operation (as opposed to the
    /// operation losing a compare): the client should pause before the next
    /// one rather than spin against a dead node.
    pub fn is_unavailable(&self) -> bool {
        match self.kind {
            RecordType::Fail => self.error.as_deref() != Some(CAS_MISMATCH),
            RecordType::Info => true,
            _ => false,
        }
    }

    /// An indeterminate outcome.
    pub fn info(error: impl Into<String>) -> Completion {
        Completion {
            kind: RecordType::Info,
            value: None,
            error: Some(error.into()),
        }
    }

    /// The honest record of a store error: a definite refusal fails, all
    /// else is indeterminate.
    pub fn from_error(e: &StoreError) -> Completion {
        match e {
            StoreError::Definite(m) => Completion::fail(m.clone()),
            StoreError::Indeterminate(m) => Completion::info(m.clone()),
        }
    }

    /// A reply the operation cannot have produced: the store broke the
    /// protocol, so nothing is known about the effect.
    pub fn unexpected(reply: &StoreReply) -> Completion {
        Completion::info(format!("unexpected reply {reply:?}"))
    }
}

/// The operation stream of one client thread: a seeded generator plus the
/// count of operations drawn so far. Same seed and thread, same functions
/// and values (keys are shared out by the workload's key cursor).
#[derive(Clone, Debug)]
pub struct OpStream {
    rng: SplitMix,
    /// The client thread (0-based).
    pub thread: usize,
    /// Operations drawn so far.
    pub n: u64,
}

impl OpStream {
    /// The stream of `thread` under `seed`.
    pub fn new(seed: u64, thread: usize) -> OpStream {
        // Mix the thread in so neighbouring threads' streams are unrelated.
        let mixed = seed ^ (thread as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        OpStream {
            rng: SplitMix::new(mixed),
            thread,
            n: 0,
        }
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.rng.below(n.max(1))
    }
}

/// A checker's conclusion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckerVerdict {
    /// Nothing wrong was found.
    Valid,
    /// The history shows an anomaly.
    Anomaly,
    /// The checker could not decide.
    Unknown,
}

impl CheckerVerdict {
    /// Exit code: 0 valid, 1 anomaly, 2 unknown.
    pub fn exit_code(self) -> u8 {
        match self {
            CheckerVerdict::Valid => 0,
            CheckerVerdict::Anomaly => 1,
            CheckerVerdict::Unknown => 2,
        }
    }

    /// The word shown to people.
    pub fn label(self) -> &'static str {
        match self {
            CheckerVerdict::Valid => "valid",
            CheckerVerdict::Anomaly => "anomaly",
            CheckerVerdict::Unknown => "unknown",
        }
    }

    /// The worse of two verdicts (anomaly over unknown over valid).
    pub fn worst(self, other: CheckerVerdict) -> CheckerVerdict {
        let rank = |v: CheckerVerdict| match v {
            CheckerVerdict::Valid => 0,
            CheckerVerdict::Unknown => 1,
            CheckerVerdict::Anomaly => 2,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// What one checker found.
#[derive(Clone, Debug)]
pub struct CheckerResult {
    /// The checker's name (`linearizable`, `set`).
    pub name: String,
    /// Its verdict.
    pub verdict: CheckerVerdict,
    /// Its findings in words.
    pub lines: Vec<String>,
    /// Its findings for machines.
    pub json: serde_json::Value,
    /// The linearizability report, for the counterexample page.
    pub report: Option<Box<CheckReport>>,
}

/// A workload: an operation stream, the operations' meaning on a store,
/// and the checkers for the history.
pub trait Workload: Send + Sync {
    /// Which workload.
    fn kind(&self) -> WorkloadKind;

    /// Draws the next operation of a thread's stream. Its key comes from
    /// state the workload shares between threads (and between clones), so
    /// one workload value serves one run.
    fn next_op(&self, stream: &mut OpStream) -> Invocation;

    /// The reads done after the faults heal, over the keys the test used.
    fn final_ops(&self, keys: &[String]) -> Vec<Invocation>;

    /// Performs an operation through a client and records honestly how it
    /// ended.
    fn execute<'a>(
        &'a self,
        op: &'a Invocation,
        client: &'a dyn KvClient,
    ) -> BoxFuture<'a, Completion>;

    /// The sequential model `skeptic check` should use on this workload's
    /// histories (`None`: not a linearizability workload).
    fn model(&self) -> Option<ModelKind>;

    /// Judges a recorded history.
    fn check(&self, history: &History, options: &CheckOptions) -> Vec<CheckerResult>;
}

/// Builds a workload.
pub fn make(kind: WorkloadKind, options: &WorkloadOptions) -> Box<dyn Workload> {
    match kind {
        WorkloadKind::Register => Box::new(crate::register::Register::new(options)),
        WorkloadKind::Kv => Box::new(crate::kv::Kv::new(options)),
        WorkloadKind::Set => Box::new(crate::set::Set::new(options)),
    }
}

/// One read (`f`) of each key: the final reads every workload does.
pub(crate) fn reads_of(keys: &[String], f: &str) -> Vec<Invocation> {
    keys.iter()
        .map(|k| Invocation {
            f: f.into(),
            key: k.clone(),
            value: Value::Nil,
        })
        .collect()
}

/// The store's string form of a history value.
pub(crate) fn to_store(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Int(i) => {
            let mut s = String::with_capacity(8);
            if *i < 0 {
                s.push('-');
            }
            crate::keys::push_decimal(&mut s, i.unsigned_abs());
            s
        }
        other => other.to_string(),
    }
}

/// A history value for a string read from the store: integers come back as
/// integers, anything else as the string it is.
pub(crate) fn from_store(s: &str) -> Value {
    s.parse::<i64>()
        .map(Value::Int)
        .unwrap_or_else(|_| Value::Str(s.to_string()))
}

/// Runs the linearizability checker with a model and words its verdict.
pub(crate) fn linearizability(
    history: &History,
    model: ModelKind,
    options: &CheckOptions,
) -> CheckerResult {
    let options = CheckOptions {
        model: Some(model),
        ..options.clone()
    };
    match check_history(history, &options) {
        Ok(report) => {
            let verdict = match report.verdict {
                Verdict::Linearizable => CheckerVerdict::Valid,
                Verdict::NotLinearizable { .. } => CheckerVerdict::Anomaly,
                Verdict::Unknown { .. } => CheckerVerdict::Unknown,
            };
            let mut lines = vec![format!(
                "{}: {} ops ({} indeterminate, {} failed) in {} keys, model {}, {:.1} ms",
                report.verdict.label(),
                report.ops,
                report.info_ops,
                report.failed_ops,
                report.parts,
                report.model,
                report.elapsed.as_secs_f64() * 1e3
            )];
            match &report.verdict {
                Verdict::NotLinearizable { witnesses } => {
                    lines.extend(witnesses.iter().map(checker::report::text::witness));
                }
                Verdict::Unknown { reason } => lines.push(reason.clone()),
                Verdict::Linearizable => {}
            }
            let mut json = serde_json::json!({
                "checker": "linearizable",
                "valid": verdict.label(),
                "model": report.model.name(),
                "ops": report.ops,
                "info_ops": report.info_ops,
                "failed_ops": report.failed_ops,
                "keys": report.parts,
                "elapsed_ms": report.elapsed.as_secs_f64() * 1e3,
            });
            if let (Some(obj), Ok(serde_json::Value::Object(v))) =
                (json.as_object_mut(), serde_json::to_value(&report.verdict))
            {
                obj.extend(v);
            }
            CheckerResult {
                name: "linearizable".into(),
                verdict,
                lines,
                json,
                report: Some(Box::new(report)),
            }
        }
        Err(e) => CheckerResult {
            name: "linearizable".into(),
            verdict: CheckerVerdict::Unknown,
            lines: vec![format!(
                "the history does not fit the {} model: {e}",
                model.name()
            )],
            json: serde_json::json!({"checker": "linearizable", "valid": "unknown", "error": e.to_string()}),
            report: None,
        },
    }
}
