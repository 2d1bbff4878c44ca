//! The snapshot file: one opaque payload, replaced atomically.
//!
//! # Format
//!
//! ```text
//! +-------------------+--------------+---------------+---------------------+
//! | magic: "SKSNAP01" | len: u64 LE  | crc: u32 LE   | payload (len bytes) |
//! +-------------------+--------------+---------------+---------------------+
//! ```
//!
//! `crc` is the CRC-32 (IEEE) of the eight `len` bytes followed by the
//! payload, and the file ends right after the payload.
//!
//! # Atomicity
//!
//! [`write_snapshot`] writes `<path>.tmp`, syncs it, renames it over `<path>`
//! and syncs the directory. A crash leaves either the old snapshot or the new
//! one at `<path>` (plus perhaps a stale `.tmp`, which readers never look at
//! and the next write truncates), never a mix. So [`read_snapshot`] treats
//! any damage as real corruption, not as a torn write to repair.

use std::fs::{self, File};
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};

use super::{sync_parent_dir, tmp_path};

/// The first eight bytes of every snapshot file; the trailing `01` is the
/// format version.
const MAGIC: &[u8; 8] = b"SKSNAP01";

/// Bytes before the payload: magic, `len: u64`, `crc: u32`.
const HEADER_BYTES: usize = 8 + 8 + 4;

/// What can go wrong with a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A system call on `path` (the snapshot, its `.tmp` file or their
    /// directory) failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory the failed call was about.
        path: PathBuf,
        /// The error the operating system returned.
        source: io::Error,
    },
    /// The snapshot file is damaged.
    #[error(
        "{}: corrupt snapshot: {what}; snapshots are written atomically, so this is damage on disk, not an interrupted write (restore the node from a peer: delete its data directory)",
        path.display()
    )]
    Corrupt {
        /// The snapshot file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
}

/// Writes `payload` as the snapshot at `path` atomically: `<path>.tmp`,
/// fsync, rename, fsync of the directory. Format: magic `b"SKSNAP01"`,
/// `len: u64 LE`, `crc32: u32 LE` (of the `len` bytes and the payload), then
/// the payload.
///
/// When this returns `Ok` the new snapshot is durable. When it fails, the
/// snapshot at `path` is the old one, unless only the final directory sync
/// failed: then the rename happened but may not survive a power loss.
///
/// # Errors
///
/// [`SnapshotError::Io`] naming the file or directory whose call failed.
pub fn write_snapshot(path: &Path, payload: &[u8]) -> Result<(), SnapshotError> {
    let tmp = tmp_path(path);
    if let Err(source) = write_file(&tmp, payload) {
        // Best effort: a stale .tmp is harmless, it only wastes space.
        let _ = fs::remove_file(&tmp);
        return Err(SnapshotError::Io { path: tmp, source });
    }
    if let Err(source) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(SnapshotError::Io {
            path: path.to_path_buf(),
            source,
        });
    }
    sync_parent_dir(path).map_err(|(dir, source)| SnapshotError::Io { path: dir, source })?;
    tracing::debug!(path = %path.display(), payload_bytes = payload.len(), "wrote snapshot");
    Ok(())
}

/// Reads the snapshot at `path` back: `Ok(None)` if there is none.
///
/// # Errors
///
/// [`SnapshotError::Corrupt`] with the path and what was wrong for a bad
/// magic, a file shorter or longer than its header says, or a bad checksum;
/// [`SnapshotError::Io`] when reading fails.
pub fn read_snapshot(path: &Path) -> Result<Option<Vec<u8>>, SnapshotError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SnapshotError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    decode(bytes)
        .map(Some)
        .map_err(|what| SnapshotError::Corrupt {
            path: path.to_path_buf(),
            what,
        })
}

/// The checksum stored in a snapshot: CRC-32 of the length bytes, then the
/// payload.
fn snapshot_crc(len_le: [u8; 8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len_le);
    hasher.update(payload);
    hasher.finalize()
}

/// Creates (or truncates) `file_path`, writes the encoded snapshot to it and
/// syncs it.
fn write_file(file_path: &Path, payload: &[u8]) -> io::Result<()> {
    let len_le = (payload.len() as u64).to_le_bytes();
    let mut header = [0u8; HEADER_BYTES];
    header[..8].copy_from_slice(MAGIC);
    header[8..16].copy_from_slice(&len_le);
    header[16..].copy_from_slice(&snapshot_crc(len_le, payload).to_le_bytes());

    let mut file = File::create(file_path)?;
    file.write_all(&header)?;
    file.write_all(payload)?;
    file.sync_data()
}

/// Checks an encoded snapshot and returns its payload, or says what is wrong
/// with it. Takes the whole file so that the payload is returned without a
/// second copy.
fn decode(mut bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    let file_len = bytes.len();
    if file_len < HEADER_BYTES {
        return Err(format!(
            "the file is {file_len} bytes, shorter than the {HEADER_BYTES}-byte header"
        ));
    }
    if &bytes[..8] != MAGIC {
        return Err(format!(
            "bad magic \"{}\", expected \"SKSNAP01\"",
            bytes[..8].escape_ascii()
        ));
    }
    let len_le: [u8; 8] = bytes[8..16].try_into().expect("8 bytes");
    let stored_crc = u32::from_le_bytes(bytes[16..HEADER_BYTES].try_into().expect("4 bytes"));
    let len = u64::from_le_bytes(len_le);
    let held = (file_len - HEADER_BYTES) as u64;
    if len != held {
        let shape = if len > held {
            "truncated"
        } else {
            "trailing bytes"
        };
        return Err(format!(
            "{shape}: the header says {len} payload bytes but the file holds {held}"
        ));
    }
    let actual_crc = snapshot_crc(len_le, &bytes[HEADER_BYTES..]);
    if actual_crc != stored_crc {
        return Err(format!(
            "checksum mismatch over the {len}-byte payload: stored {stored_crc:#010x}, computed {actual_crc:#010x}"
        ));
    }
    bytes.drain(..HEADER_BYTES);
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let path = dir.path().join("snapshot");
        (dir, path)
    }

    fn expect_corrupt(path: &Path, want_what: &str) {
        let err = read_snapshot(path).expect_err("a damaged snapshot must not read");
        assert!(matches!(err, SnapshotError::Corrupt { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("{}: corrupt snapshot: ", path.display())),
            "{message}"
        );
        assert!(message.contains(want_what), "{message}");
    }

    #[test]
    fn snapshot_round_trip() {
        let (_dir, path) = fresh();
        let large: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        for payload in [&b""[..], b"small state", &large] {
            write_snapshot(&path, payload).unwrap();
            assert_eq!(read_snapshot(&path).unwrap().as_deref(), Some(payload));
            assert_eq!(
                fs::metadata(&path).unwrap().len(),
                (HEADER_BYTES + payload.len()) as u64
            );
            assert!(!tmp_path(&path).exists());
        }
    }

    #[test]
    fn snapshot_on_disk_layout_is_the_documented_one() {
        let (_dir, path) = fresh();
        write_snapshot(&path, b"abc").unwrap();
        let bytes = fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"SKSNAP01");
        assert_eq!(bytes[8..16], 3u64.to_le_bytes());
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&3u64.to_le_bytes());
        hasher.update(b"abc");
        assert_eq!(bytes[16..20], hasher.finalize().to_le_bytes());
        assert_eq!(&bytes[20..], b"abc");
    }

    #[test]
    fn snapshot_absent_is_none() {
        let (_dir, path) = fresh();
        assert_eq!(read_snapshot(&path).unwrap(), None);
    }

    #[test]
    fn snapshot_flipped_byte_anywhere_is_corrupt() {
        let (dir, path) = fresh();
        write_snapshot(&path, b"the replica's state").unwrap();
        let good = fs::read(&path).unwrap();
        let cases = [
            (0, "bad magic"),
            (7, "bad magic"),
            (8, "the header says"),
            (15, "the header says"),
            (16, "checksum mismatch"),
            (19, "checksum mismatch"),
            (20, "checksum mismatch"),
            (good.len() - 1, "checksum mismatch"),
        ];
        for (at, want_what) in cases {
            let case = dir.path().join(format!("flipped-{at}"));
            let mut bytes = good.clone();
            bytes[at] ^= 0x01;
            fs::write(&case, bytes).unwrap();
            expect_corrupt(&case, want_what);
        }
    }

    #[test]
    fn snapshot_truncated_or_extended_is_corrupt() {
        let (dir, path) = fresh();
        write_snapshot(&path, b"the replica's state").unwrap();
        let good = fs::read(&path).unwrap();
        let cases = [
            (0, "shorter than the 20-byte header"),
            (7, "shorter than the 20-byte header"),
            (HEADER_BYTES - 1, "shorter than the 20-byte header"),
            (HEADER_BYTES, "truncated"),
            (good.len() - 1, "truncated"),
        ];
        for (keep, want_what) in cases {
            let case = dir.path().join(format!("truncated-{keep}"));
            fs::write(&case, &good[..keep]).unwrap();
            expect_corrupt(&case, want_what);
        }
        let case = dir.path().join("extended");
        let mut bytes = good.clone();
        bytes.push(0);
        fs::write(&case, bytes).unwrap();
        expect_corrupt(&case, "trailing bytes");
    }

    #[test]
    fn snapshot_leftover_tmp_does_not_affect_reading_or_writing() {
        let (_dir, path) = fresh();
        let tmp = tmp_path(&path);
        fs::write(&tmp, b"SKSNAP01 half-written by a crashed writer").unwrap();
        assert_eq!(read_snapshot(&path).unwrap(), None);

        write_snapshot(&path, b"first").unwrap();
        fs::write(&tmp, b"garbage").unwrap();
        assert_eq!(
            read_snapshot(&path).unwrap().as_deref(),
            Some(&b"first"[..])
        );

        // The next write replaces the leftover rather than tripping on it.
        write_snapshot(&path, b"second").unwrap();
        assert_eq!(
            read_snapshot(&path).unwrap().as_deref(),
            Some(&b"second"[..])
        );
        assert!(!tmp.exists());
    }

    #[test]
    fn snapshot_write_into_a_missing_directory_names_the_tmp_file() {
        let (dir, _path) = fresh();
        let path = dir.path().join("no-such-dir").join("snapshot");
        let err = write_snapshot(&path, b"x").unwrap_err();
        assert!(matches!(err, SnapshotError::Io { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains(&tmp_path(&path).display().to_string()),
            "{err}"
        );
    }
}
