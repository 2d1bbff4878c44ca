//! One witness's section of the page: its heading, the timeline, the
//! stepper through the longest linearization, and the tables.

use super::timeline;
use crate::html::escape;
use checker::history::process_label;
use checker::report::text;
use checker::verdict::{OpView, Witness};
use std::collections::HashMap;
use std::fmt::Write as _;

/// Writes the section for witness number `wi` (its `id` is `w<wi>`).
pub(super) fn section(out: &mut String, wi: usize, w: &Witness) {
    let ops = text::op_index(w);
    let n = w.longest.len();
    let _ = writeln!(
        out,
        "<section class=\"witness at-end\" id=\"w{wi}\" data-w=\"{wi}\">"
    );
    let _ = writeln!(
        out,
        "<h2>Not linearizable: {} <span class=\"model\">model {}</span></h2>",
        escape(&text::part_name(w)),
        escape(&w.model)
    );
    let _ = writeln!(
        out,
        "<p class=\"lead\">{n} of its {} operations form the longest linearizable prefix; \
         after it the model is in state <code>{}</code> and {}. \
         Failing window: records {} to {}.</p>",
        w.ops.len(),
        escape(&w.final_state),
        match w.blocked.len() {
            0 => "no operation is listed as coming next".to_string(),
            1 => "the one operation that could come next cannot".to_string(),
            k => format!("none of the {k} operations that could come next can"),
        },
        w.window.0,
        w.window.1
    );

    timeline::timeline(out, wi, w);

    stepper(out, w, &ops);
    blocked_table(out, w, &ops);
    order_table(out, w, &ops);

    let _ = writeln!(
        out,
        "<details><summary>Plain-text explanation</summary><pre>{}</pre></details>",
        escape(&text::witness(w))
    );
    out.push_str("</section>\n");
}

/// `process 3` or `final 14` for the op's process, empty for an unknown op.
fn who(op: Option<&&OpView>) -> String {
    op.map(|o| process_label(o.process)).unwrap_or_default()
}

/// `process 3: write 1` (or `final 14: read -> 2`), in the tables' words.
fn described(op: &OpView) -> String {
    format!("{}: {}", process_label(op.process), text::op_words(op))
}

/// The stepper's controls and its panel, as they are before the script
/// runs: at the last step.
fn stepper(out: &mut String, w: &Witness, ops: &HashMap<usize, &OpView>) {
    let n = w.longest.len();
    out.push_str("<div class=\"stepper\">\n");
    out.push_str("<button type=\"button\" class=\"first\" title=\"first (Home)\">first</button>\n");
    out.push_str("<button type=\"button\" class=\"prev\" title=\"previous (←)\">◀ prev</button>\n");
    let _ = writeln!(
        out,
        "<input type=\"range\" class=\"slider\" min=\"0\" max=\"{n}\" value=\"{n}\" step=\"1\" \
         aria-label=\"step through the longest linearization\">"
    );
    out.push_str("<button type=\"button\" class=\"next\" title=\"next (→)\">next ▶</button>\n");
    out.push_str("<button type=\"button\" class=\"last\" title=\"last (End)\">last</button>\n");
    let _ = writeln!(out, "<span class=\"pos\">step {n} of {n}</span>");
    out.push_str("</div>\n");
    out.push_str("<div class=\"panel\" aria-live=\"polite\">\n");
    static_panel(out, w, ops);
    out.push_str("</div>\n");
}

/// The panel as it is before the JS runs: the last step.
fn static_panel(out: &mut String, w: &Witness, ops: &HashMap<usize, &OpView>) {
    let n = w.longest.len();
    match w.longest.last() {
        None => {
            out.push_str("<div class=\"panel-head\">Start: nothing linearized yet</div>\n");
            let _ = writeln!(
                out,
                "<div>State: <code>{}</code></div>",
                escape(&w.initial_state)
            );
        }
        Some(s) => {
            let _ = writeln!(out, "<div class=\"panel-head\">Step {n} of {n}</div>");
            let _ = writeln!(
                out,
                "<div>#{} {}</div>",
                s.op,
                escape(&ops.get(&s.op).map(|o| described(o)).unwrap_or_default())
            );
            let _ = writeln!(
                out,
                "<div>State after: <code>{}</code></div>",
                escape(&s.state_after)
            );
        }
    }
    if !w.blocked.is_empty() {
        out.push_str(
            "<div class=\"panel-stuck\">None of these operations can come next:</div>\n<ul>\n",
        );
        for b in &w.blocked {
            let what = match ops.get(&b.op) {
                Some(o) => format!("{} (line {}): {}", described(o), o.line, b.reason),
                None => format!("#{}: {}", b.op, b.reason),
            };
            let _ = writeln!(out, "<li>{}</li>", escape(&what));
        }
        out.push_str("</ul>\n");
    }
}

/// The operations that cannot come next, with their reasons.
fn blocked_table(out: &mut String, w: &Witness, ops: &HashMap<usize, &OpView>) {
    out.push_str("<h3>Operations that cannot come next</h3>\n");
    if w.blocked.is_empty() {
        out.push_str("<p>The witness lists none.</p>\n");
        return;
    }
    out.push_str(
        "<table class=\"blocked\">\n<thead><tr><th>op</th><th>process</th><th>operation</th>\
         <th>line</th><th>why it cannot come next</th></tr></thead>\n<tbody>\n",
    );
    for b in &w.blocked {
        let op = ops.get(&b.op);
        let _ = writeln!(
            out,
            "<tr><td>#{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            b.op,
            escape(&who(op)),
            escape(op.map(|o| text::op_words(o)).unwrap_or("")),
            op.map(|o| o.line.to_string()).unwrap_or_default(),
            escape(&b.reason)
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

/// The whole longest linearization, one row per step (rows carry
/// `data-pos` for the script's stepper).
fn order_table(out: &mut String, w: &Witness, ops: &HashMap<usize, &OpView>) {
    out.push_str("<h3>Longest linearization</h3>\n");
    out.push_str(
        "<table class=\"order\">\n<thead><tr><th>step</th><th>op</th><th>process</th>\
         <th>operation</th><th>state after</th></tr></thead>\n<tbody>\n",
    );
    let _ = writeln!(
        out,
        "<tr data-pos=\"0\"><td>0</td><td></td><td></td><td><em>initial state</em></td>\
         <td><code>{}</code></td></tr>",
        escape(&w.initial_state)
    );
    for (i, s) in w.longest.iter().enumerate() {
        let op = ops.get(&s.op);
        let _ = writeln!(
            out,
            "<tr data-pos=\"{}\"><td>{}</td><td>#{}</td><td>{}</td><td><code>{}</code></td>\
             <td><code>{}</code></td></tr>",
            i + 1,
            i + 1,
            s.op,
            escape(&who(op)),
            escape(op.map(|o| text::op_words(o)).unwrap_or("")),
            escape(&s.state_after)
        );
    }
    out.push_str("</tbody>\n</table>\n");
}
