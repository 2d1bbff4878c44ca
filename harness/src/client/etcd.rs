//! etcd's v3 HTTP/JSON gateway (`POST /v3/kv/range`, `/v3/kv/put`,
//! `/v3/kv/txn`, `/v3/kv/deleterange`), the JSON form of the gRPC KV
//! service: keys and values are base64, int64 fields are JSON strings, and
//! fields at their default (zero, false, empty) are left out.
//!
//! Every request carries the gRPC metadata `hasleader: true` (as the header
//! `Grpc-Metadata-hasleader`). etcd's request interceptor then refuses the
//! request with "etcdserver: no leader" *before* it reaches raft when the
//! member knows no leader, which makes the most common failure under a
//! partition a definite one instead of a 6-second timeout of unknown
//! outcome (etcd's `clientv3.WithRequireLeader` does the same).
//!
//! Reads are linearizable (etcd's default: `serializable` is never set).

use super::http1::{BadBase, Http1Client};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use http::header::{HeaderName, HeaderValue};
use serde_json::{json, Value as Json};
use std::time::Duration;
use workloads::store::{BoxFuture, KvClient, StoreError, StoreOp, StoreReply};

/// The header the gateway forwards to etcd as the gRPC metadata
/// `hasleader`.
const REQUIRE_LEADER_HEADER: &str = "grpc-metadata-hasleader";

/// How much of a non-JSON error body is kept in an error message.
const BODY_EXCERPT_CHARS_MAX: usize = 200;

/// A client of one etcd member.
#[derive(Debug)]
pub struct EtcdClient {
    http: Http1Client,
}

impl EtcdClient {
    /// A client for `base` (`http://127.0.0.1:PORT`, a member's client
    /// URL), every call bounded by `timeout`.
    pub fn new(base: &str, timeout: Duration) -> Result<EtcdClient, BadBase> {
        Ok(EtcdClient {
            http: Http1Client::new(base, timeout)?,
        })
    }

    async fn post(&self, path: &'static str, body: &Json) -> Result<(u16, Json), StoreError> {
        let body = serde_json::to_vec(body)
            .map_err(|e| StoreError::Definite(format!("cannot encode the request: {e}")))?;
        let leader = (
            HeaderName::from_static(REQUIRE_LEADER_HEADER),
            HeaderValue::from_static("true"),
        );
        let reply = self.http.post(path, Some(leader), body).await?;
        Ok((reply.status, parse_body(&reply.body)))
    }
}

/// The reply body as JSON; a body that is not JSON (the gateway's plain
/// "Not Found", a proxy's page) is kept as a short string for messages.
fn parse_body(bytes: &[u8]) -> Json {
    serde_json::from_slice(bytes).unwrap_or_else(|_| {
        let text = String::from_utf8_lossy(bytes);
        let excerpt: String = text.trim().chars().take(BODY_EXCERPT_CHARS_MAX).collect();
        Json::String(excerpt)
    })
}

fn b64(s: &str) -> String {
    BASE64.encode(s.as_bytes())
}

/// The gateway path and JSON body for an operation.
fn request(op: &StoreOp) -> (&'static str, Json) {
    match op {
        StoreOp::Get { key } => ("/v3/kv/range", json!({ "key": b64(key) })),
        StoreOp::Set { key, value } => (
            "/v3/kv/put",
            json!({ "key": b64(key), "value": b64(value) }),
        ),
        StoreOp::Cas { key, from, to } => {
            let compare = match from {
                Some(v) => json!({
                    "key": b64(key),
                    "target": "VALUE",
                    "result": "EQUAL",
                    "value": b64(v),
                }),
                // "Absent" is "created at revision 0": etcd compares a
                // missing key as an empty KeyValue, whose create_revision
                // is 0. (A VALUE compare on a missing key always fails,
                // even against "".)
                None => json!({
                    "key": b64(key),
                    "target": "CREATE",
                    "result": "EQUAL",
                    "create_revision": "0",
                }),
            };
            let put = json!({ "request_put": { "key": b64(key), "value": b64(to) } });
            (
                "/v3/kv/txn",
                json!({ "compare": [compare], "success": [put] }),
            )
        }
        StoreOp::Contains { key } => (
            "/v3/kv/range",
            json!({ "key": b64(key), "count_only": true }),
        ),
        StoreOp::Remove { key } => ("/v3/kv/deleterange", json!({ "key": b64(key) })),
    }
}

/// An int64 field: a JSON string by the proto3 JSON mapping (a number is
/// accepted too); absent means 0, the proto default.
fn int_field(body: &Json, name: &str) -> Option<i64> {
    match body.get(name) {
        None | Some(Json::Null) => Some(0),
        Some(Json::String(s)) => s.parse().ok(),
        Some(Json::Number(n)) => n.as_i64(),
        Some(_) => None,
    }
}

/// A base64 field holding a string; absent means "" (the proto default,
/// which the gateway omits: a key set to "" has no `value`).
fn string_field(body: &Json, name: &str) -> Option<String> {
    match body.get(name) {
        None | Some(Json::Null) => Some(String::new()),
        Some(Json::String(s)) => String::from_utf8(BASE64.decode(s).ok()?).ok(),
        Some(_) => None,
    }
}

/// Maps a 200 reply. Every etcd reply carries a `header`; a 200 without
/// one is not from etcd and is not trusted.
fn reply(op: &StoreOp, status: u16, body: &Json) -> Result<StoreReply, StoreError> {
    if status != 200 {
        return Err(error_reply(status, body));
    }
    let bad = || StoreError::Indeterminate(format!("malformed etcd reply: {body}"));
    if !body.get("header").is_some_and(Json::is_object) {
        return Err(bad());
    }
    match op {
        StoreOp::Get { .. } => match body.get("kvs") {
            None | Some(Json::Null) => Ok(StoreReply::Value(None)),
            Some(Json::Array(kvs)) => match kvs.first() {
                None => Ok(StoreReply::Value(None)),
                Some(kv) => string_field(kv, "value")
                    .map(|v| StoreReply::Value(Some(v)))
                    .ok_or_else(bad),
            },
            Some(_) => Err(bad()),
        },
        StoreOp::Set { .. } => Ok(StoreReply::Done),
        // A failed compare leaves `succeeded` out (false is the default).
        StoreOp::Cas { .. } => match body.get("succeeded") {
            Some(Json::Bool(true)) => Ok(StoreReply::Done),
            None | Some(Json::Null) | Some(Json::Bool(false)) => Ok(StoreReply::CasMismatch),
            Some(_) => Err(bad()),
        },
        StoreOp::Contains { .. } => int_field(body, "count")
            .map(|n| StoreReply::Exists(Some(n > 0)))
            .ok_or_else(bad),
        StoreOp::Remove { .. } => int_field(body, "deleted")
            .map(|n| StoreReply::Exists(Some(n > 0)))
            .ok_or_else(bad),
    }
}

/// gRPC status codes the gateway puts in `code`.
mod grpc {
    pub const INVALID_ARGUMENT: i64 = 3;
    pub const PERMISSION_DENIED: i64 = 7;
    pub const RESOURCE_EXHAUSTED: i64 = 8;
    pub const OUT_OF_RANGE: i64 = 11;
    pub const UNAVAILABLE: i64 = 14;
    pub const UNAUTHENTICATED: i64 = 16;
}

/// Maps an error reply, `{"error": msg, "message": msg, "code": grpc}`.
/// Only what etcd refuses before a proposal reaches raft (or what raft
/// applies as a no-op) is definite; everything else may still be, or
/// already have been, committed. Reads get the same mapping; the workload
/// decides what a failed read means.
fn error_reply(status: u16, body: &Json) -> StoreError {
    let code = body.get("code").and_then(Json::as_i64);
    let text = body
        .get("error")
        .or_else(|| body.get("message"))
        .and_then(Json::as_str)
        .or_else(|| body.as_str())
        .unwrap_or("");
    let message = match code {
        Some(c) => format!("etcd {status} (grpc {c}): {text}"),
        None => format!("etcd {status}: {text}"),
    };
    let definite = match code {
        // Request validation in the gRPC layer: a malformed body, bad
        // base64, an empty key, a request too large, duplicate keys in a
        // txn. Rejected before etcdserver proposes anything.
        Some(grpc::INVALID_ARGUMENT) => true,
        // "too many requests" (apply lagging commit by 5000 entries) and
        // "database space exceeded" are checked before proposing; under a
        // NOSPACE alarm a committed write is applied as a no-op. gRPC's own
        // "message too large" is refused before the handler runs.
        Some(grpc::RESOURCE_EXHAUSTED) => true,
        // Authentication is checked before proposing; permission for a
        // write is checked again when applying, where a denied request
        // changes nothing. (Neither occurs without auth enabled.)
        Some(grpc::UNAUTHENTICATED | grpc::PERMISSION_DENIED) => true,
        // Compacted or future revision: only reads at a revision, which
        // change nothing.
        Some(grpc::OUT_OF_RANGE) => true,
        Some(grpc::UNAVAILABLE) => matches!(
            text,
            // The interceptor's answer to `hasleader` when the member knows
            // no leader, before the request reaches the server.
            "etcdserver: no leader"
                // Interceptor refusals as well: the v3 API not enabled yet,
                // or a learner asked for a write.
                | "etcdserver: not capable"
                | "etcdserver: rpc not supported for learner"
        ),
        // Everything else is unknown:
        // - 14 "request timed out" and its "possibly due to previous leader
        //   failure" / "connection lost" variants: the proposal was handed
        //   to raft and may still commit (seen: a put that timed out while
        //   a majority was paused was applied once they resumed);
        // - 14 "leader changed": a read-index failure, never a write's; kept
        //   indeterminate in case that changes;
        // - 14 "server stopped", 1 "request cancelled": after proposing;
        // - 2 "context deadline exceeded": raft's Propose gave up, usually
        //   while waiting for a leader, but possibly after handing over;
        // - anything else, including 14 from the gateway failing to reach
        //   its own member.
        Some(_) => false,
        // No gRPC status: the gateway's router refused the path or method
        // (404, 405) before calling etcd; anything else is unknown.
        None => (400..500).contains(&status),
    };
    if definite {
        StoreError::Definite(message)
    } else {
        StoreError::Indeterminate(message)
    }
}

impl KvClient for EtcdClient {
    fn call(&self, op: StoreOp) -> BoxFuture<'_, Result<StoreReply, StoreError>> {
        Box::pin(async move {
            let (path, body) = request(&op);
            let (status, body) = self.post(path, &body).await?;
            reply(&op, status, &body)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get() -> StoreOp {
        StoreOp::Get { key: "k".into() }
    }

    fn cas(from: Option<&str>) -> StoreOp {
        StoreOp::Cas {
            key: "k".into(),
            from: from.map(String::from),
            to: "2".into(),
        }
    }

    /// A reply header as etcd 3.4 sends it.
    fn header() -> Json {
        json!({"cluster_id": "11652804786072892431", "member_id": "6090535317558273548", "revision": "7", "raft_term": "2"})
    }

    fn with_header(mut body: Json) -> Json {
        body["header"] = header();
        body
    }

    #[test]
    fn base64_round_trips() {
        for s in ["", "k", "ключ", "a b/c=d", "\u{0}\u{7f}"] {
            let encoded = b64(s);
            assert_eq!(
                string_field(&json!({ "value": encoded }), "value").as_deref(),
                Some(s)
            );
        }
        assert_eq!(b64("k"), "aw==");
        assert_eq!(
            string_field(&json!({"value": "not base64!"}), "value"),
            None
        );
        // Valid base64 of bytes that are not UTF-8.
        assert_eq!(
            string_field(&json!({"value": BASE64.encode([0xff, 0xfe])}), "value"),
            None
        );
    }

    #[test]
    fn requests_have_the_gateway_shape() {
        assert_eq!(request(&get()), ("/v3/kv/range", json!({"key": "aw=="})));
        let set = StoreOp::Set {
            key: "k".into(),
            value: "v1".into(),
        };
        assert_eq!(
            request(&set),
            ("/v3/kv/put", json!({"key": "aw==", "value": "djE="}))
        );
        let (path, body) = request(&cas(Some("1")));
        assert_eq!(path, "/v3/kv/txn");
        assert_eq!(
            body,
            json!({
                "compare": [{"key": "aw==", "target": "VALUE", "result": "EQUAL", "value": "MQ=="}],
                "success": [{"request_put": {"key": "aw==", "value": "Mg=="}}],
            })
        );
        let (_, body) = request(&cas(None));
        assert_eq!(
            body["compare"],
            json!([{"key": "aw==", "target": "CREATE", "result": "EQUAL", "create_revision": "0"}])
        );
        let contains = StoreOp::Contains { key: "k".into() };
        assert_eq!(
            request(&contains),
            ("/v3/kv/range", json!({"key": "aw==", "count_only": true}))
        );
        let remove = StoreOp::Remove { key: "k".into() };
        assert_eq!(
            request(&remove),
            ("/v3/kv/deleterange", json!({"key": "aw=="}))
        );
    }

    #[test]
    fn gets_decode_values_and_absence() {
        let found = with_header(json!({
            "kvs": [{"key": "aw==", "create_revision": "2", "mod_revision": "2", "version": "1", "value": "djE="}],
            "count": "1",
        }));
        assert_eq!(
            reply(&get(), 200, &found),
            Ok(StoreReply::Value(Some("v1".into())))
        );
        // A missing key: etcd leaves out `kvs` and `count`.
        assert_eq!(
            reply(&get(), 200, &with_header(json!({}))),
            Ok(StoreReply::Value(None))
        );
        assert_eq!(
            reply(&get(), 200, &with_header(json!({"kvs": []}))),
            Ok(StoreReply::Value(None))
        );
        // A key holding "": etcd leaves out `value`.
        let empty = with_header(json!({"kvs": [{"key": "aw==", "version": "1"}], "count": "1"}));
        assert_eq!(
            reply(&get(), 200, &empty),
            Ok(StoreReply::Value(Some(String::new())))
        );
        let garbled = with_header(json!({"kvs": [{"key": "aw==", "value": "%%%"}]}));
        assert!(matches!(
            reply(&get(), 200, &garbled),
            Err(StoreError::Indeterminate(_))
        ));
    }

    #[test]
    fn writes_and_counts_map() {
        let set = StoreOp::Set {
            key: "k".into(),
            value: "v".into(),
        };
        assert_eq!(
            reply(&set, 200, &with_header(json!({}))),
            Ok(StoreReply::Done)
        );
        let contains = StoreOp::Contains { key: "k".into() };
        assert_eq!(
            reply(&contains, 200, &with_header(json!({"count": "1"}))),
            Ok(StoreReply::Exists(Some(true)))
        );
        assert_eq!(
            reply(&contains, 200, &with_header(json!({}))),
            Ok(StoreReply::Exists(Some(false)))
        );
        assert_eq!(
            reply(&contains, 200, &with_header(json!({"count": 3}))),
            Ok(StoreReply::Exists(Some(true)))
        );
        let bad = with_header(json!({"count": "many"}));
        assert!(matches!(
            reply(&contains, 200, &bad),
            Err(StoreError::Indeterminate(_))
        ));
        let remove = StoreOp::Remove { key: "k".into() };
        assert_eq!(
            reply(&remove, 200, &with_header(json!({"deleted": "1"}))),
            Ok(StoreReply::Exists(Some(true)))
        );
        assert_eq!(
            reply(&remove, 200, &with_header(json!({}))),
            Ok(StoreReply::Exists(Some(false)))
        );
    }

    #[test]
    fn txns_map_by_succeeded() {
        let won = with_header(json!({
            "succeeded": true,
            "responses": [{"response_put": {"header": {"revision": "3"}}}],
        }));
        assert_eq!(reply(&cas(Some("1")), 200, &won), Ok(StoreReply::Done));
        // A failed compare: etcd leaves out `succeeded` (and `responses`).
        assert_eq!(
            reply(&cas(Some("1")), 200, &with_header(json!({}))),
            Ok(StoreReply::CasMismatch)
        );
        assert_eq!(
            reply(&cas(None), 200, &with_header(json!({"succeeded": false}))),
            Ok(StoreReply::CasMismatch)
        );
    }

    #[test]
    fn a_200_without_a_header_is_not_trusted() {
        // Otherwise an empty reply from something that is not etcd would
        // read as a cas mismatch or an absent key.
        for op in [get(), cas(Some("1"))] {
            assert!(matches!(
                reply(&op, 200, &json!({})),
                Err(StoreError::Indeterminate(_))
            ));
            assert!(matches!(
                reply(&op, 200, &Json::Null),
                Err(StoreError::Indeterminate(_))
            ));
        }
    }

    #[test]
    fn errors_are_definite_only_before_proposing() {
        let err = |code: i64, msg: &str| json!({"error": msg, "message": msg, "code": code});
        let definite = [
            (503, err(14, "etcdserver: no leader")),
            (503, err(14, "etcdserver: not capable")),
            (400, err(3, "etcdserver: key is not provided")),
            (400, err(3, "illegal base64 data at input byte 9")),
            (400, err(3, "etcdserver: request is too large")),
            (429, err(8, "etcdserver: too many requests")),
            (429, err(8, "etcdserver: mvcc: database space exceeded")),
            (
                400,
                err(11, "etcdserver: mvcc: required revision has been compacted"),
            ),
            // The gateway's router, before etcd is called.
            (404, json!("Not Found")),
        ];
        for (status, body) in definite {
            let got = reply(&cas(Some("1")), status, &body);
            assert!(
                matches!(got, Err(StoreError::Definite(_))),
                "{status} {body}: {got:?}"
            );
        }
        let indeterminate = [
            (503, err(14, "etcdserver: request timed out")),
            (
                503,
                err(
                    14,
                    "etcdserver: request timed out, possibly due to previous leader failure",
                ),
            ),
            (
                503,
                err(
                    14,
                    "etcdserver: request timed out, possibly due to connection lost",
                ),
            ),
            (503, err(14, "etcdserver: leader changed")),
            (503, err(14, "etcdserver: server stopped")),
            (503, err(14, "all SubConns are in TransientFailure")),
            (500, err(2, "context deadline exceeded")),
            (408, err(1, "etcdserver: request cancelled")),
            (500, err(15, "etcdserver: corrupt cluster")),
            (502, json!("Bad Gateway")),
            (500, Json::Null),
        ];
        for (status, body) in indeterminate {
            let got = reply(&cas(Some("1")), status, &body);
            assert!(
                matches!(got, Err(StoreError::Indeterminate(_))),
                "{status} {body}: {got:?}"
            );
        }
    }

    #[test]
    fn error_messages_keep_etcds_words() {
        let body = json!({"error": "etcdserver: no leader", "message": "etcdserver: no leader", "code": 14});
        assert_eq!(
            error_reply(503, &body),
            StoreError::Definite("etcd 503 (grpc 14): etcdserver: no leader".into())
        );
        assert_eq!(parse_body(b"Not Found\n"), json!("Not Found"));
        assert_eq!(parse_body(b"{\"code\": 3}"), json!({"code": 3}));
    }
}
