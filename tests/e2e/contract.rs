//! The igor:plugin contract stays as released: components built against
//! 0.1.0 and 0.2.0 still run in the host, which binds the newest version
//! (that each released WIT file is unchanged is `host/tests/released_wit.rs`).

use crate::common;

use common::{Host, HostConfig, plugin, upstream};

/// The interfaces `wasm` imports, as the host sees them.
fn imports(wasm: &str) -> Vec<String> {
    let engine = igor_host::engine::build_engine(64 << 20, false).unwrap();
    let bytes = std::fs::read(wasm).unwrap();
    let component = igor_host::engine::load_component(&engine, &bytes, None, None).unwrap();
    let ty = component.component_type();
    ty.imports(&engine)
        .map(|(name, _)| name.to_string())
        .collect()
}

/// The `igor:plugin` interfaces `wasm` imports.
fn igor_imports(wasm: &str) -> Vec<String> {
    let all = imports(wasm).into_iter();
    all.filter(|name| name.starts_with("igor:plugin/"))
        .collect()
}

/// A host running `released`, and its 200 answer to `GET /`.
async fn answer_of(released: common::config::Plugin) -> (Host, String) {
    let host = Host::start(HostConfig::new().plugin(released)).await;
    let response = reqwest::get(format!("{}/plugin/released/", host.url))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    (host, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_built_against_0_1_0_still_runs() {
    let igor = igor_imports(igor_test_guests::V0_1_0);
    assert!(!igor.is_empty());
    assert!(igor.iter().all(|name| name.ends_with("@0.1.0")), "{igor:?}");
    // The SDK's components are of the newest version (this example lists).
    let example = imports(igor_test_guests::HELLO_WASI_HTTP);
    assert!(
        example.iter().any(|n| n == "igor:plugin/listing@0.2.0"),
        "{example:?}"
    );

    let upstream = upstream("hi there").await;
    let released = plugin("released")
        .component(igor_test_guests::V0_1_0)
        .setting("upstream_url", &format!("{upstream}/hi"))
        .allow(&upstream)
        .allow_loopback();
    let (host, body) = answer_of(released).await;
    for line in [
        "put: Ok(",
        "stale put: Err(StoreError::Conflict(",
        "get: Ok(Some(\"{\\\"n\\\":1}\"))",
        "delete: Ok(true)",
        "secret set: Ok(())",
        "secret exists: Ok(true)",
        "fetch: Ok((200, \"hi there\"))",
    ] {
        assert!(body.contains(line), "{line} missing from:\n{body}");
    }
    assert!(host.log().contains("a 0.1.0 plugin was here"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_built_against_0_2_0_still_runs() {
    let igor = igor_imports(igor_test_guests::V0_2_0);
    assert!(
        igor.contains(&"igor:plugin/listing@0.2.0".to_string()),
        "{igor:?}"
    );
    assert!(
        !igor.iter().any(|name| name.ends_with("@0.3.0")),
        "{igor:?}"
    );
    let released = plugin("released").component(igor_test_guests::V0_2_0);
    let (_host, body) = answer_of(released).await;
    assert!(
        body.contains("puts: [Ok(()), Ok(())]")
            && body.contains(r#"list: Ok(["kept/a", "kept/b"])"#),
        "{body}"
    );
}
