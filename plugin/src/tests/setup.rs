//! The browser-facing parts of the legacy flow: starting and finishing an
//! authorisation, the settings forms, the setup page and the router's
//! answers to wrong methods and paths.

use serde_json::json;

use crate::router::handle;
use crate::settings::return_location;
use crate::testing::fitbit::{API, TOKEN_PATH, configured, fitbit_error, with_token};
use crate::testing::{MemoryHost, form, put_into, query_of, request, response, state_of};
use igor_plugin_sdk::{FetchError, Response};

const PENDING_PATH: &str = "plugindata/fitbit/pending";

/// Jack's authorisation in progress, if any.
fn jacks_pending(host: &MemoryHost) -> Option<serde_json::Value> {
    host.get(PENDING_PATH).and_then(|p| p.get("jack").cloned())
}

fn start_auth(host: &MemoryHost, query: &[(&str, &str)]) -> (Response, String) {
    let started = handle(host, &request("GET", "/auth1", query));
    assert_eq!(started.status, 303, "{}", started.body_text());
    let state = state_of(&started);
    (started, state)
}

#[test]
fn auth1_needs_a_user_and_client_credentials() {
    let host = MemoryHost::default();
    let r = handle(&host, &request("GET", "/auth1", &[]));
    assert_eq!(r.status, 400);
    let r = handle(&host, &request("GET", "/auth1", &[("user", "jack")]));
    assert_eq!(
        (r.status, r.body_text().contains("'client_id'")),
        (403, true)
    );
    host.put("plugindata/fitbit", json!({"client_id": 227123}));
    let r = handle(&host, &request("GET", "/auth1", &[("user", "jack")]));
    assert_eq!(
        (r.status, r.body_text().contains("'client_secret'")),
        (403, true)
    );
    assert!(jacks_pending(&host).is_none());
}

#[test]
fn auth1_records_a_hashed_nonce_and_sends_an_encoded_url() {
    let host = configured();
    with_token(&host, 3600.0);
    let token_before = host.get(TOKEN_PATH);
    // The original setup page's "delete" link only restarts authorisation.
    let (started, state) = start_auth(&host, &[("user", "jack"), ("delete", "true")]);
    assert_eq!(host.get(TOKEN_PATH), token_before);

    let location = started.header("location").unwrap();
    assert!(!location.contains(' '), "{location}");
    assert!(location.contains("redirect_uri=http%3A%2F%2Figor.test%2Fplugin%2Ffitbit%2Fauth2"));
    let q = query_of(location);
    assert_eq!(q["response_type"], "code");
    // python-fitbit's defaults, and the health metrics' scopes.
    let scopes: Vec<&str> = q["scope"].split(' ').collect();
    for scope in [
        "activity",
        "heartrate",
        "location",
        "nutrition",
        "profile",
        "settings",
        "sleep",
        "social",
        "weight",
        "oxygen_saturation",
        "respiratory_rate",
        "temperature",
        "cardio_fitness",
    ] {
        assert!(scopes.contains(&scope), "{scope}: {scopes:?}");
    }

    let nonce = state.strip_prefix("jack.").unwrap();
    assert_eq!(nonce.len(), 64);
    let pending = jacks_pending(&host).unwrap();
    assert_eq!(pending["nonce_sha256"], crate::digest::sha256_hex(nonce));
    assert_ne!(pending["nonce_sha256"], nonce);
    let verifier = pending["code_verifier"].as_str().unwrap();
    assert!((43..=128).contains(&verifier.len()));
    assert_eq!(q["code_challenge"], crate::oauth::pkce_challenge(verifier));
    assert_eq!(pending["expires_at"], host.now.get() + 600.0);
    assert_eq!(pending["provider"], "fitbit");
    assert_eq!(
        pending["redirect_uri"],
        "http://igor.test/plugin/fitbit/auth2"
    );
}

#[test]
fn a_refused_consent_is_a_readable_page_and_uses_up_the_state() {
    let host = configured();
    let (_, state) = start_auth(&host, &[("user", "jack")]);
    let r = handle(
        &host,
        &request(
            "GET",
            "/auth2",
            &[("error", "access_denied"), ("state", &state)],
        ),
    );
    assert_eq!(r.status, 400);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.body_text().contains("access_denied"));
    assert!(jacks_pending(&host).is_none());
    assert!(host.get(TOKEN_PATH).is_none());
    assert!(host.sent.borrow().is_empty());
}

#[test]
fn a_refused_code_is_a_502_and_stores_no_token() {
    let host = configured();
    let (_, state) = start_auth(&host, &[("user", "jack")]);
    host.respond(|_| {
        response(
            400,
            fitbit_error("invalid_grant", "Authorization code invalid: C."),
        )
    });
    let r = handle(
        &host,
        &request("GET", "/auth2", &[("code", "C"), ("state", &state)]),
    );
    assert_eq!(r.status, 502);
    assert!(r.body_text().contains("Authorization code invalid"));
    assert!(host.get(TOKEN_PATH).is_none());
}

#[test]
fn reauthorising_replaces_the_old_token() {
    let host = configured();
    with_token(&host, 3600.0);
    let (_, state) = start_auth(&host, &[("user", "jack")]);
    host.respond(|r| {
        assert_eq!(r.url, format!("{API}/oauth2/token"));
        response(
            200,
            json!({"access_token": "NEW-A", "refresh_token": "NEW-R", "expires_in": 28800}),
        )
    });
    let r = handle(
        &host,
        &request("GET", "/auth2", &[("code", "C"), ("state", &state)]),
    );
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert!(r.body_text().contains("Fitbit access for jack is set up"));
    let token = host.get(TOKEN_PATH).unwrap();
    assert_eq!(token["refresh_token"], "NEW-R");
    assert!(
        token.get("user_id").is_none(),
        "nothing of the old token stays"
    );
}

#[test]
fn index_checks_come_in_the_original_order() {
    let host = MemoryHost::default();
    host.put(TOKEN_PATH, json!({"access_token": "A"}));
    let r = handle(&host, &request("GET", "/", &[("user", "jack")]));
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body_text(),
        "Fitbitplugin 'token' plugindata for user 'jack' misses 'refresh_token'\n"
    );
    host.put(
        TOKEN_PATH,
        json!({"access_token": "A", "refresh_token": "R"}),
    );
    let r = handle(&host, &request("GET", "/", &[("user", "jack")]));
    assert_eq!(r.status, 403);
    assert!(
        r.body_text()
            .contains("requires global plugindata 'client_id'")
    );
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
}

#[test]
fn return_to_stays_inside_the_plugin() {
    let mut r = request("POST", "/settings", &[]);
    let own = |r: &igor_plugin_sdk::Request, path: &str| return_location(r, path);
    // A path the browser resolves against the address it used.
    assert_eq!(
        own(&r, "/plugin/fitbit/page/setup.html?user=jack").as_deref(),
        Some("/plugin/fitbit/page/setup.html?user=jack")
    );
    assert_eq!(
        own(&r, "/page/setup.html").as_deref(),
        Some("/plugin/fitbit/page/setup.html")
    );
    r.context.base_url = "http://127.0.0.1:9333/tenants/smiths".into();
    assert_eq!(
        own(&r, "/plugin/fitbit/page/setup.html").as_deref(),
        Some("/tenants/smiths/plugin/fitbit/page/setup.html")
    );
    for bad in [
        "http://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "/plugin/other/page/x.html",
        "/plugin/fitbit/../../data/x",
        "/plugin/fitbit/%2E%2E/x",
        "/plugin/fitbit/x\r\nset-cookie: a=b",
        "page/setup.html",
        "",
    ] {
        assert_eq!(own(&r, bad), None, "{bad:?}");
    }
}

/// A host on which another client changes the app settings just before
/// each of the plugin's first `races` writes of them.
fn racing_host(races: u32) -> MemoryHost {
    let host = configured();
    let (documents, revision) = (host.documents.clone(), host.revision.clone());
    let mut left = races;
    host.before_write(move |path| {
        if path == "plugindata/fitbit" && left > 0 {
            left -= 1;
            let mut other = documents.borrow()[path].0.clone();
            other[format!("other{left}")] = json!("kept");
            put_into(&documents, &revision, path, other);
        }
    });
    host
}

#[test]
fn settings_keep_other_keys_and_survive_races() {
    let host = racing_host(2);
    host.put(
        "plugindata/fitbit",
        json!({"client_id": "22ABCD", "provider": "fitbit", "note": "mine", "client_secret": "legacy"}),
    );
    let r = handle(
        &host,
        &form("/settings", &[("client_id", "33EFGH"), ("system", "en_GB")]),
    );
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(
        host.get("plugindata/fitbit").unwrap(),
        json!({"client_id": "33EFGH", "provider": "fitbit", "note": "mine", "system": "en_GB",
               "other0": "kept", "other1": "kept"})
    );
    // A secret written into plugindata the original plugin's way moved into
    // the host (it replaced the one set earlier) and left the document.
    assert_eq!(host.secrets.borrow()["client_secret"], "legacy");
    host.secrets
        .borrow_mut()
        .insert("client_secret".into(), "s3cret".into());

    // Values that could not travel in a header are refused, changing nothing.
    for bad in [
        [("client_id", "a b"), ("client_secret", "new")],
        [("client_id", "x:y"), ("client_secret", "new")],
        [("system", "en_GB\r\nx: y"), ("client_secret", "new")],
    ] {
        let r = handle(&host, &form("/settings", &bad));
        assert_eq!(r.status, 400, "{bad:?}");
    }
    assert_eq!(host.secrets.borrow()["client_secret"], "s3cret");
    assert_eq!(
        host.get("plugindata/fitbit").unwrap()["client_id"],
        "33EFGH"
    );

    // Clearing the unit system means metric: the key goes.
    handle(&host, &form("/settings", &[("system", "")]));
    assert!(
        host.get("plugindata/fitbit")
            .unwrap()
            .get("system")
            .is_none()
    );
}

#[test]
fn credentials_are_refused_as_user_settings() {
    let host = configured();
    let cases: [&[(&str, &str)]; 3] = [
        &[("user", "jack"), ("client_secret", "s3cret")],
        &[("user", "jack"), ("Refresh_Token", "r")],
        &[
            ("user", "jack"),
            ("_newName", "api_key"),
            ("_newValue", "k"),
        ],
    ];
    for fields in cases {
        let r = handle(&host, &form("/userSettings", fields));
        assert_eq!(r.status, 400, "{fields:?}");
        assert!(r.body_text().contains("setup page"), "{}", r.body_text());
    }
    assert!(host.get("identities/jack/plugindata/fitbit").is_none());
}

#[test]
fn user_settings_need_a_user_and_plain_keys() {
    let host = configured();
    let r = handle(&host, &form("/userSettings", &[("methods", "x")]));
    assert_eq!(r.status, 400);
    let r = handle(
        &host,
        &form("/userSettings", &[("user", "jack"), ("a b", "x")]),
    );
    assert_eq!(r.status, 400);
    let r = handle(
        &host,
        &form(
            "/userSettings",
            &[("user", "jack"), ("_newName", "../x"), ("_newValue", "1")],
        ),
    );
    assert_eq!(r.status, 400);
    assert!(host.get("identities/jack/plugindata/fitbit").is_none());

    let r = handle(
        &host,
        &form(
            "/userSettings",
            &[
                ("user", "jack"),
                ("methods", " time_series "),
                ("resource", "body/weight"),
                ("_ignored", "x"),
                ("delete", "false"),
                ("returnTo", "/plugin/fitbit/page/setup.html?user=jack"),
            ],
        ),
    );
    assert_eq!(r.status, 303);
    // The page confirms what was done.
    assert_eq!(
        r.header("location"),
        Some("/plugin/fitbit/page/setup.html?user=jack&done=user")
    );
    assert_eq!(
        host.get("identities/jack/plugindata/fitbit").unwrap(),
        json!({"methods": "time_series", "resource": "body/weight"})
    );
}

#[test]
fn deleting_a_user_survives_a_failed_revoke() {
    let host = configured();
    with_token(&host, 3600.0);
    host.put("identities/jack/plugindata/fitbit", json!({"period": "1m"}));
    host.put(
        "identities/jack/plugindata/fitbit/auth",
        json!({"nonce_sha256": "x"}),
    );
    let (_, _) = start_auth(&host, &[("user", "jack")]);
    host.respond(|_| Err(FetchError::Connection("refused".into())));
    let r = handle(
        &host,
        &form("/userSettings", &[("user", "jack"), ("delete", "yes")]),
    );
    assert_eq!(r.status, 200, "{}", r.body_text());
    let revoke = host.sent.borrow()[0].clone();
    assert_eq!(revoke.url, format!("{API}/oauth2/revoke"));
    assert_eq!(
        revoke.credential,
        Some(igor_plugin_sdk::Credential::Basic {
            user: "22ABCD".into(),
            secret: "client_secret".into()
        })
    );
    for path in [
        TOKEN_PATH,
        "identities/jack/plugindata/fitbit/auth",
        "identities/jack/plugindata/fitbit",
    ] {
        assert!(host.get(path).is_none(), "{path}");
    }
    assert!(
        jacks_pending(&host).is_none(),
        "the authorisation under way goes too"
    );
    assert!(host.logs.borrow().iter().any(|l| l.contains("revoking")));
}

#[test]
fn the_setup_page_escapes_values_and_posts_back_to_itself() {
    let host = configured();
    host.put(
        "identities/jack/plugindata/fitbit",
        json!({"methods": "get_bodyweight", "note": "<script>alert(1)</script>"}),
    );
    let page = handle(
        &host,
        &request("GET", "/page/setup.html", &[("user", "jack")]),
    );
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.body_text();
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // Forms post to the address the page was viewed at, whatever it is.
    assert!(html.contains("action=\"/plugin/fitbit/userSettings\""));
    assert!(html.contains("action=\"/plugin/fitbit/settings\""));
    assert!(html.contains("value=\"/plugin/fitbit/page/setup.html?user=jack\""));
    assert!(html.contains("http://igor.test/plugin/fitbit/auth2"));
    assert!(html.contains("Server") && html.contains("dev.fitbit.com/apps/new"));
    assert!(html.contains("has not given permission yet"));
    assert!(!html.contains("s3cret"));
}

#[test]
fn a_user_with_only_a_token_gets_the_modify_form_and_token_facts() {
    let host = configured();
    with_token(&host, 3600.0);
    let mut r = request("GET", "/page/setup.html", &[]);
    r.context.caller = Some("jack".into());
    let html = handle(&host, &r).body_text();
    assert!(!html.contains("Create user jack"), "{html}");
    assert!(html.contains("name=\"_newName\""));
    assert!(html.contains("jack has already given permission (token from <b>fitbit</b>"));
    // The fixed clock plus an hour.
    assert!(html.contains("valid until 2026-11-25 10:46 UTC"), "{html}");
    assert!(html.contains("name=\"delete\" value=\"true\""));
    assert!(!html.contains("A1") && !html.contains("R1"));
}

#[test]
fn wrong_methods_and_paths_are_refused() {
    let host = configured();
    for (method, path, allow) in [
        ("GET", "/settings", "POST"),
        ("GET", "/userSettings", "POST"),
        ("POST", "/", "GET"),
        ("PUT", "/auth1", "GET"),
        ("DELETE", "/auth2", "GET, POST"),
    ] {
        let r = handle(&host, &request(method, path, &[]));
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
    }
    let r = handle(&host, &request("GET", "/nope", &[]));
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert!(r.body_text().ends_with('\n'));
    assert!(host.documents.borrow().len() == 1 && host.sent.borrow().is_empty());
}

#[test]
fn a_form_body_that_is_not_urlencoded_changes_nothing() {
    // The attack: a multipart body whose form part names guest, for Igor's
    // check, and whose raw bytes end with a urlencoded delete of jack.
    let host = configured();
    with_token(&host, 3600.0);
    host.put("identities/jack/plugindata/fitbit", json!({"methods": "x"}));
    let before = host.documents.borrow().clone();
    let secrets = host.secrets.borrow().clone();
    let body = "--b\r\ncontent-disposition: form-data; name=\"user\"\r\n\r\nguest\r\n--b--\r\n\
                &user=jack&delete=true&client_id=EVIL&client_secret=X&address=x";
    for path in ["/userSettings", "/settings", "/auth2"] {
        let mut post = request("POST", path, &[]);
        post.headers = vec![(
            "content-type".into(),
            "multipart/form-data; boundary=b".into(),
        )];
        post.body = body.as_bytes().to_vec();
        let r = handle(&host, &post);
        assert_eq!(r.status, 415, "{path}: {}", r.body_text());
        assert!(
            r.body_text().contains("application/x-www-form-urlencoded"),
            "{}",
            r.body_text()
        );
    }
    assert_eq!(*host.documents.borrow(), before);
    assert_eq!(*host.secrets.borrow(), secrets);
    assert!(host.sent.borrow().is_empty(), "nothing revoked");
}
