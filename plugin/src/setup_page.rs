//! `GET /page/setup.html[?user=U][&page=P]`: the setup page as the store
//! has it. Its size is bounded whatever is stored: the list of users is
//! shown [`USERS_PER_PAGE`] at a time, the authorisations in progress are
//! capped (see [`crate::pending`]), and each row and form shows a bounded
//! part of what it describes.

use serde_json::Value;

use crate::access::Access;
use crate::dates::Date;
use crate::errors::{PluginError, Result, echo};
use crate::history::{History, latest_values, units_of};
use crate::html::link_root;
use crate::json::{field, into_object};
use crate::pages::Done;
use crate::pages::{self, Paging, PendingRow, SetupView, TokenView, UserForm, UserRow};
use crate::paths::{Paths, user_settings_only, valid_user};
use crate::pending::{Pending, PendingAuth};
use crate::provider::{AppSettings, provider_for};
use crate::settings::document::client_secret_is_set;
use igor_plugin_sdk::{Host, Request, Response};

/// Rows of the list of users on one page.
pub const USERS_PER_PAGE: usize = 20;

/// What the page reads from the store for one user.
struct Reader<'a> {
    host: &'a dyn Host,
    request: &'a Request,
    paths: &'a Paths,
    app: &'a AppSettings,
    now: f64,
}

impl Reader<'_> {
    fn read(&self, path: &str) -> Result<Option<Value>> {
        Ok(self
            .host
            .store_get(path)
            .map_err(PluginError::store)?
            .map(|(value, _)| value))
    }

    fn row(&self, name: String, pending: Option<&PendingAuth>) -> Result<UserRow> {
        let (paths, app, now) = (self.paths, self.app, self.now);
        let token = self.read(&paths.token(&name))?.map(into_object);
        let history = History::load(self.host, paths, &name);
        let sync = self.read(&paths.sync(&name))?.map(into_object);
        let sensors = self.read(&paths.sensors(&name))?.map(into_object);
        let provider = token
            .as_ref()
            .and_then(|t| field(t, "provider"))
            .unwrap_or_else(|| "fitbit".into());
        let units = units_of(app, &provider, &sync.unwrap_or_default());
        let token_view = token.map(|token| TokenView {
            scopes: field(&token, "scope")
                .map(|s| s.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
            expires_at: token.get("expires_at").and_then(crate::json::as_f64),
            provider: provider.clone(),
            access: Access::of(app, &token, &history, now),
        });
        let caller = &self.request.context.caller;
        Ok(UserRow {
            notice: token_view
                .as_ref()
                .and_then(|t| t.access.notice(&name, &self.request.plugin_url(), now)),
            latest: latest_values(&sensors.unwrap_or_default(), units),
            token: token_view,
            history,
            units,
            pending: pending.map(|auth| PendingRow {
                expires_at: auth.expires_at,
                expired: auth.expired(now),
                started_by_other: (auth.caller != *caller).then(|| auth.caller.clone()),
            }),
            name,
        })
    }
}

/// `?page=N`: 1 when absent; a number beyond the last page shows the last.
fn page_number(request: &Request) -> Result<usize> {
    match request.query("page").filter(|p| !p.is_empty()) {
        None => Ok(1),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                PluginError::bad_request(format!(
                    "Fitbitplugin: {:?} is not a page number",
                    echo(text)
                ))
            }),
    }
}

/// `done=` of the page a form returned to.
fn done(request: &Request) -> Option<Done> {
    [Done::Settings, Done::User, Done::Deleted]
        .into_iter()
        .find(|d| request.query("done") == Some(d.name()))
}

pub fn setup_page(host: &dyn Host, request: &Request) -> Result<Response> {
    let paths = Paths::new(&request.context.plugin_name);
    let app = AppSettings::load(host, &paths)?;
    let secret_is_set = client_secret_is_set(host, &paths)?;
    let now = host.now();
    let today = Date::from_epoch(now, request.context.utc_offset_seconds);
    let named = request.query("user").filter(|u| !u.is_empty());
    if let Some(name) = named.filter(|name| !valid_user(name)) {
        return Err(PluginError::bad_request(format!(
            "Fitbitplugin: {:?} is not a valid user name",
            echo(name)
        )));
    }
    let number = page_number(request)?;
    let reader = Reader {
        host,
        request,
        paths: &paths,
        app: &app,
        now,
    };
    let form_of = |name: &str| -> Result<UserForm> {
        Ok(UserForm {
            settings: reader
                .read(&paths.user(name))?
                .map(|doc| user_settings_only(&doc)),
            has_token: reader.read(&paths.token(name))?.is_some(),
            name: name.to_string(),
        })
    };
    // A user named in the query gets their form; the caller Igor names only
    // when they are a user of this plugin (not every logged-in Igor user).
    let form = match (named, &request.context.caller) {
        (Some(name), _) => Some(form_of(name)?),
        (None, Some(caller)) if valid_user(caller) => {
            Some(form_of(caller)?).filter(|f| f.settings.is_some() || f.has_token)
        }
        (None, _) => None,
    };
    let mut names = crate::users::list(host, &paths)?;
    // Users from before the list existed are shown when named.
    if let Some(form) = &form
        && (form.settings.is_some() || form.has_token)
        && !names.contains(&form.name)
    {
        names.push(form.name.clone());
        names.sort();
    }
    let pending = Pending::load(host, &paths)?.by_user;
    let pages = names.len().div_ceil(USERS_PER_PAGE).max(1);
    let number = number.min(pages);
    let first = (number - 1) * USERS_PER_PAGE;
    let mut users = Vec::new();
    for name in names.iter().skip(first).take(USERS_PER_PAGE) {
        users.push(reader.row(name.clone(), pending.get(name))?);
    }
    // Not yet users: listed only while they can still be completed.
    let mut in_progress = Vec::new();
    if number == 1 {
        for (name, auth) in &pending {
            if !names.contains(name) && !auth.expired(now) && valid_user(name) {
                in_progress.push(reader.row(name.clone(), Some(auth))?);
            }
        }
    }
    let plugin_url = request.plugin_url();
    let links = link_root(&plugin_url);
    let viewed_at = request
        .header("x-forwarded-host")
        .or_else(|| request.header("host"))
        .and_then(|value| value.split(',').next());
    let redirect = provider_for(&app.provider, request, today)?
        .redirect(&plugin_url)
        .viewed_at(viewed_at);
    Ok(pages::setup_page(&SetupView {
        plugin_name: &request.context.plugin_name,
        plugin_url: &plugin_url,
        links: &links,
        app: &app,
        secret_is_set,
        redirect,
        users,
        paging: Paging {
            number,
            pages,
            total: names.len(),
            first,
        },
        in_progress,
        done: done(request).map(|d| (d, named.map(str::to_string))),
        form,
        now,
        today,
        webhook: crate::webhook::page_view(host, request, &paths, &app, &names)?,
    }))
}
