//! Bugs planted on purpose, so that the model check, the simulator and the
//! campaigns can prove they still catch what they exist to catch.
//!
//! A planted bug is handed to [`crate::paxos::Replica::recover_with_bug`]
//! alone: it is not part of [`crate::paxos::Config`], and neither
//! `skeptic node` nor `skeptic test` can set it.

use std::fmt;
use std::str::FromStr;

/// One deliberately broken behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PlantedBug {
    /// The acceptor accepts below its promise.
    IgnorePromise,
    /// A new leader (Multi) or a proposer (Basic) goes straight to phase 2
    /// with its own value, without learning what a majority accepted.
    SkipPhase1,
    /// The leader's lease has no safety margin: it runs for the whole
    /// `lease_ms` from when the acks arrived, instead of from when the
    /// heartbeat left and shortened for clocks that drift.
    LeaseWithoutMargin,
}

impl PlantedBug {
    /// Every planted bug.
    pub const ALL: [PlantedBug; 3] = [
        PlantedBug::IgnorePromise,
        PlantedBug::SkipPhase1,
        PlantedBug::LeaseWithoutMargin,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PlantedBug::IgnorePromise => "ignore-promise",
            PlantedBug::SkipPhase1 => "skip-phase1",
            PlantedBug::LeaseWithoutMargin => "lease-no-margin",
        }
    }
}

impl fmt::Display for PlantedBug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PlantedBug {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PlantedBug::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| {
                format!("unknown planted bug {s:?} (expected ignore-promise, skip-phase1 or lease-no-margin)")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for b in PlantedBug::ALL {
            assert_eq!(b.name().parse::<PlantedBug>(), Ok(b));
        }
        assert!("nope".parse::<PlantedBug>().is_err());
    }
}
