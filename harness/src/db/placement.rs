//! Where a cluster's nodes run and with which clock: on loopback hosts of
//! their own (`--net local`), or each in a network namespace of the run's
//! private network (`--net netns`, see [`crate::net`]); optionally with a
//! libfaketime clock per node ([`FakeClocks`]) or a monotonic offset fixed
//! at start (a time namespace).
//!
//! A cluster owns its placement: tearing the cluster down kills its
//! processes first, then removes its network.

use super::fake_clock::{time_namespace_prefix, FakeClocks};
use super::process::ManagedProcess;
use super::{cluster_addrs, DbError};
use crate::net::netns::RunNet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The client port of every node in a network namespace (each node has an
/// address of its own, so the ports need not differ).
pub const NETNS_CLIENT_PORT: u16 = 7000;

/// The peer port of every node in a network namespace.
pub const NETNS_PEER_PORT: u16 = 7001;

/// Where nodes run, and how their clocks are skewed.
#[derive(Debug, Default)]
pub struct Placement {
    net: Option<RunNet>,
    clocks: Option<FakeClocks>,
    monotonic_offsets_s: Option<Vec<u64>>,
}

impl Placement {
    /// Loopback hosts, real clocks.
    pub fn local() -> Placement {
        Placement::default()
    }

    /// Each node in its namespace of `net`.
    pub fn netns(net: RunNet) -> Placement {
        Placement {
            net: Some(net),
            ..Placement::default()
        }
    }

    /// The same, with a libfaketime clock per node.
    pub fn with_clocks(mut self, clocks: FakeClocks) -> Placement {
        self.clocks = Some(clocks);
        self
    }

    /// The same, each node started in a time namespace whose monotonic
    /// clock is ahead by its offset (seconds).
    pub fn with_monotonic_offsets(mut self, offsets_s: Vec<u64>) -> Placement {
        self.monotonic_offsets_s = Some(offsets_s);
        self
    }

    /// The client and the peer address of each of `nodes` nodes.
    pub fn addrs(&self, nodes: usize) -> Result<(Vec<SocketAddr>, Vec<SocketAddr>), DbError> {
        match &self.net {
            None => {
                let mut client = cluster_addrs(2 * nodes)?;
                let peer = client.split_off(nodes);
                Ok((client, peer))
            }
            Some(net) => {
                if nodes > net.nodes() {
                    return Err(DbError::Setup(format!(
                        "the run's network has {} nodes, not {nodes}",
                        net.nodes()
                    )));
                }
                let at = |port| -> Vec<SocketAddr> {
                    (0..nodes)
                        .map(|n| SocketAddr::from((net.node_addr(n), port)))
                        .collect()
                };
                Ok((at(NETNS_CLIENT_PORT), at(NETNS_PEER_PORT)))
            }
        }
    }

    /// Node `node`'s process: `program args` inside its namespace, with its
    /// clock. Every wrapper execs, so the pid (and process group) the
    /// harness signals is the program's own.
    pub fn process(
        &self,
        node: usize,
        program: &Path,
        args: Vec<String>,
        log: PathBuf,
    ) -> ManagedProcess {
        let mut program = program.to_path_buf();
        let mut args = args;
        if let Some(offset) = self.monotonic_offsets_s.as_ref().and_then(|o| o.get(node)) {
            let mut prefix = time_namespace_prefix(*offset);
            let unshare = PathBuf::from(prefix.remove(0));
            prefix.push(program.display().to_string());
            prefix.extend(args);
            program = unshare;
            args = prefix;
        }
        if let Some(net) = &self.net {
            (program, args) = net.wrap(node, &program, &args);
        }
        let envs = self
            .clocks
            .as_ref()
            .map(|c| c.env(node))
            .unwrap_or_default();
        ManagedProcess::new(format!("n{}", node + 1), &program, args, log).with_envs(envs)
    }

    /// The run's network, when nodes run in namespaces.
    pub fn net_mut(&mut self) -> Option<&mut RunNet> {
        self.net.as_mut()
    }

    /// The same, to read.
    pub fn net(&self) -> Option<&RunNet> {
        self.net.as_ref()
    }

    /// The nodes' libfaketime clocks, if they have them.
    pub fn clocks_mut(&mut self) -> Option<&mut FakeClocks> {
        self.clocks.as_mut()
    }

    /// Whether nodes have libfaketime clocks.
    pub fn has_clocks(&self) -> bool {
        self.clocks.is_some()
    }

    /// Removes the network (after the processes are dead). Idempotent.
    pub fn teardown(&mut self) {
        if let Some(net) = &mut self.net {
            net.teardown();
        }
    }
}
