//! The write-ahead log: an append-only file of checksummed records.
//!
//! # Format
//!
//! The file is a sequence of frames and nothing else (no file header, so an
//! empty file is an empty log):
//!
//! ```text
//! +-------------+-------------+-------------------+
//! | len: u32 LE | crc: u32 LE | payload (len bytes) |
//! +-------------+-------------+-------------------+
//! ```
//!
//! `crc` is the CRC-32 (IEEE) of the four `len` bytes followed by the
//! payload, so a damaged length is caught as well as a damaged payload.
//!
//! # Recovery
//!
//! [`Wal::open`] reads the frames in order and stops at the first one that is
//! not intact. What happens next depends on whether the damage can be the
//! result of a crash in the middle of an append (a *torn tail*), which is
//! expected and repaired, or not (*corruption*), which is refused:
//!
//! | the first bad frame | verdict |
//! | --- | --- |
//! | fewer than 8 header bytes left before the end of the file | torn tail |
//! | its payload runs past the end of the file | torn tail |
//! | complete, bad checksum, and it ends exactly at the end of the file | torn tail |
//! | complete, bad checksum, and only zero bytes follow it | torn tail |
//! | a zero header (or fewer than 8 bytes, all zero), and only zero bytes follow it | space allocated ahead |
//! | complete, bad checksum, and other bytes follow it | [`WalError::Corrupt`] |
//! | length above the limit, and more bytes remain than one frame can hold | [`WalError::Corrupt`] |
//!
//! A torn tail is cut off (the file is truncated at the start of that frame
//! and fsynced) and the records before it are returned. Records written by an
//! append that was torn were never acknowledged, since an append returns only
//! after its fsync, so dropping them loses nothing that was promised.
//! Corruption, in contrast, may sit in front of acknowledged records; the log
//! refuses to open rather than silently forget them, and the file is left
//! exactly as it was for inspection.
//!
//! The log allocates its file ahead of the appends (so that a sync need not
//! also record a new length), so a log normally ends in zeros: they are cut
//! off on open like a torn tail, without a warning, and the next append
//! allocates again.
//!
//! The zero-bytes rows exist because some filesystems, after a crash, show a
//! file at its new length with the not-yet-written blocks read back as zeros.
//! Zeros can never form a valid frame (the checksum of a zero length is not
//! zero), so no intact record is dropped with them.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{sync_parent_dir, tmp_path};

/// The largest payload one record may carry, in bytes (64 MiB).
///
/// Appending a larger payload fails with [`WalError::TooLarge`]; a frame on
/// disk whose length field is larger is damaged (see the module docs for
/// when that is a torn tail and when it is corruption).
pub const RECORD_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Bytes in a frame header: `len: u32` then `crc: u32`.
const HEADER_BYTES: usize = 8;

/// Payloads up to this size are copied into the frame buffer so that a batch
/// of small records goes out in one `write`; larger ones are written straight
/// from the caller's slice, since copying them would only grow the buffer.
const INLINE_BYTES_MAX: usize = 64 * 1024;

/// The frame buffer is written out once it holds this many bytes. Together
/// with [`INLINE_BYTES_MAX`] this bounds the buffer's size however large a
/// batch or a rewrite is.
const FLUSH_BYTES: usize = 1024 * 1024;

/// The least the log allocates ahead of its appends, in bytes. An append
/// into allocated blocks does not change the file's length, which the
/// `fdatasync` of a growing file must also write: measured on this
/// machine's ext4, a synced 200-byte append took 121 µs (p50) into space
/// allocated by `posix_fallocate` and 203 µs at the end of the file.
const PREALLOCATE_MIN_BYTES: u64 = 1024 * 1024;

/// The most the log allocates ahead at once, in bytes; between the two
/// bounds it doubles the file. Small enough that the space held in
/// reserve, and the zeros read on open, stay modest.
const PREALLOCATE_MAX_BYTES: u64 = 8 * 1024 * 1024;

/// Capacity of the read buffer used while scanning the log on open.
const SCAN_BUFFER_BYTES: usize = 64 * 1024;

/// When the log calls `fdatasync` on its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Sync once per [`Wal::append`] and once per [`Wal::append_batch`]:
    /// every call is durable before it returns.
    Always,
    /// The same guarantee and the same syncs as [`FsyncPolicy::Always`]
    /// (durable before [`Wal::append_batch`] returns, one sync per call); it
    /// names the mode the server uses, where it groups the writes of
    /// concurrent requests into one `append_batch` so that they share a sync.
    Batch,
    /// Never sync anything: not the log, not its directory, not on open nor
    /// on rewrite.
    ///
    /// **Not crash-safe**: records survive a crash of the process (they are
    /// in the page cache) but not a crash of the machine or a power loss, so
    /// an acceptor may forget a promise it made. For benchmarks only.
    Never,
}

impl FsyncPolicy {
    /// Whether this policy syncs at all.
    fn syncs(self) -> bool {
        !matches!(self, FsyncPolicy::Never)
    }
}

/// What can go wrong with the write-ahead log.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// A system call on `path` (the log, its `.tmp` file or its directory)
    /// failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory the failed call was about.
        path: PathBuf,
        /// The error the operating system returned.
        source: io::Error,
    },
    /// The log is damaged in a way a crash cannot explain; see the module
    /// docs. The file has not been modified.
    #[error(
        "{}: corrupt record at byte offset {offset}: {what}; the log cannot be trusted past this point (restore the node from a peer: delete its data directory)",
        path.display()
    )]
    Corrupt {
        /// The log file.
        path: PathBuf,
        /// Where the damaged frame starts, in bytes from the start of the file.
        offset: u64,
        /// What is wrong with the frame.
        what: String,
    },
    /// A payload is larger than the log's record limit.
    #[error("record of {len} bytes is larger than the limit of {max}")]
    TooLarge {
        /// The payload's size in bytes.
        len: usize,
        /// The limit in bytes ([`RECORD_BYTES_MAX`] unless the log was opened
        /// with [`Wal::open_with_limit`]).
        max: usize,
    },
    /// An earlier write or fsync on this handle failed, so what is on disk is
    /// unknown; the handle refuses further writes.
    ///
    /// Retrying an fsync after a failure can report success for data the
    /// kernel already dropped, so the only safe way on is to reopen the log,
    /// which rereads what really is on disk.
    #[error(
        "{}: an earlier write or fsync failed, so what is on disk is unknown; reopen the log",
        path.display()
    )]
    Poisoned {
        /// The log file.
        path: PathBuf,
    },
}

/// An open write-ahead log; see the [module docs](self) for the format and
/// the recovery rules.
///
/// # Example
///
/// ```
/// use target_kv::storage::{FsyncPolicy, Wal};
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("wal");
/// let (mut wal, recovered) = Wal::open(&path, FsyncPolicy::Always).unwrap();
/// assert!(recovered.is_empty());
/// wal.append(b"promise ballot 3").unwrap();
/// wal.append_batch(&[b"accept slot 1".as_slice(), b"accept slot 2"]).unwrap();
/// drop(wal);
///
/// let (_wal, recovered) = Wal::open(&path, FsyncPolicy::Always).unwrap();
/// assert_eq!(recovered.len(), 3);
/// assert_eq!(recovered[0], b"promise ballot 3");
/// ```
pub struct Wal {
    /// The log file's path, as given to `open`.
    path: PathBuf,
    /// The log file, positioned at its end.
    file: File,
    /// When to sync.
    policy: FsyncPolicy,
    /// The largest payload accepted, in bytes.
    max_record_bytes: usize,
    /// Bytes of intact frames in the file: where the log ends and the next
    /// append goes (the file may be longer, see `allocated_bytes`).
    len_bytes: u64,
    /// Records in the file: recovered on open, or written by the last
    /// rewrite, plus those appended since.
    records: u64,
    /// Frames are encoded here and written with one `write_all`; kept between
    /// calls so that an append does not allocate.
    frame_buf: Vec<u8>,
    /// Set when a write or sync failed; see [`WalError::Poisoned`].
    poisoned: bool,
    /// The file's length on disk: `len_bytes` plus blocks allocated ahead
    /// of the appends.
    allocated_bytes: u64,
    /// Cleared when the file system refused an allocation.
    allocate_ahead: bool,
}

impl std::fmt::Debug for Wal {
    /// Leaves out the frame buffer, which may hold a megabyte of payloads.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("path", &self.path)
            .field("policy", &self.policy)
            .field("max_record_bytes", &self.max_record_bytes)
            .field("len_bytes", &self.len_bytes)
            .field("records", &self.records)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

impl Wal {
    /// Opens (creating if absent) the log at `path`, reads every intact
    /// record, and repairs a torn tail.
    ///
    /// Returns the log, positioned so that appends go after the last intact
    /// record, and the recovered payloads in the order they were appended. A
    /// leftover `<path>.tmp` from a [`Wal::rewrite`] that crashed before its
    /// rename is removed: the log at `path` is still the complete old one.
    ///
    /// Unless the policy is [`FsyncPolicy::Never`], the file is synced before
    /// this returns, so every recovered record is durable even if the process
    /// that wrote it crashed before its own sync.
    ///
    /// # Errors
    ///
    /// [`WalError::Corrupt`] when the log is damaged in a way a crash cannot
    /// explain (the file is then not modified), [`WalError::Io`] when a
    /// system call fails.
    pub fn open(path: &Path, policy: FsyncPolicy) -> Result<(Wal, Vec<Vec<u8>>), WalError> {
        Wal::open_with_limit(path, policy, RECORD_BYTES_MAX)
    }

    /// Like [`Wal::open`], with a record limit of `max_record_bytes` instead
    /// of [`RECORD_BYTES_MAX`]; it applies to appends and to the length
    /// fields read back. Mainly for tests, which can then reach the limit
    /// without writing 64 MiB.
    ///
    /// # Panics
    ///
    /// If `max_record_bytes` is above [`RECORD_BYTES_MAX`].
    ///
    /// # Errors
    ///
    /// As for [`Wal::open`].
    pub fn open_with_limit(
        path: &Path,
        policy: FsyncPolicy,
        max_record_bytes: usize,
    ) -> Result<(Wal, Vec<Vec<u8>>), WalError> {
        assert!(
            max_record_bytes <= RECORD_BYTES_MAX,
            "a record limit of {max_record_bytes} bytes is above RECORD_BYTES_MAX ({RECORD_BYTES_MAX})"
        );
        let io_err = |source| WalError::Io {
            path: path.to_path_buf(),
            source,
        };

        remove_stale_tmp(path)?;
        let (mut file, created) = open_or_create(path).map_err(io_err)?;
        if created && policy.syncs() {
            sync_parent_dir(path).map_err(|(dir, source)| WalError::Io { path: dir, source })?;
        }

        let file_len = file.metadata().map_err(io_err)?.len();
        let scan = {
            let mut reader = BufReader::with_capacity(SCAN_BUFFER_BYTES, &file);
            scan_frames(&mut reader, file_len, max_record_bytes).map_err(io_err)?
        };
        let (records, valid_bytes) = match scan {
            Scan::Intact {
                records,
                valid_bytes,
            } => (records, valid_bytes),
            // Cut, so that the file's length says where the log ends;
            // the next append allocates again.
            Scan::Allocated {
                records,
                valid_bytes,
            } => {
                file.set_len(valid_bytes).map_err(io_err)?;
                (records, valid_bytes)
            }
            Scan::TornTail {
                records,
                valid_bytes,
                why,
            } => {
                tracing::warn!(
                    path = %path.display(),
                    offset = valid_bytes,
                    dropped_bytes = file_len - valid_bytes,
                    records_kept = records.len(),
                    "write-ahead log has a torn tail ({why}); truncating it, as a crash during an append leaves"
                );
                file.set_len(valid_bytes).map_err(io_err)?;
                (records, valid_bytes)
            }
            Scan::Corrupt { offset, what } => {
                return Err(WalError::Corrupt {
                    path: path.to_path_buf(),
                    offset,
                    what,
                })
            }
        };
        // Sync even when nothing was truncated: a process that crashed
        // between its write and its sync leaves records that are readable
        // (from the page cache) but not yet durable, and the caller is about
        // to act on them as if they were.
        if policy.syncs() {
            file.sync_all().map_err(io_err)?;
        }
        file.seek(SeekFrom::Start(valid_bytes)).map_err(io_err)?;

        tracing::debug!(
            path = %path.display(),
            records = records.len(),
            bytes = valid_bytes,
            "opened write-ahead log"
        );
        let wal = Wal {
            path: path.to_path_buf(),
            file,
            policy,
            max_record_bytes,
            len_bytes: valid_bytes,
            records: records.len() as u64,
            frame_buf: Vec::with_capacity(4096),
            poisoned: false,
            allocated_bytes: valid_bytes,
            allocate_ahead: true,
        };
        Ok((wal, records))
    }

    /// Appends one record; durable on return unless the policy is
    /// [`FsyncPolicy::Never`] ([`FsyncPolicy::Always`] and
    /// [`FsyncPolicy::Batch`] both sync here).
    ///
    /// # Errors
    ///
    /// [`WalError::TooLarge`] (nothing is written), [`WalError::Io`] (the
    /// handle is then poisoned), [`WalError::Poisoned`].
    pub fn append(&mut self, payload: &[u8]) -> Result<(), WalError> {
        self.append_batch(&[payload])
    }

    /// Appends several records written at the same moment, with one sync at
    /// the end: all of them are durable before this returns unless the
    /// policy is [`FsyncPolicy::Never`].
    ///
    /// Every payload is checked against the limit before anything is
    /// written, so a [`WalError::TooLarge`] leaves the log unchanged. A crash
    /// during the call may leave any prefix of the batch on disk; recovery
    /// then drops the torn remainder. An empty batch does nothing.
    ///
    /// # Errors
    ///
    /// As for [`Wal::append`].
    pub fn append_batch(&mut self, payloads: &[&[u8]]) -> Result<(), WalError> {
        self.write_batch(payloads, self.policy.syncs())
    }

    /// Appends records without syncing, whatever the policy: they reach
    /// the file (a crash of the process keeps them) but a crash of the
    /// machine may lose them, as a suffix of the log, until the next
    /// synced append makes them durable with it. For records safety does
    /// not rest on (what a replica learned, which it can learn again).
    pub fn append_batch_unsynced(&mut self, payloads: &[&[u8]]) -> Result<(), WalError> {
        self.write_batch(payloads, false)
    }

    /// Makes every record appended so far durable (a no-op with
    /// [`FsyncPolicy::Never`]).
    pub fn sync(&mut self) -> Result<(), WalError> {
        self.check_usable()?;
        if !self.policy.syncs() {
            return Ok(());
        }
        self.file.sync_data().map_err(|source| {
            self.poisoned = true;
            WalError::Io {
                path: self.path.clone(),
                source,
            }
        })
    }

    fn write_batch(&mut self, payloads: &[&[u8]], sync: bool) -> Result<(), WalError> {
        self.check_usable()?;
        for payload in payloads {
            self.check_size(payload)?;
        }
        if payloads.is_empty() {
            return Ok(());
        }

        let batch_bytes: u64 = payloads.iter().map(|p| frame_bytes(p)).sum();
        self.reserve(self.len_bytes + batch_bytes);
        self.frame_buf.clear();
        let result = payloads
            .iter()
            .try_for_each(|payload| write_frame(&mut self.file, &mut self.frame_buf, payload))
            .and_then(|()| flush_frames(&mut self.file, &mut self.frame_buf))
            .and_then(|()| if sync { self.file.sync_data() } else { Ok(()) });
        if let Err(source) = result {
            // Part of the batch may be on disk, and after a failed fsync the
            // kernel may have dropped dirty pages: the file's state is unknown.
            self.poisoned = true;
            return Err(WalError::Io {
                path: self.path.clone(),
                source,
            });
        }
        self.len_bytes += batch_bytes;
        self.records += payloads.len() as u64;
        Ok(())
    }

    /// Allocates the file ahead of the appends when an append would pass
    /// what is allocated (see [`PREALLOCATE_MIN_BYTES`]). Best effort: if
    /// the file system refuses (no space for the look-ahead, no fallocate),
    /// this handle stops allocating ahead and appends grow the file as
    /// they would without it. Nothing is written, so nothing is poisoned.
    fn reserve(&mut self, end: u64) {
        if !self.allocate_ahead || end <= self.allocated_bytes {
            return;
        }
        let grow = self
            .allocated_bytes
            .clamp(PREALLOCATE_MIN_BYTES, PREALLOCATE_MAX_BYTES);
        let new_end = end.max(self.allocated_bytes + grow);
        match allocate(
            &self.file,
            self.allocated_bytes,
            new_end - self.allocated_bytes,
        ) {
            Ok(()) => self.allocated_bytes = new_end,
            Err(error) => {
                tracing::info!(
                    path = %self.path.display(),
                    %error,
                    "cannot allocate the log ahead of its appends; appending without"
                );
                self.allocate_ahead = false;
            }
        }
    }

    /// Replaces the whole log with these records, typically the ones still
    /// needed after a snapshot.
    ///
    /// The new log is written to `<path>.tmp`, synced, renamed over the log
    /// and the directory synced, so a crash at any point leaves either the
    /// complete old log or the complete new one. Afterwards [`Wal::records`]
    /// counts only these records and appends go after them.
    ///
    /// # Errors
    ///
    /// [`WalError::TooLarge`] for a payload over the limit and
    /// [`WalError::Io`] for a failure before the rename: the old log is then
    /// untouched and still usable. A failure of the directory sync after the
    /// rename poisons the handle, as it is then unknown which log a crash
    /// would bring back.
    pub fn rewrite<'a>(
        &mut self,
        payloads: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(), WalError> {
        self.check_usable()?;
        let tmp = tmp_path(&self.path);
        let (file, len_bytes, records) = match self.write_replacement(&tmp, payloads) {
            Ok(written) => written,
            Err(err) => {
                // Best effort: open() removes a leftover .tmp anyway.
                let _ = fs::remove_file(&tmp);
                return Err(err);
            }
        };
        if let Err(source) = fs::rename(&tmp, &self.path) {
            let _ = fs::remove_file(&tmp);
            return Err(WalError::Io {
                path: self.path.clone(),
                source,
            });
        }
        // The renamed file is now the log; the old handle points at an
        // unlinked file and must not be written again.
        self.file = file;
        self.len_bytes = len_bytes;
        self.allocated_bytes = len_bytes;
        self.records = records;
        if self.policy.syncs() {
            if let Err((dir, source)) = sync_parent_dir(&self.path) {
                self.poisoned = true;
                return Err(WalError::Io { path: dir, source });
            }
        }
        tracing::debug!(path = %self.path.display(), records, bytes = len_bytes, "rewrote write-ahead log");
        Ok(())
    }

    /// The log's length in bytes: the end of its last intact frame, where
    /// the next append goes.
    pub fn len_bytes(&self) -> u64 {
        self.len_bytes
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many records the log holds: those recovered by `open` (or written
    /// by the last [`Wal::rewrite`]) plus those appended since.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Refuses to write through a poisoned handle.
    fn check_usable(&self) -> Result<(), WalError> {
        if self.poisoned {
            return Err(WalError::Poisoned {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    /// Checks one payload against the record limit.
    fn check_size(&self, payload: &[u8]) -> Result<(), WalError> {
        if payload.len() > self.max_record_bytes {
            return Err(WalError::TooLarge {
                len: payload.len(),
                max: self.max_record_bytes,
            });
        }
        Ok(())
    }

    /// Writes `payloads` as a complete log at `tmp` and syncs it (unless the
    /// policy is `Never`). Returns the file, positioned at its end, with its
    /// length and record count.
    fn write_replacement<'a>(
        &mut self,
        tmp: &Path,
        payloads: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(File, u64, u64), WalError> {
        let io_err = |source| WalError::Io {
            path: tmp.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(tmp)
            .map_err(io_err)?;
        self.frame_buf.clear();
        let (mut len_bytes, mut records) = (0u64, 0u64);
        for payload in payloads {
            self.check_size(payload)?;
            write_frame(&mut file, &mut self.frame_buf, payload).map_err(io_err)?;
            len_bytes += frame_bytes(payload);
            records += 1;
        }
        flush_frames(&mut file, &mut self.frame_buf).map_err(io_err)?;
        if self.policy.syncs() {
            file.sync_data().map_err(io_err)?;
        }
        Ok((file, len_bytes, records))
    }
}

/// Appends the frames of `payloads` to `out`, exactly as an append writes
/// them to the file (for logs kept in memory, as the simulator's disks).
///
/// # Panics
///
/// If a payload is above [`RECORD_BYTES_MAX`].
pub fn encode_frames<'a>(payloads: impl IntoIterator<Item = &'a [u8]>, out: &mut Vec<u8>) {
    for payload in payloads {
        let len_le = u32::try_from(payload.len())
            .ok()
            .filter(|l| *l as usize <= RECORD_BYTES_MAX)
            .expect("a record within RECORD_BYTES_MAX")
            .to_le_bytes();
        out.extend_from_slice(&len_le);
        out.extend_from_slice(&frame_crc(len_le, payload).to_le_bytes());
        out.extend_from_slice(payload);
    }
}

/// What [`Wal::open`] makes of a log holding `bytes`, by the same rules:
/// the intact records and the length they end at (a torn tail after it is
/// to be cut off), or [`WalError::Corrupt`] (named `name`).
pub fn recover_bytes(name: &Path, bytes: &[u8]) -> Result<(Vec<Vec<u8>>, u64), WalError> {
    let mut reader = bytes;
    let scan =
        scan_frames(&mut reader, bytes.len() as u64, RECORD_BYTES_MAX).map_err(|source| {
            WalError::Io {
                path: name.to_path_buf(),
                source,
            }
        })?;
    match scan {
        Scan::Intact {
            records,
            valid_bytes,
        }
        | Scan::Allocated {
            records,
            valid_bytes,
        }
        | Scan::TornTail {
            records,
            valid_bytes,
            ..
        } => Ok((records, valid_bytes)),
        Scan::Corrupt { offset, what } => Err(WalError::Corrupt {
            path: name.to_path_buf(),
            offset,
            what,
        }),
    }
}

/// Removes a `<path>.tmp` left by a rewrite that crashed before its rename.
///
/// Such a file is never needed: until the rename the log at `path` is the
/// complete old one. Leaving it would only waste space until the next rewrite
/// truncates it.
fn remove_stale_tmp(path: &Path) -> Result<(), WalError> {
    let tmp = tmp_path(path);
    match fs::remove_file(&tmp) {
        Ok(()) => {
            tracing::warn!(
                path = %tmp.display(),
                "removed a leftover temporary log from a rewrite that did not finish"
            );
            Ok(())
        }
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
        Err(source) => Err(WalError::Io { path: tmp, source }),
    }
}

/// Opens `path` for reading and writing, creating it if it does not exist;
/// also returns whether it was created (its directory entry then needs a
/// sync).
fn open_or_create(path: &Path) -> io::Result<(File, bool)> {
    let mut options = OpenOptions::new();
    options.read(true).write(true);
    match options.clone().create_new(true).open(path) {
        Ok(file) => Ok((file, true)),
        Err(err) if err.kind() == ErrorKind::AlreadyExists => Ok((options.open(path)?, false)),
        Err(err) => Err(err),
    }
}

/// The checksum stored in a frame: CRC-32 of the length bytes, then the
/// payload.
fn frame_crc(len_le: [u8; 4], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len_le);
    hasher.update(payload);
    hasher.finalize()
}

/// Bytes that `payload` takes on disk, header included.
fn frame_bytes(payload: &[u8]) -> u64 {
    (HEADER_BYTES + payload.len()) as u64
}

/// Encodes one frame into `buf`, writing `buf` out to `out` when it is full.
///
/// The caller has checked the payload against the record limit, and flushes
/// `buf` after the last frame.
fn write_frame(out: &mut File, buf: &mut Vec<u8>, payload: &[u8]) -> io::Result<()> {
    assert!(
        payload.len() <= RECORD_BYTES_MAX,
        "a payload of {} bytes reached write_frame unchecked",
        payload.len()
    );
    let len_le = u32::try_from(payload.len())
        .expect("RECORD_BYTES_MAX fits in u32")
        .to_le_bytes();
    buf.extend_from_slice(&len_le);
    buf.extend_from_slice(&frame_crc(len_le, payload).to_le_bytes());
    if payload.len() <= INLINE_BYTES_MAX {
        buf.extend_from_slice(payload);
        if buf.len() >= FLUSH_BYTES {
            flush_frames(out, buf)?;
        }
    } else {
        flush_frames(out, buf)?;
        out.write_all(payload)?;
    }
    debug_assert!(buf.len() < FLUSH_BYTES + HEADER_BYTES + INLINE_BYTES_MAX);
    Ok(())
}

/// Writes out and empties the frame buffer.
fn flush_frames(out: &mut File, buf: &mut Vec<u8>) -> io::Result<()> {
    if !buf.is_empty() {
        out.write_all(buf)?;
        buf.clear();
    }
    Ok(())
}

/// What a scan of the log found.
#[derive(Debug)]
enum Scan {
    /// Every byte belongs to an intact frame.
    Intact {
        records: Vec<Vec<u8>>,
        valid_bytes: u64,
    },
    /// Intact frames up to `valid_bytes`, then only zero bytes from a zero
    /// header on: the blocks the log allocates ahead of its appends (or an
    /// append whose data never reached the disk; the two look alike and
    /// neither holds a record).
    Allocated {
        records: Vec<Vec<u8>>,
        valid_bytes: u64,
    },
    /// Intact frames up to `valid_bytes`, then a torn tail to cut off.
    TornTail {
        records: Vec<Vec<u8>>,
        valid_bytes: u64,
        why: String,
    },
    /// Damage a crash cannot explain, in the frame starting at `offset`.
    Corrupt { offset: u64, what: String },
}

/// Reads frames from `reader`, which holds the `file_len` bytes of a log,
/// and classifies the first bad one by the rules in the module docs.
///
/// Memory is bounded by the file: a payload buffer is allocated only once its
/// length is known to be within the limit and within the file.
fn scan_frames(reader: &mut impl Read, file_len: u64, max_record_bytes: usize) -> io::Result<Scan> {
    let mut records = Vec::new();
    let mut offset = 0u64;
    loop {
        assert!(offset <= file_len, "scanned past the end of the log");
        let remaining = file_len - offset;
        if remaining == 0 {
            return Ok(Scan::Intact {
                records,
                valid_bytes: offset,
            });
        }
        let torn = |records, why: String| {
            Ok(Scan::TornTail {
                records,
                valid_bytes: offset,
                why,
            })
        };
        if remaining < HEADER_BYTES as u64 {
            if rest_is_zero(reader)? {
                return Ok(Scan::Allocated {
                    records,
                    valid_bytes: offset,
                });
            }
            return torn(
                records,
                format!("{remaining} bytes at offset {offset}, fewer than a frame header"),
            );
        }

        let mut header = [0u8; HEADER_BYTES];
        reader.read_exact(&mut header)?;
        let after_header = remaining - HEADER_BYTES as u64;
        if header == [0; HEADER_BYTES] {
            // No append writes a zero header (the crc of a zero length is
            // not zero). Decided here, as the rest has been read.
            if rest_is_zero(reader)? {
                return Ok(Scan::Allocated {
                    records,
                    valid_bytes: offset,
                });
            }
            return Ok(Scan::Corrupt {
                offset,
                what: format!(
                    "a zero frame header, and bytes other than zeros follow it in the {after_header} bytes left"
                ),
            });
        }
        let len_le: [u8; 4] = header[..4].try_into().expect("4 bytes");
        let len = u32::from_le_bytes(len_le) as usize;
        let stored_crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));

        if len > max_record_bytes {
            // No append ever wrote this length. If the bytes left could be
            // one partly written frame it is a torn tail; more bytes than any
            // frame holds means frames follow it, so it is corruption.
            if remaining > (HEADER_BYTES + max_record_bytes) as u64 {
                return Ok(Scan::Corrupt {
                    offset,
                    what: format!(
                        "length field says {len} bytes, above the limit of {max_record_bytes}, and {after_header} more bytes follow"
                    ),
                });
            }
            return torn(
                records,
                format!(
                    "length field of {len} bytes at offset {offset} is above the limit and runs past the end of the file"
                ),
            );
        }
        if len as u64 > after_header {
            return torn(
                records,
                format!(
                    "frame at offset {offset} needs {len} payload bytes but only {after_header} remain"
                ),
            );
        }

        let mut payload = vec![0u8; len];
        reader.read_exact(&mut payload)?;
        let actual_crc = frame_crc(len_le, &payload);
        let frame_end = offset + HEADER_BYTES as u64 + len as u64;
        if actual_crc != stored_crc {
            let why = format!(
                "checksum mismatch in the {len}-byte record at offset {offset}: stored {stored_crc:#010x}, computed {actual_crc:#010x}"
            );
            // The exact-end case is the zero-bytes rule below with nothing
            // after the frame; it is tested first for a plainer message.
            if frame_end == file_len {
                return torn(records, format!("{why}, and it is the last frame"));
            }
            if rest_is_zero(reader)? {
                return torn(
                    records,
                    format!("{why}, followed only by zero bytes to the end of the file"),
                );
            }
            return Ok(Scan::Corrupt {
                offset,
                what: format!("{why}; {} more bytes follow it", file_len - frame_end),
            });
        }
        records.push(payload);
        offset = frame_end;
    }
}

/// Allocates `len` bytes of `file` from `offset` (reading back as zeros).
#[cfg(target_os = "linux")]
fn allocate(file: &File, offset: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    #[cfg(test)]
    if tests::REFUSE_ALLOCATE.with(|refuse| refuse.get()) {
        return Err(io::Error::from_raw_os_error(libc::ENOSPC));
    }
    // off_t is 64 bits on 64-bit targets; a 32-bit one allocates up to 2
    // GiB and then appends without (best effort, see `Wal::reserve`).
    let (Ok(offset), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            "allocation past off_t",
        ));
    };
    loop {
        // SAFETY: the descriptor is open for as long as `file` is borrowed,
        // and posix_fallocate touches nothing but that file.
        let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), offset, len) };
        match rc {
            0 => return Ok(()),
            libc::EINTR => continue,
            _ => return Err(io::Error::from_raw_os_error(rc)),
        }
    }
}

/// Elsewhere the log does not allocate ahead.
#[cfg(not(target_os = "linux"))]
fn allocate(_file: &File, _offset: u64, _len: u64) -> io::Result<()> {
    Err(io::Error::new(
        ErrorKind::Unsupported,
        "allocating ahead is implemented for Linux only",
    ))
}

/// Whether every byte left in `reader` is zero.
fn rest_is_zero(reader: &mut impl Read) -> io::Result<bool> {
    let mut chunk = [0u8; 4096];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(true),
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if chunk[..n].iter().any(|&byte| byte != 0) {
            return Ok(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    thread_local! {
        /// Set by a test to make `allocate` fail as a full disk does.
        pub(super) static REFUSE_ALLOCATE: std::cell::Cell<bool> =
            const { std::cell::Cell::new(false) };
    }

    /// A fresh directory and a log path inside it.
    fn fresh() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let path = dir.path().join("wal");
        (dir, path)
    }

    fn open(path: &Path) -> (Wal, Vec<Vec<u8>>) {
        Wal::open(path, FsyncPolicy::Always).expect("open the log")
    }

    /// Writes `records` to a new log at `path` and returns the end offset of
    /// each frame.
    fn write_log(path: &Path, records: &[&[u8]]) -> Vec<u64> {
        let (mut wal, recovered) = open(path);
        assert!(recovered.is_empty(), "write_log wants a fresh path");
        let mut ends = Vec::new();
        for record in records {
            wal.append(record).expect("append");
            ends.push(wal.len_bytes());
        }
        if cfg!(target_os = "linux") {
            assert!(
                fs::metadata(path).unwrap().len() > wal.len_bytes(),
                "the file is allocated ahead of the appends"
            );
        }
        drop(wal);
        // Reopening cuts the allocated zeros, so the file is the log.
        let (wal, recovered) = open(path);
        assert_eq!(recovered, records);
        assert_eq!(fs::metadata(path).unwrap().len(), wal.len_bytes());
        ends
    }

    /// The log's bytes, after checking that the file holds only zeros
    /// past them (the space allocated ahead).
    fn logged_bytes(wal: &Wal) -> Vec<u8> {
        let mut bytes = fs::read(wal.path()).unwrap();
        let end = wal.len_bytes() as usize;
        assert!(bytes.len() >= end, "the file is shorter than the log");
        assert!(
            bytes[end..].iter().all(|b| *b == 0),
            "non-zero bytes past the log"
        );
        bytes.truncate(end);
        bytes
    }

    /// Flips the lowest bit of one byte: for a length field that makes the
    /// frame one byte shorter or longer, which keeps it inside the file.
    fn flip_byte(path: &Path, offset: u64) {
        let mut bytes = fs::read(path).unwrap();
        bytes[offset as usize] ^= 0x01;
        fs::write(path, bytes).unwrap();
    }

    fn set_len_field(path: &Path, frame_offset: u64, len: u32) {
        let mut bytes = fs::read(path).unwrap();
        let at = frame_offset as usize;
        bytes[at..at + 4].copy_from_slice(&len.to_le_bytes());
        fs::write(path, bytes).unwrap();
    }

    fn expect_corrupt(path: &Path, max_record_bytes: usize, want_offset: u64) {
        let before = fs::read(path).unwrap();
        let err = Wal::open_with_limit(path, FsyncPolicy::Always, max_record_bytes)
            .expect_err("a corrupt log must not open");
        match &err {
            WalError::Corrupt {
                path: p, offset, ..
            } => {
                assert_eq!(p, path);
                assert_eq!(*offset, want_offset, "{err}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(
            message.contains(&format!("byte offset {want_offset}")),
            "{message}"
        );
        assert_eq!(
            fs::read(path).unwrap(),
            before,
            "a failed open modified the log"
        );
    }

    #[test]
    fn wal_round_trip_keeps_order_and_appends_after_recovered_records() {
        let (_dir, path) = fresh();
        let large = vec![0xab; 3 * INLINE_BYTES_MAX + 17];
        let records: [&[u8]; 5] = [b"first", b"", &large, b"x", b"last small one"];
        let ends = write_log(&path, &records);
        assert_eq!(fs::metadata(&path).unwrap().len(), *ends.last().unwrap());

        let (mut wal, recovered) = open(&path);
        assert_eq!(recovered, records);
        assert_eq!(wal.records(), records.len() as u64);
        assert_eq!(wal.len_bytes(), *ends.last().unwrap());
        assert_eq!(wal.path(), path);

        wal.append(b"after reopen").unwrap();
        drop(wal);
        let (wal, recovered) = open(&path);
        assert_eq!(recovered.len(), records.len() + 1);
        assert_eq!(recovered[..records.len()], records[..]);
        assert_eq!(recovered.last().unwrap(), b"after reopen");
        assert_eq!(wal.len_bytes(), fs::metadata(&path).unwrap().len());
    }

    #[test]
    fn wal_frames_in_memory_are_the_files_frames_and_recover_alike() {
        let (_dir, path) = fresh();
        let records: [&[u8]; 3] = [b"one", b"", b"three"];
        write_log(&path, &records);
        let mut bytes = Vec::new();
        encode_frames(records, &mut bytes);
        assert_eq!(fs::read(&path).unwrap(), bytes, "same bytes as the file");
        let (back, end) = recover_bytes(&path, &bytes).unwrap();
        assert_eq!(back, records);
        assert_eq!(end, bytes.len() as u64);
        // A torn last frame is cut off, as on open.
        let (back, end) = recover_bytes(&path, &bytes[..bytes.len() - 2]).unwrap();
        assert_eq!(back, records[..2]);
        assert!(end < bytes.len() as u64);
        // Damage with data after it is refused, as on open.
        let mut bad = bytes.clone();
        bad[9] ^= 0xff;
        assert!(matches!(
            recover_bytes(&path, &bad),
            Err(WalError::Corrupt { .. })
        ));
    }

    #[test]
    fn wal_open_creates_an_empty_log() {
        let (_dir, path) = fresh();
        let (wal, recovered) = open(&path);
        assert!(recovered.is_empty());
        assert_eq!((wal.records(), wal.len_bytes()), (0, 0));
        assert!(path.exists());
    }

    #[test]
    fn wal_torn_tail_at_every_offset_of_the_last_frame_is_cut_off() {
        let (dir, path) = fresh();
        let records: [&[u8]; 3] = [b"one", b"", b"the last record, torn"];
        let ends = write_log(&path, &records);
        let full = fs::read(&path).unwrap();
        let prev_end = ends[ends.len() - 2];
        let last_end = ends[ends.len() - 1];

        // Every cut that leaves part of the last frame: inside its header
        // (prev_end+1 ..= prev_end+7) and inside its payload.
        for cut in prev_end + 1..last_end {
            let case = dir.path().join(format!("torn-{cut}"));
            fs::write(&case, &full[..cut as usize]).unwrap();

            let (mut wal, recovered) = open(&case);
            assert_eq!(recovered, records[..2], "cut at {cut}");
            assert_eq!(fs::metadata(&case).unwrap().len(), prev_end, "cut at {cut}");
            assert_eq!(wal.len_bytes(), prev_end, "cut at {cut}");
            assert_eq!(wal.records(), 2, "cut at {cut}");

            wal.append(b"after repair").unwrap();
            drop(wal);
            let (_wal, recovered) = open(&case);
            assert_eq!(recovered.len(), 3, "cut at {cut}");
            assert_eq!(recovered[2], b"after repair", "cut at {cut}");
        }
    }

    #[test]
    fn wal_torn_first_frame_leaves_an_empty_log() {
        let (_dir, path) = fresh();
        write_log(&path, &[b"only"]);
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(5).unwrap();
        let (wal, recovered) = open(&path);
        assert!(recovered.is_empty());
        assert_eq!(fs::metadata(&path).unwrap().len(), 0);
        assert_eq!(wal.records(), 0);
    }

    #[test]
    fn wal_damaged_last_frame_is_a_torn_tail() {
        let (dir, path) = fresh();
        let records: [&[u8]; 3] = [b"kept", b"also kept", b"damaged at the end"];
        let ends = write_log(&path, &records);
        let full = fs::read(&path).unwrap();
        let last_start = ends[1];
        let last_end = ends[2];
        // (what, byte to flip): the payload, the crc field, the length field
        // (which then no longer matches the crc, or runs past the end).
        let cases = [
            ("first payload byte", last_start + 8),
            ("last payload byte", last_end - 1),
            ("crc field", last_start + 5),
            ("length field", last_start),
        ];
        for (what, at) in cases {
            let case = dir.path().join(format!("damaged-{at}"));
            fs::write(&case, &full).unwrap();
            flip_byte(&case, at);
            let (_wal, recovered) = open(&case);
            assert_eq!(recovered, records[..2], "{what}");
            assert_eq!(fs::metadata(&case).unwrap().len(), last_start, "{what}");
        }
    }

    #[test]
    fn wal_corruption_in_the_middle_is_refused_and_leaves_the_file_alone() {
        let (dir, path) = fresh();
        let records: [&[u8]; 4] = [b"zero", b"the middle record", b"two", b"three"];
        let ends = write_log(&path, &records);
        let full = fs::read(&path).unwrap();
        let middle = ends[0];
        let cases = [
            ("first record's payload", 0, 8),
            ("middle payload", middle, middle + 8 + 3),
            ("middle crc", middle, middle + 6),
            ("middle length, still inside the file", middle, middle),
            ("second-to-last payload", ends[1], ends[2] - 1),
        ];
        for (what, frame, at) in cases {
            let case = dir.path().join(format!("corrupt-{at}"));
            fs::write(&case, &full).unwrap();
            flip_byte(&case, at);
            if at == frame {
                // This case is about a length that stays inside the file.
                let bytes = fs::read(&case).unwrap();
                let len = u32::from_le_bytes(bytes[at as usize..][..4].try_into().unwrap());
                let end = frame + 8 + u64::from(len);
                assert!(end < full.len() as u64, "{what}: the flip ran past the end");
            }
            expect_corrupt(&case, RECORD_BYTES_MAX, frame);
        }
    }

    #[test]
    fn wal_length_above_the_limit_is_corrupt_in_the_middle_and_torn_at_the_tail() {
        const LIMIT: usize = 16;
        let (dir, path) = fresh();
        let records: [&[u8]; 5] = [&[1; 10], &[2; 10], &[3; 10], &[4; 10], &[5; 10]];
        let ends = write_log(&path, &records);
        let full = fs::read(&path).unwrap();

        // In the middle, a length just above the limit whose frame would
        // still fit inside the file.
        let case = dir.path().join("middle-fits");
        fs::write(&case, &full).unwrap();
        set_len_field(&case, ends[0], LIMIT as u32 + 1);
        expect_corrupt(&case, LIMIT, ends[0]);

        // In the middle, a huge length that runs past the end of the file:
        // more bytes follow than one frame can hold, so frames follow it.
        let case = dir.path().join("middle-huge");
        fs::write(&case, &full).unwrap();
        set_len_field(&case, ends[0], u32::MAX);
        expect_corrupt(&case, LIMIT, ends[0]);

        // At the tail, a length above the limit running past the end: torn.
        for len in [LIMIT as u32 + 1, u32::MAX] {
            let case = dir.path().join(format!("tail-{len}"));
            fs::write(&case, &full).unwrap();
            set_len_field(&case, ends[3], len);
            let (_wal, recovered) =
                Wal::open_with_limit(&case, FsyncPolicy::Always, LIMIT).unwrap();
            assert_eq!(recovered, records[..4], "len {len}");
            assert_eq!(fs::metadata(&case).unwrap().len(), ends[3], "len {len}");
        }

        // With the default limit a huge length at the tail is torn too.
        let case = dir.path().join("tail-default-limit");
        fs::write(&case, &full).unwrap();
        set_len_field(&case, ends[3], u32::MAX);
        let (_wal, recovered) = open(&case);
        assert_eq!(recovered, records[..4]);
    }

    #[test]
    fn wal_zero_filled_tail_is_cut_off_but_zeros_before_data_are_corrupt() {
        let (dir, path) = fresh();
        let records: [&[u8]; 3] = [b"a", b"bb", b"ccc"];
        let ends = write_log(&path, &records);
        let full = fs::read(&path).unwrap();
        let end = *ends.last().unwrap();
        // A zero header is a bad frame: the crc of a zero length is not zero.
        assert_ne!(frame_crc([0; 4], &[]), 0);

        // Zeros after the last record, as after a crash that grew the file
        // before its data reached the disk: more than one header's worth.
        let case = dir.path().join("zero-tail");
        let mut bytes = full.clone();
        bytes.extend_from_slice(&[0; 100]);
        fs::write(&case, &bytes).unwrap();
        let (_wal, recovered) = open(&case);
        assert_eq!(recovered, records);
        assert_eq!(fs::metadata(&case).unwrap().len(), end);

        // A damaged last record followed by zeros: torn as well.
        let case = dir.path().join("damaged-then-zeros");
        let mut bytes = full.clone();
        bytes[ends[1] as usize + 9] ^= 1;
        bytes.extend_from_slice(&[0; 50]);
        fs::write(&case, &bytes).unwrap();
        let (_wal, recovered) = open(&case);
        assert_eq!(recovered, records[..2]);
        assert_eq!(fs::metadata(&case).unwrap().len(), ends[1]);

        // Zeros over the middle record with records after them: corrupt.
        let case = dir.path().join("zeros-in-the-middle");
        let mut bytes = full.clone();
        bytes[ends[0] as usize..ends[1] as usize].fill(0);
        fs::write(&case, &bytes).unwrap();
        expect_corrupt(&case, RECORD_BYTES_MAX, ends[0]);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn wal_allocates_ahead_and_a_reopen_finds_the_records_not_a_torn_tail() {
        let (_dir, path) = fresh();
        let (mut wal, _) = Wal::open(&path, FsyncPolicy::Batch).unwrap();
        wal.append(b"first").unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            PREALLOCATE_MIN_BYTES,
            "the first append allocates the least"
        );
        // Past the first allocation: the file doubles, and every byte past
        // the log is zero.
        let record = vec![0x5a; 64 * 1024];
        let mut appended = vec![b"first".to_vec()];
        while wal.len_bytes() <= PREALLOCATE_MIN_BYTES {
            wal.append(&record).unwrap();
            appended.push(record.clone());
        }
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            2 * PREALLOCATE_MIN_BYTES
        );
        let bytes = logged_bytes(&wal);
        let (back, end) = recover_bytes(&path, &fs::read(&path).unwrap()).unwrap();
        assert_eq!((back.len(), end), (appended.len(), bytes.len() as u64));
        wal.append_batch_unsynced(&[b"unsynced".as_slice()])
            .unwrap();
        appended.push(b"unsynced".to_vec());
        let len = wal.len_bytes();
        drop(wal);

        let scan = scan_frames(
            &mut fs::read(&path).unwrap().as_slice(),
            2 * PREALLOCATE_MIN_BYTES,
            RECORD_BYTES_MAX,
        )
        .unwrap();
        assert!(
            matches!(&scan, Scan::Allocated { valid_bytes, .. } if *valid_bytes == len),
            "the allocated zeros are not taken for a torn tail"
        );
        let (mut wal, recovered) = Wal::open(&path, FsyncPolicy::Batch).unwrap();
        assert_eq!(recovered, appended);
        assert_eq!(fs::metadata(&path).unwrap().len(), len, "cut on open");
        wal.append(b"after").unwrap();
        assert!(fs::metadata(&path).unwrap().len() > wal.len_bytes());
        drop(wal);
        let (_wal, recovered) = open(&path);
        assert_eq!(recovered.len(), appended.len() + 1);
    }

    #[test]
    fn wal_a_refused_allocation_appends_without_and_poisons_nothing() {
        let (_dir, path) = fresh();
        REFUSE_ALLOCATE.with(|refuse| refuse.set(true));
        let (mut wal, _) = Wal::open(&path, FsyncPolicy::Always).unwrap();
        wal.append(b"one").unwrap();
        wal.append_batch(&[b"two".as_slice(), b"three"]).unwrap();
        REFUSE_ALLOCATE.with(|refuse| refuse.set(false));
        // The handle gave up allocating ahead: the file is the log.
        wal.append(b"four").unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), wal.len_bytes());
        drop(wal);
        let (mut wal, recovered) = open(&path);
        assert_eq!(recovered, [b"one".as_slice(), b"two", b"three", b"four"]);
        // A reopened handle tries again.
        wal.append(b"five").unwrap();
        assert!(fs::metadata(&path).unwrap().len() > wal.len_bytes());
    }

    #[test]
    fn wal_zero_header_with_data_after_it_is_corrupt() {
        let (dir, path) = fresh();
        let records: [&[u8]; 3] = [b"a", b"bb", b"ccc"];
        let ends = write_log(&path, &records);
        let mut bytes = fs::read(&path).unwrap();
        // Only the second frame's header zeroed: its payload and the third
        // frame follow, so this is not space allocated ahead.
        bytes[ends[0] as usize..ends[0] as usize + HEADER_BYTES].fill(0);
        let case = dir.path().join("zero-header");
        fs::write(&case, &bytes).unwrap();
        expect_corrupt(&case, RECORD_BYTES_MAX, ends[0]);
    }

    #[test]
    fn wal_append_batch_writes_every_record() {
        let (_dir, path) = fresh();
        let (mut wal, _) = Wal::open(&path, FsyncPolicy::Batch).unwrap();
        let big = vec![7u8; INLINE_BYTES_MAX + 1];
        let many: Vec<Vec<u8>> = (0..200u32).map(|i| i.to_le_bytes().to_vec()).collect();
        let mut batch: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
        batch.insert(100, &big);
        batch.push(b"");

        wal.append_batch(&batch).unwrap();
        wal.append_batch(&[]).unwrap();
        wal.append(b"single").unwrap();
        assert_eq!(wal.records(), batch.len() as u64 + 1);
        let len = wal.len_bytes();
        drop(wal);

        let (wal, recovered) = Wal::open(&path, FsyncPolicy::Batch).unwrap();
        assert_eq!(recovered[..batch.len()], batch[..]);
        assert_eq!(recovered[batch.len()], b"single");
        assert_eq!(wal.len_bytes(), len);
        assert_eq!(fs::metadata(&path).unwrap().len(), len);
    }

    #[test]
    fn wal_batch_larger_than_the_frame_buffer_is_written_whole() {
        let (_dir, path) = fresh();
        let (mut wal, _) = Wal::open(&path, FsyncPolicy::Batch).unwrap();
        let record = vec![9u8; INLINE_BYTES_MAX];
        let batch = vec![record.as_slice(); 3 * FLUSH_BYTES / INLINE_BYTES_MAX];
        wal.append_batch(&batch).unwrap();
        assert!(wal.frame_buf.capacity() < FLUSH_BYTES + HEADER_BYTES + 2 * INLINE_BYTES_MAX);
        drop(wal);
        let (_wal, recovered) = Wal::open(&path, FsyncPolicy::Batch).unwrap();
        assert_eq!(recovered, batch);
    }

    #[test]
    fn wal_rewrite_replaces_the_content_and_leaves_no_tmp() {
        let (_dir, path) = fresh();
        let (mut wal, _) = open(&path);
        for i in 0..5u8 {
            wal.append(&[i; 20]).unwrap();
        }
        wal.rewrite([b"kept 1".as_slice(), b"kept 2".as_slice()])
            .unwrap();
        assert!(!tmp_path(&path).exists());
        assert_eq!(wal.records(), 2);
        assert_eq!(wal.len_bytes(), fs::metadata(&path).unwrap().len());

        wal.append(b"after rewrite").unwrap();
        drop(wal);
        let (wal, recovered) = open(&path);
        assert_eq!(recovered, [&b"kept 1"[..], b"kept 2", b"after rewrite"]);
        assert_eq!(wal.records(), 3);

        // Rewriting to nothing empties the log.
        let mut wal = wal;
        wal.rewrite(std::iter::empty()).unwrap();
        assert_eq!((wal.records(), wal.len_bytes()), (0, 0));
        drop(wal);
        let (_wal, recovered) = open(&path);
        assert!(recovered.is_empty());
    }

    #[test]
    fn wal_rewrite_with_a_record_too_large_keeps_the_old_log() {
        let (_dir, path) = fresh();
        let (mut wal, _) = Wal::open_with_limit(&path, FsyncPolicy::Always, 8).unwrap();
        wal.append(b"old").unwrap();
        let err = wal
            .rewrite([b"fine".as_slice(), b"far too large".as_slice()])
            .unwrap_err();
        assert!(
            matches!(err, WalError::TooLarge { len: 13, max: 8 }),
            "{err:?}"
        );
        assert!(!tmp_path(&path).exists());
        wal.append(b"still ok").unwrap();
        drop(wal);
        let (_wal, recovered) = open(&path);
        assert_eq!(recovered, [&b"old"[..], b"still ok"]);
    }

    #[test]
    fn wal_leftover_tmp_is_removed_on_open_and_ignored() {
        let (_dir, path) = fresh();
        write_log(&path, &[b"real"]);
        let tmp = tmp_path(&path);
        // A rewrite that crashed before its rename: a partial new log.
        fs::write(&tmp, b"\x05\x00\x00\x00garbage from an unfinished rewrite").unwrap();
        let (_wal, recovered) = open(&path);
        assert_eq!(recovered, [b"real"]);
        assert!(!tmp.exists());
    }

    #[test]
    fn wal_never_policy_still_writes_records() {
        let (_dir, path) = fresh();
        let (mut wal, _) = Wal::open(&path, FsyncPolicy::Never).unwrap();
        wal.append(b"unsynced 1").unwrap();
        wal.append_batch(&[b"unsynced 2".as_slice(), b"unsynced 3"])
            .unwrap();
        wal.rewrite([b"rewritten".as_slice()]).unwrap();
        wal.append(b"unsynced 4").unwrap();
        drop(wal);
        let (_wal, recovered) = Wal::open(&path, FsyncPolicy::Never).unwrap();
        assert_eq!(recovered, [&b"rewritten"[..], b"unsynced 4"]);
    }

    #[test]
    fn wal_too_large_record_is_refused_and_nothing_is_written() {
        let (_dir, path) = fresh();
        let (mut wal, _) = Wal::open_with_limit(&path, FsyncPolicy::Always, 16).unwrap();
        wal.append(&[1; 16]).unwrap();
        let len = wal.len_bytes();

        let err = wal.append(&[2; 17]).unwrap_err();
        assert!(
            matches!(err, WalError::TooLarge { len: 17, max: 16 }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "record of 17 bytes is larger than the limit of 16"
        );
        // A batch with one bad record writes none of it.
        let err = wal
            .append_batch(&[b"ok".as_slice(), &[3; 40], b"ok"])
            .unwrap_err();
        assert!(
            matches!(err, WalError::TooLarge { len: 40, max: 16 }),
            "{err:?}"
        );
        assert_eq!((wal.len_bytes(), wal.records()), (len, 1));
        assert_eq!(logged_bytes(&wal).len() as u64, len);

        // A refused record does not poison the log.
        wal.append(b"next").unwrap();
        drop(wal);
        let (_wal, recovered) = open(&path);
        assert_eq!(recovered, [&[1; 16][..], b"next"]);
    }

    #[test]
    fn wal_default_limit_is_64_mib() {
        assert_eq!(RECORD_BYTES_MAX, 64 << 20);
        let (_dir, path) = fresh();
        let (mut wal, _) = open(&path);
        let err = wal.append(&vec![0; RECORD_BYTES_MAX + 1]).unwrap_err();
        assert!(matches!(
            err,
            WalError::TooLarge {
                max: RECORD_BYTES_MAX,
                ..
            }
        ));
    }

    #[test]
    #[should_panic(expected = "above RECORD_BYTES_MAX")]
    fn wal_limit_above_the_maximum_panics() {
        let (_dir, path) = fresh();
        let _ = Wal::open_with_limit(&path, FsyncPolicy::Always, RECORD_BYTES_MAX + 1);
    }

    #[test]
    fn wal_failed_write_poisons_the_handle() {
        // /dev/full fails every write with ENOSPC; reads return nothing
        // (its length is 0). Never: fsync of a character device may fail.
        let full = Path::new("/dev/full");
        if !full.exists() {
            eprintln!("skipping: no /dev/full on this system");
            return;
        }
        let (mut wal, recovered) = Wal::open(full, FsyncPolicy::Never).unwrap();
        assert!(recovered.is_empty());
        let err = wal.append(b"no space").unwrap_err();
        assert!(matches!(err, WalError::Io { .. }), "{err:?}");
        assert!(err.to_string().starts_with("/dev/full: "), "{err}");
        let err = wal.append(b"again").unwrap_err();
        assert!(matches!(err, WalError::Poisoned { .. }), "{err:?}");
        let err = wal.rewrite([b"x".as_slice()]).unwrap_err();
        assert!(matches!(err, WalError::Poisoned { .. }), "{err:?}");
        assert_eq!(wal.records(), 0);
    }

    #[test]
    fn wal_open_of_a_directory_is_an_io_error_naming_it() {
        let (dir, _path) = fresh();
        let err = Wal::open(dir.path(), FsyncPolicy::Always).unwrap_err();
        assert!(matches!(err, WalError::Io { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&dir.path().display().to_string()),
            "{err}"
        );
    }

    /// Run with `cargo test -p target-kv --release wal_measure -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a test: prints append rates"]
    fn wal_measure_append_rates() {
        const RECORD_BYTES: usize = 128;
        const APPENDS: u32 = 1000;
        const BATCHES: u32 = 300;
        const BATCH_RECORDS: usize = 64;
        let record = [0x42u8; RECORD_BYTES];

        let (_dir, path) = fresh();
        let (mut wal, _) = Wal::open(&path, FsyncPolicy::Always).unwrap();
        let start = Instant::now();
        for _ in 0..APPENDS {
            wal.append(&record).unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "Always: {APPENDS} appends of {RECORD_BYTES} B in {secs:.3} s = {:.0} fsync'd appends/s",
            f64::from(APPENDS) / secs
        );

        let (_dir, path) = fresh();
        let (mut wal, _) = Wal::open(&path, FsyncPolicy::Batch).unwrap();
        let batch = [&record[..]; BATCH_RECORDS];
        let start = Instant::now();
        for _ in 0..BATCHES {
            wal.append_batch(&batch).unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        let total = f64::from(BATCHES) * BATCH_RECORDS as f64;
        println!(
            "Batch of {BATCH_RECORDS}: {BATCHES} batches in {secs:.3} s = {:.0} batches/s = {:.0} records/s",
            f64::from(BATCHES) / secs,
            total / secs
        );

        let (_dir, path) = fresh();
        let (mut wal, _) = Wal::open(&path, FsyncPolicy::Never).unwrap();
        let start = Instant::now();
        for _ in 0..APPENDS * 10 {
            wal.append(&record).unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "Never: {} appends in {secs:.3} s = {:.0} appends/s",
            APPENDS * 10,
            f64::from(APPENDS * 10) / secs
        );
    }
}
