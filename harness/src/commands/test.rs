//! `skeptic test`: turns flags into a [`TestConfig`], runs it with Ctrl-C
//! wired to a clean stop, and prints what happened.

use crate::cli::{ProtocolArg, TargetArg, TestArgs};
use harness::config::{Target, TestConfig};
use harness::db::Protocol;
use harness::nemesis::plan::Aim;
use harness::run::{self, Programs, RunError};
use std::io::Write;
use target_kv::server::arg_name;
use tokio::sync::watch;

/// The configuration the flags describe.
pub fn config(args: &TestArgs) -> TestConfig {
    let mut c = TestConfig {
        target: match args.target {
            TargetArg::Bundled => Target::Bundled,
            TargetArg::Etcd => Target::Etcd,
            TargetArg::External => Target::External,
        },
        nodes: args.nodes,
        consensus: args.variant.consensus,
        reads: args.variant.reads,
        fsync: args.variant.fsync,
        workload: args.workload,
        nemesis: args.nemesis.0.clone(),
        nemesis_interval_s: args.nemesis_interval,
        nemesis_targets: args.nemesis_targets,
        time_limit_s: args.time_limit,
        concurrency: args.concurrency,
        rate: args.rate,
        keys: args.keys,
        // A fresh seed each run unless given; it is printed and stored, so
        // any run can be repeated.
        seed: args.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64 % 1_000_000)
                .unwrap_or(1)
        }),
        store: args.store.clone(),
        op_timeout_ms: args.op_timeout,
        recovery_timeout_s: args.recovery_timeout,
        addresses: args.addresses.clone(),
        protocol: match args.protocol {
            ProtocolArg::Skeptic => Protocol::Skeptic,
            ProtocolArg::Etcd => Protocol::Etcd,
        },
        node_args: args.node_arg.clone(),
        check_timeout_s: args.check_timeout,
        net: args.net,
        packet: args.packet.clone(),
        monotonic_offsets: args.monotonic_offsets,
        ..TestConfig::default()
    };
    if c.target == Target::External {
        c.nodes = c.addresses.len();
    }
    c.name = args.name.clone().unwrap_or_else(|| c.default_name());
    c
}

/// A stored run's configuration (`test.json`, or the directory holding it).
fn stored_config(path: &std::path::Path) -> Result<TestConfig, String> {
    let file = if path.is_dir() {
        path.join("test.json")
    } else {
        path.to_path_buf()
    };
    let bytes = std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("{} is not a test configuration: {e}", file.display()))
}

fn describe(c: &TestConfig) -> String {
    let target = match c.target {
        Target::Bundled => format!(
            "{} bundled nodes ({}, {} reads, fsync {})",
            c.nodes,
            arg_name(c.consensus),
            arg_name(c.reads),
            arg_name(c.fsync)
        ),
        Target::Etcd => format!("{} etcd members", c.nodes),
        Target::External => format!("external cluster {}", c.addresses.join(",")),
    };
    let nemesis = if c.nemesis.is_empty() {
        "no faults".to_string()
    } else {
        let kinds: Vec<&str> = c.nemesis.iter().map(|k| k.name()).collect();
        let aim = match c.nemesis_targets {
            Aim::Random => "",
            Aim::Leader => " at the leader",
        };
        format!("{}{aim} every {} s", kinds.join(","), c.nemesis_interval_s)
    };
    let load = match c.rate {
        Some(r) => format!("{r} ops/s offered"),
        None => "closed loop".into(),
    };
    format!(
        "{} on {target}; {} clients ({load}) for {} s; {nemesis}; seed {}",
        c.workload, c.concurrency, c.time_limit_s, c.seed
    )
}

/// Runs the test; the exit code is the verdict's.
pub fn run(args: &TestArgs) -> anyhow::Result<u8> {
    let config = match &args.rerun {
        Some(path) => match stored_config(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("skeptic test: --rerun {}: {e}", path.display());
                return Ok(3);
            }
        },
        None => config(args),
    };
    if let Err(e) = config.validate() {
        eprintln!("skeptic test: {e}");
        return Ok(3);
    }
    let programs = Programs {
        bundled_node: std::env::current_exe()
            .map_err(|e| anyhow::anyhow!("cannot find this program's path: {e}"))?,
    };
    println!("skeptic test: {}", describe(&config));
    match config.resolved_net() {
        Ok((net, None)) => println!("skeptic test: network {}", net.as_str()),
        Ok((net, Some(why))) => println!("skeptic test: network {} ({why})", net.as_str()),
        // Refused in the run, before anything starts.
        Err(_) => {}
    }
    std::io::stdout().flush()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            target_kv::server::shutdown_signal().await;
            eprintln!("\nskeptic test: interrupted; undoing faults and stopping the cluster");
            let _ = tx.send(true);
        });
        run::run(&config, &programs, rx).await
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    let outcome = match outcome {
        Ok(o) => o,
        Err(e @ (RunError::Config(_) | RunError::Setup(_))) => {
            eprintln!("skeptic test: {e}");
            return Ok(3);
        }
        Err(e) => return Err(e.into()),
    };
    println!("{}", outcome.summary.trim_end());
    // Each checker's own lines, indented under the verdict rows; named
    // only when there is more than one checker to tell apart.
    let named = outcome.checkers.len() > 1;
    for c in &outcome.checkers {
        let name = named.then_some(c.name.as_str());
        for line in harness::summary::indented(name, &c.lines) {
            println!("{line}");
        }
    }
    let verdict = match outcome.verdict {
        Some(v) => v.label().to_uppercase(),
        None => "INTERRUPTED".into(),
    };
    println!(
        "{verdict}: {} records in {}",
        outcome.records,
        outcome.dir.display()
    );
    println!("report: {}", outcome.dir.join("report.html").display());
    Ok(outcome.exit_code())
}
