//! The test configuration as a table of settings.
//!
//! Nested objects are flattened into dotted paths (`nemesis.interval_s`) so
//! every setting is one row a reader can scan; arrays stay compact JSON on
//! one row because their elements are rarely meaningful alone. The full
//! JSON follows in a collapsed block for copying.

use std::fmt::Write;

use serde_json::Value;

use crate::html::escape;

/// The most rows in the table; a configuration larger than this is read
/// from the JSON block instead.
const ROWS_MAX: usize = 500;

/// The configuration as HTML: a table of settings and the pretty JSON.
pub(super) fn render(config: &Value) -> String {
    let mut out = String::new();
    let mut rows = Vec::new();
    flatten("", config, &mut rows);
    match config {
        Value::Null => {
            out.push_str("<p class=\"none\">No configuration was recorded.</p>\n");
            return out;
        }
        Value::Object(map) if map.is_empty() => {
            out.push_str("<p class=\"none\">The configuration is empty.</p>\n");
            return out;
        }
        _ => {}
    }
    out.push_str("<table class=\"config\">\n");
    for (key, value) in rows.iter().take(ROWS_MAX) {
        // `write!` to a String cannot fail.
        let _ = writeln!(
            out,
            "<tr><th>{}</th><td class=\"value\">{}</td></tr>",
            escape(key),
            escape(value)
        );
    }
    out.push_str("</table>\n");
    if rows.len() > ROWS_MAX {
        let _ = writeln!(
            out,
            "<p class=\"none\">{} more settings are in the JSON below.</p>",
            rows.len() - ROWS_MAX
        );
    }
    let pretty = serde_json::to_string_pretty(config).unwrap_or_else(|_| config.to_string());
    let _ = writeln!(
        out,
        "<details><summary>The configuration as JSON</summary><pre>{}</pre></details>",
        escape(&pretty)
    );
    out
}

/// Appends a (path, value) row for every leaf of `value` under `prefix`.
fn flatten(prefix: &str, value: &Value, rows: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, child, rows);
            }
        }
        // Strings read better without their JSON quotes.
        Value::String(s) => rows.push((prefix.to_owned(), s.clone())),
        other => rows.push((prefix.to_owned(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattens_nested_settings() {
        let config = json!({
            "workload": "register",
            "nodes": ["n1", "n2"],
            "nemesis": {"kind": "partition", "interval_s": 5, "extra": {}},
            "seed": 7
        });
        let mut rows = Vec::new();
        flatten("", &config, &mut rows);
        // Sorted here because serde_json keeps insertion order when some
        // crate in the build enables its `preserve_order` feature.
        let mut rows: Vec<(&str, &str)> =
            rows.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        rows.sort_unstable();
        assert_eq!(
            rows,
            [
                ("nemesis.extra", "{}"),
                ("nemesis.interval_s", "5"),
                ("nemesis.kind", "partition"),
                ("nodes", "[\"n1\",\"n2\"]"),
                ("seed", "7"),
                ("workload", "register"),
            ]
        );
    }

    #[test]
    fn renders_a_table_and_the_json() {
        let html = render(&json!({"a<b": "<i>"}));
        assert!(
            html.contains("<th>a&lt;b</th><td class=\"value\">&lt;i&gt;</td>"),
            "{html}"
        );
        assert!(html.contains("<details>"));
        assert!(!html.contains("<i>"));
        assert!(render(&Value::Null).contains("No configuration"));
        assert!(render(&json!({})).contains("empty"));
        // A bare value still shows up.
        assert!(render(&json!(42)).contains(">42</td>"));
    }
}
