//! Google Health API v4 endpoints: authentication, quota, routing and
//! `google.rpc.Status` errors. The endpoints themselves: `lists` (list,
//! reconcile), `rollups` (rollUp, dailyRollUp), `account` (identity,
//! profile, settings, paired devices).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::types::type_info;
use super::{InjectedError, State, account, lists, rollups};
use crate::util::{RecordedRequest, html_response, json_response};

pub(crate) type Reply = Result<Value, Response>;

pub(crate) fn status_error(code: u16, status: &str, message: &str, details: Value) -> Response {
    let http = StatusCode::from_u16(code).expect("valid status");
    json_response(
        http,
        &json!({"error": {"code": code, "message": message, "status": status, "details": details}}),
    )
}

pub(crate) fn info(reason: &str) -> Value {
    json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com"}])
}

pub(crate) fn invalid_argument(message: &str) -> Response {
    status_error(
        400,
        "INVALID_ARGUMENT",
        message,
        json!([{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"description": message}]}]),
    )
}

const CRED_HELP: &str = "Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

pub(crate) fn unauthenticated(message: &str, reason: &str, invalid_token: bool) -> Response {
    let mut r = status_error(
        401,
        "UNAUTHENTICATED",
        &format!("{message} {CRED_HELP}"),
        info(reason),
    );
    let v = if invalid_token {
        "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\""
    } else {
        "Bearer realm=\"https://accounts.google.com/\""
    };
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(v));
    r
}

pub(crate) fn scope_insufficient() -> Response {
    status_error(
        403,
        "PERMISSION_DENIED",
        "Request had insufficient authentication scopes.",
        info("ACCESS_TOKEN_SCOPE_INSUFFICIENT"),
    )
}

fn rate_limited() -> Response {
    status_error(
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'health.googleapis.com' for consumer 'project_number:123456789'.",
        json!([
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com"},
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"subject": "project:123456789", "description": "Quota exceeded"}]}
        ]),
    )
}

fn injected(e: InjectedError) -> Response {
    match e {
        InjectedError::RateLimited => rate_limited(),
        InjectedError::ScopeInsufficient => scope_insufficient(),
        InjectedError::AccountNotLinked => status_error(
            400,
            "FAILED_PRECONDITION",
            "The account is not linked to Google Health.",
            info("ACCOUNT_NOT_LINKED"),
        ),
        InjectedError::ResourcePermissionDenied => status_error(
            403,
            "PERMISSION_DENIED",
            "The caller does not have permission",
            info("RESOURCE_PERMISSION_DENIED"),
        ),
        InjectedError::Unavailable => status_error(
            503,
            "UNAVAILABLE",
            "The service is currently unavailable.",
            json!([]),
        ),
        InjectedError::DeadlineExceeded => status_error(
            504,
            "DEADLINE_EXCEEDED",
            "The request deadline was exceeded.",
            json!([]),
        ),
        InjectedError::LegacyFitbitAccount => legacy_account(),
    }
}

/// The documented refusal of a legacy Fitbit account's consent.
fn legacy_account() -> Response {
    json_response(
        StatusCode::FORBIDDEN,
        &json!({"error": {"code": 403, "message": "Could not mint UberMint from GaiaMint",
                          "status": "PERMISSION_DENIED"}}),
    )
}

pub(crate) fn not_found_page(path: &str) -> Response {
    html_response(
        StatusCode::NOT_FOUND,
        format!(
            "<!DOCTYPE html>\n<html lang=en><title>Error 404 (Not Found)!!1</title><p><b>404.</b> <ins>That’s an error.</ins><p>The requested URL <code>{}</code> was not found on this server.  <ins>That’s all we know.</ins>\n",
            crate::util::html_escape(path)
        ),
    )
}

pub(crate) struct Authed {
    pub user: String,
    pub scopes: Vec<String>,
}

impl Authed {
    pub(crate) fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

pub(super) fn handle(st: &mut State, req: &RecordedRequest) -> Response {
    let segs: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let known = matches!(segs.as_slice(), ["v4", "users", _, ..]);
    if !known {
        return not_found_page(&req.path);
    }
    let a = match authenticate(st, req) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let reply = route(st, req, &a, &segs[2..]);
    match reply {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(r) => r,
    }
}

fn authenticate(st: &mut State, req: &RecordedRequest) -> Result<Authed, Response> {
    let Some(token) = req.bearer() else {
        return Err(unauthenticated(
            "Request is missing required authentication credential.",
            "CREDENTIALS_MISSING",
            false,
        ));
    };
    let now = st.clock.now();
    let tok = match st.access.get(token) {
        Some(t) if !t.revoked && t.expires_at > now => t.clone(),
        Some(t) if !t.revoked => {
            return Err(unauthenticated(
                "Request had invalid authentication credentials.",
                "ACCESS_TOKEN_EXPIRED",
                true,
            ));
        }
        // A cloud-platform token lacks the Health API's scopes.
        None if st.webhooks.hooks().cloud_tokens.contains_key(token) => {
            return Err(scope_insufficient());
        }
        _ => {
            return Err(unauthenticated(
                "Request had invalid authentication credentials.",
                "ACCESS_TOKEN_TYPE_UNSUPPORTED",
                true,
            ));
        }
    };
    if let Some(e) = st.injected.pop_front() {
        return Err(injected(e));
    }
    if st.user_mut(&tok.user).legacy_account {
        return Err(legacy_account());
    }
    if !st.user_mut(&tok.user).linked {
        return Err(injected(InjectedError::AccountNotLinked));
    }
    let minute = now.timestamp().div_euclid(60);
    let quota = st.quota_per_minute;
    let e = st.usage.entry(tok.user.clone()).or_insert((minute, 0));
    if e.0 != minute {
        *e = (minute, 0);
    }
    if e.1 >= quota {
        st.quota_refusals += 1;
        return Err(rate_limited());
    }
    e.1 += 1;
    Ok(Authed {
        user: tok.user,
        scopes: tok.scopes,
    })
}

fn route(st: &mut State, req: &RecordedRequest, a: &Authed, segs: &[&str]) -> Reply {
    let (who, rest) = segs.split_first().expect("users/{u}");
    if *who != "me" && *who != a.user {
        return Err(status_error(
            403,
            "PERMISSION_DENIED",
            "The caller does not have permission",
            json!([]),
        ));
    }
    match (req.method.as_str(), rest) {
        ("GET", ["identity"]) => account::identity(st, a),
        ("GET", ["settings"]) => account::settings(st, a),
        ("GET", ["profile"]) => account::profile(st, a),
        ("GET", ["pairedDevices"]) => account::paired_devices(st, req, a),
        ("GET", ["pairedDevices", id]) => account::paired_device(st, a, id),
        (method, ["dataTypes", dt, last]) => {
            let (coll, verb) = last
                .split_once(':')
                .map_or((*last, None), |(c, v)| (c, Some(v)));
            if coll != "dataPoints" {
                return Err(not_found_page(&req.path));
            }
            let Some(info) = type_info(dt) else {
                return Err(invalid_argument(&format!("Unsupported data type: {dt}")));
            };
            if !a.has(info.scope) {
                return Err(scope_insufficient());
            }
            let (supported, operation) = match (method, verb) {
                ("GET", None) => (info.list, "list"),
                ("GET", Some("reconcile")) => (info.reconcile, "reconcile"),
                ("POST", Some("dailyRollUp")) => (info.rollup.is_some(), "dailyRollUp"),
                ("POST", Some("rollUp")) => (info.rollup.is_some(), "rollUp"),
                _ => return Err(not_found_page(&req.path)),
            };
            if !supported {
                return Err(invalid_argument(&format!(
                    "The {operation} operation is not supported for data type {dt}."
                )));
            }
            match operation {
                "list" | "reconcile" => lists::list(st, req, &a.user, info, operation),
                "dailyRollUp" => rollups::daily_rollup(st, req, &a.user, info),
                _ => rollups::rollup(st, req, &a.user, info),
            }
        }
        _ => Err(not_found_page(&req.path)),
    }
}
