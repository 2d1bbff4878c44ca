//! Clock faults for programs that read time through libc, without fault
//! hooks: each node runs with libfaketime preloaded (Debian's `faketime`
//! package) and reads its offset and rate from a control file of its own,
//! which the nemesis rewrites while the node runs.
//!
//! libfaketime re-reads the file at most every [`CACHE_S`] seconds, so a
//! change takes effect within that time. It fakes `CLOCK_REALTIME` and
//! `CLOCK_MONOTONIC` alike (Rust's `Instant` moves too), and a rate counts
//! from the process's start, so a new rate also moves the clock at once.
//!
//! Go programs (etcd among them) read the clock through the vDSO without
//! libc, so libfaketime cannot skew them; for those, see
//! [`time_namespace_prefix`], a monotonic offset fixed at start.

use std::path::{Path, PathBuf};

/// The multi-threaded variant of libfaketime (the nodes are multi-threaded).
const LIBRARIES: [&str; 2] = [
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
];

/// Seconds libfaketime caches the control file's content.
pub const CACHE_S: u64 = 1;

/// The installed libfaketime, if any.
pub fn library() -> Option<PathBuf> {
    LIBRARIES.iter().map(PathBuf::from).find(|p| p.exists())
}

/// A node's clock as the nemesis sets it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClockSetting {
    /// Offset from the real clock, in milliseconds.
    pub offset_ms: i64,
    /// How fast it runs (1.0: real time).
    pub rate: f64,
}

impl ClockSetting {
    /// The real clock.
    pub const REAL: ClockSetting = ClockSetting {
        offset_ms: 0,
        rate: 1.0,
    };

    /// The control file's content: libfaketime's relative form
    /// (`+1.500s x4.000000`).
    pub fn spec(self) -> String {
        let sign = if self.offset_ms < 0 { '-' } else { '+' };
        let ms = self.offset_ms.unsigned_abs();
        format!("{sign}{}.{:03}s x{:.6}", ms / 1000, ms % 1000, self.rate)
    }
}

/// The control files of one cluster's clocks.
#[derive(Debug)]
pub struct FakeClocks {
    library: PathBuf,
    files: Vec<PathBuf>,
    settings: Vec<ClockSetting>,
}

impl FakeClocks {
    /// Control files for `nodes` nodes under `dir`, each set to the real
    /// clock. Fails when libfaketime is not installed.
    pub fn create(dir: &Path, nodes: usize) -> Result<FakeClocks, String> {
        let library = library().ok_or(
            "libfaketime is not installed (on Debian: apt-get install faketime)".to_string(),
        )?;
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let files: Vec<PathBuf> = (1..=nodes).map(|n| dir.join(format!("n{n}"))).collect();
        let mut clocks = FakeClocks {
            library,
            settings: vec![ClockSetting::REAL; nodes],
            files,
        };
        for node in 0..nodes {
            clocks.set(node, ClockSetting::REAL)?;
        }
        Ok(clocks)
    }

    /// The environment a node starts with.
    pub fn env(&self, node: usize) -> Vec<(String, String)> {
        vec![
            ("LD_PRELOAD".into(), self.library.display().to_string()),
            (
                "FAKETIME_TIMESTAMP_FILE".into(),
                self.files[node].display().to_string(),
            ),
            ("FAKETIME_CACHE_DURATION".into(), CACHE_S.to_string()),
        ]
    }

    /// Sets a node's clock (written whole through a rename, so the library
    /// never reads half a file).
    pub fn set(&mut self, node: usize, setting: ClockSetting) -> Result<(), String> {
        let file = &self.files[node];
        let tmp = file.with_extension("tmp");
        std::fs::write(&tmp, format!("{}\n", setting.spec()))
            .and_then(|()| std::fs::rename(&tmp, file))
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        self.settings[node] = setting;
        Ok(())
    }

    /// What a node's clock was last set to.
    pub fn setting(&self, node: usize) -> ClockSetting {
        self.settings[node]
    }
}

/// `unshare --time --monotonic S --boottime S --`: a prefix that starts a
/// program in a time namespace of its own, its monotonic and boot clocks
/// `offset_s` seconds ahead. This works for any program, Go's included (the
/// vDSO honours the namespace), but the offset is fixed at start and the
/// wall clock (`CLOCK_REALTIME`) is not namespaced: it shows whether a
/// store wrongly compares monotonic readings between nodes, and nothing
/// about skewed wall clocks or clocks running fast or slow.
pub fn time_namespace_prefix(offset_s: u64) -> Vec<String> {
    vec![
        "unshare".into(),
        "--time".into(),
        "--monotonic".into(),
        offset_s.to_string(),
        "--boottime".into(),
        offset_s.to_string(),
        "--".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    /// The offset (ms) a program started now with the node's environment
    /// reads, against the real clock: `date` under the same library and
    /// control file.
    fn observed_offset_ms(clocks: &FakeClocks, node: usize) -> Result<i64, String> {
        let out = Command::new("date")
            .arg("+%s%3N")
            .envs(clocks.env(node))
            .output()
            .map_err(|e| format!("cannot run date: {e}"))?;
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis() as i64;
        let text = String::from_utf8_lossy(&out.stdout);
        let faked: i64 = text
            .trim()
            .parse()
            .map_err(|_| format!("date printed {text:?} under libfaketime"))?;
        Ok(faked - real)
    }

    #[test]
    fn the_control_file_says_offset_and_rate() {
        let s = ClockSetting {
            offset_ms: -2500,
            rate: 4.0,
        };
        assert_eq!(s.spec(), "-2.500s x4.000000");
        assert_eq!(ClockSetting::REAL.spec(), "+0.000s x1.000000");
    }

    #[test]
    fn a_set_offset_is_what_a_libc_program_reads() {
        if library().is_none() {
            eprintln!("skipped: libfaketime is not installed (apt-get install faketime)");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let mut clocks = FakeClocks::create(dir.path(), 2).expect("clocks");
        assert!(observed_offset_ms(&clocks, 0).expect("read").abs() < 1000);
        clocks
            .set(
                1,
                ClockSetting {
                    offset_ms: 60_000,
                    rate: 1.0,
                },
            )
            .expect("set");
        let seen = observed_offset_ms(&clocks, 1).expect("read");
        assert!((seen - 60_000).abs() < 1000, "{seen}");
        // The other node's clock is its own.
        assert!(observed_offset_ms(&clocks, 0).expect("read").abs() < 1000);
    }
}
