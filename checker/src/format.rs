//! History file formats: reading them into records, guessing which one a file
//! is in, and writing records back out.
//!
//! Four formats are understood (see [`Format`]):
//!
//! - `jsonl`: Skeptic's own, one JSON object per line, the serde form of
//!   [`Record`];
//! - `jepsen-edn`: a Jepsen `history.edn`, one EDN vector of maps (or a plain
//!   sequence of maps), where a map may span lines;
//! - `edn-lines`: one EDN map per line;
//! - `jepsen-log`: the operation lines of Jepsen's text log
//!   (`INFO  jepsen.util - 3\t:invoke\t:write\t4`).
//!
//! The line-oriented formats (`jsonl`, `edn-lines`, `jepsen-log`) are parsed
//! in parallel, in chunks of whole lines. Every record keeps the 1-based line
//! it starts on, and every malformed file is reported with a line and column
//! and what was expected there.

mod detect;
mod edn;
mod edn_history;
mod jepsen_log;
mod jsonl;

use crate::history::{History, HistoryBuilder, HistoryError, Line, Record};
use rayon::prelude::*;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

pub use detect::detect;
pub use edn_history::write_edn_lines;
pub use jepsen_log::write_jepsen_log;
pub use jsonl::write_jsonl_record;

/// The formats a history file may be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Skeptic's own: one JSON object per line, the serde form of [`Record`]
    /// (`{"process":3,"type":"invoke","f":"cas","value":[1,2]}`).
    Jsonl,
    /// A Jepsen history: one EDN vector of maps (or a sequence of top-level
    /// maps), where a map may span several lines.
    JepsenEdn,
    /// Jepsen's text log: lines containing `jepsen.util - ` followed by
    /// process, type, function and value (other lines are skipped). An
    /// `:info` whose value is `:timed-out` gets no value and the error
    /// `timed-out`. A `:fail` whose value is `:timed-out` is read as an
    /// indeterminate `info` record (error `timed-out (logged as :fail)`);
    /// if its process goes on to invoke more, that one operation moves to
    /// a fresh process number above all others, and its error names the
    /// original process.
    JepsenLog,
    /// One EDN map per line (`{:process 0, :type :invoke, :f :get, :key "7"}`).
    EdnLines,
}

impl Format {
    /// Every format, in the order they are listed to users.
    pub const ALL: [Format; 4] = [
        Format::Jsonl,
        Format::JepsenEdn,
        Format::JepsenLog,
        Format::EdnLines,
    ];

    /// The name used on the command line: `jsonl`, `jepsen-edn`,
    /// `jepsen-log` or `edn-lines`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::JepsenEdn => "jepsen-edn",
            Format::JepsenLog => "jepsen-log",
            Format::EdnLines => "edn-lines",
        }
    }

    /// The format with the given [`name`](Format::name), if any.
    pub fn parse_name(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == s)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    /// A message naming the valid formats.
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        Format::parse_name(s).ok_or_else(|| {
            let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
            format!(
                "unknown format `{s}`; expected one of: {}",
                names.join(", ")
            )
        })
    }
}

/// A malformed file: where, and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The text does not follow its format.
    #[error("{path}:{line}:{column}: expected {expected}, found {found}")]
    Parse {
        /// The file, as given.
        path: String,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column (in characters) of the problem.
        column: usize,
        /// What the reader wanted there.
        expected: String,
        /// What it found instead.
        found: String,
    },
    /// The records parse but do not form a valid history.
    #[error("{path}: {source}")]
    History {
        /// The file, as given.
        path: String,
        /// What is wrong with the history.
        source: HistoryError,
    },
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("{path}: {message}")]
    Io {
        /// The file, as given.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// No format was given and the content does not tell.
    #[error("{path}: cannot tell the format ({why}); pass --format")]
    UnknownFormat {
        /// The file, as given.
        path: String,
        /// Why detection failed.
        why: String,
    },
}

/// A parse error before the file's path is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseErr {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What was expected.
    pub expected: String,
    /// What was found.
    pub found: String,
}

impl ParseErr {
    fn into_load_error(self, path: &str) -> LoadError {
        LoadError::Parse {
            path: path.to_string(),
            line: self.line,
            column: self.column,
            expected: self.expected,
            found: self.found,
        }
    }
}

/// Stands for "the file gave no index" until records get their positions.
pub(crate) const MISSING_INDEX: u64 = u64::MAX;

/// Parses text in the given format into records and each record's 1-based
/// source line. `path` is only for error messages.
///
/// Records whose source gives no index get their position (from 0). A
/// leading byte-order mark is ignored. The records are not validated as a
/// history; [`load`] (or [`History::from_records`]) does that.
pub fn parse(
    text: &str,
    format: Format,
    path: &str,
) -> Result<(Vec<Record>, Vec<Line>), LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    parse_chunks(text, format, path).map(flatten)
}

/// Parses text into pieces of records (see [`parse`]).
fn parse_chunks(text: &str, format: Format, path: &str) -> Result<Chunks, LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let parsed = match format {
        Format::Jsonl => jsonl::parse(text),
        Format::JepsenEdn => edn_history::parse_jepsen_edn(text).map(|c| vec![c]),
        Format::EdnLines => edn_history::parse_edn_lines(text),
        Format::JepsenLog => jepsen_log::parse(text).map(|c| vec![c]),
    };
    parsed.map_err(|e| e.into_load_error(path))
}

/// Reads a file, detects the format unless given, parses and validates it
/// into a [`History`].
pub fn load(path: &Path, format: Option<Format>) -> Result<History, LoadError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| LoadError::Io {
        path: shown.clone(),
        message: format!("cannot read: {e}"),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| LoadError::Io {
        path: shown.clone(),
        message: format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })?;
    let format = match format {
        Some(f) => f,
        None => detect(&text).map_err(|why| LoadError::UnknownFormat {
            path: shown.clone(),
            why,
        })?,
    };
    let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let line_parser: Option<LineParser> = match format {
        Format::Jsonl => Some(jsonl::parse_line),
        Format::EdnLines => Some(edn_history::parse_edn_line),
        Format::JepsenEdn | Format::JepsenLog => None,
    };
    let history_error = |source| LoadError::History {
        path: shown.clone(),
        source,
    };
    let Some(parse_line) = line_parser else {
        let chunks = parse_chunks(&text, format, &shown)?;
        drop(text);
        return History::from_chunks(chunks).map_err(history_error);
    };
    // Line formats are paired as they are parsed, piece by piece.
    let mut builder = HistoryBuilder::with_capacity(count_newlines(body.as_bytes()) / 2 + 1);
    let mut sink = |records: Vec<Record>, lines: Vec<Line>| {
        builder.push(records, lines).map_err(history_error)
    };
    match parse_lines_into(body, parse_line, &mut sink) {
        Ok(()) => {}
        Err(StreamError::Parse(e)) => return Err(e.into_load_error(&shown)),
        Err(StreamError::Sink(e)) => return Err(e),
    }
    drop(text);
    Ok(builder.finish())
}

/// Where a line sits in the text, as a line parser sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LineCtx {
    /// 1-based line number.
    pub line: usize,
    /// True for the final line when the text does not end with a newline
    /// (what a writer that crashed mid-line leaves behind).
    pub unterminated_last: bool,
}

/// The least text worth a parallel piece of its own: texts shorter than
/// twice this are parsed in one piece on the calling thread.
const CHUNK_BYTES: usize = 256 * 1024;

/// Splits `text` into about `n` pieces, each ending just after a newline
/// (except the last).
fn split_at_lines(text: &str, n: usize) -> Vec<&str> {
    let bytes = text.as_bytes();
    let target = text.len() / n.max(1) + 1;
    let mut pieces = Vec::with_capacity(n);
    let mut start = 0;
    while start < bytes.len() {
        let want = start + target;
        let end = if want >= bytes.len() {
            bytes.len()
        } else {
            match bytes[want..].iter().position(|&b| b == b'\n') {
                Some(i) => want + i + 1,
                None => bytes.len(),
            }
        };
        pieces.push(&text[start..end]);
        start = end;
    }
    pieces
}

/// How many lines a piece holds (a last line without a newline counts).
fn count_lines(piece: &str) -> usize {
    count_newlines(piece.as_bytes()) + usize::from(!piece.is_empty() && !piece.ends_with('\n'))
}

/// Counts `\n` bytes, in blocks small enough for byte-wide counters (which
/// the compiler turns into vector code).
fn count_newlines(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|block| usize::from(block.iter().fold(0u8, |n, &b| n + u8::from(b == b'\n'))))
        .sum()
}

/// Records parsed in pieces, in file order, each with its source lines.
pub(crate) type Chunks = Vec<(Vec<Record>, Vec<Line>)>;

/// Parses every line of `piece` (whose first line is `first_line`) with
/// `parse_line`.
fn parse_piece<F>(
    piece: &str,
    first_line: usize,
    is_final: bool,
    parse_line: &F,
) -> Result<(Vec<Record>, Vec<Line>), ParseErr>
where
    F: Fn(&str, LineCtx) -> Result<Option<Record>, ParseErr>,
{
    let mut records = Vec::with_capacity(piece.len() / 64);
    let mut lines = Vec::with_capacity(piece.len() / 64);
    if piece.is_empty() {
        return Ok((records, lines));
    }
    let terminated = piece.ends_with('\n');
    let mut rest = if terminated {
        &piece[..piece.len() - 1]
    } else {
        piece
    };
    let mut line = first_line;
    loop {
        let (text, next) = match rest.find('\n') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let text = text.strip_suffix('\r').unwrap_or(text);
        let ctx = LineCtx {
            line,
            unterminated_last: next.is_none() && is_final && !terminated,
        };
        if let Some(rec) = parse_line(text, ctx)? {
            records.push(rec);
            lines.push(line);
        }
        match next {
            Some(n) => rest = n,
            None => return Ok((records, lines)),
        }
        line += 1;
    }
}

/// Parses a line-oriented text in parallel: the text is cut into pieces of
/// whole lines and each piece is parsed on its own; the pieces stay
/// separate, so nothing is copied to join them (see
/// [`History::from_chunks`]). `parse_line` gets each line without its
/// line ending and returns the record it holds, if any. Records without
/// an index get their position.
pub(crate) fn parse_lines_into<F>(
    text: &str,
    parse_line: F,
    sink: Sink<'_>,
) -> Result<(), StreamError>
where
    F: Fn(&str, LineCtx) -> Result<Option<Record>, ParseErr> + Sync,
{
    let threads = rayon::current_num_threads().max(1);
    let n = (text.len() / CHUNK_BYTES).clamp(1, threads * 32);
    let pieces = split_at_lines(text, n);
    let counts: Vec<usize> = pieces.par_iter().map(|p| count_lines(p)).collect();
    let mut jobs = Vec::with_capacity(pieces.len());
    let mut first_line = 1;
    for (i, (piece, count)) in pieces.iter().zip(&counts).enumerate() {
        jobs.push((*piece, first_line, i + 1 == pieces.len()));
        first_line += count;
    }
    // A few pieces at a time (a window), handed to the sink in file
    // order before the next window is parsed: the sink can free them, so a
    // large file's records are never all in memory at once.
    let window = threads * 2;
    let mut position = 0u64;
    for group in jobs.chunks(window) {
        // The earliest error in file order wins (collect keeps order).
        let chunks = group
            .par_iter()
            .map(|&(piece, first, last)| parse_piece(piece, first, last, &parse_line))
            .collect::<Result<Chunks, ParseErr>>()
            .map_err(StreamError::Parse)?;
        for (mut records, lines) in chunks {
            for r in records.iter_mut() {
                if r.index == MISSING_INDEX {
                    r.index = position;
                }
                position += 1;
            }
            sink(records, lines).map_err(StreamError::Sink)?;
        }
    }
    Ok(())
}

/// Why streaming a text into a sink stopped.
pub(crate) enum StreamError {
    /// A line did not parse.
    Parse(ParseErr),
    /// The sink refused the records.
    Sink(LoadError),
}

/// Reads one line of a line-oriented format.
pub(crate) type LineParser = fn(&str, LineCtx) -> Result<Option<Record>, ParseErr>;

/// Where parsed pieces go, in file order.
pub(crate) type Sink<'a> = &'a mut dyn FnMut(Vec<Record>, Vec<Line>) -> Result<(), LoadError>;

/// Like [`parse_lines_into`], keeping every piece.
pub(crate) fn parse_lines_parallel<F>(text: &str, parse_line: F) -> Result<Chunks, ParseErr>
where
    F: Fn(&str, LineCtx) -> Result<Option<Record>, ParseErr> + Sync,
{
    let mut chunks = Vec::new();
    let mut keep = |r: Vec<Record>, l: Vec<Line>| -> Result<(), LoadError> {
        chunks.push((r, l));
        Ok(())
    };
    match parse_lines_into(text, parse_line, &mut keep) {
        Ok(()) => Ok(chunks),
        Err(StreamError::Parse(e)) => Err(e),
        Err(StreamError::Sink(_)) => unreachable!("keeping pieces never fails"),
    }
}

/// Joins pieces into one list of records and one of lines.
pub(crate) fn flatten(chunks: Chunks) -> (Vec<Record>, Vec<Line>) {
    let total = chunks.iter().map(|(r, _)| r.len()).sum();
    let mut records = Vec::with_capacity(total);
    let mut lines = Vec::with_capacity(total);
    for (r, l) in chunks {
        records.extend(r);
        lines.extend(l);
    }
    (records, lines)
}

/// Gives every record that has no index its position.
pub(crate) fn fill_missing_indices(records: &mut [Record]) {
    for (i, r) in records.iter_mut().enumerate() {
        if r.index == MISSING_INDEX {
            r.index = i as u64;
        }
    }
}

/// Shortens a piece of source text for an error message, in backticks.
pub(crate) fn quote_snippet(text: &str) -> String {
    const MAX: usize = 40;
    let text = text.trim();
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("`{cut}...`")
    } else {
        format!("`{text}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_names_list_the_valid_ones() {
        for f in Format::ALL {
            assert_eq!(Format::parse_name(f.name()), Some(f));
            assert_eq!(f.name().parse::<Format>(), Ok(f));
            assert_eq!(f.to_string(), f.name());
        }
        assert_eq!(Format::parse_name("json"), None);
        let err = "json".parse::<Format>().unwrap_err();
        assert!(
            err.contains("jsonl, jepsen-edn, jepsen-log, edn-lines"),
            "{err}"
        );
    }

    #[test]
    fn counts_lines_like_str_lines() {
        for text in [
            "",
            "a",
            "a\n",
            "\n\n",
            "a\nb",
            &"xy\n".repeat(1000),
            &"\n".repeat(700),
        ] {
            assert_eq!(count_lines(text), text.lines().count(), "{text:?}");
        }
    }

    #[test]
    fn chunks_end_at_newlines_and_cover_the_text() {
        let text: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        for n in [1, 2, 3, 7, 64, 5000] {
            let pieces = split_at_lines(&text, n);
            assert_eq!(pieces.concat(), text, "n={n}");
            assert!(pieces.iter().all(|p| p.ends_with('\n')), "n={n}");
        }
        assert_eq!(split_at_lines("a\nb", 2).concat(), "a\nb");
        assert!(split_at_lines("", 4).is_empty());
    }

    #[test]
    fn parallel_line_numbers_and_errors_are_global() {
        // Force several chunks by making the text bigger than one chunk.
        let n = 3 * CHUNK_BYTES / 10 + 17;
        let mut text = String::new();
        for i in 0..n {
            if i % 3 < 1 {
                text.push('\n');
            }
            text.push_str(&format!("{i:08}\n"));
        }
        let parse_line = |line: &str, ctx: LineCtx| {
            if line.is_empty() {
                return Ok(None);
            }
            if line == "bad" {
                return Err(ParseErr {
                    line: ctx.line,
                    column: 1,
                    expected: "good".into(),
                    found: "bad".into(),
                });
            }
            let i: u64 = line.parse().unwrap();
            Ok(Some(Record {
                index: if i % 2 < 1 {
                    MISSING_INDEX
                } else {
                    1_000_000 + i
                },
                process: crate::history::Process::Client(i),
                kind: crate::history::RecordType::Invoke,
                f: "x".into(),
                key: None,
                value: None,
                time: None,
                error: None,
            }))
        };
        let (records, lines) =
            crate::format::flatten(parse_lines_parallel(&text, parse_line).unwrap());
        assert_eq!(records.len(), n);
        for (pos, (r, line)) in records.iter().zip(&lines).enumerate() {
            let crate::history::Process::Client(i) = r.process else {
                unreachable!()
            };
            assert_eq!(i, pos as u64);
            let want_index = if i % 2 < 1 { pos as u64 } else { 1_000_000 + i };
            assert_eq!(r.index, want_index);
            // Line of record i: i lines before it, plus i/3 + 1 blank lines.
            assert_eq!(*line, pos + pos / 3 + 2, "record {pos}");
        }
        // An error deep in the text names its global line.
        let mut bad = text.clone();
        bad.push_str("bad\n");
        let want = text.lines().count() + 1;
        assert_eq!(
            parse_lines_parallel(&bad, parse_line).unwrap_err().line,
            want
        );
    }

    /// A file in the temporary directory, removed when dropped.
    struct TempFile(std::path::PathBuf);

    impl TempFile {
        fn new(name: &str, contents: &[u8]) -> TempFile {
            let path =
                std::env::temp_dir().join(format!("skeptic-format-{}-{name}", std::process::id()));
            std::fs::write(&path, contents).unwrap();
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn load_detects_parses_and_validates() {
        let jsonl = TempFile::new(
            "ok.jsonl",
            b"{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n{\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"value\":1}\n",
        );
        let h = load(&jsonl.0, None).unwrap();
        assert_eq!((h.record_count, h.ops.len(), h.ops[0].line), (2, 1, 1));
        assert_eq!(h.ops[0].output, Some(crate::value::Value::Int(1)));

        let log = TempFile::new(
            "ok.log",
            b"noise\nINFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:fail\t:read\t:timed-out\n",
        );
        let h = load(&log.0, None).unwrap();
        assert_eq!((h.ops.len(), h.info_count(), h.ops[0].line), (1, 1, 2));
        // Forcing the wrong format gives that format's error.
        let err = load(&log.0, Some(Format::Jsonl)).unwrap_err().to_string();
        assert!(err.ends_with("ok.log:1:2: expected a history record (JSON object with process, type, f), found invalid JSON (expected ident)"), "{err}");

        let empty = TempFile::new("empty.log", b"");
        let h = load(&empty.0, None).unwrap();
        assert!(h.record_count == 0 && h.ops.is_empty());
    }

    #[test]
    fn load_errors_say_which_file_and_what_is_wrong() {
        let twice = TempFile::new(
            "twice.edn",
            b"{:process 1, :type :invoke, :f :read}\n{:process 1, :type :invoke, :f :read}\n",
        );
        match load(&twice.0, None).unwrap_err() {
            LoadError::History { path, source } => {
                assert!(path.ends_with("twice.edn"));
                assert!(
                    matches!(
                        source,
                        HistoryError::AlreadyOpen {
                            line: 2,
                            open_line: 1,
                            ..
                        }
                    ),
                    "{source}"
                );
            }
            other => panic!("{other}"),
        }
        let bad = TempFile::new(
            "bad.edn",
            b"[{:process 1, :type :invoke, :f :read}\n {:process 1 :type :what :f :read}]",
        );
        let err = load(&bad.0, None).unwrap_err();
        assert!(
            matches!(
                err,
                LoadError::Parse {
                    line: 2,
                    column: 20,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().ends_with(
                "bad.edn:2:20: expected :type to be :invoke, :ok, :fail or :info, found `:what`"
            ),
            "{err}"
        );

        let unknown = TempFile::new("unknown.txt", b"hello\n");
        let err = load(&unknown.0, None).unwrap_err();
        assert!(matches!(err, LoadError::UnknownFormat { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("cannot tell the format (it starts with `hello`"),
            "{err}"
        );
        assert!(err.to_string().ends_with("pass --format"), "{err}");

        let binary = TempFile::new("binary.jsonl", b"{\"a\xff");
        let err = load(&binary.0, None).unwrap_err();
        assert!(matches!(err, LoadError::Io { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("not UTF-8 text (invalid byte at offset 3)"),
            "{err}"
        );

        let missing = std::env::temp_dir().join("skeptic-format-no-such-file.jsonl");
        let err = load(&missing, None).unwrap_err();
        assert!(matches!(err, LoadError::Io { .. }), "{err}");
        assert!(err.to_string().contains("cannot read"), "{err}");
    }

    /// A small history with every kind of record and value the line
    /// formats can carry.
    fn sample_records() -> Vec<Record> {
        use crate::history::{Process, RecordType};
        use crate::value::Value;
        let mut records = Vec::new();
        let mut push = |process: Process,
                        kind: RecordType,
                        f: &str,
                        value: Option<Value>,
                        error: Option<&str>| {
            records.push(Record {
                index: records.len() as u64,
                process,
                kind,
                f: f.into(),
                key: None,
                value,
                time: None,
                error: error.map(str::to_string),
            })
        };
        let c = Process::Client;
        let pair = |a, b| Some(Value::List(vec![Value::Int(a), Value::Int(b)]));
        push(c(0), RecordType::Invoke, "read", Some(Value::Nil), None);
        push(c(1), RecordType::Invoke, "cas", pair(1, 2), None);
        push(
            Process::Named("nemesis".into()),
            RecordType::Info,
            "start",
            Some(Value::Str("partition".into())),
            None,
        );
        push(c(0), RecordType::Ok, "read", Some(Value::Int(1)), None);
        push(c(1), RecordType::Fail, "cas", pair(1, 2), None);
        push(c(2), RecordType::Invoke, "write", Some(Value::Int(3)), None);
        push(c(2), RecordType::Info, "write", None, Some("timed-out"));
        push(
            c(3),
            RecordType::Invoke,
            "append",
            Some(Value::Str("x \"y\"".into())),
            None,
        );
        push(
            c(3),
            RecordType::Ok,
            "append",
            Some(Value::Bool(true)),
            None,
        );
        records
    }

    #[test]
    fn every_writer_round_trips_through_detect_and_parse() {
        let records = sample_records();
        let mut jsonl = Vec::new();
        for r in &records {
            write_jsonl_record(&mut jsonl, r).unwrap();
        }
        let mut log = Vec::new();
        write_jepsen_log(&mut log, &records).unwrap();
        let mut edn = Vec::new();
        write_edn_lines(&mut edn, &records).unwrap();
        let as_vector = format!("[{}]", String::from_utf8(edn.clone()).unwrap());
        let cases = [
            (jsonl, Format::Jsonl),
            (log, Format::JepsenLog),
            (edn, Format::EdnLines),
            (as_vector.into_bytes(), Format::JepsenEdn),
        ];
        for (bytes, format) in cases {
            let text = String::from_utf8(bytes).unwrap();
            assert_eq!(detect(&text), Ok(format), "{text}");
            let (back, lines) = parse(&text, format, "x").unwrap();
            assert_eq!(back, records, "{format}:\n{text}");
            assert_eq!(lines, (1..=records.len()).collect::<Vec<_>>(), "{format}");
            History::from_records(back, lines).unwrap();
        }
    }

    /// The known-answer corpus in `../shared/histories/porcupine` (next to
    /// the project), when present.
    fn corpus_dir() -> Option<std::path::PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/histories/porcupine");
        if dir.join("EXPECTED.tsv").is_file() {
            Some(dir)
        } else {
            eprintln!(
                "skipping: no corpus at {} (a fresh clone has no ../shared)",
                dir.display()
            );
            None
        }
    }

    /// Every corpus file loads, in the detected format, with the counts
    /// EXPECTED.tsv lists: `ops` counts client invocations, `info_ops` the
    /// `:info` completions as written in the file (a `:fail ... :timed-out`
    /// is not one of them, though it is read as indeterminate), and
    /// `processes` the distinct processes.
    #[test]
    fn the_porcupine_corpus_loads_with_the_expected_counts() {
        use crate::history::{Process, RecordType};
        let Some(dir) = corpus_dir() else {
            return;
        };
        let table = std::fs::read_to_string(dir.join("EXPECTED.tsv")).unwrap();
        let mut rows = table.lines();
        let header: Vec<&str> = rows.next().unwrap().split('\t').collect();
        let col = |name: &str| header.iter().position(|&h| h == name).unwrap();
        let (c_file, c_bytes, c_ops, c_info, c_procs) = (
            col("file"),
            col("bytes"),
            col("ops"),
            col("info_ops"),
            col("processes"),
        );
        let mut listed = std::collections::BTreeSet::new();
        let mut timed_out_fails = 0;
        for row in rows.filter(|r| !r.trim().is_empty()) {
            let cells: Vec<&str> = row.split('\t').collect();
            let name = cells[c_file];
            let num = |c: usize| cells[c].parse::<usize>().unwrap();
            listed.insert(name.to_string());
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(text.len(), num(c_bytes), "{name}");
            let want_format = match () {
                _ if text.is_empty() => Format::Jsonl,
                _ if name.starts_with("jepsen/") => Format::JepsenLog,
                _ => Format::EdnLines,
            };
            assert_eq!(detect(&text), Ok(want_format), "{name}");
            let h = load(&path, None).unwrap_or_else(|e| panic!("{e}"));
            let (records, _) = parse(&text, want_format, name).unwrap();
            let client = |r: &&Record| matches!(r.process, Process::Client(_));
            let invocations = records
                .iter()
                .filter(client)
                .filter(|r| r.kind == RecordType::Invoke)
                .count();
            let converted = |r: &Record| {
                r.error
                    .as_deref()
                    .is_some_and(|e| e.starts_with(jepsen_log::FAIL_TIMED_OUT))
            };
            let written_info = records
                .iter()
                .filter(|r| r.kind == RecordType::Info && !converted(r))
                .count();
            let fails_as_info = records.iter().filter(|r| converted(r)).count();
            // Timed-out fails moved to fresh processes keep their original
            // process in the error; leave the fresh numbers out.
            let moved: std::collections::HashSet<&Process> = records
                .iter()
                .filter(|r| {
                    r.error
                        .as_deref()
                        .is_some_and(|e| e.contains("moved from process"))
                })
                .map(|r| &r.process)
                .collect();
            let processes: std::collections::HashSet<&Process> = records
                .iter()
                .map(|r| &r.process)
                .filter(|p| !moved.contains(p))
                .collect();
            assert_eq!(invocations, num(c_ops), "{name}: ops");
            assert_eq!(written_info, num(c_info), "{name}: info_ops");
            assert_eq!(processes.len(), num(c_procs), "{name}: processes");
            // Every operation completes in these files, so the indeterminate
            // ones are exactly the written `:info`s plus the timed-out fails.
            assert_eq!(h.info_count(), written_info + fails_as_info, "{name}");
            timed_out_fails += fails_as_info;
        }
        assert_eq!(
            timed_out_fails, 17,
            "`:fail :read :timed-out` lines in the corpus"
        );
        for sub in ["jepsen", "kv"] {
            for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
                let name = format!("{sub}/{}", entry.unwrap().file_name().to_string_lossy());
                assert!(listed.contains(&name), "{name} is not in EXPECTED.tsv");
            }
        }
    }

    /// Times the parsers on 2,000,000 records:
    /// `cargo test -p checker --release --lib format::tests::large -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn large_synthetic_files_parse_fast() {
        use crate::history::{Process, RecordType};
        use crate::value::Value;
        use std::time::Instant;
        const N: usize = 2_000_000;
        let records: Vec<Record> = (0..N)
            .map(|i| {
                let p = (i / 2 % 100) as u64;
                let invoke = i % 2 < 1;
                Record {
                    index: i as u64,
                    process: Process::Client(p + (i / 2000) as u64 * 100),
                    kind: if invoke {
                        RecordType::Invoke
                    } else {
                        RecordType::Ok
                    },
                    f: if i % 4 < 2 { "append" } else { "get" }.into(),
                    key: Some(Value::Str((i % 10).to_string())),
                    value: Some(if i % 4 < 2 {
                        Value::Str(format!("x {p} {i} y"))
                    } else {
                        Value::Nil
                    }),
                    time: Some(i as i64 * 1000),
                    error: None,
                }
            })
            .collect();
        let mut outputs: Vec<(Format, Vec<u8>)> = vec![
            (Format::Jsonl, Vec::new()),
            (Format::EdnLines, Vec::new()),
            (Format::JepsenLog, Vec::new()),
        ];
        for r in &records {
            write_jsonl_record(&mut outputs[0].1, r).unwrap();
        }
        write_edn_lines(&mut outputs[1].1, &records).unwrap();
        write_jepsen_log(&mut outputs[2].1, &records).unwrap();
        // SKEPTIC_FORMAT_BENCH=jsonl (say) times only that format.
        let only = std::env::var("SKEPTIC_FORMAT_BENCH").ok();
        for (format, bytes) in outputs {
            if only.as_deref().is_some_and(|o| o != format.name()) {
                continue;
            }
            let text = String::from_utf8(bytes).unwrap();
            let mut best = f64::MAX;
            for _ in 0..3 {
                let t = Instant::now();
                let (back, lines) = parse(&text, format, "big").unwrap();
                best = best.min(t.elapsed().as_secs_f64());
                assert_eq!((back.len(), lines.len()), (N, N));
                drop((back, lines));
            }
            eprintln!(
                "{format}: {N} records, {:.0} MB, best of 3: {:.0} ms",
                text.len() as f64 / 1e6,
                best * 1e3
            );
        }
    }
}
