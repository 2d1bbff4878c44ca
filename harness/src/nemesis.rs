//! The nemesis: starts and stops faults on a cluster, checks that each one
//! took effect, records its start and end in the history, and undoes every
//! fault at the end, whatever happened.
//!
//! On loopback, partitions and clock faults go through the bundled store's
//! fault hooks. On a real network (`--net netns`) partitions are nftables
//! rules and packet faults tc netem or nftables ([`network`]), for any
//! store, and clock faults go through libfaketime for stores that read
//! time through libc ([`crate::db::fake_clock`]). Kills and pauses are
//! signals to the node's process group. The decisions (which fault, which
//! nodes) come from [`plan::Planner`], a pure function of the seed.

pub mod network;
pub mod partition;
pub mod plan;

use crate::db::fake_clock::ClockSetting;
use crate::db::process::proc_state;
use crate::db::Db;
use crate::net::packet::PacketSpec;
use crate::recorder::{Entry, Recorder};
use checker::{Process, RecordType, Value};
use partition::{Grudge, PartitionShape};
use plan::{ClockFault, FaultKind, FaultPlan, PacketLinks, Targets};
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How long a fault-hook or status call may take.
const HOOK_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a fault may take to show its effect (a stopped process's state,
/// a restarted node's port).
const EFFECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The cluster, shared by the nemesis and the runner's teardown.
pub type SharedDb = Arc<Mutex<Box<dyn Db>>>;

/// Locks the cluster; a panic elsewhere does not stop the teardown.
pub fn lock_db(db: &SharedDb) -> std::sync::MutexGuard<'_, Box<dyn Db>> {
    db.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether a fault's effect was seen.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FaultEvent {
    /// The kind.
    pub kind: FaultKind,
    /// `start` or `stop`.
    pub phase: &'static str,
    /// What was done, in words.
    pub description: String,
    /// `None` when the effect was seen; else what was wrong.
    pub problem: Option<String>,
    /// Seconds since the test began.
    pub at_s: u64,
}

/// A fault in force.
enum Active {
    Partition {
        grudge: Grudge,
    },
    Kill {
        nodes: Vec<usize>,
    },
    Pause {
        nodes: Vec<usize>,
    },
    Clock {
        nodes: Vec<usize>,
        strobes: Vec<JoinHandle<()>>,
    },
    Packet,
}

/// Starts, checks, records and undoes faults.
pub struct Nemesis {
    db: SharedDb,
    http: reqwest::Client,
    recorder: Arc<Recorder>,
    active: BTreeMap<FaultKind, Active>,
    events: Vec<FaultEvent>,
    packet: PacketSpec,
}

/// What a cluster offers the nemesis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultSupport {
    /// The bundled store's fault hooks (partitions and clocks, cooperative).
    pub fault_hooks: bool,
    /// This harness started the nodes and can signal them.
    pub controls_processes: bool,
    /// The nodes run on a network of their own (`--net netns`).
    pub real_network: bool,
    /// The nodes' clocks are libfaketime's.
    pub fake_clocks: bool,
}

impl FaultSupport {
    /// What a running cluster offers.
    pub fn of(db: &mut dyn Db) -> FaultSupport {
        let placement = db
            .placement_mut()
            .map(|p| (p.net().is_some(), p.has_clocks()));
        let (real_network, fake_clocks) = placement.unwrap_or_default();
        FaultSupport {
            fault_hooks: db.fault_url(0).is_some(),
            controls_processes: db.controls_processes(),
            real_network,
            fake_clocks,
        }
    }
}

/// Why a fault cannot be used on a cluster.
pub fn unsupported(db: &mut dyn Db, kinds: &[FaultKind]) -> Option<String> {
    let name = db.name();
    unsupported_by(name, FaultSupport::of(db), kinds)
}

/// [`unsupported`] for a target known only by what it offers. Used to
/// refuse a run before anything starts.
pub fn unsupported_by(name: &str, support: FaultSupport, kinds: &[FaultKind]) -> Option<String> {
    for k in kinds {
        let why = match k {
            FaultKind::Partition if !(support.fault_hooks || support.real_network) => {
                "it needs the bundled store's fault hooks or a network of its own (--net netns, as root)"
            }
            FaultKind::Clock if !(support.fault_hooks || support.fake_clocks) => {
                if name == "etcd" {
                    "etcd is a Go program and reads the clock without libc, so libfaketime cannot skew \
                     it; --monotonic-offsets starts each member with a monotonic clock of its own"
                } else {
                    "it needs the bundled store's fault hooks, or libfaketime (apt-get install faketime) \
                     for a store that reads time through libc"
                }
            }
            FaultKind::Packet if !support.real_network => {
                "it needs a network of its own (--net netns, as root)"
            }
            FaultKind::Kill | FaultKind::Pause if !support.controls_processes => {
                "it needs nodes this harness started"
            }
            _ => continue,
        };
        return Some(format!(
            "the {name} target cannot take {} faults: {why}",
            k.name()
        ));
    }
    None
}

impl Nemesis {
    /// A nemesis over a cluster, recording into `recorder`.
    pub fn new(db: SharedDb, recorder: Arc<Recorder>) -> Result<Nemesis, reqwest::Error> {
        Ok(Nemesis {
            db,
            http: reqwest::Client::builder().timeout(HOOK_TIMEOUT).build()?,
            recorder,
            active: BTreeMap::new(),
            events: Vec::new(),
            packet: PacketSpec::default(),
        })
    }

    /// The same, making packet faults with these settings.
    pub fn with_packet_spec(mut self, spec: PacketSpec) -> Nemesis {
        self.packet = spec;
        self
    }

    /// Kinds of fault in force.
    pub fn active_kinds(&self) -> Vec<FaultKind> {
        self.active.keys().copied().collect()
    }

    /// Whether a kind of fault is in force.
    pub fn is_active(&self, kind: FaultKind) -> bool {
        self.active.contains_key(&kind)
    }

    /// The grudge of the partition in force, if any.
    pub fn partition_grudge(&self) -> Option<&Grudge> {
        match self.active.get(&FaultKind::Partition) {
            Some(Active::Partition { grudge }) => Some(grudge),
            _ => None,
        }
    }

    /// Every start and stop so far, with whether its effect was seen.
    pub fn events(&self) -> &[FaultEvent] {
        &self.events
    }

    fn nodes(&self) -> usize {
        lock_db(&self.db).nodes()
    }

    /// Nodes that are neither killed nor paused: the ones that can answer.
    fn live_nodes(&self) -> Vec<usize> {
        let mut down = BTreeSet::new();
        for a in self.active.values() {
            if let Active::Kill { nodes } | Active::Pause { nodes } = a {
                down.extend(nodes.iter().copied());
            }
        }
        (0..self.nodes()).filter(|n| !down.contains(n)).collect()
    }

    fn note(
        &mut self,
        kind: FaultKind,
        phase: &'static str,
        description: String,
        problem: Option<String>,
    ) {
        if let Some(p) = &problem {
            tracing::warn!("{phase} {}: {description}: {p}", kind.name());
        }
        self.recorder.record(Entry {
            process: Process::Named("nemesis".into()),
            kind: RecordType::Info,
            f: format!("{phase}-{}", kind.name()),
            key: None,
            value: Some(Value::Str(description.clone())),
            error: problem.clone(),
        });
        self.events.push(FaultEvent {
            kind,
            phase,
            description,
            problem,
            at_s: self.recorder.start().elapsed().as_secs(),
        });
    }

    async fn hook(&self, node: usize, path: &str, body: Json) -> Result<Json, String> {
        let base = lock_db(&self.db)
            .fault_url(node)
            .ok_or_else(|| "no fault hooks".to_string())?;
        let resp = self
            .http
            .post(format!("{base}{path}"))
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("n{}{path}: {e}", node + 1))?;
        let status = resp.status();
        let body: Json = resp
            .json()
            .await
            .map_err(|e| format!("n{}{path}: {e}", node + 1))?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("n{}{path}: {status} {body}", node + 1))
        }
    }

    /// A bundled node's `/status`.
    pub async fn status(&self, node: usize) -> Result<Json, String> {
        let base = lock_db(&self.db)
            .status_url(node)
            .ok_or_else(|| "no status endpoint".to_string())?;
        let resp = self
            .http
            .get(format!("{base}/status"))
            .send()
            .await
            .map_err(|e| format!("n{}/status: {e}", node + 1))?;
        resp.json()
            .await
            .map_err(|e| format!("n{}/status: {e}", node + 1))
    }

    /// The node most live nodes name as leader.
    pub async fn leader(&self) -> Option<usize> {
        let mut votes: BTreeMap<usize, usize> = BTreeMap::new();
        for node in self.live_nodes() {
            if let Ok(s) = self.status(node).await {
                if let Some(id) = s.get("leader").and_then(Json::as_u64) {
                    *votes.entry(id as usize - 1).or_default() += 1;
                }
            }
        }
        votes.into_iter().max_by_key(|&(_, v)| v).map(|(n, _)| n)
    }

    async fn resolve(&self, targets: &Targets) -> Vec<usize> {
        match targets {
            Targets::Nodes(n) => n.clone(),
            Targets::Leader { fallback } => {
                let leader = if lock_db(&self.db).status_url(0).is_some() {
                    self.leader().await
                } else {
                    None
                };
                vec![leader.unwrap_or(*fallback)]
            }
        }
    }

    /// Starts a fault (stopping one of the same kind first), checks its
    /// effect and records it. Returns the event.
    pub async fn start(&mut self, plan: &FaultPlan) -> FaultEvent {
        let kind = plan.kind();
        if self.is_active(kind) {
            self.stop(kind).await;
        }
        let (description, problem) = match plan {
            FaultPlan::Partition { shape, shuffled } => {
                self.start_partition(*shape, shuffled).await
            }
            FaultPlan::Kill(t) => {
                let nodes = self.resolve(t).await;
                self.start_kill(nodes)
            }
            FaultPlan::Pause(t) => {
                let nodes = self.resolve(t).await;
                self.start_pause(nodes).await
            }
            FaultPlan::Clock(c) => self.start_clock(c).await,
            FaultPlan::LeaderClock(fault) => {
                let node = self
                    .resolve(&Targets::Leader {
                        fallback: fault.node(),
                    })
                    .await;
                let fault = fault.on(node[0]);
                self.start_clock(std::slice::from_ref(&fault)).await
            }
            FaultPlan::Packet(links) => self.start_packet(links).await,
        };
        self.note(kind, "start", description, problem);
        self.events.last().cloned().expect("just pushed")
    }

    /// Stops the fault of a kind (a no-op if none is in force), checks that
    /// it is undone and records it.
    pub async fn stop(&mut self, kind: FaultKind) -> Option<FaultEvent> {
        let active = self.active.remove(&kind)?;
        let (description, problem) = match active {
            Active::Partition { .. } => self.heal_partition().await,
            Active::Kill { nodes } => self.restart(nodes).await,
            Active::Pause { nodes } => self.resume(nodes).await,
            Active::Clock { nodes, strobes } => self.reset_clock(nodes, strobes).await,
            Active::Packet => self.stop_packet().await,
        };
        self.note(kind, "stop", description, problem);
        self.events.last().cloned()
    }

    /// Undoes every fault: resumes paused nodes and restarts killed ones
    /// first (so the hooks can reach them), then clears packet faults (so
    /// the partition's heal probes are not delayed or lost), heals the
    /// network and resets clocks. Called at the end of every test, also on errors and
    /// interrupts.
    pub async fn heal_all(&mut self) {
        for kind in [
            FaultKind::Pause,
            FaultKind::Kill,
            FaultKind::Packet,
            FaultKind::Partition,
            FaultKind::Clock,
        ] {
            self.stop(kind).await;
        }
    }

    async fn start_partition(
        &mut self,
        shape: PartitionShape,
        shuffled: &[usize],
    ) -> (String, Option<String>) {
        let n = shuffled.len();
        let (name, grudge) = match shape {
            PartitionShape::IsolateOne => ("isolate-one", partition::isolate(n, shuffled[0])),
            PartitionShape::IsolateLeader => {
                let leader = self.leader().await.unwrap_or(shuffled[0]);
                ("isolate-leader", partition::isolate(n, leader))
            }
            PartitionShape::Halves => {
                let ordered: Vec<usize> = (0..n).collect();
                ("halves", partition::halves(&ordered))
            }
            PartitionShape::RandomHalves => ("random-halves", partition::halves(shuffled)),
            PartitionShape::MajoritiesRing => {
                ("majorities-ring", partition::majorities_ring(shuffled))
            }
            PartitionShape::Bridge => ("bridge", partition::bridge(shuffled)),
            PartitionShape::OneWay => ("one-way", partition::one_way(n, shuffled[0])),
        };
        let description = format!("{name}: {}", partition::describe(&grudge));
        if network::has_net(&self.db) {
            let drops = network::drops_of(&grudge);
            let wait = self.probe_wait();
            let problem = self
                .blocking(move |db| network::set_drops(&db, &drops, wait))
                .await;
            self.active
                .insert(FaultKind::Partition, Active::Partition { grudge });
            return (description, problem.err());
        }
        let mut problems = Vec::new();
        // Blocking on either side cuts a link both ways, so nodes that are
        // down now are still cut off by their peers.
        let live = self.live_nodes();
        for &node in &live {
            let peers: Vec<usize> = grudge[node].iter().map(|p| p + 1).collect();
            if let Err(e) = self
                .hook(node, "/fault/block", json!({ "peers": peers }))
                .await
            {
                problems.push(e);
            }
        }
        for &node in &live {
            if let Err(e) = self.wait_partitioned(node, &grudge[node]).await {
                problems.push(e);
            }
        }
        self.active
            .insert(FaultKind::Partition, Active::Partition { grudge });
        (description, joined(problems))
    }

    /// Polls a node's status (bounded) until it blocks exactly `cut` and
    /// reports none of them reachable: its links are refreshed on a timer,
    /// so the effect shows a moment after the hook returns.
    async fn wait_partitioned(&self, node: usize, cut: &BTreeSet<usize>) -> Result<(), String> {
        let deadline = Instant::now() + EFFECT_TIMEOUT;
        loop {
            let s = self.status(node).await?;
            let blocked: BTreeSet<usize> = s["blocked"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Json::as_u64)
                        .map(|p| p as usize - 1)
                        .collect()
                })
                .unwrap_or_default();
            let reached: Vec<usize> = cut
                .iter()
                .copied()
                .filter(|p| s["reachable"][(p + 1).to_string()].as_bool() != Some(false))
                .collect();
            if blocked == *cut && reached.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "n{} blocks {}, should block {}; still reaches {}",
                    node + 1,
                    names(&blocked.into_iter().collect::<Vec<_>>()),
                    names(&cut.iter().copied().collect::<Vec<_>>()),
                    names(&reached)
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// How long a partition's probe waits: loopback-fast, plus what a
    /// packet fault in force may add.
    fn probe_wait(&self) -> Duration {
        let mut wait = network::PROBE_WAIT;
        if self.is_active(FaultKind::Packet) {
            wait += 2 * (self.packet.delay + self.packet.jitter);
        }
        wait
    }

    /// Runs network commands and probes on a blocking thread.
    async fn blocking(
        &self,
        f: impl FnOnce(SharedDb) -> Result<(), String> + Send + 'static,
    ) -> Result<(), String> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(db))
            .await
            .unwrap_or_else(|e| Err(format!("the network task failed: {e}")))
    }

    async fn start_packet(&mut self, links: &PacketLinks) -> (String, Option<String>) {
        let description = format!("{} on {}", self.packet, network::describe_links(links));
        let (links, spec) = (links.clone(), self.packet.clone());
        let problem = self
            .blocking(move |db| network::start_packet(&db, &links, &spec))
            .await;
        self.active.insert(FaultKind::Packet, Active::Packet);
        (description, problem.err())
    }

    async fn stop_packet(&mut self) -> (String, Option<String>) {
        let problem = self.blocking(|db| network::stop_packet(&db)).await;
        ("packet faults cleared".into(), problem.err())
    }

    async fn heal_partition(&mut self) -> (String, Option<String>) {
        if network::has_net(&self.db) {
            let wait = self.probe_wait();
            let problem = self
                .blocking(move |db| network::set_drops(&db, &BTreeSet::new(), wait))
                .await;
            return ("healed".into(), problem.err());
        }
        let mut problems = Vec::new();
        for node in self.live_nodes() {
            if let Err(e) = self.hook(node, "/fault/heal", json!({})).await {
                problems.push(e);
                continue;
            }
            match self.status(node).await {
                Ok(s) if s["blocked"].as_array().is_some_and(Vec::is_empty) => {}
                Ok(s) => problems.push(format!("n{} still blocks {}", node + 1, s["blocked"])),
                Err(e) => problems.push(e),
            }
        }
        ("healed".into(), joined(problems))
    }

    fn start_kill(&mut self, nodes: Vec<usize>) -> (String, Option<String>) {
        let mut problems = Vec::new();
        let mut db = lock_db(&self.db);
        for &node in &nodes {
            if let Err(e) = db.kill(node) {
                problems.push(e.to_string());
            }
            if db.is_running(node) {
                problems.push(format!("n{} is still running", node + 1));
            }
        }
        drop(db);
        let description = format!("killed {}", names(&nodes));
        self.active.insert(FaultKind::Kill, Active::Kill { nodes });
        (description, joined(problems))
    }

    async fn restart(&mut self, nodes: Vec<usize>) -> (String, Option<String>) {
        let mut problems = Vec::new();
        for &node in &nodes {
            if let Err(e) = lock_db(&self.db).start(node) {
                problems.push(e.to_string());
            }
        }
        for &node in &nodes {
            if let Err(e) = self.wait_listening(node).await {
                problems.push(e);
            }
        }
        (format!("restarted {}", names(&nodes)), joined(problems))
    }

    /// Waits (bounded) until a node accepts connections on its client port.
    async fn wait_listening(&self, node: usize) -> Result<(), String> {
        let url = lock_db(&self.db).client_url(node);
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let deadline = Instant::now() + EFFECT_TIMEOUT;
        loop {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "n{} does not listen on {addr} after restart",
                    node + 1
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn start_pause(&mut self, nodes: Vec<usize>) -> (String, Option<String>) {
        let mut problems = Vec::new();
        let mut pids = Vec::new();
        {
            let mut db = lock_db(&self.db);
            for &node in &nodes {
                match db.pause(node) {
                    Ok(()) => pids.extend(db.pid(node)),
                    Err(e) => problems.push(e.to_string()),
                }
            }
        }
        for pid in pids {
            if !wait_state(pid, |s| s == Some('T')).await {
                problems.push(format!("pid {pid} is not stopped ({:?})", proc_state(pid)));
            }
        }
        let description = format!("paused {}", names(&nodes));
        self.active
            .insert(FaultKind::Pause, Active::Pause { nodes });
        (description, joined(problems))
    }

    async fn resume(&mut self, nodes: Vec<usize>) -> (String, Option<String>) {
        let mut problems = Vec::new();
        let mut pids = Vec::new();
        {
            let mut db = lock_db(&self.db);
            for &node in &nodes {
                match db.resume(node) {
                    Ok(()) => pids.extend(db.pid(node)),
                    // Killed while paused: the kill's restart brings it back.
                    Err(e) if !db.is_running(node) => tracing::debug!("resume n{}: {e}", node + 1),
                    Err(e) => problems.push(e.to_string()),
                }
            }
        }
        for pid in pids {
            if !wait_state(pid, |s| s != Some('T')).await {
                problems.push(format!("pid {pid} is still stopped"));
            }
        }
        (format!("resumed {}", names(&nodes)), joined(problems))
    }

    /// Starts a clock fault on each of its nodes (Jepsen's clock nemesis
    /// skews a random subset of nodes, each its own way).
    async fn start_clock(&mut self, faults: &[ClockFault]) -> (String, Option<String>) {
        let mut problems = Vec::new();
        let mut nodes = Vec::new();
        let mut strobes = Vec::new();
        let mut words = Vec::new();
        let fake = lock_db(&self.db).fault_url(0).is_none();
        for fault in faults {
            let (node, description, strobe) = if fake {
                self.start_fake_clock_one(fault, &mut problems).await
            } else {
                self.start_clock_one(fault, &mut problems).await
            };
            nodes.push(node);
            strobes.extend(strobe);
            words.push(description);
        }
        self.active
            .insert(FaultKind::Clock, Active::Clock { nodes, strobes });
        (words.join("; "), joined(problems))
    }

    async fn start_clock_one(
        &mut self,
        fault: &ClockFault,
        problems: &mut Vec<String>,
    ) -> (usize, String, Option<JoinHandle<()>>) {
        match *fault {
            ClockFault::Bump { node, offset_ms } => {
                let before = self.clock_offset(node).await.unwrap_or(0);
                if let Err(e) = self
                    .hook(node, "/fault/clock", json!({ "offset_ms": offset_ms }))
                    .await
                {
                    problems.push(e);
                }
                match self.clock_offset(node).await {
                    // The clock never reads below zero, so a backwards jump
                    // on a young node may be cut short.
                    Some(after) if offset_ms < 0 && after < before => {}
                    Some(after) if (after - before - offset_ms).abs() <= 500 => {}
                    Some(after) => problems.push(format!(
                        "n{} clock moved {} ms, wanted {offset_ms}",
                        node + 1,
                        after - before
                    )),
                    None => problems.push(format!("n{} did not report its clock", node + 1)),
                }
                (
                    node,
                    format!("bumped n{} clock by {offset_ms} ms", node + 1),
                    None,
                )
            }
            ClockFault::Drift { node, rate } => {
                if let Err(e) = self
                    .hook(
                        node,
                        "/fault/clock",
                        json!({ "offset_ms": 0, "rate": rate }),
                    )
                    .await
                {
                    problems.push(e);
                }
                match self.status(node).await {
                    Ok(s) if s["clock"]["rate"].as_f64() == Some(rate) => {}
                    Ok(s) => problems.push(format!(
                        "n{} clock rate is {}",
                        node + 1,
                        s["clock"]["rate"]
                    )),
                    Err(e) => problems.push(e),
                }
                (node, format!("n{} clock runs at {rate}x", node + 1), None)
            }
            ClockFault::Strobe {
                node,
                delta_ms,
                period_ms,
            } => {
                let before = self.clock_offset(node).await.unwrap_or(0);
                if let Err(e) = self
                    .hook(node, "/fault/clock", json!({ "offset_ms": delta_ms }))
                    .await
                {
                    problems.push(e);
                }
                match self.clock_offset(node).await {
                    Some(after) if (after - before - delta_ms).abs() <= 500 => {}
                    other => problems.push(format!("n{} clock did not jump: {other:?}", node + 1)),
                }
                let strobe = self.spawn_strobe(node, delta_ms, period_ms);
                (
                    node,
                    format!(
                        "strobing n{} clock by {delta_ms} ms every {period_ms} ms",
                        node + 1
                    ),
                    strobe,
                )
            }
        }
    }

    /// Flips the clock back and forth until aborted.
    fn spawn_strobe(&self, node: usize, delta_ms: i64, period_ms: u64) -> Option<JoinHandle<()>> {
        let base = lock_db(&self.db).fault_url(node)?;
        let http = self.http.clone();
        Some(tokio::spawn(async move {
            let mut sign = -1;
            let mut tick = tokio::time::interval(Duration::from_millis(period_ms.max(10)));
            tick.tick().await;
            loop {
                tick.tick().await;
                let body = json!({ "offset_ms": sign * delta_ms });
                // A paused or partitioned node misses flips; that is fine.
                let _ = http
                    .post(format!("{base}/fault/clock"))
                    .json(&body)
                    .send()
                    .await;
                sign = -sign;
            }
        }))
    }

    async fn clock_offset(&self, node: usize) -> Option<i64> {
        self.status(node).await.ok()?["clock"]["offset_ms"].as_i64()
    }

    /// Sets a node's libfaketime clock.
    fn set_fake_clock(&self, node: usize, setting: ClockSetting) -> Result<(), String> {
        let mut db = lock_db(&self.db);
        let clocks = db
            .placement_mut()
            .and_then(|p| p.clocks_mut())
            .ok_or("the nodes have no libfaketime clocks")?;
        clocks.set(node, setting)
    }

    fn fake_setting(&self, node: usize) -> ClockSetting {
        lock_db(&self.db)
            .placement_mut()
            .and_then(|p| p.clocks_mut().map(|c| c.setting(node)))
            .unwrap_or(ClockSetting::REAL)
    }

    /// How far a node's wall clock is from ours, from its status.
    async fn wall_offset_ms(&self, node: usize) -> Result<i64, String> {
        let s = self.status(node).await?;
        let theirs = s["wall_ms"]
            .as_i64()
            .ok_or_else(|| format!("n{} reports no wall clock", node + 1))?;
        let ours = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Ok(theirs - ours)
    }

    /// Waits (bounded: libfaketime re-reads its file every second) until
    /// the node's wall clock is `want_ms` off ours, within half a second.
    async fn wait_wall_offset(&self, node: usize, want_ms: i64) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(crate::db::fake_clock::CACHE_S + 3);
        loop {
            let seen = self.wall_offset_ms(node).await;
            match seen {
                Ok(o) if (o - want_ms).abs() <= 500 => return Ok(()),
                _ if Instant::now() >= deadline => {
                    return Err(format!(
                        "n{} clock is {seen:?} ms off, wanted {want_ms}",
                        node + 1
                    ))
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Sets a node's libfaketime clock to a new offset and, on a live node
    /// whose clock runs at the real rate (a running rate moves the clock on
    /// its own), waits to see the jump on its wall clock.
    async fn jump_fake_clock(
        &self,
        node: usize,
        want: ClockSetting,
        live: bool,
    ) -> Result<(), String> {
        self.set_fake_clock(node, want)?;
        if live && want.rate == 1.0 {
            self.wait_wall_offset(node, want.offset_ms).await?;
        }
        Ok(())
    }

    /// A clock fault through libfaketime's control file, checked on the
    /// node's own wall clock.
    async fn start_fake_clock_one(
        &mut self,
        fault: &ClockFault,
        problems: &mut Vec<String>,
    ) -> (usize, String, Option<JoinHandle<()>>) {
        let node = fault.node();
        let now = self.fake_setting(node);
        // A killed or paused node cannot show its clock; its file takes
        // effect when it runs again.
        let live = self.live_nodes().contains(&node);
        let later = if live {
            ""
        } else {
            ", from when it runs again"
        };
        match *fault {
            ClockFault::Bump { offset_ms, .. } => {
                let want = ClockSetting {
                    offset_ms: now.offset_ms + offset_ms,
                    ..now
                };
                problems.extend(self.jump_fake_clock(node, want, live).await.err());
                (
                    node,
                    format!(
                        "bumped n{} clock by {offset_ms} ms (libfaketime{later})",
                        node + 1
                    ),
                    None,
                )
            }
            ClockFault::Drift { rate, .. } => {
                let r = self.set_fake_clock(node, ClockSetting { rate, ..now });
                problems.extend(r.err());
                if live {
                    problems.extend(self.wait_rate(node, rate).await.err());
                }
                (
                    node,
                    format!("n{} clock runs at {rate}x (libfaketime{later})", node + 1),
                    None,
                )
            }
            ClockFault::Strobe {
                delta_ms,
                period_ms,
                ..
            } => {
                // The first flip, checked before the strobe task exists,
                // so an abort meanwhile leaves no task behind.
                let up = ClockSetting {
                    offset_ms: now.offset_ms + delta_ms,
                    ..now
                };
                problems.extend(self.jump_fake_clock(node, up, live).await.err());
                // libfaketime sees a change only when it re-reads its file.
                let period = Duration::from_millis(period_ms)
                    .max(Duration::from_secs(2 * crate::db::fake_clock::CACHE_S));
                let db = self.db.clone();
                let strobe = tokio::spawn(async move {
                    let mut high = true;
                    let start = tokio::time::Instant::now() + period;
                    let mut tick = tokio::time::interval_at(start, period);
                    loop {
                        tick.tick().await;
                        high = !high;
                        let setting = if high { up } else { now };
                        if let Some(c) = lock_db(&db).placement_mut().and_then(|p| p.clocks_mut()) {
                            let _ = c.set(node, setting);
                        }
                    }
                });
                (
                    node,
                    format!(
                        "strobing n{} clock by {delta_ms} ms every {} ms (libfaketime{later})",
                        node + 1,
                        period.as_millis()
                    ),
                    Some(strobe),
                )
            }
        }
    }

    /// Checks (bounded) that a node's wall clock runs at `rate`: two
    /// readings a second apart, once libfaketime has read its file.
    async fn wait_rate(&self, node: usize, rate: f64) -> Result<(), String> {
        let mut last = String::new();
        for _ in 0..4 {
            let a = self.wall_offset_ms(node).await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            let b = self.wall_offset_ms(node).await?;
            // Offsets grow by (rate - 1) ms per real ms.
            let seen = 1.0 + (b - a) as f64 / 1000.0;
            if (seen - rate).abs() <= 0.25 * rate.max(1.0) {
                return Ok(());
            }
            last = format!("n{} clock runs at {seen:.2}x, wanted {rate}x", node + 1);
        }
        Err(last)
    }

    async fn reset_clock(
        &mut self,
        nodes: Vec<usize>,
        strobes: Vec<JoinHandle<()>>,
    ) -> (String, Option<String>) {
        for s in strobes {
            s.abort();
            let _ = s.await;
        }
        let mut problems = Vec::new();
        if lock_db(&self.db).fault_url(0).is_none() {
            let live = self.live_nodes();
            for &node in &nodes {
                match self.set_fake_clock(node, ClockSetting::REAL) {
                    Ok(()) if live.contains(&node) => {
                        problems.extend(self.wait_wall_offset(node, 0).await.err())
                    }
                    Ok(()) => {}
                    Err(e) => problems.push(e),
                }
            }
            return (format!("reset {} clocks", names(&nodes)), joined(problems));
        }
        for &node in &nodes {
            if let Err(e) = self.hook(node, "/fault/clock/reset", json!({})).await {
                problems.push(e);
                continue;
            }
            match self.status(node).await {
                Ok(s)
                    if s["clock"]["rate"].as_f64() == Some(1.0)
                        && s["clock"]["offset_ms"]
                            .as_i64()
                            .is_some_and(|o| o.abs() <= 50) => {}
                Ok(s) => problems.push(format!("n{} clock not reset: {}", node + 1, s["clock"])),
                Err(e) => problems.push(e),
            }
        }
        (format!("reset {} clocks", names(&nodes)), joined(problems))
    }
}

/// Polls a process's state until `want` holds (bounded).
async fn wait_state(pid: u32, want: impl Fn(Option<char>) -> bool) -> bool {
    let deadline = Instant::now() + EFFECT_TIMEOUT;
    loop {
        if want(proc_state(pid)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn names(nodes: &[usize]) -> String {
    nodes
        .iter()
        .map(|n| format!("n{}", n + 1))
        .collect::<Vec<_>>()
        .join(" ")
}

fn joined(problems: Vec<String>) -> Option<String> {
    (!problems.is_empty()).then(|| problems.join("; "))
}
