//! Guessing a history file's format from its first characters and lines.

use super::Format;

/// The marker of Jepsen's operation log lines.
const LOG_MARKER: &str = "jepsen.util - ";

/// How many non-blank lines are looked at to tell EDN maps per line from a
/// Jepsen history whose maps span lines.
const EDN_SAMPLE_LINES: usize = 20;

/// How many non-blank lines may precede the first Jepsen log operation line
/// (logs start with setup noise).
const LOG_SAMPLE_LINES: usize = 1000;

/// Guesses the format from the content (first non-blank characters / lines).
///
/// - empty or blank text: [`Format::Jsonl`] (an empty history);
/// - `{` then `"`: [`Format::Jsonl`];
/// - `{` then `:`: [`Format::EdnLines`] when each of the first 20
///   non-blank, non-comment lines starts with `{` and ends with `}`, else
///   [`Format::JepsenEdn`] (a map spans lines);
/// - `[` or `(`: [`Format::JepsenEdn`];
/// - otherwise [`Format::JepsenLog`] when one of the first non-blank lines
///   contains `jepsen.util - `.
///
/// Leading EDN comment lines (`;`) and a byte-order mark are skipped. The
/// error says what the text starts with and what was expected.
pub fn detect(text: &str) -> Result<Format, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let body = skip_comment_lines(text);
    let start = body.trim_start();
    let Some(first) = start.chars().next() else {
        return Ok(if body.len() < text.len() {
            Format::JepsenEdn
        } else {
            Format::Jsonl
        });
    };
    let after = start[first.len_utf8()..].trim_start();
    match first {
        '{' if after.starts_with('"') || after.starts_with('}') => Ok(Format::Jsonl),
        '{' if after.starts_with(':') => Ok(edn_kind(body)),
        '[' | '(' if after.starts_with('{') && after[1..].trim_start().starts_with('"') => Err(
            "it looks like a JSON array; jsonl wants one JSON object per line, without the enclosing `[`"
                .to_string(),
        ),
        '[' | '(' => Ok(Format::JepsenEdn),
        _ if has_log_marker(text) => Ok(Format::JepsenLog),
        _ => {
            let shown: String = start.chars().take(20).take_while(|&c| c != '\n').collect();
            Err(format!(
                "it starts with `{shown}`; expected `{{\"` (jsonl), `{{:` (EDN maps), `[` (a Jepsen EDN \
                 history) or Jepsen log lines containing `{LOG_MARKER}`"
            ))
        }
    }
}

/// The text after any leading blank and `;` comment lines.
fn skip_comment_lines(text: &str) -> &str {
    let mut rest = text;
    loop {
        let trimmed = rest.trim_start();
        if !trimmed.starts_with(';') {
            return rest;
        }
        rest = match trimmed.find('\n') {
            Some(i) => &trimmed[i + 1..],
            None => "",
        };
    }
}

/// EDN maps one per line, or maps spanning lines.
fn edn_kind(text: &str) -> Format {
    let one_per_line = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .take(EDN_SAMPLE_LINES)
        .all(|l| l.starts_with('{') && l.ends_with('}'));
    if one_per_line {
        Format::EdnLines
    } else {
        Format::JepsenEdn
    }
}

/// True when one of the first non-blank lines is a Jepsen operation line.
fn has_log_marker(text: &str) -> bool {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .take(LOG_SAMPLE_LINES)
        .any(|l| l.contains(LOG_MARKER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_each_format_apart() {
        let cases: &[(&str, Format)] = &[
            ("", Format::Jsonl),
            ("  \n\n", Format::Jsonl),
            ("{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n", Format::Jsonl),
            ("\u{feff}\n  {  \"type\":\"ok\"}", Format::Jsonl),
            ("{}\n", Format::Jsonl),
            ("{:process 0, :type :invoke, :f :get}\n{:process 0, :type :ok, :f :get}\n", Format::EdnLines),
            ("; comment\n{:process 0, :type :invoke, :f :get} ; trailing\n", Format::JepsenEdn),
            ("; comment\n\n{:process 0, :type :invoke, :f :get}\n", Format::EdnLines),
            ("{:process 0,\n :type :invoke, :f :get}\n", Format::JepsenEdn),
            ("[{:process 0, :type :invoke, :f :get}]", Format::JepsenEdn),
            ("\n[\n{:process 0, :type :invoke, :f :get}\n]", Format::JepsenEdn),
            ("({:type :ok})", Format::JepsenEdn),
            ("; only a comment\n", Format::JepsenEdn),
            ("INFO  jepsen.util - 0\t:invoke\t:read\tnil\n", Format::JepsenLog),
            ("2017 INFO jepsen.core - setup\nnoise\nINFO  jepsen.util - 0\t:invoke\t:read\tnil\n", Format::JepsenLog),
        ];
        for &(text, want) in cases {
            assert_eq!(detect(text), Ok(want), "{text:?}");
        }
        // Twenty-one lines of maps, the 21st spanning lines: only the first
        // twenty are looked at.
        let mut many = "{:process 0, :type :invoke, :f :get}\n".repeat(20);
        many.push_str("{:process 0,\n :type :ok, :f :get}\n");
        assert_eq!(detect(&many), Ok(Format::EdnLines));
        // A log whose first operation line comes after lots of noise.
        let mut log = "INFO jepsen.core - noise\n".repeat(500);
        log.push_str("INFO  jepsen.util - 0\t:invoke\t:read\tnil\n");
        assert_eq!(detect(&log), Ok(Format::JepsenLog));
    }

    #[test]
    fn says_why_it_cannot_tell() {
        let cases = [
            ("hello world\n", "it starts with `hello world`"),
            ("{ 3 }", "it starts with `{ 3 }`"),
            ("[{\"process\": 0}]", "looks like a JSON array"),
            (
                "INFO jepsen.util: 0 :invoke",
                "Jepsen log lines containing `jepsen.util - `",
            ),
        ];
        for (text, want) in cases {
            let err = detect(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
