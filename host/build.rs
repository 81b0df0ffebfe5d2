//! Builds the fitbit plugin (`../plugin`) for wasm32-wasip2 so the host binary
//! carries it as its built-in plugin. Set `IGOR_FITBIT_WASM` to use a
//! prebuilt component instead.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("fitbit.wasm");
    println!("cargo:rerun-if-env-changed=IGOR_FITBIT_WASM");
    if let Ok(prebuilt) = env::var("IGOR_FITBIT_WASM") {
        std::fs::copy(&prebuilt, &out).expect("copying IGOR_FITBIT_WASM");
        return;
    }
    for watched in ["plugin/src", "plugin/Cargo.toml", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let target_dir = root.join("target").join("guests");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            "fitbit",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        // Settings meant for this build (clippy, flags, target) must not
        // leak into the nested one.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("running cargo to build the fitbit plugin");
    assert!(
        status.success(),
        "building the fitbit plugin for wasm32-wasip2 failed (is the target installed? \
         `rustup target add wasm32-wasip2`)"
    );
    let built = target_dir.join("wasm32-wasip2/release/fitbit.wasm");
    std::fs::copy(&built, &out).unwrap_or_else(|e| panic!("copying {}: {e}", built.display()));
}
