//! Push: the fake Google's subscriber side against the real host. Google
//! posts to `https://igor.example.com/...`, which the fake routes to the
//! host on loopback, as a TLS-terminating proxy in front of it would.

use crate::common;

use std::time::{Duration, Instant};

use common::clouds::{GOOGLE_ID, GOOGLE_SECRET, Google, OnCloud, google_plugin};
use common::config::tenant;
use common::{Client, Host, HostConfig};
use igor_test_support::fake_google::{DEFAULT_HEALTH_USER_ID, NotificationShape};
use igor_test_support::{FakeGoogle, html_unescape};
use serde_json::{Value, json};

const PUBLIC: &str = "igor.example.com";
const SECRET: &str = "Bearer wh-s3cr3t";
const WEIGHT_LIST: &str = "/v4/users/me/dataTypes/weight/dataPoints";

/// A host whose plugin syncs a notified user at most every `spacing` s.
async fn google_with_spacing(spacing: &str) -> Google {
    let google = FakeGoogle::start().await;
    let plugin = google_plugin(&google, None).setting("webhook_min_sync_seconds", spacing);
    let h = OnCloud::on(google, HostConfig::new().plugin(plugin)).await;
    h.configure().await;
    h.authorise("jack").await;
    h
}

/// The webhook's secret and Google's key saved through the settings form.
async fn save_webhook_settings(client: &Client, google: &FakeGoogle) {
    let pem = google.webhook_public_key_pem();
    client
        .settings(&[("webhook_secret", SECRET), ("webhook_public_keys", &pem)])
        .await;
}

/// Creates a subscriber as the page's command does; Google's answer.
async fn subscribe(google: &FakeGoogle, id: &str, body: &Value) -> (u16, Value) {
    let token = google.cloud_platform_token("my-project");
    let url = format!(
        "{}/v4/projects/my-project/subscribers?subscriberId={id}",
        google.url()
    );
    let response = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A subscriber for weight at `path` (below the public name).
async fn subscribe_weight(google: &FakeGoogle, id: &str, path: &str, secret: &str) {
    let body = json!({
        "endpointUri": format!("https://{PUBLIC}{path}"),
        "subscriberConfigs": [{"dataTypes": ["weight"], "subscriptionCreatePolicy": "AUTOMATIC"}],
        "endpointAuthorization": {"secret": secret},
    });
    let (status, answer) = subscribe(google, id, &body).await;
    assert_eq!(status, 200, "{answer}");
}

/// Upstream weight list calls so far.
fn weight_lists(google: &FakeGoogle) -> usize {
    google
        .requests()
        .iter()
        .filter(|r| r.path == WEIGHT_LIST)
        .count()
}

/// Waits (up to 20 s) until `check` holds.
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < Duration::from_secs(20), "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The weights of `sensors/fitbit/jack` (of `tenant`), in kg.
fn jacks_weights(host: &Host, tenant: Option<&str>) -> Vec<f64> {
    let mut args = vec!["get"];
    if let Some(tenant) = tenant {
        args.extend(["--tenant", tenant]);
    }
    args.push("sensors/fitbit/jack");
    let output = host.run(&args);
    if !output.status.success() {
        return Vec::new();
    }
    let sensors: Value = serde_json::from_slice(&output.stdout).unwrap();
    sensors["weight"]
        .as_array()
        .map(|l| l.iter().filter_map(|w| w["weight"].as_f64()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pages_command_registers_the_endpoint_and_a_weigh_in_follows() {
    let base = format!("https://{PUBLIC}");
    let google = FakeGoogle::start().await;
    let config = HostConfig::new()
        .plugin(google_plugin(&google, None))
        .admin_token("admin-token")
        .server(|server| server.base_url = Some(base.clone()));
    let h = OnCloud::on(google, config).await;
    let google = &h.cloud;
    google.route_endpoint_host(PUBLIC, &h.host.url);
    google.register_client(
        GOOGLE_ID,
        GOOGLE_SECRET,
        &[&format!("{base}/plugin/fitbit/auth2")],
    );
    h.configure().await;
    // jack's consent comes back to the public name, which the proxy passes on.
    let (_, started) = h.client.get("/plugin/fitbit/auth1?user=jack").await;
    let authorize = started.trim().strip_prefix("See ").unwrap().to_string();
    let back = igor_test_support::consent(&h.client.http, &authorize)
        .await
        .unwrap();
    let (status, page) = h.client.get(back.strip_prefix(&base).unwrap()).await;
    assert_eq!(status, 200, "{page}");

    // Before the secret is saved, Google's verification fails.
    let (_, page) = h.client.get("/plugin/fitbit/page/setup.html").await;
    let endpoint = format!("{base}/plugin/fitbit/webhook");
    assert!(page.contains(&format!("<code>{endpoint}</code>")), "{page}");
    let command = html_unescape(page.split("<code>curl ").nth(1).unwrap())
        .split("</code>")
        .next()
        .unwrap()
        .to_string();
    assert!(
        command.contains("subscriptionCreatePolicy\":\"AUTOMATIC"),
        "{command}"
    );
    let body = command
        .split(" -d '")
        .nth(1)
        .unwrap()
        .trim_end_matches('\'');
    let body: Value = serde_json::from_str(&body.replace("YOUR-WEBHOOK-SECRET", SECRET)).unwrap();
    assert_eq!(
        body["subscriberConfigs"][0]["dataTypes"],
        json!(["weight", "height"])
    );
    let (status, answer) = subscribe(google, "igor-fitbit", &body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["status"], "FAILED_PRECONDITION", "{answer}");

    save_webhook_settings(&h.client, google).await;
    let (status, answer) = subscribe(google, "igor-fitbit", &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["done"], true, "{answer}");

    // A weigh-in: Google notifies, the plugin syncs jack within seconds.
    let lists = weight_lists(google);
    google.add_recent_weight(DEFAULT_HEALTH_USER_ID, 80_100.0);
    until("jack's weigh-in stored", || {
        jacks_weights(&h.host, None).contains(&80.1)
    })
    .await;
    assert_eq!(weight_lists(google), lists + 1, "one sync");
    let delivered = google.wait_for_deliveries(1, Duration::from_secs(5)).await;
    assert!(
        delivered.iter().any(|d| d.status() == Some(204)),
        "{delivered:?}"
    );
    let admin = Client::new(&h.host).with_bearer("admin-token");
    let metrics = admin.get("/metrics").await.1;
    assert!(
        metrics.contains("webhook_notifications_received"),
        "{metrics}"
    );
    assert!(metrics.contains("webhook_lag_seconds"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_and_unsigned_notifications_trigger_nothing() {
    let h = google_with_spacing("0").await;
    let google = &h.cloud;
    google.route_endpoint_host(PUBLIC, &h.host.url);
    save_webhook_settings(&h.client, google).await;
    subscribe_weight(google, "igor", "/plugin/fitbit/webhook", SECRET).await;
    google.set_notifications_enabled(false);
    google.add_recent_weight(DEFAULT_HEALTH_USER_ID, 79_000.0);
    let lists = weight_lists(google);

    let body = json!({"data": {"version": "1", "healthUserId": DEFAULT_HEALTH_USER_ID,
        "operation": "UPSERT", "dataType": "weight", "intervals": []}})
    .to_string()
    .into_bytes();
    let good = google.sign_webhook_body(&body);
    let stranger = FakeGoogle::start().await.sign_webhook_body(&body);
    let auth = ("authorization".to_string(), SECRET.to_string());
    let sig = |v: &str| ("x-healthapi-signature".to_string(), v.to_string());
    let attempts = [
        vec![auth.clone()],
        vec![auth.clone(), sig(&stranger)],
        vec![auth.clone(), sig("AAAA")],
        vec![sig(&good)],
        vec![("authorization".into(), "Bearer guess".into()), sig(&good)],
    ];
    for headers in attempts {
        let status = google
            .post_to_endpoint("igor", body.clone(), headers.clone())
            .await;
        assert_eq!(status, 401, "{headers:?}");
    }
    // A signed body that was changed.
    let mut altered = body.clone();
    altered.extend_from_slice(b" ");
    let status = google
        .post_to_endpoint("igor", altered, vec![auth.clone(), sig(&good)])
        .await;
    assert_eq!(status, 401);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(weight_lists(google), lists, "nothing synced");
    assert!(!jacks_weights(&h.host, None).contains(&79.0));

    // The genuine one, under either header, is taken.
    let other = ("google-health-api-signature".to_string(), good.clone());
    let status = google
        .post_to_endpoint("igor", body, vec![auth, other])
        .await;
    assert_eq!(status, 204);
    until("the genuine notification synced", || {
        jacks_weights(&h.host, None).contains(&79.0)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn repeats_coalesce_and_a_delete_is_synced() {
    let h = google_with_spacing("4").await;
    let google = &h.cloud;
    google.route_endpoint_host(PUBLIC, &h.host.url);
    save_webhook_settings(&h.client, google).await;
    subscribe_weight(google, "igor", "/plugin/fitbit/webhook", SECRET).await;
    google.set_notifications_enabled(false);
    google.add_data_point(
        DEFAULT_HEALTH_USER_ID,
        igor_test_support::fake_google::DataPoint::weight(
            &google.recent_instant(DEFAULT_HEALTH_USER_ID, chrono::Duration::minutes(20)),
            81_000.0,
        )
        .id("gone"),
    );
    google.add_recent_weight(DEFAULT_HEALTH_USER_ID, 80_500.0);
    let lists = weight_lists(google);
    for _ in 0..20 {
        let status = google
            .notify(DEFAULT_HEALTH_USER_ID, "weight", "UPSERT")
            .await;
        assert_eq!(status, 204);
    }
    until("the repeats synced", || {
        jacks_weights(&h.host, None).contains(&80.5)
    })
    .await;
    // The spacing (4 s) after the first sync, and a little more.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let syncs = weight_lists(google) - lists;
    assert!((1..=2).contains(&syncs), "{syncs} syncs for 20 repeats");

    // A deleted weigh-in leaves what is stored after its notification.
    assert!(jacks_weights(&h.host, None).contains(&81.0));
    google.delete_data_point(DEFAULT_HEALTH_USER_ID, "gone");
    // The sources disagree on the envelope: an array is read alike.
    google.set_notification_shape(NotificationShape::Array);
    let status = google
        .notify(DEFAULT_HEALTH_USER_ID, "weight", "DELETE")
        .await;
    assert_eq!(status, 204);
    until("the deleted weigh-in removed", || {
        !jacks_weights(&h.host, None).contains(&81.0)
    })
    .await;
    assert!(jacks_weights(&h.host, None).contains(&80.5));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_after_the_acknowledgement_still_syncs() {
    let mut h = google_with_spacing("5").await;
    h.cloud.route_endpoint_host(PUBLIC, &h.host.url);
    save_webhook_settings(&h.client, &h.cloud).await;
    subscribe_weight(&h.cloud, "igor", "/plugin/fitbit/webhook", SECRET).await;
    h.cloud.set_notifications_enabled(false);
    // A first sync, so that the next waits for the spacing.
    let lists = weight_lists(&h.cloud);
    let status = h
        .cloud
        .notify(DEFAULT_HEALTH_USER_ID, "weight", "UPSERT")
        .await;
    assert_eq!(status, 204);
    until("the first sync", || weight_lists(&h.cloud) > lists).await;
    let before = weight_lists(&h.cloud);
    h.cloud.add_recent_weight(DEFAULT_HEALTH_USER_ID, 78_800.0);
    let status = h
        .cloud
        .notify(DEFAULT_HEALTH_USER_ID, "weight", "UPSERT")
        .await;
    assert_eq!(status, 204, "acknowledged");
    h.host.crash();
    h.host.restart().await;
    h.cloud.route_endpoint_host(PUBLIC, &h.host.url);
    until(
        "the acknowledged notification synced after the restart",
        || jacks_weights(&h.host, None).contains(&78.8),
    )
    .await;
    assert!(weight_lists(&h.cloud) > before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenants_endpoint_cannot_sync_another_tenant() {
    let google = FakeGoogle::start().await;
    let plugin = || google_plugin(&google, None).setting("webhook_min_sync_seconds", "0");
    let config = HostConfig::new()
        .tenant(tenant("a", "token-a").plugin(plugin()).own_sqlite_store())
        .tenant(tenant("b", "token-b").plugin(plugin()).own_sqlite_store());
    let host = Host::start(config).await;
    google.route_endpoint_host(PUBLIC, &host.url);
    let mut clients = Vec::new();
    for (id, token) in [("a", "token-a"), ("b", "token-b")] {
        let client = Client::at(&format!("{}/tenants/{id}", host.url)).with_bearer(token);
        google.register_client(
            &format!("{id}-{GOOGLE_ID}"),
            GOOGLE_SECRET,
            &[&client.url("/plugin/fitbit/auth2")],
        );
        client
            .settings(&[
                ("client_id", &format!("{id}-{GOOGLE_ID}")),
                ("client_secret", GOOGLE_SECRET),
                ("webhook_secret", &format!("Bearer secret-of-{id}")),
                ("webhook_public_keys", &google.webhook_public_key_pem()),
            ])
            .await;
        client.authorise("jack", &google.authorize_url()).await;
        clients.push(client);
    }
    subscribe_weight(
        &google,
        "a",
        "/tenants/a/plugin/fitbit/webhook",
        "Bearer secret-of-a",
    )
    .await;
    google.set_notifications_enabled(false);
    google.add_recent_weight(DEFAULT_HEALTH_USER_ID, 77_700.0);

    // Google's genuine notification with a's secret, posted to b's endpoint.
    let body = json!({"data": {"healthUserId": DEFAULT_HEALTH_USER_ID,
        "operation": "UPSERT", "dataType": "weight"}})
    .to_string()
    .into_bytes();
    let signature = google.sign_webhook_body(&body);
    let to_b = reqwest::Client::new()
        .post(format!("{}/tenants/b/plugin/fitbit/webhook", host.url))
        .header("authorization", "Bearer secret-of-a")
        .header("x-healthapi-signature", &signature)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(to_b.status(), 401, "b's secret is its own");

    // To a's endpoint: a's jack is synced, b's is not.
    let status = google
        .notify(DEFAULT_HEALTH_USER_ID, "weight", "UPSERT")
        .await;
    assert_eq!(status, 204);
    until("a's jack synced", || {
        jacks_weights(&host, Some("a")).contains(&77.7)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!jacks_weights(&host, Some("b")).contains(&77.7));
}
