//! Builds the fitbit plugin (`../plugin`) for wasm32-wasip2 so the
//! `igor-host` binary carries it as its built-in plugin (`src/lib.rs`), with
//! `plugin/manifest.toml` written into it (what `igor_host::wasm::manifest`
//! reads). Set `IGOR_FITBIT_WASM` to use a prebuilt component instead; the
//! manifest is added to it the same way.

use std::env;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap();
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("fitbit.wasm");
    println!("cargo::rerun-if-env-changed=IGOR_FITBIT_WASM");
    let build = igor_build_support::WasmBuild::new(root);
    build.watch(["plugin/manifest.toml"]);
    let component = match env::var("IGOR_FITBIT_WASM") {
        Ok(prebuilt) => PathBuf::from(prebuilt),
        Err(_) => {
            build.watch([
                "plugin/src",
                "plugin/Cargo.toml",
                "sdk/src",
                "sdk/Cargo.toml",
                "wit",
                "Cargo.lock",
            ]);
            build.build(&["fitbit"]).remove(0)
        }
    };
    let wasm = std::fs::read(&component)
        .unwrap_or_else(|e| panic!("reading {}: {e}", component.display()));
    let manifest = std::fs::read_to_string(root.join("plugin/manifest.toml"))
        .expect("reading plugin/manifest.toml");
    let wasm = igor_build_support::manifest::with_manifest(&wasm, &manifest);
    // Its SHA-256, the component cache's key, so that a start need not hash it.
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&wasm);
    let digest_path = out.with_extension("wasm.sha256");
    std::fs::write(&digest_path, digest)
        .unwrap_or_else(|e| panic!("writing {}: {e}", digest_path.display()));
    std::fs::write(&out, wasm).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
