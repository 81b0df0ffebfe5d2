//! fsyncs per call: `strace -f -c` attached to the igor-host process that
//! served the load (all its threads) counts the fsync-family syscalls it
//! makes during sequential calls of the workload. In steady state (nothing
//! new upstream, token valid) every write is refetchable or skipped as
//! unchanged, so a call should cost (almost) no fsync; a new weigh-in every
//! call (sensor data written, still refetchable) and a token refresh every
//! call (a durable write) are measured for contrast.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use igor_test_support::fake_fitbit::{DEFAULT_USER_ID, WeightLog};
use igor_test_support::fake_google::{DEFAULT_HEALTH_USER_ID, DataPoint};

use crate::clouds::Clouds;
use crate::load;
use crate::systems::{HostProcess, Provider, WORKLOAD};
use crate::upstream;

/// The syscalls counted as an fsync.
pub const SYSCALLS: [&str; 4] = ["fsync", "fdatasync", "sync_file_range", "msync"];
pub const WARMUP: usize = 20;
const STEADY: usize = 600;
const CHANGING: usize = 200;
const REFRESH: usize = 20;

/// fsync-family syscalls the host made during `calls` calls.
pub struct Count {
    pub calls: usize,
    /// Per syscall, those that happened.
    pub syscalls: Vec<(String, u64)>,
    /// Calls whose answer differed from the one before.
    pub changed_answers: usize,
}

impl Count {
    pub fn fsyncs(&self) -> u64 {
        self.syscalls.iter().map(|(_, n)| n).sum()
    }

    pub fn per_call(&self) -> f64 {
        self.fsyncs() as f64 / self.calls.max(1) as f64
    }
}

/// One provider's host: steady state, new data every call, a token
/// refresh every call.
pub struct Fsyncs {
    pub provider: Provider,
    pub steady: Count,
    pub changing: Count,
    pub refresh: Count,
}

impl Fsyncs {
    /// Each kind of call, as the report names it.
    pub fn rows(&self) -> [(&'static str, &Count); 3] {
        [
            ("steady state (nothing new upstream)", &self.steady),
            ("a new weigh-in before every call", &self.changing),
            ("a token refresh in every call", &self.refresh),
        ]
    }
}

/// What each call changes before it is sent.
#[derive(Clone, Copy)]
enum Change {
    Nothing,
    NewWeighIn,
    ExpiredToken,
}

/// Measures each host (set up for its provider), strace's output in `dir`;
/// `Err` says why it could not (no strace, or no permission to attach).
pub async fn measure_all(
    clouds: &Clouds,
    hosts: &[(&HostProcess, Provider)],
    dir: &Path,
) -> Result<Vec<Fsyncs>, String> {
    let mut all = Vec::new();
    for &(host, provider) in hosts {
        all.push(measure(clouds, host, provider, dir).await?);
    }
    Ok(all)
}

async fn measure(
    clouds: &Clouds,
    host: &HostProcess,
    provider: Provider,
    dir: &Path,
) -> Result<Fsyncs, String> {
    let client = load::client(1);
    for _ in 0..WARMUP {
        answer(&client, &host.url).await;
    }
    let kind = |change, calls, name: &str| {
        let log = dir.join(format!("strace-{provider:?}-{name}.txt"));
        count(clouds, host, provider, change, calls, log)
    };
    Ok(Fsyncs {
        provider,
        steady: kind(Change::Nothing, STEADY, "steady").await?,
        changing: kind(Change::NewWeighIn, CHANGING, "changing").await?,
        refresh: kind(Change::ExpiredToken, REFRESH, "refresh").await?,
    })
}

/// The fsyncs of `calls` calls, each after `change`, with strace's output
/// in `log`.
async fn count(
    clouds: &Clouds,
    host: &HostProcess,
    provider: Provider,
    change: Change,
    calls: usize,
    log: PathBuf,
) -> Result<Count, String> {
    let client = load::client(1);
    let before = answer(&client, &host.url).await;
    let tracer = Tracer::attach(host.pid(), &log)?;
    let changed_answers = calls_with(&client, clouds, host, provider, change, calls, before).await;
    Ok(Count {
        calls,
        syscalls: tracer.finish()?,
        changed_answers,
    })
}

/// Sends `calls` workload calls one after another, each after `change`;
/// how many answers differed from the one before (`last` the first time).
async fn calls_with(
    client: &reqwest::Client,
    clouds: &Clouds,
    host: &HostProcess,
    provider: Provider,
    change: Change,
    calls: usize,
    mut last: String,
) -> usize {
    let mut changed = 0;
    for i in 0..calls {
        match change {
            Change::Nothing => {}
            Change::NewWeighIn => new_weigh_in(clouds, provider, i),
            Change::ExpiredToken => expire_token(clouds, host, provider).await,
        }
        let body = answer(client, &host.url).await;
        changed += usize::from(body != last);
        last = body;
    }
    changed
}

/// The workload's answer from the host at `base`, which must be a 200.
async fn answer(client: &reqwest::Client, base: &str) -> String {
    let response = client
        .get(format!("{base}{WORKLOAD}"))
        .send()
        .await
        .expect("the workload");
    assert_eq!(response.status(), 200, "the workload from {base}");
    response.text().await.expect("the workload's answer")
}

/// A weigh-in later today than any before, with a weight of its own.
fn new_weigh_in(clouds: &Clouds, provider: Provider, i: usize) {
    match provider {
        Provider::Fitbit => {
            let today = clouds.fitbit.today(DEFAULT_USER_ID);
            let time = format!("{:02}:{:02}:{:02}", 8 + i / 3600, i / 60 % 60, i % 60);
            let log = WeightLog::new(&today, &time, 70.0 + (i % 200) as f64 * 0.1);
            clouds.fitbit.add_weight(DEFAULT_USER_ID, log);
        }
        Provider::Google => {
            let at = Utc::now() - chrono::Duration::seconds(3600 - i as i64);
            let grams = 70_000.0 + (i % 200) as f64 * 100.0;
            let point = DataPoint::weight(&at.to_rfc3339_opts(SecondsFormat::Secs, true), grams);
            clouds
                .google
                .add_data_points(DEFAULT_HEALTH_USER_ID, [point]);
        }
    }
}

/// The access token expired at the provider and in the store, so that the
/// next call refreshes it (the store is written by this process, whose
/// syncs are not counted).
async fn expire_token(clouds: &Clouds, host: &HostProcess, provider: Provider) {
    match provider {
        Provider::Fitbit => clouds.fitbit.expire_access_tokens(),
        Provider::Google => clouds.google.expire_access_tokens(),
    }
    upstream::age_stored_token(&upstream::System::host(host)).await;
}

/// `strace -c` attached to every thread of a process.
struct Tracer {
    child: Child,
    log: PathBuf,
}

impl Tracer {
    /// Starts strace and waits until it has attached.
    fn attach(pid: u32, log: &Path) -> Result<Self, String> {
        let child = Command::new("strace")
            .args(["-f", "-c", "-e"])
            .arg(format!("trace={}", SYSCALLS.join(",")))
            .args(["-p", &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => "strace is not installed".to_string(),
                _ => format!("strace: {e}"),
            })?;
        let mut tracer = Self {
            child,
            log: log.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !tracer.output().contains("attached") {
            if let Ok(Some(_)) | Err(_) = tracer.child.try_wait() {
                return Err(format!(
                    "strace could not attach: {}",
                    tracer.output().trim()
                ));
            }
            if Instant::now() > deadline {
                let _ = tracer.child.kill();
                let _ = tracer.child.wait();
                return Err("strace did not attach within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(tracer)
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Detaches (SIGINT) and reads the counts from strace's summary.
    fn finish(mut self) -> Result<Vec<(String, u64)>, String> {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .map_err(|e| format!("kill: {e}"))?;
        self.child.wait().map_err(|e| format!("strace: {e}"))?;
        Ok(summary_counts(&self.output()))
    }
}

/// The calls per syscall in `strace -c`'s table (`% time  seconds
/// usecs/call  calls  [errors]  syscall`).
fn summary_counts(output: &str) -> Vec<(String, u64)> {
    output
        .lines()
        .filter_map(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            let name = *columns.last()?;
            let calls = columns.get(3)?.parse().ok()?;
            SYSCALLS.contains(&name).then(|| (name.to_string(), calls))
        })
        .collect()
}
