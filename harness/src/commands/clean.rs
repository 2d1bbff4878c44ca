//! `skeptic clean`: removes the network namespaces, links and registry
//! files that killed runs left behind (a run tears its own down, also on
//! Ctrl-C and panic; only SIGKILL leaves them). Names carry the run id;
//! nothing that is not ours is touched.

use crate::cli::CleanArgs;
use harness::net::clean;

/// Lists and removes leftovers; exit 0 when nothing of ours is left.
pub fn run(args: &CleanArgs) -> anyhow::Result<u8> {
    let (doomed, kept) = clean::removable(args.force)?;
    for l in &kept {
        println!("kept (its run is live; --force removes it): {l}");
    }
    if doomed.is_empty() {
        println!("nothing to clean");
        return Ok(0);
    }
    for l in &doomed {
        println!(
            "{}{l}",
            if args.dry_run {
                "would remove "
            } else {
                "removing "
            }
        );
    }
    if args.dry_run {
        return Ok(0);
    }
    let removed = clean::remove(&doomed)?;
    let left: Vec<_> = clean::leftovers()
        .into_iter()
        .filter(|l| doomed.iter().any(|d| d.name == l.name))
        .collect();
    println!("removed {removed}");
    anyhow::ensure!(
        left.is_empty(),
        "still there after cleaning: {}",
        left.iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(0)
}
