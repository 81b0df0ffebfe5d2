//! The wasmtime engine: configuration, the epoch ticker behind request
//! deadlines, the per-store resource limiter, and loading components through
//! an on-disk cache of precompiled code.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::limits::Limits;

/// How often the epoch advances; the granularity of request deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Plugin instances alive at once in this process: the pool's size.
pub const INSTANCE_SLOTS: usize = 256;

/// Of a pooled slot's linear memory, what is reset in place (`memset` of
/// the pages the last instance touched, found with the kernel's
/// `PAGEMAP_SCAN`) instead of returned to the kernel and faulted in again.
/// Returning memory (`madvise`) costs a TLB shootdown on every core and a
/// page fault for every page the next instance touches. At most the pages
/// an instance used stay resident, per warm slot. Only where the kernel
/// has `PAGEMAP_SCAN` (Linux 6.7): without it, the whole kept part would be
/// zeroed after every request, touched or not.
pub const MEMORY_KEEP_RESIDENT: usize = 16 << 20;

/// The same for a slot's tables.
pub const TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// A request waits here for an instance slot, so that many tenants busy at
/// once queue for the pool instead of being refused by it.
pub static INSTANCES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(INSTANCE_SLOTS);

/// Builds the engine. `max_memory_bytes` is the largest memory limit of any
/// plugin: pooled memory slots are sized for it.
pub fn build_engine(max_memory_bytes: usize, pooling: bool) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    // Lets `perf` name plugins' compiled functions (see docs/benchmarks.md).
    if std::env::var_os("IGOR_HOST_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    if !pooling {
        return Ok(Engine::new(&config)?);
    }
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(INSTANCE_SLOTS as u32)
        .total_core_instances(2048)
        .total_memories(1024)
        .total_tables(1024)
        .total_stacks(256)
        .max_memory_size(max_memory_bytes);
    if has_pagemap_scan() {
        pool.linear_memory_keep_resident(MEMORY_KEEP_RESIDENT.min(max_memory_bytes))
            .table_keep_resident(TABLE_KEEP_RESIDENT)
            .pagemap_scan(Enabled::Auto);
    }
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match Engine::new(&config) {
        Ok(engine) => Ok(engine),
        Err(err) => {
            // Some sandboxes refuse the large virtual reservations pooling needs.
            tracing::warn!(error = %err, "pooling allocator unavailable; allocating on demand");
            config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
            Engine::new(&config).map_err(anyhow::Error::from)
        }
    }
}

/// Whether this kernel has `PAGEMAP_SCAN` (Linux 6.7 and later).
fn has_pagemap_scan() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .is_ok_and(|release| linux_at_least(&release, (6, 7)))
}

/// Whether a Linux release string (`6.1.0-18-amd64`) is `at_least`
/// (major, minor).
fn linux_at_least(release: &str, at_least: (u32, u32)) -> bool {
    let mut numbers = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>());
    match (numbers.next(), numbers.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) >= at_least,
        _ => false,
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is gone.
pub fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch ticker");
}

/// Enforces a plugin's memory and table limits, remembering whether it hit
/// one so a trap can be explained.
pub struct GuestLimiter {
    limits: Limits,
    pub memory_denied: bool,
    pub table_denied: bool,
}

impl GuestLimiter {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            memory_denied: false,
            table_denied: false,
        }
    }
}

impl wasmtime::ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = desired <= self.limits.memory_bytes;
        self.memory_denied |= !ok;
        Ok(ok)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = desired <= self.limits.table_elements;
        self.table_denied |= !ok;
        Ok(ok)
    }

    fn instances(&self) -> usize {
        self.limits.instances
    }

    fn tables(&self) -> usize {
        self.limits.tables
    }

    fn memories(&self) -> usize {
        self.limits.memories
    }
}

/// Interfaces a plugin may import. Anything else (wasi:sockets, wasi:http's
/// incoming side, ...) is refused at load time with a clear error.
const ALLOWED_IMPORTS: &[&str] = &[
    "igor:plugin/",
    // Sent through the plugin's egress policy (`capabilities::wasi_http`).
    "wasi:http/outgoing-handler@",
    "wasi:http/types@",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:cli/",
    // Linked with no preopened directories: present so std links, useless.
    "wasi:filesystem/",
];

/// Refuses a component that imports anything outside [`ALLOWED_IMPORTS`].
pub fn check_imports(engine: &Engine, component: &Component, name: &str) -> anyhow::Result<()> {
    let ty = component.component_type();
    let refused: Vec<String> = ty
        .imports(engine)
        .map(|(import, _)| import.to_string())
        .filter(|import| !ALLOWED_IMPORTS.iter().any(|p| import.starts_with(p)))
        .collect();
    if !refused.is_empty() {
        bail!(
            "plugin {name}: the component imports {}, which this host never provides \
             (plugins reach the network only through igor:plugin/http or wasi:http/outgoing-handler)",
            refused.join(", ")
        );
    }
    Ok(())
}

/// A component from `wasm`, compiled once per engine configuration: with a
/// `cache_dir`, the compiled code is kept there (keyed by the component's
/// SHA-256, or `digest` when the caller knows it, as for a built-in
/// component, whose digest is computed at build time) and later loads read
/// it back instead of compiling. A cache file is named by the component's
/// digest and the engine's compatibility hash, so a changed component or
/// wasmtime recompiles; a damaged one is rebuilt, never deserialised.
pub fn load_component(
    engine: &Engine,
    wasm: &[u8],
    digest: Option<&[u8; 32]>,
    cache_dir: Option<&Path>,
) -> anyhow::Result<Component> {
    let Some(cache_dir) = cache_dir else {
        return Ok(Component::new(engine, wasm)?);
    };
    let digest = digest.copied().unwrap_or_else(|| wasm_digest(wasm));
    let path = cache_path(engine, &digest, cache_dir);
    if let Some(component) = read_cached(engine, &path) {
        return Ok(component);
    }
    let compiled = engine
        .precompile_component(wasm)
        .map_err(anyhow::Error::from)
        .context("compiling the component")?;
    if let Err(err) = write_cached(&path, &compiled) {
        tracing::warn!(path = %path.display(), error = %err, "could not write the component cache");
    }
    // SAFETY: `compiled` was produced by this engine just now.
    Ok(unsafe { Component::deserialize(engine, &compiled) }?)
}

/// The SHA-256 of a component's bytes: its key in the cache.
pub fn wasm_digest(wasm: &[u8]) -> [u8; 32] {
    Sha256::digest(wasm).into()
}

pub fn cache_path(engine: &Engine, digest: &[u8; 32], cache_dir: &Path) -> PathBuf {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let component = hex(&digest[..16]);
    // `-crc`: with a check beside it (see `check_path`).
    cache_dir.join(format!("{component}-{:016x}-crc.cwasm", hasher.finish()))
}

/// Beside each cache file, `FILE.crc32` holds the CRC-32 of its code (4
/// bytes, little endian), checked before the file is mapped: a torn or
/// damaged file is rebuilt, never deserialised. (The files are the owner's,
/// in the owner-only data directory: this guards against accidents, not
/// attackers, at a fraction of a cryptographic hash's cost.) The code file
/// is exactly what wasmtime wrote, so it is mapped, not copied: reading and
/// copying it was most of a warm start.
fn check_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".crc32");
    PathBuf::from(name)
}

/// The CRC-32 of the file at `path`, read in small pieces (no copy of the
/// whole file is kept).
fn crc_of_file(path: &Path) -> std::io::Result<u32> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buffer = vec![0; 256 << 10];
    loop {
        match file.read(&mut buffer)? {
            0 => return Ok(hasher.finalize()),
            n => hasher.update(&buffer[..n]),
        }
    }
}

fn read_cached(engine: &Engine, path: &Path) -> Option<Component> {
    let expected = std::fs::read(check_path(path)).ok()?;
    let actual = crc_of_file(path).ok()?;
    if expected != actual.to_le_bytes() {
        tracing::warn!(path = %path.display(), "corrupt component cache file; recompiling");
        let _ = std::fs::remove_file(path);
        return None;
    }
    // SAFETY: the checksum shows these are the bytes this host wrote from
    // `precompile_component`, and cache files are replaced, never changed
    // in place; an engine mismatch is a safe error.
    match unsafe { Component::deserialize_file(engine, path) } {
        Ok(component) => Some(component),
        Err(err) => {
            tracing::warn!(path = %path.display(), error = %err, "unusable cache file; recompiling");
            None
        }
    }
}

/// Writes the code and its check, each whole (a temporary file, flushed,
/// then renamed), the check first: a reader never finds code without it.
fn write_cached(path: &Path, compiled: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("cache path has no directory")?;
    std::fs::create_dir_all(dir)?;
    let check = crc32fast::hash(compiled).to_le_bytes();
    for (target, contents) in [
        (check_path(path), &check[..]),
        (path.to_path_buf(), compiled),
    ] {
        let tmp = target.with_extension(format!("tmp{}", std::process::id()));
        let mut file = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut file, contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &target)?;
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_is_reused_and_corruption_is_rebuilt_not_loaded() {
        let engine = build_engine(64 << 20, false).unwrap();
        let wasm = std::fs::read(igor_test_guests::HOSTILE).unwrap();
        let dir = tempfile::tempdir().unwrap();
        load_component(&engine, &wasm, None, Some(dir.path())).unwrap();
        let path = cache_path(&engine, &wasm_digest(&wasm), dir.path());
        let written = std::fs::read(&path).unwrap();
        let check = std::fs::read(check_path(&path)).unwrap();
        assert_eq!(check, crc32fast::hash(&written).to_le_bytes());

        // A flipped byte in the code: the checksum catches it, the file is
        // replaced by a fresh compilation.
        let mut corrupt = written.clone();
        let middle = corrupt.len() / 2;
        corrupt[middle] ^= 0xff;
        std::fs::write(&path, &corrupt).unwrap();
        assert!(read_cached(&engine, &path).is_none());
        assert!(!path.exists(), "the corrupt file is removed");
        load_component(&engine, &wasm, None, Some(dir.path())).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), written);

        // Code without its check (copied without it, say) is compiled again.
        std::fs::remove_file(check_path(&path)).unwrap();
        assert!(read_cached(&engine, &path).is_none());
        load_component(&engine, &wasm, None, Some(dir.path())).unwrap();
        assert_eq!(std::fs::read(check_path(&path)).unwrap(), check);

        // A different engine configuration gets its own file.
        let other = {
            let mut config = Config::new();
            config.epoch_interruption(false);
            Engine::new(&config).unwrap()
        };
        assert_ne!(cache_path(&other, &wasm_digest(&wasm), dir.path()), path);
    }

    #[test]
    fn kernel_releases_are_compared_by_major_and_minor() {
        assert!(linux_at_least("6.18.44-fc-v1300\n", (6, 7)));
        assert!(linux_at_least("6.7.0", (6, 7)));
        assert!(linux_at_least("7.0.1-arch1", (6, 7)));
        assert!(!linux_at_least("6.1.0-18-amd64", (6, 7)));
        assert!(!linux_at_least("5.15.0-91-generic", (6, 7)));
        assert!(!linux_at_least("", (6, 7)));
    }

    #[test]
    fn imports_outside_the_world_are_refused() {
        let engine = build_engine(64 << 20, false).unwrap();
        let sockets = std::fs::read(igor_test_guests::SOCKETS).unwrap();
        let component = load_component(&engine, &sockets, None, None).unwrap();
        let err = check_imports(&engine, &component, "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("wasi:sockets/tcp"), "{err}");
        for allowed in [igor_test_guests::HOSTILE, igor_test_guests::WASI_HTTP] {
            let wasm = std::fs::read(allowed).unwrap();
            let component = load_component(&engine, &wasm, None, None).unwrap();
            check_imports(&engine, &component, "x").unwrap();
        }
    }
}
