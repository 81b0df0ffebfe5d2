//! The igor:plugin contract stays as released: each released WIT file is
//! unchanged byte for byte, and a component built against 0.1.0 still runs
//! in the host, which binds the newest version.

mod common;

use common::{Host, upstream};
use sha2::{Digest, Sha256};

/// Each released version's WIT file and its SHA-256 at release.
const RELEASED: &[(&str, &str)] = &[(
    "0.1.0/igor-plugin.wit",
    "451470c86053a878a382fbba218ed66022696bc7c42b89b9f27988242d788432",
)];

#[test]
fn released_wit_files_are_unchanged() {
    let wit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    for (file, released) in RELEASED {
        let bytes = std::fs::read(wit.join(file)).unwrap();
        let now: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            &now, released,
            "wit/{file} changed after its release: a change is a new version (see wit/README.md)"
        );
    }
}

/// The interfaces `wasm` imports, as the host sees them.
fn imports(wasm: &str) -> Vec<String> {
    let engine = igor_host::engine::build_engine(64 << 20, false).unwrap();
    let bytes = std::fs::read(wasm).unwrap();
    let component = igor_host::engine::load_component(&engine, &bytes, None).unwrap();
    let ty = component.component_type();
    ty.imports(&engine)
        .map(|(name, _)| name.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_built_against_0_1_0_still_runs() {
    let igor: Vec<String> = imports(igor_test_guests::V0_1_0)
        .into_iter()
        .filter(|name| name.starts_with("igor:plugin/"))
        .collect();
    assert!(!igor.is_empty());
    assert!(igor.iter().all(|name| name.ends_with("@0.1.0")), "{igor:?}");
    // The SDK's components are of the newest version.
    let hello = imports(igor_test_guests::HELLO);
    assert!(
        hello.iter().any(|n| n == "igor:plugin/listing@0.2.0"),
        "{hello:?}"
    );

    let upstream = upstream("hi there").await;
    let host = Host::start_toml(&format!(
        r#"
[[plugin]]
name = "released"
component = "{}"
config = {{ upstream_url = "{upstream}/hi" }}
egress = {{ allow = ["{upstream}"], allow_loopback = true }}
"#,
        igor_test_guests::V0_1_0
    ))
    .await;
    let response = reqwest::get(format!("{}/plugin/released/", host.url))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
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
