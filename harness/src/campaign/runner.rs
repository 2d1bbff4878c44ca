//! Runs a campaign's runs as `skeptic test` and `skeptic sim` processes,
//! a bounded number at once, each with its own store directory (and so its
//! own run directory; each cluster picks its own loopback host), each
//! bounded in time, and reads what each one wrote.

use super::spec::{Expect, Kind, Run};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How a run ended, against what it had to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// It showed what it had to (valid, or caught).
    Pass,
    /// A correct variant was not linearizable.
    Anomaly,
    /// A variant that had to be caught passed: the checker lost its teeth.
    NotCaught,
    /// The checker could not decide.
    Unknown,
    /// The harness itself crashed (a panic, or killed by a signal it did
    /// not get from the campaign); whatever history it recorded is kept.
    Crashed,
    /// It timed out or could not start.
    Error,
    /// The budget ran out before it started.
    NotRun,
}

impl Outcome {
    /// Whether the campaign fails for it (with `strict`: also for unknown
    /// verdicts and errors).
    pub fn fails(self, strict: bool) -> bool {
        match self {
            Outcome::Anomaly | Outcome::NotCaught => true,
            Outcome::Unknown | Outcome::Crashed | Outcome::Error => strict,
            Outcome::Pass | Outcome::NotRun => false,
        }
    }

    /// Its word in summaries.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Anomaly => "ANOMALY",
            Outcome::NotCaught => "NOT CAUGHT",
            Outcome::Unknown => "unknown",
            Outcome::Crashed => "crashed",
            Outcome::Error => "error",
            Outcome::NotRun => "not run",
        }
    }
}

/// What one run gave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The run.
    pub run: Run,
    /// Against what it had to show.
    pub outcome: Outcome,
    /// Its exit status (`None`: killed, or never started).
    pub exit_code: Option<i32>,
    /// Wall time, s.
    pub seconds: f64,
    /// One line: what happened.
    pub message: String,
    /// The command that reruns it with the same seed and configuration.
    pub rerun: String,
    /// Its report or results directory, if it wrote one.
    pub report: Option<String>,
    /// Successful operations per second (tests).
    pub ok_per_s: Option<f64>,
    /// p99 latency in ms (tests).
    pub p99_ms: Option<f64>,
}

impl RunResult {
    /// A run that never got to run (`outcome` says why: not started, or
    /// the budget was spent).
    fn unstarted(run: &Run, outcome: Outcome, message: String, rerun: String) -> RunResult {
        RunResult {
            run: run.clone(),
            outcome,
            exit_code: None,
            seconds: 0.0,
            message,
            rerun,
            report: None,
            ok_per_s: None,
            p99_ms: None,
        }
    }
}

/// A command line as a shell takes it.
fn shell_line(argv: &[String]) -> String {
    argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

/// Single quotes for a shell, where needed.
fn quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./,=:+".contains(c))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The full command line of a run.
pub fn command_line(program: &Path, run: &Run, store: &Path) -> Vec<String> {
    let sub = match run.kind {
        Kind::Test => "test",
        Kind::Sim => "sim",
    };
    let mut v = vec![program.display().to_string(), sub.to_string()];
    v.extend(run.args.iter().cloned());
    v.extend(["--store".to_string(), store.display().to_string()]);
    v
}

/// What an exit status means, for what the run had to show.
pub fn judge(kind: Kind, expect: Expect, code: Option<i32>) -> Outcome {
    match (code, expect) {
        (Some(0), Expect::Valid) => Outcome::Pass,
        (Some(0), Expect::Caught) => Outcome::NotCaught,
        (Some(1), Expect::Valid) => Outcome::Anomaly,
        (Some(1), Expect::Caught) => Outcome::Pass,
        // `skeptic test`: 2 is an unknown verdict; `skeptic sim` has none.
        (Some(2), _) if kind == Kind::Test => Outcome::Unknown,
        // Rust's exit status after a panic.
        (Some(101), _) => Outcome::Crashed,
        _ => Outcome::Error,
    }
}

/// How long a run may take before it is killed: its time limit, the
/// cluster's start and recovery, and the check.
fn deadline_for(run: &Run, time_limit_s: f64) -> Duration {
    match run.kind {
        Kind::Test => Duration::from_secs_f64(time_limit_s * 2.0 + 180.0),
        Kind::Sim => Duration::from_secs(1_800),
    }
}

/// Runs one run to its end (or its deadline) and reads its results.
fn run_one(program: &Path, run: &Run, dir: &Path, time_limit_s: f64) -> RunResult {
    let store = dir.join(&run.id);
    let argv = command_line(program, run, &store);
    let rerun = shell_line(&argv);
    let started = Instant::now();
    let log_path = dir.join(format!("{}.log", run.id));
    let spawned = std::fs::File::create(&log_path).and_then(|log| {
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        crate::db::process::spawn_tied(cmd)
    });
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let message = format!("could not start: {e}");
            return RunResult::unstarted(run, Outcome::Error, message, rerun);
        }
    };
    let deadline = started + deadline_for(run, time_limit_s);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() >= deadline => {
                // SIGKILL: its own children die with it (they are tied).
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(_) => break None,
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let code = status.and_then(|s| s.code());
    let outcome = match status {
        // Killed by a signal the campaign did not send.
        Some(s) if s.code().is_none() => Outcome::Crashed,
        _ => judge(run.kind, run.expect, code),
    };
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let (mut message, report, ok_per_s, p99_ms) = read_results(run, &store, &log, status.is_none());
    if outcome == Outcome::Crashed {
        message = crash_message(run, &store, status, &log);
    }
    RunResult {
        run: run.clone(),
        outcome,
        exit_code: code,
        seconds,
        message,
        rerun,
        report,
        ok_per_s,
        p99_ms,
    }
}

/// What a crashed run left: how it died and the history it kept (every
/// whole line recorded before the crash, which `skeptic check` reads).
fn crash_message(
    run: &Run,
    store: &Path,
    status: Option<std::process::ExitStatus>,
    log: &str,
) -> String {
    use std::os::unix::process::ExitStatusExt;
    let how = match status.and_then(|s| s.signal()) {
        Some(sig) => format!("killed by signal {sig}"),
        None => {
            let panic = log
                .lines()
                .find(|l| l.contains("panicked at"))
                .map(|l| format!(": {}", l.trim()))
                .unwrap_or_default();
            format!("the harness panicked{panic}")
        }
    };
    let history = store.join("latest").join("history.jsonl");
    match (run.kind, std::fs::read(&history)) {
        (Kind::Test, Ok(bytes)) => {
            let records = bytes.iter().filter(|b| **b == b'\n').count();
            format!(
                "crashed ({how}); it kept {records} history records in {}",
                history.display()
            )
        }
        _ => format!("crashed ({how})"),
    }
}

/// The run's one-line message, report path, throughput and p99, from what
/// it wrote (its results file, or its output).
fn read_results(
    run: &Run,
    store: &Path,
    log: &str,
    killed: bool,
) -> (String, Option<String>, Option<f64>, Option<f64>) {
    if killed {
        return ("killed at its deadline".into(), None, None, None);
    }
    let last_line = || {
        log.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .to_string()
    };
    match run.kind {
        Kind::Test => {
            let dir = store.join("latest");
            let results: Option<serde_json::Value> =
                std::fs::read_to_string(dir.join("results.json"))
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok());
            let Some(r) = results else {
                return (last_line(), None, None, None);
            };
            let verdict = r["verdict"].as_str().unwrap_or("?").to_string();
            let bad: Vec<String> = r["checkers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["valid"] != "valid")
                .map(|c| {
                    format!(
                        "{}: {}",
                        c["checker"].as_str().unwrap_or("?"),
                        c["verdict"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            let message = if bad.is_empty() {
                verdict
            } else {
                format!("{verdict}: {}", bad.join("; "))
            };
            let report = std::fs::canonicalize(dir.join("report.html"))
                .ok()
                .map(|p| p.display().to_string());
            let stats = &r["stats"];
            (
                message,
                report,
                stats["ok_per_s"].as_f64(),
                stats["latency_us_p99"].as_f64().map(|us| us / 1000.0),
            )
        }
        Kind::Sim => {
            // Its summary line, and where failing seeds were written.
            let summary = log
                .lines()
                .rev()
                .find(|l| l.contains(" seeds, "))
                .map(str::trim)
                .map(str::to_string)
                .unwrap_or_else(last_line);
            let report = std::fs::read_dir(store)
                .ok()
                .and_then(|mut d| d.next())
                .and_then(|e| e.ok())
                .map(|e| e.path().display().to_string());
            (summary, report, None, None)
        }
    }
}

/// Runs `runs`, `jobs` at once, starting none after `budget`; results in
/// the runs' order. `progress` hears of each run as it ends.
pub fn run_all(
    program: &Path,
    runs: &[Run],
    dir: &Path,
    time_limit_s: f64,
    jobs: usize,
    budget: Option<Duration>,
    progress: &(dyn Fn(&RunResult) + Sync),
) -> Vec<RunResult> {
    let started = Instant::now();
    let next = Arc::new(Mutex::new(0usize));
    let results: Arc<Mutex<Vec<Option<RunResult>>>> = Arc::new(Mutex::new(vec![None; runs.len()]));
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            let (next, results) = (next.clone(), results.clone());
            scope.spawn(move || loop {
                let i = {
                    let mut n = next.lock().unwrap_or_else(|e| e.into_inner());
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(run) = runs.get(i) else { break };
                let over = budget.is_some_and(|b| started.elapsed() >= b);
                let result = if over {
                    RunResult::unstarted(
                        run,
                        Outcome::NotRun,
                        "the campaign's budget ran out first".into(),
                        shell_line(&command_line(program, run, &dir.join(&run.id))),
                    )
                } else {
                    run_one(program, run, dir, time_limit_s)
                };
                progress(&result);
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
            });
        }
    });
    let results = std::mem::take(&mut *results.lock().unwrap_or_else(|e| e.into_inner()));
    results.into_iter().flatten().collect()
}

/// Where a campaign's per-run stores go.
pub fn runs_dir(campaign_dir: &Path) -> PathBuf {
    campaign_dir.join("runs")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_are_judged_against_the_expectation() {
        use Expect::*;
        assert_eq!(judge(Kind::Test, Valid, Some(0)), Outcome::Pass);
        assert_eq!(judge(Kind::Test, Valid, Some(1)), Outcome::Anomaly);
        assert_eq!(judge(Kind::Test, Caught, Some(1)), Outcome::Pass);
        assert_eq!(judge(Kind::Test, Caught, Some(0)), Outcome::NotCaught);
        assert_eq!(judge(Kind::Test, Valid, Some(2)), Outcome::Unknown);
        assert_eq!(judge(Kind::Sim, Valid, Some(2)), Outcome::Error);
        assert_eq!(judge(Kind::Test, Valid, Some(3)), Outcome::Error);
        assert_eq!(judge(Kind::Test, Caught, None), Outcome::Error);
        assert_eq!(judge(Kind::Test, Valid, Some(101)), Outcome::Crashed);
        assert!(!Outcome::Crashed.fails(false) && Outcome::Crashed.fails(true));
        assert!(Outcome::NotCaught.fails(false) && Outcome::Anomaly.fails(false));
        assert!(!Outcome::Unknown.fails(false) && Outcome::Unknown.fails(true));
        assert!(!Outcome::NotRun.fails(true));
    }

    #[test]
    fn rerun_commands_quote_what_a_shell_would_split() {
        assert_eq!(quote("--nemesis"), "--nemesis");
        assert_eq!(quote("partition,kill"), "partition,kill");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
