//! `skeptic serve`: a read-only browser of a results store. The pages are
//! made from the store at each request ([`index`], [`pages`]); files are
//! served only from inside it. Nothing here writes.

pub mod index;
pub mod pages;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use pages::ListView;
use std::path::PathBuf;
use std::sync::Arc;

/// The server's state: where the store is.
#[derive(Clone)]
struct Store(Arc<PathBuf>);

/// A JSON error with its status.
fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// The query's `key=value` pairs (values percent-decoded).
fn query(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| Some(hex(bytes[i + 1])? * 16 + hex(bytes[i + 2])?))
            .flatten();
        match (bytes[i], escaped) {
            (_, Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (b, None) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The run list's view from the query, or what is wrong with it.
fn list_view(q: &[(String, String)]) -> Result<ListView, String> {
    let mut view = ListView {
        verdict: None,
        sort: "time".into(),
        asc: false,
    };
    for (k, v) in q {
        match k.as_str() {
            "verdict" => view.verdict = Some(v.clone()),
            "sort" if pages::SORTS.contains(&v.as_str()) => view.sort = v.clone(),
            "sort" => return Err(format!("sort by one of {}", pages::SORTS.join(", "))),
            "order" if v == "asc" || v == "desc" => view.asc = v == "asc",
            "order" => return Err("order is asc or desc".into()),
            other => return Err(format!("unknown parameter {other:?}")),
        }
    }
    Ok(view)
}

async fn runs(State(store): State<Store>, uri: Uri) -> Response {
    match list_view(&query(&uri)) {
        Ok(view) => Html(pages::runs_page(&index::test_runs(&store.0), &view)).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, &e),
    }
}

async fn runs_json(State(store): State<Store>) -> Response {
    Json(index::test_runs(&store.0)).into_response()
}

async fn campaigns(State(store): State<Store>) -> Response {
    Html(pages::campaigns_page(&index::campaigns(&store.0))).into_response()
}

async fn bench(State(store): State<Store>) -> Response {
    Html(pages::bench_page(&index::bench_runs(&store.0))).into_response()
}

fn content_type(path: &std::path::Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        "xml" => "application/xml",
        "md" | "txt" | "log" | "jsonl" | "edn" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

async fn file(State(store): State<Store>, UrlPath(requested): UrlPath<String>) -> Response {
    let Some(path) = index::resolve(&store.0, &requested) else {
        return error(StatusCode::NOT_FOUND, "no such file in the store");
    };
    if path.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(&path)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let base = requested.trim_end_matches('/');
        let items: String = names
            .iter()
            .map(|n| {
                format!(
                    "<li><a href=\"/files/{}/{}\">{}</a></li>",
                    pages::url_path(base),
                    pages::url_path(n),
                    pages::esc(n)
                )
            })
            .collect();
        return Html(format!("<!doctype html><ul>{items}</ul>")).into_response();
    }
    match std::fs::read(&path) {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type(&path))], bytes).into_response(),
        Err(_) => error(StatusCode::NOT_FOUND, "no such file in the store"),
    }
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such page (try /, /campaigns, /bench)",
    )
}

/// The browser's routes over `store`.
pub fn router(store: PathBuf) -> Router {
    Router::new()
        .route("/", get(runs))
        .route("/api/runs", get(runs_json))
        .route("/campaigns", get(campaigns))
        .route("/bench", get(bench))
        .route("/files/{*path}", get(file))
        .fallback(not_found)
        .with_state(Store(Arc::new(store)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_and_bad_ones_are_refused() {
        let uri: Uri = "/?verdict=not%20run&sort=p99&order=asc"
            .parse()
            .expect("uri");
        let v = list_view(&query(&uri)).expect("valid");
        assert_eq!(v.verdict.as_deref(), Some("not run"));
        assert_eq!((v.sort.as_str(), v.asc), ("p99", true));
        for bad in ["/?sort=colour", "/?order=up", "/?page=2"] {
            let uri: Uri = bad.parse().expect("uri");
            assert!(list_view(&query(&uri)).is_err(), "{bad}");
        }
        assert_eq!(decode("a%2"), "a%2");
        assert_eq!(decode("%zz"), "%zz");
    }
}
