//! Authorisation with Google, token refresh and revocation.

use super::*;

pub(crate) fn start_auth(host: &MemoryHost, user: &str) -> HashMap<String, String> {
    let started = handle(host, &request("GET", "/auth1", &[("user", user)]));
    assert_eq!(started.status, 303, "{}", started.body_text());
    let location = started.header("location").unwrap().to_string();
    assert!(
        location.starts_with("https://accounts.google.com/o/oauth2/v2/auth?"),
        "{location}"
    );
    query_of(&location)
}

#[test]
pub(super) fn a_new_installation_authorises_with_google_asking_only_needed_scopes() {
    let host = configured(None);
    let q = start_auth(&host, "jack");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT);
    // Google refuses http://igor.test: the loopback redirect with paste-back.
    assert_eq!(q["redirect_uri"], "http://localhost/plugin/fitbit/auth2");
    assert_eq!(q["include_granted_scopes"], "true");
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["state"].starts_with("jack."));
    // Default get_bodyweight without `system`: weight plus the settings for units.
    assert_eq!(q["scope"], format!("{SCOPE_METRICS} {SCOPE_SETTINGS}"));

    // With a unit system, the settings still give the user's time zone.
    let host = configured(Some("en_GB"));
    assert_eq!(
        start_auth(&host, "jack")["scope"],
        format!("{SCOPE_METRICS} {SCOPE_SETTINGS}")
    );

    // Steps and sleep: activity and sleep (and the zone of their days).
    host.put(
        "identities/jill/plugindata/fitbit",
        json!({"methods": "time_series,sleep", "resource": "activities/steps"}),
    );
    assert_eq!(
        start_auth(&host, "jill")["scope"],
        format!("{SCOPE_ACTIVITY} {SCOPE_SLEEP} {SCOPE_SETTINGS}")
    );
    // The profile reads no days: no settings for it alone with a system.
    host.put(
        "identities/joe/plugindata/fitbit",
        json!({"methods": "user_profile_get"}),
    );
    assert!(start_auth(&host, "joe")["scope"].contains("profile.readonly"));
    assert!(host.sent.borrow().is_empty());
}

#[test]
pub(super) fn the_code_exchange_sends_the_secret_as_a_form_field_and_stores_the_identity() {
    let host = configured(None);
    host.put(
        SYNC_PATH,
        json!({"weight": {"last": "2026-01-01T00:00:00Z"}}),
    );
    let q = start_auth(&host, "jack");
    host.respond(|r| {
        if r.url == TOKEN_URL {
            return response(
                200,
                json!({"access_token": "ya29.A1", "refresh_token": "1//R1", "expires_in": 3599,
                       "scope": SCOPE_METRICS, "token_type": "Bearer"}),
            );
        }
        assert_eq!(r.url, format!("{API}/v4/users/me/identity"));
        assert_eq!(auth_header(r).unwrap(), "Bearer ya29.A1");
        response(
            200,
            json!({"name": "users/4957304218837201659/identity",
                   "healthUserId": "4957304218837201659", "legacyUserId": "GGNJL9"}),
        )
    });
    let done = handle(
        &host,
        &request(
            "GET",
            "/auth2",
            &[("code", "4/0C0DE"), ("state", &q["state"])],
        ),
    );
    assert_eq!(done.status, 200, "{}", done.body_text());
    assert!(done.body_text().contains("Google Health access for jack"));
    let exchange = requests(&host)[0].clone();
    assert_eq!(exchange.url, TOKEN_URL);
    assert_eq!(exchange.method, "POST");
    assert_eq!(
        form_value(&exchange, "grant_type").unwrap(),
        "authorization_code"
    );
    assert_eq!(form_value(&exchange, "code").unwrap(), "4/0C0DE");
    assert_eq!(form_value(&exchange, "client_id").unwrap(), CLIENT);
    assert_eq!(
        form_value(&exchange, "redirect_uri").unwrap(),
        "http://localhost/plugin/fitbit/auth2"
    );
    let verifier = form_value(&exchange, "code_verifier").unwrap();
    assert_eq!(crate::oauth::pkce_challenge(&verifier), q["code_challenge"]);
    assert_eq!(form_value(&exchange, "client_secret"), None);
    assert_eq!(
        exchange.credential,
        Some(Credential::FormField {
            field: "client_secret".into(),
            secret: "client_secret".into()
        })
    );
    assert!(auth_header(&exchange).is_none());
    let token = host.get(TOKEN_PATH).unwrap();
    assert_eq!(token["provider"], "google-health");
    assert_eq!(token["refresh_token"], "1//R1");
    assert_eq!(token["healthUserId"], "4957304218837201659");
    assert_eq!(token["legacyUserId"], "GGNJL9");
    assert_eq!(token["expires_at"], host.now.get() + 3599.0);
    assert!(
        host.get(SYNC_PATH).is_none(),
        "re-authorising forgets the sync state"
    );
}

#[test]
pub(super) fn a_failed_identity_read_does_not_fail_the_authorisation() {
    let host = configured(None);
    let q = start_auth(&host, "jack");
    host.respond(|r| {
        if r.url == TOKEN_URL {
            return response(200, json!({"access_token": "ya29.A1", "refresh_token": "1//R1", "expires_in": 3599}));
        }
        response(
            400,
            json!({"error": {"code": 400, "message": "The account is not linked to Google Health.",
                   "status": "FAILED_PRECONDITION",
                   "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCOUNT_NOT_LINKED"}]}}),
        )
    });
    let done = handle(
        &host,
        &request("GET", "/auth2", &[("code", "C"), ("state", &q["state"])]),
    );
    assert_eq!(done.status, 200, "{}", done.body_text());
    let token = host.get(TOKEN_PATH).unwrap();
    assert!(token.get("healthUserId").is_none());
    assert!(
        host.logs
            .borrow()
            .iter()
            .any(|l| l.contains("identity not read") && l.contains("not linked")),
        "{:?}",
        host.logs.borrow()
    );
}

#[test]
pub(super) fn a_refresh_without_refresh_token_keeps_the_stored_one() {
    let host = configured(Some("en_GB"));
    with_token(&host, 30.0, SCOPE_METRICS);
    host.respond(|r| {
        if r.url == TOKEN_URL {
            assert_eq!(form_value(r, "grant_type").unwrap(), "refresh_token");
            assert_eq!(form_value(r, "refresh_token").unwrap(), "1//R1");
            assert_eq!(form_value(r, "client_id").unwrap(), CLIENT);
            assert!(matches!(r.credential, Some(Credential::FormField { .. })));
            return response(
                200,
                json!({"access_token": "ya29.A2", "expires_in": 3599, "scope": SCOPE_METRICS, "token_type": "Bearer"}),
            );
        }
        assert_eq!(auth_header(r).unwrap(), "Bearer ya29.A2");
        response(200, json!({}))
    });
    run_ok(&host, &[("user", "jack")]);
    let token = host.get(TOKEN_PATH).unwrap();
    assert_eq!(token["access_token"], "ya29.A2");
    assert_eq!(token["refresh_token"], "1//R1");
    assert_eq!(token["provider"], "google-health");
}

#[test]
pub(super) fn a_refresh_keeps_the_google_identity_of_the_token() {
    // Google's refresh answer carries no ids: an hour after consent the
    // legacy id must still be accepted and still be the profile's encodedId.
    let host = configured(Some("en_GB"));
    with_token(&host, 30.0, &format!("{SCOPE_METRICS} {SCOPE_PROFILE}"));
    host.respond(|r| {
        if r.url == TOKEN_URL {
            return response(
                200,
                json!({"access_token": "ya29.A2", "expires_in": 3599, "token_type": "Bearer",
                       "scope": format!("{SCOPE_METRICS} {SCOPE_PROFILE}")}),
            );
        }
        if path_of(&r.url) == "/v4/users/me/profile" {
            return response(200, json!({"age": 40}));
        }
        response(200, json!({}))
    });
    let own_profile = [
        ("user", "jack"),
        ("methods", "user_profile_get"),
        ("user_id", "GGNJL9"),
    ];
    run_ok(&host, &own_profile);
    let token = host.get(TOKEN_PATH).unwrap();
    assert_eq!(token["access_token"], "ya29.A2");
    assert_eq!(token["healthUserId"], "4957304218837201659");
    assert_eq!(token["legacyUserId"], "GGNJL9");
    let user = &host.get("sensors/fitbit/jack").unwrap()["user"];
    assert_eq!(user["encodedId"], "GGNJL9");
    // The next run, on the refreshed token, still knows whose data it reads.
    run_ok(&host, &own_profile);
}

#[test]
pub(super) fn an_expired_refresh_token_explains_the_seven_days_of_testing_mode() {
    let host = configured(Some("en_GB"));
    with_token(&host, 0.0, SCOPE_METRICS);
    refresh_tokens_refused(&host);
    let r = run(&host, &[("user", "jack")]);
    assert_eq!(r.status, 502);
    let text = r.body_text();
    for needle in [
        "Token has been expired or revoked.",
        "auth1?user=jack",
        "7 days",
        "Testing",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    assert_eq!(host.sent.borrow().len(), 1);
}

#[test]
pub(super) fn a_401_refreshes_once_and_retries() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_METRICS);
    host.respond(|r| {
        if r.url == TOKEN_URL {
            return response(200, json!({"access_token": "ya29.A2", "expires_in": 3599}));
        }
        match auth_header(r).as_deref() {
            Some("Bearer ya29.A1") => response(
                401,
                json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                       "status": "UNAUTHENTICATED",
                       "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_EXPIRED"}]}}),
            ),
            _ if is_list(&r.url, "height") => response(200, json!({})),
            _ => response(200, json!({"dataPoints": [weight_point("1", "2026-11-25T07:00:00Z", ((2026, 11, 25), (8, 0, 0)), 80_000.0)]})),
        }
    });
    run_ok(&host, &[("user", "jack")]);
    let urls = host.sent_urls();
    assert_eq!(urls.len(), 4, "{urls:?}"); // weight 401, token, weight, height
    assert_eq!(urls[1], TOKEN_URL);
    assert_eq!(host.get(TOKEN_PATH).unwrap()["access_token"], "ya29.A2");
}

#[test]
pub(super) fn deleting_a_user_revokes_the_refresh_token_without_the_secret() {
    let host = configured(None);
    with_token(&host, 3000.0, SCOPE_METRICS);
    host.put(SYNC_PATH, json!({}));
    host.respond(|_| response(200, json!({})));
    let r = handle(
        &host,
        &form("/userSettings", &[("user", "jack"), ("delete", "true")]),
    );
    assert_eq!(r.status, 200);
    let revoke = requests(&host)[0].clone();
    assert_eq!(revoke.url, "https://oauth2.googleapis.com/revoke");
    assert_eq!(form_value(&revoke, "token").unwrap(), "1//R1");
    assert_eq!(revoke.credential, None);
    assert!(host.get(TOKEN_PATH).is_none());
    assert!(host.get(SYNC_PATH).is_none());
}
