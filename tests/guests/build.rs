//! Compiles every guest crate in this directory for wasm32-wasip2 (as
//! Spin's test-components do) and records the component paths for tests.

use std::env;
use std::path::PathBuf;

const GUESTS: &[&str] = &["hostile", "sockets", "wasi-http"];

fn main() {
    let here = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let build = igor_build_support::WasmBuild::new(here.parent().unwrap().parent().unwrap());
    build.watch(["wit"]);
    for guest in GUESTS {
        build.watch([
            format!("tests/guests/{guest}/src"),
            format!("tests/guests/{guest}/Cargo.toml"),
        ]);
    }
    let packages: Vec<String> = GUESTS.iter().map(|g| format!("{g}-guest")).collect();
    let built = build.build(&packages);
    let consts: String = GUESTS
        .iter()
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
