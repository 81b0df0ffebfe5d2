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
    (
        "0.3.0/igor-plugin.wit",
        "9bac8f5e7a3e1d29197bf03ec72c96eca8683a2aa3c7ea48f986faf15d961484",
    ),
    (
        "0.3.0/deps/cli.wit",
        "fb6ac5d23fcaf3d231142a3c2f9bb1e9bc1fe5af6f1f329f6b1a5555ce0d3873",
    ),
    (
        "0.3.0/deps/clocks.wit",
        "6ed8aa65bb8cbe224a0b2cbac9fc1b3bd25bdb17eda5ae0d23c983ed31c447cc",
    ),
    (
        "0.3.0/deps/filesystem.wit",
        "e675f261017bf9b4fa7df5b9701023fe0249ede71021ac1bf978748e62edcda8",
    ),
    (
        "0.3.0/deps/http.wit",
        "4bbd58f509700a6637385611f183c5bd5984d81feef85e29dfdc05ebd283045a",
    ),
    (
        "0.3.0/deps/io.wit",
        "96e206d00076fa0480df32c5bcf255a3fa4862805ac2f6b8537a781cce54f433",
    ),
    (
        "0.3.0/deps/random.wit",
        "48578c40213d5cab6650980905fa146a0be8c39c4433ee5e7e00637b87dbe08f",
    ),
    (
        "0.3.0/deps/sockets.wit",
        "ad38dbf3b0bbdf34c0f2b608edcbfee04d71b443a63faff1f5e0053c3f84b377",
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

/// A version directory without a hash here would go unguarded: every file
/// under `wit/`'s version directories (their `deps/` too) must be one of
/// the released files above.
#[test]
fn every_wit_file_is_a_released_one() {
    fn files(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, found);
            } else {
                found.push(path);
            }
        }
    }
    let root = wit_dir();
    for version in std::fs::read_dir(&root).unwrap() {
        let version = version.unwrap().path();
        if !version.is_dir() {
            continue;
        }
        let mut found = Vec::new();
        files(&version, &mut found);
        for file in found {
            let name = file
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            assert!(
                RELEASED.iter().any(|(released, _)| *released == name),
                "wit/{name} is not listed in host/tests/released_wit.rs: add its SHA-256 when \
                 its version is released"
            );
        }
    }
}
