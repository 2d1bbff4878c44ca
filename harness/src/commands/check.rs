//! `skeptic check`: load each history, check it, and say what was found in
//! words (or JSON), optionally with an HTML page per history.

use crate::cli::CheckArgs;
use anyhow::Context;
use checker::model::ModelConfig;
use checker::report::text;
use checker::{check_history, format, CheckOptions, CheckReport, Value, Verdict};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use workloads::{CheckerVerdict, WorkloadKind, WorkloadOptions};

/// Prints a line to standard output, passing write errors (a closed pipe)
/// up to the caller instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*)?
    };
}

/// What one file came to: a report, or an error that makes it bad input.
enum FileOutcome {
    Checked(Box<CheckReport>),
    /// The verdict of a stored run's own checkers, as an exit code.
    Judged(u8),
    BadInput,
}

/// Checks every file; the exit code is the worst outcome: bad input (3),
/// else not linearizable (1), else unknown (2), else 0.
pub fn run(args: &CheckArgs) -> anyhow::Result<u8> {
    if let Some(t) = args.timeout {
        anyhow::ensure!(
            t.is_finite() && t > 0.0,
            "--timeout takes a positive number of seconds"
        );
    }
    let options = CheckOptions {
        model: args.model,
        config: ModelConfig {
            init: args.init.as_deref().map(Value::parse_loose),
            nil_reads_unknown: args.nil_reads_unknown,
        },
        timeout: args.timeout.map(Duration::from_secs_f64),
        memory_bytes_max: args.memory_limit_mib.saturating_mul(1 << 20),
        full_report: args.all,
    };
    if args.files.len() > 1 {
        if let Some(dir) = &args.html {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    let mut outcomes = Vec::with_capacity(args.files.len());
    for given in &args.files {
        let path = history_path(given);
        // A stored run says which workload made it: unless a model was
        // given, the history is judged by that workload's own checkers.
        match stored_workload(given).filter(|_| args.model.is_none()) {
            Some(kind) => outcomes.push(check_run(&path, kind, args, &options)?),
            None => outcomes.push(check_file(&path, args, &options)?),
        }
    }
    let mut counts = [0usize; 4];
    for o in &outcomes {
        match o {
            FileOutcome::Checked(r) => counts[r.verdict.exit_code() as usize] += 1,
            FileOutcome::Judged(code) => counts[usize::from(*code).min(2)] += 1,
            FileOutcome::BadInput => counts[3] += 1,
        }
    }
    if args.files.len() > 1 && !args.json {
        outln!(
            "{} files: {} linearizable, {} not linearizable, {} unknown, {} unreadable",
            args.files.len(),
            counts[0],
            counts[1],
            counts[2],
            counts[3]
        );
    }
    Ok(if counts[3] > 0 {
        3
    } else if counts[1] > 0 {
        1
    } else if counts[2] > 0 {
        2
    } else {
        0
    })
}

/// The workload a run directory's `test.json` names, if it is one.
fn stored_workload(given: &Path) -> Option<WorkloadKind> {
    let bytes = std::fs::read(given.join("test.json")).ok()?;
    let test = serde_json::from_slice::<serde_json::Value>(&bytes).ok()?;
    test["workload"].as_str()?.parse().ok()
}

/// Judges a stored run's history with its workload's checkers, as the
/// run itself did; a linearizability report is shown in full.
fn check_run(
    path: &Path,
    kind: WorkloadKind,
    args: &CheckArgs,
    options: &CheckOptions,
) -> anyhow::Result<FileOutcome> {
    let Some(history) = load(path, args) else {
        return Ok(FileOutcome::BadInput);
    };
    let workload = workloads::make(kind, &WorkloadOptions::default());
    let mut worst = CheckerVerdict::Valid;
    for result in workload.check(&history, options) {
        worst = worst.worst(result.verdict);
        match result.report {
            Some(report) => show_report(path, args, &report)?,
            None if args.json => outln!("{}", serde_json::to_string(&result.json)?),
            None => {
                outln!(
                    "{}: {} ({} checker)",
                    path.display(),
                    result.verdict.label().to_uppercase(),
                    result.name
                );
                for line in &result.lines {
                    outln!("  {line}");
                }
            }
        }
    }
    std::mem::forget(history);
    Ok(FileOutcome::Judged(worst.exit_code()))
}

/// Loads a history, saying why when it cannot (bad input).
fn load(path: &Path, args: &CheckArgs) -> Option<checker::History> {
    match format::load(path, args.format) {
        Ok(h) => Some(h),
        Err(e) => {
            eprintln!("skeptic: {e}");
            None
        }
    }
}

/// A run directory stands for the history it holds.
fn history_path(given: &Path) -> PathBuf {
    if given.is_dir() {
        given.join("history.jsonl")
    } else {
        given.to_path_buf()
    }
}

fn check_file(
    path: &Path,
    args: &CheckArgs,
    options: &CheckOptions,
) -> anyhow::Result<FileOutcome> {
    let Some(history) = load(path, args) else {
        return Ok(FileOutcome::BadInput);
    };
    let report = match check_history(&history, options) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("skeptic: {}:{e}", path.display());
            return Ok(FileOutcome::BadInput);
        }
    };
    show_report(path, args, &report)?;
    // A million-operation history takes a while to free, and the process
    // is about to exit: leave it to the operating system.
    std::mem::forget(history);
    Ok(FileOutcome::Checked(Box::new(report)))
}

/// Prints a linearizability report (text or JSON) and writes its page when
/// `--html` asks for one.
fn show_report(path: &Path, args: &CheckArgs, report: &CheckReport) -> anyhow::Result<()> {
    let shown = path.display().to_string();
    if args.json {
        outln!("{}", serde_json::to_string(&json_form(&shown, report))?);
    } else {
        outln!("{}", summary_line(&shown, report));
        match &report.verdict {
            Verdict::NotLinearizable { witnesses } => {
                for w in witnesses {
                    outln!("{}", text::witness(w));
                }
            }
            Verdict::Unknown { reason } => outln!("  {reason}"),
            Verdict::Linearizable => {}
        }
    }
    if let Some(out) = &args.html {
        let page_path = if args.files.len() > 1 {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            out.join(format!("{}.html", stem.unwrap_or_else(|| "history".into())))
        } else {
            out.clone()
        };
        let witnesses = match &report.verdict {
            Verdict::NotLinearizable { witnesses } => witnesses.as_slice(),
            _ => &[],
        };
        let page = results::counterexample::page(&shown, &summary_lines(report), witnesses);
        std::fs::write(&page_path, page)
            .with_context(|| format!("cannot write {}", page_path.display()))?;
        if !args.json {
            outln!("  report: {}", page_path.display());
        }
    }
    Ok(())
}

fn summary_line(file: &str, r: &CheckReport) -> String {
    format!(
        "{file}: {} (model {}; {} ops, {} info, {} failed; {} part{}; {:.1} ms)",
        r.verdict.label().to_uppercase(),
        r.model,
        r.ops,
        r.info_ops,
        r.failed_ops,
        r.parts,
        if r.parts == 1 { "" } else { "s" },
        r.elapsed.as_secs_f64() * 1e3
    )
}

fn summary_lines(r: &CheckReport) -> Vec<String> {
    vec![
        format!("Verdict: {}", r.verdict.label()),
        format!("Model: {}", r.model),
        format!(
            "Operations: {} ({} indeterminate, {} failed and left out), in {} independent part(s)",
            r.ops, r.info_ops, r.failed_ops, r.parts
        ),
        format!(
            "Search: {:.1} ms, {} model steps, {} configurations memoised, {} backtracks",
            r.elapsed.as_secs_f64() * 1e3,
            r.stats.steps,
            r.stats.configurations,
            r.stats.backtracks
        ),
    ]
}

fn json_form(file: &str, r: &CheckReport) -> serde_json::Value {
    let mut v = serde_json::json!({
        "file": file,
        "model": r.model.name(),
        "ops": r.ops,
        "info_ops": r.info_ops,
        "failed_ops": r.failed_ops,
        "parts": r.parts,
        "elapsed_ms": r.elapsed.as_secs_f64() * 1e3,
        "steps": r.stats.steps,
        "configurations": r.stats.configurations,
        "exit_code": r.verdict.exit_code(),
    });
    if let (Some(obj), Ok(serde_json::Value::Object(verdict))) =
        (v.as_object_mut(), serde_json::to_value(&r.verdict))
    {
        obj.extend(verdict);
    }
    v
}
