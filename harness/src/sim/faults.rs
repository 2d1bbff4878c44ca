//! The simulator's faults, and the schedule it draws them on from the
//! seed. Network and process faults have a start and a stop (stops undo
//! them); a clock jump is instantaneous. Partitions take every shape the
//! real nemesis knows ([`crate::nemesis::partition`]) plus one-way cuts.

use std::fmt;
use std::str::FromStr;
use target_kv::paxos::ReadMode;

/// A kind of simulated fault (`--faults` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimFault {
    /// Partitions of the nemesis's shapes (both ways).
    Partition,
    /// One-way cuts: a node's messages to some peers are lost, theirs to
    /// it arrive.
    OneWay,
    /// Crash and restart (from the disk).
    Crash,
    /// Crashes during a write: the disk keeps any prefix of what was not
    /// yet synced, the last record possibly torn.
    Torn,
    /// Pauses (a stopped process: nothing is handled until it resumes).
    Pause,
    /// Clocks that run fast or slow, within the bound the lease margin
    /// covers ([`target_kv::paxos::Config::clock_drift_pct`]).
    Drift,
    /// Clock jumps, forward or back (unsafe for leases, by design).
    Jump,
    /// Message loss.
    Loss,
    /// Message duplication.
    Duplicate,
    /// Reordering (some messages delayed far past later ones).
    Reorder,
    /// Long delays with jitter.
    Delay,
}

impl SimFault {
    /// Every kind.
    pub const ALL: [SimFault; 11] = [
        SimFault::Partition,
        SimFault::OneWay,
        SimFault::Crash,
        SimFault::Torn,
        SimFault::Pause,
        SimFault::Drift,
        SimFault::Jump,
        SimFault::Loss,
        SimFault::Duplicate,
        SimFault::Reorder,
        SimFault::Delay,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SimFault::Partition => "partition",
            SimFault::OneWay => "oneway",
            SimFault::Crash => "crash",
            SimFault::Torn => "torn",
            SimFault::Pause => "pause",
            SimFault::Drift => "drift",
            SimFault::Jump => "jump",
            SimFault::Loss => "loss",
            SimFault::Duplicate => "dup",
            SimFault::Reorder => "reorder",
            SimFault::Delay => "delay",
        }
    }

    /// The default mix for a read path: everything, but clock jumps with
    /// lease reads (no lease survives a jumping clock; that is what the
    /// lease's documentation says, not a bug to find).
    pub fn defaults(reads: ReadMode) -> Vec<SimFault> {
        SimFault::ALL
            .into_iter()
            .filter(|f| !(reads == ReadMode::Lease && *f == SimFault::Jump))
            .collect()
    }

    /// Parses `partition,crash,...`, `all` or `none`.
    pub fn parse_list(s: &str) -> Result<Vec<SimFault>, String> {
        match s.trim() {
            "none" | "" => return Ok(Vec::new()),
            "all" => return Ok(SimFault::ALL.to_vec()),
            _ => {}
        }
        let mut out = Vec::new();
        for part in s.split(',') {
            let f: SimFault = part.trim().parse()?;
            if !out.contains(&f) {
                out.push(f);
            }
        }
        Ok(out)
    }

    /// Whether it is toggled on and off by the schedule (a torn write
    /// only changes how crashes happen; a jump happens at once).
    pub fn toggled(self) -> bool {
        !matches!(self, SimFault::Torn)
    }
}

impl fmt::Display for SimFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SimFault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SimFault::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = SimFault::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "unknown fault {s:?} (expected {}, all or none)",
                    names.join(", ")
                )
            })
    }
}

/// Fault settings in force on the network.
#[derive(Clone, Debug, PartialEq)]
pub struct NetFaults {
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
    /// Probability that a message is held back by up to `reorder_us_max`.
    pub reorder: f64,
    /// How far a reordered message is held back.
    pub reorder_us_max: u64,
    /// Delay range for every message, in microseconds.
    pub delay_us: (u64, u64),
}

impl NetFaults {
    /// A healthy loopback network: 50 to 300 us.
    pub const HEALTHY: NetFaults = NetFaults {
        loss: 0.0,
        duplicate: 0.0,
        reorder: 0.0,
        reorder_us_max: 0,
        delay_us: (50, 300),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_lists_parse_and_refuse_unknown_names() {
        assert_eq!(SimFault::parse_list("none"), Ok(vec![]));
        assert_eq!(SimFault::parse_list("all").map(|v| v.len()), Ok(11));
        assert_eq!(
            SimFault::parse_list("crash, torn,crash"),
            Ok(vec![SimFault::Crash, SimFault::Torn])
        );
        let e = SimFault::parse_list("crash,bogus").unwrap_err();
        assert!(e.contains("bogus") && e.contains("partition"), "{e}");
        assert!(!SimFault::defaults(ReadMode::Lease).contains(&SimFault::Jump));
        assert!(SimFault::defaults(ReadMode::Log).contains(&SimFault::Jump));
    }
}
