//! `skeptic node`: one node of the bundled store, in this process.

use crate::cli::NodeCmd;

/// Runs the node until Ctrl-C or SIGTERM.
pub fn run(args: NodeCmd) -> anyhow::Result<u8> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(target_kv::server::run(
        args.node,
        target_kv::server::shutdown_signal(),
    ))?;
    Ok(0)
}
