//! What a run's records add up to: per-operation samples and fault periods
//! (for the plots and the timeline), and the summary table: operations by
//! kind and outcome, throughput, latency percentiles, and availability
//! inside and outside fault periods. Pure: records in, numbers out.

use checker::{Process, Record, RecordType};
use hdrhistogram::Histogram;
use results::plots::{FaultSpan, OpSample, SampleOutcome};
use std::collections::{BTreeMap, HashMap};

/// Client operations and fault periods drawn from a history's records.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    /// One sample per client invocation (unfinished ones count as info,
    /// with their latency running to the end of the history).
    pub samples: Vec<OpSample>,
    /// Fault periods from the nemesis's start and stop records.
    pub faults: Vec<FaultSpan>,
    /// Seconds from the first to the last record.
    pub duration_s: f64,
    /// Per sample (same order), whether the store answered it: ok, or a
    /// definite "no" such as a compare that lost. Refusals for want of a
    /// leader, refused connections and timeouts are not answers.
    pub answered: Vec<bool>,
}

fn secs(ns: Option<i64>) -> f64 {
    ns.unwrap_or(0) as f64 / 1e9
}

/// Pairs invocations with completions and starts with stops.
pub fn timeline(records: &[Record]) -> Timeline {
    let end_s = records.last().map(|r| secs(r.time)).unwrap_or(0.0);
    let mut open: HashMap<u64, &Record> = HashMap::new();
    let mut samples = Vec::with_capacity(records.len() / 2);
    let mut fault_open: BTreeMap<String, (f64, String)> = BTreeMap::new();
    let mut faults = Vec::new();
    let sample = |inv: &Record, outcome, end: f64, value: Option<&checker::Value>| {
        let start = secs(inv.time);
        let key = inv
            .key
            .as_ref()
            .map(|k| format!(" {k}"))
            .unwrap_or_default();
        let arg = inv
            .value
            .as_ref()
            .filter(|v| !v.is_nil())
            .map(|v| format!(" {v}"))
            .unwrap_or_default();
        let result = value
            .filter(|v| !v.is_nil() || inv.f == "read")
            .map(|v| format!(" -> {v}"))
            .unwrap_or_default();
        OpSample {
            process: match inv.process {
                Process::Client(p) => p,
                Process::Named(_) => u64::MAX,
            },
            f: inv.f.clone(),
            start_s: start,
            latency_ms: ((end - start) * 1e3).max(0.0),
            outcome,
            summary: format!("{}{key}{arg}{result}", inv.f),
        }
    };
    for r in records {
        match &r.process {
            Process::Named(_) => {
                let Some(kind) =
                    r.f.strip_prefix("start-")
                        .or_else(|| r.f.strip_prefix("stop-"))
                else {
                    continue;
                };
                let what = r.value.as_ref().map(|v| v.to_string()).unwrap_or_default();
                if r.f.starts_with("start-") {
                    // A restart of the same kind closes the earlier period.
                    if let Some((s, name)) = fault_open.remove(kind) {
                        faults.push(FaultSpan {
                            name,
                            start_s: s,
                            end_s: secs(r.time),
                        });
                    }
                    fault_open.insert(
                        kind.to_string(),
                        (secs(r.time), format!("{kind}: {}", what.trim_matches('"'))),
                    );
                } else if let Some((s, name)) = fault_open.remove(kind) {
                    faults.push(FaultSpan {
                        name,
                        start_s: s,
                        end_s: secs(r.time),
                    });
                }
            }
            Process::Client(p) => match r.kind {
                RecordType::Invoke => {
                    open.insert(*p, r);
                }
                kind => {
                    if let Some(inv) = open.remove(p) {
                        let outcome = match kind {
                            RecordType::Ok => SampleOutcome::Ok,
                            RecordType::Fail => SampleOutcome::Fail,
                            _ => SampleOutcome::Info,
                        };
                        let answered =
                            kind == RecordType::Ok || r.error.as_deref() == Some("cas mismatch");
                        samples.push((
                            sample(inv, outcome, secs(r.time), r.value.as_ref()),
                            answered,
                        ));
                    }
                }
            },
        }
    }
    for inv in open.into_values() {
        samples.push((sample(inv, SampleOutcome::Info, end_s, None), false));
    }
    for (_, (s, name)) in fault_open {
        faults.push(FaultSpan {
            name,
            start_s: s,
            end_s,
        });
    }
    samples.sort_by(|a, b| a.0.start_s.total_cmp(&b.0.start_s));
    faults.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    let (samples, answered) = samples.into_iter().unzip();
    Timeline {
        samples,
        faults,
        duration_s: end_s,
        answered,
    }
}

/// Counts of one function's outcomes.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Succeeded.
    pub ok: u64,
    /// Definitely failed.
    pub fail: u64,
    /// Indeterminate.
    pub info: u64,
}

/// The numbers in the summary table.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Stats {
    /// Counts per function (`read`, `write`, ...).
    pub by_f: BTreeMap<String, Counts>,
    /// All functions together.
    pub total: Counts,
    /// Successful operations per second over the run.
    pub ok_per_s: f64,
    /// Latency of successful operations, microseconds.
    pub latency_us_p50: u64,
    /// 99th percentile.
    pub latency_us_p99: u64,
    /// Maximum.
    pub latency_us_max: u64,
    /// Share of operations invoked during a fault that the store answered
    /// (ok, or a definite answer such as a compare that lost).
    pub availability_in_faults: Option<f64>,
    /// The same outside faults.
    pub availability_outside_faults: Option<f64>,
    /// Seconds from the first to the last record.
    pub duration_s: f64,
}

/// Computes the summary numbers.
pub fn stats(t: &Timeline) -> Stats {
    let mut s = Stats {
        duration_s: t.duration_s,
        ..Stats::default()
    };
    // 1 µs to 1 hour at 3 significant figures.
    let mut hist = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).ok();
    let (mut in_ok, mut in_all, mut out_ok, mut out_all) = (0u64, 0u64, 0u64, 0u64);
    for (i, x) in t.samples.iter().enumerate() {
        let c = s.by_f.entry(x.f.clone()).or_default();
        for c in [c, &mut s.total] {
            match x.outcome {
                SampleOutcome::Ok => c.ok += 1,
                SampleOutcome::Fail => c.fail += 1,
                SampleOutcome::Info => c.info += 1,
            }
        }
        let ok = x.outcome == SampleOutcome::Ok;
        if ok {
            if let Some(h) = hist.as_mut() {
                let _ = h.record(((x.latency_ms * 1e3) as u64).max(1));
            }
        }
        let answered = t.answered.get(i).copied().unwrap_or(ok);
        let in_fault = t
            .faults
            .iter()
            .any(|f| f.start_s <= x.start_s && x.start_s < f.end_s);
        if in_fault {
            in_all += 1;
            in_ok += u64::from(answered);
        } else {
            out_all += 1;
            out_ok += u64::from(answered);
        }
    }
    if let Some(h) = hist.filter(|h| !h.is_empty()) {
        s.latency_us_p50 = h.value_at_quantile(0.5);
        s.latency_us_p99 = h.value_at_quantile(0.99);
        s.latency_us_max = h.max();
    }
    if t.duration_s > 0.0 {
        s.ok_per_s = s.total.ok as f64 / t.duration_s;
    }
    s.availability_in_faults = (in_all > 0).then(|| in_ok as f64 / in_all as f64);
    s.availability_outside_faults = (out_all > 0).then(|| out_ok as f64 / out_all as f64);
    s
}

fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1e3)
}

fn percent(p: Option<f64>) -> String {
    p.map(|p| format!("{:.1}%", p * 100.0))
        .unwrap_or_else(|| "-".into())
}

/// The summary as (label, value) rows, for the terminal and the report.
pub fn rows(s: &Stats) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    for (f, c) in &s.by_f {
        rows.push((
            f.to_string(),
            format!("{} ok, {} fail, {} info", c.ok, c.fail, c.info),
        ));
    }
    rows.push((
        "all operations".into(),
        format!(
            "{} ok, {} fail, {} info",
            s.total.ok, s.total.fail, s.total.info
        ),
    ));
    rows.push((
        "throughput".into(),
        format!("{:.0} ok/s over {:.1} s", s.ok_per_s, s.duration_s),
    ));
    rows.push((
        "latency (ok)".into(),
        format!(
            "p50 {}, p99 {}, max {}",
            ms(s.latency_us_p50),
            ms(s.latency_us_p99),
            ms(s.latency_us_max)
        ),
    ));
    rows.push((
        "availability".into(),
        format!(
            "{} during faults, {} outside",
            percent(s.availability_in_faults),
            percent(s.availability_outside_faults)
        ),
    ));
    rows
}

/// Rows as an aligned two-column table.
pub fn table(rows: &[(String, String)]) -> String {
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(l, v)| format!("  {l:<width$}  {v}\n"))
        .collect()
}

/// A checker's explanation for the terminal, every line indented under the
/// verdict rows: an entry of several lines (a witness) keeps its shape,
/// its continuation lines indented as far as its first line's text.
pub fn indented(checker: Option<&str>, lines: &[String]) -> Vec<String> {
    let lead = match checker {
        Some(name) => format!("    {name}: "),
        None => "    ".to_string(),
    };
    let more = " ".repeat(lead.chars().count());
    let mut out = Vec::new();
    for entry in lines {
        for (i, line) in entry.lines().enumerate() {
            let prefix = if i == 0 { &lead } else { &more };
            out.push(format!("{prefix}{line}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use checker::Value;

    fn rec(process: Process, kind: RecordType, f: &str, value: Option<Value>, ms: i64) -> Record {
        Record {
            index: 0,
            process,
            kind,
            f: f.into(),
            key: Some(Value::Str("k0".into())),
            value,
            time: Some(ms * 1_000_000),
            error: None,
        }
    }

    #[test]
    fn pairs_operations_and_fault_periods() {
        use Process::{Client as C, Named as N};
        let nem = || N("nemesis".into());
        let records = vec![
            rec(C(0), RecordType::Invoke, "write", Some(Value::Int(1)), 0),
            rec(C(0), RecordType::Ok, "write", Some(Value::Int(1)), 10),
            rec(
                nem(),
                RecordType::Info,
                "start-kill",
                Some(Value::Str("killed n1".into())),
                20,
            ),
            rec(C(1), RecordType::Invoke, "read", None, 30),
            rec(C(0), RecordType::Invoke, "cas", None, 31),
            rec(C(0), RecordType::Fail, "cas", None, 35),
            rec(nem(), RecordType::Info, "stop-kill", None, 40),
            rec(C(2), RecordType::Invoke, "read", None, 50),
            rec(C(2), RecordType::Info, "read", None, 60),
            rec(C(3), RecordType::Invoke, "read", None, 70),
            rec(C(3), RecordType::Ok, "read", Some(Value::Int(1)), 72),
        ];
        let t = timeline(&records);
        assert_eq!(t.faults.len(), 1);
        assert_eq!(t.faults[0].start_s, 0.02);
        assert!(t.faults[0].name.contains("killed n1"));
        assert_eq!(
            t.samples.len(),
            5,
            "four completed plus one never completed"
        );
        let unfinished = t.samples.iter().find(|s| s.process == 1).expect("p1");
        assert_eq!(unfinished.outcome, SampleOutcome::Info);
        assert!((unfinished.latency_ms - 42.0).abs() < 1e-6);
        let s = stats(&t);
        assert_eq!(
            s.total,
            Counts {
                ok: 2,
                fail: 1,
                info: 2
            }
        );
        assert_eq!(
            s.by_f["read"],
            Counts {
                ok: 1,
                fail: 0,
                info: 2
            }
        );
        // During the kill: the read (unfinished) and the cas (failed).
        assert_eq!(s.availability_in_faults, Some(0.0));
        assert_eq!(s.availability_outside_faults, Some(2.0 / 3.0));
        assert!(
            s.latency_us_p50 >= 1_990 && s.latency_us_max <= 10_010,
            "{s:?}"
        );
        assert!(table(&rows(&s)).contains("availability"));
    }

    #[test]
    fn every_line_of_an_explanation_is_indented() {
        let lines = vec![
            "verdict: not linearizable".to_string(),
            "witness:\n  p1 read 1\n  p2 write 4".to_string(),
        ];
        let plain = indented(None, &lines);
        assert_eq!(
            plain,
            [
                "    verdict: not linearizable",
                "    witness:",
                "      p1 read 1",
                "      p2 write 4"
            ]
        );
        let named = indented(Some("set"), &lines[1..]);
        assert_eq!(
            named,
            [
                "    set: witness:",
                "           p1 read 1",
                "           p2 write 4"
            ]
        );
    }
}
