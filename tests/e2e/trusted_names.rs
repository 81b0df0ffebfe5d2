//! The names a browser may use for the host, against the real binary: a
//! page that rebinds its own name to the host's address (DNS rebinding)
//! gets 421 from the open loopback host, and a form posted from a page of
//! another name (or a private name the owner never configured) gets 403
//! before the plugin runs. Loopback, `localhost`, `base_url`'s host and
//! `[server] allowed_hosts` pass.

use crate::common;

use common::{Host, HostConfig};

const OWNER: &str = "token-of-the-owner";

/// `GET target` with `Host: host` (and the owner's token when given).
async fn get_as(host: &Host, target: &str, name: &str, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .get(format!("{}{target}", host.url))
        .header("host", name);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn port(host: &Host) -> u16 {
    host.url.rsplit(':').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebound_name_gets_421_from_the_open_host() {
    let config = HostConfig::new().server(|server| {
        server.base_url = Some("http://fitbit.home.arpa:9999".into());
        server.allowed_hosts = vec!["igor.local".into()];
    });
    let host = Host::start(config).await;
    let p = port(&host);
    let rebound = format!("rebind.attacker.com:{p}");
    for target in [
        "/plugin/fitbit?user=jack",
        "/plugin/fitbit/page/setup.html",
        "/status/sensors/fitbit",
    ] {
        let (status, body) = get_as(&host, target, &rebound, None).await;
        assert_eq!(status, 421, "{target}: {body}");
        assert!(body.contains("allowed_hosts"), "{body}");
        assert!(!body.contains("jack"), "{body}");
    }
    // The names the owner's browser uses.
    for name in [
        format!("127.0.0.1:{p}"),
        format!("localhost:{p}"),
        format!("[::1]:{p}"),
        format!("fitbit.home.arpa:{p}"),
        format!("igor.local:{p}"),
        "IGOR.LOCAL".to_string(),
    ] {
        let (status, body) = get_as(&host, "/plugin/fitbit/page/setup.html", &name, None).await;
        assert_eq!(status, 200, "{name}: {body}");
    }
    // Health needs nothing and says nothing.
    let (status, _) = get_as(&host, "/healthz", &rebound, None).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_with_the_required_credential_is_not_checked_by_name() {
    let host = Host::start(HostConfig::new().owner_token(OWNER)).await;
    let rebound = format!("rebind.attacker.com:{}", port(&host));
    let target = "/plugin/fitbit/page/setup.html";
    let (status, _) = get_as(&host, target, &rebound, None).await;
    assert_eq!(status, 401);
    let (status, body) = get_as(&host, target, &rebound, Some(OWNER)).await;
    assert_eq!(status, 200, "{body}");
}

/// The settings form posted with the owner's token, from `origin`, to the
/// host reached as `name` (and `X-Forwarded-Host: forwarded`, unverified).
async fn post_settings(
    host: &Host,
    origin: &str,
    name: &str,
    forwarded: Option<&str>,
    client_id: &str,
) -> (u16, String) {
    let mut request = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/plugin/fitbit/settings", host.url))
        .bearer_auth(OWNER)
        .header("origin", origin)
        .header("host", name)
        .form(&[("client_id", client_id)]);
    if let Some(forwarded) = forwarded {
        request = request.header("x-forwarded-host", forwarded);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn stored_client_id(host: &Host) -> Option<String> {
    host.stored("plugindata/fitbit")
        .and_then(|app| app["client_id"].as_str().map(str::to_string))
}

#[tokio::test(flavor = "multi_thread")]
async fn forms_from_untrusted_origins_are_refused_before_the_plugin_runs() {
    let config = HostConfig::new()
        .owner_token(OWNER)
        .server(|server| server.allowed_hosts = vec!["lan-box".into()]);
    let host = Host::start(config).await;
    let p = port(&host);
    let at = |name: &str| (format!("http://{name}:{p}"), format!("{name}:{p}"));

    // A private name the owner never configured, even when the page's
    // origin and the Host the browser sent agree (mDNS spoofing and
    // rebinding on the LAN); a LAN address; a trusted name the browser did
    // not use; an X-Forwarded-Host nobody verified.
    let (evil, evil_host) = at("evil.local");
    let (lan, lan_host) = at("192.168.1.20");
    let (localhost, _) = at("localhost");
    let (_, loopback_host) = at("127.0.0.1");
    let (lan_box, lan_box_host) = at("lan-box");
    for (origin, name, forwarded) in [
        (&evil, &evil_host, None),
        (&lan, &lan_host, None),
        (&localhost, &loopback_host, None),
        (&lan_box, &loopback_host, Some(lan_box_host.as_str())),
    ] {
        let (status, body) = post_settings(&host, origin, name, forwarded, "EVIL").await;
        assert_eq!(status, 403, "{origin} via {name}: {body}");
        assert!(body.contains("allowed_hosts"), "{body}");
        assert!(
            !body.contains("Fitbitplugin"),
            "the host refused, not the plugin: {body}"
        );
    }
    assert_eq!(
        stored_client_id(&host),
        None,
        "a refused form changed nothing"
    );

    // The base URL's origin (here the listen address), loopback and
    // localhost as the browser used them, and a configured name.
    for (n, (origin, name)) in [
        at("127.0.0.1"),
        (localhost.clone(), format!("localhost:{p}")),
        (lan_box.clone(), lan_box_host.clone()),
        (host.url.clone(), "proxy.internal:1".to_string()),
    ]
    .iter()
    .enumerate()
    {
        let client_id = format!("good-{n}");
        let (status, body) = post_settings(&host, origin, name, None, &client_id).await;
        assert!(status < 400, "{origin} via {name}: {status} {body}");
        assert_eq!(stored_client_id(&host), Some(client_id));
    }
}
