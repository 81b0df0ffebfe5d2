//! The fake as tests drive it: start it, add users and data, change its
//! clock and rules, inject errors, and read what it was sent.

use super::*;

/// A running fake Fitbit. Dropping it stops the server.
pub struct FakeFitbit {
    running: util::Running<State>,
}

impl FakeFitbit {
    crate::control::shared_control! {
        authorize: "/oauth2/authorize",
        token: "/oauth2/token",
        revoke: "/oauth2/revoke",
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
    /// Whether the app may use intraday endpoints (Personal apps may; default
    /// true). When false those answer 403 `insufficient_permissions`.
    pub fn set_intraday_allowed(&self, client_id: &str, allowed: bool) {
        if let Some(c) = self.st().clients.get_mut(client_id) {
            c.intraday = allowed;
        }
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
    pub fn add_food(&self, user_id: &str, log: FoodLog) {
        self.st().user_mut(user_id).foods.push(log);
    }
    /// Water (`"water"`, ml), glucose (`"glucose"`, mg/dL) or blood
    /// pressure (`"bp"`, systolic and diastolic) logged at `time` (`HH:MM`).
    pub fn add_day_log(&self, user_id: &str, kind: &str, date: &str, time: &str, values: &[f64]) {
        let mut st = self.st();
        let logs = st
            .user_mut(user_id)
            .day_logs
            .entry(kind.into())
            .or_default();
        let log_id = 1000 + logs.len() as u64;
        logs.push(DayLog {
            date: date.into(),
            time: time.into(),
            values: values.to_vec(),
            log_id,
        });
    }
    /// A health metric's value of a day (`spo2` `{"avg","min","max"}`,
    /// `hrv` `{"dailyRmssd","deepRmssd"}`, `br` `{"breathingRate"}`,
    /// `temp/skin` `{"nightlyRelative"}` in °C, `cardioscore` `{"vo2Max"}`).
    pub fn set_metric(&self, user_id: &str, resource: &str, date: &str, value: Value) {
        let d = parse_date(date);
        self.st()
            .user_mut(user_id)
            .metrics
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
