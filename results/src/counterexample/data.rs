//! The witnesses as JSON for the page's script: what the stepper shows at
//! each step, embedded in a `<script type="application/json">` tag.

use checker::history::process_label;
use checker::report::text;
use checker::verdict::Witness;
use serde::Serialize;

/// Everything the script reads, one entry per witness section.
#[derive(Serialize)]
pub(super) struct PageData<'a> {
    witnesses: Vec<WitnessData<'a>>,
}

impl<'a> PageData<'a> {
    /// The data of every witness, in page order.
    pub(super) fn new(witnesses: &'a [Witness]) -> PageData<'a> {
        PageData {
            witnesses: witnesses.iter().map(witness_data).collect(),
        }
    }

    /// Serialized for a `<script>` tag. Every `<`, `>` and `&` is written
    /// as a `\u003c`-style escape (they only occur inside JSON strings,
    /// where that is valid), so no `</script>`, `<!--` or `<script` from the
    /// data can appear raw; this covers escaping `</` as `<\/` and more.
    pub(super) fn script_json(&self) -> String {
        // Serializing plain structs of strings and numbers cannot fail; if
        // it ever did, a page without data still shows everything but the
        // stepper's panel.
        let json = serde_json::to_string(self).unwrap_or_else(|_| "{\"witnesses\":[]}".into());
        let mut out = String::with_capacity(json.len());
        for c in json.chars() {
            match c {
                '<' => out.push_str("\\u003c"),
                '>' => out.push_str("\\u003e"),
                '&' => out.push_str("\\u0026"),
                _ => out.push(c),
            }
        }
        out
    }
}

#[derive(Serialize)]
struct WitnessData<'a> {
    part: String,
    model: &'a str,
    initial_state: &'a str,
    final_state: &'a str,
    steps: Vec<StepData<'a>>,
    blocked: Vec<BlockedData<'a>>,
    window: (u64, u64),
}

#[derive(Serialize)]
struct StepData<'a> {
    op: usize,
    process: Option<u64>,
    /// The process in words ([`process_label`]), as the tables show it.
    who: Option<String>,
    text: &'a str,
    state_after: &'a str,
}

#[derive(Serialize)]
struct BlockedData<'a> {
    op: usize,
    process: Option<u64>,
    /// The process in words ([`process_label`]), as the tables show it.
    who: Option<String>,
    line: Option<usize>,
    text: &'a str,
    reason: &'a str,
}

fn witness_data(w: &Witness) -> WitnessData<'_> {
    let ops = text::op_index(w);
    WitnessData {
        part: text::part_name(w),
        model: &w.model,
        initial_state: &w.initial_state,
        final_state: &w.final_state,
        steps: w
            .longest
            .iter()
            .map(|s| {
                let op = ops.get(&s.op);
                StepData {
                    op: s.op,
                    process: op.map(|o| o.process),
                    who: op.map(|o| process_label(o.process)),
                    text: op.map(|o| text::op_words(o)).unwrap_or(""),
                    state_after: &s.state_after,
                }
            })
            .collect(),
        blocked: w
            .blocked
            .iter()
            .map(|b| {
                let op = ops.get(&b.op);
                BlockedData {
                    op: b.op,
                    process: op.map(|o| o.process),
                    who: op.map(|o| process_label(o.process)),
                    line: op.map(|o| o.line),
                    text: op.map(|o| text::op_words(o)).unwrap_or(""),
                    reason: &b.reason,
                }
            })
            .collect(),
        window: w.window,
    }
}
