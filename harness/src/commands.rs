//! One module per subcommand; `run` dispatches.

mod check;
mod gen_history;

use crate::cli::{Cli, Command};

/// Runs the command and returns its exit code.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::GenHistory(args) => gen_history::run(&args),
    }
}
