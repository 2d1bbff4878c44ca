//! The history as it happens: every record is appended to `history.jsonl`
//! the moment it is known (an invocation before its request is sent, a
//! completion after its reply arrives), so the file's order is real time.
//! The file is flushed at least every [`FLUSH_INTERVAL`], so a crash loses
//! at most that much; the records are also kept in memory for the check
//! and the report.

use checker::format::write_jsonl_record;
use checker::{Process, Record, RecordType, Value};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest a record may sit in the buffer.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(500);

/// Appends records to a history file and keeps them.
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    out: BufWriter<File>,
    /// The record being written, as one whole line: the buffer then never
    /// reaches the file with half a line in it, so a harness killed at any
    /// moment leaves only whole lines (a history `skeptic check` reads).
    line: Vec<u8>,
    records: Vec<Record>,
    last_flush: Instant,
    /// The first write error; later writes are skipped, the run goes on
    /// (the in-memory history is still checked) and the error is reported.
    error: Option<String>,
}

/// One record's content, before it gets its index and time.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Who.
    pub process: Process,
    /// invoke / ok / fail / info.
    pub kind: RecordType,
    /// The function.
    pub f: String,
    /// The key.
    pub key: Option<Value>,
    /// Argument or result.
    pub value: Option<Value>,
    /// Why it failed or is unknown.
    pub error: Option<String>,
}

impl Recorder {
    /// Creates (truncates) the history file.
    pub fn create(path: &Path) -> std::io::Result<Recorder> {
        let file = File::create(path)?;
        Ok(Recorder {
            start: Instant::now(),
            inner: Mutex::new(Inner {
                out: BufWriter::with_capacity(1 << 16, file),
                line: Vec::with_capacity(256),
                records: Vec::with_capacity(1 << 14),
                last_flush: Instant::now(),
                error: None,
            }),
        })
    }

    /// When the test began (record times are relative to it).
    pub fn start(&self) -> Instant {
        self.start
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panicking writer leaves consistent data: each record is pushed
        // whole. Keep recording.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a record now; returns its index and time (ns since start).
    pub fn record(&self, e: Entry) -> (u64, i64) {
        let mut inner = self.lock();
        // Read the clock under the lock so times grow with the index.
        let time = i64::try_from(self.start.elapsed().as_nanos()).unwrap_or(i64::MAX);
        let index = inner.records.len() as u64;
        let record = Record {
            index,
            process: e.process,
            kind: e.kind,
            f: e.f,
            key: e.key,
            value: e.value,
            time: Some(time),
            error: e.error,
        };
        if inner.error.is_none() {
            let Inner { out, line, .. } = &mut *inner;
            line.clear();
            let written =
                write_jsonl_record(line, &record).and_then(|()| out.write_all(line.as_slice()));
            if let Err(err) = written {
                inner.error = Some(err.to_string());
            }
        }
        inner.records.push(record);
        if inner.last_flush.elapsed() >= FLUSH_INTERVAL {
            flush(&mut inner);
        }
        (index, time)
    }

    /// Writes buffered records to the file (the runner calls this on a
    /// timer too, so a quiet test still flushes).
    pub fn flush(&self) {
        flush(&mut self.lock());
    }

    /// Flushes and fsyncs: called when the test ends or is interrupted.
    pub fn sync(&self) -> Result<(), String> {
        let mut inner = self.lock();
        flush(&mut inner);
        if inner.error.is_none() {
            if let Err(e) = inner.out.get_ref().sync_all() {
                inner.error = Some(e.to_string());
            }
        }
        match &inner.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// A copy of every record so far.
    pub fn records(&self) -> Vec<Record> {
        self.lock().records.clone()
    }

    /// How many records so far.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn flush(inner: &mut Inner) {
    if inner.error.is_none() {
        if let Err(e) = inner.out.flush() {
            inner.error = Some(e.to_string());
        }
    }
    inner.last_flush = Instant::now();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_reach_the_file_in_order_and_parse_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("history.jsonl");
        let r = Recorder::create(&path).expect("create");
        let op = |p: u64, kind, value| Entry {
            process: Process::Client(p),
            kind,
            f: "write".into(),
            key: Some(Value::Str("k0".into())),
            value,
            error: None,
        };
        r.record(op(0, RecordType::Invoke, Some(Value::Int(1))));
        r.record(op(1, RecordType::Invoke, Some(Value::Int(2))));
        r.record(op(0, RecordType::Ok, Some(Value::Int(1))));
        r.flush();
        // Flushed, not yet synced: another reader sees everything so far.
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 3);
        r.record(Entry {
            error: Some("timeout".into()),
            ..op(1, RecordType::Info, None)
        });
        r.sync().expect("sync");
        let history = checker::format::load(&path, None).expect("parses");
        assert_eq!(history.record_count, 4);
        assert_eq!(history.ops.len(), 2);
        let times: Vec<i64> = r.records().iter().filter_map(|x| x.time).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn the_file_never_holds_half_a_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("history.jsonl");
        let r = Recorder::create(&path).expect("create");
        // Enough records to fill the 64 KiB buffer several times, with no
        // flush of ours: whatever reached the file at any moment (what a
        // kill -9 would leave) is whole lines.
        for i in 0..5_000u64 {
            r.record(Entry {
                process: Process::Client(i % 7),
                kind: RecordType::Invoke,
                f: "write".into(),
                key: Some(Value::Str(format!("key-{i}"))),
                value: Some(Value::Str("v".repeat((i % 50) as usize))),
                error: None,
            });
            if i % 997 == 0 {
                let text = std::fs::read_to_string(&path).expect("read");
                assert!(
                    text.is_empty() || text.ends_with('\n'),
                    "a torn line after {i} records"
                );
                let parsed =
                    checker::format::parse(&text, checker::format::Format::Jsonl, "history.jsonl");
                assert!(parsed.is_ok(), "after {i} records: {:?}", parsed.err());
            }
        }
        assert!(std::fs::metadata(&path).expect("meta").len() > 1 << 16);
    }
}
