//! Where one call's time goes: the workload sent one request at a time to a
//! host in this process, its own spans timing each part, and the upstream
//! request the plugin made replayed by a direct client, so that the host's
//! and plugin's overhead per call is a number.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::clouds::Clouds;
use crate::inprocess::InProcessHost;
use crate::load::{self, Sample, Target};
use crate::systems::{Provider, WORKLOAD, set_up_host};
use crate::timing::Timings;

const WARMUP: usize = 200;
const REQUESTS: usize = 1000;

pub struct Breakdown {
    pub provider: Provider,
    /// Client-side latency through the host, without and with timing spans.
    pub total: Sample,
    pub total_timed: Sample,
    /// The upstream's answer to the same request, to a direct client.
    pub upstream: Sample,
    /// (part, mean time per request, times per request): the host's and
    /// plugin's own parts first, then each host call by name.
    pub parts: Vec<(String, Duration, f64)>,
}

impl Breakdown {
    /// What the host and plugin add to the upstream's own time, per call.
    pub fn overhead(&self) -> Duration {
        self.total
            .percentile(50.0)
            .saturating_sub(self.upstream.percentile(50.0))
    }
}

pub async fn measure(
    clouds: &Clouds,
    timings: &Timings,
    provider: Provider,
    dir: &Path,
) -> Breakdown {
    let host = InProcessHost::start(dir, &clouds.plugin_config(), axum::Router::new()).await;
    set_up_host(clouds, &host.url, provider).await;
    let client = load::client(1);
    let workload = Target::get(format!("{}{WORKLOAD}", host.url));
    load::sequential(&client, &workload, WARMUP).await;
    let total = load::sequential(&client, &workload, REQUESTS).await;
    timings.start();
    let total_timed = load::sequential(&client, &workload, REQUESTS).await;
    timings.stop();
    let spans = timings.totals();

    let direct = match provider {
        Provider::Fitbit => clouds.last_fitbit_call(),
        Provider::Google => clouds.last_google_call(),
    };
    load::sequential(&client, &direct, WARMUP).await;
    let upstream = load::sequential(&client, &direct, REQUESTS).await;
    Breakdown {
        provider,
        parts: parts(&spans, total_timed.mean(), REQUESTS),
        total,
        total_timed,
        upstream,
    }
}

/// Turns span totals into exclusive parts of one request.
fn parts(
    spans: &BTreeMap<String, (Duration, usize)>,
    total: Duration,
    requests: usize,
) -> Vec<(String, Duration, f64)> {
    let n = requests as u32;
    let mean = |label: &str| spans.get(label).map_or(Duration::ZERO, |(t, _)| *t / n);
    let dispatch = mean("http.dispatch");
    let handle = mean("plugin.handle");
    let instantiate = mean("plugin.instantiate");
    let call = mean("plugin.call");
    let fetch = mean("http.fetch");
    let exchange = mean("egress.exchange");
    let host_calls: Vec<(&String, Duration, f64)> = spans
        .iter()
        .filter(|(label, _)| {
            ["store.", "secret.", "http.fetch"]
                .iter()
                .any(|p| label.starts_with(p))
        })
        .map(|(label, (t, count))| (label, *t / n, *count as f64 / requests as f64))
        .collect();
    let in_host_calls: Duration = host_calls.iter().map(|(_, t, _)| *t).sum();
    let mut parts = vec![
        (
            "HTTP in and out: client, loopback, hyper".to_string(),
            total.saturating_sub(dispatch),
            1.0,
        ),
        (
            "routing, request and response conversion".into(),
            dispatch.saturating_sub(handle),
            1.0,
        ),
        (
            "limits, metrics, log line".into(),
            handle.saturating_sub(instantiate + call),
            1.0,
        ),
        (
            "instantiate: fresh store and instance".into(),
            instantiate,
            1.0,
        ),
        (
            "plugin code (wasm), between host calls".into(),
            call.saturating_sub(in_host_calls),
            1.0,
        ),
    ];
    for (label, took, count) in host_calls {
        if label == "http.fetch" {
            parts.push((
                "fetch: policy, secret, conversions".into(),
                fetch.saturating_sub(exchange),
                count,
            ));
            parts.push(("fetch: exchange with the upstream".into(), exchange, count));
        } else {
            parts.push((label.clone(), took, count));
        }
    }
    parts
}

/// What one `store.put` of a sensors-sized document costs with the store's
/// file on disk, and on tmpfs (where fsync costs nothing): the share of the
/// commit's fsync in a write.
pub async fn store_put_costs(dir: &Path) -> Option<(Duration, Duration)> {
    use igor_host::store::sqlite::SqliteStore;
    use igor_host::store::{DocumentStore, Namespace};
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        return None;
    }
    let tmpfs = tempfile::tempdir_in(shm).ok()?;
    let document = serde_json::json!({"body-weight": (0..30).map(|d| serde_json::json!({
        "dateTime": format!("2026-11-{:02}", d + 1), "value": "176.37"})).collect::<Vec<_>>()})
    .to_string();
    let mut costs = Vec::new();
    for file in [dir.join("put.sqlite"), tmpfs.path().join("put.sqlite")] {
        let store = SqliteStore::open(&file).ok()?;
        let ns = Namespace::new("default", "fitbit");
        let mut times = Vec::new();
        for _ in 0..300 {
            let started = std::time::Instant::now();
            store
                .put(&ns, "sensors/fitbit/jack", &document, None)
                .await
                .ok()?;
            times.push(started.elapsed());
        }
        costs.push(Sample::new(times).percentile(50.0));
    }
    Some((costs[0], costs[1]))
}
