//! CPU time: of the target's processes (from `/proc/PID/stat`) and of the
//! load generator itself (`getrusage`), so each figure says what it cost
//! and whether the load generator kept up.

/// User plus system CPU seconds of the processes (and their reaped
/// children), as far as `/proc` still knows them.
pub fn processes_cpu_s(pids: &[u32]) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = if ticks > 0 { ticks as f64 } else { 100.0 };
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|stat| stat_ticks(&stat))
        .sum::<u64>() as f64
        / ticks
}

/// utime + stime + cutime + cstime from a `/proc/PID/stat` line. The
/// command name (field 2) may hold spaces and parentheses: fields are
/// counted from the last `)`.
fn stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime field 14 ... cstime field 17.
    let at = |field: usize| fields.get(field - 3)?.parse::<u64>().ok();
    Some(at(14)? + at(15)? + at(16)? + at(17)?)
}

/// CPU seconds this process has used so far (all threads).
pub fn self_cpu_s() -> f64 {
    // SAFETY: getrusage writes into the struct we pass and nothing else.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ticks_past_a_name_with_spaces() {
        let stat = "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 2 1 20 0 1 0";
        assert_eq!(stat_ticks(stat), Some(13));
        assert_eq!(stat_ticks("garbage"), None);
    }

    #[test]
    fn this_process_uses_cpu_and_proc_sees_it() {
        let before = self_cpu_s();
        let mut x = 0u64;
        let spin_until = std::time::Instant::now() + std::time::Duration::from_millis(30);
        while std::time::Instant::now() < spin_until {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(x > 0);
        assert!(self_cpu_s() > before);
        assert!(processes_cpu_s(&[std::process::id()]) > 0.0);
    }
}
