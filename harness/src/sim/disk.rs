//! A simulated disk: the WAL's records and the snapshot file, in memory,
//! framed and recovered by the real WAL code. A crash may be armed to hit
//! during the next write: an append then fails (the node's step produces
//! nothing), and a snapshot or log rewrite leaves the old file (both are
//! atomic renames on a real disk). Whenever the node crashes
//! ([`SimDisk::crash`]), what was written but not synced keeps only a
//! random prefix of the log file's bytes: the last frame possibly torn,
//! unsynced records before it possibly gone.
//!
//! The records are framed (length, CRC) only when a crash or a restart
//! reads the file: the bytes are then exactly what the node would have
//! written, and the simulator does not pay a CRC per record it never reads.

use checker::generate::SplitMix;
use std::path::Path;
use target_kv::shell::Durable;
use target_kv::storage::{encode_frames, recover_bytes};

/// One node's disk.
#[derive(Clone, Debug, Default)]
pub struct SimDisk {
    /// The log's records, end to end, as the node handed them over.
    payloads: Vec<u8>,
    /// Where each record ends in `payloads`.
    ends: Vec<usize>,
    /// How many of the records are synced (a crash keeps them all).
    synced: usize,
    /// The log file's bytes as a crash left them, until the restart reads
    /// them.
    after_crash: Option<Vec<u8>>,
    /// The snapshot file.
    snapshot: Option<Vec<u8>>,
    /// A crash armed for the next write, with the randomness it uses.
    armed: Option<u64>,
    /// What the last write did, for the trace (words only when asked:
    /// formatting on every write would cost more than the write).
    pub last_write: Option<Write>,
    /// Proposer requests the step sent before its write (the world puts
    /// them on the network first, whether the write then crashes or not).
    pub early: Vec<(target_kv::paxos::NodeId, target_kv::paxos::Msg)>,
}

/// A write, for the trace.
#[derive(Clone, Copy, Debug)]
pub enum Write {
    /// Records appended, and whether they were synced.
    Append(usize, bool),
    /// A snapshot of this many bytes.
    Snapshot(usize),
    /// The log rewritten with this many records.
    Rewrite(usize),
}

impl std::fmt::Display for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Write::Append(n, true) => write!(f, "append {n} records"),
            Write::Append(n, false) => write!(f, "append {n} records (not synced)"),
            Write::Snapshot(n) => write!(f, "snapshot of {n} bytes"),
            Write::Rewrite(n) => write!(f, "log rewritten with {n} records"),
        }
    }
}

/// What a restarting node reads: its snapshot file and its log's records.
pub type OnDisk = (Option<Vec<u8>>, Vec<Vec<u8>>);

/// The error a write returns when the armed crash hits it.
#[derive(Debug)]
pub struct Crashed(pub String);

impl std::fmt::Display for Crashed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "crashed during a write: {}", self.0)
    }
}

impl SimDisk {
    /// Arms a crash for the next write (`seed` chooses how much of it
    /// reaches the disk).
    pub fn arm_crash(&mut self, seed: u64) {
        self.armed = Some(seed);
    }

    /// Disarms a crash that did not happen (the node crashed otherwise).
    pub fn disarm(&mut self) {
        self.armed = None;
    }

    /// Whether a crash is armed.
    pub fn is_armed(&self) -> bool {
        self.armed.is_some()
    }

    /// The node crashed: of what was written since the last sync, only a
    /// prefix of the file's bytes chosen by `seed` survives.
    pub fn crash(&mut self, seed: u64) {
        if self.after_crash.is_some() {
            // Down already: nothing was written since.
            return;
        }
        let mut wal = self.framed(0, self.synced);
        let synced = wal.len();
        wal.extend(self.framed(self.synced, self.ends.len()));
        let unsynced = wal.len() - synced;
        if unsynced > 0 {
            let kept = SplitMix::new(seed).below(unsynced as u64 + 1) as usize;
            wal.truncate(synced + kept);
        }
        self.after_crash = Some(wal);
    }

    /// What a restarting node reads: the snapshot, and the log's intact
    /// records. A torn tail is cut off, as `Wal::open` does; corruption is
    /// an error (a crash can never cause it).
    pub fn recover(&mut self) -> Result<OnDisk, String> {
        let wal = match &self.after_crash {
            Some(wal) => std::borrow::Cow::Borrowed(wal),
            None => std::borrow::Cow::Owned(self.framed(0, self.ends.len())),
        };
        // (On an error the crashed file stays as it is.)
        let (records, _valid) =
            recover_bytes(Path::new("wal.log"), &wal).map_err(|e| e.to_string())?;
        // What survived the crash is on the disk now, and synced.
        self.after_crash = None;
        self.replace(&records);
        Ok((self.snapshot.clone(), records))
    }

    /// Records `from..to` of the log, framed as the file holds them.
    fn framed(&self, from: usize, to: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        let records = (from..to).map(|i| {
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            &self.payloads[start..self.ends[i]]
        });
        encode_frames(records, &mut bytes);
        bytes
    }

    /// Appends records to the log (not yet synced).
    fn push(&mut self, records: &[Vec<u8>]) {
        for r in records {
            self.payloads.extend_from_slice(r);
            self.ends.push(self.payloads.len());
        }
    }

    /// The log is these records now, all synced.
    fn replace(&mut self, records: &[Vec<u8>]) {
        self.payloads.clear();
        self.ends.clear();
        self.push(records);
        self.synced = self.ends.len();
    }

    fn crash_hits(&mut self) -> Option<SplitMix> {
        self.armed.take().map(SplitMix::new)
    }
}

impl Durable for SimDisk {
    type Error = Crashed;

    fn send_early(
        &mut self,
        to: target_kv::paxos::NodeId,
        msg: target_kv::paxos::Msg,
    ) -> Option<(target_kv::paxos::NodeId, target_kv::paxos::Msg)> {
        self.early.push((to, msg));
        None
    }

    fn append(&mut self, records: &[Vec<u8>], sync: bool) -> Result<(), Crashed> {
        self.push(records);
        if self.crash_hits().is_some() {
            // The write was under way: [`SimDisk::crash`], which the
            // crash that follows calls, decides how much of it is left.
            self.last_write = None;
            return Err(Crashed(format!(
                "append of {} records{} torn",
                records.len(),
                if sync { "" } else { " (not to be synced)" }
            )));
        }
        if sync {
            self.synced = self.ends.len();
        }
        self.last_write = Some(Write::Append(records.len(), sync));
        Ok(())
    }

    fn sync(&mut self) -> Result<(), Crashed> {
        if self.crash_hits().is_some() {
            return Err(Crashed("during a sync".into()));
        }
        self.synced = self.ends.len();
        Ok(())
    }

    fn write_snapshot(&mut self, snapshot: &[u8]) -> Result<(), Crashed> {
        if self.crash_hits().is_some() {
            return Err(Crashed("before the snapshot's rename".into()));
        }
        self.snapshot = Some(snapshot.to_vec());
        self.last_write = Some(Write::Snapshot(snapshot.len()));
        Ok(())
    }

    fn rewrite(&mut self, records: &[Vec<u8>]) -> Result<(), Crashed> {
        if self.crash_hits().is_some() {
            return Err(Crashed("before the rewritten log's rename".into()));
        }
        self.replace(records);
        self.last_write = Some(Write::Rewrite(records.len()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_loses_only_what_was_not_synced() {
        let mut d = SimDisk::default();
        d.append(&[b"one".to_vec(), b"two".to_vec()], true)
            .expect("no crash");
        d.append(&[b"learned".to_vec()], false).expect("no crash");
        let mut lost_some = false;
        for seed in 0..50 {
            let mut torn = d.clone();
            torn.arm_crash(seed);
            assert!(torn
                .append(&[b"three".to_vec(), b"four".to_vec()], true)
                .is_err());
            torn.crash(seed);
            let (_, records) = torn.recover().expect("a torn tail is not corruption");
            assert!(records.len() >= 2 && records.len() <= 5, "{seed}");
            assert_eq!(&records[..2], &[b"one".to_vec(), b"two".to_vec()]);
            lost_some |= records.len() == 2;
        }
        assert!(
            lost_some,
            "the unsynced record can be lost with the torn ones"
        );
        // A synced append makes what came before it durable too.
        d.append(&[b"three".to_vec()], true).expect("no crash");
        d.crash(7);
        assert_eq!(d.recover().expect("ok").1.len(), 4);
    }

    #[test]
    fn a_crash_before_a_rename_keeps_the_old_file() {
        let mut d = SimDisk::default();
        d.append(&[b"a".to_vec()], true).expect("ok");
        d.arm_crash(1);
        assert!(d.write_snapshot(b"snap").is_err());
        assert_eq!(d.recover().expect("ok").0, None);
        d.write_snapshot(b"snap").expect("ok");
        d.arm_crash(2);
        assert!(d.rewrite(&[b"b".to_vec()]).is_err());
        let (snap, records) = d.recover().expect("ok");
        assert_eq!(snap.as_deref(), Some(&b"snap"[..]));
        assert_eq!(records, vec![b"a".to_vec()], "the old log");
    }
}
