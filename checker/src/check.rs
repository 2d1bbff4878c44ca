//! Checking a whole history: split it by key (P-compositionality), search
//! the parts in parallel, and gather one verdict with its witnesses.

use crate::history::{History, Operation, Outcome};
use crate::model::append_kv::AppendKv;
use crate::model::kv::Kv;
use crate::model::register::Register;
use crate::model::{Model, ModelConfig, ModelError, ModelKind};
use crate::search::{self, Budget, PartOp, Search, Stats, Stopped};
use crate::value::Value;
use crate::verdict::{Blocked, OpView, Step, Verdict, Witness};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How to check a history.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// The model; `None` guesses it from the operations' functions.
    pub model: Option<ModelKind>,
    /// Initial value and read conventions.
    pub config: ModelConfig,
    /// Give up (verdict unknown) after this long.
    pub timeout: Option<Duration>,
    /// Give up (verdict unknown) when the search's memo tables exceed this.
    pub memory_bytes_max: usize,
    /// Search every part even after one fails, and report every failing key.
    pub full_report: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            model: None,
            config: ModelConfig::default(),
            timeout: None,
            memory_bytes_max: 4 << 30,
            full_report: false,
        }
    }
}

/// A verdict and what it took to reach it.
#[derive(Clone, Debug)]
pub struct CheckReport {
    /// The verdict.
    pub verdict: Verdict,
    /// The model used.
    pub model: ModelKind,
    /// Operations that may have taken effect (ok + info).
    pub ops: usize,
    /// Of those, indeterminate ones.
    pub info_ops: usize,
    /// Operations that definitely failed (not searched).
    pub failed_ops: usize,
    /// Independent parts (keys) searched.
    pub parts: usize,
    /// Model steps, memoised configurations and backtracks, summed over parts.
    pub stats: Stats,
    /// Wall-clock time of the search.
    pub elapsed: Duration,
}

/// Checks a history for linearizability.
pub fn check_history(history: &History, options: &CheckOptions) -> Result<CheckReport, ModelError> {
    let kind = options
        .model
        .unwrap_or_else(|| ModelKind::guess(&history.ops));
    let config = options.config.clone();
    match kind {
        ModelKind::Register => run(history, options, kind, || Register::new(config.clone())),
        ModelKind::CasRegister => run(history, options, kind, || {
            Register::cas_register(config.clone())
        }),
        ModelKind::Kv => run(history, options, kind, || Kv::new(config.clone())),
        ModelKind::AppendKv => run(history, options, kind, || AppendKv::new(config.clone())),
    }
}

/// Splits operations by key, keeping invocation order within each part.
/// Unkeyed operations form one part.
#[allow(clippy::type_complexity)]
pub fn partition(ops: &[Operation]) -> Vec<(Option<&Value>, Vec<&Operation>)> {
    let mut index: FxHashMap<Option<&Value>, usize> = FxHashMap::default();
    let mut parts: Vec<(Option<&Value>, Vec<&Operation>)> = Vec::new();
    for op in ops {
        let key = op.key.as_ref();
        let at = *index.entry(key).or_insert_with(|| {
            parts.push((key, Vec::new()));
            parts.len() - 1
        });
        parts[at].1.push(op);
    }
    parts
}

enum PartResult {
    Ok(Stats),
    Violation(Box<Witness>, Stats),
    Stopped(Stopped, Stats),
}

/// One part being checked: its model, compiled operations and search.
struct Job<'h, M: Model> {
    key: Option<&'h Value>,
    /// Every operation of the part (ids in `History::ops`), for reports.
    ids: Vec<usize>,
    model: M,
    compiled: Vec<PartOp<M::Op>>,
    search: Option<Search<M>>,
    result: Option<PartResult>,
}

/// Iterations in the first slice each part gets; later slices grow 4x.
const FIRST_SLICE: u64 = 1 << 15;

fn run<M, F>(
    history: &History,
    options: &CheckOptions,
    kind: ModelKind,
    make: F,
) -> Result<CheckReport, ModelError>
where
    M: Model,
    F: Fn() -> M + Sync,
{
    let started = Instant::now();
    let budget = Budget::new(
        options.timeout.map(|t| started + t),
        options.memory_bytes_max,
    );
    let mut active = prepare(history, &make)?;
    let part_count = active.len();
    active.par_iter_mut().for_each(|job| {
        job.search = Some(Search::new(&mut job.model, &job.compiled));
    });
    // Every part gets a slice, then the unfinished ones a longer one, and
    // so on: a violation in an easy part ends the check without waiting for
    // the hardest part, and total work stays within a small factor of the
    // work the parts need.
    let mut done: Vec<Job<M>> = Vec::with_capacity(active.len());
    let mut slice = FIRST_SLICE;
    while !active.is_empty() {
        active.par_iter_mut().for_each(|job| {
            let outcome = if budget.stop.load(Ordering::Relaxed) {
                Some(search::Outcome::Stopped(Stopped::Cancelled))
            } else {
                let search = job.search.as_mut().expect("every job has a search");
                search.run(&mut job.model, &job.compiled, &budget, slice)
            };
            if let Some(outcome) = outcome {
                job.result = Some(conclude(
                    history,
                    job,
                    outcome,
                    &budget,
                    options.full_report,
                ));
                // Free the part's memo now, not when every part is done.
                job.search = None;
            }
        });
        let (finished, unfinished): (Vec<_>, Vec<_>) =
            active.into_iter().partition(|j| j.result.is_some());
        done.extend(finished);
        active = unfinished;
        slice = slice.saturating_mul(4);
    }

    let mut stats = Stats::default();
    let mut witnesses = Vec::new();
    let mut stopped = None;
    for job in done {
        let part_stats = match job.result.expect("finished jobs have results") {
            PartResult::Ok(s) => s,
            PartResult::Violation(w, s) => {
                witnesses.push(*w);
                s
            }
            PartResult::Stopped(why, s) => {
                if why != Stopped::Cancelled {
                    stopped = Some(why);
                }
                s
            }
        };
        stats.steps += part_stats.steps;
        stats.configurations += part_stats.configurations;
        stats.backtracks += part_stats.backtracks;
    }
    witnesses.sort_by_key(|w| w.window.0);
    let verdict = if !witnesses.is_empty() {
        Verdict::NotLinearizable { witnesses }
    } else if let Some(why) = stopped {
        Verdict::Unknown {
            reason: match why {
                Stopped::Timeout => format!(
                    "the search did not finish within the time limit of {:.1} s",
                    options.timeout.unwrap_or_default().as_secs_f64()
                ),
                Stopped::Memory { bytes } => format!(
                    "the search's memo grew to {} MiB, past the limit of {} MiB",
                    bytes >> 20,
                    options.memory_bytes_max >> 20
                ),
                Stopped::Cancelled => unreachable!("cancellations are not kept"),
            },
        }
    } else {
        Verdict::Linearizable
    };
    Ok(CheckReport {
        verdict,
        model: kind,
        ops: history.ops.len(),
        info_ops: history.info_count(),
        failed_ops: history.failed,
        parts: part_count,
        stats,
        elapsed: started.elapsed(),
    })
}

/// Splits the history by key and compiles each part with its own model.
/// Indeterminate read-only operations are left out: they constrain
/// nothing.
///
/// Parts are dealt to shards, one per thread; each shard reads the whole
/// history in order and compiles its own parts' operations. Reading in
/// memory order matters more than it seems: compiling part by part would
/// jump across the whole history for every operation.
fn prepare<'h, M: Model>(
    history: &'h History,
    make: &(impl Fn() -> M + Sync),
) -> Result<Vec<Job<'h, M>>, ModelError> {
    let mut index: FxHashMap<Option<&Value>, u32> = FxHashMap::default();
    let mut keys: Vec<Option<&Value>> = Vec::new();
    let part_of: Vec<u32> = history
        .ops
        .iter()
        .map(|op| {
            let key = op.key.as_ref();
            *index.entry(key).or_insert_with(|| {
                keys.push(key);
                (keys.len() - 1) as u32
            })
        })
        .collect();
    let shards = rayon::current_num_threads().clamp(1, keys.len().max(1));
    let mut sizes = vec![0usize; keys.len()];
    for &part in &part_of {
        sizes[part as usize] += 1;
    }
    let mut jobs_by_shard: Vec<Vec<Job<M>>> = (0..shards).map(|_| Vec::new()).collect();
    for (part, &key) in keys.iter().enumerate() {
        jobs_by_shard[part % shards].push(Job {
            key,
            ids: Vec::with_capacity(sizes[part]),
            model: make(),
            compiled: Vec::with_capacity(sizes[part]),
            search: None,
            result: None,
        });
    }
    jobs_by_shard.par_iter_mut().enumerate().try_for_each(
        |(shard, jobs)| -> Result<(), ModelError> {
            for (op, &part) in history.ops.iter().zip(&part_of) {
                if part as usize % shards != shard {
                    continue;
                }
                let job = &mut jobs[part as usize / shards];
                let c = job.model.compile(op)?;
                job.ids.push(op.id);
                if op.outcome == Outcome::Info && job.model.is_read_only(&c) {
                    continue;
                }
                job.compiled.push(PartOp {
                    id: op.id,
                    op: c,
                    call: op.call,
                    ret: op.ret,
                });
            }
            Ok(())
        },
    )?;
    Ok(jobs_by_shard.into_iter().flatten().collect())
}

/// Turns a finished search into a part result, explaining a violation.
fn conclude<M: Model>(
    history: &History,
    job: &mut Job<M>,
    outcome: search::Outcome,
    budget: &Budget,
    full_report: bool,
) -> PartResult {
    let stats = job
        .search
        .as_ref()
        .expect("a finished job has a search")
        .finish(budget);
    match outcome {
        search::Outcome::Linearizable => PartResult::Ok(stats),
        search::Outcome::Stopped(why) => PartResult::Stopped(why, stats),
        search::Outcome::Violation { longest } => {
            if !full_report {
                budget.stop.store(true, Ordering::Relaxed);
            }
            let ops: Vec<&Operation> = job.ids.iter().map(|&id| &history.ops[id]).collect();
            let witness = explain(&mut job.model, job.key, &ops, &job.compiled, &longest);
            PartResult::Violation(Box::new(witness), stats)
        }
    }
}

/// Builds the witness: replays the longest prefix through the model and
/// finds the operations that could come next at its end.
fn explain<M: Model>(
    model: &mut M,
    key: Option<&Value>,
    ops: &[&Operation],
    compiled: &[PartOp<M::Op>],
    longest: &[usize],
) -> Witness {
    let init = model.init();
    let mut state = init;
    let mut steps = Vec::with_capacity(longest.len());
    let mut done = vec![false; compiled.len()];
    for &i in longest {
        state = model
            .step(state, &compiled[i].op)
            .expect("the longest prefix replays through the model");
        done[i] = true;
        steps.push(Step {
            op: compiled[i].id,
            state_after: model.describe(state),
        });
    }
    let frontier = frontier(compiled, &done);
    let deadline = frontier.deadline;
    // The operation whose completion closes the window: it must come
    // before anything invoked after it completed.
    let forcing = compiled
        .iter()
        .zip(&done)
        .position(|(o, &d)| !d && o.ret == Some(deadline));
    let any_reset = frontier
        .candidates
        .iter()
        .any(|&i| model.is_reset(&compiled[i].op));
    let blocked: Vec<Blocked> = frontier
        .candidates
        .iter()
        .map(|&i| Blocked {
            op: compiled[i].id,
            reason: match model.step(state, &compiled[i].op) {
                None => model.explain(state, &compiled[i].op),
                Some(next) => match forcing {
                    Some(f) if !any_reset && model.blocked_forever(next, &compiled[f].op) => format!(
                        "it can follow here, but the operation on line {} still cannot: {}, and none of these operations can undo that",
                        ops.iter().find(|o| o.id == compiled[f].id).map_or(0, |o| o.line),
                        model.explain(next, &compiled[f].op)
                    ),
                    _ => "it can follow here, but no order of the remaining operations after it works".into(),
                },
            },
        })
        .collect();
    let window_start = frontier
        .candidates
        .iter()
        .map(|&i| compiled[i].call)
        .min()
        .unwrap_or(deadline);
    Witness {
        key: key.cloned(),
        model: model.name().to_string(),
        ops: ops.iter().map(|o| op_view(o)).collect(),
        initial_state: model.describe(init),
        longest: steps,
        final_state: model.describe(state),
        blocked,
        window: (window_start, deadline),
    }
}

/// The operations that may be linearized next after a prefix: those not
/// yet linearized whose invocation precedes the earliest completion of a
/// definite operation not yet linearized (`deadline`).
pub struct Frontier {
    /// Positions in the part's ops.
    pub candidates: Vec<usize>,
    /// The earliest completion among the definite operations left.
    pub deadline: u64,
}

/// Computes the frontier after the prefix marked in `done`.
pub fn frontier<O>(ops: &[PartOp<O>], done: &[bool]) -> Frontier {
    let deadline = ops
        .iter()
        .zip(done)
        .filter(|(_, &d)| !d)
        .filter_map(|(o, _)| o.ret)
        .min()
        .unwrap_or(u64::MAX);
    let candidates = ops
        .iter()
        .zip(done)
        .enumerate()
        .filter(|(_, (o, &d))| !d && o.call < deadline)
        .map(|(i, _)| i)
        .collect();
    Frontier {
        candidates,
        deadline,
    }
}

/// An operation in words: `write 3`, `read -> 3`, `cas [1 2]`, `read -> ?`.
pub fn op_text(op: &Operation) -> String {
    let mut text = op.f.clone();
    if !op.input.is_nil() {
        text.push(' ');
        text.push_str(&op.input.to_string());
    }
    match (&op.output, op.outcome) {
        (_, Outcome::Info) => text.push_str(" (info: may or may not have happened)"),
        (Some(out), Outcome::Ok) if *out != op.input => {
            text.push_str(" -> ");
            text.push_str(&out.to_string());
        }
        _ => {}
    }
    text
}

fn op_view(op: &Operation) -> OpView {
    OpView {
        id: op.id,
        process: op.process,
        f: op.f.clone(),
        input: op.input.clone(),
        output: op.output.clone(),
        outcome: op.outcome,
        call: op.call,
        ret: op.ret,
        call_time: op.call_time,
        ret_time: op.ret_time,
        line: op.line,
        text: op_text(op),
    }
}
