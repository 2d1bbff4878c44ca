//! The cooperative-partition fault hook: a shared set of peers to ignore.

use std::collections::BTreeSet;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::NodeId;

/// Peers this node refuses to talk to (the cooperative-partition fault hook).
///
/// Cloning shares the set, so the HTTP fault endpoints and the transport see
/// the same peers. The transport consults it on every send and on every
/// received frame, so a change takes effect for the very next message
/// without tearing down any connection.
#[derive(Clone, Debug, Default)]
pub struct BlockList(Arc<RwLock<BTreeSet<NodeId>>>);

impl BlockList {
    /// Stops all traffic to and from `peers`.
    pub fn block(&self, peers: &[NodeId]) {
        self.write().extend(peers.iter().copied());
    }

    /// Lets traffic to and from `peers` flow again.
    pub fn unblock(&self, peers: &[NodeId]) {
        let mut set = self.write();
        for peer in peers {
            set.remove(peer);
        }
    }

    /// Lets traffic to and from every peer flow again.
    pub fn unblock_all(&self) {
        self.write().clear();
    }

    /// Whether traffic to and from `peer` is currently dropped.
    pub fn is_blocked(&self, peer: NodeId) -> bool {
        self.read().contains(&peer)
    }

    /// The blocked peers, in ascending order.
    pub fn blocked(&self) -> Vec<NodeId> {
        self.read().iter().copied().collect()
    }

    // A panic while holding the lock cannot leave a `BTreeSet` half-updated
    // in a way that matters here, so a poisoned lock is simply reused.
    fn read(&self) -> RwLockReadGuard<'_, BTreeSet<NodeId>> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeSet<NodeId>> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_unblock_and_clones_share_the_set() {
        let a = BlockList::default();
        let b = a.clone();
        a.block(&[3, 1, 3]);
        assert!(b.is_blocked(1));
        assert!(b.is_blocked(3));
        assert!(!b.is_blocked(2));
        assert_eq!(b.blocked(), vec![1, 3]);
        b.unblock(&[1, 7]);
        assert_eq!(a.blocked(), vec![3]);
        a.unblock_all();
        assert!(b.blocked().is_empty());
    }
}
