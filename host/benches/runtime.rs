//! Host benchmarks, each reported as a ratio against a baseline measured in
//! the same run on the same machine:
//!
//! 1. loading a component: compiling it vs. loading it from the on-disk cache;
//! 2. one request in a fresh instance: pooling allocator vs. on-demand;
//! 3. one HTTP round trip: a plugin request through the host vs. a plain
//!    axum handler answering the same bytes (the cost of the sandbox).
//!
//! Run with `cargo bench -p igor-host --bench runtime`; results are printed
//! as a Markdown table (see docs/benchmarks.md).

use std::time::{Duration, Instant};

use igor_host::app::{App, HostRequest};
use igor_host::config::Config;

const ITERATIONS: u32 = 2000;

fn config(data_dir: &std::path::Path, pooling: bool) -> Config {
    let text = format!(
        "data_dir = {:?}\npooling_allocator = {pooling}\n[[plugin]]\nname = \"hostile\"\ncomponent = {:?}\n",
        data_dir.display().to_string(),
        igor_test_guests::HOSTILE
    );
    toml::from_str(&text).expect("bench config")
}

fn ok_request() -> HostRequest {
    HostRequest {
        method: "GET".into(),
        target: "/plugin/hostile/ok".into(),
        ..Default::default()
    }
}

fn per_iteration(total: Duration, n: u32) -> f64 {
    total.as_secs_f64() * 1e6 / n as f64
}

async fn time_dispatch(app: &App, n: u32) -> f64 {
    for _ in 0..50 {
        app.dispatch(ok_request()).await;
    }
    let started = Instant::now();
    for _ in 0..n {
        let response = app.dispatch(ok_request()).await;
        assert_eq!(response.status, 200);
    }
    per_iteration(started.elapsed(), n)
}

async fn time_http(client: &reqwest::Client, url: &str, n: u32) -> f64 {
    for _ in 0..50 {
        client.get(url).send().await.unwrap().bytes().await.unwrap();
    }
    let started = Instant::now();
    for _ in 0..n {
        let body = client.get(url).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(&body[..], b"still here");
    }
    per_iteration(started.elapsed(), n)
}

fn row(name: &str, subject: f64, baseline_name: &str, baseline: f64, unit: &str) {
    println!(
        "| {name} | {subject:.1} {unit} | {baseline_name} | {baseline:.1} {unit} | {:.2}× |",
        subject / baseline
    );
}

#[tokio::main]
async fn main() {
    let wasm = std::fs::read(igor_test_guests::HOSTILE).unwrap();
    println!("| measurement | time | baseline | baseline time | ratio |");
    println!("|---|---|---|---|---|");

    // 1. Compile vs. cache.
    let engine = igor_host::engine::build_engine(64 << 20, true).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let started = Instant::now();
    for _ in 0..5 {
        wasmtime::component::Component::new(&engine, &wasm).unwrap();
    }
    let compile = started.elapsed().as_secs_f64() * 1e3 / 5.0;
    igor_host::engine::load_component(&engine, &wasm, Some(cache.path())).unwrap();
    let started = Instant::now();
    for _ in 0..50 {
        igor_host::engine::load_component(&engine, &wasm, Some(cache.path())).unwrap();
    }
    let cached = started.elapsed().as_secs_f64() * 1e3 / 50.0;
    row(
        "load component from cache",
        cached,
        "compile with Cranelift",
        compile,
        "ms",
    );

    // 2. Pooling vs. on-demand instantiation, one request each.
    let dir = tempfile::tempdir().unwrap();
    let pooled = App::new(config(dir.path(), true), None).await.unwrap();
    let on_demand = App::new(config(dir.path(), false), None).await.unwrap();
    let pooled_us = time_dispatch(&pooled, ITERATIONS).await;
    let on_demand_us = time_dispatch(&on_demand, ITERATIONS).await;
    row(
        "request in a fresh instance, pooling allocator",
        pooled_us,
        "same, on-demand allocator",
        on_demand_us,
        "µs",
    );

    // 3. Through HTTP vs. a plain handler.
    let app = std::sync::Arc::new(pooled);
    let router = igor_host::server::router(app)
        .route("/plain", axum::routing::get(|| async { "still here" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let client = reqwest::Client::new();
    let plugin_us = time_http(&client, &format!("{base}/plugin/hostile/ok"), ITERATIONS).await;
    let plain_us = time_http(&client, &format!("{base}/plain"), ITERATIONS).await;
    row(
        "HTTP request answered by a plugin",
        plugin_us,
        "HTTP request answered by a plain axum handler",
        plain_us,
        "µs",
    );
}
