//! Builds the fitbit plugin (`../plugin`) for wasm32-wasip2 so the host binary
//! carries it as its built-in plugin. Set `IGOR_FITBIT_WASM` to use a
//! prebuilt component instead.

use std::env;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("fitbit.wasm");
    println!("cargo::rerun-if-env-changed=IGOR_FITBIT_WASM");
    if let Ok(prebuilt) = env::var("IGOR_FITBIT_WASM") {
        std::fs::copy(&prebuilt, &out).expect("copying IGOR_FITBIT_WASM");
        return;
    }
    let build = igor_build_support::WasmBuild::new(manifest_dir.parent().unwrap());
    build.watch(["plugin/src", "plugin/Cargo.toml", "wit", "Cargo.lock"]);
    let built = build.build(&["fitbit"]).remove(0);
    std::fs::copy(&built, &out).unwrap_or_else(|e| panic!("copying {}: {e}", built.display()));
}
