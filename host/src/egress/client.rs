//! Transport for `http-fetch`: a real HTTP client (rustls) that only dials
//! addresses the policy allows, never follows redirects, caps sizes and
//! times, and adds secrets after the policy check.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::sync::Semaphore;
use url::Url;

use super::policy::{AddressClass, EgressPolicy, classify};
use crate::echo::echo;
use crate::limits::Limits;

/// A host-side fetch request (the WIT record, minus bindings).
#[derive(Debug, Clone)]
pub struct FetchRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A secret to insert, already resolved by the caller.
pub enum SecretUse {
    Basic { user: String, password: String },
    FormField { field: String, value: String },
}

#[derive(Debug, Clone)]
pub struct FetchResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("denied: {0}")]
    Denied(String),
    #[error("timed out")]
    Timeout,
    #[error("connection failed: {0}")]
    Connection(String),
    #[error("too large: {0}")]
    TooLarge(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

/// Headers a plugin may not set: the transport owns them.
const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
];

/// How long an unused upstream connection stays open.
const POOL_IDLE: Duration = Duration::from_secs(30);

/// One plugin's outbound client: its own connection pool, so connections are
/// never shared between plugins or tenants.
pub struct EgressClient {
    /// Built at the first fetch and dropped by [`Self::drop_if_idle`]: of
    /// 10,000 tenants most do not fetch on a given host at a given time,
    /// and a pool costs memory. With it, when it was last used.
    client: std::sync::Mutex<Option<(reqwest::Client, std::time::Instant)>>,
    policy: Arc<EgressPolicy>,
    connections: Arc<Semaphore>,
    limits: Limits,
}

#[derive(Debug)]
struct BlockedAddresses {
    host: String,
    /// Some of them are loopback, which a setting would let in.
    loopback: bool,
}

impl std::fmt::Display for BlockedAddresses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} resolves only to blocked addresses", self.host)?;
        if self.loopback {
            write!(f, "; one {}", crate::egress::policy::LOOPBACK_REFUSED)?;
        }
        Ok(())
    }
}

impl StdError for BlockedAddresses {}

/// Resolves names and drops every address the policy forbids, so the client
/// connects only to what is left (no second lookup to rebind).
struct FilteringResolver {
    policy: Arc<EgressPolicy>,
}

impl Resolve for FilteringResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let (addrs, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
                tokio::net::lookup_host((host.as_str(), 0))
                    .await?
                    .partition(|addr| policy.ip_allowed(addr.ip()));
            if addrs.is_empty() {
                let loopback = refused
                    .iter()
                    .any(|addr| classify(addr.ip()) == AddressClass::Loopback);
                let blocked = BlockedAddresses { host, loopback };
                return Err(Box::new(blocked) as Box<dyn StdError + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

impl EgressClient {
    /// `connections` caps the open connections of the plugin's tenant.
    pub fn new(
        policy: EgressPolicy,
        limits: Limits,
        connections: Arc<Semaphore>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            client: Default::default(),
            policy: Arc::new(policy),
            connections,
            limits,
        })
    }

    fn client(&self) -> Result<reqwest::Client, FetchError> {
        let mut slot = self.client.lock().expect("egress client lock");
        let now = std::time::Instant::now();
        if let Some((client, used)) = slot.as_mut() {
            *used = now;
            return Ok(client.clone());
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(FilteringResolver {
                policy: self.policy.clone(),
            }))
            .no_proxy()
            .connect_timeout(Duration::from_millis(self.limits.fetch_timeout_ms))
            .pool_idle_timeout(POOL_IDLE)
            .user_agent(concat!("igor-host/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Connection(format!("no HTTP client: {e}")))?;
        *slot = Some((client.clone(), now));
        Ok(client)
    }

    /// Drops the client (and its connection pool) when it has not been
    /// used for `idle`; the next fetch builds a new one. Whether it held one.
    pub fn drop_if_idle(&self, idle: Duration) -> bool {
        let mut slot = self.client.lock().expect("egress client lock");
        let stale = slot
            .as_ref()
            .is_some_and(|(_, used)| used.elapsed() >= idle);
        if stale {
            *slot = None;
        }
        stale
    }

    pub fn policy(&self) -> &EgressPolicy {
        &self.policy
    }

    /// Checks the request against the policy; returns the parsed URL.
    pub fn check(&self, request: &FetchRequest) -> Result<Url, FetchError> {
        let url = Url::parse(&request.url).map_err(|e| {
            FetchError::InvalidRequest(format!(
                "bad URL {:?}: {e}",
                echo(without_query(&request.url))
            ))
        })?;
        self.policy.check_url(&url).map_err(FetchError::Denied)?;
        Ok(url)
    }

    /// Performs one exchange. `secret` must only be given for a URL that
    /// `policy().may_receive_secret` accepted.
    pub async fn fetch(
        &self,
        request: FetchRequest,
        secret: Option<SecretUse>,
    ) -> Result<FetchResponse, FetchError> {
        let url = self.check(&request)?;
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|_| {
            FetchError::InvalidRequest(format!("bad method {:?}", echo(&request.method)))
        })?;
        let mut headers = reqwest::header::HeaderMap::new();
        let mut header_bytes = 0;
        for (name, value) in &request.headers {
            let lower = name.to_ascii_lowercase();
            if FORBIDDEN_HEADERS.contains(&lower.as_str()) {
                return Err(FetchError::InvalidRequest(format!(
                    "header {:?} is set by the host",
                    echo(name)
                )));
            }
            header_bytes += name.len() + value.len();
            let name = reqwest::header::HeaderName::from_bytes(lower.as_bytes()).map_err(|_| {
                FetchError::InvalidRequest(format!("bad header name {:?}", echo(name)))
            })?;
            let value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| FetchError::InvalidRequest(format!("bad value for header {name}")))?;
            headers.append(name, value);
        }
        if header_bytes > self.limits.max_header_bytes {
            return Err(FetchError::TooLarge(format!(
                "request headers exceed {} bytes",
                self.limits.max_header_bytes
            )));
        }
        let mut body = request.body;
        match secret {
            None => {}
            Some(SecretUse::Basic { user, password }) => {
                if headers.contains_key(reqwest::header::AUTHORIZATION) {
                    return Err(FetchError::InvalidRequest(
                        "a basic credential replaces the authorization header; do not set both"
                            .into(),
                    ));
                }
                let token = base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    format!("{user}:{password}"),
                );
                let value = reqwest::header::HeaderValue::from_str(&format!("Basic {token}"))
                    .map_err(|_| FetchError::InvalidRequest("bad basic credential".into()))?;
                headers.insert(reqwest::header::AUTHORIZATION, value);
            }
            Some(SecretUse::FormField { field, value }) => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair(&field, &value);
                if !body.is_empty() {
                    body.push(b'&');
                }
                body.extend_from_slice(form.finish().as_bytes());
            }
        }
        if body.len() > self.limits.max_body_bytes {
            return Err(FetchError::TooLarge(format!(
                "request body exceeds {} bytes",
                self.limits.max_body_bytes
            )));
        }

        let _connection = self
            .connections
            .acquire()
            .await
            .map_err(|_| FetchError::Connection("client shut down".into()))?;
        let _timing = tracing::trace_span!("egress.exchange");
        let timeout = Duration::from_millis(self.limits.fetch_timeout_ms);
        let exchange = async {
            let response = self
                .client()?
                .request(method, url)
                .headers(headers)
                .body(body)
                .send()
                .await
                .map_err(classify_error)?;
            self.read_response(response).await
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| FetchError::Timeout)?
    }

    async fn read_response(
        &self,
        response: reqwest::Response,
    ) -> Result<FetchResponse, FetchError> {
        let status = response.status().as_u16();
        let mut header_bytes = 0;
        let mut headers = Vec::new();
        for (name, value) in response.headers() {
            header_bytes += name.as_str().len() + value.len();
            headers.push((
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ));
        }
        if header_bytes > self.limits.max_header_bytes {
            return Err(FetchError::TooLarge(format!(
                "response headers exceed {} bytes",
                self.limits.max_header_bytes
            )));
        }
        let cap = self.limits.max_fetch_response_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > cap as u64)
        {
            return Err(FetchError::TooLarge(format!(
                "response body exceeds {cap} bytes"
            )));
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(classify_error)?;
            if body.len() + chunk.len() > cap {
                return Err(FetchError::TooLarge(format!(
                    "response body exceeds {cap} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchResponse {
            status,
            headers,
            body,
        })
    }
}

fn classify_error(err: reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn StdError + 'static)> = Some(&err);
    while let Some(e) = source {
        if let Some(blocked) = e.downcast_ref::<BlockedAddresses>() {
            return FetchError::Denied(blocked.to_string());
        }
        source = e.source();
    }
    if err.is_timeout() {
        FetchError::Timeout
    } else {
        // reqwest's message names the URL, query included: leave it out
        // (the plugin knows where it sent the request).
        let err = err.without_url();
        let mut message = err.to_string();
        let mut source = err.source();
        while let Some(e) = source {
            message = format!("{message}: {e}");
            source = e.source();
        }
        FetchError::Connection(message)
    }
}

/// A URL without its query and fragment, which may carry tokens or codes.
pub fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egress::policy::Rules;

    fn client(allow: &[&str], loopback: bool, limits: Limits) -> EgressClient {
        let policy = EgressPolicy::from_config(&Rules {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            secret_urls: vec![],
            allow_loopback: loopback,
        })
        .unwrap();
        EgressClient::new(policy, limits, Arc::new(Semaphore::new(4))).unwrap()
    }

    fn get(url: &str) -> FetchRequest {
        FetchRequest {
            method: "GET".into(),
            url: url.into(),
            headers: vec![],
            body: vec![],
        }
    }

    /// A one-shot HTTP server on loopback answering `response` verbatim.
    async fn serve_once(response: &'static str) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let _ = socket.write_all(response.as_bytes()).await;
        });
        port
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_denied() {
        let c = client(&["http://localhost:9"], false, Limits::default());
        let err = c.fetch(get("http://localhost:9/"), None).await.unwrap_err();
        assert!(
            matches!(err, FetchError::Denied(ref m) if m.contains("blocked")),
            "{err:?}"
        );
        // The refusal names the setting that would let loopback in.
        assert!(err.to_string().contains("allow_loopback = true"), "{err}");
    }

    #[tokio::test]
    async fn redirects_are_returned_not_followed() {
        let port = serve_once(
            "HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\nContent-Length: 0\r\n\r\n",
        )
        .await;
        let url = format!("http://127.0.0.1:{port}");
        let c = client(&[&url], true, Limits::default());
        let response = c.fetch(get(&format!("{url}/")), None).await.unwrap();
        assert_eq!(response.status, 302);
        assert!(
            response
                .headers
                .iter()
                .any(|(k, v)| k == "location" && v == "http://169.254.169.254/")
        );
    }

    #[tokio::test]
    async fn oversized_responses_are_cut_off() {
        let port = serve_once(
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
        )
        .await;
        let url = format!("http://127.0.0.1:{port}");
        let limits = Limits {
            max_fetch_response_bytes: 50,
            ..Limits::default()
        };
        let c = client(&[&url], true, limits);
        let err = c.fetch(get(&format!("{url}/")), None).await.unwrap_err();
        assert!(matches!(err, FetchError::TooLarge(_)), "{err:?}");
    }

    #[tokio::test]
    async fn host_owned_headers_are_rejected() {
        let c = client(&["https://api.example.com"], false, Limits::default());
        let mut request = get("https://api.example.com/");
        request.headers.push(("Host".into(), "evil".into()));
        let err = c.fetch(request, None).await.unwrap_err();
        assert!(matches!(err, FetchError::InvalidRequest(_)), "{err:?}");
    }

    #[tokio::test]
    async fn the_client_is_built_at_the_first_fetch_and_dropped_when_idle() {
        let port = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
        let url = format!("http://127.0.0.1:{port}");
        let c = client(&[&url], true, Limits::default());
        assert!(!c.drop_if_idle(Duration::ZERO), "no client before a fetch");
        c.fetch(get(&format!("{url}/")), None).await.unwrap();
        assert!(!c.drop_if_idle(Duration::from_secs(3600)), "used just now");
        assert!(c.drop_if_idle(Duration::ZERO));
        assert!(!c.drop_if_idle(Duration::ZERO), "already dropped");
    }
}
