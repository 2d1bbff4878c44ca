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
    /// Consensus variant.
    #[arg(long, value_enum, default_value_t = target_kv::server::ConsensusArg::Multi)]
    pub consensus: target_kv::server::ConsensusArg,
    /// Read path (`local` is UNSAFE).
    #[arg(long, value_enum, default_value_t = target_kv::server::ReadsArg::Log)]
    pub reads: target_kv::server::ReadsArg,
    /// WAL sync policy (`never` is UNSAFE).
    #[arg(long, value_enum, default_value_t = target_kv::server::FsyncArg::Always)]
    pub fsync: target_kv::server::FsyncArg,
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
