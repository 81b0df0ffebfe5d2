//! The setup page as an owner walks it: viewed from a laptop while the
//! base URL is this machine's loopback, with many users, with a user of
//! many settings, as the Igor user who is logged in, and after each form.

use serde_json::{Value, json};

use crate::router::handle;
use crate::setup_page::USERS_PER_PAGE;
use crate::testing::query_of;
use crate::testing::{MemoryHost, form, request, response};
use crate::tests::google::configured;
use igor_plugin_sdk::Request;

/// A request as Igor's forwarder passes it from a browser that reached
/// Igor at `authority`, for an Igor whose own URL is its loopback address.
fn from_laptop(mut r: Request, authority: &str) -> Request {
    r.context.base_url = "http://127.0.0.1:9333".into();
    r.headers.push(("host".into(), "127.0.0.1:9334".into()));
    r.headers
        .push(("x-forwarded-host".into(), authority.into()));
    r
}

#[test]
fn a_laptop_viewing_igors_loopback_url_completes_by_pasting() {
    let host = configured(None);
    let setup = request("GET", "/page/setup.html", &[]);
    let on_server = handle(&host, &from_laptop(setup.clone(), "127.0.0.1:9333")).body_text();
    assert!(!on_server.contains("is viewed at"), "{on_server}");

    let started = handle(
        &host,
        &from_laptop(
            request("GET", "/auth1", &[("user", "jack")]),
            "igor.local:9333",
        ),
    );
    let q = query_of(started.header("location").unwrap());
    // The registered redirect URI stays Igor's own.
    let redirect = "http://127.0.0.1:9333/plugin/fitbit/auth2";
    assert_eq!(q["redirect_uri"], redirect);
    let page = handle(&host, &from_laptop(setup, "igor.local:9333")).body_text();
    for needle in [
        "This page is viewed at <code>igor.local:9333</code>, but the redirect URI is on this \
         machine's loopback",
        "paste it into the field that appears in the user's row",
        "name=\"address\"",
        // Links and forms work from where the page was viewed.
        "action=\"/plugin/fitbit/auth2\"",
        "action=\"/plugin/fitbit/settings\"",
    ] {
        assert!(page.contains(needle), "{needle}\n{page}");
    }
    assert!(!page.contains("action=\"http://127.0.0.1"), "{page}");

    host.respond(|r| {
        if r.url.ends_with("/token") {
            return response(
                200,
                json!({"access_token": "ya29.N", "refresh_token": "1//N", "expires_in": 3599,
                       "token_type": "Bearer"}),
            );
        }
        response(200, json!({"healthUserId": "4957304218837201659"}))
    });
    let address = format!("{redirect}?state={}&code=4/0C0DE", q["state"]);
    let mut paste = form("/auth2", &[("user", "jack"), ("address", &address)]);
    paste
        .headers
        .push(("origin".into(), "http://igor.local:9333".into()));
    let done = handle(&host, &from_laptop(paste, "igor.local:9333"));
    assert_eq!(done.status, 200, "{}", done.body_text());
    assert!(
        done.body_text()
            .contains("href=\"/plugin/fitbit/page/setup.html?user=jack\"")
    );
}

fn page_of(host: &MemoryHost, query: &[(&str, &str)]) -> String {
    let r = handle(host, &request("GET", "/page/setup.html", query));
    assert_eq!(r.status, 200, "{}", r.body_text());
    r.body_text()
}

#[test]
fn users_are_shown_a_page_at_a_time() {
    let host = configured(None);
    let names: Vec<String> = (0..45).map(|i| format!("u{i:02}")).collect();
    host.put("plugindata/fitbit/users", json!({ "names": names }));
    let first = page_of(&host, &[]);
    assert_eq!(
        first.matches("<section class=\"user\"").count(),
        USERS_PER_PAGE
    );
    assert!(first.contains("Users 1–20 of 45."), "{first}");
    assert!(first.contains("id=\"user-u00\"") && first.contains("id=\"user-u19\""));
    assert!(first.contains("href=\"/plugin/fitbit/page/setup.html?page=2\">Next</a>"));
    let last = page_of(&host, &[("page", "3")]);
    assert_eq!(last.matches("<section class=\"user\"").count(), 5);
    assert!(last.contains("Users 41–45 of 45.") && last.contains("id=\"user-u44\""));
    assert!(last.contains("?page=2\">Previous</a>") && !last.contains("Next"));
    assert_eq!(
        page_of(&host, &[("page", "99")]),
        last,
        "past the end: the last"
    );
    for bad in ["0", "x", "-1"] {
        let r = handle(&host, &request("GET", "/page/setup.html", &[("page", bad)]));
        assert_eq!(r.status, 400, "{bad}");
    }
}

#[test]
fn a_user_form_shows_a_bounded_part_of_what_is_stored_and_keeps_the_rest() {
    let host = configured(None);
    let mut settings = serde_json::Map::new();
    for i in 0..200 {
        settings.insert(format!("k{i:03}"), json!("v".repeat(5_000)));
    }
    settings.insert("methods".into(), json!("get_bodyweight"));
    host.put("identities/jack/plugindata/fitbit", Value::Object(settings));
    let html = page_of(&host, &[("user", "jack")]);
    assert!(html.len() < 100_000, "{} bytes", html.len());
    assert!(html.contains("too long to show here; it is kept"), "{html}");
    assert!(html.contains("151 more settings are not shown; they are kept."));
    // Modify posts only what was shown: the rest stays as it was.
    let r = handle(
        &host,
        &form("/userSettings", &[("user", "jack"), ("methods", "body")]),
    );
    assert_eq!(r.status, 200);
    let stored = host.get("identities/jack/plugindata/fitbit").unwrap();
    assert_eq!(stored["methods"], "body");
    assert_eq!(stored["k199"].as_str().unwrap().len(), 5_000);
    // The form takes no value longer than the page shows.
    let long = "x".repeat(1_001);
    let r = handle(
        &host,
        &form("/userSettings", &[("user", "jack"), ("period", &long)]),
    );
    assert_eq!(r.status, 400);
    assert!(r.body_text().contains("at most 1000"), "{}", r.body_text());
}

#[test]
fn the_logged_in_igor_user_gets_a_form_only_as_a_user_of_the_plugin() {
    let host = configured(None);
    let mut as_admin = request("GET", "/page/setup.html", &[]);
    as_admin.context.caller = Some("admin".into());
    let html = handle(&host, &as_admin).body_text();
    assert!(!html.contains("Settings of admin"), "{html}");
    assert!(!html.contains("Create user admin"), "{html}");
    // Once admin is a user, their form is there without naming them.
    let r = handle(&host, &form("/userSettings", &[("user", "admin")]));
    assert_eq!(r.status, 200);
    let html = handle(&host, &as_admin).body_text();
    assert!(html.contains("<h2>Settings of admin</h2>"), "{html}");
}

#[test]
fn each_form_is_confirmed_and_deleting_asks_first() {
    let host = configured(None);
    let setup = "/plugin/fitbit/page/setup.html";
    let saved = handle(
        &host,
        &form("/settings", &[("client_id", "c2"), ("returnTo", setup)]),
    );
    let location = saved.header("location").unwrap();
    assert!(location.ends_with("setup.html?done=settings"), "{location}");
    let html = page_of(&host, &[("done", "settings")]);
    assert!(
        html.contains(
            "<p class=\"saved\" role=\"status\">The application settings were saved.</p>"
        ),
        "{html}"
    );
    let user_page = format!("{setup}?user=jack");
    let created = handle(
        &host,
        &form(
            "/userSettings",
            &[("user", "jack"), ("returnTo", &user_page)],
        ),
    );
    assert!(
        created
            .header("location")
            .unwrap()
            .ends_with("?user=jack&done=user")
    );
    let html = page_of(&host, &[("user", "jack"), ("done", "user")]);
    assert!(html.contains("The settings of jack were saved."), "{html}");
    // Delete is a second step inside the row, which says what it removes.
    let row = &html[html.find("id=\"user-jack\"").unwrap()..];
    let row = &row[..row.find("</section>").unwrap()];
    assert!(
        row.contains("<details class=\"delete\"><summary>Delete jack…</summary>"),
        "{row}"
    );
    assert!(row.contains("It cannot be undone.") && row.contains("Yes, delete jack"));
    let deleted = handle(
        &host,
        &form(
            "/userSettings",
            &[("user", "jack"), ("delete", "true"), ("returnTo", setup)],
        ),
    );
    assert!(
        deleted
            .header("location")
            .unwrap()
            .ends_with("?done=deleted")
    );
    let html = page_of(&host, &[("done", "deleted")]);
    assert!(html.contains("The user was deleted"), "{html}");
    assert!(!html.contains("id=\"user-jack\""));
}
