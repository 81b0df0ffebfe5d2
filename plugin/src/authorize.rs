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
//!
//! An authorisation in progress is kept in [`crate::pending`] (bounded, and
//! usable for 10 minutes) with the Igor user who started it: the state
//! alone authenticates the provider's redirect, but a paste is completed
//! only for that same caller. The user joins the list of users when the
//! authorisation completes.

use serde_json::Value;

use crate::digest::{constant_time_eq, hex, sha256_hex};
use crate::errors::{PluginError, Result};
use crate::history::History;
use crate::html::{escape, link_root, utc_time};
use crate::json::{as_object, field, into_object};
use crate::oauth::{make_state, new_verifier, parse_state, pkce_challenge, token_from_response};
use crate::pages;
use crate::paths::{Paths, user_settings_only, valid_user};
use crate::pending::{self, PENDING_AUTH_SECONDS, Pending, PendingAuth};
use crate::provider::{AppSettings, Consent, TokenError, client_refused, provider_for};
use crate::settings::check_origin;
use crate::settings::document::require_client_secret;
use igor_plugin_sdk::{Host, Level};
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
    refuse_other_sites(request)?;
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
        caller: request.context.caller.clone(),
    };
    pending::start(host, &paths, user, pending)?;
    let read = |path: &str| -> Result<Value> {
        Ok(host
            .store_get(path)
            .map_err(PluginError::store)?
            .map_or(Value::Null, |(doc, _)| doc))
    };
    let settings = user_settings_only(&read(&paths.user(user))?);
    let token = into_object(read(&paths.token(user))?);
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
        .unwrap_or_else(|| crate::provider::methods::DEFAULT_METHODS.into());
    let consent = Consent {
        methods: crate::provider::methods::method_list(&methods_text),
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

/// A browser says where a request comes from (`Sec-Fetch-Site`): an
/// authorisation starts from the setup page (`same-origin`), a typed or
/// bookmarked address (`none`), or a client that is no browser (no header).
/// Another site's page (an `<img>` or link on it) must not fill the slots of
/// authorisations in progress, nor start one in the owner's name.
fn refuse_other_sites(request: &Request) -> Result<()> {
    match request.header("sec-fetch-site") {
        Some(site) if !matches!(site.trim(), "same-origin" | "none") => {
            Err(PluginError::forbidden(
                "Fitbitplugin starts an authorisation only from its own setup page; this \
                 request came from another site, so nothing was started",
            ))
        }
        _ => Ok(()),
    }
}

fn not_valid(request: &Request, detail: &str) -> Response {
    pages::message_page(
        400,
        "Authorisation link not valid",
        &format!(
            "{} Nothing was stored. Start again from the setup page: \
             <a href=\"{1}/page/setup.html\">{1}/page/setup.html</a>.",
            escape(detail),
            escape(&link_root(&request.plugin_url()))
        ),
    )
}

/// A late return: when it expired, and the link that starts again.
fn expired(request: &Request, user: &str, auth: &PendingAuth) -> Response {
    let root = escape(&link_root(&request.plugin_url()));
    pages::message_page(
        400,
        "Authorisation expired",
        &format!(
            "This authorisation of {user} expired at {at}: it must be completed within {minutes} \
             minutes of starting it. Nothing was stored. \
             <a href=\"{root}/auth1?user={user}\">Start the authorisation of {user} again</a> \
             (or go back to the <a href=\"{root}/page/setup.html?user={user}\">setup page</a>).",
            user = escape(user),
            at = utc_time(auth.expires_at),
            minutes = PENDING_AUTH_SECONDS / 60.0,
        ),
    )
}

/// A paste by another caller than the one who started the authorisation.
fn not_the_starter(request: &Request, user: &str, auth: &PendingAuth) -> Response {
    let started_by = match &auth.caller {
        Some(caller) => format!("the Igor user {caller}"),
        None => "a caller Igor did not name (the host's owner)".into(),
    };
    pages::message_page(
        403,
        "Not your authorisation",
        &format!(
            "This authorisation of {user} was started by {started_by}, and only they can complete \
             it by pasting the address. Nothing was changed: it stays theirs until {at}. \
             <a href=\"{root}/page/setup.html?user={user}\">Back to the setup page</a>.",
            user = escape(user),
            started_by = escape(&started_by),
            at = utc_time(auth.expires_at),
            root = escape(&link_root(&request.plugin_url())),
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
/// the user and a nonce that must match the authorisation in progress (a
/// paste also its caller and its redirect URI); it must not have expired;
/// it is then used up, and the code exchanged with the same redirect URI
/// and PKCE verifier. `pasted` is the form's user and the pasted address.
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
    let Some(pending) = Pending::load(host, &paths)?.by_user.remove(user) else {
        return Ok(not_valid(
            request,
            "This authorisation was already used or never started.",
        ));
    };
    if !constant_time_eq(&pending.nonce_sha256, &sha256_hex(nonce)) {
        return Ok(not_valid(
            request,
            "This address does not match the authorisation in progress.",
        ));
    }
    if let Some((_, address)) = pasted {
        // Only the redirect is authenticated by the state alone: a pasted
        // address may have been seen by anyone, so it completes only for
        // the caller who started the authorisation.
        if pending.caller != request.context.caller {
            return Ok(not_the_starter(request, user, &pending));
        }
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
    // Kept, so that the page and a later paste can still say when it expired.
    if pending.expired(host.now()) {
        return Ok(expired(request, user, &pending));
    }
    let code = returned.get("code").filter(|c| !c.is_empty());
    let error = returned.get("error");
    if code.is_none() && error.is_none() {
        return Ok(not_valid(
            request,
            "The address carries neither a code nor an error from the provider.",
        ));
    }
    // What the exchange needs, before the record is used up.
    let app = AppSettings::load(host, &paths)?;
    app.require_client_id()?;
    let today = crate::dates::Date::from_epoch(host.now(), request.context.utc_offset_seconds);
    let provider = provider_for(&pending.provider, request, today)?;
    // Single use: whoever takes the record out first owns the code.
    if !pending::take(host, &paths, user, &pending.nonce_sha256)? {
        return Ok(not_valid(request, "This authorisation was already used."));
    }
    if let Some(error) = error {
        let description = returned.get("error_description").unwrap_or("");
        return Ok(pages::message_page(
            400,
            "Authorisation refused",
            &format!(
                "The provider answered <code>{}</code> {}. Nothing was changed. \
                 <a href=\"{}/page/setup.html?user={}\">Back to setup</a>.",
                escape(&crate::errors::echo(error)),
                escape(&crate::errors::clip(
                    description,
                    crate::errors::UPSTREAM_CHARS
                )),
                escape(&link_root(&request.plugin_url())),
                escape(user)
            ),
        ));
    }
    let code = code.expect("a code when there is no error");
    let exchange = Exchange {
        paths: &paths,
        user,
        pending: &pending,
        app: &app,
        provider: provider.as_ref(),
    };
    exchange.run(host, request, code)
}

/// A code exchange of `user`'s authorisation, taken out of the pending ones.
struct Exchange<'a> {
    paths: &'a Paths,
    user: &'a str,
    pending: &'a PendingAuth,
    app: &'a AppSettings,
    provider: &'a dyn crate::provider::Provider,
}

impl Exchange<'_> {
    /// Exchanges the code for a token and stores it.
    fn run(&self, host: &dyn Host, request: &Request, code: &str) -> Result<Response> {
        let Self {
            paths,
            user,
            pending,
            app,
            provider,
        } = *self;
        let client_id = app.require_client_id()?;
        let exchange = provider.token_request(
            app,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &pending.redirect_uri),
                ("code_verifier", &pending.code_verifier),
                ("client_id", client_id),
            ],
        );
        let name = provider.name();
        let response = match host.fetch(&exchange) {
            Ok(response) => response,
            // The code did not reach the provider, or its answer was lost: it
            // may be tried again.
            Err(e) => {
                let message = format!("{name} OAuth2 error: token endpoint: {e}");
                return failed(host, request, paths, user, pending, &message, true);
            }
        };
        if !(200..300).contains(&response.status) {
            let message = match provider.token_error(&response) {
                TokenError::Gone => {
                    crate::errors::legacy_shutdown_message(&request.plugin_url(), user)
                }
                TokenError::InvalidGrant(m) => {
                    format!("{name} OAuth2 error: the code was refused: {m}")
                }
                TokenError::Other(m) => format!("{name} OAuth2 error: {m}"),
            };
            // Refused client credentials: the provider did not look at the code.
            let retry = client_refused(&response);
            return failed(host, request, paths, user, pending, &message, retry);
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
             <a href=\"{2}/page/setup.html?user={0}\">Back to the setup page</a>.",
                escape(user),
                escape(&request.plugin_url()),
                escape(&link_root(&request.plugin_url()))
            ),
        ))
    }
}

/// A code exchange that failed: recorded as the user's last error (the
/// setup page shows it in the user's row), and answered with a page that
/// says what is wrong and the way back. With `retry`, the code was not used
/// up: the authorisation is kept, so that after correcting the client
/// secret the owner tries the same address again, without a new consent.
fn failed(
    host: &dyn Host,
    request: &Request,
    paths: &Paths,
    user: &str,
    pending: &PendingAuth,
    message: &str,
    retry: bool,
) -> Result<Response> {
    let mut history = History::load(host, paths, user);
    history.record_failure(502, message, host.now());
    history.save(host, paths, user);
    host.log(
        Level::Warn,
        &format!("authorisation of {user} failed: {message}"),
    );
    let root = escape(&link_root(&request.plugin_url()));
    let user_html = escape(user);
    let next = if retry {
        pending::restore(host, paths, user, pending)?;
        let again = if request.method == "POST" {
            format!(
                "paste the same address again in {user_html}'s row on the \
                 <a href=\"{root}/page/setup.html?user={user_html}\">setup page</a>"
            )
        } else {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&request.query)
                .finish();
            format!(
                "<a href=\"{root}/auth2?{}\">try this address again</a>",
                escape(&query)
            )
        };
        format!(
            "Your consent is kept until {}: correct the client id or secret on the \
             <a href=\"{root}/page/setup.html\">setup page</a>, then {again}.",
            utc_time(pending.expires_at)
        )
    } else {
        format!(
            "<a href=\"{root}/page/setup.html?user={user_html}\">Back to the setup page</a>, \
             where you can start the authorisation of {user_html} again."
        )
    };
    Ok(pages::message_page(
        502,
        &format!("Authorisation of {user} not completed"),
        &format!(
            "{}</p><p>{next}",
            escape(&crate::errors::clip(
                message,
                2 * crate::errors::UPSTREAM_CHARS
            ))
        ),
    ))
}
