//! Skeptic's own format: one JSON object per line, the serde form of
//! [`Record`], parsed in parallel by chunks of lines.
//!
//! The reader is a little more faithful than `Record`'s derived
//! `Deserialize`: an explicit `"value": null` (or `"key": null`) reads as
//! `Some(Value::Nil)` rather than `None`, so what the writer wrote comes back
//! unchanged, and processes and values are read without serde's buffering of
//! untagged enums.

use super::{parse_lines_parallel, Chunks, LineCtx, ParseErr, MISSING_INDEX};
use crate::history::{Process, Record, RecordType};
use crate::value::Value;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::io::Write;

/// What every line should be.
const EXPECTED: &str = "a history record (JSON object with process, type, f)";

/// A line as read, before missing indices are filled in.
#[derive(Deserialize)]
struct RawRecord {
    #[serde(default)]
    index: Option<u64>,
    process: ProcessDe,
    #[serde(rename = "type")]
    kind: RecordType,
    f: String,
    #[serde(default, deserialize_with = "present")]
    key: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    value: Option<Value>,
    #[serde(default)]
    time: Option<i64>,
    #[serde(default)]
    error: Option<String>,
}

impl RawRecord {
    fn into_record(self) -> Record {
        Record {
            index: self.index.unwrap_or(MISSING_INDEX),
            process: self.process.0,
            kind: self.kind,
            f: self.f,
            key: self.key,
            value: self.value,
            time: self.time,
            error: self.error,
        }
    }
}

/// A field that is present, even as `null`, is `Some`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    ValueDe::deserialize(d).map(|v| Some(v.0))
}

/// A process: a non-negative integer, or a name.
struct ProcessDe(Process);

impl<'de> Deserialize<'de> for ProcessDe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ProcessDe;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a process (a non-negative integer, or a name like \"nemesis\")")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ProcessDe, E> {
                Ok(ProcessDe(Process::Client(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ProcessDe, E> {
                u64::try_from(v)
                    .map(|v| ProcessDe(Process::Client(v)))
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ProcessDe, E> {
                Ok(ProcessDe(Process::Named(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<ProcessDe, E> {
                Ok(ProcessDe(Process::Named(v)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A value: null, a boolean, an integer, a string or an array. Integers
/// above `i64::MAX` become their decimal text and floats the text Rust
/// prints for them, and an object becomes a list of `[key, value]` pairs,
/// as in the EDN reader.
struct ValueDe(Value);

impl<'de> Deserialize<'de> for ValueDe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ValueDe;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value (null, boolean, integer, string or array)")
            }
            fn visit_unit<E: de::Error>(self) -> Result<ValueDe, E> {
                Ok(ValueDe(Value::Nil))
            }
            fn visit_none<E: de::Error>(self) -> Result<ValueDe, E> {
                Ok(ValueDe(Value::Nil))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<ValueDe, D::Error> {
                ValueDe::deserialize(d)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ValueDe, E> {
                Ok(ValueDe(Value::Bool(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ValueDe, E> {
                Ok(ValueDe(Value::Int(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ValueDe, E> {
                Ok(ValueDe(match i64::try_from(v) {
                    Ok(i) => Value::Int(i),
                    Err(_) => Value::Str(v.to_string()),
                }))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ValueDe, E> {
                Ok(ValueDe(Value::Str(v.to_string())))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ValueDe, E> {
                Ok(ValueDe(Value::Str(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<ValueDe, E> {
                Ok(ValueDe(Value::Str(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ValueDe, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(ValueDe(v)) = seq.next_element()? {
                    items.push(v);
                }
                Ok(ValueDe(Value::List(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ValueDe, A::Error> {
                let mut pairs = Vec::new();
                while let Some((k, ValueDe(v))) = map.next_entry::<String, ValueDe>()? {
                    pairs.push(Value::List(vec![Value::Str(k), v]));
                }
                Ok(ValueDe(Value::List(pairs)))
            }
        }
        d.deserialize_any(V)
    }
}

/// Turns serde_json's error on one line into a parse error at that line.
fn line_error(line: &str, ctx: LineCtx, e: &serde_json::Error) -> ParseErr {
    let message = e.to_string();
    let message = match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => &message,
    };
    // serde_json counts columns in bytes; report characters.
    let byte = e.column().saturating_sub(1).min(line.len());
    let column = line.char_indices().take_while(|&(i, _)| i < byte).count() + 1;
    let (expected, found) = match e.classify() {
        serde_json::error::Category::Eof if ctx.unterminated_last => (
            "a complete record on the last line".to_string(),
            format!(
                "a truncated last line: no newline at the end and the JSON stops mid-record \
                 ({message}); was the writer interrupted?"
            ),
        ),
        serde_json::error::Category::Eof => {
            (EXPECTED.to_string(), format!("incomplete JSON ({message})"))
        }
        serde_json::error::Category::Syntax => {
            (EXPECTED.to_string(), format!("invalid JSON ({message})"))
        }
        _ => (EXPECTED.to_string(), message.to_string()),
    };
    ParseErr {
        line: ctx.line,
        column,
        expected,
        found,
    }
}

/// The error for a line that does not hold a JSON object (serde would
/// read a struct from an array too).
fn not_an_object(line: &str, start: usize, ctx: LineCtx) -> ParseErr {
    if let Err(e) = serde_json::from_str::<de::IgnoredAny>(line) {
        return line_error(line, ctx, &e);
    }
    let what = match line.as_bytes()[start] {
        b'[' => "an array",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        _ => "a number",
    };
    ParseErr {
        line: ctx.line,
        column: line[..start].chars().count() + 1,
        expected: EXPECTED.to_string(),
        found: format!("{what}, not an object"),
    }
}

/// Parses one record per line with serde_json; blank lines are skipped.
pub(crate) fn parse(text: &str) -> Result<Chunks, ParseErr> {
    parse_lines_parallel(text, parse_line)
}

/// Parses one line with serde_json (and words its errors).
pub(crate) fn parse_line(line: &str, ctx: LineCtx) -> Result<Option<Record>, ParseErr> {
    let Some(start) = line.bytes().position(|b| !b.is_ascii_whitespace()) else {
        return Ok(None);
    };
    if line.as_bytes()[start] != b'{' {
        return Err(not_an_object(line, start, ctx));
    }
    match serde_json::from_str::<RawRecord>(line) {
        Ok(raw) => Ok(Some(raw.into_record())),
        Err(e) => Err(line_error(line, ctx, &e)),
    }
}

/// Writes one record as one JSON line (with trailing `'\n'`): the streaming
/// writer the harness uses. Give it a buffered writer; each call makes
/// several small writes.
pub fn write_jsonl_record<W: Write>(w: &mut W, rec: &Record) -> std::io::Result<()> {
    serde_json::to_writer(&mut *w, rec)?;
    w.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(index: u64, process: Process, kind: RecordType, f: &str) -> Record {
        Record {
            index,
            process,
            kind,
            f: f.into(),
            key: None,
            value: None,
            time: None,
            error: None,
        }
    }

    #[test]
    fn reads_records_with_every_field_kind() {
        let text = r#"{"index":0,"process":3,"type":"invoke","f":"cas","key":"x","value":[1,2],"time":123}

{"process":"nemesis","type":"info","f":"start","value":null,"extra":{"a":[1]}}
  {"type":"ok","f":"cas","process":3,"value":[1,2],"error":null,"time":null}
{"process":4,"type":"fail","f":"w","key":[1,"a",true],"value":{"k":1.5},"error":"nope","index":9}
{"process":5,"type":"invoke","f":"r","value":18446744073709551615}
"#;
        let (records, lines) = crate::format::flatten(parse(text).unwrap());
        let pair = Value::List(vec![Value::Int(1), Value::Int(2)]);
        let want = vec![
            Record {
                key: Some(Value::Str("x".into())),
                value: Some(pair.clone()),
                time: Some(123),
                ..rec(0, Process::Client(3), RecordType::Invoke, "cas")
            },
            Record {
                value: Some(Value::Nil),
                ..rec(
                    1,
                    Process::Named("nemesis".into()),
                    RecordType::Info,
                    "start",
                )
            },
            Record {
                value: Some(pair),
                ..rec(2, Process::Client(3), RecordType::Ok, "cas")
            },
            Record {
                key: Some(Value::List(vec![
                    Value::Int(1),
                    Value::Str("a".into()),
                    Value::Bool(true),
                ])),
                value: Some(Value::List(vec![Value::List(vec![
                    Value::Str("k".into()),
                    Value::Str("1.5".into()),
                ])])),
                error: Some("nope".into()),
                ..rec(9, Process::Client(4), RecordType::Fail, "w")
            },
            Record {
                value: Some(Value::Str("18446744073709551615".into())),
                ..rec(4, Process::Client(5), RecordType::Invoke, "r")
            },
        ];
        assert_eq!(records, want);
        assert_eq!(lines, vec![1, 3, 4, 5, 6]);
    }

    #[test]
    fn bad_lines_name_their_line_and_what_was_wrong() {
        let good = r#"{"process":0,"type":"invoke","f":"read"}"#;
        // (bad line, column, expected contains, found contains)
        let cases = [
            (
                r#"{"process":0,"type":"invoke""f":"read"}"#,
                29,
                EXPECTED,
                "invalid JSON (expected `,` or `}`)",
            ),
            (
                r#"{"process":0,"f":"read"}"#,
                24,
                EXPECTED,
                "missing field `type`",
            ),
            (
                r#"{"process":0,"type":"done","f":"read"}"#,
                26,
                EXPECTED,
                "unknown variant `done`",
            ),
            (
                r#"{"process":-1,"type":"ok","f":"read"}"#,
                13,
                EXPECTED,
                "a process",
            ),
            (
                r#"{"process":[1],"type":"ok","f":"read"}"#,
                12,
                EXPECTED,
                "a process",
            ),
            (
                r#"{"process":0,"type":"ok","f":"read","value":"abc}"#,
                49,
                EXPECTED,
                "incomplete JSON",
            ),
            (
                r#"{"process":0,"type":"ok","f":"é","value":tru}"#,
                45,
                EXPECTED,
                "invalid JSON",
            ),
            ("hello", 1, EXPECTED, "invalid JSON (expected value)"),
            (r#"[1,2]"#, 1, EXPECTED, "an array, not an object"),
            (r#"  "x""#, 3, EXPECTED, "a string, not an object"),
            ("  [1,", 5, EXPECTED, "incomplete JSON"),
            (
                r#"{"process":0,"type":"ok","f":"read"} {}"#,
                38,
                EXPECTED,
                "trailing characters",
            ),
        ];
        for (bad, column, expected, found) in cases {
            let text = format!("{good}\n\n{bad}\n{good}\n");
            let err = parse(&text).expect_err(bad);
            assert_eq!((err.line, err.column), (3, column), "{bad}: {err:?}");
            assert!(err.expected.contains(expected), "{bad}: {err:?}");
            assert!(err.found.contains(found), "{bad}: {err:?}");
        }
    }

    #[test]
    fn a_truncated_last_line_says_so() {
        let good = r#"{"process":0,"type":"invoke","f":"read"}"#;
        for cut in [1, 10, 25, good.len() - 1] {
            let text = format!("{good}\n{good}\n{}", &good[..cut]);
            let err = parse(&text).expect_err(&text);
            assert_eq!(err.line, 3, "{text}");
            assert!(err.found.starts_with("a truncated last line"), "{err:?}");
            assert_eq!(err.expected, "a complete record on the last line");
            // With a newline after it, it is an ordinary bad line.
            let err = parse(&format!("{text}\n")).expect_err(&text);
            assert!(err.found.starts_with("incomplete JSON"), "{err:?}");
        }
        // A complete last line without a newline is fine.
        assert_eq!(
            crate::format::flatten(parse(&format!("{good}\n{good}")).unwrap())
                .0
                .len(),
            2
        );
    }

    #[test]
    fn written_records_read_back_unchanged() {
        let records = vec![
            Record {
                key: Some(Value::Str("x".into())),
                value: Some(Value::List(vec![Value::Int(1), Value::Nil])),
                time: Some(-3),
                ..rec(0, Process::Client(3), RecordType::Invoke, "cas")
            },
            Record {
                value: Some(Value::Nil),
                error: Some("line\nbreak \"quoted\"".into()),
                ..rec(
                    1,
                    Process::Named("nemesis".into()),
                    RecordType::Info,
                    "start",
                )
            },
            Record {
                key: Some(Value::Nil),
                ..rec(7, Process::Client(u64::MAX), RecordType::Ok, "é")
            },
            rec(3, Process::Named("3".into()), RecordType::Fail, ""),
        ];
        let mut out = Vec::new();
        for r in &records {
            write_jsonl_record(&mut out, r).unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(
            "{\"index\":0,\"process\":3,\"type\":\"invoke\",\"f\":\"cas\",\"key\":\"x\",\"value\":[1,null],\"time\":-3}\n"
        ));
        let (back, lines) = crate::format::flatten(parse(&text).unwrap());
        assert_eq!(back, records);
        assert_eq!(lines, vec![1, 2, 3, 4]);
        // The derived serde form agrees with this reader (up to null values).
        for (line, r) in text.lines().zip(&records) {
            let derived: Record = serde_json::from_str(line).unwrap();
            assert_eq!(derived.process, r.process);
            assert_eq!(
                derived.key.unwrap_or_default(),
                r.key.clone().unwrap_or_default()
            );
        }
    }
}
