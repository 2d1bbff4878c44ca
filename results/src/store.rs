//! One directory per test run, and the files written into it.
//!
//! Layout: `<root>/<test_name>/<timestamp>/` holds a run's `history.jsonl`,
//! `logs/`, JSON results and reports. `<root>/latest` and
//! `<root>/<test_name>/latest` are relative symlinks to the newest run, so a
//! person can always open `store/latest/report.html` and the whole store
//! can be moved or copied without breaking them.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use thiserror::Error;

use crate::timestamp;

/// How many `-N` suffixes [`RunDir::create`] tries before giving up. Far
/// more runs than could start within one millisecond; reaching it means
/// something else is filling the directory.
const MAX_SUFFIX: u32 = 10_000;

/// The name of the symlinks that point at the newest run.
const LATEST: &str = "latest";

/// Numbers temporary files, so two threads writing the same name at once
/// do not write into the same temporary file.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// What went wrong while creating a run directory or writing into it.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A filesystem operation failed.
    #[error("could not {action} {path}: {source}")]
    Io {
        /// What was being done, e.g. "create directory".
        action: &'static str,
        /// The path it was being done to.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A test name or file name would escape its directory or clash with
    /// the store's own entries.
    #[error("invalid {what} {name:?}: {reason}")]
    InvalidName {
        /// "test name" or "file name".
        what: &'static str,
        /// The name as given.
        name: String,
        /// Why it is refused, in words.
        reason: &'static str,
    },
    /// Every `-N` suffix up to the limit was already taken.
    #[error("could not find a free run directory name under {path} (tried {tries} suffixes)")]
    NoFreeName {
        /// The test's directory.
        path: PathBuf,
        /// How many names were tried.
        tries: u32,
    },
    /// A value could not be serialized as JSON.
    #[error("could not serialize JSON for {path}: {source}")]
    Json {
        /// The file it was meant for.
        path: PathBuf,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
}

/// A run's directory: `<root>/<test_name>/<timestamp>/`, with the `latest`
/// symlinks updated to point at it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunDir {
    /// The run directory itself.
    pub path: PathBuf,
    /// The test's name (the directory above the run).
    pub test_name: String,
    /// The UTC timestamp used as the directory name, with a `-N` suffix if
    /// another run started in the same millisecond.
    pub started: String,
}

impl RunDir {
    /// Creates `<root>/<test_name>/<YYYYMMDDTHHMMSS.mmmZ>/` and its `logs/`,
    /// and points `<root>/latest` and `<root>/<test_name>/latest` at it.
    ///
    /// The name is unique even when runs start in the same millisecond
    /// (or in parallel processes): creating the directory is the claim,
    /// and a taken name gets `-2`, `-3`, ... appended.
    pub fn create(root: &Path, test_name: &str) -> Result<RunDir, StoreError> {
        check_test_name(test_name)?;
        let test_dir = root.join(test_name);
        fs::create_dir_all(&test_dir).map_err(io_err("create directory", &test_dir))?;

        let stamp = timestamp::now_utc();
        let (path, started) = claim_dir(&test_dir, &stamp)?;
        let logs = path.join("logs");
        fs::create_dir(&logs).map_err(io_err("create directory", &logs))?;

        point_latest(&test_dir, Path::new(&started))?;
        point_latest(root, &Path::new(test_name).join(&started))?;

        Ok(RunDir {
            path,
            test_name: test_name.to_owned(),
            started,
        })
    }

    /// The run's history: `history.jsonl`, one record per line.
    pub fn history_path(&self) -> PathBuf {
        self.path.join("history.jsonl")
    }

    /// The directory for node and client logs (`logs/`, made by
    /// [`RunDir::create`]).
    pub fn logs_dir(&self) -> PathBuf {
        self.path.join("logs")
    }

    /// Writes `value` as pretty JSON to `name` inside the run directory and
    /// returns the file's path. See [`RunDir::write_file`] for the rules.
    pub fn write_json(&self, name: &str, value: &serde_json::Value) -> Result<PathBuf, StoreError> {
        let target = self.resolve(name)?;
        let mut text = serde_json::to_vec_pretty(value).map_err(|source| StoreError::Json {
            path: target.clone(),
            source,
        })?;
        text.push(b'\n');
        write_atomically(&target, &text)?;
        Ok(target)
    }

    /// Writes `contents` to `name` inside the run directory and returns the
    /// file's path.
    ///
    /// `name` is a relative path of plain components (`report.html`,
    /// `checkers/linear.html`); missing directories are created. The file
    /// is written to a temporary name, synced and renamed into place, so a
    /// reader (or a crash) never sees half a file.
    pub fn write_file(&self, name: &str, contents: &[u8]) -> Result<PathBuf, StoreError> {
        let target = self.resolve(name)?;
        write_atomically(&target, contents)?;
        Ok(target)
    }

    /// The path for `name` inside the run directory, refusing anything that
    /// could land outside it.
    fn resolve(&self, name: &str) -> Result<PathBuf, StoreError> {
        let invalid = |reason| StoreError::InvalidName {
            what: "file name",
            name: name.to_owned(),
            reason,
        };
        if name.is_empty() {
            return Err(invalid("it is empty"));
        }
        let relative = Path::new(name);
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(invalid(
                "it must be a relative path without `.` or `..` components",
            ));
        }
        Ok(self.path.join(relative))
    }
}

/// Refuses test names that are not a single plain directory name, or that
/// would collide with the store's own `latest` link.
fn check_test_name(name: &str) -> Result<(), StoreError> {
    let invalid = |reason| StoreError::InvalidName {
        what: "test name",
        name: name.to_owned(),
        reason,
    };
    let mut components = Path::new(name).components();
    let single_normal = matches!(components.next(), Some(Component::Normal(c)) if c == OsStr::new(name))
        && components.next().is_none();
    if name.is_empty() || !single_normal || name.contains(['/', '\\']) {
        return Err(invalid("it must be a single directory name"));
    }
    if name == LATEST {
        return Err(invalid("`latest` is the store's link to the newest run"));
    }
    Ok(())
}

/// Creates the first free directory among `stamp`, `stamp-2`, `stamp-3`,
/// ... in `test_dir`, returning its path and name.
fn claim_dir(test_dir: &Path, stamp: &str) -> Result<(PathBuf, String), StoreError> {
    for n in 1..=MAX_SUFFIX {
        let name = if n == 1 {
            stamp.to_owned()
        } else {
            format!("{stamp}-{n}")
        };
        let path = test_dir.join(&name);
        // `create_dir` (not `create_dir_all`) fails if the name is taken,
        // which is what makes the claim race-free between processes.
        match fs::create_dir(&path) {
            Ok(()) => return Ok((path, name)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err("create directory", &path)(e)),
        }
    }
    Err(StoreError::NoFreeName {
        path: test_dir.to_owned(),
        tries: MAX_SUFFIX,
    })
}

/// Makes `<dir>/latest` a symlink to `target` (relative to `dir`).
///
/// The link is made under a temporary name and renamed over the old one,
/// so `latest` always exists and never points at a half-made state.
#[cfg(unix)]
fn point_latest(dir: &Path, target: &Path) -> Result<(), StoreError> {
    let tmp = dir.join(format!(
        ".{LATEST}.tmp-{}-{}",
        std::process::id(),
        target.display().to_string().replace(['/', '\\'], "_")
    ));
    // A leftover from a crashed run would make `symlink` fail.
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).map_err(io_err("create symlink", &tmp))?;
    let link = dir.join(LATEST);
    fs::rename(&tmp, &link).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err("replace symlink", &link)(e)
    })
}

/// Symlinks need privileges on Windows, so there the `latest` links are
/// not made; the run directories themselves are still sorted by name.
#[cfg(not(unix))]
fn point_latest(_dir: &Path, _target: &Path) -> Result<(), StoreError> {
    Ok(())
}

/// Writes `contents` to `target` through a synced temporary file and a
/// rename, creating `target`'s directory if needed.
fn write_atomically(target: &Path, contents: &[u8]) -> Result<(), StoreError> {
    let dir = target.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
    let file_name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{file_name}.tmp-{}-{}",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = File::create(&tmp).map_err(io_err("create", &tmp))?;
        file.write_all(contents).map_err(io_err("write", &tmp))?;
        file.sync_all().map_err(io_err("sync", &tmp))?;
        fs::rename(&tmp, target).map_err(io_err("rename into place", target))
    })();
    if result.is_err() {
        // Best effort: the original error is the one worth reporting.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A closure that wraps an `io::Error` with what was being done and where.
fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_owned();
    move |source| StoreError::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashSet;

    #[test]
    fn rapid_creates_get_distinct_dirs_and_latest_follows() {
        let root = tempfile::tempdir().expect("tempdir");
        let runs: Vec<RunDir> = (0..5)
            .map(|_| RunDir::create(root.path(), "register").expect("create"))
            .collect();
        let paths: HashSet<&PathBuf> = runs.iter().map(|r| &r.path).collect();
        assert_eq!(paths.len(), runs.len(), "run dirs must be distinct");
        for run in &runs {
            assert!(run.path.is_dir());
            assert!(run.logs_dir().is_dir());
            assert_eq!(
                run.path.parent(),
                Some(root.path().join("register").as_path())
            );
            assert_eq!(run.path.file_name(), Some(OsStr::new(&run.started)));
        }

        let newest = runs
            .last()
            .expect("runs")
            .path
            .canonicalize()
            .expect("canon");
        for link in [
            root.path().join("latest"),
            root.path().join("register/latest"),
        ] {
            assert_eq!(link.canonicalize().expect("resolve"), newest, "{link:?}");
            // Relative links keep working when the store is moved.
            assert!(fs::read_link(&link).expect("read_link").is_relative());
        }

        // A second test moves the root link but not the first test's.
        let other = RunDir::create(root.path(), "bank").expect("create");
        let other_path = other.path.canonicalize().expect("canon");
        assert_eq!(
            root.path().join("latest").canonicalize().expect("resolve"),
            other_path
        );
        assert_eq!(
            root.path()
                .join("register/latest")
                .canonicalize()
                .expect("resolve"),
            newest
        );
    }

    #[test]
    fn taken_names_get_suffixes() {
        let root = tempfile::tempdir().expect("tempdir");
        fs::create_dir(root.path().join("t")).expect("mkdir");
        fs::create_dir(root.path().join("t/S")).expect("mkdir");
        fs::create_dir(root.path().join("t/S-2")).expect("mkdir");
        let (path, name) = claim_dir(&root.path().join("t"), "S").expect("claim");
        assert_eq!(name, "S-3");
        assert!(path.is_dir());
    }

    #[test]
    fn write_json_round_trips_and_leaves_no_temporaries() {
        let root = tempfile::tempdir().expect("tempdir");
        let run = RunDir::create(root.path(), "register").expect("create");
        let value = json!({"verdict": "anomaly", "ops": [1, 2, 3], "note": "<&>"});
        let path = run.write_json("results.json", &value).expect("write");
        assert_eq!(path, run.path.join("results.json"));
        let text = fs::read_to_string(&path).expect("read");
        let back: serde_json::Value = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, value);
        assert!(text.contains('\n'), "pretty JSON spans lines");

        // Overwriting replaces the whole file.
        run.write_json("results.json", &json!(1)).expect("rewrite");
        assert_eq!(fs::read_to_string(&path).expect("read"), "1\n");

        let nested = run
            .write_file("checkers/linear.html", b"<p>hi</p>")
            .expect("write nested");
        assert_eq!(fs::read(nested).expect("read"), b"<p>hi</p>");

        let leftovers: Vec<_> = fs::read_dir(&run.path)
            .expect("read_dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        assert_eq!(run.history_path(), run.path.join("history.jsonl"));
    }

    #[test]
    fn refuses_names_that_escape() {
        let root = tempfile::tempdir().expect("tempdir");
        for bad in ["", "..", ".", "a/b", "/abs", "latest"] {
            assert!(
                matches!(
                    RunDir::create(root.path(), bad),
                    Err(StoreError::InvalidName { .. })
                ),
                "test name {bad:?}"
            );
        }
        let run = RunDir::create(root.path(), "ok").expect("create");
        for bad in ["", "../x", "/etc/passwd", "a/../../b", "./x"] {
            assert!(
                matches!(
                    run.write_file(bad, b"x"),
                    Err(StoreError::InvalidName { .. })
                ),
                "file name {bad:?}"
            );
        }
    }

    #[test]
    fn io_errors_name_the_path() {
        let root = tempfile::tempdir().expect("tempdir");
        // A file where the test directory should be.
        fs::write(root.path().join("blocked"), b"").expect("write");
        let err = RunDir::create(root.path(), "blocked").expect_err("must fail");
        assert!(err.to_string().contains("blocked"), "{err}");
    }
}
