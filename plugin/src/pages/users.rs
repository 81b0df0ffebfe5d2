//! The setup page's users: every user at a glance (provider, permissions,
//! how long access lasts, last sync and its values, last error, a chart),
//! and the settings form of one user.

use super::{SetupView, UserForm, UserRow, escape, provider_name, setup_path, utc_time};
use crate::json::as_text;

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
                format!(": {}", escape(&row.latest.join("; ")))
            };
            format!("{} ({}){values}", utc_time(at), age(now - at))
        }
    }
}

fn chart_or_note(row: &UserRow, view: &SetupView) -> String {
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
fn paste_form(view: &SetupView, name: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{url}/auth2\" class=\"notice\">\
         <input type=\"hidden\" name=\"user\" value=\"{name}\">\
         <label>After allowing access, your browser showed an address starting with \
         <code>{uri}</code> that does not load. Paste it here: \
         <input type=\"url\" name=\"address\" autocomplete=\"off\" placeholder=\"{uri}?state=…\"></label>\
         <button type=\"submit\">Complete the authorisation of {name}</button></form>",
        url = escape(view.plugin_url),
        uri = escape(&view.redirect.uri),
    )
}

fn legacy_note(view: &SetupView, name: &str) -> String {
    let url = escape(view.plugin_url);
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
    let url = escape(view.plugin_url);
    let name = escape(&row.name);
    let mut html = format!("<section class=\"user\" id=\"user-{name}\"><h3>{name}</h3>");
    if let Some(notice) = &row.notice {
        let link = format!("{}/auth1?user={}", view.plugin_url, row.name);
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
            escape(&error.message)
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
    if view.redirect.pastes_back() && row.authorising {
        html.push_str(&paste_form(view, &name));
    }
    html.push_str(&format!(
        "<form method=\"post\" action=\"{url}/userSettings\">\
         <input type=\"hidden\" name=\"user\" value=\"{name}\">\
         <input type=\"hidden\" name=\"delete\" value=\"true\">\
         <input type=\"hidden\" name=\"returnTo\" value=\"{}\">\
         <button type=\"submit\">Delete {name}'s settings and revoke the token</button></form>\
         </section>",
        escape(&setup_path(view, None))
    ));
    html
}

pub(super) fn users_section(view: &SetupView) -> String {
    if view.users.is_empty() {
        return "<h2>3. Users</h2><p>No users yet: set one up below.</p>".into();
    }
    let rows: String = view.users.iter().map(|row| user_row(view, row)).collect();
    format!("<h2>3. Users</h2>{rows}")
}

/// The settings form of one user (a user without settings gets a button
/// that creates them).
pub(super) fn user_form(view: &SetupView, form: &UserForm) -> String {
    let url = escape(view.plugin_url);
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
    for (key, value) in form.settings.iter().flatten() {
        has_methods |= key == "methods";
        let value = as_text(value).unwrap_or_default();
        fields.push_str(&format!(
            "<label>{0} <input type=\"text\" name=\"{0}\" value=\"{1}\"></label>",
            escape(key),
            escape(&value)
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
