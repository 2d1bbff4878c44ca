//! Plain-text explanations of a witness, for a terminal.
//!
//! The shape follows the explanations of Knossos and Porcupine, in words:
//!
//! ```text
//! Not linearizable: key "x" (model register).
//! 3 of its 5 operations form the longest linearizable prefix, starting from state 0.
//! The prefix ends with:
//!   #0 process 0: write 1 -> state 1
//!   ...
//! State at the end: 1
//! None of these operations can come next:
//!   process 1: read -> 2  (line 4): read returned 2, but the register held 1
//! Failing window: records 2 to 5.
//! ```

use crate::history::{is_final_read, process_label, FINAL_READ_PROCESS_BASE};
use crate::verdict::{OpView, Witness};
use std::collections::HashMap;
use std::fmt::Write as _;

/// How many steps at the end of the longest prefix are listed.
pub const SHOWN_STEPS: usize = 8;

/// Plain words for a terminal: one witness.
///
/// Names the failing part (`key "x"`, or `the whole history` when the
/// witness has no key) and the model; says how many of the part's operations
/// are in the longest linearizable prefix; lists the last
/// [`SHOWN_STEPS`] steps of that prefix as
/// `  #<op id> process P: <op text> -> state <state after>` (saying how many
/// earlier steps were left out); gives the state at the end; lists every
/// blocked operation with its source line and the reason it cannot come
/// next; and ends with the failing window in record positions. Processes
/// are named by [`process_label`]; when a final read is among those named
/// (`final N`), a last line says what that is. The result ends with a
/// newline.
pub fn witness(w: &Witness) -> String {
    let ops = op_index(w);
    let mut out = String::new();
    let total = w.ops.len();
    // Whether a `final N` label was printed, which then needs saying once.
    let mut named_final = false;
    let n = w.longest.len();

    let _ = writeln!(
        out,
        "Not linearizable: {} (model {}).",
        part_name(w),
        w.model
    );
    if n == 0 {
        let _ = writeln!(
            out,
            "None of its {} can be linearized first; the model starts in state {}.",
            count(total, "operation"),
            w.initial_state
        );
    } else {
        let _ = writeln!(
            out,
            "{n} of its {} form the longest linearizable prefix, starting from state {}.",
            count(total, "operation"),
            w.initial_state
        );
        let skip = n.saturating_sub(SHOWN_STEPS);
        if skip > 0 {
            let _ = writeln!(
                out,
                "The prefix ends with ({} elided):",
                count(skip, "earlier step")
            );
        } else {
            let _ = writeln!(out, "The prefix is:");
        }
        for step in &w.longest[skip..] {
            named_final |= ops.get(&step.op).is_some_and(|o| is_final_read(o.process));
            let _ = writeln!(
                out,
                "  #{} {} -> state {}",
                step.op,
                described(&ops, step.op),
                step.state_after
            );
        }
    }
    let _ = writeln!(out, "State at the end: {}", w.final_state);

    if w.blocked.is_empty() {
        let _ = writeln!(
            out,
            "No operation is left to come next (the witness lists none)."
        );
    } else {
        let _ = writeln!(out, "None of these operations can come next:");
        for b in &w.blocked {
            match ops.get(&b.op) {
                Some(op) => {
                    named_final |= is_final_read(op.process);
                    let _ = writeln!(
                        out,
                        "  {}: {}  (line {}): {}",
                        process_label(op.process),
                        op_words(op),
                        op.line,
                        b.reason
                    );
                }
                None => {
                    let _ = writeln!(out, "  operation #{}: {}", b.op, b.reason);
                }
            }
        }
    }
    let (from, to) = w.window;
    let _ = writeln!(
        out,
        "Failing window: records {from} to {to} (from the earliest invocation among \
         these operations to the completion that forces them)."
    );
    if named_final {
        let _ = writeln!(
            out,
            "(final N: a read the harness made after healing the cluster, \
             process {FINAL_READ_PROCESS_BASE} + N.)"
        );
    }
    out
}

/// The failing part in words: `key "x"` or `the whole history`.
pub fn part_name(w: &Witness) -> String {
    match &w.key {
        Some(k) => format!("key {k}"),
        None => "the whole history".to_string(),
    }
}

/// The operations of a witness by id (ids are not positions in `w.ops`).
pub fn op_index(w: &Witness) -> HashMap<usize, &OpView> {
    w.ops.iter().map(|op| (op.id, op)).collect()
}

/// The operation's text without a leading `process N: `, which callers add
/// themselves (in the words of [`process_label`]).
pub fn op_words(op: &OpView) -> &str {
    let prefix = format!("process {}: ", op.process);
    op.text.strip_prefix(prefix.as_str()).unwrap_or(&op.text)
}

/// `process P: <text>` (or `final N: <text>`) for an op id, or
/// `operation #id` if it is unknown.
fn described(ops: &HashMap<usize, &OpView>, id: usize) -> String {
    match ops.get(&id) {
        Some(op) => format!("{}: {}", process_label(op.process), op_words(op)),
        None => format!("operation #{id}"),
    }
}

/// `1 operation`, `2 operations`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fixtures::{long, small};

    #[test]
    fn small_witness_in_words() {
        let t = witness(&small());
        assert!(t.contains("key \"x\""), "{t}");
        assert!(t.contains("model register"), "{t}");
        assert!(t.contains("1 of its 3 operations"), "{t}");
        assert!(t.contains("  #10 process 0: write 1 -> state 1\n"), "{t}");
        assert!(t.contains("State at the end: 1\n"), "{t}");
        assert!(t.contains("None of these operations can come next:"), "{t}");
        assert!(
            t.contains(
                "  process 1: read -> 2  (line 4): read returned 2, but the register held 1"
            ),
            "{t}"
        );
        assert!(t.contains("records 3 to 4"), "{t}");
        assert!(!t.contains("elided"), "{t}");
    }

    #[test]
    fn long_prefix_is_elided() {
        let t = witness(&long(11));
        assert!(t.contains("the whole history"), "{t}");
        assert!(t.contains("11 of its 12 operations"), "{t}");
        assert!(t.contains("(3 earlier steps elided)"), "{t}");
        // Exactly the last eight steps are listed.
        assert_eq!(t.matches(" -> state ").count(), SHOWN_STEPS, "{t}");
        assert!(!t.contains("#102 "), "{t}");
        assert!(t.contains("  #103 process 0: write 3 -> state 3\n"), "{t}");
        assert!(
            t.contains("  #110 process 0: write 10 -> state 10\n"),
            "{t}"
        );
        assert!(t.contains("State at the end: 10"), "{t}");
        assert!(
            t.contains("read returned 99, but the register held 10"),
            "{t}"
        );
    }

    #[test]
    fn one_elided_step_is_singular_and_prefix_is_stripped() {
        let mut w = long(9);
        for op in &mut w.ops {
            op.text = format!("process {}: {}", op.process, op.text);
        }
        let t = witness(&w);
        assert!(t.contains("(1 earlier step elided)"), "{t}");
        assert!(t.contains("  #108 process 0: write 8 -> state 8\n"), "{t}");
        assert!(!t.contains("process 0: process 0"), "{t}");
    }

    #[test]
    fn empty_prefix_says_so() {
        let mut w = small();
        w.longest.clear();
        w.final_state = "0".into();
        let t = witness(&w);
        assert!(
            t.contains("None of its 3 operations can be linearized first"),
            "{t}"
        );
        assert!(t.contains("State at the end: 0"), "{t}");
    }

    #[test]
    fn final_reads_are_named_short_and_explained_once() {
        let mut w = small();
        let t = witness(&w);
        assert!(!t.contains("final"), "no final read, no note: {t}");
        // The blocked read and the linearized write become final reads.
        w.ops[2].process = FINAL_READ_PROCESS_BASE + 14;
        w.ops[0].process = FINAL_READ_PROCESS_BASE + 3;
        let t = witness(&w);
        assert!(t.contains("  #10 final 3: write 1 -> state 1\n"), "{t}");
        assert!(
            t.contains("  final 14: read -> 2  (line 4): read returned 2"),
            "{t}"
        );
        assert!(!t.contains("1000000014"), "{t}");
        assert_eq!(t.matches("(final N: ").count(), 1, "{t}");
        assert!(t.ends_with("process 1000000000 + N.)\n"), "{t}");
    }
}
