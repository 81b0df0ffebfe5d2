//! `igor:plugin/http`: outbound HTTP under the host's egress policy.
//!
//! [`HttpCtx`] is one request's outbound allowance: the policy check, the
//! number of fetches a request may make, the host-held secret a fetch may
//! carry (inserted only for URLs the operator allowed to receive it), the
//! deadline rule for credential fetches, the denial metric and the log
//! lines. The transport is [`crate::egress::EgressClient`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use url::Url;
use wasmtime::component::{HasData, Linker};

use crate::egress::{EgressClient, FetchError, FetchRequest, SecretUse};
use crate::metrics::{self, METRICS};
use crate::store::{Namespace, SecretStore};
use crate::wasm::bindings::http::{self as wit, Credential, FetchError as WitFetchError};
use crate::wasm::deadline::Deadline;

/// One request's outbound HTTP. Cheap to clone: clones share the allowance.
#[derive(Clone)]
pub struct HttpCtx {
    inner: Arc<Outbound>,
}

struct Outbound {
    egress: Arc<EgressClient>,
    secrets: Arc<dyn SecretStore>,
    namespace: Namespace,
    /// Where the host keeps secrets, in words, for `secret-missing`.
    secrets_location: Option<String>,
    max_fetches: u32,
    fetches: AtomicU32,
    deadline: Arc<Deadline>,
}

impl HttpCtx {
    pub fn new(
        egress: Arc<EgressClient>,
        secrets: Arc<dyn SecretStore>,
        namespace: Namespace,
        secrets_location: Option<String>,
        max_fetches: u32,
        deadline: Arc<Deadline>,
    ) -> Self {
        Self {
            inner: Arc::new(Outbound {
                egress,
                secrets,
                namespace,
                secrets_location,
                max_fetches,
                fetches: AtomicU32::new(0),
                deadline,
            }),
        }
    }

    /// Performs one fetch for the plugin: counted against the request's
    /// allowance, checked against the policy before anything else (a secret
    /// is only looked up for a permitted URL), sent, logged.
    pub async fn fetch(
        &self,
        request: wit::FetchRequest,
    ) -> Result<wit::FetchResponse, WitFetchError> {
        let fetch = FetchRequest {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
        };
        let url = self.admit(&fetch)?;
        let secret = match request.credential {
            None => None,
            Some(credential) => Some(self.credential(&url, credential).await?),
        };
        self.send(fetch, &url, secret).await
    }

    /// Performs one fetch that carries no secret (a `wasi:http` request):
    /// the same allowance, policy, transport, metrics and log lines.
    pub async fn fetch_without_secrets(
        &self,
        fetch: FetchRequest,
    ) -> Result<wit::FetchResponse, WitFetchError> {
        let url = self.admit(&fetch)?;
        self.send(fetch, &url, None).await
    }

    /// Counts `fetch` against the request's allowance and checks it
    /// against the policy; returns its parsed URL.
    fn admit(&self, fetch: &FetchRequest) -> Result<Url, WitFetchError> {
        let out = &self.inner;
        let (tenant, plugin) = (&out.namespace.tenant, &out.namespace.plugin);
        if out.fetches.fetch_add(1, Ordering::Relaxed) >= out.max_fetches {
            tracing::warn!(%tenant, %plugin, "fetch limit reached");
            return Err(WitFetchError::LimitExceeded(format!(
                "a request may make at most {} fetches",
                out.max_fetches
            )));
        }
        let url = out.egress.check(fetch).inspect_err(|err| {
            self.count_denial();
            tracing::warn!(%tenant, %plugin, url = %redact(&fetch.url), error = %err, "egress refused");
        })?;
        Ok(url)
    }

    /// The secret `credential` names, resolved for `url` if it may receive it.
    async fn credential(
        &self,
        url: &Url,
        credential: Credential,
    ) -> Result<SecretUse, WitFetchError> {
        let out = &self.inner;
        if !out.egress.policy().may_receive_secret(url) {
            self.count_denial();
            let (tenant, plugin) = (&out.namespace.tenant, &out.namespace.plugin);
            tracing::warn!(%tenant, %plugin, url = %redact(url.as_str()), "secret refused for this URL");
            return Err(WitFetchError::Denied(format!(
                "{} may not receive secrets",
                redact(url.as_str())
            )));
        }
        let name = match &credential {
            Credential::Basic(b) => &b.secret,
            Credential::FormField(f) => &f.secret,
        };
        let value = match out.secrets.get(&out.namespace, name).await {
            Ok(Some(value)) => value,
            Ok(None) => return Err(WitFetchError::SecretMissing(self.missing_secret_text(name))),
            Err(err) => return Err(WitFetchError::Connection(format!("secret store: {err}"))),
        };
        Ok(match credential {
            Credential::Basic(b) => SecretUse::Basic {
                user: b.user,
                password: value,
            },
            Credential::FormField(f) => SecretUse::FormField {
                field: f.field,
                value,
            },
        })
    }

    async fn send(
        &self,
        fetch: FetchRequest,
        url: &Url,
        secret: Option<SecretUse>,
    ) -> Result<wit::FetchResponse, WitFetchError> {
        let out = &self.inner;
        let (tenant, plugin) = (&out.namespace.tenant, &out.namespace.plugin);
        // A fetch carrying a secret goes to a token or revoke endpoint:
        // once it started, its answer is kept (see `deadline`).
        let protected = secret.is_some();
        if protected && !out.deadline.credential_fetch_starts(Instant::now()) {
            return Err(WitFetchError::Timeout);
        }
        let started = Instant::now();
        let result = out.egress.fetch(fetch, secret).await;
        if protected {
            let answered_2xx = matches!(&result, Ok(r) if (200..300).contains(&r.status));
            out.deadline
                .credential_fetch_ended(Instant::now(), answered_2xx);
        }
        match &result {
            Ok(response) => tracing::debug!(
                %tenant, %plugin, url = %redact(url.as_str()), status = response.status,
                elapsed_ms = started.elapsed().as_millis() as u64, "fetch"
            ),
            Err(err) => {
                if matches!(err, FetchError::Denied(_)) {
                    self.count_denial();
                }
                tracing::warn!(%tenant, %plugin, url = %redact(url.as_str()), error = %err, "fetch failed");
            }
        }
        result
            .map(|r| wit::FetchResponse {
                status: r.status,
                headers: r.headers,
                body: r.body,
            })
            .map_err(Into::into)
    }

    /// What `secret-missing` says: which secret, and where the host looked.
    fn missing_secret_text(&self, name: &str) -> String {
        let ns = &self.inner.namespace;
        let location = match &self.inner.secrets_location {
            Some(location) => format!(" ({location})"),
            None => String::new(),
        };
        format!(
            "{name} is not set for plugin {} (tenant {}) in the host's secret store{location}",
            ns.plugin, ns.tenant
        )
    }

    fn count_denial(&self) {
        let ns = &self.inner.namespace;
        METRICS
            .egress_denials
            .get_or_create(&metrics::plugin_labels(&ns.tenant, &ns.plugin))
            .inc();
    }
}

impl From<FetchError> for WitFetchError {
    fn from(err: FetchError) -> Self {
        match err {
            FetchError::Denied(m) => WitFetchError::Denied(m),
            FetchError::Timeout => WitFetchError::Timeout,
            FetchError::Connection(m) => WitFetchError::Connection(m),
            FetchError::TooLarge(m) => WitFetchError::TooLarge(m),
            FetchError::InvalidRequest(m) => WitFetchError::InvalidRequest(m),
        }
    }
}

/// A URL without its query, which may carry tokens or codes, bounded.
fn redact(url: &str) -> String {
    crate::echo::echo(crate::egress::without_query(url))
}

/// How the store's `T` reaches its [`HttpCtx`].
pub trait HttpView: Send {
    fn http(&mut self) -> &mut HttpCtx;
}

struct HasHttp;

impl HasData for HasHttp {
    type Data<'a> = &'a mut HttpCtx;
}

/// Links `igor:plugin/http` to each store's [`HttpCtx`].
pub fn add_to_linker<T: HttpView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasHttp>(linker, T::http)
}

impl wit::Host for HttpCtx {
    async fn http_fetch(
        &mut self,
        request: wit::FetchRequest,
    ) -> wasmtime::Result<Result<wit::FetchResponse, WitFetchError>> {
        let _timing = tracing::trace_span!("http.fetch");
        Ok(self.fetch(request).await)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::Semaphore;

    use super::*;
    use crate::capabilities::secrets::tests::sealed;
    use crate::egress::EgressPolicy;
    use crate::egress::policy::Rules;
    use crate::limits::Limits;

    /// A loopback server answering 200 to everything; what it was sent.
    pub(crate) async fn upstream() -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = vec![0u8; 8192];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                record
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
            }
        });
        (url, seen)
    }

    pub(crate) async fn ctx(
        upstream: &str,
        secret_urls: &[String],
        max_fetches: u32,
    ) -> (HttpCtx, tempfile::TempDir) {
        let policy = EgressPolicy::from_config(&Rules {
            allow: vec![upstream.to_string()],
            secret_urls: secret_urls.to_vec(),
            allow_loopback: true,
        })
        .unwrap();
        let limits = Limits::default();
        let egress = EgressClient::new(policy, limits, Arc::new(Semaphore::new(4))).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let secrets = sealed(&dir);
        let ns = Namespace::new("t", "p");
        secrets.set(&ns, "client_secret", "s3cret").await.unwrap();
        let deadline = Arc::new(Deadline::new(Instant::now(), &limits));
        let location = Some("the host's store".to_string());
        let ctx = HttpCtx::new(
            Arc::new(egress),
            secrets,
            ns,
            location,
            max_fetches,
            deadline,
        );
        (ctx, dir)
    }

    fn post(url: &str, secret: Option<&str>) -> wit::FetchRequest {
        wit::FetchRequest {
            method: "POST".into(),
            url: url.into(),
            headers: vec![],
            body: b"a=1".to_vec(),
            credential: secret.map(|name| {
                Credential::FormField(wit::FormCredential {
                    field: "client_secret".into(),
                    secret: name.into(),
                })
            }),
        }
    }

    #[tokio::test]
    async fn a_secret_goes_only_where_the_operator_allows() {
        let (url, seen) = upstream().await;
        let token_url = format!("{url}/token");
        let (ctx, _dir) = ctx(&url, std::slice::from_ref(&token_url), 10).await;
        let refused = ctx
            .fetch(post(&format!("{url}/other"), Some("client_secret")))
            .await;
        assert!(
            matches!(refused, Err(WitFetchError::Denied(m)) if m.contains("may not receive secrets"))
        );
        assert!(seen.lock().unwrap().is_empty());

        let sent = ctx
            .fetch(post(&token_url, Some("client_secret")))
            .await
            .unwrap();
        assert_eq!((sent.status, sent.body.as_slice()), (200, &b"ok"[..]));
        assert!(seen.lock().unwrap()[0].ends_with("a=1&client_secret=s3cret"));

        let missing = ctx.fetch(post(&token_url, Some("other_secret"))).await;
        assert!(matches!(missing, Err(WitFetchError::SecretMissing(m))
            if m.contains("other_secret") && m.contains("(the host's store)")));
    }

    #[tokio::test]
    async fn a_request_has_a_fixed_number_of_fetches_refused_ones_included() {
        let (url, _) = upstream().await;
        let (ctx, _dir) = ctx(&url, &[], 2).await;
        let denied = ctx.fetch(post("http://169.254.169.254/", None)).await;
        assert!(matches!(denied, Err(WitFetchError::Denied(_))));
        // A clone shares the allowance (as wasi:http's requests do).
        ctx.clone().fetch(post(&url, None)).await.unwrap();
        let over = ctx.fetch(post(&url, None)).await;
        assert!(matches!(over, Err(WitFetchError::LimitExceeded(m)) if m.contains("at most 2")));
    }
}
