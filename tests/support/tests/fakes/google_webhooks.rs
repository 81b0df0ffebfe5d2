//! The fake Google's webhooks: subscriber creation and its rules, the
//! endpoint verification, and signed notifications of data changes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use igor_test_support::FakeGoogle;
use igor_test_support::fake_google::{self, DataPoint, NotificationShape};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

const PROJECT: &str = "igor-home";
const SECRET: &str = "Bearer s3cr3t";
const ENDPOINT: &str = "https://igor.example.com/webhooks/google";
const VERIFICATION: &[u8] = br#"{"type":"verification"}"#;

/// How a test endpoint answers: `(authorization, body) -> status`.
type Answer = fn(Option<&str>, &[u8]) -> u16;

/// A receiver on 127.0.0.1 answering each POST with `answer(authorization,
/// body)`; it keeps the bodies it got.
struct Endpoint {
    base: String,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn endpoint(answer: Answer) -> Endpoint {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    let app = Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push(body.to_vec());
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
            AxumStatus::from_u16(answer(auth, &body)).unwrap()
        }
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Endpoint { base, bodies, task }
}

/// As Igor should: 201 to a verification with the secret, 204 to a
/// notification with it, 401 without it.
fn honest(auth: Option<&str>, body: &[u8]) -> u16 {
    match (auth == Some(SECRET), body == VERIFICATION) {
        (false, _) => 401,
        (true, true) => 201,
        (true, false) => 204,
    }
}

fn subscriber(endpoint: &str, types: &[&str], policy: &str) -> Value {
    json!({"endpointUri": endpoint,
           "subscriberConfigs": [{"dataTypes": types, "subscriptionCreatePolicy": policy}],
           "endpointAuthorization": {"secret": SECRET}})
}

async fn create(g: &FakeGoogle, token: &str, id: &str, body: &Value) -> (StatusCode, Value) {
    let url = format!(
        "{}/v4/projects/{PROJECT}/subscribers?subscriberId={id}",
        g.url()
    );
    let r = Client::new().post(url).bearer_auth(token).json(body);
    json_of(r.send().await.unwrap()).await
}

/// A fake whose `igor.example.com` routes to an endpoint answering `answer`.
async fn setup(answer: Answer) -> (FakeGoogle, Endpoint, String) {
    let g = FakeGoogle::start().await;
    let e = endpoint(answer).await;
    g.route_endpoint_host("igor.example.com", &e.base);
    let token = g.cloud_platform_token(PROJECT);
    (g, e, token)
}

/// Creates the subscriber `igor` for weight at [`ENDPOINT`] under `policy`.
async fn create_weight(g: &FakeGoogle, token: &str, policy: &str) {
    let (s, r) = create(g, token, "igor", &subscriber(ENDPOINT, &["weight"], policy)).await;
    assert_eq!(s, StatusCode::OK, "{r}");
}

fn verify(pem: &str, body: &[u8], signature: &str) -> bool {
    let key = VerifyingKey::from_public_key_pem(pem).unwrap();
    let der = STANDARD.decode(signature).unwrap();
    let sig = Signature::from_der(&der).unwrap();
    key.verify(body, &sig).is_ok()
}

fn status_of(body: &Value) -> &str {
    body["error"]["status"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn creation_enforces_token_endpoint_and_types() {
    let (g, _e, token) = setup(honest).await;
    let weight = subscriber(ENDPOINT, &["weight"], "AUTOMATIC");

    let user = g.issue_tokens(
        "gcid",
        fake_google::DEFAULT_HEALTH_USER_ID,
        fake_google::SCOPE_METRICS,
    );
    let (s, r) = create(&g, &user.access_token, "igor", &weight).await;
    assert_eq!(
        (s, status_of(&r)),
        (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
        "{r}"
    );
    let other = g.cloud_platform_token("someone-else");
    let (s, r) = create(&g, &other, "igor", &weight).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{r}");
    let (s, _) = create(&g, "ya29.unknown", "igor", &weight).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let plain = subscriber(
        "http://igor.example.com/webhooks/google",
        &["weight"],
        "AUTOMATIC",
    );
    let unknown = subscriber(ENDPOINT, &["weight", "moods"], "AUTOMATIC");
    let policy = subscriber(ENDPOINT, &["weight"], "SOMETIMES");
    for (body, id) in [
        (&plain, "igor"),
        (&unknown, "igor"),
        (&policy, "igor"),
        (&weight, "Igor_1"),
    ] {
        let (s, r) = create(&g, &token, id, body).await;
        assert_eq!(
            (s, status_of(&r)),
            (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
            "{r}"
        );
    }
    assert!(g.verifications().is_empty(), "nothing invalid is verified");

    let (s, r) = create(&g, &token, "igor", &weight).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["done"], true);
    assert!(
        r["name"]
            .as_str()
            .unwrap()
            .starts_with("projects/igor-home/operations/")
    );
    let sub = json!({"name": "projects/igor-home/subscribers/igor", "endpointUri": ENDPOINT,
                     "subscriberConfigs": [{"dataTypes": ["weight"], "subscriptionCreatePolicy": "AUTOMATIC"}]});
    let mut response = r["response"].clone();
    assert!(response.as_object_mut().unwrap().remove("@type").is_some());
    assert_eq!(response, sub, "the secret is never echoed");
    assert_eq!(g.subscribers(), vec![sub]);

    let (s, r) = create(&g, &token, "igor", &weight).await;
    assert_eq!(
        (s, status_of(&r)),
        (StatusCode::CONFLICT, "ALREADY_EXISTS"),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn verification_names_the_failed_check_and_keeps_nothing() {
    let cases: [(Answer, &str); 2] = [
        (
            |_, _| 200,
            "with the endpoint authorization secret was answered 200",
        ),
        (|_, _| 201, "without authorization was answered 201"),
    ];
    for (answer, why) in cases {
        let (g, _e, token) = setup(answer).await;
        let (s, r) = create(
            &g,
            &token,
            "igor",
            &subscriber(ENDPOINT, &["weight"], "AUTOMATIC"),
        )
        .await;
        assert_eq!(
            (s, status_of(&r)),
            (StatusCode::BAD_REQUEST, "FAILED_PRECONDITION"),
            "{r}"
        );
        assert!(r["error"]["message"].as_str().unwrap().contains(why), "{r}");
        assert!(g.subscribers().is_empty());
    }

    let (g, e, token) = setup(honest).await;
    let unrouted = subscriber(
        "https://elsewhere.example.com/hook",
        &["weight"],
        "AUTOMATIC",
    );
    let (s, r) = create(&g, &token, "igor", &unrouted).await;
    assert_eq!(
        (s, status_of(&r)),
        (StatusCode::BAD_REQUEST, "FAILED_PRECONDITION"),
        "{r}"
    );
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("could not be delivered"),
        "{r}"
    );

    create_weight(&g, &token, "AUTOMATIC").await;
    let probes = g.verifications();
    assert_eq!(
        probes.len(),
        3,
        "the unrouted probe and the two of the created one"
    );
    assert_eq!(probes[1].header("authorization"), Some(SECRET));
    assert_eq!(probes[2].header("authorization"), None);
    assert_eq!(
        (probes[1].status(), probes[2].status()),
        (Some(201), Some(401))
    );
    assert_eq!(e.bodies.lock().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_weight_is_notified_signed_and_rotation_retires_the_old_key() {
    let (g, e, token) = setup(honest).await;
    let hid = fake_google::DEFAULT_HEALTH_USER_ID;
    create_weight(&g, &token, "AUTOMATIC").await;

    g.add_data_point(
        hid,
        DataPoint::weight("2026-11-20T07:12:33Z", 81234.5).utc_offset(3600),
    );
    g.add_data_point(
        hid,
        DataPoint::steps("2026-11-20T07:00:00Z", "2026-11-20T08:00:00Z", 10),
    );
    let got = g.wait_for_deliveries(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "steps has no subscriber");
    let d = &got[0];
    let expected = format!(
        r#"{{"data":{{"version":"1","clientProvidedSubscriptionName":"igor","healthUserId":"{hid}","operation":"UPSERT","dataType":"weight","intervals":[{{"physicalTimeInterval":{{"startTime":"2026-11-20T07:12:33Z","endTime":"2026-11-20T07:12:33Z"}},"civilIso8601TimeInterval":{{"startTime":"2026-11-20T08:12:33","endTime":"2026-11-20T08:12:33"}}}}]}}}}"#
    );
    assert_eq!(String::from_utf8(d.body.clone()).unwrap(), expected);
    assert_eq!(d.status(), Some(204));
    assert_eq!(d.header("content-type"), Some("application/json"));
    assert_eq!(d.header("authorization"), Some(SECRET));
    let signature = d.header("x-healthapi-signature").unwrap();
    let old = g.webhook_public_key_pem();
    assert!(old.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert!(verify(&old, &d.body, signature));
    assert!(
        !verify(&old, b"{}", signature),
        "the signature covers the body"
    );

    let new = g.rotate_webhook_key();
    assert_ne!(new, old);
    g.delete_data_point(hid, "no-such-point");
    g.clear_data_points(hid);
    let got = g.wait_for_deliveries(2, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].json()["data"]["operation"], "DELETE");
    let signature = got[1].header("x-healthapi-signature").unwrap();
    assert!(verify(&new, &got[1].body, signature));
    assert!(!verify(&old, &got[1].body, signature));
    assert_eq!(e.bodies.lock().unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_deliveries_are_retried_and_recorded() {
    // Verifies, then fails every notification.
    let (g, _e, token) = setup(|auth, body| {
        if body == VERIFICATION {
            honest(auth, body)
        } else {
            500
        }
    })
    .await;
    g.set_delivery_retries(2, Duration::from_millis(20));
    create_weight(&g, &token, "AUTOMATIC").await;
    g.add_recent_weight(fake_google::DEFAULT_HEALTH_USER_ID, 80000.0);
    let got = g.wait_for_deliveries(3, Duration::from_secs(5)).await;
    let attempts: Vec<_> = got.iter().map(|d| (d.attempt, d.status())).collect();
    assert_eq!(attempts, [(0, Some(500)), (1, Some(500)), (2, Some(500))]);
    assert!(
        got[2].at - got[1].at >= Duration::from_millis(40),
        "the delay doubles"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(g.deliveries().len(), 3, "no more than the retries");
}

#[tokio::test(flavor = "multi_thread")]
async fn manual_subscribers_hear_only_subscribed_users() {
    let (g, _e, token) = setup(honest).await;
    let hid = fake_google::DEFAULT_HEALTH_USER_ID;
    create_weight(&g, &token, "MANUAL").await;
    g.add_recent_weight(hid, 80000.0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(g.deliveries().is_empty());

    let url = format!(
        "{}/v4/projects/{PROJECT}/subscribers/igor/subscriptions",
        g.url()
    );
    let subscribe = |token: &str, body: Value| {
        let r = Client::new().post(&url).bearer_auth(token).json(&body);
        async move { json_of(r.send().await.unwrap()).await }
    };
    let user = g.issue_tokens("gcid", hid, fake_google::SCOPE_METRICS);
    let me = json!({"user": format!("users/{hid}"), "dataTypes": ["weight"]});
    let (s, _) = subscribe(&user.access_token, me.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, r) = subscribe(
        &token,
        json!({"user": format!("users/{hid}"), "dataTypes": ["steps"]}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    let (s, r) = subscribe(&token, me).await;
    assert_eq!(s, StatusCode::OK, "{r}");

    g.add_recent_weight(hid, 80100.0);
    g.add_recent_weight("someone-else", 60000.0);
    let got = g.wait_for_deliveries(1, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(g.deliveries().len(), 1);
    assert_eq!(got[0].json()["data"]["healthUserId"], hid);
}

#[tokio::test(flavor = "multi_thread")]
async fn shapes_header_names_silence_and_raw_posts() {
    let (g, _e, token) = setup(honest).await;
    let hid = fake_google::DEFAULT_HEALTH_USER_ID;
    let both = subscriber(ENDPOINT, &["weight", "steps"], "AUTOMATIC");
    assert_eq!(create(&g, &token, "igor", &both).await.0, StatusCode::OK);

    g.set_notifications_enabled(false);
    g.add_recent_weight(hid, 80000.0);
    g.set_signature_header("GOOGLE-HEALTH-API-SIGNATURE");
    g.set_notification_shape(NotificationShape::Array);
    assert_eq!(g.notify(hid, "steps", "UPSERT").await, 204);
    g.set_notification_shape(NotificationShape::Inner);
    assert_eq!(g.notify(hid, "steps", "DELETE").await, 204);
    let got = g.deliveries();
    assert_eq!(got.len(), 2, "silent additions notify nobody");
    assert_eq!(got[0].json()[0]["data"]["dataType"], "steps");
    assert_eq!(got[1].json()["operation"], "DELETE");
    let pem = g.webhook_public_key_pem();
    let sig = got[1].header("google-health-api-signature").unwrap();
    assert!(verify(&pem, &got[1].body, sig));
    assert_eq!(got[1].header("x-healthapi-signature"), None);

    let forged = b"{\"data\":{}}".to_vec();
    let sig = g.sign_webhook_body(&forged);
    assert!(verify(&pem, &forged, &sig));
    let headers = vec![("Authorization".to_string(), "Bearer wrong".to_string())];
    assert_eq!(g.post_to_endpoint("igor", forged, headers).await, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cloud_token_reads_no_health_data() {
    let (g, _e, token) = setup(honest).await;
    let (s, r) = gget(
        &g,
        &Client::new(),
        &token,
        "/v4/users/me/dataTypes/weight/dataPoints",
    )
    .await;
    assert_eq!(
        (s, status_of(&r)),
        (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
        "{r}"
    );
}
