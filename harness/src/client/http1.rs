//! The request path every client operation takes: keep-alive HTTP/1.1
//! POSTs to one node, on hyper's connection API.
//!
//! reqwest (still used for the harness's control calls) parses a URL,
//! looks up a pool and arms a timer of its own on every request; at the
//! rates `skeptic bench` drives, that cost the load generator about as
//! much CPU as the bundled store spends serving the request. Here a call
//! takes an idle connection, writes one request and reads one reply.
//!
//! Outcomes are mapped as the clients need them: a call whose request never
//! left (a refused or timed-out connect, a connection that closed before
//! the request was written) is a definite refusal; once the request may
//! have been written, any failure leaves the outcome unknown.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;
use workloads::store::StoreError;

/// Idle connections kept per node; more are closed when they come back
/// (a closed-loop worker uses one; an open loop opens what it needs).
pub const IDLE_MAX: usize = 16;

/// Longest connect, whatever the call's timeout: a dead node is seen fast.
pub const CONNECT_TIMEOUT_MAX: Duration = Duration::from_millis(500);

/// Largest reply body read; a bigger one leaves the outcome unknown.
pub const REPLY_BYTES_MAX: usize = 4 << 20;

/// A base URL this client cannot speak to.
#[derive(Debug, thiserror::Error)]
#[error("bad base URL {base:?}: {why}")]
pub struct BadBase {
    base: String,
    why: String,
}

/// A reply: its status and whole body.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Bytes,
}

/// A keep-alive HTTP/1.1 client of one node.
#[derive(Debug)]
pub struct Http1Client {
    /// `host:port`, to connect to.
    addr: String,
    /// The `Host` header.
    host: HeaderValue,
    /// The base URL's path (without a trailing `/`), put before each path.
    prefix: String,
    timeout: Duration,
    connect_timeout: Duration,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

impl Http1Client {
    /// A client of `base` (`http://HOST:PORT[/PREFIX]`), every call bounded
    /// by `timeout`.
    pub fn new(base: &str, timeout: Duration) -> Result<Http1Client, BadBase> {
        let bad = |why: &str| BadBase {
            base: base.to_string(),
            why: why.to_string(),
        };
        let uri: Uri = base
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        if uri.scheme_str() != Some("http") {
            return Err(bad("only http:// is supported"));
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        let host = authority.host();
        let host_header =
            HeaderValue::from_str(authority.as_str()).map_err(|e| bad(&e.to_string()))?;
        Ok(Http1Client {
            addr: format!("{host}:{port}"),
            host: host_header,
            prefix: uri.path().trim_end_matches('/').to_string(),
            timeout,
            connect_timeout: timeout.min(CONNECT_TIMEOUT_MAX),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// POSTs a JSON `body` to `path` (with one `extra` header, if given)
    /// and reads the whole reply.
    pub async fn post(
        &self,
        path: &'static str,
        extra: Option<(HeaderName, HeaderValue)>,
        body: Vec<u8>,
    ) -> Result<Reply, StoreError> {
        let deadline = Instant::now() + self.timeout;
        // Without a prefix the path is used as it is, not copied.
        let uri = if self.prefix.is_empty() {
            Uri::from_maybe_shared(Bytes::from_static(path.as_bytes()))
        } else {
            Uri::try_from(format!("{}{path}", self.prefix))
        }
        .map_err(|e| StoreError::Definite(format!("bad path {path:?}: {e}")))?;
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some((name, value)) = extra {
            builder = builder.header(name, value);
        }
        let mut request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| StoreError::Definite(format!("cannot build the request: {e}")))?;
        // An idle connection the node has closed hands the request back
        // unsent; it then goes once more, on a fresh connection.
        let mut reused = true;
        loop {
            let mut sender = match self.take_idle() {
                Some(s) => s,
                None => {
                    reused = false;
                    self.connect(deadline).await?
                }
            };
            let sent = tokio::time::timeout_at(deadline, sender.try_send_request(request)).await;
            let response = match sent {
                Err(_) => return Err(StoreError::Indeterminate("timeout".into())),
                Ok(Ok(response)) => response,
                Ok(Err(mut e)) => match e.take_message() {
                    Some(unsent) if reused => {
                        request = unsent;
                        continue;
                    }
                    Some(_) => {
                        return Err(StoreError::Definite(format!(
                            "connection closed before the request was sent: {}",
                            error_chain(e.error())
                        )))
                    }
                    None => return Err(StoreError::Indeterminate(error_chain(e.error()))),
                },
            };
            let status = response.status().as_u16();
            let read = Limited::new(response.into_body(), REPLY_BYTES_MAX).collect();
            // A body that does not arrive whole leaves the outcome unknown.
            let body = match tokio::time::timeout_at(deadline, read).await {
                Err(_) => return Err(StoreError::Indeterminate("timeout".into())),
                Ok(Err(e)) => return Err(StoreError::Indeterminate(error_chain(&*e))),
                Ok(Ok(collected)) => collected.to_bytes(),
            };
            self.put_idle(sender);
            return Ok(Reply { status, body });
        }
    }

    fn take_idle(&self) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(s) = idle.pop() {
            if s.is_ready() {
                return Some(s);
            }
        }
        None
    }

    fn put_idle(&self, sender: SendRequest<Full<Bytes>>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < IDLE_MAX {
            idle.push(sender);
        }
    }

    /// A fresh connection; failing, the request never left.
    async fn connect(&self, deadline: Instant) -> Result<SendRequest<Full<Bytes>>, StoreError> {
        let by = deadline.min(Instant::now() + self.connect_timeout);
        let stream =
            match tokio::time::timeout_at(by, tokio::net::TcpStream::connect(&self.addr)).await {
                Err(_) => return Err(StoreError::Definite("connect timeout".into())),
                Ok(Err(e)) => return Err(StoreError::Definite(format!("connect: {e}"))),
                Ok(Ok(stream)) => stream,
            };
        // Requests are small and each waits for its answer: Nagle would
        // only hold them back.
        stream
            .set_nodelay(true)
            .map_err(|e| StoreError::Definite(format!("connect: {e}")))?;
        let handshake = hyper::client::conn::http1::handshake(TokioIo::new(stream));
        let (sender, connection) = match tokio::time::timeout_at(by, handshake).await {
            Err(_) => return Err(StoreError::Definite("connect timeout".into())),
            Ok(Err(e)) => return Err(StoreError::Definite(format!("connect: {e}"))),
            Ok(Ok(pair)) => pair,
        };
        // The connection's task ends when its last sender is dropped or
        // the node closes it.
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended");
            }
        });
        Ok(sender)
    }
}

/// An error and its causes on one line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A listener on a free loopback port, and its base URL.
    async fn listen() -> (TcpListener, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        (listener, base)
    }

    /// A server that answers each request on a connection with `reply`,
    /// closing each connection after `per_connection` answers; it returns
    /// how many connections it accepted.
    async fn server(
        reply: &'static str,
        per_connection: usize,
    ) -> (String, tokio::task::JoinHandle<usize>) {
        let (listener, base) = listen().await;
        let task = tokio::spawn(async move {
            let mut accepted = 0;
            while let Ok(Ok((mut s, _))) =
                tokio::time::timeout(Duration::from_millis(500), listener.accept()).await
            {
                accepted += 1;
                let mut buf = vec![0u8; 4096];
                for _ in 0..per_connection {
                    // Each test request fits in one read.
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{reply}",
                        reply.len()
                    );
                    if s.write_all(answer.as_bytes()).await.is_err() {
                        break;
                    }
                }
            }
            accepted
        });
        (base, task)
    }

    #[tokio::test]
    async fn calls_reuse_one_connection() {
        let (base, server) = server("{\"ok\":true}", usize::MAX).await;
        let client = Http1Client::new(&base, Duration::from_secs(2)).expect("client");
        for _ in 0..5 {
            let r = client
                .post("/kv/set", None, b"{}".to_vec())
                .await
                .expect("ok");
            assert_eq!(r.status, 200);
            assert_eq!(&r.body[..], b"{\"ok\":true}");
        }
        drop(client);
        assert_eq!(server.await.expect("server"), 1);
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_replaced() {
        let (base, server) = server("{}", 1).await;
        let client = Http1Client::new(&base, Duration::from_secs(2)).expect("client");
        for _ in 0..3 {
            let r = client.post("/x", None, Vec::new()).await.expect("ok");
            assert_eq!(r.status, 200);
            // Until the hang-up reaches the idle connection, a request
            // could still be written to it and its outcome be unknown.
            let mut spins = 0;
            while client
                .idle
                .lock()
                .expect("lock")
                .iter()
                .any(|s| !s.is_closed())
            {
                spins += 1;
                assert!(spins < 1_000_000, "the hang-up never arrived");
                tokio::task::yield_now().await;
            }
        }
        drop(client);
        assert_eq!(server.await.expect("server"), 3);
    }

    #[tokio::test]
    async fn a_refused_connect_is_definite() {
        let (listener, base) = listen().await;
        drop(listener);
        let client = Http1Client::new(&base, Duration::from_secs(2)).expect("client");
        match client.post("/x", None, Vec::new()).await {
            Err(StoreError::Definite(m)) => assert!(m.starts_with("connect"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn no_answer_in_time_is_indeterminate() {
        let (listener, base) = listen().await;
        // Accepts and reads, never answers.
        let silent = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        });
        let client = Http1Client::new(&base, Duration::from_millis(200)).expect("client");
        match client.post("/x", None, b"{}".to_vec()).await {
            Err(StoreError::Indeterminate(m)) => assert_eq!(m, "timeout"),
            other => panic!("{other:?}"),
        }
        drop(client);
        silent.abort();
    }

    #[tokio::test]
    async fn a_torn_reply_is_indeterminate() {
        let (listener, base) = listen().await;
        let torn = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut buf = vec![0u8; 4096];
            let _ = s.read(&mut buf).await;
            // Promises 100 bytes, sends 2, hangs up.
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{}")
                .await;
        });
        let client = Http1Client::new(&base, Duration::from_secs(2)).expect("client");
        assert!(matches!(
            client.post("/x", None, b"{}".to_vec()).await,
            Err(StoreError::Indeterminate(_))
        ));
        torn.await.expect("server");
    }

    #[test]
    fn bases_are_checked() {
        assert!(Http1Client::new("https://127.0.0.1:1", Duration::from_secs(1)).is_err());
        assert!(Http1Client::new("not a url", Duration::from_secs(1)).is_err());
        let c = Http1Client::new("http://127.0.0.1:7/api/", Duration::from_secs(1)).expect("ok");
        assert_eq!(c.addr, "127.0.0.1:7");
        assert_eq!(c.prefix, "/api");
    }
}
