//! Fake of Google OAuth 2.0 (`accounts.google.com/o/oauth2/v2/auth`,
//! `oauth2.googleapis.com/token|revoke`) and the Google Health API v4
//! (`health.googleapis.com/v4/...`), all served from one loopback origin.
//!
//! Documented behaviour reproduced (reference Part B, the discovery document
//! rev 20261002 and the aggregate-data, data-types and data-presence guides):
//! client credentials in the token request body; 1-hour access tokens
//! (`expires_in` 3599); non-rotating refresh tokens (refresh responses carry
//! no `refresh_token`), only issued with `access_type=offline`; RFC 6749
//! token-endpoint errors; Testing-mode refresh tokens expiring after 7 days;
//! `google.rpc.Status` errors; int64 fields as JSON strings; newest-first
//! lists with opaque page tokens and pages that may be empty yet carry
//! `nextPageToken`; the AIP-160 filter subset; each data type's scope and
//! operations (e.g. `total-calories` only rolled up, `daily-heart-rate-zones`
//! only reconciled); `rollUp` and `dailyRollUp` with closed-open ranges of at
//! most 90 days (14 for `heart-rate`, `total-calories`, `active-minutes`,
//! `calories-in-heart-rate-zone`), windows without data omitted and the
//! newest window first; true zeros (an interval worn without activity) with
//! their count omitted, and zero roll-up sums omitted (proto3 JSON); the
//! profile's stride lengths only with the activity scope; paired devices
//! paged (default 5, at most 100); 300 requests/min/user; webhook
//! subscribers with their endpoint verification and ECDSA P-256 signed
//! notifications ([`subscribers`], [`webhooks`], [`delivery`]).
//!
//! *Fake decisions* (not specified publicly):
//! * Empty lists follow proto3 JSON: `dataPoints` is omitted (`{}`).
//! * Midnight civil times render as `"time": {}` (zero fields omitted).
//! * A code exchange returns a refresh token only with `access_type=offline`,
//!   and only if `prompt=consent` was sent or the user has no live refresh
//!   token for this client (Google's "refresh token only on first consent").
//! * Revoking any token revokes the whole grant (all tokens of that user for
//!   the client). Unknown tokens → 400 `invalid_token`.
//! * A legacy Fitbit account that consented (not moved to a Google
//!   Account) gets 403 PERMISSION_DENIED "Could not mint UberMint from
//!   GaiaMint" without details on every API call (Google documents the
//!   message, not the body).
//! * 401 reasons: missing credentials `CREDENTIALS_MISSING`, unknown or
//!   revoked token `ACCESS_TOKEN_TYPE_UNSUPPORTED`, expired `ACCESS_TOKEN_EXPIRED`.
//! * No rate-limit or `Retry-After` headers (none documented).
//! * Only the readonly scopes grant reads; data types other than those in
//!   [`types`] answer 400 INVALID_ARGUMENT, and an operation a type does not
//!   offer answers 400 INVALID_ARGUMENT naming it.
//! * A `windowSize` under one second is 400 INVALID_ARGUMENT with reason
//!   INVALID_ROLLUP_WINDOW (the guide names the reason, not the body).
//! * The profile defaults to age 40, member since 2016-01-01 and automatic
//!   strides of 716 mm (walking) and 1120 mm (running); the settings to
//!   metric units in Europe/London at offset 0 (`utcOffset` "0s"). A test
//!   may give the user another zone ([`FakeGoogle::set_time_zone`]): the
//!   settings then name it with its offset at the fake's "now", and every
//!   point added without an offset of its own gets the zone's offset at
//!   each of its instants (daylight saving included).

mod account;
mod api;
mod control;
mod delivery;
mod filter;
mod lists;
mod oauth;
mod paging;
mod points;
pub mod redirect_uris;
mod rollups;
mod subscribers;
mod types;
mod webhooks;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::Value;

pub use crate::consent::{consent, consent_with};
pub use control::FakeGoogle;
pub use delivery::{Delivery, NotificationShape};
pub use points::DataPoint;
pub use subscribers::CLOUD_PLATFORM_SCOPE;
pub use webhooks::{DEFAULT_DELIVERY_RETRIES, DEFAULT_FIRST_RETRY_DELAY, DEFAULT_SIGNATURE_HEADER};

use crate::faults::Faults;
use crate::util::{self, Clock, Handler, RecordedRequest, Records, Shared, lock};

pub const DEFAULT_HEALTH_USER_ID: &str = "4957304218837201659";
pub const DEFAULT_LEGACY_USER_ID: &str = "GGNJL9";
pub const DEFAULT_ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// Testing-mode refresh-token lifetime.
pub const TESTING_REFRESH_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
pub const DEFAULT_QUOTA_PER_MINUTE: u32 = 300;

pub const SCOPE_PREFIX: &str = "https://www.googleapis.com/auth/googlehealth.";
pub const SCOPE_ACTIVITY: &str =
    "https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly";
pub const SCOPE_METRICS: &str =
    "https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly";
pub const SCOPE_SLEEP: &str = "https://www.googleapis.com/auth/googlehealth.sleep.readonly";
pub const SCOPE_SETTINGS: &str = "https://www.googleapis.com/auth/googlehealth.settings.readonly";
pub const SCOPE_PROFILE: &str = "https://www.googleapis.com/auth/googlehealth.profile.readonly";
pub const SCOPE_NUTRITION: &str = "https://www.googleapis.com/auth/googlehealth.nutrition.readonly";

/// Suffixes after [`SCOPE_PREFIX`] the authorize endpoint accepts.
const KNOWN_SCOPES: &[&str] = &[
    "activity_and_fitness.readonly",
    "activity_and_fitness.writeonly",
    "health_metrics_and_measurements.readonly",
    "health_metrics_and_measurements.writeonly",
    "sleep.readonly",
    "sleep.writeonly",
    "nutrition.readonly",
    "nutrition.writeonly",
    "profile.readonly",
    "profile.writeonly",
    "settings.readonly",
    "settings.writeonly",
    "ecg.readonly",
    "irn.readonly",
    "location.readonly",
];

/// Errors the next API calls can be made to fail with ([`FakeGoogle::inject_errors`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InjectedError {
    /// 429 RESOURCE_EXHAUSTED, reason RATE_LIMIT_EXCEEDED (+ QuotaFailure).
    RateLimited,
    /// 403 PERMISSION_DENIED, reason ACCESS_TOKEN_SCOPE_INSUFFICIENT.
    ScopeInsufficient,
    /// 400 FAILED_PRECONDITION, reason ACCOUNT_NOT_LINKED.
    AccountNotLinked,
    /// 403 PERMISSION_DENIED, reason RESOURCE_PERMISSION_DENIED.
    ResourcePermissionDenied,
    /// 503 UNAVAILABLE.
    Unavailable,
    /// 504 DEADLINE_EXCEEDED.
    DeadlineExceeded,
    /// 403 PERMISSION_DENIED "Could not mint UberMint from GaiaMint": the
    /// consent came from a legacy Fitbit account, not a Google Account.
    LegacyFitbitAccount,
}

/// Tokens minted by [`FakeGoogle::issue_tokens`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoogleTokens {
    pub access_token: String,
    pub refresh_token: String,
}

#[derive(Clone, Debug)]
pub(crate) struct GClient {
    pub secret: String,
    pub redirect_uris: Vec<String>,
    pub name: String,
    pub testing_mode: bool,
}

#[derive(Debug)]
pub(crate) struct GUser {
    pub legacy_id: String,
    pub points: Vec<(String, DataPoint)>,
    pub settings: serde_json::Map<String, Value>,
    pub profile: serde_json::Map<String, Value>,
    /// (device id, `PairedDevice` fields without `name`), in pairing order.
    pub devices: Vec<(String, Value)>,
    pub linked: bool,
    /// A legacy Fitbit account not moved to a Google Account: every API
    /// call answers the UberMint 403.
    pub legacy_account: bool,
    /// The IANA zone of the user's settings; it gives points without an
    /// offset of their own their local times.
    pub zone: Option<String>,
}

/// A token issued to `client` for `user`: an access token always expires, a
/// refresh token only when its client is in testing mode.
#[derive(Clone, Debug)]
pub(crate) struct GToken<Expiry> {
    pub user: String,
    pub client: String,
    pub scopes: Vec<String>,
    pub expires_at: Expiry,
    pub revoked: bool,
}

pub(crate) type GAccess = GToken<DateTime<Utc>>;
pub(crate) type GRefresh = GToken<Option<DateTime<Utc>>>;

/// Records `token`, issued to `client` for `user`, in `tokens`; the token.
fn record<E>(
    tokens: &mut HashMap<String, GToken<E>>,
    token: String,
    client: &str,
    user: &str,
    scopes: &[String],
    expires_at: E,
) -> String {
    let grant = GToken {
        user: user.into(),
        client: client.into(),
        scopes: scopes.to_vec(),
        expires_at,
        revoked: false,
    };
    tokens.insert(token.clone(), grant);
    token
}

/// Revokes every token in `tokens` issued to `client` for `user`.
fn revoke<E>(tokens: &mut HashMap<String, GToken<E>>, user: &str, client: &str) {
    for t in tokens
        .values_mut()
        .filter(|t| t.user == user && t.client == client)
    {
        t.revoked = true;
    }
}

#[derive(Clone, Debug)]
pub(crate) struct GPending {
    pub client: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scopes: Vec<String>,
    pub challenge: Option<(String, String)>,
    pub offline: bool,
    pub prompt_consent: bool,
    /// `include_granted_scopes=true`: the token covers every scope the user
    /// has granted this client, not only the ones asked for now.
    pub include_granted: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct GCode {
    pub pending: GPending,
    pub user: String,
    pub scopes: Vec<String>,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

pub(crate) struct State {
    pub clock: Clock,
    pub clients: HashMap<String, GClient>,
    pub users: BTreeMap<String, GUser>,
    pub consent_user: String,
    pub withheld_scopes: Vec<String>,
    pub pending: HashMap<String, GPending>,
    pub codes: HashMap<String, GCode>,
    pub access: HashMap<String, GAccess>,
    pub refresh: HashMap<String, GRefresh>,
    /// Scopes each (user, client) has granted so far (until revoked).
    pub grants: HashMap<(String, String), Vec<String>>,
    pub access_lifetime: Duration,
    pub quota_per_minute: u32,
    pub usage: HashMap<String, (i64, u32)>,
    /// API calls refused 429 because their user's minute was used up.
    pub quota_refusals: usize,
    pub injected: VecDeque<InjectedError>,
    pub empty_pages: u32,
    /// At most this many items per page, whatever `pageSize` asks ("the
    /// service may return fewer"), to make long histories span pages.
    pub max_page_size: Option<usize>,
    pub requests: Vec<RecordedRequest>,
    pub token_requests: usize,
    pub last_authorize: Option<Vec<(String, String)>>,
    pub next_id: u64,
    pub webhooks: webhooks::Webhooks,
}

impl State {
    fn new() -> Self {
        let mut st = State {
            clock: Clock::default(),
            clients: HashMap::new(),
            users: BTreeMap::new(),
            consent_user: DEFAULT_HEALTH_USER_ID.into(),
            withheld_scopes: Vec::new(),
            pending: HashMap::new(),
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            grants: HashMap::new(),
            access_lifetime: DEFAULT_ACCESS_TOKEN_LIFETIME,
            quota_per_minute: DEFAULT_QUOTA_PER_MINUTE,
            usage: HashMap::new(),
            quota_refusals: 0,
            injected: VecDeque::new(),
            empty_pages: 0,
            max_page_size: None,
            requests: Vec::new(),
            token_requests: 0,
            last_authorize: None,
            next_id: 2026443605080188808,
            webhooks: webhooks::Webhooks::new(),
        };
        st.user_mut(DEFAULT_HEALTH_USER_ID);
        st
    }

    pub fn user_mut(&mut self, hid: &str) -> &mut GUser {
        self.users.entry(hid.to_string()).or_insert_with(|| GUser {
            legacy_id: DEFAULT_LEGACY_USER_ID.into(),
            points: Vec::new(),
            settings: serde_json::Map::new(),
            profile: serde_json::Map::new(),
            devices: Vec::new(),
            linked: true,
            legacy_account: false,
            zone: None,
        })
    }

    pub fn new_access(&mut self, client: &str, user: &str, scopes: &[String]) -> String {
        let token = util::random_token("ya29.", 120);
        let expires_at = self.clock.now() + util::chrono_dur(self.access_lifetime);
        record(&mut self.access, token, client, user, scopes, expires_at)
    }

    pub fn new_refresh(&mut self, client: &str, user: &str, scopes: &[String]) -> String {
        let token = util::random_token("1//", 100);
        let testing = self.clients.get(client).is_some_and(|c| c.testing_mode);
        let expires_at =
            testing.then(|| self.clock.now() + util::chrono_dur(TESTING_REFRESH_LIFETIME));
        record(&mut self.refresh, token, client, user, scopes, expires_at)
    }

    pub fn refresh_live(&self, t: &GRefresh) -> bool {
        !t.revoked && t.expires_at.is_none_or(|e| e > self.clock.now())
    }

    /// Records newly granted scopes; returns what the user has granted the
    /// client in all (the "combined authorization").
    pub fn add_grant(&mut self, user: &str, client: &str, scopes: &[String]) -> Vec<String> {
        let granted = self
            .grants
            .entry((user.to_string(), client.to_string()))
            .or_default();
        for scope in scopes {
            if !granted.contains(scope) {
                granted.push(scope.clone());
            }
        }
        granted.clone()
    }

    /// Revoke every token of `user` for `client`, and the grant itself.
    pub fn revoke_grant(&mut self, user: &str, client: &str) {
        self.grants.remove(&(user.to_string(), client.to_string()));
        revoke(&mut self.access, user, client);
        revoke(&mut self.refresh, user, client);
    }
}

impl Records for State {
    fn recorded(&mut self) -> &mut Vec<RecordedRequest> {
        &mut self.requests
    }
}

impl Handler for Shared<State> {
    async fn respond(&self, req: RecordedRequest) -> Response {
        if !subscribers::is_subscriber_path(&req.path) {
            return self.handle(req);
        }
        lock(&self.state).requests.push(req.clone());
        subscribers::handle(self, req).await
    }

    fn handle(&self, req: RecordedRequest) -> Response {
        let mut st = lock(&self.state);
        st.requests.push(req.clone());
        match req.path.as_str() {
            "/o/oauth2/v2/auth" | "/token" | "/revoke" => oauth::handle(&mut st, &req),
            _ => api::handle(&mut st, &req),
        }
    }

    fn error(&self, status: u16, message: &str) -> Response {
        let code = match status {
            429 => "RESOURCE_EXHAUSTED",
            503 => "UNAVAILABLE",
            504 => "DEADLINE_EXCEEDED",
            _ => "INTERNAL",
        };
        let http = axum::http::StatusCode::from_u16(status)
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        util::json_response(
            http,
            &serde_json::json!({"error": {"code": status, "message": message, "status": code}}),
        )
    }
}
