//! Histories: the records a test writes, and the operations they pair into.
//!
//! A record is one line of the log in Jepsen's shape: a process invokes an
//! operation, and later the same process completes it with `ok`, `fail` or
//! `info`. Records appear in the order they happened; that order (not the
//! `time` field, which is for display) is what the checker treats as real
//! time.

use crate::value::Value;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordType {
    /// The operation was sent.
    Invoke,
    /// It definitely took effect, with the given result.
    Ok,
    /// It definitely did not take effect.
    Fail,
    /// Nobody knows whether it took effect (a timeout, a crash).
    Info,
}

impl RecordType {
    /// Parses `invoke`, `ok`, `fail` or `info` (with or without a leading colon).
    pub fn parse(text: &str) -> Option<RecordType> {
        match text.trim_start_matches(':') {
            "invoke" => Some(RecordType::Invoke),
            "ok" => Some(RecordType::Ok),
            "fail" => Some(RecordType::Fail),
            "info" => Some(RecordType::Info),
            _ => None,
        }
    }

    /// The lowercase name used in every format.
    pub fn name(self) -> &'static str {
        match self {
            RecordType::Invoke => "invoke",
            RecordType::Ok => "ok",
            RecordType::Fail => "fail",
            RecordType::Info => "info",
        }
    }
}

/// Who issued a record: a client process, or the nemesis injecting faults.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Process {
    /// A logical client process; numbers are never reused after `info`.
    Client(u64),
    /// Anything named instead of numbered (Jepsen's `:nemesis`); not checked.
    Named(String),
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(p) => write!(f, "{p}"),
            Process::Named(n) => write!(f, "{n}"),
        }
    }
}

/// Client process numbers from this one up are the final reads a test
/// harness makes after healing the cluster, not the workload's clients.
///
/// Skeptic's harness numbers its final-read processes from here so that
/// reports can tell them apart from the clients (whose numbers stay far
/// below: a client takes a fresh number only after an `info`). It is a
/// convention of the histories Skeptic writes, not of the format: a history
/// from elsewhere may use such numbers for ordinary clients, and then only
/// the labels of [`process_label`] read oddly.
pub const FINAL_READ_PROCESS_BASE: u64 = 1_000_000_000;

/// True when `process` is one of the harness's final reads (see
/// [`FINAL_READ_PROCESS_BASE`]).
pub fn is_final_read(process: u64) -> bool {
    process >= FINAL_READ_PROCESS_BASE
}

/// A short name for a client process, for people: `process 7` for a
/// client, `final 14` for final-read process
/// `FINAL_READ_PROCESS_BASE + 14`, whose ten-digit number would only say
/// "some big number" and crowd out everything beside it.
pub fn process_label(process: u64) -> String {
    if is_final_read(process) {
        format!("final {}", process - FINAL_READ_PROCESS_BASE)
    } else {
        format!("process {process}")
    }
}

/// One record of a history, as stored in Skeptic's JSON Lines format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Position in the history, from 0. Readers fill it in when absent.
    #[serde(default)]
    pub index: u64,
    /// The process that issued the record.
    pub process: Process,
    /// invoke, ok, fail or info.
    #[serde(rename = "type")]
    pub kind: RecordType,
    /// The operation's function: `read`, `write`, `cas`, `get`, ...
    pub f: String,
    /// The key the operation works on, for keyed models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// The argument (on invoke) or the result (on completion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Monotonic nanoseconds since the test began (display only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
    /// Why an operation failed or is indeterminate, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where a record came from, for error messages: the line it starts on.
pub type Line = usize;

/// How a paired operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It took effect, and its result is known.
    Ok,
    /// It may or may not have taken effect, at any point after its invocation.
    Info,
}

/// An invocation paired with its completion. `fail`ed operations never
/// become `Operation`s: they did not take effect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// Position in [`History::ops`].
    pub id: usize,
    /// The client process.
    pub process: u64,
    /// The function.
    pub f: String,
    /// The key, if any.
    pub key: Option<Value>,
    /// The invocation's value (the argument).
    pub input: Value,
    /// The completion's value (the result); `None` when indeterminate.
    pub output: Option<Value>,
    /// Ok or Info.
    pub outcome: Outcome,
    /// Position of the invocation record in the history (real-time order).
    pub call: u64,
    /// Position of the completion record; `None` when it may take effect at
    /// any later point (an `info`, or an invocation that never completed).
    pub ret: Option<u64>,
    /// The invocation's `time`, if recorded.
    pub call_time: Option<i64>,
    /// The completion's `time`, if recorded.
    pub ret_time: Option<i64>,
    /// The source line of the invocation (1-based), for reports.
    pub line: Line,
}

/// Errors in the shape of a history (each names the offending record).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// A process invoked a second operation while one was still open.
    #[error("line {line}: process {process} invokes `{f}` while its operation from line {open_line} is still open")]
    AlreadyOpen {
        /// Line of the second invocation.
        line: Line,
        /// The process.
        process: u64,
        /// The second invocation's function.
        f: String,
        /// Line of the still open invocation.
        open_line: Line,
    },
    /// A completion arrived with no open invocation for its process.
    #[error("line {line}: process {process} completes `{f}` ({kind}) but has no open invocation")]
    NoInvocation {
        /// Line of the completion.
        line: Line,
        /// The process.
        process: u64,
        /// The completion's function.
        f: String,
        /// ok, fail or info.
        kind: &'static str,
    },
    /// A completion names a different function than its invocation.
    #[error(
        "line {line}: process {process} completes `{got}` but invoked `{want}` on line {open_line}"
    )]
    Mismatch {
        /// Line of the completion.
        line: Line,
        /// The process.
        process: u64,
        /// Function of the invocation.
        want: String,
        /// Function of the completion.
        got: String,
        /// Line of the invocation.
        open_line: Line,
    },
    /// A process invoked again after an `info` retired it.
    #[error("line {line}: process {process} invokes again after its `info` on line {info_line}; a process that got `info` must be retired and its thread given a fresh process id")]
    Retired {
        /// Line of the new invocation.
        line: Line,
        /// The process.
        process: u64,
        /// Line of the `info` completion.
        info_line: Line,
    },
}

/// A validated history: the operations its records pair into.
///
/// Client records are consumed by pairing (their strings move into the
/// operations, so a million-operation history is held once, not twice);
/// records of named processes (the nemesis) are kept as they were.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Client operations that may have taken effect, ordered by invocation.
    pub ops: Vec<Operation>,
    /// Records of named processes (fault injection), in order.
    pub nemesis: Vec<Record>,
    /// How many records the history had in all.
    pub record_count: usize,
    /// How many operations failed definitely (dropped from `ops`).
    pub failed: usize,
}

impl History {
    /// Pairs invocations with completions and validates the history.
    /// `lines` gives each record's source line; when its length differs
    /// from `records`', record positions + 1 are used.
    pub fn from_records(records: Vec<Record>, lines: Vec<Line>) -> Result<History, HistoryError> {
        History::from_chunks(vec![(records, lines)])
    }

    /// Like [`History::from_records`] for records parsed in pieces (in
    /// order): each piece is freed as soon as it has been paired.
    ///
    /// An operation takes its place in `ops` at its invocation (its fields
    /// moved out of the record), and its completion fills it in, so the
    /// operations come out in invocation order without a sort.
    pub fn from_chunks(chunks: Vec<(Vec<Record>, Vec<Line>)>) -> Result<History, HistoryError> {
        let total: usize = chunks.iter().map(|(r, _)| r.len()).sum();
        let mut builder = HistoryBuilder::with_capacity(total / 2 + 1);
        for (records, lines) in chunks {
            builder.push(records, lines)?;
        }
        Ok(builder.finish())
    }

    /// The number of operations that ended indeterminate.
    pub fn info_count(&self) -> usize {
        self.ops
            .iter()
            .filter(|o| o.outcome == Outcome::Info)
            .count()
    }
}

/// Builds a [`History`] from records fed piece by piece, in order: each
/// piece can be freed as soon as it is paired, so a large file's records
/// never all sit in memory at once.
#[derive(Debug, Default)]
pub struct HistoryBuilder {
    /// Process -> its open operation's slot in `ops`.
    open: FxHashMap<u64, usize>,
    retired: FxHashMap<u64, Line>,
    ops: Vec<Operation>,
    /// Slots of operations that failed (to leave out at the end).
    dropped: Vec<bool>,
    nemesis: Vec<Record>,
    failed: usize,
    pos: usize,
}

impl HistoryBuilder {
    /// A builder expecting about `ops` operations.
    pub fn with_capacity(ops: usize) -> HistoryBuilder {
        HistoryBuilder {
            ops: Vec::with_capacity(ops),
            ..HistoryBuilder::default()
        }
    }

    /// Pairs the next records (with their source lines; when the lengths
    /// differ, record positions + 1 are used). An operation takes its
    /// place at its invocation (its fields moved out of the record) and its
    /// completion fills it in, so operations come out in invocation order
    /// without a sort.
    pub fn push(&mut self, records: Vec<Record>, lines: Vec<Line>) -> Result<(), HistoryError> {
        let numbered = lines.len() == records.len();
        for (i, rec) in records.into_iter().enumerate() {
            let line = if numbered { lines[i] } else { self.pos + 1 };
            let this = self.pos as u64;
            self.pos += 1;
            let Process::Client(p) = rec.process else {
                self.nemesis.push(rec);
                continue;
            };
            if rec.kind == RecordType::Invoke {
                if let Some(&info_line) = self.retired.get(&p) {
                    return Err(HistoryError::Retired {
                        line,
                        process: p,
                        info_line,
                    });
                }
                if let Some(&o) = self.open.get(&p) {
                    return Err(HistoryError::AlreadyOpen {
                        line,
                        process: p,
                        f: rec.f,
                        open_line: self.ops[o].line,
                    });
                }
                self.open.insert(p, self.ops.len());
                // Open-ended until a completion says otherwise.
                self.ops.push(Operation {
                    id: self.ops.len(),
                    process: p,
                    f: rec.f,
                    key: rec.key,
                    input: rec.value.unwrap_or_default(),
                    output: None,
                    outcome: Outcome::Info,
                    call: this,
                    ret: None,
                    call_time: rec.time,
                    ret_time: None,
                    line,
                });
                continue;
            }
            let Some(slot) = self.open.remove(&p) else {
                return Err(HistoryError::NoInvocation {
                    line,
                    process: p,
                    f: rec.f,
                    kind: rec.kind.name(),
                });
            };
            let op = &mut self.ops[slot];
            if op.f != rec.f {
                return Err(HistoryError::Mismatch {
                    line,
                    process: p,
                    want: op.f.clone(),
                    got: rec.f,
                    open_line: op.line,
                });
            }
            op.ret_time = rec.time;
            match rec.kind {
                RecordType::Fail => {
                    self.failed += 1;
                    if self.dropped.len() < self.ops.len() {
                        self.dropped.resize(self.ops.len(), false);
                    }
                    self.dropped[slot] = true;
                }
                RecordType::Ok => {
                    op.outcome = Outcome::Ok;
                    op.output = Some(rec.value.unwrap_or_default());
                    op.ret = Some(this);
                }
                _ => {
                    self.retired.insert(p, line);
                }
            }
        }
        Ok(())
    }

    /// The validated history.
    pub fn finish(mut self) -> History {
        if self.failed > 0 {
            self.dropped.resize(self.ops.len(), false);
            let dropped = std::mem::take(&mut self.dropped);
            let mut slot = 0;
            self.ops.retain(|_| {
                slot += 1;
                !dropped[slot - 1]
            });
            for (id, op) in self.ops.iter_mut().enumerate() {
                op.id = id;
            }
        }
        History {
            ops: self.ops,
            nemesis: self.nemesis,
            record_count: self.pos,
            failed: self.failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_labels_name_clients_and_final_reads() {
        let cases = [
            (0, "process 0"),
            (7, "process 7"),
            (FINAL_READ_PROCESS_BASE - 1, "process 999999999"),
            (FINAL_READ_PROCESS_BASE, "final 0"),
            (FINAL_READ_PROCESS_BASE + 14, "final 14"),
            (u64::MAX, "final 18446744072709551615"),
        ];
        for (process, want) in cases {
            assert_eq!(process_label(process), want, "process {process}");
        }
        assert!(!is_final_read(FINAL_READ_PROCESS_BASE - 1));
        assert!(is_final_read(FINAL_READ_PROCESS_BASE));
    }

    fn rec(process: u64, kind: RecordType, f: &str, value: Option<Value>) -> Record {
        Record {
            index: 0,
            process: Process::Client(process),
            kind,
            f: f.into(),
            key: None,
            value,
            time: None,
            error: None,
        }
    }

    #[test]
    fn pairs_and_drops_failures() {
        use RecordType::*;
        let h = History::from_records(
            vec![
                rec(0, Invoke, "write", Some(Value::Int(1))),
                rec(1, Invoke, "read", None),
                rec(0, Ok, "write", Some(Value::Int(1))),
                rec(1, Ok, "read", Some(Value::Int(1))),
                rec(2, Invoke, "write", Some(Value::Int(2))),
                rec(2, Fail, "write", Some(Value::Int(2))),
                rec(3, Invoke, "write", Some(Value::Int(3))),
                rec(3, Info, "write", Some(Value::Int(3))),
                rec(4, Invoke, "read", None),
            ],
            vec![],
        )
        .unwrap();
        assert_eq!(h.failed, 1);
        assert_eq!(h.ops.len(), 4);
        assert_eq!(h.ops[1].output, Some(Value::Int(1)));
        assert_eq!((h.ops[1].call, h.ops[1].ret), (1, Some(3)));
        assert_eq!(h.ops[2].outcome, Outcome::Info);
        assert_eq!(h.ops[2].ret, None);
        assert_eq!(h.ops[3].outcome, Outcome::Info, "never completed");
        assert_eq!(h.info_count(), 2);
    }

    #[test]
    fn each_shape_error_names_its_line() {
        use RecordType::*;
        let cases: Vec<(Vec<Record>, &str)> = vec![
            (
                vec![rec(0, Invoke, "read", None), rec(0, Invoke, "read", None)],
                "line 2: process 0 invokes `read` while its operation from line 1",
            ),
            (
                vec![rec(0, Ok, "read", None)],
                "line 1: process 0 completes `read` (ok) but has no open",
            ),
            (
                vec![rec(0, Invoke, "read", None), rec(0, Ok, "write", None)],
                "line 2: process 0 completes `write` but invoked `read` on line 1",
            ),
            (
                vec![
                    rec(0, Invoke, "read", None),
                    rec(0, Info, "read", None),
                    rec(0, Invoke, "read", None),
                ],
                "line 3: process 0 invokes again after its `info` on line 2",
            ),
        ];
        for (records, want) in cases {
            let err = History::from_records(records, vec![])
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(want), "{err}");
        }
    }
}
