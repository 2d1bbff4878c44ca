//! A cluster the harness did not start: client traffic only, no faults that
//! need node control.

use super::{Db, Protocol};

/// An external cluster given by its client URLs.
#[derive(Clone, Debug)]
pub struct ExternalDb {
    urls: Vec<String>,
    protocol: Protocol,
}

impl ExternalDb {
    /// A cluster at these base URLs (`http://host:port`), speaking `protocol`.
    pub fn new(urls: Vec<String>, protocol: Protocol) -> ExternalDb {
        let urls = urls
            .into_iter()
            .map(|u| {
                let u = u.trim_end_matches('/').to_string();
                if u.contains("://") {
                    u
                } else {
                    format!("http://{u}")
                }
            })
            .collect();
        ExternalDb { urls, protocol }
    }
}

impl Db for ExternalDb {
    fn name(&self) -> &'static str {
        "external"
    }

    fn protocol(&self) -> Protocol {
        self.protocol
    }

    fn nodes(&self) -> usize {
        self.urls.len()
    }

    fn client_url(&self, node: usize) -> String {
        self.urls[node].clone()
    }
}
