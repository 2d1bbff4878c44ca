//! Jepsen's text log: the lines `jepsen.util` logs for each operation,
//! `INFO  jepsen.util - 3\t:invoke\t:write\t4`, with process, type, function
//! and value separated by tabs or spaces. Anything else in the log is noise
//! and skipped.
//!
//! Two conventions of these logs are applied:
//!
//! - `:info` with the value `:timed-out` carries no result: the record gets
//!   no value and the error `timed-out`;
//! - `:fail` with the value `:timed-out` did not definitely fail (the client
//!   gave up waiting), so it becomes an indeterminate `info` record with the
//!   error [`FAIL_TIMED_OUT`]. Such logs go on using the process afterwards,
//!   which a history forbids after `info`; when that happens the timed-out
//!   operation (its invocation and completion) is moved to a fresh process
//!   number above every number in the log, and the error says so.

use super::edn::{write_name, write_value, Reader};
use super::{flatten, parse_lines_parallel, quote_snippet, LineCtx, ParseErr, MISSING_INDEX};
use crate::history::{Line, Process, Record, RecordType};
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// What precedes the fields on an operation line.
const MARKER: &str = "jepsen.util - ";

/// The error of an `info` record that the log wrote as `:fail ... :timed-out`.
pub(crate) const FAIL_TIMED_OUT: &str = "timed-out (logged as :fail)";

/// The error of an `info` record that the log wrote as `:info ... :timed-out`.
const TIMED_OUT: &str = "timed-out";

/// Parses the operation lines of a Jepsen log.
pub(crate) fn parse(text: &str) -> Result<(Vec<Record>, Vec<Line>), ParseErr> {
    let any_timed_out_fail = AtomicBool::new(false);
    let chunks = parse_lines_parallel(text, |line: &str, ctx: LineCtx| {
        let rec = parse_line(line, ctx)?;
        if rec
            .as_ref()
            .is_some_and(|r| r.error.as_deref() == Some(FAIL_TIMED_OUT))
        {
            any_timed_out_fail.store(true, Ordering::Relaxed);
        }
        Ok(rec)
    })?;
    let (mut records, lines) = flatten(chunks);
    if any_timed_out_fail.into_inner() {
        move_continuing_timeouts(&mut records);
    }
    Ok((records, lines))
}

/// Where [`MARKER`] starts in a line, if it does. (Cheaper per line than
/// `str::find`, which sets up a substring searcher each time.)
fn find_marker(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut from = 0;
    while let Some(i) = bytes[from..].iter().position(|&b| b == b'j') {
        let at = from + i;
        if bytes[at..].starts_with(MARKER.as_bytes()) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Parses one line: a record if it is an operation line.
fn parse_line(line: &str, ctx: LineCtx) -> Result<Option<Record>, ParseErr> {
    let Some(at) = find_marker(line) else {
        return Ok(None);
    };
    let end = if ctx.unterminated_last {
        "end of file (the last line looks truncated)"
    } else {
        "end of line"
    };
    let mut r = Reader::starting_at(line, at + MARKER.len(), ctx.line, end);

    r.skip_ws()?;
    let process = r.read_process()?;

    r.skip_ws()?;
    let at_type = r.mark();
    let kind = match r.read_name()? {
        Some(name) => RecordType::parse(&name),
        None => None,
    };
    let Some(kind) = kind else {
        let found = if r.pos() == at_type.pos {
            r.found_here()
        } else {
            quote_snippet(r.since(at_type))
        };
        return Err(r.error_at(
            at_type,
            "a record type (:invoke, :ok, :fail or :info)",
            found,
        ));
    };

    r.skip_ws()?;
    let Some(f) = r.read_name()? else {
        return Err(r.error_here("a function name (a keyword like :read)"));
    };
    let f = f.into_owned();

    r.skip_ws()?;
    let (value, raw) = if r.at_end() {
        (None, "")
    } else {
        let at_value = r.mark();
        let v = r.read_value()?;
        (Some(v), r.since(at_value))
    };
    // Newer Jepsen versions log the error after the value.
    let rest = line[r.pos()..].trim();
    let mut error = (!rest.is_empty()).then(|| rest.to_string());

    let timed_out = raw == ":timed-out";
    let (kind, value) = match kind {
        RecordType::Fail if timed_out => {
            error = Some(FAIL_TIMED_OUT.to_string());
            (RecordType::Info, None)
        }
        RecordType::Info if timed_out => {
            error.get_or_insert_with(|| TIMED_OUT.to_string());
            (RecordType::Info, None)
        }
        kind => (kind, value),
    };
    Ok(Some(Record {
        index: MISSING_INDEX,
        process,
        kind,
        f,
        key: None,
        value,
        time: None,
        error,
    }))
}

/// Moves each `:fail :timed-out` operation whose process invokes again
/// later to a fresh process number, so the history stays valid.
fn move_continuing_timeouts(records: &mut [Record]) {
    let mut last_invoke: HashMap<u64, usize> = HashMap::new();
    let mut max = 0;
    for (i, r) in records.iter().enumerate() {
        if let Process::Client(p) = r.process {
            max = max.max(p);
            if r.kind == RecordType::Invoke {
                last_invoke.insert(p, i);
            }
        }
    }
    let mut next = max.saturating_add(1);
    let mut open: HashMap<u64, usize> = HashMap::new();
    for i in 0..records.len() {
        let Process::Client(p) = records[i].process else {
            continue;
        };
        if records[i].kind == RecordType::Invoke {
            open.insert(p, i);
            continue;
        }
        let invoke = open.remove(&p);
        let continues = last_invoke.get(&p).is_some_and(|&last| last > i);
        if let (Some(invoke), true) = (invoke, continues) {
            if records[i].error.as_deref() == Some(FAIL_TIMED_OUT) {
                records[invoke].process = Process::Client(next);
                records[i].process = Process::Client(next);
                records[i].error = Some(format!(
                    "{FAIL_TIMED_OUT}; moved from process {p}, which went on to invoke more"
                ));
                next = next.saturating_add(1);
            }
        }
    }
}

/// Writes records as Jepsen log lines:
/// `INFO  jepsen.util - 3\t:invoke\t:write\t4`.
///
/// The format carries process, type, function, value and error; keys,
/// times and indices are not written. An absent value is written as `nil`,
/// and an `info` record with no value whose error starts with `timed-out`
/// as `:timed-out` (as `:fail ... :timed-out` when that is how it was read),
/// so reading the log back gives the same record. Other errors follow the
/// value after a tab, on one line.
pub fn write_jepsen_log<W: Write>(w: &mut W, records: &[Record]) -> std::io::Result<()> {
    let mut buf = String::with_capacity(64 * 1024);
    for rec in records {
        buf.push_str("INFO  jepsen.util - ");
        match &rec.process {
            Process::Client(p) => buf.push_str(&p.to_string()),
            Process::Named(n) => write_name(&mut buf, n),
        }
        let error = rec.error.as_deref();
        let timed_out = rec.kind == RecordType::Info
            && rec.value.is_none()
            && error.is_some_and(|e| e.starts_with(TIMED_OUT));
        let kind = if timed_out && error.is_some_and(|e| e.starts_with(FAIL_TIMED_OUT)) {
            RecordType::Fail
        } else {
            rec.kind
        };
        buf.push_str("\t:");
        buf.push_str(kind.name());
        buf.push('\t');
        write_name(&mut buf, &rec.f);
        buf.push('\t');
        match &rec.value {
            _ if timed_out => buf.push_str(":timed-out"),
            Some(v) => write_value(&mut buf, v),
            None => buf.push_str("nil"),
        }
        match error {
            Some(e) if !timed_out || (e != TIMED_OUT && !e.starts_with(FAIL_TIMED_OUT)) => {
                buf.push('\t');
                buf.extend(e.chars().map(|c| if c.is_control() { ' ' } else { c }));
            }
            _ => {}
        }
        buf.push('\n');
        if buf.len() >= 60 * 1024 {
            w.write_all(buf.as_bytes())?;
            buf.clear();
        }
    }
    w.write_all(buf.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn rec(
        index: u64,
        process: Process,
        kind: RecordType,
        f: &str,
        value: Option<Value>,
    ) -> Record {
        Record {
            index,
            process,
            kind,
            f: f.into(),
            key: None,
            value,
            time: None,
            error: None,
        }
    }

    fn c(p: u64) -> Process {
        Process::Client(p)
    }

    #[test]
    fn reads_operation_lines_and_skips_noise() {
        let text = "2017-03-01 INFO jepsen.core - Running test\n\
                    INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
                    INFO  jepsen.util - 2   :invoke :cas    [3 4]\n\
                    \n\
                    INFO  jepsen.util - 0\t:ok\t:read\t3\r\n\
                    INFO  jepsen.util - :nemesis\t:info\t:start\t[:isolated {\"n1\" #{\"n2\"}}]\n\
                    INFO  jepsen.util - 2\t:fail\t:cas\t[3 4]\n\
                    INFO  jepsen.util - 5\t:invoke\t:write\t1\n\
                    INFO  jepsen.util - 5\t:info\t:write\t:timed-out\n\
                    INFO  jepsen.util - 6\t:invoke\t:read\tnil\n\
                    INFO  jepsen.util - 6\t:fail\t:read\t:timed-out\n\
                    INFO  jepsen.util - 7\t:invoke\t:write\t2\n\
                    INFO  jepsen.util - 7\t:info\t:write\t2\tindeterminate: connection reset\n\
                    INFO  jepsen.util - 8\t:invoke\t\"odd f\"\n";
        let (records, lines) = parse(text).unwrap();
        let info = |i, p, f: &str, v: Option<Value>, e: &str| Record {
            error: Some(e.to_string()),
            ..rec(i, c(p), RecordType::Info, f, v)
        };
        let want = vec![
            rec(0, c(0), RecordType::Invoke, "read", Some(Value::Nil)),
            rec(
                1,
                c(2),
                RecordType::Invoke,
                "cas",
                Some(Value::List(vec![Value::Int(3), Value::Int(4)])),
            ),
            rec(2, c(0), RecordType::Ok, "read", Some(Value::Int(3))),
            rec(
                3,
                Process::Named("nemesis".into()),
                RecordType::Info,
                "start",
                Some(Value::List(vec![
                    Value::Str("isolated".into()),
                    Value::List(vec![Value::List(vec![
                        Value::Str("n1".into()),
                        Value::List(vec![Value::Str("n2".into())]),
                    ])]),
                ])),
            ),
            rec(
                4,
                c(2),
                RecordType::Fail,
                "cas",
                Some(Value::List(vec![Value::Int(3), Value::Int(4)])),
            ),
            rec(5, c(5), RecordType::Invoke, "write", Some(Value::Int(1))),
            info(6, 5, "write", None, "timed-out"),
            rec(7, c(6), RecordType::Invoke, "read", Some(Value::Nil)),
            info(8, 6, "read", None, FAIL_TIMED_OUT),
            rec(9, c(7), RecordType::Invoke, "write", Some(Value::Int(2))),
            info(
                10,
                7,
                "write",
                Some(Value::Int(2)),
                "indeterminate: connection reset",
            ),
            rec(11, c(8), RecordType::Invoke, "odd f", None),
        ];
        assert_eq!(records, want);
        assert_eq!(lines, vec![2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    }

    #[test]
    fn a_process_that_goes_on_after_a_timed_out_fail_is_split() {
        let text = "INFO  jepsen.util - 1\t:invoke\t:read\tnil\n\
                    INFO  jepsen.util - 8\t:invoke\t:read\tnil\n\
                    INFO  jepsen.util - 8\t:fail\t:read\t:timed-out\n\
                    INFO  jepsen.util - 8\t:invoke\t:read\tnil\n\
                    INFO  jepsen.util - 8\t:fail\t:read\t:timed-out\n\
                    INFO  jepsen.util - 1\t:fail\t:read\t:timed-out\n";
        let (records, _) = parse(text).unwrap();
        let procs: Vec<_> = records.iter().map(|r| r.process.clone()).collect();
        // The first timed-out read of 8 moves to 9; the last ones stay.
        assert_eq!(procs, vec![c(1), c(9), c(9), c(8), c(8), c(1)]);
        assert!(records[2]
            .error
            .as_deref()
            .unwrap()
            .contains("moved from process 8"));
        assert_eq!(records[4].error.as_deref(), Some(FAIL_TIMED_OUT));
        let h = crate::history::History::from_records(records, vec![]).unwrap();
        assert_eq!(h.info_count(), 3);
    }

    #[test]
    fn malformed_operation_lines_name_line_column_and_expectation() {
        // (line, column, expected contains, found contains)
        let cases = [
            (
                "INFO  jepsen.util - x\t:invoke\t:read\tnil",
                21,
                "a process",
                "`x`",
            ),
            (
                "INFO  jepsen.util - -1\t:invoke\t:read\tnil",
                21,
                "a process",
                "`-1`",
            ),
            (
                "INFO  jepsen.util - 1\t:done\t:read\tnil",
                23,
                "a record type",
                "`:done`",
            ),
            (
                "INFO  jepsen.util - 1\t3\t:read\tnil",
                23,
                "a record type",
                "`3`",
            ),
            (
                "INFO  jepsen.util - 1\t:invoke",
                30,
                "a function name",
                "end of line",
            ),
            (
                "INFO  jepsen.util - 1\t:invoke\t:cas\t[1 2",
                40,
                "`]` to close the `[` at line 2 column 36",
                "end of line",
            ),
            (
                "INFO  jepsen.util - 1\t:invoke\t:cas\t\"abc",
                36,
                "to end the string",
                "end of line",
            ),
            ("INFO  jepsen.util - ", 21, "a process", "end of line"),
        ];
        for (line, column, expected, found) in cases {
            let text = format!("INFO  jepsen.util - 0\t:invoke\t:read\tnil\n{line}\nINFO  jepsen.util - 0\t:ok\t:read\tnil\n");
            let err = parse(&text).expect_err(line);
            assert_eq!((err.line, err.column), (2, column), "{line}: {err:?}");
            assert!(err.expected.contains(expected), "{line}: {err:?}");
            assert!(err.found.contains(found), "{line}: {err:?}");
        }
        let err = parse("INFO  jepsen.util - 0\t:invoke\t:cas\t[1").unwrap_err();
        assert!(err.found.contains("last line looks truncated"), "{err:?}");
    }

    #[test]
    fn written_logs_read_back_unchanged() {
        let mut records = vec![
            rec(0, c(0), RecordType::Invoke, "read", Some(Value::Nil)),
            rec(
                1,
                c(1),
                RecordType::Invoke,
                "cas",
                Some(Value::List(vec![Value::Int(1), Value::Int(2)])),
            ),
            rec(
                2,
                c(0),
                RecordType::Ok,
                "read",
                Some(Value::Str("a b".into())),
            ),
            rec(3, c(1), RecordType::Info, "cas", None),
            rec(
                4,
                Process::Named("nemesis".into()),
                RecordType::Info,
                "start",
                Some(Value::Bool(true)),
            ),
            rec(5, c(2), RecordType::Invoke, "write", Some(Value::Int(-4))),
            rec(6, c(2), RecordType::Fail, "write", Some(Value::Int(-4))),
            rec(7, c(3), RecordType::Invoke, "read", Some(Value::Nil)),
            rec(8, c(3), RecordType::Info, "read", None),
            rec(9, c(4), RecordType::Invoke, "write", Some(Value::Int(1))),
            rec(10, c(4), RecordType::Info, "write", Some(Value::Int(1))),
        ];
        records[3].error = Some(TIMED_OUT.into());
        records[6].error = Some("cas failed\n(really)".into());
        records[8].error = Some(FAIL_TIMED_OUT.into());
        records[10].error = Some("connection reset".into());
        let mut out = Vec::new();
        write_jepsen_log(&mut out, &records).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"),
            "{text}"
        );
        assert!(
            text.contains("INFO  jepsen.util - 3\t:fail\t:read\t:timed-out\n"),
            "{text}"
        );
        assert!(
            text.contains("INFO  jepsen.util - 1\t:info\t:cas\t:timed-out\n"),
            "{text}"
        );
        let (back, lines) = parse(&text).unwrap();
        records[6].error = Some("cas failed (really)".into());
        assert_eq!(back, records);
        assert_eq!(lines, (1..=11).collect::<Vec<_>>());
    }
}
