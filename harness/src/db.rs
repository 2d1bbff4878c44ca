//! Cluster control: the [`Db`] trait (Jepsen's `db` protocol) and its
//! implementations: the bundled store and etcd as local processes, and an
//! external cluster reached only by its addresses.
//!
//! Process control is synchronous (signals and `waitpid` return at once);
//! readiness is the caller's business (it polls the nodes with a client).

mod bundled;
mod etcd;
mod external;
pub mod fake_clock;
pub mod placement;
pub mod process;

use process::ManagedProcess;

pub use bundled::{BundledDb, BundledOptions};
pub use etcd::{EtcdDb, EtcdOptions};
pub use external::ExternalDb;
pub use placement::Placement;

use std::path::PathBuf;

/// Which wire protocol a cluster's clients speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// The bundled store's HTTP/JSON API (`POST /kv/get`, ...); also what
    /// your own store implements to be tested as `--target external`.
    Skeptic,
    /// etcd's v3 HTTP/JSON gateway.
    Etcd,
}

/// Errors of cluster control.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A process could not be started.
    #[error("cannot start {what}: {source}")]
    Start {
        /// Which process.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Setting up the cluster failed.
    #[error("{0}")]
    Setup(String),
    /// A signal could not be delivered.
    #[error("cannot signal node {node}: {source}")]
    Signal {
        /// The node (0-based).
        node: usize,
        /// The cause.
        source: std::io::Error,
    },
    /// The operation needs node control this cluster does not offer.
    #[error("{0} is not supported by this target")]
    Unsupported(&'static str),
}

/// A cluster under test. Nodes are numbered from 0.
pub trait Db: Send {
    /// A short name for reports (`bundled`, `etcd`, `external`).
    fn name(&self) -> &'static str;

    /// How clients talk to it.
    fn protocol(&self) -> Protocol;

    /// How many nodes.
    fn nodes(&self) -> usize;

    /// The base URL clients use for a node (`http://127.0.0.1:PORT`).
    fn client_url(&self, node: usize) -> String;

    /// The base URL of the node's fault endpoints, if it has them (the
    /// bundled store with `--fault-hooks`).
    fn fault_url(&self, _node: usize) -> Option<String> {
        None
    }

    /// The base URL of the node's `/status` (the bundled store serves it
    /// with or without fault hooks).
    fn status_url(&self, node: usize) -> Option<String> {
        self.fault_url(node)
    }

    /// The node processes, one per node, when this harness started them.
    /// Implementations that own processes return them here and get every
    /// process-control method below for free.
    fn processes(&self) -> Option<&[ManagedProcess]> {
        None
    }

    /// The same, to act on them.
    fn processes_mut(&mut self) -> Option<&mut [ManagedProcess]> {
        None
    }

    /// Whether this harness started the nodes and can signal them.
    fn controls_processes(&self) -> bool {
        self.processes().is_some()
    }

    /// (Re)starts a stopped node.
    fn start(&mut self, node: usize) -> Result<(), DbError> {
        let p = process(self, node, "starting a node")?;
        let what = p.name().to_string();
        p.start()
            .map(|_| ())
            .map_err(|source| DbError::Start { what, source })
    }

    /// Kills a node with SIGKILL and reaps it.
    fn kill(&mut self, node: usize) -> Result<(), DbError> {
        process(self, node, "killing a node")?
            .kill()
            .map_err(|source| DbError::Signal { node, source })
    }

    /// Stops a node with SIGSTOP.
    fn pause(&mut self, node: usize) -> Result<(), DbError> {
        process(self, node, "pausing a node")?
            .pause()
            .map_err(|source| DbError::Signal { node, source })
    }

    /// Continues a paused node with SIGCONT.
    fn resume(&mut self, node: usize) -> Result<(), DbError> {
        process(self, node, "resuming a node")?
            .resume()
            .map_err(|source| DbError::Signal { node, source })
    }

    /// The node's process id while it runs.
    fn pid(&mut self, node: usize) -> Option<u32> {
        self.processes_mut()?.get_mut(node)?.pid()
    }

    /// Whether the node's process is running (not exited); `true` when the
    /// harness does not control processes.
    fn is_running(&mut self, node: usize) -> bool {
        match self.processes_mut() {
            Some(ps) => ps.get_mut(node).is_some_and(ManagedProcess::is_running),
            None => true,
        }
    }

    /// The node's log files.
    fn log_paths(&self) -> Vec<PathBuf> {
        self.processes()
            .unwrap_or_default()
            .iter()
            .map(|p| p.log_path().to_path_buf())
            .collect()
    }

    /// Where the nodes run (their network and clocks), when this harness
    /// placed them.
    fn placement_mut(&mut self) -> Option<&mut Placement> {
        None
    }

    /// Stops every node and reaps them (SIGKILL ends a stopped process
    /// too), then removes their network. Idempotent; also called on drop
    /// by implementations that own processes.
    fn teardown(&mut self) {
        for p in self.processes_mut().unwrap_or_default() {
            let _ = p.kill();
        }
        if let Some(p) = self.placement_mut() {
            p.teardown();
        }
    }
}

/// A node's process, or why there is none to act on.
fn process<'a, D: Db + ?Sized>(
    db: &'a mut D,
    node: usize,
    what: &'static str,
) -> Result<&'a mut ManagedProcess, DbError> {
    db.processes_mut()
        .and_then(|ps| ps.get_mut(node))
        .ok_or(DbError::Unsupported(what))
}

/// `count` distinct free addresses for one cluster, on a loopback host of
/// its own so that parallel tests do not collide (see
/// [`target_kv::loopback`]).
pub fn cluster_addrs(count: usize) -> Result<Vec<std::net::SocketAddr>, DbError> {
    target_kv::loopback::spare_addrs(count)
        .map_err(|e| DbError::Setup(format!("cannot find free loopback ports: {e}")))
}
