//! Google OAuth 2.0: authorize (consent page + decision), token, revoke.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{GCode, GPending, KNOWN_SCOPES, SCOPE_PREFIX, State};
use crate::consent::{ConsentPage, render_consent, render_error};
use crate::util::{
    self, RecordedRequest, html_response, json_response, lookup, redirect, with_query,
};

pub(super) fn handle(st: &mut State, req: &RecordedRequest) -> Response {
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/o/oauth2/v2/auth") => {
            st.last_authorize = Some(req.query.clone());
            authorize(st, &req.query)
        }
        ("POST", "/o/oauth2/v2/auth") => decision(st, req),
        ("POST", "/token") => {
            st.token_requests += 1;
            token(st, req)
        }
        ("POST", "/revoke") => revoke(st, req),
        _ => oauth_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "Method not allowed.",
        ),
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

fn error_page(status: StatusCode, error: &str, detail: &str) -> Response {
    let title = format!("Access blocked: Error {}: {error}", status.as_u16());
    html_response(status, render_error(&title, detail))
}

fn scope_ok(s: &str) -> bool {
    matches!(s, "openid" | "email" | "profile")
        || s.strip_prefix(SCOPE_PREFIX)
            .is_some_and(|rest| KNOWN_SCOPES.contains(&rest))
}

fn authorize(st: &mut State, q: &[(String, String)]) -> Response {
    let bad = |d: &str| error_page(StatusCode::BAD_REQUEST, "invalid_request", d);
    let Some(client_id) = lookup(q, "client_id").filter(|s| !s.is_empty()) else {
        return bad("Missing required parameter: client_id");
    };
    let Some(client) = st.clients.get(client_id).cloned() else {
        return error_page(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    };
    let Some(redirect_uri) = lookup(q, "redirect_uri") else {
        return bad("Missing required parameter: redirect_uri");
    };
    // Exact string match with a registered URI (scheme, case, port and
    // trailing slash included), as Google compares.
    if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
        let detail = format!(
            "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 \
             policy. If you're the app developer, register the redirect URI in the Google Cloud \
             Console. Error 400: redirect_uri_mismatch. Request details: \
             redirect_uri={redirect_uri}"
        );
        return html_response(
            StatusCode::BAD_REQUEST,
            render_error("Access blocked: This app's request is invalid", &detail),
        );
    }
    match lookup(q, "response_type") {
        None => return bad("Missing required parameter: response_type"),
        Some("code") => {}
        Some(other) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "unsupported_response_type",
                &format!("Invalid response_type: {other}"),
            );
        }
    }
    let scopes: Vec<String> = lookup(q, "scope")
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    if scopes.is_empty() {
        return bad("Missing required parameter: scope");
    }
    let invalid: Vec<&String> = scopes.iter().filter(|s| !scope_ok(s)).collect();
    if !invalid.is_empty() {
        let list: Vec<&str> = invalid.iter().map(|s| s.as_str()).collect();
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!(
                "Some requested scopes were invalid. {{invalid=[{}]}}",
                list.join(", ")
            ),
        );
    }
    let challenge = match (
        lookup(q, "code_challenge"),
        lookup(q, "code_challenge_method"),
    ) {
        (None, None) => None,
        (None, Some(_)) => return bad("Missing required parameter: code_challenge"),
        (Some(c), m) => {
            let m = m.unwrap_or("plain");
            if m != "S256" && m != "plain" {
                return bad(&format!("Invalid code_challenge_method: {m}"));
            }
            Some((c.to_string(), m.to_string()))
        }
    };
    let pending = GPending {
        client: client_id.into(),
        redirect_uri: redirect_uri.into(),
        state: lookup(q, "state").map(String::from),
        scopes: scopes.clone(),
        challenge,
        offline: lookup(q, "access_type") == Some("offline"),
        prompt_consent: lookup(q, "prompt")
            .is_some_and(|p| p.split_whitespace().any(|x| x == "consent")),
        include_granted: lookup(q, "include_granted_scopes") == Some("true"),
    };
    let txn = util::random_token("", 32);
    st.pending.insert(txn.clone(), pending);
    let account = format!("users/{}", st.consent_user);
    let page = render_consent(&ConsentPage {
        title: "Sign in with Google",
        app_name: &client.name,
        account: &account,
        scopes: &scopes,
        action: "/o/oauth2/v2/auth",
        hidden: &[("txn", txn)],
    });
    html_response(StatusCode::OK, page)
}

fn decision(st: &mut State, req: &RecordedRequest) -> Response {
    let Some(p) = req.form_value("txn").and_then(|t| st.pending.remove(t)) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Unknown or already used consent transaction.",
        );
    };
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if req.form_value("decision") == Some("allow") {
        let newly: Vec<String> = p
            .scopes
            .iter()
            .filter(|s| !st.withheld_scopes.contains(s))
            .cloned()
            .collect();
        let user = st.consent_user.clone();
        let combined = st.add_grant(&user, &p.client, &newly);
        // Incremental authorisation: the token covers the union of every
        // grant; without it, only what was asked for (and allowed) now.
        let granted = if p.include_granted { combined } else { newly };
        let code = format!("4/0{}", util::random_token("", 60));
        pairs.push(("code", code.clone()));
        pairs.push(("scope", granted.join(" ")));
        st.codes.insert(
            code,
            GCode {
                pending: p.clone(),
                user: st.consent_user.clone(),
                scopes: granted,
                expires_at: st.clock.now() + chrono::Duration::minutes(10),
                used: false,
            },
        );
    } else {
        pairs.push(("error", "access_denied".into()));
    }
    if let Some(s) = &p.state {
        pairs.push(("state", s.clone()));
    }
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    redirect(&with_query(&p.redirect_uri, &pairs))
}

/// Client authentication: `client_id`/`client_secret` in the body (Google
/// style) or HTTP Basic.
fn client_auth(st: &State, req: &RecordedRequest) -> Result<String, Response> {
    let (id, secret) = match (req.form_value("client_id"), req.basic_auth()) {
        (Some(id), _) => (
            id.to_string(),
            req.form_value("client_secret").map(String::from),
        ),
        (None, Some((id, secret))) => (id, Some(secret)),
        (None, None) => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Could not determine client ID from request.",
            ));
        }
    };
    let Some(client) = st.clients.get(&id) else {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        ));
    };
    if secret.as_deref() != Some(client.secret.as_str()) {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Unauthorized",
        ));
    }
    Ok(id)
}

fn missing(param: &str) -> Response {
    oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        &format!("Missing required parameter: {param}"),
    )
}

fn token(st: &mut State, req: &RecordedRequest) -> Response {
    let client = match client_auth(st, req) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match req.form_value("grant_type") {
        None | Some("") => missing("grant_type"),
        Some("authorization_code") => code_grant(st, req, &client),
        Some("refresh_token") => refresh_grant(st, req, &client),
        Some(other) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {other}"),
        ),
    }
}

fn code_grant(st: &mut State, req: &RecordedRequest, client: &str) -> Response {
    let Some(code) = req.form_value("code").filter(|c| !c.is_empty()) else {
        return missing("code");
    };
    let Some(redirect_uri) = req.form_value("redirect_uri") else {
        return missing("redirect_uri");
    };
    let Some(c) = st.codes.get(code).cloned() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Malformed auth code.",
        );
    };
    if c.used || c.expires_at <= st.clock.now() || c.pending.client != client {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Bad Request");
    }
    if c.pending.redirect_uri != redirect_uri {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "redirect_uri_mismatch",
            "Bad Request",
        );
    }
    if let Some((challenge, method)) = &c.pending.challenge {
        let Some(verifier) = req.form_value("code_verifier") else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "Missing code verifier.",
            );
        };
        if !util::pkce_matches(method, challenge, verifier) {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "Invalid code verifier.",
            );
        }
    }
    if let Some(stored) = st.codes.get_mut(code) {
        stored.used = true;
    }
    let access = st.new_access(client, &c.user, &c.scopes);
    let mut body = json!({
        "access_token": access,
        "expires_in": st.access_lifetime.as_secs().saturating_sub(1),
        "scope": c.scopes.join(" "),
        "token_type": "Bearer",
    });
    let has_live = st
        .refresh
        .values()
        .any(|t| t.user == c.user && t.client == client && st.refresh_live(t));
    if c.pending.offline && (c.pending.prompt_consent || !has_live) {
        body["refresh_token"] = json!(st.new_refresh(client, &c.user, &c.scopes));
    }
    json_response(StatusCode::OK, &body)
}

fn refresh_grant(st: &mut State, req: &RecordedRequest, client: &str) -> Response {
    let Some(rt) = req.form_value("refresh_token").filter(|c| !c.is_empty()) else {
        return missing("refresh_token");
    };
    let Some(tok) = st.refresh.get(rt).cloned().filter(|t| st.refresh_live(t)) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Token has been expired or revoked.",
        );
    };
    if tok.client != client {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "Unauthorized",
        );
    }
    let access = st.new_access(client, &tok.user, &tok.scopes);
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": access,
            "expires_in": st.access_lifetime.as_secs().saturating_sub(1),
            "scope": tok.scopes.join(" "),
            "token_type": "Bearer",
        }),
    )
}

fn revoke(st: &mut State, req: &RecordedRequest) -> Response {
    let Some(token) = req
        .form_value("token")
        .or_else(|| req.query_value("token"))
        .map(String::from)
    else {
        return missing("token");
    };
    let owner = st
        .access
        .get(&token)
        .filter(|t| !t.revoked)
        .map(|t| (t.user.clone(), t.client.clone()))
        .or_else(|| {
            st.refresh
                .get(&token)
                .filter(|t| st.refresh_live(t))
                .map(|t| (t.user.clone(), t.client.clone()))
        });
    match owner {
        Some((user, client)) => {
            st.revoke_grant(&user, &client);
            json_response(StatusCode::OK, &json!({}))
        }
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_token",
            "Token expired or revoked",
        ),
    }
}
