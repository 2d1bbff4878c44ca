//! Independent keys, as in Jepsen's `independent` generator: each key gets
//! a bounded number of operations, so every per-key history stays small
//! enough to check however long the test runs, and a fault that hits one
//! key's history does not blow up the search for the others.
//!
//! Client threads are split into `active` groups of neighbouring threads
//! (threads `0..c` in order, so a group spans different nodes when threads
//! are assigned to nodes round-robin). A group works on one key at a time
//! and moves to its next key together, once that key has had its
//! operations, as Jepsen's `independent/concurrent-generator` does. Threads
//! of a group thus keep contending on the same key however unevenly faults
//! slow them down: a thread stuck behind a cut-off leader reads the key its
//! group is writing on the other side, which is what exposes stale reads.
//! (Each thread's stream of operations is fixed by the seed; which key an
//! operation lands on depends on how the group's threads interleave.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::workload::WorkloadOptions;

/// How keys are shared out: a pure calculation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyPlan {
    /// Client threads.
    pub threads: usize,
    /// Keys in use at once (at most `threads`).
    pub active: usize,
    /// Operations per key over all the threads sharing it.
    pub ops_per_key: usize,
}

impl KeyPlan {
    /// A plan; `active` is clamped to `1..=threads`.
    pub fn new(threads: usize, active: usize, ops_per_key: usize) -> KeyPlan {
        let threads = threads.max(1);
        KeyPlan {
            threads,
            active: active.clamp(1, threads),
            ops_per_key: ops_per_key.max(1),
        }
    }

    /// The group (key sequence) of a thread.
    pub fn group(&self, thread: usize) -> usize {
        (thread % self.threads) * self.active / self.threads
    }

    /// The key (as a number) of a group's n-th operation. Keys of group g
    /// are g, g + active, g + 2 active, ..., each taking `ops_per_key`
    /// operations.
    pub fn key_at(&self, group: usize, n: u64) -> u64 {
        (n / self.ops_per_key as u64) * self.active as u64 + group as u64
    }

    /// The store key for a key number.
    pub fn name(key: u64) -> String {
        let mut name = String::with_capacity(8);
        name.push('k');
        push_decimal(&mut name, key);
        name
    }
}

/// Appends `n` in decimal. Every operation names its key and most carry a
/// number, and the simulator makes thousands a second: `format!` there was
/// 2% of a simulated seed's instructions.
pub(crate) fn push_decimal(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for d in &digits[at..] {
        out.push(char::from(*d));
    }
}

/// Hands out keys to client threads as their groups reach them. Clones
/// share the counts, so one cursor serves every thread of a run.
#[derive(Clone, Debug)]
pub struct KeyCursor {
    plan: KeyPlan,
    /// Operations drawn so far by each group.
    drawn: Arc<[AtomicU64]>,
}

impl KeyCursor {
    /// A cursor at the start of every group's key sequence.
    pub fn new(plan: KeyPlan) -> KeyCursor {
        KeyCursor {
            plan,
            drawn: (0..plan.active).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The cursor a workload starts from: the options' threads and key
    /// count, and their ops per key or the workload's own default.
    pub fn for_options(options: &WorkloadOptions, default_ops_per_key: usize) -> KeyCursor {
        KeyCursor::new(KeyPlan::new(
            options.threads,
            options.keys,
            options.ops_per_key.unwrap_or(default_ops_per_key),
        ))
    }

    /// The plan it follows.
    pub fn plan(&self) -> &KeyPlan {
        &self.plan
    }

    /// The key (as a number) of the next operation of `thread`.
    pub fn next_key(&self, thread: usize) -> u64 {
        let group = self.plan.group(thread);
        // Relaxed: the count only has to be handed out once per operation;
        // nothing else is ordered by it.
        let n = self.drawn[group].fetch_add(1, Ordering::Relaxed);
        self.plan.key_at(group, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_k_and_the_number() {
        for key in [0, 7, 10, 99, 12_345, u64::MAX] {
            assert_eq!(KeyPlan::name(key), format!("k{key}"));
        }
    }

    #[test]
    fn numbers_reach_the_store_as_their_decimal() {
        for i in [0, 5, -5, 10, -100, 1_234_567, i64::MAX, i64::MIN] {
            let v = checker::Value::Int(i);
            assert_eq!(crate::workload::to_store(&v), v.to_string());
        }
    }

    #[test]
    fn groups_are_contiguous_and_cover_every_thread() {
        let plan = KeyPlan::new(10, 3, 90);
        let groups: Vec<usize> = (0..10).map(|t| plan.group(t)).collect();
        assert_eq!(groups, vec![0, 0, 0, 0, 1, 1, 1, 2, 2, 2]);
    }

    #[test]
    fn a_group_moves_on_together_however_its_threads_interleave() {
        let keys = KeyCursor::new(KeyPlan::new(10, 3, 4));
        // Thread 0 alone draws three of key 0's four operations; thread 3
        // (same group) gets the fourth, then both are on group 0's next key.
        assert_eq!(keys.next_key(0), 0);
        assert_eq!(keys.next_key(0), 0);
        assert_eq!(keys.next_key(0), 0);
        assert_eq!(keys.next_key(3), 0);
        assert_eq!(keys.next_key(0), 3);
        assert_eq!(keys.next_key(3), 3);
        // Another group keeps its own sequence.
        assert_eq!(keys.next_key(4), 1);
        // Clones share the counts.
        let other = keys.clone();
        assert_eq!(other.next_key(3), 3);
        assert_eq!(keys.next_key(3), 3);
        assert_eq!(keys.next_key(3), 6);
    }

    #[test]
    fn keys_never_collide_across_groups_and_each_gets_its_bound() {
        let plan = KeyPlan::new(10, 3, 7);
        let keys = KeyCursor::new(plan);
        let mut owner = std::collections::HashMap::new();
        let mut count: std::collections::BTreeMap<u64, usize> = Default::default();
        for i in 0..2000usize {
            let thread = (i * 7919) % 10;
            let k = keys.next_key(thread);
            assert_eq!(
                *owner.entry(k).or_insert(plan.group(thread)),
                plan.group(thread)
            );
            *count.entry(k).or_insert(0) += 1;
        }
        // Every key is used up before its group moves on; only each
        // group's newest key may be part-way.
        let newest: Vec<u64> = (0..3u64)
            .map(|g| *count.keys().filter(|&&k| k % 3 == g).max().expect("used"))
            .collect();
        for (k, c) in &count {
            if newest.contains(k) {
                assert!(*c <= 7, "key {k}: {c}");
            } else {
                assert_eq!(*c, 7, "key {k}");
            }
        }
    }

    #[test]
    fn active_is_clamped() {
        assert_eq!(KeyPlan::new(2, 9, 10).active, 2);
        assert_eq!(KeyPlan::new(2, 0, 10).active, 1);
    }
}
