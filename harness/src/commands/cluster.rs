//! `skeptic cluster`: a local cluster of the bundled store as child
//! processes (`skeptic node`), each in its own process group, stopped and
//! reaped on Ctrl-C, on error, and if this process panics.

use crate::cli::ClusterArgs;
use anyhow::Context;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// Children killed and reaped when dropped (also on panic and early return).
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts the nodes, prints their client addresses, waits for Ctrl-C.
pub fn run(args: &ClusterArgs) -> anyhow::Result<u8> {
    anyhow::ensure!((1..=9).contains(&args.nodes), "--nodes takes 1 to 9");
    let temp;
    let dir = match &args.data_dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let mut http: Vec<SocketAddr> = target_kv::loopback::spare_addrs(2 * args.nodes)
        .context("cannot find free loopback ports")?;
    let peer: Vec<SocketAddr> = http.split_off(args.nodes);
    let peers = target_kv::server::peers_arg(&peer);
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let mut children = Children(Vec::new());
    for (i, addr) in http.iter().enumerate() {
        let mut cmd = Command::new(&exe);
        cmd.arg("node")
            .args([
                "--id",
                &(i + 1).to_string(),
                "--listen",
                &addr.to_string(),
                "--peers",
                &peers,
            ])
            .arg("--data-dir")
            .arg(dir.join(format!("n{}", i + 1)))
            .args([
                "--consensus",
                &args.variant.consensus_name(),
                "--reads",
                &args.variant.reads_name(),
            ])
            .args(["--fsync", &args.variant.fsync_name()])
            .stdin(Stdio::null())
            .process_group(0);
        if args.fault_hooks {
            cmd.arg("--fault-hooks");
        }
        // Tied to this process: a `kill -9` of `skeptic cluster` takes
        // its nodes with it.
        children
            .0
            .push(harness::db::process::spawn_tied(cmd).context("cannot start a node")?);
    }
    for (i, (a, child)) in http.iter().zip(&children.0).enumerate() {
        println!("node {}: http://{a} (pid {})", i + 1, child.id());
    }
    println!("data: {}", dir.display());
    println!("Ctrl-C stops the cluster.");
    // Whoever reads our output (a test, a script) sees it now.
    use std::io::Write;
    std::io::stdout().flush()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(target_kv::server::shutdown_signal());
    drop(children);
    Ok(0)
}
