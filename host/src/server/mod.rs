//! The HTTP front: plugin routes (via [`App::route`] and [`App::run`]),
//! health, readiness, metrics, action status and the admin reload; and the
//! listener that serves them with a cap on open connections and deadlines
//! for slow clients.

pub mod admin;
pub mod peers;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::access::Presented;
use crate::app::{App, DEFAULT_TENANT, HostResponse};
use crate::config::ServerConfig;
use crate::metrics::METRICS;

pub fn router(app: Arc<App>) -> Router {
    crate::server::admin::routes(Router::new())
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(admin_metrics))
        .route("/status/{*representing}", get(status))
        .route(
            "/tenants/{tenant}/status/{*representing}",
            get(tenant_status),
        )
        .route("/admin/reload", post(reload))
        .fallback(dispatch)
        .with_state(app)
}

/// What the separate `metrics_listen` address serves: `/metrics` only.
pub fn metrics_router() -> Router {
    Router::new().route("/metrics", get(|| async { metrics() }))
}

/// Limits of the listener, from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct ListenLimits {
    pub max_connections: usize,
    pub max_connections_per_peer: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
}

impl ListenLimits {
    pub fn from_config(server: &ServerConfig) -> Self {
        Self {
            max_connections: server.max_connections,
            max_connections_per_peer: server.max_connections_per_peer,
            header_timeout: Duration::from_millis(server.header_timeout_ms),
            body_timeout: Duration::from_millis(server.body_timeout_ms),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the
/// open connections finish. At most `max_connections` are served at once;
/// further clients wait in the listen backlog. One peer holds at most
/// `max_connections_per_peer` of them: its next one is answered 503 and
/// closed at once, so idle connections from one address never keep others
/// waiting. A client that does not send its headers within
/// `header_timeout` (or stays idle that long between requests) is
/// disconnected.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ListenLimits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let peers = Arc::new(crate::server::peers::PeerConnections::new(
        limits.max_connections_per_peer,
    ));
    let (stopping, stop) = tokio::sync::watch::channel(false);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let service = hyper_util::service::TowerToHyperService::new(
        router.layer(axum::Extension(BodyTimeout(limits.body_timeout))),
    );
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: back off briefly.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(peer_slot) = peers.admit(peer.ip()) else {
            tracing::debug!(%peer, "connection refused: the peer holds max_connections_per_peer");
            crate::server::peers::refuse_busy(stream);
            continue;
        };
        let connection = builder.serve_connection(TokioIo::new(stream), service.clone());
        let mut stop = stop.clone();
        tokio::spawn(async move {
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = async { drop(stop.wait_for(|stopping| *stopping).await) } => {
                    // Finish the request in progress, then close.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(err) = ended {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
            }
            drop(peer_slot);
            drop(slot);
        });
    }
    let _ = stopping.send(true);
    // Every connection holds a slot until it has ended.
    let _all = slots
        .acquire_many(limits.max_connections as u32)
        .await
        .expect("never closed");
}

/// How long a client may take to send a request body.
#[derive(Clone, Copy)]
struct BodyTimeout(Duration);

/// A plugin request: the caller is checked and the plugin found before any
/// of the body is read; the body is then read under the plugin's limit.
async fn dispatch(State(app): State<Arc<App>>, request: Request) -> Response {
    let _timing = tracing::trace_span!("http.dispatch");
    let body_timeout = request
        .extensions()
        .get::<BodyTimeout>()
        .map_or(Duration::from_secs(30), |t| t.0);
    let (parts, body) = request.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_else(|| parts.uri.path().to_string());
    let routed = match app
        .route(parts.method.as_str(), &target, header_list(&parts.headers))
        .await
    {
        Ok(routed) => routed,
        Err(refusal) => return into_http(refusal),
    };
    let limit = routed.plugin.limits.max_request_body_bytes;
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return into_http(crate::app::body_too_large(limit));
    }
    let read = http_body_util::Limited::new(body, limit).collect();
    let body = match tokio::time::timeout(body_timeout, read).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => {
            return into_http(crate::app::body_too_large(limit));
        }
        Ok(Err(_)) => {
            return (
                StatusCode::BAD_REQUEST,
                "The request body could not be read\n",
            )
                .into_response();
        }
        Err(_) => {
            return (
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "The request body did not arrive within {} ms\n",
                    body_timeout.as_millis()
                ),
            )
                .into_response();
        }
    };
    into_http(app.run(routed, body.to_vec()).await)
}

fn header_list(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// `/readyz` (see [`crate::app::readiness`]): the detail only for the admin.
async fn ready(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let admin = app.registry().admin.accept(authorization(&headers));
    let verdict = if admin {
        app.readiness().now(&app).await
    } else {
        app.readiness().recent(&app).await
    };
    match (verdict.problems.is_empty(), admin) {
        (true, true) => {
            let registry = app.registry();
            let plugins: usize = registry.tenants.values().map(|t| t.plugins.len()).sum();
            format!(
                "ready: {} tenant(s), {plugins} plugin(s)\n",
                registry.tenants.len()
            )
            .into_response()
        }
        (true, false) => "ready\n".into_response(),
        (false, true) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", verdict.problems.join("; ")),
        )
            .into_response(),
        (false, false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready (the admin token shows why)\n",
        )
            .into_response(),
    }
}

/// `/metrics` on the main listener: for holders of an admin token.
async fn admin_metrics(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !app.registry().admin.accept(authorization(&headers)) {
        return (
            StatusCode::UNAUTHORIZED,
            [(
                axum::http::header::WWW_AUTHENTICATE,
                "Bearer realm=\"igor-host admin\"",
            )],
            "Metrics need an admin token here (or use [server] metrics_listen)\n",
        )
            .into_response();
    }
    metrics()
}

fn metrics() -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        METRICS.encode(),
    )
        .into_response()
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// Action status of the single-tenant host (`status/<representing>`), for
/// the same callers as its plugins.
async fn status(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::extract::Path(representing): axum::extract::Path<String>,
) -> Response {
    let registry = app.registry();
    if registry.multi_tenant {
        return (
            StatusCode::NOT_FOUND,
            "Not found: action status lives under /tenants/ID/status/\n",
        )
            .into_response();
    }
    let tenant = registry.tenants.get(DEFAULT_TENANT).expect("single tenant");
    recorded_status(&app, &registry, tenant, &headers, &representing).await
}

/// A tenant's action status (`/tenants/ID/status/<representing>`), for the
/// tenant's callers only.
async fn tenant_status(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::extract::Path((id, representing)): axum::extract::Path<(String, String)>,
) -> Response {
    let registry = app.registry();
    if !registry.multi_tenant {
        return (
            StatusCode::NOT_FOUND,
            "Not found: this host has no tenants\n",
        )
            .into_response();
    }
    let Some(tenant) = registry.tenants.get(&id) else {
        // Answered as a caller without the tenant's token is.
        return into_http(crate::tenancy::tenants::tenant_refusal(&id));
    };
    recorded_status(&app, &registry, tenant, &headers, &representing).await
}

async fn recorded_status(
    app: &App,
    registry: &crate::tenancy::tenants::Registry,
    tenant: &crate::tenancy::tenants::Tenant,
    headers: &HeaderMap,
    representing: &str,
) -> Response {
    let mut list = header_list(headers);
    let forwarded =
        crate::app::igor_forward::take(registry.igor_forward_secret.as_deref(), &mut list);
    let presented = Presented {
        authorization: authorization(headers),
        forwarded: forwarded.verified,
        public_route: false,
    };
    if !tenant.gate.admits(presented) {
        return into_http(tenant.refusal());
    }
    if tenant.gate.is_open() {
        let base_url = app.base_url().current().await;
        let names = crate::trusted_names::TrustedNames::new(&base_url, &registry.allowed_hosts);
        if let Err(refusal) = names.check_host(&list) {
            return into_http(refusal);
        }
    }
    let path = format!("status/{representing}");
    match tenant
        .documents
        .get(&crate::store::Namespace::host(&tenant.id), &path)
        .await
    {
        Ok(Some(entry)) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            entry.json,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "No status recorded\n").into_response(),
        Err(err) => (StatusCode::BAD_REQUEST, format!("{err}\n")).into_response(),
    }
}

async fn reload(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !app.registry().admin.accept(authorization(&headers)) {
        return (
            StatusCode::UNAUTHORIZED,
            "The admin API needs an admin token\n",
        )
            .into_response();
    }
    match app.reload().await {
        Ok(registry) => {
            crate::scheduling::scheduler::spawn_actions(app.clone(), registry.clone());
            format!("reloaded: {} tenant(s)\n", registry.tenants.len()).into_response()
        }
        Err(err) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("configuration refused, the running one stays: {err:#}\n"),
        )
            .into_response(),
    }
}

fn into_http(response: HostResponse) -> Response {
    let mut builder = Response::builder().status(response.status);
    for (name, value) in &response.headers {
        // Framing headers belong to this server.
        let lower = name.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(lower.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            builder = builder.header(name, value);
        }
    }
    builder
        .body(Body::from(Bytes::from(response.body)))
        .unwrap_or_else(|_| (StatusCode::BAD_GATEWAY, "invalid plugin response\n").into_response())
}

/// The host's listening sockets.
pub struct Listeners {
    pub main: TcpListener,
    /// `[server] metrics_listen`, serving only `/metrics`.
    pub metrics: Option<TcpListener>,
}

impl Listeners {
    pub async fn bind(server: &ServerConfig) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let main = TcpListener::bind(server.listen)
            .await
            .with_context(|| format!("listening on {}", server.listen))?;
        let metrics =
            match server.metrics_listen {
                Some(address) => Some(TcpListener::bind(address).await.with_context(|| {
                    format!("listening on {address} ([server] metrics_listen)")
                })?),
                None => None,
            };
        Ok(Self { main, metrics })
    }
}

/// Serves the host (and its metrics address) until `shutdown` completes.
pub async fn serve_app(
    app: Arc<App>,
    listeners: Listeners,
    limits: ListenLimits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    if let Some(metrics) = listeners.metrics {
        if let Ok(address) = metrics.local_addr() {
            tracing::info!(%address, "serving /metrics");
        }
        tokio::spawn(serve(
            metrics,
            metrics_router(),
            limits,
            std::future::pending(),
        ));
    }
    serve(listeners.main, router(app), limits, shutdown).await;
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tower::ServiceExt;

    use super::*;

    /// A caller streaming an endless body: the host reads it only up to the
    /// plugin's limit, answers 413, and never runs the plugin.
    #[tokio::test]
    async fn a_streamed_body_is_read_only_up_to_the_plugins_limit() {
        let dir = tempfile::tempdir().unwrap();
        let config: crate::config::Config = toml::from_str(&format!(
            "data_dir = {:?}\npooling_allocator = false\n\
             [[plugin]]\nname = \"hostile\"\ncomponent = {:?}\n\
             limits = {{ max_request_body_bytes = 100000 }}\n",
            dir.path().display().to_string(),
            igor_test_guests::HOSTILE
        ))
        .unwrap();
        let app = Arc::new(
            App::new(config, None, crate::builtin_plugin::for_tests())
                .await
                .unwrap(),
        );
        let pulled = Arc::new(AtomicUsize::new(0));
        let counter = pulled.clone();
        let endless = futures_util::stream::repeat_with(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<_, std::convert::Infallible>(Bytes::from(vec![b'x'; 10_000]))
        });
        let request = Request::post("/plugin/hostile/ok")
            .body(Body::from_stream(endless))
            .unwrap();
        let response = router(app).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let chunks = pulled.load(Ordering::SeqCst);
        assert!(
            chunks <= 11,
            "{chunks} chunks of 10000 bytes read for a 100000-byte limit"
        );
    }
}
