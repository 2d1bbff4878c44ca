//! Synthetic histories for benchmarks and tests: a simulated, correct
//! object driven by concurrent processes, so every generated history is
//! linearizable unless [`corrupt`] plants a stale read in it.
//!
//! Deterministic: the same [`GenOptions`] (seed included) always gives the
//! same records.

use crate::history::{Process, Record, RecordType};
use crate::value::Value;
use std::collections::HashMap;

/// The kind of history to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenKind {
    /// read / write on registers, values 0..5.
    Register,
    /// read / write / cas on registers (Jepsen's cas-register), values 0..5.
    CasRegister,
    /// get / put / append on string keys (Porcupine's kv shape).
    AppendKv,
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenOptions {
    /// Register or kv.
    pub kind: GenKind,
    /// How many operations (invocations) in all.
    pub ops: usize,
    /// How many concurrent client processes.
    pub processes: usize,
    /// How many keys (1 = a single unkeyed register for `CasRegister`).
    pub keys: usize,
    /// The fraction of operations that end `info` (indeterminate).
    pub info_fraction: f64,
    /// The random seed.
    pub seed: u64,
}

/// A small, stable pseudo-random generator (splitmix64): the benchmark
/// histories must not change when a dependency's generator does.
#[derive(Clone, Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    /// Seeds the generator.
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 > 1.0 - p
    }
}

/// One client's operation in flight.
#[derive(Clone, Debug)]
struct InFlight {
    f: &'static str,
    key: Option<Value>,
    input: Value,
    output: Option<Value>,
    applied: bool,
    info: bool,
}

/// Generates a linearizable history.
pub fn generate(options: &GenOptions) -> Vec<Record> {
    assert!(
        options.processes > 0 && options.keys > 0,
        "at least one process and one key"
    );
    let mut rng = SplitMix::new(options.seed);
    let mut state: HashMap<Option<Value>, Value> = HashMap::new();
    let mut records = Vec::with_capacity(options.ops * 2);
    // Slot i is driven by process ids i, i + processes, i + 2*processes...
    let mut process_of_slot: Vec<u64> = (0..options.processes as u64).collect();
    let mut flight: Vec<Option<InFlight>> = vec![None; options.processes];
    let mut invoked = 0usize;
    let mut time_ns: i64 = 0;
    let mut counter = 0u64;
    while invoked < options.ops || flight.iter().any(Option::is_some) {
        time_ns += 1 + rng.below(20_000) as i64;
        let slot = rng.below(options.processes as u64) as usize;
        let process = process_of_slot[slot];
        match flight[slot].take() {
            None if invoked < options.ops => {
                let key = (options.keys > 1 || options.kind == GenKind::AppendKv)
                    .then(|| Value::Str(rng.below(options.keys as u64).to_string()));
                let (f, input) = choose_op(options.kind, &mut rng, process, &mut counter);
                let info = rng.chance(options.info_fraction);
                records.push(record(
                    process,
                    RecordType::Invoke,
                    f,
                    &key,
                    Some(input.clone()),
                    time_ns,
                ));
                flight[slot] = Some(InFlight {
                    f,
                    key,
                    input,
                    output: None,
                    applied: false,
                    info,
                });
                invoked += 1;
            }
            None => {}
            Some(mut op) if !op.applied => {
                // The linearization point: the op takes effect now, except
                // that half of the indeterminate ones never do.
                if !(op.info && rng.chance(0.5)) {
                    let current = state
                        .entry(op.key.clone())
                        .or_insert_with(|| initial(options.kind));
                    op.output = Some(apply(current, op.f, &op.input));
                }
                op.applied = true;
                flight[slot] = Some(op);
            }
            Some(op) => {
                let (kind, value) = match (&op.output, op.info) {
                    (_, true) => (RecordType::Info, Some(op.input.clone())),
                    (Some(Value::Bool(false)), false) => (RecordType::Fail, Some(op.input.clone())),
                    (Some(out), false) => (RecordType::Ok, Some(out.clone())),
                    (None, false) => unreachable!("definite ops are always applied"),
                };
                records.push(record(process, kind, op.f, &op.key, value, time_ns));
                if kind == RecordType::Info {
                    process_of_slot[slot] += options.processes as u64;
                }
            }
        }
    }
    for (i, r) in records.iter_mut().enumerate() {
        r.index = i as u64;
    }
    records
}

fn initial(kind: GenKind) -> Value {
    match kind {
        GenKind::Register | GenKind::CasRegister => Value::Nil,
        GenKind::AppendKv => Value::Str(String::new()),
    }
}

fn choose_op(
    kind: GenKind,
    rng: &mut SplitMix,
    process: u64,
    counter: &mut u64,
) -> (&'static str, Value) {
    let roll = rng.below(100);
    match kind {
        GenKind::Register | GenKind::CasRegister => {
            let small = |rng: &mut SplitMix| Value::Int(rng.below(5) as i64);
            match roll {
                0..=49 => ("read", Value::Nil),
                _ if kind == GenKind::Register => ("write", small(rng)),
                50..=79 => ("write", small(rng)),
                _ => ("cas", Value::List(vec![small(rng), small(rng)])),
            }
        }
        GenKind::AppendKv => {
            *counter += 1;
            match roll {
                0..=49 => ("get", Value::Nil),
                50..=94 => ("append", Value::Str(format!("x {process} {counter} y"))),
                _ => ("put", Value::Str(format!("p {process} {counter} y"))),
            }
        }
    }
}

/// Applies an operation to the simulated object and returns what the
/// client sees; `Bool(false)` marks a cas that did not match (a `fail`).
fn apply(current: &mut Value, f: &str, input: &Value) -> Value {
    match f {
        "read" | "get" => current.clone(),
        "write" | "put" => {
            *current = input.clone();
            input.clone()
        }
        "append" => {
            if let (Value::Str(s), Value::Str(tail)) = (&mut *current, input) {
                s.push_str(tail);
            }
            input.clone()
        }
        "cas" => match input.as_pair() {
            Some((from, to)) if from == current => {
                *current = to.clone();
                input.clone()
            }
            _ => Value::Bool(false),
        },
        other => unreachable!("the generator never makes `{other}`"),
    }
}

fn record(
    process: u64,
    kind: RecordType,
    f: &str,
    key: &Option<Value>,
    value: Option<Value>,
    time: i64,
) -> Record {
    Record {
        index: 0,
        process: Process::Client(process),
        kind,
        f: f.to_string(),
        key: key.clone(),
        value,
        time: Some(time),
        error: None,
    }
}

/// Plants a stale read: the `nth` ok read (or get) whose result can be
/// changed is given a value it could not have returned (one no write ever
/// produced). Returns false if there is no such read.
pub fn corrupt(records: &mut [Record], nth: usize) -> bool {
    let reads: Vec<usize> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.kind == RecordType::Ok && (r.f == "read" || r.f == "get"))
        .map(|(i, _)| i)
        .collect();
    if reads.is_empty() {
        return false;
    }
    let at = reads[nth % reads.len()];
    records[at].value = Some(match &records[at].value {
        Some(Value::Str(_)) => Value::Str("never written".into()),
        _ => Value::Int(-1),
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::History;

    #[test]
    fn same_seed_same_history_and_counts_hold() {
        let options = GenOptions {
            kind: GenKind::CasRegister,
            ops: 500,
            processes: 10,
            keys: 1,
            info_fraction: 0.01,
            seed: 7,
        };
        let a = generate(&options);
        assert_eq!(a, generate(&options));
        let invokes = a.iter().filter(|r| r.kind == RecordType::Invoke).count();
        assert_eq!(invokes, 500);
        let h = History::from_records(a, vec![]).expect("a generated history is well formed");
        assert!(h.ops.len() <= 500);
    }
}
