//! Each released version of the igor:plugin WIT is unchanged byte for
//! byte: a change is a new version (`wit/README.md`).

use sha2::{Digest, Sha256};

/// Each released version's WIT file and its SHA-256 at release.
const RELEASED: &[(&str, &str)] = &[(
    "0.1.0/igor-plugin.wit",
    "451470c86053a878a382fbba218ed66022696bc7c42b89b9f27988242d788432",
)];

#[test]
fn released_wit_files_are_unchanged() {
    let wit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    for (file, released) in RELEASED {
        let bytes = std::fs::read(wit.join(file)).unwrap();
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
