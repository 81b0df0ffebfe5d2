//! Where the plugin keeps things; every path derives from its install name,
//! as in the original plugin.

use serde_json::{Map, Value};

pub struct Paths {
    name: String,
}

impl Paths {
    pub fn new(plugin_name: &str) -> Self {
        Self {
            name: plugin_name.to_string(),
        }
    }

    /// `plugindata/N`: client id, unit system, provider.
    pub fn app(&self) -> String {
        format!("plugindata/{}", self.name)
    }

    /// `identities/U/plugindata/N`: the user's methods and default arguments.
    pub fn user(&self, user: &str) -> String {
        format!("identities/{user}/plugindata/{}", self.name)
    }

    /// `identities/U/plugindata/N/token`: the user's OAuth token.
    pub fn token(&self, user: &str) -> String {
        format!("{}/token", self.user(user))
    }

    /// `identities/U/plugindata/N/token_lease`: held while one request
    /// refreshes the token, so that the others wait for its result.
    pub fn token_lease(&self, user: &str) -> String {
        format!("{}/token_lease", self.user(user))
    }

    /// `identities/U/plugindata/N/sync`: bookkeeping for incremental sync
    /// (Google Health: last sample time per data type, cached units).
    pub fn sync(&self, user: &str) -> String {
        format!("{}/sync", self.user(user))
    }

    /// `identities/U/plugindata/N/history`: what the setup page shows about
    /// U's runs (last success, last error, 90 days of weight and body fat).
    pub fn history(&self, user: &str) -> String {
        format!("{}/history", self.user(user))
    }

    /// `sensors/N/U`: the user's latest results.
    pub fn sensors(&self, user: &str) -> String {
        format!("sensors/{}/{user}", self.name)
    }

    /// `plugindata/N/pacing`: this minute's upstream requests, in all and
    /// per user (the module `pacing` keeps it).
    pub fn pacing(&self) -> String {
        format!("{}/pacing", self.app())
    }

    /// `plugindata/N/pending`: the authorisations in progress, by user
    /// (the module `pending` keeps it).
    pub fn pending(&self) -> String {
        format!("{}/pending", self.app())
    }

    /// `plugindata/N/webhooks`: the notifications each user's sync still
    /// owes (the module `webhook::inbox` keeps it).
    pub fn webhooks(&self) -> String {
        format!("{}/webhooks", self.app())
    }

    /// `plugindata/N/users`: the names of the users this plugin serves (the
    /// store cannot list `identities`).
    pub fn users(&self) -> String {
        format!("{}/users", self.app())
    }

    /// `status/sensors/N/notice`: what the owner must do soon, per user. In
    /// Igor this is part of the status of `sensors/N`, next to what Igor's
    /// `updateStatus` writes; the host copies it into the status it records.
    pub fn notice(&self) -> String {
        format!("status/sensors/{}/notice", self.name)
    }
}

/// Documents the plugin keeps below `identities/U/plugindata/N`. A store
/// that nests paths (Igor) returns them inside the user's settings document,
/// so they are never settings: not method arguments, not form fields
/// (`auth` held an authorisation in progress in earlier versions).
pub const USER_BOOKKEEPING: &[&str] = &["token", "token_lease", "auth", "sync", "history"];

/// The user's own settings in `document`, without the plugin's bookkeeping.
pub fn user_settings_only(document: &Value) -> Map<String, Value> {
    crate::json::as_object(Some(document))
        .into_iter()
        .filter(|(key, _)| !USER_BOOKKEEPING.contains(&key.as_str()))
        .collect()
}

/// User names become path segments and URL parts: keep them plain.
pub fn valid_user(user: &str) -> bool {
    !user.is_empty()
        && user.len() <= 64
        && user
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_install_name() {
        let p = Paths::new("_fitbit");
        assert_eq!(p.app(), "plugindata/_fitbit");
        assert_eq!(p.token("jack"), "identities/jack/plugindata/_fitbit/token");
        assert_eq!(p.sensors("jack"), "sensors/_fitbit/jack");
    }

    #[test]
    fn bookkeeping_is_not_a_setting() {
        let doc = serde_json::json!({"methods": "sleep", "period": "1m", "token": {"a": 1},
            "sync": {"weight": {}}, "auth": {}, "history": {}});
        let settings = user_settings_only(&doc);
        assert_eq!(
            settings.keys().collect::<Vec<_>>(),
            vec!["methods", "period"]
        );
    }

    #[test]
    fn user_names_are_plain() {
        assert!(valid_user("jack"));
        assert!(valid_user("jack.smith-2"));
        for bad in ["", "../x", "a/b", "1x", "a b", "x?y"] {
            assert!(!valid_user(bad), "{bad}");
        }
    }
}
