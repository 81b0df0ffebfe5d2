//! The OAuth browser round trip: `auth1` sends the browser to the provider
//! with a single-use state nonce and a PKCE challenge; the provider sends
//! it back to `auth2`, which checks the state and stores the token.

use serde_json::Value;

use crate::api::{Request, Response};
use crate::errors::{PluginError, Result};
use crate::host::{Host, Level, StoreFailure};
use crate::json::{as_object, text_field};
use crate::oauth::{
    PENDING_AUTH_SECONDS, PendingAuth, constant_time_eq, hex, make_state, new_verifier,
    parse_state, pkce_challenge, sha256_hex, token_from_response,
};
use crate::pages;
use crate::paths::{Paths, valid_user};
use crate::provider::{AppSettings, TokenError, provider_for, require_client_secret};

/// `GET /auth1?user=U`: start authorising U with the installation's provider.
pub fn auth1(host: &dyn Host, request: &Request) -> Result<Response> {
    let Some(user) = request.query("user").filter(|u| !u.is_empty()) else {
        return Err(PluginError::bad_request(
            "fitbitplugin/auth1 requires 'user' argument",
        ));
    };
    if !valid_user(user) {
        return Err(PluginError::bad_request(format!(
            "fitbitplugin/auth1: {user:?} is not a valid user name"
        )));
    }
    let paths = Paths::new(&request.context.plugin_name);
    let app = AppSettings::load(host, &paths)?;
    app.require_client_id()?;
    require_client_secret(host)?;
    let today = crate::dates::Date::from_epoch(host.now(), request.context.utc_offset_seconds);
    let provider = provider_for(&app.provider, request, today)?;

    let nonce = hex(&host.random_bytes(32));
    let verifier = new_verifier(host);
    let redirect_uri = format!("{}/auth2", request.plugin_url());
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
    let user_doc = host
        .store_get(&paths.user(user))
        .map_err(PluginError::store)?
        .map(|(doc, _)| doc)
        .unwrap_or(Value::Null);
    let methods = crate::index::method_list(
        &text_field(&user_doc, "methods").unwrap_or_else(|| crate::index::DEFAULT_METHODS.into()),
    );
    let url = provider.authorize_url(
        &app,
        &redirect_uri,
        &make_state(user, &nonce),
        &pkce_challenge(&verifier),
        &methods,
        &as_object(Some(&user_doc)),
    );
    host.log(Level::Info, &format!("authorisation of {user} started"));
    Ok(Response::see_other(&url))
}

fn expired_link(request: &Request, detail: &str) -> Response {
    pages::message_page(
        400,
        "Authorisation link not valid",
        &format!(
            "{detail} Start again from the setup page: <a href=\"{0}/page/setup.html\">{0}/page/setup.html</a>.",
            pages::escape(&request.plugin_url())
        ),
    )
}

/// `GET /auth2?code=..&state=..`: the provider's redirect back.
pub fn auth2(host: &dyn Host, request: &Request) -> Result<Response> {
    let Some((user, nonce)) = request.query("state").and_then(parse_state) else {
        return Ok(expired_link(request, "The link carries no valid state."));
    };
    if !valid_user(user) {
        return Ok(expired_link(request, "The link names no valid user."));
    }
    let paths = Paths::new(&request.context.plugin_name);
    let stored = host
        .store_get(&paths.pending_auth(user))
        .map_err(PluginError::store)?;
    let Some((pending_value, pending_revision)) = stored else {
        return Ok(expired_link(
            request,
            "This authorisation was already used or never started.",
        ));
    };
    let pending: Option<PendingAuth> = serde_json::from_value(pending_value).ok();
    let Some(pending) = pending.filter(|p| constant_time_eq(&p.nonce_sha256, &sha256_hex(nonce)))
    else {
        return Ok(expired_link(
            request,
            "This link does not match the authorisation in progress.",
        ));
    };
    // Single use: whoever deletes the record first owns the code.
    match host.store_delete(&paths.pending_auth(user), Some(pending_revision)) {
        Ok(true) => {}
        Ok(false) | Err(StoreFailure::Conflict(_)) => {
            return Ok(expired_link(
                request,
                "This authorisation was already used.",
            ));
        }
        Err(err) => return Err(PluginError::store(err)),
    }
    if pending.expires_at < host.now() {
        return Ok(expired_link(
            request,
            "The authorisation took longer than 10 minutes.",
        ));
    }
    if let Some(error) = request.query("error") {
        let description = request.query("error_description").unwrap_or("");
        return Ok(pages::message_page(
            400,
            "Authorisation refused",
            &format!(
                "The provider answered <code>{}</code> {}. Nothing was changed. \
                 <a href=\"{}/page/setup.html?user={}\">Back to setup</a>.",
                pages::escape(error),
                pages::escape(description),
                pages::escape(&request.plugin_url()),
                pages::escape(user)
            ),
        ));
    }
    let Some(code) = request.query("code").filter(|c| !c.is_empty()) else {
        return Err(PluginError::bad_request(
            "fitbitplugin/auth2 requires 'code' argument",
        ));
    };
    let app = AppSettings::load(host, &paths)?;
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
