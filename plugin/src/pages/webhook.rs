//! The setup page's push part: the endpoint to register with Google, the
//! one command that registers it, and the form for its secret and keys.

use super::{SetupView, setup_path};
use crate::html::escape;

/// What the page shows about webhooks.
pub struct WebhookView {
    /// The endpoint Google posts to (`.../plugin/N/webhook`).
    pub url: String,
    /// Where `projects.subscribers.create` is (the Health API's base).
    pub api_url: String,
    pub secret_is_set: bool,
    /// The PEM public keys notifications are checked against.
    pub keys: Vec<String>,
    /// The data types the users' methods read, to subscribe to.
    pub data_types: Vec<&'static str>,
}

fn registration_command(view: &SetupView, hook: &WebhookView) -> String {
    let types = hook
        .data_types
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(",");
    let body = format!(
        "{{\"endpointUri\":\"{url}\",\"subscriberConfigs\":[{{\"dataTypes\":[{types}],\
         \"subscriptionCreatePolicy\":\"AUTOMATIC\"}}],\
         \"endpointAuthorization\":{{\"secret\":\"YOUR-WEBHOOK-SECRET\"}}}}",
        url = hook.url
    );
    format!(
        "curl -X POST -H \"Authorization: Bearer $(gcloud auth print-access-token)\" \
         -H \"Content-Type: application/json\" \
         \"{api}/v4/projects/YOUR-PROJECT-ID/subscribers?subscriberId=igor-{name}\" \
         -d '{body}'",
        api = hook.api_url,
        name = view.plugin_name,
    )
}

pub(super) fn webhook_section(view: &SetupView) -> String {
    let hook = &view.webhook;
    let mut html = String::from("<h2>4. Push (webhooks, optional)</h2>");
    html.push_str(
        "<p>Without webhooks, data arrives when Igor's action (or a caller) fetches it. With \
         them, Google tells this plugin when a user's data changes, and it syncs that user \
         within seconds; the scheduled fetch remains as a fallback.</p>",
    );
    if !hook.url.starts_with("https://") {
        html.push_str(&format!(
            "<p class=\"notice\">Webhooks need an <b>https base URL</b> that Google can reach \
             (a reverse proxy or tunnel with a public name in front of this server); the \
             endpoint would now be <code>{}</code>, which Google refuses. Until then this \
             installation keeps polling.</p>",
            escape(&hook.url)
        ));
        return html;
    }
    let secret_note = if hook.secret_is_set {
        "set (leave empty to keep it)"
    } else {
        "not set"
    };
    let keys_note = match hook.keys.len() {
        0 => "none: notifications are refused".to_string(),
        n => format!("{n} set"),
    };
    html.push_str(&format!(
        "<ol><li>Choose a secret, for example <code>Bearer</code> followed by a long random \
         word, and enter it below with Google's public key(s) for notification signatures \
         (PEM; two during a key rotation).</li>\
         <li>Register the endpoint <code>{url}</code> for the data types your users' methods \
         read, with your project's id and your secret in place of the capitals (with the \
         gcloud CLI logged in to a Google account that owns the project; the scope \
         <code>cloud-platform</code> is needed):<p><code>{command}</code></p>\
         Google checks the endpoint before it creates the subscriber: it must answer 201 with \
         the secret and 401 without it, which this plugin does once the secret is saved.</li>\
         </ol>\
         <form method=\"post\" action=\"{links}/settings\">\
         <input type=\"hidden\" name=\"returnTo\" value=\"{return_to}\">\
         <label>Webhook secret <input type=\"password\" name=\"webhook_secret\" value=\"\" \
         autocomplete=\"off\"> <span class=\"note\">{secret_note}</span></label>\
         <label>Webhook public keys <span class=\"note\">{keys_note}</span><br>\
         <textarea name=\"webhook_public_keys\" rows=\"6\" cols=\"66\">{keys}</textarea></label>\
         <button type=\"submit\">Save webhook settings</button></form>",
        url = escape(&hook.url),
        command = escape(&registration_command(view, hook)),
        links = escape(view.links),
        return_to = escape(&setup_path(view, None)),
        keys = escape(&hook.keys.join("\n")),
    ));
    html
}
