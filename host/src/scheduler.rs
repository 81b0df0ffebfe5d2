//! Scheduled actions, like Igor's `<action>` with `interval`, `url` and
//! `representing`: each runs right after start and then every `interval`
//! seconds, and records its outcome in `status/<representing>`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::app::{App, HostRequest, HostResponse};
use crate::config::ActionConfig;
use crate::store::{DocumentStore, Namespace, StoreError};
use crate::tenants::{Registry, Tenant};

/// Host-owned data of a tenant (action status) lives here; no plugin can
/// have its name (see [`crate::store::HOST_NAMESPACE`]).
pub fn host_namespace(tenant: &str) -> Namespace {
    Namespace::host(tenant)
}

/// Starts one task per action of every tenant in `registry`. The tasks end
/// after their current run once the registry is replaced by a reload.
pub fn spawn_actions(app: Arc<App>, registry: Arc<Registry>) {
    for tenant in registry.tenants.values() {
        for action in tenant.actions.clone() {
            let (app, registry, tenant) = (app.clone(), registry.clone(), tenant.clone());
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(Duration::from_secs(action.interval));
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticker.tick().await;
                    if registry.is_retired() {
                        break;
                    }
                    run_action(&app, &tenant, &action).await;
                }
            });
        }
    }
}

/// Runs an action once and records its status.
pub async fn run_action(app: &App, tenant: &Tenant, action: &ActionConfig) -> HostResponse {
    let response = app
        .dispatch_in_tenant(
            tenant,
            HostRequest {
                method: "GET".into(),
                target: action.url.clone(),
                ..Default::default()
            },
        )
        .await;
    // The action's query names users and dates: log only its path.
    let path = crate::egress::without_query(&action.url);
    tracing::info!(tenant = %tenant.id, %path, status = response.status, "action ran");
    if let Some(representing) = &action.representing
        && let Err(err) = record_status(
            app.documents().as_ref(),
            &tenant.id,
            representing,
            &response,
            plugin_notice(tenant, &action.url, representing).await,
        )
        .await
    {
        tracing::error!(tenant = %tenant.id, %representing, error = %err, "could not record action status");
    }
    response
}

/// What the plugin an action calls (`/plugin/NAME...`) asks the owner to
/// do, kept in its own data at `status/<representing>/notice` (such as
/// "authorise jack again before ..."). With Igor as the store this
/// is the very element below Igor's status; here it is copied into the
/// status the host records.
async fn plugin_notice(tenant: &Tenant, action_url: &str, representing: &str) -> Option<Value> {
    let name = action_url
        .strip_prefix("/plugin/")?
        .split(['/', '?'])
        .next()?;
    let path = format!("status/{}/notice", representing.trim_matches('/'));
    let entry = tenant
        .documents
        .get(&Namespace::new(tenant.id.as_str(), name), &path)
        .await
        .ok()??;
    serde_json::from_str(&entry.json).ok()
}

/// Writes `status/<representing>` as Igor's `updateStatus` does: `alive`
/// iff the call answered 200, `lastActivity`, `lastSuccess` or
/// `lastFailure`, and `errorMessage` (empty on success); plus the plugin's
/// `notice` for the owner, when it has one.
pub async fn record_status(
    store: &dyn DocumentStore,
    tenant: &str,
    representing: &str,
    response: &HostResponse,
    notice: Option<Value>,
) -> Result<(), StoreError> {
    let ns = host_namespace(tenant);
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
                serde_json::from_str::<Value>(&entry.json)
                    .ok()
                    .filter(Value::is_object)
                    .unwrap_or_else(|| json!({})),
                entry.revision,
            ),
            None => (json!({}), 0),
        };
        let object = status.as_object_mut().expect("status is an object");
        object.insert("alive".into(), json!(success));
        object.insert("lastActivity".into(), json!(now));
        object.insert("resultStatus".into(), json!(response.status));
        match &notice {
            Some(notice) => object.insert("notice".into(), notice.clone()),
            None => object.remove("notice"),
        };
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
