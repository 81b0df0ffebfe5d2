//! Fake of the legacy Fitbit Web API (`api.fitbit.com`) and Fitbit OAuth 2.0
//! (`www.fitbit.com/oauth2/authorize`, `api.fitbit.com/oauth2/token|revoke`),
//! both served from one loopback origin.
//!
//! Documented behaviour reproduced (reference Part A): `errors[]` bodies;
//! 8-hour access tokens; single-use refresh tokens with an identical-request
//! grace; `invalid_grant` for used refresh tokens; Basic client auth on the
//! token endpoint; PKCE; string values in time series; `Accept-Language`
//! units; `fitbit-rate-limit-*` headers on every response, 150/h per user per
//! app resetting at the top of the hour, 429 `system` with `Retry-After`;
//! optional shutdown mode answering 410 Gone on every path.
//!
//! *Fake decisions* (not specified publicly):
//! * Body time series (`body/weight|fat|bmi`) have one entry per day; a day
//!   without a log carries forward the latest value logged on or before it
//!   (including logs before the range); days before the first log are `"0"`.
//!   Several logs on one day: the latest one (by time) wins.
//! * Activity time series: days without data are `"0"`.
//! * The grace interval for identical refresh requests defaults to 5 s.
//! * The 410 body (Google has not published one) is
//!   `{"errors":[{"errorType":"gone","message":"The legacy Fitbit Web API has been turned off. ..."}],"success":false}`.
//! * Validation messages for bad periods / ranges / dates are synthesized
//!   (`errorType` `validation`, with `fieldName`).
//! * Only the exact values `en_US` and `en_GB` select US / UK units; anything
//!   else (including `en-US`, `en_UK`, absent) is metric.
//!   1 lb = 1/2.20462262 kg, 1 st = 6.35029318 kg, 1 mi = 1.609344 km,
//!   1 ft = 0.3048 m, 1 in = 2.54 cm; results rounded to 2 decimals.
//! * The consent page grants every requested scope except those withheld with
//!   [`FakeFitbit::set_withheld_scopes`].
//! * Issuing a refresh token through a code exchange invalidates the user's
//!   previous refresh token for that app ("one active refresh token per user").
//! * The legacy heart-log endpoint (`/1/user/-/heart/date/D`) lists the
//!   "Resting Heart Rate" tracker in `average` (0 without a measurement) and
//!   no logged entries; the profile has default strides of 71.6 cm (walking)
//!   and 112 cm (running), converted like heights.
//! * Calls that fail authentication (401) do not count against the quota;
//!   `fitbit-rate-limit-*` headers then report the full quota.

mod data;
mod model;
mod oauth;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Timelike, Utc};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

pub use crate::consent::{consent, consent_with};
pub use model::{FatLog, SleepLog, WeightLog};

use crate::faults::Faults;
use crate::util::{self, Clock, Handler, RecordedRequest, json_response, lock};
use model::UserData;

/// The user the consent page authorises by default.
pub const DEFAULT_USER_ID: &str = "GGNJL9";
/// Default grace interval for identical refresh-token requests (fake decision).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
/// Fitbit's access-token lifetime (8 h).
pub const DEFAULT_ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(28800);
/// Fitbit's quota: 150 requests per hour per user per app.
pub const DEFAULT_RATE_LIMIT: u32 = 150;

/// Every Fitbit scope name.
pub const ALL_SCOPES: &[&str] = &[
    "activity",
    "blood_glucose",
    "cardio_fitness",
    "electrocardiogram",
    "heartrate",
    "irregular_rhythm_notifications",
    "location",
    "nutrition",
    "oxygen_saturation",
    "profile",
    "respiratory_rate",
    "settings",
    "sleep",
    "social",
    "temperature",
    "weight",
];

/// An access + refresh token pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
}

#[derive(Clone, Debug)]
pub(crate) struct Client {
    pub secret: String,
    pub redirect_uris: Vec<String>,
    pub name: String,
    pub intraday: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct AccessTok {
    pub user: String,
    pub client: String,
    pub scopes: Vec<String>,
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
    pub used: bool,
}

#[derive(Clone, Debug)]
pub(crate) enum RefreshStatus {
    Active,
    Used {
        at: DateTime<Utc>,
        response: Value,
        new_access: String,
        new_refresh: String,
    },
    Revoked,
}

#[derive(Clone, Debug)]
pub(crate) struct RefreshTok {
    pub user: String,
    pub client: String,
    pub scopes: Vec<String>,
    pub status: RefreshStatus,
}

#[derive(Clone, Debug)]
pub(crate) struct AuthCode {
    pub client: String,
    pub redirect_uri: Option<String>,
    pub user: String,
    pub scopes: Vec<String>,
    pub challenge: Option<(String, String)>,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct PendingAuth {
    pub client: String,
    pub redirect_uri: String,
    pub redirect_uri_sent: bool,
    pub state: Option<String>,
    pub scopes: Vec<String>,
    pub challenge: Option<(String, String)>,
}

pub(crate) struct State {
    pub clock: Clock,
    pub clients: HashMap<String, Client>,
    pub users: BTreeMap<String, UserData>,
    pub consent_user: String,
    pub withheld_scopes: Vec<String>,
    pub pending: HashMap<String, PendingAuth>,
    pub codes: HashMap<String, AuthCode>,
    pub access: HashMap<String, AccessTok>,
    pub refresh: HashMap<String, RefreshTok>,
    pub access_lifetime: Duration,
    pub grace: Duration,
    pub shut_down: bool,
    pub quota: u32,
    /// (user, client) → (hour window, calls made in it).
    pub usage: HashMap<(String, String), (i64, u32)>,
    pub requests: Vec<RecordedRequest>,
    pub token_requests: usize,
}

impl State {
    fn new() -> Self {
        let mut users = BTreeMap::new();
        users.insert(DEFAULT_USER_ID.to_string(), UserData::default());
        State {
            clock: Clock::default(),
            clients: HashMap::new(),
            users,
            consent_user: DEFAULT_USER_ID.into(),
            withheld_scopes: Vec::new(),
            pending: HashMap::new(),
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            access_lifetime: DEFAULT_ACCESS_TOKEN_LIFETIME,
            grace: DEFAULT_GRACE,
            shut_down: false,
            quota: DEFAULT_RATE_LIMIT,
            usage: HashMap::new(),
            requests: Vec::new(),
            token_requests: 0,
        }
    }

    pub fn user_mut(&mut self, user: &str) -> &mut UserData {
        self.users.entry(user.to_string()).or_default()
    }

    /// Mint a new access + refresh pair and its token-endpoint response body.
    pub fn issue(&mut self, client: &str, user: &str, scopes: &[String]) -> (TokenPair, Value) {
        let now = self.clock.now();
        let access = util::random_token("fa_", 48);
        let refresh = util::random_token("fr_", 48);
        self.access.insert(
            access.clone(),
            AccessTok {
                user: user.into(),
                client: client.into(),
                scopes: scopes.to_vec(),
                expires_at: now + util::chrono_dur(self.access_lifetime),
                revoked: false,
                used: false,
            },
        );
        self.refresh.insert(
            refresh.clone(),
            RefreshTok {
                user: user.into(),
                client: client.into(),
                scopes: scopes.to_vec(),
                status: RefreshStatus::Active,
            },
        );
        let body = json!({
            "access_token": access,
            "expires_in": self.access_lifetime.as_secs(),
            "refresh_token": refresh,
            "scope": scopes.join(" "),
            "token_type": "Bearer",
            "user_id": user,
        });
        (
            TokenPair {
                access_token: access,
                refresh_token: refresh,
            },
            body,
        )
    }

    /// (limit, remaining, seconds until reset) for a user/app pair.
    pub fn rate_status(&self, key: Option<&(String, String)>) -> (u32, u32, i64) {
        let now = self.clock.now();
        let window = now.timestamp().div_euclid(3600);
        let reset = 3600 - i64::from(now.minute() * 60 + now.second());
        let used = key
            .and_then(|k| self.usage.get(k))
            .filter(|(w, _)| *w == window)
            .map_or(0, |(_, n)| *n);
        (self.quota, self.quota.saturating_sub(used), reset)
    }

    pub fn count_call(&mut self, key: &(String, String)) {
        let window = self.clock.now().timestamp().div_euclid(3600);
        let e = self.usage.entry(key.clone()).or_insert((window, 0));
        if e.0 != window {
            *e = (window, 0);
        }
        e.1 += 1;
    }
}

pub(crate) struct Inner {
    pub state: Mutex<State>,
}

impl Handler for Inner {
    fn handle(&self, req: RecordedRequest) -> Response {
        let mut st = lock(&self.state);
        st.requests.push(req.clone());
        if st.shut_down {
            return json_response(
                StatusCode::GONE,
                &json!({"errors":[{"errorType":"gone","message":"The legacy Fitbit Web API has been turned off. Visit https://developers.google.com/health/migration to migrate to the Google Health API."}],"success":false}),
            );
        }
        let (mut resp, rate_key) = if req.path.starts_with("/oauth2/") {
            (oauth::handle(&mut st, &req), None)
        } else {
            data::handle(&mut st, &req)
        };
        let (limit, remaining, reset) = st.rate_status(rate_key.as_ref());
        let h = resp.headers_mut();
        h.insert("fitbit-rate-limit-limit", HeaderValue::from(limit));
        h.insert("fitbit-rate-limit-remaining", HeaderValue::from(remaining));
        h.insert("fitbit-rate-limit-reset", HeaderValue::from(reset));
        resp
    }

    fn error(&self, status: u16, message: &str) -> Response {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let error_type = if status == StatusCode::TOO_MANY_REQUESTS {
            "system"
        } else {
            "request"
        };
        fitbit_error(status, error_type, message)
    }
}

pub(crate) fn fitbit_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"errors":[{"errorType": error_type, "message": message}],"success":false}),
    )
}

pub(crate) fn fitbit_field_error(
    status: StatusCode,
    error_type: &str,
    field: &str,
    message: &str,
) -> Response {
    json_response(
        status,
        &json!({"errors":[{"errorType": error_type, "fieldName": field, "message": message}],"success":false}),
    )
}

pub(crate) const VISIT: &str = "Visit https://dev.fitbit.com/docs/oauth2 for more information on the Fitbit Web API authorization process.";

/// A running fake Fitbit. Dropping it stops the server.
pub struct FakeFitbit {
    addr: SocketAddr,
    inner: Arc<Inner>,
    faults: Arc<Faults>,
    task: JoinHandle<()>,
}

impl Drop for FakeFitbit {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeFitbit {
    /// Bind 127.0.0.1:0 and serve on a tokio task.
    pub async fn start() -> FakeFitbit {
        let inner = Arc::new(Inner {
            state: Mutex::new(State::new()),
        });
        let faults = Arc::new(Faults::default());
        let (addr, task) = util::spawn(inner.clone(), faults.clone()).await;
        FakeFitbit {
            addr,
            inner,
            faults,
            task,
        }
    }

    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.inner.state)
    }

    /// The failures to inject (see [`Faults::inject`]).
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// `http://127.0.0.1:PORT` — the base for API, token and revoke URLs.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// `{url}/oauth2/authorize`.
    pub fn authorize_url(&self) -> String {
        format!("{}/oauth2/authorize", self.url())
    }
    /// `{url}/oauth2/token`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.url())
    }
    /// `{url}/oauth2/revoke`.
    pub fn revoke_url(&self) -> String {
        format!("{}/oauth2/revoke", self.url())
    }

    // ----- clients, users, consent -----

    /// Register an app ("server" type: authenticates with HTTP Basic).
    pub fn register_client(&self, client_id: &str, client_secret: &str, redirect_uris: &[&str]) {
        self.st().clients.insert(
            client_id.into(),
            Client {
                secret: client_secret.into(),
                redirect_uris: redirect_uris.iter().map(|s| s.to_string()).collect(),
                name: "Igor Fitbit".into(),
                intraday: true,
            },
        );
    }
    /// The app name shown on the consent page.
    pub fn set_client_name(&self, client_id: &str, name: &str) {
        if let Some(c) = self.st().clients.get_mut(client_id) {
            c.name = name.into();
        }
    }
    /// Whether the app may use intraday endpoints (Personal apps may; default
    /// true). When false those answer 403 `insufficient_permissions`.
    pub fn set_intraday_allowed(&self, client_id: &str, allowed: bool) {
        if let Some(c) = self.st().clients.get_mut(client_id) {
            c.intraday = allowed;
        }
    }
    /// The Fitbit user the consent page logs in as (default [`DEFAULT_USER_ID`]).
    pub fn consent_as(&self, user_id: &str) {
        let mut st = self.st();
        st.consent_user = user_id.into();
        st.user_mut(user_id);
    }
    /// Scopes the "user" unticks on the consent page.
    pub fn set_withheld_scopes(&self, scopes: &[&str]) {
        self.st().withheld_scopes = scopes.iter().map(|s| s.to_string()).collect();
    }
    /// Mint tokens directly, bypassing the consent flow. `scopes` is
    /// space-separated.
    pub fn issue_tokens(&self, client_id: &str, user_id: &str, scopes: &str) -> TokenPair {
        let scopes: Vec<String> = scopes.split_whitespace().map(String::from).collect();
        let mut st = self.st();
        st.user_mut(user_id);
        st.issue(client_id, user_id, &scopes).0
    }

    // ----- data -----

    pub fn add_weight(&self, user_id: &str, log: WeightLog) {
        self.st().user_mut(user_id).weights.push(log);
    }
    pub fn add_fat(&self, user_id: &str, log: FatLog) {
        self.st().user_mut(user_id).fats.push(log);
    }
    pub fn add_sleep(&self, user_id: &str, log: SleepLog) {
        self.st().user_mut(user_id).sleeps.push(log);
    }
    /// Daily total of an activity resource (`steps`, `distance` in km,
    /// `floors`, `elevation` in m, `calories`, `minutesSedentary`, ...).
    pub fn set_activity(&self, user_id: &str, resource: &str, date: &str, value: f64) {
        let d = parse_date(date);
        self.st()
            .user_mut(user_id)
            .activities
            .insert((resource.into(), d), value);
    }
    pub fn set_resting_heart_rate(&self, user_id: &str, date: &str, bpm: u32) {
        let d = parse_date(date);
        self.st().user_mut(user_id).resting_hr.insert(d, bpm);
    }
    /// Intraday samples of `resource` (`steps`, `heart`, ...) as
    /// `("HH:MM:SS", value)`; aggregated (sum, heart: mean) per detail level.
    pub fn set_intraday(&self, user_id: &str, resource: &str, date: &str, samples: &[(&str, f64)]) {
        let d = parse_date(date);
        let samples = samples
            .iter()
            .map(|(t, v)| {
                let t = chrono::NaiveTime::parse_from_str(t, "%H:%M:%S").expect("time as HH:MM:SS");
                (t.num_seconds_from_midnight(), *v)
            })
            .collect();
        self.st()
            .user_mut(user_id)
            .intraday
            .insert((resource.into(), d), samples);
    }
    /// Merge fields into the profile's `user` object (e.g. `height` in cm,
    /// `offsetFromUTCMillis`, `timezone`, `displayName`).
    pub fn set_profile(&self, user_id: &str, fields: Value) {
        let mut st = self.st();
        let u = st.user_mut(user_id);
        if let Value::Object(m) = fields {
            u.profile_overrides.extend(m);
        }
    }
    /// Replace the `devices.json` array.
    pub fn set_devices(&self, user_id: &str, devices: Value) {
        self.st().user_mut(user_id).devices = Some(devices);
    }

    // ----- time, tokens, modes -----

    pub fn set_access_token_lifetime(&self, lifetime: Duration) {
        self.st().access_lifetime = lifetime;
    }
    /// Server-side expiry: every access token issued so far answers 401
    /// `expired_token` from now on.
    pub fn expire_all_access_tokens(&self) {
        let mut st = self.st();
        let past = st.clock.now() - chrono::Duration::seconds(1);
        for t in st.access.values_mut() {
            t.expires_at = past;
        }
    }
    /// Move the fake's clock forward (token/code expiry, grace, rate windows).
    pub fn advance_clock(&self, by: Duration) {
        self.st().clock.advance(by);
    }
    /// The date `today` resolves to for this user (their UTC offset applied).
    pub fn today(&self, user_id: &str) -> String {
        let mut st = self.st();
        let now = st.clock.now();
        let off = st.user_mut(user_id).utc_offset_ms();
        (now + chrono::Duration::milliseconds(off))
            .date_naive()
            .to_string()
    }
    pub fn set_grace(&self, grace: Duration) {
        self.st().grace = grace;
    }
    /// 410 Gone on every path, `/oauth2/*` included.
    pub fn set_shut_down(&self, shut_down: bool) {
        self.st().shut_down = shut_down;
    }
    /// Hourly quota per user per app (default 150).
    pub fn set_rate_limit_quota(&self, quota: u32) {
        self.st().quota = quota;
    }
    /// Set the remaining calls of the current hour for `user_id` with every
    /// registered app.
    pub fn set_rate_limit_remaining(&self, user_id: &str, remaining: u32) {
        let mut st = self.st();
        let window = st.clock.now().timestamp().div_euclid(3600);
        let used = st.quota.saturating_sub(remaining);
        let clients: Vec<String> = st.clients.keys().cloned().collect();
        for c in clients {
            st.usage.insert((user_id.into(), c), (window, used));
        }
    }

    // ----- inspection -----

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.st().requests.clone()
    }
    pub fn clear_requests(&self) {
        self.st().requests.clear();
    }
    /// Number of requests whose path starts with `path_prefix`.
    pub fn calls(&self, path_prefix: &str) -> usize {
        self.st()
            .requests
            .iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .count()
    }
    /// Number of `POST /oauth2/token` requests.
    pub fn token_requests(&self) -> usize {
        self.st().token_requests
    }
    /// The user's currently active refresh token (any app).
    pub fn refresh_token_of(&self, user_id: &str) -> Option<String> {
        self.st()
            .refresh
            .iter()
            .find(|(_, t)| t.user == user_id && matches!(t.status, RefreshStatus::Active))
            .map(|(k, _)| k.clone())
    }
    /// Refresh tokens that have been exchanged already.
    pub fn used_refresh_tokens(&self) -> Vec<String> {
        self.st()
            .refresh
            .iter()
            .filter(|(_, t)| matches!(t.status, RefreshStatus::Used { .. }))
            .map(|(k, _)| k.clone())
            .collect()
    }
    /// Access tokens of the user that are neither expired nor revoked.
    pub fn valid_access_tokens(&self, user_id: &str) -> Vec<String> {
        let st = self.st();
        let now = st.clock.now();
        st.access
            .iter()
            .filter(|(_, t)| t.user == user_id && !t.revoked && t.expires_at > now)
            .map(|(k, _)| k.clone())
            .collect()
    }
    /// Whether every token of the user for the app has been revoked.
    pub fn is_revoked(&self, user_id: &str, client_id: &str) -> bool {
        let st = self.st();
        let mut any = false;
        for t in st
            .refresh
            .values()
            .filter(|t| t.user == user_id && t.client == client_id)
        {
            any = true;
            if !matches!(t.status, RefreshStatus::Revoked) {
                return false;
            }
        }
        any
    }
}

pub(crate) fn parse_date(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date as yyyy-MM-dd")
}
