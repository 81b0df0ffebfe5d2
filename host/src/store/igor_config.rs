//! `[store] backend = "igor"`: where Igor is and how to authenticate to it.

use reqwest::header::HeaderValue;
use serde::{Deserialize, Serialize};

/// `[store] backend = "igor"`.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IgorConfig {
    /// Igor's base URL, e.g. `http://127.0.0.1:9333` (a trailing `/data` is
    /// accepted and ignored).
    pub url: String,
    /// HTTP Basic user (e.g. `admin` on a fresh database, which accepts any
    /// password). Not together with `bearer_token`.
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// An Igor-issued bearer token (JWT), instead of a user.
    pub bearer_token: Option<String>,
    /// Per-request timeout.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    5000
}

impl std::fmt::Debug for IgorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IgorConfig")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

impl IgorConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        let url = url::Url::parse(&self.url)
            .map_err(|e| anyhow::anyhow!("[store] url {:?}: {e}", self.url))?;
        if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
            anyhow::bail!(
                "[store] url {:?}: use http(s)://host:port without a query",
                self.url
            );
        }
        if self.bearer_token.is_some() && (self.username.is_some() || self.password.is_some()) {
            anyhow::bail!("[store]: give either username/password or bearer_token, not both");
        }
        if self.password.is_some() && self.username.is_none() {
            anyhow::bail!("[store]: a password needs a username");
        }
        if self.username.as_deref().is_some_and(|u| u.contains(':')) {
            anyhow::bail!("[store]: a username cannot contain ':'");
        }
        if self.timeout_ms == 0 {
            anyhow::bail!("[store] timeout_ms must be at least 1");
        }
        Ok(())
    }

    /// `http://host:port`, without `/data` or a trailing slash.
    pub fn base(&self) -> String {
        let base = self.url.trim_end_matches('/');
        base.strip_suffix("/data").unwrap_or(base).to_string()
    }

    pub(super) fn authorization(&self) -> anyhow::Result<Option<HeaderValue>> {
        use base64::Engine as _;
        let value = match (&self.username, &self.bearer_token) {
            (Some(user), _) => {
                let pair = format!("{user}:{}", self.password.as_deref().unwrap_or(""));
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                )
            }
            (None, Some(token)) => format!("Bearer {}", token.trim()),
            (None, None) => return Ok(None),
        };
        let mut value = HeaderValue::from_str(&value)
            .map_err(|_| anyhow::anyhow!("[store]: credentials contain invalid characters"))?;
        value.set_sensitive(true);
        Ok(Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_checks_and_redacts() {
        let config: IgorConfig = toml::from_str(
            "url = \"http://127.0.0.1:9333\"\nusername = \"admin\"\npassword = \"hush\"",
        )
        .unwrap();
        config.validate().unwrap();
        assert!(!format!("{config:?}").contains("hush"));
        let both: IgorConfig = toml::from_str(
            "url = \"http://127.0.0.1:9333\"\nusername = \"admin\"\nbearer_token = \"t\"",
        )
        .unwrap();
        assert!(both.validate().is_err());
        let bad: IgorConfig = toml::from_str("url = \"ftp://x\"").unwrap();
        assert!(bad.validate().is_err());
        assert!(toml::from_str::<IgorConfig>("url = \"http://x\"\nnope = 1").is_err());
    }
}
