//! The setup page's users: every user at a glance (provider, permissions,
//! how long access lasts, last sync and its values, last error, a chart),
//! and the settings form of one user.

use super::{PendingRow, SetupView, UserForm, UserRow, provider_name, setup_path};
use crate::errors::clip;
use crate::html::{escape, utc_time};
use crate::json::as_text;
use crate::settings::document::MAX_SETTING_CHARS;

/// Most settings one user's form shows (what is not shown is kept).
const MAX_FORM_SETTINGS: usize = 50;
/// Longest setting name a form shows (the forms accept no longer ones).
const MAX_KEY_CHARS: usize = 64;
/// Most of the latest values a row shows, and their length.
const MAX_LATEST: usize = 8;
const LATEST_CHARS: usize = 200;
/// Longest last error a row shows.
const ERROR_CHARS: usize = 1000;

/// "3 days ago", "5 hours ago", "just now".
fn age(seconds: f64) -> String {
    let (value, unit) = if seconds >= 2.0 * 86_400.0 {
        (seconds / 86_400.0, "days")
    } else if seconds >= 2.0 * 3600.0 {
        (seconds / 3600.0, "hours")
    } else if seconds >= 120.0 {
        (seconds / 60.0, "minutes")
    } else {
        return "just now".into();
    };
    format!("{} {unit} ago", value.floor())
}

fn permissions(row: &UserRow) -> Option<String> {
    let token = row.token.as_ref()?;
    if token.provider != "google-health" {
        return Some("all the legacy Fitbit scopes".into());
    }
    if token.scopes.is_empty() {
        return Some("not recorded".into());
    }
    Some(
        token
            .scopes
            .iter()
            .map(|s| escape(crate::provider::google::scope_description(s)))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

fn access_line(row: &UserRow, now: f64) -> Option<String> {
    let access = &row.token.as_ref()?.access;
    let granted = access
        .granted_at
        .map(|at| format!("granted {} ({})", utc_time(at), age(now - at)))
        .unwrap_or_else(|| "granted before grant times were recorded".into());
    let end = match (access.ends_at, access.ended) {
        (Some(end), true) => format!("; <b>ended {}</b>", utc_time(end)),
        (Some(end), false) => format!("; ends {}", utc_time(end)),
        (None, _) => "; no end known (refreshed as needed)".into(),
    };
    Some(format!("{granted}{end}"))
}

fn last_sync(row: &UserRow, now: f64) -> String {
    match row.history.last_success {
        None => "never".into(),
        Some(at) => {
            let values = if row.latest.is_empty() {
                String::new()
            } else {
                let shown: Vec<String> = row
                    .latest
                    .iter()
                    .take(MAX_LATEST)
                    .map(|value| clip(value, LATEST_CHARS))
                    .collect();
                format!(": {}", escape(&shown.join("; ")))
            };
            format!("{} ({}){values}", utc_time(at), age(now - at))
        }
    }
}

fn chart_or_note(row: &UserRow, view: &SetupView) -> String {
    // Nothing to chart, and nothing to fill it with before an authorisation.
    if row.token.is_none() && row.history.weight.is_empty() && row.history.fat.is_empty() {
        return String::new();
    }
    let chart = crate::chart::chart(
        &row.name,
        &row.history.weight,
        &row.history.fat,
        row.units,
        view.today,
    );
    chart.unwrap_or_else(|| {
        format!(
            "<p class=\"note\">No weight or body fat from the last 90 days yet. Each run adds \
             what it fetched; <code>{}?user={}&amp;period=3m</code> fills the chart at once.</p>",
            escape(view.plugin_url),
            escape(&row.name)
        )
    })
}

/// The paste-back form: the address the browser showed after consent.
fn paste_form(view: &SetupView, name: &str, pending: &PendingRow) -> String {
    format!(
        "<form method=\"post\" action=\"{url}/auth2\" class=\"notice\">\
         <input type=\"hidden\" name=\"user\" value=\"{name}\">\
         <label>After allowing access, your browser showed an address starting with \
         <code>{uri}</code> that does not load. Paste it here before {until}: \
         <input type=\"url\" name=\"address\" autocomplete=\"off\" placeholder=\"{uri}?state=…\"></label>\
         <button type=\"submit\">Complete the authorisation of {name}</button></form>",
        url = escape(view.links),
        uri = escape(&view.redirect.uri),
        until = utc_time(pending.expires_at),
    )
}

/// What the row says about an authorisation in progress: the paste field
/// (when the owner completes by pasting), who may complete it, or that it
/// expired, with the link that starts again.
fn pending_part(view: &SetupView, name: &str, pending: &PendingRow) -> String {
    let url = escape(view.links);
    if pending.expired {
        return format!(
            "<p class=\"notice\">The authorisation of {name} expired at {}: it must be completed \
             within {} minutes of starting it. <a href=\"{url}/auth1?user={name}\">Start the \
             authorisation of {name} again</a>.</p>",
            utc_time(pending.expires_at),
            crate::pending::PENDING_AUTH_SECONDS / 60.0
        );
    }
    if !view.redirect.pastes_back() {
        return format!(
            "<p class=\"note\">An authorisation of {name} is under way until {}.</p>",
            utc_time(pending.expires_at)
        );
    }
    match &pending.started_by_other {
        None => paste_form(view, name, pending),
        Some(starter) => format!(
            "<p class=\"note\">An authorisation of {name} started by {} is under way until {}; \
             only they can complete it by pasting.</p>",
            escape(
                &starter
                    .as_deref()
                    .map(|caller| format!("the Igor user {caller}"))
                    .unwrap_or_else(|| "the host's owner".into())
            ),
            utc_time(pending.expires_at)
        ),
    }
}

fn legacy_note(view: &SetupView, name: &str) -> String {
    let url = escape(view.links);
    format!(
        "<p class=\"notice\"><b>{name} still has a legacy Fitbit token.</b> The legacy \
         Fitbit Web API was shut down on 2026-11-02 and no longer serves data. {}</p>",
        if view.app.provider == "fitbit" {
            "Choose the provider <code>google-health</code> above, enter the Google client \
             id and secret, then re-authorise this user; that replaces the legacy token."
                .to_string()
        } else {
            format!(
                "<a href=\"{url}/auth1?user={name}\">Re-authorise {name} with Google \
                 Health</a>; that replaces the legacy token."
            )
        }
    )
}

fn user_row(view: &SetupView, row: &UserRow) -> String {
    let url = escape(view.links);
    let name = escape(&row.name);
    let mut html = format!("<section class=\"user\" id=\"user-{name}\"><h3>{name}</h3>");
    if let Some(notice) = &row.notice {
        let link = format!("{}/auth1?user={}", view.links, row.name);
        html.push_str(&format!(
            "<p class=\"notice\">{} <a href=\"{}\">Authorise {name} again</a></p>",
            escape(notice),
            escape(&link)
        ));
    }
    let mut facts = vec![(
        "Provider",
        row.token
            .as_ref()
            .map(|t| provider_name(&t.provider).to_string())
            .unwrap_or_else(|| "none: not authorised yet".into()),
    )];
    if let Some(p) = permissions(row) {
        facts.push(("Permissions", p));
    }
    if let Some(a) = access_line(row, view.now) {
        facts.push(("Access", a));
    }
    facts.push(("Last sync", last_sync(row, view.now)));
    html.push_str("<dl>");
    for (term, value) in facts {
        html.push_str(&format!("<dt>{term}</dt><dd>{value}</dd>"));
    }
    if let Some(error) = &row.history.last_error {
        html.push_str(&format!(
            "<dt>Last error</dt><dd class=\"problem\">{} ({}): {}</dd>",
            utc_time(error.at),
            error.status,
            escape(&clip(&error.message, ERROR_CHARS))
        ));
    }
    html.push_str("</dl>");
    html.push_str(&chart_or_note(row, view));
    if matches!(&row.token, Some(t) if t.provider == "fitbit") {
        html.push_str(&legacy_note(view, &name));
    }
    let status = match &row.token {
        Some(token) => format!(
            "{name} has already given permission (token from <b>{}</b>{}).",
            escape(&token.provider),
            token
                .expires_at
                .map(|at| format!(
                    ", access token valid until {}, refreshed as needed",
                    utc_time(at)
                ))
                .unwrap_or_default()
        ),
        None => format!("{name} has not given permission yet."),
    };
    html.push_str(&format!(
        "<p>{status} <a href=\"{url}/auth1?user={name}\">Authorise {name} with {}</a>. \
         <a href=\"{url}/page/setup.html?user={name}\">Settings of {name}</a>.</p>",
        provider_name(&view.app.provider)
    ));
    if let Some(pending) = &row.pending {
        html.push_str(&pending_part(view, &name, pending));
    }
    html.push_str(&delete_form(view, &name));
    html.push_str("</section>");
    html
}

/// Deleting takes two steps: the summary opens the confirmation, whose
/// button posts the form.
fn delete_form(view: &SetupView, name: &str) -> String {
    format!(
        "<details class=\"delete\"><summary>Delete {name}…</summary>\
         <form method=\"post\" action=\"{url}/userSettings\" class=\"problem\">\
         <input type=\"hidden\" name=\"user\" value=\"{name}\">\
         <input type=\"hidden\" name=\"delete\" value=\"true\">\
         <input type=\"hidden\" name=\"returnTo\" value=\"{}\">\
         <p>This revokes {name}'s access at the provider and deletes {name}'s settings, token, \
         history and latest data (<code>sensors/{}/{name}</code>). It cannot be undone.</p>\
         <button type=\"submit\">Yes, delete {name}</button></form></details>",
        escape(&setup_path(view, None)),
        escape(view.plugin_name),
        url = escape(view.links),
    )
}

/// "Previous", where the page is, "Next".
fn paging_links(view: &SetupView) -> String {
    let paging = &view.paging;
    if paging.pages <= 1 {
        return String::new();
    }
    let url = escape(view.links);
    let link = |number: usize, text: &str| {
        format!("<a href=\"{url}/page/setup.html?page={number}\">{text}</a>")
    };
    let mut parts = Vec::new();
    if paging.number > 1 {
        parts.push(link(paging.number - 1, "Previous"));
    }
    parts.push(format!("page {} of {}", paging.number, paging.pages));
    if paging.number < paging.pages {
        parts.push(link(paging.number + 1, "Next"));
    }
    format!("<p class=\"pages\">{}</p>", parts.join(" · "))
}

pub(super) fn users_section(view: &SetupView) -> String {
    let mut html = String::from("<h2>3. Users</h2>");
    if !view.in_progress.is_empty() {
        html.push_str(
            "<h3>Authorisations in progress</h3><p class=\"note\">These users join the list \
             once their authorisation completes.</p>",
        );
        html.extend(view.in_progress.iter().map(|row| user_row(view, row)));
    }
    if view.users.is_empty() {
        html.push_str("<p>No users yet: set one up below.</p>");
        return html;
    }
    let paging = &view.paging;
    if paging.pages > 1 {
        html.push_str(&format!(
            "<p>Users {}–{} of {}.</p>",
            paging.first + 1,
            paging.first + view.users.len(),
            paging.total
        ));
    }
    let links = paging_links(view);
    html.push_str(&links);
    html.extend(view.users.iter().map(|row| user_row(view, row)));
    html.push_str(&links);
    html
}

/// The settings form of one user (a user without settings gets a button
/// that creates them).
pub(super) fn user_form(view: &SetupView, form: &UserForm) -> String {
    let url = escape(view.links);
    let name = escape(&form.name);
    let return_to = escape(&setup_path(view, Some(&form.name)));
    let hidden = format!(
        "<input type=\"hidden\" name=\"user\" value=\"{name}\">\
         <input type=\"hidden\" name=\"returnTo\" value=\"{return_to}\">"
    );
    if form.settings.is_none() && !form.has_token {
        return format!(
            "<h2>Settings of {name}</h2><p>{name} has no settings yet.</p>\
             <form method=\"post\" action=\"{url}/userSettings\">{hidden}\
             <button type=\"submit\">Create user {name}</button></form>\
             <p class=\"note\">{name} has not given permission yet. To fetch data regularly, add \
             an action calling <code>/plugin/{}?user={name}</code> (see the README).</p>",
            escape(view.plugin_name)
        );
    }
    // A user with a token but no settings document gets the same form:
    // posting it creates the document.
    let mut fields = String::new();
    let mut has_methods = false;
    let settings: Vec<_> = form.settings.iter().flatten().collect();
    // What is not shown is not posted, so it is kept as it is.
    for (key, value) in settings.iter().take(MAX_FORM_SETTINGS) {
        has_methods |= key.as_str() == "methods";
        let value = as_text(value).unwrap_or_default();
        let length = value.chars().count();
        if length > MAX_SETTING_CHARS || key.chars().count() > MAX_KEY_CHARS {
            fields.push_str(&format!(
                "<p class=\"note\">The setting {} ({length} characters) is too long to show \
                 here; it is kept.</p>",
                escape(&clip(key, MAX_KEY_CHARS))
            ));
            continue;
        }
        fields.push_str(&format!(
            "<label>{0} <input type=\"text\" name=\"{0}\" value=\"{1}\"></label>",
            escape(key),
            escape(&value)
        ));
    }
    if settings.len() > MAX_FORM_SETTINGS {
        fields.push_str(&format!(
            "<p class=\"note\">{} more settings are not shown; they are kept.</p>",
            settings.len() - MAX_FORM_SETTINGS
        ));
    }
    if !has_methods {
        fields.push_str(
            "<label>methods <input type=\"text\" name=\"methods\" value=\"\" \
             placeholder=\"get_bodyweight\"></label>",
        );
    }
    format!(
        "<h2>Settings of {name}</h2>\
         <form method=\"post\" action=\"{url}/userSettings\">{hidden}{fields}\
         <label>New setting <input type=\"text\" name=\"_newName\" placeholder=\"e.g. period\"> = \
         <input type=\"text\" name=\"_newValue\" placeholder=\"e.g. 1m\"></label>\
         <button type=\"submit\">Modify</button></form>"
    )
}
