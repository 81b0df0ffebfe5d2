//! The setup page and the forms it posts: installation settings
//! (`/settings`) and per-user settings (`/userSettings`). Settings change
//! only through POST.

use serde_json::{Map, Value};

use crate::api::{Request, Response};
use crate::errors::{PluginError, Result};
use crate::host::{Host, Level, StoreFailure};
use crate::json::{as_f64, as_object};
use crate::oauth::field;
use crate::pages::{self, SetupView, UserView};
use crate::paths::{Paths, valid_user};
use crate::provider::{AppSettings, CLIENT_SECRET, PROVIDERS, provider_for};

/// Where to go after a form: a 303 to `returnTo` if it is one of this
/// plugin's pages, else a plain `ok` (no open redirect).
fn finish(request: &Request, return_to: Option<&str>) -> Response {
    match return_to.and_then(|path| return_location(request, path)) {
        Some(location) => Response::see_other(&location),
        None => Response::text(200, "ok"),
    }
}

/// The absolute URL of `returnTo`: a path below the host's base URL inside
/// this plugin, `/plugin/N/...` as Igor's pages write it (a path below the
/// plugin, `/page/setup.html`, is accepted too). Anything that could leave
/// the plugin (other hosts, `..`, other plugins) gives `None`.
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
        let base = request.context.base_url.trim_end_matches('/');
        Some(format!("{base}{return_to}"))
    } else if return_to.starts_with("/plugin/") {
        None
    } else {
        Some(format!("{}{return_to}", request.plugin_url()))
    }
}

/// Refuses a cross-site form post: a browser's `Origin` must be this host's.
fn check_origin(request: &Request) -> Result<()> {
    let Some(origin) = request.header("origin") else {
        return Ok(());
    };
    let base = request.context.base_url.trim_end_matches('/');
    if base.starts_with(origin) && base[origin.len()..].chars().next().is_none_or(|c| c == '/') {
        Ok(())
    } else {
        Err(PluginError::forbidden(format!(
            "Fitbitplugin refuses a form posted from {origin}"
        )))
    }
}

fn is_simple_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Read-modify-write of a document with compare-and-swap, retried on races.
fn update(host: &dyn Host, path: &str, change: impl Fn(&mut Map<String, Value>)) -> Result<()> {
    for _ in 0..5 {
        let current = host.store_get(path).map_err(PluginError::store)?;
        let (mut document, revision) = match current {
            Some((value, revision)) => (as_object(Some(&value)), revision),
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

/// `POST /settings`: client id, client secret (into the host's secret
/// store), unit system and provider.
pub fn settings(host: &dyn Host, request: &Request) -> Result<Response> {
    check_origin(request)?;
    let form = request.form();
    let get = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
    };
    if let Some(provider) = get("provider").filter(|p| !p.is_empty())
        && !PROVIDERS.contains(&provider.as_str())
    {
        return Err(PluginError::bad_request(format!(
            "Fitbitplugin: unknown provider {provider:?}; choose one of {}",
            PROVIDERS.join(", ")
        )));
    }
    // The client id becomes the user of HTTP Basic and `system` a header
    // value: refuse what cannot travel there before anything is written.
    if let Some(client_id) = get("client_id").filter(|c| !c.is_empty())
        && (client_id.len() > 256 || client_id.chars().any(|c| c == ':' || !c.is_ascii_graphic()))
    {
        return Err(PluginError::bad_request(format!(
            "Fitbitplugin: {client_id:?} is not a client id (no spaces or ':')"
        )));
    }
    if let Some(system) = get("system").filter(|s| !s.is_empty())
        && (system.len() > 35
            || !system
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    {
        return Err(PluginError::bad_request(format!(
            "Fitbitplugin: {system:?} is not a unit system such as en_US, en_GB or nl_NL"
        )));
    }
    if let Some(secret) = get("client_secret").filter(|s| !s.is_empty()) {
        host.secret_set(CLIENT_SECRET, &secret)
            .map_err(PluginError::store)?;
        host.log(Level::Info, "client secret updated");
    }
    let paths = Paths::new(&request.context.plugin_name);
    update(host, &paths.app(), |document| {
        for key in ["client_id", "system", "provider"] {
            match get(key) {
                // `system` may be cleared (metric); the others only replaced.
                Some(value) if value.is_empty() && key == "system" => {
                    document.remove(key);
                }
                Some(value) if !value.is_empty() => {
                    document.insert(key.into(), Value::from(value));
                }
                _ => {}
            }
        }
        // Never keep a secret in the guest-readable store.
        document.remove("client_secret");
    })?;
    Ok(finish(request, get("returnTo").as_deref()))
}

/// `POST /userSettings`: create, modify or delete a user's settings.
pub fn user_settings(host: &dyn Host, request: &Request) -> Result<Response> {
    check_origin(request)?;
    let form = request.form();
    let get = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
    };
    let Some(user) = get("user").filter(|u| !u.is_empty()) else {
        return Err(PluginError::bad_request(
            "Fitbitplugin/userSettings requires user argument",
        ));
    };
    if !valid_user(&user) {
        return Err(PluginError::bad_request(format!(
            "Fitbitplugin: {user:?} is not a valid user name"
        )));
    }
    let paths = Paths::new(&request.context.plugin_name);
    let delete = get("delete")
        .is_some_and(|d| matches!(d.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on"));
    if delete {
        delete_user(host, request, &paths, &user)?;
        return Ok(finish(request, get("returnTo").as_deref()));
    }
    let mut changes: Vec<(String, Option<String>)> = Vec::new();
    for (key, value) in &form {
        if key.starts_with('_') || matches!(key.as_str(), "user" | "delete" | "returnTo") {
            continue;
        }
        if !is_simple_key(key) || matches!(key.as_str(), "token" | "auth" | "sync") {
            return Err(PluginError::bad_request(format!(
                "Fitbitplugin: {key:?} cannot be a user setting"
            )));
        }
        let value = value.trim();
        // An empty field means "use the default", so it is not stored.
        changes.push((key.clone(), (!value.is_empty()).then(|| value.to_string())));
    }
    if let Some(name) = get("_newName").filter(|n| !n.is_empty()) {
        if !is_simple_key(&name) || matches!(name.as_str(), "token" | "auth" | "sync") {
            return Err(PluginError::bad_request(format!(
                "Fitbitplugin: {name:?} cannot be a user setting"
            )));
        }
        changes.push((name, get("_newValue").filter(|v| !v.is_empty())));
    }
    update(host, &paths.user(&user), |document| {
        for (key, value) in &changes {
            match value {
                Some(value) => document.insert(key.clone(), Value::from(value.clone())),
                None => document.remove(key),
            };
        }
    })?;
    Ok(finish(request, get("returnTo").as_deref()))
}

/// Revokes the user's token at the provider (best effort), then removes the
/// token, any authorisation in progress, and the user's settings.
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
    for path in [
        paths.token(user),
        paths.pending_auth(user),
        paths.sync(user),
        paths.user(user),
    ] {
        host.store_delete(&path, None).map_err(PluginError::store)?;
    }
    Ok(())
}

/// `GET /page/setup.html[?user=U]`.
pub fn setup_page(host: &dyn Host, request: &Request) -> Result<Response> {
    let paths = Paths::new(&request.context.plugin_name);
    let app = AppSettings::load(host, &paths)?;
    let secret_is_set = host
        .secret_exists(CLIENT_SECRET)
        .map_err(PluginError::store)?;
    let user_name = request
        .query("user")
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .or_else(|| request.context.caller.clone());
    let user = match user_name {
        Some(name) if valid_user(&name) => {
            let settings = host
                .store_get(&paths.user(&name))
                .map_err(PluginError::store)?
                .map(|(value, _)| as_object(Some(&value)));
            let token = host
                .store_get(&paths.token(&name))
                .map_err(PluginError::store)?
                .map(|(value, _)| {
                    let token = as_object(Some(&value));
                    (
                        field(&token, "provider").unwrap_or_else(|| "fitbit".into()),
                        token.get("expires_at").and_then(as_f64),
                    )
                });
            Some(UserView {
                name,
                settings,
                token,
            })
        }
        Some(name) => {
            return Err(PluginError::bad_request(format!(
                "Fitbitplugin: {name:?} is not a valid user name"
            )));
        }
        None => None,
    };
    let plugin_url = request.plugin_url();
    Ok(pages::setup_page(&SetupView {
        plugin_name: &request.context.plugin_name,
        plugin_url: &plugin_url,
        app: &app,
        secret_is_set,
        user,
    }))
}
