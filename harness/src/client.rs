//! Clients: one per logical process, speaking a cluster's protocol, and
//! mapping every reply honestly: a timeout or a connection lost after the
//! request went out is indeterminate; only a definite refusal is a failure.

mod etcd;
mod skeptic;

pub use etcd::EtcdClient;
pub use skeptic::SkepticClient;

use crate::db::Protocol;
use std::sync::Arc;
use std::time::Duration;
use workloads::store::{KvClient, StoreError};

/// A client for one node's base URL, with a per-operation timeout.
pub fn connect(
    protocol: Protocol,
    url: &str,
    timeout: Duration,
) -> Result<Arc<dyn KvClient>, reqwest::Error> {
    Ok(match protocol {
        Protocol::Skeptic => Arc::new(SkepticClient::new(url, timeout)?),
        Protocol::Etcd => Arc::new(EtcdClient::new(url, timeout)?),
    })
}

/// The HTTP client every protocol uses: keep-alive, a per-request timeout,
/// and a connect timeout well under it so a dead node is seen quickly.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_millis(500)))
        .pool_max_idle_per_host(4)
        .build()
}

/// A node's request URLs, parsed once: parsing a URL on every call costs
/// a load generator more CPU than the rest of building the request.
#[derive(Clone, Debug)]
pub struct Urls {
    base: String,
    parsed: Vec<(&'static str, reqwest::Url)>,
}

impl Urls {
    /// `base` joined with each of `paths` (a base that does not parse is
    /// kept as text: each request then fails as reqwest reports it).
    pub fn new(base: &str, paths: &[&'static str]) -> Urls {
        let base = base.trim_end_matches('/').to_string();
        let parsed = paths
            .iter()
            .filter_map(|p| {
                reqwest::Url::parse(&format!("{base}{p}"))
                    .ok()
                    .map(|u| (*p, u))
            })
            .collect();
        Urls { base, parsed }
    }

    /// A POST to `path`.
    pub fn post(&self, http: &reqwest::Client, path: &str) -> reqwest::RequestBuilder {
        match self.parsed.iter().find(|(p, _)| *p == path) {
            Some((_, url)) => http.post(url.clone()),
            None => http.post(format!("{}{path}", self.base)),
        }
    }
}

/// What a transport-level error says about the operation. A refused or
/// timed-out connection means the request never left, so nothing happened;
/// anything later (a timeout while waiting, a reset, a torn body) may have
/// happened.
pub fn transport_error(e: &reqwest::Error) -> StoreError {
    let message = error_chain(e);
    if e.is_connect() && !e.is_timeout() {
        StoreError::Definite(format!("connect: {message}"))
    } else if e.is_connect() {
        // reqwest reports a connect timeout as both connect and timeout:
        // the TCP handshake never finished, so no request was sent.
        StoreError::Definite(format!("connect timeout: {message}"))
    } else if e.is_timeout() {
        StoreError::Indeterminate("timeout".into())
    } else {
        StoreError::Indeterminate(message)
    }
}

/// An error and its causes on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}
