//! Real network faults: every node of a test cluster in its own network
//! namespace, joined by a bridge private to the run, faults made with the
//! kernel's own tools.
//!
//! # Layout of one run
//!
//! Node `k` (0-based in the API) is named `n<k+1>`, as everywhere else in
//! the harness, and has address `.k+1` in the run's /24.
//!
//! ```text
//!  harness's namespace        skeptic-<id>-sw (switch)         skeptic-<id>-n<k+1> (node k)
//!  +---------------------+    +------------------------+       +-----------------------+
//!  | sk-<id>-h           |    | sk-<id>-hb --+         |       | lo (its own)          |
//!  |   198.18.X.254/24   |====|              sk-<id>-br|       | eth0 198.18.X.(k+1)/24|
//!  +---------------------+    | sk-<id>-v<k+1> --+     |=======|   no default route    |
//!                             +------------------------+       +-----------------------+
//! ```
//!
//! - One /24 of the benchmarking range 198.18.0.0/15 per run, chosen under
//!   an `flock` on `/run/skeptic/net/.lock` so that it is not used by any
//!   host interface or route nor by another run (`registry` records each
//!   run in `/run/skeptic/net/<id>` with its owner's pid).
//! - The bridge lives in a namespace of its own (`skeptic-<id>-sw`), not in
//!   the root namespace: bridged frames then never meet the host's
//!   firewall (a host with `br_netfilter` loaded, as every Docker host has,
//!   would otherwise run them through its `FORWARD` chain, often with policy
//!   DROP), and the root namespace sees exactly one interface per run, the
//!   harness's own `sk-<id>-h` with the host address.
//! - Node namespaces get an address on `eth0` and a route to the run's
//!   subnet, nothing else: no default route, so every address outside the
//!   subnet is unreachable (`ENETUNREACH`), and `127.0.0.1` is the node's
//!   own loopback. Nothing is forwarded or NATed, no sysctl is touched, and
//!   IPv6 link-local addresses are not generated (`addrgenmode none`), so
//!   no traffic can bypass the IPv4 rules.
//!
//! # Faults
//!
//! - Partitions ([`firewall`]): an `nft` table (or, with only iptables, an
//!   `iptables-restore`d filter table) in each receiving node's namespace
//!   drops packets by source address on input: a directed link `a → b` is
//!   cut by a rule in `b`. Dropping at the receiver (and not in the
//!   sender's output chain) keeps the sender's view the same as a real
//!   network's: packets vanish, `send` does not fail with `EPERM`.
//! - Packet faults ([`packet`]): `tc` on node egress (an HTB root with u32
//!   filters on the destination, so only the aimed links are hit), with a
//!   `netem` leaf when the kernel has `sch_netem`. Without it, loss is made
//!   by an `nft` bridge-family table in the switch namespace (`numgen
//!   random`), bandwidth by HTB classes, and the other netem faults are
//!   refused with [`NetError::Unsupported`].
//! - Probes ([`probe`]): one-way UDP deliveries between namespaces, and TCP
//!   reachability from a node, made by threads that `setns` into a
//!   namespace; no external programs.
//! - Leftovers ([`clean`]): every name carries the run id, so the
//!   namespaces, links and registry files of a killed run can be found and
//!   removed.
//!
//! All functions here are synchronous (they run `ip`, `tc`, `nft` with
//! [`std::process::Command`]); call them from `spawn_blocking` in async
//! code.

pub mod clean;
mod cmd;
pub mod firewall;
pub mod netns;
pub mod packet;
pub mod probe;
mod registry;

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

pub use netns::{Endpoint, RunNet};

/// What went wrong while building, faulting, probing or removing a run's
/// network.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// An external command ran and failed.
    #[error("`{command}` failed ({status}): {}", nonempty(stderr))]
    Command {
        /// The command line, shell-quoted, with its input as a here-document
        /// when it read one: paste it into a root shell to reproduce.
        command: String,
        /// How it ended (`exit status: 2`, `signal: 9`).
        status: String,
        /// What it wrote to stderr, trimmed.
        stderr: String,
    },
    /// An external command could not be started at all.
    #[error("could not run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why it could not start.
        #[source]
        source: std::io::Error,
    },
    /// The machine cannot do what was asked.
    #[error("{what} is not supported here: {why}")]
    Unsupported {
        /// What was asked for (`packet delay`, `network namespaces`).
        what: String,
        /// Why not, and the fix when there is one.
        why: String,
    },
    /// A packet-fault spec could not be parsed or is contradictory.
    #[error("bad packet spec `{spec}`: {reason}")]
    BadSpec {
        /// The spec as given.
        spec: String,
        /// What is wrong with it and what is accepted.
        reason: String,
    },
    /// A run id that cannot be carried in interface names.
    #[error("bad run id `{id}`: {reason}")]
    BadRunId {
        /// The id as given.
        id: String,
        /// What is accepted.
        reason: String,
    },
    /// A run id that is already used by a live run or by leftovers.
    #[error(
        "run id `{id}` is in use ({detail}); `skeptic clean` removes the leftovers of killed runs"
    )]
    RunIdInUse {
        /// The id.
        id: String,
        /// What holds it.
        detail: String,
    },
    /// Every /24 of 198.18.0.0/15 is taken.
    #[error("no free /24 left in 198.18.0.0/15: {detail}")]
    NoFreeSubnet {
        /// What holds the range.
        detail: String,
    },
    /// An argument out of range: a node index, an overlapping fault...
    #[error("{0}")]
    Invalid(String),
    /// A file or system call failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

fn nonempty(stderr: &str) -> &str {
    if stderr.is_empty() {
        "no output on stderr"
    } else {
        stderr
    }
}

/// How the nodes of a cluster are networked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetMode {
    /// Each node in its own network namespace on a private bridge; faults
    /// with nftables and tc ([`RunNet`]).
    Netns,
    /// Every node on the host's loopback, as plain processes; faults
    /// without root.
    Local,
}

impl NetMode {
    /// The name used on the command line and in configurations.
    pub fn as_str(self) -> &'static str {
        match self {
            NetMode::Netns => "netns",
            NetMode::Local => "local",
        }
    }
}

impl fmt::Display for NetMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NetMode {
    type Err = NetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "netns" => Ok(NetMode::Netns),
            "local" => Ok(NetMode::Local),
            other => Err(NetError::Invalid(format!(
                "unknown network mode `{other}`: expected `netns` or `local`"
            ))),
        }
    }
}

/// The mode to use when none is asked for: [`NetMode::Netns`] when
/// [`netns_available`], else [`NetMode::Local`] with the one-line reason.
pub fn default_mode() -> (NetMode, Option<String>) {
    match netns_available() {
        Ok(()) => (NetMode::Netns, None),
        Err(why) => (NetMode::Local, Some(why)),
    }
}

/// Whether [`RunNet`] can work here: root, `ip` and a firewall tool
/// (`nft`, or `iptables-restore`) present, and network namespaces can be
/// made. The error is one line saying what is missing. Checked once per
/// process. (`tc`, for packet faults, comes with `ip` in iproute2; without
/// it [`RunNet::set_packet`] says so.)
pub fn netns_available() -> Result<(), String> {
    static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
    AVAILABLE.get_or_init(check_netns).clone()
}

fn check_netns() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err("network namespaces need root (run as root, or use --net local)".into());
    }
    let tools = cmd::tools();
    if tools.ip.is_none() {
        return Err("`ip` (iproute2) is not installed".into());
    }
    if tools.nft.is_none() && tools.iptables_restore.is_none() {
        return Err("neither `nft` (nftables) nor `iptables-restore` is installed".into());
    }
    netns::can_unshare_net().map_err(|e| format!("cannot create network namespaces: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_mode_round_trips_and_rejects_unknown() {
        for mode in [NetMode::Netns, NetMode::Local] {
            assert_eq!(mode.to_string().parse::<NetMode>().unwrap(), mode);
        }
        let err = "docker".parse::<NetMode>().unwrap_err().to_string();
        assert!(err.contains("docker") && err.contains("netns"), "{err}");
    }

    #[test]
    fn command_error_names_the_command_and_stderr() {
        let e = NetError::Command {
            command: "ip netns add x".into(),
            status: "exit status: 1".into(),
            stderr: "File exists".into(),
        };
        assert_eq!(
            e.to_string(),
            "`ip netns add x` failed (exit status: 1): File exists"
        );
    }
}
