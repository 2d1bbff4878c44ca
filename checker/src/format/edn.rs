//! A small EDN reader and writer: just enough of EDN for Jepsen histories.
//!
//! Values are read straight into [`Value`]: keywords and symbols become
//! their name (`:read` → `"read"`), vectors, lists and sets become lists, a
//! map used as a value becomes a list of `[key value]` pairs, tagged literals
//! (`#inst "..."`) become the tagged form, and numbers that do not fit an
//! `i64` (floats, ratios, big decimals, huge integers) keep their text as a
//! string. `#_` discards the next form, `;` starts a comment and commas are
//! whitespace.
//!
//! The reader tracks lines as it goes, so every error names a line and
//! column, and record readers can ask where a form started.

use super::ParseErr;
use crate::history::Process;
use crate::value::Value;
use std::borrow::Cow;
use std::fmt::Write as _;

/// Nesting deeper than this is refused rather than overflowing the stack.
const MAX_DEPTH: usize = 256;

/// A position in the text, with its line, for error messages.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mark {
    /// Byte offset.
    pub pos: usize,
    /// 1-based line.
    pub line: usize,
    /// Byte offset where that line starts.
    line_start: usize,
}

/// Reads EDN forms from a text, one after the other.
pub(crate) struct Reader<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    line_start: usize,
    /// How many forms are being read, one inside the other.
    depth: usize,
    /// How the end of the text is called in errors ("end of input", "end of
    /// line").
    end_name: &'static str,
}

/// Which bytes may appear in a symbol, keyword or number.
static TOKEN_BYTES: [bool; 256] = {
    let mut table = [true; 256];
    let delimiters = b" \t\n\r,()[]{}\";";
    let mut i = 0;
    while i < delimiters.len() {
        table[delimiters[i] as usize] = false;
        i += 1;
    }
    table
};

/// True for bytes that may appear in a symbol, keyword or number.
#[inline]
fn is_token_byte(b: u8) -> bool {
    TOKEN_BYTES[b as usize]
}

impl<'a> Reader<'a> {
    /// A reader at the start of `src`, whose first line is `first_line`.
    pub fn new(src: &'a str, first_line: usize, end_name: &'static str) -> Reader<'a> {
        Reader::starting_at(src, 0, first_line, end_name)
    }

    /// A reader at byte `pos` of `src`, a text of one line numbered `line`
    /// (or whose first line is `line` and that has no newline before `pos`).
    pub fn starting_at(
        src: &'a str,
        pos: usize,
        line: usize,
        end_name: &'static str,
    ) -> Reader<'a> {
        Reader {
            src,
            bytes: src.as_bytes(),
            pos,
            line,
            line_start: 0,
            depth: 0,
            end_name,
        }
    }

    /// The current position.
    pub fn mark(&self) -> Mark {
        Mark {
            pos: self.pos,
            line: self.line,
            line_start: self.line_start,
        }
    }

    /// The current byte offset.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The source text between a mark and the current position.
    pub fn since(&self, mark: Mark) -> &'a str {
        &self.src[mark.pos..self.pos]
    }

    /// True when everything has been read.
    pub fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// The next byte, if any.
    pub fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Steps over one byte that is not a newline.
    pub fn bump(&mut self) {
        self.pos += 1;
    }

    /// The column (1-based, in characters) of a mark.
    fn column(&self, mark: Mark) -> usize {
        self.src[mark.line_start..mark.pos].chars().count() + 1
    }

    /// "line L column C" for a mark, to point at an opening bracket.
    pub fn describe(&self, mark: Mark) -> String {
        format!("line {} column {}", mark.line, self.column(mark))
    }

    /// An error at a mark.
    pub fn error_at(
        &self,
        mark: Mark,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> ParseErr {
        ParseErr {
            line: mark.line,
            column: self.column(mark),
            expected: expected.into(),
            found: found.into(),
        }
    }

    /// An error at the current position, describing what is there.
    pub fn error_here(&self, expected: impl Into<String>) -> ParseErr {
        self.error_at(self.mark(), expected, self.found_here())
    }

    /// Describes what is at the current position, for "found ...".
    pub fn found_here(&self) -> String {
        let Some(b) = self.peek() else {
            return self.end_name.to_string();
        };
        let rest = &self.src[self.pos..];
        if !is_token_byte(b) {
            let c = rest.chars().next().unwrap_or(' ');
            if b == b'"' {
                let end = rest[1..].find('"').map_or(rest.len(), |i| i + 2);
                return super::quote_snippet(&rest[..end]);
            }
            return format!("`{c}`");
        }
        let len = rest
            .bytes()
            .position(|b| !is_token_byte(b))
            .unwrap_or(rest.len());
        super::quote_snippet(&rest[..len])
    }

    /// Skips whitespace, commas, comments and `#_`-discarded forms.
    #[inline]
    pub fn skip_ws(&mut self) -> Result<(), ParseErr> {
        // Most forms are preceded by spaces, commas and tabs, or by nothing.
        while let Some(b' ' | b',' | b'\t') = self.peek() {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'\r' | b'\n' | b';' | b'#') => self.skip_ws_slow(),
            _ => Ok(()),
        }
    }

    /// The general case of [`skip_ws`](Reader::skip_ws).
    fn skip_ws_slow(&mut self) -> Result<(), ParseErr> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b',') => self.pos += 1,
                Some(b'\n') => {
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.pos;
                }
                Some(b';') => {
                    let rest = &self.bytes[self.pos..];
                    self.pos += rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                }
                Some(b'#') if self.bytes.get(self.pos + 1) == Some(&b'_') => {
                    self.pos += 2;
                    self.read_value()?;
                }
                _ => return Ok(()),
            }
        }
    }

    /// Reads a run of token bytes (a symbol, keyword or number).
    fn read_token(&mut self) -> &'a str {
        let start = self.pos;
        let rest = &self.bytes[start..];
        self.pos += rest
            .iter()
            .position(|&b| !is_token_byte(b))
            .unwrap_or(rest.len());
        &self.src[start..self.pos]
    }

    /// The token at the current position, without consuming it.
    fn peek_token(&self) -> &'a str {
        let rest = &self.bytes[self.pos..];
        let len = rest
            .iter()
            .position(|&b| !is_token_byte(b))
            .unwrap_or(rest.len());
        &self.src[self.pos..self.pos + len]
    }

    /// Reads a keyword at the current position (which holds `:`) and returns
    /// its name without the colon.
    pub fn read_keyword(&mut self) -> Result<&'a str, ParseErr> {
        let mark = self.mark();
        let token = self.read_token();
        let name = &token[1..];
        if name.is_empty() {
            return Err(self.error_at(
                mark,
                "a keyword name after `:`",
                super::quote_snippet(token),
            ));
        }
        Ok(name)
    }

    /// Reads a string literal at the current position (which holds `"`).
    pub fn read_string(&mut self) -> Result<Cow<'a, str>, ParseErr> {
        let open = self.mark();
        self.pos += 1;
        let start = self.pos;
        // Fast path: no escapes.
        let mut i = start;
        while i < self.bytes.len() {
            match self.bytes[i] {
                b'"' => {
                    self.pos = i + 1;
                    return Ok(Cow::Borrowed(&self.src[start..i]));
                }
                b'\\' => break,
                b'\n' => {
                    self.line += 1;
                    self.line_start = i + 1;
                }
                _ => {}
            }
            i += 1;
        }
        let mut out = String::from(&self.src[start..i]);
        self.pos = i;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.error_at(
                    open,
                    "`\"` to end the string that starts here",
                    self.end_name,
                ));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                b'\\' => {
                    let esc = self.mark();
                    let c = match self.bytes.get(self.pos + 1) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'n') => '\n',
                        Some(b't') => '\t',
                        Some(b'r') => '\r',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'u') => {
                            let hex = self.src.get(self.pos + 2..self.pos + 6).unwrap_or("");
                            let code = u32::from_str_radix(hex, 16).ok().filter(|_| hex.len() == 4);
                            match code.and_then(char::from_u32) {
                                Some(c) => {
                                    out.push(c);
                                    self.pos += 6;
                                    continue;
                                }
                                None => {
                                    let end = (self.pos + 6).min(self.src.len());
                                    let shown = self.src.get(self.pos..end).unwrap_or("\\u");
                                    return Err(self.error_at(
                                        esc,
                                        "a `\\u` escape with four hex digits naming a character",
                                        super::quote_snippet(shown),
                                    ));
                                }
                            }
                        }
                        _ => {
                            let shown: String = self.src[self.pos..].chars().take(2).collect();
                            return Err(self.error_at(
                                esc,
                                "a string escape (\\\" \\\\ \\n \\t \\r \\b \\f \\uXXXX)",
                                format!("`{shown}`"),
                            ));
                        }
                    };
                    out.push(c);
                    self.pos += 2;
                }
                _ => {
                    // Copy up to the next quote or backslash.
                    let rest = &self.bytes[self.pos..];
                    let len = rest
                        .iter()
                        .position(|&b| b == b'"' || b == b'\\')
                        .unwrap_or(rest.len());
                    let piece = &self.src[self.pos..self.pos + len];
                    for (j, _) in piece.match_indices('\n') {
                        self.line += 1;
                        self.line_start = self.pos + j + 1;
                    }
                    out.push_str(piece);
                    self.pos += len;
                }
            }
        }
    }

    /// Reads a name: a keyword (without its colon), a string, or a symbol
    /// other than `nil`, `true` and `false`. Returns `None`, consuming
    /// nothing, when the next form is something else.
    pub fn read_name(&mut self) -> Result<Option<Cow<'a, str>>, ParseErr> {
        match self.peek() {
            Some(b':') => Ok(Some(Cow::Borrowed(self.read_keyword()?))),
            Some(b'"') => Ok(Some(self.read_string()?)),
            Some(b) if is_token_byte(b) && !b.is_ascii_digit() && b != b'#' && b != b'\\' => {
                let token = self.peek_token();
                let numeric = matches!(b, b'+' | b'-')
                    && token.as_bytes().get(1).is_some_and(u8::is_ascii_digit);
                if numeric || matches!(token, "nil" | "true" | "false") {
                    return Ok(None);
                }
                Ok(Some(Cow::Borrowed(self.read_token())))
            }
            _ => Ok(None),
        }
    }

    /// Reads a process: a non-negative integer (a client) or a keyword or
    /// string (a named process such as `:nemesis`).
    pub fn read_process(&mut self) -> Result<Process, ParseErr> {
        const EXPECTED: &str = "a process (a non-negative integer, or a keyword like :nemesis)";
        let mark = self.mark();
        match self.peek() {
            Some(b':') => Ok(Process::Named(self.read_keyword()?.to_string())),
            Some(b'"') => Ok(Process::Named(self.read_string()?.into_owned())),
            Some(b'0'..=b'9') => {
                let token = self.read_token();
                let digits = token.strip_suffix('N').unwrap_or(token);
                digits
                    .parse::<u64>()
                    .map(Process::Client)
                    .map_err(|_| self.error_at(mark, EXPECTED, super::quote_snippet(token)))
            }
            _ => Err(self.error_here(EXPECTED)),
        }
    }

    /// Reads one form as a [`Value`], skipping whitespace before it.
    pub fn read_value(&mut self) -> Result<Value, ParseErr> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error_here(format!("at most {MAX_DEPTH} levels of nesting")));
        }
        self.depth += 1;
        let value = self.read_form();
        self.depth -= 1;
        value
    }

    /// Reads one form; [`read_value`](Reader::read_value) guards the depth.
    fn read_form(&mut self) -> Result<Value, ParseErr> {
        self.skip_ws()?;
        let Some(b) = self.peek() else {
            return Err(self.error_here("a value"));
        };
        match b {
            b'"' => Ok(Value::Str(self.read_string()?.into_owned())),
            b':' => Ok(Value::Str(self.read_keyword()?.to_string())),
            b'[' => self.read_seq(b']').map(Value::List),
            b'(' => self.read_seq(b')').map(Value::List),
            b'{' => self.read_map(),
            b']' | b')' | b'}' => Err(self.error_here("a value")),
            b'#' => self.read_dispatch(),
            b'\\' => self.read_char(),
            b'0'..=b'9' => Ok(number(self.read_token())),
            b'+' | b'-' if self.bytes.get(self.pos + 1).is_some_and(u8::is_ascii_digit) => {
                Ok(number(self.read_token()))
            }
            _ => Ok(match self.read_token() {
                "nil" => Value::Nil,
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                symbol => Value::Str(symbol.to_string()),
            }),
        }
    }

    /// Reads the elements of a vector, list or set up to `close`; the
    /// current position holds the opening bracket.
    fn read_seq(&mut self, close: u8) -> Result<Vec<Value>, ParseErr> {
        let open = self.mark();
        let opener = &self.src[open.pos..];
        let opener = if opener.starts_with("#{") {
            "#{"
        } else {
            &opener[..1]
        };
        self.pos += opener.len();
        let mut items = Vec::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                Some(b) if b == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                None | Some(b']' | b')' | b'}') => {
                    return Err(self.error_here(format!(
                        "`{}` to close the `{opener}` at {}",
                        close as char,
                        self.describe(open)
                    )));
                }
                _ => items.push(self.read_value()?),
            }
        }
    }

    /// Reads a map used as a value, into a list of `[key value]` pairs.
    fn read_map(&mut self) -> Result<Value, ParseErr> {
        let open = self.mark();
        self.pos += 1;
        let mut pairs = Vec::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::List(pairs));
                }
                None | Some(b']' | b')') => {
                    return Err(self
                        .error_here(format!("`}}` to close the `{{` at {}", self.describe(open))));
                }
                _ => {}
            }
            let key = self.read_value()?;
            self.skip_ws()?;
            if matches!(self.peek(), None | Some(b'}' | b']' | b')')) {
                return Err(self.error_here("a value for the map's last key"));
            }
            let value = self.read_value()?;
            pairs.push(Value::List(vec![key, value]));
        }
    }

    /// Reads a form starting with `#`: a set, a tagged literal, a symbolic
    /// value (`##Inf`), a regex, or a discarded form.
    fn read_dispatch(&mut self) -> Result<Value, ParseErr> {
        match self.bytes.get(self.pos + 1) {
            Some(b'{') => self.read_seq(b'}').map(Value::List),
            Some(b'_') => {
                self.pos += 2;
                self.read_value()?;
                self.read_value()
            }
            Some(b'#') => Ok(Value::Str(self.read_token().to_string())),
            Some(b'"') => {
                self.pos += 1;
                Ok(Value::Str(self.read_string()?.into_owned()))
            }
            Some(b) if b.is_ascii_alphabetic() => {
                // A tagged literal: ignore the tag, keep the form.
                let tag = self.mark();
                self.read_token();
                self.skip_ws()?;
                if self.at_end() {
                    return Err(self.error_at(
                        tag,
                        format!(
                            "a form after the tag {}",
                            super::quote_snippet(self.since(tag))
                        ),
                        self.end_name,
                    ));
                }
                self.read_value()
            }
            _ => Err(self.error_here("a set `#{`, a tag like `#inst`, or `#_` after `#`")),
        }
    }

    /// Reads a character literal (`\a`, `\newline`, `\u0041`) as a string.
    fn read_char(&mut self) -> Result<Value, ParseErr> {
        let mark = self.mark();
        self.pos += 1;
        let Some(&b) = self.bytes.get(self.pos) else {
            return Err(self.error_at(mark, "a character after `\\`", self.end_name));
        };
        if !is_token_byte(b) {
            // `\(`, `\"` and the like: that one character.
            self.pos += 1;
            return Ok(Value::Str((b as char).to_string()));
        }
        let token = self.read_token();
        let c = match token {
            "newline" => Some('\n'),
            "space" => Some(' '),
            "tab" => Some('\t'),
            "return" => Some('\r'),
            "backspace" => Some('\u{8}'),
            "formfeed" => Some('\u{c}'),
            t if t.chars().count() == 1 => t.chars().next(),
            t if t.len() == 5 && t.starts_with('u') => u32::from_str_radix(&t[1..], 16)
                .ok()
                .and_then(char::from_u32),
            _ => None,
        };
        match c {
            Some(c) => Ok(Value::Str(c.to_string())),
            None => Err(self.error_at(
                mark,
                "a character literal (`\\a`, `\\newline`, `\\uXXXX`)",
                super::quote_snippet(self.since(mark)),
            )),
        }
    }
}

/// A number token: an `i64` when it is one (with an optional `N`), else its
/// text.
fn number(token: &str) -> Value {
    let digits = token.strip_suffix('N').unwrap_or(token);
    match digits.parse::<i64>() {
        Ok(i) => Value::Int(i),
        Err(_) => Value::Str(token.to_string()),
    }
}

/// True when `name` can be written as a keyword and read back unchanged.
pub(crate) fn is_keyword_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let ok = |c: char| c.is_ascii_alphanumeric() || "*+!-_?<>=./".contains(c);
    !first.is_ascii_digit() && first != '/' && ok(first) && chars.all(ok)
}

/// Appends a name as a keyword when it can be one, else as a string.
pub(crate) fn write_name(out: &mut String, name: &str) {
    if is_keyword_name(name) {
        out.push(':');
        out.push_str(name);
    } else {
        write_string(out, name);
    }
}

/// Appends a string literal with EDN escapes.
pub(crate) fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a value in EDN. Strings are always written as strings, so
/// reading them back gives the same [`Value`].
pub(crate) fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Nil => out.push_str("nil"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Str(s) => write_string(out, s),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, item);
            }
            out.push(']');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Value, ParseErr> {
        let mut r = Reader::new(text, 1, "end of input");
        let v = r.read_value()?;
        r.skip_ws()?;
        assert!(
            r.at_end(),
            "left over after {text:?}: {:?}",
            &text[r.pos()..]
        );
        Ok(v)
    }

    fn s(x: &str) -> Value {
        Value::Str(x.into())
    }

    fn list(items: Vec<Value>) -> Value {
        Value::List(items)
    }

    #[test]
    fn reads_each_kind_of_form() {
        let cases: Vec<(&str, Value)> = vec![
            ("nil", Value::Nil),
            ("true", Value::Bool(true)),
            ("false", Value::Bool(false)),
            ("42", Value::Int(42)),
            ("-7", Value::Int(-7)),
            ("+3", Value::Int(3)),
            ("12N", Value::Int(12)),
            ("99999999999999999999", s("99999999999999999999")),
            ("1.5", s("1.5")),
            ("1/2", s("1/2")),
            ("2.0M", s("2.0M")),
            ("\"a b\"", s("a b")),
            (r#""q\"\\\n\t\u0041""#, s("q\"\\\n\tA")),
            ("\"é ü\"", s("é ü")),
            (":timed-out", s("timed-out")),
            (":jepsen/x", s("jepsen/x")),
            ("foo-bar", s("foo-bar")),
            ("-", s("-")),
            ("[1 2]", list(vec![Value::Int(1), Value::Int(2)])),
            (
                "(1, 2 ,3)",
                list(vec![Value::Int(1), Value::Int(2), Value::Int(3)]),
            ),
            ("#{:a}", list(vec![s("a")])),
            ("[]", list(vec![])),
            (
                "{:a 1, \"b\" [nil]}",
                list(vec![
                    list(vec![s("a"), Value::Int(1)]),
                    list(vec![s("b"), list(vec![Value::Nil])]),
                ]),
            ),
            ("#inst \"2020-01-01\"", s("2020-01-01")),
            ("#my/tag [1]", list(vec![Value::Int(1)])),
            ("#_ 5 6", Value::Int(6)),
            ("[1 #_[2 3] 4]", list(vec![Value::Int(1), Value::Int(4)])),
            ("; comment\n 7 ; more", Value::Int(7)),
            ("\\a", s("a")),
            ("\\newline", s("\n")),
            ("[\\( \\space]", list(vec![s("("), s(" ")])),
            ("##Inf", s("##Inf")),
            ("[[[:deep]]]", list(vec![list(vec![list(vec![s("deep")])])])),
        ];
        for (text, want) in cases {
            assert_eq!(read(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn errors_name_line_column_and_expectation() {
        // (text, line, column, expected contains, found contains)
        let cases = [
            ("\"abc", 1, 1, "`\"` to end the string", "end of input"),
            (
                "[1\n  \"abc\ndef",
                2,
                3,
                "to end the string",
                "end of input",
            ),
            (
                "[1 2",
                1,
                5,
                "`]` to close the `[` at line 1 column 1",
                "end of input",
            ),
            (
                "[1 2}",
                1,
                5,
                "`]` to close the `[` at line 1 column 1",
                "`}`",
            ),
            (
                "(1\n [2)",
                2,
                4,
                "`]` to close the `[` at line 2 column 2",
                "`)`",
            ),
            ("{:a 1\n :b}", 2, 4, "a value for the map's last key", "`}`"),
            (
                "{:a 1",
                1,
                6,
                "`}` to close the `{` at line 1 column 1",
                "end of input",
            ),
            (
                "#{1 2",
                1,
                6,
                "`}` to close the `#{` at line 1 column 1",
                "end of input",
            ),
            ("]", 1, 1, "a value", "`]`"),
            ("", 1, 1, "a value", "end of input"),
            ("\"a\\qb\"", 1, 3, "a string escape", "`\\q`"),
            ("\"\\u12\"", 1, 2, "four hex digits", "`\\u12\"`"),
            (":", 1, 1, "a keyword name", "`:`"),
            ("#?x", 1, 1, "a set `#{`", "`#?x`"),
            ("\\xyz", 1, 1, "a character literal", "`\\xyz`"),
            (
                "#inst",
                1,
                1,
                "a form after the tag `#inst`",
                "end of input",
            ),
            ("é [", 1, 4, "`]` to close", "end of input"),
        ];
        for (text, line, column, expected, found) in cases {
            let mut r = Reader::new(text, 1, "end of input");
            let err = r.read_value().and_then(|_| r.read_value()).expect_err(text);
            assert_eq!((err.line, err.column), (line, column), "{text}: {err:?}");
            assert!(err.expected.contains(expected), "{text}: {err:?}");
            assert!(err.found.contains(found), "{text}: {err:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        let text = "[".repeat(100_000);
        let err = read(&text).unwrap_err();
        assert!(err.expected.contains("levels of nesting"), "{err:?}");
    }

    #[test]
    fn names_and_processes() {
        let mut r = Reader::new(":read \"cas x\" sym 12 nil -3", 1, "end of input");
        let mut names = vec![];
        for _ in 0..3 {
            r.skip_ws().unwrap();
            names.push(r.read_name().unwrap().unwrap().into_owned());
        }
        assert_eq!(names, ["read", "cas x", "sym"]);
        for _ in 0..3 {
            r.skip_ws().unwrap();
            assert_eq!(r.read_name().unwrap(), None, "at {}", r.pos());
            r.read_value().unwrap();
        }

        let cases = [
            ("3", Some(Process::Client(3))),
            ("3N", Some(Process::Client(3))),
            (":nemesis", Some(Process::Named("nemesis".into()))),
            ("\"worker\"", Some(Process::Named("worker".into()))),
            ("-1", None),
            ("x", None),
            ("nil", None),
            ("3.5", None),
            ("[1]", None),
        ];
        for (text, want) in cases {
            let got = Reader::new(text, 1, "end of input").read_process();
            match want {
                Some(p) => assert_eq!(got, Ok(p), "{text}"),
                None => {
                    let err = got.expect_err(text);
                    assert!(err.expected.starts_with("a process"), "{text}: {err:?}");
                    assert_eq!(err.column, 1);
                }
            }
        }
    }

    #[test]
    fn written_values_read_back_unchanged() {
        let values = vec![
            Value::Nil,
            Value::Bool(true),
            Value::Int(i64::MIN),
            s(""),
            s("with \"quotes\", \\ and\nnewlines\t\u{1}"),
            s("nil"),
            s("12"),
            s("é"),
            list(vec![
                Value::Int(1),
                list(vec![s("x"), Value::Nil]),
                list(vec![]),
            ]),
        ];
        for v in values {
            let mut out = String::new();
            write_value(&mut out, &v);
            assert_eq!(read(&out), Ok(v.clone()), "{out}");
        }
        for name in ["read", "cas", "nemesis", "a/b", "x y", "", "1st", "ok?"] {
            let mut out = String::new();
            write_name(&mut out, name);
            let mut r = Reader::new(&out, 1, "end of input");
            assert_eq!(r.read_name().unwrap().as_deref(), Some(name), "{out}");
            assert!(r.at_end(), "{out}");
        }
    }
}
