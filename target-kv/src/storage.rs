//! Durable storage for one replica: a checksummed write-ahead log and an
//! atomically replaced snapshot file.
//!
//! The Paxos core decides *what* must be durable (its acceptor state changes,
//! serialised to opaque bytes); this module only makes those bytes survive a
//! crash and tells torn writes apart from real corruption:
//!
//! - [`wal`]: an append-only log of framed records (`len`, `crc32`, payload).
//!   On open it returns every intact record and repairs a torn tail, but it
//!   refuses to start ([`WalError::Corrupt`]) when a damaged record has data
//!   after it, because dropping that data could silently forget a promise.
//! - [`snapshot`]: one payload written to `<path>.tmp`, fsynced and renamed
//!   over `<path>`, so a reader sees either the old snapshot or the new one.
//!
//! Both use the same atomic-replace protocol (temporary file, fsync, rename,
//! fsync of the directory); its two shared steps live here.

pub mod snapshot;
pub mod wal;

pub use snapshot::{read_snapshot, write_snapshot, SnapshotError};
pub use wal::{encode_frames, recover_bytes, FsyncPolicy, Wal, WalError, RECORD_BYTES_MAX};

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// `<path>.tmp`: where a replacement for `path` is written before the rename.
///
/// The suffix is appended to the whole file name (`wal.log` becomes
/// `wal.log.tmp`, not `wal.tmp`) so two files in one directory never share a
/// temporary file.
fn tmp_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".tmp");
    PathBuf::from(name)
}

/// The directory holding `path`; `.` for a bare file name.
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Fsyncs the directory holding `path`, so that a file created in it or
/// renamed into it is still there after a power loss: fsyncing the file
/// itself makes its bytes durable, not its directory entry.
///
/// On error, returns the directory's path with the error.
fn sync_parent_dir(path: &Path) -> Result<(), (PathBuf, io::Error)> {
    let dir = parent_dir(path);
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|err| (dir.to_path_buf(), err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_tmp_path_appends_to_the_whole_file_name() {
        let cases = [
            ("wal.log", "wal.log.tmp"),
            ("/data/node1/wal", "/data/node1/wal.tmp"),
            ("dir/snapshot.bin", "dir/snapshot.bin.tmp"),
        ];
        for (path, want) in cases {
            assert_eq!(tmp_path(Path::new(path)), PathBuf::from(want), "{path}");
        }
    }

    #[test]
    fn storage_parent_dir_of_a_bare_name_is_the_current_dir() {
        assert_eq!(parent_dir(Path::new("wal.log")), Path::new("."));
        assert_eq!(parent_dir(Path::new("a/wal.log")), Path::new("a"));
        assert_eq!(parent_dir(Path::new("/wal.log")), Path::new("/"));
    }
}
