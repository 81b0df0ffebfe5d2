//! `/readyz`: ready when every store answers and the configuration on disk
//! is the one running (a refused reload leaves configured components
//! unloaded).
//!
//! Anyone may ask, so the answer and its cost are bounded: without the
//! admin token it says only `ready` or `not ready` (which tenants' stores
//! fail would name tenants), and the stores are probed at most once per
//! [`PROBE_REUSE`], whatever the number of callers; the others get the
//! last probe's verdict. With the admin token the stores are probed at
//! once and the answer says what is wrong.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::app::App;

/// How long `/readyz` waits for a store before calling it unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a probe's verdict answers callers without the admin token.
pub const PROBE_REUSE: Duration = Duration::from_secs(2);

/// The verdict of the last probe, shared by unauthenticated callers.
#[derive(Default)]
pub struct Readiness {
    last: std::sync::Mutex<Option<(Instant, Arc<Vec<String>>)>>,
    /// One probe at a time; callers arriving meanwhile wait for it.
    probing: tokio::sync::Mutex<()>,
}

/// What `/readyz` answers.
pub struct Verdict {
    /// Empty when ready.
    pub problems: Vec<String>,
}

impl Readiness {
    /// The verdict for a caller without the admin token: the last probe's
    /// when it started less than [`PROBE_REUSE`] ago, else a new one.
    pub async fn recent(&self, app: &App) -> Verdict {
        let stores = match self.reusable() {
            Some(problems) => problems,
            None => {
                let _one_at_a_time = self.probing.lock().await;
                match self.reusable() {
                    Some(problems) => problems,
                    None => self.probe(app).await,
                }
            }
        };
        verdict(app, &stores)
    }

    /// The verdict of a probe made now (for the admin).
    pub async fn now(&self, app: &App) -> Verdict {
        let _one_at_a_time = self.probing.lock().await;
        let stores = self.probe(app).await;
        verdict(app, &stores)
    }

    fn reusable(&self) -> Option<Arc<Vec<String>>> {
        let last = self.last.lock().expect("readiness lock");
        last.as_ref()
            .filter(|(started, _)| started.elapsed() < PROBE_REUSE)
            .map(|(_, problems)| problems.clone())
    }

    async fn probe(&self, app: &App) -> Arc<Vec<String>> {
        let started = Instant::now();
        let problems = Arc::new(probe_stores(app).await);
        *self.last.lock().expect("readiness lock") = Some((started, problems.clone()));
        problems
    }
}

fn verdict(app: &App, stores: &[String]) -> Verdict {
    let mut problems = Vec::new();
    if app.refused_reload().is_some() {
        problems.push(
            "the configuration was changed but refused at the last reload; the previous \
             one is running"
                .to_string(),
        );
    }
    problems.extend(stores.iter().cloned());
    Verdict { problems }
}

/// Asks the tenant directory and every distinct store for a document.
async fn probe_stores(app: &App) -> Vec<String> {
    let registry = app.registry();
    let mut problems = Vec::new();
    if let Some(directory) = app.directory()
        && !matches!(
            tokio::time::timeout(PROBE_TIMEOUT, directory.version()).await,
            Ok(Ok(_))
        )
    {
        problems.push("the tenant directory's database does not answer".to_string());
    }
    let mut stores = Vec::new();
    for tenant in registry.tenants.values() {
        if !stores
            .iter()
            .any(|(_, s)| Arc::ptr_eq(s, &tenant.documents))
        {
            stores.push((tenant.id.clone(), tenant.documents.clone()));
        }
    }
    let probes = stores.iter().map(|(tenant, store)| async move {
        // A read of the host's own namespace: answered by any working store.
        let namespace = crate::store::Namespace::host(tenant);
        let probe = store.get(&namespace, "status/ready");
        match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
            Ok(Ok(_)) => None,
            Ok(Err(err)) => {
                tracing::warn!(%tenant, error = %err, "readiness: the store does not answer");
                Some(tenant.clone())
            }
            Err(_) => {
                tracing::warn!(%tenant, "readiness: the store did not answer in time");
                Some(tenant.clone())
            }
        }
    });
    let unreachable: Vec<String> = futures_util::future::join_all(probes)
        .await
        .into_iter()
        .flatten()
        .collect();
    if !unreachable.is_empty() {
        problems.push(if registry.multi_tenant {
            format!("the stores of {} are unreachable", unreachable.join(", "))
        } else {
            "the store is unreachable".to_string()
        });
    }
    problems
}
