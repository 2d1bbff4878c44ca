//! One module per subcommand; `run` dispatches.

mod bench;
mod campaign;
mod check;
mod clean;
mod cluster;
mod gen_history;
mod node;
mod serve;
mod sim;
mod test;

use crate::cli::{Cli, Command};

/// Runs the command and returns its exit code.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::GenHistory(args) => gen_history::run(&args),
        Command::Node(args) => node::run(args),
        Command::Cluster(args) => {
            // Warnings (a fault that did not take, a cluster that did not
            // recover) reach the terminal; `RUST_LOG` shows more.
            target_kv::server::init_logging("warn");
            cluster::run(&args)
        }
        Command::Sim(args) => sim::run(&args),
        Command::Campaign(args) => campaign::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Clean(args) => clean::run(&args),
        Command::Bench(args) => {
            target_kv::server::init_logging("warn");
            bench::run(&args)
        }
        Command::Test(args) => {
            target_kv::server::init_logging("warn");
            test::run(&args)
        }
    }
}
