//! `skeptic bench`: measures several targets in one run, on one machine,
//! with one load generator, interleaved in rounds (A B C, A B C, ...) so
//! that the machine's drift hits every target alike. Each target gets a
//! fresh cluster per round, its data on the same disk. Figures are medians
//! over rounds with their range.

pub mod cpu;
pub mod figures;
pub mod load;
pub mod plots;
pub mod tables;
pub mod target;

use figures::{BenchJson, Point, ScenarioRun, SweepRow};
use load::{ClosedLoop, Mix};
use std::sync::Arc;
use std::time::Duration;
use target::{Cluster, ClusterPlan, TargetSpec};
use workloads::store::KvClient;

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// The targets, in the order each round runs them.
    pub targets: Vec<TargetSpec>,
    /// Mixes.
    pub mixes: Vec<Mix>,
    /// Closed-loop concurrencies.
    pub concurrency: Vec<usize>,
    /// The measured interval of each point.
    pub duration: Duration,
    /// The warm-up before each point.
    pub warmup: Duration,
    /// Rounds.
    pub rounds: usize,
    /// Run the leader-kill scenario.
    pub leader_kill: bool,
    /// Run an open-loop sweep for the highest rate with p99 under this.
    pub rate_sweep_p99_ms: Option<f64>,
    /// How to start clusters.
    pub plan: ClusterPlan,
    /// A client's per-call timeout.
    pub op_timeout: Duration,
}

/// Concurrency of the leader-kill scenario.
pub const KILL_CONCURRENCY: usize = 8;

/// What a bench run gave.
pub struct BenchOutcome {
    /// The JSON document.
    pub json: BenchJson,
    /// Every point of every round (for the plots).
    pub points: Vec<Point>,
    /// Every scenario round.
    pub scenarios: Vec<ScenarioRun>,
    /// Targets that could not be measured, with why.
    pub failed: Vec<(String, String)>,
}

/// Progress lines go to this.
pub type Say<'a> = &'a (dyn Fn(&str) + Sync);

/// Runs the whole bench: every round, every target in turn.
pub async fn run(cfg: &BenchConfig, say: Say<'_>) -> BenchOutcome {
    let mut points = Vec::new();
    let mut scenarios = Vec::new();
    let mut sweeps: Vec<SweepRow> = Vec::new();
    let mut failed = Vec::new();
    for round in 0..cfg.rounds {
        for target in &cfg.targets {
            let name = target.to_string();
            if failed.iter().any(|(t, _)| *t == name) {
                continue;
            }
            say(&format!("round {}/{}: {name}", round + 1, cfg.rounds));
            match measure_target(cfg, target, round, say).await {
                Ok((p, s, sw)) => {
                    points.extend(p);
                    scenarios.extend(s);
                    if round == 0 {
                        sweeps.extend(sw);
                    }
                }
                Err(e) => {
                    say(&format!("{name}: {e}"));
                    failed.push((name, e));
                }
            }
        }
    }
    let own = |t: &str| {
        cfg.targets
            .iter()
            .any(|s| s.to_string() == t && s.is_local())
    };
    let json = BenchJson {
        results: figures::rows(&points, &own),
        scenarios: figures::scenario_rows(&scenarios),
        rate_sweeps: sweeps,
        machine: machine(),
        config: serde_json::json!({
            "targets": cfg.targets.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "mixes": cfg.mixes.iter().map(|m| m.name()).collect::<Vec<_>>(),
            "concurrency": cfg.concurrency,
            "duration_s": cfg.duration.as_secs_f64(),
            "warmup_s": cfg.warmup.as_secs_f64(),
            "rounds": cfg.rounds,
            "fsync": cfg.plan.fsync,
            "unsafe": cfg.plan.fsync == "never",
            "nodes": cfg.plan.nodes,
            "failed": failed.iter().map(|(t, e)| serde_json::json!({"target": t, "error": e})).collect::<Vec<_>>(),
        }),
    };
    BenchOutcome {
        json,
        points,
        scenarios,
        failed,
    }
}

type TargetFigures = (Vec<Point>, Vec<ScenarioRun>, Vec<SweepRow>);

/// One round of one target: a fresh cluster, every point, the scenario.
async fn measure_target(
    cfg: &BenchConfig,
    target: &TargetSpec,
    round: usize,
    say: Say<'_>,
) -> Result<TargetFigures, String> {
    let name = target.to_string();
    let mut cluster =
        Cluster::start(target, &cfg.plan, &target::cluster_name(target, round)).await?;
    let mut points = Vec::new();
    for &mix in &cfg.mixes {
        for &c in &cfg.concurrency {
            let p = measure_point(cfg, &mut cluster, &name, mix, c).await?;
            say(&format!(
                "  {name} {} c={c}: {:.0} ops/s, p50 {:.2} ms, p99 {:.2} ms",
                mix.name(),
                p.throughput(),
                p.measured.latency_us.value_at_quantile(0.5) as f64 / 1000.0,
                p.measured.latency_us.value_at_quantile(0.99) as f64 / 1000.0,
            ));
            points.push(p);
        }
    }
    let mut sweeps = Vec::new();
    if let (Some(bound), 0) = (cfg.rate_sweep_p99_ms, round) {
        for &mix in &cfg.mixes {
            sweeps.push(rate_sweep(cfg, &cluster, &name, mix, bound, say).await?);
        }
    }
    let mut scenarios = Vec::new();
    if cfg.leader_kill && cluster.can_kill() {
        let s = leader_kill(cfg, &mut cluster, &name).await?;
        say(&format!(
            "  {name} leader-kill: unavailable {:.0} ms, back to 90% after {}",
            s.unavailable_ms(),
            s.recovered_ms()
                .map_or("never".into(), |r| format!("{r:.0} ms"))
        ));
        scenarios.push(s);
    }
    cluster.teardown();
    Ok((points, scenarios, sweeps))
}

/// `count` workers' clients: each has one client per node, its first the
/// cluster's first node (the leader), so that every worker holds its own
/// connection and fails over in node order.
fn worker_clients(
    cluster: &Cluster,
    count: usize,
    timeout: Duration,
) -> Result<Vec<Vec<Arc<dyn KvClient>>>, String> {
    let n = cluster.nodes();
    (0..count)
        .map(|_| {
            let mut c = cluster.clients(timeout)?;
            c.rotate_left(cluster.first % n.max(1));
            Ok(c)
        })
        .collect()
}

async fn measure_point(
    cfg: &BenchConfig,
    cluster: &mut Cluster,
    name: &str,
    mix: Mix,
    concurrency: usize,
) -> Result<Point, String> {
    let workers = worker_clients(cluster, concurrency, cfg.op_timeout)?;
    let pids = cluster.pids();
    let load = ClosedLoop {
        workers,
        mix,
        warmup: cfg.warmup,
        duration: cfg.duration,
        keep_times: false,
    };
    // CPU is read at the measured interval's edges, by a task that sleeps
    // until each edge: the load itself decides nothing from it.
    let edges = {
        let pids = pids.clone();
        let (warmup, duration) = (cfg.warmup, cfg.duration);
        tokio::spawn(async move {
            tokio::time::sleep(warmup).await;
            let start = (cpu::processes_cpu_s(&pids), cpu::self_cpu_s());
            tokio::time::sleep(duration).await;
            let end = (cpu::processes_cpu_s(&pids), cpu::self_cpu_s());
            (end.0 - start.0, end.1 - start.1)
        })
    };
    let (measured, _) = load.run().await;
    let (target_cpu_s, loadgen_cpu_s) = edges.await.unwrap_or((0.0, 0.0));
    Ok(Point {
        target: name.to_string(),
        mix,
        concurrency,
        measured,
        duration_s: cfg.duration.as_secs_f64(),
        target_cpu_s,
        loadgen_cpu_s,
    })
}

/// Writes at [`KILL_CONCURRENCY`]; the leader is killed a third of the way
/// into the measured interval, which is at least 6 s long.
async fn leader_kill(
    cfg: &BenchConfig,
    cluster: &mut Cluster,
    name: &str,
) -> Result<ScenarioRun, String> {
    let duration = cfg.duration.max(Duration::from_secs(6));
    let kill_after = duration / 3;
    let workers = worker_clients(cluster, KILL_CONCURRENCY, cfg.op_timeout)?;
    let load = ClosedLoop {
        workers,
        mix: Mix::Write,
        warmup: cfg.warmup,
        duration,
        keep_times: true,
    };
    let running = tokio::spawn(load.run());
    // The kill happens at a set time into the interval, as a fault
    // schedule does; the load neither waits for it nor is told.
    tokio::time::sleep(cfg.warmup + kill_after).await;
    let leader = cluster.find_leader().await.unwrap_or(cluster.first);
    cluster.kill(leader)?;
    let (measured, _) = running.await.map_err(|e| format!("load task: {e}"))?;
    Ok(ScenarioRun {
        target: name.to_string(),
        measured,
        kill_at_ms: kill_after.as_secs_f64() * 1000.0,
        duration_ms: duration.as_secs_f64() * 1000.0,
    })
}

/// Open loop at rising rates (doubling from 250/s, then halving the step
/// between the last good and first bad rate twice) until p99 passes the
/// bound; at most 12 rates, each for the point duration.
async fn rate_sweep(
    cfg: &BenchConfig,
    cluster: &Cluster,
    name: &str,
    mix: Mix,
    p99_max_ms: f64,
    say: Say<'_>,
) -> Result<SweepRow, String> {
    let clients: Vec<Arc<dyn KvClient>> = worker_clients(cluster, 64, cfg.op_timeout)?
        .into_iter()
        .filter_map(|c| c.into_iter().next())
        .collect();
    let mut tried = Vec::new();
    let (mut good, mut bad): (Option<f64>, Option<f64>) = (None, None);
    let mut rate = 250.0;
    for _ in 0..12 {
        let m = load::open_loop(&clients, mix, rate, cfg.duration).await;
        let p99 = m.latency_us.value_at_quantile(0.99) as f64 / 1000.0;
        let achieved = m.ok as f64 / cfg.duration.as_secs_f64();
        let errors: u64 = m.errors.values().sum();
        tried.push((rate, achieved, p99));
        say(&format!(
            "  {name} {} open loop {rate:.0}/s: {achieved:.0} ok/s, p99 {p99:.2} ms",
            mix.name()
        ));
        let ok = p99 <= p99_max_ms && errors as f64 <= 0.01 * (rate * cfg.duration.as_secs_f64());
        if ok {
            good = Some(rate);
        } else {
            bad = Some(rate);
        }
        rate = match (good, bad) {
            (Some(g), Some(b)) if (b - g) / g < 0.15 => break,
            (Some(g), Some(b)) => (g + b) / 2.0,
            (_, None) => rate * 2.0,
            (None, Some(b)) if b <= 250.0 => break,
            (None, Some(b)) => b / 2.0,
        };
    }
    Ok(SweepRow {
        target: name.to_string(),
        mix: mix.name().into(),
        p99_max_ms,
        best_rate_ops_s: good,
        tried,
    })
}

/// Where the run happened: enough to tell machines apart.
pub fn machine() -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string());
    let mem_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
    });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .ok();
    serde_json::json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cpu_model": model,
        "memory_gib": mem_kib.map(|k| (k as f64 / 1_048_576.0 * 10.0).round() / 10.0),
        "kernel": kernel,
        "etcd": etcd_version(),
        "started": results::timestamp::now_utc(),
    })
}

fn etcd_version() -> Option<String> {
    let bin = crate::db::EtcdDb::find_binary()?;
    let out = std::process::Command::new(bin)
        .arg("--version")
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        l.strip_prefix("etcd Version:")
            .map(|v| v.trim().to_string())
    })
}
