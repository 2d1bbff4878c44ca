//! `skeptic gen-history`: writes a synthetic history in any format, so
//! anyone can rebuild the benchmark inputs.

use crate::cli::{GenArgs, GenKindArg};
use anyhow::Context;
use checker::format::{self, Format};
use checker::generate::{corrupt, generate, GenKind, GenOptions};
use std::io::{BufWriter, Write};

/// Generates and writes the history; exit code 0.
pub fn run(args: &GenArgs) -> anyhow::Result<u8> {
    anyhow::ensure!(args.processes > 0, "--processes must be at least 1");
    anyhow::ensure!(args.keys > 0, "--keys must be at least 1");
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.info),
        "--info is a fraction from 0 to 1"
    );
    let options = GenOptions {
        kind: match args.kind {
            GenKindArg::Register => GenKind::CasRegister,
            GenKindArg::Kv => GenKind::AppendKv,
        },
        ops: args.ops,
        processes: args.processes,
        keys: args.keys,
        info_fraction: args.info,
        seed: args.seed,
    };
    let mut records = generate(&options);
    if args.corrupt {
        anyhow::ensure!(
            corrupt(&mut records, args.ops / 2),
            "the history has no read to corrupt"
        );
    }
    let sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::new(sink);
    match args.format {
        Format::Jsonl => {
            for r in &records {
                format::write_jsonl_record(&mut out, r)?;
            }
        }
        Format::JepsenLog => format::write_jepsen_log(&mut out, &records)?,
        Format::EdnLines => format::write_edn_lines(&mut out, &records)?,
        Format::JepsenEdn => anyhow::bail!("gen-history writes jsonl, jepsen-log or edn-lines"),
    }
    out.flush()?;
    Ok(0)
}
