//! The settings documents the forms write: `plugindata/N` (the app's
//! settings) and `identities/U/plugindata/N` (a user's), read-modify-written
//! with compare-and-swap, what a user setting may be called and hold, and
//! the client secret, which lives in the host's secret store instead.

use serde_json::{Map, Value};

use crate::errors::{PluginError, Result, echo};
use crate::json::into_object;
use crate::paths::{Paths, USER_BOOKKEEPING};
use crate::token_endpoint::CLIENT_SECRET;
use igor_plugin_sdk::{Host, Level, Request, StoreFailure};

fn is_simple_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Read-modify-write of a document with compare-and-swap, retried on races.
pub fn update(host: &dyn Host, path: &str, change: impl Fn(&mut Map<String, Value>)) -> Result<()> {
    for _ in 0..5 {
        let current = host.store_get(path).map_err(PluginError::store)?;
        let (mut document, revision) = match current {
            Some((value, revision)) => (into_object(value), revision),
            None => (Map::new(), 0),
        };
        change(&mut document);
        match host.store_put(path, &Value::Object(document), Some(revision)) {
            Ok(_) => return Ok(()),
            Err(StoreFailure::Conflict(_)) => continue,
            Err(err) => return Err(PluginError::store(err)),
        }
    }
    Err(PluginError::store(format!(
        "{path} kept changing; try again"
    )))
}

/// Whether the host holds the client secret. A secret set the original
/// plugin's way, `client_secret` in `plugindata/N` (readable by anyone who
/// can read Igor's database), is moved into the host's secret store on
/// first use and removed from the document.
pub fn client_secret_is_set(host: &dyn Host, paths: &Paths) -> Result<bool> {
    let app = host.store_get(&paths.app()).map_err(PluginError::store)?;
    let seeded = app.and_then(|(document, _)| crate::json::text_field(&document, CLIENT_SECRET));
    if let Some(secret) = seeded {
        host.secret_set(CLIENT_SECRET, secret.trim())
            .map_err(PluginError::store)?;
        update(host, &paths.app(), |document| {
            document.remove(CLIENT_SECRET);
        })?;
        host.log(
            Level::Info,
            "client secret moved from plugindata into the host's secret store",
        );
        return Ok(true);
    }
    host.secret_exists(CLIENT_SECRET)
        .map_err(PluginError::store)
}

/// The client secret must be set (it is never read): else a 403 naming the
/// setup page, and the host's secret store when the host says where it is
/// (`host-info`'s `secret-store`).
pub fn require_client_secret(host: &dyn Host, request: &Request, paths: &Paths) -> Result<()> {
    if client_secret_is_set(host, paths)? {
        return Ok(());
    }
    let store = host
        .host_info()
        .secret_store
        .map(|where_| format!(" (the host keeps it in {where_})"))
        .unwrap_or_default();
    Err(PluginError::forbidden(format!(
        "Fitbitplugin requires the OAuth client secret ('client_secret'): enter it on the setup page, {}/page/setup.html{store}",
        request.plugin_url()
    )))
}

/// Longest value of a user setting, in characters: arguments and method
/// lists are short, and the setup page shows every setting in its form.
pub const MAX_SETTING_CHARS: usize = 1000;

pub(super) fn check_user_setting_value(name: &str, value: &str) -> Result<()> {
    let length = value.trim().chars().count();
    if length > MAX_SETTING_CHARS {
        return Err(PluginError::bad_request(format!(
            "Fitbitplugin: the value of {:?} has {length} characters; a user setting has at \
             most {MAX_SETTING_CHARS}",
            echo(name)
        )));
    }
    Ok(())
}

/// Words in a setting's name that mark it as a credential.
const SECRET_WORDS: [&str; 4] = ["secret", "token", "password", "key"];

/// A user's settings are a plain document anyone who may read the plugin's
/// data can read, and bookkeeping is the plugin's own: refuse both kinds.
pub(super) fn check_user_setting_name(name: &str) -> Result<()> {
    if !is_simple_key(name) || USER_BOOKKEEPING.contains(&name) {
        return Err(PluginError::bad_request(format!(
            "Fitbitplugin: {:?} cannot be a user setting",
            echo(name)
        )));
    }
    let lower = name.to_ascii_lowercase();
    if SECRET_WORDS.iter().any(|word| lower.contains(word)) {
        return Err(PluginError::bad_request(format!(
            "Fitbitplugin: {:?} looks like a credential, and user settings are readable by \
             whoever may read this plugin's data; the client secret belongs on the setup page",
            echo(name)
        )));
    }
    Ok(())
}
