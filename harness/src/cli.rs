//! The command line, as clap types. Flag names are part of the interface:
//! users script them.

use checker::format::Format;
use checker::ModelKind;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Skeptic: a Jepsen-style test and benchmark harness for linearizable stores.
#[derive(Debug, Parser)]
#[command(name = "skeptic", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check recorded histories for linearizability.
    ///
    /// Exit status: 0 linearizable, 1 not linearizable, 2 unknown (budget
    /// ran out), 3 bad input or usage. With several files, the worst wins.
    Check(CheckArgs),
    /// Generate a synthetic linearizable history (for benchmarks).
    GenHistory(GenArgs),
    /// Run one node of the bundled key-value store (same as `skeptic-kv`).
    Node(NodeCmd),
    /// Start a local cluster of the bundled store; Ctrl-C stops it.
    Cluster(ClusterArgs),
    /// Run a workload against a cluster under faults, then check and report.
    ///
    /// With no flags: 3 local nodes of the bundled store (Multi-Paxos, log
    /// reads, fsync always), the register workload with 10 clients for 30 s,
    /// partitions, kills, pauses and clock faults every 5 s. Exit status: 0
    /// valid, 1 an anomaly, 2 unknown, 3 bad usage or setup failure, 130
    /// interrupted (the history is kept).
    Test(TestArgs),
    /// Simulate the bundled store deterministically under faults, many
    /// seeds a second, checking every history and invariant.
    ///
    /// Runs the production consensus core and node shell in one thread
    /// with a simulated network, disks and clocks. Exit status: 0 every
    /// seed passed, 1 some seed failed (each is printed, and written to
    /// the results store), 3 bad usage.
    Sim(SimArgs),
    /// Measure throughput and latency of several targets side by side.
    ///
    /// Targets run interleaved in rounds on fresh clusters; every figure
    /// is the median over rounds with its range. Writes a table, markdown,
    /// JSON and plots to STORE/bench/<timestamp>/. Exit status: 0 every
    /// target measured, 1 some target could not be, 3 bad usage.
    Bench(BenchArgs),
    /// Run a campaign: a matrix of tests and simulator ranges from a TOML
    /// file, each as its own process, with a summary, JSON and JUnit.
    ///
    /// Exit status: 0 every run showed what it had to; 1 a correct variant
    /// was not linearizable, or a variant that must be caught was not; 2
    /// (with --strict) an unknown verdict or a run that crashed or could
    /// not start; 3 bad usage.
    Campaign(CampaignArgs),
    /// Browse a results store in a web browser (read-only): runs with
    /// their verdicts and figures, campaigns, bench runs.
    Serve(ServeArgs),
    /// Remove what killed runs left behind: network namespaces, links and
    /// registry files of runs whose harness is gone (`--force`: of every
    /// run, live ones included).
    Clean(CleanArgs),
}

/// Flags of `skeptic clean`.
#[derive(Debug, clap::Args)]
pub struct CleanArgs {
    /// Also remove what live runs are using.
    #[arg(long)]
    pub force: bool,
    /// Only list what would be removed.
    #[arg(long)]
    pub dry_run: bool,
}

/// Which cluster `skeptic test` drives.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TargetArg {
    /// The bundled store as local processes.
    Bundled,
    /// etcd (Debian's etcd-server) as local processes.
    Etcd,
    /// A running cluster given by --addresses (client traffic only).
    External,
}

/// The protocol of an external cluster.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProtocolArg {
    /// The bundled store's HTTP/JSON API (POST /kv/get, /kv/set, /kv/cas, ...).
    Skeptic,
    /// etcd's v3 HTTP/JSON gateway.
    Etcd,
}

/// Flags of `skeptic test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Which cluster to test.
    #[arg(long, value_enum, default_value_t = TargetArg::Bundled)]
    pub target: TargetArg,
    /// Nodes to start (bundled, etcd).
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// The bundled store's variant.
    #[command(flatten)]
    pub variant: VariantArgs,
    /// register, kv or set.
    #[arg(long, default_value = "register", value_parser = parse_workload)]
    pub workload: workloads::WorkloadKind,
    /// Faults to inject: a comma-separated list of partition, kill, pause,
    /// clock, packet (needs --net netns); or none.
    #[arg(long, default_value = "partition,kill,pause,clock", value_parser = parse_faults)]
    pub nemesis: Faults,
    /// The nodes' network: netns (each node in a network namespace of its
    /// own, faults made by the kernel; needs root, iproute2 and nftables
    /// or iptables) or local (loopback, faults through the bundled store's
    /// hooks). Default: netns where possible, else local.
    #[arg(long, value_name = "NET", value_parser = parse_net)]
    pub net: Option<harness::net::NetMode>,
    /// Settings of the packet nemesis, e.g.
    /// delay=50ms,jitter=10ms,distribution=normal,loss=5%,duplicate=1%,reorder=10%,corrupt=0.1%,rate=1mbit
    /// (delay, jitter, duplication, reordering and corruption need tc netem
    /// in the kernel). Default: delay=50ms,jitter=10ms,loss=5% with netem,
    /// else loss=5%.
    #[arg(long, value_name = "SPEC")]
    pub packet: Option<String>,
    /// Start each node in a time namespace with a monotonic clock hours
    /// apart from the others', fixed at start (works for Go programs such
    /// as etcd, which libfaketime cannot skew).
    #[arg(long)]
    pub monotonic_offsets: bool,
    /// Seconds between nemesis steps (each step starts or stops a fault).
    #[arg(long, value_name = "S", default_value_t = 5.0)]
    pub nemesis_interval: f64,
    /// Where faults land: random (a node, a minority, all, sometimes the
    /// leader) or leader (every fault at the current leader).
    #[arg(long, value_name = "AIM", default_value = "random", value_parser = parse_aim)]
    pub nemesis_targets: harness::nemesis::plan::Aim,
    /// Seconds of workload.
    #[arg(long, value_name = "S", default_value_t = 30.0)]
    pub time_limit: f64,
    /// Client threads.
    #[arg(long, default_value_t = 10)]
    pub concurrency: usize,
    /// Offered load in operations per second (open loop); closed loop without it.
    #[arg(long, value_name = "OPS")]
    pub rate: Option<f64>,
    /// Keys in use at once.
    #[arg(long, default_value_t = 3)]
    pub keys: usize,
    /// Seed of the operation streams and the fault schedule (random when omitted; printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The results store: runs go to DIR/<test>/<timestamp>/.
    #[arg(long, value_name = "DIR", default_value = "store")]
    pub store: PathBuf,
    /// Client timeout per operation, in milliseconds (a timeout is recorded as info).
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub op_timeout: u64,
    /// The test's name (default: workload, target and variant).
    #[arg(long)]
    pub name: Option<String>,
    /// Client addresses of an external cluster: host:port,host:port,...
    #[arg(long, value_delimiter = ',')]
    pub addresses: Vec<String>,
    /// The protocol an external cluster speaks.
    #[arg(long, value_enum, default_value_t = ProtocolArg::Skeptic)]
    pub protocol: ProtocolArg,
    /// Seconds the cluster may take to serve reads after healing.
    #[arg(long, value_name = "S", default_value_t = 30.0)]
    pub recovery_timeout: f64,
    /// Give up checking after this many seconds (verdict unknown).
    #[arg(long, value_name = "S", default_value_t = 300.0)]
    pub check_timeout: f64,
    /// Run a stored test again: a run directory or its test.json (its
    /// configuration and seed replace every other flag).
    #[arg(long, value_name = "RUN")]
    pub rerun: Option<PathBuf>,
    /// An extra flag for every bundled node, e.g. --node-arg=--lease-ms=500 (repeatable).
    #[arg(long, value_name = "FLAG", allow_hyphen_values = true)]
    pub node_arg: Vec<String>,
}

/// The bundled store's variant, shared by `test` and `cluster`.
#[derive(Debug, clap::Args)]
pub struct VariantArgs {
    /// Consensus variant of the bundled store.
    #[arg(long, value_enum, default_value_t = target_kv::server::ConsensusArg::Multi)]
    pub consensus: target_kv::server::ConsensusArg,
    /// Read path of the bundled store (`local` is UNSAFE: a planted bug).
    #[arg(long, value_enum, default_value_t = target_kv::server::ReadsArg::Log)]
    pub reads: target_kv::server::ReadsArg,
    /// WAL sync policy of the bundled store (`never` is UNSAFE).
    #[arg(long, value_enum, default_value_t = target_kv::server::FsyncArg::Always)]
    pub fsync: target_kv::server::FsyncArg,
}

impl VariantArgs {
    /// The consensus variant's name on the command line.
    pub fn consensus_name(&self) -> String {
        target_kv::server::arg_name(self.consensus)
    }

    /// The read path's name on the command line.
    pub fn reads_name(&self) -> String {
        target_kv::server::arg_name(self.reads)
    }

    /// The sync policy's name on the command line.
    pub fn fsync_name(&self) -> String {
        target_kv::server::arg_name(self.fsync)
    }
}

/// A parsed `--nemesis` list.
#[derive(Debug, Clone)]
pub struct Faults(pub Vec<harness::nemesis::plan::FaultKind>);

fn parse_net(s: &str) -> Result<harness::net::NetMode, String> {
    s.parse().map_err(|e| format!("{e}"))
}

fn parse_faults(s: &str) -> Result<Faults, String> {
    harness::nemesis::plan::FaultKind::parse_list(s).map(Faults)
}

fn parse_aim(s: &str) -> Result<harness::nemesis::plan::Aim, String> {
    use harness::nemesis::plan::Aim;
    [Aim::Random, Aim::Leader]
        .into_iter()
        .find(|a| a.name() == s)
        .ok_or_else(|| format!("unknown nemesis target {s:?} (expected random or leader)"))
}

fn parse_workload(s: &str) -> Result<workloads::WorkloadKind, String> {
    s.parse()
}

/// Flags of `skeptic node`.
#[derive(Debug, clap::Args)]
pub struct NodeCmd {
    /// The node's flags.
    #[command(flatten)]
    pub node: target_kv::server::NodeArgs,
}

/// Flags of `skeptic cluster`.
#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// How many nodes.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// The bundled store's variant.
    #[command(flatten)]
    pub variant: VariantArgs,
    /// Where the nodes keep their data (a temporary directory when omitted).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Enable the fault endpoints.
    #[arg(long)]
    pub fault_hooks: bool,
}

/// Flags of `skeptic check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// History files (or run directories holding a history.jsonl).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The sequential model; guessed from the operations when omitted.
    #[arg(long, value_parser = parse_model)]
    pub model: Option<ModelKind>,
    /// The file format; detected from the content when omitted.
    #[arg(long, value_parser = parse_format)]
    pub format: Option<Format>,
    /// The initial value of every key (default: absent, i.e. nil).
    #[arg(long, value_name = "VALUE")]
    pub init: Option<String>,
    /// Treat reads that returned nil as telling nothing (Knossos's convention).
    #[arg(long)]
    pub nil_reads_unknown: bool,
    /// Write a self-contained HTML page (a directory when checking several files).
    #[arg(long, value_name = "OUT")]
    pub html: Option<PathBuf>,
    /// Print one JSON object per file instead of words.
    #[arg(long)]
    pub json: bool,
    /// Give up with verdict unknown after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Give up with verdict unknown when the search needs more memory than this.
    #[arg(long, value_name = "MIB", default_value_t = 4096)]
    pub memory_limit_mib: usize,
    /// Report every failing key instead of stopping at the first.
    #[arg(long)]
    pub all: bool,
}

/// The kinds of history `gen-history` makes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GenKindArg {
    /// read/write/cas registers.
    Register,
    /// get/put/append on string keys.
    Kv,
}

/// Flags of `skeptic gen-history`.
#[derive(Debug, clap::Args)]
pub struct GenArgs {
    /// Register or kv.
    #[arg(long, value_enum, default_value_t = GenKindArg::Register)]
    pub kind: GenKindArg,
    /// Operations in all.
    #[arg(long, default_value_t = 10_000)]
    pub ops: usize,
    /// Concurrent client processes.
    #[arg(long, default_value_t = 10)]
    pub processes: usize,
    /// Keys (1 gives an unkeyed register).
    #[arg(long, default_value_t = 1)]
    pub keys: usize,
    /// Fraction of operations that end indeterminate (info).
    #[arg(long, default_value_t = 0.0)]
    pub info: f64,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Plant a stale read so the history is not linearizable.
    #[arg(long)]
    pub corrupt: bool,
    /// Output format.
    #[arg(long, value_parser = parse_format, default_value = "jsonl")]
    pub format: Format,
    /// Output file (standard output when omitted).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

fn parse_model(s: &str) -> Result<ModelKind, String> {
    s.parse()
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

/// Flags of `skeptic sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Run this one seed.
    #[arg(long, conflicts_with = "seeds")]
    pub seed: Option<u64>,
    /// Run seeds A..B (B excluded); the default is 0..100.
    #[arg(long, value_name = "A..B", value_parser = parse_seed_range)]
    pub seeds: Option<(u64, u64)>,
    /// Consensus variant.
    #[arg(long, value_enum, default_value_t = target_kv::server::ConsensusArg::Multi)]
    pub consensus: target_kv::server::ConsensusArg,
    /// Read path (`local` is UNSAFE and must be caught).
    #[arg(long, value_enum, default_value_t = target_kv::server::ReadsArg::Log)]
    pub reads: target_kv::server::ReadsArg,
    /// Replicas.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=9))]
    pub nodes: u64,
    /// Client operations per seed (before the final reads).
    #[arg(long, default_value_t = 500)]
    pub ops: usize,
    /// register or kv.
    #[arg(long, default_value = "register", value_parser = parse_sim_workload)]
    pub workload: workloads::WorkloadKind,
    /// Simulated clients.
    #[arg(long, default_value_t = harness::sim::SimConfig::CLIENTS)]
    pub clients: usize,
    /// Which clients use client/seq sessions: none, all or mixed.
    #[arg(long, default_value = "mixed")]
    pub sessions: harness::sim::Sessions,
    /// Faults: a comma-separated list of partition, oneway, crash, torn,
    /// pause, drift, jump, loss, dup, reorder, delay; all; or none. The
    /// default is all (all but jump with lease reads).
    #[arg(long, value_parser = parse_sim_faults)]
    pub faults: Option<SimFaultList>,
    /// Plant a bug that must be caught: ignore-promise, skip-phase1 or
    /// lease-no-margin.
    #[arg(long)]
    pub plant: Option<target_kv::paxos::PlantedBug>,
    /// Where faults land: random, or leader (partitions isolate the
    /// leader, crashes and pauses hit it, drift slows its clock and speeds
    /// the others').
    #[arg(long, value_name = "AIM", default_value = "random", value_parser = parse_aim)]
    pub aim: harness::nemesis::plan::Aim,
    /// Print one JSON object instead of words.
    #[arg(long)]
    pub json: bool,
    /// The results store: failing seeds go to DIR/sim-<variant>/<timestamp>/.
    #[arg(long, value_name = "DIR", default_value = "store")]
    pub store: PathBuf,
    /// Threads to run seeds on (default: every core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// With --seed: write that seed's event trace to this file, passed or
    /// failed (the history goes beside it, as FILE.history.jsonl).
    #[arg(long, value_name = "FILE", requires = "seed")]
    pub trace: Option<PathBuf>,
}

/// A parsed `--faults` list.
#[derive(Debug, Clone)]
pub struct SimFaultList(pub Vec<harness::sim::SimFault>);

fn parse_sim_faults(s: &str) -> Result<SimFaultList, String> {
    harness::sim::SimFault::parse_list(s).map(SimFaultList)
}

fn parse_sim_workload(s: &str) -> Result<workloads::WorkloadKind, String> {
    match s.parse()? {
        workloads::WorkloadKind::Set => {
            Err("the simulator runs the register and kv workloads".into())
        }
        k => Ok(k),
    }
}

fn parse_seed_range(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("expected A..B, found {s:?}"))?;
    let a: u64 = a.trim().parse().map_err(|e| format!("{a:?}: {e}"))?;
    let b: u64 = b.trim().parse().map_err(|e| format!("{b:?}: {e}"))?;
    if b <= a {
        return Err(format!("the range {a}..{b} is empty"));
    }
    Ok((a, b))
}

/// Flags of `skeptic bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Targets, comma-separated: multi/log, multi/quorum, multi/lease,
    /// basic/log, basic/quorum, etcd, external=URL[+URL...] (the bundled
    /// store's protocol) or external-etcd=URL[+URL...]. Default: the four
    /// bundled variants, and etcd when its binary is present.
    #[arg(long, value_delimiter = ',', value_parser = parse_bench_target)]
    pub targets: Vec<harness::bench::target::TargetSpec>,
    /// WAL sync policy of the bundled store: always or batch (`never`
    /// needs --unsafe and is labelled UNSAFE everywhere).
    #[arg(long, value_enum, default_value_t = target_kv::server::FsyncArg::Batch)]
    pub fsync: target_kv::server::FsyncArg,
    /// Allow --fsync never.
    #[arg(long = "unsafe")]
    pub allow_unsafe: bool,
    /// Closed-loop concurrencies.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64", value_parser = parse_concurrency)]
    pub concurrency: Vec<usize>,
    /// Mixes: write, read, mixed (50/50).
    #[arg(long, value_delimiter = ',', default_value = "write,read,mixed", value_parser = parse_mix)]
    pub mix: Vec<harness::bench::load::Mix>,
    /// Seconds measured per point.
    #[arg(long, default_value_t = 5.0, value_parser = parse_seconds)]
    pub duration: f64,
    /// Seconds of warm-up before each point.
    #[arg(long, default_value_t = 1.0, value_parser = parse_seconds_or_zero)]
    pub warmup: f64,
    /// Rounds (each target once per round, interleaved).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub rounds: u64,
    /// Fault scenario: leader-kill (the default) or none.
    #[arg(long, default_value = "leader-kill", value_parser = ["leader-kill", "none"])]
    pub scenario: String,
    /// Also sweep an open-loop rate for the highest one whose p99 stays
    /// under --p99-max-ms.
    #[arg(long)]
    pub rate_sweep: bool,
    /// The p99 bound of --rate-sweep, in ms.
    #[arg(long, default_value_t = 10.0, value_parser = parse_seconds)]
    pub p99_max_ms: f64,
    /// Nodes per cluster.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=9))]
    pub nodes: u64,
    /// Also write the JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Print each figure's change from an earlier run's JSON.
    #[arg(long, value_name = "OLD.json")]
    pub compare: Option<PathBuf>,
    /// With --compare: compare with this JSON instead of running.
    #[arg(long, value_name = "NEW.json", requires = "compare")]
    pub against: Option<PathBuf>,
    /// The results store: the run goes to DIR/bench/<timestamp>/.
    #[arg(long, value_name = "DIR", default_value = "store")]
    pub store: PathBuf,
}

fn parse_bench_target(s: &str) -> Result<harness::bench::target::TargetSpec, String> {
    s.parse()
}

fn parse_mix(s: &str) -> Result<harness::bench::load::Mix, String> {
    s.parse()
}

fn parse_concurrency(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=1024).contains(&n) => Ok(n),
        _ => Err(format!("{s:?}: a concurrency is 1 to 1024")),
    }
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 3_600.0 => Ok(v),
        _ => Err(format!("{s:?}: expected a number above 0 and at most 3600")),
    }
}

fn parse_seconds_or_zero(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (0.0..=3_600.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?}: expected a number from 0 to 3600")),
    }
}

/// Flags of `skeptic campaign`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CampaignArgs {
    /// `merge`: combine shards' results.
    #[command(subcommand)]
    pub merge: Option<CampaignCmd>,
    /// The campaign file (TOML).
    pub file: Option<PathBuf>,
    /// Run only the K-th of N disjoint slices of the matrix (1-based).
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<(usize, usize)>,
    /// Unknown verdicts and runs that crashed or could not start fail the
    /// campaign too.
    #[arg(long)]
    pub strict: bool,
    /// Runs at once (default: the file's `jobs`).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// The results store: the campaign goes to DIR/campaign-<name>/<timestamp>/.
    #[arg(long, value_name = "DIR", default_value = "store")]
    pub store: PathBuf,
    /// List the runs (with their shard) and run nothing.
    #[arg(long)]
    pub list: bool,
}

/// `skeptic campaign` subcommands.
#[derive(Debug, Subcommand)]
pub enum CampaignCmd {
    /// Combine the results of a campaign's shards into one summary and one
    /// JUnit file.
    Merge(MergeArgs),
}

/// Flags of `skeptic campaign merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Each shard's campaign directory (holding campaign.json), or a store
    /// whose campaign-*/latest directories are taken.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Unknown verdicts and errors fail the merged campaign too.
    #[arg(long)]
    pub strict: bool,
    /// The results store: the merged summary goes to DIR/campaign-<name>-merged/<timestamp>/.
    #[arg(long, value_name = "DIR", default_value = "store")]
    pub store: PathBuf,
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (k, n) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?}: expected K/N, e.g. 2/4"))?;
    let k: usize = k.trim().parse().map_err(|e| format!("{s:?}: {e}"))?;
    let n: usize = n.trim().parse().map_err(|e| format!("{s:?}: {e}"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("{s:?}: K is 1 to N"));
    }
    Ok((k, n))
}

/// Flags of `skeptic serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The results store.
    #[arg(default_value = "store")]
    pub store: PathBuf,
    /// Where to listen (loopback by default).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7878")]
    pub listen: std::net::SocketAddr,
}
