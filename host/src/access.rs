//! Who may call: tokens (of a tenant, of the single-tenant host's owner, of
//! the admin), requests forwarded by Igor, and the routes a plugin declares
//! public. Only hashes of tokens are configured; comparisons take the same
//! time whichever entry matches.

use sha2::{Digest, Sha256};

/// A set of accepted bearer tokens, kept as SHA-256 digests.
#[derive(Clone, Default)]
pub struct Credentials {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({} token hash(es))", self.digests.len())
    }
}

impl Credentials {
    /// From `token_sha256` entries (64 hex digits each, checked by the
    /// configuration); anything else is refused.
    pub fn from_hex(hashes: &[String]) -> anyhow::Result<Self> {
        let digests = hashes
            .iter()
            .map(|hex| parse_digest(hex))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self { digests })
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Whether the `Authorization` header carries one of the tokens (as a
    /// Bearer token or as the password of Basic credentials).
    pub fn accept(&self, authorization: Option<&str>) -> bool {
        let Some(token) = authorization.and_then(token_from_authorization) else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Compare every entry in full so timing does not hint which matched.
        self.digests
            .iter()
            .fold(false, |found, hash| found | constant_time_eq(hash, &digest))
    }
}

/// What a `token_sha256` entry holds for `token`.
pub fn sha256_hex(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks a `token_sha256` entry.
pub fn parse_digest(hex: &str) -> anyhow::Result<[u8; 32]> {
    let valid = hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit());
    if !valid {
        anyhow::bail!(
            "token_sha256 entries are 64 hex digits (sha256sum of the token), got {} characters",
            hex.len()
        );
    }
    let mut digest = [0u8; 32];
    for (i, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)?;
    }
    Ok(digest)
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token from `Bearer T` or `Basic base64(anything:T)`.
pub fn token_from_authorization(header: &str) -> Option<String> {
    let (scheme, value) = header.trim().split_once(' ')?;
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" => Some(value.trim().to_string()).filter(|t| !t.is_empty()),
        "basic" => {
            let decoded =
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, value.trim())
                    .ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            decoded
                .split_once(':')
                .map(|(_, password)| password.to_string())
                .filter(|t| !t.is_empty())
        }
        _ => None,
    }
}

/// How a tenant's routes are guarded.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    /// Tokens that let a caller in: the tenant's, or the owner's.
    pub tokens: Credentials,
    /// Requests forwarded by Igor with the shared secret are let in (the
    /// single-tenant host with `igor_forward_secret`).
    pub forwarded: bool,
    /// A tenant's gate: never open, even without tokens (a tenant whose
    /// tokens were all revoked is refused to everyone).
    pub tenant: bool,
}

/// What a request showed about itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Presented<'a> {
    pub authorization: Option<&'a str>,
    /// It carried the right Igor forward secret.
    pub forwarded: bool,
    /// It addresses a route its plugin declares public.
    pub public_route: bool,
}

impl Gate {
    /// A gate with no credential at all lets everyone in: the single-tenant
    /// host on loopback (or explicitly `allow_unauthenticated`).
    pub fn is_open(&self) -> bool {
        self.tokens.is_empty() && !self.forwarded && !self.tenant
    }

    pub fn admits(&self, request: Presented<'_>) -> bool {
        self.is_open()
            || request.public_route
            || (self.forwarded && request.forwarded)
            || self.tokens.accept(request.authorization)
    }

    /// The `WWW-Authenticate` challenges and the text of a 401. Basic comes
    /// first, so that a browser asks for the token (as the password).
    pub fn refusal(&self, realm: &str) -> (Vec<String>, &'static str) {
        // A tenant's answer is the same whatever its tokens (none left, or
        // no such tenant at all: see `tenants::tenant_refusal`).
        let text = if self.tenant {
            "This needs one of the tenant's tokens (Authorization: Bearer TOKEN, or as the \
             password of Basic auth); a revoked token is refused: ask the operator for a new one\n"
        } else if self.tokens.is_empty() {
            "This host accepts only requests forwarded by Igor: use Igor's /plugin/... URL\n"
        } else if self.forwarded {
            "This host needs credentials: call it through Igor, or send the owner's token \
             (Authorization: Bearer TOKEN)\n"
        } else {
            "This host needs credentials: send the token (Authorization: Bearer TOKEN, or as the \
             password of Basic auth)\n"
        };
        let mut challenges = vec![format!("Bearer realm=\"{realm}\"")];
        if self.tenant || !self.tokens.is_empty() {
            challenges.insert(0, format!("Basic realm=\"{realm}\", charset=\"UTF-8\""));
        }
        (challenges, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(tokens: &[&str]) -> Credentials {
        let hashes: Vec<String> = tokens.iter().map(|t| sha256_hex(t)).collect();
        Credentials::from_hex(&hashes).unwrap()
    }

    #[test]
    fn bearer_and_basic_tokens_are_accepted() {
        let c = credentials(&["s3cret", "other"]);
        assert!(c.accept(Some("Bearer s3cret")));
        assert!(c.accept(Some("bearer other")));
        let basic =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "anyone:s3cret");
        assert!(c.accept(Some(&format!("Basic {basic}"))));
        assert!(!c.accept(Some("Bearer s3cre")));
        assert!(!c.accept(Some("Bearer")));
        assert!(!c.accept(None));
        assert!(!credentials(&[]).accept(Some("Bearer ")));
        // An empty token never matches, even the hash of "".
        assert!(!credentials(&[""]).accept(Some("Bearer ")));
    }

    #[test]
    fn malformed_hashes_are_refused_without_echoing_them() {
        let err = Credentials::from_hex(&["not-a-hash-s3cret".into()])
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(Credentials::from_hex(&["ä".repeat(32)]).is_err());
    }

    #[test]
    fn the_gate_admits_by_token_forwarding_or_public_route() {
        let open = Gate::default();
        assert!(open.is_open());
        assert!(open.admits(Presented::default()));

        let owner = Gate {
            tokens: credentials(&["owner"]),
            ..Default::default()
        };
        assert!(!owner.admits(Presented::default()));
        assert!(!owner.admits(Presented {
            forwarded: true,
            ..Default::default()
        }));
        assert!(owner.admits(Presented {
            authorization: Some("Bearer owner"),
            ..Default::default()
        }));
        assert!(owner.admits(Presented {
            public_route: true,
            ..Default::default()
        }));

        let igor = Gate {
            tokens: Credentials::default(),
            forwarded: true,
            tenant: false,
        };
        assert!(!igor.is_open());
        assert!(!igor.admits(Presented {
            authorization: Some("Bearer owner"),
            ..Default::default()
        }));
        assert!(igor.admits(Presented {
            forwarded: true,
            ..Default::default()
        }));

        let revoked = Gate {
            tenant: true,
            ..Default::default()
        };
        assert!(!revoked.is_open());
        assert!(!revoked.admits(Presented {
            authorization: Some("Bearer anything"),
            ..Default::default()
        }));
        assert!(revoked.admits(Presented {
            public_route: true,
            ..Default::default()
        }));
    }
}
