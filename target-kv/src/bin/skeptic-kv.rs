//! `skeptic-kv`: one node of the bundled Paxos-replicated key-value store.

use clap::Parser;
use target_kv::server::{run, shutdown_signal, NodeArgs};

/// One node of Skeptic's bundled replicated key-value store.
#[derive(Parser)]
#[command(name = "skeptic-kv", version, about)]
struct Cli {
    #[command(flatten)]
    node: NodeArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    target_kv::server::init_logging("info");
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 3 } else { 0 };
            let _ = e.print();
            return std::process::ExitCode::from(code);
        }
    };
    match run(cli.node, shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skeptic-kv: {e:#}");
            std::process::ExitCode::from(3)
        }
    }
}
