//! The consent pages both fakes render, and the helpers tests use to "click"
//! through them.
//!
//! Page contract (what [`consent`] relies on): exactly one
//! `<form method="post" action="...">`, hidden inputs
//! `<input type="hidden" name="..." value="...">`, and two submit buttons
//! `name="decision"` with values `allow` / `deny`.

use anyhow::{Context, bail};

use crate::util::html_escape;

pub(crate) struct ConsentPage<'a> {
    pub title: &'a str,
    pub app_name: &'a str,
    pub account: &'a str,
    pub scopes: &'a [String],
    pub action: &'a str,
    pub hidden: &'a [(&'a str, String)],
}

pub(crate) fn render_consent(p: &ConsentPage<'_>) -> String {
    let scopes: String = p
        .scopes
        .iter()
        .map(|s| format!("      <li>{}</li>\n", html_escape(s)))
        .collect();
    let hidden: String = p
        .hidden
        .iter()
        .map(|(k, v)| {
            format!(
                "    <input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                html_escape(k),
                html_escape(v)
            )
        })
        .collect();
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n<body>\n\
  <h1>{title}</h1>\n  <p><strong class=\"app-name\">{app}</strong> would like to access the account <strong class=\"account\">{account}</strong>:</p>\n\
  <ul class=\"scopes\">\n{scopes}  </ul>\n\
  <form method=\"post\" action=\"{action}\">\n{hidden}\
    <button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\n\
    <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n  </form>\n</body></html>\n",
        title = html_escape(p.title),
        app = html_escape(p.app_name),
        account = html_escape(p.account),
        action = html_escape(p.action),
    )
}

pub(crate) fn render_error(title: &str, message: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\n<body>\n  <h1>{t}</h1>\n  <p class=\"error\">{m}</p>\n</body></html>\n",
        t = html_escape(title),
        m = html_escape(message)
    )
}

/// Load the consent page at `authorize_url` (with `client`, which may follow
/// redirects to get there), press **Allow**, and return the `Location` the
/// provider redirects to — not followed. Works for both fakes.
pub async fn consent(client: &reqwest::Client, authorize_url: &str) -> anyhow::Result<String> {
    consent_with(client, authorize_url, true).await
}

/// Like [`consent`] but presses **Deny** when `allow` is false.
pub async fn consent_with(
    client: &reqwest::Client,
    authorize_url: &str,
    allow: bool,
) -> anyhow::Result<String> {
    let resp = client
        .get(authorize_url)
        .send()
        .await
        .context("GET consent page")?;
    let page_url = resp.url().clone();
    let status = resp.status();
    let html = resp.text().await?;
    if !status.is_success() {
        bail!("consent page answered {status}: {html}");
    }
    let form = parse_form(&html).context("no consent form on the page")?;
    let action = page_url.join(&form.action)?;
    let mut fields = form.hidden;
    fields.push((
        "decision".into(),
        if allow { "allow" } else { "deny" }.into(),
    ));
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let resp = no_redirect.post(action).form(&fields).send().await?;
    if resp.status() != reqwest::StatusCode::FOUND {
        let status = resp.status();
        bail!(
            "consent decision answered {status}: {}",
            resp.text().await.unwrap_or_default()
        );
    }
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .context("302 without Location")?
        .to_str()?
        .to_string();
    Ok(location)
}

struct ParsedForm {
    action: String,
    hidden: Vec<(String, String)>,
}

fn parse_form(html: &str) -> Option<ParsedForm> {
    let start = html.find("<form")?;
    let form_tag_end = start + html[start..].find('>')?;
    let action = attr(&html[start..form_tag_end], "action")?;
    let mut hidden = Vec::new();
    let mut rest = &html[form_tag_end..];
    while let Some(i) = rest.find("<input") {
        let end = i + rest[i..].find('>')?;
        let tag = &rest[i..end];
        if attr(tag, "type").as_deref() == Some("hidden") {
            hidden.push((attr(tag, "name")?, attr(tag, "value").unwrap_or_default()));
        }
        rest = &rest[end..];
    }
    Some(ParsedForm { action, hidden })
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let i = tag.find(&needle)? + needle.len();
    let j = i + tag[i..].find('"')?;
    Some(html_unescape(&tag[i..j]))
}

/// Undoes the escaping of HTML text and attribute values.
pub fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
