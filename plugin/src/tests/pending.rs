//! Authorisations in progress, whole flows: however many are started the
//! store and the setup page stay bounded; a paste completes only for the
//! caller who started; a late one says it expired and how to start again;
//! a refused client secret keeps the consent for a retry.

use serde_json::json;

use crate::pending::MAX_PENDING;
use crate::router::handle;
use crate::testing::{MemoryHost, form, request, response};
use crate::testing::{form_value, query_of};
use crate::tests::google::configured;
use igor_plugin_sdk::{Request, Response};

const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
const TOKEN_PATH: &str = "identities/jack/plugindata/fitbit/token";
const PENDING_PATH: &str = "plugindata/fitbit/pending";
const HISTORY_PATH: &str = "identities/jack/plugindata/fitbit/history";
/// Where Google sends the browser back for `http://igor.test`.
const LOOPBACK: &str = "http://localhost/plugin/fitbit/auth2";

/// `request` as forwarded by Igor for `caller`.
fn as_caller(mut request: Request, caller: Option<&str>) -> Request {
    request.context.caller = caller.map(str::to_string);
    request
}

/// auth1 for `user`, started by `caller`: the consent URL's query.
fn start(
    host: &MemoryHost,
    user: &str,
    caller: Option<&str>,
) -> std::collections::HashMap<String, String> {
    let started = handle(
        host,
        &as_caller(request("GET", "/auth1", &[("user", user)]), caller),
    );
    assert_eq!(started.status, 303, "{}", started.body_text());
    query_of(started.header("location").unwrap())
}

/// The address Google sends the browser to after consent.
fn landed(q: &std::collections::HashMap<String, String>, code: &str) -> String {
    format!("{LOOPBACK}?state={}&code={code}", q["state"])
}

fn paste(host: &MemoryHost, user: &str, address: &str, caller: Option<&str>) -> Response {
    let post = form("/auth2", &[("user", user), ("address", address)]);
    handle(host, &as_caller(post, caller))
}

/// Google's token endpoint and identity, answering every exchange.
fn google_accepts(host: &MemoryHost) {
    host.respond(|r| {
        if r.url == TOKEN_URL {
            return response(
                200,
                json!({"access_token": "ya29.N", "refresh_token": "1//N", "expires_in": 3599,
                       "scope": "https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly",
                       "token_type": "Bearer"}),
            );
        }
        response(200, json!({"healthUserId": "4957304218837201659"}))
    });
}

fn page(host: &MemoryHost, query: &[(&str, &str)]) -> Response {
    handle(host, &request("GET", "/page/setup.html", query))
}

fn create(host: &MemoryHost, user: &str) {
    let created = handle(host, &form("/userSettings", &[("user", user)]));
    assert_eq!(created.status, 200, "{}", created.body_text());
}

#[test]
fn ten_thousand_starts_leave_the_store_bounded_and_the_page_answering() {
    // The attack: `auth1?user=uN` needs no credential on a loopback host,
    // and a cross-site <img> can send it; the tenant's quota is 10,000
    // documents.
    let host = configured(None);
    host.max_documents.set(Some(10_000));
    let stored_before = host.documents.borrow().len();
    let mut answers = std::collections::BTreeMap::<u16, usize>::new();
    for round in 0..2 {
        for i in 0..10_100 {
            let user = format!("u{round}x{i}");
            let r = handle(&host, &request("GET", "/auth1", &[("user", &user)]));
            *answers.entry(r.status).or_default() += 1;
            if r.status == 429 && i == MAX_PENDING {
                assert!(
                    r.body_text().contains("32 authorisations are in progress"),
                    "{}",
                    r.body_text()
                );
                assert_eq!(r.header("retry-after"), Some("600"));
            }
        }
        assert_eq!(host.refused_writes.get(), 0, "the quota is never reached");
        assert!(
            host.documents.borrow().len() <= stored_before + 1,
            "one document holds every authorisation in progress"
        );
        assert!(
            host.get("plugindata/fitbit/users").is_none(),
            "nobody joins the list of users without completing"
        );
        let setup = page(&host, &[]);
        assert_eq!(setup.status, 200);
        assert!(setup.body.len() < 200_000, "{} bytes", setup.body.len());
        // Ten minutes later the expired ones make room for new ones.
        host.now.set(host.now.get() + 601.0);
    }
    assert_eq!(answers[&303], 2 * MAX_PENDING, "{answers:?}");
    assert_eq!(answers[&429], 2 * (10_100 - MAX_PENDING), "{answers:?}");
    assert_eq!(answers.len(), 2, "{answers:?}");
}

#[test]
fn a_paste_completes_only_for_the_caller_who_started_it() {
    let host = configured(None);
    let q = start(&host, "jack", Some("admin"));
    google_accepts(&host);
    let address = landed(&q, "4/0C0DE");
    // Another Igor user who saw the address, or a caller Igor did not name.
    for other in [Some("guest"), None] {
        let r = paste(&host, "jack", &address, other);
        assert_eq!(r.status, 403, "{other:?}: {}", r.body_text());
        assert!(
            r.body_text().contains("started by the Igor user admin"),
            "{}",
            r.body_text()
        );
        assert!(host.get(PENDING_PATH).unwrap().get("jack").is_some());
    }
    assert!(host.sent.borrow().is_empty() && host.get(TOKEN_PATH).is_none());
    assert_eq!(
        host.get(PENDING_PATH).unwrap()["jack"]["caller"],
        "admin",
        "the starter is recorded"
    );
    // Guest's page shows who may complete it, not the field.
    let guest_page = handle(
        &host,
        &as_caller(request("GET", "/page/setup.html", &[]), Some("guest")),
    )
    .body_text();
    assert!(
        guest_page.contains("started by the Igor user admin is under way"),
        "{guest_page}"
    );
    assert!(!guest_page.contains("name=\"address\""));

    let done = paste(&host, "jack", &address, Some("admin"));
    assert_eq!(done.status, 200, "{}", done.body_text());
    assert!(host.get(TOKEN_PATH).is_some());

    // The provider's redirect needs no caller: its state is its proof.
    let q = start(&host, "jill", Some("admin"));
    let back = request(
        "GET",
        "/auth2",
        &[("state", &q["state"]), ("code", "4/0JILL")],
    );
    let done = handle(&host, &back);
    assert_eq!(done.status, 200, "{}", done.body_text());
    assert!(
        host.get("identities/jill/plugindata/fitbit/token")
            .is_some()
    );
}

#[test]
fn a_late_paste_says_when_it_expired_and_links_a_new_start() {
    let host = configured(None);
    create(&host, "jack");
    let q = start(&host, "jack", None);
    host.now.set(host.now.get() + 601.0);
    let before = crate::testing::data(&host);
    let late = paste(&host, "jack", &landed(&q, "4/0LATE"), None);
    assert_eq!(late.status, 400);
    let text = late.body_text();
    // Started at 09:46:40 UTC, usable for 10 minutes.
    assert!(text.contains("expired at 2026-11-25 09:56 UTC"), "{text}");
    assert!(
        text.contains(
            "<a href=\"/plugin/fitbit/auth1?user=jack\">Start the authorisation of jack again</a>"
        ),
        "{text}"
    );
    assert!(host.sent.borrow().is_empty());
    assert_eq!(crate::testing::data(&host), before, "nothing stored");
    // The provider's redirect, as late, says the same.
    let redirect = request(
        "GET",
        "/auth2",
        &[("state", &q["state"]), ("code", "4/0LATE")],
    );
    assert!(
        handle(&host, &redirect)
            .body_text()
            .contains("expired at 2026-11-25 09:56 UTC")
    );
    // The row says so too, instead of dropping the field silently.
    let html = page(&host, &[]).body_text();
    assert!(
        html.contains("The authorisation of jack expired at 2026-11-25 09:56 UTC"),
        "{html}"
    );
    assert!(html.contains("href=\"/plugin/fitbit/auth1?user=jack\">Start the authorisation"));
    assert!(!html.contains("name=\"address\""), "{html}");
    // Starting again brings the field back.
    start(&host, "jack", None);
    assert!(page(&host, &[]).body_text().contains("name=\"address\""));
}

/// Google refusing the client's credentials (a wrong client secret).
fn google_refuses_the_client(host: &MemoryHost) {
    host.respond(|r| {
        assert_eq!(r.url, TOKEN_URL);
        response(
            401,
            json!({"error": "invalid_client", "error_description": "Unauthorized"}),
        )
    });
}

#[test]
fn a_wrong_client_secret_is_explained_recorded_and_retried_with_the_same_code() {
    let host = configured(None);
    create(&host, "jack");
    let q = start(&host, "jack", None);
    google_refuses_the_client(&host);
    let address = landed(&q, "4/0C0DE");
    let refused = paste(&host, "jack", &address, None);
    assert_eq!(refused.status, 502);
    assert!(
        refused
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let text = refused.body_text();
    for needle in [
        "invalid_client",
        "Check the client id and secret on the setup page",
        "Your consent is kept until 2026-11-25 09:56 UTC",
        "<a href=\"/plugin/fitbit/page/setup.html\">setup page</a>",
        "paste the same address again",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    // The user's last error, shown in the row with the field to retry.
    let history = host.get(HISTORY_PATH).unwrap();
    assert_eq!(history["last_error"]["status"], 502);
    assert!(
        history["last_error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid_client")
    );
    let html = page(&host, &[]).body_text();
    assert!(html.contains("<dt>Last error</dt>"), "{html}");
    assert!(html.contains("invalid_client: Unauthorized"), "{html}");
    assert!(html.contains("name=\"address\""), "{html}");

    // The owner corrects the secret; the same address completes.
    let saved = handle(&host, &form("/settings", &[("client_secret", "right")]));
    assert_eq!(saved.status, 200);
    google_accepts(&host);
    let done = paste(&host, "jack", &address, None);
    assert_eq!(done.status, 200, "{}", done.body_text());
    let exchanges: Vec<_> = host
        .sent
        .borrow()
        .iter()
        .filter(|r| r.url == TOKEN_URL)
        .map(|r| form_value(r, "code").unwrap())
        .collect();
    assert_eq!(exchanges, ["4/0C0DE", "4/0C0DE"]);
    assert!(host.get(TOKEN_PATH).is_some());
}

#[test]
fn a_refused_redirect_links_the_same_address_and_a_refused_code_is_used_up() {
    let host = configured(None);
    let q = start(&host, "jill", None);
    google_refuses_the_client(&host);
    let back = request(
        "GET",
        "/auth2",
        &[("state", &q["state"]), ("code", "4/0JILL")],
    );
    let refused = handle(&host, &back);
    assert_eq!(refused.status, 502);
    let text = refused.body_text();
    let again = format!(
        "href=\"/plugin/fitbit/auth2?state={}&amp;code=4%2F0JILL\">try this address again</a>",
        q["state"]
    );
    assert!(text.contains(&again), "{text}");
    google_accepts(&host);
    assert_eq!(handle(&host, &back).status, 200);

    // A code Google refuses is used up: start again.
    let q = start(&host, "jack", None);
    host.respond(|_| {
        response(
            400,
            json!({"error": "invalid_grant", "error_description": "Bad Request"}),
        )
    });
    let back = request(
        "GET",
        "/auth2",
        &[("state", &q["state"]), ("code", "4/0USED")],
    );
    let refused = handle(&host, &back);
    assert_eq!(refused.status, 502);
    assert!(
        refused
            .body_text()
            .contains("where you can start the authorisation of jack again"),
        "{}",
        refused.body_text()
    );
    assert!(host.get(PENDING_PATH).is_none());
}

#[test]
fn another_sites_page_cannot_start_an_authorisation() {
    let host = configured(None);
    for site in ["cross-site", "same-site"] {
        let mut started = request("GET", "/auth1", &[("user", "jack")]);
        started.headers.push(("sec-fetch-site".into(), site.into()));
        let refused = handle(&host, &started);
        assert_eq!(refused.status, 403, "{}", refused.body_text());
        assert!(
            refused.body_text().contains("another site"),
            "{}",
            refused.body_text()
        );
    }
    assert!(host.get(PENDING_PATH).is_none(), "nothing was started");
    // The setup page's own link, and an address typed in, still start one.
    for site in ["same-origin", "none"] {
        let mut started = request("GET", "/auth1", &[("user", "jack")]);
        started.headers.push(("sec-fetch-site".into(), site.into()));
        assert_eq!(handle(&host, &started).status, 303);
    }
}
