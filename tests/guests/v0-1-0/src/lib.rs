//! A plugin of `igor:plugin@0.1.0`, bound to the frozen WIT directly (not
//! through the SDK, which follows the newest version). `GET /` uses every
//! interface of 0.1.0 once and answers what each gave.

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "igor-plugin",
});

use exports::igor::plugin::handler::Guest;
use igor::plugin::http::{FetchRequest, http_fetch};
use igor::plugin::log::{Level, log};
use igor::plugin::secrets::{secret_exists, secret_set};
use igor::plugin::store::{store_delete, store_get, store_put};
use igor::plugin::types::{Request, Response};

struct Released;

fn config<'a>(request: &'a Request, key: &str) -> &'a str {
    let config = &request.context.config;
    let value = config
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str());
    value.unwrap_or("")
}

impl Guest for Released {
    fn handle_request(request: Request) -> Response {
        let mut out = Vec::new();
        let first = store_put("released/doc", "{\"n\":1}", Some(0));
        out.push(format!("put: {first:?}"));
        let revision = first.unwrap_or(0);
        let stale = store_put("released/doc", "{\"n\":2}", Some(revision + 1000));
        out.push(format!("stale put: {stale:?}"));
        let read = store_get("released/doc").map(|e| e.map(|e| e.json));
        out.push(format!("get: {read:?}"));
        out.push(format!(
            "delete: {:?}",
            store_delete("released/doc", Some(revision))
        ));
        out.push(format!("secret set: {:?}", secret_set("token", "t0p")));
        out.push(format!("secret exists: {:?}", secret_exists("token")));
        let fetch = http_fetch(&FetchRequest {
            method: "GET".into(),
            url: config(&request, "upstream_url").into(),
            headers: vec![],
            body: vec![],
            credential: None,
        });
        let fetch = fetch.map(|r| (r.status, String::from_utf8_lossy(&r.body).into_owned()));
        out.push(format!("fetch: {fetch:?}"));
        log(Level::Info, "a 0.1.0 plugin was here");
        Response {
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: out.join("\n").into_bytes(),
        }
    }
}

export!(Released);
