//! `kv`: one key of the bundled store, with get / set / contains / remove /
//! cas. An absent key reads as nil; `contains` returns a boolean; `remove`
//! may return whether the key existed (a boolean) or nothing.

use super::intern::Interner;
use super::{Model, ModelConfig, ModelError};
use crate::history::Operation;
use crate::value::Value;

/// Id 0 is nil, which for this model means "absent".
const ABSENT: u32 = 0;

/// A compiled kv operation. Values are interned ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvOp {
    /// Returned the value (`ABSENT` for nil), or `None` if unknown.
    Get(Option<u32>),
    /// Stores a value.
    Set(u32),
    /// Returned whether the key exists, or `None` if unknown.
    Contains(Option<bool>),
    /// Deletes the key; returned whether it existed, if known.
    Remove(Option<bool>),
    /// Sets `to` if the value is `from`.
    Cas {
        /// Expected value.
        from: u32,
        /// New value.
        to: u32,
    },
}

/// One key of a key-value store.
#[derive(Clone, Debug)]
pub struct Kv {
    config: ModelConfig,
    values: Interner<Value>,
}

impl Kv {
    /// A kv model for one key.
    pub fn new(config: ModelConfig) -> Kv {
        let mut values = Interner::default();
        values.intern(&Value::Nil);
        Kv { config, values }
    }

    fn show(&self, id: u32) -> String {
        if id == ABSENT {
            "absent".to_string()
        } else {
            self.values.value(id).to_string()
        }
    }

    fn boolean(op: &Operation) -> Result<Option<bool>, ModelError> {
        match &op.output {
            None | Some(Value::Nil) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(ModelError::new(
                "kv",
                op,
                format!("expects `{}` to return true or false, found {other}", op.f),
            )),
        }
    }
}

impl Model for Kv {
    type State = u32;
    type Op = KvOp;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn compile(&mut self, op: &Operation) -> Result<KvOp, ModelError> {
        match op.f.as_str() {
            "get" | "read" => Ok(KvOp::Get(match &op.output {
                None => None,
                Some(Value::Nil) if self.config.nil_reads_unknown => None,
                Some(v) => Some(self.values.intern(v)),
            })),
            "set" | "write" | "put" => Ok(KvOp::Set(self.values.intern(&op.input))),
            "contains" => Ok(KvOp::Contains(Kv::boolean(op)?)),
            "remove" | "delete" => Ok(KvOp::Remove(Kv::boolean(op)?)),
            "cas" => {
                let Some((from, to)) = op.input.as_pair() else {
                    return Err(ModelError::new(
                        "kv",
                        op,
                        format!("expects a cas value [from to], found {}", op.input),
                    ));
                };
                let (from, to) = (from.clone(), to.clone());
                Ok(KvOp::Cas {
                    from: self.values.intern(&from),
                    to: self.values.intern(&to),
                })
            }
            other => Err(ModelError::new(
                "kv",
                op,
                format!("has no operation `{other}` (it knows get, set, contains, remove, cas)"),
            )),
        }
    }

    fn init(&mut self) -> u32 {
        let init = self.config.init.clone().unwrap_or(Value::Nil);
        self.values.intern(&init)
    }

    #[inline]
    fn step(&mut self, state: u32, op: &KvOp) -> Option<u32> {
        match *op {
            KvOp::Get(None) | KvOp::Contains(None) => Some(state),
            KvOp::Get(Some(v)) => (v == state).then_some(state),
            KvOp::Contains(Some(b)) => (b == (state != ABSENT)).then_some(state),
            KvOp::Set(v) => Some(v),
            KvOp::Remove(None) => Some(ABSENT),
            KvOp::Remove(Some(existed)) => (existed == (state != ABSENT)).then_some(ABSENT),
            KvOp::Cas { from, to } => (from == state).then_some(to),
        }
    }

    fn is_read_only(&self, op: &KvOp) -> bool {
        matches!(op, KvOp::Get(_) | KvOp::Contains(_))
    }

    fn describe(&self, state: u32) -> String {
        self.show(state)
    }

    fn explain(&self, state: u32, op: &KvOp) -> String {
        let held = self.show(state);
        match *op {
            KvOp::Get(Some(v)) => format!("get returned {}, but the key held {held}", self.show(v)),
            KvOp::Contains(Some(b)) => format!("contains returned {b}, but the key held {held}"),
            KvOp::Remove(Some(b)) => {
                format!("remove reported existed={b}, but the key held {held}")
            }
            KvOp::Cas { from, to } => format!(
                "cas {} -> {} succeeded, but the key held {held}",
                self.show(from),
                self.show(to)
            ),
            _ => format!(
                "it can follow (the key held {held}), but nothing after it linearizes the rest"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_op as op;

    #[test]
    fn each_operation_against_absent_and_present() {
        let mut m = Kv::new(ModelConfig::default());
        let absent = m.init();
        let set_a = m.compile(&op("set", "a".into(), None)).unwrap();
        let a = m.step(absent, &set_a).unwrap();
        let get_a = m.compile(&op("get", Value::Nil, Some("a".into()))).unwrap();
        let get_nil = m.compile(&op("get", Value::Nil, Some(Value::Nil))).unwrap();
        let has = m
            .compile(&op("contains", Value::Nil, Some(Value::Bool(true))))
            .unwrap();
        let hasnt = m
            .compile(&op("contains", Value::Nil, Some(Value::Bool(false))))
            .unwrap();
        let rm_existed = m
            .compile(&op("remove", Value::Nil, Some(Value::Bool(true))))
            .unwrap();
        let rm_blind = m.compile(&op("remove", Value::Nil, None)).unwrap();
        let cas = m
            .compile(&op("cas", Value::List(vec!["a".into(), "b".into()]), None))
            .unwrap();
        let table = [
            (absent, get_a, None),
            (a, get_a, Some(a)),
            (absent, get_nil, Some(absent)),
            (a, get_nil, None),
            (a, has, Some(a)),
            (absent, has, None),
            (absent, hasnt, Some(absent)),
            (absent, rm_existed, None),
            (a, rm_existed, Some(absent)),
            (absent, rm_blind, Some(absent)),
            (absent, cas, None),
        ];
        for (state, o, want) in table {
            assert_eq!(m.step(state, &o), want, "{o:?} in {}", m.describe(state));
        }
        let b = m.step(a, &cas).unwrap();
        assert_eq!(m.describe(b), "\"b\"");
        assert_eq!(
            m.explain(absent, &get_a),
            "get returned \"a\", but the key held absent"
        );
    }

    #[test]
    fn contains_must_return_a_boolean() {
        let mut m = Kv::new(ModelConfig::default());
        let err = m
            .compile(&op("contains", Value::Nil, Some(3.into())))
            .unwrap_err();
        assert!(err.to_string().contains("true or false"), "{err}");
    }
}
