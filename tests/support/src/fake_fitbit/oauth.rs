//! Fitbit OAuth 2.0: authorize (consent page + decision), token, revoke.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{ALL_SCOPES, AuthCode, PendingAuth, RefreshStatus, State, VISIT, fitbit_error};
use crate::consent::{ConsentPage, render_consent, render_error};
use crate::util::{
    self, RecordedRequest, html_response, json_response, lookup, redirect, with_query,
};

pub(super) fn handle(st: &mut State, req: &RecordedRequest) -> Response {
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/oauth2/authorize") => authorize(st, &req.query),
        ("POST", "/oauth2/authorize") => decision(st, req),
        ("POST", "/oauth2/token") => {
            st.token_requests += 1;
            token(st, req)
        }
        ("POST", "/oauth2/revoke") => revoke(st, req),
        _ => fitbit_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "The API you are requesting could not be found.",
        ),
    }
}

fn error_page(msg: &str) -> Response {
    html_response(
        StatusCode::BAD_REQUEST,
        render_error("Fitbit: authorization error", msg),
    )
}

/// Fitbit never redirects on invalid authorize parameters; it shows the error.
fn authorize(st: &mut State, q: &[(String, String)]) -> Response {
    let missing: Vec<&str> = ["client_id", "response_type", "scope"]
        .into_iter()
        .filter(|k| lookup(q, k).is_none_or(str::is_empty))
        .collect();
    if !missing.is_empty() {
        return error_page(&format!(
            "invalid_request - Missing parameters: {}",
            missing.join(", ")
        ));
    }
    let client_id = lookup(q, "client_id").unwrap_or_default();
    let Some(client) = st.clients.get(client_id).cloned() else {
        return error_page("unauthorize_client - Invalid client_id");
    };
    let response_type = lookup(q, "response_type").unwrap_or_default();
    if response_type != "code" {
        return error_page(&format!(
            "unsupported_response_type - Invalid response_type parameter value: {response_type}"
        ));
    }
    let redirect_uri_sent = lookup(q, "redirect_uri").is_some();
    let redirect_uri = match lookup(q, "redirect_uri") {
        Some(r) if client.redirect_uris.iter().any(|u| u == r) => r.to_string(),
        Some(_) => return error_page("invalid_request - Invalid redirect_uri parameter value"),
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return error_page("invalid_request - Missing parameters: redirect_uri"),
    };
    let scopes: Vec<String> = lookup(q, "scope")
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    if let Some(bad) = scopes.iter().find(|s| !ALL_SCOPES.contains(&s.as_str())) {
        return error_page(&format!("invalid_scope - Invalid scope: {bad}"));
    }
    let challenge = match (
        lookup(q, "code_challenge"),
        lookup(q, "code_challenge_method"),
    ) {
        (None, None) => None,
        (None, Some(_)) => {
            return error_page("invalid_request - Missing parameters: code_challenge");
        }
        (Some(c), m) => {
            let m = m.unwrap_or("plain");
            if m != "S256" && m != "plain" {
                return error_page(&format!(
                    "invalid_request - Invalid code_challenge_method parameter value: {m}"
                ));
            }
            Some((c.to_string(), m.to_string()))
        }
    };
    let txn = util::random_token("tx_", 24);
    st.pending.insert(
        txn.clone(),
        PendingAuth {
            client: client_id.into(),
            redirect_uri,
            redirect_uri_sent,
            state: lookup(q, "state").map(String::from),
            scopes: scopes.clone(),
            challenge,
        },
    );
    let page = render_consent(&ConsentPage {
        title: "Fitbit: Allow access",
        app_name: &client.name,
        account: &st.consent_user,
        scopes: &scopes,
        action: "/oauth2/authorize",
        hidden: &[("transaction_id", txn)],
    });
    html_response(StatusCode::OK, page)
}

fn decision(st: &mut State, req: &RecordedRequest) -> Response {
    let Some(p) = req
        .form_value("transaction_id")
        .and_then(|t| st.pending.remove(t))
    else {
        return error_page("invalid_request - Unknown or already used authorization transaction");
    };
    let state = p.state.clone().unwrap_or_default();
    let with_state = |mut v: Vec<(&'static str, String)>| {
        if p.state.is_some() {
            v.push(("state", state.clone()));
        }
        v
    };
    if req.form_value("decision") != Some("allow") {
        let pairs = with_state(vec![("error", "access_denied".into())]);
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        return redirect(&with_query(&p.redirect_uri, &pairs));
    }
    let granted: Vec<String> = p
        .scopes
        .iter()
        .filter(|s| !st.withheld_scopes.contains(s))
        .cloned()
        .collect();
    let code = util::random_token("", 40);
    st.codes.insert(
        code.clone(),
        AuthCode {
            client: p.client.clone(),
            redirect_uri: p.redirect_uri_sent.then(|| p.redirect_uri.clone()),
            user: st.consent_user.clone(),
            scopes: granted,
            challenge: p.challenge.clone(),
            expires_at: st.clock.now() + chrono::Duration::minutes(10),
            used: false,
        },
    );
    let pairs = with_state(vec![("code", code)]);
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    redirect(&with_query(&p.redirect_uri, &pairs))
}

/// Basic client authentication; `Err` is the 401 response.
fn client_auth(st: &State, req: &RecordedRequest) -> Result<String, Response> {
    let Some((id, secret)) = req.basic_auth() else {
        return Err(fitbit_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &format!(
                "Invalid authorization header format. The header was not recognized to be a valid header for any of known implementations or a client_id was not specified in case of a public client {VISIT}"
            ),
        ));
    };
    match st.clients.get(&id) {
        Some(c) if c.secret == secret => Ok(id),
        _ => Err(fitbit_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &format!(
                "Invalid authorization header. Client id invalid or client secret invalid. {VISIT}"
            ),
        )),
    }
}

fn missing(params: &[&str]) -> Response {
    fitbit_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        &format!("Missing parameters: {}. {VISIT}", params.join(", ")),
    )
}

fn token(st: &mut State, req: &RecordedRequest) -> Response {
    let client = match client_auth(st, req) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match req.form_value("grant_type") {
        Some("authorization_code") => code_grant(st, req, &client),
        Some("refresh_token") => refresh_grant(st, req, &client),
        None | Some("") => missing(&["grant_type"]),
        Some(other) => fitbit_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("The grant type is not supported: {other}. {VISIT}"),
        ),
    }
}

fn code_grant(st: &mut State, req: &RecordedRequest, client: &str) -> Response {
    let Some(code) = req.form_value("code").filter(|c| !c.is_empty()) else {
        return missing(&["code"]);
    };
    let invalid = || {
        fitbit_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            &format!("Authorization code invalid: {code} {VISIT}"),
        )
    };
    let now = st.clock.now();
    let Some(c) = st.codes.get(code).cloned() else {
        return invalid();
    };
    if c.used || c.client != client {
        return invalid();
    }
    if c.expires_at <= now {
        return fitbit_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            &format!("Authorization code expired: {code} {VISIT}"),
        );
    }
    if let Some(r) = &c.redirect_uri
        && req.form_value("redirect_uri") != Some(r.as_str())
    {
        return invalid();
    }
    if let Some((challenge, method)) = &c.challenge {
        let Some(verifier) = req.form_value("code_verifier") else {
            return missing(&["code_verifier"]);
        };
        if !util::pkce_matches(method, challenge, verifier) {
            return invalid();
        }
    }
    if let Some(stored) = st.codes.get_mut(code) {
        stored.used = true;
    }
    // One active refresh token per user and app.
    for t in st.refresh.values_mut() {
        if t.user == c.user && t.client == client && matches!(t.status, RefreshStatus::Active) {
            t.status = RefreshStatus::Revoked;
        }
    }
    let (_, body) = st.issue(client, &c.user, &c.scopes);
    json_response(StatusCode::OK, &body)
}

fn refresh_grant(st: &mut State, req: &RecordedRequest, client: &str) -> Response {
    let Some(rt) = req.form_value("refresh_token").filter(|c| !c.is_empty()) else {
        return missing(&["refresh_token"]);
    };
    let invalid = || {
        fitbit_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            &format!("Refresh token invalid: {rt}. {VISIT}"),
        )
    };
    let now = st.clock.now();
    let Some(tok) = st.refresh.get(rt).cloned() else {
        return invalid();
    };
    if tok.client != client {
        return invalid();
    }
    match tok.status {
        RefreshStatus::Revoked => invalid(),
        RefreshStatus::Used {
            at,
            response,
            new_access,
            new_refresh,
        } => {
            let within = now - at <= util::chrono_dur(st.grace);
            let access_unused = st.access.get(&new_access).is_some_and(|a| !a.used);
            let refresh_unused = st
                .refresh
                .get(&new_refresh)
                .is_some_and(|r| matches!(r.status, RefreshStatus::Active));
            if within && access_unused && refresh_unused {
                json_response(StatusCode::OK, &response)
            } else {
                invalid()
            }
        }
        RefreshStatus::Active => {
            let (pair, body) = st.issue(client, &tok.user, &tok.scopes);
            if let Some(t) = st.refresh.get_mut(rt) {
                t.status = RefreshStatus::Used {
                    at: now,
                    response: body.clone(),
                    new_access: pair.access_token,
                    new_refresh: pair.refresh_token,
                };
            }
            json_response(StatusCode::OK, &body)
        }
    }
}

/// RFC 7009 revoke: revoking either token revokes every token of that user
/// for the app. Unknown tokens are answered 200 as well.
fn revoke(st: &mut State, req: &RecordedRequest) -> Response {
    let client = match client_auth(st, req) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(token) = req.form_value("token").filter(|t| !t.is_empty()) else {
        return missing(&["token"]);
    };
    let user = st
        .access
        .get(token)
        .filter(|t| t.client == client)
        .map(|t| t.user.clone())
        .or_else(|| {
            st.refresh
                .get(token)
                .filter(|t| t.client == client)
                .map(|t| t.user.clone())
        });
    if let Some(user) = user {
        for t in st
            .access
            .values_mut()
            .filter(|t| t.user == user && t.client == client)
        {
            t.revoked = true;
        }
        for t in st
            .refresh
            .values_mut()
            .filter(|t| t.user == user && t.client == client)
        {
            t.status = RefreshStatus::Revoked;
        }
    }
    json_response(StatusCode::OK, &json!({}))
}
