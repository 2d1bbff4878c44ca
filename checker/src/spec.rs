//! The register models as stateright `SequentialSpec`s, written the plain
//! way (one value, one match), so stateright's `LinearizabilityTester` can
//! serve as an independent oracle for the fast search.

use crate::history::History;
use crate::value::Value;
use stateright::semantics::{ConsistencyTester, LinearizabilityTester, SequentialSpec};

/// A read/write/cas register holding one value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RegisterSpec {
    /// The current value.
    pub value: Value,
}

/// An invocation on [`RegisterSpec`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegisterCall {
    /// Read the value.
    Read,
    /// Replace the value.
    Write(Value),
    /// Replace `.1` for `.0` if the value is `.0`.
    Cas(Value, Value),
}

/// What [`RegisterSpec`] returns.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegisterRet {
    /// A read's value.
    Read(Value),
    /// A write completed.
    Written,
    /// A cas took effect.
    Swapped,
    /// A cas found another value and did nothing.
    Refused,
}

impl SequentialSpec for RegisterSpec {
    type Op = RegisterCall;
    type Ret = RegisterRet;

    fn invoke(&mut self, op: &RegisterCall) -> RegisterRet {
        match op {
            RegisterCall::Read => RegisterRet::Read(self.value.clone()),
            RegisterCall::Write(v) => {
                self.value = v.clone();
                RegisterRet::Written
            }
            RegisterCall::Cas(from, to) => {
                if self.value == *from {
                    self.value = to.clone();
                    RegisterRet::Swapped
                } else {
                    RegisterRet::Refused
                }
            }
        }
    }
}

/// Asks stateright whether a register history is linearizable, with the
/// same semantics as the checker: `fail`ed operations are left out, an
/// `info` operation stays in flight forever. Returns `None` for operations
/// the register does not know, or a history stateright rejects.
pub fn stateright_linearizable(history: &History, init: Value) -> Option<bool> {
    let mut tester = LinearizabilityTester::new(RegisterSpec { value: init });
    // Rebuild the event order from the operations' positions.
    let mut events: Vec<(u64, usize, bool)> = Vec::with_capacity(history.ops.len() * 2);
    for (i, op) in history.ops.iter().enumerate() {
        events.push((op.call, i, false));
        if let Some(ret) = op.ret {
            events.push((ret, i, true));
        }
    }
    events.sort_unstable();
    for (_, i, is_return) in events {
        let op = &history.ops[i];
        if !is_return {
            let call = match op.f.as_str() {
                "read" => RegisterCall::Read,
                "write" => RegisterCall::Write(op.input.clone()),
                "cas" => {
                    let (from, to) = op.input.as_pair()?;
                    RegisterCall::Cas(from.clone(), to.clone())
                }
                _ => return None,
            };
            tester.on_invoke(op.process, call).ok()?;
        } else {
            let ret = match op.f.as_str() {
                "read" => RegisterRet::Read(op.output.clone().unwrap_or_default()),
                "write" => RegisterRet::Written,
                _ => RegisterRet::Swapped,
            };
            tester.on_return(op.process, ret).ok()?;
        }
    }
    Some(tester.is_consistent())
}
