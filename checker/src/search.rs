//! The linearizability search for one part of a history (one key).
//!
//! Wing & Gong's backtracking search in Lowe's form, with Porcupine's
//! memoisation of (set of linearized operations, model state), plus:
//! - indeterminate operations get no completion event at all: they may be
//!   linearized anywhere after their invocation or never, so they never
//!   force a backtrack, and the search succeeds as soon as every definite
//!   operation is linearized (Porcupine instead appends their completion
//!   at the end of time and must place them all);
//! - the set of linearized operations is a bitset with an incremental
//!   Zobrist hash, and the memo is an open-addressing table over one flat
//!   arena, so the inner loop neither hashes a whole bitset nor allocates;
//! - events live in arrays forming a doubly linked list (dancing links), so
//!   lifting an operation out and putting it back are O(1).

use crate::model::Model;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

/// One operation of a part, compiled for the model.
#[derive(Clone, Debug)]
pub struct PartOp<O> {
    /// The operation's id in the history.
    pub id: usize,
    /// The compiled operation.
    pub op: O,
    /// Invocation position (record order).
    pub call: u64,
    /// Completion position; `None` for an indeterminate operation.
    pub ret: Option<u64>,
}

/// Limits on one check, shared by every part searched in parallel.
#[derive(Debug)]
pub struct Budget {
    /// Give up at this instant.
    pub deadline: Option<Instant>,
    /// Give up when the memo tables of all parts together exceed this.
    pub memory_bytes_max: usize,
    /// Bytes the memo tables hold now, across parts.
    pub memory_bytes: AtomicUsize,
    /// Set to stop every search (another part already failed).
    pub stop: AtomicBool,
}

impl Budget {
    /// A budget with the given deadline and memory cap.
    pub fn new(deadline: Option<Instant>, memory_bytes_max: usize) -> Budget {
        Budget {
            deadline,
            memory_bytes_max,
            memory_bytes: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        }
    }
}

/// Why a search stopped without an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// The deadline passed.
    Timeout,
    /// The memo tables grew past the memory cap.
    Memory {
        /// Bytes held when it stopped.
        bytes: usize,
    },
    /// Another part's violation made the answer moot.
    Cancelled,
}

/// The outcome of searching one part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every definite operation was linearized.
    Linearizable,
    /// No linearization exists. `longest` is the longest linearizable
    /// prefix found (indices into the part's ops, in order).
    Violation {
        /// The longest prefix, as positions in the part's op slice.
        longest: Vec<usize>,
    },
    /// No answer within the budget.
    Stopped(Stopped),
}

/// What the search did, for reports and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Model steps attempted.
    pub steps: u64,
    /// Distinct (linearized set, state) configurations memoised.
    pub configurations: usize,
    /// Backtracks.
    pub backtracks: u64,
}

/// How many loop iterations pass between budget checks.
const CHECK_EVERY: u64 = 1 << 14;
/// The head of the event list, and its end (the list is circular).
const HEAD: u32 = 0;

/// Searches one part to the end (or until the budget says stop).
pub fn search<M: Model>(model: &mut M, ops: &[PartOp<M::Op>], budget: &Budget) -> (Outcome, Stats) {
    let mut s = Search::new(model, ops);
    loop {
        if let Some(outcome) = s.run(model, ops, budget, u64::MAX) {
            return (outcome, s.finish(budget));
        }
    }
}

/// A search in progress. It runs in slices ([`Search::run`]), so a caller
/// can interleave many parts and stop at the first violation instead of
/// waiting on whichever part happens to be hardest.
pub struct Search<M: Model> {
    events: Events,
    list: List,
    zobrist: Vec<u64>,
    read_only: Vec<bool>,
    reset: Vec<bool>,
    bits: Vec<u64>,
    memo: Memo<M::State>,
    memo_bytes_reported: usize,
    /// The current partial linearization: (op, state before it, forced).
    stack: Vec<Frame<M::State>>,
    /// The longest prefix at whose end no candidate can follow.
    longest: Vec<usize>,
    /// Whether `longest` holds such a prefix yet.
    explained: bool,
    /// The longest prefix at any dead end.
    deepest: Vec<usize>,
    state: M::State,
    hash: u64,
    /// Where the scan of candidates stands.
    entry: u32,
    /// True when the current configuration was just reached and has not
    /// been scanned for a read-only operation to force.
    fresh: bool,
    remaining: usize,
    stats: Stats,
    iterations: u64,
}

#[derive(Clone, Copy)]
struct Frame<S> {
    op: u32,
    before: S,
    /// Linearized because it was a read-only operation that succeeded;
    /// no alternative at this configuration needs trying (see `run`).
    forced: bool,
}

impl<M: Model> Search<M> {
    /// Prepares a search of `ops` (ordered by `call`) from the model's
    /// initial state; the model must be fresh for this part.
    pub fn new(model: &mut M, ops: &[PartOp<M::Op>]) -> Search<M> {
        let n = ops.len();
        let events = Events::new(ops);
        let list = events.list();
        let words = n.div_ceil(64);
        let entry = list.next[HEAD as usize];
        Search {
            events,
            list,
            zobrist: (0..n as u64).map(splitmix64).collect(),
            read_only: ops.iter().map(|o| model.is_read_only(&o.op)).collect(),
            reset: ops.iter().map(|o| model.is_reset(&o.op)).collect(),
            bits: vec![0u64; words],
            memo: Memo::new(words),
            memo_bytes_reported: 0,
            stack: Vec::with_capacity(n),
            longest: Vec::new(),
            explained: false,
            deepest: Vec::new(),
            state: model.init(),
            hash: 0,
            entry,
            fresh: true,
            remaining: ops.iter().filter(|o| o.ret.is_some()).count(),
            stats: Stats::default(),
            iterations: 0,
        }
    }

    /// Runs for at most `slice` iterations; `Some` when the search ended.
    ///
    /// Besides Lowe's search this applies one dominance rule: if a
    /// read-only operation is a candidate (no remaining operation completed
    /// before it was invoked) and its result fits the current state, some
    /// linearization from here (if any exists) takes it next: moving it to
    /// the front changes no state and breaks no real-time order. So it is
    /// linearized at once, and when that fails, the configuration before
    /// it fails too, without trying the alternatives.
    pub fn run(
        &mut self,
        model: &mut M,
        ops: &[PartOp<M::Op>],
        budget: &Budget,
        slice: u64,
    ) -> Option<Outcome> {
        let stop_at = self.iterations.saturating_add(slice);
        loop {
            if self.remaining == 0 {
                return Some(Outcome::Linearizable);
            }
            self.iterations += 1;
            if self.iterations.is_multiple_of(CHECK_EVERY) {
                if let Some(stop) =
                    check_budget(budget, self.memo.bytes(), &mut self.memo_bytes_reported)
                {
                    return Some(Outcome::Stopped(stop));
                }
            }
            if self.iterations >= stop_at {
                return None;
            }
            if self.fresh {
                self.fresh = false;
                match self.force_read(model, ops) {
                    Forced::Pushed => continue,
                    Forced::Dead => {
                        if let Some(done) = self.backtrack(model, ops) {
                            return Some(done);
                        }
                        continue;
                    }
                    Forced::None => {}
                }
            }
            let entry = self.entry;
            debug_assert_ne!(entry, HEAD, "a definite op's completion is still listed");
            let event = self.events.kind[entry as usize];
            let op = event >> 1;
            if event & 1 == 1 {
                // A completion of an operation not yet linearized: dead end.
                if let Some(done) = self.backtrack(model, ops) {
                    return Some(done);
                }
                continue;
            }
            let i = op as usize;
            if self.read_only[i] {
                // Already tried by `force_read` at this configuration.
                self.entry = self.list.next[entry as usize];
                continue;
            }
            self.stats.steps += 1;
            if let Some(next) = model.step(self.state, &ops[i].op) {
                if self.try_push(op, next, false, ops) {
                    continue;
                }
            }
            self.entry = self.list.next[entry as usize];
        }
    }

    /// Scans the candidates for a read-only operation that fits the state,
    /// and checks that the deadline operation (the first whose completion
    /// is still listed) can still succeed: it must be linearized before
    /// anything invoked after it completed, so only the candidates can
    /// come before it, and if none of them is a reset and the model says
    /// it is blocked from here on, this configuration is dead.
    fn force_read(&mut self, model: &mut M, ops: &[PartOp<M::Op>]) -> Forced {
        let mut e = self.list.next[HEAD as usize];
        let mut any_reset = false;
        loop {
            let event = self.events.kind[e as usize];
            if e == HEAD {
                return Forced::None;
            }
            let op = event >> 1;
            if event & 1 == 1 {
                if !any_reset && model.blocked_forever(self.state, &ops[op as usize].op) {
                    return Forced::Dead;
                }
                return Forced::None;
            }
            any_reset |= self.reset[op as usize];
            if self.read_only[op as usize] {
                self.stats.steps += 1;
                if model.step(self.state, &ops[op as usize].op).is_some() {
                    return if self.try_push(op, self.state, true, ops) {
                        Forced::Pushed
                    } else {
                        Forced::Dead
                    };
                }
            }
            e = self.list.next[e as usize];
        }
    }

    /// Linearizes `op` into state `next` unless that configuration was
    /// seen before; true if it did.
    #[inline]
    fn try_push(&mut self, op: u32, next: M::State, forced: bool, ops: &[PartOp<M::Op>]) -> bool {
        let i = op as usize;
        let next_hash = self.hash ^ self.zobrist[i];
        set_bit(&mut self.bits, i);
        if !self.memo.insert(next_hash, next, &self.bits) {
            clear_bit(&mut self.bits, i);
            return false;
        }
        self.stack.push(Frame {
            op,
            before: self.state,
            forced,
        });
        self.state = next;
        self.hash = next_hash;
        self.list.lift(&self.events, op);
        if ops[i].ret.is_some() {
            self.remaining -= 1;
        }
        self.entry = self.list.next[HEAD as usize];
        self.fresh = true;
        true
    }

    /// Undoes frames until one whose alternatives remain; `Some` when none
    /// does (no linearization exists).
    fn backtrack(&mut self, model: &mut M, ops: &[PartOp<M::Op>]) -> Option<Outcome> {
        self.note_dead_end(model, ops);
        loop {
            let Some(frame) = self.stack.pop() else {
                let longest = if self.explained {
                    &mut self.longest
                } else {
                    &mut self.deepest
                };
                return Some(Outcome::Violation {
                    longest: std::mem::take(longest),
                });
            };
            self.stats.backtracks += 1;
            let u = frame.op as usize;
            self.state = frame.before;
            self.hash ^= self.zobrist[u];
            clear_bit(&mut self.bits, u);
            self.list.unlift(&self.events, frame.op);
            if self.events.ret_entry[u] != 0 {
                self.remaining += 1;
            }
            if !frame.forced {
                self.entry = self.list.next[self.events.call_entry[u] as usize];
                self.fresh = false;
                return None;
            }
        }
    }

    /// Remembers the current prefix as the witness if it is the longest so
    /// far (and as deep as any dead end) at whose end no candidate can
    /// follow at all. The pruning rules
    /// abandon some configurations where a candidate could still follow;
    /// those make poor evidence ("it could go on, but would fail later"),
    /// so they count only when no plainly stuck prefix was found
    /// (`deepest`).
    fn note_dead_end(&mut self, model: &mut M, ops: &[PartOp<M::Op>]) {
        let depth = self.stack.len();
        if depth > self.deepest.len() || (depth == 0 && self.deepest.is_empty()) {
            self.deepest.clear();
            self.deepest
                .extend(self.stack.iter().map(|f| f.op as usize));
        }
        // Only a prefix as deep as any seen is worth the scan (a scan per
        // dead end would cost more than the search).
        if depth < self.deepest.len() || (self.explained && depth <= self.longest.len()) {
            return;
        }
        let mut e = self.list.next[HEAD as usize];
        while e != HEAD && self.events.kind[e as usize] & 1 == 0 {
            let op = (self.events.kind[e as usize] >> 1) as usize;
            if model.step(self.state, &ops[op].op).is_some() {
                return;
            }
            e = self.list.next[e as usize];
        }
        self.explained = true;
        self.longest.clear();
        self.longest
            .extend(self.stack.iter().map(|f| f.op as usize));
    }

    /// Final statistics; releases this search's share of the memory budget.
    pub fn finish(&self, budget: &Budget) -> Stats {
        budget
            .memory_bytes
            .fetch_sub(self.memo_bytes_reported, Ordering::Relaxed);
        Stats {
            configurations: self.memo.len,
            ..self.stats
        }
    }
}

enum Forced {
    Pushed,
    Dead,
    None,
}

fn check_budget(budget: &Budget, bytes: usize, reported: &mut usize) -> Option<Stopped> {
    if budget.stop.load(Ordering::Relaxed) {
        return Some(Stopped::Cancelled);
    }
    if let Some(deadline) = budget.deadline {
        if Instant::now() >= deadline {
            return Some(Stopped::Timeout);
        }
    }
    let total = if bytes > *reported {
        let grown = bytes - *reported;
        *reported = bytes;
        budget.memory_bytes.fetch_add(grown, Ordering::Relaxed) + grown
    } else {
        budget.memory_bytes.load(Ordering::Relaxed)
    };
    (total > budget.memory_bytes_max).then_some(Stopped::Memory { bytes: total })
}

#[inline]
fn set_bit(bits: &mut [u64], i: usize) {
    bits[i / 64] |= 1 << (i % 64);
}

#[inline]
fn clear_bit(bits: &mut [u64], i: usize) {
    bits[i / 64] &= !(1 << (i % 64));
}

/// A fixed mixing function: distinct, well spread 64-bit values per op.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Invocation and completion events in record order. Event ids start at 1
/// (0 is the list head); `kind[e] = op << 1 | is_completion`.
struct Events {
    kind: Vec<u32>,
    call_entry: Vec<u32>,
    ret_entry: Vec<u32>,
}

impl Events {
    fn new<O>(ops: &[PartOp<O>]) -> Events {
        let mut order: Vec<(u64, u32)> = Vec::with_capacity(ops.len() * 2);
        for (i, o) in ops.iter().enumerate() {
            let i = u32::try_from(i).expect("fewer than 2^31 operations in one part");
            order.push((o.call, i << 1));
            if let Some(ret) = o.ret {
                assert!(ret > o.call, "an operation completes after it is invoked");
                order.push((ret, i << 1 | 1));
            }
        }
        order.sort_unstable();
        let mut kind = Vec::with_capacity(order.len() + 1);
        kind.push(u32::MAX);
        let mut call_entry = vec![0; ops.len()];
        let mut ret_entry = vec![0; ops.len()];
        for (_, k) in order {
            let e = kind.len() as u32;
            if k & 1 == 0 {
                call_entry[(k >> 1) as usize] = e;
            } else {
                ret_entry[(k >> 1) as usize] = e;
            }
            kind.push(k);
        }
        Events {
            kind,
            call_entry,
            ret_entry,
        }
    }

    fn list(&self) -> List {
        let len = self.kind.len() as u32;
        List {
            next: (0..len).map(|e| (e + 1) % len).collect(),
            prev: (0..len).map(|e| (e + len - 1) % len).collect(),
        }
    }
}

/// A circular doubly linked list over event ids, head at 0.
struct List {
    next: Vec<u32>,
    prev: Vec<u32>,
}

impl List {
    #[inline]
    fn unlink(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = n;
        self.prev[n as usize] = p;
    }

    #[inline]
    fn relink(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = e;
        self.prev[n as usize] = e;
    }

    /// Takes an operation's events out of the list.
    #[inline]
    fn lift(&mut self, events: &Events, op: u32) {
        self.unlink(events.call_entry[op as usize]);
        let ret = events.ret_entry[op as usize];
        if ret != 0 {
            self.unlink(ret);
        }
    }

    /// Puts them back; lifts and unlifts nest like brackets.
    #[inline]
    fn unlift(&mut self, events: &Events, op: u32) {
        let ret = events.ret_entry[op as usize];
        if ret != 0 {
            self.relink(ret);
        }
        self.relink(events.call_entry[op as usize]);
    }
}

/// The set of configurations seen: open addressing over a flat arena of
/// bitsets, keyed by the Zobrist hash of the bitset mixed with the state.
struct Memo<S> {
    words: usize,
    /// Slot -> entry + 1 (0 = empty).
    table: Vec<u32>,
    keys: Vec<u64>,
    states: Vec<S>,
    bits: Vec<u64>,
    len: usize,
}

impl<S: Copy + Eq + Hash> Memo<S> {
    fn new(words: usize) -> Memo<S> {
        Memo {
            words,
            table: vec![0; 1024],
            keys: Vec::new(),
            states: Vec::new(),
            bits: Vec::new(),
            len: 0,
        }
    }

    fn bytes(&self) -> usize {
        self.table.capacity() * 4
            + self.keys.capacity() * 8
            + self.states.capacity() * std::mem::size_of::<S>()
            + self.bits.capacity() * 8
    }

    /// Records (bits, state); false if it was already there.
    #[inline]
    fn insert(&mut self, bits_hash: u64, state: S, bits: &[u64]) -> bool {
        let key = bits_hash ^ splitmix64(state_hash(&state));
        let mask = self.table.len() - 1;
        let mut slot = key as usize & mask;
        loop {
            let at = self.table[slot];
            if at == 0 {
                break;
            }
            let e = (at - 1) as usize;
            if self.keys[e] == key
                && self.states[e] == state
                && self.bits[e * self.words..(e + 1) * self.words] == *bits
            {
                return false;
            }
            slot = (slot + 1) & mask;
        }
        let e = u32::try_from(self.len + 1).expect("fewer than 2^32 configurations");
        self.table[slot] = e;
        self.keys.push(key);
        self.states.push(state);
        self.bits.extend_from_slice(bits);
        self.len += 1;
        if self.len * 2 > self.table.len() {
            self.grow();
        }
        true
    }

    fn grow(&mut self) {
        let size = self.table.len() * 2;
        let mask = size - 1;
        let mut table = vec![0u32; size];
        for (e, &key) in self.keys.iter().enumerate() {
            let mut slot = key as usize & mask;
            while table[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            table[slot] = e as u32 + 1;
        }
        self.table = table;
    }
}

/// A cheap hash of a small state (FxHash's multiply-rotate).
fn state_hash<S: Hash>(state: &S) -> u64 {
    struct Fx(u64);
    impl Hasher for Fx {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for &b in bytes {
                self.write_u64(b as u64);
            }
        }
        fn write_u32(&mut self, i: u32) {
            self.write_u64(i as u64);
        }
        fn write_u64(&mut self, i: u64) {
            self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
        fn write_usize(&mut self, i: usize) {
            self.write_u64(i as u64);
        }
    }
    let mut h = Fx(0);
    state.hash(&mut h);
    h.finish()
}
