//! HTML pages: the setup page and short result pages. Every value is
//! escaped; the client secret never appears.

use serde_json::{Map, Value};

use crate::api::Response;
use crate::json::as_text;
use crate::provider::AppSettings;

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:46em;margin:2em auto;padding:0 1em;line-height:1.5}\
    fieldset{margin:1em 0}label{display:block;margin:.4em 0}input[type=text],input[type=password],select{width:24em}\
    code{background:#f3f3f3;padding:0 .2em}.note{color:#555}\
    .notice{background:#fff4e5;border-left:4px solid #e69500;padding:.5em}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title>\
         <style>{STYLE}</style></head><body><h1>{0}</h1>\n{body}\n</body></html>\n",
        escape(title)
    )
}

/// A short page with a title and a message (HTML already escaped).
pub fn message_page(status: u16, title: &str, message_html: &str) -> Response {
    Response::html(status, page(title, &format!("<p>{message_html}</p>")))
}

/// What the setup page knows about one user.
pub struct UserView {
    pub name: String,
    /// `identities/U/plugindata/N`, if it exists.
    pub settings: Option<Map<String, Value>>,
    /// The token's provider and expiry, if there is a token.
    pub token: Option<(String, Option<f64>)>,
}

pub struct SetupView<'a> {
    /// The install name, for `returnTo` paths (`/plugin/N/...`).
    pub plugin_name: &'a str,
    pub plugin_url: &'a str,
    pub app: &'a AppSettings,
    pub secret_is_set: bool,
    pub user: Option<UserView>,
}

fn registration_help(view: &SetupView) -> String {
    let redirect = escape(&format!("{}/auth2", view.plugin_url));
    if view.app.provider == "fitbit" {
        return format!(
            "<h2>1. Register this installation with Fitbit</h2>\
             <p class=\"note\"><b>The legacy Fitbit Web API was turned off on 2026-11-02</b> \
             (every call answers 410 Gone); new users need the Google Health provider, and \
             existing legacy users must re-authorise with it.</p>\
             <p>Register an application at <a href=\"https://dev.fitbit.com/apps/new\">dev.fitbit.com/apps/new</a> \
             with OAuth 2.0 Application Type <b>Server</b>, Default Access Type <b>Read-only</b> and \
             this Callback URL, exactly:</p><p><code>{redirect}</code></p>"
        );
    }
    let scopes = crate::provider::google::ALL_SCOPES
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", escape(s)))
        .collect::<String>();
    format!(
        "<h2>1. Register this installation with Google</h2>\
         <ol>\
         <li>In the <a href=\"https://console.cloud.google.com/\">Google Cloud console</a>, \
         create a project (or choose one).</li>\
         <li>Under <i>APIs &amp; Services, Library</i>, enable the <b>Google Health API</b>.</li>\
         <li>Configure the <i>OAuth consent screen</i>: user type <b>External</b>. While its \
         publishing status is <b>Testing</b>, only listed test users (up to 100) can authorise \
         and their refresh tokens <b>expire after 7 days</b> (re-authorise weekly, or publish \
         the app; the Google Health scopes are restricted and need Google's verification for \
         production).</li>\
         <li>Add the scopes the users' methods need (the plugin asks only for those):<ul>{scopes}</ul></li>\
         <li>Under <i>Credentials</i>, create an <b>OAuth client ID</b> of type \
         <b>Web application</b> with this <b>Authorized redirect URI</b>, exactly:\
         <p><code>{redirect}</code></p></li>\
         <li>Enter its client id and client secret below.</li>\
         </ol>"
    )
}

fn settings_form(view: &SetupView) -> String {
    let url = escape(view.plugin_url);
    let client_id = escape(view.app.client_id.as_deref().unwrap_or(""));
    let system = view.app.system.as_deref().unwrap_or("");
    let option = |value: &str, label: &str| {
        format!(
            "<option value=\"{value}\"{}>{label}</option>",
            if system == value { " selected" } else { "" }
        )
    };
    let secret_note = if view.secret_is_set {
        "set (leave empty to keep it)"
    } else {
        "not set"
    };
    let return_to = escape(&setup_path(view, view.user.as_ref()));
    format!(
        "<h2>2. Application settings</h2>\
         <form method=\"post\" action=\"{url}/settings\">\
         <input type=\"hidden\" name=\"returnTo\" value=\"{return_to}\">\
         <label>Client id <input type=\"text\" name=\"client_id\" value=\"{client_id}\"></label>\
         <label>Client secret <input type=\"password\" name=\"client_secret\" value=\"\" autocomplete=\"off\"> \
         <span class=\"note\">{secret_note}</span></label>\
         <label>Provider <select name=\"provider\">{}</select></label>\
         <label>Units <select name=\"system\">{}{}{}</select></label>\
         <p class=\"note\">With Google Health and no units chosen, each user's own Google \
         display units are used (metric if they cannot be read).</p>\
         <button type=\"submit\">Save settings</button></form>",
        provider_options(&view.app.provider),
        option("", "metric (kg, km)"),
        option("en_US", "en_US: pounds, miles"),
        option("en_GB", "en_GB: stone, km"),
    )
}

fn provider_options(current: &str) -> String {
    [
        ("google-health", "Google Health API (google-health)"),
        (
            "fitbit",
            "legacy Fitbit Web API (fitbit), turned off 2026-11-02",
        ),
    ]
    .iter()
    .map(|(value, label)| {
        format!(
            "<option value=\"{value}\"{}>{label}</option>",
            if current == *value { " selected" } else { "" }
        )
    })
    .collect()
}

/// The setup page's path for `returnTo`, relative to the host's base URL
/// as in Igor (`/plugin/N/page/setup.html?user=U`).
fn setup_path(view: &SetupView, user: Option<&UserView>) -> String {
    let query = user
        .map(|u| format!("?user={}", u.name))
        .unwrap_or_default();
    format!("/plugin/{}/page/setup.html{query}", view.plugin_name)
}

fn user_section(view: &SetupView, user: &UserView) -> String {
    let url = escape(view.plugin_url);
    let name = escape(&user.name);
    let return_to = escape(&setup_path(view, Some(user)));
    let hidden = format!(
        "<input type=\"hidden\" name=\"user\" value=\"{name}\">\
         <input type=\"hidden\" name=\"returnTo\" value=\"{return_to}\">"
    );
    if user.settings.is_none() && user.token.is_none() {
        return format!(
            "<h2>3. User {name}</h2><p>{name} has no settings yet.</p>\
             <form method=\"post\" action=\"{url}/userSettings\">{hidden}\
             <button type=\"submit\">Create user {name}</button></form>\
             <p class=\"note\">To fetch data regularly, add an action calling \
             <code>/plugin/{}?user={name}</code> (see the README).</p>",
            escape(view.plugin_name)
        );
    }
    // A user with a token but no settings document gets the same form:
    // posting it creates the document.
    let no_settings = Map::new();
    let settings = user.settings.as_ref().unwrap_or(&no_settings);
    let mut fields = String::new();
    let mut has_methods = false;
    for (key, value) in settings {
        if matches!(key.as_str(), "token" | "auth") {
            continue;
        }
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
        "<h2>3. User {name}</h2>\
         <form method=\"post\" action=\"{url}/userSettings\">{hidden}{fields}\
         <label>New setting <input type=\"text\" name=\"_newName\" placeholder=\"e.g. period\"> = \
         <input type=\"text\" name=\"_newValue\" placeholder=\"e.g. 1m\"></label>\
         <button type=\"submit\">Modify</button></form>{}",
        token_section(view, user)
    )
}

fn token_section(view: &SetupView, user: &UserView) -> String {
    let url = escape(view.plugin_url);
    let name = escape(&user.name);
    let status = match &user.token {
        Some((provider, expires_at)) => format!(
            "{name} has already given permission (token from <b>{}</b>{}).",
            escape(provider),
            expires_at
                .map(|at| format!(
                    ", access token valid until {}, refreshed as needed",
                    utc_time(at)
                ))
                .unwrap_or_default()
        ),
        None => format!("{name} has not given permission yet."),
    };
    let legacy = match &user.token {
        Some((provider, _)) if provider == "fitbit" => format!(
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
        ),
        _ => String::new(),
    };
    format!(
        "{legacy}<p>{status} <a href=\"{url}/auth1?user={name}\">Authorise {name} with {}</a>.</p>\
         <form method=\"post\" action=\"{url}/userSettings\">\
         <input type=\"hidden\" name=\"user\" value=\"{name}\">\
         <input type=\"hidden\" name=\"delete\" value=\"true\">\
         <input type=\"hidden\" name=\"returnTo\" value=\"{}\">\
         <button type=\"submit\">Delete {name}'s settings and revoke the token</button></form>",
        provider_name(&view.app.provider),
        escape(&setup_path(view, Some(user)))
    )
}

/// `2026-11-25 17:46 UTC` for epoch seconds.
fn utc_time(epoch_seconds: f64) -> String {
    let seconds = epoch_seconds as i64;
    let minute_of_day = seconds.rem_euclid(86_400) / 60;
    format!(
        "{} {:02}:{:02} UTC",
        crate::dates::Date::from_epoch(epoch_seconds, 0),
        minute_of_day / 60,
        minute_of_day % 60
    )
}

fn provider_name(id: &str) -> &'static str {
    match id {
        "fitbit" => "Fitbit",
        _ => "Google Health",
    }
}

pub fn setup_page(view: &SetupView) -> Response {
    let url = escape(view.plugin_url);
    let mut body = format!(
        "<p>This plugin fetches health data (body weight by default) for Igor users and stores \
         it under <code>sensors/…/USER</code>. Provider: <b>{}</b>.</p>",
        escape(&view.app.provider)
    );
    body.push_str(&registration_help(view));
    body.push_str(&settings_form(view));
    match &view.user {
        Some(user) => body.push_str(&user_section(view, user)),
        None => body.push_str("<h2>3. Users</h2><p>Choose a user below.</p>"),
    }
    body.push_str(&format!(
        "<form method=\"get\" action=\"{url}/page/setup.html\"><label>Set up user \
         <input type=\"text\" name=\"user\"></label><button type=\"submit\">Go</button></form>"
    ));
    Response::html(200, page("Fitbit for Igor: setup", &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_shown_as_a_utc_time() {
        // 2026-11-25T09:46:40Z
        assert_eq!(utc_time(1_795_600_000.0), "2026-11-25 09:46 UTC");
        assert_eq!(utc_time(0.0), "1970-01-01 00:00 UTC");
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
