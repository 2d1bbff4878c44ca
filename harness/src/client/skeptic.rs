//! The bundled store's HTTP/JSON API (see `target-kv/README.md`), which is
//! also the protocol an external store implements to be tested.

use super::http1::{BadBase, Http1Client};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
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
}

/// A request body, borrowed from the operation (typed: a `json!` value
/// would build a map per call).
#[derive(Serialize)]
struct Body<'a> {
    key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<&'a str>,
}

impl<'a> Body<'a> {
    /// A body naming just `key`.
    fn of(key: &'a str) -> Body<'a> {
        Body {
            key,
            value: None,
            from: None,
            to: None,
        }
    }
}

/// A successful answer's fields; each is `Some` when present, even as
/// `null` (a get of a missing key says `"value": null`).
#[derive(Deserialize)]
struct Answer {
    #[serde(default, deserialize_with = "present")]
    value: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    exists: Option<Option<bool>>,
}

/// A field that is there, `null` or not.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Maps an error reply by its `definite` flag; without one, a 4xx is a
/// refusal and anything else is unknown.
fn error_reply(status: u16, body: &[u8]) -> StoreError {
    let body: Json = serde_json::from_slice(body).unwrap_or(Json::Null);
    let code = body.get("error").and_then(Json::as_str).unwrap_or("error");
    let message = format!("{status} {code}");
    match body.get("definite").and_then(Json::as_bool) {
        Some(true) => StoreError::Definite(message),
        Some(false) => StoreError::Indeterminate(message),
        None if (400..500).contains(&status) => StoreError::Definite(message),
        None => StoreError::Indeterminate(message),
    }
}

fn reply(op: &StoreOp, status: u16, body: &[u8]) -> Result<StoreReply, StoreError> {
    if status == 412 && matches!(op, StoreOp::Cas { .. }) {
        return Ok(StoreReply::CasMismatch);
    }
    if status != 200 {
        return Err(error_reply(status, body));
    }
    let bad = || {
        StoreError::Indeterminate(format!(
            "malformed reply: {}",
            String::from_utf8_lossy(body)
        ))
    };
    let answer: Answer = serde_json::from_slice(body).map_err(|_| bad())?;
    match op {
        StoreOp::Get { .. } => answer.value.map(StoreReply::Value).ok_or_else(bad),
        StoreOp::Set { .. } | StoreOp::Cas { .. } => Ok(StoreReply::Done),
        StoreOp::Contains { .. } => match answer.exists {
            Some(Some(b)) => Ok(StoreReply::Exists(Some(b))),
            _ => Err(bad()),
        },
        StoreOp::Remove { .. } => Ok(StoreReply::Exists(answer.exists.flatten())),
    }
}

impl KvClient for SkepticClient {
    fn call(&self, op: StoreOp) -> BoxFuture<'_, Result<StoreReply, StoreError>> {
        Box::pin(async move {
            let (path, body) = match &op {
                StoreOp::Get { key } => ("/kv/get", Body::of(key)),
                StoreOp::Set { key, value } => (
                    "/kv/set",
                    Body {
                        value: Some(value),
                        ..Body::of(key)
                    },
                ),
                StoreOp::Cas { key, from, to } => (
                    "/kv/cas",
                    Body {
                        from: Some(from.as_deref()),
                        to: Some(to),
                        ..Body::of(key)
                    },
                ),
                StoreOp::Contains { key } => ("/kv/contains", Body::of(key)),
                StoreOp::Remove { key } => ("/kv/remove", Body::of(key)),
            };
            let body = serde_json::to_vec(&body)
                .map_err(|e| StoreError::Definite(format!("cannot encode the request: {e}")))?;
            let answer = self.http.post(path, None, body).await?;
            reply(&op, answer.status, &answer.body)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bytes(v: Json) -> Vec<u8> {
        serde_json::to_vec(&v).expect("encodes")
    }

    #[test]
    fn replies_map_honestly() {
        let get = StoreOp::Get { key: "k".into() };
        let cas = StoreOp::Cas {
            key: "k".into(),
            from: None,
            to: "1".into(),
        };
        let contains = StoreOp::Contains { key: "k".into() };
        let remove = StoreOp::Remove { key: "k".into() };
        assert_eq!(
            reply(&get, 200, &bytes(json!({"value": "3"}))),
            Ok(StoreReply::Value(Some("3".into())))
        );
        assert_eq!(
            reply(&get, 200, &bytes(json!({"value": null}))),
            Ok(StoreReply::Value(None))
        );
        assert_eq!(
            reply(&contains, 200, &bytes(json!({"exists": true}))),
            Ok(StoreReply::Exists(Some(true)))
        );
        assert_eq!(
            reply(&remove, 200, &bytes(json!({"exists": false}))),
            Ok(StoreReply::Exists(Some(false)))
        );
        // A remove that cannot tell whether the key was there.
        assert_eq!(
            reply(&remove, 200, &bytes(json!({"ok": true}))),
            Ok(StoreReply::Exists(None))
        );
        assert_eq!(
            reply(&cas, 412, &bytes(json!({"error": "cas_mismatch"}))),
            Ok(StoreReply::CasMismatch)
        );
        let timeout = bytes(json!({"error": "timeout", "definite": false}));
        assert!(matches!(
            reply(&cas, 504, &timeout),
            Err(StoreError::Indeterminate(_))
        ));
        let no_leader = bytes(json!({"error": "no_leader", "definite": true}));
        assert!(matches!(
            reply(&cas, 503, &no_leader),
            Err(StoreError::Definite(_))
        ));
        // Without a definite flag: 4xx refuses, 5xx is unknown.
        assert!(matches!(
            reply(&get, 400, b"not json"),
            Err(StoreError::Definite(_))
        ));
        assert!(matches!(
            reply(&get, 502, b""),
            Err(StoreError::Indeterminate(_))
        ));
        // A 200 without the expected field, or not JSON, is not trusted.
        for body in [bytes(json!({})), bytes(json!({"value": 3})), b"{".to_vec()] {
            assert!(matches!(
                reply(&get, 200, &body),
                Err(StoreError::Indeterminate(_))
            ));
        }
        assert!(matches!(
            reply(&contains, 200, &bytes(json!({"exists": null}))),
            Err(StoreError::Indeterminate(_))
        ));
    }

    #[test]
    fn request_bodies_say_what_the_api_expects() {
        let encode = |b: Body| serde_json::to_value(&b).expect("encodes");
        assert_eq!(encode(Body::of("k")), json!({"key": "k"}));
        let set = Body {
            value: Some("v"),
            ..Body::of("k")
        };
        assert_eq!(encode(set), json!({"key": "k", "value": "v"}));
        let cas_absent = Body {
            from: Some(None),
            to: Some("1"),
            ..Body::of("k")
        };
        assert_eq!(
            encode(cas_absent),
            json!({"key": "k", "from": null, "to": "1"})
        );
    }
}
