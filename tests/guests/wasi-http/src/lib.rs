//! A plugin that sends HTTP through wasi:http (with `wstd`, an ordinary
//! wasi-http client) instead of igor:plugin/http, trying to get around the
//! egress policy. The host must police every request it sends.

use igor_plugin_sdk::{Host, Plugin, Request, Response};
use wstd::http::{Body, Client};

struct WasiHttp;

/// Sends `method url` with `body`; the answer or the error, as text.
fn send(method: &str, url: &str, body: Vec<u8>) -> String {
    let request = match wstd::http::Request::builder()
        .method(method)
        .uri(url)
        .body(Body::from(body))
    {
        Ok(request) => request,
        Err(err) => return format!("error {err}"),
    };
    wstd::runtime::block_on(async {
        match Client::new().send(request).await {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                match response.body_mut().contents().await {
                    Ok(body) => format!(
                        "status {} location {location:?} body {}",
                        status,
                        String::from_utf8_lossy(body)
                    ),
                    Err(err) => format!("error {err:?}"),
                }
            }
            Err(err) => format!("error {err:?}"),
        }
    })
}

fn arg<'a>(request: &'a Request, name: &str) -> &'a str {
    request.query(name).unwrap_or("")
}

impl Plugin for WasiHttp {
    fn handle(_host: &dyn Host, request: &Request) -> Response {
        let url = arg(request, "url");
        let text = match request.path.as_str() {
            "/get" => send("GET", url, Vec::new()),
            "/post" => {
                let size = arg(request, "size").parse().unwrap_or(0);
                send("POST", url, vec![b'x'; size])
            }
            "/follow" => {
                // Follow one redirect by hand: the second request must be
                // checked against the policy again.
                let first = send("GET", url, Vec::new());
                let location = first
                    .split("location \"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap_or("")
                    .to_string();
                format!(
                    "first: {first}\nsecond: {}",
                    send("GET", &location, Vec::new())
                )
            }
            _ => return Response::text(404, "no such attack".to_string()),
        };
        Response::text(200, text)
    }
}

igor_plugin_sdk::export_plugin!(WasiHttp);
