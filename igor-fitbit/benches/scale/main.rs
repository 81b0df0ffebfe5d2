//! The scale-out benchmark: many tenants, each with the built-in plugin and
//! one scheduled action, served by
//!
//! - one host on its embedded SQLite store with the tenants in its TOML
//!   file (the single-machine setup, the baseline), and
//! - three hosts on one PostgreSQL (a private cluster) with the tenants in
//!   the database,
//!
//! under the same closed-loop load: `CONCURRENCY` clients each asking a
//! random tenant's setup page, spread over the hosts. Reported per setup:
//! time to the first answer after start, requests per second, p50/p99
//! latency, resident memory per host after the load, and scheduled runs
//! (database claims) per second during the load.
//!
//! `cargo bench -p igor-fitbit --bench scale` prints the results and
//! writes them between the scale-out markers in docs/benchmarks.md.
//! `IGOR_SCALE_TENANTS` (default 10000) and `IGOR_SCALE_SECONDS` (default
//! 10) change the size and the measuring window.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[allow(dead_code)]
#[path = "../end_to_end/load.rs"]
mod load;

use igor_test_support::text_of;
use load::Sample;

const CONCURRENCY: usize = 1000;
const TOKEN: &str = "bench-token";
const ADMIN: &str = "bench-admin";
/// Each tenant's action runs this often; first runs are spread over it.
const ACTION_INTERVAL: u64 = 60;
const PAGE: &str = "/plugin/fitbit/page/setup.html";
const BEGIN: &str = "<!-- scale-out: begin (written by the scale benchmark) -->";
const END: &str = "<!-- scale-out: end -->";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sha256_hex(text: &str) -> String {
    igor_host::access::sha256_hex(text)
}

/// One `igor-host serve` process.
struct HostProcess {
    child: Child,
    url: String,
    started: Instant,
}

impl HostProcess {
    fn spawn(dir: &Path, config: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let path = dir.join("host.toml");
        std::fs::write(
            &path,
            format!(
                "data_dir = {:?}\n[server]\nlisten = \"127.0.0.1:{port}\"\nmax_connections = \
                 {}\n[admin]\ntoken_sha256 = [\"{}\"]\n{config}",
                dir.join("data").display().to_string(),
                CONCURRENCY + 64,
                sha256_hex(ADMIN)
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("host.log")).unwrap();
        let started = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_igor-host"))
            .arg("--config")
            .arg(&path)
            .arg("serve")
            .env("IGOR_HOST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting igor-host");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            started,
        }
    }

    /// Waits for tenant t0's page; the time since the process started.
    async fn first_answer(&mut self, client: &reqwest::Client) -> Duration {
        loop {
            let url = format!("{}/tenants/t0{PAGE}", self.url);
            if let Ok(r) = client.get(url).bearer_auth(TOKEN).send().await
                && r.status() == 200
            {
                return self.started.elapsed();
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("igor-host exited ({status}) before answering");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// `igor_host_action_runs_total` from its metrics.
    async fn runs(&self, client: &reqwest::Client) -> f64 {
        let metrics = client
            .get(format!("{}/metrics", self.url))
            .bearer_auth(ADMIN);
        let text = text_of(metrics).await;
        text.lines()
            .find_map(|l| l.strip_prefix("igor_host_action_runs_total "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one setup measured.
struct Figures {
    name: &'static str,
    hosts: usize,
    first_answer: Duration,
    per_second: f64,
    failed: usize,
    latencies: Sample,
    rss_mib: Vec<f64>,
    runs_per_second: f64,
}

/// The tenant every setup has `tenants` of (`t0`, `t1`, ...).
fn tenant_spec() -> serde_json::Value {
    serde_json::json!({
        "plugins": [{"name": "fitbit"}],
        "actions": [{"interval": ACTION_INTERVAL, "url": PAGE, "representing": "bench"}],
        "token_sha256": [sha256_hex(TOKEN)],
    })
}

fn toml_tenants(tenants: usize) -> String {
    let mut text = String::new();
    for i in 0..tenants {
        write!(
            text,
            "[[tenant]]\nid = \"t{i}\"\ntoken_sha256 = [\"{}\"]\n[[tenant.plugin]]\nname = \
             \"fitbit\"\n[[tenant.action]]\ninterval = {ACTION_INTERVAL}\nurl = \"{PAGE}\"\n\
             representing = \"bench\"\n",
            sha256_hex(TOKEN)
        )
        .unwrap();
    }
    text
}

/// Fills a migrated database with `tenants` tenants and their actions in
/// one statement each, first runs spread over the interval.
fn insert_tenants(cluster: &igor_test_support::postgres::Cluster, db: &str, tenants: usize) {
    let spec = tenant_spec().to_string().replace('\'', "''");
    let sql = format!(
        "BEGIN;
         INSERT INTO tenants (id, spec, version)
           SELECT 't' || i, '{spec}', 1 FROM generate_series(0, {last}) i;
         INSERT INTO scheduled_actions (tenant, url, representing, interval_ms, due_ms)
           SELECT 't' || i, '{PAGE}', 'bench', {interval_ms},
                  igor_now_ms() + (random() * {interval_ms})::BIGINT
           FROM generate_series(0, {last}) i;
         UPDATE tenant_directory SET version = 1;
         COMMIT;",
        last = tenants - 1,
        interval_ms = ACTION_INTERVAL * 1000,
    );
    cluster.psql(db, &sql).expect("inserting the tenants");
}

/// `CONCURRENCY` clients, each asking a random tenant's page on the hosts
/// in turn, for `warmup` then `measure`.
async fn load(hosts: &[HostProcess], tenants: usize, measure: Duration) -> (Vec<Duration>, usize) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let warmup = Duration::from_secs(3);
    let start = Instant::now() + warmup;
    let end = start + measure;
    let urls: Arc<Vec<String>> = Arc::new(hosts.iter().map(|h| h.url.clone()).collect());
    let mut workers = Vec::new();
    for worker in 0..CONCURRENCY {
        let (client, urls) = (client.clone(), urls.clone());
        workers.push(tokio::spawn(async move {
            let (mut latencies, mut failed) = (Vec::new(), 0usize);
            let mut turn = worker;
            while Instant::now() < end {
                turn += 1;
                let tenant = rand::random_range(0..tenants);
                let url = format!("{}/tenants/t{tenant}{PAGE}", urls[turn % urls.len()]);
                let sent = Instant::now();
                let outcome = match client.get(url).bearer_auth(TOKEN).send().await {
                    Ok(r) if r.status() == 200 => {
                        r.bytes().await.map(drop).map_err(|e| e.to_string())
                    }
                    Ok(r) => Err(format!(
                        "HTTP {}: {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    )),
                    Err(e) => Err(e.to_string()),
                };
                let ok = match outcome {
                    Ok(()) => true,
                    Err(e) => {
                        if failed == 0 {
                            eprintln!("a failed request: {e}");
                        }
                        false
                    }
                };
                let answered = Instant::now();
                if answered >= start && answered <= end {
                    if ok {
                        latencies.push(answered - sent);
                    } else {
                        failed += 1;
                    }
                }
            }
            (latencies, failed)
        }));
    }
    let (mut all, mut failed) = (Vec::new(), 0);
    for worker in workers {
        let (latencies, f) = worker.await.unwrap();
        all.extend(latencies);
        failed += f;
    }
    (all, failed)
}

async fn measure_setup(
    name: &'static str,
    mut hosts: Vec<HostProcess>,
    tenants: usize,
    window: Duration,
) -> Figures {
    let client = reqwest::Client::new();
    let mut first_answer = Duration::ZERO;
    for host in &mut hosts {
        first_answer = first_answer.max(host.first_answer(&client).await);
    }
    println!("{name}: first answer after {first_answer:.2?}");
    let mut runs_before = 0.0;
    for host in &hosts {
        runs_before += host.runs(&client).await;
    }
    let counted = Instant::now();
    let (latencies, failed) = load(&hosts, tenants, window).await;
    let mut runs_after = 0.0;
    for host in &hosts {
        runs_after += host.runs(&client).await;
    }
    let runs_per_second = (runs_after - runs_before) / counted.elapsed().as_secs_f64();
    let figures = Figures {
        name,
        hosts: hosts.len(),
        first_answer,
        per_second: latencies.len() as f64 / window.as_secs_f64(),
        failed,
        latencies: Sample::new(latencies),
        rss_mib: hosts.iter().map(HostProcess::rss_mib).collect(),
        runs_per_second,
    };
    println!(
        "{name}: {:.0} requests/s, p50 {:.1?}, p99 {:.1?}, {} failed, RSS {:?} MiB, {:.1} runs/s",
        figures.per_second,
        figures.latencies.percentile(50.0),
        figures.latencies.percentile(99.0),
        figures.failed,
        figures.rss_mib,
        figures.runs_per_second
    );
    figures
}

fn markdown(tenants: usize, window: Duration, baseline: &Figures, scaled: &Figures) -> String {
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    let rss = |f: &Figures| {
        f.rss_mib
            .iter()
            .map(|m| format!("{m:.0}"))
            .collect::<Vec<_>>()
            .join(" / ")
            + " MiB"
    };
    let ratio = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.2}×", a / b)
        } else {
            "–".into()
        }
    };
    let latency_row = |what: &'static str, p: f64| {
        let (a, b) = (
            baseline.latencies.percentile(p),
            scaled.latencies.percentile(p),
        );
        (what, ms(a), ms(b), ratio(b.as_secs_f64(), a.as_secs_f64()))
    };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut text = String::new();
    writeln!(
        text,
        "### Scale out: {tenants} tenants, {CONCURRENCY} concurrent clients\n\n\
         Measured {} on {cores} cores (load average before: {}), release build, {} s window \
         after 3 s of warm-up; every tenant runs the built-in plugin with one action every \
         {ACTION_INTERVAL} s (so about {:.0} runs/s are due). Both setups ran on the same \
         machine in the same run, one after the other; all processes share its cores.\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        load.split(' ').take(3).collect::<Vec<_>>().join(" "),
        window.as_secs(),
        tenants as f64 / ACTION_INTERVAL as f64,
    )
    .unwrap();
    writeln!(
        text,
        "| | {} ({} host) | {} ({} hosts) | ratio |\n|---|---|---|---|",
        baseline.name, baseline.hosts, scaled.name, scaled.hosts
    )
    .unwrap();
    let rows = [
        (
            "first answer after start",
            ms(baseline.first_answer),
            ms(scaled.first_answer),
            ratio(
                scaled.first_answer.as_secs_f64(),
                baseline.first_answer.as_secs_f64(),
            ),
        ),
        (
            "requests/s",
            format!("{:.0}", baseline.per_second),
            format!("{:.0}", scaled.per_second),
            ratio(scaled.per_second, baseline.per_second),
        ),
        latency_row("p50 latency", 50.0),
        latency_row("p99 latency", 99.0),
        (
            "resident memory per host",
            rss(baseline),
            rss(scaled),
            "".into(),
        ),
        (
            "scheduled runs (claims)/s",
            format!("{:.1}", baseline.runs_per_second),
            format!("{:.1}", scaled.runs_per_second),
            ratio(scaled.runs_per_second, baseline.runs_per_second),
        ),
        (
            "failed requests",
            baseline.failed.to_string(),
            scaled.failed.to_string(),
            "".into(),
        ),
    ];
    for (what, a, b, r) in rows {
        writeln!(text, "| {what} | {a} | {b} | {r} |").unwrap();
    }
    text
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn write_report(section: &str) {
    let doc = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/benchmarks.md");
    let text = std::fs::read_to_string(&doc).unwrap_or_default();
    let block = format!("{BEGIN}\n\n{section}\n{END}");
    let updated = match (text.find(BEGIN), text.find(END)) {
        (Some(start), Some(end)) if start < end => {
            format!("{}{block}{}", &text[..start], &text[end + END.len()..])
        }
        _ => format!("{text}\n{block}\n"),
    };
    std::fs::write(&doc, updated).expect("writing docs/benchmarks.md");
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        // `cargo test --benches` asks for the list: nothing to run there.
        return;
    }
    let tenants = env_number("IGOR_SCALE_TENANTS", 10_000) as usize;
    let window = Duration::from_secs(env_number("IGOR_SCALE_SECONDS", 10));
    let scratch = tempfile::tempdir().unwrap();

    // Every host starts with the compiled component in its cache (a
    // compilation would otherwise dominate the first answer).
    let warm = scratch.path().join("warm");
    HostProcess::spawn(&warm, &toml_tenants(1))
        .first_answer(&reqwest::Client::new())
        .await;
    let with_cache = |name: &str| {
        let dir = scratch.path().join(name);
        copy_dir(&warm.join("data/cache"), &dir.join("data/cache"));
        dir
    };

    // Baseline: one host, SQLite, tenants in the file.
    let config = toml_tenants(tenants);
    let single = vec![HostProcess::spawn(&with_cache("single"), &config)];
    let baseline = measure_setup("SQLite, tenants in the file", single, tenants, window).await;

    // Three hosts on one PostgreSQL, tenants in the database.
    let cluster = igor_test_support::postgres::cluster();
    let url = cluster.database("scale_bench");
    let db = url.rsplit('/').next().unwrap().to_string();
    let key_file = scratch.path().join("keys");
    let key: [u8; 32] = rand::random();
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD.encode(key);
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    let shared = format!(
        "[store]\nbackend = \"postgres\"\nurl = \"{url}\"\npool_size = 16\n\
         [secrets]\nkey_file = {:?}\n[tenant_directory]\nsource = \"database\"\n",
        key_file.display().to_string()
    );
    let pg = igor_host::store::postgres::PostgresConfig {
        url: url.clone(),
        pool_size: 1,
        timeout_ms: 5000,
    };
    igor_host::store::postgres::PostgresStore::connect(&pg)
        .await
        .expect("migrating the database");
    insert_tenants(cluster, &db, tenants);
    let three: Vec<HostProcess> = (0..3)
        .map(|i| HostProcess::spawn(&with_cache(&format!("host{i}")), &shared))
        .collect();
    let scaled = measure_setup(
        "PostgreSQL, tenants in the database",
        three,
        tenants,
        window,
    )
    .await;

    let section = markdown(tenants, window, &baseline, &scaled);
    println!("\n{section}");
    write_report(&section);
    println!("written to docs/benchmarks.md");
}
