//! `skeptic bench`: runs the bench, prints the table, and writes the
//! table, markdown, JSON and plots into STORE/bench/<timestamp>/. With
//! `--compare OLD.json` it also prints each figure's change.

use crate::cli::BenchArgs;
use anyhow::Context;
use harness::bench::figures::BenchJson;
use harness::bench::target::{data_root, ClusterPlan, TargetSpec};
use harness::bench::{self, plots, tables, BenchConfig};
use results::store::RunDir;
use std::path::Path;
use std::time::Duration;
use target_kv::server::FsyncArg;

/// Usage errors exit with this (as clap's do).
const EXIT_USAGE: u8 = 3;

fn read_json(path: &Path) -> anyhow::Result<BenchJson> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not a skeptic bench JSON document (expected {{\"results\": [...], \"machine\": {{...}}}})",
            path.display()
        )
    })
}

/// Runs the command.
pub fn run(args: &BenchArgs) -> anyhow::Result<u8> {
    if let (Some(old), Some(new)) = (&args.compare, &args.against) {
        print!("{}", tables::compare(&read_json(old)?, &read_json(new)?));
        return Ok(0);
    }
    let old = args.compare.as_deref().map(read_json).transpose()?;
    if args.fsync == FsyncArg::Never && !args.allow_unsafe {
        eprintln!(
            "skeptic bench: --fsync never loses acknowledged writes in a crash; \
             pass --unsafe to measure it anyway (it is labelled UNSAFE)"
        );
        return Ok(EXIT_USAGE);
    }
    let targets = if args.targets.is_empty() {
        TargetSpec::defaults()
    } else {
        args.targets.clone()
    };
    let fsync = match args.fsync {
        FsyncArg::Always => "always",
        FsyncArg::Batch => "batch",
        FsyncArg::Never => "never",
    };
    let dir = RunDir::create(&args.store, "bench").context("cannot create the bench directory")?;
    let program = std::env::current_exe().context("cannot find the skeptic binary")?;
    let cfg = BenchConfig {
        targets,
        mixes: args.mix.clone(),
        concurrency: args.concurrency.clone(),
        duration: Duration::from_secs_f64(args.duration),
        warmup: Duration::from_secs_f64(args.warmup),
        rounds: args.rounds as usize,
        leader_kill: args.scenario == "leader-kill",
        rate_sweep_p99_ms: args.rate_sweep.then_some(args.p99_max_ms),
        plan: ClusterPlan {
            nodes: args.nodes as usize,
            fsync: fsync.into(),
            program,
            data_root: data_root(&dir.path),
            logs_root: dir.logs_dir(),
        },
        op_timeout: Duration::from_secs(2),
    };
    let unsafe_label = if fsync == "never" {
        " UNSAFE (fsync never)"
    } else {
        ""
    };
    let names: Vec<String> = cfg.targets.iter().map(ToString::to_string).collect();
    println!(
        "skeptic bench{unsafe_label}: {} in {} rounds; mixes {}; concurrency {:?}; {} s per point after {} s warm-up; fsync {fsync}; writing to {}",
        names.join(", "),
        cfg.rounds,
        cfg.mixes.iter().map(|m| m.name()).collect::<Vec<_>>().join(","),
        cfg.concurrency,
        args.duration,
        args.warmup,
        dir.path.display(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let say = |line: &str| println!("{line}");
    let outcome = runtime.block_on(async {
        tokio::select! {
            o = bench::run(&cfg, &say) => Some(o),
            // Dropping the bench drops its clusters, which kills them.
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    let Some(outcome) = outcome else {
        eprintln!("skeptic bench: interrupted; every cluster was stopped");
        return Ok(130);
    };
    let mut json = outcome.json;
    if fsync == "never" {
        for r in &mut json.results {
            r.target = format!("{} UNSAFE", r.target);
        }
    }
    let table = tables::terminal(&json);
    println!("\n{table}");
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let value = serde_json::to_value(&json).context("serializing the results")?;
    dir.write_json("bench.json", &value)?;
    dir.write_file("bench.txt", table.as_bytes())?;
    dir.write_file("bench.md", tables::markdown_doc(&json, &command).as_bytes())?;
    match plots::all(&outcome.points, &outcome.scenarios) {
        Ok(files) => {
            for (name, svg) in files {
                dir.write_file(&name, svg.as_bytes())?;
            }
        }
        Err(e) => eprintln!("skeptic bench: plots not drawn: {e}"),
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_vec_pretty(&value).context("serializing the results")?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(old) = &old {
        println!(
            "\nAgainst {}:",
            args.compare
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string())
        );
        print!("{}", tables::compare(old, &json));
    }
    println!("Results: {}", dir.path.display());
    for (target, why) in &outcome.failed {
        eprintln!("skeptic bench: {target} was not measured: {why}");
    }
    Ok(if outcome.failed.is_empty() { 0 } else { 1 })
}
