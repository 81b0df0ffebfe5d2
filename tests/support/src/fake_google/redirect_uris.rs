//! What the Google Cloud console accepts as an *Authorized redirect URI* of
//! an OAuth client of type "Web application", from
//! <https://developers.google.com/identity/protocols/oauth2/web-server#uri-validation>
//! ("Redirect URI validation rules"; RFC 3986 section 3 defines the parts):
//!
//! | part | Google's rule |
//! |---|---|
//! | Scheme | "Redirect URIs must use the HTTPS scheme, not plain HTTP. Localhost URIs (including localhost IP address URIs) are exempt from this rule." |
//! | Host | "Hosts cannot be raw IP addresses. Localhost IP addresses are exempted from this rule." |
//! | Domain | "Host TLDs (Top Level Domains) must belong to the public suffix list. Host domains cannot be "googleusercontent.com". Redirect URIs cannot contain URL shortener domains (e.g. goo.gl) unless the app owns the domain." |
//! | Userinfo | "Redirect URIs cannot contain the userinfo subcomponent." |
//! | Path | "Redirect URIs cannot contain a path traversal (also called directory backtracking), which is represented by an "/.." or "\.." or their URL encoding." |
//! | Query | "Redirect URIs cannot contain open redirects." |
//! | Fragment | "Redirect URIs cannot contain the fragment component." |
//! | Characters | "Redirect URIs cannot contain certain characters including: Wildcard characters ('*'), Non-printable ASCII characters, Invalid percent encodings (...), Null characters (an encoded NULL character, e.g., %00, %C0%80)" |
//!
//! *Fake decisions* (the page gives no exact algorithm): "localhost" is the
//! name `localhost` and the loopback addresses 127.0.0.0/8 and `[::1]`; the
//! public suffix list is the `psl` crate's copy; an open redirect is a query
//! value that is itself an absolute URL; the shortener domains refused are
//! `goo.gl`, `bit.ly`, `tinyurl.com`, `t.co` and `ow.ly`. The console's
//! messages are paraphrased as "Invalid Redirect: ...".

use std::net::IpAddr;

/// `Err(console message)` when the console refuses `uri`.
pub fn validate(uri: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("Invalid Redirect: {why} ({uri})"));
    // Characters, checked on the raw text.
    if uri.contains('*') {
        return refuse("cannot contain a wildcard");
    }
    if uri.bytes().any(|b| !(0x21..0x7f).contains(&b)) {
        return refuse("cannot contain non-printable characters or whitespace");
    }
    if !percent_encodings_valid(uri) {
        return refuse("contains an invalid percent encoding");
    }
    let lower = uri.to_ascii_lowercase();
    if lower.contains("%00") || lower.contains("%c0%80") {
        return refuse("cannot contain a null character");
    }
    // Path traversal, also percent-encoded.
    let unescaped = ["%2e", "%2f", "%5c"]
        .iter()
        .zip([".", "/", "\\"])
        .fold(lower.clone(), |text, (code, plain)| {
            text.replace(code, plain)
        });
    if unescaped.contains("/..") || unescaped.contains("\\..") {
        return refuse("cannot contain a path traversal");
    }
    let Ok(url) = url::Url::parse(uri) else {
        return refuse("must be an absolute URI");
    };
    if url.fragment().is_some() {
        return refuse("cannot contain a fragment");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("cannot contain userinfo");
    }
    let Some(host) = url.host_str() else {
        return refuse("must have a host");
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let ip: Option<IpAddr> = bare.parse().ok();
    let localhost = host == "localhost" || ip.is_some_and(|ip| ip.is_loopback());
    if url.scheme() != "https" && !(url.scheme() == "http" && localhost) {
        return refuse("must use https (http only for localhost)");
    }
    if ip.is_some() && !localhost {
        return refuse("cannot be a raw IP address");
    }
    if !localhost {
        let domain = host.trim_end_matches('.');
        let top_level = domain.rsplit('.').next().unwrap_or(domain);
        let on_list = psl::suffix(top_level.as_bytes()).is_some_and(|s| s.is_known());
        if !domain.contains('.') || !on_list {
            return refuse("must end with a public top-level domain");
        }
        if domain == "googleusercontent.com" || domain.ends_with(".googleusercontent.com") {
            return refuse("cannot be googleusercontent.com");
        }
        if ["goo.gl", "bit.ly", "tinyurl.com", "t.co", "ow.ly"].contains(&domain) {
            return refuse("cannot be a URL shortener domain");
        }
    }
    let open_redirect = url
        .query_pairs()
        .any(|(_, value)| url::Url::parse(&value).is_ok_and(|target| target.host().is_some()));
    if open_redirect {
        return refuse("cannot contain an open redirect");
    }
    Ok(())
}

fn percent_encodings_valid(uri: &str) -> bool {
    let bytes = uri.as_bytes();
    bytes.iter().enumerate().all(|(i, b)| {
        *b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|pair| pair.iter().all(u8::is_ascii_hexdigit))
    })
}
