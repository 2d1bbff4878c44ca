//! `register` (read / write) and `cas-register` (read / write / cas): one
//! value, as Jepsen's models define it. A cas whose `from` does not match
//! fails; a `fail`ed cas never reaches the model (it did not take effect).

use super::intern::Interner;
use super::{Model, ModelConfig, ModelError};
use crate::history::Operation;
use crate::value::Value;

/// A compiled register operation. Values are interned ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterOp {
    /// A read that returned the value, or `None` if its result is unknown.
    Read(Option<u32>),
    /// Sets the value.
    Write(u32),
    /// Sets `to` if the value is `from`.
    Cas {
        /// Expected value.
        from: u32,
        /// New value.
        to: u32,
    },
}

/// A single register; with `cas` it is Jepsen's cas-register.
#[derive(Clone, Debug)]
pub struct Register {
    cas: bool,
    config: ModelConfig,
    values: Interner<Value>,
}

impl Register {
    /// A read/write register.
    pub fn new(config: ModelConfig) -> Register {
        Register::with_cas(config, false)
    }

    /// A read/write/cas register.
    pub fn cas_register(config: ModelConfig) -> Register {
        Register::with_cas(config, true)
    }

    fn with_cas(config: ModelConfig, cas: bool) -> Register {
        let mut values = Interner::default();
        // Id 0 is nil, so an absent register needs no special case.
        values.intern(&Value::Nil);
        Register {
            cas,
            config,
            values,
        }
    }

    fn show(&self, id: u32) -> String {
        self.values.value(id).to_string()
    }
}

impl Model for Register {
    type State = u32;
    type Op = RegisterOp;

    fn name(&self) -> &'static str {
        if self.cas {
            "cas-register"
        } else {
            "register"
        }
    }

    fn compile(&mut self, op: &Operation) -> Result<RegisterOp, ModelError> {
        let name = self.name();
        match op.f.as_str() {
            "read" | "r" => {
                let known = match &op.output {
                    None => None,
                    Some(Value::Nil) if self.config.nil_reads_unknown => None,
                    Some(v) => Some(self.values.intern(v)),
                };
                Ok(RegisterOp::Read(known))
            }
            "write" | "w" => Ok(RegisterOp::Write(self.values.intern(&op.input))),
            "cas" if self.cas => {
                let Some((from, to)) = op.input.as_pair() else {
                    return Err(ModelError::new(
                        name,
                        op,
                        format!("expects a cas value [from to], found {}", op.input),
                    ));
                };
                let (from, to) = (from.clone(), to.clone());
                Ok(RegisterOp::Cas {
                    from: self.values.intern(&from),
                    to: self.values.intern(&to),
                })
            }
            other => {
                let knows = if self.cas {
                    "read, write, cas"
                } else {
                    "read, write"
                };
                Err(ModelError::new(
                    name,
                    op,
                    format!("has no operation `{other}` (it knows {knows})"),
                ))
            }
        }
    }

    fn init(&mut self) -> u32 {
        let init = self.config.init.clone().unwrap_or(Value::Nil);
        self.values.intern(&init)
    }

    #[inline]
    fn step(&mut self, state: u32, op: &RegisterOp) -> Option<u32> {
        match *op {
            RegisterOp::Read(None) => Some(state),
            RegisterOp::Read(Some(v)) => (v == state).then_some(state),
            RegisterOp::Write(v) => Some(v),
            RegisterOp::Cas { from, to } => (from == state).then_some(to),
        }
    }

    fn is_read_only(&self, op: &RegisterOp) -> bool {
        matches!(op, RegisterOp::Read(_))
    }

    fn describe(&self, state: u32) -> String {
        self.show(state)
    }

    fn explain(&self, state: u32, op: &RegisterOp) -> String {
        let held = self.show(state);
        match *op {
            RegisterOp::Read(Some(v)) => {
                format!(
                    "read returned {}, but the register held {held}",
                    self.show(v)
                )
            }
            RegisterOp::Cas { from, to } => format!(
                "cas {} -> {} succeeded, but the register held {held}",
                self.show(from),
                self.show(to)
            ),
            RegisterOp::Read(None) | RegisterOp::Write(_) => {
                format!("it can follow (the register held {held}), but nothing after it linearizes the rest")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_op as op;

    #[test]
    fn steps_follow_jepsen_semantics() {
        let mut m = Register::cas_register(ModelConfig::default());
        let nil = m.init();
        let w1 = m.compile(&op("write", 1.into(), Some(1.into()))).unwrap();
        let r1 = m.compile(&op("read", Value::Nil, Some(1.into()))).unwrap();
        let rnil = m
            .compile(&op("read", Value::Nil, Some(Value::Nil)))
            .unwrap();
        let cas12 = m
            .compile(&op("cas", Value::List(vec![1.into(), 2.into()]), None))
            .unwrap();
        let one = m.step(nil, &w1).unwrap();
        // (state, op, expected next state)
        let table = [
            (nil, r1, None),
            (nil, rnil, Some(nil)),
            (one, r1, Some(one)),
            (nil, cas12, None),
            (one, rnil, None),
        ];
        for (state, op, want) in table {
            assert_eq!(m.step(state, &op), want, "{op:?} in {}", m.describe(state));
        }
        let two = m.step(one, &cas12).unwrap();
        assert_eq!(m.describe(two), "2");
        assert_eq!(
            m.explain(two, &r1),
            "read returned 1, but the register held 2"
        );
    }

    #[test]
    fn nil_reads_unknown_and_init() {
        let config = ModelConfig {
            init: Some(5.into()),
            nil_reads_unknown: true,
        };
        let mut m = Register::new(config);
        let five = m.init();
        let rnil = m
            .compile(&op("read", Value::Nil, Some(Value::Nil)))
            .unwrap();
        assert_eq!(m.step(five, &rnil), Some(five), "a nil read tells nothing");
        assert_eq!(m.describe(five), "5");
    }

    #[test]
    fn unknown_functions_and_bad_cas_values_are_errors() {
        let mut m = Register::new(ModelConfig::default());
        let err = m.compile(&op("cas", Value::Nil, None)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 7: the register model has no operation `cas` (it knows read, write)"
        );
        let mut m = Register::cas_register(ModelConfig::default());
        let err = m.compile(&op("cas", 3.into(), None)).unwrap_err();
        assert!(err
            .to_string()
            .contains("expects a cas value [from to], found 3"));
    }
}
