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

/// How many recently applied commands without a session are remembered
/// per node that took them.
pub const ANONYMOUS_WINDOW: usize = 4096;

/// Bits of an anonymous command's sequence number below the node id.
const ANONYMOUS_NODE_SHIFT: u32 = 56;
/// Bits of the node-local id below the node's incarnation.
const ANONYMOUS_LIFE_SHIFT: u32 = 40;

/// The sequence number a node gives a command without a session (client
/// 0): its id in the top byte, then its incarnation (16 bits), then a
/// counter. `id` is the node's request id, `incarnation << 40 | counter`.
pub fn anonymous_seq(node: u64, id: u64) -> u64 {
    (node << ANONYMOUS_NODE_SHIFT) | (id & ((1 << ANONYMOUS_NODE_SHIFT) - 1))
}

/// The commands without a session one node took in its latest life that
/// were applied, the most recent [`ANONYMOUS_WINDOW`] of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
struct Applied {
    incarnation: u64,
    /// Ascending and distinct. A deque, not a tree: counters arrive nearly
    /// in order, so an insert is a push at the back and the oldest leaves
    /// from the front, and a snapshot copies it whole. (On disk and on the
    /// wire it is the same list a set would be.)
    #[serde(deserialize_with = "ascending")]
    counters: std::collections::VecDeque<u64>,
}

/// A window read back from a snapshot, put in order whatever the bytes say.
fn ascending<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<std::collections::VecDeque<u64>, D::Error> {
    let mut counters = Vec::<u64>::deserialize(d)?;
    counters.sort_unstable();
    counters.dedup();
    Ok(counters.into())
}

/// The store, its per-client table of last applied requests, and the
/// commands without a session applied lately.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct KvStore {
    data: BTreeMap<String, String>,
    sessions: BTreeMap<u64, (u64, KvResult)>,
    /// By node id. A command without a session can reach the log twice
    /// (a duplicated forward, a forward that outlived the leader's memory
    /// of it): it must be applied once.
    anonymous: BTreeMap<u64, Applied>,
}

impl KvStore {
    /// Applies a command (at most once per client and sequence number).
    pub fn apply(&mut self, cmd: &Command) -> KvResult {
        if cmd.client == 0 && cmd.seq != 0 {
            return self.apply_anonymous(cmd);
        }
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

    /// A command without a session, named by its node's sequence number
    /// ([`anonymous_seq`]): applied unless it was already, or is too old to
    /// tell (from an earlier life of its node, or below a full window).
    /// Those are not applied and answer `Superseded`, which a caller
    /// records as indeterminate.
    fn apply_anonymous(&mut self, cmd: &Command) -> KvResult {
        let node = cmd.seq >> ANONYMOUS_NODE_SHIFT;
        let id = cmd.seq & ((1 << ANONYMOUS_NODE_SHIFT) - 1);
        let (life, counter) = (
            id >> ANONYMOUS_LIFE_SHIFT,
            id & ((1 << ANONYMOUS_LIFE_SHIFT) - 1),
        );
        let applied = self.anonymous.entry(node).or_default();
        if life < applied.incarnation {
            return KvResult::Superseded;
        }
        if life > applied.incarnation {
            *applied = Applied {
                incarnation: life,
                counters: Default::default(),
            };
        }
        let full = applied.counters.len() >= ANONYMOUS_WINDOW;
        let at = match applied.counters.binary_search(&counter) {
            Ok(_) => return KvResult::Superseded,
            // Below the oldest of a full window: too old to tell.
            Err(0) if full => return KvResult::Superseded,
            Err(at) => at,
        };
        applied.counters.insert(at, counter);
        if applied.counters.len() > ANONYMOUS_WINDOW {
            applied.counters.pop_front();
        }
        self.execute(&cmd.op)
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
                self.put(key, value);
                KvResult::Done
            }
            KvOp::Remove { key } => KvResult::Exists {
                exists: self.data.remove(key).is_some(),
            },
            KvOp::Cas { key, from, to } => {
                let current = self.data.get(key);
                if current == from.as_ref() {
                    self.put(key, to);
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

    /// Sets `key` to `value`, reusing the key and the old value's buffer
    /// when the key is there (applying a write then allocates nothing).
    fn put(&mut self, key: &str, value: &str) {
        match self.data.get_mut(key) {
            Some(v) => {
                v.clear();
                v.push_str(value);
            }
            None => {
                self.data.insert(key.to_owned(), value.to_owned());
            }
        }
    }

    /// A hash of the state, for comparing replicas cheaply (the simulator
    /// does after every step): the data and the session table whole, and
    /// of each node's window of commands without a session its life, size
    /// and newest entry.
    pub fn digest(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        // Only replicas are compared, so no defence against chosen inputs
        // is needed: Fx, not the slower SipHash.
        let mut h = rustc_hash::FxHasher::default();
        self.data.hash(&mut h);
        self.sessions.hash(&mut h);
        for (node, applied) in &self.anonymous {
            (node, applied.incarnation, applied.counters.len()).hash(&mut h);
            applied.counters.back().hash(&mut h);
        }
        h.finish()
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
    fn a_command_without_a_session_is_applied_once() {
        let mut kv = KvStore::default();
        let set = |v: &str| KvOp::Set {
            key: "k".into(),
            value: v.into(),
        };
        let seq = |life: u64, counter: u64| anonymous_seq(2, (life << 40) | counter);
        assert_eq!(kv.apply(&cmd(0, seq(1, 1), set("a"))), KvResult::Done);
        assert_eq!(kv.apply(&cmd(0, seq(1, 2), set("b"))), KvResult::Done);
        // The first again (a duplicated forward): not applied.
        assert_eq!(kv.apply(&cmd(0, seq(1, 1), set("a"))), KvResult::Superseded);
        assert_eq!(
            kv.read(&KvOp::Get { key: "k".into() }),
            Some(KvResult::Value {
                value: Some("b".into())
            })
        );
        // Another node's counters are its own.
        assert_eq!(
            kv.apply(&cmd(0, anonymous_seq(3, (1 << 40) | 1), set("c"))),
            KvResult::Done
        );
        // A later life of node 2 starts afresh; its earlier life is over.
        assert_eq!(kv.apply(&cmd(0, seq(2, 1), set("d"))), KvResult::Done);
        assert_eq!(kv.apply(&cmd(0, seq(1, 3), set("e"))), KvResult::Superseded);
        // Past a full window, what is older than it cannot be told apart.
        for i in 0..ANONYMOUS_WINDOW as u64 {
            kv.apply(&cmd(0, seq(2, 100 + i), set("f")));
        }
        assert_eq!(
            kv.apply(&cmd(0, seq(2, 50), set("g"))),
            KvResult::Superseded
        );
        assert_eq!(
            kv.apply(&cmd(0, seq(2, 100 + ANONYMOUS_WINDOW as u64), set("h"))),
            KvResult::Done
        );
        // Out of order within the window: applied once, wherever it falls.
        let mut kv = KvStore::default();
        for counter in [5, 3, 9, 4] {
            assert_eq!(kv.apply(&cmd(0, seq(1, counter), set("x"))), KvResult::Done);
        }
        for counter in [3, 4, 5, 9] {
            assert_eq!(
                kv.apply(&cmd(0, seq(1, counter), set("x"))),
                KvResult::Superseded
            );
        }
        assert_eq!(kv.apply(&cmd(0, seq(1, 6), set("x"))), KvResult::Done);
    }

    #[test]
    fn a_snapshots_window_reads_back_in_order_and_as_a_set_was_written() {
        let mut kv = KvStore::default();
        let seq = |counter: u64| anonymous_seq(2, (1 << 40) | counter);
        for counter in [7, 2, 5] {
            kv.apply(&cmd(0, seq(counter), KvOp::Remove { key: "k".into() }));
        }
        let bytes = postcard::to_allocvec(&kv).expect("serializes");
        // The bytes are those of the set the window used to be.
        #[derive(Serialize)]
        struct AsSet {
            data: BTreeMap<String, String>,
            sessions: BTreeMap<u64, (u64, KvResult)>,
            anonymous: BTreeMap<u64, (u64, std::collections::BTreeSet<u64>)>,
        }
        let set = AsSet {
            data: BTreeMap::new(),
            sessions: BTreeMap::new(),
            anonymous: BTreeMap::from([(2, (1, [2, 5, 7].into()))]),
        };
        assert_eq!(bytes, postcard::to_allocvec(&set).expect("serializes"));
        let back: KvStore = postcard::from_bytes(&bytes).expect("reads back");
        assert_eq!(back, kv);
        // A window written out of order (or twice over) is put in order.
        let messy = AsSetUnordered {
            data: BTreeMap::new(),
            sessions: BTreeMap::new(),
            anonymous: BTreeMap::from([(2, (1, vec![7, 2, 5, 2]))]),
        };
        #[derive(Serialize)]
        struct AsSetUnordered {
            data: BTreeMap<String, String>,
            sessions: BTreeMap<u64, (u64, KvResult)>,
            anonymous: BTreeMap<u64, (u64, Vec<u64>)>,
        }
        let read: KvStore =
            postcard::from_bytes(&postcard::to_allocvec(&messy).expect("serializes"))
                .expect("reads back");
        assert_eq!(read, kv);
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
