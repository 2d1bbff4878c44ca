//! The load generator: closed-loop workers (each waits for its answer
//! before sending the next call), an open-loop sender at a fixed rate, and
//! what they measure. Every loop is bounded by a deadline.

use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workloads::store::{KvClient, StoreError, StoreOp};

/// Which calls the load makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mix {
    /// Writes only (`set`).
    Write,
    /// Reads only (`get`).
    Read,
    /// Half and half.
    Mixed,
}

impl Mix {
    /// Its name on the command line and in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Mix::Write => "write",
            Mix::Read => "read",
            Mix::Mixed => "mixed",
        }
    }
}

impl std::str::FromStr for Mix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Mix::Write, Mix::Read, Mix::Mixed]
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown mix {s:?} (expected write, read or mixed)"))
    }
}

/// Keys the load spreads over, and the size of each value written.
pub const KEYS: u64 = 1_000;
/// Bytes per value written.
pub const VALUE_BYTES: usize = 64;
/// Latencies are recorded from 1 µs to this.
const LATENCY_MAX_US: u64 = 120_000_000;
/// Completions are counted in buckets this wide, for throughput over time.
pub const BUCKET_MS: u64 = 10;

/// What one measured interval gave.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Latency of every call that succeeded, in µs.
    pub latency_us: Histogram<u64>,
    /// Calls that succeeded.
    pub ok: u64,
    /// Calls that did not, by kind (`refused: no leader`, `timeout`...).
    pub errors: BTreeMap<String, u64>,
    /// Successes per [`BUCKET_MS`] bucket from the start of the interval.
    pub timeline: Vec<u64>,
    /// When each success ended, in ms since the interval began, sorted
    /// (kept only for fault scenarios).
    pub ok_at_ms: Vec<f64>,
}

impl Measured {
    fn new(buckets: usize) -> Measured {
        Measured {
            latency_us: Histogram::new_with_bounds(1, LATENCY_MAX_US, 3)
                .expect("valid histogram bounds"),
            ok: 0,
            errors: BTreeMap::new(),
            timeline: vec![0; buckets],
            ok_at_ms: Vec::new(),
        }
    }

    fn merge(&mut self, other: Measured) {
        // Both have the same bounds: adding cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
        self.ok += other.ok;
        for (k, n) in other.errors {
            *self.errors.entry(k).or_default() += n;
        }
        for (a, b) in self.timeline.iter_mut().zip(other.timeline) {
            *a += b;
        }
        self.ok_at_ms.extend(other.ok_at_ms);
    }

    fn record_ok(&mut self, began: Instant, sent: Instant, done: Instant, keep_times: bool) {
        let us = done.saturating_duration_since(sent).as_micros() as u64;
        self.latency_us
            .saturating_record(us.clamp(1, LATENCY_MAX_US));
        self.ok += 1;
        let at_ms = done.saturating_duration_since(began).as_secs_f64() * 1000.0;
        let bucket = (at_ms as u64 / BUCKET_MS) as usize;
        if let Some(b) = self.timeline.get_mut(bucket) {
            *b += 1;
        }
        if keep_times {
            self.ok_at_ms.push(at_ms);
        }
    }

    fn record_error(&mut self, e: &StoreError) {
        *self.errors.entry(error_kind(e)).or_default() += 1;
    }
}

/// An error's kind, short enough to count by: whether it was definite,
/// and the first words of why.
fn error_kind(e: &StoreError) -> String {
    let (kind, why) = match e {
        StoreError::Definite(w) => ("refused", w),
        StoreError::Indeterminate(w) => ("indeterminate", w),
    };
    let words: Vec<&str> = why
        .split(|c: char| !c.is_alphanumeric() && c != '-' && c != '_')
        .filter(|w| !w.is_empty())
        .take(2)
        .collect();
    format!("{kind}: {}", words.join(" "))
}

/// The `n`-th call of a worker, for a mix. Keys and values come from a
/// counter: no randomness needed to spread load over the keys.
fn op_for(mix: Mix, worker: u64, n: u64) -> StoreOp {
    let k = (worker
        .wrapping_mul(7_919)
        .wrapping_add(n.wrapping_mul(104_729)))
        % KEYS;
    let key = format!("bench-{k}");
    let write = match mix {
        Mix::Write => true,
        Mix::Read => false,
        Mix::Mixed => n.is_multiple_of(2),
    };
    if write {
        let mut value = format!("{worker}-{n}-");
        value.extend(std::iter::repeat_n(
            'x',
            VALUE_BYTES.saturating_sub(value.len()),
        ));
        StoreOp::Set { key, value }
    } else {
        StoreOp::Get { key }
    }
}

/// A closed-loop interval: `clients.len()` workers, each sending its next
/// call when the last is answered, through its own client (its own
/// connection). Calls that start in the warm-up are not measured; the
/// measured interval is `duration` long. A worker whose node fails moves
/// to the next node (`failover`), as a client of a real cluster does.
pub struct ClosedLoop {
    /// One client per worker, each pointed at its first node.
    pub workers: Vec<Vec<Arc<dyn KvClient>>>,
    /// The mix.
    pub mix: Mix,
    /// Warm-up before measuring.
    pub warmup: Duration,
    /// The measured interval.
    pub duration: Duration,
    /// Keep every success's time (for fault scenarios).
    pub keep_times: bool,
}

impl ClosedLoop {
    /// Runs it. Returns the measurements and when the measured interval
    /// began.
    pub async fn run(self) -> (Measured, Instant) {
        let began = Instant::now() + self.warmup;
        let deadline = began + self.duration;
        let buckets = (self.duration.as_millis() as u64 / BUCKET_MS + 1) as usize;
        let mut tasks = tokio::task::JoinSet::new();
        for (w, nodes) in self.workers.into_iter().enumerate() {
            let (mix, keep) = (self.mix, self.keep_times);
            tasks.spawn(async move {
                let mut m = Measured::new(buckets);
                let mut node = 0usize;
                let mut n = 0u64;
                loop {
                    let sent = Instant::now();
                    if sent >= deadline {
                        break;
                    }
                    let op = op_for(mix, w as u64, n);
                    n += 1;
                    let r = nodes[node % nodes.len()].call(op).await;
                    let done = Instant::now();
                    if sent < began || done > deadline {
                        if r.is_err() {
                            node += 1;
                        }
                        continue;
                    }
                    match r {
                        Ok(_) => m.record_ok(began, sent, done, keep),
                        Err(e) => {
                            m.record_error(&e);
                            node += 1;
                        }
                    }
                }
                m
            });
        }
        let mut all = Measured::new(buckets);
        while let Some(joined) = tasks.join_next().await {
            if let Ok(m) = joined {
                all.merge(m);
            }
        }
        all.ok_at_ms.sort_by(f64::total_cmp);
        (all, began)
    }
}

/// The most calls an open-loop interval keeps in flight; past it, a call
/// due is counted as `overload` instead of sent.
pub const OPEN_INFLIGHT_MAX: usize = 1_024;

/// An open-loop interval: calls sent at `rate` per second whatever the
/// answers, spread over `clients`; latency counts from when each call was
/// due, so a stalled store is charged for the calls it held up.
pub async fn open_loop(
    clients: &[Arc<dyn KvClient>],
    mix: Mix,
    rate: f64,
    duration: Duration,
) -> Measured {
    let began = Instant::now();
    let deadline = began + duration;
    let buckets = (duration.as_millis() as u64 / BUCKET_MS + 1) as usize;
    let total = (rate * duration.as_secs_f64()).ceil() as u64;
    let gap = Duration::from_secs_f64(1.0 / rate.max(1e-3));
    let mut tasks = tokio::task::JoinSet::new();
    let mut all = Measured::new(buckets);
    for n in 0..total {
        let due = began + gap.mul_f64(n as f64);
        if due >= deadline {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        while let Some(done) = tasks.try_join_next() {
            if let Ok(m) = done {
                all.merge(m);
            }
        }
        if tasks.len() >= OPEN_INFLIGHT_MAX {
            *all.errors.entry("overload".into()).or_default() += 1;
            continue;
        }
        let client = clients[(n as usize) % clients.len()].clone();
        tasks.spawn(async move {
            let mut m = Measured::new(buckets);
            match client.call(op_for(mix, 0, n)).await {
                Ok(_) => m.record_ok(began, due, Instant::now(), false),
                Err(e) => m.record_error(&e),
            }
            m
        });
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok(m) = done {
            all.merge(m);
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_make_the_calls_they_say() {
        let writes = (0..10).filter(|n| matches!(op_for(Mix::Mixed, 3, *n), StoreOp::Set { .. }));
        assert_eq!(writes.count(), 5);
        assert!(matches!(op_for(Mix::Read, 0, 1), StoreOp::Get { .. }));
        match op_for(Mix::Write, 2, 9) {
            StoreOp::Set { key, value } => {
                assert!(key.starts_with("bench-"));
                assert_eq!(value.len(), VALUE_BYTES);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_are_counted_by_kind() {
        let mut m = Measured::new(4);
        m.record_error(&StoreError::Definite("no leader (election)".into()));
        m.record_error(&StoreError::Definite("no leader yet".into()));
        m.record_error(&StoreError::Indeterminate("timeout".into()));
        assert_eq!(m.errors.get("refused: no leader"), Some(&2));
        assert_eq!(m.errors.get("indeterminate: timeout"), Some(&1));
    }

    #[test]
    fn successes_land_in_their_bucket() {
        let mut m = Measured::new(4);
        let began = Instant::now();
        let done = began + Duration::from_millis(25);
        m.record_ok(began, began, done, true);
        assert_eq!(m.timeline, vec![0, 0, 1, 0]);
        assert_eq!(m.ok, 1);
        assert!((m.ok_at_ms[0] - 25.0).abs() < 1.0);
        assert!(m.latency_us.value_at_quantile(1.0) >= 24_000);
    }
}
