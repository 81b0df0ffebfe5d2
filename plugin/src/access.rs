//! How long a user's access lasts, and the notice that tells the owner to
//! act before (or since) it ends.
//!
//! Google ends the refresh tokens of an OAuth app in *Testing* publishing
//! status 7 days after consent. The owner says the app is in Testing on the
//! setup page (`publishing_status` in `plugindata/N`); the plugin also
//! concludes it when Google refuses a refresh token about 7 days after the
//! grant. From [`NOTICE_AHEAD_SECONDS`] before the end, and after it, the
//! notice names the user, the date and the `auth1` link that renews access
//! (the client secret stays with the host: nothing else is needed).
//!
//! Notices reach the owner on the setup page and in `status/sensors/N`: the
//! plugin keeps them, per user, at `status/sensors/N/notice` (see
//! [`Paths::notice`]). With Igor as the store that document *is* part of the
//! status element Igor's `updateStatus` writes (which leaves it alone); with
//! the host's own store, the host copies it into the status it records after
//! each scheduled action.

use serde_json::{Map, Value};

use crate::errors::{PluginError, Result};
use crate::history::History;
use crate::html::utc_time;
use crate::json::{as_f64, as_text, field, into_object, text_field};
use crate::oauth::GRANTED_AT;
use crate::paths::Paths;
use crate::provider::AppSettings;
use crate::settings::document::update;
use igor_plugin_sdk::{Host, Level, StoreFailure};

/// Lifetime of a refresh token of an app in Testing publishing status.
pub const TESTING_GRANT_SECONDS: f64 = 7.0 * 86_400.0;
/// How long before the end the notice appears.
pub const NOTICE_AHEAD_SECONDS: f64 = 86_400.0;
/// `plugindata/N` key: `testing` or `production`.
pub const PUBLISHING_STATUS: &str = "publishing_status";

/// Whether the owner said (or Google showed) that the app is in Testing.
pub fn in_testing(app: &AppSettings) -> bool {
    text_field(&Value::Object(app.document.clone()), PUBLISHING_STATUS).as_deref()
        == Some("testing")
}

/// What is known about how long a user's grant lasts.
#[derive(Debug, Clone, PartialEq)]
pub struct Access {
    /// When the user gave consent (tokens from before this was recorded
    /// have none).
    pub granted_at: Option<f64>,
    /// When the grant stops working, if that is known.
    pub ends_at: Option<f64>,
    /// Whether the provider has ended it already.
    pub ended: bool,
}

impl Access {
    pub fn of(app: &AppSettings, token: &Map<String, Value>, history: &History, now: f64) -> Self {
        let granted_at = token.get(GRANTED_AT).and_then(as_f64);
        let google = field(token, "provider").as_deref() == Some("google-health");
        let mut ends_at = granted_at
            .filter(|_| google && in_testing(app))
            .map(|at| at + TESTING_GRANT_SECONDS);
        // A refusal of this very grant (a later authorisation is newer).
        let refused = history
            .access_ended
            .filter(|(_, of_grant)| of_grant.is_none() || *of_grant == granted_at);
        if let Some((at, _)) = refused {
            ends_at = Some(ends_at.map_or(at, |end| end.min(at)));
        }
        let ended = refused.is_some() || ends_at.is_some_and(|end| end <= now);
        Self {
            granted_at,
            ends_at,
            ended,
        }
    }

    /// "authorise jack again before/since DATE: LINK", when it is time.
    pub fn notice(&self, user: &str, plugin_url: &str, now: f64) -> Option<String> {
        let end = self.ends_at?;
        let link = format!("{plugin_url}/auth1?user={user}");
        if self.ended {
            Some(format!(
                "authorise {user} again since {}, when the provider ended the access: {link}",
                utc_time(end)
            ))
        } else if now >= end - NOTICE_AHEAD_SECONDS {
            Some(format!(
                "authorise {user} again before {}, when the access ends (Google ends the access \
                 of apps in Testing 7 days after consent): {link}",
                utc_time(end)
            ))
        } else {
            None
        }
    }
}

/// Sets (or clears) `user`'s notice in `status/sensors/N/notice`, writing
/// only when it changes.
pub fn publish_notice(
    host: &dyn Host,
    paths: &Paths,
    user: &str,
    notice: Option<&str>,
) -> Result<()> {
    let current = host
        .store_get(&paths.notice())
        .map_err(PluginError::store)?
        .map(|(value, _)| into_object(value))
        .unwrap_or_default();
    if current.get(user).and_then(as_text).as_deref() == notice {
        return Ok(());
    }
    if notice.is_none() && current.len() <= 1 {
        return match host.store_delete(&paths.notice(), None) {
            Ok(_) | Err(StoreFailure::Conflict(_)) => Ok(()),
            Err(err) => Err(PluginError::store(err)),
        };
    }
    update(host, &paths.notice(), |document| match notice {
        Some(text) => {
            document.insert(user.to_string(), Value::from(text));
        }
        None => {
            document.remove(user);
        }
    })
}

/// The provider refused `user`'s refresh token at `now`: remembers it for
/// this grant and, when the grant was about 7 days old, that the app is in
/// Testing (so every user's row shows when their access ends).
pub fn grant_refused(
    host: &dyn Host,
    paths: &Paths,
    app: &AppSettings,
    token: &Map<String, Value>,
    history: &mut History,
    now: f64,
) {
    let granted_at = token.get(GRANTED_AT).and_then(as_f64);
    history.access_ended = Some((now, granted_at));
    let google = field(token, "provider").as_deref() == Some("google-health");
    let seven_days = granted_at.is_some_and(|at| {
        let age = now - at;
        (TESTING_GRANT_SECONDS - 3600.0..TESTING_GRANT_SECONDS + 86_400.0).contains(&age)
    });
    if google && seven_days && !in_testing(app) {
        let detected = update(host, &paths.app(), |document| {
            document.insert(PUBLISHING_STATUS.into(), Value::from("testing"));
        });
        match detected {
            Ok(()) => host.log(
                Level::Info,
                "Google ended a grant after 7 days: the app is in Testing publishing status",
            ),
            Err(err) => host.log(
                Level::Warn,
                &format!("publishing status not saved: {}", err.message),
            ),
        }
        // This grant ended exactly 7 days after consent.
        if let Some(at) = granted_at {
            history.access_ended = Some((at + TESTING_GRANT_SECONDS, granted_at));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryHost;
    use serde_json::json;

    const DAY: f64 = 86_400.0;
    const URL: &str = "http://igor.test/plugin/fitbit";

    fn app(testing: bool) -> AppSettings {
        let mut app = AppSettings::default();
        if testing {
            app.document
                .insert(PUBLISHING_STATUS.into(), json!("testing"));
        }
        app
    }

    fn token(granted_at: f64) -> Map<String, Value> {
        json!({"provider": "google-health", "granted_at": granted_at})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn testing_grants_warn_a_day_ahead_and_after_the_end() {
        let granted = 1_000_000.0;
        let access = Access::of(&app(true), &token(granted), &History::default(), granted);
        assert_eq!(access.ends_at, Some(granted + 7.0 * DAY));
        assert_eq!(access.notice("jack", URL, granted + 5.9 * DAY), None);
        let soon = access.notice("jack", URL, granted + 6.5 * DAY).unwrap();
        assert!(
            soon.starts_with("authorise jack again before 1970-01-19 13:46 UTC"),
            "{soon}"
        );
        assert!(soon.ends_with("http://igor.test/plugin/fitbit/auth1?user=jack"));
        let later = Access::of(
            &app(true),
            &token(granted),
            &History::default(),
            granted + 8.0 * DAY,
        );
        let text = later.notice("jack", URL, granted + 8.0 * DAY).unwrap();
        assert!(
            text.starts_with("authorise jack again since 1970-01-19 13:46 UTC"),
            "{text}"
        );
        // In production nothing is known to end.
        let production = Access::of(&app(false), &token(granted), &History::default(), granted);
        assert_eq!(production.notice("jack", URL, granted + 30.0 * DAY), None);
    }

    /// A refusal seen at `now` of a grant from `granted`, on an app whose
    /// publishing status was not said.
    fn refusal(granted: f64, now: f64) -> (MemoryHost, History) {
        let host = MemoryHost::default();
        host.put("plugindata/fitbit", json!({"client_id": "c"}));
        let mut history = History::default();
        let paths = Paths::new("fitbit");
        grant_refused(
            &host,
            &paths,
            &app(false),
            &token(granted),
            &mut history,
            now,
        );
        (host, history)
    }

    #[test]
    fn a_refusal_seven_days_after_consent_reveals_testing() {
        let granted = 1_000_000.0;
        let now = granted + 7.0 * DAY + 600.0;
        let (host, history) = refusal(granted, now);
        assert_eq!(
            host.get("plugindata/fitbit").unwrap()["publishing_status"],
            "testing"
        );
        let access = Access::of(&app(true), &token(granted), &history, now);
        assert!(access.ended);
        assert_eq!(access.ends_at, Some(granted + 7.0 * DAY));
        // A new grant is not ended by the old refusal.
        let renewed = Access::of(&app(true), &token(now + 60.0), &history, now + 120.0);
        assert!(!renewed.ended);

        // A refusal at another age (revoked) says nothing about Testing.
        let (host, history) = refusal(granted, granted + 2.0 * DAY);
        assert!(
            host.get("plugindata/fitbit")
                .unwrap()
                .get("publishing_status")
                .is_none()
        );
        let access = Access::of(&app(false), &token(granted), &history, granted + 2.0 * DAY);
        assert_eq!(access.ends_at, Some(granted + 2.0 * DAY));
        assert!(access.ended);
    }

    #[test]
    fn notices_are_kept_per_user_and_removed() {
        let host = MemoryHost::default();
        let paths = Paths::new("fitbit");
        publish_notice(&host, &paths, "jack", Some("authorise jack again")).unwrap();
        publish_notice(&host, &paths, "jill", Some("authorise jill again")).unwrap();
        let revision = host.documents.borrow()["status/sensors/fitbit/notice"].1;
        publish_notice(&host, &paths, "jill", Some("authorise jill again")).unwrap();
        assert_eq!(
            host.documents.borrow()["status/sensors/fitbit/notice"].1,
            revision,
            "unchanged notices are not rewritten"
        );
        publish_notice(&host, &paths, "jack", None).unwrap();
        assert_eq!(
            host.get("status/sensors/fitbit/notice").unwrap(),
            json!({"jill": "authorise jill again"})
        );
        publish_notice(&host, &paths, "jill", None).unwrap();
        assert!(host.get("status/sensors/fitbit/notice").is_none());
    }
}
