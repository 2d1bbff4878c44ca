//! Text in markup: how every page and document this crate writes (the run
//! report, the counterexample page, JUnit XML) puts data from a run into
//! HTML, SVG or XML safely.

/// Escapes text for element content and quoted attribute values of HTML,
/// SVG and XML documents (the same five characters are special in all
/// three). Control characters other than tab, newline and carriage return
/// become U+FFFD: XML 1.0 forbids them outright (a JUnit parser in CI would
/// reject the whole file), and in HTML they are never meant.
pub fn escape(s: &str) -> String {
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
    use super::*;

    #[test]
    fn escape_handles_the_special_and_control_characters() {
        let cases = [
            ("plain", "plain"),
            ("<script>", "&lt;script&gt;"),
            ("a & b", "a &amp; b"),
            ("\"q\" 'a'", "&quot;q&quot; &#39;a&#39;"),
            ("tab\tnl\n", "tab\tnl\n"),
            ("bell\u{7}", "bell\u{FFFD}"),
            ("", ""),
            ("naïve ✓", "naïve ✓"),
        ];
        for (input, want) in cases {
            assert_eq!(escape(input), want, "input {input:?}");
        }
    }
}
