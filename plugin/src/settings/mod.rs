//! The forms the setup page posts: installation settings (`/settings`) and
//! per-user settings (`/userSettings`). Settings change only through POST;
//! `document` holds what they write and the rules for it.

pub mod document;

use serde_json::Value;

use crate::access::PUBLISHING_STATUS;
use crate::errors::{PluginError, Result, echo};
use crate::json::{as_object, field};
use crate::pages::Done;
use crate::paths::{Paths, valid_user};
use crate::provider::{AppSettings, CLIENT_SECRET, PROVIDERS, provider_for};
use crate::webhook::{PUBLIC_KEYS, WEBHOOK_SECRET, signature};
use document::{check_user_setting_name, check_user_setting_value, client_secret_is_set, update};
use igor_plugin_sdk::{Host, Level, Request, Response};

/// Where to go after a form: a 303 to `returnTo` if it is one of this
/// plugin's pages, with what was done for the page to confirm, else a
/// plain `ok` (no open redirect).
fn finish(request: &Request, return_to: Option<&str>, done: Done) -> Response {
    match return_to.and_then(|path| return_location(request, path)) {
        Some(location) => {
            let separator = if location.contains('?') { '&' } else { '?' };
            Response::see_other(&format!("{location}{separator}done={}", done.name()))
        }
        None => Response::text(200, "ok"),
    }
}

/// Where `returnTo` is, as a path: a path below the host's base URL inside
/// this plugin, `/plugin/N/...` as Igor's pages write it (a path below the
/// plugin, `/page/setup.html`, is accepted too). The browser resolves it
/// against the address it used, which need not be the base URL's (Igor's
/// own URL may be its loopback while the browser runs on a laptop).
/// Anything that could leave the plugin (other hosts, `..`, other plugins)
/// gives `None`.
pub fn return_location(request: &Request, return_to: &str) -> Option<String> {
    let lower = return_to.to_ascii_lowercase();
    let plain = return_to.starts_with('/')
        && !return_to.starts_with("//")
        && !return_to.contains("..")
        && !lower.contains("%2e")
        && !return_to.contains('\\')
        && !return_to.chars().any(char::is_control);
    if !plain {
        return None;
    }
    let own = format!("/plugin/{}/", request.context.plugin_name);
    if return_to.starts_with(&own) {
        let base = crate::html::link_root(&request.context.base_url);
        Some(format!("{base}{return_to}"))
    } else if return_to.starts_with("/plugin/") {
        None
    } else {
        Some(format!(
            "{}{return_to}",
            crate::html::link_root(&request.plugin_url())
        ))
    }
}

/// Refuses a cross-site form post. A browser's `Origin` must be the origin
/// it sent the form to: the base URL's, or the one it actually used (its
/// `Host`, or `X-Forwarded-Host` from a proxy or Igor's forwarder), so that
/// `http://localhost:9333` works when the base URL says `127.0.0.1` and a
/// LAN name works next to the address. An `Origin` that only matches `Host`
/// must not be a public DNS name: a page that rebinds its own name to this
/// host's address would match its own `Host`.
pub fn check_origin(request: &Request) -> Result<()> {
    let Some(origin) = request.header("origin") else {
        return Ok(());
    };
    let base = request.context.base_url.trim_end_matches('/');
    let base_origin = url::Url::parse(base).map(|u| u.origin().ascii_serialization());
    if base_origin.as_deref() == Ok(origin) {
        return Ok(());
    }
    let used = |name: &str| {
        request
            .header(name)
            .and_then(|value| value.split(',').next())
            .map(str::trim)
    };
    let origin_url = url::Url::parse(origin).ok();
    let same_as_used = origin_url.as_ref().is_some_and(|o| {
        let authority = match o.port() {
            Some(port) => format!("{}:{port}", o.host_str().unwrap_or_default()),
            None => o.host_str().unwrap_or_default().to_string(),
        };
        let private = match o.host() {
            Some(url::Host::Domain(name)) => !crate::redirect::is_public_name(name),
            Some(_) => true,
            None => false,
        };
        private
            && [used("host"), used("x-forwarded-host")]
                .into_iter()
                .flatten()
                .any(|h| h.eq_ignore_ascii_case(&authority))
    });
    if same_as_used {
        Ok(())
    } else {
        Err(PluginError::forbidden(format!(
            "Fitbitplugin refuses a form posted from {}",
            echo(origin)
        )))
    }
}

/// `POST /settings`: client id, client secret and webhook secret (into the
/// host's secret store), unit system, provider, the OAuth app's publishing
/// status and the webhook's public keys.
pub fn settings(host: &dyn Host, request: &Request) -> Result<Response> {
    check_origin(request)?;
    let get = |name: &str| request.form_field(name);
    if let Some(provider) = get("provider").filter(|p| !p.is_empty())
        && !PROVIDERS.contains(&provider.as_str())
    {
        return Err(PluginError::bad_request(format!(
            "Fitbitplugin: unknown provider {:?}; choose one of {}",
            echo(&provider),
            PROVIDERS.join(", ")
        )));
    }
    // The client id becomes the user of HTTP Basic and `system` a header
    // value: refuse what cannot travel there before anything is written.
    if let Some(client_id) = get("client_id").filter(|c| !c.is_empty())
        && (client_id.len() > 256 || client_id.chars().any(|c| c == ':' || !c.is_ascii_graphic()))
    {
        return Err(PluginError::bad_request(format!(
            "Fitbitplugin: {:?} is not a client id (no spaces or ':')",
            echo(&client_id)
        )));
    }
    if let Some(system) = get("system").filter(|s| !s.is_empty())
        && (system.len() > 35
            || !system
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    {
        return Err(PluginError::bad_request(format!(
            "Fitbitplugin: {:?} is not a unit system such as en_US, en_GB or nl_NL",
            echo(&system)
        )));
    }
    if let Some(status) = get(PUBLISHING_STATUS).filter(|s| !s.is_empty())
        && !matches!(status.as_str(), "testing" | "production")
    {
        return Err(PluginError::bad_request(format!(
            "Fitbitplugin: {:?} is not a publishing status; choose testing or production",
            echo(&status)
        )));
    }
    let webhook_secret = get(WEBHOOK_SECRET).filter(|s| !s.is_empty());
    if let Some(secret) = &webhook_secret
        && (secret.len() > 512 || !secret.chars().all(|c| c == ' ' || c.is_ascii_graphic()))
    {
        return Err(PluginError::bad_request(
            "Fitbitplugin: the webhook secret is sent as an Authorization header: printable \
             ASCII, at most 512 characters (e.g. Bearer followed by a random word)",
        ));
    }
    // Present and empty removes the keys (webhooks off); absent keeps them.
    let public_keys = match get(PUBLIC_KEYS) {
        Some(text) => Some(signature::parse_keys(&text).map_err(|why| {
            PluginError::bad_request(format!("Fitbitplugin: webhook public keys: {why}"))
        })?),
        None => None,
    };
    let paths = Paths::new(&request.context.plugin_name);
    // A secret seeded in plugindata moves to the host before the document
    // is rewritten without it.
    client_secret_is_set(host, &paths)?;
    if let Some(secret) = get("client_secret").filter(|s| !s.is_empty()) {
        host.secret_set(CLIENT_SECRET, &secret)
            .map_err(PluginError::store)?;
        host.log(Level::Info, "client secret updated");
    }
    if let Some(secret) = &webhook_secret {
        host.secret_set(WEBHOOK_SECRET, secret)
            .map_err(PluginError::store)?;
        host.log(Level::Info, "webhook secret updated");
    }
    update(host, &paths.app(), |document| {
        for key in ["client_id", "system", "provider", PUBLISHING_STATUS] {
            match get(key) {
                // `system` and the publishing status may be cleared; the
                // others only replaced.
                Some(value) if value.is_empty() && matches!(key, "system" | PUBLISHING_STATUS) => {
                    document.remove(key);
                }
                Some(value) if !value.is_empty() => {
                    document.insert(key.into(), Value::from(value));
                }
                _ => {}
            }
        }
        match &public_keys {
            Some(keys) if keys.is_empty() => {
                document.remove(PUBLIC_KEYS);
            }
            Some(keys) => {
                document.insert(PUBLIC_KEYS.into(), Value::from(keys.clone()));
            }
            None => {}
        }
        // Never keep a secret in the guest-readable store.
        document.remove("client_secret");
        document.remove(WEBHOOK_SECRET);
    })?;
    Ok(finish(request, get("returnTo").as_deref(), Done::Settings))
}

/// `POST /userSettings`: create, modify or delete a user's settings.
pub fn user_settings(host: &dyn Host, request: &Request) -> Result<Response> {
    check_origin(request)?;
    let form = request.form();
    let get = |name: &str| request.form_field(name);
    let Some(user) = get("user").filter(|u| !u.is_empty()) else {
        return Err(PluginError::bad_request(
            "Fitbitplugin/userSettings requires user argument",
        ));
    };
    if !valid_user(&user) {
        return Err(PluginError::bad_request(format!(
            "Fitbitplugin: {:?} is not a valid user name",
            echo(&user)
        )));
    }
    let paths = Paths::new(&request.context.plugin_name);
    let delete = get("delete")
        .is_some_and(|d| matches!(d.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on"));
    if delete {
        delete_user(host, request, &paths, &user)?;
        return Ok(finish(request, get("returnTo").as_deref(), Done::Deleted));
    }
    let mut changes: Vec<(String, Option<String>)> = Vec::new();
    for (key, value) in &form {
        if key.starts_with('_') || matches!(key.as_str(), "user" | "delete" | "returnTo") {
            continue;
        }
        check_user_setting_name(key)?;
        check_user_setting_value(key, value)?;
        let value = value.trim();
        // An empty field means "use the default", so it is not stored.
        changes.push((key.clone(), (!value.is_empty()).then(|| value.to_string())));
    }
    if let Some(name) = get("_newName").filter(|n| !n.is_empty()) {
        check_user_setting_name(&name)?;
        let value = get("_newValue").filter(|v| !v.is_empty());
        check_user_setting_value(&name, value.as_deref().unwrap_or_default())?;
        changes.push((name, value));
    }
    update(host, &paths.user(&user), |document| {
        for (key, value) in &changes {
            match value {
                Some(value) => document.insert(key.clone(), Value::from(value.clone())),
                None => document.remove(key),
            };
        }
    })?;
    crate::users::add(host, &paths, &user)?;
    Ok(finish(request, get("returnTo").as_deref(), Done::User))
}

/// Revokes the user's token at the provider (best effort), then removes
/// everything the plugin keeps about the user.
fn delete_user(host: &dyn Host, request: &Request, paths: &Paths, user: &str) -> Result<()> {
    let token = host
        .store_get(&paths.token(user))
        .map_err(PluginError::store)?;
    if let Some((value, _)) = &token {
        let token = as_object(Some(value));
        let app = AppSettings::load(host, paths)?;
        let provider_id = field(&token, "provider").unwrap_or_else(|| "fitbit".into());
        let today = crate::dates::Date::from_epoch(host.now(), request.context.utc_offset_seconds);
        let provider = provider_for(&provider_id, request, today)?;
        if let Some(revoke) = provider.revoke_request(&app, &token) {
            match host.fetch(&revoke) {
                Ok(r) if (200..300).contains(&r.status) => {
                    host.log(Level::Info, &format!("token of {user} revoked"));
                }
                Ok(r) => host.log(
                    Level::Warn,
                    &format!("revoking the token of {user} answered {}", r.status),
                ),
                Err(e) => host.log(Level::Warn, &format!("revoking the token of {user}: {e}")),
            }
        }
    }
    // The settings with everything below them (token, lease, authorisation
    // in progress, sync bookkeeping, history), and the latest results.
    // Deepest first: an interrupted delete leaves the user to delete again.
    for prefix in [paths.user(user), paths.sensors(user)] {
        let found = host.store_list(&prefix).map_err(PluginError::store)?;
        for path in found.iter().rev() {
            host.store_delete(path, None).map_err(PluginError::store)?;
        }
    }
    crate::access::publish_notice(host, paths, user, None)?;
    crate::pending::remove(host, paths, user)?;
    crate::users::remove(host, paths, user)
}
