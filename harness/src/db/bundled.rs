//! The bundled store (target-kv) as local processes: `skeptic node ...`
//! (or `skeptic-kv`) on OS-chosen loopback ports, data and logs inside the
//! run's directory, fault hooks on.

use super::process::ManagedProcess;
use super::{Db, DbError, Placement, Protocol};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// How to run the bundled store.
#[derive(Clone, Debug)]
pub struct BundledOptions {
    /// The program: `skeptic` (run as `skeptic node`) or `skeptic-kv`.
    pub program: PathBuf,
    /// Nodes.
    pub nodes: usize,
    /// `--consensus` value.
    pub consensus: String,
    /// `--reads` value.
    pub reads: String,
    /// `--fsync` value.
    pub fsync: String,
    /// How long a node waits for consensus before answering "timeout".
    pub node_op_timeout_ms: u64,
    /// Where node data directories go (`n1/`, ...).
    pub data_dir: PathBuf,
    /// Where node logs go (`n1.log`, ...).
    pub logs_dir: PathBuf,
    /// Extra flags for every node (e.g. `--lease-ms 500`).
    pub extra_args: Vec<String>,
}

/// A running bundled cluster.
#[derive(Debug)]
pub struct BundledDb {
    http: Vec<SocketAddr>,
    procs: Vec<ManagedProcess>,
    placement: Placement,
    fault_hooks: bool,
}

impl BundledDb {
    /// Chooses addresses and starts every node where `placement` says. On
    /// loopback the nodes get their fault hooks; in network namespaces the
    /// faults are the kernel's, and the hooks are off.
    pub fn setup(o: &BundledOptions, placement: Placement) -> Result<BundledDb, DbError> {
        if !(1..=9).contains(&o.nodes) {
            return Err(DbError::Setup(format!(
                "the bundled store runs 1 to 9 nodes, not {}",
                o.nodes
            )));
        }
        let (http, peer) = placement.addrs(o.nodes)?;
        let fault_hooks = placement.net().is_none();
        let peers = target_kv::server::peers_arg(&peer);
        for dir in [&o.data_dir, &o.logs_dir] {
            std::fs::create_dir_all(dir)
                .map_err(|e| DbError::Setup(format!("cannot create {}: {e}", dir.display())))?;
        }
        // `skeptic node ...`, or the standalone binary.
        let subcommand = is_skeptic(&o.program).then(|| "node".to_string());
        let mut procs = Vec::with_capacity(o.nodes);
        for (i, addr) in http.iter().enumerate() {
            let id = i + 1;
            let mut args: Vec<String> = subcommand.iter().cloned().collect();
            args.extend([
                "--id".into(),
                id.to_string(),
                "--listen".into(),
                addr.to_string(),
                "--peers".into(),
                peers.clone(),
                "--data-dir".into(),
                o.data_dir.join(format!("n{id}")).display().to_string(),
                "--consensus".into(),
                o.consensus.clone(),
                "--reads".into(),
                o.reads.clone(),
                "--fsync".into(),
                o.fsync.clone(),
                "--op-timeout-ms".into(),
                o.node_op_timeout_ms.to_string(),
            ]);
            if fault_hooks {
                args.push("--fault-hooks".into());
            }
            args.extend(o.extra_args.iter().cloned());
            procs.push(placement.process(
                i,
                &o.program,
                args,
                o.logs_dir.join(format!("n{id}.log")),
            ));
        }
        let mut db = BundledDb {
            http,
            procs,
            placement,
            fault_hooks,
        };
        for node in 0..o.nodes {
            db.start(node)?;
        }
        Ok(db)
    }
}

fn is_skeptic(program: &Path) -> bool {
    program
        .file_stem()
        .is_some_and(|s| s.to_string_lossy().starts_with("skeptic") && s != "skeptic-kv")
}

impl Db for BundledDb {
    fn name(&self) -> &'static str {
        "bundled"
    }

    fn protocol(&self) -> Protocol {
        Protocol::Skeptic
    }

    fn nodes(&self) -> usize {
        self.http.len()
    }

    fn client_url(&self, node: usize) -> String {
        format!("http://{}", self.http[node])
    }

    fn fault_url(&self, node: usize) -> Option<String> {
        self.fault_hooks.then(|| self.client_url(node))
    }

    fn status_url(&self, node: usize) -> Option<String> {
        Some(self.client_url(node))
    }

    fn processes(&self) -> Option<&[ManagedProcess]> {
        Some(&self.procs)
    }

    fn processes_mut(&mut self) -> Option<&mut [ManagedProcess]> {
        Some(&mut self.procs)
    }

    fn placement_mut(&mut self) -> Option<&mut Placement> {
        Some(&mut self.placement)
    }
}

impl Drop for BundledDb {
    fn drop(&mut self) {
        self.teardown();
    }
}
