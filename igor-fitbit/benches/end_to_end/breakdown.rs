//! Where one call's time goes: the workload sent one request at a time to a
//! host in this process, its own spans timing each part, and the upstream
//! request the plugin made replayed by a direct client, so that the host's
//! and plugin's overhead per call is a number. A plain handler in the same
//! server answering the same bytes shows what any HTTP server pays for the
//! round trip.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Bytes;

use crate::clouds::Clouds;
use crate::inprocess::InProcessHost;
use crate::load::{self, Sample, Target};
use crate::systems::{Provider, WORKLOAD, set_up_host};
use crate::timing::Timings;

const WARMUP: usize = 200;
const ROUNDS: usize = 5;
const PER_ROUND: usize = 200;

pub struct Breakdown {
    pub provider: Provider,
    /// Client-side latency through the host, without and with timing spans.
    pub total: Sample,
    pub total_timed: Sample,
    /// The upstream's answer to the same request, to a direct client.
    pub upstream: Sample,
    /// A plain handler in the same server answering the workload's bytes.
    pub plain: Sample,
    /// The host's and plugin's own parts first, then each host call by name.
    pub parts: Vec<Part>,
}

/// One part of a request: its time per request over all requests.
pub struct Part {
    pub label: String,
    pub times: Sample,
    /// How often it happens per request (host calls).
    pub count: f64,
}

impl Breakdown {
    /// What the host and plugin add to the upstream's own time, per call.
    pub fn overhead(&self) -> Duration {
        self.total
            .percentile(50.0)
            .saturating_sub(self.upstream.percentile(50.0))
    }

    /// The overhead beyond the round trip any HTTP server pays.
    pub fn beyond_plain(&self) -> Duration {
        self.overhead().saturating_sub(self.plain.percentile(50.0))
    }
}

/// A route answering with the bytes it is given once the host is set up.
fn plain_route(answer: Arc<OnceLock<Bytes>>) -> axum::Router {
    axum::Router::new().route(
        "/plain",
        axum::routing::get(move || {
            let body = answer.get().cloned().unwrap_or_default();
            async move { ([("content-type", "application/json")], body) }
        }),
    )
}

pub async fn measure(
    clouds: &Clouds,
    timings: &Timings,
    provider: Provider,
    dir: &Path,
) -> Breakdown {
    let answer = Arc::new(OnceLock::new());
    let plain_answer = plain_route(answer.clone());
    let host = InProcessHost::start(dir, &clouds.plugin_config(), plain_answer).await;
    set_up_host(clouds, &host.url, provider).await;
    let client = load::client(1);
    let workload = Target::get(format!("{}{WORKLOAD}", host.url));
    let body = client
        .get(&workload.url)
        .send()
        .await
        .expect("the workload");
    let _ = answer.set(body.bytes().await.expect("the workload's answer"));
    let plain_target = Target::get(format!("{}/plain", host.url));
    load::sequential(&client, &workload, WARMUP).await;
    load::sequential(&client, &plain_target, WARMUP).await;
    let direct = match provider {
        Provider::Fitbit => clouds.last_fitbit_call(),
        Provider::Google => clouds.last_google_call(),
    };
    load::sequential(&client, &direct, WARMUP).await;
    // Interleaved, so that a busy moment of the machine hits all alike.
    let (mut total, mut timed, mut requests) = (vec![], vec![], vec![]);
    let (mut upstream, mut plain) = (vec![], vec![]);
    for _ in 0..ROUNDS {
        total.extend(load::in_order(&client, &workload, PER_ROUND).await);
        timings.start();
        let latencies = load::in_order(&client, &workload, PER_ROUND).await;
        timings.stop();
        let spans = timings.per_request("http.dispatch");
        assert_eq!(
            spans.len(),
            latencies.len(),
            "one dispatch span per request"
        );
        timed.extend(latencies);
        requests.extend(spans);
        upstream.extend(load::in_order(&client, &direct, PER_ROUND).await);
        plain.extend(load::in_order(&client, &plain_target, PER_ROUND).await);
    }
    Breakdown {
        provider,
        parts: parts(&requests, &timed),
        total: Sample::new(total),
        total_timed: Sample::new(timed),
        upstream: Sample::new(upstream),
        plain: Sample::new(plain),
    }
}

/// Splits each request into exclusive parts; `totals` are the client's
/// latencies, in the same order.
fn parts(requests: &[BTreeMap<String, (Duration, usize)>], totals: &[Duration]) -> Vec<Part> {
    let mut labels: Vec<String> = Vec::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut times: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    for (spans, total) in requests.iter().zip(totals) {
        for (label, took, count) in request_parts(spans, *total) {
            if !labels.contains(&label) {
                labels.push(label.clone());
            }
            *counts.entry(label.clone()).or_default() += count;
            times.entry(label).or_default().push(took);
        }
    }
    labels
        .into_iter()
        .map(|label| Part {
            count: counts[&label] as f64 / requests.len() as f64,
            times: Sample::new(times.remove(&label).unwrap_or_default()),
            label,
        })
        .collect()
}

/// One request's parts: (part, time, how often).
fn request_parts(
    spans: &BTreeMap<String, (Duration, usize)>,
    total: Duration,
) -> Vec<(String, Duration, usize)> {
    let time = |label: &str| spans.get(label).map_or(Duration::ZERO, |(t, _)| *t);
    let dispatch = time("http.dispatch");
    let handle = time("plugin.handle");
    let instantiate = time("plugin.instantiate");
    let call = time("plugin.call");
    let host_calls: Vec<(&String, Duration, usize)> = spans
        .iter()
        .filter(|(label, _)| {
            ["store.", "secret.", "http.fetch"]
                .iter()
                .any(|p| label.starts_with(p))
        })
        .map(|(label, (t, count))| (label, *t, *count))
        .collect();
    let in_host_calls: Duration = host_calls.iter().map(|(_, t, _)| *t).sum();
    let mut parts = vec![
        (
            "HTTP in and out: client, loopback, hyper".to_string(),
            total.saturating_sub(dispatch),
            1,
        ),
        (
            "routing, request and response conversion".into(),
            dispatch.saturating_sub(handle),
            1,
        ),
        (
            "limits, metrics, log line, instance teardown".into(),
            handle.saturating_sub(instantiate + call),
            1,
        ),
        (
            "instantiate: fresh store and instance".into(),
            instantiate,
            1,
        ),
        (
            "plugin code (wasm), between host calls".into(),
            call.saturating_sub(in_host_calls),
            1,
        ),
    ];
    for (label, took, count) in host_calls {
        if label == "http.fetch" {
            let exchange = time("egress.exchange");
            parts.push((
                "fetch: policy, secret, conversions".into(),
                took.saturating_sub(exchange),
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
