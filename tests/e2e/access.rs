//! Who may call the real host binary: the owner's token on a single-tenant
//! host, requests forwarded by Igor, routes a plugin's manifest declares
//! public, the admin token for metrics, a non-loopback address only with a
//! credential; and what `/readyz` and `igor-host inspect` say.

use crate::common;

use std::time::{Duration, Instant};

use common::config::tenant;
use common::{Client, Host, HostConfig, hostile_with_manifest, plugin, upstream};
use igor_test_support::{real_igor, text_of};
use reqwest::StatusCode;

const OWNER: &str = "token-of-the-owner";
const ADMIN: &str = "admin-token";
const FORWARD: &str = "s-forward-secret";

/// What the hostile guest asks for when it carries a manifest.
const MANIFEST: &str = r#"
name = "hostile"
[config]
upstream_url = "https://upstream.invalid"
[egress]
allow = ["{upstream_url}"]
secret_urls = ["{upstream_url}/token"]
[[public_route]]
path = "/ok"
reason = "a liveness page"
"#;

/// Two entries of the hostile guest with its manifest: `hostile` granted
/// what it asks (its upstream moved to `upstream` by a setting), `narrowed`
/// with the upstream and the public route refused.
fn plugins(dir: &std::path::Path, upstream: &str) -> HostConfig {
    let wasm = hostile_with_manifest(dir, MANIFEST);
    let entry = |name: &str| {
        plugin(name)
            .component(&wasm)
            .setting("upstream_url", upstream)
            .allow_loopback()
    };
    let narrowed = entry("narrowed").egress(|egress| egress.deny = vec![upstream.into()]);
    let narrowed = narrowed.public_routes(&[]);
    HostConfig::new().plugin(entry("hostile")).plugin(narrowed)
}

fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_token_guards_a_single_tenant_host() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = upstream("upstream").await;
    let host = Host::start(plugins(dir.path(), &upstream).owner_token(OWNER)).await;
    let c = Client::new(&host);
    let (auth, owner) = bearer(OWNER);
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("me:{OWNER}")
        )
    );

    // Without the token, or with another, nothing reaches the plugin.
    let response = c
        .http
        .get(c.url("/plugin/hostile/store-get?path=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A browser asks for the token: Basic comes first.
    let challenges: Vec<&str> = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(challenges[0].starts_with("Basic realm="), "{challenges:?}");
    assert!(
        challenges.iter().any(|c| c.starts_with("Bearer ")),
        "{challenges:?}"
    );
    let (status, _) = c
        .get_with(
            "/plugin/hostile/store-get?path=x",
            &[(auth, "Bearer wrong")],
        )
        .await;
    assert_eq!(status, 401);
    // With it, as Bearer or as the Basic password, the plugin answers.
    for value in [owner.as_str(), basic.as_str()] {
        let got = c
            .get_with("/plugin/hostile/store-get?path=x", &[(auth, value)])
            .await;
        assert_eq!(got, (404, "nothing".into()));
    }
    // The route the manifest declares public needs nothing, for GET only;
    // the operator refused it for the narrowed entry.
    assert_eq!(
        c.get("/plugin/hostile/ok").await,
        (200, "still here".into())
    );
    let (status, _) = c.form("/plugin/hostile/ok", &[]).await;
    assert_eq!(status, 401);
    assert_eq!(c.get("/plugin/narrowed/ok").await.0, 401);
    // Action status is the owner's too.
    assert_eq!(c.get("/status/sensors/x").await.0, 401);
    assert_eq!(
        c.get_with("/status/sensors/x", &[(auth, &owner)]).await.0,
        404
    );

    // The setting that moved the upstream also allowed it; the operator's
    // deny refused it for the narrowed entry.
    let fetch = format!("/fetch?url={upstream}/x");
    let (_, body) = c
        .get_with(&format!("/plugin/hostile{fetch}"), &[(auth, &owner)])
        .await;
    assert!(body.starts_with("status 200"), "{body}");
    let (_, body) = c
        .get_with(&format!("/plugin/narrowed{fetch}"), &[(auth, &owner)])
        .await;
    assert!(
        body.starts_with("error refused by the host's egress policy"),
        "{body}"
    );
    let log = host.log();
    assert!(
        log.contains("plugin loaded with what its manifest asks"),
        "{log}"
    );
    assert!(log.contains("connecting to http://127.0.0.1:"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_forward_secret_only_igor_and_the_owner_get_in() {
    let dir = tempfile::tempdir().unwrap();
    let config = plugins(dir.path(), "http://127.0.0.1:9")
        .owner_token(OWNER)
        .server(|server| server.igor_forward_secret = Some(FORWARD.into()));
    let host = Host::start(config).await;
    let c = Client::new(&host);
    let path = "/plugin/hostile/store-get?path=x";
    let (status, body) = c.get(path).await;
    assert_eq!(status, 401);
    assert!(body.contains("Igor"), "{body}");
    let (status, _) = c
        .get_with(path, &[("x-igor-forward-secret", "guess")])
        .await;
    assert_eq!(status, 401);
    // A caller name without the secret is no way in either.
    let (status, _) = c.get_with(path, &[("x-igor-caller", "admin")]).await;
    assert_eq!(status, 401);
    let forwarded = [
        ("x-igor-forward-secret", FORWARD),
        ("x-igor-caller", "jack"),
    ];
    assert_eq!(c.get_with(path, &forwarded).await, (404, "nothing".into()));
    let (auth, owner) = bearer(OWNER);
    assert_eq!(c.get_with(path, &[(auth, &owner)]).await.0, 404);
    assert_eq!(c.get("/plugin/hostile/ok").await.0, 200);
    assert_eq!(c.get("/status/sensors/x").await.0, 401);
    assert_eq!(c.get_with("/status/sensors/x", &forwarded).await.0, 404);
}

/// Runs `serve` with `config` on 0.0.0.0, expecting it to refuse: the
/// exit code and what it printed.
fn refused_to_serve(config: HostConfig) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let config = config.on_all_addresses();
    let path = config
        .server(|server| server.listen.set_port(port))
        .write_to(dir.path());
    let output = std::process::Command::new(common::host_binary())
        .arg("--config")
        .arg(&path)
        .arg("serve")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_address_beyond_loopback_needs_a_credential_or_an_explicit_yes() {
    let (code, stderr) = refused_to_serve(HostConfig::new());
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("reachable from other machines") && stderr.contains("[owner]"),
        "{stderr}"
    );

    let anyone = HostConfig::new()
        .on_all_addresses()
        .server(|server| server.allow_unauthenticated = true);
    let host = Host::start(anyone).await;
    assert_eq!(
        Client::new(&host)
            .get("/plugin/fitbit/page/setup.html")
            .await
            .0,
        200
    );
    assert!(
        host.log()
            .contains("allow_unauthenticated = true: anyone who reaches this address"),
        "{}",
        host.log()
    );
    // With the owner's token it starts without the warning.
    let host = Host::start(HostConfig::new().on_all_addresses().owner_token(OWNER)).await;
    assert_eq!(
        Client::new(&host)
            .get("/plugin/fitbit/page/setup.html")
            .await
            .0,
        401
    );
    assert!(!host.log().contains("allow_unauthenticated"));
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_need_the_admin_token_or_their_own_address() {
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = common::free_port();
    let hostile = plugin("hostile").component(hostile_with_manifest(dir.path(), MANIFEST));
    let config = HostConfig::new()
        .admin_token(ADMIN)
        .tenant(tenant("b", OWNER).plugin(hostile).own_sqlite_store())
        .server(|server| {
            server.metrics_listen = Some(([127, 0, 0, 1], metrics_port).into());
        });
    let host = Host::start(config).await;
    let c = Client::new(&host);
    assert_eq!(c.get("/metrics").await.0, 401);
    let (auth, owner) = bearer(OWNER);
    assert_eq!(c.get_with("/metrics", &[(auth, &owner)]).await.0, 401);
    let (_, admin) = bearer(ADMIN);
    let (status, text) = c.get_with("/metrics", &[(auth, &admin)]).await;
    assert_eq!(status, 200);
    assert!(
        text.contains("# TYPE igor_host_store_documents gauge"),
        "{text}"
    );
    let scrape = || async {
        reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    // The metrics address serves metrics, and nothing else.
    assert!(scrape().await.contains("igor_host_"));
    let other = reqwest::get(format!(
        "http://127.0.0.1:{metrics_port}/tenants/b/plugin/hostile/ok"
    ))
    .await
    .unwrap();
    assert_eq!(other.status(), 404);

    // Store usage reaches the metrics as documents are written, not at
    // scrape time: a count changed behind the host's back shows only after
    // the host's next write.
    let gauge = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(r#"igor_host_store_documents{tenant="b"} "#))
            .map(|v| v.parse::<u64>().unwrap())
    };
    let owner_auth = [(auth, owner.as_str())];
    let put = async |path: &str| {
        let (_, body) = c
            .get_with(
                &format!("/tenants/b/plugin/hostile/store-put?path={path}&json=1"),
                &owner_auth,
            )
            .await;
        assert!(body.starts_with("Ok("), "{body}");
    };
    put("a").await;
    put("b").await;
    assert_eq!(gauge(&scrape().await), Some(2));
    let file = host.data_dir().join("tenants/b.sqlite");
    rusqlite::Connection::open(&file)
        .unwrap()
        .execute(
            "UPDATE tenant_usage SET documents = 100 WHERE tenant = 'b'",
            [],
        )
        .unwrap();
    assert_eq!(gauge(&scrape().await), Some(2), "a scrape reads no store");
    put("c").await;
    assert_eq!(gauge(&scrape().await), Some(101));
}

/// `/readyz`, polled until it answers `status` (the host notices a reload
/// or a store outage on its own time).
async fn ready_becomes(host: &Host, status: u16) -> String {
    let started = Instant::now();
    loop {
        let response = reqwest::get(format!("{}/readyz", host.url)).await.unwrap();
        let got = response.status().as_u16();
        let body = response.text().await.unwrap();
        if got == status {
            return body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "readyz stayed {got} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_means_the_store_answers_and_the_configuration_loaded() {
    let mut igor = real_igor::Igor::start(real_igor::Options::default()).await;
    let on_igor = HostConfig::new()
        .igor_store(&igor.url, 2000)
        .admin_token(ADMIN);
    let host = Host::start(on_igor.clone()).await;
    let body = ready_becomes(&host, 200).await;
    assert_eq!(body, "ready\n");
    let body = ready_detail(&host).await;
    assert!(
        body.starts_with("ready: 1 tenant(s), 1 plugin(s)"),
        "{body}"
    );
    igor.stop();
    let body = ready_becomes(&host, 503).await;
    assert_eq!(body, "not ready (the admin token shows why)\n");
    assert_eq!(
        ready_detail(&host).await,
        "not ready: the store is unreachable\n"
    );
    igor.restart().await;
    ready_becomes(&host, 200).await;

    // A configuration that does not load: the old one keeps serving, and
    // the host says it is not the configured one.
    let broken = plugin("broken").component("/nonexistent.wasm");
    host.rewrite(on_igor.clone().plugin(broken));
    host.hangup();
    ready_becomes(&host, 503).await;
    let body = ready_detail(&host).await;
    assert!(body.contains("refused at the last reload"), "{body}");
    host.rewrite(on_igor);
    host.hangup();
    ready_becomes(&host, 200).await;
}

/// `/readyz` with the admin token: what is wrong, from a probe made now.
async fn ready_detail(host: &Host) -> String {
    let readyz = reqwest::Client::new()
        .get(format!("{}/readyz", host.url))
        .bearer_auth(ADMIN);
    text_of(readyz).await
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_names_no_tenant_without_the_admin_token() {
    // A tenant whose store (its household's Igor) does not answer.
    let unreachable = igor_host::config::StoreConfig::Igor(
        toml::from_str("url = \"http://127.0.0.1:9\"\ntimeout_ms = 500").unwrap(),
    );
    let config = HostConfig::new()
        .admin_token(ADMIN)
        .tenant(tenant("smith-family", OWNER).store(unreachable))
        .tenant(tenant("jones", "token-of-jones"));
    let host = Host::start(config).await;
    let body = ready_becomes(&host, 503).await;
    assert_eq!(body, "not ready (the admin token shows why)\n");
    let detail = ready_detail(&host).await;
    assert_eq!(
        detail,
        "not ready: the stores of smith-family are unreachable\n"
    );
}

/// How often the host read its readiness document from Igor, from Igor's
/// own request log.
fn probes_seen_by(igor: &real_igor::Igor) -> usize {
    igor.log().matches("GET /data/status/ready").count()
}

/// Igor's count of probes once it has logged more than `than` (Igor logs
/// a request just after answering it).
async fn probes_once_more_than(igor: &real_igor::Igor, than: usize) -> usize {
    let started = Instant::now();
    loop {
        let seen = probes_seen_by(igor);
        if seen > than {
            return seen;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "Igor never logged the probe:\n{}",
            igor.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthenticated_readyz_does_not_probe_the_stores_each_time() {
    let igor = real_igor::Igor::start(real_igor::Options::default()).await;
    let config = HostConfig::new()
        .igor_store(&igor.url, 2000)
        .admin_token(ADMIN);
    let host = Host::start(config).await;
    ready_becomes(&host, 200).await;
    let before = probes_once_more_than(&igor, 0).await;
    let started = Instant::now();
    let asks = 60;
    let answers = futures_util::future::join_all((0..asks).map(|_| async {
        reqwest::get(format!("{}/readyz", host.url))
            .await
            .unwrap()
            .status()
    }))
    .await;
    let elapsed = started.elapsed();
    assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
    // The admin's probe is made at once; once Igor logged it, it logged
    // those before it too.
    ready_detail(&host).await;
    let probes = probes_once_more_than(&igor, before).await - before - 1;
    // A probe starts at most once per reuse interval (one may have been
    // running when the requests began), however many callers ask.
    let bound =
        2 + (elapsed.as_secs_f64() / igor_host::readiness::PROBE_REUSE.as_secs_f64()) as usize;
    assert!(
        probes <= bound,
        "{probes} probes for {asks} requests in {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_tenants_and_unauthorised_callers_get_the_same_answer() {
    let config = HostConfig::new()
        .tenant(tenant("smith-family", OWNER).plugin(plugin("fitbit")))
        .tenant(
            tenant("revoked", "gone")
                .without_tokens()
                .plugin(plugin("fitbit")),
        );
    let host = Host::start(config).await;
    let answer = |id: &'static str, below: &'static str, token: Option<&'static str>| {
        let url = format!("{}/tenants/{id}{below}", host.url);
        async move {
            let mut request = reqwest::Client::new().get(url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            let challenges: Vec<String> = response
                .headers()
                .get_all("www-authenticate")
                .iter()
                .map(|v| v.to_str().unwrap().replace(id, "ID"))
                .collect();
            (
                response.status().as_u16(),
                challenges,
                response.text().await.unwrap(),
            )
        }
    };
    for below in [
        "/plugin/fitbit?user=jack",
        "/plugin/fitbit/page/setup.html",
        "/plugin/nosuch",
        "/status/sensors/fitbit",
    ] {
        let existing = answer("smith-family", below, None).await;
        assert_eq!(existing.0, 401, "{below}: {existing:?}");
        for (id, token) in [
            ("nosuch", None),
            ("nosuch", Some(OWNER)),
            ("revoked", None),
            ("revoked", Some("gone")),
            ("smith-family", Some("token-of-another")),
        ] {
            assert_eq!(answer(id, below, token).await, existing, "{id}{below}");
        }
    }
}

#[test]
fn inspect_prints_what_a_component_asks() {
    let run = |args: &[&str]| {
        let output = std::process::Command::new(common::host_binary())
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let builtin = run(&["inspect"]);
    for needle in [
        "plugin fitbit:",
        "google_token_url = \"https://oauth2.googleapis.com/token\"",
        "https://oauth2.googleapis.com/token (follows google_token_url)",
        "https://api.fitbit.com/oauth2/token (follows fitbit_api_url)",
        "GET /auth2 - ",
        "igor:plugin/http@0.1.0",
    ] {
        assert!(builtin.contains(needle), "{needle} not in\n{builtin}");
    }
    let dir = tempfile::tempdir().unwrap();
    let with = hostile_with_manifest(dir.path(), MANIFEST);
    let text = run(&["inspect", with.to_str().unwrap()]);
    assert!(text.contains("GET /ok - a liveness page"), "{text}");
    let text = run(&["inspect", igor_test_guests::HOSTILE]);
    assert!(text.contains("has no manifest"), "{text}");

    // A plugin author outside this repository embeds a manifest with the
    // host's own command, once.
    let manifest = dir.path().join("manifest.toml");
    std::fs::write(&manifest, MANIFEST).unwrap();
    let authored = dir.path().join("authored.wasm");
    std::fs::copy(igor_test_guests::HOSTILE, &authored).unwrap();
    let (authored, manifest) = (authored.to_str().unwrap(), manifest.to_str().unwrap());
    run(&["manifest", "add", authored, manifest]);
    let text = run(&["inspect", authored]);
    assert!(text.contains("GET /ok - a liveness page"), "{text}");
    let again = std::process::Command::new(common::host_binary())
        .args(["manifest", "add", authored, manifest])
        .output()
        .unwrap();
    assert!(!again.status.success());
    let told = String::from_utf8_lossy(&again.stderr);
    assert!(told.contains("already has a manifest"), "{told}");
}
