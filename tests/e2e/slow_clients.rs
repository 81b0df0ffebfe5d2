//! Callers who are slow, stall or send too much, against the real host
//! binary over raw TCP: credentials are checked before a body is read, a
//! body is read only up to the plugin's limit, headers and bodies have
//! deadlines, and open connections are capped, for all and per peer.

use crate::common;

use std::time::Duration;

use common::config::tenant;
use common::{Host, HostConfig, plugin};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const TOKEN: &str = "token-of-tenant-a";

fn tenant_config() -> HostConfig {
    let hostile = plugin("hostile").component(igor_test_guests::HOSTILE);
    HostConfig::new().tenant(tenant("a", TOKEN).plugin(hostile))
}

async fn connect(host: &Host) -> TcpStream {
    TcpStream::connect(host.url.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Everything the server sends until it closes the connection or the
/// test's own safety limit (a hang is the failure this guards against).
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    match tokio::time::timeout(Duration::from_secs(60), read).await {
        Ok(_) => String::from_utf8_lossy(&answer).into_owned(),
        Err(_) => panic!(
            "the host kept the connection open; got so far: {}",
            String::from_utf8_lossy(&answer)
        ),
    }
}

/// Sends `head` (request line and headers, ending in an empty line) and
/// no body, and returns the status line of the answer.
async fn status_without_body(host: &Host, head: &str) -> String {
    let mut stream = connect(host).await;
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buffer = [0u8; 1024];
    let read = stream.read(&mut buffer);
    let n = tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("the host waited for a body it should not read")
        .unwrap();
    let text = String::from_utf8_lossy(&buffer[..n]).into_owned();
    text.lines().next().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_and_limits_come_before_the_body() {
    let host = Host::start(tenant_config()).await;
    // Ten megabytes announced, none sent: a caller without the token is
    // refused at once, before the host reads a byte of it.
    let status = status_without_body(
        &host,
        "POST /tenants/a/plugin/hostile/ok HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n",
    )
    .await;
    assert_eq!(status, "HTTP/1.1 401 Unauthorized");
    // With the token, a body over the plugin's limit (1 MiB) is refused
    // from its announced length.
    let status = status_without_body(
        &host,
        &format!(
            "POST /tenants/a/plugin/hostile/ok HTTP/1.1\r\nHost: x\r\n\
             Authorization: Bearer {TOKEN}\r\nContent-Length: 2000000\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(status, "HTTP/1.1 413 Payload Too Large");
    // (A body that does not announce its length is cut off at the limit:
    // server::tests::a_streamed_body_is_read_only_up_to_the_plugins_limit.)
    let response = reqwest::Client::new()
        .post(format!("{}/tenants/a/plugin/hostile/ok", host.url))
        .bearer_auth(TOKEN)
        .body(vec![b'x'; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_headers_and_bodies_are_cut_off() {
    let host = Host::start(tenant_config().server(|server| {
        server.header_timeout_ms = 300;
        server.body_timeout_ms = 300;
    }))
    .await;
    // Headers that never end.
    let mut stalled = connect(&host).await;
    stalled
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stalled).await;
    assert!(!answer.contains("200 OK"), "{answer}");
    // A connection left idle after a request is closed the same way.
    let mut idle = connect(&host).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    // A body that stops arriving.
    let mut dripping = connect(&host).await;
    dripping
        .write_all(
            format!(
                "POST /tenants/a/plugin/hostile/ok HTTP/1.1\r\nHost: x\r\n\
                 Authorization: Bearer {TOKEN}\r\nContent-Length: 100\r\n\r\n0123456789"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let answer = read_until_closed(&mut dripping).await;
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout"),
        "{answer}"
    );
    assert!(answer.contains("did not arrive within 300 ms"), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn open_connections_are_capped() {
    let host = Host::start(tenant_config().server(|server| {
        server.max_connections = 2;
        server.header_timeout_ms = 600_000;
    }))
    .await;
    // Two clients hold both connections without finishing a request.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(&host).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        held.push(stream);
    }
    let url = format!("{}/healthz", host.url);
    let third = tokio::spawn(async move { reqwest::get(url).await.unwrap().status() });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !third.is_finished(),
        "a third connection was served while two were open"
    );
    // One client leaves: its slot goes to the waiting one.
    drop(held.pop());
    let status = tokio::time::timeout(Duration::from_secs(60), third)
        .await
        .expect("the waiting client was never served")
        .unwrap();
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_peers_idle_connections_do_not_keep_others_waiting() {
    let host = Host::start(tenant_config().server(|server| {
        server.max_connections = 8;
        server.max_connections_per_peer = 4;
        server.header_timeout_ms = 600_000;
    }))
    .await;
    let address: std::net::SocketAddr = host.url.trim_start_matches("http://").parse().unwrap();
    // Another address on this machine opens more connections than the host
    // serves at once, each with half a request.
    let mut attacker = Vec::new();
    for _ in 0..20 {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let mut stream = socket.connect(address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        attacker.push(stream);
    }
    // Served while every one of them is still open (no timeout freed a slot:
    // headers may take ten minutes here).
    let healthz = reqwest::get(format!("{}/healthz", host.url));
    let status = tokio::time::timeout(Duration::from_secs(60), healthz)
        .await
        .expect("another peer's idle connections kept /healthz waiting")
        .unwrap()
        .status();
    assert_eq!(status, 200);
    // The attacker's share was still open and is served; the rest were
    // answered 503 and closed.
    let (mut served, mut refused) = (0, 0);
    for mut stream in attacker {
        let _ = stream.write_all(b"Connection: close\r\n\r\n").await;
        let mut answer = Vec::new();
        let read = stream.read_to_end(&mut answer);
        let _ = tokio::time::timeout(Duration::from_secs(60), read)
            .await
            .expect("the host kept a connection open");
        let answer = String::from_utf8_lossy(&answer);
        if answer.starts_with("HTTP/1.1 200 OK") {
            served += 1;
        } else {
            assert!(
                answer.is_empty() || answer.starts_with("HTTP/1.1 503 Service Unavailable"),
                "{answer}"
            );
            refused += 1;
        }
    }
    assert_eq!((served, refused), (4, 16));
}
