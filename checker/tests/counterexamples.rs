//! On known-bad histories, the witness must hold up under an independent
//! re-check: its prefix is a valid linearization of what it contains, and
//! none of the reported next operations can follow it.

mod common;

use checker::check::partition;
use checker::model::append_kv::AppendKv;
use checker::model::register::Register;
use checker::model::{Model, ModelConfig};
use checker::{
    check_history, format, CheckOptions, History, ModelKind, Operation, Outcome, Verdict, Witness,
};
use std::collections::{HashMap, HashSet};

fn recheck<M: Model>(mut model: M, history: &History, w: &Witness) {
    let part: Vec<&Operation> = partition(&history.ops)
        .into_iter()
        .find(|(k, _)| k.cloned() == w.key)
        .expect("the witness names a part of the history")
        .1;
    let by_id: HashMap<usize, &Operation> = part.iter().map(|o| (o.id, *o)).collect();
    let compiled: HashMap<usize, M::Op> = part
        .iter()
        .map(|o| (o.id, model.compile(o).unwrap()))
        .collect();

    // 1. The prefix replays through the model, and its states are the reported ones.
    let mut state = model.init();
    assert_eq!(model.describe(state), w.initial_state);
    for step in &w.longest {
        state = model
            .step(state, &compiled[&step.op])
            .unwrap_or_else(|| panic!("prefix op {} does not follow", step.op));
        assert_eq!(model.describe(state), step.state_after);
    }
    assert_eq!(model.describe(state), w.final_state);

    // 2. Real time: nothing in the prefix comes before an operation that
    //    completed before it was invoked; and every definite op that
    //    completed before some prefix op began is in the prefix, earlier.
    let position: HashMap<usize, usize> = w
        .longest
        .iter()
        .enumerate()
        .map(|(i, s)| (s.op, i))
        .collect();
    for (i, step) in w.longest.iter().enumerate() {
        let op = by_id[&step.op];
        for other in &part {
            if other.outcome == Outcome::Ok && other.ret.is_some_and(|r| r < op.call) {
                let at = position.get(&other.id).copied();
                assert!(
                    at.is_some_and(|j| j < i),
                    "op {} precedes op {} in real time but not in the prefix",
                    other.id,
                    op.id
                );
            }
        }
    }

    // 3. None of the blocked operations can follow the prefix.
    assert!(
        !w.blocked.is_empty(),
        "a violation names what cannot come next"
    );
    let in_prefix: HashSet<usize> = position.keys().copied().collect();
    //    An operation that can take one more step must be explained by
    //    the operation that closes the window: no candidate can reset the
    //    state, and after the step that operation is blocked for good.
    let forcing = part
        .iter()
        .find(|o| o.ret == Some(w.window.1))
        .expect("the window closes at a completion");
    let any_reset = w.blocked.iter().any(|b| model.is_reset(&compiled[&b.op]));
    for b in &w.blocked {
        assert!(!in_prefix.contains(&b.op));
        assert!(!b.reason.is_empty());
        if let Some(next) = model.step(state, &compiled[&b.op]) {
            assert!(
                !any_reset && model.blocked_forever(next, &compiled[&forcing.id]),
                "blocked op {} can follow after all (key {:?}): {}",
                b.op,
                w.key,
                b.reason
            );
            assert!(
                b.reason.contains(&format!("line {}", forcing.line)),
                "{}",
                b.reason
            );
        }
    }
    // 4. Every definite operation left either is blocked or cannot yet be
    //    reached: each blocked op was invoked before the window closes.
    for b in &w.blocked {
        assert!(by_id[&b.op].call < w.window.1);
    }
}

#[test]
fn witnesses_of_bad_corpus_histories_hold_up() {
    let Some(dir) = common::corpus() else { return };
    let mut checked = 0;
    for (file, want) in common::expected(&dir) {
        if want != Some(false) {
            continue;
        }
        let history = format::load(&dir.join(&file), None).unwrap();
        let kv = file.starts_with("kv/");
        let options = CheckOptions {
            model: Some(if kv {
                ModelKind::AppendKv
            } else {
                ModelKind::CasRegister
            }),
            // Every key of the small files; the first failing one of c50
            // (refuting some of its keys takes long).
            full_report: !file.contains("c50"),
            ..CheckOptions::default()
        };
        let Verdict::NotLinearizable { witnesses } =
            check_history(&history, &options).unwrap().verdict
        else {
            panic!("{file} should not be linearizable");
        };
        for w in &witnesses {
            if kv {
                recheck(AppendKv::new(ModelConfig::default()), &history, w);
            } else {
                recheck(Register::cas_register(ModelConfig::default()), &history, w);
            }
        }
        checked += 1;
    }
    assert_eq!(
        checked, 82,
        "79 etcd and 3 kv histories are not linearizable"
    );
}

#[test]
fn a_stale_read_is_explained_in_words() {
    use checker::Value::{Int, Nil};
    let h = common::history(&[
        (0, "invoke", "write", Int(5)),
        (0, "ok", "write", Int(5)),
        (1, "invoke", "read", Nil),
        (1, "ok", "read", Int(3)),
    ]);
    let report = check_history(
        &h,
        &CheckOptions {
            model: Some(ModelKind::Register),
            ..CheckOptions::default()
        },
    )
    .unwrap();
    let Verdict::NotLinearizable { witnesses } = report.verdict else {
        panic!("not linearizable")
    };
    let w = &witnesses[0];
    assert_eq!(w.longest.len(), 1);
    assert_eq!(w.final_state, "5");
    assert_eq!(w.blocked.len(), 1);
    assert_eq!(
        w.blocked[0].reason,
        "read returned 3, but the register held 5"
    );
    let text = checker::report::text::witness(w);
    assert!(
        text.contains("read returned 3, but the register held 5"),
        "{text}"
    );
}
