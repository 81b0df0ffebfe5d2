//! Builds workspace crates for `wasm32-wasip2` from a build script, with a
//! nested cargo: `igor-fitbit/build.rs` builds the fitbit plugin it embeds,
//! `tests/guests/build.rs` the test guests. [`manifest`] writes a plugin's
//! manifest into its component.
//!
//! rustup installs the targets of `rust-toolchain.toml` only when it installs
//! the toolchain itself, so on a machine whose Rust was already there the
//! target is missing. The first build then adds it with rustup, for the
//! toolchain in use (rustup names it in `RUSTUP_TOOLCHAIN` for cargo and its
//! children), and says so; without rustup it stops with one line saying what
//! to install.

pub mod manifest;

use std::env;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every component is built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Settings meant for the outer build (clippy, flags, target, directory)
/// that must not leak into the nested one.
const OUTER_ONLY_ENV: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
    "CLIPPY_ARGS",
    "CARGO_BUILD_TARGET",
    "CARGO_TARGET_DIR",
];

/// A nested release build of workspace packages for [`TARGET`].
pub struct WasmBuild {
    workspace: PathBuf,
    target_dir: PathBuf,
}

impl WasmBuild {
    /// Builds in `workspace`, into `<workspace>/target/guests` (apart from
    /// the outer build, whose directory is locked while build scripts run).
    pub fn new(workspace: impl Into<PathBuf>) -> Self {
        let workspace = workspace.into();
        let target_dir = workspace.join("target").join("guests");
        Self {
            workspace,
            target_dir,
        }
    }

    /// Asks cargo to run the build script again when any of `paths`
    /// (relative to the workspace) changes.
    pub fn watch<S: AsRef<Path>>(&self, paths: impl IntoIterator<Item = S>) {
        for path in paths {
            println!(
                "cargo::rerun-if-changed={}",
                self.workspace.join(path).display()
            );
        }
    }

    /// Builds `packages` and returns their `.wasm` files, in order. On
    /// failure the build script stops with one line saying why.
    pub fn build<S: AsRef<str>>(&self, packages: &[S]) -> Vec<PathBuf> {
        let packages: Vec<&str> = packages.iter().map(AsRef::as_ref).collect();
        let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let rustup = find_program("rustup", env::var_os("PATH").as_deref()).map(|program| Rustup {
            program,
            toolchain: env::var("RUSTUP_TOOLCHAIN").ok(),
        });
        match ensure_target(&rustc, TARGET, rustup.as_ref(), &self.target_dir) {
            Ok(Some(note)) => println!("cargo::warning={note}"),
            Ok(None) => {}
            Err(line) => fail(&line),
        }
        let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .current_dir(&self.workspace)
            .args(["build", "--release", "--target", TARGET])
            .arg("--target-dir")
            .arg(&self.target_dir);
        for package in &packages {
            command.args(["-p", package]);
        }
        for name in OUTER_ONLY_ENV {
            command.env_remove(name);
        }
        match command.status() {
            Ok(status) if status.success() => {}
            Ok(_) => fail(&format!(
                "building {} for {TARGET} failed (cargo's errors are above)",
                packages.join(", ")
            )),
            Err(err) => fail(&format!(
                "running cargo to build {}: {err}",
                packages.join(", ")
            )),
        }
        let out = self.target_dir.join(TARGET).join("release");
        packages
            .iter()
            .map(|package| {
                let wasm = out.join(format!("{}.wasm", package.replace('-', "_")));
                if !wasm.exists() {
                    fail(&format!(
                        "cargo built {package} but {} is missing",
                        wasm.display()
                    ));
                }
                wasm
            })
            .collect()
    }
}

/// Stops the build script with one line of error. Cargo fails the build
/// for a `cargo::error` and shows just that line; a non-zero exit would
/// add the script's whole output around it.
fn fail(line: &str) -> ! {
    println!("cargo::error={line}");
    std::process::exit(0)
}

/// rustup, and the toolchain it runs this build with.
pub struct Rustup {
    pub program: PathBuf,
    /// `RUSTUP_TOOLCHAIN`; `None` lets rustup pick the directory's toolchain.
    pub toolchain: Option<String>,
}

/// Makes sure `rustc` has the standard library for `target`, adding it with
/// `rustup` when it is missing. `Ok(Some(note))` says what was done; `Err`
/// is one line saying what to run. `lock_dir` holds a lock file so that
/// build scripts running at once do not both call rustup.
pub fn ensure_target(
    rustc: &OsStr,
    target: &str,
    rustup: Option<&Rustup>,
    lock_dir: &Path,
) -> Result<Option<String>, String> {
    if target_installed(rustc, target)? {
        return Ok(None);
    }
    let Some(rustup) = rustup else {
        return Err(format!(
            "the Rust standard library for {target} is not installed and rustup is not on PATH: \
             run `rustup target add {target}` (or install your distribution's {target} \
             standard library for this rustc) and build again"
        ));
    };
    std::fs::create_dir_all(lock_dir)
        .map_err(|e| format!("creating {}: {e}", lock_dir.display()))?;
    let lock_path = lock_dir.join(".rustup-target.lock");
    let lock = std::fs::File::create(&lock_path)
        .map_err(|e| format!("creating {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;
    // Another build script may have added it while we waited.
    if target_installed(rustc, target)? {
        return Ok(None);
    }
    let mut command = Command::new(&rustup.program);
    command.args(["target", "add", target]);
    if let Some(toolchain) = &rustup.toolchain {
        command.args(["--toolchain", toolchain]);
    }
    let toolchain = rustup.toolchain.as_deref().unwrap_or("active");
    let output = command
        .output()
        .map_err(|e| format!("running `rustup target add {target}`: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let why = stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(format!(
            "`rustup target add {target}` for the {toolchain} toolchain failed ({}); \
             run it yourself and build again",
            why.trim()
        ));
    }
    if !target_installed(rustc, target)? {
        return Err(format!(
            "rustup added {target} to the {toolchain} toolchain, but the rustc in use \
             ({}) still lacks it: install its {target} standard library and build again",
            rustc.to_string_lossy()
        ));
    }
    Ok(Some(format!(
        "added the {target} target to the {toolchain} Rust toolchain with rustup \
         (`rustup target add {target}`), needed to build the plugin components"
    )))
}

/// Whether `rustc`'s sysroot has the standard library for `target`.
pub fn target_installed(rustc: &OsStr, target: &str) -> Result<bool, String> {
    let output = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", target])
        .output()
        .map_err(|e| format!("running {}: {e}", rustc.to_string_lossy()))?;
    if !output.status.success() {
        return Err(format!(
            "{} does not know the target {target}: {}",
            rustc.to_string_lossy(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let libdir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    Ok(libdir.is_dir())
}

/// The first executable file called `name` in the directories of `path`
/// (a `PATH` value).
pub fn find_program(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path: OsString = path?.to_owned();
    env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rustc() -> OsString {
        "rustc".into()
    }

    fn host_triple() -> String {
        let output = Command::new("rustc").arg("-vV").output().unwrap();
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("host: "))
            .unwrap()
            .to_string()
    }

    /// A target rustc knows but whose standard library is not installed.
    fn missing_target() -> String {
        let output = Command::new("rustc")
            .args(["--print", "target-list"])
            .output()
            .unwrap();
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .find(|t| !target_installed(&rustc(), t).unwrap())
            .expect("some target is not installed")
            .to_string()
    }

    #[test]
    fn an_installed_target_needs_nothing() {
        let dir = std::env::temp_dir();
        let host = host_triple();
        assert!(target_installed(&rustc(), &host).unwrap());
        assert_eq!(ensure_target(&rustc(), &host, None, &dir), Ok(None));
    }

    #[test]
    fn without_rustup_one_line_says_what_to_run() {
        let dir = std::env::temp_dir();
        let target = missing_target();
        let line = ensure_target(&rustc(), &target, None, &dir).unwrap_err();
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.contains(&format!("run `rustup target add {target}`")),
            "{line}"
        );
        assert!(line.contains("rustup is not on PATH"), "{line}");
    }

    #[test]
    fn an_unknown_target_is_an_error_not_a_missing_one() {
        let err = target_installed(&rustc(), "no-such-target-triple").unwrap_err();
        assert!(err.contains("no-such-target-triple"), "{err}");
    }

    #[test]
    fn finds_programs_on_path_only() {
        let path = OsString::from("/nonexistent:/usr/bin:/bin");
        let sh = find_program("sh", Some(&path)).expect("sh is in /usr/bin or /bin");
        assert!(sh.ends_with("sh"));
        assert_eq!(find_program("sh", Some(OsStr::new("/nonexistent"))), None);
        assert_eq!(find_program("sh", None), None);
        // A directory is not a program.
        assert_eq!(find_program("bin", Some(OsStr::new("/usr"))), None);
    }
}
