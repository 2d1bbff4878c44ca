//! A test's whole configuration: what `skeptic test` was asked to do, with
//! the seed. Stored as `test.json` in the run's directory, it is enough to
//! run the same test again.

use crate::db::Protocol;
use crate::nemesis::plan::{Aim, FaultKind};
use crate::nemesis::FaultSupport;
use crate::net::NetMode;
use std::path::PathBuf;
use target_kv::server::{arg_name, ConsensusArg, FsyncArg, ReadsArg};
use workloads::WorkloadKind;

/// Which cluster to test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The bundled store, started here as local processes.
    Bundled,
    /// etcd (Debian's `etcd-server`), started here as local processes.
    Etcd,
    /// A running cluster given by its addresses (client traffic only).
    External,
}

impl Target {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Target::Bundled => "bundled",
            Target::Etcd => "etcd",
            Target::External => "external",
        }
    }

    /// Whether this harness starts its processes (and can kill them).
    pub fn controls_processes(self) -> bool {
        matches!(self, Target::Bundled | Target::Etcd)
    }
}

/// Everything a test run needs.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TestConfig {
    /// The test's name: the directory under the store.
    pub name: String,
    /// Which cluster.
    pub target: Target,
    /// Nodes to start (bundled, etcd).
    pub nodes: usize,
    /// The bundled store's consensus variant.
    pub consensus: ConsensusArg,
    /// The bundled store's read path.
    pub reads: ReadsArg,
    /// The bundled store's WAL sync policy.
    pub fsync: FsyncArg,
    /// What the clients do, and how the history is judged.
    pub workload: WorkloadKind,
    /// Fault kinds the nemesis toggles (empty: none).
    pub nemesis: Vec<FaultKind>,
    /// Seconds between nemesis steps.
    pub nemesis_interval_s: f64,
    /// Where the nemesis aims its faults.
    pub nemesis_targets: Aim,
    /// Seconds of workload (and faults).
    pub time_limit_s: f64,
    /// Client threads.
    pub concurrency: usize,
    /// Offered load in operations per second over all threads (open loop);
    /// `None`: closed loop, each thread sends its next operation when the
    /// last one ends.
    pub rate: Option<f64>,
    /// Keys in use at once.
    pub keys: usize,
    /// The seed of the operation streams and the fault schedule.
    pub seed: u64,
    /// The results store's root.
    pub store: PathBuf,
    /// Client timeout per operation, in ms.
    pub op_timeout_ms: u64,
    /// After healing, how long the cluster may take to serve reads again.
    pub recovery_timeout_s: f64,
    /// Client addresses (external target).
    pub addresses: Vec<String>,
    /// The protocol of an external target.
    pub protocol: Protocol,
    /// Extra flags for every bundled node (e.g. `--lease-ms 500`).
    pub node_args: Vec<String>,
    /// Give up checking after this many seconds (verdict unknown).
    pub check_timeout_s: f64,
    /// The nodes' network: their own namespaces, or loopback; `None`:
    /// namespaces where this machine allows them (root, iproute2 and
    /// nftables or iptables). A stored run holds the one it used.
    pub net: Option<NetMode>,
    /// The packet nemesis's settings (`delay=50ms,jitter=10ms,loss=5%`);
    /// `None`: a default the kernel can make.
    pub packet: Option<String>,
    /// Start each node in a time namespace with a monotonic clock offset
    /// of its own, fixed at start (for programs libfaketime cannot skew).
    pub monotonic_offsets: bool,
}

impl Default for TestConfig {
    /// The embedded default: 3 bundled nodes, Multi-Paxos, log reads, fsync
    /// always, the register workload with 10 clients for 30 s, and every
    /// fault every 5 s.
    fn default() -> Self {
        TestConfig {
            name: String::new(),
            target: Target::Bundled,
            nodes: 3,
            consensus: ConsensusArg::Multi,
            reads: ReadsArg::Log,
            fsync: FsyncArg::Always,
            workload: WorkloadKind::Register,
            nemesis: FaultKind::ALL.to_vec(),
            nemesis_interval_s: 5.0,
            nemesis_targets: Aim::Random,
            time_limit_s: 30.0,
            concurrency: 10,
            rate: None,
            keys: 3,
            seed: 0,
            store: PathBuf::from("store"),
            op_timeout_ms: 3000,
            recovery_timeout_s: 30.0,
            addresses: Vec::new(),
            protocol: Protocol::Skeptic,
            node_args: Vec::new(),
            check_timeout_s: 300.0,
            net: None,
            packet: None,
            monotonic_offsets: false,
        }
    }
}

impl TestConfig {
    /// The network this run uses, and why it is not namespaces when it
    /// could have been asked for (a one-line note). An external cluster
    /// runs wherever it runs: loopback as far as placement goes.
    pub fn resolved_net(&self) -> Result<(NetMode, Option<String>), String> {
        if self.target == Target::External {
            return match self.net {
                Some(NetMode::Netns) => {
                    Err("--net netns needs nodes this harness starts (bundled or etcd)".into())
                }
                _ => Ok((NetMode::Local, None)),
            };
        }
        if self.monotonic_offsets && self.target == Target::External {
            return Err("--monotonic-offsets needs nodes this harness starts".into());
        }
        match self.net {
            Some(NetMode::Netns) => crate::net::netns_available()
                .map(|()| (NetMode::Netns, None))
                .map_err(|why| format!("--net netns is not possible here: {why}")),
            Some(NetMode::Local) => Ok((NetMode::Local, None)),
            None => match crate::net::default_mode() {
                // Without libfaketime, the bundled store's clocks can be
                // skewed only through its hooks, on loopback.
                (NetMode::Netns, _)
                    if self.target == Target::Bundled
                        && self.nemesis.contains(&FaultKind::Clock)
                        && crate::db::fake_clock::library().is_none() =>
                {
                    Ok((
                        NetMode::Local,
                        Some(
                            "clock faults without the fault hooks need libfaketime \
                             (apt-get install faketime)"
                                .into(),
                        ),
                    ))
                }
                other => Ok(other),
            },
        }
    }

    /// What the nemesis will have to work with on `net`: used to refuse a
    /// fault before anything starts.
    pub fn fault_support(&self, net: NetMode) -> FaultSupport {
        let netns = net == NetMode::Netns;
        FaultSupport {
            fault_hooks: self.target == Target::Bundled && !netns,
            controls_processes: self.target.controls_processes(),
            real_network: netns,
            fake_clocks: self.uses_fake_clocks(net),
        }
    }

    /// Whether the nodes get libfaketime clocks: bundled nodes without
    /// fault hooks, when clock faults are asked for and libfaketime is
    /// installed. (etcd is Go: libfaketime cannot skew it.)
    pub fn uses_fake_clocks(&self, net: NetMode) -> bool {
        self.target == Target::Bundled
            && net == NetMode::Netns
            && self.nemesis.contains(&FaultKind::Clock)
            && crate::db::fake_clock::library().is_some()
    }

    /// The name used when none was given: workload, target and the variant
    /// that matters (`register-bundled-multi-log`).
    pub fn default_name(&self) -> String {
        match self.target {
            Target::Bundled => format!(
                "{}-bundled-{}-{}",
                self.workload,
                arg_name(self.consensus),
                arg_name(self.reads)
            ),
            t => format!("{}-{}", self.workload, t.name()),
        }
    }

    /// Checks values clap cannot; the message says what to change.
    pub fn validate(&self) -> Result<(), String> {
        let positive = |v: f64, flag: &str| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("{flag} takes a positive number of seconds"))
            }
        };
        positive(self.time_limit_s, "--time-limit")?;
        positive(self.nemesis_interval_s, "--nemesis-interval")?;
        positive(self.recovery_timeout_s, "--recovery-timeout")?;
        if !(1..=1000).contains(&self.concurrency) {
            return Err("--concurrency takes 1 to 1000".into());
        }
        if self.nemesis_targets == Aim::Leader && self.target != Target::Bundled {
            // Only the bundled store's status names its leader; elsewhere
            // "the leader" would silently be a random node.
            return Err(
                "--nemesis-targets leader needs --target bundled (its status names the leader)"
                    .into(),
            );
        }
        if self.target == Target::External && self.addresses.is_empty() {
            return Err("--target external needs --addresses host:port,...".into());
        }
        if !(1..=9).contains(&self.nodes) {
            return Err("--nodes takes 1 to 9".into());
        }
        if self.keys == 0 {
            return Err("--keys takes at least 1".into());
        }
        if self.op_timeout_ms < 10 {
            return Err("--op-timeout takes at least 10 ms".into());
        }
        if let Some(r) = self.rate {
            if !(r.is_finite() && r > 0.0) {
                return Err("--rate takes a positive number of operations per second".into());
            }
        }
        if self.name.contains('/') || self.name.contains("..") || self.name == "latest" {
            return Err(format!("--name {:?} cannot be a directory name", self.name));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_configuration_reads_back_the_same() {
        let mut c = TestConfig {
            seed: 42,
            rate: Some(250.0),
            nemesis: vec![FaultKind::Kill],
            ..TestConfig::default()
        };
        c.name = c.default_name();
        let mut json = serde_json::to_value(&c).expect("serialize");
        // Runs store a few more fields; they are ignored on reading.
        json["model"] = "cas-register".into();
        let back: TestConfig = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, c);
        assert_eq!(c.name, "register-bundled-multi-log");
    }

    #[test]
    fn a_hand_edited_variant_is_refused_when_read() {
        let mut json = serde_json::to_value(TestConfig::default()).expect("serialize");
        assert_eq!(json["consensus"], "multi");
        assert_eq!(json["workload"], "register");
        json["reads"] = "sloppy".into();
        let err = serde_json::from_value::<TestConfig>(json).unwrap_err();
        assert!(err.to_string().contains("sloppy"), "{err}");
    }

    #[test]
    fn validation_names_the_flag() {
        let bad = TestConfig {
            concurrency: 0,
            ..TestConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("--concurrency"));
        assert!(TestConfig::default().validate().is_ok());
    }
}
