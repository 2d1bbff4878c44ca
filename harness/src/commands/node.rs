//! `skeptic node`: one node of the bundled store, in this process.

use crate::cli::NodeCmd;

/// Runs the node until Ctrl-C or SIGTERM.
pub fn run(args: NodeCmd) -> anyhow::Result<u8> {
    target_kv::server::init_logging("info");
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(target_kv::server::run(
        args.node,
        target_kv::server::shutdown_signal(),
    ))?;
    Ok(0)
}
