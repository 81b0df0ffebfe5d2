//! Scheduled actions, like Igor's `<action>` with `interval`, `url` and
//! `representing`: each runs right after start and then every `interval`
//! seconds, and records its outcome in `status/<representing>`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::app::{App, DEFAULT_TENANT, HostRequest, HostResponse};
use crate::config::ActionConfig;
use crate::store::{DocumentStore, Namespace, StoreError};

/// Host-owned data (action status) lives here; plugin names cannot start
/// with `_`, so no plugin can address it.
pub fn host_namespace() -> Namespace {
    Namespace::new(DEFAULT_TENANT, "_host")
}

/// Starts one task per action.
pub fn spawn_actions(app: Arc<App>) {
    for action in app.config.actions.clone() {
        let app = app.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(action.interval));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                run_action(&app, &action).await;
            }
        });
    }
}

/// Runs an action once and records its status.
pub async fn run_action(app: &App, action: &ActionConfig) -> HostResponse {
    let response = app
        .dispatch(HostRequest {
            method: "GET".into(),
            target: action.url.clone(),
            ..Default::default()
        })
        .await;
    tracing::info!(url = %action.url, status = response.status, "action ran");
    if let Some(representing) = &action.representing
        && let Err(err) = record_status(app.documents.as_ref(), representing, &response).await
    {
        tracing::error!(%representing, error = %err, "could not record action status");
    }
    response
}

/// Writes `status/<representing>` as Igor's `updateStatus` does: `alive`
/// iff the call answered 200, `lastActivity`, `lastSuccess` or
/// `lastFailure`, and `errorMessage` (empty on success).
pub async fn record_status(
    store: &dyn DocumentStore,
    representing: &str,
    response: &HostResponse,
) -> Result<(), StoreError> {
    let ns = host_namespace();
    let path = format!("status/{}", representing.trim_matches('/'));
    crate::store::validate_path(&path)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let success = response.status == 200;
    // Read-modify-write so the other timestamp survives; retry on a race.
    for _ in 0..5 {
        let current = store.get(&ns, &path).await?;
        let (mut status, revision) = match current {
            Some(entry) => (
                serde_json::from_str::<Value>(&entry.json).unwrap_or_else(|_| json!({})),
                entry.revision,
            ),
            None => (json!({}), 0),
        };
        let object = status.as_object_mut().expect("status is an object");
        object.insert("alive".into(), json!(success));
        object.insert("lastActivity".into(), json!(now));
        object.insert("resultStatus".into(), json!(response.status));
        if success {
            object.insert("lastSuccess".into(), json!(now));
            object.insert("errorMessage".into(), json!(""));
            object.remove("ignoreErrorUntil");
        } else {
            object.insert("lastFailure".into(), json!(now));
            let message = response.body_text().trim().to_string();
            object.insert(
                "errorMessage".into(),
                json!(format!("{} {}", response.status, message)),
            );
        }
        match store
            .put(&ns, &path, &status.to_string(), Some(revision))
            .await
        {
            Err(StoreError::Conflict(_)) => continue,
            other => return other.map(|_| ()),
        }
    }
    Err(StoreError::Unavailable("status kept changing".into()))
}
