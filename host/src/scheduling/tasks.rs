//! Runs what plugins asked to be called for later (`igor:plugin/tasks`):
//! one loop for the whole host that looks through every tenant's queue,
//! claims each due task, runs it as a `POST` with `igor-task: 1` and
//! removes it. A task claimed by a host that stopped is taken over (see
//! [`Task::claimable`]), so a crash between queueing and running loses
//! nothing; a run may repeat after a crash mid-run, never be skipped.

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::capabilities::tasks::{CLAIM_TIMEOUT_MS, QUEUED, Task, Waiting, now_ms};
use crate::metrics::METRICS;
use crate::store::StoreError;
use crate::tenancy::tenants::Tenant;

/// How often the queues are looked through when nothing wakes the loop
/// (tasks queued through another host sharing the store).
const POLL: Duration = Duration::from_secs(30);

/// Starts the loop; it runs as long as the host.
pub fn spawn(app: Arc<App>) {
    tokio::spawn(async move {
        loop {
            let woken = QUEUED.notified();
            let next = run_due(&app).await;
            let wait = Duration::from_millis(next.saturating_sub(now_ms())).min(POLL);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = woken => {}
            }
        }
    });
}

/// Starts every due task of every tenant; returns when the next one is
/// due (in ms since the epoch).
async fn run_due(app: &Arc<App>) -> u64 {
    let registry = app.registry();
    let now = now_ms();
    let mut next = now.saturating_add(POLL.as_millis() as u64);
    for tenant in registry.tenants.values() {
        let waiting = match tenant.tasks.waiting().await {
            Ok(waiting) => waiting,
            // A store that keeps no host documents there (a real Igor keeps
            // only `status/...`): `run-later` says so to the plugin.
            Err(StoreError::InvalidPath(_)) => continue,
            Err(err) => {
                tracing::warn!(tenant = %tenant.id, error = %err, "task queue unreadable");
                continue;
            }
        };
        for found in waiting {
            let at = when(&found.task);
            if at > now || !found.task.claimable(now) {
                next = next.min(at.max(now + 1));
                continue;
            }
            match tenant.tasks.claim(&found).await {
                Ok(Some(claimed)) => {
                    let (app, tenant) = (app.clone(), tenant.clone());
                    tokio::spawn(async move { run(&app, &tenant, claimed).await });
                }
                Ok(None) => {}
                Err(err) => tracing::warn!(tenant = %tenant.id, error = %err, "task not claimed"),
            }
        }
    }
    next
}

/// When a task can next be run: its due time, or when its claim expires.
fn when(task: &Task) -> u64 {
    match task.claimed_ms {
        Some(at) => task.due_ms.max(at.saturating_add(CLAIM_TIMEOUT_MS)),
        None => task.due_ms,
    }
}

async fn run(app: &App, tenant: &Tenant, claimed: Waiting) {
    METRICS.task_runs.inc();
    let target = format!("/plugin/{}{}", claimed.plugin, claimed.task.path);
    let response = app.run_task(tenant, &target).await;
    // The path's query may name users: log only the path.
    let path = crate::egress::without_query(&claimed.task.path);
    tracing::info!(
        tenant = %tenant.id, plugin = %claimed.plugin, %path, status = response.status,
        "task ran"
    );
    if let Err(err) = tenant.tasks.done(&claimed).await {
        tracing::warn!(tenant = %tenant.id, error = %err, "task not removed; it runs again");
    }
}
