use super::*;
use igor_build_support::manifest::{with_custom_section, with_manifest};

const EXAMPLE: &str = r#"
name = "weather"
description = "Forecasts"
[config]
api_url = "https://api.example.com/v2"
token_url = "https://auth.example.com/oauth/token"
units = "metric"
[egress]
allow = ["{api_url}", "{token_url}", "https://*.cdn.example.net"]
secret_urls = ["{token_url}", "{api_url}/revoke"]
[[public_route]]
path = "/callback"
reason = "the provider's redirect"
[[public_route]]
path = "/hook"
methods = ["POST"]
pass_authorization = true
"#;

fn plugin(toml_entry: &str) -> PluginConfig {
    toml::from_str(&format!("name = \"weather\"\n{toml_entry}")).unwrap()
}

#[test]
fn the_manifest_is_granted_with_its_defaults() {
    let manifest = Manifest::parse(EXAMPLE).unwrap();
    let grant = grant(Some(&manifest), &plugin("")).unwrap();
    assert_eq!(
        grant.egress.allow,
        [
            "https://api.example.com:443",
            "https://auth.example.com:443",
            "https://*.cdn.example.net:443"
        ]
    );
    assert_eq!(
        grant.egress.secret_urls,
        [
            "https://auth.example.com/oauth/token",
            "https://api.example.com/v2/revoke"
        ]
    );
    assert!(!grant.egress.allow_loopback);
    assert_eq!(
        grant.config.get("units").map(String::as_str),
        Some("metric")
    );
    assert_eq!(grant.public_routes.len(), 2);
    assert!(
        !grant.public_routes[0].pass_authorization,
        "kept by default"
    );
    assert!(grant.public_routes[1].pass_authorization);
    assert!(grant.public_routes[0].matches("get", "/callback"));
    assert!(!grant.public_routes[0].matches("POST", "/callback"));
    assert!(!grant.public_routes[0].matches("GET", "/callback/x"));
    assert!(grant.refused.is_empty());
    // The policy accepts what was granted.
    crate::egress::EgressPolicy::from_config(&grant.egress.rules()).unwrap();
}

#[test]
fn a_setting_moves_the_destination_with_it() {
    let manifest = Manifest::parse(EXAMPLE).unwrap();
    let grant = grant(
        Some(&manifest),
        &plugin(
            "[config]\napi_url = \"http://127.0.0.1:8080/\"\n\
             token_url = \"http://127.0.0.1:8081/token\"\n\
             [egress]\nallow_loopback = true\n",
        ),
    )
    .unwrap();
    assert_eq!(
        grant.egress.allow,
        [
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8081",
            "https://*.cdn.example.net:443"
        ]
    );
    assert_eq!(
        grant.egress.secret_urls,
        [
            "http://127.0.0.1:8081/token",
            "http://127.0.0.1:8080/revoke"
        ]
    );
    assert!(grant.egress.allow_loopback);
    // The plugin is told the same URL it may reach.
    assert_eq!(grant.config["api_url"], "http://127.0.0.1:8080/");
    assert!(!grant.egress.allow.iter().any(|a| a.contains("example.com")));
}

#[test]
fn the_operator_narrows_refuses_or_adds() {
    let manifest = Manifest::parse(EXAMPLE).unwrap();
    let narrowed = grant(
        Some(&manifest),
        &plugin(
            "public_routes = []\n[egress]\ndeny = [\"https://api.example.com\"]\n\
             allow = [\"https://extra.example.org\"]\n",
        ),
    )
    .unwrap();
    assert_eq!(
        narrowed.egress.allow,
        [
            "https://auth.example.com:443",
            "https://*.cdn.example.net:443",
            "https://extra.example.org"
        ]
    );
    assert_eq!(
        narrowed.egress.secret_urls,
        ["https://auth.example.com/oauth/token"]
    );
    assert!(narrowed.public_routes.is_empty());
    assert_eq!(narrowed.refused.len(), 4, "{:?}", narrowed.refused);

    let refused = grant(
        Some(&manifest),
        &plugin("[egress]\nfrom_manifest = false\n"),
    )
    .unwrap();
    assert!(refused.egress.allow.is_empty());
    assert!(refused.egress.secret_urls.is_empty());
    assert_eq!(
        refused.public_routes.len(),
        2,
        "routes are a separate choice"
    );
}

#[test]
fn without_a_manifest_only_the_operator_grants() {
    let nothing = grant(None, &plugin("")).unwrap();
    assert!(nothing.egress.allow.is_empty());
    assert!(nothing.egress.secret_urls.is_empty());
    assert!(nothing.public_routes.is_empty());
    let some = grant(
        None,
        &plugin(
            "public_routes = [\"/hook\"]\n[config]\nk = \"v\"\n\
             [egress]\nallow = [\"https://a.example\"]\n",
        ),
    )
    .unwrap();
    assert_eq!(some.egress.allow, ["https://a.example"]);
    assert_eq!(some.config["k"], "v");
    assert!(some.public_routes[0].matches("GET", "/hook"));
}

#[test]
fn bad_manifests_are_refused_with_the_reason() {
    for (text, needle) in [
        ("name = \"../x\"", "manifest name"),
        ("name = \"x\"\nunknown = 1", "unknown field"),
        (
            "name = \"x\"\n[egress]\nallow = [\"{nowhere}\"]",
            "does not declare",
        ),
        (
            "name = \"x\"\n[egress]\nallow = [\"ftp://files.example\"]",
            "http or https",
        ),
        (
            "name = \"x\"\n[egress]\nsecret_urls = [\"https://a.example/t?code=1\"]",
            "without query",
        ),
        (
            "name = \"x\"\n[[public_route]]\npath = \"auth2\"",
            "below the plugin",
        ),
        (
            "name = \"x\"\n[[public_route]]\npath = \"/a\"\nmethods = []",
            "at least one method",
        ),
        ("name = \"x\"\n[config]\n\"a b\" = \"\"", "letters, digits"),
    ] {
        let err = format!("{:#}", Manifest::parse(text).unwrap_err());
        assert!(err.contains(needle), "{text}: {err}");
    }
}

#[test]
fn a_component_carries_its_manifest() {
    let wasm = std::fs::read(igor_test_guests::HOSTILE).unwrap();
    assert_eq!(Manifest::from_component(&wasm).unwrap(), None);
    let with = with_manifest(&wasm, EXAMPLE);
    let manifest = Manifest::from_component(&with).unwrap().unwrap();
    assert_eq!(manifest, Manifest::parse(EXAMPLE).unwrap());
    // Still a valid component.
    let engine = crate::wasm::engine::build_engine(64 << 20, false).unwrap();
    crate::wasm::engine::load_component(&engine, &with, None, None).unwrap();

    let twice = with_manifest(&with, EXAMPLE);
    let err = Manifest::from_component(&twice).unwrap_err().to_string();
    assert!(err.contains("two"), "{err}");
    let broken = with_manifest(&wasm, "name = ");
    assert!(Manifest::from_component(&broken).is_err());
    // Another section, or the name in a nested module, is not a manifest.
    let other = with_custom_section(&wasm, "something-else", EXAMPLE.as_bytes());
    assert_eq!(Manifest::from_component(&other).unwrap(), None);
}

#[test]
fn an_author_embeds_a_manifest_once_and_only_a_valid_one() {
    let wasm = std::fs::read(igor_test_guests::HOSTILE).unwrap();
    let with = Manifest::embed(&wasm, EXAMPLE).unwrap();
    assert_eq!(
        Manifest::from_component(&with).unwrap(),
        Some(Manifest::parse(EXAMPLE).unwrap())
    );
    let again = Manifest::embed(&with, EXAMPLE).unwrap_err().to_string();
    assert!(again.contains("already has a manifest"), "{again}");
    assert!(Manifest::embed(&wasm, "name = ").is_err());
    assert!(Manifest::embed(&wasm, "name = \"Bad Name!\"").is_err());
    // A core module is not what the host loads.
    let core = b"\0asm\x01\0\0\0";
    let err = Manifest::embed(core, EXAMPLE).unwrap_err().to_string();
    assert!(err.contains("not a WebAssembly component"), "{err}");
}

#[test]
fn the_description_names_what_is_asked() {
    let text = Manifest::parse(EXAMPLE).unwrap().describe();
    for needle in [
        "plugin weather: Forecasts",
        "api_url = \"https://api.example.com/v2\"",
        "https://api.example.com/v2 (follows api_url)",
        "https://auth.example.com/oauth/token (follows token_url)",
        "https://*.cdn.example.net",
        "GET /callback - the provider's redirect",
    ] {
        assert!(text.contains(needle), "{needle} not in\n{text}");
    }
}

/// The host knows no plugin by name: the built-in one is handed in by the
/// binary that embeds it (its packaging), and no source here names it.
#[test]
fn the_host_names_no_plugin() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("plugin/manifest.toml")).unwrap();
    let builtin = Manifest::parse(&text).unwrap().name.to_lowercase();
    let mut mentions = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines().filter(|l| l.to_lowercase().contains(&builtin)) {
                mentions.push(format!("{}: {line}", path.display()));
            }
        }
    }
    assert!(mentions.is_empty(), "{mentions:#?}");
}
