//! This host process's name among the hosts that share a store, and whether
//! another named process still runs: what lets a lease die with its holder.
//!
//! A name is `BOOT/PIDNS/PID/START`: the kernel's boot id, the PID
//! namespace, the process id and the process's start time in clock ticks
//! since boot. Unique across restarts (a reused PID has another start
//! time) and across machines and containers. Another process is known to
//! have stopped only when it was named on this machine, in this PID
//! namespace, since this boot, and no process with its PID and start time
//! runs now; anything else may still run elsewhere.

use std::sync::LazyLock;

/// This process's name (see the module docs); on a system without `/proc`,
/// a random one that no check can find stopped.
pub fn this() -> &'static str {
    static NAME: LazyLock<String> = LazyLock::new(|| {
        let here = Place::here();
        let pid = std::process::id();
        match (here, start_ticks(pid)) {
            (Some(place), Some(start)) => format!("{}/{}/{pid}/{start}", place.boot, place.pid_ns),
            _ => format!("elsewhere/{:032x}", rand::random::<u128>()),
        }
    });
    &NAME
}

/// False only when `name` is a process known to have stopped.
pub fn alive(name: &str) -> bool {
    check_here(name).unwrap_or(true)
}

/// Whether `name` runs, when this machine can tell: it was named on this
/// machine, in this PID namespace, since this boot. `None` for anything
/// else (a shared store may know: see `DocumentStore::instance_alive`).
pub fn check_here(name: &str) -> Option<bool> {
    if name == this() {
        return Some(true);
    }
    let mut parts = name.split('/');
    let (Some(boot), Some(pid_ns), Some(pid), Some(start), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let here = Place::here()?;
    if boot != here.boot || pid_ns != here.pid_ns {
        return None;
    }
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
        return None;
    };
    Some(start_ticks(pid) == Some(start))
}

/// A short, fixed-length tag of `name` (for where names must be short,
/// such as PostgreSQL's `application_name`).
pub fn tag(name: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("igor-host {hex}")
}

/// The boot and PID namespace this process runs in.
struct Place {
    boot: String,
    pid_ns: String,
}

impl Place {
    /// Where this process runs, read once (it cannot change).
    fn here() -> Option<&'static Place> {
        static HERE: LazyLock<Option<Place>> = LazyLock::new(Place::read);
        HERE.as_ref()
    }

    fn read() -> Option<Place> {
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        let pid_ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
        // "pid:[4026531836]" → "4026531836"
        let pid_ns: String = pid_ns
            .to_string_lossy()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        Some(Place {
            boot: boot.trim().to_string(),
            pid_ns,
        })
    }
}

/// When process `pid` started, in clock ticks since boot (field 22 of
/// `/proc/PID/stat`); `None` when no such process runs.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_named_once() {
        assert_eq!(this(), this());
        assert!(alive(this()));
        assert_eq!(this().split('/').count(), 4, "{}", this());
    }

    #[test]
    fn a_process_that_ended_is_known_to_have_stopped() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = start_ticks(pid).unwrap_or(0);
        child.wait().unwrap();
        let place = Place::here().unwrap();
        let name = format!("{}/{}/{pid}/{start}", place.boot, place.pid_ns);
        assert!(!alive(&name), "{name}");
        // The same PID with another start time is another process.
        let other_start = format!("{}/{}/{}/1", place.boot, place.pid_ns, std::process::id());
        assert!(!alive(&other_start));
    }

    #[test]
    fn what_cannot_be_checked_counts_as_alive() {
        for name in [
            "",
            "garbage",
            "another-boot/1/1/1",
            "elsewhere/0123",
            "a/b/c/d/e",
        ] {
            assert!(alive(name), "{name:?}");
        }
    }
}
