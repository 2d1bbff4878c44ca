//! Escaping for text placed in HTML, SVG and XML documents.
//!
//! One function serves all three because the documents this crate writes
//! only ever put data in element content and double- or single-quoted
//! attribute values, where the same five characters are special.

/// Escapes `s` for element content and quoted attribute values.
///
/// Control characters other than tab, newline and carriage return are
/// replaced by U+FFFD: XML 1.0 forbids them outright (a JUnit parser in CI
/// would reject the whole file), and in HTML they are never meant.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_the_special_characters() {
        let cases = [
            ("plain", "plain"),
            ("<script>", "&lt;script&gt;"),
            ("a & b", "a &amp; b"),
            ("\"q\" 'a'", "&quot;q&quot; &#39;a&#39;"),
            ("tab\tnl\n", "tab\tnl\n"),
            ("bell\u{7}", "bell\u{FFFD}"),
        ];
        for (input, want) in cases {
            assert_eq!(escape(input), want, "input {input:?}");
        }
    }
}
