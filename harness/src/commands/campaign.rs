//! `skeptic campaign FILE` and `skeptic campaign merge DIR...`.

use crate::cli::{CampaignArgs, CampaignCmd, MergeArgs};
use anyhow::Context;
use harness::campaign::report::{self, CampaignJson};
use harness::campaign::runner::{self, RunResult};
use harness::campaign::spec::{self, Campaign};
use results::store::RunDir;
use std::path::{Path, PathBuf};
use std::time::Duration;

const EXIT_USAGE: u8 = 3;

/// Runs the command.
pub fn run(args: &CampaignArgs) -> anyhow::Result<u8> {
    if let Some(CampaignCmd::Merge(m)) = &args.merge {
        return merge(m);
    }
    let Some(file) = &args.file else {
        eprintln!("skeptic campaign: name a campaign file (see campaigns/), or `merge DIR...`");
        return Ok(EXIT_USAGE);
    };
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("skeptic campaign: cannot read {}: {e}", file.display());
            return Ok(EXIT_USAGE);
        }
    };
    let campaign = match Campaign::parse(&text, &file.display().to_string()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("skeptic campaign: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    let all = campaign.runs().map_err(anyhow::Error::msg)?;
    let total = all.len();
    let (k, n) = args.shard.unwrap_or((1, 1));
    let runs = spec::shard(all, k, n);
    if args.list {
        for r in &runs {
            println!("{}  {}", r.id, r.label);
        }
        println!("{} of {total} runs (shard {k}/{n})", runs.len());
        return Ok(0);
    }
    let dir = RunDir::create(&args.store, &format!("campaign-{}", campaign.name))
        .context("cannot create the campaign directory")?;
    let program = std::env::current_exe().context("cannot find the skeptic binary")?;
    let jobs = args.jobs.unwrap_or(campaign.jobs).clamp(1, 16);
    println!(
        "skeptic campaign {}: {} of {total} runs (shard {k}/{n}), {jobs} at once, tests of {} s; results in {}",
        campaign.name,
        runs.len(),
        campaign.time_limit_s,
        dir.path.display()
    );
    let runs_dir = runner::runs_dir(&dir.path);
    std::fs::create_dir_all(&runs_dir).context("cannot create the runs directory")?;
    let say = |r: &RunResult| {
        println!(
            "{:<10} {} ({:.1} s): {}",
            r.outcome.word(),
            r.run.label,
            r.seconds,
            r.message
        )
    };
    let results = runner::run_all(
        &program,
        &runs,
        &runs_dir,
        campaign.time_limit_s,
        jobs,
        campaign.budget_s.map(Duration::from_secs_f64),
        &say,
    );
    let j = CampaignJson {
        name: campaign.name.clone(),
        shard: format!("{k}/{n}"),
        runs: results,
    };
    write_outputs(&dir, &j)?;
    Ok(exit_code(&j, args.strict))
}

fn exit_code(j: &CampaignJson, strict: bool) -> u8 {
    if j.fails(false) {
        1
    } else if j.fails(strict) {
        2
    } else {
        0
    }
}

fn write_outputs(dir: &RunDir, j: &CampaignJson) -> anyhow::Result<()> {
    let summary = report::terminal(j);
    println!("\n{summary}");
    dir.write_json("campaign.json", &serde_json::to_value(j)?)?;
    dir.write_file("summary.txt", summary.as_bytes())?;
    dir.write_file("summary.md", report::markdown(j).as_bytes())?;
    dir.write_file("junit.xml", report::junit(j).as_bytes())?;
    println!(
        "Results: {} (campaign.json, summary.md, junit.xml)",
        dir.path.display()
    );
    Ok(())
}

/// The campaign.json files a merge argument names: the file itself, a
/// campaign directory, or a store's `campaign-*/latest`.
fn campaign_files(dir: &Path) -> Vec<PathBuf> {
    if dir.is_file() {
        return vec![dir.to_path_buf()];
    }
    let here = dir.join("campaign.json");
    if here.is_file() {
        return vec![here];
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("campaign-"))
        .map(|e| e.path().join("latest").join("campaign.json"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found
}

fn merge(args: &MergeArgs) -> anyhow::Result<u8> {
    let mut parts = Vec::new();
    for d in &args.dirs {
        let files = campaign_files(d);
        if files.is_empty() {
            eprintln!(
                "skeptic campaign merge: no campaign.json in {}",
                d.display()
            );
            return Ok(EXIT_USAGE);
        }
        for f in files {
            let text = std::fs::read_to_string(&f)
                .with_context(|| format!("cannot read {}", f.display()))?;
            match serde_json::from_str::<CampaignJson>(&text) {
                Ok(j) => parts.push(j),
                Err(e) => {
                    eprintln!(
                        "skeptic campaign merge: {}: not a campaign.json ({e})",
                        f.display()
                    );
                    return Ok(EXIT_USAGE);
                }
            }
        }
    }
    let merged = match CampaignJson::merge(parts) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("skeptic campaign merge: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    let dir = RunDir::create(&args.store, &format!("campaign-{}-merged", merged.name))
        .context("cannot create the merged campaign's directory")?;
    write_outputs(&dir, &merged)?;
    Ok(exit_code(&merged, args.strict))
}
