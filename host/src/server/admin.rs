//! The admin API for tenants in the database (`[tenant_directory] source =
//! "database"`), for callers with an admin token:
//!
//! - `GET /admin/tenants`: every tenant's id, version, plugins and actions;
//! - `POST /admin/tenants` with `{"id": ..., "plugins": [...], ...}`: adds a
//!   tenant and, unless it brings `token_sha256`, answers its first token;
//! - `GET|PATCH|DELETE /admin/tenants/ID`: shows, changes (the fields
//!   given replace the tenant's) or removes one (`?purge=true` also drops
//!   its data);
//! - `POST /admin/tenants/ID/tokens`: a new token; `DELETE`: revokes all.
//!
//! A change is checked by building the tenant on the host that receives
//! it, written in one transaction, applied there at once and followed by
//! every other host within its poll interval.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::app::App;
use crate::config::TenantConfig;
use crate::tenancy::directory::{DirectoryError, TenantDirectory, TenantSpec};

pub fn routes(router: Router<Arc<App>>) -> Router<Arc<App>> {
    router
        .route("/admin/tenants", get(list).post(create))
        .route(
            "/admin/tenants/{id}",
            get(show).patch(update).delete(remove),
        )
        .route(
            "/admin/tenants/{id}/tokens",
            post(new_token).delete(revoke_tokens),
        )
}

fn error(status: StatusCode, text: impl std::fmt::Display) -> Response {
    (status, format!("{text}\n")).into_response()
}

fn from_directory(err: DirectoryError) -> Response {
    let status = match &err {
        DirectoryError::Exists(_) | DirectoryError::Changed(_) => StatusCode::CONFLICT,
        DirectoryError::NotFound(_) => StatusCode::NOT_FOUND,
        DirectoryError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        DirectoryError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    error(status, err)
}

/// The tenant directory, extracted for a caller with an admin token; the
/// refusal otherwise.
struct Directory(Arc<TenantDirectory>);

impl FromRequestParts<Arc<App>> for Directory {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        let authorization = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if !app.registry().admin.accept(authorization) {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "The admin API needs an admin token",
            ));
        }
        app.directory().cloned().map(Directory).ok_or_else(|| {
            error(
                StatusCode::CONFLICT,
                "this host's tenants are in its configuration file ([[tenant]]): edit it and \
                 POST /admin/reload; the tenant API needs [tenant_directory] source = \"database\"",
            )
        })
    }
}

/// Applies a change on this host at once (the others follow by polling).
async fn applied(app: &App, response: Response) -> Response {
    if let Err(err) = app.refresh_tenants().await {
        tracing::warn!(error = %format!("{err:#}"), "tenants not refreshed after a change");
    }
    response
}

/// Builds the tenant here, so a spec that cannot run (an unknown component,
/// a refused egress setting) is refused before it is stored.
fn checked(app: &App, id: &str, spec: &TenantSpec) -> anyhow::Result<()> {
    spec.validate(id)?;
    app.check_tenant(&spec.clone().into_config(id))
}

fn parse_spec(value: Value) -> Result<TenantSpec, DirectoryError> {
    serde_json::from_value(value)
        .map_err(|e| DirectoryError::Invalid(anyhow::anyhow!("not a tenant: {e}")))
}

fn summary(config: &TenantConfig, version: i64) -> Value {
    json!({
        "id": config.id,
        "version": version,
        "plugins": config.plugins.iter().map(|p| &p.name).collect::<Vec<_>>(),
        "actions": config.actions.len(),
        "tokens": config.token_sha256.len(),
    })
}

async fn list(Directory(directory): Directory) -> Response {
    match directory.all().await {
        Ok((_, tenants)) => {
            let rows: Vec<Value> = tenants
                .iter()
                .map(|t| summary(&t.config, t.version))
                .collect();
            axum::Json(json!({ "tenants": rows })).into_response()
        }
        Err(err) => from_directory(err),
    }
}

async fn create(
    State(app): State<Arc<App>>,
    Directory(directory): Directory,
    body: axum::body::Bytes,
) -> Response {
    let mut value: Value = match serde_json::from_slice(&body) {
        Ok(value @ Value::Object(_)) => value,
        _ => return error(StatusCode::BAD_REQUEST, "the body is not a JSON object"),
    };
    let Some(Value::String(id)) = value.as_object_mut().and_then(|o| o.remove("id")) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the tenant needs an \"id\"",
        );
    };
    let mut spec = match parse_spec(value) {
        Ok(spec) => spec,
        Err(err) => return from_directory(err),
    };
    let token = spec
        .token_sha256
        .is_empty()
        .then(crate::tenancy::directory::new_token);
    if let Some(token) = &token {
        spec.token_sha256.push(crate::access::sha256_hex(token));
    }
    if let Err(err) = checked(&app, &id, &spec) {
        return from_directory(DirectoryError::Invalid(err));
    }
    match directory.create(&id, &spec).await {
        Ok(version) => {
            let mut answer = summary(&spec.clone().into_config(&id), version);
            if let Some(token) = token {
                answer["token"] = json!(token);
            }
            let response = (StatusCode::CREATED, axum::Json(answer)).into_response();
            applied(&app, response).await
        }
        Err(err) => from_directory(err),
    }
}

async fn show(Directory(directory): Directory, Path(id): Path<String>) -> Response {
    match directory.get(&id).await {
        Ok(Some((spec, version))) => {
            let mut answer = serde_json::to_value(&spec).expect("a spec serialises");
            answer["id"] = json!(id);
            answer["version"] = json!(version);
            // Token hashes stay in the database.
            answer["token_sha256"] = json!(spec.token_sha256.len());
            axum::Json(answer).into_response()
        }
        Ok(None) => from_directory(DirectoryError::NotFound(id)),
        Err(err) => from_directory(err),
    }
}

async fn update(
    State(app): State<Arc<App>>,
    Directory(directory): Directory,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(Value::Object(changes)) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "the body is not a JSON object");
    };
    for refused in ["id", "token_sha256"] {
        if changes.contains_key(refused) {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{refused} cannot be changed here (tokens: /admin/tenants/ID/tokens)"),
            );
        }
    }
    // A concurrent change is merged again, not overwritten.
    let merged = directory
        .modify(&id, |spec| {
            let mut merged = serde_json::to_value(&spec).expect("a spec serialises");
            for (key, value) in &changes {
                merged[key] = value.clone();
            }
            let spec = parse_spec(merged)?;
            checked(&app, &id, &spec).map_err(DirectoryError::Invalid)?;
            Ok(spec)
        })
        .await;
    match merged {
        Ok((spec, version)) => {
            let response =
                axum::Json(summary(&spec.clone().into_config(&id), version)).into_response();
            applied(&app, response).await
        }
        Err(err) => from_directory(err),
    }
}

#[derive(serde::Deserialize)]
struct RemoveOptions {
    #[serde(default)]
    purge: bool,
}

async fn remove(
    State(app): State<Arc<App>>,
    Directory(directory): Directory,
    Path(id): Path<String>,
    Query(options): Query<RemoveOptions>,
) -> Response {
    match directory.remove(&id, options.purge).await {
        Ok(()) => applied(&app, StatusCode::NO_CONTENT.into_response()).await,
        Err(err) => from_directory(err),
    }
}

async fn new_token(
    State(app): State<Arc<App>>,
    Directory(directory): Directory,
    Path(id): Path<String>,
) -> Response {
    match directory.issue_token(&id).await {
        Ok(token) => {
            let response =
                (StatusCode::CREATED, axum::Json(json!({ "token": token }))).into_response();
            applied(&app, response).await
        }
        Err(err) => from_directory(err),
    }
}

async fn revoke_tokens(
    State(app): State<Arc<App>>,
    Directory(directory): Directory,
    Path(id): Path<String>,
) -> Response {
    match directory.revoke_tokens(&id).await {
        Ok(()) => applied(&app, StatusCode::NO_CONTENT.into_response()).await,
        Err(err) => from_directory(err),
    }
}
