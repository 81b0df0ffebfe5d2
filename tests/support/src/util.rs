//! Plumbing shared by both fakes: the HTTP server loop, request recording, a
//! settable clock, random tokens, PKCE and small formatting helpers; and, for
//! the tests that use the fakes, a free port and an answer's text.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use crate::faults::Faults;

/// One request as the fake received it. `form` holds the decoded
/// `application/x-www-form-urlencoded` body (empty for other bodies), `query`
/// the decoded query string.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub form: Vec<(String, String)>,
    pub body: String,
}

impl RecordedRequest {
    /// First header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        lookup_ci(&self.headers, name)
    }

    /// First form field with this name.
    pub fn form_value(&self, name: &str) -> Option<&str> {
        lookup(&self.form, name)
    }

    /// First query parameter with this name.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        lookup(&self.query, name)
    }

    /// `(client_id, client_secret)` from an `Authorization: Basic` header.
    pub fn basic_auth(&self) -> Option<(String, String)> {
        parse_basic(self.header("authorization")?)
    }

    /// The token of an `Authorization: Bearer` header.
    pub fn bearer(&self) -> Option<&str> {
        let v = self.header("authorization")?;
        let (scheme, rest) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    }
}

pub(crate) fn lookup<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// First value of a header named `name` (case-insensitive).
pub(crate) fn lookup_ci<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

pub(crate) fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

pub(crate) fn decode_pairs(s: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl RecordedRequest {
    pub(crate) fn from_parts(
        method: &Method,
        uri: &axum::http::Uri,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Self {
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let body_text = String::from_utf8_lossy(body).into_owned();
        RecordedRequest {
            method: method.to_string(),
            path: uri.path().to_string(),
            query: decode_pairs(uri.query().unwrap_or("")),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            form: if is_form {
                decode_pairs(&body_text)
            } else {
                Vec::new()
            },
            body: body_text,
        }
    }
}

/// The fakes' notion of "now": wall clock plus a settable offset, so tests can
/// jump forward in time (token expiry, code expiry, rate-limit windows).
#[derive(Clone, Debug, Default)]
pub(crate) struct Clock {
    offset: ChronoDuration,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }
    pub fn advance(&mut self, by: std::time::Duration) {
        self.offset += ChronoDuration::from_std(by).expect("duration in range");
    }
}

pub(crate) fn chrono_dur(d: std::time::Duration) -> ChronoDuration {
    ChronoDuration::from_std(d).expect("duration in range")
}

/// A random opaque token of `len` alphanumeric characters after `prefix`.
pub(crate) fn random_token(prefix: &str, len: usize) -> String {
    let tail: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect();
    format!("{prefix}{tail}")
}

/// PKCE (RFC 7636): does `verifier` match `challenge` under `method`?
pub(crate) fn pkce_matches(method: &str, challenge: &str, verifier: &str) -> bool {
    if !(43..=128).contains(&verifier.len()) {
        return false;
    }
    match method {
        "S256" => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge,
        "plain" => verifier == challenge,
        _ => false,
    }
}

pub(crate) fn short_hash(s: &str) -> String {
    let d = Sha256::digest(s.as_bytes());
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

pub(crate) fn html_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

pub(crate) fn redirect(location: &str) -> Response {
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, location.to_string()),
            (header::CACHE_CONTROL, "no-store".into()),
        ],
    )
        .into_response()
}

/// `base` with `pairs` appended as query parameters (keeps an existing query).
pub(crate) fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(base).expect("registered redirect URIs are absolute URLs");
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

/// Format a number the way Fitbit formats time-series strings: at most two
/// decimals, no trailing zeros (`"80.1"`, `"2504"`).
pub(crate) fn num_string(v: f64) -> String {
    let s = format!("{:.2}", round2(v));
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

pub(crate) fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// A locked handle; poisoning is ignored because fakes must keep serving after
/// a failed assertion in another task.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What every fake implements: turn one recorded request into a response.
pub(crate) trait Handler: Send + Sync + 'static {
    fn handle(&self, req: RecordedRequest) -> Response;
    /// The answer for a fake that may wait on the network first (Google
    /// verifies a webhook endpoint before it answers); `handle` otherwise.
    fn respond(&self, req: RecordedRequest) -> impl Future<Output = Response> + Send {
        async move { self.handle(req) }
    }
    /// An error answer in the cloud's own format, for injected faults.
    fn error(&self, status: u16, message: &str) -> Response;
}

/// A fake's state behind its lock, shared by its handler and the test
/// driving it. Each fake implements [`Handler`] for its own `Shared<State>`.
pub(crate) struct Shared<S> {
    pub state: Mutex<S>,
}

/// The log of requests a fake's state keeps as its handler receives them.
pub(crate) trait Records {
    fn recorded(&mut self) -> &mut Vec<RecordedRequest>;
}

/// A running fake as its test drives it: the state and the server.
pub(crate) struct Running<S> {
    shared: Arc<Shared<S>>,
    server: Server,
}

impl<S: Records + Send + 'static> Running<S>
where
    Shared<S>: Handler,
{
    /// Serves `state` on 127.0.0.1 (see [`Server::start`]).
    pub async fn start(state: S) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
        });
        Running {
            server: Server::start(shared.clone()).await,
            shared,
        }
    }

    pub fn state(&self) -> MutexGuard<'_, S> {
        lock(&self.shared.state)
    }

    pub fn faults(&self) -> &Faults {
        &self.server.faults
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().recorded().clone()
    }

    pub fn clear_requests(&self) {
        self.state().recorded().clear();
    }

    /// Number of requests whose path starts with `path_prefix`.
    pub fn calls(&self, path_prefix: &str) -> usize {
        self.state()
            .recorded()
            .iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .count()
    }
}

/// What a fake's server task holds.
pub(crate) struct Served<H> {
    pub handler: Arc<H>,
    pub faults: Arc<Faults>,
}

async fn serve_one<H: Handler>(State(served): State<Arc<Served<H>>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, 4 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, Body::empty()).into_response(),
    };
    let rec = RecordedRequest::from_parts(&parts.method, &parts.uri, &parts.headers, &bytes);
    served.faults.answer(served.handler.as_ref(), rec).await
}

/// A fake's server on 127.0.0.1, failing as its `faults` say; dropping it
/// stops serving.
pub(crate) struct Server {
    addr: SocketAddr,
    pub faults: Arc<Faults>,
    task: JoinHandle<()>,
}

impl Server {
    /// Binds 127.0.0.1:0 and serves `handler` on a tokio task.
    pub async fn start<H: Handler>(handler: Arc<H>) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let faults = Arc::new(Faults::default());
        let served = Arc::new(Served {
            handler,
            faults: faults.clone(),
        });
        let app = Router::new().fallback(serve_one::<H>).with_state(served);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Server { addr, faults, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A free loopback port (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The body of the answer to `request`, whatever its status; panics when no
/// answer arrives.
pub async fn text_of(request: reqwest::RequestBuilder) -> String {
    request.send().await.unwrap().text().await.unwrap()
}
