//! The nemesis's side of the load phase. One-way partitions are drawn
//! only on a real network (the fault hooks cut links both ways).

use crate::config::TestConfig;
use crate::nemesis::plan::{Planner, Step};
use crate::nemesis::Nemesis;
use crate::progress::Progress;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The nemesis's loop: a step every interval until told to stop.
pub(super) async fn nemesis_loop(
    nemesis: Arc<tokio::sync::Mutex<Nemesis>>,
    one_way_partitions: bool,
    config: TestConfig,
    mut stop: watch::Receiver<bool>,
    progress: Arc<Progress>,
) {
    let nodes = config.nodes;
    let mut planner = Planner::new(config.seed, &config.nemesis, nodes, config.nemesis_targets)
        .with_one_way_partitions(one_way_partitions);
    let interval = Duration::from_secs_f64(config.nemesis_interval_s);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let mut n = nemesis.lock().await;
        let Some(step) = planner.next(&|k| n.is_active(k)) else {
            return;
        };
        match step {
            Step::Start(plan) => {
                n.start(&plan).await;
            }
            Step::Stop(kind) => {
                n.stop(kind).await;
            }
        }
        let now: Vec<&str> = n.active_kinds().iter().map(|k| k.name()).collect();
        *progress.faults.lock().unwrap_or_else(|e| e.into_inner()) = now.join(",");
    }
}
