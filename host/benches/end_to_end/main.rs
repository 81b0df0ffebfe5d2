//! The end-to-end benchmark, in one run on this machine:
//!
//! 1. the fitbit workload through the original Python plugin in a real Igor
//!    0.99.1 and through igor-host (legacy and Google providers), each
//!    against the project's fake cloud on loopback, at concurrency 1, 16 and
//!    64 — and the fakes themselves to a direct client;
//! 2. where one call's time goes, from the host's own spans, against the
//!    upstream's own answer time;
//! 3. the isolation cost: a plugin's trivial route against a plain handler;
//! 4. cold start, and compiling `fitbit.wasm`;
//! 5. upstream calls per scheduled run, per provider, against the original.
//!
//! `cargo bench -p igor-host --bench end_to_end` prints the results and
//! writes them into docs/benchmarks.md and docs/benchmarks.svg.

mod breakdown;
mod chart;
mod clouds;
mod inprocess;
mod isolation;
mod load;
mod machine;
mod profile;
#[path = "../../../tests/e2e/real_igor/mod.rs"]
mod real_igor;
mod report;
mod startup;
mod systems;
mod timing;
mod upstream;

use std::path::Path;
use std::time::{Duration, Instant};

use clouds::Clouds;
use load::{LoadResult, Target, Window};
use report::{Results, SystemRuns};
use systems::{HostProcess, Provider, WORKLOAD};

const CONCURRENCY: [usize; 3] = [1, 16, 64];

const ORIGINAL_WINDOW: Window = Window {
    warmup: Duration::from_secs(1),
    measure: Duration::from_secs(4),
};
const HOST_WINDOW: Window = Window {
    warmup: Duration::from_millis(500),
    measure: Duration::from_secs(3),
};
const FAKE_WINDOW: Window = Window {
    warmup: Duration::from_millis(500),
    measure: Duration::from_secs(2),
};

fn step(started: Instant, what: &str) {
    eprintln!("[{:6.1} s] {what}", started.elapsed().as_secs_f64());
}

/// How the load generator connects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Connections {
    KeepAlive,
    /// A new connection per request: Igor's gevent server answers a
    /// keep-alive client's requests after a 40 ms delayed-ACK stall (it
    /// writes headers and body separately, with Nagle on), which would
    /// flatter the comparison at concurrency 1.
    NewPerRequest,
}

async fn runs(
    target: &Target,
    window: Window,
    pid: Option<u32>,
    connections: Connections,
) -> Vec<LoadResult> {
    let mut runs = Vec::new();
    for concurrency in CONCURRENCY {
        let client = match connections {
            Connections::KeepAlive => load::client(concurrency),
            Connections::NewPerRequest => load::client_without_keep_alive(),
        };
        let run = load::run(&client, target, concurrency, window, pid).await;
        if run.failed > 0 {
            eprintln!("warning: {} requests to {} failed", run.failed, target.url);
        }
        runs.push(run);
    }
    runs
}

/// Starts igor-host in `dir` with the compiled components of `warm` (if
/// any), sets it up for `provider` and authorises jack.
async fn start_host(
    clouds: &Clouds,
    dir: &Path,
    warm: Option<&Path>,
    provider: Provider,
) -> HostProcess {
    if let Some(warm) = warm {
        let cache = dir.join("data/cache");
        std::fs::create_dir_all(&cache).expect("cache directory");
        for entry in std::fs::read_dir(warm.join("cache"))
            .expect("a warm cache")
            .flatten()
        {
            std::fs::copy(entry.path(), cache.join(entry.file_name())).expect("copying the cache");
        }
    }
    let mut host = HostProcess::spawn(dir, &clouds.plugin_config());
    host.first_answer("/healthz").await;
    systems::set_up_host(clouds, &host.url, provider).await;
    host
}

#[tokio::main]
async fn main() {
    let started = Instant::now();
    let timings = timing::Timings::install();
    let work = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a work directory");
    let dir = |name: &str| {
        let dir = work.path().join(name);
        std::fs::create_dir_all(&dir).expect("a directory");
        dir
    };
    let mut machine =
        machine::Machine::describe_now(work.path(), &real_igor::venv().join("bin/python"));
    let clouds = Clouds::start().await;

    step(started, "starting Igor with the original fitbit plugin");
    let mut igor = systems::start_original(&clouds).await;
    systems::authorise_original(&igor).await;
    step(started, "starting igor-host (legacy and Google providers)");
    let legacy_dir = dir("legacy");
    let legacy = start_host(&clouds, &legacy_dir, None, Provider::Fitbit).await;
    let google = start_host(
        &clouds,
        &dir("google"),
        Some(&legacy.data_dir),
        Provider::Google,
    )
    .await;

    // The same workload: both answer with the same series from the fake.
    let original = systems::body_weight(&systems::workload_answer(&igor.url).await);
    let ours = systems::body_weight(&systems::workload_answer(&legacy.url).await);
    assert_eq!(
        original, ours,
        "the original and igor-host answer differently"
    );
    assert!(!systems::body_weight(&systems::workload_answer(&google.url).await).is_empty());

    step(started, "load: the original");
    let original = SystemRuns {
        name: "Igor 0.99.1 + original plugin (legacy API)",
        color: "#c0504d",
        own_process: true,
        runs: runs(
            &Target::get(format!("{}{WORKLOAD}", igor.url)),
            ORIGINAL_WINDOW,
            igor.pid(),
            Connections::NewPerRequest,
        )
        .await,
    };
    step(started, "load: igor-host");
    let mut hosts = Vec::new();
    for (name, color, host) in [
        ("igor-host, legacy provider", "#4f81bd", &legacy),
        ("igor-host, Google provider", "#9bbb59", &google),
    ] {
        let target = Target::get(format!("{}{WORKLOAD}", host.url));
        let runs = runs(
            &target,
            HOST_WINDOW,
            Some(host.pid()),
            Connections::KeepAlive,
        )
        .await;
        hosts.push(SystemRuns {
            name,
            color,
            own_process: true,
            runs,
        });
    }
    if profile::enabled() {
        step(
            started,
            "profiling igor-host (legacy provider) at concurrency 16",
        );
        let target = Target::get(format!("{}{WORKLOAD}", legacy.url));
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../bench-profile");
        if let Some(report) = profile::record(legacy.pid(), &target, &out).await {
            step(started, &format!("profile summary: {}", report.display()));
        }
    }
    step(started, "load: the fakes to a direct client");
    let mut upstreams = Vec::new();
    for (name, target) in [
        (
            "fake Fitbit, direct client (upstream alone)",
            clouds.last_fitbit_call(),
        ),
        (
            "fake Google, direct client (upstream alone)",
            clouds.last_google_call(),
        ),
    ] {
        let runs = runs(&target, FAKE_WINDOW, None, Connections::KeepAlive).await;
        upstreams.push(SystemRuns {
            name,
            color: "#bfbfbf",
            own_process: false,
            runs,
        });
    }

    step(started, "where a call's time goes");
    let mut breakdowns = Vec::new();
    for (provider, name) in [
        (Provider::Fitbit, "breakdown-legacy"),
        (Provider::Google, "breakdown-google"),
    ] {
        breakdowns.push(breakdown::measure(&clouds, &timings, provider, &dir(name)).await);
    }
    let store_put = breakdown::store_put_costs(&dir("put")).await;
    step(started, "isolation cost");
    let isolation = isolation::measure(&dir("isolation")).await;
    let compilation = isolation::compilation(&dir("compile"));

    step(started, "upstream calls per scheduled run");
    let calls_per_run = vec![
        (
            "Igor 0.99.1 + original plugin (legacy API)",
            upstream::measure(&clouds, upstream::System::Original(&igor), Provider::Fitbit).await,
        ),
        (
            "igor-host, legacy provider",
            upstream::measure(
                &clouds,
                upstream::System::Host {
                    base: &legacy.url,
                    data_dir: &legacy.data_dir,
                },
                Provider::Fitbit,
            )
            .await,
        ),
        (
            "igor-host, Google provider",
            upstream::measure(
                &clouds,
                upstream::System::Host {
                    base: &google.url,
                    data_dir: &google.data_dir,
                },
                Provider::Google,
            )
            .await,
        ),
    ];

    step(started, "cold start");
    drop(legacy);
    let cold = startup::measure(&legacy_dir, &clouds.plugin_config(), &mut igor).await;
    drop((google, igor));

    machine.finished();
    let results = Results {
        machine,
        original,
        hosts,
        upstreams,
        breakdowns,
        store_put,
        isolation,
        compilation,
        cold,
        calls_per_run,
        took: started.elapsed(),
    };
    println!("{}", results.markdown());
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    report::write(
        &docs.join("benchmarks.md"),
        &docs.join("benchmarks.svg"),
        &results,
    )
    .expect("writing docs/benchmarks.md");
    step(
        started,
        "written to docs/benchmarks.md and docs/benchmarks.svg",
    );
}
