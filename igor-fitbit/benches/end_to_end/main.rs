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
//! 5. upstream calls per scheduled run, per provider, against the original;
//! 6. fsyncs per call of igor-host (strace), steady state against new data
//!    and a token refresh every call.
//!
//! `cargo bench -p igor-fitbit --bench end_to_end` prints the results and
//! writes them into docs/benchmarks.md and docs/benchmarks.svg.

mod breakdown;
mod chart;
mod clouds;
mod durability;
mod inprocess;
mod isolation;
mod load;
mod machine;
mod profile;
mod report;
mod startup;
mod systems;
mod timing;
mod upstream;

use std::path::Path;

use std::time::{Duration, Instant};

use clouds::Clouds;
use igor_test_support::real_igor;
use load::{LoadResult, Target, Window};
use report::{Results, SystemRuns};
use systems::{HostProcess, Provider, WORKLOAD};

const CONCURRENCY: [usize; 3] = [1, 16, 64];

/// Each load run is repeated this often; the median counts.
const ROUNDS: usize = 3;
const ORIGINAL_WINDOW: Window = Window {
    warmup: Duration::from_millis(500),
    measure: Duration::from_millis(2500),
};
const HOST_WINDOW: Window = Window {
    warmup: Duration::from_millis(300),
    measure: Duration::from_secs(2),
};
const FAKE_WINDOW: Window = Window {
    warmup: Duration::from_millis(300),
    measure: Duration::from_millis(1500),
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

/// One system under load.
struct Subject {
    name: &'static str,
    color: &'static str,
    target: Target,
    window: Window,
    /// The server process, when it has its own.
    pid: Option<u32>,
    connections: Connections,
}

/// Runs every subject at every concurrency, `ROUNDS` times, interleaved so
/// that a busy moment of the machine does not hit one system only; keeps
/// each subject's median round (by requests/s) per concurrency.
async fn compare(subjects: &[Subject]) -> Vec<SystemRuns> {
    let mut all: Vec<Vec<LoadResult>> = subjects.iter().map(|_| Vec::new()).collect();
    for concurrency in CONCURRENCY {
        let mut rounds: Vec<Vec<LoadResult>> = subjects.iter().map(|_| Vec::new()).collect();
        for _ in 0..ROUNDS {
            for (subject, rounds) in subjects.iter().zip(&mut rounds) {
                let client = match subject.connections {
                    Connections::KeepAlive => load::client(concurrency),
                    Connections::NewPerRequest => load::client_without_keep_alive(),
                };
                let run = load::run(
                    &client,
                    &subject.target,
                    concurrency,
                    subject.window,
                    subject.pid,
                )
                .await;
                if run.failed > 0 {
                    eprintln!(
                        "warning: {} requests to {} failed",
                        run.failed, subject.target.url
                    );
                }
                rounds.push(run);
            }
        }
        for (runs, mut rounds) in all.iter_mut().zip(rounds) {
            rounds.sort_by(|a, b| a.per_second().total_cmp(&b.per_second()));
            runs.push(rounds.swap_remove(rounds.len() / 2));
        }
    }
    subjects
        .iter()
        .zip(all)
        .map(|(subject, runs)| SystemRuns {
            name: subject.name,
            color: subject.color,
            own_process: subject.pid.is_some(),
            runs,
        })
        .collect()
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

    step(started, "load: all systems, interleaved");
    let workload = |base: &str| Target::get(format!("{base}{WORKLOAD}"));
    let host = |name, color, host: &HostProcess| Subject {
        name,
        color,
        target: workload(&host.url),
        window: HOST_WINDOW,
        pid: Some(host.pid()),
        connections: Connections::KeepAlive,
    };
    let fake = |name, target| Subject {
        name,
        color: "#bfbfbf",
        target,
        window: FAKE_WINDOW,
        pid: None,
        connections: Connections::KeepAlive,
    };
    let subjects = [
        Subject {
            name: "Igor 0.99.1 + original plugin (legacy API)",
            color: "#c0504d",
            target: workload(&igor.url),
            window: ORIGINAL_WINDOW,
            pid: igor.pid(),
            connections: Connections::NewPerRequest,
        },
        host("igor-host, legacy provider", "#4f81bd", &legacy),
        host("igor-host, Google provider", "#9bbb59", &google),
        fake(
            "fake Fitbit, direct client (upstream alone)",
            clouds.last_fitbit_call(),
        ),
        fake(
            "fake Google, direct client (upstream alone)",
            clouds.last_google_call(),
        ),
    ];
    let mut compared = compare(&subjects).await.into_iter();
    let original = compared.next().expect("the original");
    let hosts: Vec<SystemRuns> = compared.by_ref().take(2).collect();
    let upstreams: Vec<SystemRuns> = compared.collect();
    let mut profile = None;
    if profile::enabled() {
        step(
            started,
            "profiling igor-host (legacy provider) at concurrency 16",
        );
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../bench-profile");
        if let Some((report, rows)) =
            profile::record(legacy.pid(), &workload(&legacy.url), &out).await
        {
            step(started, &format!("profile summary: {}", report.display()));
            profile = Some(rows);
        }
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
            upstream::measure(&clouds, upstream::System::host(&legacy), Provider::Fitbit).await,
        ),
        (
            "igor-host, Google provider",
            upstream::measure(&clouds, upstream::System::host(&google), Provider::Google).await,
        ),
    ];

    step(started, "fsyncs per call (strace)");
    let hosts_by_provider = [(&legacy, Provider::Fitbit), (&google, Provider::Google)];
    let fsyncs = durability::measure_all(&clouds, &hosts_by_provider, &dir("fsyncs")).await;
    if let Err(why) = &fsyncs {
        eprintln!("fsyncs per call not measured: {why}");
    }

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
        fsyncs,
        profile,
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
