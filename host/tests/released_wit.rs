//! Each released version of the igor:plugin WIT is unchanged byte for
//! byte: a change is a new version (`wit/README.md`). Every version
//! directory under `wit/` is a released one and must be listed here.

use sha2::{Digest, Sha256};

/// Each released version's WIT file and its SHA-256 at release.
const RELEASED: &[(&str, &str)] = &[
    (
        "0.1.0/igor-plugin.wit",
        "451470c86053a878a382fbba218ed66022696bc7c42b89b9f27988242d788432",
    ),
    (
        "0.2.0/igor-plugin.wit",
        "a37702c254c5dfa8ac48ce9bb58fca1b542fcc6c2168fc0336aeea4802972a03",
    ),
];

fn wit_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit")
}

#[test]
fn released_wit_files_are_unchanged() {
    for (file, released) in RELEASED {
        let bytes = std::fs::read(wit_dir().join(file)).unwrap();
        let now: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            &now, released,
            "wit/{file} changed after its release: a change is a new version (see wit/README.md)"
        );
    }
}

/// A version directory without a hash here would go unguarded: every
/// `.wit` file under `wit/` must be one of the released files above.
#[test]
fn every_wit_file_is_a_released_one() {
    for version in std::fs::read_dir(wit_dir()).unwrap() {
        let version = version.unwrap();
        if !version.file_type().unwrap().is_dir() {
            continue;
        }
        for file in std::fs::read_dir(version.path()).unwrap() {
            let name = format!(
                "{}/{}",
                version.file_name().to_string_lossy(),
                file.unwrap().file_name().to_string_lossy()
            );
            assert!(
                RELEASED.iter().any(|(released, _)| *released == name),
                "wit/{name} is not listed in host/tests/released_wit.rs: add its SHA-256 when \
                 its version is released"
            );
        }
    }
}
