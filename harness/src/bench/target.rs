//! What `skeptic bench` measures: a target named on the command line
//! (`multi/log`, `etcd`, `external=URL+URL`), and a fresh cluster of it.

use crate::client;
use crate::db::{
    BundledDb, BundledOptions, Db, EtcdDb, EtcdOptions, ExternalDb, Placement, Protocol,
};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workloads::store::KvClient;

/// One target of a bench run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetSpec {
    /// The bundled store with a consensus protocol and a read path.
    Bundled {
        /// `multi` or `basic`.
        consensus: String,
        /// `log`, `quorum`, `lease` or `local`.
        reads: String,
    },
    /// etcd, as local processes (the `etcd` binary on PATH).
    Etcd,
    /// A running cluster reached only by its URLs.
    External {
        /// The nodes' base URLs.
        urls: Vec<String>,
        /// Its protocol.
        protocol: Protocol,
    },
}

impl TargetSpec {
    /// The default targets: four variants of the bundled store, and etcd
    /// when its binary is present.
    pub fn defaults() -> Vec<TargetSpec> {
        let mut v: Vec<TargetSpec> = ["multi/log", "multi/quorum", "multi/lease", "basic/log"]
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
        if EtcdDb::find_binary().is_some() {
            v.push(TargetSpec::Etcd);
        }
        v
    }

    /// Whether this harness starts (and can kill) its processes.
    pub fn is_local(&self) -> bool {
        !matches!(self, TargetSpec::External { .. })
    }

    /// A name usable in file names (`multi-log`).
    pub fn slug(&self) -> String {
        self.to_string().replace(['/', '='], "-")
    }
}

impl fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetSpec::Bundled { consensus, reads } => write!(f, "{consensus}/{reads}"),
            TargetSpec::Etcd => f.write_str("etcd"),
            TargetSpec::External { .. } => f.write_str("external"),
        }
    }
}

impl FromStr for TargetSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "etcd" {
            return Ok(TargetSpec::Etcd);
        }
        for (prefix, protocol) in [
            ("external=", Protocol::Skeptic),
            ("external-etcd=", Protocol::Etcd),
        ] {
            if let Some(list) = s.strip_prefix(prefix) {
                let urls: Vec<String> = list
                    .split('+')
                    .filter(|u| !u.is_empty())
                    .map(str::to_string)
                    .collect();
                if urls.is_empty() || urls.iter().any(|u| !u.starts_with("http://")) {
                    return Err(format!(
                        "{s:?}: expected {prefix}http://HOST:PORT[+http://HOST:PORT...]"
                    ));
                }
                return Ok(TargetSpec::External { urls, protocol });
            }
        }
        let Some((consensus, reads)) = s.split_once('/') else {
            return Err(format!(
                "unknown target {s:?} (expected multi/log, multi/quorum, multi/lease, basic/log, \
                 basic/quorum, etcd or external=URL)"
            ));
        };
        if !["multi", "basic"].contains(&consensus) {
            return Err(format!("{s:?}: consensus is multi or basic"));
        }
        if !["log", "quorum", "lease", "local"].contains(&reads) {
            return Err(format!("{s:?}: reads are log, quorum, lease or local"));
        }
        Ok(TargetSpec::Bundled {
            consensus: consensus.into(),
            reads: reads.into(),
        })
    }
}

/// How to start a target's cluster.
#[derive(Clone, Debug)]
pub struct ClusterPlan {
    /// Nodes.
    pub nodes: usize,
    /// `--fsync` for the bundled store.
    pub fsync: String,
    /// The `skeptic` program (run as `skeptic node`).
    pub program: PathBuf,
    /// Where data directories go (one per cluster below it).
    pub data_root: PathBuf,
    /// Where logs go.
    pub logs_root: PathBuf,
}

/// A running cluster being measured.
pub struct Cluster {
    db: Box<dyn Db>,
    /// Where its data lives (removed at teardown).
    data_dir: Option<PathBuf>,
    /// The node the clients send to first: the leader when there is one.
    pub first: usize,
}

impl Cluster {
    /// Starts a fresh cluster of `target` (data in `name` under the plan's
    /// roots), waits until every node serves a read, and finds its leader.
    pub async fn start(
        target: &TargetSpec,
        plan: &ClusterPlan,
        name: &str,
    ) -> Result<Cluster, String> {
        let data_dir = plan.data_root.join(name);
        let logs_dir = plan.logs_root.join(name);
        let db: Box<dyn Db> = match target {
            TargetSpec::Bundled { consensus, reads } => Box::new(
                BundledDb::setup(
                    &BundledOptions {
                        program: plan.program.clone(),
                        nodes: plan.nodes,
                        consensus: consensus.clone(),
                        reads: reads.clone(),
                        fsync: plan.fsync.clone(),
                        node_op_timeout_ms: 1_000,
                        data_dir: data_dir.clone(),
                        logs_dir,
                        extra_args: Vec::new(),
                    },
                    Placement::local(),
                )
                .map_err(|e| e.to_string())?,
            ),
            TargetSpec::Etcd => {
                let program = EtcdDb::find_binary().ok_or(
                    "etcd is not installed (on Debian: apt-get install etcd-server)".to_string(),
                )?;
                let mut db = EtcdDb::setup(
                    &EtcdOptions {
                        program,
                        nodes: plan.nodes,
                        data_dir: data_dir.clone(),
                        logs_dir,
                    },
                    Placement::local(),
                )
                .map_err(|e| e.to_string())?;
                db.wait_ready(Duration::from_secs(30))
                    .await
                    .map_err(|e| e.to_string())?;
                Box::new(db)
            }
            TargetSpec::External { urls, protocol } => {
                Box::new(ExternalDb::new(urls.clone(), *protocol))
            }
        };
        let mut cluster = Cluster {
            db,
            data_dir: target.is_local().then_some(data_dir),
            first: 0,
        };
        let clients = cluster.clients(Duration::from_secs(2))?;
        crate::run::wait_ready(&clients, Duration::from_secs(30)).await?;
        cluster.first = cluster.find_leader().await.unwrap_or(0);
        Ok(cluster)
    }

    /// Nodes.
    pub fn nodes(&self) -> usize {
        self.db.nodes()
    }

    /// A base URL per node.
    pub fn urls(&self) -> Vec<String> {
        (0..self.db.nodes())
            .map(|n| self.db.client_url(n))
            .collect()
    }

    /// Its protocol.
    pub fn protocol(&self) -> Protocol {
        self.db.protocol()
    }

    /// One client per node.
    pub fn clients(&self, timeout: Duration) -> Result<Vec<Arc<dyn KvClient>>, String> {
        self.urls()
            .iter()
            .map(|u| client::connect(self.protocol(), u, timeout).map_err(|e| e.to_string()))
            .collect()
    }

    /// The pids of the processes this harness started (for CPU time).
    pub fn pids(&mut self) -> Vec<u32> {
        match self.db.processes_mut() {
            Some(ps) => ps.iter_mut().filter_map(|p| p.pid()).collect(),
            None => Vec::new(),
        }
    }

    /// Whether its nodes can be killed.
    pub fn can_kill(&self) -> bool {
        self.db.controls_processes()
    }

    /// Kills a node (SIGKILL, reaped).
    pub fn kill(&mut self, node: usize) -> Result<(), String> {
        self.db.kill(node).map_err(|e| e.to_string())
    }

    /// The leader's index, asked of the nodes (bounded: 10 s). `None` when
    /// the target has no leader to find (Basic Paxos, an external store).
    pub async fn find_leader(&self) -> Option<usize> {
        let http = client::http_client(Duration::from_secs(1)).ok()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let found = match self.protocol() {
                Protocol::Skeptic => skeptic_leader(&http, &self.urls()).await?,
                Protocol::Etcd => etcd_leader(&http, &self.urls()).await,
            };
            if found.is_some() {
                return found;
            }
            // Between polls of an election still going on.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// Kills every process and removes the data (logs are kept).
    pub fn teardown(&mut self) {
        self.db.teardown();
        if let Some(dir) = self.data_dir.take() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// The bundled store's leader from `/status`: `Some(None)` while electing,
/// `None` when it runs without a leader (Basic Paxos).
async fn skeptic_leader(http: &reqwest::Client, urls: &[String]) -> Option<Option<usize>> {
    for u in urls {
        let Ok(resp) = http.get(format!("{u}/status")).send().await else {
            continue;
        };
        let Ok(v) = resp.json::<serde_json::Value>().await else {
            continue;
        };
        if v["consensus"]
            .as_str()
            .is_some_and(|c| c.eq_ignore_ascii_case("basic"))
        {
            return None;
        }
        if let Some(id) = v["leader"].as_u64() {
            let index = (id as usize).checked_sub(1).filter(|i| *i < urls.len());
            return Some(index);
        }
    }
    Some(None)
}

/// etcd's leader: the member whose id its peers report as leader.
async fn etcd_leader(http: &reqwest::Client, urls: &[String]) -> Option<usize> {
    let mut leader = None;
    let mut ids = Vec::new();
    for u in urls {
        let resp = http
            .post(format!("{u}/v3/maintenance/status"))
            .json(&serde_json::json!({}))
            .send()
            .await;
        let v: serde_json::Value = match resp {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        };
        ids.push(v["header"]["member_id"].as_str().map(str::to_string));
        if let Some(l) = v["leader"].as_str() {
            leader = Some(l.to_string());
        }
    }
    let leader = leader?;
    ids.iter()
        .position(|id| id.as_deref() == Some(leader.as_str()))
}

/// Where a cluster's files go, under the bench directory.
pub fn cluster_name(target: &TargetSpec, round: usize) -> String {
    format!("{}-r{}", target.slug(), round + 1)
}

/// The bench directory's data root: on the same disk as the store.
pub fn data_root(bench_dir: &Path) -> PathBuf {
    bench_dir.join("data")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets_and_refuses_nonsense() {
        assert_eq!(
            "multi/log".parse::<TargetSpec>(),
            Ok(TargetSpec::Bundled {
                consensus: "multi".into(),
                reads: "log".into()
            })
        );
        assert_eq!("etcd".parse::<TargetSpec>(), Ok(TargetSpec::Etcd));
        let ext: TargetSpec = "external=http://127.0.0.1:1+http://127.0.0.1:2"
            .parse()
            .expect("parses");
        assert!(matches!(&ext, TargetSpec::External { urls, .. } if urls.len() == 2));
        for bad in [
            "paxos/log",
            "multi/fast",
            "mongo",
            "external=",
            "external=ftp://x",
        ] {
            assert!(bad.parse::<TargetSpec>().is_err(), "{bad}");
        }
        assert_eq!(
            "basic/quorum".parse::<TargetSpec>().map(|t| t.slug()),
            Ok("basic-quorum".to_string())
        );
    }
}
