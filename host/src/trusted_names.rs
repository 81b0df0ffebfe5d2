//! The names a browser may use to reach this host (or the Igor in front of
//! it), and the two checks built on them.
//!
//! Trusted names are loopback literals (127.0.0.0/8, `::1`), `localhost`,
//! the host of the base URL and `[server] allowed_hosts`. Any other IP
//! literal is not trusted by itself: a page can make a browser reach a LAN
//! address as easily as a name.
//!
//! - **Host** (DNS rebinding): a page on `attacker.com` that rebinds its
//!   name to 127.0.0.1 makes the owner's browser call this host, but the
//!   browser still says `Host: attacker.com`. A request that needs no
//!   credential (the open single-tenant host) must name a trusted host,
//!   else it gets 421. Requests that carry a required credential are not
//!   checked: a rebinding page cannot send one.
//! - **Origin** (cross-site forms): a request other than GET or HEAD that
//!   carries `Origin` passes only when that origin is the base URL's, or
//!   names a trusted host and is the very authority the browser sent the
//!   request to (`Host`, or, from the verified Igor forwarder,
//!   `X-Forwarded-Host`). Otherwise 403, before the plugin runs (the plugin
//!   keeps its own check as a second layer).

use url::Host;

use crate::echo::echo;
use crate::message::HostResponse;

/// The names browsers may use, for one request.
pub struct TrustedNames<'a> {
    base_url: &'a str,
    allowed: &'a [String],
}

/// An `allowed_hosts` entry as the host compares it; an error naming the
/// fix for anything else.
pub fn parse_allowed_host(entry: &str) -> anyhow::Result<Host<String>> {
    let refuse = || {
        anyhow::anyhow!(
            "[server] allowed_hosts entry {:?}: give a host name such as igor.local (no scheme, \
             no port, no path)",
            echo(entry)
        )
    };
    if entry.is_empty() || (entry.contains([':', '/', '@', '\\', '?', '#', ' ']) && !is_ipv6(entry))
    {
        return Err(refuse());
    }
    parse_name(entry).ok_or_else(refuse)
}

fn is_ipv6(entry: &str) -> bool {
    entry
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::Ipv6Addr>()
        .is_ok()
}

/// A host name or IP literal, normalised (lower case, IPv4 in dotted form,
/// without a trailing dot).
fn parse_name(name: &str) -> Option<Host<String>> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return None;
    }
    if is_ipv6(name) {
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        return bare.parse().ok().map(Host::Ipv6);
    }
    Host::parse(name).ok()
}

/// `name[:port]` as a `Host` header or `X-Forwarded-Host` carries it; the
/// port defaults to `default_port`. `None` for anything else.
fn parse_authority(value: &str, default_port: u16) -> Option<(Host<String>, u16)> {
    let value = value.trim();
    if value.is_empty() || value.contains(['@', '/', '\\', '?', '#', ' ', ',']) {
        return None;
    }
    let (name, port) = if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            after => Some(after.strip_prefix(':')?),
        };
        (format!("[{inside}]"), port)
    } else {
        match value.rsplit_once(':') {
            Some((name, port)) => (name.to_string(), Some(port)),
            None => (value.to_string(), None),
        }
    };
    let port = match port {
        None => default_port,
        Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            port.parse().ok()?
        }
        Some(_) => return None,
    };
    Some((parse_name(&name)?, port))
}

/// An origin (`scheme://host[:port]`) as (host, port), or the URL's.
fn origin_of(url: &str) -> Option<(String, Host<String>, u16)> {
    let url = url::Url::parse(url).ok()?;
    if !matches!(url.scheme(), "http" | "https") || !url.username().is_empty() {
        return None;
    }
    let host = parse_name(url.host_str()?)?;
    Some((url.scheme().to_string(), host, url.port_or_known_default()?))
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl<'a> TrustedNames<'a> {
    pub fn new(base_url: &'a str, allowed: &'a [String]) -> Self {
        Self { base_url, allowed }
    }

    pub fn trusts(&self, host: &Host<String>) -> bool {
        let loopback = match host {
            Host::Ipv4(ip) => ip.is_loopback(),
            Host::Ipv6(ip) => ip.is_loopback(),
            Host::Domain(name) => name == "localhost",
        };
        loopback
            || origin_of(self.base_url).is_some_and(|(_, base, _)| &base == host)
            || self
                .allowed
                .iter()
                .filter_map(|name| parse_name(name))
                .any(|name| &name == host)
    }

    /// The DNS-rebinding check of a request that needs no credential: its
    /// `Host` must name a trusted host (a request without one, which no
    /// browser sends, passes).
    pub fn check_host(&self, headers: &[(String, String)]) -> Result<(), HostResponse> {
        let Some(value) = header(headers, "host") else {
            return Ok(());
        };
        match parse_authority(value, 80) {
            Some((host, _)) if self.trusts(&host) => Ok(()),
            _ => Err(HostResponse::text(
                421,
                &format!(
                    "Misdirected request: this host does not answer to the name {:?}. If that \
                     is how you reach it, add the name to [server] allowed_hosts (or set \
                     base_url to the URL you use)\n",
                    echo(value)
                ),
            )),
        }
    }

    /// The cross-site check of a request: see the module documentation.
    /// `forwarded` says the request came from the verified Igor forwarder,
    /// whose `X-Forwarded-Host` is then the authority the browser used.
    pub fn check_origin(
        &self,
        method: &str,
        headers: &[(String, String)],
        forwarded: bool,
    ) -> Result<(), HostResponse> {
        if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
            return Ok(());
        }
        let Some(origin) = header(headers, "origin") else {
            return Ok(());
        };
        let parsed = origin_of(origin.trim());
        if let (Some(origin), Some(base)) = (&parsed, origin_of(self.base_url))
            && *origin == base
        {
            return Ok(());
        }
        let used = forwarded
            .then(|| header(headers, "x-forwarded-host"))
            .flatten()
            .or_else(|| header(headers, "host"));
        let same_as_used = parsed.as_ref().is_some_and(|(scheme, host, port)| {
            let default_port = if scheme == "https" { 443 } else { 80 };
            self.trusts(host)
                && used
                    .and_then(|used| parse_authority(used, default_port))
                    .is_some_and(|(used_host, used_port)| used_host == *host && used_port == *port)
        });
        if same_as_used {
            return Ok(());
        }
        Err(HostResponse::text(
            403,
            &format!(
                "Refused: a form posted from {:?}, which is not a page of this host. Post it \
                 from the setup page at {}; if you reach the host by another name, add that name \
                 to [server] allowed_hosts\n",
                echo(origin),
                self.base_url
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn loopback_localhost_the_base_url_and_allowed_hosts_are_trusted() {
        let allowed = vec!["Igor.Local".to_string(), "192.168.1.20".to_string()];
        let names = TrustedNames::new("https://health.example.org", &allowed);
        for name in [
            "127.0.0.1",
            "127.8.9.10",
            "127.1",
            "[::1]",
            "localhost",
            "LOCALHOST.",
            "health.example.org",
            "igor.local",
            "192.168.1.20",
        ] {
            assert!(names.trusts(&parse_name(name).unwrap()), "{name}");
        }
        for name in [
            "rebind.attacker.com",
            "evil.local",
            "192.168.1.21",
            "10.0.0.1",
            "[::ffff:127.0.0.1]",
            "localhost.attacker.com",
            "example.org",
        ] {
            assert!(!names.trusts(&parse_name(name).unwrap()), "{name}");
        }
    }

    #[test]
    fn allowed_hosts_are_names_without_scheme_or_port() {
        for good in ["igor.local", "pi", "192.168.1.20", "::1", "[fd00::2]"] {
            parse_allowed_host(good).unwrap();
        }
        for bad in [
            "",
            "http://igor.local",
            "igor.local:9333",
            "a/b",
            "user@igor",
        ] {
            let err = parse_allowed_host(bad).unwrap_err().to_string();
            assert!(err.contains("allowed_hosts"), "{err}");
        }
    }

    #[test]
    fn a_host_header_must_name_a_trusted_host() {
        let names = TrustedNames::new("http://127.0.0.1:9333", &[]);
        for host in [
            "127.0.0.1:9333",
            "localhost:9333",
            "localhost",
            "[::1]:9333",
        ] {
            assert!(
                names.check_host(&headers(&[("host", host)])).is_ok(),
                "{host}"
            );
        }
        assert!(names.check_host(&[]).is_ok(), "no Host: not a browser");
        for host in [
            "rebind.attacker.com:9333",
            "evil.com@127.0.0.1",
            "127.0.0.1:9333/x",
            "127.0.0.1:x",
            "",
        ] {
            let refused = names.check_host(&headers(&[("Host", host)])).unwrap_err();
            assert_eq!(refused.status, 421, "{host}");
            assert!(refused.body_text().contains("allowed_hosts"), "{host}");
        }
    }

    #[test]
    fn an_origin_must_be_the_base_urls_or_the_trusted_authority_the_browser_used() {
        let allowed = vec!["igor.local".to_string()];
        let names = TrustedNames::new("http://127.0.0.1:9333", &allowed);
        let post = |origin: &str, host: &str, forwarded_host: Option<&str>, verified: bool| {
            let mut h = headers(&[("origin", origin), ("host", host)]);
            if let Some(f) = forwarded_host {
                h.push(("x-forwarded-host".into(), f.into()));
            }
            names
                .check_origin("POST", &h, verified)
                .map_err(|r| r.status)
        };
        // The base URL's origin passes whatever Host says.
        assert_eq!(
            post("http://127.0.0.1:9333", "proxy:1", None, false),
            Ok(())
        );
        // A trusted name the browser really used.
        assert_eq!(
            post("http://localhost:9333", "localhost:9333", None, false),
            Ok(())
        );
        assert_eq!(
            post("http://igor.local:9333", "igor.local:9333", None, false),
            Ok(())
        );
        assert_eq!(post("http://igor.local", "igor.local", None, false), Ok(()));
        // Through Igor: the authority the browser sent Igor.
        let forwarded = Some("igor.local:9333");
        assert_eq!(
            post("http://igor.local:9333", "127.0.0.1:9334", forwarded, true),
            Ok(())
        );
        // ... believed only from the verified forwarder.
        assert_eq!(
            post("http://igor.local:9333", "127.0.0.1:9334", forwarded, false),
            Err(403)
        );
        // Untrusted names, even when Origin and Host agree (rebinding, mDNS).
        assert_eq!(
            post("http://evil.local:9333", "evil.local:9333", None, false),
            Err(403)
        );
        assert_eq!(
            post("http://192.168.1.5:9333", "192.168.1.5:9333", None, false),
            Err(403)
        );
        // A trusted name the browser did not use, another port, junk.
        assert_eq!(
            post("http://localhost:9333", "127.0.0.1:9333", None, false),
            Err(403)
        );
        assert_eq!(
            post("http://localhost:9334", "localhost:9333", None, false),
            Err(403)
        );
        assert_eq!(post("null", "localhost:9333", None, false), Err(403));
        assert_eq!(
            post("http://u@localhost:9333", "localhost:9333", None, false),
            Err(403)
        );
        // Reads and requests without Origin are not forms of a page.
        let get = headers(&[("origin", "http://evil.local"), ("host", "x")]);
        assert!(names.check_origin("GET", &get, false).is_ok());
        assert!(names.check_origin("HEAD", &get, false).is_ok());
        assert!(
            names
                .check_origin("POST", &headers(&[("host", "x")]), false)
                .is_ok()
        );
    }
}
