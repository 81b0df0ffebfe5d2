//! Closed-loop load: `concurrency` clients each send their next request as
//! soon as the last one is answered. After a warm-up, every request answered
//! inside the measuring window counts; the server process's CPU time over the
//! same window is read from `/proc`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

/// How long to warm up and to measure.
#[derive(Clone, Copy)]
pub struct Window {
    pub warmup: Duration,
    pub measure: Duration,
}

/// One run at one concurrency.
#[derive(Clone, Debug)]
pub struct LoadResult {
    pub concurrency: usize,
    pub answered: usize,
    /// Answers other than 200 (any is a failed benchmark).
    pub failed: usize,
    pub window: Duration,
    pub latencies: Sample,
    /// CPU time (user + system) of the server process over the window.
    pub server_cpu: Option<Duration>,
}

impl LoadResult {
    pub fn per_second(&self) -> f64 {
        self.answered as f64 / self.window.as_secs_f64()
    }

    pub fn percentile(&self, p: f64) -> Duration {
        self.latencies.percentile(p)
    }

    pub fn cpu_per_request(&self) -> Option<Duration> {
        let cpu = self.server_cpu?;
        (self.answered > 0).then(|| cpu / self.answered as u32)
    }
}

/// One request, sent again and again.
#[derive(Clone, Debug)]
pub struct Target {
    pub method: reqwest::Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Target {
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: reqwest::Method::GET,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn send(&self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        let mut request = client.request(self.method.clone(), &self.url);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        request.body(self.body.clone())
    }
}

/// Runs `concurrency` clients sending `target` for `window`.
pub async fn run(
    client: &reqwest::Client,
    target: &Target,
    concurrency: usize,
    window: Window,
    server_pid: Option<u32>,
) -> LoadResult {
    let start = Instant::now() + window.warmup;
    let end = start + window.measure;
    let samples = Arc::new(Mutex::new((Vec::new(), 0usize)));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, target, samples) = (client.clone(), target.clone(), samples.clone());
        workers.push(tokio::spawn(async move {
            let (mut mine, mut failed) = (Vec::new(), 0);
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let ok = match target.send(&client).send().await {
                    Ok(response) => {
                        let status = response.status();
                        response.bytes().await.is_ok() && status == 200
                    }
                    Err(_) => false,
                };
                let answered = Instant::now();
                if answered >= start && answered <= end {
                    if ok {
                        mine.push(answered - sent);
                    } else {
                        failed += 1;
                    }
                }
            }
            let mut all = samples.lock().await;
            all.0.extend(mine);
            all.1 += failed;
        }));
    }
    let cpu = tokio::spawn(async move {
        let pid = server_pid?;
        tokio::time::sleep_until(start.into()).await;
        let before = process_cpu(pid)?;
        tokio::time::sleep_until(end.into()).await;
        Some(process_cpu(pid)?.saturating_sub(before))
    });
    for worker in workers {
        worker.await.expect("load worker");
    }
    let server_cpu = cpu.await.expect("cpu sampler");
    let (latencies, failed) = std::mem::take(&mut *samples.lock().await);
    LoadResult {
        concurrency,
        answered: latencies.len(),
        failed,
        window: window.measure,
        latencies: Sample::new(latencies),
        server_cpu,
    }
}

/// Latencies of requests sent one after another.
pub async fn sequential(client: &reqwest::Client, target: &Target, n: usize) -> Sample {
    Sample::new(in_order(client, target, n).await)
}

/// The same, in the order they were sent.
pub async fn in_order(client: &reqwest::Client, target: &Target, n: usize) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(n);
    for _ in 0..n {
        let sent = Instant::now();
        let response = target.send(client).send().await.expect("a request");
        let status = response.status();
        let body = response.bytes().await.expect("a body");
        assert_eq!(
            status,
            200,
            "{}: {}",
            target.url,
            String::from_utf8_lossy(&body)
        );
        latencies.push(sent.elapsed());
    }
    latencies
}

/// Durations, sorted.
#[derive(Clone, Debug, Default)]
pub struct Sample(Vec<Duration>);

impl Sample {
    pub fn new(mut durations: Vec<Duration>) -> Self {
        durations.sort();
        Self(durations)
    }

    pub fn into_vec(self) -> Vec<Duration> {
        self.0
    }

    pub fn mean(&self) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        self.0.iter().sum::<Duration>() / self.0.len() as u32
    }

    pub fn percentile(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }
}

/// User + system CPU time of a process and all its threads so far.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces): state is
    // field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_secs_f64(
        ticks as f64 / clock_ticks_per_second(),
    ))
}

/// `sysconf(_SC_CLK_TCK)`, the unit of `/proc/PID/stat` times.
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// A client that keeps up to `connections` connections open.
pub fn client(connections: usize) -> reqwest::Client {
    client_keeping(connections)
}

/// A client that keeps no connection open: a new one for every request.
pub fn client_without_keep_alive() -> reqwest::Client {
    client_keeping(0)
}

fn client_keeping(idle: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(idle)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}
