//! What the sandbox itself costs: a plugin's trivial route against a plain
//! axum handler answering the same bytes over HTTP in the same process, a
//! fresh instance with the pooling allocator against on-demand allocation,
//! and compiling `fitbit.wasm` against loading it from the component cache.

use std::path::Path;
use std::time::{Duration, Instant};

use igor_host::app::HostRequest;

use crate::inprocess::InProcessHost;
use crate::load::{self, Sample, Target};

const ROUNDS: usize = 10;
const PER_ROUND: usize = 300;

pub struct Isolation {
    pub plugin: Sample,
    pub plain: Sample,
    pub pooled: Duration,
    pub on_demand: Duration,
}

pub struct Compilation {
    pub wasm_bytes: usize,
    pub compiled_bytes: usize,
    pub compile: Duration,
    pub from_cache: Duration,
}

fn hostile_config(pooling: bool) -> String {
    format!(
        "pooling_allocator = {pooling}\n[[plugin]]\nname = \"hostile\"\ncomponent = {:?}\n",
        igor_test_guests::HOSTILE
    )
}

pub async fn measure(dir: &Path) -> Isolation {
    let plain = axum::Router::new().route("/plain", axum::routing::get(|| async { "still here" }));
    let host = InProcessHost::start(&dir.join("pooled"), &hostile_config(true), plain).await;
    let client = load::client(1);
    let plugin_route = Target::get(format!("{}/plugin/hostile/ok", host.url));
    let plain_route = Target::get(format!("{}/plain", host.url));
    // Interleaved, so that a busy moment of the machine hits both alike.
    let (mut plugin, mut plain) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        plugin.extend(
            load::sequential(&client, &plugin_route, PER_ROUND)
                .await
                .into_vec(),
        );
        plain.extend(
            load::sequential(&client, &plain_route, PER_ROUND)
                .await
                .into_vec(),
        );
    }
    let on_demand = InProcessHost::start(
        &dir.join("on-demand"),
        &hostile_config(false),
        axum::Router::new(),
    )
    .await;
    Isolation {
        plugin: Sample::new(plugin),
        plain: Sample::new(plain),
        pooled: dispatch_time(&host).await,
        on_demand: dispatch_time(&on_demand).await,
    }
}

/// Mean time of one request through the host's dispatch (no HTTP).
async fn dispatch_time(host: &InProcessHost) -> Duration {
    let request = || HostRequest {
        method: "GET".into(),
        target: "/plugin/hostile/ok".into(),
        ..Default::default()
    };
    for _ in 0..100 {
        host.app.dispatch(request()).await;
    }
    let n = 2000;
    let started = Instant::now();
    for _ in 0..n {
        assert_eq!(host.app.dispatch(request()).await.status, 200);
    }
    started.elapsed() / n
}

pub fn compilation(dir: &Path) -> Compilation {
    let wasm = igor_fitbit::COMPONENT;
    let engine = igor_host::engine::build_engine(64 << 20, true).expect("an engine");
    let mut compile = Vec::new();
    let mut compiled_bytes = 0;
    for _ in 0..3 {
        let started = Instant::now();
        compiled_bytes = engine.precompile_component(wasm).expect("compiling").len();
        compile.push(started.elapsed());
    }
    let cache = dir.join("component-cache");
    // As the binary loads it: with the digest its build computed.
    let digest = igor_fitbit::builtin().digest();
    igor_host::engine::load_component(&engine, wasm, digest, Some(&cache)).expect("caching");
    let mut from_cache = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        igor_host::engine::load_component(&engine, wasm, digest, Some(&cache)).expect("loading");
        from_cache.push(started.elapsed());
    }
    Compilation {
        wasm_bytes: wasm.len(),
        compiled_bytes,
        compile: Sample::new(compile).percentile(50.0),
        from_cache: Sample::new(from_cache).percentile(50.0),
    }
}
