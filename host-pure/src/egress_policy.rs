//! Egress policy: which destinations a plugin may reach, which addresses are
//! never dialled, and which URLs may receive its secrets. Pure logic, no I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::{Context, bail};
use url::Url;

/// One allow-list entry: scheme + host (or `*.suffix`) + port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    scheme: String,
    host: HostPattern,
    port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    /// `*.example.com`: any name ending in `.example.com` (not the bare name).
    Subdomains(String),
}

impl AllowedHost {
    /// Parses `scheme://host[:port]`, where host may start with `*.`.
    pub fn parse(entry: &str) -> anyhow::Result<Self> {
        let Some((scheme, rest)) = entry.split_once("://") else {
            bail!("egress entry {entry:?}: add a scheme, e.g. \"https://{entry}\"");
        };
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            bail!("egress entry {entry:?}: the scheme must be http or https");
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            bail!(
                "egress entry {entry:?}: give only scheme://host[:port], without path, query or user"
            );
        }
        let (wildcard, host_port) = match rest.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        if host_port.contains('*') {
            bail!("egress entry {entry:?}: a wildcard is allowed only as a leading \"*.\"");
        }
        // Let the URL parser handle ports and IPv6 literals.
        let url = Url::parse(&format!("{scheme}://{host_port}"))
            .with_context(|| format!("egress entry {entry:?}: not a valid host[:port]"))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .with_context(|| format!("egress entry {entry:?}: missing host"))?
            .to_ascii_lowercase();
        let port = url
            .port_or_known_default()
            .expect("http(s) has a default port");
        let host = if wildcard {
            if host.parse::<IpAddr>().is_ok() || host.starts_with('[') {
                bail!("egress entry {entry:?}: a wildcard cannot precede an IP address");
            }
            HostPattern::Subdomains(host)
        } else {
            HostPattern::Exact(host)
        };
        Ok(Self { scheme, host, port })
    }

    fn matches(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let host_ok = match &self.host {
            HostPattern::Exact(h) => *h == host,
            HostPattern::Subdomains(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.')),
        };
        host_ok && self.scheme == url.scheme() && Some(self.port) == url.port_or_known_default()
    }
}

/// Why a loopback destination is refused, and the setting that lets it in.
pub const LOOPBACK_REFUSED: &str = "is loopback, which plugins reach only with allow_loopback = \
     true in their egress settings ([plugin.egress], or [tenant.plugin.egress]; meant for tests \
     against local servers)";

/// A plugin's whole egress policy.
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    allow: Vec<AllowedHost>,
    secret_urls: Vec<Url>,
    allow_loopback: bool,
}

impl EgressPolicy {
    pub fn from_config(config: &Rules) -> anyhow::Result<Self> {
        let allow = config
            .allow
            .iter()
            .map(|entry| AllowedHost::parse(entry))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut policy = Self {
            allow,
            secret_urls: Vec::new(),
            allow_loopback: config.allow_loopback,
        };
        for raw in &config.secret_urls {
            let url = Url::parse(raw).with_context(|| format!("secret url {raw:?}"))?;
            if url.query().is_some() || url.fragment().is_some() {
                bail!("secret url {raw:?}: give the URL without query or fragment");
            }
            if let Err(why) = policy.check_url(&url) {
                bail!("secret url {raw:?} is not in the egress allow-list: {why}");
            }
            policy.secret_urls.push(url);
        }
        Ok(policy)
    }

    /// Whether the URL's scheme, host and port are allowed. Returns why not.
    pub fn check_url(&self, url: &Url) -> Result<(), String> {
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(format!(
                "scheme {:?} is not allowed",
                crate::echo::echo(url.scheme())
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("URLs with user information are not allowed".into());
        }
        if !self.allow.iter().any(|rule| rule.matches(url)) {
            return Err(format!(
                "{}://{}:{} is not in the plugin's egress allow-list",
                url.scheme(),
                crate::echo::echo(url.host_str().unwrap_or("")),
                url.port_or_known_default().unwrap_or(0)
            ));
        }
        // An IP literal never goes through the resolver: check it here.
        if let Some(ip) = literal_ip(url)
            && !self.ip_allowed(ip)
        {
            return Err(match classify(ip) {
                AddressClass::Loopback => format!("address {ip} {LOOPBACK_REFUSED}"),
                _ => format!("address {ip} is in a blocked range"),
            });
        }
        Ok(())
    }

    /// Whether `url` (ignoring its query) may receive a secret.
    pub fn may_receive_secret(&self, url: &Url) -> bool {
        let mut bare = url.clone();
        bare.set_query(None);
        bare.set_fragment(None);
        self.secret_urls.contains(&bare)
    }

    /// Whether a resolved address may be dialled.
    pub fn ip_allowed(&self, ip: IpAddr) -> bool {
        match classify(ip) {
            AddressClass::Public => true,
            AddressClass::Loopback => self.allow_loopback,
            AddressClass::Blocked => false,
        }
    }
}

fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Public,
    Loopback,
    /// Private, link-local (cloud metadata), CGNAT, multicast, documentation,
    /// unspecified and other special-purpose ranges.
    Blocked,
}

/// Classifies an address, seeing through IPv6 forms that embed IPv4.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        return AddressClass::Loopback;
    }
    let blocked = a == 0                                  // "this network", incl. 0.0.0.0
        || a == 10                                        // RFC 1918
        || (a == 100 && (64..128).contains(&b))           // CGNAT, RFC 6598
        || (a == 169 && b == 254)                         // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))            // RFC 1918
        || (a == 192 && b == 0 && c == 0)                 // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)                 // TEST-NET-1
        || (a == 192 && b == 88 && c == 99)               // 6to4 relay anycast
        || (a == 192 && b == 168)                         // RFC 1918
        || (a == 198 && (18..20).contains(&b))            // benchmarking
        || (a == 198 && b == 51 && c == 100)              // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)               // TEST-NET-3
        || a >= 224; // multicast, reserved, broadcast
    if blocked {
        AddressClass::Blocked
    } else {
        AddressClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    if ip.is_loopback() {
        return AddressClass::Loopback;
    }
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let seg = ip.segments();
    let blocked = ip.is_unspecified()
        || (seg[0] & 0xfe00) == 0xfc00                    // ULA (incl. fd00:ec2::254 metadata)
        || (seg[0] & 0xffc0) == 0xfe80                    // link-local
        || (seg[0] & 0xffc0) == 0xfec0                    // site-local (deprecated)
        || (seg[0] & 0xff00) == 0xff00                    // multicast
        || (seg[0] == 0x2001 && seg[1] == 0x0db8)         // documentation
        || (seg[0] == 0x2001 && seg[1] < 0x0200)          // IETF protocol assignments, Teredo
        || (seg[0] == 0x0100 && seg[1..4] == [0, 0, 0])   // discard-only
        || (seg[0] & 0xe000) != 0x2000; // outside global unicast 2000::/3
    if blocked {
        AddressClass::Blocked
    } else {
        AddressClass::Public
    }
}

/// IPv4 addresses hidden in IPv6 forms: mapped (::ffff:a.b.c.d), compatible
/// (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let seg = ip.segments();
    let octets = ip.octets();
    let tail = Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if seg[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_unspecified() && !ip.is_loopback() {
        return Some(tail);
    }
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(tail);
    }
    if seg[0] == 0x2002 {
        return Some(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5]));
    }
    None
}

/// What a policy is built from: the parts of a plugin's egress settings
/// it reads (the host takes them from its `[plugin.egress]`, with what the
/// plugin's manifest was granted).
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// Destinations, as `scheme://host[:port]` (a host may start with `*.`).
    pub allow: Vec<String>,
    /// Exact URLs (no query) that may receive the plugin's secrets.
    pub secret_urls: Vec<String>,
    /// Whether allowed destinations may resolve to loopback addresses.
    pub allow_loopback: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    type EgressConfig = Rules;

    fn policy(allow: &[&str], loopback: bool) -> EgressPolicy {
        EgressPolicy::from_config(&EgressConfig {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            secret_urls: vec![],
            allow_loopback: loopback,
        })
        .unwrap()
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn empty_policy_denies_everything() {
        let p = EgressPolicy::default();
        assert!(p.check_url(&url("https://api.example.com/1/user")).is_err());
    }

    #[test]
    fn matches_scheme_host_and_port() {
        let p = policy(&["https://api.example.com", "http://127.0.0.1:8080"], false);
        assert!(p.check_url(&url("https://api.example.com/x")).is_ok());
        assert!(p.check_url(&url("https://API.example.com:443/x")).is_ok());
        assert!(p.check_url(&url("http://api.example.com/x")).is_err());
        assert!(p.check_url(&url("https://api.example.com:8443/x")).is_err());
        assert!(
            p.check_url(&url("https://api.example.com.evil.com/"))
                .is_err()
        );
        assert!(
            p.check_url(&url("https://user:pw@api.example.com/"))
                .is_err()
        );
        // Allowed by the list but loopback is not enabled: the refusal
        // names the setting.
        let refused = p.check_url(&url("http://127.0.0.1:8080/")).unwrap_err();
        assert!(refused.contains("allow_loopback = true"), "{refused}");
        assert!(refused.contains("[plugin.egress]"), "{refused}");
        let p = policy(&["http://127.0.0.1:8080"], true);
        assert!(p.check_url(&url("http://127.0.0.1:8080/")).is_ok());
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        let p = policy(&["https://*.googleapis.com"], false);
        assert!(
            p.check_url(&url("https://health.googleapis.com/v4"))
                .is_ok()
        );
        assert!(p.check_url(&url("https://a.b.googleapis.com/")).is_ok());
        assert!(p.check_url(&url("https://googleapis.com/")).is_err());
        assert!(p.check_url(&url("https://evilgoogleapis.com/")).is_err());
    }

    #[test]
    fn malformed_entries_get_actionable_errors() {
        for (entry, hint) in [
            ("api.example.com", "add a scheme"),
            ("ftp://x.com", "http or https"),
            ("https://x.com/path", "without path"),
            ("https://a.*.com", "leading"),
            ("https://*", "leading"),
            ("https://*.10.0.0.1", "IP address"),
            ("https://x.com:99999", "not a valid"),
        ] {
            let err = AllowedHost::parse(entry).unwrap_err().to_string();
            assert!(err.contains(hint), "{entry}: {err}");
        }
    }

    #[test]
    fn blocks_special_addresses_in_every_spelling() {
        for ip in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "192.168.1.1",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(classify(ip), AddressClass::Blocked, "{ip}");
        }
        for ip in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(classify(ip), AddressClass::Loopback, "{ip}");
            assert!(!policy(&[], false).ip_allowed(ip));
            assert!(policy(&[], true).ip_allowed(ip));
        }
        for ip in ["8.8.8.8", "142.250.74.110", "2606:4700::1111"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(classify(ip), AddressClass::Public, "{ip}");
        }
    }

    #[test]
    fn secret_urls_must_be_exact_and_allowed() {
        let config = EgressConfig {
            allow: vec!["https://api.example.com".into()],
            secret_urls: vec!["https://api.example.com/oauth2/token".into()],
            ..EgressConfig::default()
        };
        let p = EgressPolicy::from_config(&config).unwrap();
        assert!(p.may_receive_secret(&url("https://api.example.com/oauth2/token")));
        assert!(p.may_receive_secret(&url("https://api.example.com/oauth2/token?x=1")));
        assert!(!p.may_receive_secret(&url("https://api.example.com/oauth2/token/x")));
        assert!(!p.may_receive_secret(&url("https://api.example.com/1/user")));
        let bad = EgressConfig {
            secret_urls: vec!["https://evil.example/token".into()],
            ..config
        };
        assert!(EgressPolicy::from_config(&bad).is_err());
    }
}
