//! Three host processes on one PostgreSQL (a private cluster, see
//! `igor_test_support::postgres`), tenants in the database, requests spread
//! over the hosts by the test: the admin API on one host is followed by
//! all, OAuth started on one host finishes for all, a token refresh runs
//! once across hosts, scheduled actions run once per interval even when
//! the host running one is killed, an action answered 429 waits out its
//! `Retry-After` on every host, and a database outage is ridden out.

use crate::common;

use std::time::{Duration, Instant};

use common::clouds::{GOOGLE_ID, GOOGLE_SECRET};
use common::{Client, Host, HostConfig};
use igor_host::config::{StoreConfig, TenantSource};
use igor_host::store::postgres::PostgresConfig;
use igor_test_support::fake_google::{DEFAULT_HEALTH_USER_ID, InjectedError};
use igor_test_support::{FakeGoogle, Fault, postgres};
use serde_json::{Value, json};

const ADMIN_TOKEN: &str = "admin-token-for-the-three-hosts";
/// Lease on a claimed action; longer than the request timeout below.
const LEASE_SECONDS: u64 = 4;

struct Hosts {
    hosts: Vec<Host>,
    database: String,
    http: reqwest::Client,
    _keys: tempfile::TempDir,
}

impl Hosts {
    /// Three hosts on a new database, with one key file for the secrets.
    async fn start() -> Self {
        Self::start_on(&postgres::cluster().database("scale_out")).await
    }

    /// Three hosts on the database at `url`.
    async fn start_on(url: &str) -> Self {
        let keys = tempfile::tempdir().unwrap();
        let key_file = keys.path().join("keys");
        let key: [u8; 32] = rand::random();
        use base64::Engine as _;
        let line = base64::engine::general_purpose::STANDARD.encode(key);
        std::fs::write(&key_file, format!("{line}\n")).unwrap();
        let store = PostgresConfig {
            url: url.to_string(),
            pool_size: 4,
            timeout_ms: 5000,
        };
        let config = HostConfig::new()
            .admin_token(ADMIN_TOKEN)
            .first_runs_at_once()
            .limits(|limits| limits.request_timeout_ms = 3000)
            .edit(|config| {
                config.store = StoreConfig::Postgres(store);
                config.secrets.key_file = Some(key_file);
                config.tenant_directory.source = TenantSource::Database;
                config.tenant_directory.poll_ms = 200;
                config.scheduler.lease_seconds = Some(LEASE_SECONDS);
            });
        // The first host applies the migrations; the others start together.
        let mut hosts = vec![Host::start(config.clone()).await];
        let (b, c) = tokio::join!(Host::start(config.clone()), Host::start(config));
        hosts.extend([b, c]);
        Hosts {
            http: Client::new(&hosts[0]).http,
            hosts,
            database: url.rsplit('/').next().unwrap().to_string(),
            _keys: keys,
        }
    }

    fn url(&self, host: usize) -> &str {
        &self.hosts[host].url
    }

    fn sql(&self, sql: &str) -> String {
        postgres::cluster().psql(&self.database, sql).unwrap()
    }

    async fn admin(
        &self,
        host: usize,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url(host)))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Adds tenant `home` on a new fake Google through host A and waits
    /// until B and C serve it too; the fake and the tenant's token.
    async fn home_on_google(&self) -> (FakeGoogle, String) {
        let google = FakeGoogle::start().await;
        let token = self
            .add_tenant(0, google_tenant("home", &google, json!([])))
            .await;
        for host in 1..3 {
            self.until(host, "home", &token, SETUP, 200).await;
        }
        (google, token)
    }

    /// Adds a tenant through `host`; its first token.
    async fn add_tenant(&self, host: usize, spec: Value) -> String {
        let (status, answer) = self.admin(host, "POST", "/admin/tenants", Some(spec)).await;
        assert_eq!(status, 201, "{answer}");
        answer["token"].as_str().unwrap().to_string()
    }

    async fn get(&self, host: usize, tenant: &str, token: &str, target: &str) -> (u16, String) {
        self.tenant(host, tenant, token).get(target).await
    }

    /// A caller of `tenant` on `host`, presenting `token`.
    fn tenant(&self, host: usize, tenant: &str, token: &str) -> Client {
        let base = format!("{}/tenants/{tenant}", self.url(host));
        Client::at(&base).with_bearer(token)
    }

    /// Waits until `host` answers `target` with `status` (each host follows
    /// the directory by polling it).
    async fn until(&self, host: usize, tenant: &str, token: &str, target: &str, status: u16) {
        let started = Instant::now();
        loop {
            let (got, body) = self.get(host, tenant, token, target).await;
            if got == status {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "host {host} still answers {got} for {target}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A tenant running the fitbit plugin against the fake Google.
fn google_tenant(id: &str, google: &FakeGoogle, actions: Value) -> Value {
    json!({
        "id": id,
        "plugins": [{
            "name": "fitbit",
            "config": {
                "google_api_url": google.url(),
                "google_authorize_url": google.authorize_url(),
                "google_token_url": google.token_url(),
                "google_revoke_url": google.revoke_url(),
                // A request has 3 s here: no time to retry Google's 429s.
                "google_retry_seconds": "0",
            },
            "egress": { "allow_loopback": true },
        }],
        "actions": actions,
    })
}

/// Three hosts and the tenant `home` (added through host 0, no actions)
/// on the fake Google; the tenant's token.
async fn home_on_google() -> (Hosts, FakeGoogle, String) {
    let hosts = Hosts::start().await;
    let (google, token) = hosts.home_on_google().await;
    (hosts, google, token)
}

/// Client settings through `host`, then auth1 → consent → auth2 there.
async fn authorise_through(hosts: &Hosts, host: usize, google: &FakeGoogle, token: &str) {
    let home = hosts.tenant(host, "home", token);
    let auth2 = home.url("/plugin/fitbit/auth2");
    google.register_client(GOOGLE_ID, GOOGLE_SECRET, &[&auth2]);
    let form = [("client_id", GOOGLE_ID), ("client_secret", GOOGLE_SECRET)];
    home.settings(&form).await;
    home.authorise("jack", &google.authorize_url()).await;
}

const SETUP: &str = "/plugin/fitbit/page/setup.html";

#[tokio::test(flavor = "multi_thread")]
async fn tenant_changes_through_one_host_are_followed_by_all() {
    let (hosts, google, token) = home_on_google().await;
    // The host that took the change serves it at once; the others follow.
    assert_eq!(hosts.get(0, "home", &token, SETUP).await.0, 200);
    hosts.until(1, "home", &token, SETUP, 200).await;
    hosts.until(2, "home", &token, SETUP, 200).await;
    assert_eq!(hosts.get(1, "home", "wrong", SETUP).await.0, 401);

    // Refused: no admin token, a duplicate, a plugin that cannot run.
    let unauthorised = hosts
        .http
        .get(format!("{}/admin/tenants", hosts.url(1)))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);
    let (status, _) = hosts
        .admin(
            1,
            "POST",
            "/admin/tenants",
            Some(google_tenant("home", &google, json!([]))),
        )
        .await;
    assert_eq!(status, 409);
    let broken =
        json!({"id": "broken", "plugins": [{"name": "x", "component": "/nonexistent.wasm"}]});
    let (status, answer) = hosts.admin(1, "POST", "/admin/tenants", Some(broken)).await;
    assert_eq!(status, 422, "{answer}");
    let (status, answer) = hosts
        .admin(1, "POST", "/admin/tenants", Some(json!({"id": "../x"})))
        .await;
    assert_eq!(status, 422, "{answer}");

    // A new token through host C works on host A; revoking through B ends
    // the old ones everywhere.
    let (status, answer) = hosts
        .admin(2, "POST", "/admin/tenants/home/tokens", None)
        .await;
    assert_eq!(status, 201, "{answer}");
    let second = answer["token"].as_str().unwrap().to_string();
    hosts.until(0, "home", &second, SETUP, 200).await;
    let (status, _) = hosts
        .admin(1, "DELETE", "/admin/tenants/home/tokens", None)
        .await;
    assert_eq!(status, 204);
    hosts.until(0, "home", &second, SETUP, 401).await;
    let (status, answer) = hosts
        .admin(1, "POST", "/admin/tenants/home/tokens", None)
        .await;
    assert_eq!(status, 201);
    let third = answer["token"].as_str().unwrap().to_string();

    // PATCH replaces the fields given: a second plugin appears everywhere.
    let (_, shown) = hosts.admin(2, "GET", "/admin/tenants/home", None).await;
    let mut plugins = shown["plugins"].as_array().unwrap().clone();
    plugins.push(json!({"name": "other"}));
    let (status, answer) = hosts
        .admin(
            2,
            "PATCH",
            "/admin/tenants/home",
            Some(json!({ "plugins": plugins })),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["plugins"], json!(["fitbit", "other"]));
    hosts
        .until(0, "home", &third, "/plugin/other/page/setup.html", 200)
        .await;
    let (_, listed) = hosts.admin(0, "GET", "/admin/tenants", None).await;
    assert_eq!(listed["tenants"][0]["id"], "home", "{listed}");

    // Removed through host B: gone from every host, answered as a tenant
    // that never existed.
    let (status, _) = hosts.admin(1, "DELETE", "/admin/tenants/home", None).await;
    assert_eq!(status, 204);
    for host in 0..3 {
        hosts.until(host, "home", &third, SETUP, 401).await;
    }
    let (status, _) = hosts.admin(0, "GET", "/admin/tenants/home", None).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tenant_command_manages_the_same_directory() {
    let hosts = Hosts::start().await;
    let cli = |args: &[&str]| hosts.hosts[0].command(&[&["tenant"], args].concat());
    let token = cli(&["add", "flat"]).trim().to_string();
    assert_eq!(token.len(), 64);
    hosts.until(2, "flat", &token, SETUP, 200).await;
    assert!(cli(&["list"]).starts_with("flat\t"), "{}", cli(&["list"]));
    let second = cli(&["token", "flat", "--revoke-others"])
        .trim()
        .to_string();
    hosts.until(1, "flat", &token, SETUP, 401).await;
    hosts.until(1, "flat", &second, SETUP, 200).await;
    cli(&["remove", "flat", "--purge"]);
    hosts.until(0, "flat", &second, SETUP, 401).await;
    assert_eq!(hosts.sql("SELECT count(*) FROM tenants"), "0");
}

#[tokio::test(flavor = "multi_thread")]
async fn authorised_through_one_host_fetched_through_another_refreshed_once() {
    let hosts = Hosts::start().await;
    let (google, token) = hosts.home_on_google().await;
    google.add_recent_weight(DEFAULT_HEALTH_USER_ID, 80_400.0);
    authorise_through(&hosts, 0, &google, &token).await;
    let (status, body) = hosts
        .get(1, "home", &token, "/plugin/fitbit?user=jack")
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("80.4"), "{body}");

    // Every access token expires; requests to all three hosts at once
    // refresh it once (the refresh lease is in the shared database).
    google.expire_access_tokens();
    google
        .faults()
        .inject("/token", Fault::SlowAnswer(Duration::from_millis(300)), 1);
    let before = google.token_requests();
    let target = "/plugin/fitbit?user=jack&methods=time_series&resource=body/weight&period=7d";
    let calls: Vec<_> = (0..30)
        .map(|i| {
            let home = hosts.tenant(i % 3, "home", &token);
            tokio::spawn(async move { home.get(target).await })
        })
        .collect();
    for call in calls {
        let (status, body) = call.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        google.token_requests(),
        before + 1,
        "one refresh for three hosts"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn actions_run_once_per_interval_across_hosts_when_one_is_killed() {
    let mut hosts = Hosts::start().await;
    let (google, token) = hosts.home_on_google().await;
    // One roll-up call per run: runs are counted at the fake.
    let target = "/plugin/fitbit?user=jack&methods=time_series&resource=body/weight&period=7d";
    authorise_through(&hosts, 0, &google, &token).await;
    let (status, body) = hosts.get(0, "home", &token, target).await;
    assert_eq!(status, 200, "{body}");
    let run_path = google.requests().last().unwrap().path.clone();
    let runs = || google.calls(&run_path);
    let interval = 2u64;
    let (status, answer) = hosts
        .admin(
            1,
            "PATCH",
            "/admin/tenants/home",
            Some(json!({"actions": [{"interval": interval, "url": target, "representing": "sensors/jack"}]})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    // Each run takes a second upstream: a kill lands mid-run.
    google.faults().inject(
        &run_path,
        Fault::SlowAnswer(Duration::from_millis(1000)),
        1000,
    );
    let start_runs = runs();
    let started = Instant::now();

    // Wait until some host holds the action's lease, then kill that host.
    let owner = loop {
        let owner = hosts.sql("SELECT coalesce(lease_owner, '') FROM scheduled_actions");
        if !owner.is_empty() {
            break owner;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no host claimed the action"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let victim = hosts
        .hosts
        .iter()
        .position(|h| owner.contains(&format!("-{}-", h.pid())))
        .unwrap_or_else(|| panic!("no host has pid in {owner}"));
    hosts.hosts[victim].crash();
    let killed_at = Instant::now();
    let runs_at_kill = runs();

    // Another host takes the action over once the lease has expired, and
    // keeps its rhythm.
    tokio::time::sleep(Duration::from_secs(LEASE_SECONDS + 4 * interval)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let total = runs() - start_runs;
    let after_kill = runs() - runs_at_kill;
    let owners = hosts.sql("SELECT coalesce(lease_owner, 'none') FROM scheduled_actions");
    assert!(
        after_kill >= 2,
        "after the kill ({:?} ago) the action ran {after_kill} time(s); lease now {owners}",
        killed_at.elapsed()
    );
    // Never more than once per interval, plus the run the kill cut short
    // (repeated by the next host: at least once, not exactly once, when a
    // host dies mid-run).
    let most = (elapsed / interval as f64).ceil() as usize + 2;
    assert!(
        total <= most,
        "{total} runs in {elapsed:.1} s, at most {most} expected"
    );
    let status: Value = serde_json::from_str(
        &hosts
            .get((victim + 1) % 3, "home", &token, "/status/sensors/jack")
            .await
            .1,
    )
    .unwrap();
    assert_eq!(status["alive"], true, "{status}");
    println!(
        "{total} runs in {elapsed:.1} s ({after_kill} after killing host {victim} mid-run); \
         lease now {owners}"
    );
    let claims = hosts.sql("SELECT count(*) FROM scheduled_actions WHERE lease_owner IS NOT NULL");
    assert!(claims == "0" || claims == "1", "{claims}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_action_answered_429_is_pushed_back_for_every_host() {
    let (hosts, google, token) = home_on_google().await;
    authorise_through(&hosts, 0, &google, &token).await;
    // Google refuses the next call 429 (without Retry-After, as documented):
    // the plugin answers 429 with Retry-After: 60.
    google.inject_errors(InjectedError::RateLimited, 1);
    let action =
        json!({"interval": 2, "url": "/plugin/fitbit?user=jack", "representing": "sensors/jack"});
    let patch = json!({ "actions": [action] });
    let (status, answer) = hosts
        .admin(1, "PATCH", "/admin/tenants/home", Some(patch))
        .await;
    assert_eq!(status, 200, "{answer}");
    // The run is recorded as a 429, and the action is next due a minute
    // later, not one interval later.
    let started = Instant::now();
    let due_in = loop {
        let due_in: i64 = hosts
            .sql("SELECT due_ms - igor_now_ms() FROM scheduled_actions WHERE lease_owner IS NULL")
            .parse()
            .unwrap_or(0);
        if due_in > 10_000 {
            break due_in;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the action is due in {due_in} ms"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!((50_000..=60_000).contains(&due_in), "{due_in}");
    let (_, status) = hosts.get(2, "home", &token, "/status/sensors/jack").await;
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["resultStatus"], 429, "{status}");
    // No host runs it meanwhile.
    let calls = google.calls("/v4/");
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(google.calls("/v4/"), calls);
}

/// A TCP forwarder to the database that the test can cut and restore, as a
/// network or database outage would: cutting it closes every connection
/// and refuses new ones.
struct Outage {
    port: u16,
    target: u16,
    forwarding: Option<tokio::task::JoinHandle<()>>,
}

impl Outage {
    async fn start(target: u16) -> Self {
        let mut outage = Outage {
            port: 0,
            target,
            forwarding: None,
        };
        outage.restore().await;
        outage
    }

    async fn restore(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        self.port = listener.local_addr().unwrap().port();
        let target = self.target;
        self.forwarding = Some(tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let (mut client, _) = listener.accept().await.unwrap();
                connections.spawn(async move {
                    let mut server = tokio::net::TcpStream::connect(("127.0.0.1", target))
                        .await
                        .unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        }));
    }

    fn cut(&mut self) {
        // Aborting the task drops the listener and every connection.
        self.forwarding.take().unwrap().abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hosts_ride_out_a_database_outage() {
    let cluster = postgres::cluster();
    let url = cluster.database("outage");
    let mut outage = Outage::start(cluster.port).await;
    let through = url.replace(
        &format!(":{}/", cluster.port),
        &format!(":{}/", outage.port),
    );
    let hosts = Hosts::start_on(&through).await;
    let (_google, token) = hosts.home_on_google().await;
    // What anyone sees: the verdict of a store probe at most a couple of
    // seconds old.
    let ready_becomes = |host: usize, wanted: u16| {
        let url = format!("{}/readyz", hosts.url(host));
        async move {
            let started = Instant::now();
            loop {
                let status = reqwest::get(&url).await.unwrap().status().as_u16();
                if status == wanted {
                    return;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "host {host} still answers {status} at /readyz"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    ready_becomes(1, 200).await;

    outage.cut();
    for host in 0..3 {
        ready_becomes(host, 503).await;
    }
    // The tenant is still known (not 404), its data is not reachable.
    let (status, body) = hosts
        .get(2, "home", &token, "/plugin/fitbit?user=jack")
        .await;
    assert!(status >= 500, "{status}: {body}");
    let (status, _) = hosts.admin(0, "GET", "/admin/tenants", None).await;
    assert_eq!(status, 503);

    // Back: every host reconnects on its own.
    outage.restore().await;
    for host in 0..3 {
        hosts.until(host, "home", &token, SETUP, 200).await;
        ready_becomes(host, 200).await;
    }
}
