//! Hostile plugins against the real host binary: every attack is contained,
//! logged with tenant and plugin, and the host serves the next request.

use crate::common;

use std::time::Duration;

use axum::Router;
use axum::response::{IntoResponse, Redirect};
use axum::routing::any;
use common::config::{Tenant, tenant};
use common::{Client, Host, HostConfig, call_once, plugin};

const TOKEN_A: &str = "token-of-tenant-a";
const TOKEN_B: &str = "token-of-tenant-b";
const ADMIN: &str = "admin-token";

/// A loopback server: `/redirect` points at the metadata address, `/big`
/// answers 8 MiB, `/slow` answers after a minute, anything else records
/// what it was sent.
async fn upstream() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let record = seen.clone();
    let app = Router::new()
        .route(
            "/redirect",
            any(|| async { Redirect::temporary("http://169.254.169.254/latest/meta-data/") }),
        )
        .route(
            "/big",
            any(|| async { vec![b'x'; 8 << 20].into_response() }),
        )
        .route(
            "/slow",
            any(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "too late"
            }),
        )
        .fallback(move |request: axum::extract::Request| {
            let record = record.clone();
            async move {
                let auth = request
                    .headers()
                    .get("authorization")
                    .map(|v| v.to_str().unwrap_or("").to_string())
                    .unwrap_or_default();
                let body = axum::body::to_bytes(request.into_body(), 1 << 20)
                    .await
                    .unwrap();
                record
                    .lock()
                    .unwrap()
                    .push(format!("{auth} {}", String::from_utf8_lossy(&body)));
                "recorded"
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

/// Tenant a: tight limits and quota, the upstream allowed (also on
/// loopback) with its `/token` as a secret URL.
fn tenant_a(upstream: &str, wasm: &str) -> Tenant {
    let hostile = plugin("hostile")
        .component(wasm)
        .allow_loopback()
        .egress(|egress| {
            egress.allow = vec![upstream.into(), "http://169.254.169.254".into()];
            egress.secret_urls = vec![format!("{upstream}/token")];
        });
    tenant("a", TOKEN_A)
        .plugin(hostile)
        .limits(|limits| {
            limits.request_timeout_ms = 1500;
            limits.memory_bytes = 32 << 20;
            limits.max_fetch_response_bytes = 1 << 20;
        })
        .quota(|quota| {
            quota.max_value_bytes = 1000;
            quota.max_keys = 5;
            quota.max_total_bytes = 100_000;
        })
}

/// Tenant b: its own SQLite file, and loopback in three spellings listed
/// but not allowed to resolve.
fn tenant_b(upstream: &str, wasm: &str) -> Tenant {
    let port = upstream.rsplit(':').next().unwrap();
    let hostile = plugin("hostile").component(wasm).egress(|egress| {
        egress.allow = vec![
            upstream.into(),
            format!("http://localhost:{port}"),
            format!("http://[::1]:{port}"),
            format!("http://[::ffff:127.0.0.1]:{port}"),
            "http://169.254.169.254".into(),
        ];
    });
    tenant("b", TOKEN_B)
        .plugin(hostile)
        .limits(|limits| limits.request_timeout_ms = 1500)
        .own_sqlite_store()
}

/// Tenants a and b, each running `wasm` as its plugin "hostile".
fn tenants_config(upstream: &str, wasm: &str) -> HostConfig {
    HostConfig::new()
        .admin_token(ADMIN)
        .tenant(tenant_a(upstream, wasm))
        .tenant(tenant_b(upstream, wasm))
}

/// The hostile plugin of each tenant, as its callers reach it.
struct Tenants {
    url: String,
}

impl Tenants {
    fn new(host: &Host) -> Self {
        Self {
            url: host.url.clone(),
        }
    }

    /// A caller of `tenant`'s plugin presenting `token`.
    fn of(&self, tenant: &str, token: &str) -> Client {
        Client::at(&format!("{}/tenants/{tenant}/plugin/hostile", self.url)).with_bearer(token)
    }

    async fn get(&self, tenant: &str, token: &str, path: &str) -> (u16, String) {
        self.of(tenant, token).get(path).await
    }

    async fn still_serving(&self) {
        assert_eq!(
            self.get("a", TOKEN_A, "/ok").await,
            (200, "still here".into())
        );
    }
}

/// `POST /admin/reload` with `token`: the status and the answer.
async fn reload(host: &Host, token: &str) -> (u16, String) {
    Client::new(host)
        .with_bearer(token)
        .post("/admin/reload")
        .await
}

/// Loopback (the upstream, by name and in three address spellings), the
/// metadata address and a name no tenant lists. Tenant b lists all but the
/// last and has no loopback test entry, so each is refused.
fn ssrf_targets(upstream: &str) -> [String; 6] {
    let port = upstream.rsplit(':').next().unwrap();
    [
        format!("{upstream}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::1]:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://example.com/".to_string(),
    ]
}

/// The host's metrics, as an admin reads them.
async fn metrics(host: &Host) -> String {
    Client::new(host).with_bearer(ADMIN).get("/metrics").await.1
}

/// Tenants a and b running the hostile guest against a recording upstream.
struct Attacked {
    upstream: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    host: Host,
    c: Tenants,
}

impl Attacked {
    async fn start() -> Self {
        let (upstream, seen) = upstream().await;
        let host = Host::start(tenants_config(&upstream, igor_test_guests::HOSTILE)).await;
        let c = Tenants::new(&host);
        c.still_serving().await;
        Self {
            upstream,
            seen,
            host,
            c,
        }
    }

    /// Tenant a's plugin fetching `target`: its answer.
    async fn fetch(&self, tenant: &str, token: &str, target: &str) -> String {
        let path = format!("/fetch?url={target}");
        self.c.get(tenant, token, &path).await.1
    }

    /// The line of the host's log with `needle`, which names the tenant and
    /// the plugin.
    fn logged(&self, needle: &str) {
        let log = self.host.log();
        let line = log
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} not logged:\n{log}"));
        assert!(
            line.contains("tenant=a") || line.contains("tenant=b"),
            "{line}"
        );
        assert!(line.contains("plugin=hostile"), "{line}");
    }

    /// The host's metrics show each of `needles`.
    async fn counted(&self, needles: &[&str]) {
        let metrics = metrics(&self.host).await;
        for needle in needles {
            assert!(metrics.contains(needle), "{needle} missing:\n{metrics}");
        }
    }
}

const REFUSED: &str = "error refused by the host's egress policy";

#[tokio::test(flavor = "multi_thread")]
async fn an_endless_loop_is_stopped_at_the_deadline() {
    let a = Attacked::start().await;
    let (status, body) = a.c.get("a", TOKEN_A, "/loop").await;
    assert_eq!(status, 504, "{body}");
    assert!(body.contains("1500 ms deadline"), "{body}");
    a.c.still_serving().await;
    a.logged("kind=\"deadline\"");
    a.counted(&[
        r#"igor_host_plugin_traps_total{tenant="a",plugin="hostile",kind="deadline"} 1"#,
        r#"igor_host_plugin_request_seconds_bucket{"#,
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unbounded_allocation_hits_the_memory_cap() {
    let a = Attacked::start().await;
    let (status, body) = a.c.get("a", TOKEN_A, "/alloc").await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("memory limit of 33554432 bytes"), "{body}");
    a.c.still_serving().await;
    a.logged("kind=\"memory\"");
    a.counted(&[r#"igor_host_plugin_traps_total{tenant="a",plugin="hostile",kind="memory"} 1"#])
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_is_a_500_with_the_guests_message() {
    let a = Attacked::start().await;
    let (status, body) = a.c.get("a", TOKEN_A, "/panic").await;
    assert_eq!(status, 500);
    assert!(body.contains("panics on purpose"), "{body}");
    a.c.still_serving().await;
    a.logged("kind=\"trap\"");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_spelling_of_loopback_and_the_metadata_address_is_refused() {
    let a = Attacked::start().await;
    // Tenant b lists loopback and metadata destinations but has no loopback
    // test entry: every spelling is refused at the address level.
    for target in ssrf_targets(&a.upstream) {
        let body = a.fetch("b", TOKEN_B, &target).await;
        assert!(body.starts_with(REFUSED), "{target}: {body}");
    }
    // Tenant a's loopback test entry opens its upstream, nothing more: not
    // other loopback ports or names, and never the metadata address.
    let body = a.fetch("a", TOKEN_A, &format!("{}/x", a.upstream)).await;
    assert!(body.starts_with("status 200"), "{body}");
    let port = a.upstream.rsplit(':').next().unwrap();
    for target in [
        format!("http://localhost:{port}/"),
        "http://127.0.0.2:80/".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
    ] {
        let body = a.fetch("a", TOKEN_A, &target).await;
        assert!(body.starts_with(REFUSED), "{target}: {body}");
    }
    a.logged("egress refused");
    a.counted(&[r#"igor_host_egress_denials_total{tenant="a",plugin="hostile"}"#])
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_is_handed_back_and_following_it_is_checked_again() {
    let a = Attacked::start().await;
    let path = format!("/follow?url={}/redirect", a.upstream);
    let (_, body) = a.c.get("a", TOKEN_A, &path).await;
    assert!(body.contains("status 307"), "{body}");
    assert!(body.contains(&format!("second: {REFUSED}")), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_response_is_cut_off() {
    let a = Attacked::start().await;
    let body = a.fetch("a", TOKEN_A, &format!("{}/big", a.upstream)).await;
    assert!(body.starts_with("error too large"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_secret_cannot_be_sent_where_it_does_not_belong() {
    let a = Attacked::start().await;
    // (It is not even set.)
    let path = format!("/exfiltrate?url={}/elsewhere", a.upstream);
    let (_, body) = a.c.get("a", TOKEN_A, &path).await;
    assert!(body.contains(&format!("basic: {REFUSED}")), "{body}");
    assert!(body.contains(&format!("form: {REFUSED}")), "{body}");
    let seen = a.seen.lock().unwrap().clone();
    assert!(seen.is_empty(), "{seen:?}");
    a.logged("secret refused for this URL");
}

#[tokio::test(flavor = "multi_thread")]
async fn store_paths_cannot_escape_the_namespace() {
    let a = Attacked::start().await;
    let (_, body) = a.c.get("a", TOKEN_A, "/store-escape").await;
    assert_eq!(body.matches("invalid path").count(), 10, "{body}");
    a.counted(&[r#"igor_host_store_bytes{tenant="a"}"#]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_log_flood_is_cut_at_the_per_request_cap() {
    let a = Attacked::start().await;
    let (status, _) = a.c.get("a", TOKEN_A, "/log-flood").await;
    assert_eq!(status, 200);
    a.c.still_serving().await;
    a.logged("log limit of 200 lines reached");
    let log = a.host.log();
    assert!(log.matches("flood line").count() <= 200, "flood not capped");
}

#[tokio::test(flavor = "multi_thread")]
async fn tenants_are_authenticated_and_isolated() {
    let (upstream, _) = upstream().await;
    let host = Host::start(tenants_config(&upstream, igor_test_guests::HOSTILE)).await;
    let c = Tenants::new(&host);

    // No token, a wrong token, another tenant's token: all refused.
    let response = reqwest::get(format!("{}/tenants/a/plugin/hostile/ok", host.url))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    assert_eq!(c.get("a", "wrong", "/ok").await.0, 401);
    assert_eq!(c.get("a", TOKEN_B, "/ok").await.0, 401);
    // A path is public only when the plugin's manifest says so: this
    // component has none, so even an OAuth-callback-like path needs a token.
    let response = reqwest::get(format!(
        "{}/tenants/a/plugin/hostile/auth2?state=x",
        host.url
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), 401);
    // Without tenants in the URL nothing is served.
    assert_eq!(
        reqwest::get(format!("{}/plugin/hostile/ok", host.url))
            .await
            .unwrap()
            .status(),
        404
    );

    // Same plugin, same path, different tenants: separate data.
    let (_, body) = c
        .get("a", TOKEN_A, "/store-put?path=sensors/x&json=%22only-a%22")
        .await;
    assert!(body.starts_with("Ok("), "{body}");
    assert_eq!(
        c.get("a", TOKEN_A, "/store-get?path=sensors/x").await,
        (200, "\"only-a\"".into())
    );
    assert_eq!(
        c.get("b", TOKEN_B, "/store-get?path=sensors/x").await,
        (404, "nothing".into())
    );
    // Tenant b keeps its data in its own store file.
    let (_, body) = c
        .get("b", TOKEN_B, "/store-put?path=sensors/x&json=%22only-b%22")
        .await;
    assert!(body.starts_with("Ok("), "{body}");
    assert!(host.data_dir().join("tenants/b.sqlite").exists());
    assert_eq!(
        c.get("a", TOKEN_A, "/store-get?path=sensors/x").await,
        (200, "\"only-a\"".into())
    );

    // Quotas: value size and key count, with clear errors.
    let big = format!("%22{}%22", "x".repeat(2000));
    let (_, body) = c
        .get("a", TOKEN_A, &format!("/store-put?path=big&json={big}"))
        .await;
    assert!(
        body.contains("quota exceeded") && body.contains("1000 bytes"),
        "{body}"
    );
    for i in 0..4 {
        let (_, body) = c
            .get("a", TOKEN_A, &format!("/store-put?path=k{i}&json=1"))
            .await;
        assert!(body.starts_with("Ok("), "{i}: {body}");
    }
    let (_, body) = c.get("a", TOKEN_A, "/store-put?path=k9&json=1").await;
    assert!(body.contains("at most 5 documents"), "{body}");
    // Overwriting an existing key is still fine.
    let (_, body) = c.get("a", TOKEN_A, "/store-put?path=k0&json=2").await;
    assert!(body.starts_with("Ok("), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tenants_change_without_restart_or_dropped_requests() {
    let (upstream, _) = upstream().await;
    let host = Host::start(tenants_config(&upstream, igor_test_guests::HOSTILE)).await;
    let c = Tenants::new(&host);
    // Tenant c does not exist yet: answered as any caller without a token is.
    assert_eq!(c.get("c", "token-c", "/ok").await.0, 401);

    // A request in flight (it will run to its deadline) while tenant b is
    // removed and tenant c added.
    let slow = {
        let b = c.of("b", TOKEN_B);
        tokio::spawn(async move { b.get("/loop").await.0 })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hostile = plugin("hostile").component(igor_test_guests::HOSTILE);
    let without_b_with_c = HostConfig::new()
        .admin_token(ADMIN)
        .tenant(tenant_a(&upstream, igor_test_guests::HOSTILE))
        .tenant(tenant("c", "token-c").plugin(hostile));
    host.rewrite(without_b_with_c);
    assert_eq!(reload(&host, "not-admin").await.0, 401);
    let (status, body) = reload(&host, ADMIN).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        c.get("c", "token-c", "/ok").await,
        (200, "still here".into())
    );
    assert_eq!(c.get("b", TOKEN_B, "/ok").await.0, 401);
    // The in-flight request of the removed tenant still got its answer.
    assert_eq!(slow.await.unwrap(), 504);

    // A broken configuration is refused and the running one stays.
    host.rewrite(HostConfig::new().tenant(tenant("../bad", "token-bad")));
    assert_eq!(reload(&host, ADMIN).await.0, 422);
    assert_eq!(c.get("c", "token-c", "/ok").await.0, 200);
}

#[test]
fn components_importing_sockets_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let sneaky = plugin("sneaky").component(igor_test_guests::SOCKETS);
    let config = HostConfig::new().plugin(sneaky).write_to(dir.path());
    let (code, _, stderr) = call_once(&config, "/plugin/sneaky/");
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("plugin sneaky")
            && stderr.contains("imports wasi:sockets/")
            && stderr.contains("never provides"),
        "{stderr}"
    );
}

/// A plugin using wasi:http (through `wstd`) gets exactly the egress policy,
/// limits, log lines and metrics of igor:plugin/http.
#[tokio::test(flavor = "multi_thread")]
async fn wasi_http_requests_are_policed() {
    let (upstream, seen) = upstream().await;
    let host = Host::start(tenants_config(&upstream, igor_test_guests::WASI_HTTP)).await;
    let c = Tenants::new(&host);

    // SSRF: every spelling of loopback and the metadata address is refused
    // at the address level, a name tenant b does not list by the allow-list.
    for target in ssrf_targets(&upstream) {
        let (status, body) = c.get("b", TOKEN_B, &format!("/get?url={target}")).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("HttpRequestDenied"), "{target}: {body}");
    }
    assert!(seen.lock().unwrap().is_empty());

    // Tenant a's loopback test entry opens its upstream; the request arrives.
    let (_, body) = c.get("a", TOKEN_A, &format!("/get?url={upstream}/x")).await;
    assert!(body.starts_with("status 200"), "{body}");
    assert!(body.contains("body recorded"), "{body}");
    assert_eq!(seen.lock().unwrap().len(), 1);

    // A redirect is handed back, not followed, and following it by hand is
    // checked again and refused; an oversized response is cut off at the
    // tenant's 1 MiB cap.
    let redirected = "first: status 307 location \"http://169.254.169.254/latest/meta-data/\"";
    for (path, expected) in [
        (
            "/follow?url={upstream}/redirect",
            &[redirected, "second: error", "HttpRequestDenied"][..],
        ),
        (
            "/get?url={upstream}/big",
            &["error", "HttpResponseBodySize"][..],
        ),
    ] {
        let path = path.replace("{upstream}", &upstream);
        let (_, body) = c.get("a", TOKEN_A, &path).await;
        for needle in expected {
            assert!(body.contains(needle), "{path}: {needle} missing in {body}");
        }
    }

    // A request waiting on a slow server ends at the plugin's deadline.
    let (status, body) = c
        .get("a", TOKEN_A, &format!("/get?url={upstream}/slow"))
        .await;
    assert_eq!(status, 504, "{body}");
    assert!(body.contains("1500 ms deadline"), "{body}");
    assert_eq!(
        c.get("a", TOKEN_A, &format!("/get?url={upstream}/x"))
            .await
            .0,
        200
    );

    let log = host.log();
    let refused = log
        .lines()
        .find(|l| l.contains("egress refused") && l.contains("tenant=b"))
        .unwrap_or_else(|| panic!("refusal not logged:\n{log}"));
    assert!(refused.contains("plugin=hostile"), "{refused}");
    let metrics = metrics(&host).await;
    for needle in [
        r#"igor_host_egress_denials_total{tenant="b",plugin="hostile"} 6"#,
        r#"igor_host_plugin_traps_total{tenant="a",plugin="hostile",kind="deadline"} 1"#,
    ] {
        assert!(metrics.contains(needle), "{needle} missing:\n{metrics}");
    }
}
