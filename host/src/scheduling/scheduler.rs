//! Scheduled actions, like Igor's `<action>` with `interval`, `url` and
//! `representing`: each runs every `interval` seconds, as its tenant, and
//! records its outcome in `status/<representing>` in the tenant's store.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::app::{App, HostRequest, HostResponse};
use crate::config::ActionConfig;
use crate::metrics::METRICS;
use crate::store::Durability::Refetchable;
use crate::store::{DocumentStore, Namespace, Quota, StoreError, Write};
use crate::tenancy::tenants::{Registry, Tenant};

/// Host-owned data of a tenant (action status) lives here; no plugin can
/// have its name (see [`crate::store::HOST_NAMESPACE`]).
pub fn host_namespace(tenant: &str) -> Namespace {
    Namespace::host(tenant)
}

/// Starts one task per action of every tenant in `registry`. A task waits
/// for its first run as [`first_run_delay`] says, then runs every
/// `interval`; it ends as soon as the registry is retired by a reload (a
/// run in progress finishes first). Tasks hold no reference to the
/// registry, so a retired one is freed with its plugins.
pub fn spawn_actions(app: Arc<App>, registry: Arc<Registry>) {
    if registry.in_database {
        // Claimed from the database instead: see crate::scheduling::lease_scheduler.
        return;
    }
    let spread = registry.scheduler.first_run_spread_seconds;
    for tenant in registry.tenants.values() {
        for action in tenant.actions.clone() {
            let (app, tenant) = (app.clone(), tenant.clone());
            let retirement = registry.retirement();
            METRICS.scheduled_actions.inc();
            tokio::spawn(async move {
                tokio::pin!(retirement);
                let first = first_run_delay(&tenant, &action, spread, now_seconds()).await;
                let period = Duration::from_secs(action.interval);
                let mut due = tokio::time::Instant::now() + first;
                loop {
                    tokio::select! {
                        () = tokio::time::sleep_until(due) => {}
                        () = &mut retirement => break,
                    }
                    let started = tokio::time::Instant::now();
                    let response = run_action(&app, &tenant, &action).await;
                    due = (started + next_run_after(&response, period))
                        .max(tokio::time::Instant::now());
                }
                METRICS.scheduled_actions.dec();
            });
        }
    }
}

/// The longest a 429's `Retry-After` pushes an action's next run back.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// How long after a run started the action runs next: `interval`, or for a
/// 429 (the plugin or its provider is rate limited) the answer's
/// `Retry-After` seconds when that is longer, up to [`MAX_RETRY_AFTER`].
/// A 429 without a readable `Retry-After` keeps the interval.
pub fn next_run_after(response: &HostResponse, interval: Duration) -> Duration {
    let retry_after = retry_after(response).map_or(Duration::ZERO, Duration::from_secs);
    interval.max(retry_after.min(MAX_RETRY_AFTER))
}

/// A 429's `Retry-After` seconds, when readable.
fn retry_after(response: &HostResponse) -> Option<u64> {
    if response.status != 429 {
        return None;
    }
    response
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
        .and_then(|(_, value)| value.trim().parse::<u64>().ok())
}

/// How long an action waits for its first run: until one interval after
/// its last recorded run, when that is still ahead (a restart or reload
/// keeps the rhythm); otherwise a random delay below the spread (default:
/// the interval), so many actions due at once do not all call upstream at
/// the same moment.
async fn first_run_delay(
    tenant: &Tenant,
    action: &ActionConfig,
    spread_seconds: Option<u64>,
    now: u64,
) -> Duration {
    let last_run = match &action.representing {
        Some(representing) => {
            last_activity(tenant.documents.as_ref(), &tenant.id, representing).await
        }
        None => None,
    };
    let last_run = last_run.map(|(last, pushed)| pushed_back(last, pushed, action.interval));
    delay_before_first_run(last_run, action.interval, spread_seconds, now)
}

/// A 429's push-back beyond the interval moves the next run as if the last
/// one had been that much later: so it holds across a restart.
fn pushed_back(last: u64, retry_after: u64, interval: u64) -> u64 {
    let pushed = retry_after.min(MAX_RETRY_AFTER.as_secs());
    last.saturating_add(pushed.saturating_sub(interval))
}

fn delay_before_first_run(
    last_run: Option<u64>,
    interval: u64,
    spread_seconds: Option<u64>,
    now: u64,
) -> Duration {
    if let Some(due) = last_run.map(|last| last.saturating_add(interval))
        && due > now
    {
        return Duration::from_secs(due - now);
    }
    let spread_ms = spread_seconds
        .unwrap_or(interval)
        .min(interval)
        .saturating_mul(1000);
    if spread_ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::random_range(0..spread_ms))
}

/// When the action last ran, and the `Retry-After` seconds its 429 asked
/// for (0 when it was not one).
async fn last_activity(
    documents: &dyn DocumentStore,
    tenant: &str,
    representing: &str,
) -> Option<(u64, u64)> {
    let path = format!("status/{}", representing.trim_matches('/'));
    let entry = documents.get(&host_namespace(tenant), &path).await.ok()??;
    let status = serde_json::from_str::<Value>(&entry.json).ok()?;
    let last = status["lastActivity"].as_u64()?;
    Some((last, status["retryAfter"].as_u64().unwrap_or(0)))
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Runs an action once and records its status.
pub async fn run_action(app: &App, tenant: &Tenant, action: &ActionConfig) -> HostResponse {
    METRICS.action_runs.inc();
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
            tenant.documents.as_ref(),
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
    let (name, _) = crate::app::plugin_target::PluginTarget::parse(action_url).plugin?;
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
    let now = now_seconds();
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
        match retry_after(response) {
            Some(seconds) => object.insert("retryAfter".into(), json!(seconds)),
            None => object.remove("retryAfter"),
        };
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
        // Recorded again by the next run: no flush to disk of its own.
        let (json, expected) = (status.to_string(), Some(revision));
        match store
            .write(
                &ns,
                Write::unless_unchanged(&path, &json, expected, Refetchable),
                &Quota::UNLIMITED,
            )
            .await
        {
            Err(StoreError::Conflict(_)) => continue,
            other => return other.map(|_| ()),
        }
    }
    Err(StoreError::Unavailable("status kept changing".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3600;

    fn answer(status: u16, retry_after: Option<&str>) -> HostResponse {
        let mut response = HostResponse::text(status, "");
        if let Some(seconds) = retry_after {
            response
                .headers
                .push(("Retry-After".into(), seconds.into()));
        }
        response
    }

    #[test]
    fn a_429_pushes_the_next_run_back_by_its_retry_after() {
        let interval = Duration::from_secs(600);
        let next = |status, retry_after| next_run_after(&answer(status, retry_after), interval);
        assert_eq!(next(200, None), interval);
        // Only a 429 asks to wait; other failures keep the rhythm.
        assert_eq!(next(503, Some("7200")), interval);
        assert_eq!(next(429, Some("7200")), Duration::from_secs(7200));
        // Never sooner than the interval, never later than a day.
        assert_eq!(next(429, Some("60")), interval);
        assert_eq!(next(429, Some("9999999")), MAX_RETRY_AFTER);
        assert_eq!(next(429, None), interval);
        assert_eq!(next(429, Some("Wed, 21 Oct 2026 07:28:00 GMT")), interval);
    }

    #[tokio::test]
    async fn a_429_push_back_holds_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::sqlite::SqliteStore::open(&dir.path().join("s.sqlite")).unwrap();
        let limited = answer(429, Some("7200"));
        record_status(&store, "t", "sensors/x", &limited, None)
            .await
            .unwrap();
        // What a restarted host reads back: the run, and its push-back.
        let (last, pushed) = last_activity(&store, "t", "sensors/x").await.unwrap();
        assert_eq!(pushed, 7200);
        let delay =
            delay_before_first_run(Some(pushed_back(last, pushed, 600)), 600, Some(0), last);
        assert_eq!(delay, Duration::from_secs(7200));
        // The next answer that is not a 429 ends the push-back.
        record_status(&store, "t", "sensors/x", &answer(200, None), None)
            .await
            .unwrap();
        let (_, pushed) = last_activity(&store, "t", "sensors/x").await.unwrap();
        assert_eq!(pushed, 0);
    }

    #[test]
    fn a_recent_run_keeps_the_rhythm() {
        let delay = delay_before_first_run(Some(1_000), HOUR, Some(0), 1_600);
        assert_eq!(delay, Duration::from_secs(HOUR - 600));
    }

    #[test]
    fn due_actions_are_spread_below_the_interval_and_the_spread() {
        let delays: Vec<Duration> = (0..200)
            .map(|_| delay_before_first_run(None, HOUR, None, 0))
            .collect();
        assert!(delays.iter().all(|d| *d < Duration::from_secs(HOUR)));
        // Not all at the same moment: 200 draws below an hour differ.
        let first = delays[0];
        assert!(delays.iter().any(|d| *d != first), "{delays:?}");
        for _ in 0..200 {
            let overdue = delay_before_first_run(Some(0), HOUR, Some(60), 10 * HOUR);
            assert!(overdue < Duration::from_secs(60), "{overdue:?}");
            let short = delay_before_first_run(None, 5, Some(60), 0);
            assert!(short < Duration::from_secs(5), "{short:?}");
        }
    }

    #[test]
    fn a_zero_spread_runs_due_actions_at_once() {
        assert_eq!(
            delay_before_first_run(None, HOUR, Some(0), 0),
            Duration::ZERO
        );
        assert_eq!(
            delay_before_first_run(Some(0), HOUR, Some(0), HOUR),
            Duration::ZERO
        );
    }
}
