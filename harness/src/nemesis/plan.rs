//! The nemesis's decisions, drawn from the seed: which fault kind to toggle
//! at each step, and the shape, targets and magnitudes of each fault. Pure,
//! so the same seed gives the same fault schedule (faults that target "the
//! leader" are resolved when they happen).

use super::partition::PartitionShape;
use checker::generate::SplitMix;

/// The kinds of fault (`--nemesis` names).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    /// Network partitions (through the bundled store's fault hooks).
    Partition,
    /// SIGKILL, then restart.
    Kill,
    /// SIGSTOP, then SIGCONT.
    Pause,
    /// Clock bumps and strobes (through the fault hooks, or libfaketime
    /// when the nodes have none).
    Clock,
    /// Packet faults (delay, loss, ...) on some links, with tc netem or
    /// nftables: only on a real network (`--net netns`).
    Packet,
}

impl FaultKind {
    /// Every kind, in the default rotation.
    pub const ALL: [FaultKind; 4] = [
        FaultKind::Partition,
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::Clock,
    ];

    /// Every kind there is (the default rotation leaves `packet` out: it
    /// needs a real network).
    pub const KNOWN: [FaultKind; 5] = [
        FaultKind::Partition,
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::Clock,
        FaultKind::Packet,
    ];

    /// The name on the command line and in histories.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Clock => "clock",
            FaultKind::Packet => "packet",
        }
    }

    /// Parses `partition,kill,pause,clock` or `none` (the empty list).
    pub fn parse_list(s: &str) -> Result<Vec<FaultKind>, String> {
        let s = s.trim();
        if s == "none" || s.is_empty() {
            return Ok(Vec::new());
        }
        let mut kinds = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            let kind = FaultKind::KNOWN
                .into_iter()
                .find(|k| k.name() == part)
                .ok_or_else(|| {
                    format!(
                        "unknown fault {part:?} (expected partition, kill, pause, clock, packet, or none)"
                    )
                })?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        Ok(kinds)
    }
}

/// Where the nemesis aims its faults (`--nemesis-targets`; Jepsen's
/// `:targets`, where `:primaries` is our `leader`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Aim {
    /// Targets drawn at random: one node, a minority, all, or the leader.
    #[default]
    Random,
    /// Every fault at the current leader: partitions isolate it, kills and
    /// pauses hit it, clock faults skew its clock. Leader-based protocols
    /// are most fragile there (leases, stale leaders), so this finds their
    /// bugs in far fewer runs.
    Leader,
}

impl Aim {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Aim::Random => "random",
            Aim::Leader => "leader",
        }
    }
}

/// Which nodes a kill or pause hits.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Targets {
    /// These nodes (0-based).
    Nodes(Vec<usize>),
    /// The current leader (a random node if none is known; `fallback`).
    Leader {
        /// Used when no leader is known.
        fallback: usize,
    },
}

/// A clock fault.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClockFault {
    /// Jump one node's clock by `offset_ms` (either way).
    Bump {
        /// The node.
        node: usize,
        /// The jump.
        offset_ms: i64,
    },
    /// Run one node's clock fast or slow.
    Drift {
        /// The node.
        node: usize,
        /// Clock seconds per real second.
        rate: f64,
    },
    /// Flip one node's clock back and forth by `delta_ms` every `period_ms`.
    Strobe {
        /// The node.
        node: usize,
        /// The size of each flip.
        delta_ms: i64,
        /// Time between flips.
        period_ms: u64,
    },
}

/// A fault to start.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultPlan {
    /// A partition of a shape, over the nodes in `shuffled` order.
    Partition {
        /// Its shape.
        shape: PartitionShape,
        /// The nodes, shuffled (isolate-one cuts the first).
        shuffled: Vec<usize>,
    },
    /// Kill these nodes, restart them when the fault stops.
    Kill(Targets),
    /// Pause these nodes, resume them when the fault stops.
    Pause(Targets),
    /// Clock faults, one per node they hit.
    Clock(Vec<ClockFault>),
    /// A clock fault on the current leader, resolved when it starts (the
    /// fault's own node is used when no leader is known).
    LeaderClock(ClockFault),
    /// Packet faults on these links.
    Packet(PacketLinks),
}

/// Which links a packet fault hits.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PacketLinks {
    /// Every link of one node.
    Node(usize),
    /// Every link of each node of a minority.
    Minority(Vec<usize>),
    /// Only the links between two groups (each way).
    Between(Vec<usize>, Vec<usize>),
}

impl FaultPlan {
    /// The kind of fault this is.
    pub fn kind(&self) -> FaultKind {
        match self {
            FaultPlan::Partition { .. } => FaultKind::Partition,
            FaultPlan::Kill(_) => FaultKind::Kill,
            FaultPlan::Pause(_) => FaultKind::Pause,
            FaultPlan::Clock(_) | FaultPlan::LeaderClock(_) => FaultKind::Clock,
            FaultPlan::Packet(_) => FaultKind::Packet,
        }
    }
}

impl ClockFault {
    /// The node whose clock it skews.
    pub fn node(&self) -> usize {
        match *self {
            ClockFault::Bump { node, .. }
            | ClockFault::Drift { node, .. }
            | ClockFault::Strobe { node, .. } => node,
        }
    }

    /// The same skew on another node.
    pub fn on(&self, other: usize) -> ClockFault {
        let mut fault = self.clone();
        match &mut fault {
            ClockFault::Bump { node, .. }
            | ClockFault::Drift { node, .. }
            | ClockFault::Strobe { node, .. } => *node = other,
        }
        fault
    }
}

/// What the nemesis does next.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Start a fault of this kind (none of its kind is in force).
    Start(FaultPlan),
    /// Stop the fault of this kind in force.
    Stop(FaultKind),
}

/// Draws the nemesis's steps.
#[derive(Clone, Debug)]
pub struct Planner {
    rng: SplitMix,
    kinds: Vec<FaultKind>,
    nodes: usize,
    aim: Aim,
    one_way: bool,
}

impl Planner {
    /// A planner for these kinds over `nodes` nodes, aiming as `aim` says.
    pub fn new(seed: u64, kinds: &[FaultKind], nodes: usize, aim: Aim) -> Planner {
        Planner {
            // A stream apart from the clients' streams of the same seed.
            rng: SplitMix::new(seed ^ 0x4E45_4D45_5349_5321),
            kinds: kinds.to_vec(),
            nodes: nodes.max(1),
            aim,
            one_way: false,
        }
    }

    /// The same, drawing one-way partitions too: only a real network can
    /// make them (the fault hooks cut a link both ways).
    pub fn with_one_way_partitions(mut self, on: bool) -> Planner {
        self.one_way = on;
        self
    }

    fn below(&mut self, n: usize) -> usize {
        self.rng.below(n.max(1) as u64) as usize
    }

    fn shuffled(&mut self) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.nodes).collect();
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
        v
    }

    /// The next step: a random kind is toggled, so faults of different
    /// kinds overlap, as in Jepsen's combined nemesis. `active` says which
    /// kinds are in force.
    pub fn next(&mut self, active: &dyn Fn(FaultKind) -> bool) -> Option<Step> {
        if self.kinds.is_empty() {
            return None;
        }
        let i = self.below(self.kinds.len());
        let kind = self.kinds[i];
        if active(kind) {
            return Some(Step::Stop(kind));
        }
        Some(Step::Start(self.plan(kind)))
    }

    /// Draws a fault of a kind.
    pub fn plan(&mut self, kind: FaultKind) -> FaultPlan {
        let shuffled = self.shuffled();
        let minority = (self.nodes - 1) / 2;
        let targets = |p: &mut Planner, shuffled: &[usize]| match p.below(4) {
            0 => Targets::Leader {
                fallback: shuffled[0],
            },
            1 if minority > 1 => Targets::Nodes(shuffled[..minority].to_vec()),
            2 if p.nodes > 1 && p.below(3) == 0 => Targets::Nodes(shuffled.to_vec()),
            _ => Targets::Nodes(vec![shuffled[0]]),
        };
        match kind {
            FaultKind::Partition if self.aim == Aim::Leader => FaultPlan::Partition {
                shape: PartitionShape::IsolateLeader,
                shuffled,
            },
            FaultKind::Partition => {
                let shapes = PartitionShape::ALL.len() + usize::from(self.one_way);
                let i = self.below(shapes);
                let mut shape = PartitionShape::ALL
                    .get(i)
                    .copied()
                    .unwrap_or(PartitionShape::OneWay);
                if shape == PartitionShape::MajoritiesRing && self.nodes < 5 {
                    shape = PartitionShape::RandomHalves;
                }
                FaultPlan::Partition { shape, shuffled }
            }
            FaultKind::Kill if self.aim == Aim::Leader => FaultPlan::Kill(Targets::Leader {
                fallback: shuffled[0],
            }),
            FaultKind::Pause if self.aim == Aim::Leader => FaultPlan::Pause(Targets::Leader {
                fallback: shuffled[0],
            }),
            FaultKind::Kill => FaultPlan::Kill(targets(self, &shuffled)),
            FaultKind::Pause => {
                // Pausing every node only freezes the test; keep a majority.
                match targets(self, &shuffled) {
                    Targets::Nodes(n) if n.len() == self.nodes => {
                        FaultPlan::Pause(Targets::Nodes(vec![n[0]]))
                    }
                    t => FaultPlan::Pause(t),
                }
            }
            FaultKind::Clock if self.aim == Aim::Leader || self.below(4) == 0 => {
                FaultPlan::LeaderClock(self.clock_fault(shuffled[0]))
            }
            FaultKind::Packet => {
                let links = match self.below(3) {
                    0 => PacketLinks::Node(shuffled[0]),
                    1 if minority > 1 => PacketLinks::Minority(shuffled[..minority].to_vec()),
                    _ if self.nodes > 1 => {
                        let (a, b) = shuffled.split_at(self.nodes / 2);
                        let a = if a.is_empty() { &shuffled[..1] } else { a };
                        PacketLinks::Between(
                            a.to_vec(),
                            b.iter().filter(|n| !a.contains(n)).copied().collect(),
                        )
                    }
                    _ => PacketLinks::Node(shuffled[0]),
                };
                FaultPlan::Packet(links)
            }
            FaultKind::Clock => {
                // A random nonempty subset, each node skewed its own way.
                let count = 1 + self.below(self.nodes);
                FaultPlan::Clock(
                    shuffled[..count]
                        .iter()
                        .map(|&node| self.clock_fault(node))
                        .collect(),
                )
            }
        }
    }

    fn clock_fault(&mut self, node: usize) -> ClockFault {
        const BUMPS_MS: [i64; 6] = [-4000, -2000, -1000, 1000, 2000, 4000];
        match self.below(3) {
            0 => ClockFault::Bump {
                node,
                offset_ms: BUMPS_MS[self.below(BUMPS_MS.len())],
            },
            1 => ClockFault::Drift {
                node,
                rate: if self.below(2) == 0 { 0.25 } else { 4.0 },
            },
            _ => ClockFault::Strobe {
                node,
                delta_ms: 2000,
                period_ms: 50,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_plan() {
        let draw = |seed| {
            let mut p = Planner::new(seed, &FaultKind::ALL, 3, Aim::Random);
            let mut active = std::collections::BTreeSet::new();
            (0..50)
                .map(|_| {
                    let step = p.next(&|k| active.contains(&k)).expect("kinds");
                    match &step {
                        Step::Start(plan) => {
                            active.insert(plan.kind());
                        }
                        Step::Stop(k) => {
                            active.remove(k);
                        }
                    }
                    format!("{step:?}")
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn every_kind_gets_drawn_and_pauses_keep_a_majority() {
        let mut p = Planner::new(1, &FaultKind::ALL, 3, Aim::Random);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            if let Some(Step::Start(plan)) = p.next(&|_| false) {
                if let FaultPlan::Pause(Targets::Nodes(n)) = &plan {
                    assert!(n.len() < 3);
                }
                seen.insert(plan.kind());
            }
        }
        assert_eq!(seen.len(), 4);
    }

    #[test]
    fn aimed_at_the_leader_every_fault_targets_the_leader() {
        let mut p = Planner::new(3, &FaultKind::ALL, 5, Aim::Leader);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let Some(Step::Start(plan)) = p.next(&|_| false) else {
                continue;
            };
            seen.insert(plan.kind());
            match plan {
                FaultPlan::Partition { shape, .. } => {
                    assert_eq!(shape, PartitionShape::IsolateLeader)
                }
                FaultPlan::Kill(t) | FaultPlan::Pause(t) => {
                    assert!(matches!(t, Targets::Leader { .. }), "{t:?}")
                }
                FaultPlan::LeaderClock(_) => {}
                other => panic!("not aimed at the leader: {other:?}"),
            }
        }
        assert_eq!(seen.len(), 4);
    }

    #[test]
    fn random_aim_sometimes_skews_the_leaders_clock() {
        let mut p = Planner::new(9, &[FaultKind::Clock], 3, Aim::Random);
        let plans: Vec<FaultPlan> = (0..100).map(|_| p.plan(FaultKind::Clock)).collect();
        assert!(plans.iter().any(|f| matches!(f, FaultPlan::LeaderClock(_))));
        assert!(plans.iter().any(|f| matches!(f, FaultPlan::Clock(_))));
    }

    #[test]
    fn parses_fault_lists() {
        assert_eq!(FaultKind::parse_list("none"), Ok(vec![]));
        assert_eq!(
            FaultKind::parse_list("kill,pause,kill"),
            Ok(vec![FaultKind::Kill, FaultKind::Pause])
        );
        assert!(FaultKind::parse_list("flood").is_err());
    }
}
