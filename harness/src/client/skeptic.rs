//! The bundled store's HTTP/JSON API (see `target-kv/README.md`), which is
//! also the protocol an external store implements to be tested.

use super::http1::{BadBase, Http1Client};
use serde_json::{json, Value as Json};
use std::time::Duration;
use workloads::store::{BoxFuture, KvClient, StoreError, StoreOp, StoreReply};

/// A client of one node.
#[derive(Debug)]
pub struct SkepticClient {
    http: Http1Client,
}

impl SkepticClient {
    /// A client for `base` (`http://127.0.0.1:PORT`).
    pub fn new(base: &str, timeout: Duration) -> Result<SkepticClient, BadBase> {
        Ok(SkepticClient {
            http: Http1Client::new(base, timeout)?,
        })
    }

    async fn post(&self, path: &'static str, body: Json) -> Result<(u16, Json), StoreError> {
        let body = serde_json::to_vec(&body)
            .map_err(|e| StoreError::Definite(format!("cannot encode the request: {e}")))?;
        let reply = self.http.post(path, None, body).await?;
        let body = serde_json::from_slice(&reply.body).unwrap_or(Json::Null);
        Ok((reply.status, body))
    }
}

/// Maps an error reply by its `definite` flag; without one, a 4xx is a
/// refusal and anything else is unknown.
fn error_reply(status: u16, body: &Json) -> StoreError {
    let code = body.get("error").and_then(Json::as_str).unwrap_or("error");
    let message = format!("{status} {code}");
    match body.get("definite").and_then(Json::as_bool) {
        Some(true) => StoreError::Definite(message),
        Some(false) => StoreError::Indeterminate(message),
        None if (400..500).contains(&status) => StoreError::Definite(message),
        None => StoreError::Indeterminate(message),
    }
}

fn reply(op: &StoreOp, status: u16, body: &Json) -> Result<StoreReply, StoreError> {
    if status == 412 && matches!(op, StoreOp::Cas { .. }) {
        return Ok(StoreReply::CasMismatch);
    }
    if status != 200 {
        return Err(error_reply(status, body));
    }
    let bad = || StoreError::Indeterminate(format!("malformed reply: {body}"));
    match op {
        StoreOp::Get { .. } => match body.get("value") {
            Some(Json::Null) => Ok(StoreReply::Value(None)),
            Some(Json::String(s)) => Ok(StoreReply::Value(Some(s.clone()))),
            _ => Err(bad()),
        },
        StoreOp::Set { .. } | StoreOp::Cas { .. } => Ok(StoreReply::Done),
        StoreOp::Contains { .. } | StoreOp::Remove { .. } => match body.get("exists") {
            Some(Json::Bool(b)) => Ok(StoreReply::Exists(Some(*b))),
            None | Some(Json::Null) if matches!(op, StoreOp::Remove { .. }) => {
                Ok(StoreReply::Exists(None))
            }
            _ => Err(bad()),
        },
    }
}

impl KvClient for SkepticClient {
    fn call(&self, op: StoreOp) -> BoxFuture<'_, Result<StoreReply, StoreError>> {
        Box::pin(async move {
            let (path, body) = match &op {
                StoreOp::Get { key } => ("/kv/get", json!({ "key": key })),
                StoreOp::Set { key, value } => ("/kv/set", json!({ "key": key, "value": value })),
                StoreOp::Cas { key, from, to } => {
                    ("/kv/cas", json!({ "key": key, "from": from, "to": to }))
                }
                StoreOp::Contains { key } => ("/kv/contains", json!({ "key": key })),
                StoreOp::Remove { key } => ("/kv/remove", json!({ "key": key })),
            };
            let (status, body) = self.post(path, body).await?;
            reply(&op, status, &body)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_map_honestly() {
        let get = StoreOp::Get { key: "k".into() };
        let cas = StoreOp::Cas {
            key: "k".into(),
            from: None,
            to: "1".into(),
        };
        assert_eq!(
            reply(&get, 200, &json!({"value": "3"})),
            Ok(StoreReply::Value(Some("3".into())))
        );
        assert_eq!(
            reply(&get, 200, &json!({"value": null})),
            Ok(StoreReply::Value(None))
        );
        assert_eq!(
            reply(&cas, 412, &json!({"error": "cas_mismatch"})),
            Ok(StoreReply::CasMismatch)
        );
        let timeout = json!({"error": "timeout", "definite": false});
        assert!(matches!(
            reply(&cas, 504, &timeout),
            Err(StoreError::Indeterminate(_))
        ));
        let no_leader = json!({"error": "no_leader", "definite": true});
        assert!(matches!(
            reply(&cas, 503, &no_leader),
            Err(StoreError::Definite(_))
        ));
        // Without a definite flag: 4xx refuses, 5xx is unknown.
        assert!(matches!(
            reply(&get, 400, &Json::Null),
            Err(StoreError::Definite(_))
        ));
        assert!(matches!(
            reply(&get, 502, &Json::Null),
            Err(StoreError::Indeterminate(_))
        ));
        // A 200 without the expected field is not trusted.
        assert!(matches!(
            reply(&get, 200, &json!({})),
            Err(StoreError::Indeterminate(_))
        ));
    }
}
