//! What the checker concludes, and the evidence it gives for a violation.

use crate::value::Value;
use serde::{Deserialize, Serialize};

/// The verdict for a whole history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Some order of the operations explains every result.
    Linearizable,
    /// No order does; the witnesses show where each failing part gets stuck.
    NotLinearizable {
        /// One witness per failing part (key); the first found comes first.
        witnesses: Vec<Witness>,
    },
    /// The search ran out of budget or was stopped before an answer.
    Unknown {
        /// Why there is no answer.
        reason: String,
    },
}

impl Verdict {
    /// The process exit code for this verdict: 0, 1 or 2.
    pub fn exit_code(&self) -> i32 {
        match self {
            Verdict::Linearizable => 0,
            Verdict::NotLinearizable { .. } => 1,
            Verdict::Unknown { .. } => 2,
        }
    }

    /// One word for the verdict.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Linearizable => "linearizable",
            Verdict::NotLinearizable { .. } => "not linearizable",
            Verdict::Unknown { .. } => "unknown",
        }
    }
}

/// An operation as shown in a counterexample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpView {
    /// The operation's id in `History::ops`.
    pub id: usize,
    /// The client process.
    pub process: u64,
    /// Function name.
    pub f: String,
    /// Argument.
    pub input: Value,
    /// Result, when known.
    pub output: Option<Value>,
    /// `ok` or `info`.
    pub outcome: crate::history::Outcome,
    /// Invocation position (record order).
    pub call: u64,
    /// Completion position, `None` if open-ended.
    pub ret: Option<u64>,
    /// Invocation time in nanoseconds, when recorded.
    pub call_time: Option<i64>,
    /// Completion time in nanoseconds, when recorded.
    pub ret_time: Option<i64>,
    /// Source line of the invocation.
    pub line: usize,
    /// One line in words, e.g. `process 3: cas 1 -> 2 ok`.
    pub text: String,
}

/// One step of the longest linearization: an operation and the model state
/// after it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The operation's id.
    pub op: usize,
    /// The model's state after it, in words.
    pub state_after: String,
}

/// An operation that could come next at the end of the longest
/// linearization, and why it cannot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Blocked {
    /// The operation's id.
    pub op: usize,
    /// What it would have needed, e.g. "read returned 3, but the register held 5".
    pub reason: String,
}

/// Evidence that one part of a history (one key) is not linearizable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Witness {
    /// The key of the failing part (`None` for an unkeyed history).
    pub key: Option<Value>,
    /// The model's name.
    pub model: String,
    /// Every operation of this part (for drawing), ordered by invocation.
    pub ops: Vec<OpView>,
    /// The model's initial state, in words.
    pub initial_state: String,
    /// The longest linearizable prefix found, in order.
    pub longest: Vec<Step>,
    /// The state at the end of `longest`, in words.
    pub final_state: String,
    /// The operations that could come next, none of which can be linearized.
    pub blocked: Vec<Blocked>,
    /// The failing window: from the earliest invocation among `blocked` to
    /// the completion that forces one of them (record positions).
    pub window: (u64, u64),
}
