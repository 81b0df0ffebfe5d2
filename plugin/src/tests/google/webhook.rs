//! Webhooks: settings, the subscriber verification, signed notifications,
//! coalesced syncs and what they store.

use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};

use super::*;

const HEALTH_USER: &str = "4957304218837201659";
const SECRET: &str = "Bearer s3cr3t";

fn google_key() -> SigningKey {
    SigningKey::from_slice(&[7; 32]).unwrap()
}

fn pem(key: &SigningKey) -> String {
    key.verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap()
}

/// jack authorised with Google; the webhook's secret and key saved.
fn subscribed() -> MemoryHost {
    let host = configured(None);
    with_token(&host, 3000.0, SCOPE_METRICS);
    host.put("plugindata/fitbit/users", json!({"names": ["jack"]}));
    let form = form(
        "/settings",
        &[
            ("webhook_secret", SECRET),
            ("webhook_public_keys", &pem(&google_key())),
        ],
    );
    assert_eq!(handle(&host, &form).status, 200);
    host
}

fn post(body: &str, headers: &[(&str, &str)]) -> igor_plugin_sdk::Request {
    let mut request = request("POST", "/webhook", &[]);
    request.body = body.as_bytes().to_vec();
    request.headers = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    request
}

fn signed(body: &str, by: &SigningKey) -> igor_plugin_sdk::Request {
    let signature: Signature = by.sign(body.as_bytes());
    let value = base64::engine::general_purpose::STANDARD.encode(signature.to_der());
    post(
        body,
        &[("authorization", SECRET), ("x-healthapi-signature", &value)],
    )
}

fn notification(health_user: &str, data_type: &str) -> String {
    json!({"data": {"version": "1", "healthUserId": health_user, "operation": "UPSERT",
                    "dataType": data_type, "intervals": []}})
    .to_string()
}

#[test]
pub(super) fn the_secret_stays_with_the_host_and_keys_are_checked() {
    let host = subscribed();
    assert_eq!(host.secrets.borrow()["webhook_secret"], SECRET);
    let app = host.get("plugindata/fitbit").unwrap();
    assert!(!app.to_string().contains("s3cr3t"), "{app}");
    assert_eq!(app["webhook_public_keys"][0], pem(&google_key()).trim());
    let bad = form(
        "/settings",
        &[(
            "webhook_public_keys",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
        )],
    );
    let answer = handle(&host, &bad);
    assert_eq!(
        answer.status,
        400,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(
        host.get("plugindata/fitbit").unwrap(),
        app,
        "nothing changed"
    );
    let page = handle(&host, &request("GET", "/page/setup.html", &[])).body;
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("needs an <b>https base URL") || page.contains("Webhooks need"));
    assert!(!page.contains("s3cr3t"));
}

#[test]
pub(super) fn the_verification_answers_201_only_with_the_secret() {
    let host = subscribed();
    let verification = r#"{"type":"verification"}"#;
    let with = post(verification, &[("authorization", SECRET)]);
    assert_eq!(handle(&host, &with).status, 201);
    for headers in [vec![], vec![("authorization", "Bearer other")]] {
        assert_eq!(handle(&host, &post(verification, &headers)).status, 401);
    }
    assert!(host.tasks.borrow().is_empty());
}

#[test]
pub(super) fn forged_or_unsigned_notifications_trigger_nothing() {
    let host = subscribed();
    let body = notification(HEALTH_USER, "weight");
    let stranger = SigningKey::from_slice(&[9; 32]).unwrap();
    let mut unsigned = signed(&body, &google_key());
    unsigned.headers.retain(|(k, _)| k == "authorization");
    let mut no_secret = signed(&body, &google_key());
    no_secret.headers.retain(|(k, _)| k != "authorization");
    let mut altered = signed(&body, &google_key());
    altered.body = notification(HEALTH_USER, "steps").into_bytes();
    for forged in [signed(&body, &stranger), unsigned, no_secret, altered] {
        assert_eq!(handle(&host, &forged).status, 401);
    }
    assert!(host.tasks.borrow().is_empty());
    assert_eq!(host.counters.borrow()["webhook_notifications_refused"], 4);
    assert!(host.get("plugindata/fitbit/webhooks").is_none());
}

#[test]
pub(super) fn repeats_coalesce_into_spaced_syncs() {
    let host = subscribed();
    let body = notification(HEALTH_USER, "weight");
    for _ in 0..20 {
        assert_eq!(handle(&host, &signed(&body, &google_key())).status, 204);
        host.now.set(host.now.get() + 1.0);
    }
    let tasks = host.tasks.borrow().clone();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0].0, "/webhook/sync?user=jack");
    assert_eq!(host.counters.borrow()["webhook_notifications_received"], 20);
    assert_eq!(
        host.counters.borrow()["webhook_notifications_coalesced"],
        19
    );

    // The sync runs jack's methods and stores what they return.
    host.respond(one_weigh_in);
    host.tasks.borrow_mut().clear();
    let mut task = request("POST", "/webhook/sync", &[("user", "jack")]);
    assert_eq!(handle(&host, &task).status, 403, "only as the host's task");
    task.headers.push(("igor-task".into(), "1".into()));
    assert_eq!(handle(&host, &task).status, 200);
    assert!(jacks_weight(&host).as_f64().is_some());
    assert_eq!(host.timings.borrow()["webhook_lag_seconds"].len(), 1);

    // The next notification waits for the spacing after that sync.
    let started = host.now.get();
    host.now.set(started + 5.0);
    assert_eq!(handle(&host, &signed(&body, &google_key())).status, 204);
    let due = host.tasks.borrow()[0].1;
    assert!((due - (started + 60.0)).abs() < 0.01, "{due} vs {started}");
}

#[test]
pub(super) fn unknown_users_and_types_are_acknowledged_and_logged_once() {
    let host = subscribed();
    for _ in 0..3 {
        for body in [
            notification("999", "weight"),
            notification(HEALTH_USER, "steps"),
        ] {
            assert_eq!(handle(&host, &signed(&body, &google_key())).status, 204);
        }
    }
    assert!(host.tasks.borrow().is_empty());
    let logs = host.logs.borrow().join("\n");
    assert_eq!(logs.matches("Google Health user 999").count(), 1, "{logs}");
    assert_eq!(logs.matches("read no steps").count(), 1, "{logs}");
}

#[test]
pub(super) fn without_host_tasks_the_sync_runs_before_the_acknowledgement() {
    let host = subscribed();
    host.tasks_unavailable.set(true);
    host.respond(one_weigh_in);
    let body = notification(HEALTH_USER, "weight");
    assert_eq!(handle(&host, &signed(&body, &google_key())).status, 204);
    assert!(jacks_weight(&host).as_f64().is_some(), "synced at once");
    let inbox = host.get("plugindata/fitbit/webhooks").unwrap();
    assert!(inbox["users"]["jack"].get("first").is_none(), "{inbox}");
}
