//! The HTTP front: `/plugin/NAME/...` to plugins, plus health, readiness and
//! action status.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

use crate::app::{App, HostRequest, HostResponse};
use crate::scheduler::host_namespace;

/// Ceiling for any request body; plugins have their own, lower limits.
const MAX_BODY: usize = 16 << 20;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/plugin/{*rest}", any(plugin))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(|| async { "ready\n" }))
        .route("/status/{*representing}", get(status))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

async fn plugin(State(app): State<Arc<App>>, request: Request) -> Response {
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
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let response = app
        .dispatch(HostRequest {
            method: parts.method.as_str().to_string(),
            target,
            headers,
            body: body.to_vec(),
            caller: None,
        })
        .await;
    into_http(response)
}

async fn status(
    State(app): State<Arc<App>>,
    axum::extract::Path(representing): axum::extract::Path<String>,
) -> Response {
    let path = format!("status/{representing}");
    match app.documents.get(&host_namespace(), &path).await {
        Ok(Some(entry)) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            entry.json,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "No status recorded\n").into_response(),
        Err(err) => (StatusCode::BAD_REQUEST, format!("{err}\n")).into_response(),
    }
}

fn into_http(response: HostResponse) -> Response {
    let mut builder = Response::builder().status(response.status);
    for (name, value) in &response.headers {
        // Hop-by-hop and framing headers belong to this server.
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
