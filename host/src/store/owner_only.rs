//! Files and directories only the host's user may read: the data directory
//! (0700), store files and key files (0600).

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;

/// Creates `dir` and its missing parents as 0700. An existing directory
/// that others may enter is left as it is, with a warning.
pub fn create_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    if let Ok(meta) = std::fs::metadata(dir) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                dir = %dir.display(),
                "the directory is open to other users (chmod 700 it): it holds tokens and keys"
            );
        }
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// Makes sure `file` exists and only its owner may read or write it:
/// created as 0600, or tightened to 0600 (with a note in the log) if others
/// had access.
pub fn prepare_file(file: &Path) -> anyhow::Result<()> {
    match std::fs::metadata(file) {
        Ok(meta) => {
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(file, Permissions::from_mode(0o600))
                    .with_context(|| format!("restricting {}", file.display()))?;
                tracing::info!(file = %file.display(), "made owner-only (0600)");
            }
            Ok(())
        }
        Err(_) => OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(file)
            .map(drop)
            .with_context(|| format!("creating {}", file.display())),
    }
}

/// Warns when others may read `file` (a key file the operator provides,
/// which may sit on a read-only mount: not changed here).
pub fn warn_if_open(file: &Path) {
    if let Ok(meta) = std::fs::metadata(file)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            file = %file.display(),
            "the file is readable by other users (chmod 600 it): it holds keys"
        );
    }
}

/// Replaces `file` with `contents` atomically (a 0600 temporary file beside
/// it, synced, then renamed over it).
pub fn write_file(file: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let name = file.file_name().context("a file name")?.to_string_lossy();
    let temporary = file.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("creating {}", temporary.display()))?;
    let written = out.write_all(contents).and_then(|_| out.sync_all());
    if let Err(err) = written.and_then(|_| std::fs::rename(&temporary, file)) {
        let _ = std::fs::remove_file(&temporary);
        return Err(err).with_context(|| format!("writing {}", file.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn creates_and_tightens() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a/b");
        create_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        let file = data.join("f");
        prepare_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        std::fs::set_permissions(&file, Permissions::from_mode(0o644)).unwrap();
        prepare_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        write_file(&data.join("k"), b"x").unwrap();
        write_file(&data.join("k"), b"y").unwrap();
        assert_eq!(std::fs::read(data.join("k")).unwrap(), b"y");
        assert_eq!(mode(&data.join("k")), 0o600);
        assert_eq!(
            std::fs::read_dir(&data).unwrap().count(),
            2,
            "no temporary left"
        );
    }
}
