//! The setup page as a new owner meets it: forms posted from the origin the
//! browser used, settings without the plugin's bookkeeping, the original
//! plugin's way of setting the secret, and every user at a glance with a
//! chart of the last 90 days.

use serde_json::json;

use crate::provider::google::{SCOPE_METRICS, SCOPE_SETTINGS};
use crate::router::handle;
use crate::testing::{MemoryHost, form, request, response};
use crate::tests::google::{configured, is_list, run, weight_point, with_token};
use igor_plugin_sdk::FetchError;

fn posted(base: &str, headers: &[(&str, &str)]) -> u16 {
    let host = MemoryHost::default();
    let mut r = form("/settings", &[("system", "en_GB")]);
    r.context.base_url = base.into();
    for (name, value) in headers {
        r.headers.push((name.to_string(), value.to_string()));
    }
    handle(&host, &r).status
}

#[test]
fn forms_pass_from_the_origin_the_browser_used_and_nowhere_else() {
    let base = "http://127.0.0.1:9333";
    for headers in [
        vec![("origin", "http://127.0.0.1:9333")],
        vec![
            ("origin", "http://localhost:9333"),
            ("host", "localhost:9333"),
        ],
        vec![
            ("origin", "http://igor.local:9333"),
            ("host", "igor.local:9333"),
        ],
        vec![
            ("origin", "http://192.168.1.20:9333"),
            ("host", "192.168.1.20:9333"),
        ],
        // Igor's forwarder passes the browser's Host on.
        vec![
            ("origin", "http://igor.local:9333"),
            ("host", "127.0.0.1:9334"),
            ("x-forwarded-host", "igor.local:9333"),
        ],
        vec![],
    ] {
        assert_eq!(posted(base, &headers), 200, "{headers:?}");
    }
    assert_eq!(
        posted(
            "https://igor.example.com",
            &[("origin", "https://igor.example.com")]
        ),
        200
    );
    for headers in [
        vec![
            ("origin", "https://evil.example"),
            ("host", "igor.local:9333"),
        ],
        vec![
            ("origin", "http://localhost:9333"),
            ("host", "127.0.0.1:9333"),
        ],
        // A public name matching its own Host is a rebinding page.
        vec![
            ("origin", "http://rebind.example.com:9333"),
            ("host", "rebind.example.com:9333"),
        ],
        vec![("origin", "null"), ("host", "127.0.0.1:9333")],
    ] {
        assert_eq!(posted(base, &headers), 403, "{headers:?}");
    }
}

#[test]
fn bookkeeping_read_back_with_the_settings_stays_out_of_the_form() {
    // Igor returns a user's element with its children: token, sync, history.
    let host = configured(None);
    host.put(
        "identities/jack/plugindata/fitbit",
        json!({"methods": "get_bodyweight", "period": "7d",
               "token": {"access_token": "A"}, "sync": {"weight": {"last": "x"}},
               "history": {"last_success": 1}, "auth": {}}),
    );
    let page = handle(
        &host,
        &request("GET", "/page/setup.html", &[("user", "jack")]),
    );
    let html = page.body_text();
    for hidden in [
        "name=\"sync\"",
        "name=\"token\"",
        "name=\"history\"",
        "name=\"auth\"",
    ] {
        assert!(!html.contains(hidden), "{hidden}");
    }
    assert!(html.contains("name=\"period\" value=\"7d\""));
    // Posting the form as the page renders it works; bookkeeping keys are refused.
    let r = handle(
        &host,
        &form(
            "/userSettings",
            &[
                ("user", "jack"),
                ("methods", "get_bodyweight"),
                ("period", "1m"),
            ],
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body_text());
    let stored = host.get("identities/jack/plugindata/fitbit").unwrap();
    assert_eq!(stored["period"], "1m");
    assert_eq!(stored["sync"]["weight"]["last"], "x", "kept as it was");
    for key in ["sync", "history"] {
        let r = handle(
            &host,
            &form("/userSettings", &[("user", "jack"), (key, "x")]),
        );
        assert_eq!(r.status, 400, "{key}");
    }
}

#[test]
fn a_secret_set_the_original_way_moves_into_the_host() {
    let host = MemoryHost::default();
    host.put(
        "plugindata/fitbit",
        json!({"client_id": "c", "client_secret": "GOCSPX-seeded"}),
    );
    let page = handle(&host, &request("GET", "/page/setup.html", &[])).body_text();
    assert!(page.contains("set (leave empty to keep it)"));
    assert!(!page.contains("GOCSPX-seeded"));
    assert_eq!(host.secrets.borrow()["client_secret"], "GOCSPX-seeded");
    assert_eq!(
        host.get("plugindata/fitbit").unwrap(),
        json!({"client_id": "c"})
    );

    // Saving the settings form without a secret keeps a seeded one too.
    let host = MemoryHost::default();
    host.put(
        "plugindata/fitbit",
        json!({"client_secret": "GOCSPX-seeded"}),
    );
    let r = handle(&host, &form("/settings", &[("client_id", "c2")]));
    assert_eq!(r.status, 200);
    assert_eq!(host.secrets.borrow()["client_secret"], "GOCSPX-seeded");
    assert_eq!(
        host.get("plugindata/fitbit").unwrap(),
        json!({"client_id": "c2"})
    );

    // Without any secret the 403 names the setup page and the host's store.
    let host = MemoryHost::default();
    host.put("plugindata/fitbit", json!({"client_id": "c"}));
    host.info.borrow_mut().secret_store = Some("/var/lib/igor-host/secrets.sqlite".into());
    let r = request("GET", "/auth1", &[("user", "jack")]);
    let answer = handle(&host, &r);
    assert_eq!(answer.status, 403);
    let text = answer.body_text();
    assert!(
        text.contains("http://igor.test/plugin/fitbit/page/setup.html")
            && text.contains("/var/lib/igor-host/secrets.sqlite")
            && !text.contains("plugindata"),
        "{text}"
    );
}

#[test]
fn every_user_is_listed_with_state_values_error_and_chart() {
    let host = configured(None);
    with_token(&host, 3000.0, &format!("{SCOPE_METRICS} {SCOPE_SETTINGS}"));
    host.put(
        "identities/jill/plugindata/fitbit",
        json!({"methods": "get_bodyweight"}),
    );
    host.respond(|r| {
        if r.url.ends_with("/v4/users/me/settings") {
            return response(200, json!({"weightUnit": "WEIGHT_UNIT_POUNDS"}));
        }
        if is_list(&r.url, "weight") {
            return response(200, json!({"dataPoints": [
                weight_point("2", "2026-11-25T06:00:00Z", ((2026, 11, 25), (7, 0, 0)), 80_000.0),
                weight_point("1", "2026-11-20T06:00:00Z", ((2026, 11, 20), (7, 0, 0)), 81_000.0),
            ]}));
        }
        response(200, json!({}))
    });
    assert_eq!(
        run(&host, &[("user", "jack"), ("period", "7d")]).status,
        200
    );
    // Jill joins the list when her settings are made on the page.
    let r = handle(&host, &form("/userSettings", &[("user", "jill")]));
    assert_eq!(r.status, 200);
    host.respond(|_| Err(FetchError::Connection("refused".into())));
    let failed = run(&host, &[("user", "jack"), ("period", "7d")]);
    assert_eq!(failed.status, 502);

    let html = handle(&host, &request("GET", "/page/setup.html", &[])).body_text();
    for needle in [
        "id=\"user-jack\"",
        "id=\"user-jill\"",
        "<dt>Provider</dt><dd>Google Health</dd>",
        "body measurements (weight, body fat, heart rate); settings (units, time zone) and paired devices",
        "granted before grant times were recorded",
        "weight 176.37 lb (2026-11-25 07:00:00)",
        "<dt>Last error</dt><dd class=\"problem\">2026-11-25 09:46 UTC (502)",
        "connection failed: refused",
        "<svg class=\"chart\"",
        "weight from 178.57 lb on 2026-11-20 to 176.37 lb on 2026-11-25 (2 days)",
        "jill has not given permission yet.",
    ] {
        assert!(html.contains(needle), "{needle}\n{html}");
    }
    assert_eq!(html.matches("<svg").count(), 1, "jill has no data yet");
    // Jill has nothing to fetch with until she is authorised.
    assert!(!html.contains("period=3m"), "{html}");
    assert!(!html.contains("<script") && !html.contains("ya29"));
}
