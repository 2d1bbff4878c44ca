//! Histories written as EDN maps: Jepsen's `history.edn` (one vector of
//! maps, or a sequence of maps, spanning lines freely) and the one map per
//! line form (`edn-lines`).
//!
//! A record map's keys are keywords: `:type`, `:f` and `:process` are
//! required; `:value`, `:key`, `:time`, `:index` and `:error` are optional;
//! any other key is ignored.

use super::edn::{write_name, write_string, write_value, Mark, Reader};
use super::{
    fill_missing_indices, parse_lines_parallel, quote_snippet, Chunks, LineCtx, ParseErr,
    MISSING_INDEX,
};
use crate::history::{Line, Process, Record, RecordType};
use crate::value::Value;
use std::io::Write;

/// Reads one record map at the reader's position (after whitespace).
/// Returns the record (index [`MISSING_INDEX`] unless the map gives one)
/// and the line its `{` is on.
pub(crate) fn read_record(r: &mut Reader<'_>) -> Result<(Record, Line), ParseErr> {
    r.skip_ws()?;
    let open = r.mark();
    if r.peek() != Some(b'{') {
        return Err(r.error_here("`{` starting a history record (an EDN map)"));
    }
    r.bump();
    let mut kind = None;
    let mut f = None;
    let mut process = None;
    let mut rec = Record {
        index: MISSING_INDEX,
        process: Process::Client(0),
        kind: RecordType::Invoke,
        f: String::new(),
        key: None,
        value: None,
        time: None,
        error: None,
    };
    loop {
        r.skip_ws()?;
        match r.peek() {
            Some(b'}') => {
                r.bump();
                break;
            }
            None | Some(b']' | b')') => {
                return Err(r.error_here(format!(
                    "`}}` to close the record map at {}",
                    r.describe(open)
                )));
            }
            _ => {}
        }
        let field = if r.peek() == Some(b':') {
            Some(r.read_keyword()?)
        } else {
            r.read_value()?;
            None
        };
        r.skip_ws()?;
        if matches!(r.peek(), None | Some(b'}' | b']' | b')')) {
            let key = field.map_or_else(|| "the last key".to_string(), |k| format!("key :{k}"));
            return Err(r.error_here(format!("a value for {key}")));
        }
        let at = r.mark();
        match field {
            Some("type") => {
                let name = r.read_name()?;
                match name.as_deref().and_then(RecordType::parse) {
                    Some(k) => kind = Some(k),
                    None => {
                        if name.is_none() {
                            r.read_value()?;
                        }
                        return Err(bad_field(r, at, ":type to be :invoke, :ok, :fail or :info"));
                    }
                }
            }
            Some("f") => match r.read_name()? {
                Some(name) => f = Some(name.into_owned()),
                None => {
                    r.read_value()?;
                    return Err(bad_field(
                        r,
                        at,
                        ":f to be a keyword or string naming the function",
                    ));
                }
            },
            Some("process") => process = Some(r.read_process()?),
            Some("key") => rec.key = Some(r.read_value()?),
            Some("value") => rec.value = Some(r.read_value()?),
            Some("time") => {
                rec.time = match r.read_value()? {
                    Value::Int(t) => Some(t),
                    Value::Nil => None,
                    _ => return Err(bad_field(r, at, ":time to be an integer (nanoseconds)")),
                }
            }
            Some("index") => {
                rec.index = match r.read_value()? {
                    Value::Int(i) if i >= 0 => i as u64,
                    Value::Nil => MISSING_INDEX,
                    _ => return Err(bad_field(r, at, ":index to be a non-negative integer")),
                }
            }
            Some("error") => {
                rec.error = match r.read_value()? {
                    Value::Nil => None,
                    Value::Str(s) => Some(s),
                    other => Some(other.to_string()),
                }
            }
            _ => {
                r.read_value()?;
            }
        }
    }
    let missing = |what: &str| {
        r.error_at(
            open,
            format!("{what} in the record map"),
            format!("a map without {what}"),
        )
    };
    rec.kind = kind.ok_or_else(|| missing(":type"))?;
    rec.f = f.ok_or_else(|| missing(":f"))?;
    rec.process = process.ok_or_else(|| missing(":process"))?;
    Ok((rec, open.line))
}

/// An error about a field's value, which was read from `at` to the
/// reader's position.
fn bad_field(r: &Reader<'_>, at: Mark, expected: &str) -> ParseErr {
    r.error_at(at, expected, quote_snippet(r.since(at)))
}

/// Parses a Jepsen EDN history: a vector (or list) of record maps, or
/// record maps one after the other.
pub(crate) fn parse_jepsen_edn(text: &str) -> Result<(Vec<Record>, Vec<Line>), ParseErr> {
    let mut r = Reader::new(text, 1, "end of input");
    let mut records = Vec::new();
    let mut lines = Vec::new();
    r.skip_ws()?;
    let close = match r.peek() {
        Some(b'[') => Some(b']'),
        Some(b'(') => Some(b')'),
        _ => None,
    };
    if let Some(close) = close {
        let open = r.mark();
        r.bump();
        loop {
            r.skip_ws()?;
            match r.peek() {
                Some(b) if b == close => {
                    r.bump();
                    break;
                }
                None | Some(b']' | b')' | b'}') => {
                    return Err(r.error_here(format!(
                        "`{}` to close the history opened at {}",
                        close as char,
                        r.describe(open)
                    )));
                }
                _ => {
                    let (rec, line) = read_record(&mut r)?;
                    records.push(rec);
                    lines.push(line);
                }
            }
        }
        r.skip_ws()?;
        if !r.at_end() {
            return Err(r.error_here(format!(
                "the end of the file after the history's closing `{}`",
                close as char
            )));
        }
    } else {
        loop {
            r.skip_ws()?;
            if r.at_end() {
                break;
            }
            let (rec, line) = read_record(&mut r)?;
            records.push(rec);
            lines.push(line);
        }
    }
    fill_missing_indices(&mut records);
    Ok((records, lines))
}

/// Parses one EDN map per line, in parallel. Blank and comment lines are
/// skipped; a map may not span lines.
pub(crate) fn parse_edn_lines(text: &str) -> Result<Chunks, ParseErr> {
    parse_lines_parallel(text, parse_edn_line)
}

/// Parses one line holding one EDN map (or nothing).
pub(crate) fn parse_edn_line(line: &str, ctx: LineCtx) -> Result<Option<Record>, ParseErr> {
    {
        let end = if ctx.unterminated_last {
            "end of file (the last line looks truncated)"
        } else {
            "end of line"
        };
        let mut r = Reader::new(line, ctx.line, end);
        r.skip_ws()?;
        if r.at_end() {
            return Ok(None);
        }
        let (rec, _) = read_record(&mut r)?;
        r.skip_ws()?;
        if !r.at_end() {
            return Err(r.error_here("the end of the line after the record map (one map per line)"));
        }
        Ok(Some(rec))
    }
}

/// Appends one record as an EDN map (no newline).
fn write_record_map(out: &mut String, rec: &Record, position: usize) {
    out.push_str("{:process ");
    match &rec.process {
        Process::Client(p) => {
            out.push_str(&p.to_string());
        }
        Process::Named(n) => write_name(out, n),
    }
    out.push_str(", :type :");
    out.push_str(rec.kind.name());
    out.push_str(", :f ");
    write_name(out, &rec.f);
    if let Some(k) = &rec.key {
        out.push_str(", :key ");
        write_value(out, k);
    }
    if let Some(v) = &rec.value {
        out.push_str(", :value ");
        write_value(out, v);
    }
    if let Some(t) = rec.time {
        out.push_str(", :time ");
        out.push_str(&t.to_string());
    }
    if let Some(e) = &rec.error {
        out.push_str(", :error ");
        write_string(out, e);
    }
    if rec.index != position as u64 {
        out.push_str(", :index ");
        out.push_str(&rec.index.to_string());
    }
    out.push('}');
}

/// Writes records as EDN, one map per line (the `edn-lines` format, which
/// the `jepsen-edn` reader also accepts):
/// `{:process 0, :type :invoke, :f :append, :key "0", :value "x 0 0 y"}`.
///
/// Every field is kept: `:key`, `:value`, `:time` and `:error` when present,
/// and `:index` only when it differs from the record's position in
/// `records` (readers fill in positions). Named processes and functions are
/// written as keywords when they can be, strings otherwise.
pub fn write_edn_lines<W: Write>(w: &mut W, records: &[Record]) -> std::io::Result<()> {
    let mut buf = String::with_capacity(64 * 1024);
    for (i, rec) in records.iter().enumerate() {
        write_record_map(&mut buf, rec, i);
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

    fn rec(process: Process, kind: RecordType, f: &str) -> Record {
        Record {
            index: 0,
            process,
            kind,
            f: f.into(),
            key: None,
            value: None,
            time: None,
            error: None,
        }
    }

    fn c(p: u64) -> Process {
        Process::Client(p)
    }

    #[test]
    fn reads_a_jepsen_history_vector_with_maps_across_lines() {
        let text = r#"; a Jepsen history
[{:type :invoke, :f :cas, :value [1 2], :process 3, :time 123, :index 0}
 {:type :invoke,
  :f :read,
  :process 4,
  :value nil
  :time 130}
 {:type :info :f :start :process :nemesis :value [:isolated {"n1" #{"n2"}}] :extra #inst "2020"}
 {:type :fail, :f "cas", :process 3, :value [1 2], :error [:cas-failed "no"], :index 7}
 {:type :ok :f :read :process 4 :value 1 :key :k :error nil}
]
"#;
        let (records, lines) = parse_jepsen_edn(text).unwrap();
        let want = vec![
            Record {
                value: Some(Value::List(vec![Value::Int(1), Value::Int(2)])),
                time: Some(123),
                ..rec(c(3), RecordType::Invoke, "cas")
            },
            Record {
                index: 1,
                value: Some(Value::Nil),
                time: Some(130),
                ..rec(c(4), RecordType::Invoke, "read")
            },
            Record {
                index: 2,
                value: Some(Value::List(vec![
                    Value::Str("isolated".into()),
                    Value::List(vec![Value::List(vec![
                        Value::Str("n1".into()),
                        Value::List(vec![Value::Str("n2".into())]),
                    ])]),
                ])),
                ..rec(Process::Named("nemesis".into()), RecordType::Info, "start")
            },
            Record {
                index: 7,
                value: Some(Value::List(vec![Value::Int(1), Value::Int(2)])),
                error: Some("[\"cas-failed\" \"no\"]".into()),
                ..rec(c(3), RecordType::Fail, "cas")
            },
            Record {
                index: 4,
                value: Some(Value::Int(1)),
                key: Some(Value::Str("k".into())),
                ..rec(c(4), RecordType::Ok, "read")
            },
        ];
        assert_eq!(records, want);
        assert_eq!(lines, vec![2, 3, 8, 9, 10]);
    }

    #[test]
    fn reads_maps_without_a_vector_and_empty_histories() {
        let (records, lines) =
            parse_jepsen_edn("{:type :invoke :f :w :process 1}\n\n{:type :ok :f :w\n :process 1}")
                .unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(lines, vec![1, 3]);
        assert_eq!(records[1].index, 1);
        for empty in ["", "  \n", "[]", "[\n]\n", "; nothing\n"] {
            assert_eq!(
                parse_jepsen_edn(empty).unwrap(),
                (vec![], vec![]),
                "{empty:?}"
            );
            if !empty.contains('[') {
                assert_eq!(
                    crate::format::flatten(parse_edn_lines(empty).unwrap()),
                    (vec![], vec![]),
                    "{empty:?}"
                );
            }
        }
    }

    #[test]
    fn reads_edn_lines_like_the_kv_corpus() {
        let text = "{:process 0, :type :invoke, :f :append, :key \"0\", :value \"x 0 0 y\"}\n\
                    \n\
                    {:process 0, :type :ok, :f :append, :key \"0\", :value \"x 0 0 y\"}\r\n\
                    ; comment\n\
                    {:process 1, :type :invoke, :f :get, :key \"7\", :value nil}\n\
                    \t{:process :nemesis, :type :info, :f :kill} ; killed\n\
                    {:process 1, :type :ok, :f :get, :key \"7\", :value \"\"}";
        let (records, lines) = crate::format::flatten(parse_edn_lines(text).unwrap());
        let keyed = |p, kind, f: &str, v: Value| Record {
            key: Some(Value::Str(if p == 0 { "0" } else { "7" }.into())),
            value: Some(v),
            ..rec(c(p), kind, f)
        };
        let mut want = vec![
            keyed(
                0,
                RecordType::Invoke,
                "append",
                Value::Str("x 0 0 y".into()),
            ),
            keyed(0, RecordType::Ok, "append", Value::Str("x 0 0 y".into())),
            keyed(1, RecordType::Invoke, "get", Value::Nil),
            rec(Process::Named("nemesis".into()), RecordType::Info, "kill"),
            keyed(1, RecordType::Ok, "get", Value::Str(String::new())),
        ];
        for (i, r) in want.iter_mut().enumerate() {
            r.index = i as u64;
        }
        assert_eq!(records, want);
        assert_eq!(lines, vec![1, 3, 5, 6, 7]);
    }

    #[test]
    fn malformed_maps_name_line_column_and_expectation() {
        // (text, line, column, expected contains, found contains)
        let cases = [
            (
                "{:type :invoke, :f :read, :process 1, :value \"abc}",
                1,
                46,
                "to end the string",
                "end of line",
            ),
            (
                "{:type :invoke, :f :read, :process 1, :value [1 2}",
                1,
                50,
                "`]` to close the `[` at line 1 column 46",
                "`}`",
            ),
            (
                "{:type :invoke, :f :read, :process 1",
                1,
                37,
                "`}` to close the record map at line 1 column 1",
                "end of line",
            ),
            (
                "{:f :read, :process 1}",
                1,
                1,
                ":type in the record map",
                "a map without :type",
            ),
            (
                "{:type :ok, :process 1}",
                1,
                1,
                ":f in the record map",
                "without :f",
            ),
            (
                "{:type :ok, :f :read}",
                1,
                1,
                ":process in the record map",
                "without :process",
            ),
            (
                "{:type :done, :f :read, :process 1}",
                1,
                8,
                ":type to be :invoke, :ok, :fail or :info",
                "`:done`",
            ),
            (
                "{:type 3, :f :read, :process 1}",
                1,
                8,
                ":type to be",
                "`3`",
            ),
            (
                "{:type :ok, :f :read, :process -1}",
                1,
                32,
                "a process",
                "`-1`",
            ),
            (
                "{:type :ok, :f :read, :process x1}",
                1,
                32,
                "a process",
                "`x1`",
            ),
            (
                "{:type :ok, :f [1], :process 1}",
                1,
                16,
                ":f to be a keyword or string",
                "`[1]`",
            ),
            (
                "{:type :ok, :f :read, :process 1, :time \"t\"}",
                1,
                41,
                ":time to be an integer",
                "`\"t\"`",
            ),
            (
                "{:type :ok, :f :read, :process 1, :index -2}",
                1,
                42,
                ":index to be a non-negative",
                "`-2`",
            ),
            (
                "{:type :ok, :f :read, :process 1, :value}",
                1,
                41,
                "a value for key :value",
                "`}`",
            ),
            ("[:type :ok]", 1, 1, "`{` starting a history record", "`[`"),
            (
                "{:type :ok, :f :read, :process 1} junk",
                1,
                35,
                "the end of the line after the record map",
                "`junk`",
            ),
            (
                "{:type :ok, :f :read, :process 1} {:type :ok, :f :read, :process 2}",
                1,
                35,
                "the end of the line after the record map",
                "`{`",
            ),
        ];
        for (text, line, column, expected, found) in cases {
            let err = parse_edn_lines(&format!("{text}\n")).expect_err(text);
            assert_eq!((err.line, err.column), (line, column), "{text}: {err:?}");
            assert!(err.expected.contains(expected), "{text}: {err:?}");
            assert!(err.found.contains(found), "{text}: {err:?}");
            if found == "end of line" || expected.contains("end of the line") {
                continue;
            }
            // The same map inside a Jepsen vector, on line 3: same error.
            let wrapped = format!("[\n{{:type :ok :f :x :process 0}}\n{text}\n]");
            let err2 = parse_jepsen_edn(&wrapped).expect_err(&wrapped);
            assert_eq!((err2.line, err2.column), (3, column), "{wrapped}");
            assert_eq!(
                err2.expected.replace("line 3", "line 1"),
                err.expected,
                "{wrapped}"
            );
        }
    }

    #[test]
    fn whole_file_errors_point_at_the_right_line() {
        let cases = [
            // Unterminated string: reported where it starts.
            (
                "[{:type :ok :f :x :process 0}\n {:type :ok :f \"x :process 0}\n]",
                2,
                16,
                "to end the string",
            ),
            // Missing `]`.
            (
                "[{:type :ok :f :x :process 0}\n {:type :ok :f :x :process 0}\n",
                3,
                1,
                "`]` to close the history opened at line 1 column 1",
            ),
            // Missing `}` in the middle: found at the next record's `{`?  No:
            // the next map becomes a key, and the error is at the closing `]`.
            (
                "[{:type :ok :f :x :process 0\n {:type :ok :f :x :process 0}\n]",
                3,
                1,
                "a value for the last key",
            ),
            // Stuff after the vector.
            (
                "[{:type :ok :f :x :process 0}]\n{:type :ok :f :x :process 0}",
                2,
                1,
                "the end of the file after the history's closing `]`",
            ),
            // An unterminated last line in edn-lines.
        ];
        for (text, line, column, expected) in cases {
            let err = parse_jepsen_edn(text).expect_err(text);
            assert_eq!((err.line, err.column), (line, column), "{text}: {err:?}");
            assert!(err.expected.contains(expected), "{text}: {err:?}");
        }
        let err =
            parse_edn_lines("{:type :ok :f :x :process 0}\n{:type :ok :f :x :pro").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.found.contains("last line looks truncated"), "{err:?}");
    }

    #[test]
    fn written_lines_read_back_unchanged() {
        let records = vec![
            Record {
                key: Some(Value::Str("0".into())),
                value: Some(Value::Str("x 0 0 y".into())),
                time: Some(-5),
                ..rec(c(0), RecordType::Invoke, "append")
            },
            Record {
                index: 1,
                value: Some(Value::Nil),
                error: Some("why \"not\"\nnext".into()),
                ..rec(
                    Process::Named("nemesis".into()),
                    RecordType::Info,
                    "start partition",
                )
            },
            Record {
                index: 42,
                key: Some(Value::List(vec![Value::Int(1), Value::Bool(false)])),
                ..rec(Process::Named("with space".into()), RecordType::Fail, "")
            },
            Record {
                index: 3,
                value: Some(Value::List(vec![Value::Int(3), Value::List(vec![])])),
                ..rec(c(u64::MAX), RecordType::Ok, "cas")
            },
        ];
        let mut out = Vec::new();
        write_edn_lines(&mut out, &records).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(
            "{:process 0, :type :invoke, :f :append, :key \"0\", :value \"x 0 0 y\", :time -5}\n"
        ));
        assert_eq!(text.lines().count(), 4);
        let (back, lines) = crate::format::flatten(parse_edn_lines(&text).unwrap());
        assert_eq!(back, records);
        assert_eq!(lines, vec![1, 2, 3, 4]);
        assert_eq!(parse_jepsen_edn(&text).unwrap().0, records);
    }
}
