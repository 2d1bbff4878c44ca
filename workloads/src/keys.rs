//! Independent keys, as in Jepsen's `independent` generator: each key gets
//! a bounded number of operations, so every per-key history stays small
//! enough to check however long the test runs, and a fault that hits one
//! key's history does not blow up the search for the others.
//!
//! Client threads are split into `active` groups of neighbouring threads
//! (threads `0..c` in order, so a group spans different nodes when threads
//! are assigned to nodes round-robin). A group works through its own key
//! sequence; each thread moves to the group's next key after its share of
//! the per-key operations. The key of a thread's n-th operation depends only
//! on the thread and n, which keeps the operation stream deterministic for a
//! seed.

/// Assigns keys to the operations of client threads.
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

    /// Threads in a group.
    pub fn group_size(&self, group: usize) -> usize {
        (0..self.threads)
            .filter(|&t| self.group(t) == group)
            .count()
    }

    /// The key (as a number) of a thread's n-th operation. Keys of group g
    /// are g, g + active, g + 2 active, ...
    pub fn key_of(&self, thread: usize, n: u64) -> u64 {
        let group = self.group(thread);
        let share = (self.ops_per_key / self.group_size(group).max(1)).max(1) as u64;
        let round = n / share;
        round * self.active as u64 + group as u64
    }

    /// The store key for a key number.
    pub fn name(key: u64) -> String {
        format!("k{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_contiguous_and_cover_every_thread() {
        let plan = KeyPlan::new(10, 3, 90);
        let groups: Vec<usize> = (0..10).map(|t| plan.group(t)).collect();
        assert_eq!(groups, vec![0, 0, 0, 0, 1, 1, 1, 2, 2, 2]);
        assert_eq!(plan.group_size(0), 4);
    }

    #[test]
    fn threads_of_a_group_share_keys_and_groups_do_not() {
        let plan = KeyPlan::new(10, 3, 90);
        // Thread 0 and 3 share group 0's first key; thread 4 does not.
        assert_eq!(plan.key_of(0, 0), plan.key_of(3, 0));
        assert_ne!(plan.key_of(0, 0), plan.key_of(4, 0));
        // Group 0 has 4 threads: each does 22 ops on a key, then moves on.
        assert_eq!(plan.key_of(0, 21), 0);
        assert_eq!(plan.key_of(0, 22), 3);
        // Keys never collide across groups.
        let mut seen = std::collections::HashMap::new();
        for t in 0..10 {
            for n in 0..200 {
                let k = plan.key_of(t, n);
                let g = *seen.entry(k).or_insert(plan.group(t));
                assert_eq!(g, plan.group(t));
            }
        }
    }

    #[test]
    fn active_is_clamped() {
        assert_eq!(KeyPlan::new(2, 9, 10).active, 2);
        assert_eq!(KeyPlan::new(2, 0, 10).active, 1);
    }
}
