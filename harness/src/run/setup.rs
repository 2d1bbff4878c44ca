//! The first phase of a run: refuse a configuration that cannot work
//! before anything starts, then make the run directory, the history file
//! and the cluster, and wait until every node serves.

use super::clients::Shared;
use super::Programs;
use crate::client;
use crate::config::{Target, TestConfig};
use crate::db::fake_clock::FakeClocks;
use crate::db::{
    BundledDb, BundledOptions, Db, EtcdDb, EtcdOptions, ExternalDb, Placement, Protocol,
};
use crate::error::RunError;
use crate::nemesis::plan::FaultKind;
use crate::nemesis::{lock_db, unsupported, SharedDb};
use crate::net::netns::RunNet;
use crate::net::packet::PacketSpec;
use crate::net::NetMode;
use crate::progress::Progress;
use crate::recorder::Recorder;
use results::store::RunDir;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use target_kv::server::arg_name;
use workloads::store::{KvClient, StoreOp};
use workloads::WorkloadOptions;

/// Everything a run has once its cluster is up.
pub(super) struct Prepared {
    /// The run's directory.
    pub dir: RunDir,
    /// The history being written.
    pub recorder: Arc<Recorder>,
    /// The cluster.
    pub db: SharedDb,
    /// One client per node, for readiness checks and final reads.
    pub node_clients: Vec<Arc<dyn KvClient>>,
    /// What the client threads share.
    pub shared: Arc<Shared>,
    /// How clients talk to the nodes.
    pub protocol: Protocol,
    /// The packet nemesis's settings.
    pub packet: PacketSpec,
    /// Kills the cluster if the run ends early; declared last so that it
    /// drops after everything that uses the cluster.
    pub _teardown: TeardownGuard,
}

/// Kills the cluster's processes if the run ends without tearing down
/// (an early return or a panic).
pub(super) struct TeardownGuard(pub SharedDb);

impl Drop for TeardownGuard {
    fn drop(&mut self) {
        lock_db(&self.0).teardown();
    }
}

/// Checks the configuration, then creates the run directory, the history
/// file and the cluster. A refused configuration starts nothing, makes no
/// directory and leaves `latest` where it was.
pub(super) fn prepare(config: &TestConfig, programs: &Programs) -> Result<Prepared, RunError> {
    config.validate().map_err(RunError::Config)?;
    let (net, why_local) = config.resolved_net().map_err(RunError::Config)?;
    if let Some(why) = crate::nemesis::unsupported_by(
        config.target.name(),
        config.fault_support(net),
        &config.nemesis,
    ) {
        return Err(RunError::Config(why));
    }
    let packet = packet_spec(config, net)?;
    if let Some(why) = why_local {
        tracing::info!("network: local ({why})");
    }
    let dir =
        RunDir::create(&config.store, &config.name).map_err(|e| RunError::Setup(e.to_string()))?;
    // The stored configuration says which network and packet settings were
    // used, so a rerun repeats them.
    let config = &TestConfig {
        net: Some(net),
        packet: Some(packet.to_string()),
        ..config.clone()
    };
    let mut stored = serde_json::to_value(config).map_err(|e| RunError::Results(e.to_string()))?;
    stored["skeptic_version"] = env!("CARGO_PKG_VERSION").into();
    let workload = workloads::make(
        config.workload,
        &WorkloadOptions {
            threads: config.concurrency,
            keys: config.keys,
            ..WorkloadOptions::default()
        },
    );
    if let Some(m) = workload.model() {
        stored["model"] = m.name().into();
    }
    dir.write_json("test.json", &stored)
        .map_err(|e| RunError::Results(e.to_string()))?;
    let recorder = Arc::new(
        Recorder::create(&dir.history_path())
            .map_err(|e| RunError::Setup(format!("cannot create the history file: {e}")))?,
    );

    let placement = placement(config, net, &dir)?;
    let db: SharedDb = Arc::new(Mutex::new(setup_db(config, programs, &dir, placement)?));
    let teardown = TeardownGuard(db.clone());
    if let Some(why) = unsupported(&mut **lock_db(&db), &config.nemesis) {
        return Err(RunError::Config(why));
    }
    let protocol = lock_db(&db).protocol();
    let timeout = Duration::from_millis(config.op_timeout_ms);
    let node_clients: Vec<Arc<dyn KvClient>> = {
        let db = lock_db(&db);
        (0..db.nodes())
            .map(|n| client::connect(protocol, &db.client_url(n), timeout))
            .collect::<Result<_, _>>()
            .map_err(|e| RunError::Setup(format!("cannot build an HTTP client: {e}")))?
    };
    let shared = Arc::new(Shared {
        config: config.clone(),
        workload,
        recorder: recorder.clone(),
        progress: Arc::new(Progress::default()),
    });
    Ok(Prepared {
        packet,
        dir,
        recorder,
        db,
        node_clients,
        shared,
        protocol,
        _teardown: teardown,
    })
}

/// The packet nemesis's settings: the configured ones, or a default this
/// kernel can make (delay needs tc netem).
fn packet_spec(config: &TestConfig, net: NetMode) -> Result<PacketSpec, RunError> {
    let text = match &config.packet {
        Some(t) => t.clone(),
        None if net == NetMode::Netns && crate::net::packet::netem_supported() => {
            "delay=50ms,jitter=10ms,loss=5%".into()
        }
        None => "loss=5%".into(),
    };
    let spec: PacketSpec = text
        .parse()
        .map_err(|e| RunError::Config(format!("--packet {text:?}: {e}")))?;
    if net == NetMode::Netns && config.nemesis.contains(&FaultKind::Packet) {
        crate::net::packet::check_supported(&spec, crate::net::packet::Capabilities::detect())
            .map_err(|e| RunError::Config(format!("--packet {text:?}: {e}")))?;
    }
    Ok(spec)
}

/// Where the nodes run: loopback, or namespaces of a network made for
/// this run (with libfaketime clocks and time namespaces when asked for).
fn placement(config: &TestConfig, net: NetMode, dir: &RunDir) -> Result<Placement, RunError> {
    let mut placement = match net {
        NetMode::Local => Placement::local(),
        NetMode::Netns => {
            let id = crate::net::netns::random_run_id();
            let run_net = RunNet::create(&id, config.nodes)
                .map_err(|e| RunError::Setup(format!("cannot make the run's network: {e}")))?;
            tracing::info!(
                "network: namespaces of run {id}, subnet {}",
                run_net.subnet()
            );
            Placement::netns(run_net)
        }
    };
    if config.uses_fake_clocks(net) {
        let clocks =
            FakeClocks::create(&dir.path.join("clocks"), config.nodes).map_err(RunError::Setup)?;
        placement = placement.with_clocks(clocks);
    }
    if config.monotonic_offsets {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Err(RunError::Config(
                "--monotonic-offsets needs root (a time namespace per node)".into(),
            ));
        }
        // Hours apart, so no two nodes' monotonic clocks come near.
        let offsets = (0..config.nodes as u64)
            .map(|n| 3_600 * (n + 1) + config.seed % 600)
            .collect();
        placement = placement.with_monotonic_offsets(offsets);
    }
    Ok(placement)
}

fn setup_db(
    config: &TestConfig,
    programs: &Programs,
    dir: &RunDir,
    placement: Placement,
) -> Result<Box<dyn Db>, RunError> {
    Ok(match config.target {
        Target::Bundled => Box::new(
            BundledDb::setup(
                &BundledOptions {
                    program: programs.bundled_node.clone(),
                    nodes: config.nodes,
                    consensus: arg_name(config.consensus),
                    reads: arg_name(config.reads),
                    fsync: arg_name(config.fsync),
                    // The node answers "timeout" (indeterminate) before the
                    // client gives up, so the history says which it was.
                    node_op_timeout_ms: (config.op_timeout_ms * 2 / 3).max(5),
                    data_dir: dir.path.join("data"),
                    logs_dir: dir.logs_dir(),
                    extra_args: config.node_args.clone(),
                },
                placement,
            )
            .map_err(|e| RunError::Setup(e.to_string()))?,
        ),
        Target::Etcd => {
            let program = EtcdDb::find_binary().ok_or_else(|| {
                RunError::Setup(
                    "etcd is not installed (on Debian: apt-get install etcd-server)".into(),
                )
            })?;
            Box::new(
                EtcdDb::setup(
                    &EtcdOptions {
                        program,
                        nodes: config.nodes,
                        data_dir: dir.path.join("data"),
                        logs_dir: dir.logs_dir(),
                    },
                    placement,
                )
                .map_err(|e| RunError::Setup(e.to_string()))?,
            )
        }
        Target::External => Box::new(ExternalDb::new(config.addresses.clone(), config.protocol)),
    })
}

/// Waits until every node serves a read (bounded); a read of a key no
/// workload uses, not recorded.
pub async fn wait_ready(clients: &[Arc<dyn KvClient>], timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    for (i, c) in clients.iter().enumerate() {
        loop {
            let probe = StoreOp::Get {
                key: "skeptic-probe".into(),
            };
            match c.call(probe).await {
                Ok(_) => break,
                Err(e) if Instant::now() >= deadline => {
                    return Err(format!(
                        "node {} did not serve a read within {timeout:?}: {e}",
                        i + 1
                    ))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
    Ok(())
}
