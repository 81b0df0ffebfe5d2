//! Scheduled actions of tenants in the database, run by whichever host
//! claims them first.
//!
//! Each action's row in `scheduled_actions` has its next due time. Every
//! host claims due rows with `FOR UPDATE SKIP LOCKED` (so no two hosts get
//! the same row) and a lease; it runs them as [`crate::scheduling::scheduler`] runs any
//! action (status in the tenant's store), then moves the due time on by one
//! interval and clears the lease. A host that dies mid-run leaves its lease
//! to expire, and the action, still due, is claimed by another host. So
//! each action runs once per interval across all hosts; only a host that
//! dies after a run and before recording it causes a second run.

use std::sync::Arc;
use std::time::Duration;

use crate::app::{App, HostResponse};
use crate::config::{ActionConfig, SchedulerConfig};
use crate::tenancy::directory::{DirectoryError, TenantDirectory, db};

/// How often a host looks for due actions.
const CLAIM_EVERY: Duration = Duration::from_millis(500);

/// Most actions one host runs at once; it claims no more than it can run.
const MAX_RUNNING: usize = 32;

/// A claimed action.
#[derive(Debug, Clone)]
pub struct Claim {
    pub tenant: String,
    pub action: ActionConfig,
    /// When it was due (database clock, epoch ms).
    pub due_ms: i64,
    /// The database's clock when it was claimed.
    pub claimed_ms: i64,
}

impl Claim {
    /// A whole interval or more overdue: no host ran it for a while (all
    /// were down), and many others may be in the same state.
    fn missed_a_run(&self) -> bool {
        self.claimed_ms - self.due_ms >= (self.action.interval as i64).saturating_mul(1000)
    }
}

pub struct LeaseScheduler {
    directory: Arc<TenantDirectory>,
    /// This process, in `lease_owner`.
    owner: String,
    lease: Duration,
    /// `[scheduler] first_run_spread_seconds`.
    spread: Option<Duration>,
}

impl LeaseScheduler {
    pub fn new(directory: Arc<TenantDirectory>, config: SchedulerConfig) -> Self {
        let owner = format!(
            "{}-{}-{:08x}",
            hostname(),
            std::process::id(),
            rand::random::<u32>()
        );
        Self {
            directory,
            owner,
            lease: config.lease(),
            spread: config.first_run_spread_seconds.map(Duration::from_secs),
        }
    }

    /// Claims up to `limit` due actions whose lease is free or expired.
    pub async fn claim(&self, limit: usize) -> Result<Vec<Claim>, DirectoryError> {
        let client = self.directory.client().await?;
        let rows = client
            .query(
                "WITH due AS (
                    SELECT tenant, url, representing FROM scheduled_actions
                    WHERE due_ms <= igor_now_ms()
                      AND (lease_until_ms IS NULL OR lease_until_ms < igor_now_ms())
                    ORDER BY due_ms LIMIT $3
                    FOR UPDATE SKIP LOCKED)
                 UPDATE scheduled_actions a
                 SET lease_owner = $1, lease_until_ms = igor_now_ms() + $2
                 FROM due
                 WHERE a.tenant = due.tenant AND a.url = due.url
                   AND a.representing = due.representing
                 RETURNING a.tenant, a.url, a.representing, a.interval_ms, a.due_ms,
                           igor_now_ms()",
                &[
                    &self.owner,
                    &(self.lease.as_millis() as i64),
                    &(limit as i64),
                ],
            )
            .await
            .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let representing: String = row.get(2);
                Claim {
                    tenant: row.get(0),
                    action: ActionConfig {
                        interval: (row.get::<_, i64>(3) / 1000) as u64,
                        url: row.get(1),
                        representing: (!representing.is_empty()).then_some(representing),
                    },
                    due_ms: row.get(4),
                    claimed_ms: row.get(5),
                }
            })
            .collect())
    }

    /// Ends a claim: the action is next due `next_in_ms` after the due time
    /// it ran for, or, when that has passed (the action was long overdue),
    /// that long from now. Only the claim's own lease is ended: if it
    /// expired and another host took the action, this changes nothing.
    pub async fn finish(&self, claim: &Claim, next_in_ms: i64) -> Result<bool, DirectoryError> {
        let client = self.directory.client().await?;
        let updated = client
            .execute(
                "UPDATE scheduled_actions
                 SET due_ms = CASE WHEN due_ms + $5 > igor_now_ms() THEN due_ms + $5
                                   ELSE igor_now_ms() + $5 END,
                     lease_owner = NULL, lease_until_ms = NULL
                 WHERE tenant = $1 AND url = $2 AND representing = $3
                   AND lease_owner = $4 AND due_ms = $6",
                &[
                    &claim.tenant,
                    &claim.action.url,
                    &claim.action.representing.as_deref().unwrap_or(""),
                    &self.owner,
                    &next_in_ms,
                    &claim.due_ms,
                ],
            )
            .await
            .map_err(db)?;
        Ok(updated == 1)
    }

    /// Moves a claimed action's due time to `in_ms` from now and ends the
    /// claim, without running it.
    pub async fn postpone(&self, claim: &Claim, in_ms: i64) -> Result<(), DirectoryError> {
        let client = self.directory.client().await?;
        client
            .execute(
                "UPDATE scheduled_actions
                 SET due_ms = igor_now_ms() + $5, lease_owner = NULL, lease_until_ms = NULL
                 WHERE tenant = $1 AND url = $2 AND representing = $3 AND lease_owner = $4",
                &[
                    &claim.tenant,
                    &claim.action.url,
                    &claim.action.representing.as_deref().unwrap_or(""),
                    &self.owner,
                    &in_ms,
                ],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    /// Gives a claim back without running it (its tenant is not loaded on
    /// this host yet): it stays due, for this or another host.
    pub async fn release(&self, claim: &Claim) -> Result<(), DirectoryError> {
        let client = self.directory.client().await?;
        client
            .execute(
                "UPDATE scheduled_actions SET lease_owner = NULL, lease_until_ms = NULL
                 WHERE tenant = $1 AND url = $2 AND representing = $3 AND lease_owner = $4",
                &[
                    &claim.tenant,
                    &claim.action.url,
                    &claim.action.representing.as_deref().unwrap_or(""),
                    &self.owner,
                ],
            )
            .await
            .map_err(db)?;
        Ok(())
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into())
}

/// When an action runs next after `response`, counted from the time it
/// was due: one interval, or longer when upstream asked to wait (a 429),
/// as [`crate::scheduling::scheduler::next_run_after`] decides for both schedulers.
pub fn next_in_ms(response: &HostResponse, interval: Duration) -> i64 {
    crate::scheduling::scheduler::next_run_after(response, interval).as_millis() as i64
}

/// Claims and runs due actions until the process ends.
pub fn spawn(app: Arc<App>, scheduler: Arc<LeaseScheduler>) {
    let running = Arc::new(tokio::sync::Semaphore::new(MAX_RUNNING));
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(CLAIM_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let free = running.available_permits();
            if free == 0 {
                continue;
            }
            let claims = match scheduler.claim(free).await {
                Ok(claims) => claims,
                Err(err) => {
                    tracing::warn!(error = %err, "could not claim due actions");
                    continue;
                }
            };
            for claim in claims {
                let permit = running.clone().acquire_owned().await.expect("never closed");
                let (app, scheduler) = (app.clone(), scheduler.clone());
                tokio::spawn(async move {
                    run_claim(&app, &scheduler, claim).await;
                    drop(permit);
                });
            }
        }
    });
}

async fn run_claim(app: &App, scheduler: &LeaseScheduler, claim: Claim) {
    let registry = app.registry();
    if claim.missed_a_run() {
        // Back from an outage of every host: spread the backlog as a start
        // spreads first runs, instead of calling every upstream at once.
        let interval = claim.action.interval.saturating_mul(1000);
        let spread = scheduler
            .spread
            .map_or(interval, |s| s.as_millis() as u64)
            .min(interval);
        let delay = rand::random_range(0..spread.max(1)) as i64;
        if delay > 0 {
            if let Err(err) = scheduler.postpone(&claim, delay).await {
                tracing::warn!(error = %err, "could not spread an overdue action");
            }
            return;
        }
    }
    let Some(tenant) = registry.tenants.get(&claim.tenant).cloned() else {
        tracing::debug!(tenant = %claim.tenant, "claimed an action of a tenant not loaded here");
        if let Err(err) = scheduler.release(&claim).await {
            tracing::warn!(error = %err, "could not release a claim");
        }
        return;
    };
    let response = crate::scheduling::scheduler::run_action(app, &tenant, &claim.action).await;
    let next = next_in_ms(&response, Duration::from_secs(claim.action.interval.max(1)));
    match scheduler.finish(&claim, next).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            tenant = %claim.tenant,
            "an action's lease ended before its run did; raise [scheduler] lease_seconds"
        ),
        Err(err) => tracing::warn!(
            tenant = %claim.tenant, error = %err,
            "could not record an action's run; it runs again when its lease expires"
        ),
    }
}
