//! igor-fitbit: the `igor-host` binary with Igor's fitbit plugin built in.
//!
//! The host is the library `igor_host`, which knows no plugin. This crate
//! carries one: `build.rs` builds `plugin/` to wasm with its manifest,
//! [`COMPONENT`] embeds it and [`builtin`] hands it to the library (what a
//! `[[plugin]]` entry without `component` runs, and the default
//! configuration's plugin). [`igor_install`] packs it for Igor, where it
//! stands in for Igor's standard fitbit plugin. `main.rs` is the command.

use std::sync::LazyLock;

use igor_host::builtin_plugin::BuiltinPlugin;

pub mod igor_install;

/// The built-in component, with `plugin/manifest.toml` written into it by
/// `build.rs`.
pub static COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/fitbit.wasm"));

/// The SHA-256 of [`COMPONENT`], computed by `build.rs`.
static DIGEST: &[u8; 32] = include_bytes!(concat!(env!("OUT_DIR"), "/fitbit.wasm.sha256"));

/// The built-in plugin, named by its manifest.
pub fn builtin() -> &'static BuiltinPlugin {
    static BUILTIN: LazyLock<BuiltinPlugin> = LazyLock::new(|| {
        BuiltinPlugin::with_digest(COMPONENT, *DIGEST)
            .expect("build.rs writes the built-in component's manifest")
    });
    &BUILTIN
}

#[cfg(test)]
mod tests {
    use igor_host::config::default_plugins;
    use igor_host::wasm::manifest::{Manifest, grant};

    use super::*;

    #[test]
    fn the_builtin_digest_is_the_components() {
        assert_eq!(
            builtin().digest(),
            Some(&igor_host::engine::wasm_digest(COMPONENT))
        );
    }

    #[test]
    fn the_builtin_component_describes_itself() {
        let manifest = Manifest::from_component(COMPONENT)
            .unwrap()
            .expect("the built-in component carries plugin/manifest.toml");
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../plugin/manifest.toml"
        ))
        .unwrap();
        assert_eq!(manifest, Manifest::parse(&text).unwrap());
        assert_eq!(builtin().name(), manifest.name);
        let granted = grant(Some(&manifest), &default_plugins(builtin())[0]).unwrap();
        assert!(!granted.egress.allow.is_empty());
        assert!(!granted.public_routes.is_empty());
    }
}
