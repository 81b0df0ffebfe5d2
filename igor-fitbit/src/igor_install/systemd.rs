//! A systemd unit that runs the host beside Igor, so the owner does not
//! have to keep a terminal open for it.

use std::path::Path;

/// The unit for the host configured in `config`, run by the binary at
/// `binary` (the one in Igor's venv) as `user`.
pub fn unit(binary: &Path, config: &Path, user: Option<&str>) -> String {
    let user = user.map_or(String::new(), |u| format!("User={u}\n"));
    format!(
        "[Unit]\n\
         Description=igor-host: the fitbit plugin of the Igor in {dir}\n\
         Wants=network-online.target\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         {user}\
         ExecStart={binary} --config {config} serve\n\
         Restart=on-failure\n\
         RestartSec=5\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        dir = config.parent().unwrap_or(Path::new("/")).display(),
        binary = quote(binary),
        config = quote(config),
    )
}

/// The user owning Igor's directory, who runs Igor and should run the
/// host (so both can read the shared secret): from /etc/passwd, without
/// a crate for one lookup.
pub fn owner_of(dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata(dir).ok()?.uid().to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() > 2 && fields[2] == uid).then(|| fields[0].to_string())
    })
}

/// systemd splits ExecStart= on spaces unless quoted.
fn quote(path: &Path) -> String {
    let text = path.display().to_string();
    if text.contains([' ', '"', '\\']) {
        format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_runs_serve_with_the_install_config() {
        let unit = unit(
            Path::new("/srv/igor venv/bin/igor-host"),
            Path::new("/home/pi/.igor/igor-host.toml"),
            Some("pi"),
        );
        assert!(
            unit.contains(
                "ExecStart=\"/srv/igor venv/bin/igor-host\" --config /home/pi/.igor/igor-host.toml serve\n"
            ),
            "{unit}"
        );
        assert!(unit.contains("User=pi\n"), "{unit}");
    }
}
