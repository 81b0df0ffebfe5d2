//! Compiles every guest crate in this directory for wasm32-wasip2 (as
//! Spin's test-components do) and records the component paths for tests.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const GUESTS: &[&str] = &["hostile", "sockets", "wasi-http"];

fn main() {
    let here = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = here.parent().unwrap().parent().unwrap().to_path_buf();
    let target_dir = root.join("target").join("guests");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut consts = String::new();
    for guest in GUESTS {
        let dir = here.join(guest);
        println!("cargo:rerun-if-changed={}", dir.join("src").display());
        println!(
            "cargo:rerun-if-changed={}",
            dir.join("Cargo.toml").display()
        );
        let package = format!("{guest}-guest");
        let status = Command::new(&cargo)
            .current_dir(&root)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "-p",
                &package,
            ])
            .arg("--target-dir")
            .arg(&target_dir)
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("RUSTFLAGS")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .env_remove("CLIPPY_ARGS")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("CARGO_TARGET_DIR")
            .status()
            .expect("running cargo for a test guest");
        assert!(status.success(), "building test guest {guest} failed");
        let wasm = target_dir
            .join("wasm32-wasip2/release")
            .join(format!("{}_guest.wasm", guest.replace('-', "_")));
        assert!(wasm.exists(), "{} missing", wasm.display());
        consts.push_str(&format!(
            "pub const {}: &str = {:?};\n",
            guest.replace('-', "_").to_uppercase(),
            wasm.display().to_string()
        ));
    }
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("guests.rs");
    std::fs::write(out, consts).unwrap();
}
