//! etcd (Debian's `etcd-server`, 3.4) as local processes: one member per
//! node on OS-chosen loopback ports, data and logs inside the run's
//! directory, election timing shortened for loopback.
//!
//! A member is restarted with exactly the flags it was first started with.
//! That is safe: etcd ignores `--initial-cluster*` once its data directory
//! holds a member, so the restarted member rejoins with its own log.

use super::process::ManagedProcess;
use super::{Db, DbError, Placement, Protocol};
use crate::client::EtcdClient;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use workloads::store::{KvClient, StoreOp};

/// How to run etcd.
#[derive(Clone, Debug)]
pub struct EtcdOptions {
    /// The `etcd` binary.
    pub program: PathBuf,
    /// Members.
    pub nodes: usize,
    /// Where member data directories go (`n1/`, ...).
    pub data_dir: PathBuf,
    /// Where member logs go (`n1.log`, ...).
    pub logs_dir: PathBuf,
}

/// A running etcd cluster. Dropping it kills and reaps every member.
#[derive(Debug)]
pub struct EtcdDb {
    client: Vec<SocketAddr>,
    procs: Vec<ManagedProcess>,
    placement: Placement,
}

/// Heartbeat interval in ms. etcd's default (100) is tuned for real
/// networks; on loopback a shorter one makes failover fast enough for
/// short tests.
const HEARTBEAT_MS: u64 = 50;
/// Election timeout in ms: etcd requires at least 5 heartbeats; 10 (its
/// own ratio) keeps spurious elections rare on a loaded 2-core machine.
const ELECTION_MS: u64 = 500;
/// The most members setup accepts: more than this on one small machine
/// measures the machine, not etcd.
const MEMBERS_MAX: usize = 9;

/// Distinguishes clusters set up by one process, so two clusters never share
/// an `--initial-cluster-token`: etcd derives the cluster id from it, and
/// members of different clusters then refuse each other's messages should
/// a port be reused.
static SETUPS: AtomicU64 = AtomicU64::new(0);

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn url(addr: &SocketAddr) -> String {
    format!("http://{addr}")
}

/// A token no other cluster on this machine uses: the pid, the time and a
/// per-process counter.
fn cluster_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = SETUPS.fetch_add(1, Ordering::Relaxed);
    format!("skeptic-{}-{nanos}-{n}", std::process::id())
}

/// The flags of member `id` (1-based). Pure, so restarts reuse them and
/// tests can read them.
fn member_args(
    id: usize,
    data_dir: &Path,
    client: &SocketAddr,
    peer: &SocketAddr,
    initial_cluster: &str,
    token: &str,
) -> Vec<String> {
    vec![
        format!("--name=n{id}"),
        format!("--data-dir={}", data_dir.display()),
        format!("--listen-client-urls={}", url(client)),
        format!("--advertise-client-urls={}", url(client)),
        format!("--listen-peer-urls={}", url(peer)),
        format!("--initial-advertise-peer-urls={}", url(peer)),
        format!("--initial-cluster={initial_cluster}"),
        // Ignored once the data dir holds a member, so also right on restart.
        "--initial-cluster-state=new".into(),
        format!("--initial-cluster-token={token}"),
        format!("--heartbeat-interval={HEARTBEAT_MS}"),
        format!("--election-timeout={ELECTION_MS}"),
        "--enable-pprof=false".into(),
        // zap with level warn: 3.4's default capnslog logger at info writes
        // several lines per election, which buries the interesting ones.
        "--logger=zap".into(),
        "--log-level=warn".into(),
        "--log-outputs=stderr".into(),
    ]
}

/// Creates `dir` with mode 0700: etcd wants a data directory only its
/// user can read, and complains otherwise.
fn create_private_dir(dir: &Path) -> Result<(), DbError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let fail = |e: std::io::Error| DbError::Setup(format!("cannot create {}: {e}", dir.display()));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(fail)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(fail)
}

impl EtcdDb {
    /// `etcd` on PATH, else /usr/bin/etcd, if it exists and is executable.
    pub fn find_binary() -> Option<PathBuf> {
        let on_path = std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|dir| dir.join("etcd"))
            .find(|p| is_executable(p));
        on_path.or_else(|| {
            let fallback = PathBuf::from("/usr/bin/etcd");
            is_executable(&fallback).then_some(fallback)
        })
    }

    /// Chooses loopback client and peer ports, creates the member data
    /// directories (`<data_dir>/n<i>`) and starts every member, logging to
    /// `<logs_dir>/n<i>.log`. Does not wait for a leader: see
    /// [`EtcdDb::wait_ready`].
    pub fn setup(o: &EtcdOptions, placement: Placement) -> Result<EtcdDb, DbError> {
        if !(1..=MEMBERS_MAX).contains(&o.nodes) {
            return Err(DbError::Setup(format!(
                "etcd runs 1 to {MEMBERS_MAX} members here, not {}",
                o.nodes
            )));
        }
        let (client, peer) = placement.addrs(o.nodes)?;
        let initial_cluster = peer
            .iter()
            .enumerate()
            .map(|(i, p)| format!("n{}={}", i + 1, url(p)))
            .collect::<Vec<_>>()
            .join(",");
        let token = cluster_token();
        for dir in [&o.data_dir, &o.logs_dir] {
            std::fs::create_dir_all(dir)
                .map_err(|e| DbError::Setup(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut procs = Vec::with_capacity(o.nodes);
        for i in 0..o.nodes {
            let id = i + 1;
            let dir = o.data_dir.join(format!("n{id}"));
            // A member directory left from another cluster would make etcd
            // ignore the flags and try to rejoin that cluster's peers.
            if dir.join("member").exists() {
                return Err(DbError::Setup(format!(
                    "{} already holds an etcd member; use an empty data directory",
                    dir.display()
                )));
            }
            create_private_dir(&dir)?;
            let args = member_args(id, &dir, &client[i], &peer[i], &initial_cluster, &token);
            procs.push(placement.process(
                i,
                &o.program,
                args,
                o.logs_dir.join(format!("n{id}.log")),
            ));
        }
        let mut db = EtcdDb {
            client,
            procs,
            placement,
        };
        // On an error here `db` is dropped, which kills the members already
        // started.
        for node in 0..o.nodes {
            db.start(node)?;
        }
        Ok(db)
    }

    /// Polls every member with a linearizable read (which needs a leader
    /// and a quorum) until all answer, or fails after `timeout`. Fails at
    /// once if a member's process has exited, naming its log.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<(), DbError> {
        let deadline = Instant::now() + timeout;
        let mut pending: Vec<usize> = (0..self.nodes()).collect();
        let mut last_error = String::new();
        while !pending.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                let names: Vec<String> = pending.iter().map(|n| format!("n{}", n + 1)).collect();
                return Err(DbError::Setup(format!(
                    "etcd members {} not ready after {timeout:?} (last error: {last_error})",
                    names.join(", ")
                )));
            }
            // Probe the pending members at once, so one slow member does
            // not hold up the others' polls. A member accepts connections
            // before it serves them (until it has joined the cluster), so a
            // probe that waits a few seconds is answered as soon as the
            // member is ready, where a short one would time out and retry.
            let budget = deadline
                .saturating_duration_since(now)
                .clamp(Duration::from_millis(100), Duration::from_secs(5));
            let mut probes = tokio::task::JoinSet::new();
            for &node in &pending {
                if !self.procs[node].is_running() {
                    return Err(DbError::Setup(format!(
                        "etcd n{} exited during startup; see {}",
                        node + 1,
                        self.procs[node].log_path().display()
                    )));
                }
                let client = EtcdClient::new(&self.client_url(node), budget)
                    .map_err(|e| DbError::Setup(format!("cannot build an HTTP client: {e}")))?;
                probes.spawn(async move {
                    let probe = StoreOp::Get {
                        key: "skeptic/ready".into(),
                    };
                    (node, client.call(probe).await)
                });
            }
            let mut still = Vec::with_capacity(pending.len());
            while let Some(joined) = probes.join_next().await {
                match joined {
                    Ok((_, Ok(_))) => {}
                    Ok((node, Err(e))) => {
                        last_error = format!("n{}: {e}", node + 1);
                        still.push(node);
                    }
                    // A probe task cannot panic short of a bug in the
                    // client; treat it as a failed setup, not a hang.
                    Err(e) => return Err(DbError::Setup(format!("readiness probe failed: {e}"))),
                }
            }
            still.sort_unstable();
            pending = still;
            if !pending.is_empty() {
                // Between polling rounds only; each round asks etcd itself.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }
}

impl Db for EtcdDb {
    fn name(&self) -> &'static str {
        "etcd"
    }

    fn protocol(&self) -> Protocol {
        Protocol::Etcd
    }

    fn nodes(&self) -> usize {
        self.client.len()
    }

    fn client_url(&self, node: usize) -> String {
        url(&self.client[node])
    }

    fn processes(&self) -> Option<&[ManagedProcess]> {
        Some(&self.procs)
    }

    fn processes_mut(&mut self) -> Option<&mut [ManagedProcess]> {
        Some(&mut self.procs)
    }

    fn placement_mut(&mut self) -> Option<&mut Placement> {
        Some(&mut self.placement)
    }
}

impl Drop for EtcdDb {
    fn drop(&mut self) {
        self.teardown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_flags_name_ports_and_cluster() {
        let client: SocketAddr = "127.0.0.1:4001".parse().expect("addr");
        let peer: SocketAddr = "127.0.0.1:5001".parse().expect("addr");
        let args = member_args(
            2,
            Path::new("/d/n2"),
            &client,
            &peer,
            "n1=http://127.0.0.1:5000,n2=http://127.0.0.1:5001",
            "tok",
        );
        for want in [
            "--name=n2",
            "--data-dir=/d/n2",
            "--listen-client-urls=http://127.0.0.1:4001",
            "--advertise-client-urls=http://127.0.0.1:4001",
            "--listen-peer-urls=http://127.0.0.1:5001",
            "--initial-advertise-peer-urls=http://127.0.0.1:5001",
            "--initial-cluster=n1=http://127.0.0.1:5000,n2=http://127.0.0.1:5001",
            "--initial-cluster-state=new",
            "--initial-cluster-token=tok",
        ] {
            assert!(
                args.iter().any(|a| a == want),
                "{want} missing from {args:?}"
            );
        }
    }

    #[test]
    fn tokens_differ_between_setups() {
        assert_ne!(cluster_token(), cluster_token());
    }

    #[test]
    fn bad_member_counts_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let o = EtcdOptions {
            program: PathBuf::from("/nonexistent/etcd"),
            nodes: 0,
            data_dir: dir.path().join("data"),
            logs_dir: dir.path().join("logs"),
        };
        assert!(matches!(
            EtcdDb::setup(&o, Placement::local()),
            Err(DbError::Setup(_))
        ));
    }

    #[test]
    fn a_missing_program_is_a_start_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let o = EtcdOptions {
            program: PathBuf::from("/nonexistent/etcd"),
            nodes: 1,
            data_dir: dir.path().join("data"),
            logs_dir: dir.path().join("logs"),
        };
        assert!(matches!(
            EtcdDb::setup(&o, Placement::local()),
            Err(DbError::Start { .. })
        ));
    }
}
