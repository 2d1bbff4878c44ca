//! Network partitions as grudges: for each node, the nodes it refuses to
//! talk to. Pure: the nemesis applies a grudge through the bundled store's
//! fault hooks (blocking on either side of a link cuts it both ways).

use std::collections::BTreeSet;

/// The shapes of partition on offer (Jepsen's `partition-*` nemeses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionShape {
    /// One node cut off from everyone.
    IsolateOne,
    /// The first half of the nodes against the rest.
    Halves,
    /// A random half against the rest.
    RandomHalves,
    /// Every node sees a majority, no two the same one (5 nodes or more;
    /// with fewer it cannot exist, and random halves are used instead).
    MajoritiesRing,
    /// Two halves joined only through one node that sees both.
    Bridge,
    /// The current leader cut off (a random node if there is none).
    IsolateLeader,
    /// One node's messages dropped by every other node, while it still
    /// hears them all. Only a real network makes it (`--net netns`); the
    /// fault hooks cut a link both ways.
    OneWay,
}

impl PartitionShape {
    /// Every shape that cuts links both ways (what the fault hooks and the
    /// simulator make; [`PartitionShape::OneWay`] is apart).
    pub const ALL: [PartitionShape; 6] = [
        PartitionShape::IsolateOne,
        PartitionShape::Halves,
        PartitionShape::RandomHalves,
        PartitionShape::MajoritiesRing,
        PartitionShape::Bridge,
        PartitionShape::IsolateLeader,
    ];
}

/// For each node (0-based), the set of nodes whose traffic it drops.
pub type Grudge = Vec<BTreeSet<usize>>;

/// The grudge that splits nodes into components that cannot talk to each
/// other.
pub fn components(n: usize, parts: &[Vec<usize>]) -> Grudge {
    let mut part_of = vec![usize::MAX; n];
    for (i, part) in parts.iter().enumerate() {
        for &node in part {
            assert!(node < n, "node {node} out of range");
            part_of[node] = i;
        }
    }
    (0..n)
        .map(|a| {
            (0..n)
                .filter(|&b| b != a && part_of[a] != part_of[b])
                .collect()
        })
        .collect()
}

/// One node against the rest.
pub fn isolate(n: usize, node: usize) -> Grudge {
    components(n, &[vec![node], (0..n).filter(|&b| b != node).collect()])
}

/// Everyone drops `node`'s traffic; `node` still hears everyone.
pub fn one_way(n: usize, node: usize) -> Grudge {
    (0..n)
        .map(|b| {
            if b == node {
                BTreeSet::new()
            } else {
                BTreeSet::from([node])
            }
        })
        .collect()
}

/// Nodes in `shuffled` order: the first floor(n/2) against the rest.
pub fn halves(shuffled: &[usize]) -> Grudge {
    let n = shuffled.len();
    let (a, b) = shuffled.split_at(n / 2);
    components(n, &[a.to_vec(), b.to_vec()])
}

/// Every node sees itself and its nearest neighbours on a ring, a majority
/// in all, and no two nodes see the same majority. Needs `n >= 5`.
pub fn majorities_ring(shuffled: &[usize]) -> Grudge {
    let n = shuffled.len();
    assert!(n >= 5, "a majorities ring needs 5 nodes or more");
    let majority = n / 2 + 1;
    let before = (majority - 1) / 2;
    let after = majority - 1 - before;
    let mut grudge: Grudge = vec![BTreeSet::new(); n];
    for pos in 0..n {
        let node = shuffled[pos];
        let sees: BTreeSet<usize> = (0..=before + after)
            .map(|d| shuffled[(pos + n + d - before) % n])
            .collect();
        grudge[node] = (0..n).filter(|b| !sees.contains(b)).collect();
    }
    // Links are cut if either side blocks; make that explicit so what is
    // applied and verified is symmetric.
    for a in 0..n {
        for b in grudge[a].clone() {
            grudge[b].insert(a);
        }
    }
    grudge
}

/// Two halves joined only through the middle node of `shuffled`.
pub fn bridge(shuffled: &[usize]) -> Grudge {
    let n = shuffled.len();
    let mid = n / 2;
    let (a, rest) = shuffled.split_at(mid);
    let b = &rest[1..];
    let mut grudge: Grudge = vec![BTreeSet::new(); n];
    for &x in a {
        for &y in b {
            grudge[x].insert(y);
            grudge[y].insert(x);
        }
    }
    grudge
}

/// Words for a grudge: each link cut both ways once (`n1 x n2 n3`), and
/// each link cut one way with its direction (`n1 -> n2`: n2 does not hear
/// n1). Names are 1-based, as the nodes call themselves.
pub fn describe(grudge: &Grudge) -> String {
    let mut lines = Vec::new();
    for (a, blocked) in grudge.iter().enumerate() {
        let both = |b: usize| grudge.get(b).is_some_and(|g| g.contains(&a));
        let cut: Vec<String> = blocked
            .iter()
            .filter(|&&b| b > a && both(b))
            .map(|b| format!("n{}", b + 1))
            .collect();
        if !cut.is_empty() {
            lines.push(format!("n{} x {}", a + 1, cut.join(" ")));
        }
    }
    for (a, blocked) in grudge.iter().enumerate() {
        for &b in blocked.iter().filter(|&&b| !grudge[b].contains(&a)) {
            lines.push(format!("n{} -> n{}", b + 1, a + 1));
        }
    }
    if lines.is_empty() {
        "no links cut".into()
    } else {
        format!("cut: {}", lines.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_way_partition_is_described_with_its_direction() {
        let g = one_way(3, 0);
        assert!(g[0].is_empty() && g[1].contains(&0) && g[2].contains(&0));
        assert_eq!(describe(&g), "cut: n1 -> n2, n1 -> n3");
        assert_eq!(describe(&isolate(3, 0)), "cut: n1 x n2 n3");
    }

    fn linked(g: &Grudge, a: usize, b: usize) -> bool {
        !g[a].contains(&b) && !g[b].contains(&a)
    }

    #[test]
    fn isolate_cuts_one_node_from_all() {
        let g = isolate(3, 1);
        assert!(!linked(&g, 0, 1) && !linked(&g, 1, 2));
        assert!(linked(&g, 0, 2));
    }

    #[test]
    fn halves_leave_a_majority_side() {
        let g = halves(&[2, 0, 1, 4, 3]);
        // {2, 0} against {1, 4, 3}.
        assert!(linked(&g, 2, 0) && linked(&g, 1, 4) && linked(&g, 4, 3));
        assert!(!linked(&g, 0, 1) && !linked(&g, 2, 3));
    }

    #[test]
    fn majorities_ring_gives_everyone_a_distinct_majority() {
        let g = majorities_ring(&[0, 1, 2, 3, 4]);
        let sees: Vec<BTreeSet<usize>> = (0..5)
            .map(|a| (0..5).filter(|&b| b == a || linked(&g, a, b)).collect())
            .collect();
        for s in &sees {
            assert_eq!(s.len(), 3, "{sees:?}");
        }
        let distinct: BTreeSet<&BTreeSet<usize>> = sees.iter().collect();
        assert_eq!(distinct.len(), 5);
    }

    #[test]
    fn bridge_node_sees_both_sides() {
        let g = bridge(&[0, 1, 2]);
        assert!(linked(&g, 0, 1) && linked(&g, 1, 2));
        assert!(!linked(&g, 0, 2));
        assert_eq!(describe(&g), "cut: n1 x n3");
    }
}
