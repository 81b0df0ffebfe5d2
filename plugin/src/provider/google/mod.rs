//! The Google Health API v4 with Google OAuth 2.0 (authorization code with
//! PKCE and offline access, client credentials in the form body,
//! non-rotating refresh tokens, 1-hour access tokens).
//!
//! The legacy methods keep their names, arguments and output shapes; each
//! is answered from Google Health data types (see `docs/google-health.md`
//! for the mapping and what Google does not have).
//!
//! `scopes` says which scopes each method needs (and so what the consent URL
//! of the `Provider` impl below asks for), `oauth` builds the token
//! requests, `transport` sends API requests (gets, lists,
//! roll-ups, paging), `retry` retries Google's transient refusals, `errors`
//! turns its refusals into answers, `shape` checks every answer's shape, and
//! `convert` turns Google data into the legacy shapes. The methods:
//! `sync` (weight and body-fat logs, synced incrementally), `series`
//! (`time_series`), `heart`, `daily` (`body`, `activities`), `intraday`,
//! `account` (`user_profile_get`, `get_devices`) and `methods` (planning,
//! dispatch, `sleep`).

mod account;
pub mod convert;
mod daily;
mod errors;
mod exercise;
mod heart;
mod intraday;
mod methods;
mod metrics;
mod nutrition;
mod oauth;
pub mod retry;
pub mod scopes;
mod series;
mod settings;
pub mod shape;
mod sync;
mod transport;
pub mod unavailable;

use std::cell::RefCell;

use serde_json::{Map, Value};

use super::{ApiError, AppSettings, Call, Consent, Provider, RunState, TokenError, endpoint};
use crate::dates::Date;
use crate::errors::{PluginError, Result};
use crate::json::field;
use crate::pacing::{Limits, Pacer};
use crate::paths::Paths;
use crate::redirect::Redirect;
use convert::{Zone, period_start};
use igor_plugin_sdk::Request;
use igor_plugin_sdk::{FetchRequest, FetchResponse, Host};
use retry::Backoff;
use scopes::consent_scopes;
use transport::Ctx;

pub use errors::{Status, rpc_status};
pub use scopes::{
    ALL_SCOPES, SCOPE_ACTIVITY, SCOPE_METRICS, SCOPE_NUTRITION, SCOPE_PROFILE, SCOPE_SETTINGS,
    SCOPE_SLEEP, parse_scope_names, scope_description, scope_short_name, scopes_for,
};
pub use series::RESOURCES;
pub use transport::rollup_limit_days;

/// Page size of sample lists (the API's maximum).
pub const LIST_PAGE_SIZE: u32 = 10_000;
/// Page size of sleep lists (the API's maximum for sleep).
pub const SLEEP_PAGE_SIZE: u32 = 25;
/// Pages followed per list before giving up (a guard against loops).
pub const MAX_PAGES: usize = 50;
/// Longest window any method reads; also what `period=max` means.
pub const MAX_DAYS: i32 = 1095;

pub struct GoogleHealth {
    api_url: String,
    authorize_url: String,
    token_url: String,
    revoke_url: String,
    plugin_url: String,
    /// The host's offset east of UTC: the user's zone when Google gives none.
    host_offset: i32,
    /// The user's time zone and today: the host's until the user's settings
    /// are read at the start of a call.
    local: RefCell<Local>,
    /// Keeps requests within Google's per-user and per-app quotas.
    pacer: Pacer,
    /// How long this request may wait to retry Google's transient refusals.
    backoff: Backoff,
}

/// The user's time zone, and their date today.
#[derive(Debug, Clone, PartialEq)]
pub struct Local {
    pub zone: Zone,
    pub today: Date,
}

/// The window of local days a call reads, and whether it ends today
/// without explicit dates (then it may be synced incrementally).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Date,
    pub end: Date,
    pub rolling: bool,
}

impl GoogleHealth {
    pub fn from_config(request: &Request, plugin_url: String) -> Self {
        Self {
            api_url: endpoint(request, "google_api_url"),
            authorize_url: endpoint(request, "google_authorize_url"),
            token_url: endpoint(request, "google_token_url"),
            revoke_url: endpoint(request, "google_revoke_url"),
            plugin_url,
            host_offset: request.context.utc_offset_seconds,
            local: RefCell::new(Local {
                zone: Zone::fixed(request.context.utc_offset_seconds),
                today: Date::from_epoch(0.0, 0),
            }),
            pacer: Pacer::new(
                Paths::new(&request.context.plugin_name).pacing(),
                "Google Health",
                Limits::from_config(request),
            ),
            backoff: Backoff::from_config(request),
        }
    }

    /// Sets "today" (the host's local date) until the user's is known.
    pub fn with_today(self, today: Date) -> Self {
        self.local.borrow_mut().today = today;
        self
    }

    /// The user's zone and today (the host's before they are read).
    pub(super) fn local(&self) -> Local {
        self.local.borrow().clone()
    }

    fn today(&self) -> Date {
        self.local.borrow().today
    }

    fn date_arg(&self, call: &Call, key: &str) -> Option<Date> {
        let today = self.today();
        call.args.get(key).map(|v| match v.as_str() {
            "today" => today,
            other => Date::parse(other).unwrap_or(today),
        })
    }

    /// The local days a call covers, as the legacy API read its arguments:
    /// `base_date` + `period` ends on `base_date`; `base_date` + `end_date`
    /// runs from one to the other; `date` is one day; default today.
    pub fn window(&self, call: &Call) -> Result<Window> {
        let arg = |k: &str| call.args.get(k).map(String::as_str);
        if matches!(
            call.method.as_str(),
            "sleep"
                | "get_sleep"
                | "heart"
                | "body"
                | "activities"
                | "foods_log"
                | "foods_log_water"
                | "glucose"
        ) {
            let day = self.date_arg(call, "date").unwrap_or(self.today());
            return Ok(Window {
                start: day,
                end: day,
                rolling: false,
            });
        }
        let base = self.date_arg(call, "base_date").unwrap_or(self.today());
        let (start, end) = match (arg("period"), self.date_arg(call, "end_date")) {
            (Some(period), _) => (period_start(base, period, MAX_DAYS), base),
            (_, Some(end)) => (base, end),
            _ => (base, base),
        };
        if end < start {
            return Err(PluginError::bad_request(format!(
                "Fitbitplugin method {}: end_date {end} is before base_date {start}",
                call.method
            )));
        }
        if end.to_days() - start.to_days() + 1 > MAX_DAYS {
            return Err(PluginError::bad_request(format!(
                "Fitbitplugin method {}: Google Health reads at most {MAX_DAYS} days at a time \
                 ({start} to {end} is longer)",
                call.method
            )));
        }
        Ok(Window {
            start,
            end,
            rolling: end == self.today() && !call.args.contains_key("end_date"),
        })
    }

    /// [`Self::window`] of a call being run.
    fn call_window(&self, call: &Call) -> std::result::Result<Window, ApiError> {
        self.window(call).map_err(ApiError::Failed)
    }

    /// The one day a call of a single day reads (`date`, default today).
    fn day_of(&self, call: &Call) -> std::result::Result<Date, ApiError> {
        Ok(self.call_window(call)?.start)
    }

    fn upstream(message: String) -> ApiError {
        ApiError::Failed(PluginError::upstream(message))
    }
}

/// Whether the user's consent, as recorded with the token, includes `scope`.
pub fn granted(state: &RunState, scope: &str) -> bool {
    field(&state.token, "scope").is_some_and(|s| s.split_whitespace().any(|s| s == scope))
}

/// The answer key that says what calls left out for want of consent:
/// `{"partialConsent": {"<call>": "<what, and the link that allows it>"}}`.
pub const PARTIAL_CONSENT: &str = "partialConsent";

impl GoogleHealth {
    /// Notes in `answer` (and the log) that `call` left out `what` because
    /// the consent lacks `scope`, with the link that asks for it too.
    fn left_out(
        &self,
        cx: &Ctx,
        answer: &mut Map<String, Value>,
        call: &str,
        what: &str,
        scope: &str,
    ) {
        let name = scope_short_name(scope);
        let user = cx.user;
        let note = format!(
            "{what} left out: {user} has not allowed {} (Google Health scope {name}); allow it \
             at {}/auth1?user={user}&scope={name}",
            scope_description(scope),
            self.plugin_url
        );
        cx.host
            .log(igor_plugin_sdk::Level::Warn, &format!("{call}: {note}"));
        let notes = answer
            .entry(PARTIAL_CONSENT)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(notes) = notes.as_object_mut() {
            let text = match notes.get(call).and_then(Value::as_str) {
                Some(earlier) => format!("{earlier}; {note}"),
                None => note,
            };
            notes.insert(call.into(), Value::from(text));
        }
    }
}

impl Provider for GoogleHealth {
    fn id(&self) -> &'static str {
        "google-health"
    }

    fn name(&self) -> &'static str {
        "Google Health"
    }

    fn authorize_url(
        &self,
        app: &AppSettings,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
        consent: &Consent,
    ) -> String {
        let scopes = consent_scopes(consent, app.system.is_none());
        let mut url = url::Url::parse(&self.authorize_url).unwrap_or_else(|_| {
            url::Url::parse("https://accounts.google.com/o/oauth2/v2/auth").unwrap()
        });
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", app.client_id.as_deref().unwrap_or_default())
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", state)
            .append_pair("access_type", "offline")
            .append_pair("prompt", "consent")
            .append_pair("include_granted_scopes", "true")
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        url.to_string()
    }

    /// Google refuses redirect URIs a home network offers (plain http off
    /// localhost, LAN names and addresses): those use the loopback redirect.
    fn redirect(&self, plugin_url: &str) -> Redirect {
        Redirect::for_google(plugin_url)
    }

    fn missing_scopes(&self, calls: &[Call], granted: &str) -> Vec<&'static str> {
        scopes::missing_scopes(calls, granted)
    }

    /// Client id in the form; the host appends `client_secret` to it.
    fn token_request(&self, app: &AppSettings, fields: &[(&str, &str)]) -> FetchRequest {
        self.token_form(app, fields)
    }

    fn revoke_request(
        &self,
        _app: &AppSettings,
        token: &Map<String, Value>,
    ) -> Option<FetchRequest> {
        self.revoke_form(token)
    }

    fn token_error(&self, response: &FetchResponse) -> TokenError {
        oauth::token_error(response)
    }

    fn invalid_grant_note(&self) -> &'static str {
        oauth::INVALID_GRANT_NOTE
    }

    fn after_authorisation(&self, host: &dyn Host, token: &mut Map<String, Value>) -> Result<()> {
        self.read_identity(host, token);
        Ok(())
    }

    fn plan(
        &self,
        methods: &[String],
        args: &Map<String, Value>,
        _today: Date,
    ) -> Result<Vec<Call>> {
        self.plan_calls(methods, args)
    }

    fn execute(
        &self,
        host: &dyn Host,
        app: &AppSettings,
        call: &Call,
        access_token: &str,
        user: &str,
        state: &mut RunState,
    ) -> std::result::Result<Map<String, Value>, ApiError> {
        let cx = Ctx {
            host,
            token: access_token,
            user,
            method: &call.method,
            system: app.system.as_deref(),
        };
        self.run_call(&cx, call, state)
    }
}
