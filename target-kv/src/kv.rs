//! The replicated state machine: a string-to-string map, plus the table of
//! the last request applied per client, so that a retried request is
//! applied at most once. Every replica applies the same commands in the
//! same order to the same initial state, so every replica ends the same.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One operation on the store. (Plain externally tagged serde: the peer
/// codec, postcard, cannot read internally tagged enums.)
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum KvOp {
    /// The key's value, or nothing.
    Get {
        /// The key.
        key: String,
    },
    /// Stores a value.
    Set {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// Whether the key exists.
    Contains {
        /// The key.
        key: String,
    },
    /// Deletes the key; says whether it existed.
    Remove {
        /// The key.
        key: String,
    },
    /// Sets `to` if the value is `from` (`None`: the key is absent).
    Cas {
        /// The key.
        key: String,
        /// The expected value.
        from: Option<String>,
        /// The new value.
        to: String,
    },
}

impl KvOp {
    /// True for operations that never change the store.
    pub fn is_read(&self) -> bool {
        matches!(self, KvOp::Get { .. } | KvOp::Contains { .. })
    }

    /// The key the operation works on.
    pub fn key(&self) -> &str {
        match self {
            KvOp::Get { key }
            | KvOp::Set { key, .. }
            | KvOp::Contains { key }
            | KvOp::Remove { key }
            | KvOp::Cas { key, .. } => key,
        }
    }
}

/// A client's request as it travels through the log.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Command {
    /// The client's id (0: no deduplication).
    pub client: u64,
    /// The client's sequence number for this request; a retry reuses it.
    pub seq: u64,
    /// What to do.
    pub op: KvOp,
}

/// What applying an operation gave.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum KvResult {
    /// A get's value (`None`: absent).
    Value {
        /// The value.
        value: Option<String>,
    },
    /// contains / remove: whether the key was there.
    Exists {
        /// Whether it was.
        exists: bool,
    },
    /// A set, or a cas that took effect.
    Done,
    /// A cas that found another value and changed nothing.
    CasMismatch {
        /// What the key held.
        current: Option<String>,
    },
    /// An older request of a client that has since sent a newer one: it was
    /// applied earlier, and its result is no longer kept.
    Superseded,
}

/// The store and its per-client table of last applied requests.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct KvStore {
    data: BTreeMap<String, String>,
    sessions: BTreeMap<u64, (u64, KvResult)>,
}

impl KvStore {
    /// Applies a command (at most once per client and sequence number).
    pub fn apply(&mut self, cmd: &Command) -> KvResult {
        if cmd.client != 0 {
            if let Some((seq, result)) = self.sessions.get(&cmd.client) {
                if cmd.seq == *seq {
                    return result.clone();
                }
                if cmd.seq < *seq {
                    return KvResult::Superseded;
                }
            }
        }
        let result = self.execute(&cmd.op);
        if cmd.client != 0 {
            self.sessions.insert(cmd.client, (cmd.seq, result.clone()));
        }
        result
    }

    /// Answers a read from the current state, without the log.
    pub fn read(&self, op: &KvOp) -> Option<KvResult> {
        match op {
            KvOp::Get { key } => Some(KvResult::Value {
                value: self.data.get(key).cloned(),
            }),
            KvOp::Contains { key } => Some(KvResult::Exists {
                exists: self.data.contains_key(key),
            }),
            _ => None,
        }
    }

    fn execute(&mut self, op: &KvOp) -> KvResult {
        if let Some(result) = self.read(op) {
            return result;
        }
        match op {
            KvOp::Set { key, value } => {
                self.data.insert(key.clone(), value.clone());
                KvResult::Done
            }
            KvOp::Remove { key } => KvResult::Exists {
                exists: self.data.remove(key).is_some(),
            },
            KvOp::Cas { key, from, to } => {
                let current = self.data.get(key);
                if current == from.as_ref() {
                    self.data.insert(key.clone(), to.clone());
                    KvResult::Done
                } else {
                    KvResult::CasMismatch {
                        current: current.cloned(),
                    }
                }
            }
            KvOp::Get { .. } | KvOp::Contains { .. } => unreachable!("reads are answered above"),
        }
    }

    /// How many keys the store holds.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the store is empty.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(client: u64, seq: u64, op: KvOp) -> Command {
        Command { client, seq, op }
    }

    #[test]
    fn operations_and_results() {
        let mut kv = KvStore::default();
        let k = || "k".to_string();
        let table = [
            (KvOp::Get { key: k() }, KvResult::Value { value: None }),
            (
                KvOp::Contains { key: k() },
                KvResult::Exists { exists: false },
            ),
            (
                KvOp::Set {
                    key: k(),
                    value: "a".into(),
                },
                KvResult::Done,
            ),
            (
                KvOp::Get { key: k() },
                KvResult::Value {
                    value: Some("a".into()),
                },
            ),
            (
                KvOp::Cas {
                    key: k(),
                    from: None,
                    to: "b".into(),
                },
                KvResult::CasMismatch {
                    current: Some("a".into()),
                },
            ),
            (
                KvOp::Cas {
                    key: k(),
                    from: Some("a".into()),
                    to: "b".into(),
                },
                KvResult::Done,
            ),
            (KvOp::Remove { key: k() }, KvResult::Exists { exists: true }),
            (
                KvOp::Remove { key: k() },
                KvResult::Exists { exists: false },
            ),
        ];
        for (i, (op, want)) in table.into_iter().enumerate() {
            assert_eq!(kv.apply(&cmd(0, 0, op.clone())), want, "step {i}: {op:?}");
        }
    }

    #[test]
    fn a_retry_is_applied_once() {
        let mut kv = KvStore::default();
        let cas = KvOp::Cas {
            key: "k".into(),
            from: None,
            to: "x".into(),
        };
        assert_eq!(kv.apply(&cmd(7, 1, cas.clone())), KvResult::Done);
        // Applied again (a retry), it must not see its own effect.
        assert_eq!(kv.apply(&cmd(7, 1, cas.clone())), KvResult::Done);
        assert_eq!(
            kv.apply(&cmd(8, 1, cas)),
            KvResult::CasMismatch {
                current: Some("x".into())
            }
        );
        assert_eq!(
            kv.apply(&cmd(7, 0, KvOp::Remove { key: "k".into() })),
            KvResult::Superseded
        );
        assert_eq!(kv.len(), 1, "the superseded remove did nothing");
    }
}
