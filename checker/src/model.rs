//! Sequential models: what a single, correct copy of the object would do.
//!
//! A model compiles each history operation into a compact form once, then
//! the search calls [`Model::step`] millions of times on small `Copy`
//! states. Values are interned to `u32` ids per part of the history, so a
//! state is a number or two and hashing it is cheap.

pub mod append_kv;
pub mod intern;
pub mod kv;
pub mod register;

use crate::history::Operation;
use crate::value::Value;
use std::fmt::Debug;
use std::hash::Hash;
use std::str::FromStr;

/// An operation the model cannot interpret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: the {model} model {problem}")]
pub struct ModelError {
    /// The model's name.
    pub model: &'static str,
    /// Source line of the operation's invocation.
    pub line: usize,
    /// What is wrong, e.g. "has no operation `incr` (it knows read, write)".
    pub problem: String,
}

impl ModelError {
    /// Builds an error for `op`.
    pub fn new(model: &'static str, op: &Operation, problem: impl Into<String>) -> ModelError {
        ModelError {
            model,
            line: op.line,
            problem: problem.into(),
        }
    }
}

/// How a model is configured, shared by every kind.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelConfig {
    /// The object's initial value; `None` means absent (nil).
    pub init: Option<Value>,
    /// Knossos's convention: a read that returned nil tells nothing.
    pub nil_reads_unknown: bool,
}

/// A sequential specification, as the search uses it.
pub trait Model: Send {
    /// The object's state: small and cheap to copy and hash.
    type State: Copy + Eq + Hash + Debug + Send;
    /// An operation compiled for this model.
    type Op: Clone + Debug + Send;

    /// The model's name as the command line spells it.
    fn name(&self) -> &'static str;
    /// Compiles one operation, or says why the model cannot take it.
    fn compile(&mut self, op: &Operation) -> Result<Self::Op, ModelError>;
    /// The initial state.
    fn init(&mut self) -> Self::State;
    /// Applies `op` to `state`: the next state, or `None` if the operation's
    /// recorded result is impossible in `state`.
    fn step(&mut self, state: Self::State, op: &Self::Op) -> Option<Self::State>;
    /// True when `op` can never change the state; an indeterminate such
    /// operation constrains nothing and is left out of the search.
    fn is_read_only(&self, op: &Self::Op) -> bool;
    /// True when `op` may move the state somewhere the other operations
    /// cannot reach from the current one (a put that replaces a string).
    /// The default, every operation that is not read-only, is always safe.
    fn is_reset(&self, op: &Self::Op) -> bool {
        !self.is_read_only(op)
    }
    /// True when `op` cannot succeed in `state` nor in any state reached
    /// from it by operations that are not resets. The search uses it to
    /// abandon a configuration early (see `search`); `false` is always safe.
    fn blocked_forever(&mut self, _state: Self::State, _op: &Self::Op) -> bool {
        false
    }
    /// The state in words, e.g. `5` or `absent`.
    fn describe(&self, state: Self::State) -> String;
    /// Why `op` cannot follow `state`, e.g. "read returned 3, but the register held 5".
    fn explain(&self, state: Self::State, op: &Self::Op) -> String;
}

/// A completed operation for model unit tests (line 7, key "k").
#[cfg(test)]
pub(crate) fn test_op(f: &str, input: Value, output: Option<Value>) -> Operation {
    Operation {
        id: 0,
        process: 0,
        f: f.into(),
        key: Some("k".into()),
        input,
        output,
        outcome: crate::history::Outcome::Ok,
        call: 0,
        ret: Some(1),
        call_time: None,
        ret_time: None,
        line: 7,
    }
}

/// The models the command line offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// read / write.
    Register,
    /// read / write / cas, as Jepsen's cas-register.
    CasRegister,
    /// The bundled store's interface per key: get / set / contains / remove / cas.
    Kv,
    /// get / put / append per key (Porcupine's kv corpus).
    AppendKv,
}

impl ModelKind {
    /// Every kind, in the order the help text lists them.
    pub const ALL: [ModelKind; 4] = [
        ModelKind::Register,
        ModelKind::CasRegister,
        ModelKind::Kv,
        ModelKind::AppendKv,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::CasRegister => "cas-register",
            ModelKind::Kv => "kv",
            ModelKind::AppendKv => "append-kv",
        }
    }

    /// Guesses the model from the operations' functions: `append` or `put`
    /// means append-kv; `set`, `contains` or `remove` means kv; `cas` means
    /// cas-register; otherwise register.
    pub fn guess(ops: &[Operation]) -> ModelKind {
        let has = |name: &str| ops.iter().any(|o| o.f == name);
        if has("append") || has("put") {
            ModelKind::AppendKv
        } else if has("set") || has("contains") || has("remove") || has("get") {
            ModelKind::Kv
        } else if has("cas") {
            ModelKind::CasRegister
        } else {
            ModelKind::Register
        }
    }
}

impl FromStr for ModelKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = ModelKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown model `{s}` (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
