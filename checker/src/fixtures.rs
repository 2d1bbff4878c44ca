//! Witnesses for tests of what shows a verdict (the text explanation
//! here, the HTML page in `results`). Built only for tests and with the
//! `fixtures` feature, which `results` enables for its own tests.

use crate::history::Outcome;
use crate::value::Value;
use crate::verdict::{Blocked, OpView, Step, Witness};

/// An op for tests; `ret` of `None` makes it open-ended (`info`).
pub fn op(id: usize, process: u64, text: &str, call: u64, ret: Option<u64>) -> OpView {
    OpView {
        id,
        process,
        f: text.split_whitespace().next().unwrap_or("").to_string(),
        input: Value::Nil,
        output: None,
        outcome: if ret.is_some() {
            Outcome::Ok
        } else {
            Outcome::Info
        },
        call,
        ret,
        call_time: None,
        ret_time: None,
        line: call as usize + 1,
        text: text.to_string(),
    }
}

/// A register: p0 writes 1, p1 reads 2 (blocked), p2 writes 3 and never
/// hears back. Ids are deliberately not positions in `ops`.
pub fn small() -> Witness {
    Witness {
        key: Some(Value::from("x")),
        model: "register".into(),
        ops: vec![
            op(10, 0, "write 1", 0, Some(1)),
            op(11, 2, "write 3", 2, None),
            op(12, 1, "read -> 2", 3, Some(4)),
        ],
        initial_state: "0".into(),
        longest: vec![Step {
            op: 10,
            state_after: "1".into(),
        }],
        final_state: "1".into(),
        blocked: vec![Blocked {
            op: 12,
            reason: "read returned 2, but the register held 1".into(),
        }],
        window: (3, 4),
    }
}

/// `n` writes in a row by one process, then a read by another that
/// cannot come next.
pub fn long(n: usize) -> Witness {
    let mut ops = Vec::new();
    let mut longest = Vec::new();
    for i in 0..n {
        let id = 100 + i;
        ops.push(op(
            id,
            0,
            &format!("write {i}"),
            2 * i as u64,
            Some(2 * i as u64 + 1),
        ));
        longest.push(Step {
            op: id,
            state_after: i.to_string(),
        });
    }
    let last = 2 * n as u64;
    ops.push(op(7, 1, "read -> 99", last, Some(last + 1)));
    Witness {
        key: None,
        model: "register".into(),
        ops,
        initial_state: "nil".into(),
        longest,
        final_state: (n - 1).to_string(),
        blocked: vec![Blocked {
            op: 7,
            reason: format!("read returned 99, but the register held {}", n - 1),
        }],
        window: (last, last + 1),
    }
}
