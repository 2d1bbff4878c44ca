//! Witnesses for the page's tests, beside the checker's own
//! (`checker::fixtures`: `op`, `small`, `long`).

pub(crate) use checker::fixtures::{long, op, small};
use checker::history::FINAL_READ_PROCESS_BASE;
use checker::value::Value;
use checker::verdict::{Blocked, Step, Witness};

/// The `small` witness with times on every op: record `r` at
/// `1 s + r × 2.5 ms`.
pub(crate) fn timed() -> Witness {
    let mut w = small();
    for o in &mut w.ops {
        o.call_time = Some(1_000_000_000 + o.call as i64 * 2_500_000);
        o.ret_time = o.ret.map(|r| 1_000_000_000 + r as i64 * 2_500_000);
    }
    w
}

/// Where a run's stale read shows: six clients write in turn every 100 ms
/// for 30 s (one op at a time, so the writes linearize in order), client 3
/// reads a stale value at 20 s, and after healing four final-read processes
/// (numbered from [`FINAL_READ_PROCESS_BASE`] + 6) read at 31 s. Times are
/// nanoseconds since the epoch, as a real run's are.
pub(crate) fn late_failure() -> Witness {
    const MS: i64 = 1_000_000;
    let epoch = 1_780_000_000_000 * MS;
    // (process, words, call time, completion time)
    let mut plan: Vec<(u64, String, i64, i64)> = Vec::new();
    for k in 0..300i64 {
        let p = (k % 6) as u64;
        let call = k * 100 * MS + p as i64 * 7 * MS;
        plan.push((p, format!("write {k}"), call, call + 40 * MS));
    }
    let stale = 20_010 * MS;
    plan.push((3, "read -> 5".into(), stale, stale + 30 * MS));
    for i in 0..4u64 {
        let call = 31_000 * MS + i as i64 * 5 * MS;
        plan.push((
            FINAL_READ_PROCESS_BASE + 6 + i,
            "read -> 299".into(),
            call,
            call + 20 * MS,
        ));
    }
    plan.sort_by_key(|p| p.2);

    // Record positions in time order.
    let mut marks: Vec<(i64, usize, bool)> = Vec::new();
    for (i, p) in plan.iter().enumerate() {
        marks.push((p.2, i, true));
        marks.push((p.3, i, false));
    }
    marks.sort();
    let mut call_at = vec![0u64; plan.len()];
    let mut ret_at = vec![0u64; plan.len()];
    for (pos, (_, i, is_call)) in marks.iter().enumerate() {
        if *is_call {
            call_at[*i] = pos as u64;
        } else {
            ret_at[*i] = pos as u64;
        }
    }

    let mut ops = Vec::new();
    let mut longest = Vec::new();
    let mut blocked = Vec::new();
    let mut window = (0, 0);
    let mut state = "0".to_string();
    for (i, (p, words, call, ret)) in plan.iter().enumerate() {
        let mut o = op(i, *p, words, call_at[i], Some(ret_at[i]));
        o.call_time = Some(epoch + call);
        o.ret_time = Some(epoch + ret);
        o.line = call_at[i] as usize + 1;
        if words == "read -> 5" {
            blocked.push(Blocked {
                op: i,
                reason: format!("read returned 5, but the register held {state}"),
            });
            window = (call_at[i], ret_at[i]);
        } else if blocked.is_empty() {
            if let Some(v) = words.strip_prefix("write ") {
                state = v.to_string();
            }
            longest.push(Step {
                op: i,
                state_after: state.clone(),
            });
        }
        ops.push(o);
    }
    Witness {
        key: Some(Value::from("r")),
        model: "register".into(),
        ops,
        initial_state: "0".into(),
        final_state: state,
        longest,
        blocked,
        window,
    }
}

/// A busier register history with times: `procs` processes, each writing
/// or reading in turn, some never hearing back, and the last closed read
/// blocked with a hostile value.
pub(crate) fn sample(procs: u64, rounds: u64) -> Witness {
    let mut ops = Vec::new();
    let mut longest = Vec::new();
    let mut pos = 0u64;
    let mut id = 0usize;
    let mut reg = 0i64;
    for r in 0..rounds {
        for p in 0..procs {
            let call = pos;
            let open = (p + r) % 7 == 3 && r + 1 == rounds;
            let ret = if open { None } else { Some(pos + procs) };
            pos += 1;
            let write = (p + r) % 3 == 0;
            let text = if write {
                format!("write {}", id)
            } else {
                format!("read -> {reg}")
            };
            let mut o = op(id, p, &text, call, ret);
            o.call_time = Some(5_000_000_000 + call as i64 * 1_300_000 + (p as i64 * 170_000));
            o.ret_time = ret.map(|r| 5_000_000_000 + r as i64 * 1_300_000 + 400_000);
            o.line = call as usize * 2 + 1;
            if write {
                reg = id as i64;
            }
            longest.push(Step {
                op: id,
                state_after: reg.to_string(),
            });
            ops.push(o);
            id += 1;
        }
        pos += procs;
    }
    let bad = ops
        .iter()
        .rposition(|o| o.text.starts_with("read") && o.ret.is_some())
        .expect("a closed read");
    ops[bad].text = "read -> </script><script>alert(1)</script>".into();
    let bad_id = ops[bad].id;
    longest.retain(|s| s.op < bad_id);
    let window = (ops[bad].call, ops[bad].ret.unwrap_or(ops[bad].call));
    Witness {
        key: Some(Value::from("x")),
        model: "register".into(),
        initial_state: "0".into(),
        final_state: longest.last().map_or("0".into(), |s| s.state_after.clone()),
        longest,
        blocked: vec![Blocked {
            op: bad_id,
            reason: "read returned \"</script>\", but the register held 7".into(),
        }],
        ops,
        window,
    }
}
