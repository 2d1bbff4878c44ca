//! Running a node from command-line arguments: binds its sockets, starts
//! the core and the HTTP API, and stops cleanly on a signal. Shared by the
//! `skeptic-kv` binary and `skeptic node`.

use crate::node::{self, NodeConfig};
use crate::paxos::{Mode, NodeId, ReadMode};
use crate::storage::FsyncPolicy;
use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The consensus variants, as flags.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ConsensusArg {
    /// Multi-Paxos with a stable leader.
    Multi,
    /// Leaderless per-slot Basic Paxos.
    Basic,
}

/// The read paths, as flags.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ReadsArg {
    /// Through the log (linearizable).
    Log,
    /// Paxos quorum reads (linearizable).
    Quorum,
    /// Leader leases on the leader's clock (linearizable within clock bounds).
    Lease,
    /// UNSAFE: any node answers from local state (not linearizable).
    Local,
}

/// When the WAL syncs, as flags.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum FsyncArg {
    /// Every record.
    Always,
    /// Once per group of records written together (same guarantee).
    Batch,
    /// UNSAFE: never (benchmarks only).
    Never,
}

/// The name of a flag value as the command line spells it (`multi`,
/// `quorum`, `batch`): stored configurations and node arguments use it.
pub fn arg_name<T: clap::ValueEnum>(value: T) -> String {
    value
        .to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

/// A node's flags.
#[derive(Clone, Debug, clap::Args)]
pub struct NodeArgs {
    /// This node's id (1-based).
    #[arg(long)]
    pub id: NodeId,
    /// Client HTTP address (host:port).
    #[arg(long)]
    pub listen: SocketAddr,
    /// Every member's peer address: `1=127.0.0.1:7101,2=...`.
    #[arg(long, value_parser = parse_peers)]
    pub peers: BTreeMap<NodeId, SocketAddr>,
    /// Where the write-ahead log lives.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Consensus variant.
    #[arg(long, value_enum, default_value_t = ConsensusArg::Multi)]
    pub consensus: ConsensusArg,
    /// Read path.
    #[arg(long, value_enum, default_value_t = ReadsArg::Log)]
    pub reads: ReadsArg,
    /// WAL sync policy.
    #[arg(long, value_enum, default_value_t = FsyncArg::Always)]
    pub fsync: FsyncArg,
    /// Enable the fault endpoints (partitions, clock skew); only on loopback.
    #[arg(long)]
    pub fault_hooks: bool,
    /// Frames from another cluster id are refused.
    #[arg(long, default_value_t = 1)]
    pub cluster_id: u64,
    /// How long a request may wait for consensus before an indeterminate timeout.
    #[arg(long, default_value_t = 2000)]
    pub op_timeout_ms: u64,
    /// Leader heartbeat period.
    #[arg(long, default_value_t = 50)]
    pub heartbeat_ms: u64,
    /// Shortest election timeout (the longest is twice this).
    #[arg(long, default_value_t = 300)]
    pub election_timeout_ms: u64,
    /// Lease length (lease reads).
    #[arg(long, default_value_t = 1000)]
    pub lease_ms: u64,
    /// Snapshot the state and compact the log every this many slots (0: never).
    #[arg(long, default_value_t = 10_000)]
    pub snapshot_every: u64,
}

/// The `--peers` value for members 1..=n at these addresses.
pub fn peers_arg(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{}={a}", i + 1))
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_peers(s: &str) -> Result<BTreeMap<NodeId, SocketAddr>, String> {
    let mut peers = BTreeMap::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let (id, addr) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}`: expected ID=HOST:PORT"))?;
        let id: NodeId = id
            .trim()
            .parse()
            .map_err(|_| format!("`{id}`: a node id is a number"))?;
        if id > crate::paxos::NODE_ID_MAX {
            return Err(format!(
                "node id {id}: ids go up to {}",
                crate::paxos::NODE_ID_MAX
            ));
        }
        let addr: SocketAddr = addr.trim().parse().map_err(|e| format!("`{addr}`: {e}"))?;
        if peers.insert(id, addr).is_some() {
            return Err(format!("node {id} is listed twice"));
        }
    }
    if peers.is_empty() {
        return Err("at least one peer (this node) is needed".into());
    }
    Ok(peers)
}

/// Runs a node until `shutdown` resolves.
pub async fn run(
    args: NodeArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let Some(&peer_addr) = args.peers.get(&args.id) else {
        bail!("--peers does not list this node's id {}", args.id);
    };
    if args.fault_hooks && !(args.listen.ip().is_loopback() && peer_addr.ip().is_loopback()) {
        bail!("--fault-hooks is only allowed on loopback addresses");
    }
    let peer_listener = tokio::net::TcpListener::bind(peer_addr)
        .await
        .with_context(|| format!("cannot listen for peers on {peer_addr}"))?;
    let http_listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen for clients on {}", args.listen))?;
    let cfg = NodeConfig {
        id: args.id,
        peers: args.peers.clone(),
        data_dir: args.data_dir.clone(),
        mode: match args.consensus {
            ConsensusArg::Multi => Mode::Multi,
            ConsensusArg::Basic => Mode::Basic,
        },
        reads: match args.reads {
            ReadsArg::Log => ReadMode::Log,
            ReadsArg::Quorum => ReadMode::Quorum,
            ReadsArg::Lease => ReadMode::Lease,
            ReadsArg::Local => ReadMode::Local,
        },
        fsync: match args.fsync {
            FsyncArg::Always => FsyncPolicy::Always,
            FsyncArg::Batch => FsyncPolicy::Batch,
            FsyncArg::Never => FsyncPolicy::Never,
        },
        cluster_id: args.cluster_id,
        heartbeat_ms: args.heartbeat_ms,
        election_timeout_ms: (args.election_timeout_ms, args.election_timeout_ms * 2),
        lease_ms: args.lease_ms,
        snapshot_every: args.snapshot_every,
    };
    if args.reads == ReadsArg::Local {
        tracing::warn!("--reads local is UNSAFE: reads are not linearizable");
    }
    if args.fsync == FsyncArg::Never {
        tracing::warn!("--fsync never is UNSAFE: acknowledged writes can be lost in a crash");
    }
    let node = Arc::new(node::start(cfg, peer_listener).await?);
    let app = crate::http::router(
        node.clone(),
        Duration::from_millis(args.op_timeout_ms),
        args.fault_hooks,
    );
    tracing::info!(id = args.id, http = %args.listen, peers = %peer_addr, "serving");
    axum::serve(http_listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("HTTP server failed")?;
    match Arc::try_unwrap(node) {
        Ok(node) => node.shutdown().await,
        Err(_) => tracing::warn!("HTTP handlers still hold the node at shutdown"),
    }
    Ok(())
}

/// Logs to stderr at `default_level` (or as `RUST_LOG` says). Colours only
/// on a terminal: the harness sends node output to log files, which must
/// stay plain text.
pub fn init_logging(default_level: &str) {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_level.into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
