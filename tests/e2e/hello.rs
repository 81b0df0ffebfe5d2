//! The example plugins, built to wasm and run by the real host binary as
//! their READMEs describe: `examples/hello` (store, outbound HTTP through
//! the host, log) and `examples/hello-wasi-http` (outbound HTTP through
//! wasi:http, listing the store).

use crate::common;

use common::{Host, HostConfig, plugin, upstream};

/// `hello` may fetch from the upstream; `elsewhere`, the same component
/// under another name, points at an address no policy lets it reach.
fn config(upstream: &str) -> HostConfig {
    config_of(igor_test_guests::HELLO, upstream)
}

/// [`config`] for `component`, one of the examples.
fn config_of(component: &str, upstream: &str) -> HostConfig {
    let hello = plugin("hello")
        .component(component)
        .setting("upstream_url", &format!("{upstream}/hi"))
        .allow(upstream)
        .allow_loopback();
    let elsewhere = plugin("elsewhere")
        .component(component)
        .setting("upstream_url", "http://169.254.169.254/latest/meta-data/")
        .allow("http://169.254.169.254");
    HostConfig::new().plugin(hello).plugin(elsewhere)
}

async fn get_text(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// A document of plugin `plugin`, read with `igor-host get` as an operator would.
fn stored(host: &Host, plugin: &str, path: &str) -> serde_json::Value {
    let output = std::process::Command::new(common::host_binary())
        .arg("--config")
        .arg(&host.config_path)
        .args(["get", "--plugin", plugin, path])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn greetings_are_counted_in_the_store_even_when_concurrent() {
    let host = Host::start(config(&upstream("hi there").await)).await;
    let url = format!("{}/plugin/hello?name=jo", host.url);
    assert_eq!(
        get_text(&url).await,
        (200, "Hello, jo! (greeting number 1)\n".into())
    );
    // Eight at once: each lost compare-and-swap is retried, none is lost.
    let concurrent: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { get_text(&url).await })
        })
        .collect();
    for request in concurrent {
        assert_eq!(request.await.unwrap().0, 200);
    }
    assert_eq!(
        stored(&host, "hello", "greetings/jo"),
        serde_json::json!({"count": 9})
    );
    let log = host.log();
    let line = log
        .lines()
        .find(|l| l.contains("greeted jo (9)"))
        .unwrap_or_else(|| panic!("no log line of the ninth greeting:\n{log}"));
    assert!(line.contains("plugin=hello"), "{line}");

    let (status, body) = get_text(&format!("{}/plugin/hello?name=..", host.url)).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn fetches_go_through_the_egress_policy() {
    let upstream = upstream("hi there").await;
    let host = Host::start(config(&upstream)).await;
    let (status, body) = get_text(&format!("{}/plugin/hello/fetch", host.url)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, format!("{upstream}/hi answered 200: hi there\n"));

    let (status, body) = get_text(&format!("{}/plugin/elsewhere/fetch", host.url)).await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body.contains("refused by the host's egress policy"),
        "{body}"
    );
    assert!(host.log().contains("egress refused"));
}

#[tokio::test(flavor = "multi_thread")]
async fn wasi_http_fetches_go_through_the_same_egress_policy() {
    let upstream = upstream("hi there").await;
    let host = Host::start(config_of(igor_test_guests::HELLO_WASI_HTTP, &upstream)).await;
    let (status, body) = get_text(&format!("{}/plugin/hello/fetch", host.url)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        format!("{upstream}/hi answered 200 over wasi:http: hi there\n")
    );
    assert_eq!(
        stored(&host, "hello", "last-fetch"),
        serde_json::json!({"url": format!("{upstream}/hi"), "status": 200, "body": "hi there"})
    );

    let (status, body) = get_text(&format!("{}/plugin/elsewhere/fetch", host.url)).await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("HttpRequestDenied"), "{body}");
    let log = host.log();
    let refused = log
        .lines()
        .find(|l| l.contains("egress refused"))
        .unwrap_or_else(|| panic!("refusal not logged:\n{log}"));
    assert!(refused.contains("plugin=elsewhere"), "{refused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_finds_every_document_to_forget() {
    let upstream = upstream("hi there").await;
    let host = Host::start(config(&upstream)).await;
    for name in ["jo", "al"] {
        get_text(&format!("{}/plugin/hello?name={name}", host.url)).await;
    }
    // The second example, installed under the same name, has the same
    // documents; listing (igor:plugin@0.2.0) finds them all.
    host.rewrite(config_of(igor_test_guests::HELLO_WASI_HTTP, &upstream));
    let forget = ["call", "-X", "POST", "/plugin/hello/forget"];
    let out = host.command(&forget);
    assert!(out.contains("forgot 2 documents"), "{out}");
    let gone = host.run(&["get", "--plugin", "hello", "greetings/jo"]);
    assert!(!gone.status.success(), "{gone:?}");
    assert!(host.command(&forget).contains("forgot 0 documents"));
}
