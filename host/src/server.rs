//! The HTTP front: plugin routes (via [`App::dispatch`]), health,
//! readiness, metrics, action status and the admin reload.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::app::{App, DEFAULT_TENANT, HostRequest, HostResponse};
use crate::metrics::{METRICS, TenantLabels};
use crate::scheduler::host_namespace;

/// Ceiling for any request body; plugins have their own, lower limits.
const MAX_BODY: usize = 16 << 20;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/status/{*representing}", get(status))
        .route("/admin/reload", post(reload))
        .fallback(dispatch)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

async fn dispatch(State(app): State<Arc<App>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(_) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "Request body too large\n").into_response();
        }
    };
    let target = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_else(|| parts.uri.path().to_string());
    let mut headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let caller = crate::igor_forward::take_caller(app.igor_forward_secret.as_deref(), &mut headers);
    let response = app
        .dispatch(HostRequest {
            method: parts.method.as_str().to_string(),
            target,
            headers,
            body: body.to_vec(),
            caller,
        })
        .await;
    into_http(response)
}

async fn ready(State(app): State<Arc<App>>) -> Response {
    let registry = app.registry();
    let plugins: usize = registry.tenants.values().map(|t| t.plugins.len()).sum();
    format!(
        "ready: {} tenant(s), {plugins} plugin(s)\n",
        registry.tenants.len()
    )
    .into_response()
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    for (id, tenant) in &app.registry().tenants {
        if let Ok(Some(usage)) = tenant.documents.usage(id).await {
            let labels = TenantLabels { tenant: id.clone() };
            METRICS
                .store_bytes
                .get_or_create(&labels)
                .set(usage.bytes as i64);
            METRICS
                .store_documents
                .get_or_create(&labels)
                .set(usage.documents as i64);
        }
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        METRICS.encode(),
    )
        .into_response()
}

/// Action status of the single-tenant host (`status/<representing>`).
async fn status(
    State(app): State<Arc<App>>,
    axum::extract::Path(representing): axum::extract::Path<String>,
) -> Response {
    if app.registry().multi_tenant {
        return (
            StatusCode::NOT_FOUND,
            "Per-tenant status is not served here\n",
        )
            .into_response();
    }
    let path = format!("status/{representing}");
    match app
        .documents()
        .get(&host_namespace(DEFAULT_TENANT), &path)
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
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !app.registry().admin_authenticates(authorization) {
        return (
            StatusCode::UNAUTHORIZED,
            "The admin API needs an admin token\n",
        )
            .into_response();
    }
    match app.reload() {
        Ok(registry) => {
            crate::scheduler::spawn_actions(app.clone(), registry.clone());
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
