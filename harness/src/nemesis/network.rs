//! Faults on a real network (`--net netns`): partitions as nftables drop
//! rules in the nodes' namespaces, packet faults with tc netem or
//! nftables, each checked by probes sent from inside the namespaces.
//!
//! These calls run commands and wait for probes, so the nemesis runs them
//! on a blocking thread with the cluster locked.

use super::partition::Grudge;
use super::plan::PacketLinks;
use super::{lock_db, SharedDb};
use crate::net::packet::{Links, PacketSpec};
use crate::net::probe;
use std::collections::BTreeSet;
use std::time::Duration;

/// How long a probe waits for its datagram: loopback-fast when the link
/// is open, so a miss in this time means dropped (packet faults in force
/// add their delay).
pub const PROBE_WAIT: Duration = Duration::from_millis(150);

/// The directed links a grudge cuts: `(from, to)` where `to` drops what
/// `from` sends.
pub fn drops_of(grudge: &Grudge) -> BTreeSet<(usize, usize)> {
    grudge
        .iter()
        .enumerate()
        .flat_map(|(to, from)| from.iter().map(move |&f| (f, to)))
        .collect()
}

/// Whether the cluster runs on a real network.
pub fn has_net(db: &SharedDb) -> bool {
    lock_db(db)
        .placement_mut()
        .is_some_and(|p| p.net().is_some())
}

/// Applies `drops` (the empty set heals) and probes every directed link:
/// a cut one must drop the probe and an open one must pass it. Returns
/// what was wrong, if anything.
pub fn set_drops(
    db: &SharedDb,
    drops: &BTreeSet<(usize, usize)>,
    wait: Duration,
) -> Result<(), String> {
    let mut guard = lock_db(db);
    let net = guard
        .placement_mut()
        .and_then(|p| p.net_mut())
        .ok_or("the cluster has no network of its own")?;
    net.set_drops(drops).map_err(|e| e.to_string())?;
    // Every directed link at once: a dropped probe takes its whole wait.
    let passed = probe::delivery_matrix(net, wait).map_err(|e| e.to_string())?;
    let mut wrong = Vec::new();
    for (from, row) in passed.iter().enumerate() {
        for (to, &through) in row.iter().enumerate().filter(|&(t, _)| t != from) {
            let cut = drops.contains(&(from, to));
            if through == cut {
                let (seen, wanted) = if cut {
                    ("passed", "be dropped")
                } else {
                    ("was dropped", "pass")
                };
                wrong.push(format!(
                    "n{} -> n{}: the probe {seen} (should {wanted})",
                    from + 1,
                    to + 1
                ));
            }
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(wrong.join("; "))
    }
}

/// The network's name for a plan's links.
pub fn links(plan: &PacketLinks) -> Links {
    match plan {
        PacketLinks::Node(n) => Links::Node(*n),
        PacketLinks::Minority(ns) => Links::Nodes(ns.clone()),
        PacketLinks::Between(a, b) => Links::Between(a.clone(), b.clone()),
    }
}

/// Words for a plan's links (1-based names).
pub fn describe_links(plan: &PacketLinks) -> String {
    let names = |ns: &[usize]| {
        ns.iter()
            .map(|n| format!("n{}", n + 1))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match plan {
        PacketLinks::Node(n) => format!("what n{} sends", n + 1),
        PacketLinks::Minority(ns) => format!("what {} send", names(ns)),
        PacketLinks::Between(a, b) => format!("links between {} and {}", names(a), names(b)),
    }
}

/// Starts packet faults on `plan`'s links and checks they are in force as
/// the kernel reports them.
pub fn start_packet(db: &SharedDb, plan: &PacketLinks, spec: &PacketSpec) -> Result<(), String> {
    let mut guard = lock_db(db);
    let net = guard
        .placement_mut()
        .and_then(|p| p.net_mut())
        .ok_or("the cluster has no network of its own")?;
    net.set_packet(&[(links(plan), spec.clone())])
        .map_err(|e| e.to_string())?;
    net.packet_in_force()
        .map_err(|e| e.to_string())
        .and_then(|on| {
            if on {
                Ok(())
            } else {
                Err("the kernel shows no packet fault after setting one".into())
            }
        })
}

/// Removes packet faults and checks none is left.
pub fn stop_packet(db: &SharedDb) -> Result<(), String> {
    let mut guard = lock_db(db);
    let net = guard
        .placement_mut()
        .and_then(|p| p.net_mut())
        .ok_or("the cluster has no network of its own")?;
    net.clear_packet().map_err(|e| e.to_string())?;
    match net.packet_in_force() {
        Ok(false) => Ok(()),
        Ok(true) => Err("a packet fault is still in force after clearing".into()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::partition;

    #[test]
    fn a_grudge_becomes_directed_drops() {
        let both = drops_of(&partition::isolate(3, 0));
        assert_eq!(both, BTreeSet::from([(0, 1), (0, 2), (1, 0), (2, 0)]));
        let one = drops_of(&partition::one_way(3, 0));
        assert_eq!(one, BTreeSet::from([(0, 1), (0, 2)]));
    }
}
