//! Which OAuth redirect URI this installation can register with Google, and
//! why Google would refuse the one its base URL gives.
//!
//! Google accepts a *Web application* client's redirect URI only under these
//! rules (<https://developers.google.com/identity/protocols/oauth2/web-server#uri-validation>):
//!
//! > **Scheme:** Redirect URIs must use the HTTPS scheme, not plain HTTP.
//! > Localhost URIs (including localhost IP address URIs) are exempt from this rule.
//! > **Host:** Hosts cannot be raw IP addresses. Localhost IP addresses are
//! > exempted from this rule.
//! > **Domain:** Host TLDs (Top Level Domains) must belong to the public suffix
//! > list. Host domains cannot be "googleusercontent.com". Redirect URIs cannot
//! > contain URL shortener domains (e.g. goo.gl) unless the app owns the domain.
//! > **Userinfo:** Redirect URIs cannot contain the userinfo subcomponent.
//! > **Path:** Redirect URIs cannot contain a path traversal (also called
//! > directory backtracking), which is represented by an "/.." or "\.." or
//! > their URL encoding.
//! > **Query:** Redirect URIs cannot contain open redirects.
//! > **Fragment:** Redirect URIs cannot contain the fragment component.
//! > **Characters:** Redirect URIs cannot contain certain characters including:
//! > Wildcard characters ('*'), Non-printable ASCII characters, Invalid percent
//! > encodings (any percent encoding that does not follow URL-encoding form of
//! > a percent sign followed by two hexadecimal digits), Null characters (an
//! > encoded NULL character, e.g., %00, %C0%80).
//!
//! A home installation on the LAN (`http://igor.local:9333`,
//! `http://192.168.1.20:9333`) breaks the scheme rule, and often the host or
//! domain rule too. It then uses the loopback redirect
//! `http://localhost:PORT/.../auth2` with paste-back: the browser lands on a
//! page that does not load, and the owner pastes its address on the setup
//! page (see `authorize::paste_back`).

use url::{Host, Url};

/// Shortener domains Google names or is known to refuse; an installation
/// never owns them.
const SHORTENERS: &[&str] = &["goo.gl", "bit.ly", "tinyurl.com", "t.co", "ow.ly"];

/// Why Google's console refuses `uri` as a Web application's redirect URI,
/// in one sentence; `None` when it is acceptable.
pub fn google_refusal(uri: &str) -> Option<String> {
    if let Some(why) = character_refusal(uri) {
        return Some(why);
    }
    let Ok(url) = Url::parse(uri) else {
        return Some("it is not an absolute URL".into());
    };
    if url.fragment().is_some() {
        return Some("it contains a fragment (#...)".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some("it contains user information (user@host)".into());
    }
    let host = url.host();
    if host.is_none() {
        return Some("it has no host".into());
    }
    let loopback = is_loopback(host.clone());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Some(
                "it uses plain http on a host that is not localhost (Google accepts http only \
                 for localhost and loopback addresses, otherwise https)"
                    .into(),
            );
        }
        other => return Some(format!("its scheme {other:?} is neither https nor http")),
    }
    match host {
        Some(Host::Ipv4(_) | Host::Ipv6(_)) if !loopback => {
            return Some(
                "its host is a raw IP address (only loopback addresses such as 127.0.0.1 are \
                 allowed)"
                    .into(),
            );
        }
        Some(Host::Domain(name)) if !loopback => {
            if let Some(why) = domain_refusal(name) {
                return Some(why);
            }
        }
        _ => {}
    }
    if url
        .query_pairs()
        .any(|(_, v)| Url::parse(&v).is_ok_and(|u| u.has_host()))
    {
        return Some("its query carries another URL (an open redirect)".into());
    }
    None
}

/// The character and path rules, checked on the text as given (a URL parser
/// would normalise `..` and percent-encodings away before they are seen).
fn character_refusal(uri: &str) -> Option<String> {
    if uri.contains('*') {
        return Some("it contains a wildcard (*)".into());
    }
    if uri
        .chars()
        .any(|c| !c.is_ascii() || c.is_ascii_control() || c == ' ')
    {
        return Some("it contains a space or a non-printable character".into());
    }
    let bytes = uri.as_bytes();
    for (i, _) in uri.match_indices('%') {
        let valid = bytes.len() > i + 2
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit();
        if !valid {
            return Some("it contains an invalid percent-encoding".into());
        }
    }
    let lower = uri.to_ascii_lowercase();
    if lower.contains("%00") || lower.contains("%c0%80") {
        return Some("it contains an encoded null character".into());
    }
    // "/.." or "\.." in any mix of plain and percent-encoded characters.
    let decoded = lower
        .replace("%2e", ".")
        .replace("%2f", "/")
        .replace("%5c", "\\");
    if decoded.contains("/..") || decoded.contains("\\..") {
        return Some("its path backtracks (/..)".into());
    }
    None
}

/// Whether `name` is a DNS name anyone can register: it has a dot and its
/// top-level domain is on the public suffix list (`.local`, `.lan`, `.home`,
/// `.internal` and single labels exist only on a private network).
pub fn is_public_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let tld = name.rsplit('.').next().unwrap_or_default();
    name.contains('.') && psl::suffix(tld.as_bytes()).is_some_and(|suffix| suffix.is_known())
}

fn domain_refusal(name: &str) -> Option<String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if !is_public_name(&name) {
        return Some(format!(
            "its host {name:?} does not end in a public top-level domain (names such as \
             .local, .lan, .home or .internal, or a name without a dot, exist only on your \
             network)"
        ));
    }
    if name == "googleusercontent.com" || name.ends_with(".googleusercontent.com") {
        return Some("its host is under googleusercontent.com".into());
    }
    if SHORTENERS.contains(&name.as_str()) {
        return Some(format!("its host {name:?} is a URL shortener"));
    }
    None
}

/// The redirect URI the plugin uses with Google for an installation at
/// `plugin_url` (`{base}/plugin/N`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// What `auth1` sends and the token exchange repeats, byte for byte.
    pub uri: String,
    /// Why Google refuses `{plugin_url}/auth2`, when it does; `uri` is then
    /// the loopback address and the owner completes by pasting.
    pub refusal: Option<String>,
    /// The address the page is viewed at when `uri` is on loopback and that
    /// address is not: the browser runs on another machine (a laptop, with
    /// Igor's own URL on loopback), where `uri` does not load, so the owner
    /// completes by pasting there too. See [`Redirect::viewed_at`].
    pub elsewhere: Option<String>,
}

impl Redirect {
    pub fn for_google(plugin_url: &str) -> Self {
        let direct = format!("{plugin_url}/auth2");
        match google_refusal(&direct) {
            None => Self {
                uri: direct,
                refusal: None,
                elsewhere: None,
            },
            Some(why) => Self {
                uri: loopback_redirect(plugin_url).unwrap_or(direct),
                refusal: Some(why),
                elsewhere: None,
            },
        }
    }

    /// The same redirect, for a page viewed at `authority` (`host[:port]`,
    /// the `X-Forwarded-Host` of Igor's forwarder or a proxy, else `Host`).
    /// The redirect URI stays the one registered; only how the owner
    /// completes changes.
    pub fn viewed_at(mut self, authority: Option<&str>) -> Self {
        let loopback_uri = Url::parse(&self.uri).is_ok_and(|url| is_loopback(url.host()));
        let viewer = authority
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .and_then(|a| Url::parse(&format!("http://{a}")).ok().map(|url| (a, url)));
        self.elsewhere = match viewer {
            Some((authority, url)) if loopback_uri && !is_loopback(url.host()) => {
                Some(authority.to_string())
            }
            _ => None,
        };
        self
    }

    /// Whether the browser is sent to a loopback address that may not load,
    /// so that the owner pastes the address on the setup page.
    pub fn pastes_back(&self) -> bool {
        self.refusal.is_some() || self.elsewhere.is_some()
    }
}

/// `localhost` and the loopback addresses.
fn is_loopback(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `http://localhost:PORT/PATH/auth2` for `plugin_url`: same port and path
/// (the port Igor or the host listens on), loopback host, plain http.
pub fn loopback_redirect(plugin_url: &str) -> Option<String> {
    let url = Url::parse(plugin_url).ok()?;
    let port = url.port_or_known_default().map(|p| {
        if p == 80 {
            String::new()
        } else {
            format!(":{p}")
        }
    })?;
    Some(format!(
        "http://localhost{port}{}/auth2",
        url.path().trim_end_matches('/')
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_accepts_https_on_public_names_and_http_on_loopback() {
        for ok in [
            "https://igor.example.com/plugin/fitbit/auth2",
            "https://home.duckdns.org:8443/plugin/fitbit/auth2",
            "http://localhost:9333/plugin/fitbit/auth2",
            "http://localhost/plugin/fitbit/auth2",
            "http://127.0.0.1:9333/plugin/fitbit/auth2",
            "http://[::1]:9333/plugin/fitbit/auth2",
            "http://127.0.0.1:9333/tenants/smiths/plugin/fitbit/auth2",
        ] {
            assert_eq!(google_refusal(ok), None, "{ok}");
        }
    }

    #[test]
    fn google_refuses_what_a_home_network_offers() {
        for (bad, why) in [
            ("http://igor.local:9333/plugin/fitbit/auth2", "plain http"),
            ("http://192.168.1.20:9333/plugin/fitbit/auth2", "plain http"),
            ("https://192.168.1.20:9333/plugin/fitbit/auth2", "raw IP"),
            ("https://[fd00::1]/plugin/fitbit/auth2", "raw IP"),
            ("https://igor.local/plugin/fitbit/auth2", "top-level domain"),
            ("https://igor.lan/plugin/fitbit/auth2", "top-level domain"),
            ("https://igor.home/plugin/fitbit/auth2", "top-level domain"),
            (
                "https://igor.internal/plugin/fitbit/auth2",
                "top-level domain",
            ),
            ("https://igor/plugin/fitbit/auth2", "top-level domain"),
            ("https://x.googleusercontent.com/cb", "googleusercontent"),
            ("https://goo.gl/cb", "shortener"),
            ("https://igor.example.com/cb#x", "fragment"),
            ("https://*.example.com/cb", "wildcard"),
            ("https://me@igor.example.com/cb", "user information"),
            ("https://igor.example.com/a/../cb", "backtracks"),
            ("https://igor.example.com/a/%2E%2e/cb", "backtracks"),
            ("https://igor.example.com/a\\..\\cb", "backtracks"),
            ("https://igor.example.com/cb%zz", "percent-encoding"),
            ("https://igor.example.com/cb%00", "null"),
            ("https://igor.example.com/cb%C0%80", "null"),
            ("https://igor.example.com/c b", "space"),
            (
                "https://igor.example.com/cb?next=https://evil.example/",
                "open redirect",
            ),
            ("ftp://igor.example.com/cb", "scheme"),
            ("/plugin/fitbit/auth2", "absolute"),
        ] {
            let refusal = google_refusal(bad).unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(refusal.contains(why), "{bad}: {refusal}");
        }
    }

    #[test]
    fn a_refused_base_url_falls_back_to_the_loopback_redirect() {
        let lan = Redirect::for_google("http://igor.local:9333/plugin/fitbit");
        assert_eq!(lan.uri, "http://localhost:9333/plugin/fitbit/auth2");
        assert!(lan.pastes_back());
        let tenant = Redirect::for_google("http://192.168.1.20:9333/tenants/smiths/plugin/fitbit");
        assert_eq!(
            tenant.uri,
            "http://localhost:9333/tenants/smiths/plugin/fitbit/auth2"
        );
        assert_eq!(
            Redirect::for_google("http://igor.test/plugin/_fitbit").uri,
            "http://localhost/plugin/_fitbit/auth2"
        );
        let proxied = Redirect::for_google("https://igor.example.com/plugin/fitbit");
        assert_eq!(proxied.uri, "https://igor.example.com/plugin/fitbit/auth2");
        assert!(!proxied.pastes_back());
        let local = Redirect::for_google("http://127.0.0.1:9333/plugin/fitbit");
        assert_eq!(local.uri, "http://127.0.0.1:9333/plugin/fitbit/auth2");
    }

    #[test]
    fn a_loopback_redirect_viewed_from_another_machine_pastes_back() {
        // Igor's own URL on loopback, the page viewed on a laptop.
        let igor = Redirect::for_google("http://127.0.0.1:9333/plugin/fitbit");
        let laptop = igor.clone().viewed_at(Some("igor.local:9333"));
        assert!(laptop.pastes_back());
        assert_eq!(laptop.elsewhere.as_deref(), Some("igor.local:9333"));
        assert_eq!(laptop.uri, igor.uri, "the registered URI stays");
        assert!(
            igor.clone()
                .viewed_at(Some("192.168.1.20:9333"))
                .pastes_back()
        );
        for here in [
            Some("localhost:9333"),
            Some("127.0.0.1:9333"),
            Some("[::1]:9333"),
            None,
        ] {
            assert!(!igor.clone().viewed_at(here).pastes_back(), "{here:?}");
        }
        // A public https redirect loads anywhere.
        let public = Redirect::for_google("https://igor.example.com/plugin/fitbit");
        assert!(!public.viewed_at(Some("igor.local:9333")).pastes_back());
        // A refused base URL pastes back wherever it is viewed.
        let lan = Redirect::for_google("http://igor.local:9333/plugin/fitbit");
        assert!(lan.viewed_at(Some("localhost:9333")).pastes_back());
    }
}
