//! The component built from `plugin/` into this binary: what a `[[plugin]]`
//! entry without `component` runs.

use std::sync::LazyLock;

/// The built-in component, with `plugin/manifest.toml` written into it by
/// `build.rs`.
pub static COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/fitbit.wasm"));

/// The built-in plugin's name, as its manifest says (the name alone, for
/// the configuration's default `[[plugin]]`; `manifest::builtin` reads the
/// whole manifest).
pub fn name() -> &'static str {
    static NAME: LazyLock<String> = LazyLock::new(|| {
        let text = crate::manifest_section::read(COMPONENT)
            .expect("the built-in component is readable")
            .expect("build.rs writes the built-in component's manifest");
        let manifest: toml::Table = toml::from_str(text).expect("the built-in manifest is TOML");
        manifest
            .get("name")
            .and_then(|name| name.as_str())
            .expect("the built-in manifest names the plugin")
            .to_string()
    });
    &NAME
}
