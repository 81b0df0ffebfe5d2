//! What runs in the background of a serving host, through the app's one
//! dispatch path: actions (a task per action for tenants in the file, the
//! lease scheduler for tenants in the database), what plugins queued to
//! run later ([`tasks`]) and the directory follower.

pub mod lease_scheduler;
pub mod scheduler;
pub mod tasks;

use std::sync::Arc;

use crate::app::App;
use crate::tenancy::directory::TenantDirectory;

/// Starts what runs actions: a task per action for tenants in the file;
/// the directory follower and the lease scheduler for tenants in the
/// database. Also starts dropping idle plugins' outbound clients.
pub async fn start(app: &Arc<App>) -> anyhow::Result<()> {
    app.start_idle_sweeper();
    tasks::spawn(app.clone());
    let Some(directory) = app.directory() else {
        crate::scheduling::scheduler::spawn_actions(app.clone(), app.registry());
        return Ok(());
    };
    spawn_follower(app.clone(), directory.clone());
    let scheduler = crate::scheduling::lease_scheduler::LeaseScheduler::new(
        directory.clone(),
        app.scheduler_config(),
    );
    crate::scheduling::lease_scheduler::spawn(app.clone(), Arc::new(scheduler));
    Ok(())
}

/// Keeps `app`'s tenants in step with the directory: polls its version
/// every `poll` and, when it differs from the one the running tenants were
/// read at (a change through another host, or one this host's admin API
/// has not applied yet), reloads the tenants (only changed ones are
/// rebuilt). A database that is away is retried; the tenants last read
/// keep serving meanwhile.
pub fn spawn_follower(app: Arc<App>, directory: Arc<TenantDirectory>) {
    let poll = app.directory_poll();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(poll);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match directory.version().await {
                Ok(version) if version == app.directory_version() => {}
                Ok(_) => {
                    if let Err(err) = app.refresh_tenants().await {
                        tracing::warn!(error = %format!("{err:#}"), "tenants not refreshed");
                    }
                }
                Err(err) => tracing::warn!(error = %err, "tenant directory unreachable"),
            }
        }
    });
}
