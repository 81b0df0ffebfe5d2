//! `hello-wasi-http`: the second example. `GET /fetch` fetches the
//! operator's `upstream_url` with an ordinary wasi-http client (`wstd`)
//! instead of the SDK's `fetch`, and keeps the answer at `last-fetch`;
//! `POST /forget` removes everything the plugin keeps, found with
//! `store_list`. See README.md, and `examples/hello` for the basics.

use igor_plugin_sdk::{Host, Level, Plugin, Request, Response, StoreFailure};
use serde_json::json;

pub struct HelloWasiHttp;

impl Plugin for HelloWasiHttp {
    fn handle(host: &dyn Host, request: &Request) -> Response {
        let answer = match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/fetch") => fetch(host, request.config("upstream_url")),
            ("POST", "/forget") => forget(host),
            _ => Ok(Response::text(404, format!("No page {}", request.path))),
        };
        answer.unwrap_or_else(|err| Response::text(503, format!("store: {err}")))
    }
}

igor_plugin_sdk::export_plugin!(HelloWasiHttp);

/// One GET through `wasi:http/outgoing-handler`. The host sends it under
/// the same egress policy, limits and allowance as the SDK's `fetch`, but
/// never adds a secret to it.
fn fetch(host: &dyn Host, url: Option<&str>) -> Result<Response, StoreFailure> {
    let Some(url) = url else {
        return Ok(Response::text(500, "set upstream_url in [plugin.config]"));
    };
    let answer = wstd::runtime::block_on(async {
        let get = wstd::http::Request::get(url).body(wstd::http::Body::empty())?;
        let mut response = wstd::http::Client::new().send(get).await?;
        let body = response.body_mut().str_contents().await?.to_string();
        Ok::<_, wstd::http::Error>((response.status().as_u16(), body))
    });
    match answer {
        Ok((status, body)) => {
            let kept = json!({ "url": url, "status": status, "body": body });
            host.store_put("last-fetch", &kept, None)?;
            host.log(
                Level::Info,
                &format!("fetched {url} over wasi:http: {status}"),
            );
            let text = format!("{url} answered {status} over wasi:http: {body}");
            Ok(Response::text(200, text))
        }
        // A refusal is a wasi:http error code (`HttpRequestDenied`, ...);
        // the host's log says why.
        Err(err) => {
            let text = format!("fetching {url} over wasi:http: {err}");
            host.log(Level::Warn, &text);
            Ok(Response::text(502, text))
        }
    }
}

/// Removes every document of the plugin: an empty prefix lists them all.
fn forget(host: &dyn Host) -> Result<Response, StoreFailure> {
    let paths = host.store_list("")?;
    for path in &paths {
        host.store_delete(path, None)?;
    }
    host.log(Level::Info, &format!("forgot {} documents", paths.len()));
    Ok(Response::text(
        200,
        format!("forgot {} documents", paths.len()),
    ))
}

#[cfg(test)]
mod tests {
    use igor_plugin_sdk::testing::{self, MemoryHost};
    use serde_json::json;

    use super::*;

    // The SDK's in-memory host does not see wasi:http requests: the fetch
    // is tested in the real host (tests/e2e/hello.rs).
    #[test]
    fn forgets_everything_it_keeps_and_needs_an_upstream() {
        let host = MemoryHost::default();
        host.put("last-fetch", json!({}));
        host.put("notes/a", json!(1));
        let forget = testing::request("hello-wasi-http", "POST", "/forget", &[]);
        let response = HelloWasiHttp::handle(&host, &forget);
        assert_eq!(response.body_text(), "forgot 2 documents\n");
        assert!(host.documents.borrow().is_empty());

        let fetch = testing::request("hello-wasi-http", "GET", "/fetch", &[]);
        assert_eq!(HelloWasiHttp::handle(&host, &fetch).status, 500);
    }
}
