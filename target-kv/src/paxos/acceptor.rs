//! The acceptor: the durable half of Paxos. It promises ballots and
//! accepts values, and every change it makes is returned as a [`Record`]
//! for the driver to persist before the answer leaves the node.

use super::types::{Ballot, Batch, Record, Slot};
use std::collections::BTreeMap;

/// An acceptor's state: what it promised and what it accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Acceptor {
    /// Multi-Paxos: the promise, for every slot.
    promised: Ballot,
    /// Basic Paxos: promises per slot.
    slot_promised: BTreeMap<Slot, Ballot>,
    /// Accepted (ballot, value) per slot.
    accepted: BTreeMap<Slot, (Ballot, Batch)>,
    /// Testing only: accept below the promise (a planted bug).
    ignore_promise: bool,
}

impl Acceptor {
    /// A fresh acceptor (`ignore_promise` plants the bug for the model checker).
    pub fn new(ignore_promise: bool) -> Acceptor {
        Acceptor {
            ignore_promise,
            ..Acceptor::default()
        }
    }

    /// Rebuilds the state from its records, in the order written.
    pub fn recover<'a>(
        ignore_promise: bool,
        records: impl IntoIterator<Item = &'a Record>,
    ) -> Acceptor {
        let mut a = Acceptor::new(ignore_promise);
        for r in records {
            match r {
                Record::Promise { ballot, .. } => a.promised = a.promised.max(*ballot),
                Record::PromiseSlot { slot, ballot } => {
                    let p = a.slot_promised.entry(*slot).or_default();
                    *p = (*p).max(*ballot);
                }
                Record::Accepted {
                    slot,
                    ballot,
                    batch,
                } => {
                    a.accepted.insert(*slot, (*ballot, batch.clone()));
                    let p = a.slot_promised.entry(*slot).or_default();
                    *p = (*p).max(*ballot);
                }
                Record::Chosen { .. } | Record::ChosenAccepted { .. } | Record::Incarnation(_) => {}
            }
        }
        a
    }

    /// The promise in force for `slot`.
    pub fn promise_for(&self, slot: Slot) -> Ballot {
        self.promised
            .max(self.slot_promised.get(&slot).copied().unwrap_or_default())
    }

    /// The global (Multi-Paxos) promise.
    pub fn promised(&self) -> Ballot {
        self.promised
    }

    /// The highest round promised anywhere, globally or for one slot: a
    /// proposer that restarts goes above it, so it never reuses a ballot.
    pub fn highest_round(&self) -> u64 {
        self.slot_promised
            .values()
            .map(|b| b.round)
            .max()
            .unwrap_or(0)
            .max(self.promised.round)
    }

    /// What was accepted in `slot`.
    pub fn accepted(&self, slot: Slot) -> Option<&(Ballot, Batch)> {
        self.accepted.get(&slot)
    }

    /// One past the highest slot with an accepted value (0: none).
    pub fn accepted_end(&self) -> Slot {
        self.accepted.keys().next_back().map_or(0, |s| s + 1)
    }

    /// Phase 1b for every slot from `from` on: promises `ballot` unless a
    /// higher one was promised (then `Err(that promise)`). Returns what was
    /// accepted from `from` on, and the record to persist if the promise rose.
    #[allow(clippy::type_complexity)]
    pub fn prepare(
        &mut self,
        ballot: Ballot,
        from: Slot,
    ) -> Result<(Vec<(Slot, Ballot, Batch)>, Option<Record>), Ballot> {
        if ballot < self.promised {
            return Err(self.promised);
        }
        let record = (ballot > self.promised).then(|| {
            self.raise(ballot);
            Record::Promise { ballot, from }
        });
        let accepted = self
            .accepted
            .range(from..)
            .map(|(s, (b, v))| (*s, *b, v.clone()))
            .collect();
        Ok((accepted, record))
    }

    /// Phase 1b for one slot (Basic Paxos).
    #[allow(clippy::type_complexity)]
    pub fn prepare_slot(
        &mut self,
        ballot: Ballot,
        slot: Slot,
    ) -> Result<(Vec<(Slot, Ballot, Batch)>, Option<Record>), Ballot> {
        let current = self.promise_for(slot);
        if ballot < current {
            return Err(current);
        }
        let record = (ballot > current).then(|| {
            self.raise_slot(slot, ballot);
            Record::PromiseSlot { slot, ballot }
        });
        let accepted = self
            .accepted
            .get(&slot)
            .map(|(b, v)| vec![(slot, *b, v.clone())])
            .unwrap_or_default();
        Ok((accepted, record))
    }

    /// Phase 2b: accepts `batch` in `slot` at `ballot` unless a higher
    /// ballot was promised there (then `Err(that promise)`). Accepting a
    /// ballot also promises it for that slot.
    pub fn accept(&mut self, ballot: Ballot, slot: Slot, batch: &Batch) -> Result<Record, Ballot> {
        // Each map is walked once (twice when the promise rises): every
        // acceptor runs this for every slot.
        let slot_promise = self.slot_promised.get(&slot).copied().unwrap_or_default();
        let current = self.promised.max(slot_promise);
        if ballot < current && !self.ignore_promise {
            return Err(current);
        }
        assert!(
            ballot >= current || self.ignore_promise,
            "never accept below the promise"
        );
        if ballot > slot_promise {
            self.raise_slot(slot, ballot);
        }
        match self.accepted.entry(slot) {
            std::collections::btree_map::Entry::Occupied(mut e) => {
                let (b, v) = e.get();
                // The same ballot never carries two values for one slot.
                assert!(
                    *b != ballot || v == batch || self.ignore_promise,
                    "one value per ballot and slot"
                );
                e.insert((ballot, batch.clone()));
            }
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert((ballot, batch.clone()));
            }
        }
        Ok(Record::Accepted {
            slot,
            ballot,
            batch: batch.clone(),
        })
    }

    /// Forgets every slot below `upto` (they are chosen and in a snapshot).
    pub fn compact(&mut self, upto: Slot) {
        self.accepted = self.accepted.split_off(&upto);
        self.slot_promised = self.slot_promised.split_off(&upto);
    }

    /// The durable state as records (to rewrite the WAL after a snapshot).
    pub fn records(&self) -> Vec<Record> {
        let mut out = vec![Record::Promise {
            ballot: self.promised,
            from: 0,
        }];
        out.extend(
            self.slot_promised
                .iter()
                .map(|(slot, ballot)| Record::PromiseSlot {
                    slot: *slot,
                    ballot: *ballot,
                }),
        );
        out.extend(
            self.accepted
                .iter()
                .map(|(slot, (ballot, batch))| Record::Accepted {
                    slot: *slot,
                    ballot: *ballot,
                    batch: batch.clone(),
                }),
        );
        out
    }

    fn raise(&mut self, ballot: Ballot) {
        assert!(ballot >= self.promised, "a promise never goes down");
        self.promised = ballot;
    }

    fn raise_slot(&mut self, slot: Slot, ballot: Ballot) {
        let p = self.slot_promised.entry(slot).or_default();
        assert!(ballot >= *p, "a promise never goes down");
        *p = ballot;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::{Command, KvOp};

    fn b(round: u64, node: u64) -> Ballot {
        Ballot { round, node }
    }

    fn batch(v: &str) -> Batch {
        Batch::from(vec![Command {
            client: 1,
            seq: 1,
            op: KvOp::Set {
                key: "k".into(),
                value: v.into(),
            },
        }])
    }

    #[test]
    fn promises_and_accepts_follow_the_rules() {
        let mut a = Acceptor::new(false);
        let (acc, rec) = a.prepare(b(1, 1), 0).unwrap();
        assert!(acc.is_empty());
        assert_eq!(
            rec,
            Some(Record::Promise {
                ballot: b(1, 1),
                from: 0
            })
        );
        // Same ballot again: promised already, nothing to persist.
        assert_eq!(a.prepare(b(1, 1), 0).unwrap().1, None);
        // Lower ballot: refused with the promise.
        assert_eq!(a.prepare(b(0, 9), 0).unwrap_err(), b(1, 1));
        assert_eq!(a.accept(b(0, 9), 3, &batch("x")).unwrap_err(), b(1, 1));
        a.accept(b(1, 1), 3, &batch("x")).unwrap();
        // A higher prepare sees what was accepted.
        let (acc, _) = a.prepare(b(2, 2), 1).unwrap();
        assert_eq!(acc, vec![(3, b(1, 1), batch("x"))]);
        assert_eq!(
            a.prepare(b(5, 5), 4).unwrap().0,
            vec![],
            "slots below `from` are left out"
        );
        assert_eq!(a.accepted_end(), 4);
    }

    #[test]
    fn per_slot_promises_are_independent() {
        let mut a = Acceptor::new(false);
        a.prepare_slot(b(3, 1), 7).unwrap();
        assert_eq!(a.prepare_slot(b(2, 2), 7).unwrap_err(), b(3, 1));
        assert!(
            a.prepare_slot(b(1, 2), 8).is_ok(),
            "another slot has its own promise"
        );
        assert!(a.accept(b(1, 2), 8, &batch("y")).is_ok());
        assert!(a.accept(b(2, 2), 7, &batch("y")).is_err());
    }

    #[test]
    fn recovery_rebuilds_promises_and_values() {
        let mut a = Acceptor::new(false);
        let mut log = Vec::new();
        log.extend(a.prepare(b(4, 2), 0).unwrap().1);
        log.push(a.accept(b(4, 2), 0, &batch("v")).unwrap());
        log.push(a.accept(b(6, 3), 1, &batch("w")).unwrap());
        let back = Acceptor::recover(false, &log);
        assert_eq!(back.promise_for(0), b(4, 2));
        assert_eq!(back.promise_for(1), b(6, 3), "accepting promises too");
        assert_eq!(back.accepted(1), Some(&(b(6, 3), batch("w"))));
    }

    #[test]
    fn the_planted_bug_accepts_below_the_promise() {
        let mut a = Acceptor::new(true);
        a.prepare(b(5, 1), 0).unwrap();
        assert!(a.accept(b(1, 2), 0, &batch("stale")).is_ok());
    }
}
