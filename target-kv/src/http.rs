//! The client API: HTTP/JSON on axum. Every error is JSON and says whether
//! the operation definitely did not happen (`"definite": true`, the
//! harness records `fail`) or may have (`false`, recorded `info`).
//!
//! Endpoints (see `target-kv/README.md`): `POST /kv/get`, `/kv/set`,
//! `/kv/contains`, `/kv/remove`, `/kv/cas`; `GET /status`; with
//! `--fault-hooks`, `POST /fault/block`, `/fault/unblock`, `/fault/heal`,
//! `/fault/clock`, `/fault/clock/reset`.

use crate::kv::{Command, KvOp, KvResult};
use crate::node::{Call, NodeHandle, Status};
use crate::paxos::{ErrorCode, NodeId, Reply};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Longest key, in bytes.
pub const KEY_BYTES_MAX: usize = 1024;
/// Longest value, in bytes.
pub const VALUE_BYTES_MAX: usize = 64 * 1024;
/// Largest request body.
const BODY_BYTES_MAX: usize = 2 * VALUE_BYTES_MAX + 4096;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    node: Arc<NodeHandle>,
    op_timeout: Duration,
}

/// The router for a node. `fault_hooks` adds the fault endpoints (only
/// allowed when the node listens on loopback; the caller checks that).
pub fn router(node: Arc<NodeHandle>, op_timeout: Duration, fault_hooks: bool) -> Router {
    let state = ApiState { node, op_timeout };
    let mut r = Router::new()
        .route("/kv/get", post(kv_get))
        .route("/kv/set", post(kv_set))
        .route("/kv/contains", post(kv_contains))
        .route("/kv/remove", post(kv_remove))
        .route("/kv/cas", post(kv_cas))
        .route("/status", get(status));
    if fault_hooks {
        r = r
            .route("/fault/block", post(fault_block))
            .route("/fault/unblock", post(fault_unblock))
            .route("/fault/heal", post(fault_heal))
            .route("/fault/clock", post(fault_clock))
            .route("/fault/clock/reset", post(fault_clock_reset));
    }
    r.fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .with_state(state)
}

/// A JSON error reply.
fn error(status: StatusCode, code: &str, definite: bool, message: impl Into<String>) -> Response {
    let body = json!({ "error": code, "definite": definite, "message": message.into() });
    (status, Json(body)).into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", true, "no such endpoint")
}

fn bad_json(rejection: JsonRejection) -> Response {
    let status = rejection.status();
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "too_large"
    } else {
        "bad_request"
    };
    error(status, code, true, rejection.body_text())
}

// A request's session (`client`, `seq`: at-most-once application of
// retries) is optional; its fields are spelled out in each request rather
// than flattened in: serde's `flatten` buffers every field of the request
// before parsing it, which costs more than the rest of the decoding.
#[derive(Debug, Deserialize)]
struct KeyReq {
    key: String,
    #[serde(default)]
    client: u64,
    #[serde(default)]
    seq: u64,
}

#[derive(Debug, Deserialize)]
struct SetReq {
    key: String,
    value: String,
    #[serde(default)]
    client: u64,
    #[serde(default)]
    seq: u64,
}

#[derive(Debug, Deserialize)]
struct CasReq {
    key: String,
    from: Option<String>,
    to: String,
    #[serde(default)]
    client: u64,
    #[serde(default)]
    seq: u64,
}

fn check_sizes(key: &str, values: &[&str]) -> Option<Response> {
    if key.len() > KEY_BYTES_MAX {
        return Some(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            true,
            format!("key longer than {KEY_BYTES_MAX} bytes"),
        ));
    }
    if values.iter().any(|v| v.len() > VALUE_BYTES_MAX) {
        return Some(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            true,
            format!("value longer than {VALUE_BYTES_MAX} bytes"),
        ));
    }
    None
}

/// Hands a command of session (`client`, `seq`) to the core and waits
/// (bounded) for its answer.
async fn submit(state: &ApiState, client: u64, seq: u64, op: KvOp) -> Response {
    // Without a session (client 0) the node's shell gives the command a
    // sequence number of its own.
    let command = Command { client, seq, op };
    let (tx, rx) = oneshot::channel();
    let call = Call { command, reply: tx };
    // The queue is bounded: a full queue is a definite refusal.
    if state.node.calls.try_send(call).is_err() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            true,
            "the node's request queue is full",
        );
    }
    match tokio::time::timeout(state.op_timeout, rx).await {
        Err(_) => error(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            false,
            "no answer in time; the operation may still happen",
        ),
        Ok(Err(_)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            false,
            "the node stopped before answering",
        ),
        Ok(Ok(reply)) => reply_response(reply),
    }
}

#[derive(serde::Serialize)]
struct ValueBody {
    value: Option<String>,
}

#[derive(serde::Serialize)]
struct ExistsBody {
    exists: bool,
}

#[derive(serde::Serialize)]
struct OkBody {
    ok: bool,
}

fn reply_response(reply: Reply) -> Response {
    match reply {
        // Typed bodies: a `json!` value would build a map per answer.
        Reply::Ok(KvResult::Value { value }) => Json(ValueBody { value }).into_response(),
        Reply::Ok(KvResult::Exists { exists }) => Json(ExistsBody { exists }).into_response(),
        Reply::Ok(KvResult::Done) => Json(OkBody { ok: true }).into_response(),
        Reply::Ok(KvResult::CasMismatch { current }) => {
            let body = json!({ "error": "cas_mismatch", "definite": true, "current": current });
            (StatusCode::PRECONDITION_FAILED, Json(body)).into_response()
        }
        Reply::Ok(KvResult::Superseded) => error(
            StatusCode::CONFLICT,
            "superseded",
            false,
            "a newer request of this client was applied; this one was applied earlier and its result is gone",
        ),
        Reply::Error { code, definite } => {
            let name = match code {
                ErrorCode::NoLeader => "no_leader",
                ErrorCode::Busy => "busy",
                ErrorCode::LeaderChanged => "leader_changed",
                ErrorCode::Expired => "expired",
            };
            error(StatusCode::SERVICE_UNAVAILABLE, name, definite, "not done")
        }
    }
}

/// A request naming just a key: parse, check, submit.
async fn key_op(
    s: ApiState,
    body: Result<Json<KeyReq>, JsonRejection>,
    op: fn(String) -> KvOp,
) -> Response {
    let Json(r) = match body {
        Ok(b) => b,
        Err(e) => return bad_json(e),
    };
    if let Some(resp) = check_sizes(&r.key, &[]) {
        return resp;
    }
    submit(&s, r.client, r.seq, op(r.key)).await
}

async fn kv_get(State(s): State<ApiState>, body: Result<Json<KeyReq>, JsonRejection>) -> Response {
    key_op(s, body, |key| KvOp::Get { key }).await
}

async fn kv_contains(
    State(s): State<ApiState>,
    body: Result<Json<KeyReq>, JsonRejection>,
) -> Response {
    key_op(s, body, |key| KvOp::Contains { key }).await
}

async fn kv_remove(
    State(s): State<ApiState>,
    body: Result<Json<KeyReq>, JsonRejection>,
) -> Response {
    key_op(s, body, |key| KvOp::Remove { key }).await
}

async fn kv_set(State(s): State<ApiState>, body: Result<Json<SetReq>, JsonRejection>) -> Response {
    let Json(r) = match body {
        Ok(b) => b,
        Err(e) => return bad_json(e),
    };
    if let Some(resp) = check_sizes(&r.key, &[&r.value]) {
        return resp;
    }
    submit(
        &s,
        r.client,
        r.seq,
        KvOp::Set {
            key: r.key,
            value: r.value,
        },
    )
    .await
}

async fn kv_cas(State(s): State<ApiState>, body: Result<Json<CasReq>, JsonRejection>) -> Response {
    let Json(r) = match body {
        Ok(b) => b,
        Err(e) => return bad_json(e),
    };
    let from = r.from.as_deref().unwrap_or("");
    if let Some(resp) = check_sizes(&r.key, &[from, &r.to]) {
        return resp;
    }
    submit(
        &s,
        r.client,
        r.seq,
        KvOp::Cas {
            key: r.key,
            from: r.from,
            to: r.to,
        },
    )
    .await
}

async fn status(State(s): State<ApiState>) -> Response {
    let st: Status = s.node.status.borrow().clone();
    let reachable: BTreeMap<NodeId, bool> = s.node.reachable.borrow().clone();
    let (offset_ms, rate) = s.node.clock.state();
    Json(json!({
        "id": st.id,
        "role": st.role,
        "ballot": { "round": st.ballot.0, "node": st.ballot.1 },
        "promised": { "round": st.promised.0, "node": st.promised.1 },
        "leader": st.leader,
        "last_chosen": st.first_unchosen.checked_sub(1),
        "last_applied": st.applied.checked_sub(1),
        "consensus": st.consensus,
        "reads": st.reads,
        "reachable": reachable,
        "blocked": s.node.blocked.blocked(),
        "clock": { "offset_ms": offset_ms, "rate": rate },
        // The process's wall clock, as libc gives it: what an outside
        // clock fault (libfaketime) moves; the harness compares it with
        // its own to see such a fault take effect.
        "wall_ms": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
struct Peers {
    peers: Vec<NodeId>,
}

async fn fault_block(
    State(s): State<ApiState>,
    body: Result<Json<Peers>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(p)) => {
            s.node.blocked.block(&p.peers);
            Json(json!({ "blocked": s.node.blocked.blocked() })).into_response()
        }
        Err(e) => bad_json(e),
    }
}

async fn fault_unblock(
    State(s): State<ApiState>,
    body: Result<Json<Peers>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(p)) => {
            s.node.blocked.unblock(&p.peers);
            Json(json!({ "blocked": s.node.blocked.blocked() })).into_response()
        }
        Err(e) => bad_json(e),
    }
}

async fn fault_heal(State(s): State<ApiState>) -> Response {
    s.node.blocked.unblock_all();
    Json(json!({ "blocked": [] })).into_response()
}

#[derive(Debug, Deserialize)]
struct ClockReq {
    #[serde(default)]
    offset_ms: i64,
    #[serde(default = "one")]
    rate: f64,
}

fn one() -> f64 {
    1.0
}

async fn fault_clock(
    State(s): State<ApiState>,
    body: Result<Json<ClockReq>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(c)) if c.rate.is_finite() && c.rate >= 0.0 => {
            s.node.clock.skew(c.offset_ms, c.rate);
            let (offset_ms, rate) = s.node.clock.state();
            Json(json!({ "offset_ms": offset_ms, "rate": rate })).into_response()
        }
        Ok(Json(_)) => error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            true,
            "rate must be a finite number >= 0",
        ),
        Err(e) => bad_json(e),
    }
}

async fn fault_clock_reset(State(s): State<ApiState>) -> Response {
    s.node.clock.reset();
    Json(json!({ "offset_ms": 0, "rate": 1.0 })).into_response()
}
