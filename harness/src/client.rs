//! Clients: one per logical process, speaking a cluster's protocol, and
//! mapping every reply honestly: a timeout or a connection lost after the
//! request went out is indeterminate; only a definite refusal is a failure.

mod etcd;
pub mod http1;
mod skeptic;

pub use etcd::EtcdClient;
pub use http1::BadBase;
pub use skeptic::SkepticClient;

use crate::db::Protocol;
use std::sync::Arc;
use std::time::Duration;
use workloads::store::KvClient;

/// A client for one node's base URL, with a per-operation timeout.
pub fn connect(
    protocol: Protocol,
    url: &str,
    timeout: Duration,
) -> Result<Arc<dyn KvClient>, BadBase> {
    Ok(match protocol {
        Protocol::Skeptic => Arc::new(SkepticClient::new(url, timeout)?),
        Protocol::Etcd => Arc::new(EtcdClient::new(url, timeout)?),
    })
}

/// The HTTP client of the harness's control calls (status, leader, fault
/// hooks): keep-alive, a per-request timeout, and a connect timeout well
/// under it so a dead node is seen quickly. Operations go through
/// [`http1`].
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_millis(500)))
        .pool_max_idle_per_host(4)
        .build()
}
