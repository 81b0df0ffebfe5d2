//! HTML pages: the setup page and short result pages. Every value is
//! escaped; the client secret never appears; no scripts, no external
//! resources; readable in the browser's light and dark schemes.

mod registration;
mod users;
mod webhook;

pub use webhook::WebhookView;

use serde_json::{Map, Value};

use crate::access::Access;
use crate::history::History;
use crate::html::escape;
use crate::provider::AppSettings;
use crate::provider::google::convert::Units;
use crate::redirect::Redirect;
use igor_plugin_sdk::Response;

/// What a form did, for the page it returns to (`done=` in its query),
/// which confirms it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    Settings,
    User,
    Deleted,
}

impl Done {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Settings => "settings",
            Self::User => "user",
            Self::Deleted => "deleted",
        }
    }
}

const STYLE: &str = ":root{color-scheme:light dark}\
    body{font-family:system-ui,sans-serif;max-width:50em;margin:2em auto;padding:0 1em;line-height:1.5;\
    background:#fff;color:#1d1d1f}\
    fieldset{margin:1em 0}label{display:block;margin:.4em 0}\
    input[type=text],input[type=password],input[type=url],select{width:24em;max-width:100%}\
    code{background:#f0f0f0;padding:0 .2em;overflow-wrap:anywhere}.note{color:#555}\
    .notice{background:#fff4e5;border-left:4px solid #e69500;padding:.5em}\
    .problem{background:#fdecea;border-left:4px solid #c62828;padding:.5em}\
    .saved{background:#e8f5e9;border-left:4px solid #2e7d32;padding:.5em}\
    .user{border:1px solid #ccc;border-radius:6px;padding:.2em 1em;margin:1em 0}\
    .user dl{display:grid;grid-template-columns:max-content 1fr;gap:.1em 1em}.user dd{margin:0}\
    .chart{max-width:100%;height:auto;color:#1d1d1f}.chart text{fill:currentColor;font-size:11px}\
    .chart .axis{stroke:currentColor;opacity:.5}\
    .chart .w{stroke:#1565c0}.chart circle.w,.chart .wl{fill:#1565c0}\
    .chart .f{stroke:#c2185b}.chart circle.f,.chart .fl{fill:#c2185b}\
    @media (prefers-color-scheme:dark){body{background:#16181d;color:#e6e6e6}\
    code{background:#2a2d35}.note{color:#aaa}.user{border-color:#444}\
    .notice{background:#3a2a0a}.problem{background:#3b1414}.saved{background:#13301a}a{color:#8ab4f8}\
    .chart{color:#e6e6e6}.chart .w{stroke:#64b5f6}.chart circle.w,.chart .wl{fill:#64b5f6}\
    .chart .f{stroke:#f48fb1}.chart circle.f,.chart .fl{fill:#f48fb1}}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{0}</title>\
         <style>{STYLE}</style></head><body><h1>{0}</h1>\n{body}\n</body></html>\n",
        escape(title)
    )
}

/// A short page with a title and a message (HTML already escaped).
pub fn message_page(status: u16, title: &str, message_html: &str) -> Response {
    Response::html(status, page(title, &format!("<p>{message_html}</p>")))
}

fn provider_name(id: &str) -> &'static str {
    match id {
        "fitbit" => "Fitbit",
        _ => "Google Health",
    }
}

/// A user's token as the setup page shows it (never the token itself).
pub struct TokenView {
    pub provider: String,
    /// The granted scopes (`scope`), as the provider reported them.
    pub scopes: Vec<String>,
    /// When the access token expires (it is refreshed as needed).
    pub expires_at: Option<f64>,
    pub access: Access,
}

/// One user's state at a glance.
pub struct UserRow {
    pub name: String,
    pub token: Option<TokenView>,
    pub history: History,
    /// The newest values of the last successful run, in words.
    pub latest: Vec<String>,
    pub units: Units,
    /// The notice the owner must act on, if any.
    pub notice: Option<String>,
    /// The user's authorisation in progress, if any.
    pub pending: Option<PendingRow>,
}

/// An authorisation in progress as a user's row shows it.
pub struct PendingRow {
    pub expires_at: f64,
    pub expired: bool,
    /// Who started it, when that is not who views the page: only they can
    /// complete it by pasting (`None` for the host's owner).
    pub started_by_other: Option<Option<String>>,
}

/// Which part of the list of users a page shows.
pub struct Paging {
    /// 1-based.
    pub number: usize,
    pub pages: usize,
    /// Users in the list.
    pub total: usize,
    /// Index of the first user shown.
    pub first: usize,
}

/// The settings form of one user (`?user=U`).
pub struct UserForm {
    pub name: String,
    /// The user's settings without the plugin's bookkeeping, if they exist.
    pub settings: Option<Map<String, Value>>,
    pub has_token: bool,
}

pub struct SetupView<'a> {
    /// The install name, for `returnTo` paths (`/plugin/N/...`).
    pub plugin_name: &'a str,
    /// The plugin's absolute URL, for what is copied out of the page.
    pub plugin_url: &'a str,
    /// What links and forms point at: the plugin's path ([`link_root`]).
    pub links: &'a str,
    pub app: &'a AppSettings,
    pub secret_is_set: bool,
    /// The redirect URI of the installation's provider, and why the base
    /// URL's own would be refused.
    pub redirect: Redirect,
    /// The rows of this page of the list of users.
    pub users: Vec<UserRow>,
    pub paging: Paging,
    /// Users not in the list whose authorisation is under way.
    pub in_progress: Vec<UserRow>,
    pub form: Option<UserForm>,
    /// What the form that led here did (`done=`), to confirm it.
    pub done: Option<(Done, Option<String>)>,
    pub now: f64,
    pub today: crate::dates::Date,
    pub webhook: WebhookView,
}

/// The setup page's path for `returnTo`, relative to the host's base URL
/// as in Igor (`/plugin/N/page/setup.html?user=U`).
fn setup_path(view: &SetupView, user: Option<&str>) -> String {
    let query = user.map(|u| format!("?user={u}")).unwrap_or_default();
    format!("/plugin/{}/page/setup.html{query}", view.plugin_name)
}

/// The confirmation of what the previous form did.
fn confirmation(view: &SetupView) -> String {
    let Some((done, user)) = &view.done else {
        return String::new();
    };
    let user = user.as_deref().map(escape);
    let text = match (done, user) {
        (Done::Settings, _) => "The application settings were saved.".to_string(),
        (Done::User, Some(user)) => format!("The settings of {user} were saved."),
        (Done::User, None) => "The user's settings were saved.".to_string(),
        (Done::Deleted, _) => {
            "The user was deleted: the token was revoked at the provider and the user's \
             settings, token and data were removed."
                .to_string()
        }
    };
    format!("<p class=\"saved\" role=\"status\">{text}</p>")
}

pub fn setup_page(view: &SetupView) -> Response {
    let url = escape(view.links);
    let mut body = confirmation(view);
    body.push_str(&format!(
        "<p>This plugin fetches health data (body weight by default) for Igor users and stores \
         it under <code>sensors/…/USER</code>. Provider: <b>{}</b>.</p>",
        escape(&view.app.provider)
    ));
    body.push_str(&registration::registration_help(view));
    body.push_str(&registration::settings_form(view));
    body.push_str(&users::users_section(view));
    if let Some(form) = &view.form {
        body.push_str(&users::user_form(view, form));
    }
    if view.app.provider != "fitbit" {
        body.push_str(&webhook::webhook_section(view));
    }
    body.push_str(&format!(
        "<form method=\"get\" action=\"{url}/page/setup.html\"><label>Set up user \
         <input type=\"text\" name=\"user\"></label><button type=\"submit\">Go</button></form>"
    ));
    Response::html(200, page("Fitbit for Igor: setup", &body))
}
