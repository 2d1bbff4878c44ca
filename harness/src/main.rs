//! `skeptic`: the command-line edge. Parses flags, runs one command, and
//! turns its result into a documented exit code:
//! 0 valid, 1 an anomaly, 2 unknown, 3 bad input or usage.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
mod commands;

use clap::Parser;
use std::process::ExitCode;

/// Exit code for bad input, bad usage or a setup failure.
const EXIT_BAD_INPUT: u8 = 3;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors; everything else is usage.
            let code = if e.use_stderr() { EXIT_BAD_INPUT } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skeptic: {e:#}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// True when the output's reader went away (`skeptic check ... | head`):
/// not an error worth a message.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
