//! `skeptic serve [STORE]`: the results browser until Ctrl-C.

use crate::cli::ServeArgs;
use anyhow::Context;

/// Runs the command.
pub fn run(args: &ServeArgs) -> anyhow::Result<u8> {
    if !args.store.is_dir() {
        eprintln!(
            "skeptic serve: {} is not a results store (a directory that skeptic test, sim, bench or campaign wrote)",
            args.store.display()
        );
        return Ok(3);
    }
    let store = std::fs::canonicalize(&args.store)
        .with_context(|| format!("cannot resolve {}", args.store.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr().context("the listener's address")?;
        println!(
            "skeptic serve: {} at http://{addr}/ (Ctrl-C stops it)",
            store.display()
        );
        use std::io::Write;
        std::io::stdout().flush()?;
        axum::serve(listener, harness::serve::router(store))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("serving")?;
        anyhow::Ok(())
    })?;
    Ok(0)
}
