//! `wasi:http/outgoing-handler`: the standard outbound HTTP interface, for
//! plugins written with an ordinary wasi-http client (`wstd`, `waki`, ...).
//!
//! wasmtime-wasi-http implements the interface; every request it would send
//! reaches [`PolicedHooks::send_request`], which hands it to the same
//! [`HttpCtx`] as `igor:plugin/http`: the same allowance of fetches per
//! request, egress policy (DNS-resolved address filtering, no redirects
//! followed), size caps, timeout, metrics and log lines. It never carries a
//! secret: secrets stay reachable only through `igor:plugin/http`, where the
//! operator says which URLs may receive them.

use std::future::Future;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi_http::{
    Error, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

use super::http::HttpCtx;
use crate::egress::FetchRequest;
use crate::limits::Limits;
use crate::wasm::bindings::http::FetchError as WitFetchError;

/// One request's `wasi:http` state: wasmtime-wasi-http's context and the
/// hooks that police what it sends.
pub struct WasiHttpCapability {
    ctx: WasiHttpCtx,
    hooks: PolicedHooks,
}

impl WasiHttpCapability {
    /// Requests go through `http`, sharing its allowance.
    pub fn new(http: HttpCtx, limits: &Limits) -> Self {
        let mut ctx = WasiHttpCtx::new();
        ctx.set_field_size_limit(limits.max_header_bytes);
        Self {
            ctx,
            hooks: PolicedHooks {
                http,
                max_body_bytes: limits.max_body_bytes,
            },
        }
    }

    /// The view wasmtime-wasi-http works through; `table` is the store's
    /// resource table, shared with wasi:io's streams and pollables.
    pub fn view<'a>(&'a mut self, table: &'a mut ResourceTable) -> WasiHttpCtxView<'a> {
        WasiHttpCtxView {
            ctx: &mut self.ctx,
            table,
            hooks: &mut self.hooks,
        }
    }
}

/// Links `wasi:http/outgoing-handler` and `wasi:http/types` (nothing else
/// of wasi:http, and no wasi:sockets).
pub fn add_to_linker<T: WasiHttpView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
}

/// Sends `wasi:http` requests through the plugin's [`HttpCtx`].
struct PolicedHooks {
    http: HttpCtx,
    max_body_bytes: usize,
}

/// What a send resolves to: the response, and a future for errors met while
/// its body streams (none here: the transport has read the whole body).
type SendResult = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
>;

impl WasiHttpHooks for PolicedHooks {
    /// The transport sets `host` from the URL it checked.
    fn set_host_header(&mut self) -> bool {
        false
    }

    /// No default scheme: a request says whether it is http or https.
    fn default_scheme(&mut self) -> Option<http::uri::Scheme> {
        None
    }

    /// The host's fetch timeout applies whatever `_options` ask: a plugin
    /// cannot wait longer, and the request's deadline bounds it anyway.
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _response_errors: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let http = self.http.clone();
        let max_body_bytes = self.max_body_bytes;
        Box::new(async move {
            let fetch = into_fetch(request, max_body_bytes).await?;
            let response = http
                .fetch_without_secrets(fetch)
                .await
                .map_err(into_error)?;
            let done = Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>;
            Ok((into_response(response)?, done))
        })
    }
}

/// The request as the egress client takes it, its body read up to the cap.
async fn into_fetch(
    request: http::Request<WasiBody>,
    max_body_bytes: usize,
) -> Result<FetchRequest, Error> {
    let (parts, body) = request.into_parts();
    let mut headers = Vec::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        // wasmtime-wasi-http has checked it against the body; the
        // transport sets its own.
        if name == http::header::CONTENT_LENGTH {
            continue;
        }
        let value = value.to_str().map_err(|_| {
            Error::InternalError(Some(format!("the value of header {name} is not text")))
        })?;
        headers.push((name.as_str().to_string(), value.to_string()));
    }
    let body = match Limited::new(body, max_body_bytes).collect().await {
        Ok(body) => body.to_bytes().to_vec(),
        Err(err) if err.is::<LengthLimitError>() => {
            return Err(Error::HttpRequestBodySize(None));
        }
        Err(err) => match err.downcast::<Error>() {
            Ok(err) => return Err(*err),
            Err(err) => return Err(Error::InternalError(Some(err.to_string()))),
        },
    };
    Ok(FetchRequest {
        method: parts.method.as_str().to_string(),
        url: parts.uri.to_string(),
        headers,
        body,
    })
}

fn into_response(
    response: crate::wasm::bindings::http::FetchResponse,
) -> Result<http::Response<WasiBody>, Error> {
    let mut builder = http::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        builder = builder.header(name, value);
    }
    let body = Full::new(Bytes::from(response.body))
        .map_err(|never| match never {})
        .boxed_unsync();
    builder
        .body(body)
        .map_err(|err| Error::InternalError(Some(err.to_string())))
}

/// The wasi:http error code for what the host refused or what failed (the
/// details are in the host's log line). The transport's `too-large`
/// messages start with the part that was too large.
fn into_error(err: WitFetchError) -> Error {
    match err {
        WitFetchError::Denied(_) => Error::HttpRequestDenied,
        WitFetchError::Timeout => Error::HttpResponseTimeout,
        WitFetchError::Connection(_) => Error::ConnectionRefused,
        WitFetchError::LimitExceeded(_) => Error::ConnectionLimitReached,
        WitFetchError::TooLarge(m) if m.starts_with("request headers") => {
            Error::HttpRequestHeaderSectionSize(None)
        }
        WitFetchError::TooLarge(m) if m.starts_with("request body") => {
            Error::HttpRequestBodySize(None)
        }
        WitFetchError::TooLarge(m) if m.starts_with("response headers") => {
            Error::HttpResponseHeaderSectionSize(None)
        }
        WitFetchError::TooLarge(_) => Error::HttpResponseBodySize(None),
        WitFetchError::InvalidRequest(m) | WitFetchError::SecretMissing(m) => {
            Error::InternalError(Some(m))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;

    use super::*;
    use crate::capabilities::http::tests::{ctx, upstream};

    fn hooks(http: HttpCtx) -> PolicedHooks {
        PolicedHooks {
            http,
            max_body_bytes: 16,
        }
    }

    fn post(url: &str, bytes: &'static [u8]) -> http::Request<WasiBody> {
        let body = Full::new(Bytes::from_static(bytes))
            .map_err(|never| match never {})
            .boxed_unsync();
        http::Request::post(url)
            .header("content-length", bytes.len())
            .header("x-note", "kept")
            .body(body)
            .unwrap()
    }

    async fn send(hooks: &mut PolicedHooks, request: http::Request<WasiBody>) -> SendResult {
        let done = Box::new(async { Ok(()) });
        Pin::from(hooks.send_request(request, None, done)).await
    }

    #[tokio::test]
    async fn requests_carry_no_secret_even_to_a_secret_url() {
        let (url, seen) = upstream().await;
        let token_url = format!("{url}/token");
        let (http, _dir) = ctx(&url, std::slice::from_ref(&token_url), 10).await;
        let mut hooks = hooks(http);
        let (response, _) = send(&mut hooks, post(&token_url, b"a=1")).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"ok");
        let sent = seen.lock().unwrap()[0].clone();
        assert!(sent.ends_with("\r\n\r\na=1"), "{sent}");
        assert!(sent.contains("x-note: kept"), "{sent}");
        assert!(!sent.contains("s3cret"), "{sent}");
        // Exactly one host header and one content-length, the transport's.
        assert_eq!(sent.matches("host:").count(), 1, "{sent}");
        assert_eq!(sent.matches("content-length:").count(), 1, "{sent}");
    }

    #[tokio::test]
    async fn oversized_bodies_and_refused_destinations_are_not_sent() {
        let (url, seen) = upstream().await;
        let (http, _dir) = ctx(&url, &[], 10).await;
        let mut hooks = hooks(http);
        let big = send(&mut hooks, post(&url, b"seventeen bytes!!")).await;
        assert!(matches!(big, Err(Error::HttpRequestBodySize(None))));
        let metadata = send(&mut hooks, post("http://169.254.169.254/", b"")).await;
        assert!(matches!(metadata, Err(Error::HttpRequestDenied)));
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn wasi_http_and_igor_http_share_the_allowance_of_fetches() {
        let (url, _) = upstream().await;
        let (http, _dir) = ctx(&url, &[], 2).await;
        let mut hooks = hooks(http.clone());
        let (first, _) = send(&mut hooks, post(&url, b"")).await.unwrap();
        assert_eq!(first.status(), 200);
        let get = crate::wasm::bindings::http::FetchRequest {
            method: "GET".into(),
            url: url.clone(),
            headers: vec![],
            body: vec![],
            credential: None,
        };
        http.fetch(get).await.unwrap();
        let over = send(&mut hooks, post(&url, b"")).await;
        assert!(matches!(over, Err(Error::ConnectionLimitReached)));
    }
}
