//! The browser's pages, as plain HTML (no scripts: filtering and sorting
//! are links the server answers).

use super::index::{BenchRun, CampaignRun, TestRun};
use std::fmt::Write as _;

/// HTML-escapes text.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Escapes a path for a URL (each byte that is not safe as is).
pub fn url_path(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}\
         .anomaly,.ANOMALY{{color:#b00;font-weight:bold}}.valid,.pass{{color:#080}}\
         nav a{{margin-right:1em}}pre{{background:#f6f6f6;padding:8px}}</style></head>\
         <body><nav><a href=\"/\">Runs</a><a href=\"/campaigns\">Campaigns</a>\
         <a href=\"/bench\">Bench</a></nav><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    )
}

fn file_link(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    format!("<a href=\"/files/{}\">{}</a>", url_path(path), esc(name))
}

/// How the run list is shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListView {
    /// Only runs with this verdict.
    pub verdict: Option<String>,
    /// The column to sort by: `time`, `test`, `verdict`, `throughput`, `p99`.
    pub sort: String,
    /// Ascending.
    pub asc: bool,
}

/// The sort columns.
pub const SORTS: [&str; 5] = ["time", "test", "verdict", "throughput", "p99"];

/// The run list, filtered and sorted as `view` says.
pub fn runs_page(runs: &[TestRun], view: &ListView) -> String {
    let mut rows: Vec<&TestRun> = runs
        .iter()
        .filter(|r| view.verdict.as_ref().is_none_or(|v| &r.verdict == v))
        .collect();
    let num = |v: Option<f64>| v.unwrap_or(f64::NEG_INFINITY);
    rows.sort_by(|a, b| {
        let o = match view.sort.as_str() {
            "test" => a.test.cmp(&b.test),
            "verdict" => a.verdict.cmp(&b.verdict),
            "throughput" => num(a.ok_per_s).total_cmp(&num(b.ok_per_s)),
            "p99" => num(a.p99_ms).total_cmp(&num(b.p99_ms)),
            _ => a.time.cmp(&b.time),
        };
        if view.asc {
            o
        } else {
            o.reverse()
        }
    });
    let mut verdicts: Vec<&str> = runs.iter().map(|r| r.verdict.as_str()).collect();
    verdicts.sort_unstable();
    verdicts.dedup();
    let mut body = String::from("<p>Verdict: <a href=\"/\">all</a>");
    for v in verdicts {
        let _ = write!(
            body,
            " <a href=\"/?verdict={0}\">{1}</a>",
            url_path(v),
            esc(v)
        );
    }
    let _ = write!(
        body,
        "</p><p>{} of {} runs</p><table id=\"runs\"><tr>",
        rows.len(),
        runs.len()
    );
    let filter = view
        .verdict
        .as_ref()
        .map_or(String::new(), |v| format!("&verdict={}", url_path(v)));
    for (col, sort) in [
        ("test", Some("test")),
        ("time", Some("time")),
        ("target", None),
        ("variant", None),
        ("workload", None),
        ("nemesis", None),
        ("verdict", Some("verdict")),
        ("ok/s", Some("throughput")),
        ("p99 ms", Some("p99")),
        ("files", None),
        ("logs", None),
    ] {
        match sort {
            Some(s) => {
                let asc = !(view.sort == s && view.asc);
                let _ = write!(
                    body,
                    "<th><a href=\"/?sort={s}&order={}{filter}\">{}</a></th>",
                    if asc { "asc" } else { "desc" },
                    esc(col)
                );
            }
            None => {
                let _ = write!(body, "<th>{}</th>", esc(col));
            }
        }
    }
    body.push_str("</tr>");
    for r in rows {
        let files: Vec<String> = r.files.iter().map(|f| file_link(f)).collect();
        let logs: Vec<String> = r.logs.iter().map(|f| file_link(f)).collect();
        let _ = write!(
            body,
            "<tr class=\"run\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"{v}\">{v}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.test),
            esc(&r.time),
            esc(&r.target),
            esc(&r.variant),
            esc(&r.workload),
            esc(&r.nemesis),
            r.ok_per_s.map_or("-".into(), |v| format!("{v:.0}")),
            r.p99_ms.map_or("-".into(), |v| format!("{v:.1}")),
            files.join(" "),
            logs.join(" "),
            v = esc(&r.verdict),
        );
    }
    body.push_str("</table>");
    page("Runs", &body)
}

/// The campaigns, each with its counts and a link to its summary.
pub fn campaigns_page(cs: &[CampaignRun]) -> String {
    let mut body = String::from("<table id=\"campaigns\"><tr><th>campaign</th><th>time</th><th>shard</th><th>runs</th><th>files</th></tr>");
    for c in cs {
        let counts: Vec<String> = c
            .counts
            .iter()
            .map(|(o, n)| format!("<span class=\"{0}\">{n} {0}</span>", esc(o)))
            .collect();
        let files: Vec<String> = ["summary.md", "junit.xml", "campaign.json"]
            .iter()
            .map(|f| file_link(&format!("{}/{f}", c.path)))
            .collect();
        let _ = write!(
            body,
            "<tr class=\"campaign\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.name),
            esc(&c.time),
            esc(&c.shard),
            counts.join(", "),
            files.join(" ")
        );
    }
    body.push_str("</table>");
    page("Campaigns", &body)
}

/// The bench runs, each with its table and plots.
pub fn bench_page(bs: &[BenchRun]) -> String {
    let mut body = String::new();
    for b in bs {
        let _ = write!(
            body,
            "<section class=\"bench\"><h2>{}</h2><pre>{}</pre>",
            esc(&b.time),
            esc(&b.table)
        );
        for p in &b.plots {
            let _ = write!(
                body,
                "<p><img src=\"/files/{}\" alt=\"{}\"></p>",
                url_path(p),
                esc(p)
            );
        }
        let _ = write!(
            body,
            "<p>{} {}</p></section>",
            file_link(&format!("{}/bench.json", b.path)),
            file_link(&format!("{}/bench.md", b.path))
        );
    }
    if bs.is_empty() {
        body.push_str("<p>No bench runs in this store.</p>");
    }
    page("Bench runs", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(test: &str, time: &str, verdict: &str, tput: f64) -> TestRun {
        TestRun {
            path: format!("{test}/{time}"),
            test: test.into(),
            time: time.into(),
            target: "bundled".into(),
            variant: "multi/log".into(),
            workload: "register".into(),
            nemesis: "partition".into(),
            verdict: verdict.into(),
            ok_per_s: Some(tput),
            p99_ms: Some(3.0),
            files: vec![format!("{test}/{time}/report.html")],
            logs: vec![],
        }
    }

    #[test]
    fn the_list_filters_sorts_and_escapes() {
        let runs = vec![
            run("a", "1", "valid", 10.0),
            run("b<script>", "2", "anomaly", 30.0),
            run("c", "3", "valid", 20.0),
        ];
        let all = ListView {
            verdict: None,
            sort: "throughput".into(),
            asc: false,
        };
        let html = runs_page(&runs, &all);
        assert!(!html.contains("<script>") && html.contains("b&lt;script&gt;"));
        let order: Vec<usize> = ["b&lt;", "<td>c</td>", "<td>a</td>"]
            .iter()
            .map(|s| html.find(s).expect(s))
            .collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "by throughput, highest first"
        );
        let valid = ListView {
            verdict: Some("valid".into()),
            ..all
        };
        let html = runs_page(&runs, &valid);
        assert!(html.contains("2 of 3 runs") && !html.contains("b&lt;script"));
        assert!(html.contains("href=\"/files/a/1/report.html\""));
    }
}
