//! Compiles every guest crate in this directory, and the example plugins,
//! for wasm32-wasip2 (as Spin's test-components do) and records the
//! component paths for tests.

use std::env;
use std::path::PathBuf;

/// Guest crates in this directory: `NAME` is package `NAME-guest`.
const GUESTS: &[&str] = &["hostile", "sockets", "wasi-http", "v0-1-0", "v0-2-0"];
/// Example plugins in `examples/`: `NAME` is package `NAME`.
const EXAMPLES: &[&str] = &["hello", "hello-wasi-http"];

fn main() {
    let here = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let build = igor_build_support::WasmBuild::new(here.parent().unwrap().parent().unwrap());
    build.watch(["wit", "sdk/src", "sdk/Cargo.toml"]);
    let dirs = GUESTS
        .iter()
        .map(|g| format!("tests/guests/{g}"))
        .chain(EXAMPLES.iter().map(|e| format!("examples/{e}")));
    for dir in dirs {
        build.watch([format!("{dir}/src"), format!("{dir}/Cargo.toml")]);
    }
    let packages: Vec<String> = GUESTS
        .iter()
        .map(|g| format!("{g}-guest"))
        .chain(EXAMPLES.iter().map(|e| e.to_string()))
        .collect();
    let built = build.build(&packages);
    let consts: String = GUESTS
        .iter()
        .chain(EXAMPLES)
        .zip(built)
        .map(|(guest, wasm)| {
            format!(
                "pub const {}: &str = {:?};\n",
                guest.replace('-', "_").to_uppercase(),
                wasm.display().to_string()
            )
        })
        .collect();
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("guests.rs");
    std::fs::write(out, consts).unwrap();
}
