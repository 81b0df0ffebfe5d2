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
//! * Food, water, glucose and blood pressure logs, the health metrics and
//!   the catalogue, social and goal endpoints answer in the documented
//!   shapes; the scopes are `nutrition` (foods, water, food database,
//!   meals, food and water goals), `blood_glucose` (glucose), `weight`
//!   (blood pressure, body goals), `activity` (activity lists, catalogue
//!   and goals), `oxygen_saturation` (spo2), `heartrate` (hrv),
//!   `respiratory_rate` (br), `temperature` (temp/skin), `cardio_fitness`
//!   (cardioscore), `settings` (alarms), `profile` (badges), `social`
//!   (friends, leaderboard); subscriptions need a token only. The health
//!   metrics are read by date or by a range of at most 30 days (no
//!   periods); a range of SpO2 is a bare list, as documented. Catalogue
//!   entries (activity types, foods, units) are a small fixed set.
//! * Calls that fail authentication (401) do not count against the quota;
//!   `fitbit-rate-limit-*` headers then report the full quota.

mod control;
mod data;
mod model;
mod oauth;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Timelike, Utc};
use serde_json::{Value, json};

pub use crate::consent::{consent, consent_with};
pub use control::FakeFitbit;
pub use model::{DayLog, FatLog, FoodLog, SleepLog, WeightLog};

use crate::faults::Faults;
use crate::util::{self, Clock, Handler, RecordedRequest, Records, Shared, json_response, lock};
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

impl Records for State {
    fn recorded(&mut self) -> &mut Vec<RecordedRequest> {
        &mut self.requests
    }
}

impl Handler for Shared<State> {
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
