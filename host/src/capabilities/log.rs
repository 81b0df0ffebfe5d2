//! `igor:plugin/log`: a plugin's lines in the host's log, tagged with its
//! tenant and name, capped in number per request and in length per line.

use wasmtime::component::{HasData, Linker};

use crate::store::Namespace;
use crate::wasm::bindings::log::{self as wit, Level};

/// One request's log allowance.
pub struct LogCtx {
    namespace: Namespace,
    max_lines: u32,
    max_line_bytes: usize,
    lines: u32,
}

impl LogCtx {
    pub fn new(namespace: Namespace, max_lines: u32, max_line_bytes: usize) -> Self {
        Self {
            namespace,
            max_lines,
            max_line_bytes,
            lines: 0,
        }
    }

    /// `message` as it is logged, or `None` once the request used up its
    /// lines (the first line over says so, once).
    fn admit(&mut self, mut message: String) -> Option<String> {
        self.lines += 1;
        if self.lines > self.max_lines {
            if self.lines == self.max_lines + 1 {
                tracing::warn!(
                    tenant = %self.namespace.tenant, plugin = %self.namespace.plugin,
                    "log limit of {} lines reached; dropping the rest of this request's log",
                    self.max_lines
                );
            }
            return None;
        }
        if message.len() > self.max_line_bytes {
            let mut cut = self.max_line_bytes;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        Some(message)
    }
}

/// How the store's `T` reaches its [`LogCtx`].
pub trait LogView: Send {
    fn log(&mut self) -> &mut LogCtx;
}

struct HasLog;

impl HasData for HasLog {
    type Data<'a> = &'a mut LogCtx;
}

/// Links `igor:plugin/log` to each store's [`LogCtx`].
pub fn add_to_linker<T: LogView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasLog>(linker, T::log)
}

impl wit::Host for LogCtx {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let Some(message) = self.admit(message) else {
            return Ok(());
        };
        let (tenant, plugin) = (&self.namespace.tenant, &self.namespace.plugin);
        match level {
            Level::Trace => tracing::trace!(%tenant, %plugin, "{message}"),
            Level::Debug => tracing::debug!(%tenant, %plugin, "{message}"),
            Level::Info => tracing::info!(%tenant, %plugin, "{message}"),
            Level::Warn => tracing::warn!(%tenant, %plugin, "{message}"),
            Level::Error => tracing::error!(%tenant, %plugin, "{message}"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_capped_in_number_and_cut_between_characters() {
        let mut log = LogCtx::new(Namespace::new("t", "p"), 2, 5);
        assert_eq!(log.admit("short".into()).as_deref(), Some("short"));
        assert_eq!(log.admit("ééé".into()).as_deref(), Some("éé…"));
        assert_eq!(log.admit("third".into()), None);
        assert_eq!(log.admit("fourth".into()), None);
    }
}
