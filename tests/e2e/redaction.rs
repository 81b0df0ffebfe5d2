//! A full run of the real host against the fake Google (setup, consent,
//! code exchange, fetches, a refresh, a scheduled action) plus fetches that
//! fail on URLs carrying codes: no secret, token, code or URL query shows up
//! in the host's log or in any answer it gave.

use crate::common;

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use common::clouds::{self, GOOGLE_ID, GOOGLE_SECRET, Google};
use common::{HostConfig, plugin};
use igor_test_support::FakeGoogle;
use igor_test_support::fake_google::{DEFAULT_HEALTH_USER_ID, DataPoint};

/// A code a plugin puts in a URL query that cannot be fetched.
const CODE_IN_QUERY: &str = "code-in-a-query-never-logged";

/// Everything the host answered, headers and bodies.
#[derive(Default)]
struct Answers(Vec<String>);

impl Answers {
    async fn record(&mut self, response: reqwest::Response) -> (u16, String) {
        let status = response.status().as_u16();
        let headers: Vec<String> = response
            .headers()
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("")))
            .collect();
        let body = response.text().await.unwrap();
        self.0.push(format!("{}\n{body}", headers.join("\n")));
        (status, body)
    }
}

/// Query and form fields that carry codes, tokens, secrets or queries.
const SECRET_FIELDS: &[&str] = &[
    "code",
    "code_verifier",
    "code_challenge",
    "refresh_token",
    "client_secret",
    "state",
    "token",
    "pageToken",
    "filter",
];

/// What must never be seen: the secret, each code, token, state and PKCE
/// value the fake saw, the queries of the plugin's fetches, and the queries
/// the test sent the host.
fn secrets(google: &FakeGoogle, sent_queries: &[&str]) -> Vec<String> {
    let authorize_path = url::Url::parse(&google.authorize_url())
        .unwrap()
        .path()
        .to_string();
    let mut secrets = vec![GOOGLE_SECRET.to_string(), CODE_IN_QUERY.to_string()];
    for request in google.requests() {
        for (name, value) in request.query.iter().chain(&request.form) {
            if SECRET_FIELDS.contains(&name.as_str()) {
                secrets.push(value.clone());
            }
        }
        // The consent page's query is the browser's, from the redirect the
        // host must send; every other query came from a plugin fetch.
        if !request.query.is_empty() && request.path != authorize_path {
            let mut encoded = url::form_urlencoded::Serializer::new(String::new());
            encoded.extend_pairs(&request.query);
            secrets.push(encoded.finish());
        }
        secrets.extend(request.bearer().map(str::to_string));
    }
    secrets.extend(google.refresh_tokens_of(DEFAULT_HEALTH_USER_ID));
    secrets.extend(google.valid_access_tokens(DEFAULT_HEALTH_USER_ID));
    secrets.extend(sent_queries.iter().map(|q| q.to_string()));
    // Short values (page numbers, flags) could match anything.
    secrets.retain(|s| s.len() >= 8);
    secrets.sort();
    secrets.dedup();
    secrets
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_code_or_query_reaches_a_log_or_an_answer() {
    let google = FakeGoogle::start().await;
    let closed = common::free_port();
    let hostile = plugin("hostile")
        .component(igor_test_guests::HOSTILE)
        .egress(|egress| egress.allow = vec![format!("http://127.0.0.1:{closed}")])
        .allow_loopback();
    let config = HostConfig::new()
        .plugin(clouds::google_plugin(&google, None))
        .plugin(hostile)
        .action(
            1,
            "/plugin/fitbit?user=jack&period=7d",
            Some("sensors/fitbit"),
        );
    let Google {
        cloud: google,
        host,
        client,
    } = Google::on(google, config).await;
    let http = client.http.clone();
    let mut answers = Answers::default();
    let url = |target: &str| format!("{}{target}", host.url);

    let settings = http
        .post(url("/plugin/fitbit/settings"))
        .form(&[("client_id", GOOGLE_ID), ("client_secret", GOOGLE_SECRET)])
        .send()
        .await
        .unwrap();
    assert_eq!(answers.record(settings).await.0, 200);
    // The consent's redirect back carries the code and the state.
    let (_, page) = client.authorise("jack", &google.authorize_url()).await;
    answers.0.push(page);
    let when = (Utc::now() - chrono::Duration::hours(3)).to_rfc3339_opts(SecondsFormat::Secs, true);
    google.add_data_point(DEFAULT_HEALTH_USER_ID, DataPoint::weight(&when, 80_100.0));
    let data = "/plugin/fitbit?user=jack&period=7d";
    let (status, body) = answers
        .record(http.get(url(data)).send().await.unwrap())
        .await;
    assert_eq!(status, 200, "{body}");
    // An expired access token is refreshed with the refresh token.
    google.expire_access_tokens();
    let before = google.token_requests();
    let (status, body) = answers
        .record(http.get(url(data)).send().await.unwrap())
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(google.token_requests() > before, "no refresh happened");
    // The scheduled action runs and records its status.
    let started = Instant::now();
    loop {
        let (status, body) = answers
            .record(
                http.get(url("/status/sensors/fitbit"))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
        if status == 200 && body.contains("\"alive\":true") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Fetches whose URL carries a code fail (nothing listens, the URL does
    // not parse): the errors the plugin gets, and answers, say why without
    // the URL's query.
    let refused = format!("http://127.0.0.1:{closed}/x?code={CODE_IN_QUERY}");
    let unparsable = format!("http://127.0.0.1:{closed}:1/x?code={CODE_IN_QUERY}");
    for target in [&refused, &unparsable] {
        let encoded: String = url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
        let (status, body) = answers
            .record(
                http.get(url(&format!("/plugin/hostile/fetch?url={encoded}")))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
        assert_eq!(status, 200);
        assert!(
            body.starts_with("error connection failed")
                || body.starts_with("error invalid request"),
            "{body}"
        );
    }

    let log = host.log();
    let secrets = secrets(&google, &["user=jack&period=7d"]);
    assert!(secrets.len() > 10, "{secrets:?}");
    for secret in &secrets {
        if let Some(line) = log.lines().find(|line| line.contains(secret.as_str())) {
            panic!("{secret:?} is in the log: {line}");
        }
        for answer in &answers.0 {
            assert!(
                !answer.contains(secret.as_str()),
                "{secret:?} is in an answer: {answer}"
            );
        }
    }
}
