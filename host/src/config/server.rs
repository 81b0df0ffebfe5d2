//! `[server]`, `[owner]` and `[admin]`: where the host listens, for how
//! many and how slow clients, and who may call it.

use std::net::SocketAddr;

use anyhow::bail;
use serde::{Deserialize, Serialize};

use super::Config;

#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on. Anything but loopback needs a credential
    /// (`[owner]`, `igor_forward_secret` or tenants) or
    /// `allow_unauthenticated = true`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The URL browsers use to reach this host (OAuth redirect URIs derive
    /// from it). Default: `http://<listen>`; with the Igor store, Igor's
    /// own base URL (its `services/igor/url`), since browsers then reach the
    /// plugin through Igor (`igor/plugin/`).
    pub base_url: Option<String>,
    /// Other host names (no port) browsers use to reach this host or the
    /// Igor in front of it, such as `igor.local`. With loopback addresses,
    /// `localhost` and `base_url`'s host they are the trusted names: a
    /// request that needs no credential must name one in `Host` (against
    /// DNS rebinding), and a form's `Origin` must name one (against
    /// cross-site posts).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Shared secret of the forwarding Igor plugin (`igor/plugin/`): a
    /// request carrying it in `X-Igor-Forward-Secret` may name its caller in
    /// `X-Igor-Caller`. On the single-tenant host, only such requests (and
    /// the owner's, and a plugin's public routes) are accepted.
    pub igor_forward_secret: Option<String>,
    /// Serve a single-tenant host on a non-loopback address with no
    /// credential at all. Logged as a warning at every start.
    #[serde(default)]
    pub allow_unauthenticated: bool,
    /// Open connections served at once; more wait to be accepted.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Open connections one peer may hold (an IPv4 address, or an IPv6
    /// /64); more are answered 503 and closed, so one client cannot take
    /// every slot.
    #[serde(default = "default_max_connections_per_peer")]
    pub max_connections_per_peer: usize,
    /// Time a client has to send a request's headers (also how long an idle
    /// connection is kept).
    #[serde(default = "default_header_timeout_ms")]
    pub header_timeout_ms: u64,
    /// Time a client has to send a request's body.
    #[serde(default = "default_body_timeout_ms")]
    pub body_timeout_ms: u64,
    /// A separate address serving only `/metrics`, without credentials
    /// (on the main address, `/metrics` needs an admin token).
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        toml::from_str("").expect("the empty [server] table is valid")
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("base_url", &self.base_url)
            .field("allowed_hosts", &self.allowed_hosts)
            .field(
                "igor_forward_secret",
                &self.igor_forward_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("allow_unauthenticated", &self.allow_unauthenticated)
            .field("max_connections", &self.max_connections)
            .field("max_connections_per_peer", &self.max_connections_per_peer)
            .field("header_timeout_ms", &self.header_timeout_ms)
            .field("body_timeout_ms", &self.body_timeout_ms)
            .field("metrics_listen", &self.metrics_listen)
            .finish()
    }
}

impl ServerConfig {
    /// Whether anyone who can reach `listen` is not on this machine.
    pub fn exposed(&self) -> bool {
        !self.listen.ip().is_loopback()
    }

    pub fn base_url(&self) -> String {
        match &self.base_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// SHA-256 (hex) of tokens allowed to call `/admin/...`. Empty: no
    /// admin API (reload with SIGHUP instead).
    #[serde(default)]
    pub token_sha256: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerConfig {
    /// SHA-256 (hex) of each token that lets a caller use the single-tenant
    /// host (`Authorization: Bearer <token>`, or the token as a Basic
    /// password, which browsers can send). Empty: no owner token.
    #[serde(default)]
    pub token_sha256: Vec<String>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9333))
}

fn default_max_connections() -> usize {
    1024
}

/// Igor's forwarder opens one connection per call it forwards (and closes
/// it after), all from one address. Igor serves with gevent without a pool
/// limit, but its process has 1024 descriptors by default and each
/// forwarded call takes two (the browser's and the host's), so it never
/// holds more than about 510 at once: half of `max_connections`' default
/// leaves it room and the other half to everyone else.
fn default_max_connections_per_peer() -> usize {
    512
}

/// Browsers send a request's line and headers in one packet and reopen an
/// idle connection without a fuss, so a few seconds are plenty; each second
/// more is a second a half-sent request holds a connection slot.
fn default_header_timeout_ms() -> u64 {
    5_000
}

fn default_body_timeout_ms() -> u64 {
    30_000
}

/// Refuses a host that anyone on the network could use without a
/// credential, unless the operator says so.
pub(super) fn validate_access(config: &Config) -> anyhow::Result<()> {
    let server = &config.server;
    if !config.tenants.is_empty() && !config.owner.token_sha256.is_empty() {
        bail!("[owner] is for the single-tenant host; each [[tenant]] has its own token_sha256");
    }
    if server.igor_forward_secret.as_deref() == Some("") {
        bail!("[server] igor_forward_secret is empty: remove it or set a long random value");
    }
    if server.max_connections == 0
        || server.max_connections_per_peer == 0
        || server.header_timeout_ms == 0
        || server.body_timeout_ms == 0
    {
        bail!(
            "[server] max_connections, max_connections_per_peer, header_timeout_ms and \
             body_timeout_ms must be at least 1"
        );
    }
    for name in &server.allowed_hosts {
        crate::trusted_names::parse_allowed_host(name)?;
    }
    if server.exposed() && !server.allow_unauthenticated && !config.has_credentials() {
        bail!(
            "[server] listen = \"{}\" is reachable from other machines, but nothing asks \
             callers for a credential. Add an owner token ([owner] token_sha256 = \
             [\"<sha256 of the token>\"], from `printf %s TOKEN | sha256sum`), or set \
             igor_forward_secret when only Igor calls this host, or listen on 127.0.0.1; \
             to serve everyone anyway, set allow_unauthenticated = true",
            server.listen
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exposed_host_needs_a_credential_or_an_explicit_yes() {
        let parse = |text: &str| toml::from_str::<Config>(text).unwrap().validate();
        let err = parse("[server]\nlisten = \"0.0.0.0:9333\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("[owner] token_sha256"), "{err}");
        assert!(err.contains("allow_unauthenticated = true"), "{err}");
        parse("[server]\nlisten = \"[::]:9333\"\nallow_unauthenticated = true\n").unwrap();
        parse("[server]\nlisten = \"0.0.0.0:9333\"\nigor_forward_secret = \"s-x\"\n").unwrap();
        parse("[server]\nlisten = \"127.0.0.1:9333\"\n").unwrap();
        parse("[server]\nlisten = \"[::1]:9333\"\n").unwrap();
        let hash = "ab".repeat(32);
        parse(&format!(
            "[server]\nlisten = \"0.0.0.0:9333\"\n[owner]\ntoken_sha256 = [\"{hash}\"]\n"
        ))
        .unwrap();
        let err = parse(&format!(
            "[owner]\ntoken_sha256 = [\"{hash}\"]\n[[tenant]]\nid = \"a\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("[owner] is for the single-tenant host"),
            "{err}"
        );
        assert!(parse("[owner]\ntoken_sha256 = [\"s3cret\"]\n").is_err());
        assert!(parse("[server]\nigor_forward_secret = \"\"\n").is_err());
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let config: Config = toml::from_str(
            "[server]\nigor_forward_secret = \"s-forward-secret\"\n\
             [store]\nbackend = \"igor\"\nurl = \"http://127.0.0.1:1\"\n\
             username = \"admin\"\npassword = \"igor-password\"\n",
        )
        .unwrap();
        let shown = format!("{config:?} {config:#?}");
        for secret in ["s-forward-secret", "igor-password"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
