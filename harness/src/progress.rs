//! The progress line while a test runs: elapsed time, operations per
//! second, ok/fail/info counts and the faults in force. Drawn on standard
//! error only when it is a terminal (indicatif hides it otherwise).

use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Live counters for the progress line.
#[derive(Debug, Default)]
pub struct Progress {
    /// Successful operations.
    pub ok: AtomicU64,
    /// Failed operations.
    pub fail: AtomicU64,
    /// Indeterminate operations.
    pub info: AtomicU64,
    /// Faults in force, in words.
    pub faults: Mutex<String>,
}

/// A running progress bar.
pub struct Bar {
    bar: ProgressBar,
    task: JoinHandle<()>,
}

impl Bar {
    /// Starts drawing, refreshed four times a second.
    pub fn start(time_limit_s: f64, progress: Arc<Progress>) -> Bar {
        let bar = ProgressBar::new(time_limit_s.ceil() as u64);
        let style = ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        let shown = bar.clone();
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                let elapsed = start.elapsed().as_secs_f64().max(1e-3);
                let ok = progress.ok.load(Ordering::Relaxed);
                let fail = progress.fail.load(Ordering::Relaxed);
                let info = progress.info.load(Ordering::Relaxed);
                let faults = progress
                    .faults
                    .lock()
                    .map(|f| f.clone())
                    .unwrap_or_default();
                shown.set_position(elapsed as u64);
                shown.set_message(format!(
                    "{:.0} ops/s  ok {ok}  fail {fail}  info {info}  faults: {}",
                    (ok + fail + info) as f64 / elapsed,
                    if faults.is_empty() { "none" } else { &faults }
                ));
            }
        });
        Bar { bar, task }
    }

    /// Stops drawing and clears the line.
    pub fn finish(self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}
