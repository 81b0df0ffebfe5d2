//! The two fake clouds the plugins talk to, on loopback in this process: a
//! month of daily weigh-ins in each, and their per-user quotas lifted (the
//! real Fitbit allows 150 calls an hour, Google 300 a minute; a load test is
//! what the real clouds would throttle).

use chrono::{SecondsFormat, Utc};
use igor_test_support::fake_fitbit::{DEFAULT_USER_ID, WeightLog};
use igor_test_support::fake_google::{DEFAULT_HEALTH_USER_ID, DataPoint};
use igor_test_support::{FakeFitbit, FakeGoogle, RecordedRequest};

use crate::load::Target;

/// One system's registration with both clouds: each system under test is
/// its own installation with its own apps (the fakes, like the real clouds,
/// keep one active refresh token per user and app).
#[derive(Clone, Debug)]
pub struct Apps {
    pub fitbit_id: String,
    pub fitbit_secret: String,
    pub google_id: String,
    pub google_secret: String,
}

pub struct Clouds {
    pub fitbit: FakeFitbit,
    pub google: FakeGoogle,
    registered: std::sync::atomic::AtomicUsize,
}

impl Clouds {
    pub async fn start() -> Self {
        let fitbit = FakeFitbit::start().await;
        fitbit.set_rate_limit_quota(u32::MAX);
        let today = chrono::NaiveDate::parse_from_str(&fitbit.today(DEFAULT_USER_ID), "%Y-%m-%d")
            .expect("the fake's date");
        for day in 0..30 {
            let date = (today - chrono::Duration::days(day)).to_string();
            fitbit.add_weight(
                DEFAULT_USER_ID,
                WeightLog::new(&date, "07:30:00", 80.0 - day as f64 * 0.05),
            );
        }
        let google = FakeGoogle::start().await;
        google.set_quota_per_minute(u32::MAX);
        google.add_data_points(
            DEFAULT_HEALTH_USER_ID,
            (0..30).map(|day| {
                let at = Utc::now() - chrono::Duration::hours(24 * day + 1);
                DataPoint::weight(
                    &at.to_rfc3339_opts(SecondsFormat::Secs, true),
                    80_000.0 - day as f64 * 50.0,
                )
            }),
        );
        Self {
            fitbit,
            google,
            registered: Default::default(),
        }
    }

    /// Registers apps for a system whose OAuth callback is below `base`
    /// (where it serves `/plugin/fitbit`).
    pub fn register_apps(&self, base: &str) -> Apps {
        let n = self
            .registered
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let apps = Apps {
            fitbit_id: format!("22B{n:03}"),
            fitbit_secret: format!("fitbit-bench-secret-{n}"),
            google_id: format!("{n}-bench.apps.googleusercontent.com"),
            google_secret: format!("GOCSPX-bench-{n}"),
        };
        let redirect = format!("{base}/plugin/fitbit/auth2");
        self.fitbit
            .register_client(&apps.fitbit_id, &apps.fitbit_secret, &[&redirect]);
        self.google
            .register_client(&apps.google_id, &apps.google_secret, &[&redirect]);
        apps
    }

    /// The `[[plugin]]` table of an igor-host that reaches both fakes. Its
    /// pacing limits are lifted like the fakes' quotas (pacing still runs:
    /// its store calls are part of what is measured).
    pub fn plugin_config(&self) -> String {
        let (f, g) = (self.fitbit.url(), self.google.url());
        format!(
            r#"
[[plugin]]
name = "fitbit"
[plugin.config]
fitbit_api_url = "{f}"
fitbit_authorize_url = "{f}/oauth2/authorize"
google_api_url = "{g}"
google_authorize_url = "{ga}"
google_token_url = "{gt}"
google_revoke_url = "{gr}"
google_user_requests_per_minute = "1000000000"
google_app_requests_per_minute = "1000000000"
[plugin.egress]
allow = ["{f}", "{g}"]
secret_urls = ["{f}/oauth2/token", "{f}/oauth2/revoke", "{gt}"]
allow_loopback = true
"#,
            ga = self.google.authorize_url(),
            gt = self.google.token_url(),
            gr = self.google.revoke_url(),
        )
    }

    /// The plugin's last data call to the fake Fitbit, replayable by a
    /// direct client with a token of its own.
    pub fn last_fitbit_call(&self) -> Target {
        let apps = self.register_apps("http://127.0.0.1:1");
        let token = self
            .fitbit
            .issue_tokens(&apps.fitbit_id, DEFAULT_USER_ID, "weight")
            .access_token;
        let call = last_data_call(self.fitbit.requests(), "/1/user/");
        replay(&self.fitbit.url(), &call, &token)
    }

    /// The same for the fake Google Health API.
    pub fn last_google_call(&self) -> Target {
        let scope = igor_test_support::fake_google::SCOPE_METRICS;
        let apps = self.register_apps("http://127.0.0.1:1");
        let token = self
            .google
            .issue_tokens(&apps.google_id, DEFAULT_HEALTH_USER_ID, scope)
            .access_token;
        let call = last_data_call(self.google.requests(), "/v4/");
        replay(&self.google.url(), &call, &token)
    }

    pub fn clear_requests(&self) {
        self.fitbit.clear_requests();
        self.google.clear_requests();
    }
}

fn last_data_call(requests: Vec<RecordedRequest>, prefix: &str) -> RecordedRequest {
    requests
        .into_iter()
        .rfind(|r| r.path.starts_with(prefix))
        .unwrap_or_else(|| panic!("no call below {prefix} was made"))
}

fn replay(origin: &str, call: &RecordedRequest, token: &str) -> Target {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&call.query)
        .finish();
    let mut target = Target::get(format!(
        "{origin}{}{}{query}",
        call.path,
        if query.is_empty() { "" } else { "?" }
    ));
    target.method = call.method.parse().expect("a method");
    target.body = call.body.clone().into_bytes();
    target.headers = call
        .headers
        .iter()
        .filter(|(name, _)| matches!(name.as_str(), "accept-language" | "content-type"))
        .cloned()
        .collect();
    target
        .headers
        .push(("authorization".into(), format!("Bearer {token}")));
    target
}
