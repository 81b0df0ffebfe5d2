//! The OAuth browser round trip: `auth1` sends the browser to the provider
//! with a single-use state nonce and a PKCE challenge; the provider sends it
//! back to `auth2`, which checks the state and stores the token.
//!
//! When Google refuses the base URL's redirect URI (a LAN installation, see
//! [`crate::redirect`]), the browser is sent back to
//! `http://localhost:PORT/.../auth2` instead, which usually does not load:
//! the owner pastes that address on the setup page, which posts it to
//! `auth2`, and [`paste_back`] completes it with exactly the checks of the
//! redirect ([`complete`]).

use serde_json::Value;

use crate::errors::{PluginError, Result};
use crate::json::as_object;
use crate::oauth::{
    PENDING_AUTH_SECONDS, PendingAuth, constant_time_eq, field, hex, make_state, new_verifier,
    parse_state, pkce_challenge, sha256_hex, token_from_response,
};
use crate::pages;
use crate::paths::{Paths, user_settings_only, valid_user};
use crate::provider::{AppSettings, Consent, TokenError, provider_for};
use crate::settings::{check_origin, require_client_secret};
use igor_plugin_sdk::{Host, Level, StoreFailure};
use igor_plugin_sdk::{Request, Response};

/// `GET /auth1?user=U[&scope=a,b]`: start authorising U with the
/// installation's provider, asking for what U's methods need, what U
/// granted before, and the scopes named in `scope` (short names such as
/// `sleep.readonly`, as a refused call's message gives them).
pub fn auth1(host: &dyn Host, request: &Request) -> Result<Response> {
    let Some(user) = request.query("user").filter(|u| !u.is_empty()) else {
        return Err(PluginError::bad_request(
            "fitbitplugin/auth1 requires 'user' argument",
        ));
    };
    if !valid_user(user) {
        return Err(PluginError::bad_request(format!(
            "fitbitplugin/auth1: {:?} is not a valid user name",
            crate::errors::echo(user)
        )));
    }
    let paths = Paths::new(&request.context.plugin_name);
    let app = AppSettings::load(host, &paths)?;
    app.require_client_id()?;
    require_client_secret(host, request, &paths)?;
    let today = crate::dates::Date::from_epoch(host.now(), request.context.utc_offset_seconds);
    let provider = provider_for(&app.provider, request, today)?;
    let adding = match request.query("scope") {
        Some(names) if provider.id() == "google-health" => {
            crate::provider::google::parse_scope_names(names)?
        }
        _ => Vec::new(),
    };

    let nonce = hex(&host.random_bytes(32));
    let verifier = new_verifier(host);
    let redirect_uri = provider.redirect(&request.plugin_url()).uri;
    let pending = PendingAuth {
        nonce_sha256: sha256_hex(&nonce),
        code_verifier: verifier.clone(),
        expires_at: host.now() + PENDING_AUTH_SECONDS,
        provider: provider.id().to_string(),
        redirect_uri: redirect_uri.clone(),
    };
    let pending = serde_json::to_value(&pending).expect("serialisable");
    host.store_put(&paths.pending_auth(user), &pending, None)
        .map_err(PluginError::store)?;
    crate::users::add(host, &paths, user)?;
    let read = |path: &str| -> Result<Value> {
        Ok(host
            .store_get(path)
            .map_err(PluginError::store)?
            .map_or(Value::Null, |(doc, _)| doc))
    };
    let settings = user_settings_only(&read(&paths.user(user))?);
    let token = as_object(Some(&read(&paths.token(user))?));
    // Scopes granted to this provider's token are kept (include_granted_scopes).
    let granted = match field(&token, "provider") {
        Some(p) if p == provider.id() => field(&token, "scope")
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let methods_text = settings
        .get("methods")
        .and_then(crate::json::as_text)
        .unwrap_or_else(|| crate::index::DEFAULT_METHODS.into());
    let consent = Consent {
        methods: crate::index::method_list(&methods_text),
        args: settings,
        granted,
        adding,
    };
    let url = provider.authorize_url(
        &app,
        &redirect_uri,
        &make_state(user, &nonce),
        &pkce_challenge(&verifier),
        &consent,
    );
    host.log(Level::Info, &format!("authorisation of {user} started"));
    Ok(Response::see_other(&url))
}

fn not_valid(request: &Request, detail: &str) -> Response {
    pages::message_page(
        400,
        "Authorisation link not valid",
        &format!(
            "{} Nothing was stored. Start again from the setup page: \
             <a href=\"{1}/page/setup.html\">{1}/page/setup.html</a>.",
            pages::escape(detail),
            pages::escape(&request.plugin_url())
        ),
    )
}

/// What the provider put on the redirect back: its query parameters.
struct Returned {
    query: Vec<(String, String)>,
}

impl Returned {
    fn get(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET /auth2?code=..&state=..`: the provider's redirect back.
pub fn auth2(host: &dyn Host, request: &Request) -> Result<Response> {
    let returned = Returned {
        query: request.query.clone(),
    };
    complete(host, request, &returned, None)
}

/// `POST /auth2` with `user` and `address`: the address the browser showed
/// after consent (a loopback page that did not load), pasted on the setup
/// page. The user of the form must be the user the address is for, and the
/// address must be the registered redirect URI itself.
pub fn paste_back(host: &dyn Host, request: &Request) -> Result<Response> {
    check_origin(request)?;
    let get = |name: &str| request.form_field(name).filter(|v| !v.is_empty());
    let Some(user) = get("user").filter(|u| valid_user(u)) else {
        return Err(PluginError::bad_request(
            "fitbitplugin/auth2: the form names no valid user",
        ));
    };
    let Some(address) = get("address") else {
        return Ok(not_valid(
            request,
            "Paste the whole address your browser showed after you allowed access.",
        ));
    };
    let Ok(url) = url::Url::parse(&address) else {
        return Ok(not_valid(
            request,
            &format!(
                "{:?} is not a web address: copy the whole address from the browser's \
                 address bar after allowing access.",
                crate::errors::echo(&address)
            ),
        ));
    };
    let returned = Returned {
        query: url.query_pairs().into_owned().collect(),
    };
    complete(host, request, &returned, Some((&user, &url)))
}

/// The checks and the code exchange both ways back share: the state names
/// the user and a nonce that must match the authorisation in progress,
/// which is used up at once; it must not have expired; then the code is
/// exchanged with the same redirect URI and PKCE verifier. `pasted` is the
/// form's user and the pasted address.
fn complete(
    host: &dyn Host,
    request: &Request,
    returned: &Returned,
    pasted: Option<(&str, &url::Url)>,
) -> Result<Response> {
    let Some((user, nonce)) = returned.get("state").and_then(parse_state) else {
        return Ok(not_valid(request, "The address carries no valid state."));
    };
    if !valid_user(user) {
        return Ok(not_valid(request, "The address names no valid user."));
    }
    if let Some((form_user, _)) = pasted
        && form_user != user
    {
        return Ok(not_valid(
            request,
            &format!("This address completes the authorisation of {user}, not of {form_user}."),
        ));
    }
    let paths = Paths::new(&request.context.plugin_name);
    let stored = host
        .store_get(&paths.pending_auth(user))
        .map_err(PluginError::store)?;
    let Some((pending_value, pending_revision)) = stored else {
        return Ok(not_valid(
            request,
            "This authorisation was already used or never started.",
        ));
    };
    let pending: Option<PendingAuth> = serde_json::from_value(pending_value).ok();
    let Some(pending) = pending.filter(|p| constant_time_eq(&p.nonce_sha256, &sha256_hex(nonce)))
    else {
        return Ok(not_valid(
            request,
            "This address does not match the authorisation in progress.",
        ));
    };
    if let Some((_, address)) = pasted {
        let mut bare = address.clone();
        bare.set_query(None);
        bare.set_fragment(None);
        if bare.as_str() != pending.redirect_uri {
            return Ok(not_valid(
                request,
                &format!(
                    "This is not the address the provider sent your browser to: it starts with \
                     {} and not with {}.",
                    bare.as_str(),
                    pending.redirect_uri
                ),
            ));
        }
    }
    // Single use: whoever deletes the record first owns the code.
    match host.store_delete(&paths.pending_auth(user), Some(pending_revision)) {
        Ok(true) => {}
        Ok(false) | Err(StoreFailure::Conflict(_)) => {
            return Ok(not_valid(request, "This authorisation was already used."));
        }
        Err(err) => return Err(PluginError::store(err)),
    }
    if pending.expires_at < host.now() {
        return Ok(not_valid(
            request,
            "The authorisation took longer than 10 minutes.",
        ));
    }
    if let Some(error) = returned.get("error") {
        let description = returned.get("error_description").unwrap_or("");
        return Ok(pages::message_page(
            400,
            "Authorisation refused",
            &format!(
                "The provider answered <code>{}</code> {}. Nothing was changed. \
                 <a href=\"{}/page/setup.html?user={}\">Back to setup</a>.",
                pages::escape(&crate::errors::echo(error)),
                pages::escape(&crate::errors::clip(
                    description,
                    crate::errors::UPSTREAM_CHARS
                )),
                pages::escape(&request.plugin_url()),
                pages::escape(user)
            ),
        ));
    }
    let Some(code) = returned.get("code").filter(|c| !c.is_empty()) else {
        return Err(PluginError::bad_request(
            "fitbitplugin/auth2 requires 'code' argument",
        ));
    };
    exchange(host, request, &paths, user, code, &pending)
}

/// Exchanges the code for a token and stores it.
fn exchange(
    host: &dyn Host,
    request: &Request,
    paths: &Paths,
    user: &str,
    code: &str,
    pending: &PendingAuth,
) -> Result<Response> {
    let app = AppSettings::load(host, paths)?;
    let client_id = app.require_client_id()?.to_string();
    let today = crate::dates::Date::from_epoch(host.now(), request.context.utc_offset_seconds);
    let provider = provider_for(&pending.provider, request, today)?;
    let exchange = provider.token_request(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &pending.redirect_uri),
            ("code_verifier", &pending.code_verifier),
            ("client_id", &client_id),
        ],
    );
    let name = provider.name();
    let response = host
        .fetch(&exchange)
        .map_err(|e| PluginError::upstream(format!("{name} OAuth2 error: token endpoint: {e}")))?;
    if !(200..300).contains(&response.status) {
        let message = match provider.token_error(&response) {
            TokenError::Gone => crate::errors::legacy_shutdown_message(&request.plugin_url(), user),
            TokenError::InvalidGrant(m) => {
                format!("{name} OAuth2 error: the code was refused: {m}")
            }
            TokenError::Other(m) => format!("{name} OAuth2 error: {m}"),
        };
        return Err(PluginError::upstream(message));
    }
    let mut token = response
        .json()
        .and_then(|v| token_from_response(&v, None, provider.id(), host.now()))
        .ok_or_else(|| {
            PluginError::upstream(format!(
                "{name} OAuth2 error: the token endpoint answered without an access token"
            ))
        })?;
    provider.after_authorisation(host, &mut token)?;
    // Re-authorising replaces whatever token the user had, and forgets the
    // incremental-sync bookkeeping (the account may be another one).
    host.store_put(&paths.token(user), &Value::Object(token), None)
        .map_err(PluginError::store)?;
    host.store_delete(&paths.sync(user), None)
        .map_err(PluginError::store)?;
    // Make sure the per-user element exists, as the setup page expects.
    if host
        .store_get(&paths.user(user))
        .map_err(PluginError::store)?
        .is_none()
    {
        let empty = Value::Object(as_object(None));
        let _ = host.store_put(&paths.user(user), &empty, Some(0));
    }
    crate::users::add(host, paths, user)?;
    crate::access::publish_notice(host, paths, user, None)?;
    host.log(Level::Info, &format!("authorisation of {user} completed"));
    Ok(pages::message_page(
        200,
        &format!("{name} access for {user} is set up"),
        &format!(
            "Igor can now fetch {0}'s data with <code>{1}?user={0}</code>. \
             <a href=\"{1}/page/setup.html?user={0}\">Back to the setup page</a>.",
            pages::escape(user),
            pages::escape(&request.plugin_url())
        ),
    ))
}
