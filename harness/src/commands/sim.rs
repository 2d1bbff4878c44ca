//! `skeptic sim`: runs seeds of the deterministic simulator, in parallel,
//! prints the rate and every failing seed, and writes each failure's
//! history, counterexample and event trace into the results store.

use crate::cli::SimArgs;
use anyhow::Context;
use harness::sim::{self, SeedOutcome, SimConfig};
use rayon::prelude::*;
use results::store::RunDir;
use std::time::Instant;
use target_kv::paxos::{Mode, ReadMode};
use target_kv::server::{ConsensusArg, ReadsArg};

/// The configuration the flags describe.
pub fn config(args: &SimArgs) -> SimConfig {
    let mode = match args.consensus {
        ConsensusArg::Multi => Mode::Multi,
        ConsensusArg::Basic => Mode::Basic,
    };
    let reads = match args.reads {
        ReadsArg::Log => ReadMode::Log,
        ReadsArg::Quorum => ReadMode::Quorum,
        ReadsArg::Lease => ReadMode::Lease,
        ReadsArg::Local => ReadMode::Local,
    };
    let mut c = SimConfig::new(mode, reads);
    c.nodes = args.nodes as usize;
    c.ops = args.ops;
    c.workload = args.workload;
    c.clients = args.clients.max(1);
    c.sessions = args.sessions;
    if let Some(f) = &args.faults {
        c.faults = f.0.clone();
    }
    c.plant = args.plant;
    c.aim = args.aim;
    c
}

/// The variant's name: `multi/log`, `basic/quorum+skip-phase1`.
pub fn variant_name(c: &SimConfig) -> String {
    let mode = match c.mode {
        Mode::Multi => "multi",
        Mode::Basic => "basic",
    };
    let reads = match c.reads {
        ReadMode::Log => "log",
        ReadMode::Quorum => "quorum",
        ReadMode::Lease => "lease",
        ReadMode::Local => "local",
    };
    match c.plant {
        Some(b) => format!("{mode}/{reads}+{b}"),
        None => format!("{mode}/{reads}"),
    }
}

/// Runs the command; the exit code is 0 when every seed passed, 1 if any failed.
pub fn run(args: &SimArgs) -> anyhow::Result<u8> {
    let cfg = config(args);
    let (from, to) = match (args.seed, args.seeds) {
        (Some(s), _) => (s, s + 1),
        (None, Some(r)) => r,
        (None, None) => (0, 100),
    };
    let variant = variant_name(&cfg);
    let faults: Vec<&str> = cfg.faults.iter().map(|f| f.name()).collect();
    if !args.json {
        println!(
            "skeptic sim: {variant} on {} nodes; {} {} operations by {} clients (sessions: {}); faults {}; seeds {from}..{to}",
            cfg.nodes,
            cfg.ops,
            cfg.workload,
            cfg.clients,
            cfg.sessions,
            if faults.is_empty() { "none".into() } else { faults.join(",") },
        );
    }
    if let (Some(path), Some(seed)) = (&args.trace, args.seed) {
        let traced = SimConfig {
            trace: true,
            ..cfg.clone()
        };
        let o = sim::run_seed(&traced, seed);
        std::fs::write(path, o.trace.as_deref().unwrap_or(""))
            .with_context(|| format!("cannot write {}", path.display()))?;
        let mut history = path.as_os_str().to_owned();
        history.push(".history.jsonl");
        std::fs::write(&history, sim::history_jsonl(&o.history)).with_context(|| {
            format!("cannot write {}", std::path::Path::new(&history).display())
        })?;
        println!(
            "seed {seed}: {} ({}); trace in {}",
            o.verdict.label(),
            o.headline(),
            path.display()
        );
        return Ok(u8::from(o.failed()));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()
        .context("cannot start the worker threads")?;
    let started = Instant::now();
    let outcomes: Vec<(u64, bool, String, u64)> = pool.install(|| {
        (from..to)
            .into_par_iter()
            .map(|seed| {
                let o = sim::run_seed(&cfg, seed);
                (seed, o.failed(), o.headline(), o.events)
            })
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let seeds = outcomes.len();
    let rate = seeds as f64 / elapsed.max(1e-9);
    let failed: Vec<u64> = outcomes.iter().filter(|o| o.1).map(|o| o.0).collect();
    let events: u64 = outcomes.iter().map(|o| o.3).sum();
    let mut store_dir = None;
    if !failed.is_empty() {
        let name = format!("sim-{}", variant.replace(['/', '+'], "-"));
        let dir = RunDir::create(&args.store, &name).with_context(|| {
            format!("cannot create a run directory in {}", args.store.display())
        })?;
        for &seed in &failed {
            write_failure(&dir, &cfg, &variant, seed)?;
        }
        store_dir = Some(dir.path);
    }
    if args.json {
        let json = serde_json::json!({
            "variant": variant,
            "seeds": seeds,
            "from": from,
            "to": to,
            "failed": failed,
            "seeds_per_s": rate,
            "threads": pool.current_num_threads(),
            "events": events,
            "elapsed_s": elapsed,
            "store": store_dir.as_ref().map(|p| p.display().to_string()),
        });
        println!("{json}");
    } else {
        for (seed, bad, headline, _) in &outcomes {
            if *bad {
                println!("  seed {seed}: FAILED: {headline}");
            }
        }
        println!(
            "{seeds} seeds, {} failed, {rate:.0} seeds/s on {} threads ({:.1} s, {events} events)",
            failed.len(),
            pool.current_num_threads(),
            elapsed
        );
        if let Some(p) = &store_dir {
            println!(
                "failures: {} (history, trace, counterexample per seed)",
                p.display()
            );
            println!(
                "rerun one: skeptic sim --seed {} {}",
                failed[0],
                rerun_flags(args)
            );
        }
    }
    Ok(u8::from(!failed.is_empty()))
}

/// The flags that make a rerun the same run.
fn rerun_flags(args: &SimArgs) -> String {
    let mut f = format!(
        "--consensus {} --reads {} --nodes {} --ops {} --workload {} --clients {} --sessions {}",
        clap::ValueEnum::to_possible_value(&args.consensus)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default(),
        clap::ValueEnum::to_possible_value(&args.reads)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default(),
        args.nodes,
        args.ops,
        args.workload,
        args.clients,
        args.sessions
    );
    if let Some(faults) = &args.faults {
        let names: Vec<&str> = faults.0.iter().map(|x| x.name()).collect();
        f.push_str(&format!(
            " --faults {}",
            if names.is_empty() {
                "none".into()
            } else {
                names.join(",")
            }
        ));
    }
    if let Some(b) = args.plant {
        f.push_str(&format!(" --plant {b}"));
    }
    f.push_str(&format!(" --aim {}", args.aim.name()));
    f
}

/// Runs a failing seed again with the trace on (the same run, byte for
/// byte) and writes what a person needs to see what went wrong.
fn write_failure(dir: &RunDir, cfg: &SimConfig, variant: &str, seed: u64) -> anyhow::Result<()> {
    let traced = SimConfig {
        trace: true,
        ..cfg.clone()
    };
    let o: SeedOutcome = sim::run_seed(&traced, seed);
    let base = format!("seed-{seed}");
    dir.write_file(
        &format!("{base}/history.jsonl"),
        &sim::history_jsonl(&o.history),
    )?;
    dir.write_file(
        &format!("{base}/trace.txt"),
        o.trace.as_deref().unwrap_or("").as_bytes(),
    )?;
    let title = format!("skeptic sim {variant} seed {seed}: {}", o.verdict.label());
    let mut summary = format!("{title}\n{}\n", o.headline());
    for c in &o.checkers {
        summary.push_str(&format!("{} checker: {}\n", c.name, c.verdict.label()));
        for l in &c.lines {
            for line in l.lines() {
                summary.push_str(&format!("  {line}\n"));
            }
        }
    }
    dir.write_file(&format!("{base}/summary.txt"), summary.as_bytes())?;
    if let Some((text, page)) = sim::counterexample(&o, &title) {
        dir.write_file(&format!("{base}/counterexample.txt"), text.as_bytes())?;
        dir.write_file(&format!("{base}/linearizability.html"), page.as_bytes())?;
    }
    Ok(())
}
