//! Compiled components, shared by every tenant that runs them.
//!
//! A host with thousands of tenants runs the same few components thousands
//! of times. Loading one (reading the file, checking the cache, mapping its
//! code, linking it, reading its manifest) happens once per component; each
//! tenant's plugin holds an `Arc` to the result. The library keeps only weak
//! references, so a component no configuration uses any more (after a
//! reload) is freed with its last plugin.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::SystemTime;

use anyhow::Context as _;
use wasmtime::Engine;
use wasmtime::component::Linker;

use crate::builtin_plugin::BuiltinPlugin;
use crate::wasm::bindings::IgorPluginPre;
use crate::wasm::engine;
use crate::wasm::manifest::Manifest;
use crate::wasm::runtime::{Plugin, RequestState};

/// A component ready to be instantiated, with what it says of itself.
pub struct LoadedComponent {
    pub pre: IgorPluginPre<RequestState>,
    pub manifest: Option<Manifest>,
}

/// Where a component's bytes come from: the binary itself, or a file as it
/// was when read (a changed file is a different component).
#[derive(Clone, PartialEq, Eq, Hash)]
enum Source {
    Builtin,
    File {
        path: PathBuf,
        len: u64,
        modified: Option<SystemTime>,
    },
}

pub struct ComponentLibrary {
    /// What a plugin without a component file runs.
    builtin: BuiltinPlugin,
    loaded: Mutex<HashMap<Source, Weak<LoadedComponent>>>,
}

impl ComponentLibrary {
    /// A library whose plugins without a component file run `builtin`.
    pub fn new(builtin: BuiltinPlugin) -> Self {
        Self {
            builtin,
            loaded: Default::default(),
        }
    }

    /// The built-in plugin, handed in by the binary that carries it.
    pub fn builtin(&self) -> &BuiltinPlugin {
        &self.builtin
    }

    /// The component at `path`, or the built-in one, for the plugin `name`
    /// (used in error messages).
    pub fn load(
        &self,
        name: &str,
        path: Option<&Path>,
        engine: &Engine,
        linker: &Linker<RequestState>,
        cache_dir: &Path,
    ) -> anyhow::Result<Arc<LoadedComponent>> {
        let source = match path {
            None => Source::Builtin,
            Some(path) => {
                let meta = std::fs::metadata(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                Source::File {
                    path: path.to_path_buf(),
                    len: meta.len(),
                    modified: meta.modified().ok(),
                }
            }
        };
        // Held while loading, so a component is compiled once however many
        // tenants ask for it at once.
        let mut loaded = self.loaded.lock().expect("component library lock");
        if let Some(component) = loaded.get(&source).and_then(Weak::upgrade) {
            return Ok(component);
        }
        loaded.retain(|_, component| component.strong_count() > 0);
        let (wasm, digest) = match path {
            Some(path) => (
                Cow::Owned(
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
                ),
                None,
            ),
            None => (
                Cow::Borrowed(self.builtin.component()),
                self.builtin.digest(),
            ),
        };
        let component = Arc::new(compile(name, &wasm, digest, engine, linker, cache_dir)?);
        loaded.insert(source, Arc::downgrade(&component));
        Ok(component)
    }
}

fn compile(
    name: &str,
    wasm: &[u8],
    digest: Option<&[u8; 32]>,
    engine: &Engine,
    linker: &Linker<RequestState>,
    cache_dir: &Path,
) -> anyhow::Result<LoadedComponent> {
    let component = engine::load_component(engine, wasm, digest, Some(cache_dir))
        .context("loading the component")?;
    engine::check_imports(engine, &component, name)?;
    Ok(LoadedComponent {
        pre: Plugin::link(name, linker, &component)?,
        manifest: Manifest::from_component(wasm)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library_parts() -> (Engine, Linker<RequestState>, tempfile::TempDir) {
        let engine = engine::build_engine(64 << 20, false).unwrap();
        let linker = crate::wasm::runtime::linker(&engine).unwrap();
        (engine, linker, tempfile::tempdir().unwrap())
    }

    #[test]
    fn a_component_is_loaded_once_and_freed_with_its_last_user() {
        let (engine, linker, cache) = library_parts();
        let library = ComponentLibrary::new(crate::builtin_plugin::for_tests());
        let first = library
            .load("a", None, &engine, &linker, cache.path())
            .unwrap();
        let second = library
            .load("b", None, &engine, &linker, cache.path())
            .unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert!(first.manifest.is_some());
        let weak = Arc::downgrade(&first);
        drop((first, second));
        assert!(
            weak.upgrade().is_none(),
            "nothing keeps an unused component"
        );
        let again = library
            .load("a", None, &engine, &linker, cache.path())
            .unwrap();
        assert!(again.manifest.is_some());
    }

    #[test]
    fn a_changed_file_is_a_different_component() {
        let (engine, linker, cache) = library_parts();
        let library = ComponentLibrary::new(crate::builtin_plugin::for_tests());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plugin.wasm");
        std::fs::write(&path, library.builtin().component()).unwrap();
        let first = library
            .load("p", Some(&path), &engine, &linker, cache.path())
            .unwrap();
        assert!(Arc::ptr_eq(
            &first,
            &library
                .load("p", Some(&path), &engine, &linker, cache.path())
                .unwrap()
        ));
        std::fs::write(&path, b"not a component").unwrap();
        let err = library
            .load("p", Some(&path), &engine, &linker, cache.path())
            .err()
            .expect("the new bytes are loaded, and refused");
        assert!(
            format!("{err:#}").contains("loading the component"),
            "{err:#}"
        );
    }
}
