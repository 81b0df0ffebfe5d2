//! The plugin a binary carries: what a `[[plugin]]` entry without
//! `component` runs, and the plugin of the configuration's default
//! `[[plugin]]`. The library carries none: the binary that embeds a
//! component hands it in (to `App::new`).

use std::sync::Arc;

use anyhow::Context;

/// A built-in component and its name, as its manifest says.
#[derive(Debug, Clone)]
pub struct BuiltinPlugin {
    component: &'static [u8],
    name: Arc<str>,
    /// The component's SHA-256, when its build computed it (saves hashing
    /// megabytes at every start).
    digest: Option<[u8; 32]>,
}

impl BuiltinPlugin {
    /// `component`, which must carry a manifest naming the plugin (the
    /// build writes it in, see `build-support`).
    pub fn new(component: &'static [u8]) -> anyhow::Result<Self> {
        let text = crate::manifest_section::read(component)
            .context("reading the built-in component")?
            .context("the built-in component has no manifest; its build writes one")?;
        let manifest: toml::Table =
            toml::from_str(text).context("the built-in component's manifest is not TOML")?;
        let name = manifest
            .get("name")
            .and_then(|name| name.as_str())
            .context("the built-in component's manifest names no plugin")?;
        Ok(Self {
            component,
            name: name.into(),
            digest: None,
        })
    }

    /// The same, with the component's SHA-256 as its build computed it.
    pub fn with_digest(component: &'static [u8], digest: [u8; 32]) -> anyhow::Result<Self> {
        Ok(Self {
            digest: Some(digest),
            ..Self::new(component)?
        })
    }

    /// The component's SHA-256, if its build gave it.
    pub fn digest(&self) -> Option<&[u8; 32]> {
        self.digest.as_ref()
    }

    /// The component's bytes, with its manifest.
    pub fn component(&self) -> &'static [u8] {
        self.component
    }

    /// The plugin's name: the install name of the default `[[plugin]]`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A built-in plugin for the library's own tests: the example `hello`
/// component with a manifest naming it `hello`.
#[cfg(test)]
pub(crate) fn for_tests() -> BuiltinPlugin {
    static COMPONENT: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
        let wasm = std::fs::read(igor_test_guests::HELLO).expect("the hello component is built");
        igor_build_support::manifest::with_manifest(&wasm, "name = \"hello\"\n")
    });
    BuiltinPlugin::new(&COMPONENT).expect("the test component has a manifest")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_is_the_manifests_and_a_component_needs_one() {
        let builtin = for_tests();
        assert_eq!(builtin.name(), "hello");
        assert!(!builtin.component().is_empty());
        static BARE: std::sync::LazyLock<Vec<u8>> =
            std::sync::LazyLock::new(|| std::fs::read(igor_test_guests::HELLO).unwrap());
        let err = BuiltinPlugin::new(&BARE).unwrap_err().to_string();
        assert!(err.contains("no manifest"), "{err}");
    }
}
