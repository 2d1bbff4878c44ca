//! The node's own clock: real monotonic time, bent by the clock fault hook
//! (an offset and a drift rate), so that leases and timeouts read a clock
//! the harness can skew, as a machine with a bad clock would.

use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Clone, Copy)]
struct Skew {
    /// Real time at which the current skew took effect.
    since: Instant,
    /// The skewed reading at `since`, in milliseconds.
    base_ms: f64,
    /// Skewed milliseconds per real millisecond (1.0: a good clock).
    rate: f64,
}

/// A clock whose offset and drift can be changed at run time.
#[derive(Debug, Clone)]
pub struct NodeClock {
    start: Instant,
    skew: Arc<Mutex<Skew>>,
}

impl Default for NodeClock {
    fn default() -> Self {
        NodeClock::new()
    }
}

impl NodeClock {
    /// A correct clock starting at 0.
    pub fn new() -> NodeClock {
        let start = Instant::now();
        NodeClock {
            start,
            skew: Arc::new(Mutex::new(Skew {
                since: start,
                base_ms: 0.0,
                rate: 1.0,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Skew> {
        // A panic while holding this lock cannot leave a Skew half-written
        // (it is Copy), so a poisoned lock is still usable.
        self.skew.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The node's reading, in milliseconds (never negative).
    pub fn now_ms(&self) -> u64 {
        let s = *self.lock();
        let real = s.since.elapsed().as_secs_f64() * 1e3;
        (s.base_ms + real * s.rate).max(0.0) as u64
    }

    /// Jumps the clock by `offset_ms` and runs it at `rate` from now on
    /// (offset 0 and rate 1 undo a fault's drift but keep past jumps).
    pub fn skew(&self, offset_ms: i64, rate: f64) {
        let now = self.now_ms() as f64;
        let mut s = self.lock();
        *s = Skew {
            since: Instant::now(),
            base_ms: now + offset_ms as f64,
            rate: rate.clamp(0.0, 100.0),
        };
    }

    /// Back to real time since start, at rate 1.
    pub fn reset(&self) {
        let real = self.start.elapsed().as_secs_f64() * 1e3;
        let mut s = self.lock();
        *s = Skew {
            since: Instant::now(),
            base_ms: real,
            rate: 1.0,
        };
    }

    /// (offset from real time in ms, rate) now in force.
    pub fn state(&self) -> (i64, f64) {
        let real = self.start.elapsed().as_secs_f64() * 1e3;
        let rate = self.lock().rate;
        (self.now_ms() as i64 - real as i64, rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_apply_and_reset_restores() {
        let c = NodeClock::new();
        c.skew(60_000, 1.0);
        assert!(c.now_ms() >= 60_000);
        assert!(c.state().0 >= 59_000);
        c.skew(-1_000_000, 1.0);
        assert_eq!(c.now_ms(), 0, "never negative");
        c.reset();
        assert!(c.now_ms() < 60_000);
        assert_eq!(c.state().1, 1.0);
    }
}
