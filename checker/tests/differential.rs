//! The fast search against stateright's LinearizabilityTester (a slow,
//! plainly correct oracle) on random small histories, plus hand-made
//! cases whose answers are known.

mod common;

use checker::generate::{generate, GenKind, GenOptions, SplitMix};
use checker::model::ModelConfig;
use checker::spec::stateright_linearizable;
use checker::{check_history, CheckOptions, History, ModelKind, RecordType, Value, Verdict};
use proptest::prelude::*;

fn verdict(history: &History, model: ModelKind) -> bool {
    let options = CheckOptions {
        model: Some(model),
        ..CheckOptions::default()
    };
    match check_history(history, &options)
        .expect("the model takes the history")
        .verdict
    {
        Verdict::Linearizable => true,
        Verdict::NotLinearizable { .. } => false,
        Verdict::Unknown { reason } => panic!("unknown: {reason}"),
    }
}

/// A random small history: a correct register run, then (sometimes) one
/// read's result replaced by a random small value, which may or may not
/// break linearizability.
fn random_history(kind: GenKind, seed: u64, ops: usize, processes: usize, mutate: bool) -> History {
    let mut records = generate(&GenOptions {
        kind,
        ops,
        processes,
        keys: 1,
        info_fraction: 0.2,
        seed,
    });
    if mutate {
        let mut rng = SplitMix::new(seed ^ 0xabcd);
        let reads: Vec<usize> = (0..records.len())
            .filter(|&i| records[i].kind == RecordType::Ok && records[i].f == "read")
            .collect();
        if !reads.is_empty() {
            let at = reads[rng.below(reads.len() as u64) as usize];
            let v = rng.below(6);
            records[at].value = Some(if v == 5 {
                Value::Nil
            } else {
                Value::Int(v as i64)
            });
        }
    }
    History::from_records(records, vec![]).expect("generated histories are well formed")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, .. ProptestConfig::default() })]

    #[test]
    fn register_agrees_with_stateright(seed in any::<u64>(), ops in 2usize..=12, processes in 2usize..=5, mutate in any::<bool>()) {
        let h = random_history(GenKind::Register, seed, ops, processes, mutate);
        let oracle = stateright_linearizable(&h, Value::Nil).expect("stateright takes register histories");
        prop_assert_eq!(verdict(&h, ModelKind::Register), oracle);
    }

    #[test]
    fn cas_register_agrees_with_stateright(seed in any::<u64>(), ops in 2usize..=12, processes in 2usize..=5, mutate in any::<bool>()) {
        let h = random_history(GenKind::CasRegister, seed, ops, processes, mutate);
        let oracle = stateright_linearizable(&h, Value::Nil).expect("stateright takes register histories");
        prop_assert_eq!(verdict(&h, ModelKind::CasRegister), oracle);
    }
}

/// Both verdicts must occur, or the property above proves little.
#[test]
fn random_histories_cover_both_verdicts() {
    let mut seen = [0usize; 2];
    for seed in 0..300 {
        let h = random_history(GenKind::CasRegister, seed, 10, 4, seed % 2 == 0);
        seen[verdict(&h, ModelKind::CasRegister) as usize] += 1;
    }
    assert!(
        seen[0] >= 30 && seen[1] >= 30,
        "linearizable/not split too uneven: {seen:?}"
    );
}

/// (process, type, f, value)
type Row = (u64, &'static str, &'static str, Value);

#[test]
fn hand_made_cases() {
    use Value::{Int, List, Nil};
    let cas = |a: i64, b: i64| List(vec![Int(a), Int(b)]);
    // (name, rows, model, linearizable)
    let cases: Vec<(&str, Vec<Row>, ModelKind, bool)> = vec![
        (
            "a read after a completed write sees it",
            vec![
                (0, "invoke", "write", Int(1)),
                (0, "ok", "write", Int(1)),
                (1, "invoke", "read", Nil),
                (1, "ok", "read", Nil),
            ],
            ModelKind::Register,
            false,
        ),
        (
            "a read concurrent with a write may see it",
            vec![
                (1, "invoke", "read", Nil),
                (0, "invoke", "write", Int(1)),
                (1, "ok", "read", Int(1)),
                (0, "ok", "write", Int(1)),
            ],
            ModelKind::Register,
            true,
        ),
        (
            "an info write may take effect long after",
            vec![
                (0, "invoke", "write", Int(1)),
                (0, "info", "write", Int(1)),
                (1, "invoke", "read", Nil),
                (1, "ok", "read", Nil),
                (1, "invoke", "read", Nil),
                (1, "ok", "read", Int(1)),
            ],
            ModelKind::Register,
            true,
        ),
        (
            "an info write, once seen, cannot un-happen",
            vec![
                (0, "invoke", "write", Int(1)),
                (0, "info", "write", Int(1)),
                (1, "invoke", "read", Nil),
                (1, "ok", "read", Int(1)),
                (1, "invoke", "read", Nil),
                (1, "ok", "read", Nil),
            ],
            ModelKind::Register,
            false,
        ),
        (
            "a failed write never happened",
            vec![
                (0, "invoke", "write", Int(1)),
                (0, "fail", "write", Int(1)),
                (1, "invoke", "read", Nil),
                (1, "ok", "read", Int(1)),
            ],
            ModelKind::Register,
            false,
        ),
        (
            "an invocation that never completed may have happened",
            vec![
                (0, "invoke", "write", Int(2)),
                (1, "invoke", "read", Nil),
                (1, "ok", "read", Int(2)),
            ],
            ModelKind::Register,
            true,
        ),
        (
            "two successful cas from the same value cannot both happen",
            vec![
                (0, "invoke", "write", Int(0)),
                (0, "ok", "write", Int(0)),
                (1, "invoke", "cas", cas(0, 1)),
                (2, "invoke", "cas", cas(0, 2)),
                (1, "ok", "cas", cas(0, 1)),
                (2, "ok", "cas", cas(0, 2)),
            ],
            ModelKind::CasRegister,
            false,
        ),
        (
            "chained cas in either order",
            vec![
                (0, "invoke", "write", Int(0)),
                (0, "ok", "write", Int(0)),
                (2, "invoke", "cas", cas(1, 2)),
                (1, "invoke", "cas", cas(0, 1)),
                (2, "ok", "cas", cas(1, 2)),
                (1, "ok", "cas", cas(0, 1)),
                (3, "invoke", "read", Nil),
                (3, "ok", "read", Int(2)),
            ],
            ModelKind::CasRegister,
            true,
        ),
        (
            "a stale read after two sequential writes",
            vec![
                (0, "invoke", "write", Int(1)),
                (0, "ok", "write", Int(1)),
                (0, "invoke", "write", Int(2)),
                (1, "invoke", "read", Nil),
                (0, "ok", "write", Int(2)),
                (1, "ok", "read", Int(1)),
                (1, "invoke", "read", Nil),
                (1, "ok", "read", Int(1)),
            ],
            ModelKind::Register,
            false,
        ),
    ];
    for (name, rows, model, want) in cases {
        let h = common::history(&rows);
        assert_eq!(verdict(&h, model), want, "{name}");
        if model == ModelKind::Register || model == ModelKind::CasRegister {
            assert_eq!(
                stateright_linearizable(&h, Value::Nil),
                Some(want),
                "stateright on: {name}"
            );
        }
    }
}

#[test]
fn init_and_nil_reads_unknown_change_the_answer() {
    use Value::{Int, Nil};
    let h = common::history(&[(0, "invoke", "read", Nil), (0, "ok", "read", Int(5))]);
    assert!(!verdict(&h, ModelKind::Register));
    let with_init = CheckOptions {
        model: Some(ModelKind::Register),
        config: ModelConfig {
            init: Some(Int(5)),
            nil_reads_unknown: false,
        },
        ..CheckOptions::default()
    };
    assert_eq!(
        check_history(&h, &with_init).unwrap().verdict,
        Verdict::Linearizable
    );

    let h = common::history(&[
        (0, "invoke", "write", Int(1)),
        (0, "ok", "write", Int(1)),
        (1, "invoke", "read", Nil),
        (1, "ok", "read", Nil),
    ]);
    assert!(!verdict(&h, ModelKind::Register));
    let lenient = CheckOptions {
        model: Some(ModelKind::Register),
        config: ModelConfig {
            init: None,
            nil_reads_unknown: true,
        },
        ..CheckOptions::default()
    };
    assert_eq!(
        check_history(&h, &lenient).unwrap().verdict,
        Verdict::Linearizable
    );
}
