//! The setup page's first two parts: how to register the installation with
//! the provider (with the redirect URI Google will accept), and the
//! installation's settings form.

use super::{SetupView, setup_path};
use crate::access::{PUBLISHING_STATUS, TESTING_GRANT_SECONDS};
use crate::html::escape;
use crate::provider::google::scopes::DESCRIPTIONS;

fn fitbit_help(view: &SetupView) -> String {
    format!(
        "<h2>1. Register this installation with Fitbit</h2>\
         <p class=\"note\"><b>The legacy Fitbit Web API was turned off on 2026-11-02</b> \
         (every call answers 410 Gone); new users need the Google Health provider, and \
         existing legacy users must re-authorise with it.</p>\
         <p>Register an application at <a href=\"https://dev.fitbit.com/apps/new\">dev.fitbit.com/apps/new</a> \
         with OAuth 2.0 Application Type <b>Server</b>, Default Access Type <b>Read-only</b> and \
         this Callback URL, exactly:</p><p><code>{}</code></p>",
        escape(&view.redirect.uri)
    )
}

/// Why the base URL cannot be registered, and the two ways that work.
fn refused_base_url(view: &SetupView, why: &str) -> String {
    format!(
        "<div class=\"notice\"><p><b>Google will refuse this base URL</b> \
         (<code>{direct}</code>) because {why}.</p>\
         <p>Two ways work:</p><ol>\
         <li><b>Loopback address with paste-back</b> (used now): register the address below. \
         After you allow access, your browser opens <code>{uri}?state=…&amp;code=…</code>, a \
         page that does not load unless the browser runs on the machine that serves this page. \
         Copy that address from the address bar and paste it into the field that appears in the \
         user's row below, within 10 minutes.</li>\
         <li><b>An https base URL</b>: serve Igor (or igor-host) through a reverse proxy or \
         tunnel with a public name and https, set that URL as the base URL (igor-host's \
         <code>server.base_url</code>; with Igor as the store, Igor's \
         <code>services/igor/url</code>), and register \
         <code>https://YOUR-NAME/…/plugin/{name}/auth2</code> instead.</li></ol></div>",
        direct = escape(&format!("{}/auth2", view.plugin_url)),
        why = escape(why),
        uri = escape(&view.redirect.uri),
        name = escape(view.plugin_name),
    )
}

/// The redirect URI is on loopback (Igor's or the host's own URL) and the
/// page is viewed from another machine, where it does not load.
fn viewed_elsewhere(view: &SetupView, authority: &str) -> String {
    format!(
        "<div class=\"notice\"><p><b>This page is viewed at <code>{authority}</code>, but the \
         redirect URI is on this machine's loopback</b> (<code>{uri}</code>, from the base \
         URL).</p><p>Register that address as it is. After you allow access, your browser opens \
         <code>{uri}?state=…&amp;code=…</code>, a page that does not load unless the browser \
         runs on the machine that serves this page. Copy that address from the address bar and \
         paste it into the field that appears in the user's row below, within 10 minutes. \
         (With an https base URL, a reverse proxy or tunnel with a public name, the browser \
         comes straight back instead.)</p></div>",
        authority = escape(authority),
        uri = escape(&view.redirect.uri),
    )
}

fn google_help(view: &SetupView) -> String {
    let scopes = DESCRIPTIONS
        .iter()
        .map(|(s, what)| format!("<li><code>{}</code>: {}</li>", escape(s), escape(what)))
        .collect::<String>();
    let refused = match (&view.redirect.refusal, &view.redirect.elsewhere) {
        (Some(why), _) => refused_base_url(view, why),
        (None, Some(authority)) => viewed_elsewhere(view, authority),
        (None, None) => String::new(),
    };
    let days = TESTING_GRANT_SECONDS / 86_400.0;
    format!(
        "<h2>1. Register this installation with Google</h2>{refused}\
         <ol>\
         <li>In the <a href=\"https://console.cloud.google.com/\">Google Cloud console</a>, \
         create a project (or choose one).</li>\
         <li>Under <i>APIs &amp; Services, Library</i>, enable the <b>Google Health API</b>.</li>\
         <li>Configure the <i>OAuth consent screen</i>: user type <b>External</b>. Its \
         publishing status decides how long access lasts:\
         <ul><li><b>Testing</b>: only the test users you list (at most 100) can authorise, and \
         their refresh tokens expire after {days} days: Google ends the access {days} days after \
         consent. Each user must then be authorised again: this page and \
         <code>status/sensors/{name}</code> say so from a day before, with the link that does it \
         (the client secret is not needed again).</li>\
         <li><b>In production</b>: access lasts until the user withdraws it (or leaves it \
         unused for 6 months), but the Google Health scopes are <i>restricted</i>: publishing \
         needs Google's verification of the app, including a security assessment.</li></ul>\
         Say below which status the app has.</li>\
         <li>Add the scopes (each user is asked only for what their methods need; a call needing \
         more answers with the link that adds it):<ul>{scopes}</ul></li>\
         <li>Under <i>Credentials</i>, create an <b>OAuth client ID</b> of type \
         <b>Web application</b> with this <b>Authorized redirect URI</b>, exactly:\
         <p><code>{uri}</code></p></li>\
         <li>Enter its client id and client secret below.</li>\
         </ol>",
        name = escape(view.plugin_name),
        uri = escape(&view.redirect.uri),
    )
}

pub(super) fn registration_help(view: &SetupView) -> String {
    if view.app.provider == "fitbit" {
        fitbit_help(view)
    } else {
        google_help(view)
    }
}

fn options(current: &str, choices: &[(&str, &str)]) -> String {
    choices
        .iter()
        .map(|(value, label)| {
            format!(
                "<option value=\"{value}\"{}>{label}</option>",
                if current == *value { " selected" } else { "" }
            )
        })
        .collect()
}

pub(super) fn settings_form(view: &SetupView) -> String {
    let url = escape(view.links);
    let client_id = escape(view.app.client_id.as_deref().unwrap_or(""));
    let system = view.app.system.as_deref().unwrap_or("");
    let secret_note = if view.secret_is_set {
        "set (leave empty to keep it)"
    } else {
        "not set"
    };
    let publishing = view
        .app
        .document
        .get(PUBLISHING_STATUS)
        .and_then(crate::json::as_text)
        .unwrap_or_default();
    let return_to = escape(&setup_path(
        view,
        view.form.as_ref().map(|f| f.name.as_str()),
    ));
    format!(
        "<h2>2. Application settings</h2>\
         <form method=\"post\" action=\"{url}/settings\">\
         <input type=\"hidden\" name=\"returnTo\" value=\"{return_to}\">\
         <label>Client id <input type=\"text\" name=\"client_id\" value=\"{client_id}\"></label>\
         <label>Client secret <input type=\"password\" name=\"client_secret\" value=\"\" autocomplete=\"off\"> \
         <span class=\"note\">{secret_note}</span></label>\
         <label>Provider <select name=\"provider\">{}</select></label>\
         <label>Units <select name=\"system\">{}</select></label>\
         <p class=\"note\">With Google Health and no units chosen, each user's own Google \
         display units are used (metric if they cannot be read).</p>\
         <label>Publishing status of the OAuth app <select name=\"{PUBLISHING_STATUS}\">{}</select></label>\
         <button type=\"submit\">Save settings</button></form>",
        options(
            &view.app.provider,
            &[
                ("google-health", "Google Health API (google-health)"),
                (
                    "fitbit",
                    "legacy Fitbit Web API (fitbit), turned off 2026-11-02"
                ),
            ]
        ),
        options(
            system,
            &[
                ("", "metric (kg, km)"),
                ("en_US", "en_US: pounds, miles"),
                ("en_GB", "en_GB: stone, km"),
            ]
        ),
        options(
            &publishing,
            &[
                ("", "not said"),
                (
                    "testing",
                    "this app is in Testing (access ends 7 days after consent)"
                ),
                ("production", "in production"),
            ]
        ),
    )
}
