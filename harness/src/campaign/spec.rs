//! The campaign file (TOML) and the matrix it names, expanded into runs in
//! a fixed order, so that a shard K of N is the same slice on every
//! machine.

use serde::Deserialize;
use std::fmt;

/// A campaign file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    /// Its name (the results go to `STORE/campaign-<name>/`).
    pub name: String,
    /// Each real-process test's `--time-limit`, in seconds.
    #[serde(default = "default_time_limit")]
    pub time_limit_s: f64,
    /// Runs at once.
    #[serde(default = "default_jobs")]
    pub jobs: usize,
    /// The whole campaign's budget, in seconds: runs that would start
    /// after it are listed as not run.
    #[serde(default)]
    pub budget_s: Option<f64>,
    /// Real-process test matrices.
    #[serde(default)]
    pub tests: Vec<TestMatrix>,
    /// Simulator entries.
    #[serde(default)]
    pub sims: Vec<SimMatrix>,
}

fn default_time_limit() -> f64 {
    30.0
}

fn default_jobs() -> usize {
    1
}

/// What a run must show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// A correct store: linearizable (`skeptic test` exit 0, every seed
    /// of `skeptic sim` passes).
    #[default]
    Valid,
    /// A planted or unsafe variant: the checker must catch it (exit 1).
    Caught,
}

/// Workloads × nemesis sets × targets × seeds of `skeptic test`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestMatrix {
    /// Workloads (`register`, `kv`, `set`).
    pub workloads: Vec<String>,
    /// Nemesis sets, each as `--nemesis` takes it (`partition,kill`, `none`).
    pub nemeses: Vec<String>,
    /// Targets: `multi/log`, `basic/quorum`... (the bundled store), `etcd`.
    pub targets: Vec<String>,
    /// Seeds: a list, or `"A..B"`.
    pub seeds: Seeds,
    /// What each run must show.
    #[serde(default)]
    pub expect: Expect,
    /// More flags for `skeptic test`.
    #[serde(default)]
    pub args: Vec<String>,
}

/// Variants × seed ranges of `skeptic sim`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimMatrix {
    /// Variants: `multi/log`, `basic/quorum`...
    pub targets: Vec<String>,
    /// The seed range of each run (`"0..500"`), or several runs of one seed.
    pub seeds: Seeds,
    /// A planted bug (`--plant`).
    #[serde(default)]
    pub plant: Option<String>,
    /// What each run must show.
    #[serde(default)]
    pub expect: Expect,
    /// More flags for `skeptic sim`.
    #[serde(default)]
    pub args: Vec<String>,
}

/// The most real-process seeds one entry may name (each is a run).
const SEEDS_PER_ENTRY_MAX: u64 = 1_000;

/// Seeds: a list, or a range written `"A..B"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Seeds {
    /// These seeds.
    List(Vec<u64>),
    /// `"A..B"`.
    Range(String),
}

impl Seeds {
    /// Every seed, one by one (a test runs one seed).
    fn each(&self) -> Result<Vec<u64>, String> {
        let mut v = Vec::new();
        for (a, b) in self.ranges()? {
            if b - a > SEEDS_PER_ENTRY_MAX {
                return Err(format!(
                    "{}..{b}: at most {SEEDS_PER_ENTRY_MAX} test seeds an entry",
                    a
                ));
            }
            v.extend(a..b);
        }
        Ok(v)
    }

    /// The range's bounds, or each listed seed as a range of one.
    fn ranges(&self) -> Result<Vec<(u64, u64)>, String> {
        match self {
            Seeds::List(v) if v.is_empty() => Err("an empty seed list".into()),
            Seeds::List(v) => Ok(v.iter().map(|s| (*s, s + 1)).collect()),
            Seeds::Range(r) => {
                let (a, b) = r
                    .split_once("..")
                    .ok_or_else(|| format!("seeds {r:?}: expected a list or \"A..B\""))?;
                let a: u64 = a.trim().parse().map_err(|e| format!("seeds {r:?}: {e}"))?;
                let b: u64 = b.trim().parse().map_err(|e| format!("seeds {r:?}: {e}"))?;
                if b <= a {
                    return Err(format!("seeds {r:?}: an empty range"));
                }
                Ok(vec![(a, b)])
            }
        }
    }
}

/// Which command a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `skeptic test`.
    Test,
    /// `skeptic sim`.
    Sim,
}

/// One run of the matrix.
#[derive(Clone, Debug, PartialEq, serde::Serialize, Deserialize)]
pub struct Run {
    /// Unique in the campaign, and a directory name.
    pub id: String,
    /// Which command.
    pub kind: Kind,
    /// Its flags after the subcommand (without `--store`).
    pub args: Vec<String>,
    /// What it must show.
    pub expect: Expect,
    /// Target, workload, nemesis, seeds: for the summary.
    pub label: String,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

/// `multi/log` → the bundled store's flags; `etcd` → `--target etcd`.
fn target_flags(target: &str) -> Result<Vec<String>, String> {
    if target == "etcd" {
        return Ok(vec!["--target".into(), "etcd".into()]);
    }
    let (consensus, reads) = variant(target)?;
    Ok([
        "--target",
        "bundled",
        "--consensus",
        consensus,
        "--reads",
        reads,
    ]
    .map(String::from)
    .to_vec())
}

fn variant(target: &str) -> Result<(&str, &str), String> {
    let (c, r) = target.split_once('/').ok_or_else(|| {
        format!("target {target:?}: expected CONSENSUS/READS (multi/log) or etcd")
    })?;
    if !["multi", "basic"].contains(&c) || !["log", "quorum", "lease", "local"].contains(&r) {
        return Err(format!(
            "target {target:?}: consensus is multi or basic, reads log, quorum, lease or local"
        ));
    }
    Ok((c, r))
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Adds a run, its id numbered by its place in the matrix.
fn push_run(runs: &mut Vec<Run>, kind: Kind, args: Vec<String>, expect: Expect, label: String) {
    runs.push(Run {
        id: format!("{:03}-{}", runs.len() + 1, slug(&label)),
        kind,
        args,
        expect,
        label,
    });
}

impl Campaign {
    /// Parses a campaign file's text (`what` names it in errors).
    pub fn parse(text: &str, what: &str) -> Result<Campaign, String> {
        let c: Campaign = toml::from_str(text).map_err(|e| format!("{what}: {e}"))?;
        if c.name.is_empty()
            || !c
                .name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            return Err(format!(
                "{what}: name {:?}: letters, digits, - and _ only",
                c.name
            ));
        }
        if !(c.time_limit_s.is_finite() && c.time_limit_s > 0.0) {
            return Err(format!("{what}: time_limit_s must be positive"));
        }
        if !(1..=16).contains(&c.jobs) {
            return Err(format!("{what}: jobs is 1 to 16"));
        }
        c.runs().map_err(|e| format!("{what}: {e}"))?;
        Ok(c)
    }

    /// Every run, in the file's order (tests, then sims; within a matrix:
    /// targets, workloads, nemeses, seeds).
    pub fn runs(&self) -> Result<Vec<Run>, String> {
        let mut runs = Vec::new();
        for m in &self.tests {
            for list in [&m.workloads, &m.nemeses, &m.targets] {
                if list.is_empty() {
                    return Err("a [[tests]] entry with an empty list".into());
                }
            }
            for target in &m.targets {
                let flags = target_flags(target)?;
                for workload in &m.workloads {
                    for nemesis in &m.nemeses {
                        for seed in m.seeds.each()? {
                            let mut args = flags.clone();
                            args.extend(
                                [
                                    "--workload",
                                    workload,
                                    "--nemesis",
                                    nemesis,
                                    "--seed",
                                    &seed.to_string(),
                                    "--time-limit",
                                    &self.time_limit_s.to_string(),
                                ]
                                .map(String::from),
                            );
                            args.extend(m.args.iter().cloned());
                            let label = format!("test {target} {workload} [{nemesis}] seed {seed}");
                            push_run(&mut runs, Kind::Test, args, m.expect, label);
                        }
                    }
                }
            }
        }
        for m in &self.sims {
            if m.targets.is_empty() {
                return Err("a [[sims]] entry with no targets".into());
            }
            for target in &m.targets {
                let (consensus, reads) = variant(target)?;
                for (a, b) in m.seeds.ranges()? {
                    let mut args: Vec<String> = [
                        "--consensus",
                        consensus,
                        "--reads",
                        reads,
                        "--seeds",
                        &format!("{a}..{b}"),
                    ]
                    .map(String::from)
                    .to_vec();
                    if let Some(p) = &m.plant {
                        args.extend(["--plant".to_string(), p.clone()]);
                    }
                    args.extend(m.args.iter().cloned());
                    let plant = m.plant.as_ref().map_or(String::new(), |p| format!(" +{p}"));
                    let label = format!("sim {target}{plant} seeds {a}..{b}");
                    push_run(&mut runs, Kind::Sim, args, m.expect, label);
                }
            }
        }
        if runs.is_empty() {
            return Err("no runs: add [[tests]] or [[sims]]".into());
        }
        Ok(runs)
    }
}

/// The K-th (1-based) of N disjoint slices of `runs`: every N-th run,
/// starting at the K-th, so that slices take alike from every matrix.
pub fn shard(runs: Vec<Run>, k: usize, n: usize) -> Vec<Run> {
    runs.into_iter()
        .enumerate()
        .filter(|(i, _)| i % n == k - 1)
        .map(|(_, r)| r)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
name = "t"
time_limit_s = 5
[[tests]]
workloads = ["register", "kv"]
nemeses = ["partition,kill"]
targets = ["multi/log", "etcd"]
seeds = [1, 2]
[[tests]]
workloads = ["register"]
nemeses = ["partition"]
targets = ["multi/local"]
seeds = "7..9"
expect = "caught"
[[sims]]
targets = ["multi/log"]
plant = "ignore-promise"
seeds = "0..40"
expect = "caught"
"#;

    #[test]
    fn the_matrix_expands_in_a_fixed_order() {
        let c = Campaign::parse(FILE, "t.toml").expect("parses");
        let runs = c.runs().expect("runs");
        // 2 targets x 2 workloads x 1 nemesis x 2 seeds, + 1 x 1 x 1 x 2, + 1 sim.
        assert_eq!(runs.len(), 11);
        assert_eq!(
            runs[0].label,
            "test multi/log register [partition,kill] seed 1"
        );
        assert!(runs[0].args.windows(2).any(|w| w == ["--reads", "log"]));
        assert!(runs[0].args.windows(2).any(|w| w == ["--time-limit", "5"]));
        assert!(runs[4].args.windows(2).any(|w| w == ["--target", "etcd"]));
        assert_eq!(runs[8].expect, Expect::Caught);
        assert!(runs[8].args.windows(2).any(|w| w == ["--seed", "7"]));
        let sim = &runs[10];
        assert_eq!(sim.kind, Kind::Sim);
        assert!(sim
            .args
            .windows(2)
            .any(|w| w == ["--plant", "ignore-promise"]));
        assert!(sim.args.windows(2).any(|w| w == ["--seeds", "0..40"]));
        let ids: std::collections::BTreeSet<&str> = runs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), runs.len(), "ids are unique");
    }

    #[test]
    fn shards_are_disjoint_and_cover_everything() {
        let runs = Campaign::parse(FILE, "t.toml")
            .expect("parses")
            .runs()
            .expect("runs");
        let mut seen: Vec<String> = Vec::new();
        for k in 1..=3 {
            let part = shard(runs.clone(), k, 3);
            assert!(!part.is_empty());
            seen.extend(part.into_iter().map(|r| r.id));
        }
        seen.sort();
        let mut all: Vec<String> = runs.into_iter().map(|r| r.id).collect();
        all.sort();
        assert_eq!(seen, all);
    }

    #[test]
    fn bad_files_say_where_and_what() {
        let bad = [
            ("name = \"x\"\n", "no runs"),
            (
                "name = \"x y\"\n[[sims]]\ntargets=[\"multi/log\"]\nseeds=\"0..1\"\n",
                "letters",
            ),
            (
                "name = \"x\"\n[[sims]]\ntargets=[\"multi/fast\"]\nseeds=\"0..1\"\n",
                "reads log",
            ),
            (
                "name = \"x\"\n[[sims]]\ntargets=[\"multi/log\"]\nseeds=\"5..1\"\n",
                "empty range",
            ),
            ("name = \"x\"\nbogus = 1\n", "bogus"),
            ("name = ", "c.toml"),
        ];
        for (text, want) in bad {
            let e = Campaign::parse(text, "c.toml").expect_err(text);
            assert!(e.contains(want) && e.starts_with("c.toml"), "{text:?}: {e}");
        }
    }
}
